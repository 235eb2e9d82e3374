//! msgpool's console and in-site inbox: server-rendered pages over the same library calls
//! (and so the same SQL functions) as the CLI. Templates, htmx and the stylesheet are
//! embedded in the binary; nothing is fetched from elsewhere.
//!
//! Two kinds of route: the console's, behind a sign-in and CSRF tokens (`auth`), whose
//! database work runs as `msgpool_admin`; and the inbox's, reached with a recipient's signed
//! token, whose database work runs as `msgpool_inbox` and can reach that inbox only.

mod auth;
mod form;
pub use form::MAX_BODY_BYTES;
mod i18n;
mod inbox;
mod pages;
mod render;
mod session;
mod state;
mod statics;

use axum::Router;
use axum::routing::{get, post};

pub use session::SESSION_COOKIE;
pub use state::Console;
use state::State;

/// Who may request a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: sign-in and static files.
    Public,
    /// Whoever holds the recipient's inbox token.
    InboxToken,
    /// A signed-in session (and, for a POST, its CSRF token).
    Console,
}

/// Every route the console serves, for the tests that walk them: `{key}`-style segments
/// are placeholders.
pub const ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/signin", Access::Public),
    ("POST", "/signin", Access::Public),
    ("GET", "/static/{file}", Access::Public),
    ("GET", "/lang/{lang}", Access::Public),
    ("GET", "/inbox/{recipient}", Access::InboxToken),
    ("GET", "/inbox/{recipient}/bell", Access::InboxToken),
    ("GET", "/inbox/{recipient}/{id}", Access::InboxToken),
    ("POST", "/inbox/{recipient}/read", Access::InboxToken),
    ("GET", "/api/inbox/{recipient}", Access::InboxToken),
    (
        "GET",
        "/api/inbox/{recipient}/unread-count",
        Access::InboxToken,
    ),
    ("POST", "/api/inbox/{recipient}/read", Access::InboxToken),
    ("GET", "/", Access::Console),
    ("POST", "/signout", Access::Console),
    ("GET", "/types", Access::Console),
    ("GET", "/types/new", Access::Console),
    ("POST", "/types/new", Access::Console),
    ("GET", "/types/check-key", Access::Console),
    ("POST", "/types/preview", Access::Console),
    ("GET", "/types/{key}", Access::Console),
    ("POST", "/types/{key}", Access::Console),
    ("POST", "/types/{key}/enabled", Access::Console),
    ("POST", "/types/{key}/test", Access::Console),
    ("GET", "/recipients", Access::Console),
    ("GET", "/recipients/new", Access::Console),
    ("POST", "/recipients/new", Access::Console),
    ("GET", "/recipients/{key}", Access::Console),
    ("POST", "/recipients/{key}", Access::Console),
    ("POST", "/recipients/{key}/enabled", Access::Console),
    ("POST", "/recipients/{key}/remove", Access::Console),
    ("POST", "/recipients/{key}/groups", Access::Console),
    ("POST", "/recipients/{key}/subscriptions", Access::Console),
    ("GET", "/groups", Access::Console),
    ("POST", "/groups/new", Access::Console),
    ("GET", "/groups/{key}", Access::Console),
    ("POST", "/groups/{key}/members", Access::Console),
    ("POST", "/groups/{key}/subscriptions", Access::Console),
    ("POST", "/groups/{key}/remove", Access::Console),
    ("GET", "/messages", Access::Console),
    ("GET", "/messages/{id}", Access::Console),
    ("POST", "/messages/{id}/cancel", Access::Console),
    ("GET", "/deliveries", Access::Console),
    ("POST", "/deliveries/retry", Access::Console),
    ("GET", "/status", Access::Console),
    ("GET", "/status/panel", Access::Console),
    ("POST", "/limits/channel", Access::Console),
    ("POST", "/limits/robot", Access::Console),
];

