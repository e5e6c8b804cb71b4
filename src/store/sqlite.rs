//! The SQLite store: the embedded default, a single file in the data
//! directory, in WAL mode with `synchronous = FULL` so an acknowledged
//! message survives a crash of the process or of the machine.
//!
//! Messages and guest sign-ins go through the writer (`writer.rs`, group
//! commit on a thread of its own), session lookups through the reader
//! (`reader.rs`, a thread of its own too); the rest through a small sqlx
//! pool. No connection checkpoints the WAL as a side effect of a commit: a
//! task copies it into the database file every second, and the writer
//! finishes that between two batches so the WAL can start over
//! (`writer.rs`).

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use std::time::Duration;
use tokio_util::sync::CancellationToken;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::memberships;
use super::message_extras;
use super::reader::Reader;
use super::shared::{
    Guest, MESSAGE_COLUMNS, MessageRow, RoomCache, read_message, room_page, rooms_to_fetch,
};
use super::sweeps::SweepPool;
use super::writer::{Member, Writer};
use super::{Account, Pending, Revocation, Session, SessionInfo, Step, Store, StoreError};
use super::{Edit, Edited, NewReaction, Reacted};
use crate::messages::{Cursor, Message, MessageId, Page};
use crate::rooms::{MyRoom, Room, RoomName, RoomPage, RoomSearch};
use crate::users::{User, UserId, Username};

/// A handle on the SQLite pool. Cloning it is cheap: the pool is shared.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Messages go through the writer; everything else through the pool.
    writer: Arc<Writer>,
    /// Session lookups (every socket's handshake) go through the reader.
    reader: Arc<Reader>,
    /// Stops the checkpoint task.
    closing: CancellationToken,
    /// Rooms already read (see `RoomCache`).
    rooms: RoomCache,
    /// The database file, and which file it was when opened (`None` for
    /// an in-memory database): each health check looks again.
    path: PathBuf,
    file: Option<FileId>,
}

/// A file's identity (device and inode), to tell it from one put in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId(u64, u64);

impl FileId {
    #[cfg(unix)]
    fn of(path: &std::path::Path) -> std::io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        Ok(Self(meta.dev(), meta.ino()))
    }

    #[cfg(not(unix))]
    fn of(path: &std::path::Path) -> std::io::Result<Self> {
        std::fs::metadata(path).map(|_| Self(0, 0))
    }
}

/// How often the WAL is checkpointed into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and applies migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            .pragma("wal_autocheckpoint", "0");
        migrate(&options).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await?;
        let writer = Arc::new(Writer::open(options.get_filename())?);
        let reader = Arc::new(Reader::open(options.get_filename())?);
        let closing = CancellationToken::new();
        tokio::spawn(checkpoints(pool.clone(), closing.clone()));
        Ok(Self {
            pool,
            writer,
            reader,
            closing,
            rooms: RoomCache::default(),
            path: options.get_filename().to_path_buf(),
            file: FileId::of(options.get_filename()).ok(),
        })
    }
}

/// Applies the migrations on a connection of their own with foreign keys
/// off, closed before anything else opens the file: a migration that
/// rebuilds a table must drop the old one without its foreign key actions
/// (dropping `users` would cascade to `sessions`), and SQLite ignores
/// `PRAGMA foreign_keys` inside the transaction a migration runs in. The
/// check after says whether every reference still holds.
async fn migrate(options: &SqliteConnectOptions) -> Result<(), StoreError> {
    use sqlx::{Connection, Row};
    let mut conn =
        sqlx::SqliteConnection::connect_with(&options.clone().foreign_keys(false)).await?;
    sqlx::migrate!("./migrations/sqlite").run(&mut conn).await?;
    let broken = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut conn)
        .await?;
    for row in &broken {
        let table: String = row.try_get(0)?;
        let parent: String = row.try_get(2)?;
        tracing::error!(table, parent, "a row refers to a row that does not exist");
    }
    conn.close().await?;
    Ok(())
}

