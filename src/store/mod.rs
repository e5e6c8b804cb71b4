//! Storage: everything Banter keeps. One trait, one implementation per
//! backend (SQLite, the embedded default, and PostgreSQL, for several nodes
//! sharing one database), each with its own migrations. The rest of the
//! server holds an `Arc<dyn Store>` and never sees SQL.
//!
//! Messages are written through `append`: a batch of log steps applied in
//! one transaction, so the messages that arrive together cost one commit
//! (one fsync). The realtime sequencer forms the batches.

pub mod guests;
pub mod memberships;
mod message_extras;
mod pg_writer;
mod postgres;
mod reader;
pub mod retention;
mod sched;
mod search;
mod shared;
mod sqlite;
pub mod sweeps;
pub mod tokens;
pub mod transfer;
pub mod uploads;
mod writer;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;
use sweeps::SweepPool;

use crate::mentions::Mentions;
use crate::messages::{ClientId, Cursor, Message, MessageId, MessageText, Page};
use crate::reactions::Emoji;
use crate::rooms::{MyRoom, NotifyLevel, Room, RoomName, RoomPage, RoomSearch};
use crate::search::Search;
use crate::uploads::Attachment;
use crate::users::{User, UserId, Username};
pub use memberships::Marked;

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The name is held by an account, or by a guest with a live session.
    #[error("that name is taken")]
    NameTaken,
    /// The room does not exist.
    #[error("no such room")]
    RoomNotFound,
    /// A reply's parent is not a message of the same room (or is deleted).
    #[error("no such message to reply to in this room")]
    ReplyNotFound,
    /// A room of that name exists already (`create`, `direct`).
    #[error("a room of that name exists")]
    RoomExists,
    /// The database failed; the detail goes to the log, never to a client.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Migrations could not be applied at start-up.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The message writer's connection failed.
    #[error("database error")]
    Writer(#[from] rusqlite::Error),
    /// The message writer has stopped (the server is closing).
    #[error("the message writer has stopped")]
    WriterGone,
    /// The database file is no longer where it was opened (removed, or
    /// another file in its place).
    #[error("the database file is gone")]
    FileGone,
    /// The writer's batch failed as a whole; nothing in it was stored (the
    /// cause is in the log).
    #[error("the batch could not be stored")]
    BatchFailed,
    /// The database URL names no backend Banter has. Only the scheme is
    /// shown: the rest may hold a password.
    #[error(
        "unsupported database URL scheme {0:?}: use sqlite://PATH, postgres://… or postgresql://…"
    )]
    UnsupportedUrl(String),
}

impl StoreError {
    /// Whether the store has closed (the server is shutting down): what
    /// failed was asked too late, not a fault to report.
    pub fn is_closed(&self) -> bool {
        matches!(
            self,
            StoreError::WriterGone | StoreError::Database(sqlx::Error::PoolClosed)
        )
    }
}

/// The backends, as a database URL names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:PATH` or `sqlite://PATH`.
    Sqlite,
    /// `postgres://…` or `postgresql://…`.
    Postgres,
}

impl Backend {
    /// The backend `url` names, or `UnsupportedUrl` (with the scheme only).
    pub fn of(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(StoreError::UnsupportedUrl(
                scheme.chars().take(32).collect(),
            )),
        }
    }
}

/// Opens the database at `url` with the backend it names, and applies that
/// backend's migrations. (The server does more for SQLite: the data
/// directory and file modes, in `app.rs`.)
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match Backend::of(url)? {
        Backend::Sqlite => Arc::new(SqliteStore::connect(url).await?),
        Backend::Postgres => Arc::new(PgStore::connect(url).await?),
    })
}

/// A live session, found by its token's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub user: User,
    pub admin: bool,
}

/// A stored session as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: i64,
    /// Ms since the epoch.
    pub created_at: i64,
    /// Ms since the epoch.
    pub expires_at: i64,
}

/// Something a running server must disconnect: one session's sockets, or
/// every socket of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub id: i64,
    pub session: Option<i64>,
    pub user: Option<UserId>,
}

