//! Status: the `msgpool status` figures and the last hour's sends per minute as a chart;
//! the panel refreshes itself every few seconds unless paused.

use axum::extract::{Query, State};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use crate::render::Ctx;

/// The chart's size in SVG units.
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 120.0;

#[derive(Debug, Default, Deserialize)]
pub struct Paused {
    paused: Option<String>,
}

pub async fn page(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Query(p): Query<Paused>,
) -> Response {
    panel_or_page(&state, &ctx, "status.html", p.paused.is_some()).await
}

pub async fn panel(State(state): State<crate::state::State>, ctx: Ctx) -> Response {
    panel_or_page(&state, &ctx, "status_panel.html", false).await
}

async fn panel_or_page(
    state: &crate::state::State,
    ctx: &Ctx,
    template: &str,
    paused: bool,
) -> Response {
    let db = &state.admin(ctx);
    let loaded = async {
        let status = msgpool::status::read(db).await?;
        let sent = msgpool::status::sent_per_minute(db).await?;
        let limits = msgpool::admin::rate_limits::list(db).await?;
        Ok::<_, msgpool::Error>((status, sent, limits))
    };
    let (status, sent, limits) = match loaded.await {
        Ok(loaded) => loaded,
        Err(e) => return state.pages.problem(ctx, &e),
    };
    let peak = sent
        .iter()
        .flat_map(|s| s.sent.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    // oldest minute on the left, the current one on the right
    let lines: Vec<_> = sent
        .iter()
        .map(|s| {
            let last = s.sent.len().saturating_sub(1).max(1) as f64;
            let points: Vec<String> = s
                .sent
                .iter()
                .rev()
                .enumerate()
                .map(|(i, n)| {
                    let x = i as f64 / last * WIDTH;
                    let y = HEIGHT - (*n as f64 / peak as f64) * HEIGHT;
                    format!("{x:.1},{y:.1}")
                })
                .collect();
            let total: i64 = s.sent.iter().sum();
            context! { channel => s.channel, points => points.join(" "), total }
        })
        .collect();
    state.pages.render(
        ctx,
        template,
        context! {
            status, lines, peak, paused, limits, width => WIDTH, height => HEIGHT,
            channels => msgpool::domain::Channel::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            flavors => msgpool::domain::WebhookFlavor::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        },
    )
}
