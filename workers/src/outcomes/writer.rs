//! Writing outcomes in batches: deliveries finish one by one, outcomes go to the database a
//! few hundred at a time, each only under its lease token. A failed write is retried (the
//! leases are kept alive meanwhile), so a database outage delays outcomes, never loses them.
//! A batch the database refuses is written one outcome at a time, so only the offending one
//! is parked: a sent delivery is recorded as sent, whatever its provider's reply held.

use std::sync::Arc;
use std::time::Duration;

use msgpool::Db;
use tokio::sync::mpsc;

use super::Finished;
use super::record::write;
use crate::leases::Leases;

const MAX_BATCH: usize = 500;

/// Where the deliverers hand in outcomes.
#[derive(Clone)]
pub struct OutcomeWriter {
    tx: mpsc::Sender<Finished>,
}

impl OutcomeWriter {
    pub async fn send(&self, finished: Finished) -> Result<(), String> {
        self.tx
            .send(finished)
            .await
            .map_err(|_| "the outcome writer has stopped".to_owned())
    }
}

/// Starts the writer; it ends once every [`OutcomeWriter`] is dropped and all is written.
pub fn spawn(
    pool: Db,
    leases: Arc<Leases>,
    worker: String,
) -> (OutcomeWriter, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Finished>(MAX_BATCH * 4);
    let task = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            write_until_done(&pool, &batch, &worker).await;
            leases.done(batch.drain(..).map(|f| f.lease_token));
        }
    });
    (OutcomeWriter { tx }, task)
}

async fn write_until_done(pool: &Db, batch: &[Finished], worker: &str) {
    if let Err(refused) = write_retrying(pool, batch, worker).await {
        tracing::warn!(error = %refused, outcomes = batch.len(), "the database refused a batch of outcomes; writing them one by one");
        for finished in batch {
            let Err(refused) = write_retrying(pool, std::slice::from_ref(finished), worker).await
            else {
                continue;
            };
            let parked = finished.parked(&refused);
            if let Err(e) = write_retrying(pool, std::slice::from_ref(&parked), worker).await {
                // its lease expires, and the delivery is attempted again
                tracing::error!(delivery = finished.id, error = %e, "could not record an outcome at all");
            }
        }
    }
}

/// Writes `batch`, retrying with backoff while the database is out of reach; returns the
/// error when the database refused it, which no retry can change.
async fn write_retrying(pool: &Db, batch: &[Finished], worker: &str) -> Result<(), sqlx::Error> {
    let mut failures = 0u32;
    loop {
        let written = async {
            let mut session = pool.session().await?;
            write(&mut session, batch, worker).await?;
            session.finish().await
        };
        let e = match written.await {
            Ok(()) => return Ok(()),
            Err(e) if refused(&e) => return Err(e),
            Err(e) => e,
        };
        failures += 1;
        let wait = Duration::from_millis(100 * 2u64.pow(failures.min(6)));
        tracing::warn!(error = %e, outcomes = batch.len(), retry_in = ?wait, "could not write outcomes");
        tokio::time::sleep(wait).await;
    }
}

/// The database answered and said no (bad data, a constraint): the same write would fail
/// again. Lost connections, shutdowns, deadlocks and resource limits pass.
fn refused(e: &sqlx::Error) -> bool {
    let Some(code) = e.as_database_error().and_then(|d| d.code()) else {
        return false;
    };
    !["08", "40", "53", "55", "57", "58"]
        .iter()
        .any(|class| code.starts_with(class))
}
