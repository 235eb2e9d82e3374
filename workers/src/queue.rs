//! One channel's queue of claimed deliveries: the busy path's claims. apalis pulls the next
//! delivery (through [`crate::backend`]) only when a send slot is free; the queue claims a
//! batch (`msgpool.claim_deliveries`) when its buffer runs dry and otherwise waits for a
//! wake-up or the poll interval.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use msgpool::Db;
use msgpool::domain::Channel;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::WorkerConfig;
use crate::claim::{ClaimedDelivery, claim};
use crate::leases::Leases;

/// One channel's claimed-but-unstarted deliveries. It outlives the apalis worker that reads
/// it, so a worker restarted after a database error picks up where the last one stopped.
pub struct ChannelQueue {
    pub channel: Channel,
    pub(crate) pool: Db,
    pub(crate) config: Arc<WorkerConfig>,
    leases: Arc<Leases>,
    buffer: Mutex<VecDeque<ClaimedDelivery>>,
    /// Held while a claim is in flight, so a release waits for its rows.
    pub(crate) claiming: tokio::sync::Mutex<()>,
    /// Notified when the dispatcher made new deliveries.
    pub wake: Notify,
    /// The last claim came back short of a full batch.
    drained: AtomicBool,
    stop: CancellationToken,
}

impl ChannelQueue {
    pub fn new(
        channel: Channel,
        pool: Db,
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
    pub(crate) async fn next(self: &Arc<Self>) -> Option<sqlx::Result<ClaimedDelivery>> {
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
    pub(crate) fn accept(&self, batch: Vec<ClaimedDelivery>) -> usize {
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

/// How many deliveries a claimed batch holds, gathered ones included, as the claim's batch
/// size counts them.
pub(crate) fn deliveries(batch: &[ClaimedDelivery]) -> usize {
    batch.len() + batch.iter().map(|d| d.gathered.len()).sum::<usize>()
}
