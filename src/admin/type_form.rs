//! A message type with its per-channel templates and quiet hours, saved as one: what the
//! console's type form writes, all or nothing.

use super::message_types::{self, MessageType, MessageTypeSpec};
use super::templates::{self, TemplateSpec};
use super::{Keyed, quiet_hours};
use crate::domain::{Channel, QuietAction, TypeKey, Urgency};
use crate::{Db, Error, Result};

/// A type with its per-channel templates and quiet hours, as one form edits them.
#[derive(Debug, Clone, Default)]
pub struct TypeForm {
    pub spec: MessageTypeSpec,
    /// Templates to set; a channel left out keeps its template.
    pub templates: Vec<(Channel, TemplateSpec)>,
    /// Quiet hours per channel: `Some` sets the window, `None` removes it.
    pub quiet_hours: Vec<(Channel, Option<QuietWindow>)>,
}

/// One channel's quiet hours: local times HH:MM (the window may wrap midnight).
#[derive(Debug, Clone)]
pub struct QuietWindow {
    pub starts: String,
    pub ends: String,
    pub below: Urgency,
    pub action: QuietAction,
}

/// Adds (`new`) or changes a type with its templates and quiet hours, all or nothing: a
/// refusal of any part writes none of it.
pub async fn save(pool: &Db, key: &TypeKey, new: bool, form: &TypeForm) -> Result<MessageType> {
    let context = format!("saving message type {key}");
    let mut tx = pool.begin().await.map_err(Error::from_database(&context))?;
    if new {
        let name = form.spec.name.as_deref().ok_or_else(|| {
            Error::invalid("a new message type needs a name", "give it a name").beside("name")
        })?;
        sqlx::query(Keyed::MessageType.insert_sql())
            .bind(key.as_str())
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(Error::from_database(&context))?;
    }
    if message_types::apply(&mut tx, key, &form.spec)
        .await
        .map_err(Error::from_database(&context))?
        .is_none()
    {
        return Err(Keyed::MessageType.not_found(&mut *tx, key.as_str()).await);
    }
    for (channel, spec) in &form.templates {
        templates::set_in(&mut tx, key, *channel, spec)
            .await
            .map_err(|e| e.beside("templates"))?;
    }
    for (channel, window) in &form.quiet_hours {
        match window {
            Some(w) => {
                let times = (w.starts.as_str(), w.ends.as_str());
                quiet_hours::set_in(&mut tx, key, *channel, times, w.below, w.action)
                    .await
                    .map_err(|e| e.beside("quiet_hours"))?;
            }
            None => {
                quiet_hours::clear(&mut *tx, key, *channel)
                    .await
                    .map_err(|e| e.beside("quiet_hours"))?;
            }
        }
    }
    let saved = message_types::get_in(&mut tx, key).await?;
    tx.commit().await.map_err(Error::from_database(&context))?;
    Ok(saved)
}
