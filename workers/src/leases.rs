//! The leases this worker holds: heartbeats keep them alive while their deliveries wait in
//! the buffer or are being sent, so a slow send is not taken over by another worker.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use msgpool::Db;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::WorkerConfig;

#[derive(Debug, Default)]
pub struct Leases {
    held: Mutex<HashSet<Uuid>>,
}

impl Leases {
    pub fn hold(&self, tokens: impl IntoIterator<Item = Uuid>) {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(tokens);
    }

    /// The outcome is written (or the claim given back): nothing left to keep alive.
    pub fn done(&self, tokens: impl IntoIterator<Item = Uuid>) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        for token in tokens {
            held.remove(&token);
        }
    }

    pub fn held(&self) -> Vec<Uuid> {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .collect()
    }

    /// Extends every held lease each third of the lease length, until `stop`.
    pub async fn keep_alive(
        self: Arc<Self>,
        pool: Db,
        config: Arc<WorkerConfig>,
        stop: CancellationToken,
    ) {
        let every = config.lease / 3;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.cancelled() => return,
            }
            let tokens = self.held();
            if tokens.is_empty() {
                continue;
            }
            let extended =
                sqlx::query_scalar::<_, i32>("SELECT msgpool.extend_leases($1, $2::interval)")
                    .bind(&tokens)
                    .bind(config.lease_interval())
                    .fetch_one(&pool)
                    .await;
            match extended {
                Ok(n) => {
                    // Leases whose outcome was written meanwhile are no longer held; only the
                    // rest can have expired.
                    let still_held = {
                        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
                        tokens.iter().filter(|t| held.contains(t)).count()
                    };
                    if (n as usize) < still_held {
                        tracing::warn!(
                            held = still_held,
                            extended = n,
                            "some leases had expired; their deliveries may be sent again"
                        );
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not extend leases; retrying"),
            }
        }
    }
}
