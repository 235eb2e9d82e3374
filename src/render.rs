//! Rendering what one delivery sends on its channel: the type's template for that channel
//! (or the built-in default) with the payload's keys and msgpool's own variables. One
//! function, [`Renderer::render_delivery`], serves the worker and the preview alike.
//!
//! Variables: every key of the payload, plus `type_key`, `type_name`, `category`, `urgency`,
//! `created_at` (in the type's time zone with its offset: `2026-12-02 23:15:17+08:00`),
//! `duplicate_count` (repeats counted by dedup when it was rendered) and `recipient_name`.
//! A variable the template names but the payload lacks is an error, never silently blank text.
//!
//! A digest (several messages gathered for one recipient) is rendered twice over: each
//! message by the channel's template, then the digest template with `messages` (each with
//! `message_id`, `created_at`, `duplicate_count`, `payload`, and its rendered `subject` and
//! `body`) and `count`, beside the first message's variables.
//!
//! Every render has a budget: [`RENDER_FUEL`] steps of the template engine and
//! [`RENDER_MAX_BYTES`] of output per part. A template is written by an administrator, but a
//! loop over a payload's list can still run away; over budget it fails alone, with its reason.

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::domain::Channel;

/// Steps of the template engine one part of a render may take (minijinja's fuel): enough for
/// any template a person writes, and it ends three nested loops of 1,000 within milliseconds
/// instead of minutes.
pub const RENDER_FUEL: u64 = 2_000_000;
/// Bytes one part of a render (a subject, a body) may write.
pub const RENDER_MAX_BYTES: usize = 512 * 1024;

/// The built-in template of a channel without one of its own.
const DEFAULT_SUBJECT: &str = "[{{ urgency }}] {{ type_name }}";
const DEFAULT_BODY: &str = "{{ type_name }}{% if category %} ({{ category }}){% endif %}\n\
{% for key, value in payload|items %}{{ key }}: {{ value }}\n{% endfor %}";

/// The built-in digest: each message as the channel's template rendered it.
const DEFAULT_DIGEST_SUBJECT: &str = "[{{ urgency }}] {{ type_name }}: {{ count }} messages";
const DEFAULT_DIGEST_BODY: &str = "{{ type_name }}: {{ count }} messages\n{% for m in messages %}\n#{{ loop.index }} {{ m.created_at }}{% if m.duplicate_count %} (seen {{ m.duplicate_count + 1 }} times){% endif %}\n{{ m.body }}\n{% endfor %}";

/// One message of a digest, as the digest template sees it.
#[derive(Debug, Clone, Serialize)]
struct DigestItem {
    pub message_id: i64,
    pub created_at: String,
    pub duplicate_count: i32,
    pub payload: serde_json::Value,
    pub subject: String,
    pub body: String,
}

impl DigestItem {
    /// Message `message_id` as the digest lists it: its variables and its rendering.
    fn of(message_id: i64, vars: &Variables<'_>, rendered: Rendered) -> DigestItem {
        DigestItem {
            message_id,
            created_at: vars.created_at.clone(),
            duplicate_count: vars.duplicate_count,
            payload: vars.payload.clone(),
            subject: rendered.subject,
            body: rendered.body,
        }
    }
}

/// One channel's template: without a body, the built-in one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parts<'a> {
    pub subject: Option<&'a str>,
    pub body: Option<&'a str>,
    /// An email's HTML part.
    pub html: Option<&'a str>,
    /// The digest's template: without a body, the built-in one.
    pub digest_subject: Option<&'a str>,
    pub digest_body: Option<&'a str>,
}

/// One message as a delivery renders it: its channel's template and its variables.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub message_id: i64,
    pub parts: Parts<'a>,
    pub vars: Variables<'a>,
}

/// What a template can refer to.
#[derive(Debug, Clone, Serialize)]
pub struct Variables<'a> {
    pub payload: &'a serde_json::Value,
    pub type_key: &'a str,
    pub type_name: &'a str,
    pub category: &'a str,
    pub urgency: &'a str,
    pub created_at: String,
    pub duplicate_count: i32,
    pub recipient_name: &'a str,
}

