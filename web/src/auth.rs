//! Signing in to the console, sessions, and the CSRF and read-only checks every console
//! request passes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::form::FormData;
use crate::render::Ctx;

pub const SESSION_COOKIE: &str = "msgpool_session";
const CSRF_HEADER: &str = "x-csrf-token";
const CSRF_FIELD: &str = "csrf";
/// A session ends this long after signing in.
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// A wrong sign-in token costs this long, so guessing is slow.
const WRONG_TOKEN_DELAY: Duration = Duration::from_millis(300);

/// What a signed-in request carries: the CSRF token its forms must send back.
#[derive(Debug, Clone)]
pub struct Session {
    pub csrf: String,
}

#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, (Session, Instant)>>);

impl Sessions {
    fn start(&self) -> String {
        let id = format!("{}{}", new_secret(), new_secret());
        let session = Session { csrf: new_secret() };
        let mut sessions = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        sessions.retain(|_, (_, started)| now.duration_since(*started) < SESSION_LIFETIME);
        sessions.insert(id.clone(), (session, now));
        id
    }

    fn find(&self, id: &str) -> Option<Session> {
        let sessions = self.0.lock().unwrap_or_else(|e| e.into_inner());
        sessions
            .get(id)
            .filter(|(_, started)| started.elapsed() < SESSION_LIFETIME)
            .map(|(session, _)| session.clone())
    }

    fn end(&self, id: &str) {
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

/// Compares without stopping at the first difference, so timing says nothing of the token.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub async fn sign_in_page(State(state): State<crate::State>, ctx: Ctx) -> Response {
    state
        .pages
        .render(&ctx, "signin.html", minijinja::context! {})
}

pub async fn sign_in(State(state): State<crate::State>, ctx: Ctx, form: FormData) -> Response {
    let given = form.get("token").unwrap_or_default();
    if !same(given.trim(), &state.console.sign_in_token) {
        tokio::time::sleep(WRONG_TOKEN_DELAY).await;
        let page = state.pages.render(
            &ctx,
            "signin.html",
            minijinja::context! { error => ctx.t("signin.wrong") },
        );
        return (StatusCode::UNAUTHORIZED, page).into_response();
    }
    let id = state.sessions.start();
    let cookie = format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/types")).into_response()
}

pub async fn sign_out(State(state): State<crate::State>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        state.sessions.end(id);
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/signin")).into_response()
}

/// Every console route: a session, and for a change its CSRF token and a console that is
/// not read-only. Without a session a page goes to the sign-in, anything else gets 401.
pub async fn require_session(
    State(state): State<crate::State>,
    mut request: Request,
    next: Next,
) -> Response {
    let session = cookie(request.headers(), SESSION_COOKIE).and_then(|id| state.sessions.find(id));
    let Some(session) = session else {
        if request.method() == Method::GET && !request.headers().contains_key("hx-request") {
            return Redirect::to("/signin").into_response();
        }
        return (StatusCode::UNAUTHORIZED, "sign in first: /signin").into_response();
    };
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, crate::form::MAX_BODY_BYTES).await else {
            return (StatusCode::PAYLOAD_TOO_LARGE, "the form is too large").into_response();
        };
        let from_header = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let sent =
            from_header.or_else(|| FormData::parse(&bytes).get(CSRF_FIELD).map(str::to_owned));
        if !sent.is_some_and(|sent| same(&sent, &session.csrf)) {
            return (
                StatusCode::FORBIDDEN,
                "the form's CSRF token is missing or stale: reload the page and try again",
            )
                .into_response();
        }
        let changes = !matches!(parts.uri.path(), "/types/preview" | "/signout");
        if state.console.read_only && changes {
            return (
                StatusCode::FORBIDDEN,
                "this console is read-only (msgpool web --read-only): nothing can be changed here",
            )
                .into_response();
        }
        request = Request::from_parts(parts, axum::body::Body::from(bytes));
    }
    request.extensions_mut().insert(session);
    next.run(request).await
}
