//! The providers the benchmark sends to, in its own process: HTTP endpoints (a webhook, an
//! SMS gateway) and an SMTP server, each answering after a set latency. An endpoint may
//! serve only so many at once (the rest wait their turn: latency rises with load), or never
//! answer at all (a hung host). Each counts what it accepted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How an endpoint answers.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// After `latency`, at most `capacity` at a time (`None`: any number).
    Answer {
        latency: Duration,
        capacity: Option<usize>,
    },
    /// Never.
    Hang,
}

#[derive(Clone)]
struct Served {
    behaviour: Behaviour,
    turns: Option<Arc<Semaphore>>,
    accepted: Arc<AtomicU64>,
}

/// A running endpoint: where it is, and how many requests (or emails) it accepted.
pub struct Endpoint {
    pub address: SocketAddr,
    accepted: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Endpoint {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// An HTTP endpoint: every POST gets 200 `{"errcode":0}` (as a robot answers), as
    /// `behaviour` says.
    pub async fn http(behaviour: Behaviour) -> anyhow::Result<Endpoint> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let served = Served::new(behaviour);
        let accepted = served.accepted.clone();
        let app = Router::new()
            .route("/{*path}", post(answer))
            .with_state(served);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Endpoint {
            address,
            accepted,
            task,
        })
    }

    /// An SMTP server that takes each message (at the end of its DATA) as `behaviour` says;
    /// enough of RFC 5321 for lettre, connection reuse included.
    pub async fn smtp(behaviour: Behaviour) -> anyhow::Result<Endpoint> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let served = Served::new(behaviour);
        let accepted = served.accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(smtp_session(socket, served.clone()));
            }
        });
        Ok(Endpoint {
            address,
            accepted,
            task,
        })
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Served {
    fn new(behaviour: Behaviour) -> Served {
        let turns = match behaviour {
            Behaviour::Answer {
                capacity: Some(n), ..
            } => Some(Arc::new(Semaphore::new(n))),
            _ => None,
        };
        Served {
            behaviour,
            turns,
            accepted: Arc::default(),
        }
    }

    /// Waits as the behaviour says (forever, for a hang), then counts one accepted.
    async fn serve(&self) {
        let latency = match self.behaviour {
            Behaviour::Hang => std::future::pending().await,
            Behaviour::Answer { latency, .. } => latency,
        };
        let _turn = match &self.turns {
            Some(turns) => turns.acquire().await.ok(),
            None => None,
        };
        tokio::time::sleep(latency).await;
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }
}

async fn answer(State(served): State<Served>) -> &'static str {
    served.serve().await;
    r#"{"errcode":0,"errmsg":"ok"}"#
}

async fn smtp_session(socket: tokio::net::TcpStream, served: Served) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    if write.write_all(b"220 bench ESMTP\r\n").await.is_err() {
        return;
    }
    let mut in_data = false;
    while let Ok(Some(line)) = lines.next_line().await {
        let reply: &[u8] = if in_data {
            if line != "." {
                continue;
            }
            in_data = false;
            served.serve().await;
            b"250 queued\r\n"
        } else {
            match line.get(..4).map(str::to_ascii_uppercase).as_deref() {
                Some("EHLO") => b"250-bench\r\n250 8BITMIME\r\n",
                Some("DATA") => {
                    in_data = true;
                    b"354 go ahead\r\n"
                }
                Some("QUIT") => {
                    let _ = write.write_all(b"221 bye\r\n").await;
                    return;
                }
                _ => b"250 ok\r\n",
            }
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}
