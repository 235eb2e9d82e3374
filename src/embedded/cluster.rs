//! One PostgreSQL cluster in a home folder:
//!
//! ```text
//! <home>/lock          held while a process initialises or starts the cluster
//! <home>/password      the superuser's password (mode 0600)
//! <home>/server/       owned by the server user: socket, postgres.log (what the server
//!                      says before its log collector starts)
//! <home>/server/log/   the server's log, in files of at most 10 MB; msgpool keeps the
//!                      newest few (trim_logs), so no flood of errors fills the disk
//! <home>/server/data/  the cluster; data/msgpool.conf holds the port, addresses and logging
//! ```
//!
//! The server is started with `pg_ctl` and outlives the msgpool process that started it, so
//! later calls (and psql, and other languages) reuse it until `msgpool db stop`.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use sqlx::Connection;
use tokio::process::Command;

/// The server's log files: at most this large each, and this many kept.
pub const LOG_FILE_SIZE: u64 = 10 * 1024 * 1024;
pub const LOG_FILES_KEPT: usize = 5;

use super::binaries;
use super::server_user::ServerUser;
use crate::{Error, Result};

const SUPERUSER: &str = "msgpool";
const DATABASE: &str = "msgpool";
/// Unix socket paths are limited to 107 bytes; past that the server listens on TCP only.
const MAX_SOCKET_PATH: usize = 100;

#[derive(Debug, Clone)]
pub struct Cluster {
    home: PathBuf,
    bin_dir: PathBuf,
    server_user: Option<ServerUser>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ClusterState {
    NotInitialized,
    Stopped,
    Running { pid: i32, port: u16 },
}

impl Cluster {
    /// A cluster in `home` (created on first start). Fails when the machine has no
    /// PostgreSQL binaries, or msgpool is root and there is no `postgres` user.
    pub fn new(home: impl Into<PathBuf>) -> Result<Cluster> {
        let home = home.into();
        let home = std::path::absolute(&home)
            .map_err(Error::io(format!("resolving {}", home.display())))?;
        Ok(Cluster {
            home,
            bin_dir: binaries::find()?,
            server_user: ServerUser::when_root()?,
        })
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    fn server_dir(&self) -> PathBuf {
        self.home.join("server")
    }

    fn data_dir(&self) -> PathBuf {
        self.server_dir().join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.server_dir().join("postgres.log")
    }

    pub fn state(&self) -> Result<ClusterState> {
        if !self.data_dir().join("PG_VERSION").is_file() {
            return Ok(ClusterState::NotInitialized);
        }
        // postmaster.pid: pid, data dir, start time, port, ... — present while running.
        let Ok(pid_file) = fs::read_to_string(self.data_dir().join("postmaster.pid")) else {
            return Ok(ClusterState::Stopped);
        };
        let mut lines = pid_file.lines();
        let pid: Option<i32> = lines.next().and_then(|l| l.trim().parse().ok());
        let port: Option<u16> = lines.nth(2).and_then(|l| l.trim().parse().ok());
        match (pid, port) {
            (Some(pid), Some(port)) if process_alive(pid) => {
                Ok(ClusterState::Running { pid, port })
            }
            _ => Ok(ClusterState::Stopped),
        }
    }

    /// A URL any client can use: `postgres://msgpool:<password>@127.0.0.1:<port>/msgpool`.
    pub fn url(&self) -> Result<String> {
        self.url_for(DATABASE)
    }

    fn url_for(&self, database: &str) -> Result<String> {
        let password = fs::read_to_string(self.home.join("password")).map_err(Error::io(format!(
            "reading the embedded cluster's password (is {} initialised? run `msgpool db start`)",
            self.home.display()
        )))?;
        let port = self.configured_port()?;
        Ok(format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{port}/{database}",
            password.trim()
        ))
    }

    /// Initialises the cluster if needed and starts it unless it runs already; safe to call
    /// from several processes at once. Returns the database URL.
    pub async fn ensure_running(&self) -> Result<String> {
        fs::create_dir_all(&self.home)
            .map_err(Error::io(format!("creating {}", self.home.display())))?;
        let lock = File::create(self.home.join("lock"))
            .map_err(Error::io("creating the cluster's lock file"))?;
        // Waits only while another caller initialises or starts this same cluster; off the
        // runtime, so a caller in this process holding the lock can go on meanwhile.
        let _lock = tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
            .await
            .map_err(|e| Error::io("locking the cluster's folder")(std::io::Error::other(e)))?
            .map_err(Error::io("locking the cluster's folder"))?;
        if self.state()? == ClusterState::NotInitialized {
            self.initialise().await?;
        }
        if !matches!(self.state()?, ClusterState::Running { .. }) {
            self.start().await?;
            self.create_database().await?;
        }
        self.trim_logs();
        self.url()
    }