/// Copies the WAL into the database file every second, off the send path.
/// PASSIVE never waits for readers or the writer; what it cannot copy now
/// it copies next time.
async fn checkpoints(pool: SqlitePool, closing: CancellationToken) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while closing.run_until_cancelled(every.tick()).await.is_some() {
        let started = std::time::Instant::now();
        if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(%err, "cannot checkpoint the database");
        }
        let took = started.elapsed();
        if took >= Duration::from_millis(50) {
            tracing::info!(ms = took.as_millis(), "slow checkpoint");
        }
    }
}

/// Lets go of a name held by a guest who no longer needs it: no live
/// session, not banned, not muted anywhere. The first half of a claim; the
/// unique index on `name_hold` decides the second.
pub(super) const RELEASE_NAME: &str = "UPDATE users SET name_hold = NULL \
     WHERE name_hold = ?1 AND password_hash IS NULL AND banned_at IS NULL \
     AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = users.id AND s.expires_at > ?2) \
     AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.user_id = users.id AND m.until > ?2)";

/// A guest holding its name; no row if anyone holds it (the index says so).
pub(super) const CREATE_GUEST: &str = "INSERT INTO users (name, name_key, name_hold, password_hash, created_at) \
     VALUES (?1, ?2, ?2, NULL, ?3) ON CONFLICT DO NOTHING RETURNING id";

/// An account holding its name for good; no row if anyone holds it.
const CREATE_ACCOUNT: &str = "INSERT INTO users (name, name_key, name_hold, password_hash, created_at) \
     VALUES (?1, ?2, ?2, ?4, ?3) ON CONFLICT DO NOTHING RETURNING id, is_admin";

pub(super) const CREATE_SESSION: &str = "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, address) \
     VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id";

const FIND_SESSION: &str = "SELECT s.id, u.id, u.name, (u.password_hash IS NULL), u.is_admin, u.is_bot \
     FROM sessions s JOIN users u ON u.id = s.user_id \
     WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.banned_at IS NULL";

