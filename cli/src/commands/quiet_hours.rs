//! `msgpool quiet-hours`: per type and channel, when not to deliver.

use clap::Subcommand;
use msgpool::admin::quiet_hours::{self, QuietHours};
use msgpool::domain::{Channel, QuietAction, TypeKey, Urgency};

use crate::args::parse;
use crate::output::outln;
use crate::{Context, output};

#[derive(Debug, Subcommand)]
pub enum QuietHoursCommand {
    /// No deliveries on a channel of a type between two local times (the type's time zone)
    Set {
        #[arg(value_parser = parse::<TypeKey>)]
        type_key: TypeKey,
        #[arg(long, value_parser = parse::<Channel>)]
        channel: Channel,
        /// Start, local HH:MM, e.g. 22:00
        #[arg(long)]
        from: String,
        /// End, local HH:MM, e.g. 08:00 (before --from: the window wraps midnight)
        #[arg(long)]
        to: String,
        /// Only messages less urgent than this are held (urgent never is)
        #[arg(long, default_value = "urgent", value_parser = parse::<Urgency>)]
        below: Urgency,
        /// Drop deliveries falling inside (recorded as skipped) instead of deferring them
        #[arg(long)]
        drop: bool,
    },
    /// List quiet hours, of one type or all
    List {
        #[arg(value_parser = parse::<TypeKey>)]
        type_key: Option<TypeKey>,
    },
    /// Remove the quiet hours of a channel of a type
    Remove {
        #[arg(value_parser = parse::<TypeKey>)]
        type_key: TypeKey,
        #[arg(long, value_parser = parse::<Channel>)]
        channel: Channel,
    },
}

pub async fn run(ctx: &Context, cmd: QuietHoursCommand) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    match cmd {
        QuietHoursCommand::Set {
            type_key,
            channel,
            from,
            to,
            below,
            drop,
        } => {
            let action = if drop {
                QuietAction::Drop
            } else {
                QuietAction::Defer
            };
            let q =
                quiet_hours::set(&pool, &type_key, channel, (&from, &to), below, action).await?;
            if ctx.json {
                return output::json(&q);
            }
            outln!("{}", describe(&q));
        }
        QuietHoursCommand::List { type_key } => {
            let all = quiet_hours::list(&pool, type_key.as_ref()).await?;
            if ctx.json {
                return output::json(&all);
            }
            output::table(
                &[
                    "TYPE",
                    "CHANNEL",
                    "FROM",
                    "TO",
                    "TIME ZONE",
                    "BELOW",
                    "ACTION",
                ],
                all.iter()
                    .map(|q| {
                        vec![
                            q.type_key.clone(),
                            q.channel.to_string(),
                            q.starts.clone(),
                            q.ends.clone(),
                            q.time_zone.clone(),
                            q.below.to_string(),
                            q.action.to_string(),
                        ]
                    })
                    .collect(),
            );
        }
        QuietHoursCommand::Remove { type_key, channel } => {
            quiet_hours::remove(&pool, &type_key, channel).await?;
            outln!("removed the quiet hours for {channel} of {type_key}");
        }
    }
    Ok(())
}

fn describe(q: &QuietHours) -> String {
    let what = match q.action {
        QuietAction::Defer => "deferred to the end of the window",
        QuietAction::Drop => "dropped (recorded as skipped)",
    };
    format!(
        "{} {}: {}-{} ({}) below {}; deliveries inside are {what}",
        q.type_key, q.channel, q.starts, q.ends, q.time_zone, q.below
    )
}
