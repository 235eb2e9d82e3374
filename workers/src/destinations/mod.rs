//! Where sends go: a webhook's host, the SMS gateway, the SMTP server. Each destination has
//! its own share of the sends in flight ([`flight_limit`], adaptive), so one that hangs or
//! slows down holds only its share and the others keep going; a destination that asked to
//! wait (429 or 503 with Retry-After) is paused until then. A channel's queue takes a
//! [`Slot`] before handing a delivery out; the slot reports how the send went when it ends.

pub mod flight_limit;
pub mod report;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use msgpool::domain::Channel;
use tokio::sync::Notify;

use flight_limit::{Answer, FlightBounds, FlightLimit};

/// Latency buckets of the send histograms, in seconds (Prometheus' `le`).
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Every destination this worker has sent to, by channel and name.
pub struct Destinations {
    bounds: FlightBounds,
    /// Where email and SMS go (`None`: the outbox folder, which needs no limit).
    email: Option<String>,
    sms: Option<String>,
    known: Mutex<HashMap<(Channel, String), Arc<Destination>>>,
    /// Per channel: notified when one of its destinations has room again.
    rooms: HashMap<Channel, Arc<Notify>>,
}

pub struct Destination {
    pub channel: Channel,
    /// e.g. `hooks.example.com:443`
    pub name: String,
    state: Mutex<State>,
    room: Arc<Notify>,
}

struct State {
    in_flight: usize,
    limit: FlightLimit,
    paused: Option<Pause>,
    sent: u64,
    failed: u64,
    /// Recent latency (failures' included), smoothed, in seconds.
    latency: Option<f64>,
    /// Since when sends have been in flight without a pause, and when the last one ended:
    /// a destination that hangs shows it here before any send ends.
    busy_since: Option<Instant>,
    last_end: Option<Instant>,
    /// Counts per [`LATENCY_BUCKETS`] bucket (the last: beyond them), and their sum.
    histogram: [u64; LATENCY_BUCKETS.len() + 1],
    latency_sum: f64,
}

#[derive(Debug, Clone)]
pub struct Pause {
    pub until: Instant,
    pub until_utc: DateTime<Utc>,
    pub why: String,
}

/// Why a destination cannot take another send now.
#[derive(Debug, Clone)]
pub enum Blocked {
    /// As many in flight as its limit.
    Full {
        in_flight: usize,
    },
    Paused(Pause),
}

/// How a send ended, for its destination.
#[derive(Debug, Clone)]
pub enum Feedback {
    /// Delivered, or refused for good: the destination answered.
    Answered { delivered: bool },
    /// Failed in a way that says it has too much (timeout, no connection, 5xx, 429).
    Overloaded,
    /// Asked to be left alone for a while.
    Pause { wait: Duration, why: String },
}

/// A figure of one destination, for `msgpool status` and `/metrics`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Snapshot {
    pub channel: Channel,
    pub destination: String,
    pub in_flight: usize,
    pub flight_limit: usize,
    pub latency_ms: Option<f64>,
    pub paused_until: Option<DateTime<Utc>>,
    pub paused_why: Option<String>,
    pub sent: u64,
    pub failed: u64,
    #[serde(skip)]
    pub histogram: [u64; LATENCY_BUCKETS.len() + 1],
    #[serde(skip)]
    pub latency_sum: f64,
}

impl Destinations {
    pub fn new(
        bounds: FlightBounds,
        channels: &[Channel],
        email: Option<String>,
        sms: Option<String>,
    ) -> Self {
        Destinations {
            bounds,
            email,
            sms,
            known: Mutex::default(),
            rooms: channels
                .iter()
                .map(|&c| (c, Arc::new(Notify::new())))
                .collect(),
        }
    }

    /// Notified when a destination of `channel` has room again.
    pub fn room(&self, channel: Channel) -> Arc<Notify> {
        self.rooms.get(&channel).cloned().unwrap_or_default()
    }

    /// Where a delivery on `channel` to `webhook_url` goes; `None`: nowhere that needs a
    /// limit (the inbox, the outbox folder, a URL that cannot be read, which fails alone).
    pub fn of(&self, channel: Channel, webhook_url: Option<&str>) -> Option<Arc<Destination>> {
        let name = match channel {
            Channel::Inbox => None,
            Channel::Email => self.email.clone(),
            Channel::Sms => self.sms.clone(),
            Channel::Webhook => webhook_url.and_then(host_of),
        }?;
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let destination = known.entry((channel, name)).or_insert_with_key(|(c, n)| {
            Arc::new(Destination {
                channel: *c,
                name: n.clone(),
                state: Mutex::new(State {
                    in_flight: 0,
                    limit: FlightLimit::new(self.bounds),
                    paused: None,
                    sent: 0,
                    failed: 0,
                    latency: None,
                    busy_since: None,
                    last_end: None,
                    histogram: [0; LATENCY_BUCKETS.len() + 1],
                    latency_sum: 0.0,
                }),
                room: self.room(*c),
            })
        });
        Some(destination.clone())
    }

