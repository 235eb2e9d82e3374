//! Builds msgpool's schema with refinery, over the same sqlx connection the rest of msgpool
//! uses. The migrations are the baseline, `V1__baseline`, made of the object files of
//! `sql/schema/` in order, then the forward migrations of `sql/migrations/` (`V2__…` on).
//! Until the first release the baseline follows the object files and there are no forward
//! migrations; the README's "Changing the schema" says what changes at the release.

use refinery_core::traits::r#async::{AsyncMigrate, AsyncQuery, AsyncTransaction};
use refinery_core::{Migration, Runner, Target};
use sqlx::{Connection, PgConnection};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{Error, Result};

mod sql {
    include!(concat!(env!("OUT_DIR"), "/sql.rs"));
}

/// The history table lives in msgpool's own schema, beside what it describes.
const HISTORY_TABLE: &str = "msgpool.schema_history";
/// Serialises concurrent `migrate` calls on one database (e.g. two CLI calls at once).
const LOCK_KEY: i64 = 0x006d_7367_706f_6f6c; // "msgpool"
/// The baseline's version; forward migrations count on from it.
pub const BASELINE: i32 = 1;

/// The object files of `sql/schema/`, in the order they build in: (name, SQL).
pub fn schema_files() -> &'static [(&'static str, &'static str)] {
    sql::SCHEMA
}

/// Every migration of this build: the baseline, then the forward migrations.
fn migrations() -> Result<Vec<Migration>> {
    let baseline: String = sql::SCHEMA
        .iter()
        .map(|(_, sql)| *sql)
        .collect::<Vec<_>>()
        .join("\n");
    let mut all = vec![migration(&format!("V{BASELINE}__baseline"), &baseline)?];
    for (name, sql) in sql::MIGRATIONS {
        let forward = migration(name, sql)?;
        if forward.version() <= BASELINE {
            return Err(Error::setup(
                format!(
                    "sql/migrations/{name}.sql is numbered at or below the baseline (V{BASELINE})"
                ),
                "number forward migrations from V2 on",
            ));
        }
        all.push(forward);
    }
    Ok(all)
}

fn migration(name: &str, sql: &str) -> Result<Migration> {
    Migration::unapplied(name, sql).map_err(|e| {
        Error::setup(
            format!("migration {name}: {e}"),
            "name forward migrations V<n>__<what_they_do>.sql",
        )
    })
}

/// Brings the database's msgpool schema up to date; a no-op when it is. Returns the names
/// of the migrations it applied.
pub async fn run(conn: &mut PgConnection) -> Result<Vec<String>> {
    run_to(conn, None).await
}

/// [`run`], stopping after migration `last` (`None`: all of them). A database left at the
/// baseline is how the tests check that forward migrations apply to one.
pub async fn run_to(conn: &mut PgConnection, last: Option<i32>) -> Result<Vec<String>> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await
        .map_err(Error::from_database("waiting for the migration lock"))?;
    let applied = apply(conn, last).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await
        .map_err(Error::from_database("releasing the migration lock"));
    let applied = applied?;
    unlocked?;
    Ok(applied)
}

/// A fingerprint of the migrations of this build (versions, names and checksums): equal
/// fingerprints mean the same schema.
pub fn fingerprint() -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    for migration in migrations().unwrap_or_default() {
        (migration.version(), migration.name(), migration.checksum()).hash(&mut hasher);
    }
    hasher.finish()
}

async fn apply(conn: &mut PgConnection, last: Option<i32>) -> Result<Vec<String>> {
    sqlx::raw_sql("CREATE SCHEMA IF NOT EXISTS msgpool")
        .execute(&mut *conn)
        .await
        .map_err(Error::from_database("creating the msgpool schema"))?;
    let mut runner =
        Runner::new(&migrations()?).set_target(last.map_or(Target::Latest, Target::Version));
    runner.set_migration_table_name(HISTORY_TABLE);
    let report = runner
        .run_async(&mut Refinery(conn))
        .await
        .map_err(refused)?;
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

/// What a failed run means to the person who started it.
fn refused(e: refinery_core::Error) -> Error {
    use refinery_core::error::Kind;
    match e.kind() {
        // Before the first release the baseline is rebuilt from sql/schema/ by every build,
        // and databases made by another build (or by the migrations before the squash) have
        // a baseline of their own.
        Kind::DivergentVersion(applied, _) | Kind::MissingVersion(applied) => Error::setup(
            format!(
                "this database's msgpool schema was made by another build of msgpool \
                 (its migration {applied} is not this build's)"
            ),
            "msgpool 0.1.0 is unreleased and its schema is rebuilt until then: recreate the \
             database (the embedded one: msgpool db stop, then remove MSGPOOL_HOME)",
        ),
        _ => Error::setup(
            format!("applying migrations: {e}"),
            "the database may need a DBA: see the error above",
        ),
    }
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
