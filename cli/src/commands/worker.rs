//! `msgpool worker`: expand due messages into deliveries and deliver them.

use std::time::Duration;

use clap::Args;
use msgpool::domain::Channels;
use msgpool_workers::WorkerConfig;
use msgpool_workers::channels::Timeouts;
use msgpool_workers::channels::sms::{AliyunSms, SmsConfig};
use msgpool_workers::defaults;
use msgpool_workers::destinations::flight_limit::FlightBounds;
use tokio_util::sync::CancellationToken;

use crate::Context;
use crate::args::parse;
use crate::output::outln;

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Channels to deliver (comma-separated); run channels on separate machines to scale them apart
    #[arg(long, env = "MSGPOOL_CHANNELS", default_value = defaults::CHANNELS, value_parser = parse::<Channels>)]
    channels: Channels,
    /// Sends in flight at once, per channel (across its destinations)
    #[arg(long, env = "MSGPOOL_CONCURRENCY", default_value_t = defaults::CONCURRENCY)]
    concurrency: usize,
    /// Sends in flight per destination (a webhook's host, the SMS gateway, the SMTP server):
    /// the least the adaptive limit goes down to
    #[arg(long, env = "MSGPOOL_MIN_IN_FLIGHT", default_value_t = defaults::MIN_IN_FLIGHT)]
    min_in_flight: usize,
    /// ... and the most it grows to, while the destination's latency holds
    #[arg(long, env = "MSGPOOL_MAX_IN_FLIGHT", default_value_t = defaults::MAX_IN_FLIGHT)]
    max_in_flight: usize,
    /// Serve /metrics (Prometheus text format) at this address, e.g. 127.0.0.1:9187
    #[arg(long, env = "MSGPOOL_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Rows per claim
    #[arg(long, env = "MSGPOOL_BATCH_SIZE", default_value_t = defaults::BATCH_SIZE)]
    batch_size: i32,
    /// Milliseconds between looks for due work when no notification arrives
    #[arg(long, env = "MSGPOOL_POLL_INTERVAL_MS", default_value_t = defaults::POLL_INTERVAL_MS)]
    poll_interval_ms: u64,
    /// Seconds a claim is held before another worker may take it (heartbeats extend it)
    #[arg(long, env = "MSGPOOL_LEASE_SECS", default_value_t = defaults::LEASE_SECS)]
    lease_secs: u64,
    /// Do not LISTEN, only poll (implied by --pooler: a pooler cannot keep a LISTEN)
    #[arg(long, env = "MSGPOOL_POLL_ONLY")]
    poll_only: bool,
    /// Only deliver; leave expanding messages to other workers
    #[arg(long)]
    no_expand: bool,
    /// Also create sample types, recipients and subscriptions, send sample messages, and serve
    /// the web console
    #[arg(long)]
    demo: bool,
    /// Where --demo serves the console (a free port if this one is taken)
    #[arg(long, env = "MSGPOOL_WEB_LISTEN", default_value = "127.0.0.1:8080")]
    console_listen: std::net::SocketAddr,
    /// Prune finished history older than this (a PostgreSQL interval), hourly; "off" keeps it
    #[arg(long, env = "MSGPOOL_RETENTION", default_value = defaults::RETENTION)]
    retention: String,
    /// Seconds in-flight sends may take to finish after SIGINT or SIGTERM
    #[arg(long, default_value_t = defaults::GRACE_SECS)]
    grace_secs: u64,
    /// Seconds a provider (SMTP server, SMS gateway, webhook) has to accept a connection
    #[arg(long, env = "MSGPOOL_CONNECT_TIMEOUT_SECS", default_value_t = defaults::CONNECT_TIMEOUT_SECS)]
    connect_timeout_secs: u64,
    /// Seconds a whole send may take; past it the send is retried later, with the cause
    #[arg(long, env = "MSGPOOL_SEND_TIMEOUT_SECS", default_value_t = defaults::SEND_TIMEOUT_SECS)]
    send_timeout_secs: u64,
    /// SMTP server: smtp://[user:pass@]host:port (STARTTLS when offered) or smtps://...;
    /// without one, emails are written as .eml files to the outbox
    #[arg(long, env = "MSGPOOL_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// The From of every email
    #[arg(long, env = "MSGPOOL_SMTP_FROM", default_value = defaults::SMTP_FROM)]
    smtp_from: String,
    /// Where emails and SMS go when no provider is configured (default: MSGPOOL_HOME/outbox)
    #[arg(long, env = "MSGPOOL_OUTBOX")]
    outbox: Option<std::path::PathBuf>,
    /// Generic JSON SMS gateway: it gets POST {"phone": "+86...", "text": "..."}
    #[arg(long, env = "MSGPOOL_SMS_GATEWAY_URL")]
    sms_gateway_url: Option<String>,
    /// Authorization header for the SMS gateway, e.g. "Bearer abc"
    #[arg(long, env = "MSGPOOL_SMS_GATEWAY_AUTH", hide_env_values = true)]
    sms_gateway_auth: Option<String>,
    /// The gateway's field name for the phone number
    #[arg(long, env = "MSGPOOL_SMS_PHONE_FIELD", default_value = defaults::SMS_PHONE_FIELD)]
    sms_phone_field: String,
    /// The gateway's field name for the text
    #[arg(long, env = "MSGPOOL_SMS_TEXT_FIELD", default_value = defaults::SMS_TEXT_FIELD)]
    sms_text_field: String,
    /// Longer texts are cut to this many characters, the last one "…"
    #[arg(long, env = "MSGPOOL_SMS_MAX_CHARS", default_value_t = defaults::SMS_MAX_CHARS)]
    sms_max_chars: usize,
    /// Aliyun SMS AccessKey ID (with the three below, sends through Aliyun SendSms)
    #[arg(long, env = "MSGPOOL_ALIYUN_ACCESS_KEY_ID")]
    aliyun_access_key_id: Option<String>,
    #[arg(long, env = "MSGPOOL_ALIYUN_ACCESS_KEY_SECRET", hide_env_values = true)]
    aliyun_access_key_secret: Option<String>,
    /// The approved SMS signature (签名)
    #[arg(long, env = "MSGPOOL_ALIYUN_SIGN_NAME")]
    aliyun_sign_name: Option<String>,
    /// The approved template; msgpool's text goes into its ${content} variable
    #[arg(long, env = "MSGPOOL_ALIYUN_TEMPLATE_CODE")]
    aliyun_template_code: Option<String>,
    #[arg(long, env = "MSGPOOL_ALIYUN_ENDPOINT", default_value = defaults::ALIYUN_ENDPOINT)]
    aliyun_endpoint: String,
}

