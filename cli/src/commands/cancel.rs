//! `msgpool cancel`: stop a message's unsent deliveries.

use clap::Args;
use msgpool::cancel;

use crate::output::outln;
use crate::{Context, output};

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The message id (what send returned)
    id: i64,
}

pub async fn run(ctx: &Context, args: CancelArgs) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    let cancelled = cancel::cancel(&pool, args.id).await?;
    if ctx.json {
        return output::json(&serde_json::json!({ "message": args.id, "cancelled": cancelled }));
    }
    outln!(
        "cancelled message {}: {cancelled} unsent delivery(s) stopped; what was sent stays as history",
        args.id
    );
    Ok(())
}
