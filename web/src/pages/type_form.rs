//! The message type form (消息表单设置页): every setting of a type, its per-channel templates
//! with a live preview against a sample payload, its quiet hours, and "send a test". A save
//! is one transaction: a refusal is shown beside its field and nothing is written.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::{Value, context};
use msgpool::admin::message_types::{self, MessageTypeSpec};
use msgpool::admin::templates::{self, TemplateSpec};
use msgpool::admin::type_form::{self, QuietWindow, TypeForm};
use msgpool::admin::{quiet_hours, recipients};
use msgpool::domain::{Channel, Channels, QuietAction, RecipientKey, SendPolicy, TypeKey, Urgency};
use msgpool::send::NewMessage;
use serde::Deserialize;

use crate::form::FormData;
use crate::render::{Ctx, escape_html as escape};

const SAMPLE_PAYLOAD: &str = "{\n  \"host\": \"db1\",\n  \"count\": 120\n}";

/// A refusal shown beside a field: (message, hint).
type FieldErrors = BTreeMap<String, (String, Option<String>)>;

/// The form field a refusal belongs beside (the library knows it); `form` for what names no
/// field.
fn field_of(error: &msgpool::Error) -> String {
    error.field().unwrap_or("form").to_owned()
}

fn refusal(error: &msgpool::Error) -> FieldErrors {
    let mut errors = FieldErrors::new();
    errors.insert(
        field_of(error),
        (error.to_string(), error.hint().map(str::to_owned)),
    );
    errors
}

/// The form's values as a new type would start.
fn blank() -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    for (k, v) in [
        ("urgency", "normal"),
        ("send_policy", "immediate"),
        ("time_zone", "Asia/Shanghai"),
        ("dedup_window", "1 hour"),
        ("max_attempts", "8"),
        ("digest", "on"),
        ("channel.inbox", "on"),
        ("sample", SAMPLE_PAYLOAD),
    ] {
        values.insert(k.to_owned(), v.to_owned());
    }
    values
}

/// The form's values for an existing type, its templates and quiet hours.
async fn values_of(db: &msgpool::Db, key: &TypeKey) -> msgpool::Result<BTreeMap<String, String>> {
    let t = message_types::get(db, key).await?;
    let mut values = BTreeMap::new();
    let mut put = |k: String, v: String| {
        values.insert(k, v);
    };
    put("key".into(), t.key.to_string());
    put("name".into(), t.name);
    put("description".into(), t.description);
    put("category".into(), t.category);
    put("urgency".into(), t.urgency.to_string());
    put("send_policy".into(), t.send_policy.to_string());
    put("send_times".into(), t.send_times.join(","));
    put("time_zone".into(), t.time_zone);
    put("send_interval".into(), t.send_interval.unwrap_or_default());
    put("dedup_window".into(), t.dedup_window);
    put("max_attempts".into(), t.max_attempts.to_string());
    if t.digest {
        put("digest".into(), "on".into());
    }
    for channel in t.channels.iter() {
        put(format!("channel.{channel}"), "on".into());
    }
    for template in templates::list(db, Some(key)).await? {
        let c = template.channel;
        put(format!("tpl.{c}.subject"), template.subject);
        put(format!("tpl.{c}.body"), template.body);
        put(
            format!("tpl.{c}.html_body"),
            template.html_body.unwrap_or_default(),
        );
        put(
            format!("tpl.{c}.digest_subject"),
            template.digest_subject.unwrap_or_default(),
        );
        put(
            format!("tpl.{c}.digest_body"),
            template.digest_body.unwrap_or_default(),
        );
    }
    for q in quiet_hours::list(db, Some(key)).await? {
        let c = q.channel;
        put(format!("quiet.{c}.from"), q.starts);
        put(format!("quiet.{c}.to"), q.ends);
        put(format!("quiet.{c}.below"), q.below.to_string());
        if q.action == QuietAction::Drop {
            put(format!("quiet.{c}.drop"), "on".into());
        }
    }
    put("sample".into(), SAMPLE_PAYLOAD.into());
    Ok(values)
}