impl WorkerArgs {
    fn aliyun(&self) -> anyhow::Result<Option<AliyunSms>> {
        let Some(access_key_id) = self.aliyun_access_key_id.clone() else {
            return Ok(None);
        };
        let need = |value: &Option<String>, name: &str| {
            value.clone().ok_or_else(|| anyhow::anyhow!("MSGPOOL_ALIYUN_ACCESS_KEY_ID is set but {name} is not; Aliyun SMS needs all four MSGPOOL_ALIYUN_* settings"))
        };
        Ok(Some(AliyunSms {
            access_key_id,
            access_key_secret: need(
                &self.aliyun_access_key_secret,
                "MSGPOOL_ALIYUN_ACCESS_KEY_SECRET",
            )?,
            sign_name: need(&self.aliyun_sign_name, "MSGPOOL_ALIYUN_SIGN_NAME")?,
            template_code: need(&self.aliyun_template_code, "MSGPOOL_ALIYUN_TEMPLATE_CODE")?,
            endpoint: self.aliyun_endpoint.clone(),
        }))
    }
}

pub async fn run(ctx: &Context, args: WorkerArgs) -> anyhow::Result<()> {
    let sms = SmsConfig {
        aliyun: args.aliyun()?,
        gateway_url: args.sms_gateway_url,
        gateway_auth: args.sms_gateway_auth,
        phone_field: args.sms_phone_field,
        text_field: args.sms_text_field,
        max_chars: args.sms_max_chars,
    };
    let config = WorkerConfig {
        channels: args.channels.iter().collect(),
        expand: !args.no_expand,
        concurrency: args.concurrency.max(1),
        in_flight: FlightBounds {
            min: args.min_in_flight.max(1),
            initial: defaults::INITIAL_IN_FLIGHT
                .clamp(args.min_in_flight.max(1), args.max_in_flight.max(1)),
            max: args.max_in_flight.max(args.min_in_flight).max(1),
        },
        metrics_listen: args.metrics_listen,
        batch_size: args.batch_size.max(1),
        poll_interval: Duration::from_millis(args.poll_interval_ms.max(10)),
        lease: Duration::from_secs(args.lease_secs.max(1)),
        poll_only: args.poll_only || ctx.database.is_pooled(),
        grace: Duration::from_secs(args.grace_secs),
        timeouts: Timeouts {
            connect: Duration::from_secs(args.connect_timeout_secs.max(1)),
            total: Duration::from_secs(args.send_timeout_secs.max(1)),
        },
        smtp_url: args.smtp_url,
        smtp_from: args.smtp_from,
        outbox: args
            .outbox
            .unwrap_or_else(|| msgpool::database::home().join("outbox")),
        sms,
        retention: (args.retention != "off").then_some(args.retention),
        ..WorkerConfig::default()
    };
    // Sends hold no connection (outcomes are written in batches): a claim per channel, and
    // the expander, its listener, the outcome writer, heartbeats, reports, housekeeping
    let pool = ctx
        .database
        .pool((2 * config.channels.len() + 6) as u32)
        .await?;
    let stop = CancellationToken::new();
    let console = match args.demo {
        true => {
            sqlx::raw_sql(include_str!("demo.sql"))
                .execute(&pool)
                .await?;
            // the demo's console: this machine only, signed in with the shared token
            let access = super::web::AccessArgs {
                public_url: None,
                trusted_proxy: Vec::new(),
                trusted_header: String::new(),
                no_token: false,
            };
            let listen = args.console_listen;
            let console = match super::web::start(ctx, listen, false, &access, stop.clone()).await {
                Ok(console) => console,
                Err(_) => {
                    let any_port = std::net::SocketAddr::new(listen.ip(), 0);
                    super::web::start(ctx, any_port, false, &access, stop.clone()).await?
                }
            };
            print_guide(ctx, &config, &console).await?;
            Some(console)
        }
        false => None,
    };
    tokio::spawn(crate::stop::on_signal(stop.clone()));
    ctx.database.trim_logs_while_running();
    msgpool_workers::run(pool, config, stop).await?;
    if let Some(console) = console {
        console.finished().await?;
    }
    Ok(())
}