/// The first half of claiming a name, in the claim's transaction.
async fn release_name(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    name: &Username,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(RELEASE_NAME)
        .bind(name.key())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_account(
        &self,
        name: &Username,
        password_hash: &str,
        now: i64,
    ) -> Result<Account, StoreError> {
        let mut tx = self.pool.begin().await?;
        release_name(&mut tx, name, now).await?;
        let inserted: Result<Option<(i64, bool)>, _> = sqlx::query_as(CREATE_ACCOUNT)
            .bind(name.as_str())
            .bind(name.key())
            .bind(now)
            .bind(password_hash)
            .fetch_optional(&mut *tx)
            .await;
        let (id, admin) = match inserted {
            Ok(Some(row)) => row,
            Ok(None) => {
                tx.rollback().await?;
                return Err(StoreError::NameTaken);
            }
            Err(e) if is_unique_violation(&e) => {
                tx.rollback().await?;
                return Err(StoreError::NameTaken);
            }
            Err(e) => return Err(e.into()),
        };
        tx.commit().await?;
        Ok(Account {
            user: User {
                id,
                name: name.as_str().to_owned(),
                guest: false,
                bot: false,
            },
            password_hash: password_hash.to_owned(),
            admin,
            banned: false,
        })
    }

    async fn create_guest(&self, name: &Username, now: i64) -> Result<User, StoreError> {
        let mut tx = self.pool.begin().await?;
        release_name(&mut tx, name, now).await?;
        let id: Option<i64> = sqlx::query_scalar(CREATE_GUEST)
            .bind(name.as_str())
            .bind(name.key())
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        let id = id.ok_or(StoreError::NameTaken)?;
        tx.commit().await?;
        Ok(User {
            id,
            name: name.as_str().to_owned(),
            guest: true,
            bot: false,
        })
    }

    async fn create_guest_session(
        &self,
        name: &Username,
        token_hash: &[u8],
        address: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(User, i64), StoreError> {
        let guest = Guest {
            name: name.clone(),
            token_hash: token_hash.to_vec(),
            address: address.to_owned(),
            now,
            expires_at,
        };
        self.writer.queue().guest(guest).await
    }

    async fn join_room(
        &self,
        room: &RoomName,
        user: UserId,
        now: i64,
    ) -> Result<MyRoom, StoreError> {
        let room = room.clone();
        self.writer.queue().member(Member { room, user, now }).await
    }

    /// Through the reader, as session lookups are: every join reads it.
    async fn my_room(&self, room: &RoomName, user: UserId) -> Result<Option<MyRoom>, StoreError> {
        let room = room.clone();
        self.reader
            .read(move |conn| memberships::my_room_on(conn, room.as_str(), user))
            .await
    }

    async fn find_account(&self, name: &Username) -> Result<Option<Account>, StoreError> {
        let row: Option<(i64, String, String, bool, bool)> = sqlx::query_as(
            "SELECT id, name, password_hash, is_admin, banned_at IS NOT NULL FROM users \
             WHERE name_key = ?1 AND password_hash IS NOT NULL AND NOT is_bot",
        )
        .bind(name.key())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(id, name, password_hash, admin, banned)| Account {
            user: User {
                id,
                name,
                guest: false,
                bot: false,
            },
            password_hash,
            admin,
            banned,
        }))
    }

    async fn find_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row: Option<(i64, String, bool, bool)> = sqlx::query_as(
            "SELECT id, name, password_hash IS NULL, is_bot FROM users WHERE id = ?1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(id, name, guest, bot)| User {
            id,
            name,
            guest,
            bot,
        }))
    }

    async fn find_user_by_name(&self, name: &Username) -> Result<Option<User>, StoreError> {
        let row: Option<(i64, String, bool, bool)> = sqlx::query_as(
            "SELECT id, name, password_hash IS NULL, is_bot FROM users WHERE name_key = ?1 \
             AND removed_at IS NULL \
             ORDER BY (name_hold IS NOT NULL) DESC, (password_hash IS NOT NULL) DESC, id DESC LIMIT 1",
        )
        .bind(name.key())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(id, name, guest, bot)| User {
            id,
            name,
            guest,
            bot,
        }))
    }

    async fn ban_user(&self, id: UserId, now: i64, address_until: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET banned_at = ?2 WHERE id = ?1 AND banned_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if address_until > now {
            sqlx::query(
                "INSERT INTO address_bans (address, user_id, until) \
                 SELECT DISTINCT address, ?1, ?2 FROM sessions \
                 WHERE user_id = ?1 AND address IS NOT NULL \
                 ON CONFLICT (address, user_id) DO UPDATE SET until = max(until, excluded.until)",
            )
            .bind(id)
            .bind(address_until)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = ?1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn unban_user(&self, id: UserId) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE users SET banned_at = NULL WHERE id = ?1 AND banned_at IS NOT NULL",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM address_bans WHERE user_id = ?1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Through the reader: every guest sign-in asks, before it is written.
    async fn address_banned(&self, address: &str, now: i64) -> Result<bool, StoreError> {
        let address = address.to_owned();
        self.reader
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM address_bans WHERE address = ?1 AND until > ?2)",
                )?
                .query_row(params![address, now], |row| row.get(0))
            })
            .await
    }

    async fn set_admin(&self, id: UserId, admin: bool) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE users SET is_admin = ?2 WHERE id = ?1 AND password_hash IS NOT NULL AND NOT is_bot",
        )
        .bind(id)
        .bind(admin)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_password(&self, id: UserId, password_hash: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = ?2 WHERE id = ?1 AND password_hash IS NOT NULL AND NOT is_bot",
        )
        .bind(id)
        .bind(password_hash)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = ?1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn sessions_of(&self, id: UserId) -> Result<Vec<SessionInfo>, StoreError> {
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT id, created_at, expires_at FROM sessions WHERE user_id = ?1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, created_at, expires_at)| SessionInfo {
                id,
                created_at,
                expires_at,
            })
            .collect())
    }

    async fn delete_sessions(&self, id: UserId) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn muted_until(
        &self,
        room: &RoomName,
        user: UserId,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let until = sqlx::query_scalar(
            "SELECT m.until FROM mutes m JOIN rooms r ON r.id = m.room_id \
             WHERE r.name = ?1 AND m.user_id = ?2 AND m.until > ?3",
        )
        .bind(room.as_str())
        .bind(user)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(until)
    }

    async fn revocations_after(&self, after: i64) -> Result<Vec<Revocation>, StoreError> {
        // Session ids are never reused (AUTOINCREMENT), so a revocation
        // can only name the session that ended.
        let rows: Vec<(i64, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT id, session_id, user_id FROM revocations WHERE id > ?1 ORDER BY id",
        )
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, session, user)| Revocation { id, session, user })
            .collect())
    }

    async fn last_revocation(&self) -> Result<i64, StoreError> {
        let id: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM revocations")
            .fetch_one(&self.pool)
            .await?;
        Ok(id.unwrap_or(0))
    }

    async fn prune_revocations(&self, before: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM revocations WHERE at < ?1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_session(
        &self,
        user: UserId,
        token_hash: &[u8],
        address: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar(CREATE_SESSION)
            .bind(token_hash)
            .bind(user)
            .bind(now)
            .bind(expires_at)
            .bind(address)
            .fetch_one(&self.pool)
            .await?;
        Ok(id)
    }

    async fn find_session(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<Option<Session>, StoreError> {
        let token_hash = token_hash.to_vec();
        self.reader
            .read(move |conn| {
                conn.prepare_cached(FIND_SESSION)?
                    .query_row(params![token_hash, now], |row| {
                        Ok(Session {
                            id: row.get(0)?,
                            user: User {
                                id: row.get(1)?,
                                name: row.get(2)?,
                                guest: row.get(3)?,
                                bot: row.get(5)?,
                            },
                            admin: row.get(4)?,
                        })
                    })
                    .optional()
            })
            .await
    }

    async fn delete_session(&self, token_hash: &[u8]) -> Result<Option<i64>, StoreError> {
        let id = sqlx::query_scalar("DELETE FROM sessions WHERE token_hash = ?1 RETURNING id")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(id)
    }

    async fn ensure_room(&self, name: &RoomName, now: i64) -> Result<Room, StoreError> {
        match self.find_room(name).await {
            Err(StoreError::RoomNotFound) => {}
            found => return found,
        }
        sqlx::query("INSERT INTO rooms (name, topic, created_at) VALUES (?1, '', ?2) ON CONFLICT (name) DO NOTHING")
            .bind(name.as_str())
            .bind(now)
            .execute(&self.pool)
            .await?;
        self.find_room(name).await
    }

    async fn find_room(&self, name: &RoomName) -> Result<Room, StoreError> {
        if let Some(room) = self.rooms.get(name.as_str()) {
            return Ok(room);
        }
        let row: Option<(String, String, String)> =
            sqlx::query_as("SELECT name, topic, kind FROM rooms WHERE name = ?1")
                .bind(name.as_str())
                .fetch_optional(&self.pool)
                .await?;
        let room = row
            .map(|(name, topic, kind)| Room::stored(name, topic, &kind))
            .ok_or(StoreError::RoomNotFound)?;
        self.rooms.insert(&room);
        Ok(room)
    }

    async fn list_rooms(&self, search: &RoomSearch) -> Result<RoomPage, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, topic FROM rooms WHERE kind = 'public' AND name > ?1 AND instr(name, ?2) > 0 \
             ORDER BY name LIMIT ?3",
        )
        .bind(&search.after)
        .bind(&search.query)
        .bind(rooms_to_fetch(search.limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(room_page(rows, search.limit))
    }

    fn append(&self, steps: Vec<Step>) -> Pending {
        Box::pin(self.writer.queue().apply(steps))
    }

    async fn settle_search_index(&self) -> Result<(), StoreError> {
        self.writer.queue().settle().await
    }

    async fn messages(&self, room: &RoomName, page: Page) -> Result<Vec<Message>, StoreError> {
        self.find_room(room).await?;
        let (filter, order, cursor) = match page.cursor {
            Cursor::Latest => ("", "DESC", 0),
            Cursor::Before(id) => ("AND m.id < ?2", "DESC", id),
            Cursor::After(id) => ("AND m.id > ?2", "ASC", id),
        };
        let sql = format!(
            "{MESSAGE_COLUMNS} WHERE r.name = ?1 AND m.deleted_at IS NULL {filter} \
             ORDER BY m.id {order} LIMIT ?3"
        );
        // Through the reader, page and extras in one of its read
        // transactions: every join's history is such a page.
        let room = room.as_str().to_owned();
        self.reader
            .read(move |conn| {
                let mut messages = conn
                    .prepare_cached(&sql)?
                    .query_map(params![room, cursor, page.limit], read_message)?
                    .collect::<rusqlite::Result<Vec<Message>>>()?;
                if order == "DESC" {
                    messages.reverse();
                }
                message_extras::sqlite::decorate_on(conn, &mut messages)?;
                Ok(messages)
            })
            .await
    }

    async fn find_message(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        let sql = format!("{MESSAGE_COLUMNS} WHERE m.id = ?1 AND m.deleted_at IS NULL");
        let row: Option<MessageRow> = sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let mut found: Vec<Message> = row.map(Message::from).into_iter().collect();
        message_extras::sqlite::decorate(&self.pool, &mut found).await?;
        Ok(found.pop())
    }

    async fn edit_message(&self, edit: &Edit) -> Result<Option<Edited>, StoreError> {
        message_extras::sqlite::edit(&self.pool, edit).await
    }

    async fn react(&self, reaction: &NewReaction) -> Result<Reacted, StoreError> {
        message_extras::sqlite::react(&self.pool, reaction).await
    }

    async fn delete_message(&self, id: MessageId, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE messages SET deleted_at = ?2, text = '' WHERE id = ?1 AND deleted_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_mute(&self, room: &RoomName, user: UserId, until: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO mutes (room_id, user_id, until) \
             SELECT r.id, ?2, ?3 FROM rooms r WHERE r.name = ?1 \
             ON CONFLICT (room_id, user_id) DO UPDATE SET until = excluded.until",
        )
        .bind(room.as_str())
        .bind(user)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    fn sweeps(&self) -> (SweepPool, CancellationToken) {
        (SweepPool::Sqlite(self.pool.clone()), self.closing.clone())
    }

    /// A query on the pool, and the file opened afresh: connections already
    /// open keep working on a file that was deleted or whose disk went
    /// away, so only a new one notices. Neither creates anything.
    async fn check(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        // The pool's connections keep reading a file that was removed or
        // replaced under them: ready only while the path still names the
        // file they opened.
        if let Some(opened) = self.file {
            let path = self.path.clone();
            let now = tokio::task::spawn_blocking(move || FileId::of(&path))
                .await
                .map_err(|_| StoreError::WriterGone)?;
            if now.ok() != Some(opened) {
                return Err(StoreError::FileGone);
            }
        }
        Ok(())
    }

    async fn close(&self) {
        self.closing.cancel();
        if let Some(thread) = self.reader.close() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        if let Some(thread) = self.writer.close() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::warn!(%err, "cannot checkpoint the database at shutdown");
        }
        self.pool.close().await;
    }
}
