//! The other nodes, as this one hears them on the bus: their messages go to
//! the relay, their room events to this node's sockets, their presence into
//! `presence`; and who is alive. One task.
//!
//! Every node publishes a heartbeat every `--redis-heartbeat-ms`. A node not
//! heard from for `--redis-node-timeout-ms` is dead: its users leave
//! presence here (members get `left`, gathered in big rooms as always)
//! unless they are connected elsewhere, and the relay catches up every room
//! from the database, for what it stored and never published. While this
//! node's own subscription is down nobody is declared dead (it is this node
//! that hears nothing); once it is back it says hello (everyone sends their
//! presence afresh) and catches up every room.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::presence_events::{self, PresenceEvents};
use super::relay::Input;
use super::{SocketIo, delivery, membership_events};
use crate::cluster::frame::Frame;
use crate::cluster::{Bus, Inbound, NodeId, Out};
use crate::limits::Limits;
use crate::presence::{Change, Presence, RemoteChange};
use crate::rooms::RoomName;
use crate::users::User;

/// Another node, as last heard.
struct Peer {
    last_seen: Instant,
    /// Its latest presence change applied here.
    seq: u64,
}

/// What the task works with.
pub struct Nodes {
    pub bus: Bus,
    pub io: SocketIo,
    pub presence: Arc<dyn Presence>,
    pub events: Arc<PresenceEvents>,
    pub relay: mpsc::Sender<Input>,
    pub limits: Arc<Limits>,
}

struct State {
    nodes: Nodes,
    peers: HashMap<NodeId, Peer>,
    /// Whether this node's subscription is up.
    up: bool,
}

/// Runs until shutdown.
pub async fn run(nodes: Nodes, mut inbound: mpsc::Receiver<Inbound>, stop: CancellationToken) {
    let heartbeat = nodes.bus.config().heartbeat;
    let mut every = tokio::time::interval(heartbeat);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut state = State {
        nodes,
        peers: HashMap::new(),
        up: false,
    };
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => state.tick().await,
            next = inbound.recv() => match next {
                Some(inbound) => state.inbound(inbound).await,
                None => return,
            },
        }
    }
}

impl State {
    fn me(&self) -> NodeId {
        self.nodes.bus.node()
    }

    fn publish(&self, frame: &Out<'_>) {
        self.nodes.bus.publish(frame);
    }

    /// A heartbeat, a resync if frames were lost, and the dead.
    async fn tick(&mut self) {
        let me = self.me();
        if self.nodes.bus.take_resync() {
            crate::metrics::get().bus_resyncs.increment(1);
            self.publish(&Out::Resync { node: me });
            self.nodes.presence.publish_full();
        }
        self.publish(&Out::Heartbeat {
            node: me,
            seq: self.nodes.presence.seq(),
        });
        if !self.up {
            return;
        }
        let timeout = self.nodes.bus.config().node_timeout;
        let now = Instant::now();
        let dead: Vec<NodeId> = self
            .peers
            .iter()
            .filter(|(_, peer)| now.duration_since(peer.last_seen) > timeout)
            .map(|(node, _)| *node)
            .collect();
        for node in dead {
            tracing::warn!(node = %format!("{node:016x}"), "a node stopped answering; taking its users out of presence");
            crate::metrics::get().bus_nodes_lost.increment(1);
            self.forget(node).await;
        }
        crate::metrics::get().bus_peers.set(self.peers.len() as f64);
    }

    /// A node is gone: its users leave, and every room catches up.
    async fn forget(&mut self, node: NodeId) {
        self.peers.remove(&node);
        let changes = self.nodes.presence.drop_node(node);
        self.announce(changes).await;
        self.catch_up().await;
    }

    async fn catch_up(&self) {
        if self.nodes.relay.send(Input::CatchUpAll).await.is_err() {
            tracing::debug!("the relay has stopped");
        }
    }

    async fn inbound(&mut self, inbound: Inbound) {
        match inbound {
            Inbound::Up { initial } => {
                self.up = true;
                let now = Instant::now();
                for peer in self.peers.values_mut() {
                    peer.last_seen = now;
                }
                self.publish(&Out::Hello { node: self.me() });
                if !initial {
                    tracing::info!("bus subscription back; catching up");
                    self.catch_up().await;
                }
            }
            Inbound::Down => self.up = false,
            Inbound::Frame(frame) => {
                if frame.node() != self.me() {
                    self.frame(frame).await;
                }
            }
        }
    }

