//! What an administrator allows a producing service: the sources its login role may name on
//! a message (`msgpool.producer`). Without one, its messages' source is the role's name.

use serde::Serialize;

use crate::{Db, Error, Result};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Producer {
    pub login_role: String,
    pub sources: Vec<String>,
}

/// Allows `login_role` these sources (replacing what it was allowed).
pub async fn allow(pool: &Db, login_role: &str, sources: &[String]) -> Result<Producer> {
    sqlx::query_as(
        "INSERT INTO msgpool.producer (login_role, sources) VALUES ($1, $2)
         ON CONFLICT (login_role) DO UPDATE SET sources = excluded.sources
         RETURNING login_role, sources",
    )
    .bind(login_role)
    .bind(sources)
    .fetch_one(pool)
    .await
    .map_err(Error::from_database(format!(
        "allowing {login_role} its sources"
    )))
}

pub async fn list(pool: &Db) -> Result<Vec<Producer>> {
    sqlx::query_as("SELECT login_role, sources FROM msgpool.producer ORDER BY login_role")
        .fetch_all(pool)
        .await
        .map_err(Error::from_database("listing producers"))
}

/// Takes back what `login_role` was allowed: its messages' source is its name again.
pub async fn remove(pool: &Db, login_role: &str) -> Result<()> {
    let removed = sqlx::query("DELETE FROM msgpool.producer WHERE login_role = $1")
        .bind(login_role)
        .execute(pool)
        .await
        .map_err(Error::from_database(format!(
            "removing producer {login_role}"
        )))?;
    if removed.rows_affected() == 0 {
        return Err(Error::not_found(
            format!("no sources allowed for {login_role}"),
            Some("list them with: msgpool producer list".to_owned()),
        ));
    }
    Ok(())
}
