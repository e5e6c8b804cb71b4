//! Message events: `send` and `history`.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Connection, payload};
use crate::clock::now_ms;
use crate::error::Failure;
use crate::messages::{ClientId, MessageText, Page};
use crate::rooms::RoomName;
use crate::store::{Inserted, NewMessage};

#[derive(Deserialize)]
struct SendPayload {
    room: String,
    text: String,
    client_id: Option<String>,
}

#[derive(Deserialize)]
struct HistoryPayload {
    room: String,
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<i64>,
}

/// Stores a message, then broadcasts it to the room (sender included) and
/// acknowledges it. A resend with a known `client_id` only acknowledges.
pub async fn on_send(conn: &Connection, data: Value) -> Result<Value, Failure> {
    let SendPayload {
        room,
        text,
        client_id,
    } = payload(data)?;
    let limits = &conn.core.limits;
    let room = RoomName::parse(&room, limits)?;
    let text = MessageText::parse(&text, limits)?;
    let client_id = client_id.as_deref().map(ClientId::parse).transpose()?;
    conn.require_member(&room).await?;
    let core = &conn.core;
    let _guard = core.locks.lock(&room).await;
    let new = NewMessage {
        room: &room,
        author: &conn.identity.user,
        text: &text,
        client_id: client_id.as_ref(),
        ts: now_ms(),
    };
    match core.store.insert_message(new).await? {
        Inserted::New(message) => {
            broadcast(conn, &room, &message).await;
            Ok(json!({ "ok": true, "message": message, "duplicate": false }))
        }
        Inserted::Duplicate(message) => {
            Ok(json!({ "ok": true, "message": message, "duplicate": true }))
        }
    }
}

async fn broadcast(conn: &Connection, room: &RoomName, message: &crate::messages::Message) {
    if let Err(err) = conn.io.to(room.channel()).emit("message", message).await {
        tracing::warn!(%err, room = %room, id = message.id, "cannot deliver message to every member");
    }
}

/// A page of a room's history, oldest first.
pub async fn on_history(conn: &Connection, data: Value) -> Result<Value, Failure> {
    let HistoryPayload {
        room,
        before,
        after,
        limit,
    } = payload(data)?;
    let room = RoomName::parse(&room, &conn.core.limits)?;
    let page = Page::parse(before, after, limit)?;
    let messages = conn.core.store.messages(&room, page).await?;
    Ok(json!({ "ok": true, "messages": messages }))
}
