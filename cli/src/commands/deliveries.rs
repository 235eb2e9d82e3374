//! `msgpool deliveries` and `msgpool retry`: what happened to messages, and a second chance
//! for those that gave up.

use clap::Args;
use msgpool::deliveries::{self, Filter};
use msgpool::domain::{Channel, DeliveryState, RecipientKey, TypeKey};

use crate::args::parse;
use crate::output::outln;
use crate::{Context, output};

#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Only this message type
    #[arg(long = "type", value_parser = parse::<TypeKey>)]
    type_key: Option<TypeKey>,
    #[arg(long, value_parser = parse::<RecipientKey>)]
    recipient: Option<RecipientKey>,
    #[arg(long, value_parser = parse::<Channel>)]
    channel: Option<Channel>,
}

impl FilterArgs {
    fn is_empty(&self) -> bool {
        self.type_key.is_none() && self.recipient.is_none() && self.channel.is_none()
    }

    fn into_filter(self, state: Option<DeliveryState>, deferred: bool) -> Filter {
        Filter {
            state,
            deferred,
            type_key: self.type_key,
            recipient: self.recipient,
            channel: self.channel,
            before: None,
        }
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// pending, sending, sent, dead, skipped or cancelled
    #[arg(long, value_parser = parse::<DeliveryState>)]
    state: Option<DeliveryState>,
    /// Only deliveries a rule holds back now (send times, interval, quiet hours, rate limit)
    #[arg(long)]
    deferred: bool,
    #[command(flatten)]
    filter: FilterArgs,
    /// Show at most this many, newest first
    #[arg(long, default_value_t = 50)]
    limit: i64,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// Delivery ids to re-queue
    ids: Vec<i64>,
    #[command(flatten)]
    filter: FilterArgs,
    /// Re-queue every dead delivery
    #[arg(long, conflicts_with = "ids")]
    all: bool,
}

pub async fn list(ctx: &Context, args: ListArgs) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    let found = deliveries::list(
        &pool,
        &args.filter.into_filter(args.state, args.deferred),
        args.limit,
    )
    .await?;
    if ctx.json {
        return output::json(&found);
    }
    output::table(
        &[
            "ID",
            "MESSAGE",
            "TYPE",
            "RECIPIENT",
            "CHANNEL",
            "STATE",
            "ATTEMPTS",
            "WHEN",
            "WHY",
        ],
        found
            .iter()
            .map(|d| {
                let when = match (d.state, d.sent_at) {
                    (_, Some(sent)) => format!("sent {}", output::time(sent)),
                    (DeliveryState::Pending, None) => {
                        format!("due {}", output::time(d.next_attempt_at))
                    }
                    _ => "-".to_owned(),
                };
                vec![
                    d.id.to_string(),
                    d.message_id.to_string(),
                    d.type_key.clone(),
                    d.recipient_key.clone(),
                    d.channel.to_string(),
                    d.state.to_string(),
                    d.attempts.to_string(),
                    when,
                    why(d),
                ]
            })
            .collect(),
    );
    Ok(())
}

pub async fn retry(ctx: &Context, args: RetryArgs) -> anyhow::Result<()> {
    if args.ids.is_empty() && args.filter.is_empty() && !args.all {
        return Err(msgpool::Error::invalid(
            "say which dead deliveries to re-queue",
            "give delivery ids, a filter (--type, --recipient, --channel), or --all",
        )
        .into());
    }
    let pool = ctx.pool().await?;
    let ids = (!args.ids.is_empty()).then_some(args.ids);
    let requeued =
        deliveries::retry(&pool, ids.as_deref(), &args.filter.into_filter(None, false)).await?;
    if ctx.json {
        return output::json(&serde_json::json!({ "requeued": requeued }));
    }
    if requeued == 0 {
        outln!(
            "no dead deliveries match: nothing re-queued (msgpool deliveries --state dead lists them)"
        );
    } else {
        outln!("re-queued {requeued} dead delivery(s); they go out with the next worker round");
    }
    Ok(())
}

/// The error or skip reason; else the rule holding it back or the digest it went in.
fn why(d: &msgpool::deliveries::Delivery) -> String {
    if let Some(problem) = &d.problem {
        return problem.clone();
    }
    match (d.gathered_into, &d.deferred_by, d.state) {
        (Some(lead), _, _) => format!("in the digest of delivery {lead}"),
        (None, Some(rule), DeliveryState::Pending) => format!("deferred: {rule}"),
        (None, Some(rule), _) => format!("was deferred: {rule}"),
        _ => "-".to_owned(),
    }
}
