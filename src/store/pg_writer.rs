//! The PostgreSQL writer: one task that owns one connection and applies
//! what is queued for it (batches of message-log steps, guest sign-ins,
//! memberships) in
//! one transaction, as the SQLite writer does (`writer.rs`): group commit,
//! one commit for everything that arrived together, on a connection whose
//! prepared statements sqlx keeps. If any statement fails, the whole
//! transaction is rolled back and every request in it is told so.
//!
//! Order across nodes. Several nodes may share the database, each with its
//! writer, and within a room message id order must be commit order: a
//! client that has read up to id N and asks for what comes after must
//! never miss a message with a smaller id that commits later. So a batch
//! that sends messages first locks the rows of the rooms it sends to, in id
//! order (no two writers can deadlock on them), and only then takes ids
//! from the sequence (the column's default, at insert). The locks are held
//! until the commit has ended, so the next transaction that sends to one of
//! those rooms, on any node, takes its ids after this one's and commits
//! after it. Each room's row keeps the id of its latest message, which
//! gives each new message its `prev`: the id of the room's message before
//! it, committed before it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, PgTransaction};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use super::memberships::{ADD_MEMBER, MY_ROOM, MyRoomRow};
use super::message_extras::{PG_MENTION, PG_REPLY_PARENT};
use super::postgres::{CREATE_GUEST, CREATE_SESSION, release_name};
use super::shared::{Guest, MESSAGE_COLUMNS, MessageRow, stored};
use super::uploads::PG_ATTACH;
use super::writer::{Done, Member, Queue, Request, batch, committed, reply_all};
use super::{Inserted, NewMessage, Outcome, Step, StoreError};
use crate::messages::Message;
use crate::rooms::{COUNT_CAP, MyRoom};
use crate::uploads::Attachment;
use crate::users::User;

/// The handle on the writer task.
pub struct PgWriter {
    queue: Queue,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for PgWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgWriter")
    }
}

impl PgWriter {
    /// Opens the writer's own connection to the (already migrated) database
    /// and starts its task.
    pub async fn open(options: PgConnectOptions) -> Result<Self, StoreError> {
        let conn = PgConnection::connect_with(&options).await?;
        let (queue, rx) = Queue::new();
        let task = tokio::spawn(serve(options, conn, rx));
        Ok(Self {
            queue,
            task: Mutex::new(Some(task)),
        })
    }

