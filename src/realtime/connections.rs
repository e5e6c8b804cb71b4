//! How many Socket.IO sessions each address has open, so one address cannot
//! hold unbounded server memory with idle sessions.
//!
//! A session is counted from its Engine.IO handshake (the first request,
//! without a `sid`) until it closes, whatever its transport: the place is
//! put in the handshake request's extensions, which the Engine.IO socket
//! keeps for its whole life. Counting only at the namespace CONNECT would let
//! sessions that never join escape the cap. The handshake rate is checked at
//! the same point.
//!
//! A refused handshake is still let in, holding a place of a second, equal
//! allowance, so that the namespace CONNECT can answer with a `connect_error`
//! that says why (what official clients show); the session is closed at once
//! by the client or after `--connect-timeout-secs`. Past that allowance too,
//! the handshake itself gets an HTTP error.
//!
//! Later requests of a session pass here too, so that its backlog
//! (`delivery::Backlog`) follows the bytes it takes: a polling response is
//! counted as the HTTP server takes it, and a WebSocket upgrade hands the
//! backlog its TCP connection's write counter.
//!
//! With `--redis-url` the cap holds for all the nodes together: a place is
//! taken here and then in Redis (`cluster::shared`); the allowance for
//! refused sessions stays per node (it only carries the refusal's reason).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::Core;
use crate::cluster::shared::Shared;
use crate::error::{Code, Failure};
use crate::net::Written;
use crate::ratelimit::Key;
use socketioxide::socket::Sid;

use super::delivery::Polled;

/// Open places per address, capped. Cheap to clone.
#[derive(Clone)]
pub struct Counter {
    max: usize,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection's place under its address's cap; given back on drop.
pub struct Place {
    counts: Counter,
    ip: IpAddr,
    /// Where the other nodes count it, if they do.
    shared: Option<Mirror>,
}

/// A place's count in Redis.
struct Mirror {
    shared: Arc<Shared>,
    /// Whether Redis counted it (it did not answer when the place was taken).
    counted: bool,
}

impl Counter {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            counts: Arc::default(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<IpAddr, usize>) -> T) -> T {
        let mut guard = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// A place for one more connection from `ip`, or `None` at the cap.
    pub fn acquire(&self, ip: IpAddr) -> Option<Place> {
        let admitted = self.with(|counts| {
            let count = counts.entry(ip).or_default();
            if *count >= self.max {
                return false;
            }
            *count += 1;
            true
        });
        admitted.then(|| Place {
            counts: self.clone(),
            ip,
            shared: None,
        })
    }

    /// The open places per address, for Redis's copy.
    pub fn snapshot(&self) -> Vec<(IpAddr, usize)> {
        self.with(|counts| counts.iter().map(|(ip, n)| (*ip, *n)).collect())
    }

    /// Places held by `ip` now.
    pub fn open(&self, ip: IpAddr) -> usize {
        self.with(|counts| counts.get(&ip).copied().unwrap_or(0))
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.counts.with(|counts| {
            if let Some(count) = counts.get_mut(&self.ip) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    counts.remove(&self.ip);
                }
            }
        });
        let Some(mirror) = self.shared.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) if mirror.counted => {
                let ip = self.ip;
                runtime.spawn(async move { mirror.shared.give_back(ip).await });
            }
            _ => mirror.shared.mark_stale(),
        }
    }
}

/// Sessions open per address, and refused sessions waiting to be told why.
#[derive(Clone)]
pub struct ConnectionCounts {
    open: Counter,
    refused: Counter,
    /// The other nodes' counts (`--redis-url`).
    shared: Option<Arc<Shared>>,
}

impl ConnectionCounts {
    pub fn new(max: usize, shared: Option<Arc<Shared>>) -> Self {
        Self {
            open: Counter::new(max),
            refused: Counter::new(max),
            shared,
        }
    }

    /// This node's open places per address.
    pub fn snapshot(&self) -> Vec<(IpAddr, usize)> {
        self.open.snapshot()
    }

    /// A place for one more session from `ip`, under the cap on this node
    /// and, with Redis, on all of them together (this node's own count
    /// alone while Redis does not answer).
    async fn admit(&self, ip: IpAddr) -> Option<Place> {
        let mut place = self.open.acquire(ip)?;
        if let Some(shared) = &self.shared {
            let counted = match shared.take(ip, self.open.max).await {
                Some(true) => true,
                Some(false) => return None,
                None => false,
            };
            place.shared = Some(Mirror {
                shared: shared.clone(),
                counted,
            });
        }
        Some(place)
    }
}

/// Why a session's handshake was refused; its namespace CONNECT gets the
/// matching `connect_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    RateLimited,
    TooManyConnections,
}

/// A refused session's place in the allowance for refused sessions, held
/// like an admitted session's place until the session closes.
#[derive(Clone)]
struct RefusedPlace {
    _place: Arc<Place>,
}

