//! Where msgpool's database is: a URL given by the user, or the embedded default.

use std::path::PathBuf;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use crate::embedded::Cluster;
use crate::{Error, Result, migrations};

/// The embedded cluster's folder when `MSGPOOL_HOME` is not set.
pub const DEFAULT_HOME: &str = ".msgpool";

/// msgpool's folder: `MSGPOOL_HOME`, or `./.msgpool`.
pub fn home() -> PathBuf {
    std::env::var_os("MSGPOOL_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_HOME))
}

#[derive(Debug, Clone)]
pub enum Database {
    /// An existing server; msgpool migrates it only when asked (`msgpool db migrate`).
    Url(String),
    /// msgpool's own cluster, started and migrated on demand.
    Embedded(PathBuf),
}

impl Database {
    /// `url` (from `--database-url` or `DATABASE_URL`) if given, else the embedded cluster in
    /// `MSGPOOL_HOME` or `./.msgpool`.
    pub fn from_env(url: Option<String>) -> Database {
        match url.filter(|u| !u.trim().is_empty()) {
            Some(url) => Database::Url(url),
            None => Database::Embedded(home()),
        }
    }

    /// The URL to connect to; for the embedded cluster this starts it (creating it the
    /// first time).
    pub async fn url(&self) -> Result<String> {
        match self {
            Database::Url(url) => Ok(url.clone()),
            Database::Embedded(home) => Cluster::new(home)?.ensure_running().await,
        }
    }

    /// Brings the schema up to date; returns the migrations it applied.
    pub async fn migrate(&self) -> Result<Vec<String>> {
        let url = self.url().await?;
        let mut conn = connect_options(&url)?
            .connect()
            .await
            .map_err(Error::from_database("connecting to the database"))?;
        migrations::run(&mut conn).await
    }

    /// A connection pool of at most `max_connections`; the embedded database's schema is
    /// brought up to date first (a given server is migrated only when asked).
    pub async fn pool(&self, max_connections: u32) -> Result<PgPool> {
        if let Database::Embedded(_) = self {
            self.migrate().await?;
        }
        let url = self.url().await?;
        PgPoolOptions::new()
            .max_connections(max_connections)
            // No ping before each use: a round trip on every query, and a broken connection
            // shows up as an error that callers already retry.
            .test_before_acquire(false)
            .connect_with(connect_options(&url)?)
            .await
            .map_err(Error::from_database("connecting to the database"))
    }
}

fn connect_options(url: &str) -> Result<PgConnectOptions> {
    let options: PgConnectOptions = url.parse().map_err(|e| {
        Error::invalid(
            format!("invalid database URL: {e}"),
            "expected postgres://user:password@host:port/database",
        )
    })?;
    Ok(options.application_name("msgpool"))
}