/// The type's channels checked on the form.
fn checked_channels(form: &FormData) -> Vec<Channel> {
    Channel::ALL
        .iter()
        .copied()
        .filter(|c| form.has(&format!("channel.{c}")))
        .collect()
}

/// The category picked, or the new one typed.
fn category(form: &FormData) -> String {
    form.filled("new_category")
        .unwrap_or_else(|| form.get("category").unwrap_or_default().to_owned())
}

/// Each checked channel's template as typed; a blank part is `None`.
fn typed_templates(form: &FormData) -> Vec<(Channel, TemplateSpec)> {
    checked_channels(form)
        .into_iter()
        .map(|channel| {
            let part = |name: &str| form.filled(&format!("tpl.{channel}.{name}"));
            let typed = TemplateSpec {
                subject: part("subject"),
                body: part("body"),
                html_body: part("html_body").filter(|_| channel == Channel::Email),
                digest_subject: part("digest_subject"),
                digest_body: part("digest_body"),
            };
            (channel, typed)
        })
        .collect()
}

/// Reads the form into what `save` writes; a value that cannot even be parsed is refused
/// here, beside its field.
fn read_form(form: &FormData) -> Result<TypeForm, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut refuse = |field: &str, e: msgpool::Error| {
        errors.insert(
            field.to_owned(),
            (e.to_string(), e.hint().map(str::to_owned)),
        );
    };
    let channels = checked_channels(form);
    let channels = match Channels::new(channels.iter().copied()) {
        Ok(c) => Some(c),
        Err(e) => {
            refuse("channels", e);
            None
        }
    };
    let urgency = form.filled("urgency").map(|u| u.parse::<Urgency>());
    let policy = form.filled("send_policy").map(|p| p.parse::<SendPolicy>());
    let max_attempts = form.filled("max_attempts").map(|m| {
        m.parse::<i32>().map_err(|_| {
            msgpool::Error::invalid(
                format!("max attempts {m:?} is not a number"),
                "a whole number between 1 and 100",
            )
        })
    });
    let mut spec = MessageTypeSpec {
        name: Some(form.get("name").unwrap_or_default().trim().to_owned()),
        description: Some(form.get("description").unwrap_or_default().to_owned()),
        category: Some(category(form)),
        channels,
        send_times: Some(
            form.get("send_times")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        time_zone: form.filled("time_zone"),
        send_interval: form.filled("send_interval"),
        dedup_window: form.filled("dedup_window"),
        digest: Some(form.has("digest")),
        ..MessageTypeSpec::default()
    };
    match urgency.transpose() {
        Ok(u) => spec.urgency = u,
        Err(e) => refuse("urgency", e),
    }
    match policy.transpose() {
        Ok(p) => spec.send_policy = p,
        Err(e) => refuse("send_policy", e),
    }
    match max_attempts.transpose() {
        Ok(m) => spec.max_attempts = m,
        Err(e) => refuse("max_attempts", e),
    }
    let mut templates = Vec::new();
    let mut quiet = Vec::new();
    for (channel, typed) in typed_templates(form) {
        // a channel without a body keeps its template; one with a body is set whole
        if typed.body.is_some() {
            templates.push((
                channel,
                TemplateSpec {
                    subject: Some(typed.subject.unwrap_or_default()),
                    html_body: (channel == Channel::Email)
                        .then(|| typed.html_body.unwrap_or_default()),
                    ..typed
                },
            ));
        }
        let q = |name: &str| form.filled(&format!("quiet.{channel}.{name}"));
        let window = match (q("from"), q("to")) {
            (Some(starts), Some(ends)) => match q("below").unwrap_or("urgent".into()).parse() {
                Ok(below) => Some(QuietWindow {
                    starts,
                    ends,
                    below,
                    action: if q("drop").is_some() {
                        QuietAction::Drop
                    } else {
                        QuietAction::Defer
                    },
                }),
                Err(e) => {
                    refuse("quiet_hours", e);
                    None
                }
            },
            _ => None,
        };
        quiet.push((channel, window));
    }
    if errors.is_empty() {
        Ok(TypeForm {
            spec,
            templates,
            quiet_hours: quiet,
        })
    } else {
        Err(errors)
    }
}

