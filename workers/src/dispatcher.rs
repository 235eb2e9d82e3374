//! Expanding due messages into deliveries: `msgpool.dispatch()` in a loop, batch after batch
//! while there is work, then waiting for a notification or the poll interval. Woken from
//! that wait, it expands and claims in one call (`msgpool.dispatch_and_claim()`), which takes
//! a round trip off a lone message's way to its recipient.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::WorkerConfig;
use crate::backend::{ChannelQueue, dispatch_and_fill};
use crate::deliver::Deliverer;

pub async fn run(
    pool: PgPool,
    config: Arc<WorkerConfig>,
    new_messages: Arc<Notify>,
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
    while !stop.is_cancelled() {
        // Woken while idle: most likely a lone message, so expand and claim it in one round
        // trip. Busy: expand only; the channel queues claim for themselves meanwhile.
        let busy = if std::mem::take(&mut woken) && !queues.is_empty() {
            dispatch_and_fill(&queues, &deliverer)
                .await
                .map(|most| most >= config.batch_size as usize)
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
        tokio::select! {
            _ = new_messages.notified() => woken = true,
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

/// Adds (or renews) or removes this dispatcher's waiting row; true when that worked.
async fn set_waiting(pool: &PgPool, me: uuid::Uuid, waiting: bool) -> bool {
    let sql = if waiting {
        "INSERT INTO msgpool.waiting_worker (worker) VALUES ($1) ON CONFLICT (worker) DO UPDATE SET since = now()"
    } else {
        "DELETE FROM msgpool.waiting_worker WHERE worker = $1"
    };
    match sqlx::query(sql).bind(me).execute(pool).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, "could not update the waiting row; polling meanwhile");
            false
        }
    }
}

/// Wakes the dispatcher on `msgpool_message` notifications; reconnects after errors. A lost
/// notification costs at most a poll interval.
pub async fn listen(pool: PgPool, new_messages: Arc<Notify>, stop: CancellationToken) {
    while !stop.is_cancelled() {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen("msgpool_message").await {
                // A waiting row may have invited notifications before this LISTEN took
                // effect, and they went nowhere: look now.
                Ok(()) => {
                    new_messages.notify_one();
                    loop {
                        tokio::select! {
                            // Ok(None): the connection dropped, and the next call reconnects
                            // and listens again; what was sent meanwhile is lost, so look.
                            received = listener.try_recv() => match received {
                                Ok(_) => new_messages.notify_one(),
                                Err(e) => {
                                    tracing::warn!(error = %e, "lost the notification connection; polling meanwhile");
                                    break;
                                }
                            },
                            _ = stop.cancelled() => return,
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not LISTEN; polling meanwhile"),
            },
            Err(e) => tracing::warn!(error = %e, "could not connect to LISTEN; polling meanwhile"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.cancelled() => {}
        }
    }
}
