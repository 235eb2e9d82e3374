//! Finding the machine's PostgreSQL server binaries.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The folder holding `initdb`, `pg_ctl` and `postgres`: `MSGPOOL_PG_BINDIR` if set (and
/// only it: an explicit setting never falls back silently), else what `pg_config --bindir`
/// says, else the newest `/usr/lib/postgresql/*/bin` (Debian's layout, where `pg_config` may
/// belong to the client package only).
pub fn find() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("MSGPOOL_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        return if has_server(&dir) {
            Ok(dir)
        } else {
            Err(Error::setup(
                format!(
                    "MSGPOOL_PG_BINDIR is {}, which holds no PostgreSQL server (initdb, pg_ctl, postgres)",
                    dir.display()
                ),
                "point it at the server's bin folder (e.g. /usr/lib/postgresql/15/bin) or unset it",
            ))
        };
    }
    let mut candidates = Vec::new();
    if let Ok(out) = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        && out.status.success()
    {
        candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    candidates.extend(debian_bin_dirs());
    candidates.into_iter().find(|dir| has_server(dir)).ok_or_else(|| {
        Error::setup(
            "no PostgreSQL server binaries found (looked for initdb via pg_config --bindir and in /usr/lib/postgresql/*/bin)",
            "install them (Debian/Ubuntu: apt-get install postgresql; Fedora: dnf install postgresql-server; macOS: brew install postgresql@15), set MSGPOOL_PG_BINDIR, or set DATABASE_URL to use an existing server",
        )
    })
}

fn has_server(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|b| dir.join(b).is_file())
}

/// `/usr/lib/postgresql/<major>/bin`, newest major first.
fn debian_bin_dirs() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") else {
        return Vec::new();
    };
    let mut versions: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
    versions.into_iter().map(|(_, dir)| dir).collect()
}
