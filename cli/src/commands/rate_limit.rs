//! `msgpool rate-limit`: per-channel limits per recipient and per second, and chat robots'.

use clap::Subcommand;
use msgpool::admin::rate_limits::{self, RateLimitSpec};
use msgpool::admin::robot_limits;
use msgpool::domain::{Channel, WebhookFlavor};

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
    /// Limit the posts to one chat robot of a flavor per window (e.g. dingtalk 20 --per '1 minute')
    Robot {
        #[arg(value_parser = parse::<WebhookFlavor>)]
        flavor: WebhookFlavor,
        /// At most this many posts to one robot per --per
        max_sends: i32,
        /// The window, e.g. '1 minute'
        #[arg(long)]
        per: String,
    },
    /// Lift a robot limit of a flavor
    RobotRemove {
        #[arg(value_parser = parse::<WebhookFlavor>)]
        flavor: WebhookFlavor,
        /// The window of the limit to lift, e.g. '1 minute'
        #[arg(long)]
        per: String,
    },
    /// List the limits in force, channels' and robots'
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
        RateLimitCommand::Robot {
            flavor,
            max_sends,
            per,
        } => {
            let limit = robot_limits::set(&pool, flavor, max_sends, &per).await?;
            if ctx.json {
                return output::json(&limit);
            }
            outln!(
                "{flavor} robots: at most {} per {}",
                limit.max_sends,
                limit.per
            );
        }
        RateLimitCommand::RobotRemove { flavor, per } => {
            robot_limits::remove(&pool, flavor, &per).await?;
            outln!("lifted the {flavor} robot limit per {per}");
        }
        RateLimitCommand::List => {
            let all = rate_limits::list(&pool).await?;
            let robots = robot_limits::list(&pool).await?;
            if ctx.json {
                return output::json(&serde_json::json!({"channels": all, "robots": robots}));
            }
            let channels = all.iter().map(|l| vec![l.channel.to_string(), describe(l)]);
            let robots = robots.iter().map(|r| {
                vec![
                    format!("webhook ({} robots)", r.flavor),
                    format!("at most {} per robot per {}", r.max_sends, r.per),
                ]
            });
            output::table(&["CHANNEL", "LIMITS"], channels.chain(robots).collect());
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
