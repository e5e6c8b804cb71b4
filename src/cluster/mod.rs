//! Several nodes: the bus between them, a thin layer on Redis pub/sub.
//!
//! Every node publishes on one channel, `<prefix>bus`, and every node
//! subscribes to it. What goes over it (`frame`): each message a node
//! committed (with the id of the room's message before it), room events
//! (typing, deleted, muted), presence changes at the granularity of one user
//! in one room, full presence states on request, and heartbeats. Nothing is
//! stored in Redis: it carries traffic, the database holds the truth, and a
//! node that may have missed frames reads what it missed from the database
//! (`realtime::relay`).
//!
//! Publishing never waits: frames queue for a publisher task (bounded), which
//! sends whatever has queued up in one pipeline. A frame that cannot be
//! queued or sent is not retried; the node then announces a resync, on which
//! every node catches its rooms up from the database and takes this node's
//! presence afresh (`take_resync`). Receiving applies backpressure instead:
//! the subscriber waits for room in the node's inbound queue, and if Redis
//! gives up on a subscriber that reads too slowly, the reconnect that follows
//! is a resync too.
//!
//! Why not socketioxide-redis: see `docs/architecture.md` ("The bus").

pub mod frame;
pub mod shared;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use frame::{Inbound, NodeId, Out};

use crate::messages::{Message, MessageId};
use crate::rooms::RoomName;
use crate::users::{User, UserId};

/// Frames waiting for the publisher; past this a frame is dropped and the
/// node resyncs.
const PUBLISH_QUEUE: usize = 65_536;
/// Most frames in one pipeline.
const PUBLISH_BATCH: usize = 256;
/// Frames received and waiting for the node to handle them.
const INBOUND_QUEUE: usize = 8_192;
/// Waits between reconnection attempts, doubling up to the last.
const RECONNECT_MIN: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(2);
/// How long shutdown waits for queued frames (and the goodbye) to go out.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The bus settings (`--redis-*`).
#[derive(Debug, Clone)]
pub struct BusConfig {
    pub url: String,
    pub prefix: String,
    pub heartbeat: Duration,
    pub node_timeout: Duration,
    /// Tests only: never publish messages (`--test-withhold-messages`).
    pub withhold_messages: bool,
}

/// Why the bus could not be set up at start.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to Redis")]
    Redis(#[from] redis::RedisError),
}

/// The handle every part of the server publishes through. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

struct Inner {
    node: NodeId,
    config: BusConfig,
    tx: mpsc::Sender<Vec<u8>>,
    /// Set when a frame was dropped or not sent: the node must resync.
    resync: AtomicBool,
    stop: CancellationToken,
    publisher: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bus(node {:016x})", self.inner.node)
    }
}

