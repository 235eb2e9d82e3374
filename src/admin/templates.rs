//! Per-channel templates of a message type: a subject and a body whose variables come from
//! the message payload.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::message_types;
use crate::domain::{Channel, TypeKey};
use crate::template::{Rendered, Renderer, Variables};
use crate::{Error, Result};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Template {
    #[sqlx(try_from = "String")]
    pub type_key: TypeKey,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub subject: String,
    pub body: String,
    pub updated_at: DateTime<Utc>,
}

/// Sets the template of one channel of a type; `subject: None` keeps the current subject.
/// Refused for a channel the type does not use, since it would never be rendered.
pub async fn set(
    pool: &PgPool,
    type_key: &TypeKey,
    channel: Channel,
    subject: Option<&str>,
    body: &str,
) -> Result<Template> {
    let message_type = message_types::get(pool, type_key).await?;
    if !message_type.channels.iter().any(|c| c == channel) {
        return Err(Error::invalid(
            format!(
                "message type {type_key} does not use the {channel} channel (it uses {})",
                message_type.channels
            ),
            format!(
                "add the channel first: msgpool type edit {type_key} --channels {},{channel}",
                message_type.channels
            ),
        ));
    }
    sqlx::query_as(
        "INSERT INTO msgpool.template AS t (type_key, channel, subject, body)
         VALUES ($1, $2::text::msgpool.channel, coalesce($3, ''), $4)
         ON CONFLICT (type_key, channel)
           DO UPDATE SET subject = coalesce($3, t.subject), body = EXCLUDED.body
         RETURNING type_key, channel::text AS channel, subject, body, updated_at",
    )
    .bind(type_key.as_str())
    .bind(channel.as_str())
    .bind(subject)
    .bind(body)
    .fetch_one(pool)
    .await
    .map_err(Error::from_database(format!(
        "setting the {channel} template of {type_key}"
    )))
}

pub async fn for_type(pool: &PgPool, type_key: &TypeKey) -> Result<Vec<Template>> {
    sqlx::query_as(
        "SELECT type_key, channel::text AS channel, subject, body, updated_at
           FROM msgpool.template WHERE type_key = $1 ORDER BY channel",
    )
    .bind(type_key.as_str())
    .fetch_all(pool)
    .await
    .map_err(Error::from_database(format!(
        "reading the templates of {type_key}"
    )))
}

/// What each channel of a type would send for `payload` (to `recipient_name`): the rendered
/// subject and body, or the problem that would park the delivery.
pub async fn preview(
    pool: &PgPool,
    type_key: &TypeKey,
    payload: &serde_json::Value,
    recipient_name: &str,
) -> Result<Vec<(Channel, std::result::Result<Rendered, String>)>> {
    let message_type = message_types::get(pool, type_key).await?;
    let templates = for_type(pool, type_key).await?;
    let renderer = Renderer::default();
    let vars = Variables {
        payload,
        type_key: message_type.key.as_str(),
        type_name: &message_type.name,
        category: &message_type.category,
        urgency: message_type.urgency.as_str(),
        created_at: chrono::Utc::now().to_rfc3339(),
        duplicate_count: 0,
        recipient_name,
    };
    Ok(message_type
        .channels
        .iter()
        .map(|channel| {
            let template = templates.iter().find(|t| t.channel == channel);
            let rendered = renderer.render(
                channel,
                template.map(|t| t.subject.as_str()),
                template.map(|t| t.body.as_str()),
                &vars,
            );
            (channel, rendered)
        })
        .collect())
}
