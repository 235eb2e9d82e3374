//! How a worker runs: which channels, how many sends at once, how big the batches are.

use std::path::PathBuf;
use std::time::Duration;

use crate::channels::Timeouts;
use crate::channels::sms::SmsConfig;
use crate::defaults;
use crate::destinations::flight_limit::FlightBounds;
use msgpool::domain::Channel;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// A name for logs and the attempt log (defaults to host and process id).
    pub name: String,
    /// Channels this worker delivers; run channels on separate machines to scale them apart.
    pub channels: Vec<Channel>,
    /// Whether this worker also expands due messages into deliveries.
    pub expand: bool,
    /// Sends in flight at once, per channel.
    pub concurrency: usize,
    /// Sends in flight at once per destination (a webhook's host, the SMS gateway, the SMTP
    /// server): the adaptive limit's bounds.
    pub in_flight: FlightBounds,
    /// Where to serve `/metrics` (Prometheus' text format); `None`: nowhere.
    pub metrics_listen: Option<std::net::SocketAddr>,
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
    /// How long a provider may take to connect, and for a whole send.
    pub timeouts: Timeouts,
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
            expand: true,
            concurrency: defaults::CONCURRENCY,
            in_flight: FlightBounds {
                min: defaults::MIN_IN_FLIGHT,
                initial: defaults::INITIAL_IN_FLIGHT,
                max: defaults::MAX_IN_FLIGHT,
            },
            metrics_listen: None,
            batch_size: defaults::BATCH_SIZE,
            poll_interval: Duration::from_millis(defaults::POLL_INTERVAL_MS),
            lease: Duration::from_secs(defaults::LEASE_SECS),
            poll_only: false,
            grace: Duration::from_secs(defaults::GRACE_SECS),
            timeouts: Timeouts {
                connect: Duration::from_secs(defaults::CONNECT_TIMEOUT_SECS),
                total: Duration::from_secs(defaults::SEND_TIMEOUT_SECS),
            },
            smtp_url: None,
            smtp_from: defaults::SMTP_FROM.to_owned(),
            outbox: msgpool::database::home().join("outbox"),
            sms: SmsConfig::default(),
            retention: Some(defaults::RETENTION.to_owned()),
            housekeeping_interval: Duration::from_secs(defaults::HOUSEKEEPING_SECS),
        }
    }
}

impl WorkerConfig {
    /// The lease as a PostgreSQL interval.
    pub fn lease_interval(&self) -> String {
        format!("{} milliseconds", self.lease.as_millis())
    }
}
