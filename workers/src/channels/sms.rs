//! SMS: a generic JSON gateway, or Aliyun SendSms, or (with neither configured) a JSON line
//! per message appended to `<outbox>/sms.jsonl`.
//!
//! Length: a text longer than `max_chars` characters (default 500; carriers split long
//! messages at 70 CJK or 160 Latin characters and bill each part) is cut to `max_chars - 1`
//! characters plus "…", so an over-long template costs a bounded number of parts.
//!
//! Aliyun: the text goes to your approved template as its `${content}` variable.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;
use tokio::io::AsyncWriteExt;

use super::{SendError, Sent, Timeouts};
use crate::defaults;
use msgpool::url::percent_encode;
use msgpool::{Error, Result};

/// Aliyun SMS (dysmsapi) credentials and the approved signature and template to use.
#[derive(Debug, Clone)]
pub struct AliyunSms {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub sign_name: String,
    pub template_code: String,
    /// [`defaults::ALIYUN_ENDPOINT`] unless overridden.
    pub endpoint: String,
}

#[derive(Debug, Clone)]
pub struct SmsConfig {
    /// The generic gateway's URL: it gets `POST {"<phone_field>": "+86…", "<text_field>": "…"}`.
    pub gateway_url: Option<String>,
    /// The `Authorization` header for the gateway, e.g. `Bearer …`.
    pub gateway_auth: Option<String>,
    pub phone_field: String,
    pub text_field: String,
    pub aliyun: Option<AliyunSms>,
    pub max_chars: usize,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            gateway_url: None,
            gateway_auth: None,
            phone_field: defaults::SMS_PHONE_FIELD.to_owned(),
            text_field: defaults::SMS_TEXT_FIELD.to_owned(),
            aliyun: None,
            max_chars: defaults::SMS_MAX_CHARS,
        }
    }
}

enum Provider {
    Gateway {
        url: String,
        auth: Option<String>,
        phone_field: String,
        text_field: String,
    },
    Aliyun(AliyunSms),
    Outbox {
        file: PathBuf,
        writing: tokio::sync::Mutex<()>,
    },
}

pub struct SmsSender {
    client: reqwest::Client,
    provider: Provider,
    max_chars: usize,
}

impl SmsSender {
    /// `outbox`: where messages go when no provider is configured.
    pub fn new(
        config: SmsConfig,
        outbox: &std::path::Path,
        timeouts: Timeouts,
    ) -> Result<SmsSender> {
        let provider = match (
            config.gateway_url.filter(|u| !u.trim().is_empty()),
            config.aliyun,
        ) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "both an SMS gateway URL and Aliyun credentials are set",
                    "configure one SMS provider: unset MSGPOOL_SMS_GATEWAY_URL or the MSGPOOL_ALIYUN_* variables",
                ));
            }
            (Some(url), None) => Provider::Gateway {
                url,
                auth: config.gateway_auth,
                phone_field: config.phone_field,
                text_field: config.text_field,
            },
            (None, Some(aliyun)) => Provider::Aliyun(aliyun),
            (None, None) => Provider::Outbox {
                file: outbox.join("sms.jsonl"),
                writing: tokio::sync::Mutex::new(()),
            },
        };
        let client = super::http_client(timeouts, None)?;
        Ok(SmsSender {
            client,
            provider,
            max_chars: config.max_chars.max(2),
        })
    }

    /// The provider's `host:port`; `None` for the outbox file.
    pub fn destination(&self) -> Option<String> {
        match &self.provider {
            Provider::Gateway { url, .. } => crate::destinations::host_of(url),
            Provider::Aliyun(a) => crate::destinations::host_of(&a.endpoint),
            Provider::Outbox { .. } => None,
        }
    }

    pub fn describe(&self) -> String {
        match &self.provider {
            Provider::Gateway { url, .. } => format!("the gateway at {url}"),
            Provider::Aliyun(a) => format!("Aliyun SMS at {}", a.endpoint),
            Provider::Outbox { file, .. } => format!("JSON lines in {}", file.display()),
        }
    }

    /// Sends `text` to `phone`; `identity` is the same on every send of the delivery (the
    /// gateway's `Idempotency-Key`, Aliyun's `OutId`), for the provider to drop a repeat.
    pub async fn send(&self, phone: &str, text: &str, identity: &str) -> Result<Sent, SendError> {
        let text = limit(text, self.max_chars);
        match &self.provider {
            Provider::Gateway {
                url,
                auth,
                phone_field,
                text_field,
            } => {
                let mut body = serde_json::Map::new();
                body.insert(phone_field.clone(), json!(phone));
                body.insert(text_field.clone(), json!(text));
                let mut request = self
                    .client
                    .post(url)
                    .header("Idempotency-Key", identity)
                    .json(&body);
                if let Some(auth) = auth {
                    request = request.header("Authorization", auth);
                }
                let reply = http_reply(request.send().await, "SMS gateway").await?;
                let id = ["id", "message_id", "messageId"]
                    .iter()
                    .find_map(|k| reply.get(*k).map(plain));
                Ok(Sent { provider_ref: id })
            }
            Provider::Aliyun(aliyun) => self.send_aliyun(aliyun, phone, &text, identity).await,
            Provider::Outbox { file, writing } => {
                let line = json!({
                    "at": chrono::Utc::now().to_rfc3339(), "id": identity, "phone": phone, "text": text,
                })
                .to_string();
                let _writing = writing.lock().await;
                append_line(file, &line).await.map_err(|e| {
                    SendError::Transient(format!("cannot write {}: {e}", file.display()))
                })?;
                Ok(Sent {
                    provider_ref: Some(file.display().to_string()),
                })
            }
        }
    }

    async fn send_aliyun(
        &self,
        aliyun: &AliyunSms,
        phone: &str,
        text: &str,
        identity: &str,
    ) -> Result<Sent, SendError> {
        let nonce = uuid::Uuid::new_v4().to_string();
        let timestamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let template_param = json!({"content": text}).to_string();
        let params = BTreeMap::from([
            ("AccessKeyId", aliyun.access_key_id.as_str()),
            ("Action", "SendSms"),
            ("Format", "JSON"),
            ("OutId", identity),
            ("PhoneNumbers", phone.trim_start_matches('+')),
            ("RegionId", "cn-hangzhou"),
            ("SignName", aliyun.sign_name.as_str()),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", nonce.as_str()),
            ("SignatureVersion", "1.0"),
            ("TemplateCode", aliyun.template_code.as_str()),
            ("TemplateParam", template_param.as_str()),
            ("Timestamp", timestamp.as_str()),
            ("Version", "2017-05-25"),
        ]);
        let signature = aliyun_signature("POST", &params, &aliyun.access_key_secret);
        let form = format!(
            "Signature={}&{}",
            percent_encode(&signature),
            canonical_query(&params)
        );
        let request = self
            .client
            .post(&aliyun.endpoint)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form);
        let reply = http_reply(request.send().await, "Aliyun SMS").await?;
        match reply.get("Code").and_then(Value::as_str) {
            Some("OK") => Ok(Sent {
                provider_ref: reply.get("BizId").map(plain),
            }),
            Some(code) => {
                let problem = format!(
                    "Aliyun SMS {code}: {}",
                    reply.get("Message").and_then(Value::as_str).unwrap_or("")
                );
                // rate limits and Aliyun's own trouble pass; the rest is about this request
                let passing = code.contains("LIMIT_CONTROL")
                    || code.starts_with("isp.")
                    || code == "Throttling";
                Err(if passing {
                    SendError::Transient(problem)
                } else {
                    SendError::Permanent(problem)
                })
            }
            None => Err(SendError::Transient(format!(
                "Aliyun SMS answered without a Code: {reply}"
            ))),
        }
    }
}

