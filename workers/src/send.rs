//! Sending one rendered claim through its channel ([`crate::channels`]), and what the answer
//! says: the outcome to record, and the feedback its destination's share of sends in flight
//! adapts by ([`crate::destinations`]).

use serde_json::Value;

use msgpool::domain::Channel;
use msgpool::render::Rendered;

use crate::channels::email::EmailSender;
use crate::channels::sms::SmsSender;
use crate::channels::webhook::{Notice, Webhook, WebhookSender};
use crate::channels::{SendError, Sent};
use crate::claim::Claim;
use crate::destinations::Feedback;
use crate::outcomes::Outcome;

/// One sender per channel that leaves the database.
pub struct Senders {
    pub email: EmailSender,
    pub webhook: WebhookSender,
    pub sms: SmsSender,
}

pub(crate) async fn send(
    senders: &Senders,
    claim: &Claim,
    payload: &Value,
    rendered: Rendered,
) -> Outcome {
    let d = &claim.lead;
    let sent = match d.channel {
        Channel::Inbox => {
            return Outcome::Inbox {
                subject: rendered.subject,
                body: rendered.body,
            };
        }
        Channel::Email => match &d.email {
            Some(address) => {
                senders
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
            Some(phone) => senders.sms.send(phone, &rendered.body, &d.identity).await,
            None => Err(SendError::Unsendable(
                "the recipient no longer has a phone number".to_owned(),
            )),
        },
        Channel::Webhook => match (&d.webhook_url, d.webhook_flavor.get()) {
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
                    urgency: d.urgency.as_str(),
                    payload,
                    message_id: d.message_id,
                    delivery_id: d.id,
                    recipient_key: &d.recipient_key,
                    identity: &d.identity,
                };
                senders.webhook.send(&hook, &notice).await
            }
            (None, Ok(_)) => Err(SendError::Unsendable(
                "the recipient no longer has a webhook".to_owned(),
            )),
        },
    };
    if let (Some(slot), Some(feedback)) = (&claim.slot, feedback(&sent)) {
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
