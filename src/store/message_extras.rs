//! Message features (issue #10) on both backends: what a message carries
//! besides its row (its mentions and reactions, read for a whole page in
//! two queries whatever its size, and its files, issue #11, in a third), edits and reactions (one transaction
//! each, a bounded number of statements), and the mention lookups the
//! writers make when they store a message.
//!
//! The statements are the same text on both backends but for the list of
//! ids or names: SQLite reads it from a JSON array (`json_each`), which a
//! prepared statement takes as one parameter of any length; PostgreSQL
//! takes an array (`= ANY`).

use std::collections::HashMap;

use sqlx::FromRow;

use super::{Edit, Edited, NewReaction, Reacted, StoreError};
use crate::messages::{Message, MessageId, REACTION_USERS_SHOWN, Reaction};
use crate::reactions::MAX_REACTIONS;
use crate::users::UserId;

/// One reacting user of a page, with the number of users of that emoji on
/// that message (rows past `REACTION_USERS_SHOWN` per emoji are not read).
#[derive(FromRow)]
struct ReactionRow {
    message_id: i64,
    emoji: String,
    user_id: i64,
    n: i64,
}

/// The mentions and reactions of a page of messages, put on them. Rows
/// come in message order, reactions in the order they were made, so each
/// message's emoji come in the order each was first used.
fn attach(messages: &mut [Message], mentions: Vec<(i64, i64)>, reactions: Vec<ReactionRow>) {
    let at: HashMap<MessageId, usize> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id, i))
        .collect();
    for (message, user) in mentions {
        if let Some(&i) = at.get(&message) {
            messages[i].mentions.push(user);
        }
    }
    for row in reactions {
        let Some(&i) = at.get(&row.message_id) else {
            continue;
        };
        let list = &mut messages[i].reactions;
        match list.iter_mut().find(|r| r.emoji == row.emoji) {
            Some(reaction) => reaction.user_ids.push(row.user_id),
            None => list.push(Reaction {
                emoji: row.emoji,
                count: row.n,
                user_ids: vec![row.user_id],
            }),
        }
    }
}

/// The reactions of the messages in `$1`, the first `$2` users per emoji.
macro_rules! reactions_of {
    ($ids:literal) => {
        concat!(
            "SELECT message_id, emoji, user_id, n FROM (\
               SELECT message_id, emoji, user_id, created_at, \
                 count(*) OVER (PARTITION BY message_id, emoji) AS n, \
                 row_number() OVER (PARTITION BY message_id, emoji ORDER BY created_at, user_id) AS k \
               FROM reactions WHERE message_id ",
            $ids,
            ") AS shown WHERE k <= $2 ORDER BY message_id, created_at, user_id"
        )
    };
}

const SQLITE_REACTIONS: &str = reactions_of!("IN (SELECT value FROM json_each($1))");
const PG_REACTIONS: &str = reactions_of!("= ANY($1)");
const SQLITE_MENTIONS: &str = "SELECT message_id, user_id FROM message_mentions \
     WHERE message_id IN (SELECT value FROM json_each($1)) ORDER BY message_id, user_id";
const PG_MENTIONS: &str = "SELECT message_id, user_id FROM message_mentions \
     WHERE message_id = ANY($1) ORDER BY message_id, user_id";

/// Stores the mentions of message 1: the users holding the names in 2.
/// (`?N`: the SQLite writer's rusqlite numbers `$N` by appearance.)
pub(super) const SQLITE_MENTION: &str = "INSERT INTO message_mentions (message_id, user_id) \
     SELECT ?1, u.id FROM users u WHERE u.name_hold IN (SELECT value FROM json_each(?2)) \
     RETURNING user_id";
pub(super) const PG_MENTION: &str = "INSERT INTO message_mentions (message_id, user_id) \
     SELECT $1, u.id FROM users u WHERE u.name_hold = ANY($2) \
     RETURNING user_id";

/// Whether message 1 is one of room 2's (by id; by name on SQLite, whose
/// writer knows rooms by name) that is not deleted.
pub(super) const PG_REPLY_PARENT: &str =
    "SELECT 1 FROM messages WHERE id = $1 AND room_id = $2 AND deleted_at IS NULL";
pub(super) const SQLITE_REPLY_PARENT: &str = "SELECT 1 FROM messages p JOIN rooms r ON r.id = p.room_id \
     WHERE p.id = ?1 AND r.name = ?2 AND p.deleted_at IS NULL";

const EDIT: &str = "UPDATE messages SET text = $2, edited_at = $3, mentions_room = $4 \
     WHERE id = $1 AND author_id = $5 AND deleted_at IS NULL";
