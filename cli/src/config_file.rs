//! `--config FILE` (or `MSGPOOL_CONFIG`): a TOML file of msgpool's settings, e.g.
//!
//! ```toml
//! database_url = "postgres://msgpool@db/app"
//! channels = "email,sms"
//! concurrency = 32
//! smtp_url = "smtps://alerts:secret@smtp.example.com"
//! ```
//!
//! Each key is the name of a setting's environment variable without the `MSGPOOL_` prefix, in
//! lowercase. Flags win over the environment, which wins over the file.

use std::path::Path;

/// The settings a file may hold, by key, with the environment variable each one sets.
const SETTINGS: &[(&str, &str)] = &[
    ("database_url", "DATABASE_URL"),
    ("pooler", "MSGPOOL_POOLER"),
    ("home", "MSGPOOL_HOME"),
    ("log", "MSGPOOL_LOG"),
    ("channels", "MSGPOOL_CHANNELS"),
    ("concurrency", "MSGPOOL_CONCURRENCY"),
    ("min_in_flight", "MSGPOOL_MIN_IN_FLIGHT"),
    ("max_in_flight", "MSGPOOL_MAX_IN_FLIGHT"),
    ("metrics_listen", "MSGPOOL_METRICS_LISTEN"),
    ("batch_size", "MSGPOOL_BATCH_SIZE"),
    ("poll_interval_ms", "MSGPOOL_POLL_INTERVAL_MS"),
    ("lease_secs", "MSGPOOL_LEASE_SECS"),
    ("poll_only", "MSGPOOL_POLL_ONLY"),
    ("connect_timeout_secs", "MSGPOOL_CONNECT_TIMEOUT_SECS"),
    ("send_timeout_secs", "MSGPOOL_SEND_TIMEOUT_SECS"),
    ("smtp_url", "MSGPOOL_SMTP_URL"),
    ("smtp_from", "MSGPOOL_SMTP_FROM"),
    ("outbox", "MSGPOOL_OUTBOX"),
    ("sms_gateway_url", "MSGPOOL_SMS_GATEWAY_URL"),
    ("sms_gateway_auth", "MSGPOOL_SMS_GATEWAY_AUTH"),
    ("sms_phone_field", "MSGPOOL_SMS_PHONE_FIELD"),
    ("sms_text_field", "MSGPOOL_SMS_TEXT_FIELD"),
    ("sms_max_chars", "MSGPOOL_SMS_MAX_CHARS"),
    ("aliyun_access_key_id", "MSGPOOL_ALIYUN_ACCESS_KEY_ID"),
    (
        "aliyun_access_key_secret",
        "MSGPOOL_ALIYUN_ACCESS_KEY_SECRET",
    ),
    ("aliyun_sign_name", "MSGPOOL_ALIYUN_SIGN_NAME"),
    ("aliyun_template_code", "MSGPOOL_ALIYUN_TEMPLATE_CODE"),
    ("aliyun_endpoint", "MSGPOOL_ALIYUN_ENDPOINT"),
];

/// The config file named by `--config FILE` / `--config=FILE` or `MSGPOOL_CONFIG`.
pub fn path_from(args: &[String]) -> Option<String> {
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--config" {
            return args.next().cloned();
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(path.to_owned());
        }
    }
    std::env::var("MSGPOOL_CONFIG")
        .ok()
        .filter(|p| !p.is_empty())
}

/// The environment variables the file sets: those it names and the environment lacks.
pub fn read(path: &Path) -> anyhow::Result<Vec<(&'static str, String)>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read the config file {}: {e}", path.display()))?;
    let table: toml::Table = text.parse().map_err(|e| {
        anyhow::anyhow!("the config file {} is not valid TOML: {e}", path.display())
    })?;
    let mut settings = Vec::new();
    for (key, value) in table {
        let Some((_, variable)) = SETTINGS.iter().find(|(k, _)| *k == key) else {
            let known: Vec<&str> = SETTINGS.iter().map(|(k, _)| *k).collect();
            anyhow::bail!(
                "unknown setting {key:?} in {} (known: {})",
                path.display(),
                known.join(", ")
            );
        };
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "setting {key:?} in {} must be a list of strings",
                        path.display()
                    )
                })?
                .join(","),
            other => anyhow::bail!(
                "setting {key:?} in {} must be a string, number, boolean or list, not {}",
                path.display(),
                other.type_str()
            ),
        };
        if std::env::var_os(variable).is_none() {
            settings.push((*variable, value));
        }
    }
    Ok(settings)
}
