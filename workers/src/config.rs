//! How a worker runs: which channels, how many sends at once, how big the batches are.

use std::path::PathBuf;
use std::time::Duration;

use msgpool::channels::sms::SmsConfig;
use msgpool::domain::Channel;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// A name for logs and the attempt log (defaults to host and process id).
    pub name: String,
    /// Channels this worker delivers; run channels on separate machines to scale them apart.
    pub channels: Vec<Channel>,
    /// Whether this worker also expands due messages into deliveries.
    pub dispatch: bool,
    /// Sends in flight at once, per channel.
    pub concurrency: usize,
    /// Rows per claim (messages to expand, deliveries to lease).
    pub batch_size: i32,
    /// How often to look for due work when no notification arrives.
    pub poll_interval: Duration,
    /// How long a claim is held before another worker may take it; heartbeats extend it.
    pub lease: Duration,
    /// No LISTEN (for PgBouncer in transaction mode): find work by polling only.
    pub poll_only: bool,
    /// How long in-flight sends may take to finish after a stop signal.
    pub grace: Duration,
    /// `smtp://` or `smtps://` URL; without one, emails are written to the outbox.
    pub smtp_url: Option<String>,
    /// The From of every email.
    pub smtp_from: String,
    /// Where emails and SMS go when no provider is configured.
    pub outbox: PathBuf,
    pub sms: SmsConfig,
    /// Finished history older than this (a PostgreSQL interval) is pruned; `None`: kept.
    pub retention: Option<String>,
    pub housekeeping_interval: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            name: format!("msgpool-worker-{}", std::process::id()),
            channels: Channel::ALL.to_vec(),
            dispatch: true,
            concurrency: 16,
            batch_size: 500,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(60),
            poll_only: false,
            grace: Duration::from_secs(10),
            smtp_url: None,
            smtp_from: "msgpool <msgpool@localhost>".to_owned(),
            outbox: PathBuf::from(msgpool::database::DEFAULT_HOME).join("outbox"),
            sms: SmsConfig::default(),
            retention: Some("30 days".to_owned()),
            housekeeping_interval: Duration::from_secs(3600),
        }
    }
}

impl WorkerConfig {
    /// The lease as a PostgreSQL interval.
    pub fn lease_interval(&self) -> String {
        format!("{} milliseconds", self.lease.as_millis())
    }
}
