//! `msgpool status`: how the pool is doing.

use msgpool::status;

use crate::{Context, output};

pub async fn run(ctx: &Context) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    let s = status::read(&pool).await?;
    if ctx.json {
        return output::json(&s);
    }
    let counts = |m: &std::collections::BTreeMap<String, i64>| {
        if m.is_empty() {
            "none".to_owned()
        } else {
            m.iter()
                .map(|(state, n)| format!("{n} {state}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    output::fields(&[
        ("messages", counts(&s.messages)),
        ("deliveries", counts(&s.deliveries)),
        (
            "oldest due",
            s.oldest_due_seconds
                .map_or("nothing waiting".to_owned(), |secs| {
                    format!("waiting {secs:.1}s")
                }),
        ),
        ("dead", s.dead.to_string()),
    ]);
    println!();
    output::table(
        &["CHANNEL", "SENT/MIN", "PENDING", "SENDING", "DEAD"],
        s.channels
            .iter()
            .map(|c| {
                vec![
                    c.channel.clone(),
                    c.sent_last_minute.to_string(),
                    c.pending.to_string(),
                    c.sending.to_string(),
                    c.dead.to_string(),
                ]
            })
            .collect(),
    );
    Ok(())
}
