//! One channel's queue of claimed deliveries: the busy path's claims. apalis pulls the next
//! delivery (through [`crate::backend`]) only when a send slot is free; the queue hands out
//! the first buffered delivery whose destination has room ([`crate::destinations`]), claims
//! a batch (`msgpool.claim_deliveries`) when its buffer runs low, and otherwise waits for
//! room, a wake-up or the poll interval. What a paused destination, or one too slow to
//! drain soon, would hold is given back to the pool for later, without spending an attempt,
//! so it never holds the buffer from the others.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use msgpool::Db;
use msgpool::domain::Channel;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::WorkerConfig;
use crate::claim::{Claim, claim};
use crate::destinations::{Blocked, Destination, Destinations};
use crate::leases::Leases;

/// A destination's deliveries that it will not send within this long are given back.
const HOLD_AT_MOST: Duration = Duration::from_secs(2);
/// The longest a delivery given back for a full destination waits before it is due again.
const FULL_WAIT_AT_MOST: Duration = Duration::from_secs(60);
/// A queue claims more only while the payloads it holds are fewer bytes than this.
const BUFFER_BYTES: usize = 16 * 1024 * 1024;

/// A claim waiting in the buffer, and where it goes.
struct Buffered {
    destination: Option<Arc<Destination>>,
    claim: Claim,
}

/// Deliveries to give back, due again after `wait`, for `why`.
struct GiveBack {
    tokens: Vec<uuid::Uuid>,
    wait: Duration,
    why: String,
}

