//! The door: every socket passes these connect middlewares before the
//! client is told it is connected, and nothing is sent to it before.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use axum::http::header::{HOST, ORIGIN};
use serde_json::Value;
use socketioxide::extract::{AckSender, Event, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::socket::Sid;
use tokio::sync::mpsc::UnboundedReceiver;

use super::connections::Refusal;
use super::presence_events;
use super::relay::{self, Relay};
use super::sequencer::{self, Queue};
use super::{Adapter, Connection, Place, Slot, SocketIo, SocketRef, delivery, inbox};
use crate::app::Core;
use crate::auth::{AuthError, Identity, bearer_token, token_from_cookie};
use crate::error::error_chain;
use crate::net::Written;

/// Why a socket was not let in; the message is what the client's
/// `connect_error` says.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A browser page from a foreign origin.
    #[error("origin not allowed")]
    ForbiddenOrigin,
    /// Too many handshakes from this address lately.
    #[error("rate limited")]
    RateLimited,
    /// This address has too many sockets open.
    #[error("too many connections")]
    TooManyConnections,
    /// No live session.
    #[error("unauthorized")]
    Unauthorized,
}

/// Bytes of each WebSocket's read buffer.
const WS_READ_BUFFER: usize = 1024;

/// Builds the Socket.IO layer and handle, with Banter's namespace on it.
pub fn socket_io(
    core: Core,
    queue: Queue,
    lagging: UnboundedReceiver<Sid>,
    inbound: Option<tokio::sync::mpsc::Receiver<crate::cluster::Inbound>>,
    connect_timeout: Duration,
) -> (SocketIoLayer<Adapter>, SocketIo) {
    let max = core.limits.max_packet_bytes;
    let laggards = core.laggards.clone();
    let (store, stop) = (core.store.clone(), core.shutdown.clone());
    let (presence, events) = (core.presence.clone(), core.presence_events.clone());
    let (bus, relay_input, limits) = (
        core.bus.clone(),
        core.sequencer.relay(),
        core.limits.clone(),
    );
    let (layer, io) = socketioxide::SocketIo::builder()
        .with_adapter::<Adapter>(laggards.clone())
        // socketioxide applies `max_payload` to long-polling only; the
        // WebSocket limit is separate and defaults to 64 MiB.
        .max_payload(max as u64)
        .ws_max_message_size(max)
        .ws_max_frame_size(max)
        // Read in small chunks: each connection keeps its read buffer for
        // life, and chat packets are a few hundred bytes (socketioxide's
        // default is 4 KiB; a larger packet simply takes more reads).
        .ws_read_buffer_size(WS_READ_BUFFER)
        // Packets waiting to be written to one client. socketioxide's
        // default (128) is less than what a client's own burst of queued
        // events produces (an ack and an echo per send).
        .max_buffer_size(core.limits.socket_buffer)
        // A session that has not joined the namespace by then is closed
        // (socketioxide's default is 45 s, and a client answering pings
        // could hold a session that long without ever authenticating).
        .connect_timeout(connect_timeout)
        // One copy of the core for every connection to share: each
        // connection's worker holds it for the connection's life.
        .with_state(Arc::new(core))
        .build_layer();
    // The last middleware added runs first: authenticate, then open.
    io.ns("/", on_connect.with(open_connection).with(authenticate));
    let out = relay::Out {
        io: io.clone(),
        laggards,
        events: events.clone(),
    };
    let relay = Relay::new(out, store.clone(), bus.clone(), relay_input.clone());
    tokio::spawn(sequencer::run(queue, store, relay));
    if let (Some(bus), Some(inbound)) = (bus, inbound) {
        let nodes = super::nodes::Nodes {
            bus,
            io: io.clone(),
            presence: presence.clone(),
            events: events.clone(),
            relay: relay_input,
            limits,
        };
        tokio::spawn(super::nodes::run(nodes, inbound, stop.clone()));
    }
    tokio::spawn(presence_events::run(
        events,
        presence,
        io.clone(),
        stop.clone(),
    ));
    tokio::spawn(delivery::evictor(io.clone(), lagging, stop));
    (layer, io)
}

