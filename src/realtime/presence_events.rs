//! Presence events, at a cost per join that does not grow with the room.
//!
//! In a room of up to `PRESENCE_LIVE_MAX` members, each arrival and
//! departure goes out at once as `joined` or `left`. In a bigger room one
//! event per person would give every member an event per join, work that
//! grows with the square of the room (5,000 joins into one room: 12.5
//! million events). There the changes are gathered, and once a second each
//! such room gets one `presence {room, joined, left, member_count}`, its
//! lists capped at a page (the count is always exact; a client pages the
//! rest with `members`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::{SocketIo, delivery};
use crate::limits::{MEMBERS_PAGE, PRESENCE_LIVE_MAX};
use crate::presence::Presence;
use crate::rooms::RoomName;
use crate::users::User;

/// How often gathered changes go out.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Changes waiting to be announced, per room. Cheap to share.
#[derive(Default)]
pub struct PresenceEvents {
    pending: Mutex<HashMap<RoomName, Pending>>,
}

#[derive(Default)]
struct Pending {
    joined: Vec<User>,
    left: Vec<User>,
}

#[derive(Serialize)]
struct PresenceEvent<'a> {
    room: &'a str,
    joined: &'a [User],
    left: &'a [User],
    member_count: usize,
}

impl PresenceEvents {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<RoomName, Pending>) -> T) -> T {
        f(&mut self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Notes an arrival; one who left in the same second is simply back.
    pub fn arrived(&self, room: &RoomName, user: &User) {
        self.with(|pending| {
            let p = pending.entry(room.clone()).or_default();
            let before = p.left.len();
            p.left.retain(|u| u.id != user.id);
            if p.left.len() == before && p.joined.len() < MEMBERS_PAGE {
                p.joined.push(user.clone());
            }
        });
    }

    /// Notes a departure; one who arrived in the same second never shows.
    pub fn departed(&self, room: &RoomName, user: &User) {
        self.with(|pending| {
            let p = pending.entry(room.clone()).or_default();
            let before = p.joined.len();
            p.joined.retain(|u| u.id != user.id);
            if p.joined.len() == before && p.left.len() < MEMBERS_PAGE {
                p.left.push(user.clone());
            }
        });
    }

    fn take(&self) -> HashMap<RoomName, Pending> {
        self.with(std::mem::take)
    }
}

/// An arrival or a departure to announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Joined,
    Left,
}

/// Tells `room` that `user` arrived or went: at once as `joined` / `left`
/// (to everyone but `except`, the user's own connections) in a room of up to
/// `PRESENCE_LIVE_MAX`, gathered into the next `presence` event in a bigger
/// one. `count` is the room's size now.
pub async fn announce(
    io: &SocketIo,
    events: &PresenceEvents,
    room: &RoomName,
    user: &User,
    change: Change,
    count: usize,
    except: String,
) {
    if count > PRESENCE_LIVE_MAX {
        match change {
            Change::Joined => events.arrived(room, user),
            Change::Left => events.departed(room, user),
        }
        return;
    }
    let event = match change {
        Change::Joined => "joined",
        Change::Left => "left",
    };
    let payload = UserEvent {
        room: room.as_str(),
        user,
    };
    delivery::to_room(io, room, Some(except), event, &payload).await;
}

#[derive(Serialize)]
struct UserEvent<'a> {
    room: &'a str,
    user: &'a User,
}

/// Sends what was gathered, once a second, until the server stops.
pub async fn run(
    events: Arc<PresenceEvents>,
    presence: Arc<dyn Presence>,
    io: SocketIo,
    stop: CancellationToken,
) {
    let mut every = tokio::time::interval(FLUSH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while stop.run_until_cancelled(every.tick()).await.is_some() {
        for (room, pending) in events.take() {
            let event = PresenceEvent {
                room: room.as_str(),
                joined: &pending.joined,
                left: &pending.left,
                member_count: presence.count(&room).await,
            };
            delivery::to_room(&io, &room, None, "presence", &event).await;
        }
    }
}
