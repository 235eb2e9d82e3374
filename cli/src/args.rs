//! Turning what the user typed into msgpool's types, with the hint kept in the message:
//! clap's value parser for domain types, and JSON payloads.

/// A clap value parser for msgpool's domain types that keeps the hint in the message.
pub fn parse<T: std::str::FromStr<Err = msgpool::Error>>(s: &str) -> Result<T, String> {
    s.parse().map_err(|e: msgpool::Error| match e.hint() {
        Some(hint) => format!("{e} ({hint})"),
        None => e.to_string(),
    })
}

/// `--data` as JSON, or an error that says how to write it.
pub fn payload(data: &str) -> msgpool::Result<serde_json::Value> {
    serde_json::from_str(data).map_err(|e| {
        msgpool::Error::invalid(
            format!("--data is not valid JSON: {e}"),
            r#"give an object, e.g. --data '{"count": 120}'"#,
        )
    })
}

/// A point in time as people write it: RFC 3339 (`2026-11-26T08:00:00+08:00`), a space for
/// the `T`, minutes or seconds, an offset as `+08`, `+0800` or `+08:00`, or no offset for the
/// machine's local time.
pub fn time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    use chrono::{DateTime, Local, NaiveDateTime, TimeZone as _, Utc};
    let text = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let mut spaced = text.replacen('T', " ", 1);
    if spaced.ends_with('Z') {
        spaced.pop();
        spaced.push_str("+00");
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M%#z"] {
        if let Ok(t) = DateTime::parse_from_str(&spaced, format) {
            return Ok(t.with_timezone(&Utc));
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(&spaced, format) {
            return Local
                .from_local_datetime(&local)
                .single()
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| {
                    format!(
                        "{text:?} falls in a clock change here; give the offset, e.g. {text}+08:00"
                    )
                });
        }
    }
    Err(format!(
        "{text:?} is not a time msgpool reads; write e.g. 2026-11-26 08:00+08:00, \
         2026-11-26T00:00:00Z, or 2026-11-26 08:00 for this machine's local time"
    ))
}
