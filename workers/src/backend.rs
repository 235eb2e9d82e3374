//! The apalis backend over msgpool's own tables: per channel, a stream of leased deliveries.
//! apalis pulls the next delivery only when a send slot is free; the queue claims a batch
//! when its buffer runs dry and otherwise waits for a wake-up or the poll interval.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use apalis_core::backend::finalize::Ephemeral;
use apalis_core::backend::{Backend, BackendConfig};
use apalis_core::task::Task;
use apalis_core::task::task_id::RandomId;
use apalis_core::worker::context::WorkerContext;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use msgpool::domain::Channel;
use sqlx::postgres::PgListener;
use sqlx::{Acquire, PgConnection, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tower_layer::Identity;

use crate::WorkerConfig;
use crate::claim::{ClaimedDelivery, claim, dispatch_and_claim};
use crate::deliver::{Deliverer, attempt};
use crate::leases::Leases;
use crate::outcomes::write;

/// One channel's claimed-but-unstarted deliveries. It outlives the apalis worker that reads
/// it, so a worker restarted after a database error picks up where the last one stopped.
pub struct ChannelQueue {
    pub channel: Channel,
    pool: PgPool,
    config: Arc<WorkerConfig>,
    leases: Arc<Leases>,
    buffer: Mutex<VecDeque<ClaimedDelivery>>,
    /// Held while a claim is in flight, so a release waits for its rows.
    claiming: tokio::sync::Mutex<()>,
    /// Notified when the dispatcher made new deliveries.
    pub wake: Notify,
    /// The last claim came back short of a full batch.
    drained: AtomicBool,
    stop: CancellationToken,
}

impl ChannelQueue {
    pub fn new(
        channel: Channel,
        pool: PgPool,
        config: Arc<WorkerConfig>,
        leases: Arc<Leases>,
        stop: CancellationToken,
    ) -> Self {
        ChannelQueue {
            channel,
            pool,
            config,
            leases,
            buffer: Mutex::default(),
            claiming: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
            drained: AtomicBool::new(false),
            stop,
        }
    }

    /// The next delivery to send; `None` once stopping (what is buffered stays for
    /// [`ChannelQueue::release_unstarted`]).
    async fn next(self: &Arc<Self>) -> Option<sqlx::Result<ClaimedDelivery>> {
        loop {
            if self.stop.is_cancelled() {
                return None;
            }
            if let Some(delivery) = self
                .buffer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop_front()
            {
                return Some(Ok(delivery));
            }
            // A claim that came back short took everything due: claiming again at once would
            // only find nothing, next to the outcome write of what it took. Wait for the
            // dispatcher's wake-up (it keeps a permit if it came meanwhile) or the poll.
            let drained = self.drained.swap(false, Ordering::Relaxed);
            if !drained {
                match self.fill().await {
                    Err(e) => return Some(Err(e)),
                    Ok(claimed) if claimed > 0 => continue,
                    Ok(_) => {}
                }
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                _ = self.stop.cancelled() => return None,
            }
        }
    }

    /// Claims a batch into the buffer; returns how many it claimed. The claim runs in a task of
    /// its own: when a stop drops the caller mid-claim, the committed claim still lands in the
    /// buffer, where the release at shutdown finds it.
    async fn fill(self: &Arc<Self>) -> sqlx::Result<usize> {
        let queue = self.clone();
        let claimed = tokio::spawn(async move {
            let _claiming = queue.claiming.lock().await;
            let batch = claim(
                &queue.pool,
                queue.channel,
                queue.config.batch_size,
                &queue.config.lease_interval(),
            )
            .await?;
            Ok(queue.accept(batch))
        });
        claimed
            .await
            .map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))?
    }

    /// Buffers a claimed batch, with its leases kept alive, and remembers whether it came
    /// back short (then everything due was taken); returns how many [`deliveries`] it
    /// holds. The caller holds `claiming`.
    fn accept(&self, batch: Vec<ClaimedDelivery>) -> usize {
        let claimed = deliveries(&batch);
        self.leases.hold(batch.iter().map(|d| d.lease_token));
        // an empty claim drained nothing: the next wake-up must claim again
        let short = claimed > 0 && claimed < self.config.batch_size as usize;
        self.drained.store(short, Ordering::Relaxed);
        self.buffer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(batch);
        claimed
    }

    /// Gives the claimed deliveries that were never started back to the pool (at shutdown),
    /// due at once and without counting an attempt.
    pub async fn release_unstarted(&self) -> sqlx::Result<i32> {
        let _claiming = self.claiming.lock().await;
        let tokens: Vec<_> = self
            .buffer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .map(|d| d.lease_token)
            .collect();
        if tokens.is_empty() {
            return Ok(0);
        }
        let released = sqlx::query_scalar("SELECT msgpool.release_deliveries($1)")
            .bind(&tokens)
            .fetch_one(&self.pool)
            .await?;
        self.leases.done(tokens);
        Ok(released)
    }
}

