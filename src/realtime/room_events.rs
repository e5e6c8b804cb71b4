//! Room events: `join`, `leave` and `typing`.

use serde_json::{Value, json};
use socketioxide::extract::AckSender;

use super::relay::JoinReply;
use super::{Adapter, Connection, SocketRef, membership_events};
use crate::clock::now_ms;
use crate::error::{Code, Failure};
use crate::limits::MEMBERS_PAGE;
use crate::presence::Change;
use crate::ratelimit::Key;
use crate::rooms::{MyRoom, ReadState, Room, RoomName};
use crate::store::StoreError;
use crate::users::Username;

/// Joins a room (creating a public one on first use) and answers with its
/// members, latest messages and the caller's read state. Joining a public
/// room makes the caller a lasting member; a private or direct room needs
/// the membership already (`room_not_found` otherwise, as for no room). The
/// ack is sent by the relay at the room's delivered position: every message
/// delivered here before is in it, every message delivered after arrives as
/// an event after it.
pub async fn on_join(
    conn: &Connection,
    socket: &SocketRef,
    name: RoomName,
    ack: &mut Option<AckSender<Adapter>>,
) -> Result<Value, Failure> {
    let core = &conn.core;
    if !core.presence.is_member(&name, &conn.sid).await {
        conn.within_rate(Key::Join(conn.identity.user.id)).await?;
    }
    // A member already (every rejoin of a reconnect): one read, no write.
    // Someone new: the membership is made and the read state read back in
    // one step of the writer, committed with whatever else is queued.
    let mine = core.store.my_room(&name, conn.identity.user.id).await?;
    let (room, read) = open_room(conn, socket, &name, mine).await?;
    let Some(ack) = ack.take() else {
        return Ok(Value::Null);
    };
    let user = &conn.identity.user;
    let change = core.presence.join(&name, user, &conn.sid).await;
    let page = core.presence.members(&name, None, MEMBERS_PAGE).await;
    let member_count = page.count;
    let arrived = change == Change::Arrived;
    let reply = JoinReply {
        socket: socket.clone(),
        ack,
        room,
        members: page.members,
        member_count,
        read,
        // Announced by the relay right after the ack, before anything
        // else reaches the room: a member whose join is answered later
        // must not hear of an arrival that came before its own.
        announce: arrived.then(|| (user.clone(), conn.identity.user_channel())),
    };
    let joined = core.sequencer.join(name.clone(), reply);
    if !joined.await && arrived {
        core.presence.leave(&name, user.id, &conn.sid).await;
    }
    Ok(Value::Null)
}

/// The room a join opens, with the caller a member, and the caller's read
/// state in it: an existing public room (the membership is made), a private
/// or direct one the caller belongs to, or a new public room (rate-limited
/// as a creation). Names starting `dm-` are never made here. `mine`: the
/// caller's membership, if they have one already.
async fn open_room(
    conn: &Connection,
    socket: &SocketRef,
    name: &RoomName,
    mine: Option<MyRoom>,
) -> Result<(Room, ReadState), Failure> {
    let core = &conn.core;
    let user = conn.identity.user.id;
    let room = match core.store.find_room(name).await {
        Ok(room) if room.kind.is_closed() => {
            let Some(mine) = mine else {
                return Err(membership_events::no_such_room(name));
            };
            return Ok((membership_events::described(core, room).await?, mine.read));
        }
        Ok(room) => room,
        Err(StoreError::RoomNotFound) if name.is_reserved() => {
            return Err(membership_events::no_such_room(name));
        }
        Err(StoreError::RoomNotFound) => {
            conn.within_rate(Key::RoomCreate(user)).await?;
            let ip = core.proxies.of_request(socket.req_parts());
            conn.within_rate(Key::RoomCreateFrom(ip)).await?;
            core.store.ensure_room(name, now_ms()).await?
        }
        Err(err) => return Err(err.into()),
    };
    let read = match mine {
        Some(mine) => mine.read,
        None => core.store.join_room(name, user, now_ms()).await?.read,
    };
    Ok((room, read))
}

/// A page of the room's members, in name order, after the name `after`.
pub async fn on_members(
    conn: &Connection,
    room: RoomName,
    after: Option<Username>,
    limit: usize,
) -> Result<Value, Failure> {
    conn.require_member(&room).await?;
    let after = after.as_ref().map(Username::as_str);
    let page = conn.core.presence.members(&room, after, limit).await;
    Ok(json!({ "ok": true, "members": page.members, "member_count": page.count }))
}

/// Leaves a room: ends the membership and takes every connection of the
/// user out of it, on every node; the others hear `left` once the user is
/// in it nowhere. `not_in_room` if there was neither a membership nor this
/// connection in the room.
pub async fn on_leave(
    conn: &Connection,
    socket: &SocketRef,
    name: RoomName,
) -> Result<Value, Failure> {
    if !membership_events::end_membership(conn, socket, &name).await? {
        return Err(not_in_room(&name));
    }
    Ok(json!({ "ok": true }))
}

/// Tells the room's other members that this user started or stopped typing.
/// Not sent back to any of the typist's own connections. Refused while the
/// user is muted in the room, as `send` is.
pub async fn on_typing(conn: &Connection, name: RoomName, active: bool) -> Result<Value, Failure> {
    conn.require_member(&name).await?;
    let user = &conn.identity.user;
    conn.within_rate(Key::Typing(user.id, name.clone())).await?;
    let now = now_ms();
    if let Some(until) = conn.core.store.muted_until(&name, user.id, now).await? {
        return Err(Failure {
            retry_after_ms: Some(u64::try_from(until - now).unwrap_or(0)),
            ..Failure::new(Code::Muted, format!("you are muted in {name}"))
        });
    }
    let event = json!({ "room": name.as_str(), "user": user, "active": active });
    let others = Some(conn.identity.user_channel());
    conn.broadcast(&name, others, "typing", &event).await;
    Ok(json!({ "ok": true }))
}

pub(super) fn not_in_room(room: &RoomName) -> Failure {
    Failure::new(Code::NotInRoom, format!("join {room} first"))
}

impl Connection {
    /// `rate_limited`, with the wait, when the limit for `key` is reached.
    pub(super) async fn within_rate(&self, key: Key) -> Result<(), Failure> {
        self.core
            .limiter
            .check(key)
            .await
            .map_err(Failure::rate_limited)
    }

    pub(super) async fn require_member(&self, room: &RoomName) -> Result<(), Failure> {
        if self.core.presence.is_member(room, &self.sid).await {
            Ok(())
        } else {
            Err(not_in_room(room))
        }
    }
}
