//! `msgpool send`: put a message into the pool, as a producer would.

use chrono::{DateTime, Utc};
use clap::Args;
use msgpool::domain::{RecipientKey, TypeKey, Urgency};
use msgpool::send::{self, NewMessage};

use crate::args::parse;
use crate::output::outln;
use crate::{Context, output};

#[derive(Debug, Args)]
pub struct SendArgs {
    #[arg(value_parser = parse::<TypeKey>)]
    type_key: TypeKey,
    /// The payload, a JSON object whose keys are the template variables
    #[arg(long, default_value = "{}")]
    data: String,
    /// Messages with the same type and dedup key inside the type's window count as one
    #[arg(long)]
    dedup_key: Option<String>,
    /// When to deliver, e.g. '2026-11-27 08:00+08:00' (no offset: this machine's local
    /// time; default: the type's policy)
    #[arg(long, value_parser = crate::args::time)]
    deliver_at: Option<DateTime<Utc>>,
    /// Explicit recipients instead of the type's subscribers, comma-separated
    #[arg(long, value_delimiter = ',', value_parser = parse::<RecipientKey>)]
    to: Option<Vec<RecipientKey>>,
    /// Which service sends it
    #[arg(long, default_value = "msgpool-cli")]
    source: String,
    /// Override the type's urgency for this message
    #[arg(long, value_parser = parse::<Urgency>)]
    urgency: Option<Urgency>,
}

pub async fn run(ctx: &Context, args: SendArgs) -> anyhow::Result<()> {
    let payload = crate::args::payload(&args.data)?;
    let message = NewMessage {
        dedup_key: args.dedup_key,
        deliver_at: args.deliver_at,
        recipients: args.to,
        source: Some(args.source),
        urgency: args.urgency,
        ..NewMessage::new(args.type_key, payload)
    };
    let pool = ctx.pool().await?;
    let context = "sending a message";
    let mut tx = pool
        .begin()
        .await
        .map_err(msgpool::Error::from_database(context))?;
    let id = send::send(&mut *tx, &message).await?;
    let repeats = send::repeats(&mut tx, id).await?;
    tx.commit()
        .await
        .map_err(msgpool::Error::from_database(context))?;
    if ctx.json {
        return output::json(&serde_json::json!({ "id": id, "repeats": repeats }));
    }
    if repeats == 0 {
        outln!("sent message {id} ({})", message.type_key);
    } else {
        outln!(
            "counted on message {id} (×{}): a repeat of its dedup key within the type's window",
            repeats + 1
        );
    }
    Ok(())
}
