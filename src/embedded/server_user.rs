//! PostgreSQL refuses to run as root. When msgpool runs as root, the server's processes run
//! as the `postgres` system user and own the server's folder.

use std::path::Path;

use nix::unistd::{Gid, Uid, User};

use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct ServerUser {
    pub uid: Uid,
    pub gid: Gid,
}

impl ServerUser {
    /// `None` when msgpool is not root and runs the server as itself.
    pub fn when_root() -> Result<Option<ServerUser>> {
        if !Uid::effective().is_root() {
            return Ok(None);
        }
        match User::from_name("postgres") {
            Ok(Some(user)) => Ok(Some(ServerUser {
                uid: user.uid,
                gid: user.gid,
            })),
            _ => Err(Error::setup(
                "running as root, and PostgreSQL will not run as root, but there is no 'postgres' system user to run it as",
                "create one (useradd --system postgres), run msgpool as a normal user, or set DATABASE_URL",
            )),
        }
    }

    /// Fails with advice when a folder above `path` is closed to other users, since the
    /// server user could not reach its data there (e.g. a checkout under /root).
    pub fn check_reachable(&self, path: &Path) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        for dir in path.ancestors().skip(1) {
            let Ok(meta) = std::fs::metadata(dir) else {
                continue;
            };
            let reachable = meta.mode() & 0o001 != 0
                || meta.uid() == self.uid.as_raw()
                || (meta.gid() == self.gid.as_raw() && meta.mode() & 0o010 != 0);
            if !reachable {
                return Err(Error::setup(
                    format!(
                        "the postgres user cannot reach {}: {} is closed to other users",
                        path.display(),
                        dir.display()
                    ),
                    "set MSGPOOL_HOME to a folder it can reach, such as /var/lib/msgpool, or run as a normal user",
                ));
            }
        }
        Ok(())
    }

    /// Hands a folder msgpool created to the server user.
    pub fn give(&self, path: &Path) -> Result<()> {
        nix::unistd::chown(path, Some(self.uid), Some(self.gid)).map_err(|e| {
            Error::io(format!("giving {} to the postgres user", path.display()))(e.into())
        })
    }
}