/// The form page: `key` None for a new type.
async fn show(
    state: &crate::state::State,
    ctx: &Ctx,
    key: Option<&str>,
    values: BTreeMap<String, String>,
    errors: FieldErrors,
    saved: bool,
) -> Response {
    let db = &state.admin(ctx);
    let lists = async {
        let types = message_types::list(db).await?;
        let recipients = recipients::list(db).await?;
        Ok::<_, msgpool::Error>((types, recipients))
    };
    let (types, recipients) = match lists.await {
        Ok(lists) => lists,
        Err(e) => return state.pages.problem(ctx, &e),
    };
    let mut categories: Vec<String> = types
        .iter()
        .map(|t| t.category.clone())
        .filter(|c| !c.is_empty())
        .collect();
    categories.sort();
    categories.dedup();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = state.pages.render(
        ctx,
        "type_form.html",
        context! {
            key, values, errors, saved, categories,
            recipients => recipients.iter().filter(|r| r.enabled).map(|r| r.key.to_string()).collect::<Vec<_>>(),
            urgencies => Urgency::ALL.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
            channels => Channel::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            policies => SendPolicy::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        },
    );
    (status, page).into_response()
}

pub async fn new(State(state): State<crate::state::State>, ctx: Ctx) -> Response {
    show(&state, &ctx, None, blank(), FieldErrors::new(), false).await
}

#[derive(Debug, Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

pub async fn edit(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path(key): Path<String>,
    Query(saved): Query<Saved>,
) -> Response {
    let values = match TypeKey::parse(&key) {
        Ok(k) => values_of(&state.admin(&ctx), &k).await,
        Err(e) => Err(e),
    };
    match values {
        Ok(values) => {
            show(
                &state,
                &ctx,
                Some(&key),
                values,
                FieldErrors::new(),
                saved.saved.is_some(),
            )
            .await
        }
        Err(e) => state.pages.problem(&ctx, &e),
    }
}

pub async fn create(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    form: FormData,
) -> Response {
    let key = form.get("key").unwrap_or_default().trim().to_owned();
    save(&state, &ctx, &key, true, form).await
}

pub async fn update(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path(key): Path<String>,
    form: FormData,
) -> Response {
    save(&state, &ctx, &key, false, form).await
}

