//! Running a worker: the expander, one supervised apalis worker per channel, the lease
//! heartbeat and the outcome writer, and a graceful stop: no new claims, in-flight sends
//! finish within the grace period, unstarted claims go back to the pool, outcomes are written.

use std::sync::Arc;
use std::time::Duration;

use crate::channels::email::EmailSender;
use crate::channels::outbound::{Outbound, default_policy};
use crate::channels::sms::SmsSender;
use crate::channels::webhook::WebhookSender;
use apalis::prelude::WorkerBuilderExt;
use apalis_core::worker::builder::WorkerBuilder;
use msgpool::Db;
use msgpool::domain::Channel;
use msgpool::render::Renderer;
use tokio_util::sync::CancellationToken;

use crate::backend::DeliveryBackend;
use crate::deliver::{Deliverer, deliver};
use crate::destinations::{Destinations, report};
use crate::leases::Leases;
use crate::queue::ChannelQueue;
use crate::send::Senders;
use crate::{WorkerConfig, expand, housekeeping, metrics, outcomes};

/// Runs until `stop` is cancelled, then stops gracefully.
pub async fn run(pool: Db, config: WorkerConfig, stop: CancellationToken) -> msgpool::Result<()> {
    let email = EmailSender::new(
        config.smtp_url.as_deref(),
        &config.smtp_from,
        config.outbox.clone(),
        config.timeouts,
        config.in_flight.max,
    )?;
    let sms = SmsSender::new(config.sms.clone(), &config.outbox, config.timeouts)?;
    // the providers' URLs may carry credentials: shown through the one redaction there is
    if config.channels.contains(&Channel::Sms) {
        let to = redacted(&pool, &sms.describe()).await;
        tracing::info!(%to, "sms channel");
    }
    if config.channels.contains(&Channel::Email) {
        let to = redacted(&pool, &email.describe()).await;
        tracing::info!(%to, "email channel");
    }
    let destinations = Arc::new(Destinations::new(
        config.in_flight,
        &config.channels,
        email.destination(),
        sms.destination(),
    ));
    let metrics = match config.metrics_listen {
        Some(address) => {
            Some(metrics::serve(address, pool.clone(), destinations.clone(), stop.clone()).await?)
        }
        None => None,
    };
    let config = Arc::new(config);
    let leases = Arc::new(Leases::default());
    let heartbeat_stop = CancellationToken::new();
    let heartbeat = tokio::spawn(leases.clone().keep_alive(
        pool.clone(),
        config.clone(),
        heartbeat_stop.clone(),
    ));
    let (writer, writing) = outcomes::spawn(pool.clone(), leases.clone(), config.name.clone());
    let outbound = Outbound::new(default_policy());
    let mut background = vec![tokio::spawn(
        outbound.clone().keep_current(pool.clone(), stop.clone()),
    )];
    let deliverer = Arc::new(Deliverer {
        renderer: Arc::new(Renderer::default()),
        outcomes: writer,
        senders: Senders {
            email,
            webhook: WebhookSender::new(config.timeouts, outbound)?,
            sms,
        },
    });

    let queues: Vec<Arc<ChannelQueue>> = config
        .channels
        .iter()
        .map(|&c| {
            Arc::new(ChannelQueue::new(
                c,
                pool.clone(),
                config.clone(),
                leases.clone(),
                destinations.clone(),
                stop.clone(),
            ))
        })
        .collect();
    if config.expand {
        background.push(tokio::spawn(expand::run(
            pool.clone(),
            config.clone(),
            queues.clone(),
            deliverer.clone(),
            stop.clone(),
        )));
    }
    background.push(tokio::spawn(housekeeping::run(
        pool.clone(),
        config.clone(),
        stop.clone(),
    )));
    background.push(tokio::spawn(report::run(
        pool.clone(),
        destinations,
        config.name.clone(),
        stop.clone(),
    )));
    background.extend(metrics);
    let workers: Vec<_> = queues
        .iter()
        .map(|q| {
            tokio::spawn(supervise(
                q.clone(),
                deliverer.clone(),
                config.clone(),
                stop.clone(),
            ))
        })
        .collect();
    drop(deliverer);
    tracing::info!(name = %config.name, channels = %config.channels.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(","), expand = config.expand, "worker running");

    stop.cancelled().await;
    tracing::info!("stopping: no new claims; finishing what is in flight");
    let finished =
        tokio::time::timeout(config.grace, futures_util::future::join_all(workers)).await;
    if finished.is_err() {
        tracing::warn!(grace = ?config.grace, "sends still in flight after the grace period; their leases expire and another worker retries them");
    }
    for queue in &queues {
        match queue.release_unstarted().await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(channel = %queue.channel, released = n, "gave unstarted deliveries back")
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not give unstarted deliveries back; their leases expire instead")
            }
        }
    }
    // The expander and housekeeping stop at their next step; a step is bounded (renders by
    // their budget, queries by the database), but the stop never waits past the grace.
    if tokio::time::timeout(config.grace, futures_util::future::join_all(background))
        .await
        .is_err()
    {
        tracing::warn!("the expander did not stop within the grace period; leaving it");
    }
    if tokio::time::timeout(config.grace, writing).await.is_err() {
        tracing::warn!("some outcomes were not written; those deliveries will be sent again");
    }
    heartbeat_stop.cancel();
    let _ = heartbeat.await;
    tracing::info!("worker stopped");
    Ok(())
}

/// One channel's apalis worker, restarted with backoff when it ends on an error (a database
/// error ends an apalis worker); the queue, with its claimed deliveries, outlives it.
async fn supervise(
    queue: Arc<ChannelQueue>,
    deliverer: Arc<Deliverer>,
    config: Arc<WorkerConfig>,
    stop: CancellationToken,
) {
    let mut failures = 0u32;
    loop {
        let started = tokio::time::Instant::now();
        let worker = WorkerBuilder::new(format!("{}-{}", config.name, queue.channel))
            .backend(DeliveryBackend::new(queue.clone()))
            .data(deliverer.clone())
            .concurrency(config.concurrency)
            .build(deliver);
        let until = stop.clone();
        let ended = worker.run_until(async move {
            until.cancelled().await;
            Ok::<(), std::io::Error>(())
        });
        match ended.await {
            Ok(()) => return,
            Err(_) if stop.is_cancelled() => return,
            Err(e) => {
                // a worker that ran well for a while starts its backoff afresh
                failures = if started.elapsed() > Duration::from_secs(60) {
                    1
                } else {
                    failures + 1
                };
                let wait = Duration::from_millis(250 * 2u64.pow(failures.min(7)));
                tracing::warn!(channel = %queue.channel, error = %e, restart_in = ?wait, "delivery worker ended; restarting");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => return,
                }
            }
        }
    }
}

/// `text` with every URL's credentials hidden, as `msgpool.redacted_url()` hides them; when
/// the database cannot say, nothing of it.
async fn redacted(pool: &Db, text: &str) -> String {
    sqlx::query_scalar("SELECT msgpool.redacted_url($1)")
        .bind(text)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|_| "(not shown: the database could not redact it)".to_owned())
}