    /// Where requests queue for the task.
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// Stops taking batches; the task finishes what is queued and ends.
    /// Returns the task to await.
    pub fn close(&self) -> Option<JoinHandle<()>> {
        self.queue.close();
        self.task.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// How long the writer waits before it connects again after losing its
/// connection (every batch meanwhile fails at once, so nothing waits).
const RECONNECT_AFTER: Duration = Duration::from_secs(1);
/// How long connecting (or a ping after a failed batch) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one batch may take before the writer gives its connection up:
/// past the server's own statement and lock timeouts (`postgres.rs`), so
/// it only fires when the server or the network hangs.
const BATCH_TIMEOUT: Duration = Duration::from_secs(15);

async fn serve(
    options: PgConnectOptions,
    conn: PgConnection,
    mut rx: mpsc::UnboundedReceiver<Request>,
) {
    let mut conn = Some(conn);
    let mut lost_at: Option<Instant> = None;
    while let Some(first) = rx.recv().await {
        let requests = batch(first, &mut rx);
        if conn.is_none() && lost_at.is_none_or(|at| at.elapsed() >= RECONNECT_AFTER) {
            let connecting = PgConnection::connect_with(&options);
            match timeout(CONNECT_TIMEOUT, connecting).await {
                Ok(Ok(fresh)) => {
                    tracing::info!("the message writer has reconnected to the database");
                    conn = Some(fresh);
                }
                Ok(Err(err)) => {
                    tracing::warn!(%err, "the message writer cannot reconnect to the database");
                    lost_at = Some(Instant::now());
                }
                Err(_) => {
                    tracing::warn!(
                        "the message writer cannot reconnect to the database: timed out"
                    );
                    lost_at = Some(Instant::now());
                }
            }
        }
        let Some(open) = conn.as_mut() else {
            reply_all(requests, Err("no connection to the database"));
            continue;
        };
        let Ok(mut result) = timeout(BATCH_TIMEOUT, apply_all(open, &requests)).await else {
            // The server or the network hangs: give the connection up (the
            // server rolls back what it had) and tell everyone in the batch.
            tracing::warn!("a batch got no answer from the database in time; reconnecting");
            conn = None;
            lost_at = None;
            reply_all(requests, Err("the database did not answer in time"));
            continue;
        };
        if result.as_ref().is_err_and(is_transient) {
            // Rolled back whole, so it can run again as it was.
            tracing::info!("a batch met a deadlock with another node's: trying it again");
            result = apply_all(open, &requests).await;
        }
        // A failed batch may mean a dead connection: find out, so the next
        // batch gets a fresh one.
        if result.is_err() && !matches!(timeout(CONNECT_TIMEOUT, open.ping()).await, Ok(Ok(()))) {
            conn = None;
            lost_at = None;
        }
        reply_all(requests, result);
    }
    if let Some(conn) = conn {
        let _ = conn.close().await;
    }
}

/// Whether PostgreSQL aborted the transaction for a conflict with another
/// one (a deadlock: two nodes claiming the same two guest names, or
/// resending the same two client ids, in opposite orders at once), which
/// running it again resolves.
fn is_transient(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40P01" | "40001")))
}

/// A room a batch sends to, locked for the batch.
struct LockedRoom {
    id: i64,
    /// The id of its latest message so far.
    last: i64,
    /// Whether the batch stored a message in it.
    sent: bool,
}

/// Everything queued, in one transaction; an error rolls all of it back.
async fn apply_all(
    conn: &mut PgConnection,
    requests: &[Request],
) -> Result<Vec<Done>, sqlx::Error> {
    let mut tx = conn.begin().await?;
    match apply_in(&mut tx, requests).await {
        Ok(done) => {
            let started = Instant::now();
            tx.commit().await?;
            committed(started.elapsed(), requests.len());
            Ok(done)
        }
        Err(err) => {
            let _ = tx.rollback().await;
            Err(err)
        }
    }
}

async fn apply_in(
    tx: &mut PgTransaction<'_>,
    requests: &[Request],
) -> Result<Vec<Done>, sqlx::Error> {
    let mut rooms = lock_rooms(tx, requests).await?;
    let mut done = Vec::with_capacity(requests.len());
    for request in requests {
        done.push(match request {
            Request::Steps { steps, .. } => {
                let mut outcomes = Vec::with_capacity(steps.len());
                for step in steps {
                    outcomes.push(match step {
                        Step::Send(new) => send(tx, &mut rooms, new).await?,
                    });
                }
                Done::Steps(outcomes)
            }
            Request::Guest { guest, .. } => Done::Guest(create_guest(tx, guest).await?),
            Request::Member { member, .. } => Done::Member(add_member(tx, member).await?),
            // The `search` column is generated in the same row: nothing waits.
            Request::Settle { .. } => Done::Settled,
        });
    }
    for room in rooms.values().filter(|room| room.sent) {
        sqlx::query("UPDATE rooms SET last_message_id = $2 WHERE id = $1")
            .bind(room.id)
            .bind(room.last)
            .execute(&mut **tx)
            .await?;
    }
    Ok(done)
}

/// Locks the rooms the batch sends to, in id order, until the commit; by
/// name, with each one's latest message id.
async fn lock_rooms(
    tx: &mut PgTransaction<'_>,
    requests: &[Request],
) -> Result<HashMap<String, LockedRoom>, sqlx::Error> {
    let mut names: Vec<&str> = requests
        .iter()
        .filter_map(|request| match request {
            Request::Steps { steps, .. } => Some(steps),
            Request::Guest { .. } | Request::Member { .. } | Request::Settle { .. } => None,
        })
        .flatten()
        .map(|step| match step {
            Step::Send(new) => new.room.as_str(),
        })
        .collect();
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    names.sort_unstable();
    names.dedup();
    let rows: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT id, name, last_message_id FROM rooms WHERE name = ANY($1) \
         ORDER BY id FOR NO KEY UPDATE",
    )
    .bind(&names)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, last)| {
            let room = LockedRoom {
                id,
                last,
                sent: false,
            };
            (name, room)
        })
        .collect())
}

/// Checks the mute and stores the message in one statement: no row is
/// inserted (and no id taken) if the author is muted, and none if they
/// stored this client id already.
const SEND: &str = "WITH muted AS (\
         SELECT until FROM mutes WHERE room_id = $1 AND user_id = $2 AND until > $5), \
     inserted AS (\
         INSERT INTO messages (room_id, author_id, text, client_id, created_at, reply_to, mentions_room) \
         SELECT $1, $2, $3, $4, $5, $6, $7 WHERE NOT EXISTS (SELECT 1 FROM muted) \
         ON CONFLICT (author_id, client_id) WHERE client_id IS NOT NULL DO NOTHING \
         RETURNING id) \
     SELECT (SELECT until FROM muted), (SELECT id FROM inserted)";

