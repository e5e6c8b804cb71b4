//! Rooms people belong to (issue #10): `create`, `invite`, `direct`,
//! `read` and `notify`, the check every door of a closed room makes, and
//! the end of a membership on every node.
//!
//! A membership is stored (`memberships`); a connection still `join`s a
//! room to receive its events, and `join` of a private or direct room
//! requires the membership. Ending one (`leave`) takes every connection of
//! the user out of the room on every node (`Evict` on the bus), so after a
//! `leave` none of them hears the room again.
//!
//! A room that is not public does not exist for a non-member: every door
//! answers exactly what it answers for a room that does not exist.

use serde::Serialize;
use serde_json::{Value, json};

use super::presence_events::{self, Change as Announced, PresenceEvents};
use super::{Connection, SocketIo, SocketRef, delivery};
use crate::app::Core;
use crate::clock::now_ms;
use crate::error::{Code, Failure};
use crate::messages::MessageId;
use crate::presence::{Change, Presence};
use crate::ratelimit::Key;
use crate::rooms::{DIRECT_MAX_OTHERS, NotifyLevel, Room, RoomKind, RoomName, Topic};
use crate::store::{Marked, StoreError};
use crate::users::{User, UserId};

/// `invited {room, by}`: the user was made a member by someone else.
#[derive(Serialize)]
struct Invited<'a> {
    room: &'a Room,
    by: &'a User,
}

/// `read {room, id}`: the user's read marker moved (to their other
/// connections).
#[derive(Serialize)]
struct ReadMoved<'a> {
    room: &'a str,
    id: MessageId,
}

/// `room_left {room}`: the user's membership ended (to their other
/// connections).
#[derive(Serialize)]
struct RoomLeft<'a> {
    room: &'a str,
}

/// The answer `room_not_found`, the same whether the room does not exist
/// or the caller may not know it does.
pub fn no_such_room(room: &RoomName) -> Failure {
    Failure::new(Code::RoomNotFound, format!("no room named {room}"))
}

/// The room, if `user` may see it: public, or a member. Otherwise
/// `room_not_found`, as for a room that does not exist.
pub async fn visible_room(core: &Core, name: &RoomName, user: UserId) -> Result<Room, Failure> {
    let room = core.store.find_room(name).await?;
    if room.kind.is_closed() && !core.store.is_member(name, user).await? {
        return Err(no_such_room(name));
    }
    Ok(room)
}

/// The room as clients see it: a direct room with its people.
pub async fn described(core: &Core, mut room: Room) -> Result<Room, Failure> {
    if room.kind != RoomKind::Direct {
        return Ok(room);
    }
    let name = RoomName::parse(&room.name, &core.limits)?;
    let mut people = Vec::new();
    for id in name.direct_people().unwrap_or_default() {
        if let Some(user) = core.store.find_user(id).await? {
            people.push(user);
        }
    }
    room.members = Some(people);
    Ok(room)
}

/// `create {room, kind, topic?}`: a new public or private room, the caller
/// its first member. Counts as a room creation against the rate limits.
pub async fn on_create(
    conn: &Connection,
    socket: &SocketRef,
    name: RoomName,
    kind: RoomKind,
    topic: Topic,
) -> Result<Value, Failure> {
    if name.is_reserved() {
        return Err(Failure::new(
            Code::InvalidRoom,
            "names starting dm- are for direct conversations",
        ));
    }
    let user = conn.identity.user.id;
    conn.within_rate(Key::RoomCreate(user)).await?;
    let ip = conn.core.proxies.of_request(socket.req_parts());
    conn.within_rate(Key::RoomCreateFrom(ip)).await?;
    let room = Room {
        name: name.as_str().to_owned(),
        topic: topic.as_str().to_owned(),
        kind,
        members: None,
    };
    conn.core.store.create_room(&room, user, now_ms()).await?;
    Ok(json!({ "ok": true, "room": room }))
}

/// `invite {room, user_id}`: a member makes someone else a member; their
/// connections hear `invited`. Counts against the caller's join rate.
pub async fn on_invite(
    conn: &Connection,
    name: RoomName,
    invitee: UserId,
) -> Result<Value, Failure> {
    let core = &conn.core;
    let me = &conn.identity.user;
    let room = match core.store.find_room(&name).await {
        Err(StoreError::RoomNotFound) => return Err(no_such_room(&name)),
        found => found?,
    };
    if !core.store.is_member(&name, me.id).await? {
        return Err(no_such_room(&name));
    }
    if room.kind == RoomKind::Direct {
        return Err(Failure::new(
            Code::Forbidden,
            "the people of a direct conversation are fixed: start another one",
        ));
    }
    conn.within_rate(Key::Join(me.id)).await?;
    if core.store.find_user(invitee).await?.is_none() {
        return Err(Failure::new(Code::UserNotFound, "no such user"));
    }
    if core.store.add_member(&name, invitee, now_ms()).await? {
        let event = Invited {
            room: &room,
            by: me,
        };
        conn.to_user(invitee, None, "invited", &event).await;
    }
    Ok(json!({ "ok": true }))
}

