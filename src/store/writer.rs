//! The SQLite writer: one thread that owns one connection and applies what
//! is queued for it (batches of message-log steps, guest sign-ins, the
//! memberships of joins) in one transaction: group commit, one fsync for
//! everything that arrived together.
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
//! Checkpoints: SQLite's automatic one is off (`wal_autocheckpoint = 0`):
//! it would copy a thousand pages and fsync the database file inside
//! whichever send's commit crossed the threshold. The store copies the WAL
//! into the database file from another connection every second instead
//! (`sqlite.rs`), off the send path. But that alone never lets the WAL start
//! over: SQLite restarts it only when a write transaction begins with every
//! frame already copied, and while sends keep coming the writer has always
//! appended more by the time another connection's checkpoint is done, so
//! the WAL grew without end (about 200 MB a minute at 500 messages a
//! second). So once a second, between two batches and after the replies
//! are sent, the writer copies what is left itself (the frames since that
//! checkpoint: a few pages and one fsync), and its next transaction starts
//! the WAL over, cut back to `WAL_SIZE_LIMIT` if it had grown past it.
//!
//! The search index (`messages_fts`) takes new messages behind the sends,
//! not in them (an FTS5 insert in each send's transaction cost about 50 µs
//! a message). `search_indexed.upto` marks how far it has gone; edits and
//! deletes of a message below the mark update the index by trigger, those
//! above it are read as they are when it is reached
//! (`…_search_behind.sql`). The writer indexes, after a batch's replies
//! are sent, once the oldest message not yet indexed has waited
//! `INDEX_EVERY`, so a message is searchable within about a quarter of a
//! second of its delivery, and one transaction indexes all that came
//! meanwhile. While messages wait, an idle writer waits for the next
//! request only until then (`next`). While sends are queued it indexes
//! one chunk (`INDEX_CHUNK` messages, one transaction) and serves them
//! before the next: a send never waits for the indexing of its own batch,
//! and behind at most one chunk of earlier ones. A search first asks the writer to
//! settle (`Request::Settle`), answered once everything committed before
//! it is indexed, so it finds every message stored before it. What was
//! stored but not indexed when the process stopped is indexed when the
//! writer opens, before it serves.

use std::future::Future;
use std::path::Path;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{
    Connection, OptionalExtension, Transaction, TransactionBehavior, named_params, params,
};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};

use super::memberships::{ADD_MEMBER, my_room_on};
use super::message_extras::{SQLITE_MENTION, SQLITE_REPLY_PARENT, names_json};
use super::sched::Policy;
use super::shared::{Guest, MESSAGE_COLUMNS, read_message, stored};
use super::sqlite::{CREATE_GUEST, CREATE_SESSION, RELEASE_NAME};
use super::uploads::SQLITE_ATTACH;
use super::{Applied, Inserted, NewMessage, Outcome, Step, StoreError};
use crate::rooms::{MyRoom, RoomName};
use crate::uploads::Attachment;
use crate::users::{User, UserId};

