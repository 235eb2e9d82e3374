//! The ways of telling someone, each in a file of its own. The inbox is written by SQL
//! (`msgpool.deliver_to_inbox`, with its outcome); the others send over the network, or,
//! with no provider configured, write what they would have sent to the outbox folder.

use std::time::Duration;

use msgpool::{Error, Result};

pub mod email;
pub mod sms;
pub mod webhook;

/// What a provider accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The provider's reference: an email's Message-ID, a gateway's id, an outbox file.
    pub provider_ref: Option<String>,
}

/// Why a send failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Timeouts, refused connections, HTTP 5xx and 429, SMTP 4xx: retry with backoff.
    Transient(String),
    /// Invalid address, HTTP 4xx, SMTP 5xx: retrying cannot help.
    Permanent(String),
}

/// How long a provider may take: to accept a connection, and for the whole call (every SMTP
/// command, an HTTP request and its reply). Past either, the send fails as retryable, with
/// the cause, and the delivery backs off; a hung provider never holds a lease for long.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub total: Duration,
}

/// The HTTP client the network channels share: [`Timeouts`], and msgpool's user agent.
pub(crate) fn http_client(timeouts: Timeouts) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.total)
        .user_agent(concat!("msgpool/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            Error::setup(
                format!("cannot build the HTTP client: {e}"),
                "check the machine's TLS set-up",
            )
        })
}
