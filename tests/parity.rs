//! The seams between Rust and SQL, checked: each contract row, enum, constraint and SQLSTATE
//! has one definition on each side, and they agree. A renamed field or column, a new enum
//! value, a constraint without words for it or an undocumented SQLSTATE fails here, naming
//! the mismatch. (The routes cannot drift: `msgpool_web::ROUTES` is the table the router is
//! built from, and tests/web.rs walks it.)

mod support;

use std::collections::{BTreeMap, BTreeSet};

use msgpool::contract::RecordInfo;
use sqlx::PgConnection;
use support::TestDb;

/// A connection that reads the catalogue with types named as Rust names them: schema and
/// all (the embedded superuser's own search path includes a schema named like it).
async fn catalogue(db: &TestDb) -> sqlx::pool::PoolConnection<sqlx::Postgres> {
    let mut conn = db.pool.pool().acquire().await.expect("connection");
    sqlx::query("SET search_path = pg_catalog")
        .execute(&mut *conn)
        .await
        .expect("search path");
    conn
}

/// Every row type of the contract, from every crate that maps one.
fn records() -> Vec<RecordInfo> {
    let mut all = msgpool::records();
    all.extend(msgpool_workers::records());
    all
}

/// Row types of SQL alone: made and read inside the schema's own functions, never by a
/// program, so they have no Rust twin.
const SQL_ONLY_ROWS: &[&str] = &["msgpool.schedule"];

/// A relation's (a composite type's, a view's, a table's) columns with their SQL types.
async fn columns(conn: &mut PgConnection, relation: &str) -> Option<BTreeMap<String, String>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod)
           FROM pg_attribute a
          WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
    )
    .bind(relation)
    .fetch_all(conn)
    .await
    .expect("columns");
    (!rows.is_empty()).then(|| rows.into_iter().collect())
}

/// What differs between a record's SQL and Rust sides, in words; empty when they agree.
fn differences(
    record: &RecordInfo,
    sql: &BTreeMap<String, String>,
    rust: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut found = Vec::new();
    for (name, sql_type) in sql {
        match rust.get(name) {
            None => found.push(format!(
                "{}.{name} ({sql_type}) has no field in {}",
                record.sql_type, record.rust_type
            )),
            Some(rust_type) if rust_type != sql_type => found.push(format!(
                "{}.{name} is {sql_type} in SQL but {rust_type} in {}",
                record.sql_type, record.rust_type
            )),
            Some(_) => {}
        }
    }
    for (name, rust_type) in rust {
        if !sql.contains_key(name) {
            found.push(format!(
                "{}::{name} ({rust_type}) is no attribute of {}",
                record.rust_type, record.sql_type
            ));
        }
    }
    found
}

