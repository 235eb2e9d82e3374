//! Signing in to the console, and the CSRF and read-only checks every console request
//! passes.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::form::FormData;
use crate::render::Ctx;
use crate::session::{SESSION_COOKIE, cookie};

const CSRF_HEADER: &str = "x-csrf-token";
const CSRF_FIELD: &str = "csrf";
/// A wrong sign-in token costs this long, so guessing is slow.
const WRONG_TOKEN_DELAY: Duration = Duration::from_millis(300);

/// Compares without stopping at the first difference, so timing says nothing of the token.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub async fn sign_in_page(State(state): State<crate::state::State>, ctx: Ctx) -> Response {
    state
        .pages
        .render(&ctx, "signin.html", minijinja::context! {})
}

pub async fn sign_in(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    form: FormData,
) -> Response {
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

pub async fn sign_out(State(state): State<crate::state::State>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        state.sessions.end(id);
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/signin")).into_response()
}

/// Every console route: a session, and for a change its CSRF token and a console that is
/// not read-only. Without a session a page goes to the sign-in, anything else gets 401.
pub async fn require_session(
    State(state): State<crate::state::State>,
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
        let changes = !matches!(parts.uri.path(), "/types/preview" | "/signout");
        if state.console.read_only && changes {
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
    next.run(request).await
}
