//! Per-channel templates of a message type: a subject and a body whose variables come from
//! the message payload.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::{Keyed, message_types};
use crate::domain::{Channel, TypeKey};
use crate::render::{Message, Parts, Rendered, Renderer, Variables};
use crate::{Db, Error, Result};

/// A template's columns as [`Template`] reads them.
macro_rules! columns {
    () => {
        "type_key, channel::text AS channel, subject, body, html_body, digest_subject, digest_body, updated_at"
    };
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Template {
    #[sqlx(try_from = "String")]
    pub type_key: TypeKey,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub subject: String,
    /// The plain text (of an email with an HTML part, its plain-text part).
    pub body: String,
    /// An email's HTML part; `None`: plain text only.
    pub html_body: Option<String>,
    /// The digest's own template (messages gathered for one recipient); `None`: built in.
    pub digest_subject: Option<String>,
    pub digest_body: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// The parts of a template to set; `None` keeps a part as it is. A new template needs a body.
#[derive(Debug, Clone, Default)]
pub struct TemplateSpec {
    pub subject: Option<String>,
    pub body: Option<String>,
    /// An email's HTML part; `Some("")` removes it.
    pub html_body: Option<String>,
    pub digest_subject: Option<String>,
    pub digest_body: Option<String>,
}

/// Sets the template of one channel of a type, the parts given in `spec`.
/// Refused for a channel the type does not use, since it would never be rendered.
pub async fn set(
    pool: &Db,
    type_key: &TypeKey,
    channel: Channel,
    spec: &TemplateSpec,
) -> Result<Template> {
    let context = format!("setting the {channel} template of {type_key}");
    let mut tx = pool.begin().await.map_err(Error::from_database(&context))?;
    let template = set_in(&mut tx, type_key, channel, spec).await?;
    tx.commit().await.map_err(Error::from_database(&context))?;
    Ok(template)
}

/// [`set`] inside the caller's transaction.
pub(crate) async fn set_in(
    conn: &mut PgConnection,
    type_key: &TypeKey,
    channel: Channel,
    spec: &TemplateSpec,
) -> Result<Template> {
    let message_type = message_types::get_in(conn, type_key).await?;
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
    check(channel, spec)?;
    let context = format!("setting the {channel} template of {type_key}");
    let changed: Option<Template> = sqlx::query_as(concat!(
        "UPDATE msgpool.template SET subject = coalesce($3, subject), body = coalesce($4, body),
                digest_subject = coalesce($5, digest_subject), digest_body = coalesce($6, digest_body),
                html_body = CASE WHEN $7::text IS NULL THEN html_body ELSE nullif($7, '') END
          WHERE type_key = $1 AND channel = $2::text::msgpool.channel
         RETURNING ",
        columns!()
    ))
    .bind(type_key.as_str())
    .bind(channel.as_str())
    .bind(spec.subject.as_deref())
    .bind(spec.body.as_deref())
    .bind(spec.digest_subject.as_deref())
    .bind(spec.digest_body.as_deref())
    .bind(spec.html_body.as_deref())
    .fetch_optional(&mut *conn)
    .await
    .map_err(Error::from_database(&context))?;
    if let Some(template) = changed {
        return Ok(template);
    }
    let body = spec.body.as_deref().ok_or_else(|| {
        Error::invalid(
            format!("{type_key} has no {channel} template yet, and a template needs a body"),
            "give --body, the plain text (of an HTML email, its plain-text part); a digest or HTML part alone is not enough",
        )
    })?;
    sqlx::query_as(concat!(
        "INSERT INTO msgpool.template (type_key, channel, subject, body, digest_subject, digest_body, html_body)
         VALUES ($1, $2::text::msgpool.channel, coalesce($3, ''), $4, $5, $6, nullif($7, ''))
         RETURNING ",
        columns!()
    ))
    .bind(type_key.as_str())
    .bind(channel.as_str())
    .bind(spec.subject.as_deref())
    .bind(body)
    .bind(spec.digest_subject.as_deref())
    .bind(spec.digest_body.as_deref())
    .bind(spec.html_body.as_deref())
    .fetch_one(&mut *conn)
    .await
    .map_err(Error::from_database(&context))
}

/// Refuses a part that the template engine cannot read, before anything is written: a
/// broken template would otherwise show only when its deliveries go dead. (The check is not
/// in SQL: the engine is the worker's, minijinja, which PostgreSQL does not have. A DBA's
/// UPDATE of msgpool.template is checked by `msgpool template preview`.)
fn check(channel: Channel, spec: &TemplateSpec) -> Result<()> {
    let renderer = Renderer::default();
    let parts = [
        ("subject", &spec.subject),
        ("body", &spec.body),
        ("HTML part", &spec.html_body),
        ("digest subject", &spec.digest_subject),
        ("digest body", &spec.digest_body),
    ];
    for (part, source) in parts {
        if let Some(source) = source
            && let Err(problem) = renderer.check(source)
        {
            return Err(Error::invalid(
                format!("the {channel} template's {part} cannot be read: {problem}"),
                "fix it and set it again; `msgpool template preview TYPE --data JSON` shows what it renders",
            ));
        }
    }
    Ok(())
}

/// The templates of one type, or of every type; an unknown type is refused with the nearest.
pub async fn list(pool: &Db, type_key: Option<&TypeKey>) -> Result<Vec<Template>> {
    if let Some(key) = type_key {
        Keyed::MessageType.require(pool, key.as_str()).await?;
    }
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM msgpool.template WHERE $1::text IS NULL OR type_key = $1 ORDER BY type_key, channel"
    ))
    .bind(type_key.map(TypeKey::as_str))
    .fetch_all(pool)
    .await
    .map_err(Error::from_database("listing templates"))
}

