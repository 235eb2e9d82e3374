//! Chat webhooks: each recipient's robot in its own format and signature.
//!
//! | flavor   | body                                   | signature (with a secret)                                              |
//! |----------|----------------------------------------|------------------------------------------------------------------------|
//! | dingtalk | `msgtype: markdown`                    | `&timestamp=<ms>&sign=` base64(HMAC-SHA256(secret, "<ms>\n<secret>"))  |
//! | wecom    | `msgtype: markdown`                    | none (the key is in the URL)                                           |
//! | feishu   | `msg_type: text`                       | body `timestamp`, `sign` = base64(HMAC-SHA256(key "<s>\n<secret>", "")) |
//! | slack    | `text`                                 | none (the URL is the secret)                                           |
//! | generic  | msgpool's JSON (below)                 | `X-Msgpool-Signature: sha256=` hex(HMAC-SHA256(secret, "<s>.<body>")), `X-Msgpool-Timestamp: <s>` |
//!
//! DingTalk, WeCom and Feishu answer errors inside an HTTP 200, so their reply is read too.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::outbound::{Outbound, Resolver};
use super::{SendError, Sent, Timeouts};
use msgpool::Result;
use msgpool::domain::WebhookFlavor;

/// A recipient's robot.
pub struct Webhook<'a> {
    pub url: &'a str,
    pub flavor: WebhookFlavor,
    pub secret: Option<&'a str>,
}

/// What to post.
pub struct Notice<'a> {
    pub subject: &'a str,
    pub body: &'a str,
    pub type_key: &'a str,
    pub urgency: &'a str,
    pub payload: &'a Value,
    pub message_id: i64,
    pub delivery_id: i64,
    pub recipient_key: &'a str,
    /// The same on every send of the delivery: the `Idempotency-Key` header.
    pub identity: &'a str,
}

pub struct WebhookSender {
    client: reqwest::Client,
    outbound: Outbound,
}

impl WebhookSender {
    pub fn new(timeouts: Timeouts, outbound: Outbound) -> Result<WebhookSender> {
        let client = super::http_client(timeouts, Some(Resolver(outbound.clone())))?;
        Ok(WebhookSender { client, outbound })
    }