/// Connect middleware: a page from an allowed origin (or no page at all),
/// an address within its limits, and a live session.
async fn authenticate(
    s: SocketRef,
    State(core): State<Arc<Core>>,
    TryData(auth): TryData<Value>,
) -> Result<(), ConnectError> {
    let parts = s.req_parts();
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    // A personal access token given explicitly (the `auth` payload or a
    // bearer header) is no ambient authority: no browser holds one in a
    // cookie, and a page of another site cannot make a browser send it.
    // So a bot needs no allowed Origin (some clients send one of their
    // own). Sessions, which browsers hold, keep the check.
    let from_auth = auth
        .ok()
        .and_then(|a| a.get("token").and_then(Value::as_str).map(str::to_owned))
        .or_else(|| bearer_token(&parts.headers));
    let personal = from_auth
        .as_deref()
        .is_some_and(|t| t.starts_with(crate::bots::TOKEN_PREFIX));
    if !personal && !core.origins.allows(header(ORIGIN), header(HOST)) {
        tracing::info!(origin = ?header(ORIGIN), "refused a socket from a foreign origin");
        return Err(ConnectError::ForbiddenOrigin);
    }
    // The session was counted, and the handshake rate checked, at its
    // Engine.IO handshake (`connections::count_sessions`).
    match parts.extensions.get::<Refusal>() {
        Some(Refusal::RateLimited) => return Err(ConnectError::RateLimited),
        Some(Refusal::TooManyConnections) => return Err(ConnectError::TooManyConnections),
        None => {}
    }
    let place = parts
        .extensions
        .get::<Arc<Place>>()
        .cloned()
        .ok_or(ConnectError::TooManyConnections)?;
    let token = from_auth
        .or_else(|| token_from_cookie(&parts.headers))
        .ok_or(ConnectError::Unauthorized)?;
    let identity = core.auth.authenticate(&token).await.map_err(|err| {
        if !matches!(err, AuthError::Unauthorized) {
            tracing::error!(error = %error_chain(&err), "cannot check a socket's session");
        }
        ConnectError::Unauthorized
    })?;
    s.extensions.insert(identity);
    s.extensions.insert(place);
    Ok(())
}

/// Connect middleware, after `authenticate`: sets the connection up before
/// the client is told it is connected. socketioxide spawns the connect
/// handler only after sending CONNECT, so handlers registered there could
/// miss an event the client emits at once.
async fn open_connection(
    s: SocketRef,
    State(core): State<Arc<Core>>,
    io: SocketIo,
) -> Result<(), ConnectError> {
    let identity = s
        .extensions
        .get::<Identity>()
        .ok_or(ConnectError::Unauthorized)?;
    // Held by the worker, so the place is given back when the connection ends.
    let place = s
        .extensions
        .remove::<Arc<Place>>()
        .ok_or(ConnectError::Unauthorized)?;
    // Counted from before anything is queued for it.
    let backlog = core.laggards.open(s.id);
    if s.transport_type() == socketioxide::TransportType::Websocket
        && let Some(written) = s.req_parts().extensions.get::<Arc<Written>>()
    {
        backlog.over(written.clone());
    }
    s.join([identity.session_channel(), identity.user_channel()]);
    let conn = Connection {
        core,
        io,
        identity,
        sid: s.id.to_string(),
        socket_id: s.id,
        backlog,
        _place: place,
    };
    inbox::open(&s, conn);
    // One catch-all handler rather than one per event: each registration
    // costs every connection an allocation and a map entry.
    s.on_fallback(on_event);
    s.on_disconnect(inbox::close);
    Ok(())
}

async fn on_connect(s: SocketRef) {
    tracing::debug!(sid = %s.id, "connected");
}

/// Every event goes through here: it only takes a place in the inbox, in
/// arrival order, and hands the event over.
async fn on_event(
    slot: Slot,
    s: SocketRef,
    Event(event): Event,
    ack: AckSender<Adapter>,
    TryData(data): TryData<Value>,
) {
    slot.fill(inbox::Job {
        socket: s,
        event,
        data: data.ok(),
        ack,
    })
    .await;
}