/// Stores one message; a database error aborts the whole batch.
async fn send(
    tx: &mut PgTransaction<'_>,
    rooms: &mut HashMap<String, LockedRoom>,
    new: &NewMessage,
) -> Result<Result<Outcome, StoreError>, sqlx::Error> {
    let client_id = new.client_id.as_ref().map(|c| c.as_str());
    if let Some(room) = rooms.get_mut(new.room.as_str()) {
        if let Some(parent) = new.reply_to {
            let found: Option<i32> = sqlx::query_scalar(PG_REPLY_PARENT)
                .bind(parent)
                .bind(room.id)
                .fetch_optional(&mut **tx)
                .await?;
            if found.is_none() {
                return Ok(Err(StoreError::ReplyNotFound));
            }
        }
        let (muted, id): (Option<i64>, Option<i64>) = sqlx::query_as(SEND)
            .bind(room.id)
            .bind(new.author.id)
            .bind(new.text.as_str())
            .bind(client_id)
            .bind(new.ts)
            .bind(new.reply_to)
            .bind(new.mentions.room())
            .fetch_one(&mut **tx)
            .await?;
        if let Some(until) = muted {
            return Ok(Ok(Outcome::Sent(Inserted::Muted { until })));
        }
        if let Some(id) = id {
            let prev = std::mem::replace(&mut room.last, id);
            room.sent = true;
            let mut message = stored(new, id, mention(tx, id, new.mentions.names()).await?);
            message.attachments = attach(tx, id, new).await?;
            return Ok(Ok(Outcome::Sent(Inserted::New { message, prev })));
        }
    }
    // Nothing inserted: an earlier message with this client id, or no room.
    let Some(client_id) = client_id else {
        return Ok(Err(StoreError::RoomNotFound));
    };
    let earlier: Option<MessageRow> = sqlx::query_as(&format!(
        "{MESSAGE_COLUMNS} WHERE m.author_id = $1 AND m.client_id = $2"
    ))
    .bind(new.author.id)
    .bind(client_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(earlier
        .map(|m| Outcome::Sent(Inserted::Duplicate(Message::from(m))))
        .ok_or(StoreError::RoomNotFound))
}

/// Stores the mentions of a new message; the users they name, by id. No
/// statement at all for a message that mentions nobody.
async fn mention(
    tx: &mut PgTransaction<'_>,
    id: i64,
    names: &[String],
) -> Result<Vec<i64>, sqlx::Error> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar(PG_MENTION)
        .bind(id)
        .bind(names)
        .fetch_all(&mut **tx)
        .await
}

/// Attaches a new message's files (issue #11), reserved by its author;
/// those attached. No statement at all for a message without files.
async fn attach(
    tx: &mut PgTransaction<'_>,
    id: i64,
    new: &NewMessage,
) -> Result<Vec<Attachment>, sqlx::Error> {
    let mut attached = Vec::with_capacity(new.attachments.len());
    for (position, file) in new.attachments.iter().enumerate() {
        let done = sqlx::query(PG_ATTACH)
            .bind(id)
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .bind(&file.id)
            .bind(new.author.id)
            .execute(&mut **tx)
            .await?;
        if done.rows_affected() == 1 {
            attached.push(file.clone());
        }
    }
    Ok(attached)
}

/// A guest and its session; `NameTaken` if the name is not free: stale
/// holds on it are released, then the unique index on `name_hold` decides.
async fn create_guest(
    tx: &mut PgTransaction<'_>,
    guest: &Guest,
) -> Result<Result<(User, i64), StoreError>, sqlx::Error> {
    let name = &guest.name;
    release_name(tx, name, guest.now).await?;
    let id: Option<i64> = sqlx::query_scalar(CREATE_GUEST)
        .bind(name.as_str())
        .bind(name.key())
        .bind(guest.now)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(id) = id else {
        return Ok(Err(StoreError::NameTaken));
    };
    let session: i64 = sqlx::query_scalar(CREATE_SESSION)
        .bind(&guest.token_hash)
        .bind(id)
        .bind(guest.now)
        .bind(guest.expires_at)
        .bind(&guest.address)
        .fetch_one(&mut **tx)
        .await?;
    let user = User {
        id,
        name: name.as_str().to_owned(),
        guest: true,
        bot: false,
    };
    Ok(Ok((user, session)))
}

/// A membership, and the member's read state read back in the same
/// transaction; `RoomNotFound` if there is no such room.
async fn add_member(
    tx: &mut PgTransaction<'_>,
    member: &Member,
) -> Result<Result<MyRoom, StoreError>, sqlx::Error> {
    let room = member.room.as_str();
    sqlx::query(ADD_MEMBER)
        .bind(room)
        .bind(member.user)
        .bind(member.now)
        .execute(&mut **tx)
        .await?;
    let mine: Option<MyRoomRow> = sqlx::query_as(MY_ROOM)
        .bind(member.user)
        .bind(COUNT_CAP)
        .bind(room)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(mine.map(MyRoom::from).ok_or(StoreError::RoomNotFound))
}
