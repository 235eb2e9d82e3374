//! A server that accepts connections and never says a word: a provider that hangs. It
//! counts the connections it took.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

#[derive(Clone)]
pub struct SilentServer {
    pub port: u16,
    accepted: Arc<AtomicUsize>,
}

impl SilentServer {
    pub async fn start() -> SilentServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let server = SilentServer {
            port: listener.local_addr().expect("addr").port(),
            accepted: Arc::default(),
        };
        let accepted = server.accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                // reads what comes (so the client's request is "sent") and answers nothing
                tokio::spawn(async move {
                    let mut sink = [0u8; 4096];
                    while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
                });
            }
        });
        server
    }

    /// Connections taken so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}
