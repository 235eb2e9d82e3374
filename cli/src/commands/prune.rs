//! `msgpool prune`: delete finished history older than the retention.

use clap::Args;

use crate::output::outln;
use crate::{Context, output};

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Age beyond which finished messages go (a PostgreSQL interval, e.g. '30 days', '12 hours')
    #[arg(long, env = "MSGPOOL_RETENTION", default_value = "30 days")]
    older_than: String,
}

pub async fn run(ctx: &Context, args: PruneArgs) -> anyhow::Result<()> {
    let pool = ctx.pool().await?;
    let pruned = msgpool::retention::prune(&pool, &args.older_than).await?;
    if ctx.json {
        return output::json(&serde_json::json!({ "pruned_messages": pruned }));
    }
    outln!(
        "pruned {pruned} finished message(s) older than {} with their deliveries and attempts; inbox rows stay",
        args.older_than
    );
    Ok(())
}
