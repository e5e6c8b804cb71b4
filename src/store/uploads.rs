//! Files and images (issue #11): the `attachments` rows, on both backends.
//!
//! A row is made (reserved) once an upload has arrived and been checked,
//! before its file goes to the file store; the writer attaches it to its
//! message in the transaction that stores the message (`SQLITE_ATTACH`,
//! `PG_ATTACH`). Until then, and again once the message is deleted (the
//! triggers of the migration), `remove_after` says when the sweep
//! (`uploads/sweep.rs`) may remove the file. The row outlives its file by
//! up to an hour, so the hourly count per user still sees it.
//!
//! The statements are the same text on both backends (`$n` parameters),
//! on the backend's pool, but for the writer's and the page's lists of ids
//! (JSON on SQLite, arrays on PostgreSQL, as in `message_extras.rs`).

use std::collections::HashMap;

use sqlx::FromRow;

use super::StoreError;
use super::sweeps::{SweepPool, on_pool};
use crate::messages::{Message, MessageId};
use crate::uploads::Attachment;
use crate::users::UserId;

/// How long a row outlives its upload, for the hourly count.
pub const COUNTED_FOR_MS: i64 = 3_600_000;

/// An attachment's row, made before its file is stored.
#[derive(Debug, Clone)]
pub struct Reservation {
    pub attachment: Attachment,
    pub uploader: UserId,
    /// The thumbnail's type, if it has one.
    pub thumb: Option<String>,
    pub now: i64,
    /// When the sweep may take the file if no message has claimed it.
    pub remove_after: i64,
}

/// An attachment of a message that is there (not deleted), with its room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub attachment: Attachment,
    pub room: String,
    /// The thumbnail's type, if it has one.
    pub thumb: Option<String>,
}

/// A file the sweep should remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueFile {
    pub id: String,
    pub thumb: bool,
}

#[derive(FromRow)]
struct AttachmentRow {
    message_id: Option<i64>,
    id: String,
    name: String,
    size: i64,
    mime: String,
    width: Option<i64>,
    height: Option<i64>,
    thumb: Option<String>,
    room: Option<String>,
}

impl AttachmentRow {
    fn attachment(&self) -> Attachment {
        let pixels = |n: Option<i64>| n.and_then(|n| u32::try_from(n).ok());
        Attachment {
            id: self.id.clone(),
            name: self.name.clone(),
            size: u64::try_from(self.size).unwrap_or(0),
            mime: self.mime.clone(),
            width: pixels(self.width),
            height: pixels(self.height),
        }
    }
}

/// Attaches file 3 (uploaded by 4, waiting) to message 1 as its 2nd; the
/// writers run it for each file of a message they store.
/// (`?N`: the SQLite writer's rusqlite numbers `$N` by appearance.)
pub(super) const SQLITE_ATTACH: &str = "UPDATE attachments SET message_id = ?1, position = ?2, remove_after = NULL \
     WHERE id = ?3 AND uploader_id = ?4 AND message_id IS NULL AND NOT removed";
pub(super) const PG_ATTACH: &str = "UPDATE attachments SET message_id = $1, position = $2, remove_after = NULL \
     WHERE id = $3 AND uploader_id = $4 AND message_id IS NULL AND NOT removed";

/// The creation times of `$1`'s files since `$2`, newest first, at most `$3`.
const UPLOADS_SINCE: &str = "SELECT created_at FROM attachments \
     WHERE uploader_id = $1 AND created_at > $2 ORDER BY created_at DESC LIMIT $3";

const RESERVE: &str = "INSERT INTO attachments \
     (id, uploader_id, name, size, mime, width, height, thumb, created_at, remove_after) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// A waiting row the sweep may take now (a refused or repeated upload).
const RELEASE: &str = "UPDATE attachments SET remove_after = $2 \
     WHERE id = $1 AND message_id IS NULL AND NOT removed";

const FIND: &str = "SELECT a.message_id, a.id, a.name, a.size, a.mime, a.width, a.height, a.thumb, \
     r.name AS room FROM attachments a \
     JOIN messages m ON m.id = a.message_id JOIN rooms r ON r.id = m.room_id \
     WHERE a.id = $1 AND m.deleted_at IS NULL AND NOT a.removed";

const DUE: &str = "SELECT id, thumb IS NOT NULL FROM attachments \
     WHERE remove_after <= $1 AND NOT removed ORDER BY remove_after LIMIT $2";

/// The file is gone; the row stays until the hour of its upload is over.
const REMOVED: &str = "UPDATE attachments SET removed = TRUE, message_id = NULL, \
     remove_after = created_at + $2 WHERE id = $1";

const FORGET: &str = "DELETE FROM attachments WHERE id IN \
     (SELECT id FROM attachments WHERE removed AND remove_after <= $1 LIMIT $2)";

/// When `user`'s files uploaded after `since` were, newest first (at most
/// `limit`): the hourly count.
pub async fn uploads_since(
    pool: &SweepPool,
    user: UserId,
    since: i64,
    limit: i64,
) -> Result<Vec<i64>, StoreError> {
    Ok(on_pool!(pool, p => sqlx::query_scalar(UPLOADS_SINCE)
        .bind(user)
        .bind(since)
        .bind(limit)
        .fetch_all(p)
        .await?))
}

