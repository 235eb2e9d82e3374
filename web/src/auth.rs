//! Signing in to the console, and what every console request passes: a known host, a
//! session (or a trusted proxy's word), a role that may use the route, and for a change its
//! CSRF token and a console that is not read-only.

use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use msgpool::admin::console_users;
use msgpool::domain::ConsoleRole;

use crate::form::FormData;
use crate::render::Ctx;
use crate::session::{SESSION_COOKIE, Session, cookie};
use crate::{Access, ROUTES};

const CSRF_HEADER: &str = "x-csrf-token";
const CSRF_FIELD: &str = "csrf";
/// A wrong sign-in costs this long, so guessing is slow even below the throttle.
const WRONG_SIGN_IN_DELAY: Duration = Duration::from_millis(300);
/// Who the shared token signs in as.
pub const TOKEN_USER: &str = "token";

/// Compares without stopping at the first difference, so timing says nothing of the token.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub async fn sign_in_page(State(state): State<crate::state::State>, ctx: Ctx) -> Response {
    state.pages.render(
        &ctx,
        "signin.html",
        minijinja::context! { token => state.console.sign_in_token.is_some() },
    )
}

/// The session cookie's attributes: Secure when people reach the console over TLS.
fn session_cookie(state: &crate::state::State, value: &str, extra: &str) -> String {
    let secure = if state.over_tls() { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict{secure}{extra}")
}

pub async fn sign_in(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let client = crate::client::address(&parts, state.console.trusted_proxy.as_ref());
    if let Err(wait) = state.sign_ins.check(client) {
        return too_many(wait, "too many wrong sign-ins: wait, then try again");
    }
    let Ok(bytes) = axum::body::to_bytes(body, crate::form::MAX_BODY_BYTES).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "the form is too large").into_response();
    };
    let form = FormData::parse(&bytes);
    let user = form.get("user").map(str::trim).unwrap_or_default();
    let signed_in = match (user, &state.console.sign_in_token) {
        ("", Some(token)) => same(form.get("token").unwrap_or_default().trim(), token)
            .then(|| (TOKEN_USER.to_owned(), ConsoleRole::Admin)),
        ("", None) => None,
        (user, _) => {
            let password = form.get("password").unwrap_or_default();
            match console_users::verify(&state.console.admin_db, user, password).await {
                Ok(found) => found.map(|u| (u.name.to_string(), u.role)),
                Err(e) => return state.pages.problem(&ctx, &e),
            }
        }
    };
    let Some((user, role)) = signed_in else {
        state.sign_ins.failed(client);
        tokio::time::sleep(WRONG_SIGN_IN_DELAY).await;
        let page = state.pages.render(
            &ctx,
            "signin.html",
            minijinja::context! {
                error => ctx.t("signin.wrong"), token => state.console.sign_in_token.is_some(),
            },
        );
        return (StatusCode::UNAUTHORIZED, page).into_response();
    };
    tracing::info!(%user, %role, "signed in to the console");
    let id = state.sessions.start(&user, role);
    let cookie = session_cookie(&state, &id, "");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/types")).into_response()
}

pub async fn sign_out(State(state): State<crate::state::State>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        state.sessions.end(id);
    }
    let cookie = session_cookie(&state, "", "; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/signin")).into_response()
}

fn too_many(wait: Duration, why: &'static str) -> Response {
    let mut response = (StatusCode::TOO_MANY_REQUESTS, why).into_response();
    if let Ok(after) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, after);
    }
    response
}

/// The session of a request: its cookie's, or one a trusted proxy's word starts (and keeps,
/// while the proxy names the same user).
async fn session_of(
    state: &crate::state::State,
    parts: &axum::http::request::Parts,
) -> Result<Option<(Session, Option<String>)>, msgpool::Error> {
    let found = cookie(&parts.headers, SESSION_COOKIE).and_then(|id| state.sessions.find(id));
    let Some(named) =
        crate::client::signed_in_by_proxy(parts, state.console.trusted_proxy.as_ref())
    else {
        return Ok(found.map(|s| (s, None)));
    };
    if let Some(session) = found.filter(|s| s.user == named) {
        return Ok(Some((session, None)));
    }
    let Ok(key) = msgpool::domain::RecipientKey::parse(&named) else {
        return Ok(None);
    };
    let user = console_users::list(&state.console.admin_db)
        .await?
        .into_iter()
        .find(|u| u.name == key && u.enabled);
    Ok(user.and_then(|u| {
        let id = state.sessions.start(u.name.as_str(), u.role);
        let session = state.sessions.find(&id);
        session.map(|s| (s, Some(id)))
    }))
}

