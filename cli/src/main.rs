//! `msgpool`: administer the pool, send messages, run the embedded database.

mod args;
mod commands;
mod config_file;
mod context;
mod output;
mod stop;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use msgpool::Database;

pub use context::Context;

#[derive(Debug, Parser)]
#[command(
    name = "msgpool",
    version,
    about = "A message pool inside PostgreSQL: types, recipients, subscriptions, sending, the inbox"
)]
struct Cli {
    /// PostgreSQL URL; without one, msgpool runs its own cluster in MSGPOOL_HOME (default ./.msgpool)
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// DATABASE_URL is a transaction-mode pooler's (PgBouncer pool_mode = transaction): each
    /// query runs in a transaction of its own, no statement is cached, the worker polls
    #[arg(long, global = true, env = "MSGPOOL_POOLER")]
    pooler: bool,
    /// Print JSON instead of tables (for anything that lists or shows)
    #[arg(long, global = true)]
    json: bool,
    /// A TOML file of settings (keys: the environment variables' names without MSGPOOL_, in lowercase)
    #[arg(long, global = true, env = "MSGPOOL_CONFIG")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The database: start, stop, status, url, migrate
    #[command(subcommand)]
    Db(commands::db::DbCommand),
    /// Message types: what producers may send
    #[command(subcommand, name = "type")]
    Type(commands::message_type::TypeCommand),
    /// Per-channel templates of a message type
    #[command(subcommand)]
    Template(commands::template::TemplateCommand),
    /// Recipients: people and chat groups with their contacts
    #[command(subcommand)]
    Recipient(commands::recipient::RecipientCommand),
    /// Groups of recipients
    #[command(subcommand)]
    Group(commands::group::GroupCommand),
    /// Subscribe a recipient or group to a message type
    Subscribe(commands::subscription::SubscribeArgs),
    /// Remove a subscription
    Unsubscribe(commands::subscription::UnsubscribeArgs),
    /// Pause a subscription: kept as it is, but nothing goes to it until resumed
    Pause(commands::subscription::UnsubscribeArgs),
    /// Resume a paused subscription
    Resume(commands::subscription::UnsubscribeArgs),
    /// List subscriptions: of a type, a group, or a recipient (with those through groups)
    Subscriptions(commands::subscription::ListArgs),
    /// Put a message into the pool
    Send(commands::send::SendArgs),
    /// Cancel a message: its unsent deliveries stop, sent ones stay as history
    Cancel(commands::cancel::CancelArgs),
    /// Quiet hours per type and channel: defer or drop deliveries at night
    #[command(subcommand, name = "quiet-hours")]
    QuietHours(commands::quiet_hours::QuietHoursCommand),
    /// Rate limits per channel: per recipient and per second
    #[command(subcommand, name = "rate-limit")]
    RateLimit(commands::rate_limit::RateLimitCommand),
    /// How the pool is doing
    Status,
    /// Deliveries with their state and last error, filtered
    Deliveries(commands::deliveries::ListArgs),
    /// Re-queue dead deliveries (by id, by filter, or --all)
    Retry(commands::deliveries::RetryArgs),
    /// A recipient's in-site inbox
    Inbox(commands::inbox::InboxCommand),
    /// Serve the web console and the inbox pages
    Web(commands::web::WebArgs),
    /// Who may sign in to the console, as viewer, operator or admin
    #[command(subcommand, name = "console-user")]
    ConsoleUser(commands::console_user::ConsoleUserCommand),
    /// The sources a producer's login role may name
    #[command(subcommand)]
    Producer(commands::producer::ProducerCommand),
    /// Run a worker: expand due messages and deliver them, until SIGINT or SIGTERM
    Worker(Box<commands::worker::WorkerArgs>),
    /// Delete finished history older than the retention (deliveries and attempts with it)
    Prune(commands::prune::PruneArgs),
    /// Who changed the configuration, when, from what to what
    Audit(commands::audit::AuditArgs),
    /// Measure msgpool's speed on a PostgreSQL of its own (prints figures and a JSON summary)
    Bench(commands::bench::BenchArgs),
}

