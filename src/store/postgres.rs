//! The PostgreSQL store, for several Banter nodes sharing one database
//! (`--database-url postgres://…`). Semantics are those of the SQLite store
//! (`sqlite.rs`), method by method; the schema is the equivalent of
//! SQLite's (`migrations/postgres/`).
//!
//! Messages and guest sign-ins go through the writer (`pg_writer.rs`: one
//! task, one connection, group commit, and the per-room lock that makes id
//! order commit order within a room across nodes); everything else through
//! a small sqlx pool. Every path that ends sessions deletes them before it
//! changes their user's row, the order the `sessions_left` trigger locks
//! in, so two such transactions cannot deadlock.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio_util::sync::CancellationToken;

use super::message_extras;
use super::pg_writer::PgWriter;
use super::shared::{Guest, MESSAGE_COLUMNS, MessageRow, RoomCache, room_page, rooms_to_fetch};
use super::sweeps::SweepPool;
use super::writer::Member;
use super::{Account, Pending, Revocation, Session, SessionInfo, Step, Store, StoreError};
use super::{Edit, Edited, NewReaction, Reacted};
use crate::messages::{Cursor, Message, MessageId, Page};
use crate::rooms::{MyRoom, Room, RoomName, RoomPage, RoomSearch};
use crate::users::{User, UserId, Username};

/// A handle on the PostgreSQL pool and writer. Cloning it is cheap.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Messages and guest sign-ins go through the writer.
    writer: Arc<PgWriter>,
    /// Stops the background sweeps.
    closing: CancellationToken,
    /// Rooms already read (see `RoomCache`).
    rooms: RoomCache,
}

/// Connections in the pool (the writer has its own besides).
const POOL_CONNECTIONS: u32 = 8;
/// How long a query waits for a pooled connection before it fails (and
/// `/readyz` says not ready).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

impl PgStore {
    /// Connects to the database at `url` (`postgres://…` or
    /// `postgresql://…`, libpq's URL form) and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(PgConnectOptions::from_str(url)?).await
    }

    /// `connect`, with the options already parsed.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let options = with_timeouts(options);
        let pool = PgPoolOptions::new()
            .max_connections(POOL_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        let mut conn = pool.acquire().await?;
        migrate(&mut conn).await?;
        drop(conn);
        let writer = Arc::new(PgWriter::open(options).await?);
        Ok(Self {
            pool,
            writer,
            closing: CancellationToken::new(),
            rooms: RoomCache::default(),
        })
    }
}

/// Every connection's bounds on waiting, unless the URL sets its own
/// (`?options=-c statement_timeout=…`): no statement runs longer than 10 s,
/// none waits more than 5 s for a lock (another node's batch holds a room
/// row for one commit, milliseconds), and a connection left idle inside a
/// transaction (a node that hung mid-batch) is closed by the server after
/// 30 s, releasing its locks for the other nodes.
const TIMEOUTS: [(&str, &str); 3] = [
    ("statement_timeout", "10s"),
    ("lock_timeout", "5s"),
    ("idle_in_transaction_session_timeout", "30s"),
];

fn with_timeouts(options: PgConnectOptions) -> PgConnectOptions {
    let given = options.get_options().unwrap_or("").to_owned();
    let missing = TIMEOUTS
        .into_iter()
        .filter(|(name, _)| !given.contains(name));
    options.options(missing)
}

/// Applies the PostgreSQL migrations. sqlx holds an advisory lock while it
/// migrates: nodes starting together (and `banter migrate-data`) migrate
/// once.
pub(super) async fn migrate(conn: &mut sqlx::PgConnection) -> Result<(), StoreError> {
    sqlx::migrate!("./migrations/postgres").run(conn).await?;
    Ok(())
}

/// Lets go of a name held by a guest who no longer needs it: no live
/// session, not banned, not muted anywhere. The first half of a claim; the
/// unique index on `name_hold` decides the second.
pub(super) const RELEASE_NAME: &str = "UPDATE users SET name_hold = NULL \
     WHERE name_hold = $1 AND password_hash IS NULL AND banned_at IS NULL \
     AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = users.id AND s.expires_at > $2) \
     AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.user_id = users.id AND m.until > $2)";

/// A guest holding its name; no row if anyone holds it (the index says so).
pub(super) const CREATE_GUEST: &str = "INSERT INTO users (name, name_key, name_hold, password_hash, created_at) \
     VALUES ($1, $2, $2, NULL, $3) ON CONFLICT DO NOTHING RETURNING id";

