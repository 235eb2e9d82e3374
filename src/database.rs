//! Where msgpool's database is: a URL given by the user, or the embedded default.

use std::path::PathBuf;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection as _, PgConnection};

use crate::domain::Role;
use crate::embedded::Cluster;
use crate::{Db, Error, Result, migrations};

/// How long a server has to accept a connection: an unreachable one is reported with its
/// cause within seconds, where the pool alone retries for 30 and says only "timed out".
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// An existing server behind a transaction-mode pooler (PgBouncer `pool_mode =
    /// transaction`), which lends a server connection for one transaction at a time: see
    /// [`Db`] for what msgpool does about it.
    Pooled(String),
    /// msgpool's own cluster, started and migrated on demand.
    Embedded(PathBuf),
}

impl Database {
    /// `url` (from `--database-url` or `DATABASE_URL`) if given — behind a transaction-mode
    /// pooler when `pooled` — else the embedded cluster in `MSGPOOL_HOME` or `./.msgpool`.
    pub fn from_env(url: Option<String>, pooled: bool) -> Result<Database> {
        match (url.filter(|u| !u.trim().is_empty()), pooled) {
            (Some(url), false) => Ok(Database::Url(url)),
            (Some(url), true) => Ok(Database::Pooled(url)),
            (None, false) => Ok(Database::Embedded(home())),
            (None, true) => Err(Error::invalid(
                "--pooler needs the pooler's URL",
                "give --database-url (or DATABASE_URL) pointing at the pooler",
            )),
        }
    }

    /// The URL to connect to; for the embedded cluster this starts it (creating it the
    /// first time).
    pub async fn url(&self) -> Result<String> {
        match self {
            Database::Url(url) | Database::Pooled(url) => Ok(url.clone()),
            Database::Embedded(home) => Cluster::new(home)?.ensure_running().await,
        }
    }

    /// Whether connections pass a transaction-mode pooler.
    pub fn is_pooled(&self) -> bool {
        matches!(self, Database::Pooled(_))
    }

    /// Brings the schema up to date; returns the migrations it applied.
    pub async fn migrate(&self) -> Result<Vec<String>> {
        if self.is_pooled() {
            // the migration lock is a session's advisory lock, which a pooler cannot keep
            return Err(Error::invalid(
                "migrations cannot run through a transaction-mode pooler",
                "give msgpool db migrate the server's own URL, without --pooler",
            ));
        }
        let url = self.url().await?;
        let mut conn = connect(&connect_options(&url, false)?).await?;
        migrations::run(&mut conn).await
    }

    /// A URL for a login role with only `role`'s rights, for handing to a producer or a
    /// worker. The role (`msgpool_producer_login`, ...) is made on first use, with a password
    /// generated then and kept in `MSGPOOL_HOME` (mode 0600), so later calls print the same.
    /// Needs a URL whose user may create roles (the embedded cluster's does).
    pub async fn role_url(&self, role: Role) -> Result<String> {
        let url = self.url().await?;
        let options = connect_options(&url, self.is_pooled())?;
        let password = role_password(role)?;
        let context = format!("making the {role} login role");
        let mut conn = connect(&options).await?;
        // Roles are the cluster's: two processes making the same login at once (two consoles
        // starting on databases of one cluster) collide, and the later one tries again.
        for attempt in 1.. {
            // a transaction, so that a pooler keeps the statement on one server connection
            let mut tx = conn.begin().await.map_err(Error::from_database(&context))?;
            let made = sqlx::query("SELECT msgpool.make_login($1, $2, $3)")
                .bind(role.login())
                .bind(role.group())
                .bind(&password)
                .execute(&mut *tx)
                .await;
            match made {
                Ok(_) => {
                    tx.commit().await.map_err(Error::from_database(&context))?;
                    break;
                }
                Err(e) if attempt < 5 && e.to_string().contains("tuple concurrently updated") => {
                    drop(tx);
                    tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                }
                Err(e) => return Err(Error::from_database(&context)(e)),
            }
        }
        Ok(format!(
            "postgres://{}:{password}@{}:{}/{}",
            role.login(),
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("postgres")
        ))
    }

