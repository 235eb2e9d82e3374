//! Telling the database what this worker sees of its destinations
//! (`msgpool.report_destinations`), every few seconds, for `msgpool status` and anyone
//! reading `msgpool.destinations`. At the stop, the worker's rows go.

use std::sync::Arc;
use std::time::Duration;

use msgpool::Db;
use tokio_util::sync::CancellationToken;

use super::Destinations;

const EVERY: Duration = Duration::from_secs(2);

pub async fn run(
    pool: Db,
    destinations: Arc<Destinations>,
    worker: String,
    stop: CancellationToken,
) {
    let mut reported_any = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.cancelled() => break,
        }
        let snapshots = destinations.snapshots();
        if snapshots.is_empty() && !reported_any {
            continue;
        }
        reported_any = true;
        report(&pool, &worker, &snapshots).await;
    }
    if reported_any {
        report(&pool, &worker, &[]).await;
    }
}

async fn report(pool: &Db, worker: &str, snapshots: &[super::Snapshot]) {
    let figures = match serde_json::to_value(snapshots) {
        Ok(figures) => figures,
        Err(e) => {
            tracing::warn!(error = %e, "cannot put the destinations' figures in JSON");
            return;
        }
    };
    if let Err(e) = sqlx::query("SELECT msgpool.report_destinations($1, $2)")
        .bind(worker)
        .bind(figures)
        .execute(pool)
        .await
    {
        tracing::warn!(error = %e, "could not report the destinations' figures");
    }
}
