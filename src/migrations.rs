//! Applies the migrations in `sql/` (embedded in the binary) with refinery, over the same
//! sqlx connection the rest of msgpool uses.

use refinery_core::Migration;
use refinery_core::traits::r#async::{AsyncMigrate, AsyncQuery, AsyncTransaction};
use sqlx::{Connection, PgConnection};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{Error, Result};

mod embedded {
    refinery::embed_migrations!("sql");
}

/// The history table lives in msgpool's own schema, beside what it describes.
const HISTORY_TABLE: &str = "msgpool.schema_history";
/// Serialises concurrent `migrate` calls on one database (e.g. two CLI calls at once).
const LOCK_KEY: i64 = 0x006d_7367_706f_6f6c; // "msgpool"

/// Brings the database's msgpool schema up to date; a no-op when it is. Returns the names
/// of the migrations it applied.
pub async fn run(conn: &mut PgConnection) -> Result<Vec<String>> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await
        .map_err(Error::from_database("waiting for the migration lock"))?;
    let applied = apply(conn).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await
        .map_err(Error::from_database("releasing the migration lock"));
    let applied = applied?;
    unlocked?;
    Ok(applied)
}

/// A fingerprint of the migrations embedded in this build (versions, names and checksums):
/// equal fingerprints mean the same schema.
pub fn fingerprint() -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    for migration in embedded::migrations::runner().get_migrations() {
        (migration.version(), migration.name(), migration.checksum()).hash(&mut hasher);
    }
    hasher.finish()
}

async fn apply(conn: &mut PgConnection) -> Result<Vec<String>> {
    sqlx::raw_sql("CREATE SCHEMA IF NOT EXISTS msgpool")
        .execute(&mut *conn)
        .await
        .map_err(Error::from_database("creating the msgpool schema"))?;
    let report = embedded::migrations::runner()
        .set_migration_table_name(HISTORY_TABLE)
        .run_async(&mut Refinery(conn))
        .await
        .map_err(|e| {
            Error::setup(
                format!("applying migrations: {e}"),
                "the database may need a DBA: see the error above",
            )
        })?;
    let applied: Vec<String> = report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect();
    for migration in &applied {
        tracing::info!(%migration, "applied migration");
    }
    Ok(applied)
}

/// refinery's async driver traits over a sqlx connection.
struct Refinery<'c>(&'c mut PgConnection);

impl AsyncTransaction for Refinery<'_> {
    type Error = sqlx::Error;

    async fn execute<'a, T: Iterator<Item = &'a str> + Send + 'a>(
        &'a mut self,
        queries: T,
    ) -> Result<usize, sqlx::Error> {
        let mut tx = self.0.begin().await?;
        let mut count = 0;
        for query in queries {
            sqlx::raw_sql(sqlx::AssertSqlSafe(query))
                .execute(&mut *tx)
                .await?;
            count += 1;
        }
        tx.commit().await?;
        Ok(count)
    }
}

impl AsyncQuery<Vec<Migration>> for Refinery<'_> {
    async fn query<'a>(&'a mut self, query: &'a str) -> Result<Vec<Migration>, sqlx::Error> {
        let rows: Vec<(i32, String, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(query))
            .fetch_all(&mut *self.0)
            .await?;
        rows.into_iter()
            .map(|(version, name, applied_on, checksum)| {
                let applied_on = OffsetDateTime::parse(&applied_on, &Rfc3339)
                    .map_err(|e| sqlx::Error::Decode(e.into()))?;
                let checksum = checksum
                    .parse::<u64>()
                    .map_err(|e| sqlx::Error::Decode(e.into()))?;
                Ok(Migration::applied(version, name, applied_on, checksum))
            })
            .collect()
    }
}

impl AsyncMigrate for Refinery<'_> {}
