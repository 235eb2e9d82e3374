//! Retention: old finished history goes in batches (`msgpool.prune`), each batch its own
//! short transaction, so pruning a large backlog never holds locks for long.

use crate::{Db, Error, Result};

/// Rows per `msgpool.prune()` call.
const BATCH: i32 = 5000;

/// Prunes finished messages created more than `older_than` ago (a PostgreSQL interval such as
/// `30 days`) with their deliveries and attempts. Returns how many messages went.
pub async fn prune(pool: &Db, older_than: &str) -> Result<i64> {
    let mut total = 0i64;
    loop {
        let pruned: i32 = sqlx::query_scalar("SELECT msgpool.prune($1::interval, $2)")
            .bind(older_than)
            .bind(BATCH)
            .fetch_one(pool)
            .await
            .map_err(Error::from_database("pruning old history"))?;
        total += i64::from(pruned);
        if pruned < BATCH {
            return Ok(total);
        }
    }
}
