//! The woken path: how an idle worker waits, and what it does first when woken. Idle, it
//! says so in `msgpool.waiting_worker` (producers then notify) and LISTENs; woken by a
//! producer's notification (or the poll interval), it expands and claims in one round trip
//! (`msgpool.expand_and_claim`) on the connection that LISTENs, writes inbox deliveries
//! right there, and hands the rest to the channel queues. The busy path (expand, then each
//! queue's own claims through apalis) is [`crate::expand`] and [`crate::queue`].

use std::sync::Arc;

use msgpool::Db;
use msgpool::domain::Channel;
use sqlx::postgres::PgListener;
use sqlx::{Acquire, PgConnection};
use tokio_util::sync::CancellationToken;

use crate::WorkerConfig;
use crate::claim::expand_and_claim;
use crate::deliver::{Deliverer, attempt};
use crate::outcomes::record::write;
use crate::queue::{ChannelQueue, deliveries};

/// An expander's waiting: its row in `msgpool.waiting_worker`, present unless it is busy with
/// full batches (so producers notify only when a notification can help), and its LISTEN
/// connection (none when polling only, or after an error until the next connect). Woken work
/// runs on that connection; notifications that come meanwhile wait in it.
pub struct Wakeup {
    pool: Db,
    config: Arc<WorkerConfig>,
    me: uuid::Uuid,
    registered: bool,
    listener: Option<PgListener>,
}

impl Wakeup {
    pub fn new(pool: Db, config: Arc<WorkerConfig>) -> Self {
        Wakeup {
            pool,
            config,
            me: uuid::Uuid::new_v4(),
            registered: false,
            listener: None,
        }
    }

    /// Busy: producers need not notify until this expander waits again.
    pub async fn busy(&mut self) {
        if self.registered {
            self.registered = !set_waiting(&self.pool, self.me, false).await;
        }
    }

    /// Idle: waits for a notification, the poll interval or `stop`; true when the next look
    /// should be the woken path. Having just said it waits, it returns at once for one more
    /// look: a message committed before the row was visible to its producer sent no
    /// notification. Having just begun to LISTEN, likewise: notifications the row invited
    /// before the LISTEN took effect went nowhere.
    pub async fn wait(&mut self, stop: &CancellationToken) -> bool {
        if !self.config.poll_only && !self.registered {
            self.registered = set_waiting(&self.pool, self.me, true).await;
            if self.registered {
                return false;
            }
        }
        if self.listener.is_none() && !self.config.poll_only {
            self.listener = listen(&self.pool).await;
            if self.listener.is_some() {
                return true;
            }
        }
        tokio::select! {
            notified = notification(&mut self.listener) => {
                if let Err(e) = notified {
                    tracing::warn!(error = %e, "lost the notification connection; polling meanwhile");
                    self.listener = None;
                }
                true
            }
            _ = tokio::time::sleep(self.config.poll_interval) => {
                self.registered = false; // renew the row's `since`
                true
            }
            _ = stop.cancelled() => false,
        }
    }

    /// Stopping: producers stop notifying this expander.
    pub async fn leave(&mut self) {
        if self.registered {
            set_waiting(&self.pool, self.me, false).await;
        }
    }

    /// The woken path's work ([`expand_and_fill`]) on the LISTEN connection; true when a
    /// channel got a full batch (more is due).
    pub async fn expand_and_fill(
        &mut self,
        queues: &[Arc<ChannelQueue>],
        deliverer: &Arc<Deliverer>,
    ) -> sqlx::Result<bool> {
        let (listener, filled) = expand_and_fill(queues, deliverer, self.listener.take()).await;
        self.listener = listener;
        filled.map(|most| most >= self.config.batch_size as usize)
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

/// Adds (or renews) or removes this expander's waiting row; true when that worked.
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
/// have been idle since their last turn, so the first query on it answers sooner.
async fn expand_and_fill(
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

/// [`expand_and_fill`]'s work on one connection; `claiming` holds every queue's claim
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
        expand_and_claim(conn, &channels, config.batch_size, &config.lease_interval()).await?;
    let (inbox, mut batch): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .partition(|c| c.lead.channel == Channel::Inbox);
    let mut most = 0;
    let mut inbox_queue = None;
    for (queue, lock) in queues.iter().zip(claiming.drain(..)) {
        let (mine, rest): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|c| c.lead.channel == queue.channel);
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
        for claim in &inbox {
            finished.push(attempt(deliverer, claim).await);
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
