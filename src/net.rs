//! The listener: accepts TCP connections under caps and serves HTTP/1.1 on
//! each with the timeouts `axum::serve` does not set.
//!
//! Without them a client could hold a connection (a file descriptor and its
//! buffers) for ever by sending half a request line, nothing at all, or a
//! body a byte at a time; and any number of connections. So:
//! - hyper's header timer closes a connection that has not sent a whole
//!   request head in time. hyper starts it whenever the connection waits for
//!   a head, so it also bounds the idle wait between keep-alive requests.
//! - each request body has a deadline from the request's arrival; past it
//!   the request gets `408 request_timeout` and the connection is closed
//!   (tower-http's body timeout resets on every frame, so a trickle of one
//!   byte a second would never trip it).
//! - connections open at once are capped overall and per peer address; one
//!   past the cap gets a short `503 too_many_connections` and is closed.
//!
//! An upgraded WebSocket leaves hyper, so these timers no longer apply to it
//! (Engine.IO's ping timeout closes dead ones), but it keeps its place under
//! the caps: the place travels with the socket.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, Request};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::Config;
use crate::error::{Code, Failure};
use crate::realtime::{Counter, Place};

/// Bytes written to one TCP connection so far, through a WebSocket upgrade
/// too. Every request carries its connection's counter in its extensions,
/// so delivery can tell how much of what it queued a socket has taken
/// (`realtime::delivery::Backlog`).
#[derive(Debug, Default)]
pub struct Written(AtomicU64);

impl Written {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    pub(crate) fn add(&self, bytes: usize) {
        self.0.fetch_add(bytes as u64, Ordering::AcqRel);
    }
}

/// The listener's limits, from the configuration.
#[derive(Clone)]
pub struct Settings {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
}

impl Settings {
    pub fn new(config: &Config) -> Self {
        Self {
            header_timeout: Duration::from_secs(config.header_timeout_secs),
            body_timeout: Duration::from_secs(config.body_timeout_secs),
            max_connections: config.max_tcp_connections,
            max_connections_per_ip: config.max_tcp_connections_per_ip,
        }
    }
}

/// Open TCP connections, overall and per peer address.
struct Caps {
    all: Arc<Semaphore>,
    per_ip: Counter,
}

/// One connection's places under both caps; given back on drop.
struct Ticket {
    _all: OwnedSemaphorePermit,
    _ip: Place,
}

impl Caps {
    fn admit(&self, ip: IpAddr) -> Result<Ticket, &'static str> {
        let all = self
            .all
            .clone()
            .try_acquire_owned()
            .map_err(|_| "the server has too many connections open")?;
        let ip = self
            .per_ip
            .acquire(ip)
            .ok_or("too many connections from this address")?;
        Ok(Ticket { _all: all, _ip: ip })
    }
}

/// Accepts and serves until `signal` resolves, then stops accepting, asks
/// every connection to finish its request in flight and close, and returns
/// when they all have.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    settings: Settings,
    signal: impl Future<Output = ()>,
) -> io::Result<()> {
    let caps = Caps {
        all: Arc::new(Semaphore::new(settings.max_connections)),
        per_ip: Counter::new(settings.max_connections_per_ip),
    };
    let (stop, connections) = (CancellationToken::new(), TaskTracker::new());
    tokio::pin!(signal);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut signal => break,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors, mostly: wait for some to close.
                tracing::warn!(%err, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Nagle's algorithm delays small frames by up to 40 ms; chat is small frames.
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::warn!(%err, "cannot set TCP_NODELAY");
        }
        match caps.admit(peer.ip()) {
            Ok(ticket) => {
                let conn = Connection {
                    tcp,
                    written: Arc::default(),
                    _ticket: ticket,
                };
                let task =
                    serve_connection(conn, peer, app.clone(), settings.clone(), stop.clone());
                connections.spawn(task);
            }
            Err(why) => {
                tracing::info!(%peer, why, "refused a connection");
                tokio::spawn(refuse(tcp, why));
            }
        }
    }
    drop(listener);
    stop.cancel();
    connections.close();
    connections.wait().await;
    Ok(())
}

async fn serve_connection(
    conn: Connection,
    peer: SocketAddr,
    app: Router,
    settings: Settings,
    stop: CancellationToken,
) {
    let body_timeout = settings.body_timeout;
    let written = conn.written.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        handle(app.clone(), peer, written.clone(), body_timeout, req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout);
    let served = builder
        .serve_connection(TokioIo::new(conn), service)
        .with_upgrades();
    tokio::pin!(served);
    let result = tokio::select! {
        result = served.as_mut() => result,
        () = stop.cancelled() => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(%peer, %err, "connection closed");
    }
}

/// One request: the peer address for `ConnectInfo`, a deadline on the body.
async fn handle(
    app: Router,
    peer: SocketAddr,
    written: Arc<Written>,
    body_timeout: Duration,
    req: Request<Incoming>,
) -> Result<Response, Infallible> {
    let expired = Arc::new(AtomicBool::new(false));
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(ConnectInfo(peer));
    parts.extensions.insert(written);
    let body = Deadline {
        inner: body,
        until: Instant::now() + body_timeout,
        sleep: None,
        expired: expired.clone(),
    };
    let response = app
        .oneshot(Request::from_parts(parts, Body::new(body)))
        .await;
    if expired.load(Ordering::Relaxed) {
        let mut late =
            Failure::new(Code::RequestTimeout, "the request body came too slowly").into_response();
        late.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        return Ok(late);
    }
    response
}

/// A request body that fails once its deadline has passed.
struct Deadline {
    inner: Incoming,
    until: Instant,
    /// Set on the first wait, so a body read at once costs no timer.
    sleep: Option<Pin<Box<Sleep>>>,
    expired: Arc<AtomicBool>,
}

/// The error a late body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body came too slowly")]
struct BodyTimedOut;

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let until = this.until;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
        if sleep.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(BodyTimedOut.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Tells a connection past the caps why, and closes it.
async fn refuse(mut tcp: TcpStream, why: &'static str) {
    let body = serde_json::json!({ "error": Failure::new(Code::TooManyConnections, why) });
    let body = body.to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    // Read what the client sent before closing: closing with unread data
    // resets the connection, and the client may lose the answer.
    let told = async {
        tcp.write_all(answer.as_bytes()).await?;
        tcp.shutdown().await?;
        let mut sink = [0u8; 1024];
        while tcp.read(&mut sink).await? > 0 {}
        io::Result::Ok(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), told).await;
}

/// A TCP connection with its places under the caps, which it keeps until
/// it closes, through a WebSocket upgrade too.
struct Connection {
    tcp: TcpStream,
    written: Arc<Written>,
    _ticket: Ticket,
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.tcp).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            this.written.add(n);
        }
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = written {
            this.written.add(n);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}
