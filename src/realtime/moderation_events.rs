//! Moderation events: `delete` (your own messages, or any as an admin),
//! and for admins `mute` (in one room, for a time) and `ban`; and the watch
//! that closes the sockets of sessions ended elsewhere (the command line is
//! another process: it can only tell this one through the database).

use std::time::Duration;

use serde_json::{Value, json};

use super::{Connection, SocketIo};
use crate::app::Core;
use crate::clock::now_ms;
use crate::error::{Code, Failure};
use crate::messages::MessageId;
use crate::rooms::RoomName;
use crate::users::UserId;

/// Deletes a message: its text is gone for good and the room is told.
pub async fn on_delete(conn: &Connection, id: MessageId) -> Result<Value, Failure> {
    let core = &conn.core;
    let message = core
        .store
        .find_message(id)
        .await?
        .ok_or_else(|| Failure::new(Code::MessageNotFound, "no such message"))?;
    let room = RoomName::parse(&message.room, &core.limits)?;
    if message.author.id != conn.identity.user.id && !conn.identity.admin {
        // Someone outside the room learns nothing, not even that the
        // message exists: a private room's ids are not to be probed.
        if !core.presence.is_member(&room, &conn.sid).await {
            return Err(Failure::new(Code::MessageNotFound, "no such message"));
        }
        return Err(forbidden(
            "only its author or an admin may delete a message",
        ));
    }
    if !core.store.delete_message(id, now_ms()).await? {
        return Err(Failure::new(Code::MessageNotFound, "no such message"));
    }
    // Its files (issue #11) were handed to the sweep by the delete itself.
    core.uploads.sweep_soon();
    let event = json!({ "room": room.as_str(), "id": id });
    conn.broadcast(&room, None, "deleted", &event).await;
    Ok(json!({ "ok": true }))
}

/// Mutes a user in a room for some minutes (0 lifts the mute).
pub async fn on_mute(
    conn: &Connection,
    room: RoomName,
    user: UserId,
    minutes: u32,
) -> Result<Value, Failure> {
    require_admin(conn)?;
    let core = &conn.core;
    core.store.find_room(&room).await?;
    let target = find_user(conn, user).await?;
    let until = now_ms() + i64::from(minutes) * 60_000;
    core.store.set_mute(&room, target.id, until).await?;
    let event = json!({ "room": room.as_str(), "user": target, "until": until });
    conn.broadcast(&room, None, "muted", &event).await;
    Ok(json!({ "ok": true, "until": until }))
}

/// Bans a user: every session of theirs ends and their sockets are closed.
pub async fn on_ban(conn: &Connection, user: UserId) -> Result<Value, Failure> {
    require_admin(conn)?;
    if user == conn.identity.user.id {
        return Err(forbidden("you cannot ban yourself"));
    }
    let target = find_user(conn, user).await?;
    let now = now_ms();
    let address_until = conn.core.auth.ban_address_until(now);
    conn.core
        .store
        .ban_user(target.id, now, address_until)
        .await?;
    if let Some(ns) = conn.io.of("/")
        && let Err(err) = ns.to(format!("user:{}", target.id)).disconnect().await
    {
        tracing::warn!(%err, user = target.id, "cannot disconnect a banned user");
    }
    tracing::info!(by = conn.identity.user.id, user = target.id, "user banned");
    Ok(json!({ "ok": true }))
}

fn require_admin(conn: &Connection) -> Result<(), Failure> {
    if conn.identity.admin {
        Ok(())
    } else {
        Err(forbidden("only an admin may do that"))
    }
}

async fn find_user(conn: &Connection, id: UserId) -> Result<crate::users::User, Failure> {
    conn.core
        .store
        .find_user(id)
        .await?
        .ok_or_else(|| Failure::new(Code::UserNotFound, "no such user"))
}

fn forbidden(why: &str) -> Failure {
    Failure::new(Code::Forbidden, why)
}

/// How often the server reads the revocations table: a ban or session
/// revocation made from the command line closes the sockets within about
/// this long (documented as 2 s).
const REVOCATION_POLL: Duration = Duration::from_secs(1);

/// Revocations older than this are deleted: every server has read them.
const REVOCATION_KEEP_MS: i64 = 10 * 60 * 1000;

/// Disconnects the sockets of every session ended and every admin demoted
/// since start-up, by whoever did it, until shutdown.
pub async fn watch_revocations(io: SocketIo, core: Core) {
    let mut last = match core.store.last_revocation().await {
        Ok(last) => last,
        Err(err) => {
            tracing::error!(%err, "cannot read revocations: the command line cannot reach sockets");
            return;
        }
    };
    let mut every = tokio::time::interval(REVOCATION_POLL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut polls = 0u32;
    while core
        .shutdown
        .run_until_cancelled(every.tick())
        .await
        .is_some()
    {
        last = disconnect_revoked(&io, &core, last).await;
        polls = polls.wrapping_add(1);
        if polls.is_multiple_of(60)
            && let Err(err) = core
                .store
                .prune_revocations(now_ms() - REVOCATION_KEEP_MS)
                .await
        {
            tracing::warn!(%err, "cannot prune revocations");
        }
    }
}

/// Disconnects what was revoked after `last`; returns the new last id.
async fn disconnect_revoked(io: &SocketIo, core: &Core, last: i64) -> i64 {
    let revoked = match core.store.revocations_after(last).await {
        Ok(revoked) => revoked,
        Err(err) => {
            tracing::warn!(%err, "cannot read revocations");
            return last;
        }
    };
    let mut newest = last;
    for revocation in revoked {
        newest = revocation.id;
        let channel = match (revocation.session, revocation.user) {
            (Some(session), _) => format!("session:{session}"),
            (None, Some(user)) => format!("user:{user}"),
            (None, None) => continue,
        };
        if let Some(ns) = io.of("/")
            && let Err(err) = ns.to(channel).disconnect().await
        {
            tracing::warn!(%err, "cannot disconnect revoked sockets");
        }
    }
    newest
}