async fn save(
    state: &crate::state::State,
    ctx: &Ctx,
    key: &str,
    new: bool,
    form: FormData,
) -> Response {
    let shown_key = (!new).then_some(key);
    let type_key = match TypeKey::parse(key) {
        Ok(k) => k,
        Err(e) => {
            let mut errors = FieldErrors::new();
            errors.insert("key".into(), (e.to_string(), e.hint().map(str::to_owned)));
            return show(state, ctx, shown_key, form.values(), errors, false).await;
        }
    };
    let parsed = match read_form(&form) {
        Ok(parsed) => parsed,
        Err(errors) => return show(state, ctx, shown_key, form.values(), errors, false).await,
    };
    let saved = type_form::save(&state.admin(ctx), &type_key, new, &parsed).await;
    super::after_change(
        state,
        ctx,
        saved.map(drop),
        &format!("/types/{type_key}?saved=1"),
        async |e| show(state, ctx, shown_key, form.values(), refusal(&e), false).await,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct KeyQuery {
    #[serde(default)]
    key: String,
}

/// The key as it is typed: its format, and whether it is taken.
pub async fn check_key(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Query(query): Query<KeyQuery>,
) -> Response {
    let key = query.key.trim();
    if key.is_empty() {
        return "".into_response();
    }
    let problem = match TypeKey::parse(key) {
        Err(e) => Some(format!("{e} — {}", e.hint().unwrap_or_default())),
        Ok(k) => match message_types::get(&state.admin(&ctx), &k).await {
            Ok(_) => Some(format!("{k}: {}", ctx.t("key.taken"))),
            // MP001: no such type, so the key is free
            Err(e) if e.sqlstate() == Some("MP001") => None,
            Err(e) => Some(e.to_string()),
        },
    };
    match problem {
        Some(p) => format!("<span class=\"field-error\">{}</span>", escape(&p)).into_response(),
        None => "<span class=\"field-ok\">✓</span>".into_response(),
    }
}

/// What each checked channel would send for the sample payload, from the form's templates
/// as they are typed (nothing is saved).
pub async fn preview(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    form: FormData,
) -> Response {
    let category = category(&form);
    let typed = typed_templates(&form);
    let draft = templates::Draft {
        type_key: form.get("key").unwrap_or_default(),
        type_name: form.get("name").unwrap_or_default(),
        category: &category,
        urgency: form.get("urgency").unwrap_or("normal"),
        time_zone: form
            .get("time_zone")
            .filter(|z| !z.trim().is_empty())
            .unwrap_or("UTC"),
        digest: form.has("digest"),
        channels: typed.iter().map(|(c, t)| (*c, t.into())).collect(),
    };
    let previewed = async {
        let payload = sample(&form)?;
        templates::preview_draft(&state.admin(&ctx), &draft, &payload, "张三").await
    };
    let (rendered, problem): (Vec<Value>, _) = match previewed.await {
        Ok(previews) => (
            previews
                .into_iter()
                .map(|p| {
                    context! {
                        channel => p.channel.as_str(),
                        message => shown(p.message),
                        digest => p.digest.map(shown),
                    }
                })
                .collect(),
            None,
        ),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    state
        .pages
        .render(&ctx, "preview.html", context! { rendered, problem })
}

/// A rendered part as the preview shows it, or the problem that would park it.
fn shown(rendered: Result<msgpool::render::Rendered, String>) -> Value {
    match rendered {
        Ok(r) => context! { subject => r.subject, body => r.body, html => r.html },
        Err(problem) => context! { problem },
    }
}

/// The sample payload the form's preview and test send use.
fn sample(form: &FormData) -> msgpool::Result<serde_json::Value> {
    serde_json::from_str(form.get("sample").unwrap_or("{}")).map_err(|e| {
        msgpool::Error::invalid(
            format!("the sample payload is not JSON: {e}"),
            "fix the sample payload, e.g. {\"host\": \"db1\"}",
        )
    })
}

/// Sends the sample payload to one recipient, as a real message of this type.
pub async fn send_test(
    State(state): State<crate::state::State>,
    ctx: Ctx,
    Path(key): Path<String>,
    form: FormData,
) -> Response {
    let sent = async {
        let key = TypeKey::parse(&key)?;
        let recipient = RecipientKey::parse(form.get("recipient").unwrap_or_default())?;
        let payload = sample(&form)?;
        let mut message = NewMessage::new(key, payload);
        message.recipients = Some(vec![recipient.clone()]);
        message.source = Some("console test".to_owned());
        let id = msgpool::send::send(&state.admin(&ctx), &message).await?;
        Ok::<_, msgpool::Error>((id, recipient))
    };
    let (class, text, link) = match sent.await {
        Ok((id, recipient)) => (
            "notice",
            format!("{} #{id} → {recipient}", ctx.t("test.sent")),
            Some(format!("/messages/{id}")),
        ),
        Err(e) => (
            "field-error",
            format!(
                "{e}{}",
                e.hint().map(|h| format!(" — {h}")).unwrap_or_default()
            ),
            None,
        ),
    };
    let link = link
        .map(|l| format!(" <a href=\"{l}\">{}</a>", escape(&ctx.t("nav.messages"))))
        .unwrap_or_default();
    format!(
        "<p class=\"{class}\" id=\"test-result\">{}{link}</p>",
        escape(&text)
    )
    .into_response()
}