impl Bus {
    /// Connects to Redis, subscribes to the bus channel and starts the
    /// publisher and subscriber tasks. Fails if Redis cannot be reached now
    /// (a wrong URL should stop the server, not leave it alone); later
    /// outages are reconnected.
    pub async fn connect(config: BusConfig) -> Result<(Self, mpsc::Receiver<Inbound>), BusError> {
        let client = redis::Client::open(config.url.as_str())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let _: () = redis::cmd("PING").query_async(&mut conn).await?;
        let channel = format!("{}bus", config.prefix);
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&channel).await?;
        let node: NodeId = rand::random();
        let (tx, rx) = mpsc::channel(PUBLISH_QUEUE);
        let (inbound_tx, inbound) = mpsc::channel(INBOUND_QUEUE);
        let inner = Arc::new(Inner {
            node,
            config,
            tx,
            resync: AtomicBool::new(false),
            stop: CancellationToken::new(),
            publisher: std::sync::Mutex::new(None),
        });
        let publisher = tokio::spawn(publish(
            client.clone(),
            conn,
            rx,
            channel.clone(),
            inner.clone(),
        ));
        *inner.publisher.lock().unwrap_or_else(|p| p.into_inner()) = Some(publisher);
        tokio::spawn(subscribe(
            client,
            Some(pubsub),
            channel,
            inbound_tx,
            inner.stop.clone(),
        ));
        tracing::info!(node = %format!("{node:016x}"), "joined the bus");
        Ok((Self { inner }, inbound))
    }

    /// This node's id on the bus (random, new at every start).
    pub fn node(&self) -> NodeId {
        self.inner.node
    }

    pub fn config(&self) -> &BusConfig {
        &self.inner.config
    }

    /// Queues a frame for publishing; never waits. A frame that does not
    /// fit is dropped and the node will resync.
    pub fn publish(&self, frame: &Out<'_>) {
        let payload = match serde_json::to_vec(frame) {
            Ok(payload) => payload,
            Err(err) => {
                tracing::error!(%err, "cannot encode a bus frame");
                return;
            }
        };
        if self.inner.tx.try_send(payload).is_err() {
            crate::metrics::get().bus_frames_dropped.increment(1);
            self.inner.lost();
        }
    }

    /// Publishes a message this node stored.
    pub fn publish_message(&self, room: &RoomName, message: &Message, prev: MessageId) {
        if self.inner.config.withhold_messages {
            return;
        }
        self.publish(&Out::Message {
            node: self.inner.node,
            room: room.as_str(),
            id: message.id,
            prev,
            message,
        });
    }

    /// Publishes a room event (typing, deleted, muted) for the other nodes'
    /// sockets in the room, less those in `except`.
    pub fn publish_room_event<T: Serialize + ?Sized>(
        &self,
        room: &RoomName,
        except: Option<&str>,
        event: &str,
        data: &T,
    ) {
        let data = match serde_json::to_value(data) {
            Ok(data) => data,
            Err(err) => {
                tracing::error!(%err, event, "cannot encode a room event for the bus");
                return;
            }
        };
        self.publish(&Out::Room {
            node: self.inner.node,
            room: room.as_str(),
            event,
            data: &data,
            except,
        });
    }

    /// Publishes an event for the other nodes' connections of `user`.
    pub fn publish_user_event<T: Serialize + ?Sized>(&self, user: UserId, event: &str, data: &T) {
        let data = match serde_json::to_value(data) {
            Ok(data) => data,
            Err(err) => {
                tracing::error!(%err, event, "cannot encode a user event for the bus");
                return;
            }
        };
        self.publish(&Out::User {
            node: self.inner.node,
            user,
            event,
            data: &data,
        });
    }

    /// Tells the other nodes to take `user`'s connections out of `room`.
    pub fn publish_evict(&self, room: &RoomName, user: &User) {
        self.publish(&Out::Evict {
            node: self.inner.node,
            room: room.as_str(),
            user,
        });
    }

    /// Whether frames were lost since the last call: if so the caller
    /// announces a resync.
    pub fn take_resync(&self) -> bool {
        self.inner.resync.swap(false, Ordering::AcqRel)
    }

    /// Says goodbye, sends what is still queued (for a short while at most)
    /// and stops the bus tasks.
    pub async fn close(&self) {
        self.publish(&Out::Goodbye {
            node: self.inner.node,
        });
        self.inner.stop.cancel();
        let publisher = self
            .inner
            .publisher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(publisher) = publisher
            && tokio::time::timeout(CLOSE_WAIT, publisher).await.is_err()
        {
            tracing::warn!("the bus did not send everything before shutdown");
        }
    }
}

impl Inner {
    fn lost(&self) {
        if !self.resync.swap(true, Ordering::AcqRel) {
            tracing::warn!("bus frames were lost; the other nodes will be told to resync");
        }
    }
}

