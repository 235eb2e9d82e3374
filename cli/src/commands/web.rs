//! `msgpool web`: the console and the inbox pages; `worker --demo` starts them too.

use std::net::SocketAddr;

use clap::Args;
use msgpool::domain::Role;
use tokio_util::sync::CancellationToken;

use crate::Context;
use crate::output::outln;

/// In MSGPOOL_HOME: the sign-in token made when MSGPOOL_WEB_TOKEN is not set.
const TOKEN_FILE: &str = "web.token";

#[derive(Debug, Args)]
pub struct WebArgs {
    /// Address to serve on; only this machine by default
    #[arg(long, env = "MSGPOOL_WEB_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Show everything, change nothing
    #[arg(long)]
    read_only: bool,
}

pub async fn run(ctx: &Context, args: WebArgs) -> anyhow::Result<()> {
    if !args.listen.ip().is_loopback() {
        tracing::warn!(
            listen = %args.listen,
            "the console is reachable from other machines: serve it behind TLS (a reverse proxy)"
        );
    }
    let stop = CancellationToken::new();
    let console = start(ctx, args.listen, args.read_only, stop.clone()).await?;
    console.print();
    outln!("Stop with Ctrl-C.");
    crate::stop::on_signal(stop).await;
    console.finished().await
}

/// A running console.
pub struct Running {
    pub url: String,
    token: TokenSource,
    read_only: bool,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

enum TokenSource {
    Environment,
    File(std::path::PathBuf, String),
}

impl Running {
    /// Where the console is and how to sign in (a token from the environment is not echoed).
    pub fn print(&self) {
        let mode = if self.read_only { " (read-only)" } else { "" };
        outln!("console{mode}: {}", self.url);
        match &self.token {
            TokenSource::Environment => outln!("sign in with the token in MSGPOOL_WEB_TOKEN"),
            TokenSource::File(path, token) => {
                outln!("sign-in token: {token}   (kept in {})", path.display())
            }
        }
    }

    pub async fn finished(self) -> anyhow::Result<()> {
        self.served.await??;
        Ok(())
    }
}

/// Serves the console on `listen` until `stop`, with its own pools as `msgpool_admin` and
/// `msgpool_inbox`.
pub async fn start(
    ctx: &Context,
    listen: SocketAddr,
    read_only: bool,
    stop: CancellationToken,
) -> anyhow::Result<Running> {
    let (sign_in_token, token) = sign_in_token()?;
    let console = msgpool_web::Console {
        admin_db: ctx.database.pool_as(8, Role::Admin).await?,
        inbox_db: ctx.database.pool_as(4, Role::Inbox).await?,
        sign_in_token,
        read_only,
    };
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        anyhow::anyhow!("cannot serve the console on {listen}: {e} (choose another with --listen)")
    })?;
    let url = format!("http://{}", listener.local_addr()?);
    let served = tokio::spawn(msgpool_web::serve(listener, console, async move {
        stop.cancelled().await
    }));
    Ok(Running {
        url,
        token,
        read_only,
        served,
    })
}

/// `MSGPOOL_WEB_TOKEN`, or one made on first use and kept in MSGPOOL_HOME (mode 0600).
fn sign_in_token() -> anyhow::Result<(String, TokenSource)> {
    if let Ok(token) = std::env::var("MSGPOOL_WEB_TOKEN")
        && !token.trim().is_empty()
    {
        return Ok((token.trim().to_owned(), TokenSource::Environment));
    }
    let token = msgpool::database::home_secret(TOKEN_FILE)?;
    let file = msgpool::database::home().join(TOKEN_FILE);
    Ok((token.clone(), TokenSource::File(file, token)))
}
