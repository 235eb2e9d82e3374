//! Expanding due messages into deliveries: `msgpool.dispatch()` in a loop, batch after batch
//! while there is work, then waiting for a notification or the poll interval. Woken from
//! that wait, it expands and claims in one call (`msgpool.dispatch_and_claim()`), which takes
//! a round trip off a lone message's way to its recipient, and does so on the connection
//! that LISTENs: the backend that was just woken. While busy, it has the tables a burst
//! outgrows analyzed (`msgpool.refresh_statistics()`), so claims keep plans fit for them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use msgpool::Db;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use crate::WorkerConfig;
use crate::deliver::Deliverer;
use crate::queue::ChannelQueue;
use crate::woken::dispatch_and_fill;

/// How often a busy dispatcher looks whether a hot table outgrew its statistics.
const STATISTICS_CHECK: Duration = Duration::from_millis(100);

pub async fn run(
    pool: Db,
    config: Arc<WorkerConfig>,
    queues: Vec<Arc<ChannelQueue>>,
    deliverer: Arc<Deliverer>,
    stop: CancellationToken,
) {
    // This dispatcher's row in msgpool.waiting_worker: present unless it is busy with full
    // batches, so that producers notify only when a notification can help.
    let me = uuid::Uuid::new_v4();
    let mut registered = false;
    let mut woken = false;
    let mut failures = 0u32;
    // None: not since this dispatcher started, so a burst's first full batch looks at once
    let mut statistics_checked: Option<Instant> = None;
    // The LISTEN connection (none when polling only, or after an error until the next
    // connect). A woken dispatch runs on it; notifications that come meanwhile wait in it.
    let mut listener: Option<PgListener> = None;
    while !stop.is_cancelled() {
        // Woken while idle: most likely a lone message, so expand and claim it in one round
        // trip. Busy: expand only; the channel queues claim for themselves meanwhile.
        let busy = if std::mem::take(&mut woken) && !queues.is_empty() {
            let (conn, filled) = dispatch_and_fill(&queues, &deliverer, listener.take()).await;
            listener = conn;
            filled.map(|most| most >= config.batch_size as usize)
        } else {
            sqlx::query_scalar::<_, i32>("SELECT msgpool.dispatch($1)")
                .bind(config.batch_size)
                .fetch_one(&pool)
                .await
                .map(|expanded| {
                    if expanded > 0 {
                        tracing::debug!(expanded, "expanded messages into deliveries");
                        queues.iter().for_each(|q| q.wake.notify_one());
                    }
                    expanded == config.batch_size
                })
        };
        match busy {
            Ok(busy) => {
                failures = 0;
                if busy {
                    if statistics_checked.is_none_or(|at| at.elapsed() >= STATISTICS_CHECK) {
                        refresh_statistics(&pool).await;
                        statistics_checked = Some(Instant::now());
                    }
                    // Busy: producers need not notify until this dispatcher waits again.
                    if registered {
                        registered = !set_waiting(&pool, me, false).await;
                    }
                    continue;
                }
            }
            Err(e) => {
                failures += 1;
                let wait = Duration::from_millis(250 * 2u64.pow(failures.min(7)));
                tracing::warn!(error = %e, retry_in = ?wait, "could not expand messages");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => {}
                }
                continue;
            }
        }
        if !config.poll_only && !registered {
            // Say we wait, then look once more before sleeping: a message committed before
            // our row was visible to its producer sent no notification.
            registered = set_waiting(&pool, me, true).await;
            if registered {
                continue;
            }
        }
        if listener.is_none() && !config.poll_only {
            listener = listen(&pool).await;
            if listener.is_some() {
                // The waiting row may have invited notifications before the LISTEN took
                // effect, and they went nowhere: look now.
                woken = true;
                continue;
            }
        }
        tokio::select! {
            notified = notification(&mut listener) => {
                woken = true;
                if let Err(e) = notified {
                    tracing::warn!(error = %e, "lost the notification connection; polling meanwhile");
                    listener = None;
                }
            }
            _ = tokio::time::sleep(config.poll_interval) => {
                registered = false; // renew the row's `since`
                woken = true;
            }
            _ = stop.cancelled() => {}
        }
    }
    if registered {
        set_waiting(&pool, me, false).await;
    }
}

/// A connection that LISTENs for new messages; `None` (logged) when that fails, and the poll
/// finds the work meanwhile.
async fn listen(pool: &Db) -> Option<PgListener> {
    let mut listener = match PgListener::connect_with(pool.pool()).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(error = %e, "could not connect to LISTEN; polling meanwhile");
            return None;
        }
    };
    match listener.listen("msgpool_message").await {
        Ok(()) => Some(listener),
        Err(e) => {
            tracing::warn!(error = %e, "could not LISTEN; polling meanwhile");
            None
        }
    }
}

/// Waits for the next notification (forever without a connection), then takes the others
/// already here: one look covers every message they announce. `Ok` also when the connection
/// was lost and made again, since notifications sent meanwhile are lost.
async fn notification(listener: &mut Option<PgListener>) -> sqlx::Result<()> {
    let Some(listener) = listener else {
        return std::future::pending().await;
    };
    listener.try_recv().await?;
    while listener.next_buffered().is_some() {}
    Ok(())
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

/// Adds (or renews) or removes this dispatcher's waiting row; true when that worked.
async fn set_waiting(pool: &Db, me: uuid::Uuid, waiting: bool) -> bool {
    match sqlx::query("SELECT msgpool.worker_waiting($1, $2)")
        .bind(me)
        .bind(waiting)
        .execute(pool)
        .await
    {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, "could not update the waiting row; polling meanwhile");
            false
        }
    }
}