#[tokio::test]
async fn every_contract_row_has_the_same_fields_and_types_in_rust_and_sql() {
    let db = TestDb::new().await;
    let mut conn = catalogue(&db).await;
    let mut mismatches = Vec::new();
    for record in records() {
        let rust: BTreeMap<String, String> = record
            .fields
            .iter()
            .map(|(name, ty)| (name.to_string(), ty.to_string()))
            .collect();
        match columns(&mut conn, record.sql_type).await {
            None => mismatches.push(format!(
                "{} maps {}, which the schema does not have",
                record.rust_type, record.sql_type
            )),
            Some(sql) => mismatches.extend(differences(&record, &sql, &rust)),
        }
    }
    // and every row type the schema declares for crossing has its Rust twin
    let composites: Vec<String> = sqlx::query_scalar(
        "SELECT format_type(t.oid, NULL) FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid
          WHERE t.typnamespace = 'msgpool'::regnamespace AND c.relkind = 'c' ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("composite types");
    let mapped: BTreeSet<&str> = records().iter().map(|r| r.sql_type).collect();
    for internal in SQL_ONLY_ROWS {
        if !composites.iter().any(|c| c == internal) {
            mismatches.push(format!(
                "SQL_ONLY_ROWS names {internal}, which the schema lacks"
            ));
        }
    }
    for composite in composites {
        if !mapped.contains(composite.as_str()) && !SQL_ONLY_ROWS.contains(&composite.as_str()) {
            mismatches.push(format!(
                "{composite} has no Rust record (declare one with msgpool::sql_record!)"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "Rust and SQL disagree:\n  {}",
        mismatches.join("\n  ")
    );
}

#[tokio::test]
async fn every_sql_enum_has_a_rust_twin_with_the_same_values_in_order() {
    let db = TestDb::new().await;
    let sql: BTreeMap<String, Vec<String>> = sqlx::query_as::<_, (String, Vec<String>)>(
        "SELECT format_type(t.oid, NULL), array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
           FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
          WHERE t.typnamespace = 'msgpool'::regnamespace
          GROUP BY t.oid",
    )
    .fetch_all(&mut *catalogue(&db).await)
    .await
    .expect("enums")
    .into_iter()
    .collect();
    let rust: BTreeMap<String, Vec<String>> = msgpool::domain::SQL_ENUMS
        .iter()
        .map(|(ty, names)| {
            (
                ty.to_string(),
                names.iter().map(|n| n.to_string()).collect(),
            )
        })
        .collect();
    let mut mismatches = Vec::new();
    for (ty, values) in &sql {
        match rust.get(ty) {
            None => mismatches.push(format!("{ty} has no Rust enum in domain::SQL_ENUMS")),
            Some(names) if names != values => {
                mismatches.push(format!("{ty} is {values:?} in SQL but {names:?} in Rust"))
            }
            Some(_) => {}
        }
    }
    for ty in rust.keys() {
        if !sql.contains_key(ty) {
            mismatches.push(format!(
                "domain::SQL_ENUMS names {ty}, which the schema lacks"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "enums disagree:\n  {}",
        mismatches.join("\n  ")
    );
}

#[tokio::test]
async fn every_constraint_is_worded_as_a_refusal_or_listed_as_an_invariant() {
    let db = TestDb::new().await;
    let constraints: BTreeSet<String> = sqlx::query_scalar(
        "SELECT conname::text FROM pg_constraint WHERE connamespace = 'msgpool'::regnamespace",
    )
    .fetch_all(&db.pool)
    .await
    .expect("constraints")
    .into_iter()
    .collect();
    let worded: BTreeSet<&str> = msgpool::REFUSALS.iter().map(|r| r.constraint).collect();
    let invariants: BTreeSet<&str> = msgpool::INVARIANTS.iter().copied().collect();
    let mut mismatches = Vec::new();
    for name in &constraints {
        match (worded.contains(name.as_str()), invariants.contains(name.as_str())) {
            (false, false) => mismatches.push(format!(
                "constraint {name} is neither in REFUSALS (src/error.rs: what to tell a person) nor in INVARIANTS"
            )),
            (true, true) => mismatches.push(format!("constraint {name} is in both REFUSALS and INVARIANTS")),
            _ => {}
        }
    }
    for name in worded.iter().chain(&invariants) {
        if !constraints.contains(*name) {
            mismatches.push(format!(
                "src/error.rs names constraint {name}, which the schema lacks"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "constraints and their catalogue disagree:\n  {}",
        mismatches.join("\n  ")
    );
}

/// `MP…` codes as they appear in `text` after `prefix`.
fn codes_after(text: &str, prefix: &str) -> BTreeSet<String> {
    text.match_indices(prefix)
        .filter_map(|(at, _)| text.get(at + prefix.len()..at + prefix.len() + 5))
        .filter(|code| code.starts_with("MP") && code[2..].chars().all(|c| c.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_sqlstate_the_schema_raises_is_in_the_one_documented_table_and_no_other() {
    let raised: BTreeSet<String> = msgpool::migrations::schema_files()
        .iter()
        .flat_map(|(_, sql)| codes_after(sql, "ERRCODE = '"))
        .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &str| {
        std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let documented = codes_after(&read("docs/schema.md"), "| `");
    let missing: Vec<_> = raised.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&raised).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "docs/schema.md's SQLSTATE table lacks {missing:?} and lists {stale:?}, which nothing raises"
    );
    for doc in ["README.md", "docs/operations.md", "docs/ARCHITECTURE.md"] {
        let repeated = codes_after(&read(doc), "| `");
        assert!(
            repeated.is_empty(),
            "{doc} repeats SQLSTATE rows {repeated:?}: link to docs/schema.md instead"
        );
    }
}

#[tokio::test]
async fn every_table_view_row_type_and_function_says_what_it_is_in_the_catalogue() {
    // what `\d+` and `\df+` show a DBA: COMMENT ON; trigger functions belong to their table
    let db = TestDb::new().await;
    let silent: Vec<String> = sqlx::query_scalar(
        "SELECT kind || ' msgpool.' || name FROM (
           SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' ELSE 'type' END AS kind,
                  c.relname::text AS name,
                  coalesce(obj_description(c.oid, 'pg_class'), obj_description(c.reltype, 'pg_type')) AS comment
             FROM pg_class c
            WHERE c.relnamespace = 'msgpool'::regnamespace AND c.relkind IN ('r', 'v', 'c')
              AND c.relname <> 'schema_history'
           UNION ALL
           SELECT 'function', p.proname::text, obj_description(p.oid, 'pg_proc')
             FROM pg_proc p
            WHERE p.pronamespace = 'msgpool'::regnamespace AND p.prorettype <> 'trigger'::regtype
         ) o
         WHERE comment IS NULL ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("comments");
    assert!(
        silent.is_empty(),
        "without COMMENT ON:\n  {}",
        silent.join("\n  ")
    );
}
