//! Real time: the Socket.IO side of Banter.
//!
//! Every socket is authenticated by a connect middleware before anything is
//! sent to it. Each connection then gets an inbox and a worker task: events
//! are queued in the order they arrive and handled one at a time, because
//! socketioxide runs each event handler as its own task and would otherwise
//! let a burst of `send`s be stored out of order.
//!
//! Event handlers live in `room_events` (join, leave, typing) and
//! `message_events` (send, history).

mod command;
mod connections;
mod delivery;
mod inbox;
mod message_events;
mod moderation_events;
mod room_events;

use std::sync::Arc;

use axum::http::HeaderValue;
use axum::http::header::{HOST, ORIGIN};
use serde::Serialize;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Event, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::app::Core;
use crate::auth::{AuthError, Identity, token_from_headers};
use crate::error::error_chain;
use crate::ratelimit::Key;
use crate::rooms::RoomName;

pub use command::{Command, EVENTS};
pub use connections::{ConnectionCounts, Place};
pub use inbox::Slot;

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

/// Builds the Socket.IO layer and handle, with Banter's namespace on it.
pub fn socket_io(core: Core) -> (SocketIoLayer, SocketIo) {
    let max = core.limits.max_packet_bytes;
    let (layer, io) = SocketIo::builder()
        // socketioxide applies `max_payload` to long-polling only; the
        // WebSocket limit is separate and defaults to 64 MiB.
        .max_payload(max as u64)
        .ws_max_message_size(max)
        .ws_max_frame_size(max)
        // Packets waiting to be written to one client. socketioxide's
        // default (128) is less than what a client's own burst of queued
        // events produces (an ack and an echo per send).
        .max_buffer_size(core.limits.socket_buffer)
        .with_state(core)
        .build_layer();
    // The last middleware added runs first: authenticate, then open.
    io.ns("/", on_connect.with(open_connection).with(authenticate));
    (layer, io)
}

/// Connect middleware: a page from an allowed origin (or no page at all),
/// an address within its limits, and a live session.
async fn authenticate(
    s: SocketRef,
    State(core): State<Core>,
    TryData(auth): TryData<Value>,
) -> Result<(), ConnectError> {
    let parts = s.req_parts();
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if !core.origins.allows(header(ORIGIN), header(HOST)) {
        tracing::info!(origin = ?header(ORIGIN), "refused a socket from a foreign origin");
        return Err(ConnectError::ForbiddenOrigin);
    }
    let ip = core.proxies.of_request(parts);
    if core.limiter.check(Key::Handshake(ip)).await.is_err() {
        return Err(ConnectError::RateLimited);
    }
    let place = core
        .connections
        .acquire(ip)
        .ok_or(ConnectError::TooManyConnections)?;
    let from_auth = auth
        .ok()
        .and_then(|a| a.get("token").and_then(Value::as_str).map(str::to_owned));
    let token = from_auth
        .or_else(|| token_from_headers(&parts.headers))
        .ok_or(ConnectError::Unauthorized)?;
    let identity = core.auth.authenticate(&token).await.map_err(|err| {
        if !matches!(err, AuthError::Unauthorized) {
            tracing::error!(error = %error_chain(&err), "cannot check a socket's session");
        }
        ConnectError::Unauthorized
    })?;
    s.extensions.insert(identity);
    s.extensions.insert(Arc::new(place));
    Ok(())
}

/// Connect middleware, after `authenticate`: sets the connection up before
/// the client is told it is connected. socketioxide spawns the connect
/// handler only after sending CONNECT, so handlers registered there could
/// miss an event the client emits at once.
async fn open_connection(
    s: SocketRef,
    State(core): State<Core>,
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
    s.join([identity.session_channel(), identity.user_channel()]);
    let conn = Connection {
        core,
        io,
        identity,
        sid: s.id.to_string(),
        _place: place,
    };
    inbox::open(&s, conn);
    for event in EVENTS {
        s.on(event, on_event);
    }
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
    ack: AckSender,
    TryData(data): TryData<Value>,
) {
    slot.fill(inbox::Job {
        socket: s,
        event,
        data: data.ok(),
        ack,
    });
}

/// One authenticated connection, owned by its worker task.
pub struct Connection {
    pub core: Core,
    pub io: SocketIo,
    pub identity: Identity,
    pub sid: String,
    _place: Arc<Place>,
}

impl Connection {
    /// Runs one event; every outcome is acknowledged.
    async fn handle(&self, job: inbox::Job) {
        let inbox::Job {
            socket,
            event,
            data,
            ack,
        } = job;
        let data = data.unwrap_or(Value::Null);
        let mut ack = Some(ack);
        let result = match Command::parse(&event, data, &self.core.limits) {
            Ok(Command::Join { room }) => room_events::on_join(self, &socket, room, &mut ack).await,
            Ok(Command::Leave { room }) => room_events::on_leave(self, &socket, room).await,
            Ok(Command::Typing { room, active }) => {
                room_events::on_typing(self, room, active).await
            }
            Ok(Command::Send {
                room,
                text,
                client_id,
            }) => message_events::on_send(self, room, text, client_id).await,
            Ok(Command::History { room, page }) => {
                message_events::on_history(self, room, page).await
            }
            Ok(Command::Delete { id }) => moderation_events::on_delete(self, id).await,
            Ok(Command::Mute {
                room,
                user,
                minutes,
            }) => moderation_events::on_mute(self, room, user, minutes).await,
            Ok(Command::Ban { user }) => moderation_events::on_ban(self, user).await,
            Err(failure) => Err(failure),
        };
        let reply = result.unwrap_or_else(|failure| failure.to_ack());
        // A handler that acknowledged by itself (inside a lock) took the sender.
        if let Some(ack) = ack
            && let Err(err) = ack.send(&reply)
        {
            if delivery::is_full(&err) {
                delivery::evict(socket);
            } else {
                tracing::debug!(sid = %self.sid, %err, "cannot acknowledge an event");
            }
        }
    }

    /// Called once, after the last event of a closed connection.
    async fn on_disconnect(&self) {
        let user = &self.identity.user;
        let rooms = self.core.presence.disconnect(user.id, &self.sid).await;
        for room in rooms {
            let _guard = self.core.locks.lock(&room).await;
            self.emit_left(&room).await;
        }
        tracing::debug!(sid = %self.sid, user = user.id, "disconnected");
    }

    async fn emit_left(&self, room: &RoomName) {
        let payload = json!({ "room": room.as_str(), "user": self.identity.user });
        self.broadcast(room, None, "left", &payload);
    }

    /// Emits an event to a room's connections, less those in `except`.
    pub(super) fn broadcast<T: Serialize + ?Sized>(
        &self,
        room: &RoomName,
        except: Option<String>,
        event: &str,
        data: &T,
    ) {
        delivery::to_room(&self.io, room, except, event, data);
    }
}

/// One lock per stripe of rooms. Storing and broadcasting a message happen
/// under its room's lock, so every member receives a room's messages in id
/// order; a join takes it too, so the history it returns and the broadcasts
/// that follow neither overlap nor leave a gap. Striping keeps memory fixed
/// however many rooms exist.
#[derive(Clone)]
pub struct RoomLocks {
    stripes: Arc<[Arc<Mutex<()>>]>,
}

const STRIPES: usize = 64;

impl Default for RoomLocks {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Arc::new(Mutex::new(()))).collect(),
        }
    }
}

impl RoomLocks {
    pub async fn lock(&self, room: &RoomName) -> OwnedMutexGuard<()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(room);
        let stripe = (hash % STRIPES as u64) as usize;
        self.stripes[stripe].clone().lock_owned().await
    }
}
