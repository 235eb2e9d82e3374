//! A console served in-process over a test database, and a signed-in HTTP client for it.
#![allow(dead_code)] // each test binary uses its own part

use msgpool::Database;
use msgpool::domain::Role;
use reqwest::StatusCode;

pub const TOKEN: &str = "test-sign-in-token";

pub struct Console {
    pub base: String,
    client: reqwest::Client,
    cookie: Option<String>,
    csrf: Option<String>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    /// The Set-Cookie header, whole.
    pub set_cookie: Option<String>,
    pub body: String,
}

impl Console {
    /// Serves the console over the database at `url`, as its roles.
    pub async fn start(url: &str, read_only: bool) -> Console {
        Console::serve(url, read_only, None).await
    }

    /// The same, reached at `public_url` (the only host it then answers to).
    pub async fn start_public(url: &str, public_url: &str) -> Console {
        Console::serve(url, false, Some(public_url.to_owned())).await
    }

    async fn serve(url: &str, read_only: bool, public_url: Option<String>) -> Console {
        let database = Database::Url(url.to_owned());
        let console = msgpool_web::Console {
            admin_db: database
                .pool_as(4, Role::Console)
                .await
                .expect("console pool"),
            inbox_db: database.pool_as(2, Role::Inbox).await.expect("inbox pool"),
            sign_in_token: Some(TOKEN.to_owned()),
            read_only,
            public_url,
            trusted_proxy: None,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(msgpool_web::serve(listener, console, async move {
            let _ = stopped.await;
        }));
        Console {
            base,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookie: None,
            csrf: None,
            _stop: stop,
        }
    }

    /// Starts and signs in with the shared token.
    pub async fn signed_in(url: &str, read_only: bool) -> Console {
        Console::signed_in_with(url, read_only, &[("token", TOKEN)]).await
    }

    /// Starts and signs in as a console user.
    pub async fn signed_in_as(url: &str, user: &str, password: &str) -> Console {
        Console::signed_in_with(url, false, &[("user", user), ("password", password)]).await
    }

    /// A sign-in as it is, without keeping its session.
    pub async fn sign_in_raw(&self, form: &[(&str, &str)]) -> Page {
        self.post_raw("/signin", form, None).await
    }

    async fn signed_in_with(url: &str, read_only: bool, form: &[(&str, &str)]) -> Console {
        let mut console = Console::start(url, read_only).await;
        let page = console.post_raw("/signin", form, None).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "sign in: {}", page.body);
        let set_cookie = page.set_cookie.expect("a session cookie");
        console.cookie = set_cookie.split(';').next().map(str::to_owned);
        let types = console.get("/types").await;
        console.csrf = Some(
            types
                .body
                .split("name=\"csrf\" value=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_else(|| {
                    panic!("a CSRF token in the page: {} {}", types.status, types.body)
                })
                .to_owned(),
        );
        console
    }

    pub fn csrf(&self) -> &str {
        self.csrf.as_deref().unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> Page {
        self.get_with(path, &[]).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send().await.expect("GET")).await
    }

    /// Posts a form with the session's CSRF token.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        fields.push(("csrf", self.csrf()));
        self.post_raw(path, &fields, self.cookie.as_deref()).await
    }

    /// Posts a form as it is (no CSRF token added).
    pub async fn post_without_csrf(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.post_raw(path, form, self.cookie.as_deref()).await
    }

    async fn post_raw(&self, path: &str, form: &[(&str, &str)], cookie: Option<&str>) -> Page {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        read(request.send().await.expect("POST")).await
    }

    /// A request with no session at all.
    pub async fn anonymous(&self, method: &str, path: &str) -> Page {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "POST" => self
                .client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("csrf=x"),
            _ => self.client.get(url),
        };
        read(request.send().await.expect("request")).await
    }

    /// An answer's headers, one `name: value` line each (names lowercase).
    pub async fn get_headers(&self, path: &str) -> String {
        self.get_headers_with_host(path, "").await
    }

    /// The same, asking for `host` (empty: the address's own).
    pub async fn get_headers_with_host(&self, path: &str, host: &str) -> String {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        if !host.is_empty() {
            request = request.header("host", host);
        }
        let response = request.send().await.expect("GET");
        response
            .headers()
            .iter()
            .map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap_or("?")))
            .collect()
    }

    /// A form posted as it is, asking for `host`.
    pub async fn post_with_host(&self, path: &str, host: &str, form: &[(&str, &str)]) -> Page {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("host", host)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        read(request.send().await.expect("POST")).await
    }

    pub async fn post_json(&self, path: &str, json: &str) -> Page {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(json.to_owned());
        read(request.send().await.expect("POST")).await
    }
}

async fn read(response: reqwest::Response) -> Page {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (location, set_cookie) = (header("location"), header("set-cookie"));
    Page {
        status: response.status(),
        location,
        set_cookie,
        body: response.text().await.expect("body"),
    }
}

pub use msgpool::url::percent_encode as encode;
