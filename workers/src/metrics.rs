//! `/metrics` in Prometheus' text format (`msgpool worker --metrics-listen ADDR`): the pool's
//! deliveries per channel and state, read from `msgpool.channel_status` at each scrape, and
//! this worker's destinations: in flight, the adaptive limit, pauses, sends, and a latency
//! histogram each. Nothing else is served; the figures name hosts, never URLs or secrets.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use msgpool::{Db, Error};
use tokio_util::sync::CancellationToken;

use crate::destinations::{Destinations, LATENCY_BUCKETS, Snapshot};

/// How long a scrape may wait for the database.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
struct Scrape {
    pool: Db,
    destinations: Arc<Destinations>,
}

/// Binds `address` (an error at start when it cannot) and serves until `stop`.
pub async fn serve(
    address: SocketAddr,
    pool: Db,
    destinations: Arc<Destinations>,
    stop: CancellationToken,
) -> msgpool::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| {
        Error::setup(
            format!("cannot serve metrics at {address}: {e}"),
            "choose a free address for --metrics-listen, e.g. 127.0.0.1:9187",
        )
    })?;
    tracing::info!(%address, "serving /metrics");
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(Scrape { pool, destinations });
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the metrics server stopped");
        }
    }))
}

async fn metrics(State(scrape): State<Scrape>) -> impl IntoResponse {
    let channels = tokio::time::timeout(
        QUERY_TIMEOUT,
        sqlx::query_as::<_, (String, i64, i64, i64, i64, i64, i64)>(
            "SELECT channel::text, due, pending, deferred, sending, dead, sent_last_minute
               FROM msgpool.channel_status ORDER BY channel",
        )
        .fetch_all(&scrape.pool),
    )
    .await;
    let channels = match channels {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: cannot read the channels' status");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot read the pool's figures\n",
            )
                .into_response();
        }
        Err(_) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database did not answer in time\n",
            )
                .into_response();
        }
    };
    let mut out = String::new();
    gauge_header(
        &mut out,
        "msgpool_deliveries",
        "Deliveries per channel and state: due (pending and due now), pending, deferred (held by a rule), sending, dead",
    );
    for (channel, due, pending, deferred, sending, dead, _) in &channels {
        for (state, n) in [
            ("due", due),
            ("pending", pending),
            ("deferred", deferred),
            ("sending", sending),
            ("dead", dead),
        ] {
            let _ = writeln!(
                out,
                "msgpool_deliveries{{channel=\"{channel}\",state=\"{state}\"}} {n}"
            );
        }
    }
    gauge_header(
        &mut out,
        "msgpool_sent_last_minute",
        "Deliveries sent in the last 60 s, per channel, by every worker",
    );
    for (channel, .., sent) in &channels {
        let _ = writeln!(
            out,
            "msgpool_sent_last_minute{{channel=\"{channel}\"}} {sent}"
        );
    }
    destinations(&mut out, &scrape.destinations.snapshots());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

fn gauge_header(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

/// This worker's destinations.
fn destinations(out: &mut String, all: &[Snapshot]) {
    let labels = |d: &Snapshot| {
        format!(
            "channel=\"{}\",destination=\"{}\"",
            d.channel,
            escape(&d.destination)
        )
    };
    type Gauge = (&'static str, &'static str, fn(&Snapshot) -> f64);
    let gauges: [Gauge; 3] = [
        (
            "msgpool_destination_in_flight",
            "Sends in flight to the destination",
            |d| d.in_flight as f64,
        ),
        (
            "msgpool_destination_flight_limit",
            "The destination's adaptive limit on sends in flight",
            |d| d.flight_limit as f64,
        ),
        (
            "msgpool_destination_paused",
            "1 while the destination asked to wait (Retry-After)",
            |d| f64::from(u8::from(d.paused_until.is_some())),
        ),
    ];
    for (name, help, value) in gauges {
        gauge_header(out, name, help);
        for d in all {
            let _ = writeln!(out, "{name}{{{}}} {}", labels(d), value(d));
        }
    }
    let _ = writeln!(
        out,
        "# HELP msgpool_destination_sends_total Sends this worker finished, by result (failed: refused, or failed and retried)\n# TYPE msgpool_destination_sends_total counter"
    );
    for d in all {
        let _ = writeln!(
            out,
            "msgpool_destination_sends_total{{{},result=\"sent\"}} {}",
            labels(d),
            d.sent
        );
        let _ = writeln!(
            out,
            "msgpool_destination_sends_total{{{},result=\"failed\"}} {}",
            labels(d),
            d.failed
        );
    }
    let name = "msgpool_send_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} How long the destination took to answer a send\n# TYPE {name} histogram"
    );
    for d in all {
        let labels = labels(d);
        let mut cumulative = 0;
        for (le, n) in LATENCY_BUCKETS.iter().zip(d.histogram) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        cumulative += d.histogram[LATENCY_BUCKETS.len()];
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", d.latency_sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
    }
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
