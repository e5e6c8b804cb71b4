//! Message features (issue #10): `edit` (your own messages) and `react`.
//! Both need the connection to have joined the message's room, as `send`
//! does; for any other message the answer is `message_not_found`, the same
//! as for no message at all, so a private room's messages never show.

use serde::Serialize;
use serde_json::{Value, json};

use super::Connection;
use crate::clock::now_ms;
use crate::error::{Code, Failure};
use crate::mentions::Mentions;
use crate::messages::{Message, MessageId, MessageText};
use crate::ratelimit::Key;
use crate::reactions::{Emoji, MAX_REACTIONS};
use crate::rooms::RoomName;
use crate::store::{Edit, NewReaction, Reacted};
use crate::users::{User, UserId};

/// What the room is told of an edit.
#[derive(Serialize)]
struct EditedEvent<'a> {
    room: &'a str,
    id: MessageId,
    text: &'a str,
    edited_at: i64,
    mentions: &'a [UserId],
    mentions_room: bool,
}

/// What the room is told of a reaction that changed.
#[derive(Serialize)]
struct ReactedEvent<'a> {
    room: &'a str,
    id: MessageId,
    emoji: &'a str,
    user: &'a User,
    on: bool,
}

fn not_found() -> Failure {
    Failure::new(Code::MessageNotFound, "no such message")
}

/// The message, if it is in a room this connection has joined.
async fn joined_message(conn: &Connection, id: MessageId) -> Result<(Message, RoomName), Failure> {
    let core = &conn.core;
    let message = core.store.find_message(id).await?.ok_or_else(not_found)?;
    let room = RoomName::parse(&message.room, &core.limits)?;
    if !core.presence.is_member(&room, &conn.sid).await {
        return Err(not_found());
    }
    Ok((message, room))
}

/// Replaces the text of one of your messages; the room gets `edited`.
pub async fn on_edit(
    conn: &Connection,
    id: MessageId,
    text: MessageText,
    mentions: Mentions,
) -> Result<Value, Failure> {
    let (mut message, room) = joined_message(conn, id).await?;
    let author = conn.identity.user.id;
    if message.author.id != author {
        return Err(Failure::new(
            Code::Forbidden,
            "only its author may edit a message",
        ));
    }
    conn.within_rate(Key::Send(author)).await?;
    let edit = Edit {
        id,
        author,
        text,
        mentions,
        now: now_ms(),
    };
    // Deleted since it was read: as if it had never been there.
    let edited = conn
        .core
        .store
        .edit_message(&edit)
        .await?
        .ok_or_else(not_found)?;
    message.text = edit.text.as_str().to_owned();
    message.edited_at = Some(edited.edited_at);
    message.mentions = edited.mentions;
    message.mentions_room = edit.mentions.room();
    let event = EditedEvent {
        room: room.as_str(),
        id,
        text: &message.text,
        edited_at: edited.edited_at,
        mentions: &message.mentions,
        mentions_room: message.mentions_room,
    };
    conn.broadcast(&room, None, "edited", &event).await;
    Ok(json!({ "ok": true, "message": message }))
}

/// Puts an emoji on a message or takes it off; the room gets `reacted`
/// only when that changed something.
pub async fn on_react(
    conn: &Connection,
    id: MessageId,
    emoji: Emoji,
    on: bool,
) -> Result<Value, Failure> {
    let (_, room) = joined_message(conn, id).await?;
    let user = &conn.identity.user;
    conn.within_rate(Key::Send(user.id)).await?;
    let reaction = NewReaction {
        message: id,
        user: user.id,
        emoji,
        on,
        now: now_ms(),
    };
    match conn.core.store.react(&reaction).await? {
        Reacted::Changed => {
            let event = ReactedEvent {
                room: room.as_str(),
                id,
                emoji: reaction.emoji.as_str(),
                user,
                on,
            };
            conn.broadcast(&room, None, "reacted", &event).await;
        }
        Reacted::Unchanged => {}
        Reacted::TooMany => {
            return Err(Failure::new(
                Code::TooManyReactions,
                format!("a message can have at most {MAX_REACTIONS} different emoji"),
            ));
        }
        Reacted::NotFound => return Err(not_found()),
    }
    Ok(json!({ "ok": true }))
}
