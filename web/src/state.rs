//! What every handler shares: the console's settings and pools, the sessions, the pages.

use std::sync::Arc;

use axum::extract::FromRef;
use msgpool::Db;

use crate::render::{Pages, ReadOnly};
use crate::session::Sessions;

/// What the console needs to run.
pub struct Console {
    /// Runs as `msgpool_admin`.
    pub admin_db: Db,
    /// Runs as `msgpool_inbox`.
    pub inbox_db: Db,
    /// What signing in takes.
    pub sign_in_token: String,
    /// Shows everything, changes nothing.
    pub read_only: bool,
}

#[derive(Clone)]
pub struct State(Arc<Shared>);

pub struct Shared {
    pub console: Console,
    pub sessions: Sessions,
    pub pages: Pages,
}

impl State {
    pub fn new(console: Console) -> State {
        State(Arc::new(Shared {
            console,
            sessions: Sessions::default(),
            pages: Pages::new(),
        }))
    }
}

impl std::ops::Deref for State {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<State> for ReadOnly {
    fn from_ref(state: &State) -> ReadOnly {
        ReadOnly(state.console.read_only)
    }
}