    fn log_dir(&self) -> PathBuf {
        self.server_dir().join("log")
    }

    /// Removes all but the newest [`LOG_FILES_KEPT`] of the server's log files (each at most
    /// [`LOG_FILE_SIZE`]), and returns how many bytes the log holds now. The server writes
    /// a new file at each start and when one is full; msgpool's processes trim the rest.
    pub fn trim_logs(&self) -> u64 {
        let mut files: Vec<(PathBuf, u64)> = fs::read_dir(self.log_dir())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| Some((e.path(), e.metadata().ok()?.len())))
            .filter(|(path, _)| path.extension().is_some_and(|x| x == "log"))
            .collect();
        // the names hold when each file was begun: newest last
        files.sort();
        let keep = files.len().saturating_sub(LOG_FILES_KEPT);
        for (old, _) in files.drain(..keep) {
            if let Err(e) = fs::remove_file(&old) {
                tracing::warn!(file = %old.display(), error = %e, "could not remove an old server log");
            }
        }
        files.iter().map(|(_, len)| len).sum()
    }

    /// Stops the server (fast shutdown: connections are closed, in-flight transactions roll
    /// back). Returns whether it was running.
    pub async fn stop(&self) -> Result<bool> {
        if !matches!(self.state()?, ClusterState::Running { .. }) {
            return Ok(false);
        }
        self.run(
            self.command("pg_ctl")
                .args(["stop", "-s", "-w", "-m", "fast", "-D"])
                .arg(self.data_dir()),
            "stopping PostgreSQL",
        )
        .await?;
        Ok(true)
    }

