//! Delivery: the one place that hands packets to connections, through a
//! socketioxide adapter of Banter's own.
//!
//! A broadcast is serialized to JSON once, by socketioxide, before it
//! reaches the adapter; the adapter then gives that packet to each
//! receiver in turn (each receiver's frame is a copy of the same bytes:
//! socketioxide has no shared-frame send for single sockets), so that it
//! learns which receivers could not take it. socketioxide's own adapter
//! ignores such failures and the receiver misses messages without knowing.
//!
//! A connection whose queue is full is marked as lagging: nothing more is
//! queued for it, and it is disconnected as soon as its queue has room for
//! the disconnect packet. Its client reconnects and catches up with
//! `history … after`, so a slow receiver never loses a message silently,
//! and the memory it can hold on the server stays bounded by its queue.
//!
//! This adapter is also where a cross-node bus plugs in: a node hands each
//! encoded frame to the bus once, and every node delivers it locally here.

use std::collections::HashSet;
use std::convert::Infallible;
use std::future::{self, Future};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use socketioxide::adapter::Emitter;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError};
use socketioxide_core::adapter::errors::BroadcastError;
use socketioxide_core::adapter::{
    BroadcastOptions, CoreAdapter, CoreLocalAdapter, DefinedAdapter, SocketEmitter,
};
use socketioxide_core::packet::Packet;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{SocketIo, SocketRef};
use crate::rooms::RoomName;
use crate::users::UserId;

/// Connections being disconnected for falling behind, shared by every
/// namespace's adapter and the task that disconnects them.
pub struct Laggards {
    set: Mutex<HashSet<Sid>>,
    /// How many are in `set`: the common case, none, costs no lock.
    count: AtomicUsize,
    evict: mpsc::UnboundedSender<Sid>,
}

