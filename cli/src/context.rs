//! What every command gets: where the database is and how to print.

use msgpool::Database;
use msgpool::Db;

/// What every command gets: where the database is and how to print.
pub struct Context {
    pub database: Database,
    pub json: bool,
}

impl Context {
    pub async fn pool(&self) -> msgpool::Result<Db> {
        self.database.pool(4).await
    }
}
