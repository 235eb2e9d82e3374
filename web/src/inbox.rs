//! The in-site inbox (站内信) of one recipient, reached with its signed token: the pages, the
//! JSON endpoints, and the unread bell another application embeds. Database work runs as
//! `msgpool_inbox`, through the SQL functions that check the token.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use msgpool::inbox::InboxEntry;
use msgpool::inbox_link::LinkedInbox;
use serde::Deserialize;

use crate::render::{Ctx, status_of};

const PAGE_SIZE: i32 = 20;

#[derive(Debug, Deserialize)]
pub struct Link {
    #[serde(default)]
    token: String,
    page: Option<i32>,
}

impl Link {
    fn inbox<'a>(&'a self, recipient: &'a str) -> LinkedInbox<'a> {
        LinkedInbox {
            recipient,
            token: &self.token,
        }
    }

    fn page(&self) -> i32 {
        self.page.unwrap_or(1).max(1)
    }
}

/// The link's page of the inbox, and the unread count (the page and the JSON show both).
async fn listed(
    state: &crate::state::State,
    recipient: &str,
    link: &Link,
) -> msgpool::Result<(Vec<InboxEntry>, i64)> {
    let inbox = link.inbox(recipient);
    let db = &state.console.inbox_db;
    let items = inbox.list(db, link.page(), PAGE_SIZE).await?;
    let unread = inbox.unread_count(db).await?;
    Ok((items, unread))
}

fn json_problem(error: &msgpool::Error) -> Response {
    let body = serde_json::json!({ "error": error.to_string(), "hint": error.hint() });
    (status_of(error), Json(body)).into_response()
}

pub async fn page(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path(recipient): Path<String>,
    Query(link): Query<Link>,
) -> Response {
    match listed(&state, &recipient, &link).await {
        Ok((items, unread)) => state.pages.render(
            &ctx,
            "inbox.html",
            context! {
                recipient, token => link.token, unread, page => link.page(),
                more => items.len() as i32 == PAGE_SIZE, items,
            },
        ),
        Err(e) => state.pages.problem(&ctx, &e),
    }
}

pub async fn open(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path((recipient, id)): Path<(String, i64)>,
    Query(link): Query<Link>,
) -> Response {
    let inbox = link.inbox(&recipient);
    let db = &state.console.inbox_db;
    let opened = async {
        let item = inbox.show(db, id).await?;
        let unread = inbox.unread_count(db).await?;
        Ok::<_, msgpool::Error>((item, unread))
    };
    match opened.await {
        Ok((item, unread)) => state.pages.render(
            &ctx,
            "inbox_message.html",
            context! { recipient, token => link.token, unread, item },
        ),
        Err(e) => state.pages.problem(&ctx, &e),
    }
}

pub async fn read_all(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path(recipient): Path<String>,
    Query(link): Query<Link>,
) -> Response {
    match link
        .inbox(&recipient)
        .mark_read(&state.console.inbox_db, None)
        .await
    {
        Ok(_) => Redirect::to(&msgpool::inbox_link::path(&recipient, &link.token)).into_response(),
        Err(e) => state.pages.problem(&ctx, &e),
    }
}

/// The unread count as a badge, for an iframe in another application's page.
pub async fn bell(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path(recipient): Path<String>,
    Query(link): Query<Link>,
) -> Response {
    match link
        .inbox(&recipient)
        .unread_count(&state.console.inbox_db)
        .await
    {
        Ok(unread) => {
            let mut page = state.pages.render(
                &ctx,
                "bell.html",
                context! { recipient, token => link.token, unread },
            );
            // the one page made to be framed, by whatever application embeds the bell
            if let Ok(policy) =
                axum::http::HeaderValue::from_str(&crate::render::content_security_policy("*"))
            {
                page.headers_mut()
                    .insert(header::CONTENT_SECURITY_POLICY, policy);
            }
            page
        }
        Err(e) => state.pages.problem(&ctx, &e),
    }
}

pub async fn api_list(
    State(state): State<crate::state::State>,
    Path(recipient): Path<String>,
    Query(link): Query<Link>,
) -> Response {
    match listed(&state, &recipient, &link).await {
        Ok((items, unread)) => {
            Json(serde_json::json!({ "unread": unread, "page": link.page(), "items": items }))
                .into_response()
        }
        Err(e) => json_problem(&e),
    }
}

/// The unread count; any origin may ask (the bell's script runs in other applications).
pub async fn api_unread_count(
    State(state): State<crate::state::State>,
    Path(recipient): Path<String>,
    Query(link): Query<Link>,
) -> Response {
    match link
        .inbox(&recipient)
        .unread_count(&state.console.inbox_db)
        .await
    {
        Ok(unread) => (
            [(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")],
            Json(serde_json::json!({ "unread": unread })),
        )
            .into_response(),
        Err(e) => json_problem(&e),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ReadBody {
    /// The messages to mark read; none: all.
    ids: Option<Vec<i64>>,
}

pub async fn api_read(
    State(state): State<crate::state::State>,
    Path(recipient): Path<String>,
    Query(link): Query<Link>,
    body: axum::body::Bytes,
) -> Response {
    let inbox = link.inbox(&recipient);
    let db = &state.console.inbox_db;
    let body: ReadBody = match body.iter().all(u8::is_ascii_whitespace) {
        true => ReadBody::default(),
        false => match serde_json::from_slice(&body) {
            Ok(body) => body,
            // a stranger without the token learns nothing about the body
            Err(_) if let Err(refused) = inbox.unread_count(db).await => {
                return json_problem(&refused);
            }
            Err(e) => {
                let refused = msgpool::Error::invalid(
                    format!("the body is not JSON of the expected shape: {e}"),
                    "send {\"ids\": [1, 2]} to mark those read, or nothing to mark all read",
                );
                return json_problem(&refused);
            }
        },
    };
    match inbox.mark_read(db, body.ids.as_deref()).await {
        Ok(changed) => Json(serde_json::json!({ "marked_read": changed })).into_response(),
        Err(e) => json_problem(&e),
    }
}