const FORGET_MENTIONS: &str = "DELETE FROM message_mentions WHERE message_id = $1";

/// Puts the reaction on, unless the message is gone or has `$5` other
/// emoji; a second identical one is a no-op by the key.
const REACT_ON: &str = "INSERT INTO reactions (message_id, user_id, emoji, created_at) \
     SELECT $1, $2, $3, $4 \
     WHERE EXISTS (SELECT 1 FROM messages WHERE id = $1 AND deleted_at IS NULL) \
       AND (EXISTS (SELECT 1 FROM reactions WHERE message_id = $1 AND emoji = $3) \
            OR (SELECT count(DISTINCT emoji) FROM reactions WHERE message_id = $1) < $5) \
     ON CONFLICT (message_id, user_id, emoji) DO NOTHING";
const REACT_OFF: &str = "DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3 \
     AND EXISTS (SELECT 1 FROM messages WHERE id = $1 AND deleted_at IS NULL)";
/// Why a reaction changed nothing: whether the message is there, and
/// whether this user's reaction with this emoji is.
const REACT_WHY: &str = "SELECT \
     EXISTS (SELECT 1 FROM messages WHERE id = $1 AND deleted_at IS NULL), \
     EXISTS (SELECT 1 FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3)";

/// Why nothing changed, from `REACT_WHY`'s answer.
fn unchanged(reaction: &NewReaction, (exists, present): (bool, bool)) -> Reacted {
    match (exists, present, reaction.on) {
        (false, _, _) => Reacted::NotFound,
        // Asked on, not there: it was refused for the number of emoji.
        (true, false, true) => Reacted::TooMany,
        _ => Reacted::Unchanged,
    }
}

fn ids_json(messages: &[Message]) -> String {
    let ids: Vec<MessageId> = messages.iter().map(|m| m.id).collect();
    serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_owned())
}

/// A list of names as SQLite's statements take it.
pub(super) fn names_json(names: &[String]) -> String {
    serde_json::to_string(names).unwrap_or_else(|_| "[]".to_owned())
}

pub(super) mod sqlite {
    use sqlx::SqlitePool;

    use super::*;

    /// Puts their mentions, reactions and files on a page of messages.
    pub async fn decorate(pool: &SqlitePool, messages: &mut [Message]) -> Result<(), StoreError> {
        if messages.is_empty() {
            return Ok(());
        }
        let ids = ids_json(messages);
        let mentions: Vec<(i64, i64)> = sqlx::query_as(SQLITE_MENTIONS)
            .bind(&ids)
            .fetch_all(pool)
            .await?;
        let reactions: Vec<ReactionRow> = sqlx::query_as(SQLITE_REACTIONS)
            .bind(&ids)
            .bind(REACTION_USERS_SHOWN)
            .fetch_all(pool)
            .await?;
        attach(messages, mentions, reactions);
        super::super::uploads::sqlite::attach(pool, messages, &ids).await
    }

