//! Limits, on the status page: per channel (per recipient in a window, per second to the
//! provider) and per chat robot flavor, as `msgpool rate-limit` sets them.

use axum::extract::State;
use axum::response::Response;
use msgpool::admin::rate_limits::{self, RateLimitSpec};
use msgpool::admin::robot_limits;
use msgpool::domain::{Channel, WebhookFlavor};

use crate::form::FormData;
use crate::render::Ctx;

fn number(form: &FormData, name: &str) -> msgpool::Result<Option<i32>> {
    form.filled(name)
        .map(|n| {
            n.parse().map_err(|_| {
                msgpool::Error::invalid(
                    format!("{name} {n:?} is not a number"),
                    "a whole number, e.g. 10",
                )
            })
        })
        .transpose()
}

/// `action=set` (per_recipient with window, and/or per_second) or `action=remove`.
pub async fn channel(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    form: FormData,
) -> Response {
    let db = &state.admin(&ctx);
    let changed = async {
        let channel: Channel = form.get("channel").unwrap_or_default().parse()?;
        if form.get("action") == Some("remove") {
            return rate_limits::remove(db, channel).await;
        }
        let per_recipient = match (number(&form, "per_recipient")?, form.filled("window")) {
            (Some(max), Some(window)) => Some((max, window)),
            (None, None) => None,
            _ => {
                return Err(msgpool::Error::invalid(
                    "a per-recipient limit needs both a count and a window",
                    "e.g. 10 per 1 hour",
                ));
            }
        };
        let spec = RateLimitSpec {
            per_recipient,
            per_second: number(&form, "per_second")?,
        };
        rate_limits::set(db, channel, &spec).await.map(drop)
    };
    match changed.await {
        Ok(()) => super::go_to(&ctx, "/status?paused=1#limits"),
        Err(e) => state.pages.problem(&ctx, &e),
    }
}

/// `action=set` (max_sends per window) or `action=remove` (the window).
pub async fn robot(State(state): State<crate::state::State>, ctx: Ctx, form: FormData) -> Response {
    let db = &state.admin(&ctx);
    let changed = async {
        let flavor: WebhookFlavor = form.get("flavor").unwrap_or_default().parse()?;
        let per = form.filled("per").unwrap_or_else(|| "1 minute".to_owned());
        if form.get("action") == Some("remove") {
            return robot_limits::remove(db, flavor, &per).await;
        }
        let max = number(&form, "max_sends")?.ok_or_else(|| {
            msgpool::Error::invalid("how many sends per window?", "e.g. 20 per 1 minute")
        })?;
        robot_limits::set(db, flavor, max, &per).await.map(drop)
    };
    match changed.await {
        Ok(()) => super::go_to(&ctx, "/status?paused=1#limits"),
        Err(e) => state.pages.problem(&ctx, &e),
    }
}