    /// Stops the server once process `pid` has ended, for a caller that starts the cluster
    /// for the life of another process (a test run) and is not there at its end. A detached
    /// shell watches `/proc`, since the server user may not signal that process.
    pub fn stop_when_gone(&self, pid: u32) -> Result<()> {
        use std::os::unix::process::CommandExt as _;
        let mut watcher = std::process::Command::new("sh");
        watcher
            .args([
                "-c",
                r#"while [ -d "/proc/$0" ]; do sleep 1; done; exec "$1" stop -s -w -m fast -D "$2""#,
            ])
            .arg(pid.to_string())
            .arg(self.bin_dir.join("pg_ctl"))
            .arg(self.data_dir())
            .current_dir(self.server_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // its own process group: a runner that kills the caller's group leaves it be
            .process_group(0);
        if let Some(user) = &self.server_user {
            watcher.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
        watcher
            .spawn()
            .map(drop)
            .map_err(Error::io("starting the process that stops the cluster"))
    }

    async fn initialise(&self) -> Result<()> {
        let server_dir = self.server_dir();
        fs::create_dir_all(&server_dir)
            .map_err(Error::io(format!("creating {}", server_dir.display())))?;
        if let Some(user) = &self.server_user {
            user.check_reachable(&self.home)?;
            // The server user must be able to walk into the home folder.
            let mut perms = fs::metadata(&self.home)
                .map_err(Error::io("reading the home folder"))?
                .permissions();
            perms.set_mode(perms.mode() | 0o711);
            fs::set_permissions(&self.home, perms)
                .map_err(Error::io("opening the home folder to the server user"))?;
            user.give(&server_dir)?;
        }
        let password = uuid::Uuid::new_v4().simple().to_string();
        let password_file = server_dir.join("initdb-password");
        write_private(&password_file, &password)?;
        if let Some(user) = &self.server_user {
            user.give(&password_file)?;
        }
        let initdb = self
            .run(
                self.command("initdb")
                    .arg("-D")
                    .arg(self.data_dir())
                    .args([
                        "-U",
                        SUPERUSER,
                        "-A",
                        "scram-sha-256",
                        "-E",
                        "UTF8",
                        "--locale=C",
                    ])
                    .arg(format!("--pwfile={}", password_file.display())),
                "initialising the PostgreSQL cluster (initdb)",
            )
            .await;
        let _ = fs::remove_file(&password_file);
        initdb?;
        write_private(&self.home.join("password"), &password)?;
        let conf = self.data_dir().join("postgresql.conf");
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .map_err(Error::io("opening postgresql.conf"))?;
        writeln!(
            file,
            "\n# msgpool: address and port\ninclude_if_exists = 'msgpool.conf'"
        )
        .map_err(Error::io("writing postgresql.conf"))?;
        tracing::info!(home = %self.home.display(), "initialised the embedded PostgreSQL cluster");
        Ok(())
    }

    async fn start(&self) -> Result<()> {
        let port = match self.configured_port() {
            Ok(port) if port_free(port) => port,
            _ => free_port()?,
        };
        self.write_server_conf(port)?;
        let started = self
            .run(
                self.command("pg_ctl")
                    .args(["start", "-s", "-w", "-t", "60", "-D"])
                    .arg(self.data_dir())
                    .arg("-l")
                    .arg(self.log_file()),
                "starting PostgreSQL",
            )
            .await;
        if let Err(e) = started {
            let log = fs::read_to_string(self.log_file()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            return Err(Error::setup(
                format!(
                    "{e}; the server log ({}) ends with: {}",
                    self.log_file().display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                ),
                "fix what the log says, or remove the folder to start afresh",
            ));
        }
        tracing::info!(port, "started the embedded PostgreSQL server");
        Ok(())
    }

    async fn create_database(&self) -> Result<()> {
        let mut conn = sqlx::PgConnection::connect(&self.url_for("postgres")?)
            .await
            .map_err(Error::from_database("connecting to the embedded server"))?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(DATABASE)
                .fetch_one(&mut conn)
                .await
                .map_err(Error::from_database("looking for the msgpool database"))?;
        if !exists {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {DATABASE}")))
                .execute(&mut conn)
                .await
                .map_err(Error::from_database("creating the msgpool database"))?;
        }
        Ok(())
    }

    fn configured_port(&self) -> Result<u16> {
        let conf = fs::read_to_string(self.data_dir().join("msgpool.conf"))
            .map_err(Error::io("reading msgpool.conf"))?;
        conf.lines()
            .find_map(|line| line.strip_prefix("port = ")?.trim().parse().ok())
            .ok_or_else(|| {
                Error::setup(
                    "msgpool.conf names no port",
                    "start the cluster with `msgpool db start`",
                )
            })
    }

    fn write_server_conf(&self, port: u16) -> Result<()> {
        let socket_dir = self.server_dir();
        let socket_dir = if socket_dir.as_os_str().len() <= MAX_SOCKET_PATH {
            socket_dir.display().to_string()
        } else {
            String::new()
        };
        let log_dir = self.log_dir().display().to_string();
        // Logged without a refused statement's text (a stranger's 200 KB payload would be
        // written whole, each time), in files of a bounded size that trim_logs() keeps few of.
        let conf = format!(
            "# written by msgpool at each start\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{socket_dir}'\n\
             logging_collector = on\nlog_directory = '{log_dir}'\nlog_filename = 'postgres-%Y%m%d-%H%M%S.log'\n\
             log_rotation_size = '{}kB'\nlog_rotation_age = 0\nlog_file_mode = 0600\n\
             log_min_error_statement = panic\nlog_error_verbosity = terse\n",
            LOG_FILE_SIZE / 1024
        );
        let path = self.data_dir().join("msgpool.conf");
        fs::write(&path, conf).map_err(Error::io(format!("writing {}", path.display())))?;
        if let Some(user) = &self.server_user {
            user.give(&path)?;
        }
        Ok(())
    }

    /// A PostgreSQL program, run as the server user when msgpool is root.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        cmd.current_dir(self.server_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(user) = &self.server_user {
            cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
        cmd
    }

    async fn run(&self, cmd: &mut Command, what: &str) -> Result<()> {
        let out = cmd.output().await.map_err(Error::io(what.to_owned()))?;
        if out.status.success() {
            return Ok(());
        }
        Err(Error::setup(
            format!(
                "{what} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            format!("check {} and its log", self.home.display()),
        ))
    }
}

fn write_private(path: &Path, contents: &str) -> Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::io(format!("creating {}", path.display())))?;
    file.write_all(contents.as_bytes())
        .map_err(Error::io(format!("writing {}", path.display())))
}

fn process_alive(pid: i32) -> bool {
    use nix::errno::Errno;
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) | Err(Errno::EPERM) => true,
        Err(_) => false,
    }
}

fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn free_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(Error::io("finding a free port"))?;
    let addr = listener
        .local_addr()
        .map_err(Error::io("finding a free port"))?;
    Ok(addr.port())
}
