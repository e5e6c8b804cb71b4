//! `spawn_app()`: the real server on port 0 with a fresh database, and a
//! client with one method per endpoint.

use std::net::SocketAddr;

use banter::{AppState, Config, run};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    // Kept so the database lives as long as the app.
    pub dir: TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.path());
    configure(&mut config);
    start(config, dir).await
}

async fn start(config: Config, dir: TempDir) -> TestApp {
    let state = AppState::new(&config).await.unwrap();
    let listener = TcpListener::bind(config.bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let server = tokio::spawn(run(listener, state, config.shutdown_grace(), shutdown));
    TestApp {
        addr,
        client: reqwest::Client::new(),
        stop: Some(stop),
        server: Some(server),
        dir,
    }
}

/// A signed-in user: the token and the user object from the server.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub user: Value,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_with_token(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn register(&self, username: &str, password: &str) -> Response {
        let body = json!({ "username": username, "password": password });
        self.post_json("/api/auth/register", &body).await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        let body = json!({ "username": username, "password": password });
        self.post_json("/api/auth/login", &body).await
    }

    pub async fn guest(&self, name: &str) -> Response {
        self.post_json("/api/auth/guest", &json!({ "name": name }))
            .await
    }

    pub async fn logout(&self, token: &str) -> Response {
        let request = self.client.post(self.url("/api/auth/logout"));
        request.bearer_auth(token).send().await.unwrap()
    }

    pub async fn me(&self, token: &str) -> Response {
        self.get_with_token("/api/me", Some(token)).await
    }

    /// Registers and returns the session, asserting success.
    pub async fn signed_up(&self, username: &str) -> Session {
        session(
            self.register(username, "correct horse").await,
            StatusCode::CREATED,
        )
        .await
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) -> TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        self.dir
    }

    /// Stops the server and starts a new one on the same database.
    pub async fn restart(self) -> TestApp {
        let dir = self.stop().await;
        start(Config::for_data_dir(dir.path()), dir).await
    }
}

/// Asserts the status and reads `{token, user}`.
pub async fn session(response: Response, expected: StatusCode) -> Session {
    assert_eq!(response.status(), expected);
    let body: Value = response.json().await.unwrap();
    Session {
        token: body["token"].as_str().unwrap().to_owned(),
        user: body["user"].clone(),
    }
}

/// Asserts the status and that the body is `{"error": {"code": code, ..}}`.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}
