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
            "CHANNEL", "SENT/MIN", "DUE", "PENDING", "DEFERRED", "SENDING", "DEAD", "LIMITS",
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
                    c.due.to_string(),
                    c.pending.to_string(),
                    c.deferred.to_string(),
                    c.sending.to_string(),
                    c.dead.to_string(),
                    output::or_dash(Some(&limits.join(", "))),
                ]
            })
            .collect(),
    );
    if !s.destinations.is_empty() {
        outln!("\ndestinations (as the running workers see them):");
        output::table(
            &[
                "CHANNEL",
                "DESTINATION",
                "IN FLIGHT",
                "LIMIT",
                "LATENCY",
                "PAUSED",
            ],
            s.destinations
                .iter()
                .map(|d| {
                    vec![
                        d.channel.clone(),
                        d.destination.clone(),
                        d.in_flight.to_string(),
                        d.flight_limit.to_string(),
                        d.latency_ms
                            .map_or("-".to_owned(), |ms| format!("{ms:.0} ms")),
                        match (&d.paused_until, &d.paused_why) {
                            (Some(until), why) => format!(
                                "until {}{}",
                                output::time(*until),
                                why.as_deref().map(|w| format!(": {w}")).unwrap_or_default()
                            ),
                            (None, _) => "-".to_owned(),
                        },
                    ]
                })
                .collect(),
        );
    }
    if !s.robot_limits.is_empty() {
        let limits: Vec<String> = s
            .robot_limits
            .iter()
            .map(|l| format!("{} {} per {}", l.flavor, l.max_sends, l.per))
            .collect();
        outln!("\nrobot limits (per robot): {}", limits.join(", "));
    }
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
