//! What both backends share: row shapes, the message query's columns (the
//! same text in SQLite and PostgreSQL), the room cache, and the pieces of
//! work that queue for a writer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::FromRow;

use super::NewMessage;
use crate::messages::{Message, MessageId};
use crate::rooms::{Room, RoomPage};
use crate::users::{User, UserId, Username};

/// The columns of a message as clients see it; a query adds its `WHERE`.
pub(super) const MESSAGE_COLUMNS: &str = "SELECT m.id, r.name AS room, u.id AS author_id, u.name AS author_name, \
     (u.password_hash IS NULL) AS author_guest, m.text, m.created_at, m.client_id, \
     m.edited_at, m.reply_to, m.mentions_room, u.is_bot AS author_bot \
     FROM messages m JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.author_id";

/// One row of the message query, before it is shaped for clients.
#[derive(FromRow)]
pub(super) struct MessageRow {
    id: i64,
    room: String,
    author_id: i64,
    author_name: String,
    author_guest: bool,
    text: String,
    created_at: i64,
    client_id: Option<String>,
    edited_at: Option<i64>,
    reply_to: Option<i64>,
    mentions_room: bool,
    author_bot: bool,
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Self {
        Message {
            id: row.id,
            room: row.room,
            author: User {
                id: row.author_id,
                name: row.author_name,
                guest: row.author_guest,
                bot: row.author_bot,
            },
            text: row.text,
            ts: row.created_at,
            client_id: row.client_id,
            edited_at: row.edited_at,
            reply_to: row.reply_to,
            // Filled in by `message_extras::attach`.
            mentions: Vec::new(),
            mentions_room: row.mentions_room,
            reactions: Vec::new(),
            attachments: Vec::new(),
        }
    }
}

/// A row of `MESSAGE_COLUMNS` as rusqlite reads it (the SQLite writer's
/// and reader's own connections), without its mentions, reactions and files.
pub(super) fn read_message(row: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: row.get(0)?,
        room: row.get(1)?,
        author: User {
            id: row.get(2)?,
            name: row.get(3)?,
            guest: row.get(4)?,
            bot: row.get(11)?,
        },
        text: row.get(5)?,
        ts: row.get(6)?,
        client_id: row.get(7)?,
        edited_at: row.get(8)?,
        reply_to: row.get(9)?,
        mentions: Vec::new(),
        mentions_room: row.get(10)?,
        reactions: Vec::new(),
        attachments: Vec::new(),
    })
}

/// The message as stored, without reading it back; `mentions` are the
/// users its names resolved to.
pub(super) fn stored(new: &NewMessage, id: MessageId, mut mentions: Vec<UserId>) -> Message {
    mentions.sort_unstable();
    Message {
        id,
        room: new.room.as_str().to_owned(),
        author: new.author.clone(),
        text: new.text.as_str().to_owned(),
        ts: new.ts,
        client_id: new.client_id.as_ref().map(|c| c.as_str().to_owned()),
        edited_at: None,
        reply_to: new.reply_to,
        mentions,
        mentions_room: new.mentions.room(),
        reactions: Vec::new(),
        // Filled in by the writer, with the files it attached.
        attachments: Vec::new(),
    }
}

/// A guest sign-in for a writer: the user and its session.
#[derive(Debug, Clone)]
pub(super) struct Guest {
    pub name: Username,
    pub token_hash: Vec<u8>,
    pub address: String,
    pub now: i64,
    pub expires_at: i64,
}

/// Rooms already read, by name: every join asks for its room, and rooms are
/// never deleted nor renamed and their topics never change. (An API that
/// changes a room must update this too, on every node.)
#[derive(Debug, Clone, Default)]
pub(super) struct RoomCache(Arc<Mutex<HashMap<String, Room>>>);

impl RoomCache {
    pub fn get(&self, name: &str) -> Option<Room> {
        let rooms = self.0.lock().unwrap_or_else(|p| p.into_inner());
        rooms.get(name).cloned()
    }

    pub fn insert(&self, room: &Room) {
        let mut rooms = self.0.lock().unwrap_or_else(|p| p.into_inner());
        rooms.insert(room.name.clone(), room.clone());
    }
}

/// Rows fetched for a page of `limit` rooms (one more than asked for, to
/// know whether there is a next page).
pub(super) fn rooms_to_fetch(limit: usize) -> i64 {
    i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX)
}

/// The page from the rows fetched (`rooms_to_fetch`); only public rooms
/// are listed.
pub(super) fn room_page(rows: Vec<(String, String)>, limit: usize) -> RoomPage {
    let mut rooms: Vec<Room> = rows
        .into_iter()
        .map(|(name, topic)| Room::stored(name, topic, "public"))
        .collect();
    let next = if rooms.len() > limit {
        rooms.truncate(limit);
        rooms.last().map(|room| room.name.clone())
    } else {
        None
    };
    RoomPage { rooms, next }
}
