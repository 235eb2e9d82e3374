//! Activity: messages and deliveries with filters, a message's whole story, and the actions
//! on them (retry one, the selected or all matching; cancel). Lists page by keyset.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{DateTime, NaiveDateTime, Utc};
use minijinja::context;
use msgpool::activity::{self, MessageFilter};
use msgpool::deliveries::{self, Filter};
use msgpool::domain::{Channel, DeliveryState, MessageState, RecipientKey, TypeKey};
use serde::{Deserialize, Serialize};

use crate::form::FormData;
use crate::render::Ctx;

const PAGE_SIZE: i64 = 50;

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// A browser's datetime-local value (taken as UTC), or an RFC 3339 time.
fn time(v: &Option<String>) -> msgpool::Result<Option<DateTime<Utc>>> {
    let Some(v) = given(v) else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(&v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    NaiveDateTime::parse_from_str(&v, "%Y-%m-%dT%H:%M")
        .map(|t| Some(t.and_utc()))
        .map_err(|_| {
            msgpool::Error::invalid(
                format!("{v:?} is not a time"),
                "write it as 2026-12-04T09:30 (UTC)",
            )
        })
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct MessageQuery {
    type_key: Option<String>,
    category: Option<String>,
    urgency: Option<String>,
    state: Option<String>,
    source: Option<String>,
    dedup_key: Option<String>,
    since: Option<String>,
    until: Option<String>,
    before: Option<i64>,
}

pub async fn messages(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Query(query): Query<MessageQuery>,
) -> Response {
    let listed = async {
        let filter = MessageFilter {
            type_key: given(&query.type_key),
            category: given(&query.category),
            urgency: given(&query.urgency).map(|u| u.parse()).transpose()?,
            state: given(&query.state).map(|s| s.parse()).transpose()?,
            source: given(&query.source),
            dedup_key: given(&query.dedup_key),
            since: time(&query.since)?,
            until: time(&query.until)?,
            before: query.before,
        };
        activity::messages(&state.admin(&ctx), &filter, PAGE_SIZE).await
    };
    match listed.await {
        Ok(rows) => {
            let next = (rows.len() as i64 == PAGE_SIZE)
                .then(|| rows.last().map(|m| m.id))
                .flatten()
                .map(|last| {
                    let mut q = query.clone();
                    q.before = Some(last);
                    serde_urlencoded::to_string(&q).unwrap_or_default()
                });
            state.pages.render(
                &ctx,
                "messages.html",
                context! {
                    rows, next, q => query, first_page => query.before.is_none(),
                    urgencies => msgpool::domain::Urgency::ALL.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
                    states => MessageState::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                },
            )
        }
        Err(e) => state.pages.problem(&ctx, &e),
    }
}

pub async fn message(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Response {
    match activity::message(&state.admin(&ctx), id).await {
        Ok(detail) => {
            let payload = serde_json::to_string_pretty(&detail.payload).unwrap_or_default();
            state
                .pages
                .render(&ctx, "message.html", context! { m => detail, payload })
        }
        Err(e) => state.pages.problem(&ctx, &e),
    }
}

pub async fn cancel(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Response {
    match msgpool::cancel::cancel(&state.admin(&ctx), id).await {
        Ok(_) => super::go_to(&ctx, &format!("/messages/{id}")),
        Err(e) => state.pages.problem(&ctx, &e),
    }
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct DeliveryQuery {
    /// A delivery state, or `deferred`: pending deliveries a rule holds back.
    state: Option<String>,
    channel: Option<String>,
    recipient: Option<String>,
    type_key: Option<String>,
    before: Option<i64>,
    retried: Option<i32>,
}

impl DeliveryQuery {
    fn filter(&self) -> msgpool::Result<Filter> {
        let state = given(&self.state);
        Ok(Filter {
            deferred: state.as_deref() == Some("deferred"),
            state: state
                .filter(|s| s != "deferred")
                .map(|s| s.parse::<DeliveryState>())
                .transpose()?,
            channel: given(&self.channel)
                .map(|c| c.parse::<Channel>())
                .transpose()?,
            recipient: given(&self.recipient)
                .map(|r| RecipientKey::parse(&r))
                .transpose()?,
            type_key: given(&self.type_key)
                .map(|t| TypeKey::parse(&t))
                .transpose()?,
            before: self.before,
        })
    }

    fn from_form(form: &FormData) -> DeliveryQuery {
        DeliveryQuery {
            state: form.filled("state"),
            channel: form.filled("channel"),
            recipient: form.filled("recipient"),
            type_key: form.filled("type_key"),
            before: None,
            retried: None,
        }
    }
}

pub async fn deliveries(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Query(query): Query<DeliveryQuery>,
) -> Response {
    let listed = async { deliveries::list(&state.admin(&ctx), &query.filter()?, PAGE_SIZE).await };
    match listed.await {
        Ok(rows) => {
            let next = (rows.len() as i64 == PAGE_SIZE)
                .then(|| rows.last().map(|d| d.id))
                .flatten()
                .map(|last| {
                    let mut q = query.clone();
                    q.before = Some(last);
                    q.retried = None;
                    serde_urlencoded::to_string(&q).unwrap_or_default()
                });
            let mut states: Vec<&str> = DeliveryState::ALL.iter().map(|s| s.as_str()).collect();
            states.push("deferred");
            state.pages.render(
                &ctx,
                "deliveries.html",
                context! {
                    rows, next, q => query, states, first_page => query.before.is_none(),
                    channels => Channel::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                },
            )
        }
        Err(e) => state.pages.problem(&ctx, &e),
    }
}

/// Re-queues dead deliveries: the selected (`id`), or with `all` every one matching the
/// filter the list showed.
pub async fn retry(State(state): State<crate::state::State>, ctx: Ctx, form: FormData) -> Response {
    let mut query = DeliveryQuery::from_form(&form);
    let retried = async {
        let filter = query.filter()?;
        if form.has("all") {
            return deliveries::retry(&state.admin(&ctx), None, &filter).await;
        }
        let ids: Vec<i64> = form
            .all("id")
            .iter()
            .filter_map(|id| id.parse().ok())
            .collect();
        if ids.is_empty() {
            return Err(msgpool::Error::invalid(
                "no delivery was selected",
                "tick the dead deliveries to retry, or retry all matching the filter",
            ));
        }
        deliveries::retry(&state.admin(&ctx), Some(&ids), &Filter::default()).await
    };
    match retried.await {
        Ok(n) => {
            query.retried = Some(n);
            let q = serde_urlencoded::to_string(&query).unwrap_or_default();
            super::go_to(&ctx, &format!("/deliveries?{q}"))
        }
        Err(e) => state.pages.problem(&ctx, &e),
    }
}
