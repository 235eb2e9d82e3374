//! Pages: the embedded templates (minijinja, HTML auto-escaped), what every page knows about
//! its request (language, CSRF token, read-only), and how a refusal is shown.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, Value, context};

use crate::i18n::Lang;
use crate::session::Session;

/// The templates, embedded at build time.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("signin.html", include_str!("../templates/signin.html")),
    ("problem.html", include_str!("../templates/problem.html")),
    ("types.html", include_str!("../templates/types.html")),
    ("type_row.html", include_str!("../templates/type_row.html")),
    (
        "type_form.html",
        include_str!("../templates/type_form.html"),
    ),
    ("preview.html", include_str!("../templates/preview.html")),
    (
        "recipients.html",
        include_str!("../templates/recipients.html"),
    ),
    (
        "recipient.html",
        include_str!("../templates/recipient.html"),
    ),
    ("groups.html", include_str!("../templates/groups.html")),
    ("group.html", include_str!("../templates/group.html")),
    ("messages.html", include_str!("../templates/messages.html")),
    ("message.html", include_str!("../templates/message.html")),
    (
        "deliveries.html",
        include_str!("../templates/deliveries.html"),
    ),
    ("status.html", include_str!("../templates/status.html")),
    (
        "status_panel.html",
        include_str!("../templates/status_panel.html"),
    ),
    ("inbox.html", include_str!("../templates/inbox.html")),
    (
        "inbox_message.html",
        include_str!("../templates/inbox_message.html"),
    ),
    ("bell.html", include_str!("../templates/bell.html")),
];

pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    pub fn new() -> Pages {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            // a template that does not parse is a build defect: tests render every page
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "console template does not parse");
            }
        }
        env.add_function("t", |state: &minijinja::State, key: &str| -> String {
            let lang = match state.lookup("lang").as_ref().and_then(Value::as_str) {
                Some("zh") => Lang::Zh,
                _ => Lang::En,
            };
            lang.label(key)
        });
        env.add_filter("when", |at: &str| -> String {
            chrono::DateTime::parse_from_rfc3339(at)
                .map(|t| {
                    t.with_timezone(&chrono::Utc)
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_else(|_| at.to_owned())
        });
        Pages { env }
    }

    /// The page `name` with `page`'s values and the request's own (`lang`, `csrf`,
    /// `read_only`, `path`).
    pub fn render(&self, ctx: &Ctx, name: &str, page: Value) -> Response {
        let values = context! {
            lang => ctx.lang.code(),
            csrf => ctx.session.as_ref().map(|s| s.csrf.clone()),
            read_only => ctx.read_only,
            path => ctx.path.clone(),
            ..page
        };
        match self
            .env
            .get_template(name)
            .and_then(|template| template.render(values))
        {
            Ok(html) => Html(html).into_response(),
            Err(e) => {
                tracing::error!(
                    template = name,
                    error = format!("{e:#}"),
                    "rendering a console page"
                );
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the page could not be rendered",
                )
                    .into_response()
            }
        }
    }

    /// A refusal or failure as a page: what was wrong and how to fix it.
    pub fn problem(&self, ctx: &Ctx, error: &msgpool::Error) -> Response {
        let status = status_of(error);
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %error, source = ?std::error::Error::source(error), "console request failed");
        }
        let page = self.render(
            ctx,
            "problem.html",
            context! { message => error.to_string(), hint => error.hint() },
        );
        (status, page).into_response()
    }
}

pub fn status_of(error: &msgpool::Error) -> StatusCode {
    match error {
        msgpool::Error::Refused { sqlstate, .. } if sqlstate.as_deref() == Some("MP017") => {
            StatusCode::FORBIDDEN
        }
        msgpool::Error::Refused { .. } => StatusCode::BAD_REQUEST,
        msgpool::Error::NotFound { .. } => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// What a page knows about its request.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub session: Option<Session>,
    pub read_only: bool,
    pub path: String,
    /// An htmx request, answered with a fragment.
    pub partial: bool,
}

impl Ctx {
    pub fn t(&self, key: &str) -> String {
        self.lang.label(key)
    }
}

/// Whether the console refuses every change, as a page needs to know it.
#[derive(Debug, Clone, Copy)]
pub struct ReadOnly(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for Ctx
where
    ReadOnly: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Ctx {
            lang: Lang::of(&parts.headers),
            session: parts.extensions.get::<Session>().cloned(),
            read_only: ReadOnly::from_ref(state).0,
            path: parts.uri.path().to_owned(),
            partial: parts.headers.contains_key("hx-request"),
        })
    }
}

/// The content security policy of every answer: scripts only from this server, and no
/// framing. The unread bell, made to be framed, sets its own (with `frame-ancestors`).
pub fn content_security_policy(frame_ancestors: &str) -> String {
    format!(
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors {frame_ancestors}"
    )
}

/// Headers on every answer: no sniffing, no referrer (inbox links carry their token), the
/// content security policy (unless the handler set its own), and over TLS, HSTS.
pub async fn security_headers(
    axum::extract::State(state): axum::extract::State<crate::state::State>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY)
        && let Ok(policy) = HeaderValue::from_str(&content_security_policy("'none'"))
    {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if state.over_tls() {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// Text for an HTML fragment built outside a template.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let mut env = Environment::new();
        env.add_function("t", |key: &str| key.to_owned());
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                panic!("{name}: {e:#}");
            }
        }
    }

    #[test]
    fn the_sign_in_page_renders() {
        let pages = Pages::new();
        let t = pages.env.get_template("signin.html").expect("template");
        let html = t
            .render(context! { lang => "en", csrf => None::<String>, read_only => false, path => "/signin" })
            .map_err(|e| format!("{e:#}"));
        assert!(html.is_ok(), "{html:?}");
    }
}
