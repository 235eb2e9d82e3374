//! Delivering one claimed delivery: render the channel's template, send, hand the outcome
//! to the writer. This is the apalis task handler; it never fails the task itself: every
//! result, a broken template included, becomes an outcome on the delivery.

use std::sync::Arc;

use apalis_core::error::BoxDynError;
use apalis_core::task::data::Data;
use chrono::Utc;
use msgpool::domain::Channel;
use msgpool::template::{Rendered, Renderer, Variables};

use crate::claim::ClaimedDelivery;
use crate::outcomes::{Finished, Outcome, OutcomeWriter};

/// What every delivery task shares.
pub struct Deliverer {
    pub renderer: Renderer,
    pub outcomes: OutcomeWriter,
}

pub async fn deliver(
    delivery: ClaimedDelivery,
    deliverer: Data<Arc<Deliverer>>,
) -> Result<(), BoxDynError> {
    let started_at = Utc::now();
    let outcome = match render(&deliverer.renderer, &delivery) {
        Ok(rendered) => send(&delivery, rendered).await,
        Err(problem) => Outcome::Dead(problem),
    };
    if let Outcome::Dead(problem) | Outcome::Retry(problem) = &outcome {
        tracing::warn!(delivery = delivery.id, channel = %delivery.channel, attempt = delivery.attempt, %problem, "not delivered");
    }
    deliverer
        .outcomes
        .send(Finished {
            id: delivery.id,
            token: delivery.lease_token,
            started_at,
            outcome,
        })
        .await?;
    Ok(())
}

fn render(renderer: &Renderer, d: &ClaimedDelivery) -> Result<Rendered, String> {
    let vars = Variables {
        payload: &d.payload,
        type_key: &d.type_key,
        type_name: &d.type_name,
        category: &d.category,
        urgency: &d.urgency,
        created_at: d.created_at.to_rfc3339(),
        duplicate_count: d.duplicate_count,
        recipient_name: &d.recipient_name,
    };
    renderer.render(d.channel, d.subject.as_deref(), d.body.as_deref(), &vars)
}

async fn send(d: &ClaimedDelivery, rendered: Rendered) -> Outcome {
    match d.channel {
        Channel::Inbox => Outcome::Inbox {
            subject: rendered.subject,
            body: rendered.body,
        },
        // Workers claim only the channels they can send (see run::supported); another
        // worker that has this channel takes it after the backoff.
        other => Outcome::Retry(format!("this worker has no {other} sender")),
    }
}
