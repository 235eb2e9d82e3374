//! The message type list (消息设置列表): filters, search, and enable/disable in the row.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use minijinja::context;
use msgpool::admin::message_types;
use msgpool::domain::TypeKey;
use serde::Deserialize;

use crate::form::FormData;
use crate::render::Ctx;

#[derive(Debug, Default, Deserialize)]
pub struct TypeFilter {
    category: Option<String>,
    urgency: Option<String>,
    q: Option<String>,
}

pub async fn list(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Query(filter): Query<TypeFilter>,
) -> Response {
    let db = &state.admin(&ctx);
    let loaded = async {
        let types = message_types::list(db).await?;
        let counts = msgpool::activity::messages_last_day(db, None).await?;
        Ok::<_, msgpool::Error>((types, counts))
    };
    let (types, counts) = match loaded.await {
        Ok(loaded) => loaded,
        Err(e) => return state.pages.problem(&ctx, &e),
    };
    let mut categories: Vec<String> = types.iter().map(|t| t.category.clone()).collect();
    categories.sort();
    categories.dedup();
    let wanted = |v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map(str::to_owned);
    let (category, urgency) = (wanted(&filter.category), wanted(&filter.urgency));
    let q = wanted(&filter.q).map(|q| q.to_lowercase());
    let rows: Vec<_> = types
        .into_iter()
        .filter(|t| category.as_ref().is_none_or(|c| &t.category == c))
        .filter(|t| urgency.as_ref().is_none_or(|u| t.urgency.as_str() == u))
        .filter(|t| {
            q.as_ref().is_none_or(|q| {
                t.key.as_str().to_lowercase().contains(q) || t.name.to_lowercase().contains(q)
            })
        })
        .map(|t| {
            let last_day = counts.get(t.key.as_str()).copied().unwrap_or(0);
            context! { t, last_day }
        })
        .collect();
    state.pages.render(
        &ctx,
        "types.html",
        context! {
            rows, categories, category, urgency, q => filter.q,
            urgencies => msgpool::domain::Urgency::ALL.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
        },
    )
}

pub async fn set_enabled(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path(key): Path<String>,
    form: FormData,
) -> Response {
    let db = &state.admin(&ctx);
    let enabled = form.get("enabled") == Some("true");
    let changed = async {
        let key = TypeKey::parse(&key)?;
        let t = message_types::set_enabled(db, &key, enabled).await?;
        let counts = msgpool::activity::messages_last_day(db, Some(&key)).await?;
        Ok::<_, msgpool::Error>((t, counts))
    };
    match changed.await {
        Ok((t, counts)) if ctx.partial => {
            let last_day = counts.get(t.key.as_str()).copied().unwrap_or(0);
            state.pages.render(
                &ctx,
                "type_row.html",
                context! { row => context! { t, last_day } },
            )
        }
        Ok(_) => super::go_to(&ctx, "/types"),
        Err(e) => state.pages.problem(&ctx, &e),
    }
}
