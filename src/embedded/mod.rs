//! The embedded default: with no database URL, msgpool runs its own PostgreSQL cluster from
//! the machine's binaries in a folder of its own, and reuses it on later calls.

mod binaries;
mod cluster;
mod server_user;

pub use binaries::find as server_binaries;
pub use cluster::{Cluster, ClusterState, LOG_FILE_SIZE, LOG_FILES_KEPT};
