//! Delivering one claimed delivery: render the channel's template, send, hand the outcome
//! to the writer. This is the apalis task handler; it never fails the task itself: every
//! result, a broken template included, becomes an outcome on the delivery.

use std::sync::Arc;

use crate::channels::email::EmailSender;
use crate::channels::sms::SmsSender;
use crate::channels::webhook::{Notice, Webhook, WebhookSender};
use crate::channels::{SendError, Sent};
use apalis_core::error::BoxDynError;
use apalis_core::task::data::Data;
use chrono::Utc;
use msgpool::domain::Channel;
use msgpool::template::{DigestItem, Rendered, Renderer, Variables};
use serde_json::Value;

use crate::claim::ClaimedDelivery;
use crate::destinations::Feedback;
use crate::outcomes::{Finished, Outcome, OutcomeWriter};

/// What every delivery task shares.
pub struct Deliverer {
    pub renderer: Arc<Renderer>,
    pub outcomes: OutcomeWriter,
    pub email: EmailSender,
    pub webhook: WebhookSender,
    pub sms: SmsSender,
}

pub async fn deliver(
    delivery: ClaimedDelivery,
    deliverer: Data<Arc<Deliverer>>,
) -> Result<(), BoxDynError> {
    let finished = attempt(&deliverer, &delivery).await;
    deliverer.outcomes.send(finished).await?;
    Ok(())
}

/// One attempt at a delivery: render, send, and the outcome to write. An inbox delivery
/// does no I/O here (its row is the outcome), so an idle worker can attempt and write it
/// where it claimed it. What cannot be read or rendered is parked with its reason.
pub async fn attempt(deliverer: &Deliverer, delivery: &ClaimedDelivery) -> Finished {
    let started_at = Utc::now();
    let outcome = match render(&deliverer.renderer, delivery) {
        Ok((rendered, payload)) => send(deliverer, delivery, &payload, rendered).await,
        Err(problem) => Outcome::Dead(problem),
    };
    if let Outcome::Dead(problem) | Outcome::Retry(problem) = &outcome {
        tracing::warn!(delivery = delivery.id, channel = %delivery.channel, attempt = delivery.attempt, %problem, "not delivered");
    }
    Finished {
        id: delivery.id,
        token: delivery.lease_token,
        gathered: delivery.gathered.iter().map(|g| g.id).collect(),
        started_at,
        outcome,
    }
}

/// The rendered notification, and the lead delivery's payload (a webhook sends it along).
/// On the caller's thread: the engine's fuel and output caps bound a render.
fn render(renderer: &Renderer, d: &ClaimedDelivery) -> Result<(Rendered, Value), String> {
    let payload = d.payload()?;
    let vars = variables(d, &payload);
    let single = renderer.render(
        d.channel,
        d.subject.as_deref(),
        d.body.as_deref(),
        // a digest is plain text: its messages are listed by their plain-text bodies
        d.html_body.as_deref().filter(|_| d.gathered.is_empty()),
        &vars,
    )?;
    if d.gathered.is_empty() {
        return Ok((single, payload));
    }
    let mut items = vec![DigestItem::of(d.message_id, &vars, single)];
    for g in &d.gathered {
        let gathered_payload = g.payload()?;
        let gathered = variables(g, &gathered_payload);
        let rendered = renderer.render(
            g.channel,
            g.subject.as_deref(),
            g.body.as_deref(),
            None,
            &gathered,
        )?;
        items.push(DigestItem::of(g.message_id, &gathered, rendered));
    }
    let digest = renderer.render_digest(
        d.channel,
        d.digest_subject.as_deref(),
        d.digest_body.as_deref(),
        &vars,
        &items,
    )?;
    Ok((digest, payload))
}

fn variables<'a>(d: &'a ClaimedDelivery, payload: &'a Value) -> Variables<'a> {
    Variables {
        payload,
        type_key: &d.type_key,
        type_name: &d.type_name,
        category: &d.category,
        urgency: &d.urgency,
        created_at: d.created_at.clone(),
        duplicate_count: d.duplicate_count,
        recipient_name: &d.recipient_name,
    }
}

async fn send(
    deliverer: &Deliverer,
    d: &ClaimedDelivery,
    payload: &Value,
    rendered: Rendered,
) -> Outcome {
    let sent = match d.channel {
        Channel::Inbox => {
            return Outcome::Inbox {
                subject: rendered.subject,
                body: rendered.body,
            };
        }
        Channel::Email => match &d.email {
            Some(address) => {
                deliverer
                    .email
                    .send(
                        &d.recipient_name,
                        address,
                        &rendered.subject,
                        &rendered.body,
                        rendered.html.as_deref(),
                        &d.identity,
                    )
                    .await
            }
            None => Err(SendError::Unsendable(
                "the recipient no longer has an email address".to_owned(),
            )),
        },
        Channel::Sms => match &d.phone {
            Some(phone) => deliverer.sms.send(phone, &rendered.body, &d.identity).await,
            None => Err(SendError::Unsendable(
                "the recipient no longer has a phone number".to_owned(),
            )),
        },
        Channel::Webhook => match (&d.webhook_url, d.webhook_flavor.parse()) {
            (_, Err(e)) => Err(SendError::Unsendable(format!(
                "this worker cannot read the delivery: {e}"
            ))),
            (Some(url), Ok(flavor)) => {
                let hook = Webhook {
                    url,
                    flavor,
                    secret: d.webhook_secret.as_deref(),
                };
                let notice = Notice {
                    subject: &rendered.subject,
                    body: &rendered.body,
                    type_key: &d.type_key,
                    urgency: &d.urgency,
                    payload,
                    message_id: d.message_id,
                    delivery_id: d.id,
                    recipient_key: &d.recipient_key,
                    identity: &d.identity,
                };
                deliverer.webhook.send(&hook, &notice).await
            }
            (None, Ok(_)) => Err(SendError::Unsendable(
                "the recipient no longer has a webhook".to_owned(),
            )),
        },
    };
    if let (Some(slot), Some(feedback)) = (&d.slot, feedback(&sent)) {
        slot.end(&feedback);
    }
    match sent {
        Ok(Sent { provider_ref }) => Outcome::Sent { provider_ref },
        Err(SendError::Transient(e)) => Outcome::Retry(e),
        Err(SendError::Permanent(e) | SendError::Unsendable(e)) => Outcome::Dead(e),
        Err(SendError::Throttled { wait, why, .. }) => Outcome::Throttled { wait, why },
    }
}

/// What a send says about its destination; `None`: nothing (it never got there).
fn feedback(sent: &Result<Sent, SendError>) -> Option<Feedback> {
    Some(match sent {
        Ok(_) => Feedback::Answered { delivered: true },
        Err(SendError::Permanent(_)) => Feedback::Answered { delivered: false },
        Err(SendError::Transient(_)) => Feedback::Overloaded,
        Err(SendError::Throttled {
            wait,
            why,
            whole_destination: true,
        }) => Feedback::Pause {
            wait: *wait,
            why: why.clone(),
        },
        // one robot's own limit: the host answered, and the others on it go on
        Err(SendError::Throttled { .. }) => Feedback::Answered { delivered: false },
        Err(SendError::Unsendable(_)) => return None,
    })
}
