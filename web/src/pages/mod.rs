//! The console's pages, one file per page of the product brief.

pub mod activity;
pub mod groups;
pub mod limits;
pub mod recipients;
pub mod status;
mod subscribing;
pub mod type_form;
pub mod types;

use axum::response::{IntoResponse, Redirect, Response};

pub async fn home() -> Response {
    Redirect::to("/types").into_response()
}

/// Where a change sends the browser afterwards (htmx follows `HX-Redirect`).
pub fn go_to(ctx: &crate::render::Ctx, to: &str) -> Response {
    if ctx.partial {
        return ([("HX-Redirect", to.to_owned())], "").into_response();
    }
    Redirect::to(to).into_response()
}

/// After a change: on to `to`; a refusal goes back to the page, shown beside what was
/// refused (`reshow`); any other failure gets the problem page.
pub async fn after_change(
    state: &crate::state::State,
    ctx: &crate::render::Ctx,
    result: msgpool::Result<()>,
    to: &str,
    reshow: impl AsyncFnOnce(msgpool::Error) -> Response,
) -> Response {
    match result {
        Ok(()) => go_to(ctx, to),
        Err(e @ (msgpool::Error::Refused { .. } | msgpool::Error::NotFound { .. })) => {
            reshow(e).await
        }
        Err(e) => state.pages.problem(ctx, &e),
    }
}
