//! The ways of telling someone, each in a file of its own. The inbox is written by SQL
//! (`msgpool.deliver_to_inbox`, with its outcome); the others send over the network, or,
//! with no provider configured, write what they would have sent to the outbox folder.

use std::time::Duration;

use msgpool::{Error, Result};

pub mod email;
pub mod outbound;
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
    /// Refused before it reached the provider (no address, one that cannot be read): final,
    /// and it says nothing about the provider.
    Unsendable(String),
    /// The provider asked to wait (429 or 503 with Retry-After, a robot's rate-limit code):
    /// the delivery waits that long without spending an attempt, and with
    /// `whole_destination`, so does everything else bound for the same destination.
    Throttled {
        wait: Duration,
        why: String,
        whole_destination: bool,
    },
}

/// The longest wait a provider's Retry-After is taken for; longer asks are cut to it.
pub const MAX_PROVIDER_WAIT: Duration = Duration::from_secs(3600);

/// An HTTP provider's answer other than 2xx: 429 and 503 with Retry-After pause the
/// destination; without it, they and the other 5xx retry with backoff; other 4xx are
/// final. `body` is the start of the reply, for the record.
pub(crate) fn http_failure(
    provider: &str,
    status: reqwest::StatusCode,
    retry_after: Option<&reqwest::header::HeaderValue>,
    body: &str,
) -> SendError {
    let problem = format!("{provider} answered HTTP {status}: {}", snippet(body));
    let asks_to_wait = matches!(status.as_u16(), 429 | 503);
    match retry_after
        .and_then(|v| v.to_str().ok())
        .and_then(retry_after_wait)
    {
        Some(wait) if asks_to_wait => SendError::Throttled {
            why: format!(
                "{provider} answered HTTP {status} with Retry-After: waiting {} s",
                wait.as_secs()
            ),
            wait,
            whole_destination: true,
        },
        _ if asks_to_wait || status.is_server_error() => SendError::Transient(problem),
        _ => SendError::Permanent(problem),
    }
}

/// The start of a provider's reply, as it may be kept and shown: at most 200 characters, each
/// control character (a terminal's escape, a newline) as a space.
pub(crate) fn snippet(reply: &str) -> String {
    reply
        .chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The most of a provider's reply msgpool reads: enough for its error, and no stranger's
/// endless body in memory.
const MAX_REPLY_BYTES: usize = 16 * 1024;

/// A reply's body, read up to [`MAX_REPLY_BYTES`] (the rest is not read).
pub(crate) async fn reply_text(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_REPLY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(MAX_REPLY_BYTES);
    String::from_utf8_lossy(&body).into_owned()
}

/// A Retry-After header's wait: seconds, or an HTTP date; at least a second, at most
/// [`MAX_PROVIDER_WAIT`].
fn retry_after_wait(value: &str) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
                .to_std()
                .unwrap_or_default()
        }
    };
    Some(wait.clamp(Duration::from_secs(1), MAX_PROVIDER_WAIT))
}

/// How long a provider may take: to accept a connection, and for the whole call (every SMTP
/// command, an HTTP request and its reply). Past either, the send fails as retryable, with
/// the cause, and the delivery backs off; a hung provider never holds a lease for long.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub total: Duration,
}

/// The HTTP client of a network channel: [`Timeouts`], msgpool's user agent, and no
/// redirects followed (a provider answering 3xx is answered as refused: a redirect could
/// send a delivery, and its credential, anywhere). Webhooks resolve through the
/// destination policy.
pub(crate) fn http_client(
    timeouts: Timeouts,
    resolver: Option<outbound::Resolver>,
) -> Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.total)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("msgpool/", env!("CARGO_PKG_VERSION")));
    let builder = match resolver {
        Some(resolver) => builder.dns_resolver(std::sync::Arc::new(resolver)),
        None => builder,
    };
    builder.build().map_err(|e| {
        Error::setup(
            format!("cannot build the HTTP client: {e}"),
            "check the machine's TLS set-up",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_dates_within_bounds() {
        assert_eq!(retry_after_wait("30"), Some(Duration::from_secs(30)));
        assert_eq!(retry_after_wait("0"), Some(Duration::from_secs(1)));
        assert_eq!(retry_after_wait("99999"), Some(MAX_PROVIDER_WAIT));
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(120)).to_rfc2822();
        let wait = retry_after_wait(&soon).expect("an HTTP date");
        assert!((Duration::from_secs(118)..=Duration::from_secs(120)).contains(&wait));
        assert_eq!(retry_after_wait("soon"), None);
    }

    #[test]
    fn only_429_and_503_with_retry_after_pause_a_destination() {
        let after = HeaderValue::from_static("5");
        let paused = http_failure("webhook", StatusCode::TOO_MANY_REQUESTS, Some(&after), "");
        assert!(matches!(
            paused,
            SendError::Throttled { wait, whole_destination: true, .. } if wait == Duration::from_secs(5)
        ));
        assert!(matches!(
            http_failure("webhook", StatusCode::SERVICE_UNAVAILABLE, Some(&after), ""),
            SendError::Throttled { .. }
        ));
        assert!(matches!(
            http_failure("webhook", StatusCode::TOO_MANY_REQUESTS, None, ""),
            SendError::Transient(_)
        ));
        assert!(matches!(
            http_failure(
                "webhook",
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(&after),
                ""
            ),
            SendError::Transient(_)
        ));
        assert!(matches!(
            http_failure("webhook", StatusCode::BAD_REQUEST, Some(&after), "no"),
            SendError::Permanent(p) if p == "webhook answered HTTP 400 Bad Request: no"
        ));
    }
}
