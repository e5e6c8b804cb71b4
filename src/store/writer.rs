//! The SQLite writer: one thread that owns one connection and applies what
//! is queued for it (batches of message-log steps, guest sign-ins) in one
//! transaction: group commit, one fsync for everything that arrived
//! together.
//!
//! Why a thread of its own, with rusqlite rather than sqlx: sqlx runs each
//! SQLite statement on a worker thread and wakes the caller through a
//! channel, a thread switch per statement and so per message. Here a batch
//! of any size costs one switch in and one out, its statements are cached
//! prepared statements on a connection that stays warm, and its commit is
//! one fsync. Both libraries link the same SQLite (`libsqlite3-sys`).
//!
//! A transaction that only reads (joins) is deferred, so it never takes
//! SQLite's write lock; one that writes takes the write lock up front
//! (`BEGIN IMMEDIATE`), so it cannot fail half-way on a busy database. If
//! any statement fails, the whole transaction is rolled back and every
//! request in it is told so: nothing half-stored.
//!
//! The writer never checkpoints the WAL itself (`wal_autocheckpoint = 0`):
//! a checkpoint copies pages and fsyncs the database file, a stall of
//! milliseconds that would land on whichever send happened to commit. The
//! store checkpoints from another connection instead.

use std::future::Future;
use std::path::Path;
use std::sync::{Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use tokio::sync::oneshot;

use super::sqlite::{CREATE_GUEST, CREATE_SESSION, Guest, MESSAGE_COLUMNS, RELEASE_NAME};
use super::{Applied, Inserted, NewMessage, Outcome, Step, StoreError};
use crate::messages::Message;
use crate::rooms::RoomName;
use crate::users::User;

/// Work on its way to the writer thread, and where its result goes.
enum Request {
    Steps {
        steps: Vec<Step>,
        reply: oneshot::Sender<Applied>,
    },
    Guest {
        guest: Guest,
        reply: oneshot::Sender<Result<(User, i64), StoreError>>,
    },
}

/// A request's result before its reply is sent, once the commit is known.
enum Done {
    Steps(Vec<Result<Outcome, StoreError>>),
    Guest(Result<(User, i64), StoreError>),
}

/// Most requests in one transaction.
const MAX_REQUESTS: usize = 1024;

/// The handle on the writer thread.
pub struct Writer {
    /// `None` once closed; the thread ends when the sender is dropped.
    tx: Mutex<Option<mpsc::Sender<Request>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Opens the writer's own connection to the (already migrated) database
    /// file and starts its thread.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // WAL is a property of the file (the pool set it); these are per connection.
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;",
        )?;
        let (tx, rx) = mpsc::channel::<Request>();
        let thread = std::thread::Builder::new()
            .name("banter-writer".into())
            .spawn(move || serve(conn, &rx))
            .map_err(|_| StoreError::WriterGone)?;
        Ok(Self {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues a batch of steps now; the future resolves once it is committed.
    pub fn apply(&self, steps: Vec<Step>) -> impl Future<Output = Applied> + Send + 'static {
        let (reply, done) = oneshot::channel();
        let queued = self.submit(Request::Steps { steps, reply });
        async move {
            queued?;
            done.await.map_err(|_| StoreError::WriterGone)?
        }
    }

    /// Creates a guest and its session, and waits for the commit.
    pub async fn guest(&self, guest: Guest) -> Result<(User, i64), StoreError> {
        let (reply, done) = oneshot::channel();
        self.submit(Request::Guest { guest, reply })?;
        done.await.map_err(|_| StoreError::WriterGone)?
    }

    fn submit(&self, request: Request) -> Result<(), StoreError> {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let tx = tx.as_ref().ok_or(StoreError::WriterGone)?;
        tx.send(request).map_err(|_| StoreError::WriterGone)
    }

    /// Stops taking batches; the thread finishes the one it has and ends.
    /// Returns the thread to join.
    pub fn close(&self) -> Option<JoinHandle<()>> {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.thread.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

fn serve(mut conn: Connection, rx: &mpsc::Receiver<Request>) {
    while let Ok(first) = rx.recv() {
        let mut requests = vec![first];
        requests.extend(rx.try_iter().take(MAX_REQUESTS - 1));
        match apply_all(&mut conn, &requests) {
            Ok(done) => {
                for (request, done) in requests.into_iter().zip(done) {
                    request.reply(done);
                }
            }
            Err(err) => {
                tracing::error!(%err, requests = requests.len(), "a batch could not be stored");
                for request in requests {
                    request.fail();
                }
            }
        }
    }
}

impl Request {
    fn writes(&self) -> bool {
        match self {
            Request::Steps { steps, .. } => steps.iter().any(|s| matches!(s, Step::Send(_))),
            Request::Guest { .. } => true,
        }
    }

    fn reply(self, done: Done) {
        match (self, done) {
            (Request::Steps { reply, .. }, Done::Steps(outcomes)) => {
                let _ = reply.send(Ok(outcomes));
            }
            (Request::Guest { reply, .. }, Done::Guest(result)) => {
                let _ = reply.send(result);
            }
            (request, _) => request.fail(),
        }
    }

    fn fail(self) {
        match self {
            Request::Steps { reply, .. } => {
                let _ = reply.send(Err(StoreError::BatchFailed));
            }
            Request::Guest { reply, .. } => {
                let _ = reply.send(Err(StoreError::BatchFailed));
            }
        }
    }
}

/// Everything queued, in one transaction; an error rolls all of it back.
fn apply_all(conn: &mut Connection, requests: &[Request]) -> rusqlite::Result<Vec<Done>> {
    let behavior = if requests.iter().any(Request::writes) {
        TransactionBehavior::Immediate
    } else {
        TransactionBehavior::Deferred
    };
    let tx = conn.transaction_with_behavior(behavior)?;
    let mut done = Vec::with_capacity(requests.len());
    for request in requests {
        done.push(match request {
            Request::Steps { steps, .. } => Done::Steps(apply_steps(&tx, steps)?),
            Request::Guest { guest, .. } => Done::Guest(create_guest(&tx, guest)?),
        });
    }
    let started = Instant::now();
    tx.commit()?;
    let took = started.elapsed();
    crate::metrics::get().store_commit_seconds.record(took);
    if took >= SLOW_COMMIT {
        tracing::warn!(
            ms = took.as_millis(),
            requests = requests.len(),
            "slow commit (disk)"
        );
    }
    Ok(done)
}

/// A commit slower than this is logged: every send in it waited that long.
const SLOW_COMMIT: Duration = Duration::from_millis(50);

fn apply_steps(
    tx: &Transaction<'_>,
    steps: &[Step],
) -> rusqlite::Result<Vec<Result<Outcome, StoreError>>> {
    steps
        .iter()
        .map(|step| match step {
            Step::Send(new) => send(tx, new),
            Step::Join { room, limit } => latest(tx, room, *limit),
        })
        .collect()
}

/// A guest and its session; `NameTaken` if the name is not free: stale
/// holds on it are released, then the unique index on `name_hold` decides.
fn create_guest(
    tx: &Transaction<'_>,
    guest: &Guest,
) -> rusqlite::Result<Result<(User, i64), StoreError>> {
    let name = &guest.name;
    tx.prepare_cached(RELEASE_NAME)?
        .execute(params![name.key(), guest.now])?;
    let id: Option<i64> = tx
        .prepare_cached(CREATE_GUEST)?
        .query_row(params![name.as_str(), name.key(), guest.now], |r| r.get(0))
        .optional()?;
    let Some(id) = id else {
        return Ok(Err(StoreError::NameTaken));
    };
    let session: i64 = tx.prepare_cached(CREATE_SESSION)?.query_row(
        params![
            guest.token_hash,
            id,
            guest.now,
            guest.expires_at,
            guest.address
        ],
        |r| r.get(0),
    )?;
    let user = User {
        id,
        name: name.as_str().to_owned(),
        guest: true,
    };
    Ok(Ok((user, session)))
}

const INSERT_MESSAGE: &str = "INSERT INTO messages (room_id, author_id, text, client_id, created_at) \
     SELECT r.id, ?2, ?3, ?4, ?5 FROM rooms r WHERE r.name = ?1 \
     ON CONFLICT (author_id, client_id) WHERE client_id IS NOT NULL DO NOTHING \
     RETURNING id";

/// The id of the room's latest message (0 if none), deleted or not: read in
/// the write transaction just before the insert, so with one writer at a
/// time it is the message this one follows in the room.
const ROOM_HEAD: &str = "SELECT coalesce(max(m.id), 0) FROM messages m \
     WHERE m.room_id = (SELECT r.id FROM rooms r WHERE r.name = ?1)";

const MUTED_UNTIL: &str = "SELECT m.until FROM mutes m JOIN rooms r ON r.id = m.room_id \
     WHERE r.name = ?1 AND m.user_id = ?2 AND m.until > ?3";

/// Stores one message; a database error aborts the whole batch.
fn send(tx: &Transaction<'_>, new: &NewMessage) -> rusqlite::Result<Result<Outcome, StoreError>> {
    let muted: Option<i64> = tx
        .prepare_cached(MUTED_UNTIL)?
        .query_row(params![new.room.as_str(), new.author.id, new.ts], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(until) = muted {
        return Ok(Ok(Outcome::Sent(Inserted::Muted { until })));
    }
    let client_id = new.client_id.as_ref().map(|c| c.as_str());
    let prev: i64 = tx
        .prepare_cached(ROOM_HEAD)?
        .query_row(params![new.room.as_str()], |r| r.get(0))?;
    let id: Option<i64> = tx
        .prepare_cached(INSERT_MESSAGE)?
        .query_row(
            params![
                new.room.as_str(),
                new.author.id,
                new.text.as_str(),
                client_id,
                new.ts
            ],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(id) = id {
        let message = stored(new, id);
        return Ok(Ok(Outcome::Sent(Inserted::New { message, prev })));
    }
    // Nothing inserted: an earlier message with this client id, or no room.
    let Some(client_id) = client_id else {
        return Ok(Err(StoreError::RoomNotFound));
    };
    let earlier = tx
        .prepare_cached(&format!(
            "{MESSAGE_COLUMNS} WHERE m.author_id = ?1 AND m.client_id = ?2"
        ))?
        .query_row(params![new.author.id, client_id], message_row)
        .optional()?;
    Ok(earlier
        .map(|m| Outcome::Sent(Inserted::Duplicate(m)))
        .ok_or(StoreError::RoomNotFound))
}

/// The room's latest `limit` messages, oldest first.
fn latest(
    tx: &Transaction<'_>,
    room: &RoomName,
    limit: i64,
) -> rusqlite::Result<Result<Outcome, StoreError>> {
    let mut messages = tx
        .prepare_cached(&format!(
            "{MESSAGE_COLUMNS} WHERE r.name = ?1 AND m.deleted_at IS NULL \
             ORDER BY m.id DESC LIMIT ?2"
        ))?
        .query_map(params![room.as_str(), limit], message_row)?
        .collect::<rusqlite::Result<Vec<Message>>>()?;
    messages.reverse();
    Ok(Ok(Outcome::Joined { messages }))
}

/// The message as stored, without reading it back.
fn stored(new: &NewMessage, id: i64) -> Message {
    Message {
        id,
        room: new.room.as_str().to_owned(),
        author: new.author.clone(),
        text: new.text.as_str().to_owned(),
        ts: new.ts,
        client_id: new.client_id.as_ref().map(|c| c.as_str().to_owned()),
    }
}

fn message_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: row.get(0)?,
        room: row.get(1)?,
        author: User {
            id: row.get(2)?,
            name: row.get(3)?,
            guest: row.get(4)?,
        },
        text: row.get(5)?,
        ts: row.get(6)?,
        client_id: row.get(7)?,
    })
}
