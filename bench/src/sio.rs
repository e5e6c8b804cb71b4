//! A minimal Engine.IO v4 / Socket.IO v5 client over a WebSocket: just
//! what the bench needs (connect with a token, join a room, emit with an
//! ack, answer pings, recognise `message` events and acks) and no more.

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::failure::Failure;
use crate::target::Node;

pub type Ws = WebSocketStream<TcpStream>;

/// One Engine.IO packet as text, classified. Payloads borrow from it.
#[derive(Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// Engine.IO open (`0{...}`).
    Open,
    /// Engine.IO close (`1`).
    Close,
    /// Engine.IO ping (`2`): the client must answer `3`.
    Ping,
    /// Socket.IO CONNECT (`40{...}`).
    Connect,
    /// Socket.IO DISCONNECT (`41`).
    Disconnect,
    /// Socket.IO CONNECT_ERROR (`44{...}`), with its JSON.
    ConnectError(&'a str),
    /// Socket.IO EVENT without an ack id: the JSON array.
    Event(&'a str),
    /// Socket.IO ACK: the ack id and the JSON array of arguments.
    Ack(u64, &'a str),
    /// Anything else (pong, noop, upgrade, events with an ack id, binary).
    Other,
}

/// Classifies an Engine.IO text packet. Packets for a namespace other than
/// `/` are treated as `/`'s: the bench uses only the main namespace.
pub fn classify(text: &str) -> Packet<'_> {
    let bytes = text.as_bytes();
    match bytes.first() {
        Some(b'0') => return Packet::Open,
        Some(b'1') => return Packet::Close,
        Some(b'2') => return Packet::Ping,
        Some(b'4') => {}
        _ => return Packet::Other,
    }
    let Some(&kind) = bytes.get(1) else {
        return Packet::Other;
    };
    let mut rest = &text[2..];
    if rest.starts_with('/') {
        match rest.find(',') {
            Some(comma) => rest = &rest[comma + 1..],
            None => rest = "",
        }
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (id, payload) = rest.split_at(digits);
    let id = if digits > 0 { id.parse().ok() } else { None };
    match (kind, id) {
        (b'0', _) => Packet::Connect,
        (b'1', _) => Packet::Disconnect,
        (b'4', _) => Packet::ConnectError(payload),
        (b'2', None) => Packet::Event(payload),
        (b'3', Some(id)) => Packet::Ack(id, payload),
        _ => Packet::Other,
    }
}

/// The JSON array prefix of a `message` event.
pub const MESSAGE_PREFIX: &str = "[\"message\",";

/// The fields of a broadcast message the bench looks at.
#[derive(Debug, Deserialize)]
pub struct MessageEvent<'a> {
    pub id: u64,
    #[serde(borrow)]
    pub room: Cow<'a, str>,
    #[serde(borrow)]
    pub text: Cow<'a, str>,
}

/// An ack's first argument: `{"ok":true,...}` or `{"ok":false,"error":{"code":..}}`.
#[derive(Debug, Deserialize)]
pub struct AckBody {
    pub ok: bool,
    #[serde(default)]
    pub error: Option<AckError>,
    #[serde(default)]
    pub duplicate: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct AckError {
    pub code: String,
}

/// Parses the first JSON value of a list whose `[` has been stripped,
/// ignoring whatever follows it.
pub fn first_value<'a, T: Deserialize<'a>>(list_tail: &'a str) -> Option<T> {
    serde_json::Deserializer::from_str(list_tail)
        .into_iter::<T>()
        .next()?
        .ok()
}

/// The `message` event in an EVENT payload, if it is one.
pub fn message_event(payload: &str) -> Option<MessageEvent<'_>> {
    first_value(payload.strip_prefix(MESSAGE_PREFIX)?)
}

/// The first argument of an ACK payload.
pub fn ack_body(payload: &str) -> Option<AckBody> {
    first_value(payload.strip_prefix('[')?)
}

/// A TCP connection to a server node, from `source` when given.
pub async fn tcp_connect(node: &Node, source: Option<IpAddr>) -> Result<TcpStream, Failure> {
    let socket = if node.addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| Failure::new("socket", e))?;
    if let Some(ip) = source {
        socket
            .bind((ip, 0).into())
            .map_err(|e| Failure::new("bind", e))?;
    }
    let stream = socket
        .connect(node.addr)
        .await
        .map_err(|e| Failure::new("tcp_connect", e))?;
    stream
        .set_nodelay(true)
        .map_err(|e| Failure::new("tcp_connect", e))?;
    Ok(stream)
}

/// Reads the next text packet, skipping WebSocket control frames.
/// `Ok(None)` when the connection is closed.
pub async fn next_text(ws: &mut Ws) -> Result<Option<String>, Failure> {
    while let Some(msg) = ws.next().await {
        match msg.map_err(|e| Failure::new("ws_read", e))? {
            Message::Text(t) => return Ok(Some(t.as_str().to_owned())),
            Message::Close(_) => return Ok(None),
            _ => {}
        }
    }
    Ok(None)
}