/// Work on its way to a writer (this one, or PostgreSQL's in
/// `pg_writer.rs`), and where its result goes.
pub(super) enum Request {
    Steps {
        steps: Vec<Step>,
        reply: oneshot::Sender<Applied>,
    },
    Guest {
        guest: Guest,
        reply: oneshot::Sender<Result<(User, i64), StoreError>>,
    },
    /// Answered once every message committed before it is in the search
    /// index (at once on PostgreSQL, whose index is in the same row).
    Settle {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Makes a user a member of an existing room (the join of a public room
    /// by someone new to it) and reads their read state in it back.
    Member {
        member: Member,
        reply: oneshot::Sender<Result<MyRoom, StoreError>>,
    },
}

/// A membership to make: `user` joins `room` at `now`.
pub(super) struct Member {
    pub room: RoomName,
    pub user: UserId,
    pub now: i64,
}

/// A request's result before its reply is sent, once the commit is known.
pub(super) enum Done {
    Steps(Vec<Result<Outcome, StoreError>>),
    Guest(Result<(User, i64), StoreError>),
    Member(Result<MyRoom, StoreError>),
    Settled,
}

/// Most requests in one transaction.
pub(super) const MAX_REQUESTS: usize = 1024;

/// The way into a writer: requests queue here in order, and the writer
/// takes whatever has queued (up to `MAX_REQUESTS`) as one transaction.
pub(super) struct Queue {
    /// `None` once closed; the writer ends when the sender is dropped.
    tx: Mutex<Option<mpsc::UnboundedSender<Request>>>,
}

impl Queue {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Request>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let queue = Self {
            tx: Mutex::new(Some(tx)),
        };
        (queue, rx)
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

    /// Makes a membership (`RoomNotFound` if there is no such room), waits
    /// for the commit and answers with the member's read state.
    pub async fn member(&self, member: Member) -> Result<MyRoom, StoreError> {
        let (reply, done) = oneshot::channel();
        self.submit(Request::Member { member, reply })?;
        done.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Returns once every message committed before it is searchable.
    pub async fn settle(&self) -> Result<(), StoreError> {
        let (reply, done) = oneshot::channel();
        self.submit(Request::Settle { reply })?;
        done.await.map_err(|_| StoreError::WriterGone)?
    }

    fn submit(&self, request: Request) -> Result<(), StoreError> {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let tx = tx.as_ref().ok_or(StoreError::WriterGone)?;
        tx.send(request).map_err(|_| StoreError::WriterGone)
    }

    /// Stops taking requests: the writer finishes what is queued and ends.
    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// The first request and whatever queued behind it, up to `MAX_REQUESTS`.
pub(super) fn batch(first: Request, rx: &mut mpsc::UnboundedReceiver<Request>) -> Vec<Request> {
    let mut requests = vec![first];
    while requests.len() < MAX_REQUESTS {
        match rx.try_recv() {
            Ok(request) => requests.push(request),
            Err(_) => break,
        }
    }
    requests
}

/// Sends each request its result once the batch is committed, or tells
/// every one that the batch failed (nothing in it was stored).
pub(super) fn reply_all<E: std::fmt::Display>(
    requests: Vec<Request>,
    result: Result<Vec<Done>, E>,
) {
    match result {
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

/// The handle on the writer thread.
pub struct Writer {
    queue: Queue,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Opens the writer's own connection to the (already migrated) database
    /// file, indexes for search what was stored but not yet indexed (the
    /// process stopped first), and starts its thread.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // WAL is a property of the file (the pool set it); these are per connection.
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;",
        )?;
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        index_behind(&mut conn)?;
        // Only for the wait until the index is due (see `next`).
        let timer = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|_| StoreError::WriterGone)?;
        let (queue, rx) = Queue::new();
        let thread = std::thread::Builder::new()
            .name("banter-writer".into())
            .spawn(move || {
                let policy = super::sched::Policy::batch("banter-writer");
                serve(conn, rx, &timer, policy)
            })
            .map_err(|_| StoreError::WriterGone)?;
        Ok(Self {
            queue,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Where requests queue for the thread.
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// Stops taking batches; the thread finishes the one it has and ends.
    /// Returns the thread to join.
    pub fn close(&self) -> Option<JoinHandle<()>> {
        self.queue.close();
        self.thread.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// How often the writer finishes the checkpoint itself (see the top).
const FINISH_CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// The size (bytes) the WAL file is cut back to when it starts over.
const WAL_SIZE_LIMIT: i64 = 16 << 20;

/// How long a stored message may wait for the search index, at most
/// (while the writer keeps up). Batching is what makes it cheaper: in a
/// rough measurement (python3's sqlite3, SQLite 3.40, `synchronous = OFF`,
/// 20,000 messages sent in transactions of 10, on a loaded 2-core
/// machine) the insert trigger added 45–125 µs a message to the sends,
/// and one `INSERT … SELECT` every 250 messages cost 8–25 µs a message.
const INDEX_EVERY: Duration = Duration::from_millis(250);
/// Most messages indexed in one transaction.
const INDEX_CHUNK: i64 = 4096;

fn serve(
    mut conn: Connection,
    mut rx: mpsc::UnboundedReceiver<Request>,
    timer: &Runtime,
    mut policy: Policy,
) {
    let mut checkpointed = Instant::now();
    // When the oldest message not yet indexed was committed.
    let mut unindexed: Option<Instant> = None;
    loop {
        let mut settles = Vec::new();
        match next(timer, &mut rx, unindexed) {
            Next::Closed => break,
            Next::IndexDue => {}
            Next::Request(first) => {
                let requests;
                (settles, requests) = batch(first, &mut rx)
                    .into_iter()
                    .partition(|r| matches!(r, Request::Settle { .. }));
                if !requests.is_empty() {
                    // Messages wait for this commit: woken by its fsync,
                    // the thread must not wait for the event loop's slice
                    // (`sched.rs`). Sign-ins and joins may.
                    let sends = requests.iter().any(|r| matches!(r, Request::Steps { .. }));
                    policy.set(!sends);
                    let result = apply_all(&mut conn, &requests);
                    if result
                        .as_ref()
                        .is_ok_and(|done| done.iter().any(Done::stored))
                    {
                        unindexed.get_or_insert_with(Instant::now);
                    }
                    reply_all(requests, result);
                }
            }
        }
        if !settles.is_empty() {
            // Everything, however much is queued: the searches wait for it.
            let result = index_behind(&mut conn);
            unindexed = after_indexing(result.as_ref().map(|()| true), unindexed);
            for settle in settles {
                match result {
                    Ok(()) => settle.reply(Done::Settled),
                    Err(_) => settle.fail(),
                }
            }
        } else if unindexed.is_some_and(|since| since.elapsed() >= INDEX_EVERY) {
            loop {
                match index_chunk(&mut conn) {
                    Ok(false) if rx.is_empty() => continue,
                    result => {
                        unindexed = after_indexing(result.as_ref().copied(), unindexed);
                        break;
                    }
                }
            }
        }
        if checkpointed.elapsed() >= FINISH_CHECKPOINT_EVERY && finish_checkpoint(&conn) {
            checkpointed = Instant::now();
        }
    }
}

/// What the writer does next.
enum Next {
    Request(Request),
    /// Nothing came before the index was due.
    IndexDue,
    /// The queue is closed and empty.
    Closed,
}

/// Waits for the next request, and while messages wait for the index
/// only until it is due. `blocking_recv` has no timeout, so the wait is
/// `recv` with one, on a runtime of the thread's own that has only a timer.
fn next(
    timer: &Runtime,
    rx: &mut mpsc::UnboundedReceiver<Request>,
    unindexed: Option<Instant>,
) -> Next {
    let Some(since) = unindexed else {
        return rx.blocking_recv().map_or(Next::Closed, Next::Request);
    };
    // Under load something is queued already: no timer to set up for it.
    if let Ok(request) = rx.try_recv() {
        return Next::Request(request);
    }
    let due = tokio::time::Instant::from_std(since + INDEX_EVERY);
    // The timer is made inside `block_on`: it needs the runtime's.
    let wait = async { tokio::time::timeout_at(due, rx.recv()).await };
    match timer.block_on(wait) {
        Ok(Some(request)) => Next::Request(request),
        Ok(None) => Next::Closed,
        Err(_) => Next::IndexDue,
    }
}

/// When the oldest message not yet indexed was committed, after indexing
/// that ended with `result` (`true`: caught up). A failure is logged and
/// tried again a full `INDEX_EVERY` later.
fn after_indexing(
    result: Result<bool, &rusqlite::Error>,
    unindexed: Option<Instant>,
) -> Option<Instant> {
    match result {
        Ok(true) => None,
        Ok(false) => unindexed,
        Err(err) => {
            tracing::error!(%err, "the writer cannot index new messages for search");
            Some(Instant::now())
        }
    }
}

/// Indexes every message stored and not yet indexed, a chunk at a time.
fn index_behind(conn: &mut Connection) -> rusqlite::Result<()> {
    while !index_chunk(conn)? {}
    Ok(())
}

/// The mark, and the newest message: the index has caught up when they meet.
const INDEX_STATE: &str =
    "SELECT upto, (SELECT coalesce(max(id), 0) FROM messages) FROM search_indexed";

/// Indexes the next `INDEX_CHUNK` messages above the mark, and moves it, in
/// one transaction; `true` once the index has caught up. Every row is
/// indexed as it is now, a deleted one with its blanked text (no words),
/// just as the triggers would have left it: the index must hold the text
/// the triggers will tell it to forget.
fn index_chunk(conn: &mut Connection) -> rusqlite::Result<bool> {
    let state = |conn: &Connection| {
        conn.prepare_cached(INDEX_STATE)?
            .query_row([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
    };
    // A look first, without the write lock: a settle usually finds nothing.
    let (upto, newest) = state(conn)?;
    if newest <= upto {
        return Ok(true);
    }
    let started = Instant::now();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (upto, newest) = state(&tx)?;
    let until = newest.min(upto.saturating_add(INDEX_CHUNK));
    if until > upto {
        tx.prepare_cached(
            "INSERT INTO messages_fts (rowid, text) \
             SELECT id, text FROM messages WHERE id > ?1 AND id <= ?2",
        )?
        .execute(params![upto, until])?;
        tx.prepare_cached("UPDATE search_indexed SET upto = ?1")?
            .execute(params![until])?;
    }
    tx.commit()?;
    let took = started.elapsed();
    if took >= SLOW_COMMIT {
        tracing::warn!(
            ms = took.as_millis(),
            messages = until - upto,
            "slow search indexing (disk)"
        );
    }
    Ok(until >= newest)
}

/// Copies into the database file every frame the store's checkpoints have
/// not, so the next transaction starts the WAL over. `false` if it could
/// not copy them all now (another checkpoint running, or a reader on an
/// older snapshot): the writer tries again after its next batch.
fn finish_checkpoint(conn: &Connection) -> bool {
    let started = Instant::now();
    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, i64>(2)?,
        ))
    });
    let took = started.elapsed();
    if took >= SLOW_COMMIT {
        tracing::warn!(
            ms = took.as_millis(),
            "slow checkpoint in the writer (disk)"
        );
    }
    match result {
        Ok((busy, frames, copied)) => busy == 0 && frames == copied,
        Err(err) => {
            tracing::warn!(%err, "the writer cannot checkpoint");
            false
        }
    }
}

impl Request {
    pub(super) fn writes(&self) -> bool {
        match self {
            Request::Steps { steps, .. } => steps.iter().any(|s| matches!(s, Step::Send(_))),
            Request::Guest { .. } | Request::Member { .. } => true,
            Request::Settle { .. } => false,
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
            (Request::Member { reply, .. }, Done::Member(result)) => {
                let _ = reply.send(result);
            }
            (Request::Settle { reply }, Done::Settled) => {
                let _ = reply.send(Ok(()));
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
            Request::Member { reply, .. } => {
                let _ = reply.send(Err(StoreError::BatchFailed));
            }
            Request::Settle { reply } => {
                let _ = reply.send(Err(StoreError::BatchFailed));
            }
        }
    }
}

impl Done {
    /// Whether a new message was stored (not a resend, not refused).
    fn stored(&self) -> bool {
        match self {
            Done::Steps(outcomes) => outcomes
                .iter()
                .any(|o| matches!(o, Ok(Outcome::Sent(Inserted::New { .. })))),
            Done::Guest(_) | Done::Member(_) | Done::Settled => false,
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
            Request::Member { member, .. } => Done::Member(add_member(&tx, member)?),
            Request::Settle { .. } => Done::Settled,
        });
    }
    let started = Instant::now();
    tx.commit()?;
    committed(started.elapsed(), requests.len());
    Ok(done)
}

/// A commit slower than this is logged: every send in it waited that long.
const SLOW_COMMIT: Duration = Duration::from_millis(50);

/// Counts a commit that took `took`, and logs it if slow.
pub(super) fn committed(took: Duration, requests: usize) {
    crate::metrics::get().store_commit_seconds.record(took);
    if took >= SLOW_COMMIT {
        tracing::warn!(ms = took.as_millis(), requests, "slow commit (disk)");
    }
}

fn apply_steps(
    tx: &Transaction<'_>,
    steps: &[Step],
) -> rusqlite::Result<Vec<Result<Outcome, StoreError>>> {
    steps
        .iter()
        .map(|step| match step {
            Step::Send(new) => send(tx, new),
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
        bot: false,
    };
    Ok(Ok((user, session)))
}

/// A membership, and the member's read state read back in the same
/// transaction; `RoomNotFound` if there is no such room. (The statements
/// are `memberships.rs`'s, whose `$n` parameters rusqlite binds by name.)
fn add_member(
    tx: &Transaction<'_>,
    member: &Member,
) -> rusqlite::Result<Result<MyRoom, StoreError>> {
    let room = member.room.as_str();
    tx.prepare_cached(ADD_MEMBER)?.execute(named_params! {
        "$1": room, "$2": member.user, "$3": member.now,
    })?;
    let mine = my_room_on(tx, room, member.user)?;
    Ok(mine.ok_or(StoreError::RoomNotFound))
}

const INSERT_MESSAGE: &str = "INSERT INTO messages (room_id, author_id, text, client_id, created_at, reply_to, mentions_room) \
     SELECT r.id, ?2, ?3, ?4, ?5, ?6, ?7 FROM rooms r WHERE r.name = ?1 \
     ON CONFLICT (author_id, client_id) WHERE client_id IS NOT NULL DO NOTHING \
     RETURNING id";

const MUTED_UNTIL: &str = "SELECT m.until FROM mutes m JOIN rooms r ON r.id = m.room_id \
     WHERE r.name = ?1 AND m.user_id = ?2 AND m.until > ?3";

/// The id of the room's latest message, 0 if none (no row if no room): the
/// `prev` of the next one, read in the transaction that inserts it, which
/// holds SQLite's one write lock (`messages_room` answers it).
const LATEST_ID: &str = "SELECT coalesce((SELECT max(m.id) FROM messages m WHERE m.room_id = r.id), 0) \
     FROM rooms r WHERE r.name = ?1";

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
    if let Some(parent) = new.reply_to {
        let found = tx
            .prepare_cached(SQLITE_REPLY_PARENT)?
            .query_row(params![parent, new.room.as_str()], |_| Ok(()))
            .optional()?;
        if found.is_none() {
            return Ok(Err(StoreError::ReplyNotFound));
        }
    }
    let client_id = new.client_id.as_ref().map(|c| c.as_str());
    let prev: i64 = tx
        .prepare_cached(LATEST_ID)?
        .query_row(params![new.room.as_str()], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let id: Option<i64> = tx
        .prepare_cached(INSERT_MESSAGE)?
        .query_row(
            params![
                new.room.as_str(),
                new.author.id,
                new.text.as_str(),
                client_id,
                new.ts,
                new.reply_to,
                new.mentions.room()
            ],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(id) = id {
        let mut message = stored(new, id, mention(tx, id, new.mentions.names())?);
        message.attachments = attach(tx, id, new)?;
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
        .query_row(params![new.author.id, client_id], read_message)
        .optional()?;
    Ok(earlier
        .map(|m| Outcome::Sent(Inserted::Duplicate(m)))
        .ok_or(StoreError::RoomNotFound))
}

/// Stores the mentions of a new message; the users they name, by id. No
/// statement at all for a message that mentions nobody.
fn mention(tx: &Transaction<'_>, id: i64, names: &[String]) -> rusqlite::Result<Vec<i64>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut statement = tx.prepare_cached(SQLITE_MENTION)?;
    let rows = statement.query_map(params![id, names_json(names)], |r| r.get(0))?;
    rows.collect()
}

/// Attaches a new message's files (issue #11), reserved by its author;
/// those attached. No statement at all for a message without files.
fn attach(tx: &Transaction<'_>, id: i64, new: &NewMessage) -> rusqlite::Result<Vec<Attachment>> {
    let mut attached = Vec::with_capacity(new.attachments.len());
    for (position, file) in new.attachments.iter().enumerate() {
        let done = tx.prepare_cached(SQLITE_ATTACH)?.execute(params![
            id,
            position,
            file.id,
            new.author.id
        ])?;
        if done == 1 {
            attached.push(file.clone());
        }
    }
    Ok(attached)
}
