//! Telling the database what this worker sees of its destinations
//! (`msgpool.report_destinations`), every few seconds, for `msgpool status` and anyone
//! reading `msgpool.destinations`. At the stop, the worker's rows go.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use msgpool::domain::Channel;
use msgpool::{Db, sql_record};
use tokio_util::sync::CancellationToken;

use super::{Destinations, Snapshot};

sql_record! {
    /// What this worker reports of one destination: `msgpool.destination_figures`.
    #[derive(Debug, Clone, serde::Serialize)]
    pub struct DestinationFigures: "msgpool.destination_figures" {
        pub channel: Channel,
        pub destination: String,
        pub in_flight: i32,
        pub flight_limit: i32,
        pub latency_ms: Option<f64>,
        pub paused_until: Option<DateTime<Utc>>,
        pub paused_why: Option<String>,
        pub sent: i64,
        pub failed: i64,
    }
}

impl From<&Snapshot> for DestinationFigures {
    fn from(s: &Snapshot) -> Self {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        DestinationFigures {
            channel: s.channel,
            destination: s.destination.clone(),
            in_flight: i32::try_from(s.in_flight).unwrap_or(i32::MAX),
            flight_limit: i32::try_from(s.flight_limit).unwrap_or(i32::MAX),
            latency_ms: s.latency_ms,
            paused_until: s.paused_until,
            paused_why: s.paused_why.clone(),
            sent: count(s.sent),
            failed: count(s.failed),
        }
    }
}

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

async fn report(pool: &Db, worker: &str, snapshots: &[Snapshot]) {
    let figures: Vec<DestinationFigures> = snapshots.iter().map(Into::into).collect();
    if let Err(e) = sqlx::query("SELECT msgpool.report_destinations($1, $2)")
        .bind(worker)
        .bind(sqlx::types::Json(&figures))
        .execute(pool)
        .await
    {
        tracing::warn!(error = %e, "could not report the destinations' figures");
    }
}
