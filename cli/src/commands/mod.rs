//! One module per command group; each parses its arguments into domain types, calls the
//! library, and prints.

pub mod bench;
pub mod cancel;
pub mod db;
pub mod deliveries;
pub mod group;
pub mod inbox;
pub mod message_type;
pub mod prune;
pub mod quiet_hours;
pub mod rate_limit;
pub mod recipient;
pub mod send;
pub mod status;
pub mod subscription;
pub mod template;
pub mod worker;

/// A clap value parser for msgpool's domain types that keeps the hint in the message.
pub fn parse<T: std::str::FromStr<Err = msgpool::Error>>(s: &str) -> Result<T, String> {
    s.parse().map_err(|e: msgpool::Error| match e.hint() {
        Some(hint) => format!("{e} ({hint})"),
        None => e.to_string(),
    })
}
