//! Real time: the Socket.IO side of Banter.
//!
//! - `connect`: the connect middlewares that check every socket (origin,
//!   address limits, session) and set the connection up;
//! - `inbox`: each connection's queue and worker. socketioxide runs each
//!   event handler as its own task, which would let a burst of `send`s be
//!   stored out of order; the inbox keeps them in arrival order;
//! - `command`: client events parsed into typed commands;
//! - `room_events` (join, leave, typing), `message_events` (send, history),
//!   `moderation_events` (delete, mute, ban), `edit_events` (edit, react),
//!   `membership_events` (create, invite, direct, read, notify; the end of
//!   a membership): the handlers;
//! - `sequencer`: the ordered path of messages to the database: group
//!   commit;
//! - `relay`: delivery of every room's messages in id order, exactly once,
//!   whichever node stored them; joins answered at the room's position;
//! - `nodes`: the other nodes, heard on the bus (messages, room events,
//!   presence, heartbeats);
//! - `delivery`: Banter's socketioxide adapter: fan-out of one encoded
//!   packet, so a connection that falls behind is disconnected rather than
//!   skipped;
//! - `connections`: per-address caps.

mod command;
mod connect;
mod connections;
mod delivery;
mod edit_events;
mod inbox;
mod membership_events;
mod message_events;
mod moderation_events;
mod nodes;
mod presence_events;
mod relay;
mod room_events;
mod sequencer;

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::app::Core;
use crate::auth::Identity;
use crate::error::Failure;
use crate::ratelimit::Key;
use crate::rooms::RoomName;
use presence_events::Change;

pub use command::{Command, EVENTS};
pub use connect::{ConnectError, socket_io};
pub use connections::{ConnectionCounts, Counter, Place, count_sessions};
pub use delivery::Laggards;
pub use inbox::{Inboxes, Slot};
pub use membership_events::{described, visible_room};
pub use moderation_events::watch_revocations;
pub use presence_events::PresenceEvents;
pub use sequencer::{Queue, Sequencer};

/// The socketioxide adapter every namespace runs on.
pub type Adapter = delivery::Fanout;
/// The Socket.IO handle, on Banter's adapter.
pub type SocketIo = socketioxide::SocketIo<Adapter>;
/// A connected socket, on Banter's adapter.
pub type SocketRef = socketioxide::extract::SocketRef<Adapter>;

/// One authenticated connection, owned by its inbox.
pub struct Connection {
    /// Shared by every connection (one reference count, not a copy of
    /// every handle in it per connection).
    pub core: Arc<Core>,
    pub io: SocketIo,
    pub identity: Identity,
    pub sid: String,
    pub socket_id: socketioxide::socket::Sid,
    /// The bytes waiting for this connection.
    pub backlog: Arc<delivery::Backlog>,
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
        let command = match Command::parse(&event, data, &self.core.limits) {
            Ok(command) if command.is_read() => self
                .within_rate(Key::Read(self.identity.user.id))
                .await
                .map(|()| command),
            other => other,
        };
        let result = match command {
            Ok(Command::Join { room }) => room_events::on_join(self, &socket, room, &mut ack).await,
            Ok(Command::Leave { room }) => room_events::on_leave(self, &socket, room).await,
            Ok(Command::Typing { room, active }) => {
                room_events::on_typing(self, room, active).await
            }
            Ok(Command::Send {
                room,
                text,
                client_id,
                reply_to,
                mentions,
            }) => {
                let reply = message_events::Reply { reply_to, mentions };
                message_events::on_send(self, room, text, client_id, reply).await
            }
            Ok(Command::Members { room, after, limit }) => {
                room_events::on_members(self, room, after, limit).await
            }
            Ok(Command::History { room, page }) => {
                message_events::on_history(self, room, page).await
            }
            Ok(Command::HistoryAround {
                room,
                around,
                limit,
            }) => message_events::on_history_around(self, room, around, limit).await,
            Ok(Command::Delete { id }) => moderation_events::on_delete(self, id).await,
            Ok(Command::Mute {
                room,
                user,
                minutes,
            }) => moderation_events::on_mute(self, room, user, minutes).await,
            Ok(Command::Ban { user }) => moderation_events::on_ban(self, user).await,
            Ok(Command::Edit { id, text, mentions }) => {
                edit_events::on_edit(self, id, text, mentions).await
            }
            Ok(Command::React { id, emoji, on }) => {
                edit_events::on_react(self, id, emoji, on).await
            }
            Ok(command) => self.handle_membership(&socket, command).await,
            Err(failure) => Err(failure),
        };
        let reply = result.unwrap_or_else(|failure| failure.to_ack());
        // A handler that acknowledged by itself (inside a lock) took the
        // sender. One being disconnected for falling behind gets nothing more.
        let laggards = &self.core.laggards;
        let Some(ack) = ack.filter(|_| !laggards.contains(self.socket_id)) else {
            return;
        };
        // Counted before the send, so the socket can never take bytes not
        // yet counted.
        laggards.answered(&self.backlog, delivery::json_bytes(&reply));
        if let Err(err) = ack.send(&reply) {
            if delivery::is_full(&err) {
                delivery::evict(&self.core.laggards, &socket);
            } else {
                tracing::debug!(sid = %self.sid, %err, "cannot acknowledge an event");
            }
        }
    }

    /// The events of rooms people belong to (issue #10).
    async fn handle_membership(
        &self,
        socket: &SocketRef,
        command: Command,
    ) -> Result<Value, Failure> {
        use membership_events as m;
        match command {
            Command::Create { room, kind, topic } => {
                m::on_create(self, socket, room, kind, topic).await
            }
            Command::Invite { room, user } => m::on_invite(self, room, user).await,
            Command::Direct { users } => m::on_direct(self, socket, users).await,
            Command::Read { room, id } => m::on_read(self, socket, room, id).await,
            Command::Notify { room, level } => m::on_notify(self, room, level).await,
            _ => Err(Failure::new(
                crate::error::Code::UnknownEvent,
                "unknown event",
            )),
        }
    }

    /// Called once, after the last event of a closed connection.
    async fn on_disconnect(&self) {
        let user = &self.identity.user;
        let rooms = self.core.presence.disconnect(user.id, &self.sid).await;
        for room in rooms {
            self.emit_left(&room).await;
        }
        self.core.laggards.forget(self.socket_id);
        tracing::debug!(sid = %self.sid, user = user.id, "disconnected");
    }

    async fn emit_left(&self, room: &RoomName) {
        let core = &self.core;
        let count = core.presence.count(room).await;
        let (user, except) = (&self.identity.user, self.identity.user_channel());
        let events = &core.presence_events;
        presence_events::announce(&self.io, events, room, user, Change::Left, count, except).await;
    }

    /// Emits an event to a room's connections, less those in `except`, on
    /// every node.
    pub(super) async fn broadcast<T: Serialize + ?Sized>(
        &self,
        room: &RoomName,
        except: Option<String>,
        event: &str,
        data: &T,
    ) {
        if let Some(bus) = &self.core.bus {
            bus.publish_room_event(room, except.as_deref(), event, data);
        }
        delivery::to_room(&self.io, room, except, event, data).await;
    }
}
