//! Message events: `send` (with replies and mentions) and `history`.

use serde_json::{Value, json};

use super::Connection;
use crate::clock::now_ms;
use crate::error::{Code, Failure};
use crate::mentions::Mentions;
use crate::messages::{ClientId, MessageId, MessageText, Page};
use crate::ratelimit::Key;
use crate::rooms::RoomName;
use crate::store::{Inserted, NewMessage};

/// What a send says beyond its text: the message it answers and whom it
/// mentions.
pub struct Reply {
    pub reply_to: Option<MessageId>,
    pub mentions: Mentions,
}

/// Stores a message (group-committed with whatever else arrived at the same
/// time), then broadcasts it to the room (sender included) and acknowledges it. A resend with a known `client_id` only acknowledges.
pub async fn on_send(
    conn: &Connection,
    room: RoomName,
    text: MessageText,
    client_id: Option<ClientId>,
    reply: Reply,
) -> Result<Value, Failure> {
    conn.require_member(&room).await?;
    conn.within_rate(Key::Send(conn.identity.user.id)).await?;
    let now = now_ms();
    let new = NewMessage {
        room: room.clone(),
        author: conn.identity.user.clone(),
        text,
        client_id,
        ts: now,
        reply_to: reply.reply_to,
        mentions: reply.mentions,
        attachments: Vec::new(),
    };
    // Broadcast by the sequencer once on disk, before this acknowledgement.
    match conn.core.sequencer.send(new).await? {
        Inserted::New { message, .. } => {
            Ok(json!({ "ok": true, "message": message, "duplicate": false }))
        }
        Inserted::Duplicate(message) => {
            // The writer reads back the row only; its reactions and
            // mentions (and an edit since) are read here, off the send path.
            let message = conn
                .core
                .store
                .find_message(message.id)
                .await?
                .unwrap_or(message);
            Ok(json!({ "ok": true, "message": message, "duplicate": true }))
        }
        Inserted::Muted { until } => Err(Failure {
            retry_after_ms: Some(u64::try_from(until - now).unwrap_or(0)),
            ..Failure::new(Code::Muted, format!("you are muted in {room}"))
        }),
    }
}

/// A page of a room's history, oldest first. A room that is not public is
/// `room_not_found` to a non-member.
pub async fn on_history(conn: &Connection, room: RoomName, page: Page) -> Result<Value, Failure> {
    super::visible_room(&conn.core, &room, conn.identity.user.id).await?;
    let messages = conn.core.store.messages(&room, page).await?;
    Ok(json!({ "ok": true, "messages": messages }))
}

/// The message `around` with the messages on either side of it, oldest
/// first (issue #11). An id that is not a message of the room (another
/// room's, deleted, never sent) is `message_not_found`.
pub async fn on_history_around(
    conn: &Connection,
    room: RoomName,
    around: MessageId,
    limit: i64,
) -> Result<Value, Failure> {
    super::visible_room(&conn.core, &room, conn.identity.user.id).await?;
    let Some(messages) = conn
        .core
        .store
        .messages_around(&room, around, limit)
        .await?
    else {
        return Err(Failure::new(
            Code::MessageNotFound,
            format!("no message {around} in {room}"),
        ));
    };
    Ok(json!({ "ok": true, "messages": messages }))
}
