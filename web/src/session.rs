//! Console sessions: made at sign-in, kept in memory (they end when the console restarts),
//! each with who signed in, as what, and the CSRF token its forms send back.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use msgpool::domain::ConsoleRole;

pub const SESSION_COOKIE: &str = "msgpool_session";
/// A session ends this long after signing in.
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// What a signed-in request carries: who, as what, and the CSRF token its forms must send
/// back.
#[derive(Debug, Clone)]
pub struct Session {
    /// The console user's name (the shared token's sessions: `token`).
    pub user: String,
    pub role: ConsoleRole,
    pub csrf: String,
}

#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, (Session, Instant)>>);

impl Sessions {
    pub fn start(&self, user: &str, role: ConsoleRole) -> String {
        let id = format!("{}{}", new_secret(), new_secret());
        let session = Session {
            user: user.to_owned(),
            role,
            csrf: new_secret(),
        };
        let mut sessions = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        sessions.retain(|_, (_, started)| now.duration_since(*started) < SESSION_LIFETIME);
        sessions.insert(id.clone(), (session, now));
        id
    }

    pub fn find(&self, id: &str) -> Option<Session> {
        let sessions = self.0.lock().unwrap_or_else(|e| e.into_inner());
        sessions
            .get(id)
            .filter(|(_, started)| started.elapsed() < SESSION_LIFETIME)
            .map(|(session, _)| session.clone())
    }

    pub fn end(&self, id: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
}

fn new_secret() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The value of cookie `name`, if the request sent it.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}
