//! A real HTTP/1.1 server on loopback for the tests: records every request and answers
//! with the replies queued for it (default: 200 with `{"errcode":0,"errmsg":"ok"}`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Request {
    /// Path and query, e.g. `/robot/send?access_token=T&timestamp=...`.
    pub target: String,
    /// Header names in lowercase.
    pub headers: HashMap<String, String>,
    pub body: String,
    pub received_at: std::time::Instant,
}

impl Request {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    /// A query parameter, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        let (_, query) = self.target.split_once('?')?;
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| percent_decode(v))
    }
}

/// A queued answer: status, extra header lines, body.
type Reply = (u16, Vec<String>, String);

#[derive(Clone, Default)]
pub struct HttpServer {
    pub port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    replies: Arc<Mutex<VecDeque<Reply>>>,
    /// How long to wait before answering, like a slow provider.
    delay: Arc<Mutex<std::time::Duration>>,
}

impl HttpServer {
    pub async fn start() -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind HTTP");
        let server = HttpServer {
            port: listener.local_addr().expect("addr").port(),
            ..HttpServer::default()
        };
        let accepting = server.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(accepting.clone().connection(socket));
            }
        });
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next request gets this reply instead of the default.
    pub fn reply_next(&self, status: u16, body: &str) {
        self.reply_next_with(status, &[], body);
    }

    /// The same, with extra headers, e.g. `Retry-After: 2`.
    pub fn reply_next_with(&self, status: u16, headers: &[&str], body: &str) {
        self.replies.lock().expect("lock").push_back((
            status,
            headers.iter().map(|h| format!("{h}\r\n")).collect(),
            body.to_owned(),
        ));
    }

    pub fn answer_after(&self, delay: std::time::Duration) {
        *self.delay.lock().expect("lock") = delay;
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("lock").clone()
    }

    async fn connection(self, socket: tokio::net::TcpStream) {
        let (read, mut write) = socket.into_split();
        let mut reader = BufReader::new(read);
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                return;
            }
            let target = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .to_owned();
            let mut headers = HashMap::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
                }
            }
            let length: usize = headers
                .get("content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).await.is_err() {
                return;
            }
            let body = String::from_utf8_lossy(&body).into_owned();
            self.requests.lock().expect("lock").push(Request {
                target,
                headers,
                body,
                received_at: std::time::Instant::now(),
            });
            let delay = *self.delay.lock().expect("lock");
            tokio::time::sleep(delay).await;
            let (status, extra, reply) = self
                .replies
                .lock()
                .expect("lock")
                .pop_front()
                .unwrap_or((200, Vec::new(), r#"{"errcode":0,"errmsg":"ok"}"#.to_owned()));
            let response = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{}Content-Length: {}\r\n\r\n{reply}",
                extra.concat(),
                reply.len()
            );
            if write.write_all(response.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}

/// Decodes `%XX` escapes and `+` (form encoding).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