pub async fn send_text(ws: &mut Ws, text: String) -> Result<(), Failure> {
    ws.send(Message::text(text))
        .await
        .map_err(|e| Failure::new("ws_write", e))
}

/// Opens a Socket.IO session as the holder of `token` and joins `room`:
/// WebSocket handshake, Engine.IO open, Socket.IO connect, then `join`
/// with ack id 0. Pings that arrive meanwhile are answered.
pub async fn open_session(
    node: &Node,
    source: Option<IpAddr>,
    token: &str,
    room: &str,
    read_buffer: usize,
) -> Result<Ws, Failure> {
    let stream = tcp_connect(node, source).await?;
    let config = WebSocketConfig::default().read_buffer_size(read_buffer);
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(node.ws_url.as_str(), stream, Some(config))
            .await
            .map_err(|e| Failure::new("ws_handshake", e))?;
    let first = next_text(&mut ws)
        .await?
        .ok_or_else(|| Failure::new("eio_open", "closed before the open packet"))?;
    if classify(&first) != Packet::Open {
        return Err(Failure::new(
            "eio_open",
            format!("expected an open packet, got {first:.80}"),
        ));
    }
    let auth = serde_json::json!({ "token": token });
    send_text(&mut ws, format!("40{auth}")).await?;
    loop {
        let text = next_text(&mut ws)
            .await?
            .ok_or_else(|| Failure::new("closed", "closed before connect"))?;
        match classify(&text) {
            Packet::Connect => break,
            Packet::ConnectError(e) => return Err(Failure::new("connect_error", e)),
            Packet::Ping => send_text(&mut ws, "3".into()).await?,
            Packet::Close | Packet::Disconnect => {
                return Err(Failure::new("closed", "closed before connect"));
            }
            _ => {}
        }
    }
    let join = serde_json::json!(["join", { "room": room }]);
    send_text(&mut ws, format!("420{join}")).await?;
    loop {
        let text = next_text(&mut ws)
            .await?
            .ok_or_else(|| Failure::new("closed", "closed before the join ack"))?;
        match classify(&text) {
            Packet::Ack(0, payload) => {
                let body = ack_body(payload)
                    .ok_or_else(|| Failure::new("join_failed", format!("bad ack {payload:.80}")))?;
                if body.ok {
                    return Ok(ws);
                }
                let code = body.error.map_or_else(|| "unknown".into(), |e| e.code);
                return Err(Failure::new(format!("join_{code}"), payload.to_owned()));
            }
            Packet::Ping => send_text(&mut ws, "3".into()).await?,
            Packet::Close | Packet::Disconnect => {
                return Err(Failure::new("closed", "closed before the join ack"));
            }
            _ => {}
        }
    }
}

/// Closes politely, without waiting long for the server.
pub async fn close(mut ws: Ws) {
    let _ = tokio::time::timeout(Duration::from_millis(200), ws.close(None)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_io_and_socket_io_packets_are_told_apart() {
        assert_eq!(
            classify(r#"0{"sid":"x","pingInterval":25000}"#),
            Packet::Open
        );
        assert_eq!(classify("2"), Packet::Ping);
        assert_eq!(classify("3"), Packet::Other);
        assert_eq!(classify("1"), Packet::Close);
        assert_eq!(classify(r#"40{"sid":"abc"}"#), Packet::Connect);
        assert_eq!(classify("41"), Packet::Disconnect);
        assert_eq!(
            classify(r#"44{"message":"unauthorized"}"#),
            Packet::ConnectError(r#"{"message":"unauthorized"}"#)
        );
        assert_eq!(
            classify(r#"42["typing",{}]"#),
            Packet::Event(r#"["typing",{}]"#)
        );
        assert_eq!(
            classify(r#"4317[{"ok":true}]"#),
            Packet::Ack(17, r#"[{"ok":true}]"#)
        );
        assert_eq!(classify(r#"42/admin,["x"]"#), Packet::Event(r#"["x"]"#));
        assert_eq!(classify(r#"425["x"]"#), Packet::Other);
    }

    #[test]
    fn a_message_event_yields_its_id_room_and_text() {
        let payload = r#"["message",{"id":42,"room":"r1","author":{"id":3,"name":"b_1","guest":true},"text":"bench ab 1 2 3","ts":1,"client_id":"x"}]"#;
        let m = message_event(payload).unwrap();
        assert_eq!((m.id, &*m.room, &*m.text), (42, "r1", "bench ab 1 2 3"));
        assert!(message_event(r#"["joined",{"id":1}]"#).is_none());
    }

    #[test]
    fn acks_are_parsed_whether_they_succeed_or_fail() {
        let ok = ack_body(r#"[{"duplicate":false,"message":{"id":1},"ok":true}]"#).unwrap();
        assert!(ok.ok && ok.duplicate == Some(false));
        let err =
            ack_body(r#"[{"ok":false,"error":{"code":"rate_limited","message":"m"}}]"#).unwrap();
        assert!(!err.ok);
        assert_eq!(err.error.unwrap().code, "rate_limited");
    }
}
