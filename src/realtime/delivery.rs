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
//! `history … after`, so a slow receiver never loses a message silently.
//!
//! The queue is counted in packets (`--socket-buffer`), and a packet may be
//! large (a history page, a join's ack), so each connection's bytes are
//! counted too (`--socket-buffer-bytes`): the bytes queued for it, against
//! the bytes its socket has written (`net::Written`) or its polling
//! responses have handed to the HTTP server. Room traffic that would take
//! a connection past its budget marks it as lagging, like a full queue.
//! Answers to its own requests are never dropped: past half the budget its
//! inbox waits for it to read before it handles the next request, and a
//! connection that reads nothing for `READER_WAIT` is disconnected. So the
//! memory a connection can hold on the server is bounded in bytes, however
//! fast it asks and however slowly it reads.
//!
//! This adapter is also where a cross-node bus plugs in: a node hands each
//! encoded frame to the bus once, and every node delivers it locally here.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::future::{self, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};

use serde::Serialize;
use socketioxide::adapter::Emitter;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError};
use socketioxide_core::adapter::errors::BroadcastError;
use socketioxide_core::adapter::{
    BroadcastOptions, CoreAdapter, CoreLocalAdapter, DefinedAdapter, SocketEmitter,
};
use socketioxide_core::packet::{Packet, PacketData};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{SocketIo, SocketRef};
use crate::net::Written;
use crate::rooms::RoomName;
use crate::users::UserId;

/// The bytes waiting for one connection: queued for it, less what it has
/// taken. One per connection, shared by the adapter, its inbox and the
/// HTTP layer that sees its polling responses.
#[derive(Default)]
pub struct Backlog {
    /// Bytes handed to the connection's queue, counted before each send.
    queued: AtomicU64,
    /// Bytes of its polling responses the HTTP server has taken.
    polled: AtomicU64,
    /// Once on a WebSocket: the socket's write counter, and its count then.
    websocket: OnceLock<(Arc<Written>, u64)>,
}

impl Backlog {
    /// Bytes the connection has taken, by either transport.
    fn drained(&self) -> u64 {
        let polled = self.polled.load(Ordering::Acquire);
        let written = self
            .websocket
            .get()
            .map_or(0, |(written, from)| written.get().saturating_sub(*from));
        polled + written
    }

    /// Bytes queued and not yet taken.
    pub fn waiting(&self) -> u64 {
        self.queued
            .load(Ordering::Acquire)
            .saturating_sub(self.drained())
    }

    /// Counts `bytes` more queued; the bytes waiting then.
    fn queue(&self, bytes: u64) -> u64 {
        let drained = self.drained();
        // What was taken includes framing and heartbeats, which were never
        // counted here: credit none of that surplus to later packets.
        let queued = self
            .queued
            .fetch_max(drained, Ordering::AcqRel)
            .max(drained);
        self.queued.fetch_add(bytes, Ordering::AcqRel);
        (queued + bytes).saturating_sub(drained)
    }

    /// From now on the connection is written through `written`: its
    /// WebSocket's TCP connection.
    pub fn over(&self, written: Arc<Written>) {
        let from = written.get();
        let _ = self.websocket.set((written, from));
    }

    fn polled(&self, bytes: u64) {
        self.polled.fetch_add(bytes, Ordering::AcqRel);
    }
}

/// A polling response's body, counted into its connection's backlog as the
/// HTTP server takes it.
pub struct Polled {
    pub inner: Body,
    pub backlog: Arc<Backlog>,
}

impl http_body::Body for Polled {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(data) = frame.as_ref().and_then(|f| f.as_ref().ok()?.data_ref()) {
            this.backlog.polled(data.len() as u64);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// About the bytes `packet` takes on the wire (its header is a few bytes).
fn frame_bytes(packet: &Packet) -> u64 {
    let value = match &packet.inner {
        PacketData::Event(value, _)
        | PacketData::EventAck(value, _)
        | PacketData::BinaryEvent(value, _)
        | PacketData::BinaryAck(value, _) => Some(value),
        PacketData::Connect(value) => value.as_ref(),
        PacketData::Disconnect | PacketData::ConnectError(_) => None,
    };
    let attachments = value
        .and_then(|v| match v {
            socketioxide_core::Value::Str(_, Some(bins)) => Some(bins.iter().map(Bytes::len).sum()),
            _ => None,
        })
        .unwrap_or(0);
    (16 + packet.ns.len() + value.map_or(0, |v| v.len()) + attachments) as u64
}

/// The bytes of `value` as JSON: an answer's size, before it is sent.
pub fn json_bytes<T: Serialize + ?Sized>(value: &T) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(16);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// How long a connection's next request waits for it to read its answers
/// before it is disconnected.
const READER_WAIT: Duration = Duration::from_secs(60);
/// How often a waiting request looks again.
const READER_POLL: Duration = Duration::from_millis(20);

/// Connections being disconnected for falling behind, shared by every
/// namespace's adapter and the task that disconnects them.
pub struct Laggards {
    set: Mutex<HashSet<Sid>>,
    /// How many are in `set`: the common case, none, costs no lock.
    count: AtomicUsize,
    evict: mpsc::UnboundedSender<Sid>,
    /// Every open connection's backlog.
    backlogs: RwLock<HashMap<Sid, Arc<Backlog>>>,
    /// Bytes that may wait for one connection (`--socket-buffer-bytes`).
    budget: u64,
}

impl Laggards {
    /// The shared set, with `budget` bytes per connection, and the
    /// receiving end for `evictor`.
    pub fn new(budget: u64) -> (Arc<Self>, mpsc::UnboundedReceiver<Sid>) {
        let (evict, rx) = mpsc::unbounded_channel();
        let laggards = Self {
            set: Mutex::default(),
            count: AtomicUsize::new(0),
            evict,
            backlogs: RwLock::default(),
            budget,
        };
        (Arc::new(laggards), rx)
    }