/// Whether a request opens an Engine.IO session: `EIO` in the query and no
/// `sid` (later requests of a session, and its WebSocket upgrade, carry one).
fn is_handshake(uri: &Uri) -> bool {
    let Some(query) = uri.query() else {
        return false;
    };
    let keys = || {
        query
            .split('&')
            .map(|pair| pair.split('=').next().unwrap_or(""))
    };
    uri.path().starts_with("/socket.io")
        && keys().any(|k| k == "EIO")
        && !keys().any(|k| k == "sid")
}

/// The transport a request of an open session asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Polling,
    Websocket,
}

/// The session and transport of a request that carries a `sid`.
fn session_of(uri: &Uri) -> Option<(Sid, Transport)> {
    if !uri.path().starts_with("/socket.io") {
        return None;
    }
    let (mut sid, mut transport) = (None, None);
    for pair in uri.query()?.split('&') {
        match pair.split_once('=') {
            Some(("sid", value)) => sid = value.parse::<Sid>().ok(),
            Some(("transport", "polling")) => transport = Some(Transport::Polling),
            Some(("transport", "websocket")) => transport = Some(Transport::Websocket),
            _ => {}
        }
    }
    Some((sid?, transport?))
}

/// A later request of a session: its bytes counted into its backlog.
async fn follow(core: &Core, req: Request, next: Next) -> Response {
    let backlog = session_of(req.uri())
        .and_then(|(sid, transport)| Some((core.laggards.backlog(sid)?, transport)));
    match backlog {
        Some((backlog, Transport::Polling)) if req.method() == Method::GET => {
            let response = next.run(req).await;
            response.map(|inner| Body::new(Polled { inner, backlog }))
        }
        Some((backlog, Transport::Websocket)) => {
            let written = req.extensions().get::<Arc<Written>>().cloned();
            let response = next.run(req).await;
            if response.status() == StatusCode::SWITCHING_PROTOCOLS
                && let Some(written) = written
            {
                backlog.over(written);
            }
            response
        }
        _ => next.run(req).await,
    }
}

/// Middleware: counts each Engine.IO session from its handshake, under the
/// per-address cap and the handshake rate; follows its later requests.
pub async fn count_sessions(State(core): State<Core>, req: Request, next: Next) -> Response {
    if !is_handshake(req.uri()) {
        return follow(&core, req, next).await;
    }
    let (mut parts, body) = req.into_parts();
    let ip = core.proxies.of_request(&parts);
    let verdict = if core.limiter.check(Key::Handshake(ip)).await.is_err() {
        Err(Refusal::RateLimited)
    } else {
        core.connections
            .admit(ip)
            .await
            .ok_or(Refusal::TooManyConnections)
    };
    match verdict {
        Ok(place) => {
            parts.extensions.insert(Arc::new(place));
        }
        Err(refusal) => {
            let Some(place) = core.connections.refused.acquire(ip) else {
                return refused(refusal);
            };
            parts.extensions.insert(refusal);
            parts.extensions.insert(RefusedPlace {
                _place: Arc::new(place),
            });
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The HTTP answer to a handshake past both allowances.
fn refused(refusal: Refusal) -> Response {
    let failure = match refusal {
        Refusal::RateLimited => Failure::new(Code::RateLimited, "too many handshakes"),
        Refusal::TooManyConnections => {
            Failure::new(Code::TooManyConnections, "too many connections")
        }
    };
    failure.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_capped_per_address_and_given_back_on_drop() {
        let counts = Counter::new(2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = counts.acquire(a).unwrap();
        let _second = counts.acquire(a).unwrap();
        assert!(counts.acquire(a).is_none());
        assert!(counts.acquire(b).is_some());
        drop(first);
        assert_eq!(counts.open(a), 1);
        assert!(counts.acquire(a).is_some());
    }

    #[test]
    fn only_a_request_without_a_sid_opens_a_session() {
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        assert!(is_handshake(&uri("/socket.io/?EIO=4&transport=websocket")));
        assert!(is_handshake(&uri(
            "/socket.io/?EIO=4&transport=polling&t=x"
        )));
        assert!(!is_handshake(&uri(
            "/socket.io/?EIO=4&transport=websocket&sid=abc"
        )));
        assert!(!is_handshake(&uri("/socket.io/?transport=polling")));
        assert!(!is_handshake(&uri("/api/rooms?EIO=4")));
    }

    #[test]
    fn a_later_request_names_its_session_and_transport() {
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        let sid = Sid::new();
        let polling = uri(&format!(
            "/socket.io/?EIO=4&transport=polling&t=x&sid={sid}"
        ));
        assert_eq!(session_of(&polling), Some((sid, Transport::Polling)));
        let upgrade = uri(&format!("/socket.io/?EIO=4&sid={sid}&transport=websocket"));
        assert_eq!(session_of(&upgrade), Some((sid, Transport::Websocket)));
        assert_eq!(
            session_of(&uri("/socket.io/?EIO=4&transport=polling")),
            None
        );
        assert_eq!(
            session_of(&uri("/socket.io/?EIO=4&transport=polling&sid=nope")),
            None
        );
        assert_eq!(
            session_of(&uri(&format!("/api/x?transport=polling&sid={sid}"))),
            None
        );
    }
}
