//! `msgpool rate-limit`: per-channel limits per recipient and per second.

use clap::Subcommand;
use msgpool::admin::rate_limits::{self, RateLimitSpec};
use msgpool::domain::Channel;

use crate::args::parse;
use crate::output::outln;
use crate::{Context, output};

#[derive(Debug, Subcommand)]
pub enum RateLimitCommand {
    /// Limit a channel (only the limits given change); what is over waits, never dropped
    Set {
        #[arg(value_parser = parse::<Channel>)]
        channel: Channel,
        /// At most N sends to one recipient per --window (a digest is one send)
        #[arg(long, requires = "window")]
        per_recipient: Option<i32>,
        /// The per-recipient window, e.g. '1 hour'
        #[arg(long, requires = "per_recipient")]
        window: Option<String>,
        /// At most N deliveries per second to the provider, across all workers
        #[arg(long)]
        per_second: Option<i32>,
    },
    /// List the limits in force
    List,
    /// Remove every limit of a channel
    Remove {
        #[arg(value_parser = parse::<Channel>)]
        channel: Channel,
    },
}

pub async fn run(ctx: &Context, cmd: RateLimitCommand) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    match cmd {
        RateLimitCommand::Set {
            channel,
            per_recipient,
            window,
            per_second,
        } => {
            let spec = RateLimitSpec {
                per_recipient: per_recipient.zip(window),
                per_second,
            };
            let limit = rate_limits::set(&pool, channel, &spec).await?;
            if ctx.json {
                return output::json(&limit);
            }
            outln!("{channel}: {}", describe(&limit));
        }
        RateLimitCommand::List => {
            let all = rate_limits::list(&pool).await?;
            if ctx.json {
                return output::json(&all);
            }
            output::table(
                &["CHANNEL", "LIMITS"],
                all.iter()
                    .map(|l| vec![l.channel.to_string(), describe(l)])
                    .collect(),
            );
        }
        RateLimitCommand::Remove { channel } => {
            rate_limits::remove(&pool, channel).await?;
            outln!("removed the rate limits of {channel}");
        }
    }
    Ok(())
}

fn describe(l: &rate_limits::RateLimit) -> String {
    let mut parts = Vec::new();
    if let (Some(max), Some(window)) = (l.recipient_max, &l.recipient_window) {
        parts.push(format!("at most {max} per recipient per {window}"));
    }
    if let Some(n) = l.provider_per_second {
        parts.push(format!("at most {n} per second"));
    }
    parts.join("; ")
}