/// One channel's claimed-but-unstarted deliveries. It outlives the apalis worker that reads
/// it, so a worker restarted after a database error picks up where the last one stopped.
pub struct ChannelQueue {
    pub channel: Channel,
    pub(crate) pool: Db,
    pub(crate) config: Arc<WorkerConfig>,
    leases: Arc<Leases>,
    destinations: Arc<Destinations>,
    /// Notified when one of this channel's destinations has room again.
    room: Arc<tokio::sync::Notify>,
    buffer: Mutex<VecDeque<Buffered>>,
    /// Held while a claim is in flight, so a release waits for its rows.
    pub(crate) claiming: tokio::sync::Mutex<()>,
    /// Notified when the expander made new deliveries.
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
        destinations: Arc<Destinations>,
        stop: CancellationToken,
    ) -> Self {
        ChannelQueue {
            channel,
            pool,
            config,
            leases,
            room: destinations.room(channel),
            destinations,
            buffer: Mutex::default(),
            claiming: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
            drained: AtomicBool::new(false),
            stop,
        }
    }

    /// The next delivery to send, with its place at its destination taken; `None` once
    /// stopping (what is buffered stays for [`ChannelQueue::release_unstarted`]).
    pub(crate) async fn next(self: &Arc<Self>) -> Option<sqlx::Result<Claim>> {
        loop {
            if self.stop.is_cancelled() {
                return None;
            }
            let (ready, give_back) = self.pick();
            if let Some(claim) = ready {
                return Some(Ok(claim));
            }
            for back in give_back {
                if let Err(e) = self.give_back(back).await {
                    return Some(Err(e));
                }
            }
            // A claim that came back short took everything due: claiming again at once would
            // only find nothing, next to the outcome write of what it took. Wait for the
            // expander's wake-up (it keeps a permit if it came meanwhile) or the poll.
            if self.has_room() && !self.drained.swap(false, Ordering::Relaxed) {
                match self.fill().await {
                    Err(e) => return Some(Err(e)),
                    Ok(claimed) if claimed > 0 => continue,
                    Ok(_) => {}
                }
            }
            tokio::select! {
                _ = self.room.notified() => {}
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                _ = self.stop.cancelled() => return None,
            }
        }
    }

    /// Whether the buffer has room for another claim: fewer deliveries than a batch, and
    /// fewer payload bytes than [`BUFFER_BYTES`] (a worker's memory follows bytes, not rows).
    fn has_room(&self) -> bool {
        let buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        let bytes: usize = buffer.iter().map(|b| b.claim.payload_bytes()).sum();
        buffer.len() < self.config.batch_size as usize && bytes < BUFFER_BYTES
    }

    /// The first buffered delivery whose destination has room, its slot taken; else what
    /// to give back: everything bound for a paused destination, and what a full one would
    /// not send within [`HOLD_AT_MOST`].
    fn pick(&self) -> (Option<Claim>, Vec<GiveBack>) {
        let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut blocked: Vec<(Arc<Destination>, Blocked, usize)> = Vec::new();
        let mut index = 0;
        while index < buffer.len() {
            let Some(destination) = &buffer[index].destination else {
                return (buffer.remove(index).map(|b| b.claim), Vec::new());
            };
            if let Some(seen) = blocked
                .iter_mut()
                .find(|(d, _, _)| Arc::ptr_eq(d, destination))
            {
                seen.2 += 1;
                index += 1;
                continue;
            }
            match destination.take() {
                Ok(slot) => {
                    let mut claim = buffer.remove(index).map(|b| b.claim);
                    if let Some(c) = claim.as_mut() {
                        c.slot = Some(Arc::new(slot));
                    }
                    return (claim, Vec::new());
                }
                Err(why) => blocked.push((destination.clone(), why, 1)),
            }
            index += 1;
        }
        let mut give_back = Vec::new();
        for (destination, why, queued) in blocked {
            let (keep, back) = match why {
                Blocked::Paused(pause) => (
                    0,
                    GiveBack {
                        tokens: Vec::new(),
                        wait: pause.until.saturating_duration_since(Instant::now()),
                        why: format!(
                            "{} {} paused: {}",
                            self.channel, destination.name, pause.why
                        ),
                    },
                ),
                Blocked::Full { in_flight } => {
                    let (limit, latency) = destination.pace();
                    let per_second = limit as f64 / latency.as_secs_f64().max(0.001);
                    let keep = (per_second * HOLD_AT_MOST.as_secs_f64()).ceil() as usize;
                    if queued <= keep.max(limit) {
                        continue;
                    }
                    let drain = Duration::from_secs_f64(queued as f64 / per_second);
                    (
                        keep.max(limit),
                        GiveBack {
                            tokens: Vec::new(),
                            wait: drain.clamp(HOLD_AT_MOST, FULL_WAIT_AT_MOST),
                            why: format!(
                                "waiting for room at {} {}: {in_flight} sends in flight, its limit",
                                self.channel, destination.name
                            ),
                        },
                    )
                }
            };
            let mut kept = 0;
            let mut back = back;
            buffer.retain(|b| {
                let mine = b
                    .destination
                    .as_ref()
                    .is_some_and(|d| Arc::ptr_eq(d, &destination));
                if !mine {
                    return true;
                }
                kept += 1;
                if kept <= keep {
                    return true;
                }
                back.tokens.push(b.claim.lead.lease_token);
                false
            });
            give_back.push(back);
        }
        (None, give_back)
    }

    /// Gives deliveries back to the pool, due after their wait, without an attempt spent. Like
    /// [`ChannelQueue::fill`], in a task of its own: a stop may leave the caller unpolled,
    /// and the claim lock must not be held by it then.
    async fn give_back(self: &Arc<Self>, back: GiveBack) -> sqlx::Result<()> {
        let queue = self.clone();
        let given = tokio::spawn(async move {
            let _claiming = queue.claiming.lock().await;
            let given: i32 =
                sqlx::query_scalar("SELECT msgpool.release_deliveries($1, $2::interval, $3)")
                    .bind(&back.tokens)
                    .bind(format!("{} milliseconds", back.wait.as_millis()))
                    .bind(&back.why)
                    .fetch_one(&queue.pool)
                    .await?;
            tracing::debug!(channel = %queue.channel, given, wait = ?back.wait, why = %back.why, "gave deliveries back for later");
            queue.leases.done(back.tokens);
            Ok(())
        });
        given
            .await
            .map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))?
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
    pub(crate) fn accept(&self, batch: Vec<Claim>) -> usize {
        let claimed = deliveries(&batch);
        self.leases.hold(batch.iter().map(|c| c.lead.lease_token));
        // an empty claim drained nothing: the next wake-up must claim again
        let short = claimed > 0 && claimed < self.config.batch_size as usize;
        self.drained.store(short, Ordering::Relaxed);
        let buffered = batch.into_iter().map(|claim| Buffered {
            destination: self
                .destinations
                .of(claim.lead.channel, claim.lead.webhook_url.as_deref()),
            claim,
        });
        self.buffer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(buffered);
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
            .map(|b| b.claim.lead.lease_token)
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
pub(crate) fn deliveries(batch: &[Claim]) -> usize {
    batch.iter().map(Claim::deliveries).sum()
}