impl Laggards {
    /// The shared set, and the receiving end for `evictor`.
    pub fn new() -> (Arc<Self>, mpsc::UnboundedReceiver<Sid>) {
        let (evict, rx) = mpsc::unbounded_channel();
        let laggards = Self {
            set: Mutex::default(),
            count: AtomicUsize::new(0),
            evict,
        };
        (Arc::new(laggards), rx)
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashSet<Sid>) -> T) -> T {
        f(&mut self.set.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn contains(&self, sid: Sid) -> bool {
        self.count.load(Ordering::Acquire) > 0 && self.with(|set| set.contains(&sid))
    }

    /// Marks `sid` as lagging; the first time, queues its eviction.
    fn mark(&self, sid: Sid) {
        let new = self.with(|set| set.insert(sid));
        if new {
            crate::metrics::get()
                .slow_receivers_disconnected
                .increment(1);
            self.count.fetch_add(1, Ordering::AcqRel);
            let _ = self.evict.send(sid);
        }
    }

    /// Forgets a connection that is gone.
    pub fn forget(&self, sid: Sid) {
        if self.count.load(Ordering::Acquire) > 0 && self.with(|set| set.remove(&sid)) {
            self.count.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Banter's adapter: socketioxide's local adapter, with a broadcast that
/// notices receivers that cannot keep up.
pub struct Fanout {
    local: CoreLocalAdapter<Emitter>,
    laggards: Arc<Laggards>,
}

impl CoreAdapter<Emitter> for Fanout {
    type Error = Infallible;
    type State = Arc<Laggards>;
    type AckStream = <Emitter as SocketEmitter>::AckStream;
    type InitRes = ();

    fn new(state: &Self::State, local: CoreLocalAdapter<Emitter>) -> Self {
        Self {
            local,
            laggards: state.clone(),
        }
    }

    fn init(self: Arc<Self>, on_success: impl FnOnce() + Send + 'static) -> Self::InitRes {
        on_success();
    }

    fn broadcast(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
    ) -> impl Future<Output = Result<(), BroadcastError>> + Send {
        let mut delivered = 0;
        for sid in self.local.sockets(opts) {
            if self.laggards.contains(sid) {
                continue;
            }
            let sent = self
                .local
                .broadcast(packet.clone(), BroadcastOptions::new(sid));
            match sent {
                Ok(()) => delivered += 1,
                Err(errors)
                    if errors
                        .iter()
                        .any(|e| matches!(e, SocketError::InternalChannelFull)) =>
                {
                    self.laggards.mark(sid);
                }
                Err(_) => {}
            }
        }
        // One add per broadcast, not one per receiver.
        crate::metrics::get().deliveries.increment(delivered);
        future::ready(Ok(()))
    }

    async fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Option<Duration>,
    ) -> Result<Self::AckStream, Self::Error> {
        Ok(self.local.broadcast_with_ack(packet, opts, timeout).0)
    }

    fn get_local(&self) -> &CoreLocalAdapter<Emitter> {
        &self.local
    }
}

impl DefinedAdapter for Fanout {}

/// Emits `event` to every local connection in `room` but those in
/// `except`. Once the server is closing, socketioxide's namespace is gone;
/// there is nobody left to tell then.
pub async fn to_room<T: Serialize + ?Sized>(
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
    if let Err(err) = to.emit(event, data).await {
        tracing::error!(%err, event, "cannot broadcast an event");
    }
}

/// Emits `event` to every local connection of `user` but `except`.
pub async fn to_user<T: Serialize + ?Sized>(
    io: &SocketIo,
    user: UserId,
    except: Option<&SocketRef>,
    event: &str,
    data: &T,
) {
    let channel = crate::auth::user_channel(user);
    let sent = match except {
        Some(socket) => socket.broadcast().to(channel).emit(event, data).await,
        None => {
            let Some(ns) = io.of("/") else {
                return;
            };
            ns.to(channel).emit(event, data).await
        }
    };
    if let Err(err) = sent {
        tracing::error!(%err, event, "cannot send an event to a user");
    }
}

/// Takes every local connection of `user` out of `room`'s channel; the
/// connections' ids (as presence knows them), so presence can follow.
pub fn leave_room(io: &SocketIo, user: UserId, room: &RoomName) -> Vec<String> {
    let Some(ns) = io.of("/") else {
        return Vec::new();
    };
    let sockets = ns.to(crate::auth::user_channel(user)).sockets();
    sockets
        .into_iter()
        .map(|socket| {
            socket.leave(room.channel());
            socket.id.to_string()
        })
        .collect()
}

/// Whether a failed send means the connection's queue is full.
pub fn is_full(err: &SendError) -> bool {
    matches!(err, SendError::Socket(SocketError::InternalChannelFull))
}

/// Stops queueing for `socket` and disconnects it once its queue has room.
pub fn evict(laggards: &Laggards, socket: &SocketRef) {
    laggards.mark(socket.id);
}

/// How long to keep trying to disconnect a lagging connection; a client
/// that reads nothing at all is closed by the heartbeat timeout anyway.
const EVICT_TRIES: u32 = 600;
const EVICT_RETRY: Duration = Duration::from_millis(100);

/// Disconnects each connection marked as lagging, as soon as its queue has
/// room for the disconnect packet. Ends with the server.
pub async fn evictor(
    io: SocketIo,
    mut lagging: mpsc::UnboundedReceiver<Sid>,
    stop: CancellationToken,
) {
    while let Some(sid) = stop.run_until_cancelled(lagging.recv()).await.flatten() {
        let Some(socket) = io.of("/").and_then(|ns| ns.get_socket(sid)) else {
            continue;
        };
        tracing::warn!(%sid, "connection fell behind; disconnecting it so it catches up");
        tokio::spawn(async move {
            for _ in 0..EVICT_TRIES {
                if !socket.connected() || socket.clone().disconnect().is_ok() {
                    return;
                }
                tokio::time::sleep(EVICT_RETRY).await;
            }
        });
    }
}