/// Every console route: a session whose role may use the route (the route table says which),
/// and for a change its CSRF token and a console that is not read-only. Without a session a
/// page goes to the sign-in, anything else gets 401.
pub async fn require_session(
    State(state): State<crate::state::State>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let needed = parts
        .extensions
        .get::<MatchedPath>()
        .and_then(|matched| {
            ROUTES.iter().find(|(method, path, _)| {
                *method == parts.method.as_str() && *path == matched.as_str()
            })
        })
        .and_then(|(_, _, access)| access.console_role())
        .unwrap_or(ConsoleRole::Admin);
    let (session, new_cookie) = match session_of(&state, &parts).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            if parts.method == Method::GET && !parts.headers.contains_key("hx-request") {
                return Redirect::to("/signin").into_response();
            }
            return (StatusCode::UNAUTHORIZED, "sign in first: /signin").into_response();
        }
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    };
    if session.role < needed {
        return (
            StatusCode::FORBIDDEN,
            format!(
                "{} is a console {}; this needs an {needed}: an administrator changes roles with msgpool console-user add",
                session.user, session.role
            ),
        )
            .into_response();
    }
    let mut request = Request::from_parts(parts, body);
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, crate::form::MAX_BODY_BYTES).await else {
            return (StatusCode::PAYLOAD_TOO_LARGE, "the form is too large").into_response();
        };
        let form = FormData::parse(&bytes);
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .or_else(|| form.get(CSRF_FIELD));
        if !sent.is_some_and(|sent| same(sent, &session.csrf)) {
            return (
                StatusCode::FORBIDDEN,
                "the form's CSRF token is missing or stale: reload the page and try again",
            )
                .into_response();
        }
        if state.console.read_only && needed > ConsoleRole::Viewer {
            return (
                StatusCode::FORBIDDEN,
                "this console is read-only (msgpool web --read-only): nothing can be changed here",
            )
                .into_response();
        }
        request = Request::from_parts(parts, axum::body::Body::from(bytes));
        // read once: the handler's FormData is this one
        request.extensions_mut().insert(form);
    }
    request.extensions_mut().insert(session);
    let mut response = next.run(request).await;
    if let Some(id) = new_cookie
        && let Ok(cookie) = HeaderValue::from_str(&session_cookie(&state, &id, ""))
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The hosts the console answers to: its public URL's, or, without one, this machine's own
/// names. Any other `Host` (a DNS-rebinding page's, a stranger's) gets 421.
pub async fn require_known_host(
    State(state): State<crate::state::State>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let known = match &state.console.public_url {
        Some(url) => url
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or_default())
            .is_some_and(|public| public.eq_ignore_ascii_case(&host)),
        None => {
            let name = match host.rsplit_once(':') {
                Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
                _ => host.as_str(),
            };
            matches!(name, "localhost" | "127.0.0.1" | "[::1]")
                || name
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
    };
    if !known {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "this console does not answer to that host name: reach it at its own address, or set --public-url to the one people use",
        )
            .into_response();
    }
    next.run(request).await
}

/// Inbox routes: a client whose links were refused too often waits before its requests reach
/// the database; each refused link (403) counts.
pub async fn throttle_inbox_links(
    State(state): State<crate::state::State>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let client = crate::client::address(&parts, state.console.trusted_proxy.as_ref());
    if let Err(wait) = state.inbox_links.check(client) {
        return too_many(wait, "too many inbox links refused: wait, then try again");
    }
    let response = next.run(Request::from_parts(parts, body)).await;
    if response.status() == StatusCode::FORBIDDEN {
        state.inbox_links.failed(client);
    }
    response
}

/// What an `Access` means for a console user.
impl Access {
    pub fn console_role(self) -> Option<ConsoleRole> {
        match self {
            Access::Public | Access::InboxToken => None,
            Access::Viewer => Some(ConsoleRole::Viewer),
            Access::Operator => Some(ConsoleRole::Operator),
            Access::Admin => Some(ConsoleRole::Admin),
        }
    }
}
