//! `msgpool status`: how the pool is doing.

use msgpool::status;

use crate::output::outln;
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
    outln!();
    output::table(
        &[
            "CHANNEL", "SENT/MIN", "PENDING", "DEFERRED", "SENDING", "DEAD", "LIMITS",
        ],
        s.channels
            .iter()
            .map(|c| {
                let limits: Vec<String> = [
                    c.recipient_limit
                        .as_ref()
                        .map(|l| format!("{l} per recipient")),
                    c.provider_per_second.map(|n| format!("{n}/s")),
                ]
                .into_iter()
                .flatten()
                .collect();
                vec![
                    c.channel.clone(),
                    c.sent_last_minute.to_string(),
                    c.pending.to_string(),
                    c.deferred.to_string(),
                    c.sending.to_string(),
                    c.dead.to_string(),
                    output::or_dash(Some(&limits.join(", "))),
                ]
            })
            .collect(),
    );
    if !s.duplicates.is_empty() {
        outln!("\nrepeated (open, deduplicated):");
        for d in &s.duplicates {
            outln!(
                "  {} ×{}  key {}, message {}, last seen {}",
                d.type_key,
                d.duplicate_count + 1,
                d.dedup_key,
                d.message_id,
                output::time(d.last_seen_at)
            );
        }
    }
    Ok(())
}
