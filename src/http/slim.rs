//! Socket.IO requests keep only the headers Banter reads, in buffers of
//! their own.
//!
//! socketioxide keeps each connection's handshake request parts for the
//! connection's whole life. hyper parses the URI and the header values as
//! slices of its connection read buffer, so keeping any of them keeps that
//! whole buffer (8 KiB or more) alive; and a browser sends a dozen headers
//! Banter never reads, plus every cookie of the site. So before socketioxide
//! sees the request, the URI and the headers it needs are copied out and the
//! rest dropped.

use axum::extract::{OriginalUri, Request};
use axum::http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, ORIGIN, SEC_WEBSOCKET_KEY,
    TRANSFER_ENCODING,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};

use crate::auth::{SESSION_COOKIE, token_from_cookie};

/// Where socketioxide serves.
const SOCKET_PATH: &str = "/socket.io";

/// The headers read after this point: Banter's connect checks (host,
/// origin, authorization), engineioxide (the WebSocket key for its answer,
/// a polling POST's content type) and the body limit. hyper has read
/// `Connection` and `Upgrade` already, while parsing the request.
const KEPT: [HeaderName; 7] = [
    HOST,
    ORIGIN,
    AUTHORIZATION,
    SEC_WEBSOCKET_KEY,
    CONTENT_TYPE,
    CONTENT_LENGTH,
    TRANSFER_ENCODING,
];

/// Read by `TrustedProxies` when the peer is a trusted proxy.
const FORWARDED: [&str; 2] = ["x-forwarded-for", "x-forwarded-proto"];

/// Middleware: slims a Socket.IO request's headers; other requests pass as they are.
pub async fn slim(mut req: Request) -> Request {
    if req.uri().path().starts_with(SOCKET_PATH) {
        let old = std::mem::take(req.headers_mut());
        *req.headers_mut() = kept(&old);
        if let Ok(uri) = Uri::try_from(req.uri().to_string()) {
            // axum's router keeps a copy of the URI too.
            req.extensions_mut().insert(OriginalUri(uri.clone()));
            *req.uri_mut() = uri;
        }
    }
    req
}

/// The headers Banter reads, copied; of the cookies only the session's.
/// The map is sized for what it holds: the handshake's is kept for the
/// connection's life, and every entry reserved costs over 100 bytes.
fn kept(old: &HeaderMap) -> HeaderMap {
    let forwarded = FORWARDED.map(HeaderName::from_static);
    let names = || KEPT.iter().chain(&forwarded);
    let token = token_from_cookie(old);
    let count = names()
        .map(|name| old.get_all(name).iter().count())
        .sum::<usize>()
        + usize::from(token.is_some());
    let mut kept = HeaderMap::with_capacity(count);
    for name in names() {
        for value in old.get_all(name) {
            if let Ok(copy) = HeaderValue::from_bytes(value.as_bytes()) {
                kept.append(name.clone(), copy);
            }
        }
    }
    if let Some(token) = token
        && let Ok(cookie) = HeaderValue::from_str(&format!("{SESSION_COOKIE}={token}"))
    {
        kept.insert(COOKIE, cookie);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_headers_banter_reads_are_kept_and_only_the_session_cookie() {
        let mut old = HeaderMap::new();
        old.insert(HOST, HeaderValue::from_static("chat.example"));
        old.insert(ORIGIN, HeaderValue::from_static("https://chat.example"));
        old.insert("user-agent", HeaderValue::from_static("Mozilla/5.0"));
        old.insert("x-forwarded-for", HeaderValue::from_static("10.1.2.3"));
        old.insert(
            COOKIE,
            HeaderValue::from_static("theme=dark; banter_session=tok123; other=1"),
        );
        let kept = kept(&old);
        assert_eq!(kept.get(HOST).unwrap(), "chat.example");
        assert_eq!(kept.get(ORIGIN).unwrap(), "https://chat.example");
        assert_eq!(kept.get("x-forwarded-for").unwrap(), "10.1.2.3");
        assert_eq!(kept.get(COOKIE).unwrap(), "banter_session=tok123");
        assert!(kept.get("user-agent").is_none());
        assert_eq!(kept.len(), 4);
        assert!(
            kept.capacity() < 8,
            "sized for what it holds: {}",
            kept.capacity()
        );
    }
}
