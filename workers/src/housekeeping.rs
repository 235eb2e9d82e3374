//! Housekeeping: at start and then every interval, prune finished history older than the
//! retention setting, so the pool stays small without anyone remembering `msgpool prune`.

use std::sync::Arc;

use msgpool::Db;
use tokio_util::sync::CancellationToken;

use crate::WorkerConfig;

pub async fn run(pool: Db, config: Arc<WorkerConfig>, stop: CancellationToken) {
    let Some(retention) = config.retention.clone() else {
        return;
    };
    loop {
        match msgpool::retention::prune(&pool, &retention).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, %retention, "pruned old history"),
            Err(e) => {
                tracing::warn!(error = %e, "could not prune old history; trying again next round")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(config.housekeeping_interval) => {}
            _ = stop.cancelled() => return,
        }
    }
}
