//! A real SMTP server on loopback for the tests: speaks enough of RFC 5321 for lettre
//! (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeps what it receives, and answers RCPT for
//! chosen addresses with a chosen reply (e.g. "450 mailbox busy", "550 no such user").

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Clone, Default)]
pub struct SmtpServer {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    /// The decoded `AUTH PLAIN` credentials clients logged in with: (user, password).
    logins: Arc<Mutex<Vec<(String, String)>>>,
    refusals: Arc<Mutex<HashMap<String, String>>>,
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind SMTP");
        let server = SmtpServer {
            port: listener.local_addr().expect("addr").port(),
            ..SmtpServer::default()
        };
        let accepting = server.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(accepting.clone().session(socket));
            }
        });
        server
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Answers RCPT TO for `address` with `reply` (e.g. "450 4.2.1 mailbox busy"); `None` accepts again.
    pub fn refuse(&self, address: &str, reply: Option<&str>) {
        let mut refusals = self.refusals.lock().expect("lock");
        match reply {
            Some(reply) => refusals.insert(address.to_owned(), reply.to_owned()),
            None => refusals.remove(address),
        };
    }

    pub fn logins(&self) -> Vec<(String, String)> {
        self.logins.lock().expect("lock").clone()
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    async fn session(self, socket: tokio::net::TcpStream) {
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        if write
            .write_all(b"220 msgpool-test ESMTP\r\n")
            .await
            .is_err()
        {
            return;
        }
        let mut from = String::new();
        let mut to = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            let upper = line.to_ascii_uppercase();
            let answer = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                "250-msgpool-test\r\n250-AUTH PLAIN\r\n250 8BITMIME".to_owned()
            } else if upper.starts_with("AUTH PLAIN") {
                // AUTH PLAIN base64("\0user\0password"), on the same line
                let decoded = line
                    .split_whitespace()
                    .nth(2)
                    .and_then(decode_base64)
                    .unwrap_or_default();
                let mut parts = decoded.split('\0').skip(1);
                let login = (
                    parts.next().unwrap_or_default().to_owned(),
                    parts.next().unwrap_or_default().to_owned(),
                );
                self.logins.lock().expect("lock").push(login);
                "235 2.7.0 authenticated".to_owned()
            } else if upper.starts_with("MAIL FROM:") {
                from = address(&line);
                to.clear();
                "250 OK".to_owned()
            } else if upper.starts_with("RCPT TO:") {
                let rcpt = address(&line);
                match self.refusals.lock().expect("lock").get(&rcpt) {
                    Some(refusal) => refusal.clone(),
                    None => {
                        to.push(rcpt);
                        "250 OK".to_owned()
                    }
                }
            } else if upper.starts_with("DATA") {
                if write.write_all(b"354 go ahead\r\n").await.is_err() {
                    return;
                }
                let mut data = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line == "." {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    data.push('\n');
                }
                self.received.lock().expect("lock").push(Received {
                    from: from.clone(),
                    to: to.clone(),
                    data,
                });
                "250 OK queued".to_owned()
            } else if upper.starts_with("QUIT") {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            } else {
                "250 OK".to_owned() // RSET, NOOP
            };
            if write
                .write_all(format!("{answer}\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

fn address(line: &str) -> String {
    line.split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(a, _)| a.to_owned())
        .unwrap_or_default()
}

fn decode_base64(text: &str) -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|c| *c != b'=') {
        bits = bits << 6 | ALPHABET.iter().position(|a| *a == c)? as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    String::from_utf8(out).ok()
}
