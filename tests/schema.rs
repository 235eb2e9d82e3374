//! The SQL contract as built: the migrations build exactly the schema the object files of
//! sql/schema/ describe, forward migrations apply to a database at the baseline, and a
//! database whose migrations are not this build's is refused with advice. Schemas are
//! compared as `pg_dump --schema-only` prints them, object by object.

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

/// Panics naming every object that differs, with its first differing lines.
fn assert_same_schema(built: &TestDb, described: &TestDb, what: &str) {
    let (built, described) = (dump(built), dump(described));
    let mut differences = Vec::new();
    for name in built.keys().chain(described.keys()) {
        let (b, d) = (built.get(name), described.get(name));
        if b == d || differences.iter().any(|(n, _)| n == name) {
            continue;
        }
        let detail = match (b, d) {
            (None, _) => "only in sql/schema/".to_owned(),
            (_, None) => format!("only in {what}"),
            (Some(b), Some(d)) => {
                let at = b
                    .iter()
                    .zip(d)
                    .position(|(x, y)| x != y)
                    .unwrap_or(b.len().min(d.len()));
                format!(
                    "{what}: {:?}\n      sql/schema/: {:?}",
                    b.get(at).map_or("(end)", String::as_str),
                    d.get(at).map_or("(end)", String::as_str)
                )
            }
        };
        differences.push((name.clone(), detail));
    }
    assert!(
        differences.is_empty(),
        "{what} and sql/schema/ differ in {} object(s):\n{}",
        differences.len(),
        differences
            .iter()
            .map(|(name, detail)| format!("  {name}\n      {detail}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[tokio::test]
async fn the_migrations_build_exactly_what_the_object_files_describe() {
    let (migrated, _) = from_migrations(None).await;
    let described = from_object_files().await;
    assert_same_schema(&migrated, &described, "the migrations");
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
    assert_same_schema(&db, &from_object_files().await, "the baseline upgraded");
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