    /// A new connection's backlog, counted from now.
    pub fn open(&self, sid: Sid) -> Arc<Backlog> {
        let backlog = Arc::new(Backlog::default());
        let mut backlogs = self.backlogs.write().unwrap_or_else(|p| p.into_inner());
        backlogs.insert(sid, backlog.clone());
        backlog
    }

    /// An open connection's backlog.
    pub fn backlog(&self, sid: Sid) -> Option<Arc<Backlog>> {
        let backlogs = self.backlogs.read().unwrap_or_else(|p| p.into_inner());
        backlogs.get(&sid).cloned()
    }

    /// Counts an answer to the connection's own request, which is never
    /// dropped (its next request waits instead: `wait_for_reader`).
    pub fn answered(&self, backlog: &Backlog, bytes: u64) {
        backlog.queue(bytes);
    }

    /// Whether the connection's next request should wait for it to read.
    pub fn behind(&self, backlog: &Backlog) -> bool {
        backlog.waiting() > self.budget / 2
    }

    /// Waits until the connection has read enough of what waits for it;
    /// marks it as lagging if it does not within `READER_WAIT`.
    pub async fn wait_for_reader(&self, sid: Sid, backlog: &Backlog) {
        let until = Instant::now() + READER_WAIT;
        while self.behind(backlog) {
            if self.contains(sid) {
                return;
            }
            if Instant::now() >= until {
                self.mark(sid);
                return;
            }
            tokio::time::sleep(READER_POLL).await;
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashSet<Sid>) -> T) -> T {
        f(&mut self.set.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether `sid` is being disconnected for falling behind.
    pub fn contains(&self, sid: Sid) -> bool {
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
        self.backlogs
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&sid);
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
        let bytes = frame_bytes(&packet);
        // Held for the loop: the sends under it only queue, never wait.
        let backlogs = self.laggards.backlogs.read();
        let backlogs = backlogs.unwrap_or_else(|p| p.into_inner());
        for sid in self.local.sockets(opts) {
            if self.laggards.contains(sid) {
                continue;
            }
            // Counted before the send, so that the socket's writer can never
            // take bytes not yet counted.
            if let Some(backlog) = backlogs.get(&sid)
                && backlog.queue(bytes) > self.laggards.budget
            {
                self.laggards.mark(sid);
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
        drop(backlogs);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backlog_counts_what_waits_and_credits_no_surplus() {
        let backlog = Backlog::default();
        assert_eq!(backlog.queue(1000), 1000);
        backlog.polled(600);
        assert_eq!(backlog.waiting(), 400);
        // Framing and heartbeats: more taken than was counted.
        backlog.polled(900);
        assert_eq!(backlog.waiting(), 0);
        assert_eq!(backlog.queue(100), 100, "the surplus is not credited");
        // Upgraded: the socket's bytes from then on count, not before.
        let written = Arc::new(Written::default());
        written.add(5000);
        backlog.over(written.clone());
        assert_eq!(backlog.waiting(), 100);
        written.add(60);
        assert_eq!(backlog.waiting(), 40);
        assert_eq!(backlog.queue(10), 50);
    }

    #[test]
    fn a_packet_is_counted_by_its_payload() {
        let text = "x".repeat(4000);
        let value = socketioxide_core::Value::Str(text.into(), None);
        let packet = Packet::event("/", value);
        assert!((4000..4100).contains(&frame_bytes(&packet)));
        assert!((4000..4100).contains(&json_bytes(&"y".repeat(4000))));
    }
}