    /// `decorate` on a rusqlite connection of the store's own (the reader's).
    pub fn decorate_on(
        conn: &rusqlite::Connection,
        messages: &mut [Message],
    ) -> rusqlite::Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let ids = ids_json(messages);
        let mentions = conn
            .prepare_cached(SQLITE_MENTIONS)?
            .query_map([&ids], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<(i64, i64)>>>()?;
        let reactions = conn
            .prepare_cached(SQLITE_REACTIONS)?
            .query_map(
                rusqlite::named_params! { "$1": ids, "$2": REACTION_USERS_SHOWN },
                |r| {
                    Ok(ReactionRow {
                        message_id: r.get(0)?,
                        emoji: r.get(1)?,
                        user_id: r.get(2)?,
                        n: r.get(3)?,
                    })
                },
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        attach(messages, mentions, reactions);
        super::super::uploads::sqlite::attach_on(conn, messages, &ids)
    }

    /// The first statement writes, so the transaction takes SQLite's write
    /// lock at once and cannot fail later on a snapshot gone stale.
    pub async fn edit(pool: &SqlitePool, edit: &Edit) -> Result<Option<Edited>, StoreError> {
        let mut tx = pool.begin().await?;
        let done = sqlx::query(EDIT)
            .bind(edit.id)
            .bind(edit.text.as_str())
            .bind(edit.now)
            .bind(edit.mentions.room())
            .bind(edit.author)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            // Rolled back here, not on drop: a dropped transaction keeps the
            // write lock until its connection is next used.
            tx.rollback().await?;
            return Ok(None);
        }
        sqlx::query(FORGET_MENTIONS)
            .bind(edit.id)
            .execute(&mut *tx)
            .await?;
        let mut mentions: Vec<UserId> = Vec::new();
        if !edit.mentions.names().is_empty() {
            mentions = sqlx::query_scalar(SQLITE_MENTION)
                .bind(edit.id)
                .bind(names_json(edit.mentions.names()))
                .fetch_all(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        mentions.sort_unstable();
        Ok(Some(Edited {
            edited_at: edit.now,
            mentions,
        }))
    }

    /// One statement: SQLite runs one writer at a time, so the count of
    /// distinct emoji it checks cannot change before its insert.
    pub async fn react(pool: &SqlitePool, reaction: &NewReaction) -> Result<Reacted, StoreError> {
        let sql = if reaction.on { REACT_ON } else { REACT_OFF };
        let mut query = sqlx::query(sql)
            .bind(reaction.message)
            .bind(reaction.user)
            .bind(reaction.emoji.as_str());
        if reaction.on {
            query = query.bind(reaction.now).bind(MAX_REACTIONS);
        }
        if query.execute(pool).await?.rows_affected() == 1 {
            return Ok(Reacted::Changed);
        }
        let why: (bool, bool) = sqlx::query_as(REACT_WHY)
            .bind(reaction.message)
            .bind(reaction.user)
            .bind(reaction.emoji.as_str())
            .fetch_one(pool)
            .await?;
        Ok(unchanged(reaction, why))
    }
}

pub(super) mod postgres {
    use sqlx::PgPool;

    use super::*;

    /// Puts their mentions, reactions and files on a page of messages.
    pub async fn decorate(pool: &PgPool, messages: &mut [Message]) -> Result<(), StoreError> {
        if messages.is_empty() {
            return Ok(());
        }
        let ids: Vec<MessageId> = messages.iter().map(|m| m.id).collect();
        let mentions: Vec<(i64, i64)> = sqlx::query_as(PG_MENTIONS)
            .bind(&ids)
            .fetch_all(pool)
            .await?;
        let reactions: Vec<ReactionRow> = sqlx::query_as(PG_REACTIONS)
            .bind(&ids)
            .bind(REACTION_USERS_SHOWN)
            .fetch_all(pool)
            .await?;
        attach(messages, mentions, reactions);
        super::super::uploads::postgres::attach(pool, messages, &ids).await
    }

    pub async fn edit(pool: &PgPool, edit: &Edit) -> Result<Option<Edited>, StoreError> {
        let mut tx = pool.begin().await?;
        let done = sqlx::query(EDIT)
            .bind(edit.id)
            .bind(edit.text.as_str())
            .bind(edit.now)
            .bind(edit.mentions.room())
            .bind(edit.author)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            // Rolled back here, not on drop: a dropped transaction keeps the
            // write lock until its connection is next used.
            tx.rollback().await?;
            return Ok(None);
        }
        sqlx::query(FORGET_MENTIONS)
            .bind(edit.id)
            .execute(&mut *tx)
            .await?;
        let mut mentions: Vec<UserId> = Vec::new();
        if !edit.mentions.names().is_empty() {
            mentions = sqlx::query_scalar(PG_MENTION)
                .bind(edit.id)
                .bind(edit.mentions.names())
                .fetch_all(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        mentions.sort_unstable();
        Ok(Some(Edited {
            edited_at: edit.now,
            mentions,
        }))
    }

    /// The message's row is locked first: two reactions with new emoji at
    /// once would otherwise each count the other's absent and pass the
    /// limit together (PostgreSQL runs writers side by side).
    pub async fn react(pool: &PgPool, reaction: &NewReaction) -> Result<Reacted, StoreError> {
        let mut tx = pool.begin().await?;
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM messages WHERE id = $1 AND deleted_at IS NULL FOR NO KEY UPDATE",
        )
        .bind(reaction.message)
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Ok(Reacted::NotFound);
        }
        let sql = if reaction.on { REACT_ON } else { REACT_OFF };
        let mut query = sqlx::query(sql)
            .bind(reaction.message)
            .bind(reaction.user)
            .bind(reaction.emoji.as_str());
        if reaction.on {
            query = query.bind(reaction.now).bind(MAX_REACTIONS);
        }
        let changed = query.execute(&mut *tx).await?.rows_affected() == 1;
        let outcome = if changed {
            Reacted::Changed
        } else {
            let why: (bool, bool) = sqlx::query_as(REACT_WHY)
                .bind(reaction.message)
                .bind(reaction.user)
                .bind(reaction.emoji.as_str())
                .fetch_one(&mut *tx)
                .await?;
            unchanged(reaction, why)
        };
        tx.commit().await?;
        Ok(outcome)
    }
}