/// Where a new user sees the demo's messages arrive, and how to send their own.
async fn print_guide(
    ctx: &Context,
    config: &WorkerConfig,
    console: &super::web::Running,
) -> anyhow::Result<()> {
    let outbox = config.outbox.display();
    let url = ctx.database.url().await?;
    let pool = ctx.pool().await?;
    let zhang_san = msgpool::domain::RecipientKey::parse("zhang.san")?;
    let inbox_token =
        msgpool::inbox_link::token(&pool, &zhang_san, msgpool::inbox_link::Scope::Inbox, None)
            .await?;
    let inbox_path = msgpool::inbox_link::path(zhang_san.as_str(), &inbox_token);
    console.print();
    let console_url = &console.url;
    outln!(
        r#"msgpool is running: PostgreSQL at {url}

The demo sent 3 messages to the ops group (张三, 李四). Within seconds:
  console: {console_url}   (message types, recipients, activity, status)
  inbox:   {console_url}{inbox_path}
           msgpool inbox zhang.san
  email:   {outbox}/email/*.eml   (set MSGPOOL_SMTP_URL to send through your SMTP server)
  sms:     {outbox}/sms.jsonl     (set MSGPOOL_SMS_GATEWAY_URL or the MSGPOOL_ALIYUN_* settings)
  status:  msgpool status

Send your own, from the shell or from SQL in any language:
  msgpool send server.down --data '{{"host": "db2", "since": "09:30"}}'
  psql "$(msgpool db url)" -c "SELECT msgpool.send('server.down', '{{\"host\": \"db2\", \"since\": \"09:30\"}}')"

Stop with Ctrl-C (in-flight sends finish first)."#
    );
    Ok(())
}