/// The publisher: sends what has queued up as one pipeline; on an error,
/// reconnects (what was in that pipeline is lost, so the node resyncs).
/// Once stopped, sends what is still queued and ends.
async fn publish(
    client: redis::Client,
    mut conn: MultiplexedConnection,
    mut rx: mpsc::Receiver<Vec<u8>>,
    channel: String,
    inner: Arc<Inner>,
) {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    let mut stopping = false;
    loop {
        let got = if stopping {
            rx.recv_many(&mut batch, PUBLISH_BATCH).await
        } else {
            tokio::select! {
                got = rx.recv_many(&mut batch, PUBLISH_BATCH) => got,
                () = inner.stop.cancelled() => {
                    stopping = true;
                    rx.close();
                    continue;
                }
            }
        };
        if got == 0 {
            return;
        }
        let mut pipe = redis::pipe();
        for payload in batch.drain(..) {
            pipe.cmd("PUBLISH").arg(&channel).arg(payload).ignore();
        }
        let sent: redis::RedisResult<()> = pipe.query_async(&mut conn).await;
        match sent {
            Ok(()) => crate::metrics::get()
                .bus_frames_published
                .increment(got as u64),
            Err(err) => {
                tracing::warn!(%err, frames = got, "cannot publish on the bus; reconnecting");
                crate::metrics::get()
                    .bus_frames_dropped
                    .increment(got as u64);
                inner.lost();
                if stopping {
                    return;
                }
                match reconnect(&client, &inner.stop).await {
                    Some(fresh) => conn = fresh,
                    None => stopping = true,
                }
            }
        }
    }
}

/// A new connection for publishing, or `None` once stopped.
async fn reconnect(
    client: &redis::Client,
    stop: &CancellationToken,
) -> Option<MultiplexedConnection> {
    let mut wait = RECONNECT_MIN;
    loop {
        stop.run_until_cancelled(tokio::time::sleep(wait)).await?;
        match client.get_multiplexed_async_connection().await {
            Ok(conn) => return Some(conn),
            Err(err) => tracing::debug!(%err, "Redis still unreachable"),
        }
        wait = (wait * 2).min(RECONNECT_MAX);
    }
}

/// The subscriber: hands every frame to the node, in order, waiting for room
/// in its queue; reconnects when Redis goes away, and says so both ways
/// (`Down`, then `Up` once subscribed again).
async fn subscribe(
    client: redis::Client,
    mut first: Option<redis::aio::PubSub>,
    channel: String,
    tx: mpsc::Sender<Inbound>,
    stop: CancellationToken,
) {
    let mut wait = RECONNECT_MIN;
    let mut initial = true;
    loop {
        let pubsub = match first.take() {
            Some(pubsub) => Ok(pubsub),
            None => open_subscription(&client, &channel).await,
        };
        match pubsub {
            Ok(mut pubsub) => {
                wait = RECONNECT_MIN;
                if tx.send(Inbound::Up { initial }).await.is_err() {
                    return;
                }
                initial = false;
                let mut messages = pubsub.on_message();
                loop {
                    let next = stop.run_until_cancelled(messages.next()).await;
                    let Some(next) = next else { return };
                    let Some(msg) = next else { break };
                    crate::metrics::get().bus_frames_received.increment(1);
                    match frame::parse(msg.get_payload_bytes()) {
                        Ok(frame) => {
                            if tx.send(Inbound::Frame(frame)).await.is_err() {
                                return;
                            }
                        }
                        Err(err) => tracing::warn!(%err, "an unreadable frame on the bus"),
                    }
                }
                tracing::warn!("lost the bus subscription; reconnecting");
                if tx.send(Inbound::Down).await.is_err() {
                    return;
                }
            }
            Err(err) => tracing::debug!(%err, "cannot subscribe to the bus yet"),
        }
        if stop
            .run_until_cancelled(tokio::time::sleep(wait))
            .await
            .is_none()
        {
            return;
        }
        wait = (wait * 2).min(RECONNECT_MAX);
    }
}

async fn open_subscription(
    client: &redis::Client,
    channel: &str,
) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}