    /// Marks `node` as heard from now; whether it is new here.
    fn heard(&mut self, node: NodeId) -> &mut Peer {
        self.peers.entry(node).or_insert_with(|| Peer {
            last_seen: Instant::now(),
            seq: 0,
        })
    }

    fn room(&self, raw: &str) -> Option<RoomName> {
        match RoomName::parse(raw, &self.nodes.limits) {
            Ok(room) => Some(room),
            Err(err) => {
                tracing::warn!(%err, room = raw, "a bus frame names a room this node refuses (are the room name limits the same on every node?)");
                None
            }
        }
    }

    async fn frame(&mut self, frame: Frame) {
        let node = frame.node();
        let known = self.peers.contains_key(&node);
        self.heard(node).last_seen = Instant::now();
        match frame {
            Frame::Message {
                room,
                prev,
                message,
                ..
            } => {
                let Some(room) = self.room(&room) else { return };
                let input = Input::Remote {
                    room,
                    prev,
                    message,
                };
                if self.nodes.relay.send(input).await.is_err() {
                    tracing::debug!("the relay has stopped");
                }
            }
            Frame::Room {
                room,
                event,
                data,
                except,
                ..
            } => {
                let Some(room) = self.room(&room) else { return };
                delivery::to_room(&self.nodes.io, &room, except, &event, &data).await;
            }
            Frame::Presence {
                seq,
                room,
                user,
                present,
                ..
            } => {
                let peer = self.heard(node);
                let expected = peer.seq + 1;
                if seq < expected {
                    return;
                }
                peer.seq = seq;
                if seq != expected {
                    self.ask_full(node);
                }
                let Some(room) = self.room(&room) else { return };
                let change = self.nodes.presence.remote(node, &room, &user, present);
                self.announce(change.into_iter().collect()).await;
            }
            Frame::Full { seq, rooms, .. } => {
                self.heard(node).seq = seq;
                let rooms: Vec<(RoomName, Vec<User>)> = rooms
                    .into_iter()
                    .filter_map(|(room, users)| Some((self.room(&room)?, users)))
                    .collect();
                let changes = self.nodes.presence.replace_node(node, rooms);
                self.announce(changes).await;
            }
            Frame::Heartbeat { seq, .. } => {
                if !known || self.heard(node).seq < seq {
                    self.ask_full(node);
                }
            }
            Frame::Hello { .. } => self.nodes.presence.publish_full(),
            Frame::SyncRequest { to, .. } => {
                if to == self.me() {
                    self.nodes.presence.publish_full();
                }
            }
            Frame::Resync { .. } => {
                tracing::info!(node = %format!("{node:016x}"), "a node lost bus frames; catching up");
                self.catch_up().await;
            }
            Frame::Goodbye { .. } => {
                tracing::info!(node = %format!("{node:016x}"), "a node left the bus");
                self.forget(node).await;
            }
            Frame::User {
                user, event, data, ..
            } => delivery::to_user(&self.nodes.io, user, None, &event, &data).await,
            Frame::Evict { room, user, .. } => {
                let Some(room) = self.room(&room) else { return };
                let (io, presence) = (&self.nodes.io, &*self.nodes.presence);
                membership_events::evict_local(io, presence, &self.nodes.events, &room, &user)
                    .await;
            }
        }
    }

    fn ask_full(&self, node: NodeId) {
        self.publish(&Out::SyncRequest {
            node: self.me(),
            to: node,
        });
    }

    /// Tells this node's sockets of arrivals and departures elsewhere.
    async fn announce(&self, changes: Vec<RemoteChange>) {
        for RemoteChange { room, user, change } in changes {
            let change = match change {
                Change::Arrived => presence_events::Change::Joined,
                Change::Departed => presence_events::Change::Left,
                Change::Unchanged => continue,
            };
            let count = self.nodes.presence.count(&room).await;
            let except = format!("user:{}", user.id);
            let events = &self.nodes.events;
            presence_events::announce(&self.nodes.io, events, &room, &user, change, count, except)
                .await;
        }
    }
}