/// A rendered subject and body, and an email's HTML part when its template has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// Renders templates; one per worker, shared by its tasks.
pub struct Renderer {
    env: Environment<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(RENDER_FUEL));
        Renderer { env }
    }
}

impl Renderer {
    /// What one delivery sends on `channel`: `lead` alone, or, with messages `gathered` into
    /// its digest, the digest of them all (the lead's digest template over each message as
    /// its own template renders it). A digest is plain text: no HTML part.
    pub fn render_delivery(
        &self,
        channel: Channel,
        lead: &Message<'_>,
        gathered: &[Message<'_>],
    ) -> Result<Rendered, String> {
        let single = |m: &Message<'_>, html: Option<&str>| {
            self.render(channel, m.parts.subject, m.parts.body, html, &m.vars)
        };
        if gathered.is_empty() {
            let html = lead.parts.html.filter(|_| channel == Channel::Email);
            return single(lead, html);
        }
        let mut items = Vec::with_capacity(gathered.len() + 1);
        for m in std::iter::once(lead).chain(gathered) {
            items.push(DigestItem::of(m.message_id, &m.vars, single(m, None)?));
        }
        self.render_digest(
            channel,
            lead.parts.digest_subject,
            lead.parts.digest_body,
            &lead.vars,
            &items,
        )
    }