/// Expands due messages and claims the due deliveries of every queue's channel in one round
/// trip, handing each queue its own; for an idle worker woken by a producer. Inbox
/// deliveries are [attempted](attempt) and written right here: a lone message's row is committed one
/// task hop and one round trip sooner than through apalis and the outcome writer. Returns
/// the most any one channel got (a full batch means there is more). Like
/// [`ChannelQueue::fill`] it runs in a task of its own, holding every queue's claim lock,
/// so a committed claim always lands where the release at shutdown finds it.
///
/// It all runs on `woken`, the connection whose notification woke the worker, when there is
/// one (and hands it back): that backend was just at work, and there the dispatch took about
/// 0.2 ms less and the inbox write about 0.1 ms less than on connections from the pool, idle
/// since their last turn (see the README's performance section).
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
                    fill_all(&queues, &deliverer, &config, listener.acquire().await?).await
                }
                None => fill_all(&queues, &deliverer, &config, &mut *pool.acquire().await?).await,
            }
        }
        .await;
        (woken, filled)
    });
    claimed
        .await
        .unwrap_or_else(|e| (None, Err(sqlx::Error::Io(std::io::Error::other(e)))))
}

/// [`dispatch_and_fill`]'s work on one connection; the caller holds every queue's claim lock.
async fn fill_all(
    queues: &[Arc<ChannelQueue>],
    deliverer: &Deliverer,
    config: &WorkerConfig,
    conn: &mut PgConnection,
) -> sqlx::Result<usize> {
    let channels: Vec<Channel> = queues.iter().map(|q| q.channel).collect();
    let batch =
        dispatch_and_claim(conn, &channels, config.batch_size, &config.lease_interval()).await?;
    let (inbox, mut batch): (Vec<_>, Vec<_>) =
        batch.into_iter().partition(|d| d.channel == Channel::Inbox);
    let written = deliveries(&inbox);
    let mut most = written;
    if !inbox.is_empty() {
        let mut finished = Vec::with_capacity(inbox.len());
        for delivery in &inbox {
            finished.push(attempt(deliverer, delivery).await);
        }
        if let Err(e) = write(conn, &finished, &config.name).await {
            // still leased: the inbox queue sends them the usual way, with retries
            tracing::warn!(error = %e, deliveries = inbox.len(), "could not write inbox rows at once; queueing them");
            batch.extend(inbox);
        }
    }
    for queue in queues {
        let (mine, rest): (Vec<_>, Vec<_>) =
            batch.into_iter().partition(|d| d.channel == queue.channel);
        batch = rest;
        if !mine.is_empty() {
            most = most.max(queue.accept(mine));
            queue.wake.notify_one();
        } else if queue.channel == Channel::Inbox && written >= config.batch_size as usize {
            // a full batch written here leaves more due, which only the queue claims
            queue.wake.notify_one();
        }
    }
    Ok(most)
}

/// How many deliveries a claimed batch holds, gathered ones included, as the claim's batch
/// size counts them.
fn deliveries(batch: &[ClaimedDelivery]) -> usize {
    batch.len() + batch.iter().map(|d| d.gathered.len()).sum::<usize>()
}

/// The apalis [`Backend`]: a stream over a [`ChannelQueue`].
pub struct DeliveryBackend {
    stream: BoxStream<'static, Result<Task<ClaimedDelivery>, sqlx::Error>>,
}

impl DeliveryBackend {
    pub fn new(queue: Arc<ChannelQueue>) -> Self {
        let stream = futures_util::stream::unfold(queue, |queue| async move {
            let next = queue.next().await?;
            Some((next.map(Task::new), queue))
        });
        DeliveryBackend {
            stream: stream.boxed(),
        }
    }
}

impl Backend for DeliveryBackend {
    type Task = Task<ClaimedDelivery>;
    type Error = sqlx::Error;

    fn poll_ready(
        &mut self,
        _: &mut Context<'_>,
        _: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        _: &WorkerContext,
    ) -> Poll<Option<Result<Self::Task, Self::Error>>> {
        Pin::new(&mut self.stream).poll_next(cx)
    }

    fn poll_close(
        &mut self,
        _: &mut Context<'_>,
        _: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
}

impl BackendConfig for DeliveryBackend {
    type Args = ClaimedDelivery;
    type Id = RandomId;
    // Outcomes are written by msgpool's own batching writer, not through apalis.
    type Kind = Ephemeral;
    type Config = ();
    type Layer = Identity;

    fn config(&self) -> &Self::Config {
        &()
    }

    fn middleware(&mut self, _: &mut WorkerContext) -> Self::Layer {
        Identity::new()
    }
}