fn main() -> ExitCode {
    // The config file fills in the environment, so it must be read before any thread starts.
    let args: Vec<String> = std::env::args().collect();
    if let Some(path) = config_file::path_from(&args) {
        match config_file::read(std::path::Path::new(&path)) {
            Ok(settings) => {
                for (variable, value) in settings {
                    // SAFETY: no other thread exists yet; the runtime starts below.
                    unsafe { std::env::set_var(variable, value) };
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MSGPOOL_LOG")
                .unwrap_or_else(|_| default_log_filter().into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    let cli = Cli::parse();
    let database = match Database::from_env(cli.database_url, cli.pooler) {
        Ok(database) => database,
        Err(e) => {
            eprintln!("error: {}", one_line(&e.into()));
            return ExitCode::FAILURE;
        }
    };
    let ctx = Context {
        database,
        json: cli.json,
    };
    let result = match cli.command {
        Command::Db(cmd) => commands::db::run(&ctx, cmd).await,
        Command::Type(cmd) => commands::message_type::run(&ctx, cmd).await,
        Command::Template(cmd) => commands::template::run(&ctx, cmd).await,
        Command::Recipient(cmd) => commands::recipient::run(&ctx, cmd).await,
        Command::Group(cmd) => commands::group::run(&ctx, cmd).await,
        Command::Subscribe(args) => commands::subscription::subscribe(&ctx, args).await,
        Command::Unsubscribe(args) => commands::subscription::unsubscribe(&ctx, args).await,
        Command::Pause(args) => commands::subscription::set_paused(&ctx, args, true).await,
        Command::Resume(args) => commands::subscription::set_paused(&ctx, args, false).await,
        Command::Subscriptions(args) => commands::subscription::list(&ctx, args).await,
        Command::Send(args) => commands::send::run(&ctx, args).await,
        Command::Cancel(args) => commands::cancel::run(&ctx, args).await,
        Command::QuietHours(cmd) => commands::quiet_hours::run(&ctx, cmd).await,
        Command::RateLimit(cmd) => commands::rate_limit::run(&ctx, cmd).await,
        Command::Status => commands::status::run(&ctx).await,
        Command::Deliveries(args) => commands::deliveries::list(&ctx, args).await,
        Command::Retry(args) => commands::deliveries::retry(&ctx, args).await,
        Command::Inbox(args) => commands::inbox::run(&ctx, args).await,
        Command::Web(args) => commands::web::run(&ctx, args).await,
        Command::ConsoleUser(cmd) => commands::console_user::run(&ctx, cmd).await,
        Command::Producer(cmd) => commands::producer::run(&ctx, cmd).await,
        Command::Worker(args) => commands::worker::run(&ctx, *args).await,
        Command::Audit(args) => commands::audit::run(&ctx, args).await,
        Command::Bench(args) => commands::bench::run(&ctx, args).await,
        Command::Prune(args) => commands::prune::run(&ctx, args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// A worker reports what it does; admin commands stay quiet unless something is wrong.
fn default_log_filter() -> &'static str {
    match std::env::args().nth(1).as_deref() {
        Some("worker") => "info,sqlx=warn,refinery_core=warn",
        // the benchmark's own bulk set-up would trip sqlx's slow-statement warnings
        Some("bench") => "warn,sqlx=error",
        _ => "warn",
    }
}

/// The error, its causes and msgpool's hint on one line.
fn one_line(e: &anyhow::Error) -> String {
    // each cause once: sqlx's own message already ends with the io error it wraps
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain().map(ToString::to_string) {
        if !parts.last().is_some_and(|last| last.ends_with(&cause)) {
            parts.push(cause);
        }
    }
    let mut line = parts.join(": ");
    if let Some(hint) = e
        .downcast_ref::<msgpool::Error>()
        .and_then(msgpool::Error::hint)
    {
        line.push_str(&format!(" ({hint})"));
    }
    line.replace('\n', " ")
}
