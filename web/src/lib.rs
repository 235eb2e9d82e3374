//! msgpool's console and in-site inbox: server-rendered pages over the same library calls
//! (and so the same SQL functions) as the CLI. Templates, htmx and the stylesheet are
//! embedded in the binary; nothing is fetched from elsewhere.
//!
//! Two kinds of route: the console's, behind a sign-in (a console user's role decides which
//! routes) and CSRF tokens (`auth`), whose database work runs as the console's login role,
//! naming the user it acts for; and the inbox's, reached with a recipient's signed token,
//! whose database work runs as `msgpool_inbox` and can reach that inbox only.

mod auth;
mod client;
mod form;
pub use form::MAX_BODY_BYTES;
mod i18n;
mod inbox;
mod pages;
mod render;
mod session;
mod state;
mod statics;
mod throttle;

use axum::Router;
use axum::routing::{get, post};

pub use auth::TOKEN_USER;
pub use client::TrustedProxy;
pub use session::SESSION_COOKIE;
use state::State;
pub use state::{Console, MIN_TOKEN_CHARS};

/// Who may request a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: sign-in and static files.
    Public,
    /// Whoever holds the recipient's inbox token.
    InboxToken,
    /// A signed-in console user (for a POST, with its CSRF token): any, reading.
    Viewer,
    /// ... an operator or an admin: acting on messages and deliveries.
    Operator,
    /// ... an admin: changing the configuration.
    Admin,
}

/// Declares every route once: [`ROUTES`] is this table, and [`router`] is built from it, so
/// the list the tests walk cannot drift from what is served.
macro_rules! routes {
    ($( $access:ident $method:ident $path:literal => $handler:expr ),* $(,)?) => {
        /// Every route the console serves, for the tests that walk them: `{key}`-style
        /// segments are placeholders.
        pub const ROUTES: &[(&str, &str, Access)] =
            &[ $( (routes!(@method $method), $path, Access::$access) ),* ];

        /// The routes by who may request them: (console, inbox token, public).
        fn by_access() -> (Router<State>, Router<State>, Router<State>) {
            let (mut console, mut inbox, mut public) = (Router::new(), Router::new(), Router::new());
            $(
                let routes = match Access::$access {
                    Access::Viewer | Access::Operator | Access::Admin => &mut console,
                    Access::InboxToken => &mut inbox,
                    Access::Public => &mut public,
                };
                *routes = std::mem::take(routes).route($path, $method($handler));
            )*
            (console, inbox, public)
        }
    };
    (@method get) => { "GET" };
    (@method post) => { "POST" };
}

routes! {
    Public get "/signin" => auth::sign_in_page,
    Public post "/signin" => auth::sign_in,
    Public get "/static/{file}" => statics::file,
    Public get "/lang/{lang}" => i18n::switch,
    InboxToken get "/inbox/{recipient}" => inbox::page,
    InboxToken get "/inbox/{recipient}/bell" => inbox::bell,
    InboxToken get "/inbox/{recipient}/{id}" => inbox::open,
    InboxToken post "/inbox/{recipient}/read" => inbox::read_all,
    InboxToken get "/api/inbox/{recipient}" => inbox::api_list,
    InboxToken get "/api/inbox/{recipient}/unread-count" => inbox::api_unread_count,
    InboxToken post "/api/inbox/{recipient}/read" => inbox::api_read,
    Viewer get "/" => pages::home,
    Viewer post "/signout" => auth::sign_out,
    Viewer get "/types" => pages::types::list,
    Viewer get "/types/new" => pages::type_form::new,
    Admin post "/types/new" => pages::type_form::create,
    Viewer get "/types/check-key" => pages::type_form::check_key,
    Viewer post "/types/preview" => pages::type_form::preview,
    Viewer get "/types/{key}" => pages::type_form::edit,
    Admin post "/types/{key}" => pages::type_form::update,
    Admin post "/types/{key}/enabled" => pages::types::set_enabled,
    Admin post "/types/{key}/test" => pages::type_form::send_test,
    Viewer get "/recipients" => pages::recipients::list,
    Viewer get "/recipients/new" => pages::recipients::new,
    Admin post "/recipients/new" => pages::recipients::create,
    Viewer get "/recipients/{key}" => pages::recipients::show,
    Admin post "/recipients/{key}" => pages::recipients::update,
    Admin post "/recipients/{key}/enabled" => pages::recipients::set_enabled,
    Admin post "/recipients/{key}/remove" => pages::recipients::remove,
    Admin post "/recipients/{key}/groups" => pages::recipients::groups,
    Admin post "/recipients/{key}/subscriptions" => pages::recipients::subscriptions,
    Viewer get "/groups" => pages::groups::list,
    Admin post "/groups/new" => pages::groups::create,
    Viewer get "/groups/{key}" => pages::groups::show,
    Admin post "/groups/{key}/members" => pages::groups::members,
    Admin post "/groups/{key}/subscriptions" => pages::groups::subscriptions,
    Admin post "/groups/{key}/remove" => pages::groups::remove,
    Viewer get "/messages" => pages::activity::messages,
    Viewer get "/messages/{id}" => pages::activity::message,
    Operator post "/messages/{id}/cancel" => pages::activity::cancel,
    Viewer get "/deliveries" => pages::activity::deliveries,
    Operator post "/deliveries/retry" => pages::activity::retry,
    Viewer get "/status" => pages::status::page,
    Viewer get "/status/panel" => pages::status::panel,
    Admin post "/limits/channel" => pages::limits::channel,
    Admin post "/limits/robot" => pages::limits::robot,
}

/// The console's routes; every one outside `public` and `inbox` passes the sign-in check.
pub fn router(console: Console) -> Router {
    let state = State::new(console);
    let (console_routes, inbox_routes, public_routes) = by_access();
    let console_routes = console_routes.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::require_session,
    ));
    let inbox_routes = inbox_routes.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::throttle_inbox_links,
    ));
    Router::new()
        .merge(console_routes)
        .merge(inbox_routes)
        .merge(public_routes)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            render::security_headers,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_known_host,
        ))
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
        // the peer, for the throttles and a trusted proxy's word
        let app = app
            .clone()
            .layer(axum::Extension(axum::extract::ConnectInfo(peer)));
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIME_LIMIT)
            .serve_connection(
                TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(app),
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