    /// For the embedded cluster, a task that trims its log every half minute
    /// (`Cluster::trim_logs`), for as long as this process runs: a worker's or a console's
    /// part. `None` for a given server, whose log is its operator's.
    pub fn trim_logs_while_running(&self) -> Option<tokio::task::JoinHandle<()>> {
        let Database::Embedded(home) = self else {
            return None;
        };
        let cluster = Cluster::new(home).ok()?;
        Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                cluster.trim_logs();
            }
        }))
    }

    /// Brings the embedded database's schema up to date (a given server is migrated only
    /// when asked).
    pub async fn migrate_if_embedded(&self) -> Result<()> {
        if let Database::Embedded(_) = self {
            self.migrate().await?;
        }
        Ok(())
    }

    /// A pool that logs in as `role`'s own login role ([`Database::role_url`]): its
    /// sessions have that role's rights and no way back to more (no `SET ROLE` on a
    /// superuser's connection, which `RESET ROLE` would undo).
    pub async fn pool_as(&self, max_connections: u32, role: Role) -> Result<Db> {
        self.migrate_if_embedded().await?;
        let options = connect_options(&self.role_url(role).await?, self.is_pooled())?;
        let pool = pool_options(max_connections)
            .connect_with(options)
            .await
            .map_err(Error::from_database(format!(
                "connecting as {}",
                role.login()
            )))?;
        Ok(match self {
            Database::Pooled(_) => Db::pooled(pool),
            _ => Db::direct(pool),
        })
    }

    /// A connection pool of at most `max_connections`, after [`Database::migrate_if_embedded`].
    pub async fn pool(&self, max_connections: u32) -> Result<Db> {
        self.migrate_if_embedded().await?;
        let options = connect_options(&self.url().await?, self.is_pooled())?;
        // A given server gets a first connection of its own, for its answer when there is
        // none to pool; the embedded one has just answered the migration's.
        if !matches!(self, Database::Embedded(_)) {
            connect(&options)
                .await?
                .close()
                .await
                .map_err(Error::from_database("closing the first connection"))?;
        }
        let pool = pool_options(max_connections).connect_lazy_with(options);
        Ok(match self {
            Database::Pooled(_) => Db::pooled(pool),
            _ => Db::direct(pool),
        })
    }
}

/// msgpool's pools: no ping before each use (a round trip on every query), since a broken
/// connection shows up as an error that callers already retry.
fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
}

/// The password of `role`'s login role, made the first time and kept in `MSGPOOL_HOME`.
fn role_password(role: Role) -> Result<String> {
    home_secret(&format!("{}.password", role.login()))
}

/// The secret kept in `MSGPOOL_HOME/{file}` (mode 0600), made the first time it is asked for
/// (or when the file is empty): a role's password, the console's sign-in token.
pub fn home_secret(file: &str) -> Result<String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = home().join(file);
    if file.exists() {
        refuse_if_others_could_write(&file)?;
    }
    if let Ok(secret) = std::fs::read_to_string(&file) {
        if !secret.trim().is_empty() {
            return Ok(secret.trim().to_owned());
        }
        // emptied by hand to get a new one
        std::fs::remove_file(&file).map_err(Error::io(format!("replacing {}", file.display())))?;
    }
    let secret = uuid::Uuid::new_v4().simple().to_string();
    std::fs::create_dir_all(home()).map_err(Error::io(format!("creating {}", home().display())))?;
    std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(&file)
        .and_then(|mut f| f.write_all(secret.as_bytes()))
        .map_err(Error::io(format!("writing {}", file.display())))?;
    Ok(secret)
}

/// A secret read from a file another user could have written is not msgpool's to trust:
/// refused unless this user owns the file and only its owner may write it.
pub fn refuse_if_others_could_write(file: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(file).map_err(Error::io(format!("reading {}", file.display())))?;
    let me = nix::unistd::Uid::effective().as_raw();
    if meta.uid() != me || meta.mode() & 0o022 != 0 {
        return Err(Error::setup(
            format!(
                "{} holds a secret, but {} could write it",
                file.display(),
                if meta.uid() != me {
                    "another user owns it and"
                } else {
                    "others"
                }
            ),
            format!(
                "make it yours and private: chown $(id -u) {0} && chmod 600 {0}",
                file.display()
            ),
        ));
    }
    Ok(())
}

/// One connection, or why there is none (refused, unknown host, no answer) naming the server.
async fn connect(options: &PgConnectOptions) -> Result<PgConnection> {
    let server = format!("{}:{}", options.get_host(), options.get_port());
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Ok(connected) => connected.map_err(Error::from_database(format!(
            "connecting to the database at {server}"
        ))),
        Err(_) => Err(Error::setup(
            format!(
                "the database at {server} did not answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            ),
            "check the host and port of DATABASE_URL, and that PostgreSQL is running and reachable there",
        )),
    }
}

/// The options for `url`; through a pooler, without the startup parameter PgBouncer refuses
/// unless told to ignore it, and without a statement cache (a statement does not outlive
/// its transaction there).
fn connect_options(url: &str, pooled: bool) -> Result<PgConnectOptions> {
    let options: PgConnectOptions = url.parse().map_err(|e| {
        Error::invalid(
            format!("invalid database URL: {e}"),
            "expected postgres://user:password@host:port/database",
        )
    })?;
    let options = options.application_name("msgpool");
    Ok(match pooled {
        true => options.extra_float_digits(None).statement_cache_capacity(0),
        false => options,
    })
}
