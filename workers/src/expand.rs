//! The expander: `msgpool.expand()` (sql/schema/08_expand.sql) in a loop, batch after batch
//! while messages are due, each due message becoming its deliveries; then idle until a
//! producer's notification or the poll interval ([`crate::woken`] owns that wait, and what a
//! woken worker does first). While busy, it has the tables a burst outgrows analyzed
//! (`msgpool.refresh_statistics()`), so claims keep plans fit for them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use msgpool::Db;
use tokio_util::sync::CancellationToken;

use crate::WorkerConfig;
use crate::deliver::Deliverer;
use crate::queue::ChannelQueue;
use crate::woken::Wakeup;

/// How often a busy expander looks whether a hot table outgrew its statistics.
const STATISTICS_CHECK: Duration = Duration::from_millis(100);

pub async fn run(
    pool: Db,
    config: Arc<WorkerConfig>,
    queues: Vec<Arc<ChannelQueue>>,
    deliverer: Arc<Deliverer>,
    stop: CancellationToken,
) {
    let mut wakeup = Wakeup::new(pool.clone(), config.clone());
    let mut woken = false;
    let mut failures = 0u32;
    // None: not since this expander started, so a burst's first full batch looks at once
    let mut statistics_checked: Option<Instant> = None;
    while !stop.is_cancelled() {
        // Woken while idle: most likely a lone message, which the woken path takes to its
        // recipient at once. Busy: expand only; the channel queues claim for themselves.
        let busy = if std::mem::take(&mut woken) && !queues.is_empty() {
            wakeup.expand_and_fill(&queues, &deliverer).await
        } else {
            expand(&pool, &config, &queues).await
        };
        match busy {
            Ok(true) => {
                failures = 0;
                if statistics_checked.is_none_or(|at| at.elapsed() >= STATISTICS_CHECK) {
                    refresh_statistics(&pool).await;
                    statistics_checked = Some(Instant::now());
                }
                wakeup.busy().await;
            }
            Ok(false) => {
                failures = 0;
                woken = wakeup.wait(&stop).await;
            }
            Err(e) => {
                failures += 1;
                let wait = Duration::from_millis(250 * 2u64.pow(failures.min(7)));
                tracing::warn!(error = %e, retry_in = ?wait, "could not expand messages");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => {}
                }
            }
        }
    }
    wakeup.leave().await;
}

/// One batch of `msgpool.expand()`; true when it was full (more is due). The queues are told
/// when there are new deliveries.
async fn expand(
    pool: &Db,
    config: &WorkerConfig,
    queues: &[Arc<ChannelQueue>],
) -> sqlx::Result<bool> {
    let expanded = sqlx::query_scalar::<_, i32>("SELECT msgpool.expand($1)")
        .bind(config.batch_size)
        .fetch_one(pool)
        .await?;
    if expanded > 0 {
        tracing::debug!(expanded, "expanded messages into deliveries");
        queues.iter().for_each(|q| q.wake.notify_one());
    }
    Ok(expanded == config.batch_size)
}

/// Analyzes the hot tables that a burst has made outgrow the planner's picture of them
/// (`msgpool.refresh_statistics()`): plans made while they were nearly empty read them whole.
async fn refresh_statistics(pool: &Db) {
    match sqlx::query_scalar::<_, Vec<String>>("SELECT msgpool.refresh_statistics()")
        .fetch_one(pool)
        .await
    {
        Ok(analyzed) if !analyzed.is_empty() => {
            tracing::info!(?analyzed, "analyzed tables grown past their statistics")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not refresh the hot tables' statistics"),
    }
}