/// An account holding its name for good; no row if anyone holds it.
const CREATE_ACCOUNT: &str = "INSERT INTO users (name, name_key, name_hold, password_hash, created_at) \
     VALUES ($1, $2, $2, $4, $3) ON CONFLICT DO NOTHING RETURNING id, is_admin";

pub(super) const CREATE_SESSION: &str = "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, address) \
     VALUES ($1, $2, $3, $4, $5) RETURNING id";

const FIND_SESSION: &str = "SELECT s.id, u.id, u.name, (u.password_hash IS NULL), u.is_admin, u.is_bot \
     FROM sessions s JOIN users u ON u.id = s.user_id \
     WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.banned_at IS NULL";

/// The first half of claiming a name, in the claim's transaction.
pub(super) async fn release_name(
    tx: &mut sqlx::PgTransaction<'_>,
    name: &Username,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(RELEASE_NAME)
        .bind(name.key())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Text PostgreSQL can hold: it refuses NUL characters, which SQLite keeps.
/// Only the room search's free-form strings can have one (names, messages
/// and client ids are refused with one at the edge).
fn before_nul(text: &str) -> (&str, bool) {
    match text.split_once('\0') {
        Some((before, _)) => (before, true),
        None => (text, false),
    }
}

#[async_trait]
impl Store for PgStore {
    async fn create_account(
        &self,
        name: &Username,
        password_hash: &str,
        now: i64,
    ) -> Result<Account, StoreError> {
        let mut tx = self.pool.begin().await?;
        release_name(&mut tx, name, now).await?;
        let inserted: Option<(i64, bool)> = sqlx::query_as(CREATE_ACCOUNT)
            .bind(name.as_str())
            .bind(name.key())
            .bind(now)
            .bind(password_hash)
            .fetch_optional(&mut *tx)
            .await?;
        let (id, admin) = inserted.ok_or(StoreError::NameTaken)?;
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

    async fn find_account(&self, name: &Username) -> Result<Option<Account>, StoreError> {
        let row: Option<(i64, String, String, bool, bool)> = sqlx::query_as(
            "SELECT id, name, password_hash, is_admin, banned_at IS NOT NULL FROM users \
             WHERE name_key = $1 AND password_hash IS NOT NULL AND NOT is_bot",
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
            "SELECT id, name, password_hash IS NULL, is_bot FROM users WHERE id = $1",
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
            "SELECT id, name, password_hash IS NULL, is_bot FROM users WHERE name_key = $1 \
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
        if address_until > now {
            sqlx::query(
                "INSERT INTO address_bans (address, user_id, until) \
                 SELECT DISTINCT address, $1, $2 FROM sessions \
                 WHERE user_id = $1 AND address IS NOT NULL \
                 ON CONFLICT (address, user_id) \
                 DO UPDATE SET until = greatest(address_bans.until, excluded.until)",
            )
            .bind(id)
            .bind(address_until)
            .execute(&mut *tx)
            .await?;
        }
        // Sessions before the user's row (see the module's notes).
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE users SET banned_at = $2 WHERE id = $1 AND banned_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn unban_user(&self, id: UserId) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE users SET banned_at = NULL WHERE id = $1 AND banned_at IS NOT NULL",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM address_bans WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn address_banned(&self, address: &str, now: i64) -> Result<bool, StoreError> {
        let banned: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM address_bans WHERE address = $1 AND until > $2)",
        )
        .bind(address)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(banned)
    }

    async fn set_admin(&self, id: UserId, admin: bool) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE users SET is_admin = $2 WHERE id = $1 AND password_hash IS NOT NULL AND NOT is_bot",
        )
        .bind(id)
        .bind(admin)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_password(&self, id: UserId, password_hash: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Sessions before the user's row (see the module's notes).
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = $2 WHERE id = $1 AND password_hash IS NOT NULL AND NOT is_bot",
        )
        .bind(id)
        .bind(password_hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn sessions_of(&self, id: UserId) -> Result<Vec<SessionInfo>, StoreError> {
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT id, created_at, expires_at FROM sessions WHERE user_id = $1 ORDER BY id",
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
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
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
             WHERE r.name = $1 AND m.user_id = $2 AND m.until > $3",
        )
        .bind(room.as_str())
        .bind(user)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(until)
    }

    async fn revocations_after(&self, after: i64) -> Result<Vec<Revocation>, StoreError> {
        // Ids become visible in id order (the migration's triggers write
        // them at commit, one transaction at a time), so nothing committed
        // later can have an id at or below `after`.
        let rows: Vec<(i64, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT id, session_id, user_id FROM revocations WHERE id > $1 ORDER BY id",
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
        sqlx::query("DELETE FROM revocations WHERE at < $1")
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
        let row: Option<(i64, i64, String, bool, bool, bool)> = sqlx::query_as(FIND_SESSION)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(id, user, name, guest, admin, bot)| Session {
            id,
            user: User {
                id: user,
                name,
                guest,
                bot,
            },
            admin,
        }))
    }

    async fn delete_session(&self, token_hash: &[u8]) -> Result<Option<i64>, StoreError> {
        let id = sqlx::query_scalar("DELETE FROM sessions WHERE token_hash = $1 RETURNING id")
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
        sqlx::query(
            "INSERT INTO rooms (name, topic, created_at) VALUES ($1, '', $2) \
             ON CONFLICT (name) DO NOTHING",
        )
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
            sqlx::query_as("SELECT name, topic, kind FROM rooms WHERE name = $1")
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
        let (query, impossible) = before_nul(&search.query);
        if impossible {
            // No room name has a NUL in it.
            return Ok(room_page(Vec::new(), search.limit));
        }
        // Names after "ab\0…" (byte order) are the names after "ab".
        let (after, _) = before_nul(&search.after);
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, topic FROM rooms WHERE kind = 'public' AND name > $1 AND strpos(name, $2) > 0 \
             ORDER BY name LIMIT $3",
        )
        .bind(after)
        .bind(query)
        .bind(rooms_to_fetch(search.limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(room_page(rows, search.limit))
    }

    fn append(&self, steps: Vec<Step>) -> Pending {
        Box::pin(self.writer.queue().apply(steps))
    }

    async fn messages(&self, room: &RoomName, page: Page) -> Result<Vec<Message>, StoreError> {
        self.find_room(room).await?;
        let (filter, order, cursor) = match page.cursor {
            Cursor::Latest => ("", "DESC", None),
            Cursor::Before(id) => ("AND m.id < $3", "DESC", Some(id)),
            Cursor::After(id) => ("AND m.id > $3", "ASC", Some(id)),
        };
        let sql = format!(
            "{MESSAGE_COLUMNS} WHERE r.name = $1 AND m.deleted_at IS NULL {filter} \
             ORDER BY m.id {order} LIMIT $2"
        );
        let mut query = sqlx::query_as(&sql).bind(room.as_str()).bind(page.limit);
        if let Some(cursor) = cursor {
            query = query.bind(cursor);
        }
        let rows: Vec<MessageRow> = query.fetch_all(&self.pool).await?;
        let mut messages: Vec<Message> = rows.into_iter().map(Message::from).collect();
        if order == "DESC" {
            messages.reverse();
        }
        message_extras::postgres::decorate(&self.pool, &mut messages).await?;
        Ok(messages)
    }

    async fn find_message(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        let sql = format!("{MESSAGE_COLUMNS} WHERE m.id = $1 AND m.deleted_at IS NULL");
        let row: Option<MessageRow> = sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let mut found: Vec<Message> = row.map(Message::from).into_iter().collect();
        message_extras::postgres::decorate(&self.pool, &mut found).await?;
        Ok(found.pop())
    }

    async fn edit_message(&self, edit: &Edit) -> Result<Option<Edited>, StoreError> {
        message_extras::postgres::edit(&self.pool, edit).await
    }

    async fn react(&self, reaction: &NewReaction) -> Result<Reacted, StoreError> {
        message_extras::postgres::react(&self.pool, reaction).await
    }

    async fn delete_message(&self, id: MessageId, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE messages SET deleted_at = $2, text = '' WHERE id = $1 AND deleted_at IS NULL",
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
             SELECT r.id, $2, $3 FROM rooms r WHERE r.name = $1 \
             ON CONFLICT (room_id, user_id) DO UPDATE SET until = excluded.until",
        )
        .bind(room.as_str())
        .bind(user)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A query on the pool: it fails once the server is unreachable (a
    /// pooled connection that died is replaced, or the wait times out).
    async fn check(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.closing.cancel();
        if let Some(task) = self.writer.close() {
            let _ = task.await;
        }
        self.pool.close().await;
    }

    fn sweeps(&self) -> (SweepPool, CancellationToken) {
        (SweepPool::Postgres(self.pool.clone()), self.closing.clone())
    }
}
