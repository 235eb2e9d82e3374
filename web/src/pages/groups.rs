//! Groups: their members and subscriptions.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::context;
use msgpool::admin::subscriptions::{self, Subscriber};
use msgpool::admin::{groups, message_types, recipients};
use msgpool::domain::{Channel, RecipientKey};

use crate::form::FormData;
use crate::render::Ctx;

pub async fn list(State(state): State<crate::state::State>, ctx: Ctx) -> Response {
    match groups::list(&state.admin(&ctx)).await {
        Ok(rows) => state.pages.render(&ctx, "groups.html", context! { rows }),
        Err(e) => state.pages.problem(&ctx, &e),
    }
}

pub async fn create(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    form: FormData,
) -> Response {
    let added = async {
        let key = RecipientKey::parse(form.get("key").unwrap_or_default().trim())?;
        let name = form.get("name").unwrap_or_default().trim().to_owned();
        groups::add(
            &state.admin(&ctx),
            &key,
            &name,
            form.filled("description").as_deref(),
        )
        .await
    };
    match added.await {
        Ok(g) => super::go_to(&ctx, &format!("/groups/{}", g.key)),
        Err(e) => match groups::list(&state.admin(&ctx)).await {
            Ok(rows) => {
                let page = state.pages.render(
                    &ctx,
                    "groups.html",
                    context! { rows, values => form.values(), error => e.to_string(), hint => e.hint() },
                );
                (crate::render::status_of(&e), page).into_response()
            }
            Err(e) => state.pages.problem(&ctx, &e),
        },
    }
}

async fn page(
    state: &crate::state::State,
    ctx: &Ctx,
    key: &str,
    refused: Option<msgpool::Error>,
) -> Response {
    let db = &state.admin(ctx);
    let loaded = async {
        let key = RecipientKey::parse(key)?;
        let group = groups::get(db, &key).await?;
        let subscriptions = subscriptions::list(db, None, None, Some(&key)).await?;
        let recipients = recipients::list(db).await?;
        let types = message_types::list(db).await?;
        Ok::<_, msgpool::Error>((group, subscriptions, recipients, types))
    };
    let (group, subscriptions, recipients, types) = match loaded.await {
        Ok(loaded) => loaded,
        Err(e) => return state.pages.problem(ctx, &e),
    };
    let status = refused
        .as_ref()
        .map_or(StatusCode::OK, crate::render::status_of);
    let page = state.pages.render(
        ctx,
        "group.html",
        context! {
            group, subscriptions,
            recipients => recipients.iter().map(|r| r.key.to_string()).collect::<Vec<_>>(),
            types => types.iter().map(|t| t.key.to_string()).collect::<Vec<_>>(),
            channels => Channel::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            error => refused.as_ref().map(|e| e.to_string()),
            hint => refused.as_ref().and_then(|e| e.hint().map(str::to_owned)),
        },
    );
    (status, page).into_response()
}

pub async fn show(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path(key): Path<String>,
) -> Response {
    page(&state, &ctx, &key, None).await
}

/// After a change: `to`, or the group's page with the refusal.
async fn after(
    state: &crate::state::State,
    ctx: &Ctx,
    key: &str,
    to: &str,
    change: impl Future<Output = msgpool::Result<()>>,
) -> Response {
    super::after_change(state, ctx, change.await, to, async |e| {
        page(state, ctx, key, Some(e)).await
    })
    .await
}

/// `action=add` with `member`, or `action=remove` with `member`.
pub async fn members(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path(key): Path<String>,
    form: FormData,
) -> Response {
    let db = &state.admin(&ctx);
    after(&state, &ctx, &key, &format!("/groups/{key}"), async {
        let group = RecipientKey::parse(&key)?;
        let member = RecipientKey::parse(form.get("member").unwrap_or_default())?;
        match form.get("action") {
            Some("remove") => groups::remove_member(db, &group, &member).await.map(drop),
            _ => groups::add_members(db, &group, &[member]).await.map(drop),
        }
    })
    .await
}

pub async fn subscriptions(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path(key): Path<String>,
    form: FormData,
) -> Response {
    after(&state, &ctx, &key, &format!("/groups/{key}"), async {
        let subscriber = Subscriber::Group(RecipientKey::parse(&key)?);
        super::subscribing::change(&state.admin(&ctx), &subscriber, &form).await
    })
    .await
}

pub async fn remove(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path(key): Path<String>,
) -> Response {
    after(&state, &ctx, &key, "/groups", async {
        groups::remove(&state.admin(&ctx), &RecipientKey::parse(&key)?)
            .await
            .map(drop)
    })
    .await
}