/// An account with the hash to check a password against.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: User,
    pub password_hash: String,
    pub admin: bool,
    pub banned: bool,
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub room: RoomName,
    pub author: User,
    pub text: MessageText,
    pub client_id: Option<ClientId>,
    pub ts: i64,
    /// The message it answers: checked in the write transaction.
    pub reply_to: Option<MessageId>,
    /// Resolved to users in the write transaction.
    pub mentions: Mentions,
    /// Its files (issue #11), reserved already by the same author
    /// (`reserve_attachments`); attached in the write transaction.
    pub attachments: Vec<Attachment>,
}

/// An edit of a message's text by its author.
#[derive(Debug, Clone)]
pub struct Edit {
    pub id: MessageId,
    pub author: UserId,
    pub text: MessageText,
    pub mentions: Mentions,
    pub now: i64,
}

/// What an edit stored: the time and the users its text now mentions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    pub edited_at: i64,
    pub mentions: Vec<UserId>,
}

/// A user putting an emoji on a message, or taking it off.
#[derive(Debug, Clone)]
pub struct NewReaction {
    pub message: MessageId,
    pub user: UserId,
    pub emoji: Emoji,
    pub on: bool,
    pub now: i64,
}

/// What a reaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reacted {
    /// Put on or taken off now.
    Changed,
    /// It was already so: nothing to tell anyone.
    Unchanged,
    /// The message has `MAX_REACTIONS` other emoji already.
    TooMany,
    /// No such message (or deleted).
    NotFound,
}

/// One step of the message log. A batch of steps is applied in order in one
/// transaction; each step sees the steps before it.
#[derive(Debug, Clone)]
pub enum Step {
    /// Store a message, unless its author is muted in the room (checked in
    /// the same transaction, so a send costs no other query) or already
    /// stored one with the same client id.
    Send(NewMessage),
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent(Inserted),
}

/// A batch's result: the outer error means nothing in it was stored; the
/// inner ones are a step's own (`RoomNotFound`).
pub type Applied = Result<Vec<Result<Outcome, StoreError>>, StoreError>;

/// A batch in the log, on its way to disk.
pub type Pending = Pin<Box<dyn Future<Output = Applied> + Send + 'static>>;

/// Whether `insert_message` stored a new row, found the sender's earlier
/// one, or stored nothing because the author is muted in the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// Stored now. `prev` is the id of the room's message before this one
    /// (0 if it is the room's first): a node that has delivered `prev` to the
    /// room delivers this one next.
    New {
        message: Message,
        prev: MessageId,
    },
    Duplicate(Message),
    /// Muted until this time (ms since the epoch); nothing was stored.
    Muted {
        until: i64,
    },
}

