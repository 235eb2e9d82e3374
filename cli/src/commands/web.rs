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
    #[command(flatten)]
    access: AccessArgs,
}

/// Who may reach the console, and how they sign in.
#[derive(Debug, Clone, Args)]
pub struct AccessArgs {
    /// Where people reach the console, e.g. https://console.example.com: the only host name
    /// it answers to (else this machine's own), and with https, Secure cookies and HSTS
    #[arg(long, env = "MSGPOOL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Addresses of a reverse proxy that signs people in (oauth2-proxy), e.g.
    /// 127.0.0.1/32: requests from them may name the console user in --trusted-header
    #[arg(long, env = "MSGPOOL_TRUSTED_PROXY", value_delimiter = ',')]
    pub trusted_proxy: Vec<ipnet::IpNet>,
    /// The header a trusted proxy names the console user in
    #[arg(
        long,
        env = "MSGPOOL_TRUSTED_HEADER",
        default_value = "X-Forwarded-User"
    )]
    pub trusted_header: String,
    /// Sign in with console users only: no shared token
    #[arg(long, env = "MSGPOOL_WEB_NO_TOKEN")]
    pub no_token: bool,
}

pub async fn run(ctx: &Context, args: WebArgs) -> anyhow::Result<()> {
    if !args.listen.ip().is_loopback() {
        tracing::warn!(
            listen = %args.listen,
            "the console is reachable from other machines: serve it behind TLS (a reverse proxy)"
        );
    }
    let stop = CancellationToken::new();
    let console = start(ctx, args.listen, args.read_only, &args.access, stop.clone()).await?;
    console.print();
    outln!("Stop with Ctrl-C.");
    ctx.database.trim_logs_while_running();
    crate::stop::on_signal(stop).await;
    console.finished().await
}

/// A running console.
pub struct Running {
    pub url: String,
    token: Option<TokenSource>,
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
            None => {
                outln!("sign in as a console user (msgpool console-user add NAME --role admin)")
            }
            Some(TokenSource::Environment) => outln!("sign in with the token in MSGPOOL_WEB_TOKEN"),
            Some(TokenSource::File(path, token)) => {
                outln!("sign-in token: {token}   (kept in {})", path.display())
            }
        }
    }

    pub async fn finished(self) -> anyhow::Result<()> {
        self.served.await??;
        Ok(())
    }
}

/// Serves the console on `listen` until `stop`, with its own pools, logged in as the
/// console's and the inbox's login roles.
pub async fn start(
    ctx: &Context,
    listen: SocketAddr,
    read_only: bool,
    access: &AccessArgs,
    stop: CancellationToken,
) -> anyhow::Result<Running> {
    let (sign_in_token, token) = match access.no_token {
        true => (None, None),
        false => {
            let (token, source) = sign_in_token()?;
            (Some(token), Some(source))
        }
    };
    let console = msgpool_web::Console {
        admin_db: ctx.database.pool_as(8, Role::Console).await?,
        inbox_db: ctx.database.pool_as(4, Role::Inbox).await?,
        sign_in_token,
        read_only,
        public_url: access.public_url.clone(),
        trusted_proxy: (!access.trusted_proxy.is_empty()).then(|| msgpool_web::TrustedProxy {
            header: access.trusted_header.to_ascii_lowercase(),
            addresses: access.trusted_proxy.clone(),
        }),
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
        anyhow::ensure!(
            token.trim().chars().count() >= msgpool_web::MIN_TOKEN_CHARS,
            "MSGPOOL_WEB_TOKEN is too short to keep guessers out: give it at least {} characters (e.g. from: openssl rand -hex 16)",
            msgpool_web::MIN_TOKEN_CHARS
        );
        return Ok((token.trim().to_owned(), TokenSource::Environment));
    }
    let token = msgpool::database::home_secret(TOKEN_FILE)?;
    let file = msgpool::database::home().join(TOKEN_FILE);
    Ok((token.clone(), TokenSource::File(file, token)))
}