    pub fn snapshots(&self) -> Vec<Snapshot> {
        let known: Vec<Arc<Destination>> = self
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        let mut all: Vec<Snapshot> = known.iter().map(|d| d.snapshot()).collect();
        all.sort_by(|a, b| (a.channel, &a.destination).cmp(&(b.channel, &b.destination)));
        all
    }
}

/// `host:port` of a URL, the port filled in from its scheme.
pub fn host_of(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    Some(format!(
        "{}:{}",
        url.host_str()?,
        url.port_or_known_default()?
    ))
}

impl Destination {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for one more send, or why there is none.
    pub fn take(self: &Arc<Self>) -> Result<Slot, Blocked> {
        let mut state = self.state();
        if let Some(pause) = &state.paused {
            if pause.until > Instant::now() {
                return Err(Blocked::Paused(pause.clone()));
            }
            state.paused = None;
        }
        if state.in_flight >= state.limit.get() {
            return Err(Blocked::Full {
                in_flight: state.in_flight,
            });
        }
        state.in_flight += 1;
        if state.in_flight == 1 {
            state.busy_since = Some(Instant::now());
        }
        let in_flight = state.in_flight;
        state.limit.started(in_flight);
        Ok(Slot {
            destination: self.clone(),
            started: Instant::now(),
            ended: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// How many it may soon have in flight ([`FlightLimit::reach`]), and how long a send
    /// takes there now: recent latency, or, when longer, how long sends have been out
    /// without one ending (a hang shows before any send ends).
    pub fn pace(&self) -> (usize, Duration) {
        let state = self.state();
        let stalled = state.busy_since.map_or(Duration::ZERO, |since| {
            since.max(state.last_end.unwrap_or(since)).elapsed()
        });
        let latency = Duration::from_secs_f64(state.latency.unwrap_or(0.0)).max(stalled);
        (state.limit.reach(), latency.max(Duration::from_millis(1)))
    }

    fn snapshot(&self) -> Snapshot {
        let state = self.state();
        let paused = state.paused.as_ref().filter(|p| p.until > Instant::now());
        Snapshot {
            channel: self.channel,
            destination: self.name.clone(),
            in_flight: state.in_flight,
            flight_limit: state.limit.get(),
            latency_ms: state.latency.map(|l| l * 1000.0),
            paused_until: paused.map(|p| p.until_utc),
            paused_why: paused.map(|p| p.why.clone()),
            sent: state.sent,
            failed: state.failed,
            histogram: state.histogram,
            latency_sum: state.latency_sum,
        }
    }

    fn end(&self, started: Instant, feedback: Option<&Feedback>) {
        let took = started.elapsed();
        let mut state = self.state();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.in_flight == 0 {
            state.busy_since = None;
        }
        if feedback.is_some() {
            let secs = took.as_secs_f64();
            state.latency = Some(state.latency.map_or(secs, |l| l * 0.9 + secs * 0.1));
            state.last_end = Some(Instant::now());
        }
        match feedback {
            None => {}
            Some(Feedback::Answered { delivered }) => {
                state.limit.answer(Answer::Answered(took));
                let secs = took.as_secs_f64();
                let bucket = LATENCY_BUCKETS
                    .iter()
                    .position(|&le| secs <= le)
                    .unwrap_or(LATENCY_BUCKETS.len());
                state.histogram[bucket] += 1;
                state.latency_sum += secs;
                if *delivered {
                    state.sent += 1;
                } else {
                    state.failed += 1;
                }
            }
            Some(Feedback::Overloaded) => {
                state.limit.answer(Answer::Overloaded);
                state.failed += 1;
            }
            Some(Feedback::Pause { wait, why }) => {
                state.limit.answer(Answer::Overloaded);
                let until = Instant::now() + *wait;
                if state.paused.as_ref().is_none_or(|p| p.until < until) {
                    state.paused = Some(Pause {
                        until,
                        until_utc: Utc::now()
                            + chrono::Duration::from_std(*wait).unwrap_or_default(),
                        why: why.clone(),
                    });
                }
            }
        }
        drop(state);
        self.room.notify_one();
    }
}

/// One send's place at its destination; ended by [`Slot::end`], or by being dropped (a send
/// that never finished, at shutdown).
#[derive(Debug)]
pub struct Slot {
    destination: Arc<Destination>,
    started: Instant,
    ended: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.channel, self.name)
    }
}

impl Slot {
    pub fn end(&self, feedback: &Feedback) {
        if !self.ended.swap(true, std::sync::atomic::Ordering::Relaxed) {
            self.destination.end(self.started, Some(feedback));
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.ended.swap(true, std::sync::atomic::Ordering::Relaxed) {
            self.destination.end(self.started, None);
        }
    }
}
