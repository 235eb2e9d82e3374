//! Email: lettre over SMTP with a connection pool (plain, STARTTLS or TLS, optional auth),
//! or, with no SMTP server configured, a real .eml file per email in the outbox folder.

use std::path::PathBuf;

use lettre::message::MultiPart;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::{AsyncSmtpTransport, PoolConfig};
use lettre::{AsyncTransport, Tokio1Executor};

use super::{SendError, Sent, Timeouts};
use msgpool::{Error, Result};

pub enum EmailSender {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
        /// lettre bounds the connection; this, a whole message's conversation
        total: std::time::Duration,
        /// `host:port`, the destination all its sends share
        server: String,
    },
    Outbox {
        dir: PathBuf,
        from: Mailbox,
    },
}

impl EmailSender {
    /// `smtp_url`: `smtp://[user:pass@]host:port` (STARTTLS when the server offers it; add
    /// `?tls=required` to insist) or `smtps://...` (TLS from the start). Without one, emails go
    /// to `<outbox>/email/` as .eml files. `connections`: how many are kept open for reuse,
    /// as many as may be in flight, so that each carries message after message.
    pub fn new(
        smtp_url: Option<&str>,
        from: &str,
        outbox: PathBuf,
        timeouts: Timeouts,
        connections: usize,
    ) -> Result<EmailSender> {
        let from: Mailbox = from.parse().map_err(|e| {
            Error::invalid(
                format!("invalid sender address {from:?}: {e}"),
                "set MSGPOOL_SMTP_FROM to e.g. 'msgpool <alerts@example.com>'",
            )
        })?;
        let Some(url) = smtp_url.filter(|u| !u.trim().is_empty()) else {
            return Ok(EmailSender::Outbox {
                dir: outbox.join("email"),
                from,
            });
        };
        let url = if url.starts_with("smtp://") && !url.contains("tls=") {
            format!(
                "{url}{}tls=opportunistic",
                if url.contains('?') { '&' } else { '?' }
            )
        } else {
            url.to_owned()
        };
        let invalid = |e: &dyn std::fmt::Display| {
            Error::invalid(
                format!("invalid SMTP URL: {e}"),
                "expected smtp://[user:pass@]host:port or smtps://[user:pass@]host:port",
            )
        };
        let server =
            crate::destinations::host_of(&url).ok_or_else(|| invalid(&"it names no host"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            .map_err(|e| invalid(&e))?
            .timeout(Some(timeouts.connect))
            .pool_config(PoolConfig::new().max_size(connections.max(1) as u32))
            .build();
        Ok(EmailSender::Smtp {
            transport,
            from,
            total: timeouts.total,
            server,
        })
    }

    /// Where emails go, for the log and the user.
    pub fn describe(&self) -> String {
        match self {
            EmailSender::Smtp { server, .. } => format!("SMTP at {server}"),
            EmailSender::Outbox { dir, .. } => format!(".eml files in {}", dir.display()),
        }
    }

    /// The SMTP server's `host:port`; `None` for the outbox folder.
    pub fn destination(&self) -> Option<String> {
        match self {
            EmailSender::Smtp { server, .. } => Some(server.clone()),
            EmailSender::Outbox { .. } => None,
        }
    }

    pub async fn send(
        &self,
        to_name: &str,
        to_address: &str,
        subject: &str,
        body: &str,
        html: Option<&str>,
        identity: &str,
    ) -> Result<Sent, SendError> {
        let from = match self {
            EmailSender::Smtp { from, .. } | EmailSender::Outbox { from, .. } => from.clone(),
        };
        let to = to_address
            .parse()
            .map(|address| Mailbox::new(Some(to_name.to_owned()), address))
            .map_err(|e| {
                SendError::Unsendable(format!("invalid email address {to_address:?}: {e}"))
            })?;
        // the same Message-ID on every send of the delivery, so a mail system can drop a
        // repeat; kept as the provider reference (and the outbox file name)
        let message_id = format!("<{identity}@{}>", from.email.domain());
        let builder = Message::builder()
            .message_id(Some(message_id))
            .from(from)
            .to(to)
            .subject(subject);
        let email = match html {
            // mail readers that cannot show HTML show the plain-text part
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                body.to_owned(),
                html.to_owned(),
            )),
            None => builder
                .header(ContentType::TEXT_PLAIN)
                .body(body.to_owned()),
        }
        .map_err(|e| SendError::Unsendable(format!("cannot build the email: {e}")))?;
        let message_id = email.headers().get_raw("Message-ID").map(str::to_owned);
        match self {
            EmailSender::Smtp {
                transport, total, ..
            } => {
                // a server that accepts and never answers would otherwise hold it for good
                tokio::time::timeout(*total, transport.send(email))
                    .await
                    .map_err(|_| {
                        SendError::Transient(format!(
                            "SMTP: the server did not finish within {} s",
                            total.as_secs()
                        ))
                    })?
                    .map_err(classify)?;
                Ok(Sent {
                    provider_ref: message_id,
                })
            }
            EmailSender::Outbox { dir, .. } => {
                let name = message_id
                    .as_deref()
                    .unwrap_or("email")
                    .trim_matches(['<', '>'])
                    .replace(['/', '@'], "_");
                let path = dir.join(format!("{name}.eml"));
                tokio::fs::create_dir_all(dir).await.map_err(|e| {
                    SendError::Transient(format!("cannot create the outbox {}: {e}", dir.display()))
                })?;
                write_private(&path, &email.formatted())
                    .await
                    .map_err(|e| {
                        SendError::Transient(format!("cannot write {}: {e}", path.display()))
                    })?;
                Ok(Sent {
                    provider_ref: Some(path.display().to_string()),
                })
            }
        }
    }
}

/// Writes a file only msgpool's user may read: an email names its recipient and says what
/// happened to their account.
async fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .await?;
    file.write_all(bytes).await
}

/// SMTP 5xx: the server refuses for good. Everything else (4xx, timeouts, connections): retry.
fn classify(e: lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() {
        SendError::Permanent(format!("SMTP server refused: {e}"))
    } else {
        SendError::Transient(format!("SMTP: {e}"))
    }
}
