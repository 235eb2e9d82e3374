//! What every handler shares: the console's settings and pools, the sessions, the throttles,
//! the pages.

use std::sync::Arc;

use axum::extract::FromRef;
use msgpool::Db;

use crate::client::TrustedProxy;
use crate::render::{Ctx, Pages, ReadOnly};
use crate::session::Sessions;
use crate::throttle::Throttle;

/// What the console needs to run.
pub struct Console {
    /// Logs in as `msgpool_console_login`: an administrator that names the console user it
    /// acts for, so the audit names the person.
    pub admin_db: Db,
    /// Logs in as `msgpool_inbox_login`.
    pub inbox_db: Db,
    /// A shared token that signs in as an administrator (the demo's); `None`: console users
    /// only.
    pub sign_in_token: Option<String>,
    /// Shows everything, changes nothing.
    pub read_only: bool,
    /// Where people reach the console (`https://console.example.com`): the only host it
    /// answers to, and with `https`, its cookies are Secure and browsers told to keep to
    /// TLS. `None`: this machine's own names only.
    pub public_url: Option<String>,
    /// A reverse proxy that signs people in, when there is one.
    pub trusted_proxy: Option<TrustedProxy>,
}

/// The shortest shared sign-in token the console accepts.
pub const MIN_TOKEN_CHARS: usize = 16;

#[derive(Clone)]
pub struct State(Arc<Shared>);

pub struct Shared {
    pub console: Console,
    pub sessions: Sessions,
    pub pages: Pages,
    /// Wrong sign-ins, per client and overall.
    pub sign_ins: Throttle,
    /// Inbox links refused, per client and overall.
    pub inbox_links: Throttle,
}

impl State {
    pub fn new(console: Console) -> State {
        State(Arc::new(Shared {
            console,
            sessions: Sessions::default(),
            pages: Pages::new(),
            sign_ins: Throttle::new(10, 100),
            inbox_links: Throttle::new(20, 200),
        }))
    }

    /// The console's pool, acting for the console user signed in.
    pub fn admin(&self, ctx: &Ctx) -> Db {
        match &ctx.session {
            Some(session) => self.console.admin_db.on_behalf_of(&session.user),
            None => self.console.admin_db.clone(),
        }
    }

    /// Whether people reach the console over TLS (its public URL says so).
    pub fn over_tls(&self) -> bool {
        self.console
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
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
