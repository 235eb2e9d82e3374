//! Subscribing a recipient or a group from its page: one form, both subscribers.

use msgpool::admin::subscriptions::{self, Subscriber};
use msgpool::domain::{Channel, Channels, TypeKey};

use crate::form::FormData;

/// `action=subscribe` (type, checked channels; none: all of the type's) or
/// `action=unsubscribe` (type).
pub async fn change(
    db: &msgpool::Db,
    subscriber: &Subscriber,
    form: &FormData,
) -> msgpool::Result<()> {
    let type_key = TypeKey::parse(form.get("type_key").unwrap_or_default())?;
    if form.get("action") == Some("unsubscribe") {
        return subscriptions::unsubscribe(db, &type_key, subscriber).await;
    }
    let channels: Vec<Channel> = form
        .all("channel")
        .iter()
        .map(|c| c.parse())
        .collect::<msgpool::Result<_>>()?;
    let channels = match channels.is_empty() {
        true => None,
        false => Some(Channels::new(channels)?),
    };
    subscriptions::subscribe(db, &type_key, subscriber, channels.as_ref())
        .await
        .map(drop)
}