/// `direct {user_ids}`: the direct room of these people and the caller,
/// made on first use (the others hear `invited`); the caller is a member
/// of it again if they had left it.
pub async fn on_direct(
    conn: &Connection,
    socket: &SocketRef,
    mut people: Vec<UserId>,
) -> Result<Value, Failure> {
    let core = &conn.core;
    let me = &conn.identity.user;
    people.retain(|id| *id != me.id);
    if people.is_empty() || people.len() > DIRECT_MAX_OTHERS {
        return Err(Failure::new(
            Code::InvalidPayload,
            format!("user_ids must name 1 to {DIRECT_MAX_OTHERS} other people"),
        ));
    }
    for id in &people {
        if core.store.find_user(*id).await?.is_none() {
            return Err(Failure::new(Code::UserNotFound, "no such user"));
        }
    }
    people.push(me.id);
    let name = RoomName::direct(&people);
    if matches!(
        core.store.find_room(&name).await,
        Err(StoreError::RoomNotFound)
    ) {
        conn.within_rate(Key::RoomCreate(me.id)).await?;
        let ip = core.proxies.of_request(socket.req_parts());
        conn.within_rate(Key::RoomCreateFrom(ip)).await?;
    }
    let made = core
        .store
        .direct_room(&name, &people, me.id, now_ms())
        .await?;
    let room = described(core, core.store.find_room(&name).await?).await?;
    if made {
        let event = Invited {
            room: &room,
            by: me,
        };
        for id in people.iter().filter(|id| **id != me.id) {
            conn.to_user(*id, None, "invited", &event).await;
        }
    }
    Ok(json!({ "ok": true, "room": room }))
}

/// `read {room, id}`: moves the caller's read marker forward; their other
/// connections hear `read` when it moved.
pub async fn on_read(
    conn: &Connection,
    socket: &SocketRef,
    name: RoomName,
    id: MessageId,
) -> Result<Value, Failure> {
    let user = conn.identity.user.id;
    match conn.core.store.mark_read(&name, user, id).await? {
        Marked::NotMember => Err(no_such_room(&name)),
        Marked::Unchanged(_) => Ok(json!({ "ok": true })),
        Marked::Moved(id) => {
            let event = ReadMoved {
                room: name.as_str(),
                id,
            };
            conn.to_user(user, Some(socket), "read", &event).await;
            Ok(json!({ "ok": true }))
        }
    }
}

/// `notify {room, level}`: the caller's notification level for the room.
pub async fn on_notify(
    conn: &Connection,
    name: RoomName,
    level: NotifyLevel,
) -> Result<Value, Failure> {
    let user = conn.identity.user.id;
    if conn.core.store.set_notify(&name, user, level).await? {
        Ok(json!({ "ok": true }))
    } else {
        Err(no_such_room(&name))
    }
}

/// Ends the caller's membership (if any) and takes all their connections
/// out of the room, on every node; their other connections hear
/// `room_left`. Whether there was anything to end: a membership, or this
/// connection in the room.
pub async fn end_membership(
    conn: &Connection,
    socket: &SocketRef,
    name: &RoomName,
) -> Result<bool, Failure> {
    let core = &conn.core;
    let user = &conn.identity.user;
    let was_member = core.store.remove_member(name, user.id).await?;
    let was_here = core.presence.is_member(name, &conn.sid).await;
    if !was_member && !was_here {
        return Ok(false);
    }
    if let Some(bus) = &core.bus {
        bus.publish_evict(name, user);
    }
    evict_local(&conn.io, &*core.presence, &core.presence_events, name, user).await;
    let event = RoomLeft {
        room: name.as_str(),
    };
    conn.to_user(user.id, Some(socket), "room_left", &event)
        .await;
    Ok(true)
}

/// Takes this node's connections of `user` out of `room`: its channel and
/// presence; the room hears `left` if that was the user's last connection
/// anywhere.
pub async fn evict_local(
    io: &SocketIo,
    presence: &dyn Presence,
    events: &PresenceEvents,
    room: &RoomName,
    user: &User,
) {
    let mut departed = false;
    for sid in delivery::leave_room(io, user.id, room) {
        departed |= presence.leave(room, user.id, &sid).await == Some(Change::Departed);
    }
    if departed {
        let count = presence.count(room).await;
        let except = crate::auth::user_channel(user.id);
        presence_events::announce(io, events, room, user, Announced::Left, count, except).await;
    }
}

impl Connection {
    /// Emits an event to every connection of `user` but `except`, on every
    /// node.
    pub(super) async fn to_user<T: Serialize + ?Sized>(
        &self,
        user: UserId,
        except: Option<&SocketRef>,
        event: &str,
        data: &T,
    ) {
        if let Some(bus) = &self.core.bus {
            bus.publish_user_event(user, event, data);
        }
        delivery::to_user(&self.io, user, except, event, data).await;
    }
}
