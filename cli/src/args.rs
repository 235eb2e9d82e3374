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