/// Cuts `text` to at most `max_chars` characters, the last being "…" when anything was cut.
pub fn limit(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max_chars - 1).collect();
    cut.push('…');
    cut
}

/// 2xx: the JSON reply (or null); otherwise [`super::http_failure`].
async fn http_reply(
    response: reqwest::Result<reqwest::Response>,
    provider: &str,
) -> Result<Value, SendError> {
    let response = response.map_err(|e| {
        SendError::Transient(format!("{provider} request failed: {}", e.without_url()))
    })?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .cloned();
    let body = super::reply_text(response).await;
    if status.is_success() {
        return Ok(serde_json::from_str(&body).unwrap_or(Value::Null));
    }
    Err(super::http_failure(
        provider,
        status,
        retry_after.as_ref(),
        &body,
    ))
}

fn plain(value: &Value) -> String {
    value
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| value.to_string())
}

async fn append_line(file: &std::path::Path, line: &str) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    // the outbox holds people's phone numbers: readable by msgpool's user alone
    let mut f = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)
        .await?;
    f.write_all(format!("{line}\n").as_bytes()).await
}

/// Aliyun's RPC signature (version 1.0): Base64(HMAC-SHA1(secret + "&",
/// METHOD + "&" + enc("/") + "&" + enc(canonical query))), parameters sorted by name.
pub fn aliyun_signature(method: &str, params: &BTreeMap<&str, &str>, secret: &str) -> String {
    let string_to_sign = format!(
        "{method}&{}&{}",
        percent_encode("/"),
        percent_encode(&canonical_query(params))
    );
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(format!("{secret}&").as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn canonical_query(params: &BTreeMap<&str, &str>) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SendSms example of Aliyun's SMS signing documentation.
    #[test]
    fn aliyun_signature_matches_the_sms_documentation_example() {
        let params = BTreeMap::from([
            ("AccessKeyId", "testId"),
            ("Action", "SendSms"),
            ("Format", "XML"),
            ("OutId", "123"),
            ("PhoneNumbers", "15300000001"),
            ("RegionId", "cn-hangzhou"),
            ("SignName", "阿里云短信测试专用"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"),
            ("SignatureVersion", "1.0"),
            ("TemplateCode", "SMS_71390007"),
            ("TemplateParam", r#"{"customer":"test"}"#),
            ("Timestamp", "2017-07-12T02:42:19Z"),
            ("Version", "2017-05-25"),
        ]);
        assert_eq!(
            aliyun_signature("GET", &params, "testSecret"),
            "zJDF+Lrzhj/ThnlvIToysFRq6t4="
        );
    }

    /// The DescribeRegions example of Aliyun's general RPC signing documentation.
    #[test]
    fn aliyun_signature_matches_the_rpc_documentation_example() {
        let params = BTreeMap::from([
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]);
        assert_eq!(
            aliyun_signature("GET", &params, "testsecret"),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
    }

    #[test]
    fn long_texts_are_cut_with_an_ellipsis() {
        assert_eq!(limit("短信", 5), "短信");
        assert_eq!(limit("服务器宕机了请尽快处理", 5), "服务器宕…");
        assert_eq!(limit("abcdef", 6), "abcdef");
    }
}
