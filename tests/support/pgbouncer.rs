//! A real PgBouncer in transaction mode in front of a test database, as Debian ships it
//! (1.18: no prepared statements across transactions), with few server connections so that
//! clients share them. Stopped when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::{TestDb, cluster_home};

pub struct PgBouncer {
    /// The test database's URL through the pooler.
    pub url: String,
    child: Child,
    dir: PathBuf,
}

/// The settings msgpool's README asks of a transaction-mode pooler.
const SETTINGS: &str = "pool_mode = transaction
server_reset_query = DEALLOCATE ALL
server_reset_query_always = 1
default_pool_size = 2
max_client_conn = 200
auth_type = trust
unix_socket_dir =
";

impl PgBouncer {
    pub fn start(db: &TestDb) -> PgBouncer {
        let binary = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .expect("pgbouncer (apt-get install pgbouncer; .ci/run installs it)");
        // postgres://user:password@host:port/database
        let rest = db.url.strip_prefix("postgres://").expect("a postgres URL");
        let (credentials, rest) = rest.split_once('@').expect("credentials");
        let (user, password) = credentials.split_once(':').expect("user:password");
        let (server, database) = rest.split_once('/').expect("a database");
        let (_, server_port) = server.rsplit_once(':').expect("a port");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();

        let dir = cluster_home().join(format!("pgbouncer-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("pgbouncer folder");
        std::fs::write(
            dir.join("users.txt"),
            format!("\"{user}\" \"{password}\"\n"),
        )
        .expect("auth file");
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\n* = host=127.0.0.1 port={server_port}\n\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nauth_file = {}\nlogfile = {}\n{SETTINGS}",
                dir.join("users.txt").display(),
                dir.join("pgbouncer.log").display(),
            ),
        )
        .expect("pgbouncer.ini");

        let mut command = Command::new(binary);
        command
            .arg(dir.join("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // PgBouncer refuses to run as root; as root, run it as the cluster's server user
        if nix::unistd::Uid::effective().is_root() {
            use std::os::unix::process::CommandExt as _;
            let postgres = nix::unistd::User::from_name("postgres")
                .expect("look up postgres")
                .expect("the postgres user");
            for path in [
                dir.clone(),
                dir.join("users.txt"),
                dir.join("pgbouncer.ini"),
            ] {
                nix::unistd::chown(&path, Some(postgres.uid), Some(postgres.gid))
                    .expect("give the files to postgres");
            }
            command
                .uid(postgres.uid.as_raw())
                .gid(postgres.gid.as_raw());
        }
        let child = command.spawn().expect("start pgbouncer");
        let bouncer = PgBouncer {
            url: format!("postgres://{user}:{password}@127.0.0.1:{port}/{database}"),
            child,
            dir,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "pgbouncer did not listen within 10 s: {}",
                bouncer.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        bouncer
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
