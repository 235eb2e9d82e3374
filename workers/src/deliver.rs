//! Delivering one claim: render it (`msgpool::render`), send it ([`crate::send`]), and hand
//! the outcome to the writer. This is the apalis task handler; it never fails the task
//! itself: every result, a broken template included, becomes an outcome on the delivery.

use std::sync::Arc;

use apalis_core::error::BoxDynError;
use apalis_core::task::data::Data;
use chrono::Utc;
use msgpool::render::{Message, Parts, Rendered, Renderer, Variables};
use serde_json::Value;

use crate::claim::{Claim, ClaimedDelivery};
use crate::outcomes::{Finished, Outcome, OutcomeWriter};
use crate::send::{Senders, send};

/// What every delivery task shares.
pub struct Deliverer {
    pub renderer: Arc<Renderer>,
    pub outcomes: OutcomeWriter,
    pub senders: Senders,
}

pub async fn deliver(claim: Claim, deliverer: Data<Arc<Deliverer>>) -> Result<(), BoxDynError> {
    let finished = attempt(&deliverer, &claim).await;
    deliverer.outcomes.send(finished).await?;
    Ok(())
}

/// One attempt at a claim: render, send, and the outcome to write. An inbox delivery does
/// no I/O here (its row is the outcome), so an idle worker can attempt and write it where it
/// claimed it. What cannot be read or rendered is parked with its reason.
pub async fn attempt(deliverer: &Deliverer, claim: &Claim) -> Finished {
    let started_at = Utc::now();
    let lead = &claim.lead;
    let outcome = match render(&deliverer.renderer, claim) {
        Ok((rendered, payload)) => send(&deliverer.senders, claim, &payload, rendered).await,
        Err(problem) => Outcome::Dead(problem),
    };
    if let Outcome::Dead(problem) | Outcome::Retry(problem) = &outcome {
        tracing::warn!(delivery = lead.id, channel = %lead.channel, attempt = lead.attempt, %problem, "not delivered");
    }
    Finished {
        id: lead.id,
        lease_token: lead.lease_token,
        gathered: claim.gathered.iter().map(|g| g.id).collect(),
        started_at,
        outcome,
    }
}

/// The rendered notification, and the lead delivery's payload (a webhook sends it along).
/// On the caller's thread: the engine's fuel and output caps bound a render.
fn render(renderer: &Renderer, claim: &Claim) -> Result<(Rendered, Value), String> {
    let lead_payload = payload(&claim.lead)?;
    let gathered_payloads = claim
        .gathered
        .iter()
        .map(payload)
        .collect::<Result<Vec<_>, _>>()?;
    let lead = message(&claim.lead, &lead_payload);
    let gathered: Vec<Message> = claim
        .gathered
        .iter()
        .zip(&gathered_payloads)
        .map(|(g, p)| message(g, p))
        .collect();
    let rendered = renderer.render_delivery(claim.lead.channel, &lead, &gathered)?;
    Ok((rendered, lead_payload))
}

fn payload(d: &ClaimedDelivery) -> Result<Value, String> {
    d.payload
        .parse()
        .map_err(|e| format!("this worker cannot read the payload: {e}"))
}

fn message<'a>(d: &'a ClaimedDelivery, payload: &'a Value) -> Message<'a> {
    Message {
        message_id: d.message_id,
        parts: Parts {
            subject: d.subject.as_deref(),
            body: d.body.as_deref(),
            html: d.html_body.as_deref(),
            digest_subject: d.digest_subject.as_deref(),
            digest_body: d.digest_body.as_deref(),
        },
        vars: Variables {
            payload,
            type_key: &d.type_key,
            type_name: &d.type_name,
            category: &d.category,
            urgency: d.urgency.as_str(),
            created_at: d.created_at.clone(),
            duplicate_count: d.duplicate_count,
            recipient_name: &d.recipient_name,
        },
    }
}
