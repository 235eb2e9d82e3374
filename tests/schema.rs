//! The SQL contract as built. `sql/schema.dump.sql` is the schema as `pg_dump --schema-only`
//! prints it, normalized, and committed (Graphile Worker's way): the migrations must build
//! exactly that, and so must the object files of `sql/schema/`, so a change to either that
//! the other lacks, or that nobody looked at in the dump's diff, fails here, naming the
//! objects. After a deliberate change, `MSGPOOL_BLESS=1 cargo test --test schema` rewrites
//! the dump for review. Forward migrations apply to a database at the baseline, and a
//! database whose migrations are not this build's is refused with advice.

mod support;

use std::collections::BTreeMap;

use msgpool::migrations;
use support::TestDb;

/// A database built by running the object files of sql/schema/ in order, as a DBA would.
async fn from_object_files() -> TestDb {
    let db = TestDb::empty().await;
    for (name, sql) in migrations::schema_files() {
        sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
            .execute(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("sql/schema/{name}.sql: {e}"));
    }
    db
}

/// A database built by the migrations, up to `last` (`None`: all).
async fn from_migrations(last: Option<i32>) -> (TestDb, Vec<String>) {
    let db = TestDb::empty().await;
    let mut conn = db.pool.pool().acquire().await.expect("connection");
    let applied = migrations::run_to(&mut conn, last)
        .await
        .expect("migrations apply");
    drop(conn);
    (db, applied)
}

/// The msgpool schema as pg_dump prints it, by object ("message; Type: TABLE"), without
/// pg_dump's comments and the migrations' own history table. Grants are sorted: their
/// order in an ACL says only in which order they were given.
fn dump(db: &TestDb) -> BTreeMap<String, Vec<String>> {
    let pg_dump = msgpool::embedded::server_binaries()
        .expect("PostgreSQL binaries")
        .join("pg_dump");
    let out = std::process::Command::new(pg_dump)
        .args([
            "--schema-only",
            "--schema=msgpool",
            "--exclude-table=msgpool.schema_history",
        ])
        .arg(format!("--dbname={}", db.url))
        .output()
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut objects: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = "(preamble)".to_owned();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(name) = line.strip_prefix("-- Name: ") {
            current = name.split("; Owner:").next().unwrap_or(name).to_owned();
            continue;
        }
        if line.is_empty() || line.starts_with("--") || line.starts_with("\\") {
            continue;
        }
        objects
            .entry(current.clone())
            .or_default()
            .push(line.to_owned());
    }
    for (name, lines) in objects.iter_mut() {
        if name.contains("Type: ACL") || name.contains("Type: DEFAULT ACL") {
            lines.sort();
        }
    }
    objects
}

/// The dump as it is committed: each object under a `-- name` line, in name order.
fn text(objects: &BTreeMap<String, Vec<String>>) -> String {
    let mut out = String::from(
        "-- msgpool's schema as pg_dump --schema-only prints it, normalized by tests/schema.rs.\n\
         -- Do not edit: MSGPOOL_BLESS=1 cargo test --test schema rewrites it.\n",
    );
    for (name, lines) in objects {
        out.push_str(&format!("\n-- {name}\n"));
        for line in lines {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The committed dump, read back into objects.
fn committed() -> BTreeMap<String, Vec<String>> {
    let mut objects: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = None;
    for line in std::fs::read_to_string(DUMP).unwrap_or_default().lines() {
        if let Some(name) = line
            .strip_prefix("-- ")
            .filter(|_| !line.contains("pg_dump") && !line.starts_with("-- Do not"))
        {
            current = Some(name.to_owned());
            objects.entry(name.to_owned()).or_default();
        } else if let Some(name) = &current
            && !line.is_empty()
        {
            objects
                .entry(name.clone())
                .or_default()
                .push(line.to_owned());
        }
    }
    objects
}

const DUMP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/schema.dump.sql");

/// Panics naming every object where `built` differs from the committed dump, with the first
/// differing line.
fn assert_as_committed(built: &TestDb, what: &str) {
    let (built, committed) = (dump(built), committed());
    let mut differences = Vec::new();
    for name in built.keys().chain(committed.keys()) {
        let (b, c) = (built.get(name), committed.get(name));
        if b == c || differences.iter().any(|(n, _)| n == name) {
            continue;
        }
        let detail = match (b, c) {
            (None, _) => format!("only in sql/schema.dump.sql, not built by {what}"),
            (_, None) => format!("built by {what}, not in sql/schema.dump.sql"),
            (Some(b), Some(c)) => {
                let at = b
                    .iter()
                    .zip(c)
                    .position(|(x, y)| x != y)
                    .unwrap_or(b.len().min(c.len()));
                format!(
                    "{what}: {:?}\n      sql/schema.dump.sql: {:?}",
                    b.get(at).map_or("(end)", String::as_str),
                    c.get(at).map_or("(end)", String::as_str)
                )
            }
        };
        differences.push((name.clone(), detail));
    }
    assert!(
        differences.is_empty(),
        "{what} and sql/schema.dump.sql differ in {} object(s):\n{}\n\
         If the change is meant, review and commit the new dump: MSGPOOL_BLESS=1 cargo test --test schema",
        differences.len(),
        differences
            .iter()
            .map(|(name, detail)| format!("  {name}\n      {detail}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[tokio::test]
async fn the_migrations_and_the_object_files_build_exactly_the_committed_dump() {
    let (migrated, _) = from_migrations(None).await;
    if std::env::var_os("MSGPOOL_BLESS").is_some() {
        std::fs::write(DUMP, text(&dump(&migrated))).expect("write sql/schema.dump.sql");
    }
    assert_as_committed(&migrated, "the migrations");
    assert_as_committed(
        &from_object_files().await,
        "the object files of sql/schema/",
    );
}

#[tokio::test]
async fn forward_migrations_apply_to_a_database_at_the_baseline() {
    let (db, at_baseline) = from_migrations(Some(migrations::BASELINE)).await;
    assert_eq!(
        at_baseline,
        [format!("V{}__baseline", migrations::BASELINE)]
    );
    let mut conn = db.pool.pool().acquire().await.expect("connection");
    let forward = migrations::run(&mut conn)
        .await
        .expect("forward migrations apply to the baseline");
    drop(conn);
    let on_disk = support::forward_migrations_on_disk();
    assert_eq!(
        forward.len(),
        on_disk,
        "every forward migration applied: {forward:?}"
    );
    let (migrated, _) = from_migrations(None).await;
    assert!(
        dump(&db) == dump(&migrated),
        "the baseline upgraded by the forward migrations differs from a database migrated at once"
    );
}

#[tokio::test]
async fn a_database_whose_migrations_are_not_this_builds_is_refused_with_advice() {
    let (db, _) = from_migrations(None).await;
    sqlx::query("UPDATE msgpool.schema_history SET checksum = '1' WHERE version = 1")
        .execute(&db.pool)
        .await
        .expect("alter the history");
    let mut conn = db.pool.pool().acquire().await.expect("connection");
    let refused = migrations::run(&mut conn)
        .await
        .expect_err("another build's baseline");
    assert!(
        refused
            .to_string()
            .contains("made by another build of msgpool"),
        "{refused}"
    );
    assert!(
        refused
            .hint()
            .is_some_and(|h| h.contains("recreate the database")),
        "{:?}",
        refused.hint()
    );
}