/// The storage interface. Every method is one atomic step, so callers never
/// hold a transaction across an await point of their own.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates an account (never an admin: only the operator makes one).
    /// `NameTaken` if an account holds the name, or a guest who still holds
    /// it (a live session, a ban or a mute); decided by a unique index in the
    /// same transaction, so concurrent claims give one winner.
    async fn create_account(
        &self,
        name: &Username,
        password_hash: &str,
        now: i64,
    ) -> Result<Account, StoreError>;
    /// Creates a guest. `NameTaken` on the same terms as `create_account`.
    /// With no session yet, the next claim of the name may release it: the
    /// sign-in path is `create_guest_session`, which does both at once.
    async fn create_guest(&self, name: &Username, now: i64) -> Result<User, StoreError>;
    /// Creates a guest and its session in one transaction (the connect
    /// path: one commit per sign-in, shared with whatever commits beside
    /// it). Returns the user and the session id.
    async fn create_guest_session(
        &self,
        name: &Username,
        token_hash: &[u8],
        address: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(User, i64), StoreError>;
    /// The account with this name (any case), if there is one.
    async fn find_account(&self, name: &Username) -> Result<Option<Account>, StoreError>;

    /// The user with this id.
    async fn find_user(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// The user holding this name (any case): the account, or the guest
    /// holding it, else the latest guest who had it.
    async fn find_user_by_name(&self, name: &Username) -> Result<Option<User>, StoreError>;
    /// Bans a user: no session of theirs works from now on, their name stays
    /// theirs, and the addresses of their stored sessions may not sign up
    /// new accounts or guests until `address_until` (ms; in the past: none).
    async fn ban_user(&self, id: UserId, now: i64, address_until: i64) -> Result<(), StoreError>;
    /// Lifts a ban and the address bans it made; `false` if not banned.
    async fn unban_user(&self, id: UserId) -> Result<bool, StoreError>;
    /// Whether a ban covers this address now.
    async fn address_banned(&self, address: &str, now: i64) -> Result<bool, StoreError>;
    /// Makes an account an admin or not; `false` if no such account.
    async fn set_admin(&self, id: UserId, admin: bool) -> Result<bool, StoreError>;
    /// Sets an account's password hash and ends its sessions; `false` if no
    /// such account.
    async fn set_password(&self, id: UserId, password_hash: &str) -> Result<bool, StoreError>;
    /// A user's stored sessions, by id.
    async fn sessions_of(&self, id: UserId) -> Result<Vec<SessionInfo>, StoreError>;
    /// Ends every session of a user; returns how many there were.
    async fn delete_sessions(&self, id: UserId) -> Result<u64, StoreError>;
    /// Until when `user` is muted in `room`, if they are now.
    async fn muted_until(
        &self,
        room: &RoomName,
        user: UserId,
        now: i64,
    ) -> Result<Option<i64>, StoreError>;
    /// Revocations (ended sessions, admins demoted) after the id `after`,
    /// whoever made them (this server or the command line).
    async fn revocations_after(&self, after: i64) -> Result<Vec<Revocation>, StoreError>;
    /// The id of the latest revocation (0 if none).
    async fn last_revocation(&self) -> Result<i64, StoreError>;
    /// Forgets revocations made before `before` (ms).
    async fn prune_revocations(&self, before: i64) -> Result<(), StoreError>;

    /// Stores a session by the hash of its token.
    async fn create_session(
        &self,
        user: UserId,
        token_hash: &[u8],
        address: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<i64, StoreError>;
    /// The unexpired session with this token hash, unless its user is banned.
    async fn find_session(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<Option<Session>, StoreError>;
    /// Ends a session; returns its id if it existed.
    async fn delete_session(&self, token_hash: &[u8]) -> Result<Option<i64>, StoreError>;

    /// The room with this name, created (with an empty topic) if new.
    async fn ensure_room(&self, name: &RoomName, now: i64) -> Result<Room, StoreError>;
    /// The room with this name, or `RoomNotFound`.
    async fn find_room(&self, name: &RoomName) -> Result<Room, StoreError>;
    /// A page of rooms by name, filtered by the search.
    async fn list_rooms(&self, search: &RoomSearch) -> Result<RoomPage, StoreError>;

    /// Applies the steps in order in one transaction: one commit for all.
    /// The batch takes its place in the log when this is called, not when
    /// the answer is awaited: batches appended one after another are
    /// applied in that order, so a caller can append the next batch while
    /// the previous one is still on its way to disk.
    fn append(&self, steps: Vec<Step>) -> Pending;

    /// Stores a message, unless its author already stored one with the same
    /// client id, in which case that one is returned. A batch of one.
    async fn insert_message(&self, message: NewMessage) -> Result<Inserted, StoreError> {
        match self.append(vec![Step::Send(message)]).await?.pop() {
            Some(Ok(Outcome::Sent(inserted))) => Ok(inserted),
            Some(Err(err)) => Err(err),
            _ => Err(StoreError::WriterGone),
        }
    }
    /// A page of a room's history, oldest first. `RoomNotFound` if no room.
    async fn messages(&self, room: &RoomName, page: Page) -> Result<Vec<Message>, StoreError>;

    /// The message with this id, unless deleted (with its reactions).
    async fn find_message(&self, id: MessageId) -> Result<Option<Message>, StoreError>;
    /// Deletes a message's text and hides it from history; `false` if
    /// there was no such message left.
    async fn delete_message(&self, id: MessageId, now: i64) -> Result<bool, StoreError>;

    // Message features (issue #10): each one transaction of a bounded
    // number of statements, on the pool (not the send path's writer).

    /// Replaces the text of a message by `edit.author` and the mentions it
    /// makes; `None` if they have no such message (or it is deleted).
    async fn edit_message(&self, edit: &Edit) -> Result<Option<Edited>, StoreError>;
    /// Puts a reaction on a message or takes it off; at most
    /// `MAX_REACTIONS` distinct emoji per message, decided in the same
    /// transaction.
    async fn react(&self, reaction: &NewReaction) -> Result<Reacted, StoreError>;

    /// Mutes `user` in `room` until `until` (a time in the past unmutes).
    async fn set_mute(&self, room: &RoomName, user: UserId, until: i64) -> Result<(), StoreError>;
    /// Whether the database answers now: a cheap query, for `/readyz`.
    async fn check(&self) -> Result<(), StoreError>;
    /// Flushes and closes the store; called once at shutdown.
    async fn close(&self);

    /// The pool the background sweeps run on, and the token that stops
    /// them (cancelled when the store closes).
    fn sweeps(&self) -> (SweepPool, CancellationToken);
    /// Which backend this is.
    fn backend(&self) -> Backend {
        match self.sweeps().0 {
            SweepPool::Sqlite(_) => Backend::Sqlite,
            SweepPool::Postgres(_) => Backend::Postgres,
        }
    }
    /// Removes departed guests a grace period after their last session
    /// ended, in the background, until the store closes (see `guests`).
    fn remove_guests_after(&self, grace: Duration) {
        let (pool, closing) = self.sweeps();
        tokio::spawn(guests::run(pool, grace, closing));
    }
    /// Deletes messages older than `retention` in the background, until the
    /// store closes (see `retention`).
    fn keep_messages_for(&self, retention: Duration) {
        let (pool, closing) = self.sweeps();
        tokio::spawn(retention::run(pool, retention, closing));
    }
    // --- Memberships and read state (issue #10, rooms). The same SQL on
    // both backends, on the backend's pool (`memberships.rs`).

    /// Creates a room (`room.kind` public or private) with `creator` as its
    /// first member; `RoomExists` if the name is taken.
    async fn create_room(&self, room: &Room, creator: UserId, now: i64) -> Result<(), StoreError> {
        memberships::create_room(&self.sweeps().0, room, creator, now).await
    }
    /// The direct room named after `people` (the caller among them): made
    /// with every one of them as a member if new (then `true`), else the
    /// caller is a member again.
    async fn direct_room(
        &self,
        room: &RoomName,
        people: &[UserId],
        caller: UserId,
        now: i64,
    ) -> Result<bool, StoreError> {
        memberships::direct_room(&self.sweeps().0, room, people, caller, now).await
    }
    /// Makes `user` a member of an existing room if they are not one (the
    /// join of someone new to a public room) and answers with their read
    /// state there; `RoomNotFound` if there is no such room. Through the
    /// writer: the memberships of joins that arrive together commit with
    /// the sends and sign-ins beside them, in one transaction.
    async fn join_room(
        &self,
        room: &RoomName,
        user: UserId,
        now: i64,
    ) -> Result<MyRoom, StoreError>;
    /// Makes `user` a member of an existing room; whether they were not one.
    async fn add_member(
        &self,
        room: &RoomName,
        user: UserId,
        now: i64,
    ) -> Result<bool, StoreError> {
        memberships::add_member(&self.sweeps().0, room, user, now).await
    }
    /// Ends a membership; whether there was one.
    async fn remove_member(&self, room: &RoomName, user: UserId) -> Result<bool, StoreError> {
        memberships::remove_member(&self.sweeps().0, room, user).await
    }
    /// Whether `user` is a member of the room.
    async fn is_member(&self, room: &RoomName, user: UserId) -> Result<bool, StoreError> {
        memberships::is_member(&self.sweeps().0, room, user).await
    }
    /// The user's rooms by name, with read state (at most
    /// `memberships::MY_ROOMS_MAX`).
    async fn my_rooms(&self, user: UserId) -> Result<Vec<MyRoom>, StoreError> {
        memberships::my_rooms(&self.sweeps().0, user).await
    }
    /// One of the user's rooms with read state; `None` if not a member.
    async fn my_room(&self, room: &RoomName, user: UserId) -> Result<Option<MyRoom>, StoreError> {
        memberships::my_room(&self.sweeps().0, room, user).await
    }
    /// Moves the user's read marker forward to `id` (at most the room's
    /// latest message).
    async fn mark_read(
        &self,
        room: &RoomName,
        user: UserId,
        id: MessageId,
    ) -> Result<Marked, StoreError> {
        memberships::mark_read(&self.sweeps().0, room, user, id).await
    }
    /// Stores the user's notification level; `false` if not a member.
    async fn set_notify(
        &self,
        room: &RoomName,
        user: UserId,
        level: NotifyLevel,
    ) -> Result<bool, StoreError> {
        memberships::set_notify(&self.sweeps().0, room, user, level).await
    }

    // --- end of memberships.

    /// One sweep of departed guests at `now` (what the background task
    /// does every so often).
    async fn sweep_guests(&self, now: i64, grace: Duration) -> Result<guests::Sweep, StoreError> {
        let (pool, _) = self.sweeps();
        Ok(guests::sweep(&pool, now, grace, || async { true }).await?)
    }

    // --- Bots and integrations (issue #11): personal access tokens and
    // webhooks. The same SQL on both backends, on the pool (`tokens.rs`).

    /// Stores a personal access token (a named session that lasts until
    /// revoked); `None` if the user holds `bots::MAX_TOKENS` already.
    async fn create_token(
        &self,
        token: &tokens::NewToken<'_>,
    ) -> Result<Option<crate::bots::TokenInfo>, StoreError> {
        tokens::create_token(&self.sweeps().0, token).await
    }
    /// The user's tokens, oldest first, without secrets.
    async fn tokens_of(&self, user: UserId) -> Result<Vec<crate::bots::TokenInfo>, StoreError> {
        tokens::tokens_of(&self.sweeps().0, user).await
    }
    /// Revokes one of the user's tokens (every node disconnects its
    /// sockets); whether there was one.
    async fn delete_token(&self, user: UserId, id: i64) -> Result<bool, StoreError> {
        tokens::delete_token(&self.sweeps().0, user, id).await
    }
    /// Records when a token (session `id`) was last used.
    async fn touch_token(&self, id: i64, now: i64) -> Result<(), StoreError> {
        tokens::touch_token(&self.sweeps().0, id, now).await
    }
    /// Creates a webhook and the bot user it posts as; its id, or `None` if
    /// the room has `bots::MAX_WEBHOOKS`. `RoomNotFound`, `NameTaken`.
    async fn create_webhook(
        &self,
        hook: &tokens::NewWebhook<'_>,
    ) -> Result<Option<i64>, StoreError> {
        tokens::create_webhook(&self.sweeps().0, hook).await
    }
    /// The webhook with this id.
    async fn find_webhook(&self, id: i64) -> Result<Option<crate::bots::Webhook>, StoreError> {
        tokens::find_webhook(&self.sweeps().0, id).await
    }
    /// A room's webhooks, oldest first.
    async fn webhooks_of(&self, room: &RoomName) -> Result<Vec<crate::bots::Webhook>, StoreError> {
        tokens::webhooks_of(&self.sweeps().0, room).await
    }
    /// The webhook this id and secret hash open, if it may post now.
    async fn webhook_to_post(
        &self,
        id: i64,
        secret_hash: &[u8],
    ) -> Result<Option<crate::bots::Webhook>, StoreError> {
        tokens::webhook_to_post(&self.sweeps().0, id, secret_hash).await
    }
    /// Revokes a webhook (its bot stays); whether there was one.
    async fn delete_webhook(&self, id: i64) -> Result<bool, StoreError> {
        tokens::delete_webhook(&self.sweeps().0, id).await
    }

    // --- end of bots and integrations.
    // --- Files and images (issue #11, files). The same SQL on both
    // backends, on the backend's pool (`uploads.rs`); the writers attach
    // the files to their message.

    /// When `user`'s files uploaded after `since` (ms) were, newest first,
    /// at most `limit`: the hourly count.
    async fn uploads_since(
        &self,
        user: UserId,
        since: i64,
        limit: i64,
    ) -> Result<Vec<i64>, StoreError> {
        uploads::uploads_since(&self.sweeps().0, user, since, limit).await
    }
    /// Makes the rows of an upload's files before they are stored, each
    /// waiting for its message until its `remove_after`.
    async fn reserve_attachments(&self, rows: &[uploads::Reservation]) -> Result<(), StoreError> {
        uploads::reserve(&self.sweeps().0, rows).await
    }
    /// Hands the waiting rows (an upload that made no message) to the sweep.
    async fn release_attachments(&self, ids: &[String], now: i64) -> Result<(), StoreError> {
        uploads::release(&self.sweeps().0, ids, now).await
    }
    /// The file with this id, with its room, if its message is there.
    async fn find_attachment(&self, id: &str) -> Result<Option<uploads::StoredFile>, StoreError> {
        uploads::find(&self.sweeps().0, id).await
    }
    /// Files whose time to go has come at `now`, at most `limit`.
    async fn due_attachments(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<uploads::DueFile>, StoreError> {
        uploads::due(&self.sweeps().0, now, limit).await
    }
    /// Marks files as gone from the file store.
    async fn attachments_removed(&self, ids: &[String]) -> Result<(), StoreError> {
        uploads::removed(&self.sweeps().0, ids).await
    }
    /// Deletes up to `limit` rows of removed files whose hour is over.
    async fn forget_attachments(&self, now: i64, limit: i64) -> Result<u64, StoreError> {
        uploads::forget(&self.sweeps().0, now, limit).await
    }

    // --- end of files and images.
    // --- Search (issue #11): full-text search and history around a
    // message (`search.rs`; the indexes are the `…_search.sql` migrations).

    /// The messages `reader` may read (public rooms, and the rooms they are
    /// a member of) matching `search`, newest first, at most `search.limit`,
    /// older than `search.before`, in `search.room` if given. Never a
    /// deleted message.
    async fn search_messages(
        &self,
        search: &Search,
        reader: UserId,
    ) -> Result<Vec<Message>, StoreError> {
        self.settle_search_index().await?;
        search::search(&self.sweeps().0, search, reader).await
    }
    /// Returns once every message committed before it is in the search
    /// index. SQLite indexes new messages behind the writer (`writer.rs`);
    /// PostgreSQL's index is in the row, committed with it.
    async fn settle_search_index(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// The message `id` of `room` with up to `(limit - 1) / 2` messages
    /// before it and the rest of `limit` after it, oldest first; `None` if
    /// `room` has no such message (or it is deleted).
    async fn messages_around(
        &self,
        room: &RoomName,
        id: MessageId,
        limit: i64,
    ) -> Result<Option<Vec<Message>>, StoreError> {
        let Some(target) = self.find_message(id).await? else {
            return Ok(None);
        };
        if target.room != room.as_str() {
            return Ok(None);
        }
        let older = (limit - 1) / 2;
        let newer = limit - 1 - older;
        let mut messages = Vec::new();
        if older > 0 {
            let page = Page {
                cursor: Cursor::Before(id),
                limit: older,
            };
            messages = self.messages(room, page).await?;
        }
        messages.push(target);
        if newer > 0 {
            let page = Page {
                cursor: Cursor::After(id),
                limit: newer,
            };
            messages.extend(self.messages(room, page).await?);
        }
        Ok(Some(messages))
    }

    // --- end of search.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_scheme_names_the_backend_and_an_unknown_one_is_refused_without_the_rest() {
        assert_eq!(
            Backend::of("sqlite://data/banter.db").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(Backend::of("sqlite::memory:").ok(), Some(Backend::Sqlite));
        assert_eq!(
            Backend::of("postgres://u@h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::of("postgresql://u@h/db").ok(),
            Some(Backend::Postgres)
        );
        let refused = Backend::of("mysql://root:hunter2@db/banter").map(|_| ());
        let Err(err) = refused else {
            panic!("mysql is not a backend");
        };
        let shown = err.to_string();
        assert!(shown.contains("\"mysql\""), "{shown}");
        assert!(!shown.contains("hunter2"), "the password leaked: {shown}");
        assert!(Backend::of("data/banter.db").is_err());
    }
}