    /// Ok when `source` is a template the engine can read; else what is wrong, and where.
    pub fn check(&self, source: &str) -> Result<(), String> {
        self.env
            .template_from_str(source)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// Renders `subject` and `body` (the channel's template; `None` for the built-in one),
    /// and `html`, an email's HTML part, with the payload's values HTML-escaped. The error
    /// names the part and the problem, e.g. "body: undefined value `count`".
    fn render(
        &self,
        channel: Channel,
        subject: Option<&str>,
        body: Option<&str>,
        html: Option<&str>,
        vars: &Variables<'_>,
    ) -> Result<Rendered, String> {
        let (subject, body) = match body {
            Some(body) => (subject.unwrap_or_default(), body),
            None => (DEFAULT_SUBJECT, DEFAULT_BODY),
        };
        let context = context(vars);
        let mut rendered = self.render_parts(channel, "template", subject, body, &context)?;
        rendered.html = html
            .map(|html| self.render_part(channel, "template", "HTML part", html, &context, true))
            .transpose()?;
        Ok(rendered)
    }

    /// Renders a digest of `messages` (each already rendered by [`Renderer::render`]) with
    /// the digest template, or the built-in one for `None`.
    fn render_digest(
        &self,
        channel: Channel,
        subject: Option<&str>,
        body: Option<&str>,
        vars: &Variables<'_>,
        messages: &[DigestItem],
    ) -> Result<Rendered, String> {
        let (subject, body) = match body {
            Some(body) => (subject.unwrap_or_default(), body),
            None => (DEFAULT_DIGEST_SUBJECT, DEFAULT_DIGEST_BODY),
        };
        let mut context = context(vars);
        context.insert("count".into(), messages.len().into());
        context.insert(
            "messages".into(),
            serde_json::to_value(messages).map_err(|e| e.to_string())?,
        );
        self.render_parts(channel, "digest template", subject, body, &context)
    }

    fn render_parts(
        &self,
        channel: Channel,
        which: &str,
        subject: &str,
        body: &str,
        context: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Rendered, String> {
        Ok(Rendered {
            subject: self.render_part(channel, which, "subject", subject, context, false)?,
            body: self
                .render_part(channel, which, "body", body, context, false)?
                .trim_end()
                .to_owned(),
            html: None,
        })
    }

    /// One part; `html` escapes the payload's values (minijinja's auto-escape goes by the
    /// template's name), which plain-text parts must not have.
    fn render_part(
        &self,
        channel: Channel,
        which: &str,
        part: &str,
        source: &str,
        context: &serde_json::Map<String, serde_json::Value>,
        html: bool,
    ) -> Result<String, String> {
        let fail = |problem: String| format!("{channel} {which} {part}: {problem}");
        let name = if html { "part.html" } else { "part.txt" };
        let template = self
            .env
            .template_from_named_str(name, source)
            .map_err(|e| fail(e.to_string()))?;
        let mut out = Capped::default();
        template
            .render_captured_to(minijinja::Value::from_serialize(context), &mut out)
            .map_err(|e| {
                if e.kind() == minijinja::ErrorKind::OutOfFuel {
                    return fail(format!(
                        "template exceeded its budget of {RENDER_FUEL} steps (a loop too long?)"
                    ));
                }
                if e.kind() == minijinja::ErrorKind::WriteFailure {
                    return fail(format!(
                        "template output over the limit of {} KiB",
                        RENDER_MAX_BYTES / 1024
                    ));
                }
                if e.kind() != minijinja::ErrorKind::UndefinedError {
                    return fail(e.to_string());
                }
                let mut missing: Vec<String> = template
                    .undeclared_variables(false)
                    .into_iter()
                    .filter(|v| !context.contains_key(v))
                    .collect();
                missing.sort();
                fail(format!(
                    "{} not in the payload; add it to the payload or change the template",
                    missing.join(", ")
                ))
            })?;
        String::from_utf8(out.0).map_err(|e| fail(e.to_string()))
    }
}

/// The output of one part, refused past [`RENDER_MAX_BYTES`].
#[derive(Default)]
struct Capped(Vec<u8>);

impl std::io::Write for Capped {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + bytes.len() > RENDER_MAX_BYTES {
            return Err(std::io::Error::other("output over the limit"));
        }
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The payload's keys at the top level, msgpool's variables beside them (they win a clash),
/// and the whole payload as `payload`.
fn context(vars: &Variables<'_>) -> serde_json::Map<String, serde_json::Value> {
    let mut map = match vars.payload {
        serde_json::Value::Object(object) => object.clone(),
        _ => serde_json::Map::new(),
    };
    if let Ok(serde_json::Value::Object(own)) = serde_json::to_value(vars) {
        map.extend(own);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(payload: &serde_json::Value) -> Variables<'_> {
        Variables {
            payload,
            type_key: "order.dispatch_backlog",
            type_name: "派单堆积",
            category: "订单异常",
            urgency: "high",
            created_at: "2026-11-26T08:00:00Z".into(),
            duplicate_count: 0,
            recipient_name: "张三",
        }
    }

    #[test]
    fn renders_payload_keys_and_builtins() {
        let payload = serde_json::json!({"count": 120});
        let r = Renderer::default()
            .render(
                Channel::Email,
                Some("Dispatch backlog: {{ count }}"),
                Some("{{ recipient_name }}: {{ count }} orders ({{ urgency }})"),
                None,
                &vars(&payload),
            )
            .expect("renders");
        assert_eq!(
            r,
            Rendered {
                subject: "Dispatch backlog: 120".into(),
                body: "张三: 120 orders (high)".into(),
                html: None,
            }
        );
    }

    #[test]
    fn a_missing_variable_is_an_error_naming_the_part() {
        let payload = serde_json::json!({});
        let err = Renderer::default()
            .render(
                Channel::Sms,
                None,
                Some("{{ count }} orders"),
                None,
                &vars(&payload),
            )
            .expect_err("count is missing");
        assert_eq!(
            err,
            "sms template body: count not in the payload; add it to the payload or change the template"
        );
    }

    #[test]
    fn an_html_part_escapes_the_payload_and_the_plain_text_does_not() {
        let payload = serde_json::json!({"who": "<b>Tom & Jerry</b>"});
        let r = Renderer::default()
            .render(
                Channel::Email,
                Some("{{ who }}"),
                Some("by {{ who }}"),
                Some("<p>by {{ who }}</p>"),
                &vars(&payload),
            )
            .expect("renders");
        assert_eq!(r.subject, "<b>Tom & Jerry</b>");
        assert_eq!(r.body, "by <b>Tom & Jerry</b>");
        assert_eq!(
            r.html.as_deref(),
            Some("<p>by &lt;b&gt;Tom &amp; Jerry&lt;&#x2f;b&gt;</p>")
        );
    }

    #[test]
    fn a_broken_template_is_an_error() {
        let payload = serde_json::json!({"count": 1});
        let err = Renderer::default()
            .render(
                Channel::Inbox,
                Some("{% if %}"),
                Some("x"),
                None,
                &vars(&payload),
            )
            .expect_err("syntax");
        assert!(err.starts_with("inbox template subject:"), "{err}");
    }

    #[test]
    fn without_a_template_the_default_lists_the_payload() {
        let payload = serde_json::json!({"count": 120, "warehouse": "WH-1"});
        let r = Renderer::default()
            .render(Channel::Inbox, None, None, None, &vars(&payload))
            .expect("renders");
        assert_eq!(r.subject, "[high] 派单堆积");
        assert_eq!(r.body, "派单堆积 (订单异常)\ncount: 120\nwarehouse: WH-1");
    }

    #[test]
    fn a_runaway_loop_fails_with_its_budget_instead_of_running_on() {
        let payload = serde_json::json!({"n": 1000});
        let started = std::time::Instant::now();
        let err = Renderer::default()
            .render(
                Channel::Email,
                None,
                Some("{% for a in range(n) %}{% for b in range(n) %}{% for c in range(n) %}.{% endfor %}{% endfor %}{% endfor %}"),
                None,
                &vars(&payload),
            )
            .expect_err("a billion steps");
        assert!(err.contains("exceeded its budget"), "{err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "stopped early"
        );
    }

    #[test]
    fn output_past_the_cap_fails() {
        let payload = serde_json::json!({});
        let err = Renderer::default()
            .render(
                Channel::Inbox,
                None,
                Some("{{ 'x' * 1000000 }}"),
                None,
                &vars(&payload),
            )
            .expect_err("a megabyte");
        assert!(err.contains("output over the limit"), "{err}");
    }

    #[test]
    fn check_finds_syntax_errors_without_rendering() {
        let renderer = Renderer::default();
        assert!(renderer.check("{{ count }} orders").is_ok());
        let err = renderer
            .check("{{ count + }} {% if %}")
            .expect_err("broken");
        assert!(err.contains("syntax error"), "{err}");
    }

    fn item(n: i64, body: &str, duplicate_count: i32) -> DigestItem {
        DigestItem {
            message_id: n,
            created_at: format!("2026-11-26T0{n}:00:00Z"),
            duplicate_count,
            payload: serde_json::json!({"n": n}),
            subject: format!("s{n}"),
            body: body.into(),
        }
    }

    #[test]
    fn the_built_in_digest_lists_every_message() {
        let payload = serde_json::json!({"n": 1});
        let r = Renderer::default()
            .render_digest(
                Channel::Email,
                None,
                None,
                &vars(&payload),
                &[item(3, "report A ready", 0), item(4, "report B ready", 2)],
            )
            .expect("renders");
        assert_eq!(r.subject, "[high] 派单堆积: 2 messages");
        assert_eq!(
            r.body,
            "派单堆积: 2 messages\n\n#1 2026-11-26T03:00:00Z\nreport A ready\n\n\
             #2 2026-11-26T04:00:00Z (seen 3 times)\nreport B ready"
        );
    }

    #[test]
    fn a_digest_template_sees_the_messages_and_their_payloads() {
        let payload = serde_json::json!({"n": 1});
        let r = Renderer::default()
            .render_digest(
                Channel::Sms,
                Some("{{ count }}"),
                Some("{% for m in messages %}{{ m.payload.n }}:{{ m.subject }};{% endfor %}"),
                &vars(&payload),
                &[item(1, "a", 0), item(2, "b", 0)],
            )
            .expect("renders");
        assert_eq!(
            r,
            Rendered {
                subject: "2".into(),
                body: "1:s1;2:s2;".into(),
                html: None,
            }
        );
    }

    #[test]
    fn a_digest_template_error_says_it_is_the_digest() {
        let payload = serde_json::json!({});
        let err = Renderer::default()
            .render_digest(
                Channel::Sms,
                None,
                Some("{{ total }}"),
                &vars(&payload),
                &[item(1, "a", 0)],
            )
            .expect_err("total is missing");
        assert!(err.starts_with("sms digest template body: total"), "{err}");
    }
}