    pub async fn send(&self, hook: &Webhook<'_>, notice: &Notice<'_>) -> Result<Sent, SendError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut url = reqwest::Url::parse(hook.url)
            .map_err(|e| SendError::Unsendable(format!("invalid webhook URL: {e}")))?;
        // a URL that names an address is not resolved: the policy looks at it here
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal {
            self.outbound
                .policy()
                .check(ip)
                .map_err(|refused| SendError::Unsendable(refused.0))?;
        }
        let secret = hook.secret.filter(|s| !s.is_empty());
        let title = notice.subject;
        let (body, headers) = match hook.flavor {
            WebhookFlavor::Dingtalk => {
                if let Some(secret) = secret {
                    let ms = now.as_millis().to_string();
                    let sign = base64(&hmac(
                        secret.as_bytes(),
                        format!("{ms}\n{secret}").as_bytes(),
                    ));
                    url.query_pairs_mut()
                        .append_pair("timestamp", &ms)
                        .append_pair("sign", &sign);
                }
                let text = format!("#### {title}\n\n{}", notice.body);
                (
                    json!({"msgtype": "markdown", "markdown": {"title": title, "text": text}}),
                    vec![],
                )
            }
            WebhookFlavor::Wecom => {
                let content = format!("**{title}**\n{}", notice.body);
                (
                    json!({"msgtype": "markdown", "markdown": {"content": content}}),
                    vec![],
                )
            }
            WebhookFlavor::Feishu => {
                let mut body = json!({"msg_type": "text", "content": {"text": format!("{title}\n{}", notice.body)}});
                if let Some(secret) = secret {
                    let s = now.as_secs().to_string();
                    body["timestamp"] = json!(s);
                    body["sign"] = json!(base64(&hmac(format!("{s}\n{secret}").as_bytes(), b"")));
                }
                (body, vec![])
            }
            WebhookFlavor::Slack => (
                json!({"text": format!("*{title}*\n{}", notice.body)}),
                vec![],
            ),
            WebhookFlavor::Generic => {
                let body = json!({
                    "type_key": notice.type_key, "urgency": notice.urgency, "subject": notice.subject,
                    "body": notice.body, "payload": notice.payload, "message_id": notice.message_id,
                    "delivery_id": notice.delivery_id, "recipient": notice.recipient_key,
                });
                let headers = match secret {
                    Some(secret) => {
                        let s = now.as_secs().to_string();
                        let signed = format!("{s}.{body}");
                        vec![
                            ("X-Msgpool-Timestamp", s),
                            (
                                "X-Msgpool-Signature",
                                format!(
                                    "sha256={}",
                                    hex(&hmac(secret.as_bytes(), signed.as_bytes()))
                                ),
                            ),
                        ]
                    }
                    None => vec![],
                };
                (body, headers)
            }
        };
        // The generic signature covers these exact bytes, so send them as signed.
        let mut request = self
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", notice.identity)
            .body(body.to_string());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            // without the URL: DingTalk's and WeCom's carry the robot's credential
            .map_err(|e| match super::outbound::refusal(&e) {
                Some(refused) => SendError::Unsendable(refused),
                None => {
                    SendError::Transient(format!("webhook request failed: {}", e.without_url()))
                }
            })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .cloned();
        let reply = super::reply_text(response).await;
        if !status.is_success() {
            return Err(super::http_failure(
                "webhook",
                status,
                retry_after.as_ref(),
                &reply,
            ));
        }
        check_reply(hook.flavor, &reply)?;
        Ok(Sent { provider_ref: None })
    }
}

/// The error codes robots put inside an HTTP 200. A robot over its rate limit waits as its
/// platform says (DingTalk blocks it for ten minutes; WeCom and Feishu count per minute), and
/// only it: other robots on the same host go on. "System busy" retries; anything else (bad
/// signature, keyword mismatch, revoked robot) will not get better.
fn check_reply(flavor: WebhookFlavor, reply: &str) -> Result<(), SendError> {
    type Codes = (
        &'static str,
        &'static [&'static str],
        &'static str,
        i64,
        u64,
        &'static [i64],
    );
    // provider, code fields, message field, rate-limit code, its wait in s, busy codes
    let (provider, code_field, message_field, limited, wait, busy): Codes = match flavor {
        WebhookFlavor::Dingtalk => ("DingTalk", &["errcode"], "errmsg", 130101, 600, &[-1]),
        WebhookFlavor::Wecom => ("WeCom", &["errcode"], "errmsg", 45009, 60, &[-1]),
        WebhookFlavor::Feishu => ("Feishu", &["code", "StatusCode"], "msg", 11232, 60, &[9499]),
        WebhookFlavor::Slack | WebhookFlavor::Generic => return Ok(()),
    };
    let parsed: Value = serde_json::from_str(reply).map_err(|_| {
        SendError::Transient(format!(
            "{provider} answered 200 with something not JSON: {}",
            super::snippet(reply)
        ))
    })?;
    let code = code_field
        .iter()
        .find_map(|f| parsed.get(*f)?.as_i64())
        .unwrap_or(0);
    if code == 0 {
        return Ok(());
    }
    let message = parsed
        .get(message_field)
        .and_then(Value::as_str)
        .unwrap_or("");
    let problem = format!("{provider} error {code}: {message}");
    Err(if code == limited {
        SendError::Throttled {
            why: format!("{problem} (the robot's rate limit): waiting {wait} s"),
            wait: std::time::Duration::from_secs(wait),
            whole_destination: false,
        }
    } else if busy.contains(&code) {
        SendError::Transient(problem)
    } else {
        SendError::Permanent(problem)
    })
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
