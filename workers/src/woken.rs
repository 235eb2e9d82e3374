//! The woken path: an idle worker, woken by a producer's notification, expands and claims
//! in one round trip (`msgpool.dispatch_and_claim`) on the connection that LISTENs, writes
//! inbox deliveries right there, and hands the rest to the channel queues. The busy path
//! (dispatch, then each queue's own claims through apalis) is in [`crate::queue`].

use std::sync::Arc;

use msgpool::domain::Channel;
use sqlx::postgres::PgListener;
use sqlx::{Acquire, PgConnection};

use crate::WorkerConfig;
use crate::claim::dispatch_and_claim;
use crate::deliver::{Deliverer, attempt};
use crate::outcomes::write;
use crate::queue::{ChannelQueue, deliveries};

/// Expands due messages and claims the due deliveries of every queue's channel in one round
/// trip, handing each queue its own; for an idle worker woken by a producer. Inbox
/// deliveries are [attempted](attempt) and written right here: a lone message's row is
/// committed one task hop and one round trip sooner than through apalis and the outcome
/// writer. Returns the most any one channel got (a full batch means there is more). Like
/// [`ChannelQueue::fill`] it runs in a task of its own, holding every queue's claim lock
/// until the claim has landed where the release at shutdown finds it; only the inbox
/// queue's is still held while its deliveries are rendered and written.
///
/// It all runs on `woken`, the connection whose notification woke the worker, when there is
/// one (and hands it back): that backend was just at work, where connections from the pool
/// have been idle since their last turn (docs/performance.md has what that saved).
pub async fn dispatch_and_fill(
    queues: &[Arc<ChannelQueue>],
    deliverer: &Arc<Deliverer>,
    mut woken: Option<PgListener>,
) -> (Option<PgListener>, sqlx::Result<usize>) {
    let Some(first) = queues.first() else {
        return (woken, Ok(0));
    };
    let (pool, config, queues) = (first.pool.clone(), first.config.clone(), queues.to_vec());
    let deliverer = deliverer.clone();
    let claimed = tokio::spawn(async move {
        let mut claiming = Vec::with_capacity(queues.len());
        for queue in &queues {
            claiming.push(queue.claiming.lock().await);
        }
        let filled = async {
            match woken.as_mut() {
                Some(listener) => {
                    let conn = listener.acquire().await?;
                    fill_all(&queues, claiming, &deliverer, &config, conn).await
                }
                None => {
                    let mut session = pool.session().await?;
                    let filled =
                        fill_all(&queues, claiming, &deliverer, &config, &mut session).await?;
                    session.finish().await.map(|()| filled)
                }
            }
        }
        .await;
        (woken, filled)
    });
    claimed
        .await
        .unwrap_or_else(|e| (None, Err(sqlx::Error::Io(std::io::Error::other(e)))))
}

/// [`dispatch_and_fill`]'s work on one connection; `claiming` holds every queue's claim
/// lock, in the order of `queues`.
async fn fill_all(
    queues: &[Arc<ChannelQueue>],
    mut claiming: Vec<tokio::sync::MutexGuard<'_, ()>>,
    deliverer: &Deliverer,
    config: &WorkerConfig,
    conn: &mut PgConnection,
) -> sqlx::Result<usize> {
    let channels: Vec<Channel> = queues.iter().map(|q| q.channel).collect();
    let batch =
        dispatch_and_claim(conn, &channels, config.batch_size, &config.lease_interval()).await?;
    let (inbox, mut batch): (Vec<_>, Vec<_>) =
        batch.into_iter().partition(|d| d.channel == Channel::Inbox);
    let mut most = 0;
    let mut inbox_queue = None;
    for (queue, lock) in queues.iter().zip(claiming.drain(..)) {
        let (mine, rest): (Vec<_>, Vec<_>) =
            batch.into_iter().partition(|d| d.channel == queue.channel);
        batch = rest;
        if !mine.is_empty() {
            most = most.max(queue.accept(mine));
            queue.wake.notify_one();
        }
        if queue.channel == Channel::Inbox {
            inbox_queue = Some((queue, lock));
        }
    }
    // Every other channel's lock is released now: rendering the inbox holds none of theirs.
    let Some((queue, _lock)) = inbox_queue else {
        return Ok(most);
    };
    let written = deliveries(&inbox);
    if !inbox.is_empty() {
        let mut finished = Vec::with_capacity(inbox.len());
        for delivery in &inbox {
            finished.push(attempt(deliverer, delivery).await);
        }
        if let Err(e) = write(conn, &finished, &config.name).await {
            // still leased: the inbox queue sends them the usual way, with retries
            tracing::warn!(error = %e, deliveries = inbox.len(), "could not write inbox rows at once; queueing them");
            queue.accept(inbox);
            queue.wake.notify_one();
        }
    }
    if written >= config.batch_size as usize {
        // a full batch written here leaves more due, which only the queue claims
        queue.wake.notify_one();
    }
    Ok(most.max(written))
}