/// Removes the template of one channel of a type: that channel goes back to the built-in one.
pub async fn remove(pool: &Db, type_key: &TypeKey, channel: Channel) -> Result<()> {
    let removed = sqlx::query(
        "DELETE FROM msgpool.template WHERE type_key = $1 AND channel = $2::text::msgpool.channel",
    )
    .bind(type_key.as_str())
    .bind(channel.as_str())
    .execute(pool)
    .await
    .map_err(Error::from_database(format!(
        "removing the {channel} template of {type_key}"
    )))?;
    if removed.rows_affected() == 0 {
        Keyed::MessageType.require(pool, type_key.as_str()).await?;
        return Err(Error::not_found(
            format!("{type_key} has no {channel} template"),
            Some(format!(
                "see its templates with: msgpool template list {type_key}"
            )),
        ));
    }
    Ok(())
}

/// What each channel of a type would send for `payload` (to `recipient_name`): the rendered
/// subject and body, or the problem that would park the delivery.
pub async fn preview(
    pool: &Db,
    type_key: &TypeKey,
    payload: &serde_json::Value,
    recipient_name: &str,
) -> Result<Vec<ChannelPreview>> {
    let message_type = message_types::get(pool, type_key).await?;
    let templates = list(pool, Some(type_key)).await?;
    let draft = Draft {
        type_key: message_type.key.as_str(),
        type_name: &message_type.name,
        category: &message_type.category,
        urgency: message_type.urgency.as_str(),
        time_zone: &message_type.time_zone,
        digest: message_type.digest,
        channels: message_type
            .channels
            .iter()
            .map(|channel| {
                let template = templates.iter().find(|t| t.channel == channel);
                (channel, template.map(Parts::from).unwrap_or_default())
            })
            .collect(),
    };
    preview_draft(pool, &draft, payload, recipient_name).await
}

/// A type and its templates as they stand in a form, saved or not.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    pub type_key: &'a str,
    pub type_name: &'a str,
    pub category: &'a str,
    pub urgency: &'a str,
    pub time_zone: &'a str,
    /// Whether messages due together go out as one digest.
    pub digest: bool,
    pub channels: Vec<(Channel, Parts<'a>)>,
}

impl<'a> From<&'a Template> for Parts<'a> {
    fn from(t: &'a Template) -> Self {
        Parts {
            subject: Some(&t.subject),
            body: Some(&t.body),
            html: t.html_body.as_deref(),
            digest_subject: t.digest_subject.as_deref(),
            digest_body: t.digest_body.as_deref(),
        }
    }
}

/// A template as typed, unsaved: a part left out is the built-in one.
impl<'a> From<&'a TemplateSpec> for Parts<'a> {
    fn from(t: &'a TemplateSpec) -> Self {
        Parts {
            subject: t.subject.as_deref(),
            body: t.body.as_deref(),
            html: t.html_body.as_deref(),
            digest_subject: t.digest_subject.as_deref(),
            digest_body: t.digest_body.as_deref(),
        }
    }
}

/// What one channel would send: the message, and for a type that digests, a digest of
/// [`DIGEST_SAMPLE`] such messages.
#[derive(Debug, Clone)]
pub struct ChannelPreview {
    pub channel: Channel,
    pub message: std::result::Result<Rendered, String>,
    /// `None` when the type does not digest or the message itself cannot be rendered.
    pub digest: Option<std::result::Result<Rendered, String>>,
}

/// How many copies of the sample a digest preview gathers: enough to show its list.
pub const DIGEST_SAMPLE: usize = 2;

/// What each channel of `draft` would send for `payload`, as [`preview`] says it for a saved
/// type: "now" in the draft's time zone, as the worker would write it.
pub async fn preview_draft(
    pool: &Db,
    draft: &Draft<'_>,
    payload: &serde_json::Value,
    recipient_name: &str,
) -> Result<Vec<ChannelPreview>> {
    let created_at: String = sqlx::query_scalar("SELECT msgpool.local_time(msgpool.clock(), $1)")
        .bind(draft.time_zone)
        .fetch_one(pool)
        .await
        .map_err(Error::from_database("reading the clock"))?;
    let vars = Variables {
        payload,
        type_key: draft.type_key,
        type_name: draft.type_name,
        category: draft.category,
        urgency: draft.urgency,
        created_at,
        duplicate_count: 0,
        recipient_name,
    };
    let renderer = Renderer::default();
    // the digest preview gathers copies of the sample, numbered as messages
    fn sample<'a>(message_id: i64, parts: Parts<'a>, vars: &Variables<'a>) -> Message<'a> {
        Message {
            message_id,
            parts,
            vars: vars.clone(),
        }
    }
    Ok(draft
        .channels
        .iter()
        .map(|(channel, parts)| {
            let lead = sample(1, *parts, &vars);
            let message = renderer.render_delivery(*channel, &lead, &[]);
            let digest = match &message {
                Ok(_) if draft.digest => {
                    let gathered: Vec<Message> = (2..=DIGEST_SAMPLE as i64)
                        .map(|id| sample(id, *parts, &vars))
                        .collect();
                    Some(renderer.render_delivery(*channel, &lead, &gathered))
                }
                _ => None,
            };
            ChannelPreview {
                channel: *channel,
                message,
                digest,
            }
        })
        .collect())
}