/// The console's routes; every one outside `public` and `inbox` passes the sign-in check.
pub fn router(console: Console) -> Router {
    let state = State::new(console);
    let console_routes = Router::new()
        .route("/", get(pages::home))
        .route("/signout", post(auth::sign_out))
        .route("/types", get(pages::types::list))
        .route(
            "/types/new",
            get(pages::type_form::new).post(pages::type_form::create),
        )
        .route("/types/check-key", get(pages::type_form::check_key))
        .route("/types/preview", post(pages::type_form::preview))
        .route(
            "/types/{key}",
            get(pages::type_form::edit).post(pages::type_form::update),
        )
        .route("/types/{key}/enabled", post(pages::types::set_enabled))
        .route("/types/{key}/test", post(pages::type_form::send_test))
        .route("/recipients", get(pages::recipients::list))
        .route(
            "/recipients/new",
            get(pages::recipients::new).post(pages::recipients::create),
        )
        .route(
            "/recipients/{key}",
            get(pages::recipients::show).post(pages::recipients::update),
        )
        .route(
            "/recipients/{key}/enabled",
            post(pages::recipients::set_enabled),
        )
        .route("/recipients/{key}/remove", post(pages::recipients::remove))
        .route("/recipients/{key}/groups", post(pages::recipients::groups))
        .route(
            "/recipients/{key}/subscriptions",
            post(pages::recipients::subscriptions),
        )
        .route("/groups", get(pages::groups::list))
        .route("/groups/new", post(pages::groups::create))
        .route("/groups/{key}", get(pages::groups::show))
        .route("/groups/{key}/members", post(pages::groups::members))
        .route(
            "/groups/{key}/subscriptions",
            post(pages::groups::subscriptions),
        )
        .route("/groups/{key}/remove", post(pages::groups::remove))
        .route("/messages", get(pages::activity::messages))
        .route("/messages/{id}", get(pages::activity::message))
        .route("/messages/{id}/cancel", post(pages::activity::cancel))
        .route("/deliveries", get(pages::activity::deliveries))
        .route("/deliveries/retry", post(pages::activity::retry))
        .route("/status", get(pages::status::page))
        .route("/status/panel", get(pages::status::panel))
        .route("/limits/channel", post(pages::limits::channel))
        .route("/limits/robot", post(pages::limits::robot))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_session,
        ));
    let inbox_routes = Router::new()
        .route("/inbox/{recipient}", get(inbox::page))
        .route("/inbox/{recipient}/bell", get(inbox::bell))
        .route("/inbox/{recipient}/{id}", get(inbox::open))
        .route("/inbox/{recipient}/read", post(inbox::read_all))
        .route("/api/inbox/{recipient}", get(inbox::api_list))
        .route(
            "/api/inbox/{recipient}/unread-count",
            get(inbox::api_unread_count),
        )
        .route("/api/inbox/{recipient}/read", post(inbox::api_read));
    let public_routes = Router::new()
        .route("/signin", get(auth::sign_in_page).post(auth::sign_in))
        .route("/static/{file}", get(statics::file))
        .route("/lang/{lang}", get(i18n::switch));
    Router::new()
        .merge(console_routes)
        .merge(inbox_routes)
        .merge(public_routes)
        .layer(axum::middleware::from_fn(render::security_headers))
        .layer(axum::middleware::from_fn(time_limit))
        .layer(axum::extract::DefaultBodyLimit::max(form::MAX_BODY_BYTES))
        .with_state(state)
}

/// How long a request may take before it is answered 503: a stuck query holds no
/// connection of the browser's (or of the pool's, once dropped) for longer.
const REQUEST_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

async fn time_limit(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match tokio::time::timeout(REQUEST_TIME_LIMIT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the database did not answer in time; try again",
        )
            .into_response(),
    }
}

/// How long a client may take to send a request's headers: a connection that trickles them
/// (or opens and says nothing) is closed instead of being held open for ever.
pub const HEADER_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves the console on `listener` until `stop` resolves, then lets the requests in hand
/// finish. Each connection gets [`HEADER_TIME_LIMIT`] for every request's headers, which
/// `axum::serve` does not offer.
pub async fn serve(
    listener: tokio::net::TcpListener,
    console: Console,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};

    let app = router(console);
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors or the like: wait for some to free up.
                    tracing::warn!(error = %e, "the console could not accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIME_LIMIT)
            .serve_connection(
                TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(app.clone()),
            );
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "a console connection ended early");
            }
        });
    }
    connections.shutdown().await;
    Ok(())
}