/// Makes the rows of an upload's files, in one transaction.
pub async fn reserve(pool: &SweepPool, rows: &[Reservation]) -> Result<(), StoreError> {
    on_pool!(pool, p => {
        let mut tx = p.begin().await?;
        for row in rows {
            let file = &row.attachment;
            let pixels = |n: Option<u32>| n.map(i64::from);
            sqlx::query(RESERVE)
                .bind(&file.id)
                .bind(row.uploader)
                .bind(&file.name)
                .bind(i64::try_from(file.size).unwrap_or(i64::MAX))
                .bind(&file.mime)
                .bind(pixels(file.width))
                .bind(pixels(file.height))
                .bind(row.thumb.as_deref())
                .bind(row.now)
                .bind(row.remove_after)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// Hands waiting rows to the sweep at `now`.
pub async fn release(pool: &SweepPool, ids: &[String], now: i64) -> Result<(), StoreError> {
    on_pool!(pool, p => {
        let mut tx = p.begin().await?;
        for id in ids {
            sqlx::query(RELEASE).bind(id).bind(now).execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// The file with this id, if its message is there.
pub async fn find(pool: &SweepPool, id: &str) -> Result<Option<StoredFile>, StoreError> {
    let row: Option<AttachmentRow> =
        on_pool!(pool, p => sqlx::query_as(FIND).bind(id).fetch_optional(p).await?);
    Ok(row.map(|row| StoredFile {
        attachment: row.attachment(),
        room: row.room.unwrap_or_default(),
        thumb: row.thumb,
    }))
}

/// Files whose time has come (`remove_after` at or before `now`), oldest
/// first, at most `limit`.
pub async fn due(pool: &SweepPool, now: i64, limit: i64) -> Result<Vec<DueFile>, StoreError> {
    let rows: Vec<(String, bool)> =
        on_pool!(pool, p => sqlx::query_as(DUE).bind(now).bind(limit).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(|(id, thumb)| DueFile { id, thumb })
        .collect())
}

/// Marks files as removed from the file store.
pub async fn removed(pool: &SweepPool, ids: &[String]) -> Result<(), StoreError> {
    on_pool!(pool, p => {
        let mut tx = p.begin().await?;
        for id in ids {
            sqlx::query(REMOVED).bind(id).bind(COUNTED_FOR_MS).execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// Deletes up to `limit` rows of removed files whose hour is over; how many.
pub async fn forget(pool: &SweepPool, now: i64, limit: i64) -> Result<u64, StoreError> {
    Ok(on_pool!(pool, p => sqlx::query(FORGET)
        .bind(now)
        .bind(limit)
        .execute(p)
        .await?
        .rows_affected()))
}

/// Puts their files on a page of messages, in their order.
fn put_on(messages: &mut [Message], rows: Vec<AttachmentRow>) {
    let at: HashMap<MessageId, usize> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id, i))
        .collect();
    for row in rows {
        if let Some(&i) = row.message_id.and_then(|id| at.get(&id)) {
            messages[i].attachments.push(row.attachment());
        }
    }
}

/// The files of the messages in `$1`, by message and position.
macro_rules! files_of {
    ($ids:literal) => {
        concat!(
            "SELECT a.message_id, a.id, a.name, a.size, a.mime, a.width, a.height, a.thumb, \
             CAST(NULL AS TEXT) AS room FROM attachments a WHERE a.message_id ",
            $ids,
            " AND NOT a.removed ORDER BY a.message_id, a.position"
        )
    };
}

pub(super) mod sqlite {
    use sqlx::SqlitePool;

    use super::*;

    /// Their files, on a page of messages whose ids are `ids` (JSON).
    pub async fn attach(
        pool: &SqlitePool,
        messages: &mut [Message],
        ids: &str,
    ) -> Result<(), StoreError> {
        let rows: Vec<AttachmentRow> =
            sqlx::query_as(files_of!("IN (SELECT value FROM json_each($1))"))
                .bind(ids)
                .fetch_all(pool)
                .await?;
        put_on(messages, rows);
        Ok(())
    }

    /// `attach` on a rusqlite connection of the store's own (the reader's).
    pub fn attach_on(
        conn: &rusqlite::Connection,
        messages: &mut [Message],
        ids: &str,
    ) -> rusqlite::Result<()> {
        let rows = conn
            .prepare_cached(files_of!("IN (SELECT value FROM json_each($1))"))?
            .query_map([ids], |r| {
                Ok(AttachmentRow {
                    message_id: r.get(0)?,
                    id: r.get(1)?,
                    name: r.get(2)?,
                    size: r.get(3)?,
                    mime: r.get(4)?,
                    width: r.get(5)?,
                    height: r.get(6)?,
                    thumb: r.get(7)?,
                    room: r.get(8)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        put_on(messages, rows);
        Ok(())
    }
}

pub(super) mod postgres {
    use sqlx::PgPool;

    use super::*;

    /// Their files, on a page of messages whose ids are `ids`.
    pub async fn attach(
        pool: &PgPool,
        messages: &mut [Message],
        ids: &[MessageId],
    ) -> Result<(), StoreError> {
        let rows: Vec<AttachmentRow> = sqlx::query_as(files_of!("= ANY($1)"))
            .bind(ids)
            .fetch_all(pool)
            .await?;
        put_on(messages, rows);
        Ok(())
    }
}
