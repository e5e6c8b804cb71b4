//! Delivery to a room's connections, one connection at a time, so that one
//! that cannot keep up is noticed rather than silently skipped.
//!
//! socketioxide queues at most a fixed number of packets per connection;
//! past that, an emit fails. A plain room broadcast ignores such failures
//! and the receiver misses messages without knowing. Here, a connection
//! whose queue is full is marked as lagging: nothing more is queued for it,
//! and it is disconnected as soon as its queue has room for the disconnect
//! packet. Its client reconnects and catches up with `history … after`, so
//! a slow receiver never loses a message silently, and the memory it can
//! hold on the server stays bounded by its queue.

use std::time::Duration;

use serde::Serialize;
use socketioxide::extract::SocketRef;
use socketioxide::{SendError, SocketError, SocketIo};

use crate::rooms::RoomName;

/// Marks a connection being disconnected for falling behind.
#[derive(Clone)]
struct Lagging;

/// How long to keep trying to disconnect a lagging connection; a client
/// that reads nothing at all is closed by the heartbeat timeout anyway.
const EVICT_TRIES: u32 = 600;
const EVICT_RETRY: Duration = Duration::from_millis(100);

/// Emits `event` to every local connection in `room` but those in `except`.
/// Once the server is closing, socketioxide's namespace is gone; there is
/// nobody left to tell then.
pub fn to_room<T: Serialize + ?Sized>(
    io: &SocketIo,
    room: &RoomName,
    except: Option<String>,
    event: &str,
    data: &T,
) {
    let Some(ns) = io.of("/") else {
        return;
    };
    let mut to = ns.to(room.channel());
    if let Some(except) = except {
        to = to.except(except);
    }
    for socket in to.sockets() {
        to_socket(&socket, event, data);
    }
}

/// Emits `event` to one connection, unless it is lagging.
pub fn to_socket<T: Serialize + ?Sized>(socket: &SocketRef, event: &str, data: &T) {
    if socket.extensions.get::<Lagging>().is_some() {
        return;
    }
    match socket.emit(event, data) {
        Ok(()) | Err(SendError::Socket(SocketError::Closed)) => {}
        Err(SendError::Socket(SocketError::InternalChannelFull)) => evict(socket.clone()),
        Err(err) => tracing::error!(sid = %socket.id, %err, event, "cannot encode an event"),
    }
}

/// Whether a failed send means the connection's queue is full.
pub fn is_full(err: &SendError) -> bool {
    matches!(err, SendError::Socket(SocketError::InternalChannelFull))
}

/// Stops queueing for `socket` and disconnects it once its queue has room.
pub fn evict(socket: SocketRef) {
    if socket.extensions.insert(Lagging).is_some() {
        return;
    }
    tracing::warn!(sid = %socket.id, "connection fell behind; disconnecting it so it catches up");
    tokio::spawn(async move {
        for _ in 0..EVICT_TRIES {
            if !socket.connected() || socket.clone().disconnect().is_ok() {
                return;
            }
            tokio::time::sleep(EVICT_RETRY).await;
        }
    });
}
