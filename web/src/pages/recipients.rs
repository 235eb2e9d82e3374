//! The recipient list (接收人列表) and a recipient's page: contacts, groups, subscriptions,
//! and the link to their inbox. Removing follows the CLI's rule: one with history is refused,
//! with disabling offered instead.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::context;
use msgpool::admin::recipients::{self, RecipientSpec};
use msgpool::admin::subscriptions::{self, Subscriber};
use msgpool::admin::{groups, message_types};
use msgpool::domain::{Channel, RecipientKey, WebhookFlavor};
use serde::Deserialize;

use crate::form::FormData;
use crate::render::Ctx;

#[derive(Debug, Default, Deserialize)]
pub struct RecipientFilter {
    q: Option<String>,
    group: Option<String>,
    enabled: Option<String>,
}

pub async fn list(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Query(filter): Query<RecipientFilter>,
) -> Response {
    let db = &state.admin(&ctx);
    let loaded =
        async { Ok::<_, msgpool::Error>((recipients::list(db).await?, groups::list(db).await?)) };
    let (all, groups) = match loaded.await {
        Ok(loaded) => loaded,
        Err(e) => return state.pages.problem(&ctx, &e),
    };
    let q = filter
        .q
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    let group = filter.group.clone().filter(|g| !g.is_empty());
    let enabled = match filter.enabled.as_deref() {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        _ => None,
    };
    let rows: Vec<_> = all
        .into_iter()
        .filter(|r| {
            q.is_empty()
                || r.key.as_str().to_lowercase().contains(&q)
                || r.name.to_lowercase().contains(&q)
                || r.email
                    .as_deref()
                    .unwrap_or_default()
                    .to_lowercase()
                    .contains(&q)
        })
        .filter(|r| group.as_ref().is_none_or(|g| r.groups.contains(g)))
        .filter(|r| enabled.is_none_or(|e| r.enabled == e))
        .collect();
    state.pages.render(
        &ctx,
        "recipients.html",
        context! {
            rows, groups => groups.iter().map(|g| g.key.to_string()).collect::<Vec<_>>(),
            q => filter.q, group, enabled => filter.enabled,
        },
    )
}

fn flavors() -> Vec<&'static str> {
    WebhookFlavor::ALL.iter().map(|f| f.as_str()).collect()
}

pub async fn new(State(state): State<crate::state::State>, ctx: Ctx) -> Response {
    state.pages.render(
        &ctx,
        "recipient.html",
        context! { new => true, values => context! { webhook_flavor => "generic" }, flavors => flavors() },
    )
}

/// Contacts from the form: an empty field clears its contact; an empty secret keeps the
/// stored one (it is never shown again).
fn spec_of(form: &FormData) -> msgpool::Result<RecipientSpec> {
    let field = |name: &str| Some(form.get(name).unwrap_or_default().trim().to_owned());
    Ok(RecipientSpec {
        name: field("name"),
        email: field("email"),
        phone: field("phone"),
        webhook_url: field("webhook_url"),
        webhook_flavor: form
            .filled("webhook_flavor")
            .map(|f| f.parse())
            .transpose()?,
        webhook_secret: form.filled("webhook_secret"),
    })
}

pub async fn create(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    form: FormData,
) -> Response {
    let added = async {
        let key = RecipientKey::parse(form.get("key").unwrap_or_default().trim())?;
        recipients::add(&state.admin(&ctx), &key, &spec_of(&form)?).await
    };
    match added.await {
        Ok(r) => super::go_to(&ctx, &format!("/recipients/{}", r.key)),
        Err(e) => {
            let page = state.pages.render(
                &ctx,
                "recipient.html",
                context! {
                    new => true, values => form.values(), flavors => flavors(),
                    error => e.to_string(), hint => e.hint(),
                },
            );
            (crate::render::status_of(&e), page).into_response()
        }
    }
}

/// The recipient's page, with `refused` shown when a change was refused.
async fn page(
    state: &crate::state::State,
    ctx: &Ctx,
    key: &str,
    refused: Option<msgpool::Error>,
) -> Response {
    let db = &state.admin(ctx);
    let loaded = async {
        let key = RecipientKey::parse(key)?;
        let recipient = recipients::get(db, &key).await?;
        let groups = groups::list(db).await?;
        let subscriptions = subscriptions::list(db, None, Some(&key), None).await?;
        let types = message_types::list(db).await?;
        // a read-only console shows no links that would act on someone's inbox
        let token = match state.console.read_only {
            true => None,
            false => Some(
                msgpool::inbox_link::token(db, &key, msgpool::inbox_link::Scope::Inbox, None)
                    .await?,
            ),
        };
        Ok::<_, msgpool::Error>((recipient, groups, subscriptions, types, token))
    };
    let (recipient, groups, subscriptions, types, token) = match loaded.await {
        Ok(loaded) => loaded,
        Err(e) => return state.pages.problem(ctx, &e),
    };
    let status = match &refused {
        Some(e) => crate::render::status_of(e),
        None => StatusCode::OK,
    };
    let inbox_link = token.map(|t| msgpool::inbox_link::path(recipient.key.as_str(), &t));
    let page = state.pages.render(
        ctx,
        "recipient.html",
        context! {
            new => false, recipient, flavors => flavors(), inbox_link,
            groups => groups.iter().map(|g| g.key.to_string()).collect::<Vec<_>>(),
            subscriptions,
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

/// After a change: `to`, or the recipient's page with the refusal.
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

pub async fn update(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path(key): Path<String>,
    form: FormData,
) -> Response {
    after(&state, &ctx, &key, &format!("/recipients/{key}"), async {
        let k = RecipientKey::parse(&key)?;
        let db = &state.admin(&ctx);
        let mut spec = spec_of(&form)?;
        // the form shows the stored URL redacted: sent back unchanged, it keeps the stored one
        if spec.webhook_url == recipients::get(db, &k).await?.webhook_url {
            spec.webhook_url = None;
        }
        recipients::edit(db, &k, &spec).await.map(drop)
    })
    .await
}

pub async fn set_enabled(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path(key): Path<String>,
    form: FormData,
) -> Response {
    let enabled = form.get("enabled") == Some("true");
    after(&state, &ctx, &key, &format!("/recipients/{key}"), async {
        let k = RecipientKey::parse(&key)?;
        recipients::set_enabled(&state.admin(&ctx), &k, enabled)
            .await
            .map(drop)
    })
    .await
}

pub async fn remove(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path(key): Path<String>,
) -> Response {
    after(&state, &ctx, &key, "/recipients", async {
        let k = RecipientKey::parse(&key)?;
        recipients::remove(&state.admin(&ctx), &k).await
    })
    .await
}

/// The groups the recipient belongs to: the checked ones.
pub async fn groups(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path(key): Path<String>,
    form: FormData,
) -> Response {
    let db = &state.admin(&ctx);
    after(&state, &ctx, &key, &format!("/recipients/{key}"), async {
        let member = RecipientKey::parse(&key)?;
        let wanted = form
            .all("group")
            .iter()
            .map(|g| RecipientKey::parse(g))
            .collect::<msgpool::Result<Vec<_>>>()?;
        groups::set_memberships(db, &member, &wanted).await
    })
    .await
}

pub async fn subscriptions(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path(key): Path<String>,
    form: FormData,
) -> Response {
    after(&state, &ctx, &key, &format!("/recipients/{key}"), async {
        let subscriber = Subscriber::Recipient(RecipientKey::parse(&key)?);
        super::subscribing::change(&state.admin(&ctx), &subscriber, &form).await
    })
    .await
}
