//! Moving a single-node SQLite install to PostgreSQL (`banter
//! migrate-data`): every table row for row, ids and all, then the id
//! sequences and each room's `last_message_id`, so that a server started on
//! the target goes on where the old one stopped: the same accounts
//! (password hashes), sessions (token hashes), moderation and history, and
//! new ids after every id the old one ever handed out.
//!
//! Why a run can be repeated, or resumed after it was killed:
//! - The source is opened read-only and read in one read transaction: what
//!   is copied is the database as of one commit. If it changed meanwhile (a
//!   server still writing it), the run fails at the end and says so.
//! - Before anything is written, every row the target already holds is
//!   compared with the source's row of the same key. A row the source does
//!   not have, or one that differs, means the target holds another
//!   install's data (or the source changed since an earlier run): the run
//!   is refused with nothing written, so two installs are never merged.
//! - Then each table is copied in key order, in batches, each batch in one
//!   PostgreSQL transaction (`INSERT … ON CONFLICT DO NOTHING`): what has
//!   committed is a prefix of each table, and a run after an interruption
//!   finds it (by the check above) and copies the rest.
//! - Sequences only ever move up, to the highest id the source used (its
//!   largest id or SQLite's AUTOINCREMENT high-water mark, whichever is
//!   more), and `last_message_id` is computed from the messages: doing
//!   either again changes nothing.
//!
//! The statements are built from one list of tables and columns rather than
//! written out per table: the same five shapes (a page by id, a range, a
//! count, everything, an insert) for every table, and one list to keep in
//! step with the migrations (a test checks it against the SQLite schema).
//! Their text is the same on both backends: sqlx's SQLite driver reads
//! `$n` as `?n`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Postgres, QueryBuilder};

use super::{Backend, StoreError};

/// Rows per batch (and per transaction on the target). Under PostgreSQL's
/// 65,535 parameters for the widest table (users: 11 columns).
pub const BATCH: usize = 1000;

/// How long the source waits for a lock before giving up.
const BUSY: Duration = Duration::from_secs(5);

/// Why a move failed. Nothing is half-written: each batch is one
/// transaction, and the checks run before the first write.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// `--from` is not a SQLite URL (only the scheme is shown).
    #[error("--from must be a SQLite URL (sqlite:///path/banter.db), not {0}:…")]
    SourceNotSqlite(String),
    /// `--to` is not a PostgreSQL URL (only the scheme is shown).
    #[error("--to must be a PostgreSQL URL (postgres://user@host/db), not {0}:…")]
    TargetNotPostgres(String),
    /// A URL could not be parsed (or names no backend).
    #[error("{which} is not a valid database URL")]
    Url {
        which: &'static str,
        #[source]
        source: StoreError,
    },
    /// The SQLite file cannot be opened (missing, or not readable).
    #[error("cannot open the source database {path} (is the path right?)")]
    OpenSource {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    /// The source has no migrations table: not a Banter database.
    #[error("{0} is not a Banter database (it has no migrations table)")]
    NotBanter(PathBuf),
    /// The source was written by another version of Banter.
    #[error(
        "the source database is at migration {found} but this banter expects {expected}: \
         run this version of banter on it once (it migrates at start), stop it, and try again \
         (or use the banter version that wrote it)"
    )]
    SourceVersion { found: i64, expected: i64 },
    /// Reading the source failed.
    #[error("reading the source database failed")]
    Source(#[source] sqlx::Error),
    /// Connecting to or migrating the target failed.
    #[error("cannot prepare the target database")]
    Prepare(#[source] StoreError),
    /// Reading or writing the target failed.
    #[error("writing the target database failed (table {table})")]
    Target {
        table: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// The target holds a row the source does not.
    #[error(
        "the target already holds data that is not from this source: {table} row {key} is not in it. \
         Refusing to merge two installs: migrate into an empty database or schema \
         (if this source changed since an earlier run, drop the target's tables and start over)"
    )]
    Foreign { table: &'static str, key: String },
    /// The target holds a row of the same key with other values.
    #[error(
        "the target already holds data that is not from this source: {table} row {key} differs \
         in {column}. Refusing to merge two installs: migrate into an empty database or schema \
         (if this source changed since an earlier run, drop the target's tables and start over)"
    )]
    Conflict {
        table: &'static str,
        key: String,
        column: &'static str,
    },
    /// A batch inserted fewer rows than the check promised: something else
    /// is writing the target.
    #[error(
        "a batch of {table} conflicted with rows written meanwhile: is something else (a server?) \
         writing the target? Nothing of that batch was written"
    )]
    Raced { table: &'static str },
    /// The source changed while it was read.
    #[error(
        "the source database changed while it was copied: is a server still running on it? \
         The target holds the source as it was when the run began: stop the server \
         (or migrate from a `banter backup` copy) and run again, which copies what is new \
         (or, if the server changed rows already copied, refuses: then start over on an empty target)"
    )]
    SourceChanged,
}

/// How a column is read and written. SQLite keeps `is_admin` as 0 or 1,
/// PostgreSQL as a boolean; sqlx reads either as a `bool`.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Int,
    Bool,
    Text,
    Bytes,
}

/// One value of a row, typed, so that a NULL binds as its column's type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Value {
    Int(Option<i64>),
    Bool(Option<bool>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

type Row = Vec<Value>;

/// How a table is walked.
#[derive(Debug, Clone, Copy)]
enum Key {
    /// By its integer `id` (the first column), in batches; it has an
    /// identity sequence on the target.
    Id,
    /// By its first `n` columns, whole (a row per muted or banned user: a
    /// table small enough for one transaction).
    Whole(usize),
}

/// A table and its columns, as in both migration sets.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    columns: &'static [(&'static str, Kind)],
    key: Key,
}

use Kind::{Bool, Bytes, Int, Text};

/// Every table Banter keeps, parents before children.
pub const TABLES: &[Table] = &[
    Table {
        name: "users",
        columns: &[
            ("id", Int),
            ("name", Text),
            ("name_key", Text),
            ("password_hash", Text),
            ("created_at", Int),
            ("is_admin", Bool),
            ("banned_at", Int),
            ("name_hold", Text),
            ("left_at", Int),
            ("removed_at", Int),
            ("is_bot", Bool),
        ],
        key: Key::Id,
    },
    Table {
        name: "sessions",
        columns: &[
            ("id", Int),
            ("token_hash", Bytes),
            ("user_id", Int),
            ("created_at", Int),
            ("expires_at", Int),
            ("address", Text),
            ("token_name", Text),
            ("last_used_at", Int),
        ],
        key: Key::Id,
    },
    Table {
        name: "rooms",
        columns: &[
            ("id", Int),
            ("name", Text),
            ("topic", Text),
            ("created_at", Int),
            ("kind", Text),
        ],
        key: Key::Id,
    },
    Table {
        name: "memberships",
        columns: &[
            ("room_id", Int),
            ("user_id", Int),
            ("joined_at", Int),
            ("last_read", Int),
            ("notify", Text),
        ],
        key: Key::Whole(2),
    },
    Table {
        name: "mutes",
        columns: &[("room_id", Int), ("user_id", Int), ("until", Int)],
        key: Key::Whole(2),
    },
    Table {
        name: "address_bans",
        columns: &[("address", Text), ("user_id", Int), ("until", Int)],
        key: Key::Whole(2),
    },
    Table {
        name: "revocations",
        columns: &[
            ("id", Int),
            ("session_id", Int),
            ("user_id", Int),
            ("at", Int),
        ],
        key: Key::Id,
    },
    Table {
        name: "messages",
        columns: &[
            ("id", Int),
            ("room_id", Int),
            ("author_id", Int),
            ("text", Text),
            ("client_id", Text),
            ("created_at", Int),
            ("deleted_at", Int),
            ("edited_at", Int),
            ("reply_to", Int),
            ("mentions_room", Bool),
        ],
        key: Key::Id,
    },
    Table {
        name: "message_mentions",
        columns: &[("message_id", Int), ("user_id", Int)],
        key: Key::Whole(2),
    },
    Table {
        name: "reactions",
        columns: &[
            ("message_id", Int),
            ("user_id", Int),
            ("emoji", Text),
            ("created_at", Int),
        ],
        key: Key::Whole(3),
    },
    // Bots and integrations (issue #11).
    Table {
        name: "webhooks",
        columns: &[
            ("id", Int),
            ("room_id", Int),
            ("bot_id", Int),
            ("creator_id", Int),
            ("secret_hash", Bytes),
            ("created_at", Int),
        ],
        key: Key::Id,
    },
    // Files and images (issue #11): the rows only; the files themselves
    // are in the files directory, which moves by itself (docs/operations.md).
    Table {
        name: "attachments",
        columns: &[
            ("id", Text),
            ("message_id", Int),
            ("position", Int),
            ("uploader_id", Int),
            ("name", Text),
            ("size", Int),
            ("mime", Text),
            ("width", Int),
            ("height", Int),
            ("thumb", Text),
            ("created_at", Int),
            ("remove_after", Int),
            ("removed", Bool),
        ],
        key: Key::Whole(1),
    },
];

/// The statements for one table (the same text on both backends).
struct Statements {
    /// `$1`: after this id; `$2`: at most this many rows.
    page: String,
    /// `$1` < id <= `$2`.
    range: String,
    /// Rows with `$1` < id <= `$2`.
    count_range: String,
    /// Every row, in key order.
    all: String,
    count: String,
    /// `INSERT INTO t (columns) `: the values follow.
    insert: String,
}

impl Table {
    fn column_list(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|(name, _)| *name).collect();
        names.join(", ")
    }

    fn key_len(&self) -> usize {
        match self.key {
            Key::Id => 1,
            Key::Whole(n) => n,
        }
    }

    fn statements(&self) -> Statements {
        let (t, cols) = (self.name, self.column_list());
        let order: Vec<&str> = self.columns[..self.key_len()]
            .iter()
            .map(|(name, _)| *name)
            .collect();
        let order = order.join(", ");
        Statements {
            page: format!("SELECT {cols} FROM {t} WHERE id > $1 ORDER BY id LIMIT $2"),
            range: format!("SELECT {cols} FROM {t} WHERE id > $1 AND id <= $2 ORDER BY id"),
            count_range: format!("SELECT count(*) FROM {t} WHERE id > $1 AND id <= $2"),
            all: format!("SELECT {cols} FROM {t} ORDER BY {order}"),
            count: format!("SELECT count(*) FROM {t}"),
            insert: format!("INSERT INTO {t} ({cols}) "),
        }
    }

    /// The key of a row, for messages.
    fn show_key(&self, row: &Row) -> String {
        let mut out = String::new();
        for ((name, _), value) in self.columns.iter().zip(&row[..self.key_len()]) {
            if !out.is_empty() {
                out.push_str(", ");
            }
            let _ = match value {
                Value::Int(Some(v)) => write!(out, "{name} {v}"),
                Value::Text(Some(v)) => write!(out, "{name} {v:?}"),
                _ => write!(out, "{name} ?"),
            };
        }
        out
    }
}

/// The `id` of a row of a `Key::Id` table.
fn id_of(row: &Row) -> i64 {
    match row.first() {
        Some(Value::Int(Some(id))) => *id,
        _ => i64::MIN,
    }
}

/// A row as its table's columns say, from either backend.
fn decode<'r, R>(row: &'r R, columns: &[(&str, Kind)]) -> Result<Row, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<bool>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<Vec<u8>>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            Ok(match kind {
                Int => Value::Int(row.try_get(i)?),
                Bool => Value::Bool(row.try_get(i)?),
                Text => Value::Text(row.try_get(i)?),
                Bytes => Value::Bytes(row.try_get(i)?),
            })
        })
        .collect()
}

/// Where a move goes, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// For tests: how long each batch waits inside its transaction before
    /// its commit (a window to kill the run in).
    pub pause: Option<Duration>,
}

/// What the run reports as it goes.
#[derive(Debug, Clone)]
pub enum Event {
    /// The target is migrated.
    Prepared,
    /// The rows the target held already are the source's.
    Checked { table: &'static str, present: u64 },
    /// A batch committed: `done` of the table's `total` rows are there now.
    Batch {
        table: &'static str,
        done: u64,
        total: u64,
    },
}

/// What happened to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub table: &'static str,
    /// Rows in the source.
    pub source: u64,
    /// Of those, rows the target held before this run.
    pub present: u64,
    /// Rows this run copied.
    pub moved: u64,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub tables: Vec<Moved>,
    /// Sequences moved up: the table and the last id now taken.
    pub sequences: Vec<(&'static str, i64)>,
    /// Rooms whose `last_message_id` was set.
    pub last_message_ids: u64,
}

impl Summary {
    /// Whether the run changed anything in the target.
    pub fn changed(&self) -> bool {
        self.tables.iter().any(|t| t.moved > 0)
            || !self.sequences.is_empty()
            || self.last_message_ids > 0
    }

    pub fn moved(&self) -> u64 {
        self.tables.iter().map(|t| t.moved).sum()
    }
}

/// The source file and the target, as the URLs name them.
pub struct Endpoints {
    pub source: SqliteConnectOptions,
    pub target: PgConnectOptions,
}

impl Endpoints {
    /// Parses `--from` (SQLite) and `--to` (PostgreSQL), in the forms the
    /// server's `--database-url` takes.
    pub fn parse(from: &str, to: &str) -> Result<Self, TransferError> {
        let url = |which, source| TransferError::Url { which, source };
        if Backend::of(from).map_err(|e| url("--from", e))? != Backend::Sqlite {
            return Err(TransferError::SourceNotSqlite(scheme(from)));
        }
        if Backend::of(to).map_err(|e| url("--to", e))? != Backend::Postgres {
            return Err(TransferError::TargetNotPostgres(scheme(to)));
        }
        let source = SqliteConnectOptions::from_str(from)
            .map_err(|e| url("--from", e.into()))?
            .read_only(true)
            .create_if_missing(false)
            .busy_timeout(BUSY);
        let target = PgConnectOptions::from_str(to).map_err(|e| url("--to", e.into()))?;
        Ok(Self { source, target })
    }
}

fn scheme(url: &str) -> String {
    url.split_once(':')
        .map_or("", |(scheme, _)| scheme)
        .chars()
        .take(32)
        .collect()
}

/// Moves the source into the target; see the module's notes.
pub async fn run(
    endpoints: Endpoints,
    options: Options,
    report: &mut (dyn FnMut(Event) + Send),
) -> Result<Summary, TransferError> {
    let mut source = open_source(&endpoints.source).await?;
    let before = data_version(&mut source).await?;
    let mut target = prepare_target(&endpoints.target).await?;
    report(Event::Prepared);
    let mut snapshot = source.begin().await.map_err(TransferError::Source)?;
    let mut mover = Mover {
        source: &mut snapshot,
        target: &mut target,
        pause: options.pause,
    };
    let summary = mover.all(report).await;
    snapshot.commit().await.map_err(TransferError::Source)?;
    let _ = target.close().await;
    let summary = summary?;
    if data_version(&mut source).await? != before {
        return Err(TransferError::SourceChanged);
    }
    let _ = source.close().await;
    Ok(summary)
}

/// Opens the SQLite file read-only and checks it is a Banter database of
/// this version.
async fn open_source(options: &SqliteConnectOptions) -> Result<SqliteConnection, TransferError> {
    let path = options.get_filename().to_path_buf();
    let mut conn = SqliteConnection::connect_with(options)
        .await
        .map_err(|source| TransferError::OpenSource {
            path: path.clone(),
            source,
        })?;
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .map_err(|err| match err {
                sqlx::Error::Database(_) => TransferError::NotBanter(path.clone()),
                other => TransferError::OpenSource {
                    path: path.clone(),
                    source: other,
                },
            })?;
    let known: Vec<i64> = sqlx::migrate!("./migrations/sqlite")
        .iter()
        .map(|m| m.version)
        .collect();
    if applied != known {
        return Err(TransferError::SourceVersion {
            found: applied.last().copied().unwrap_or(0),
            expected: known.last().copied().unwrap_or(0),
        });
    }
    Ok(conn)
}

/// SQLite's count of commits by other connections: it moves if anyone
/// writes the file while this run reads it.
async fn data_version(conn: &mut SqliteConnection) -> Result<i64, TransferError> {
    sqlx::query_scalar("PRAGMA data_version")
        .fetch_one(conn)
        .await
        .map_err(TransferError::Source)
}

/// Connects to the target and applies its migrations.
async fn prepare_target(options: &PgConnectOptions) -> Result<PgConnection, TransferError> {
    let mut conn = PgConnection::connect_with(options)
        .await
        .map_err(|e| TransferError::Prepare(e.into()))?;
    super::postgres::migrate(&mut conn)
        .await
        .map_err(TransferError::Prepare)?;
    Ok(conn)
}

/// One run's two connections: the source inside its read transaction.
struct Mover<'a> {
    source: &'a mut SqliteConnection,
    target: &'a mut PgConnection,
    pause: Option<Duration>,
}

impl Mover<'_> {
    async fn all(
        &mut self,
        report: &mut (dyn FnMut(Event) + Send),
    ) -> Result<Summary, TransferError> {
        let mut present = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let held = self.check(table).await?;
            report(Event::Checked {
                table: table.name,
                present: held,
            });
            present.push(held);
        }
        let mut summary = Summary::default();
        for (table, present) in TABLES.iter().zip(present) {
            let (source, moved) = self.copy(table, report).await?;
            summary.tables.push(Moved {
                table: table.name,
                source,
                present,
                moved,
            });
        }
        for table in TABLES.iter().filter(|t| matches!(t.key, Key::Id)) {
            if let Some(to) = self.advance_sequence(table).await? {
                summary.sequences.push((table.name, to));
            }
        }
        summary.last_message_ids = self.set_last_message_ids().await?;
        Ok(summary)
    }

    /// Fails unless every row the target holds is the source's row of the
    /// same key; how many it holds.
    async fn check(&mut self, table: &'static Table) -> Result<u64, TransferError> {
        let sql = table.statements();
        if let Key::Whole(_) = table.key {
            let held = self.target_rows(table, &sql.all, &[]).await?;
            let source = self.source_rows(table, &sql.all, &[]).await?;
            compare(table, &source, &held)?;
            return Ok(held.len() as u64);
        }
        let (mut after, mut count) = (i64::MIN, 0);
        loop {
            let held = self
                .target_rows(table, &sql.page, &[after, BATCH as i64])
                .await?;
            let Some(last) = held.last().map(id_of) else {
                return Ok(count);
            };
            let source = self.source_rows(table, &sql.range, &[after, last]).await?;
            compare(table, &source, &held)?;
            count += held.len() as u64;
            after = last;
        }
    }

    /// Copies what the target lacks, batch by batch; the source's row
    /// count and how many rows were copied.
    async fn copy(
        &mut self,
        table: &'static Table,
        report: &mut (dyn FnMut(Event) + Send),
    ) -> Result<(u64, u64), TransferError> {
        let sql = table.statements();
        let total = self.source_count(&sql.count).await?;
        if let Key::Whole(_) = table.key {
            let rows = self.source_rows(table, &sql.all, &[]).await?;
            let held = self.target_count(table, &sql.count, &[]).await?;
            let moved = self.insert(table, &sql.insert, &rows, held).await?;
            if moved > 0 {
                report(Event::Batch {
                    table: table.name,
                    done: total,
                    total,
                });
            }
            return Ok((total, moved));
        }
        let (mut after, mut done, mut moved) = (i64::MIN, 0, 0);
        loop {
            let rows = self
                .source_rows(table, &sql.page, &[after, BATCH as i64])
                .await?;
            let Some(last) = rows.last().map(id_of) else {
                return Ok((total, moved));
            };
            let held = self
                .target_count(table, &sql.count_range, &[after, last])
                .await?;
            let copied = self.insert(table, &sql.insert, &rows, held).await?;
            done += rows.len() as u64;
            if copied > 0 {
                moved += copied;
                report(Event::Batch {
                    table: table.name,
                    done,
                    total,
                });
            }
            after = last;
        }
    }

    /// Inserts the rows the target lacks (it holds `held` of them, checked
    /// equal) in one transaction; how many were inserted.
    async fn insert(
        &mut self,
        table: &'static Table,
        head: &str,
        rows: &[Row],
        held: u64,
    ) -> Result<u64, TransferError> {
        let missing = (rows.len() as u64).saturating_sub(held);
        if missing == 0 {
            return Ok(0);
        }
        let failed = |source| TransferError::Target {
            table: table.name,
            source,
        };
        let mut query = QueryBuilder::<Postgres>::new(head);
        query.push_values(rows, |mut values, row| {
            for value in row {
                match value.clone() {
                    Value::Int(v) => values.push_bind(v),
                    Value::Bool(v) => values.push_bind(v),
                    Value::Text(v) => values.push_bind(v),
                    Value::Bytes(v) => values.push_bind(v),
                };
            }
        });
        query.push(" ON CONFLICT DO NOTHING");
        let mut tx = self.target.begin().await.map_err(failed)?;
        let inserted = query
            .build()
            .execute(&mut *tx)
            .await
            .map_err(failed)?
            .rows_affected();
        if inserted != missing {
            let _ = tx.rollback().await;
            return Err(TransferError::Raced { table: table.name });
        }
        if let Some(pause) = self.pause {
            tokio::time::sleep(pause).await;
        }
        tx.commit().await.map_err(failed)?;
        Ok(inserted)
    }

    /// Moves the table's identity sequence up to the highest id the source
    /// ever used (its largest id, or SQLite's AUTOINCREMENT high-water mark
    /// for an id since deleted), never down; the new value if it moved.
    async fn advance_sequence(
        &mut self,
        table: &'static Table,
    ) -> Result<Option<i64>, TransferError> {
        let largest: i64 =
            sqlx::query_scalar(&format!("SELECT coalesce(max(id), 0) FROM {}", table.name))
                .fetch_one(&mut *self.source)
                .await
                .map_err(TransferError::Source)?;
        let mark: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = $1")
                .bind(table.name)
                .fetch_optional(&mut *self.source)
                .await
                .map_err(TransferError::Source)?;
        let high = largest.max(mark.unwrap_or(0));
        let failed = |source| TransferError::Target {
            table: table.name,
            source,
        };
        let current: Option<i64> = sqlx::query_scalar(
            "SELECT pg_sequence_last_value(pg_get_serial_sequence($1, 'id')::regclass)",
        )
        .bind(table.name)
        .fetch_one(&mut *self.target)
        .await
        .map_err(failed)?;
        if high <= current.unwrap_or(0) {
            return Ok(None);
        }
        sqlx::query("SELECT setval(pg_get_serial_sequence($1, 'id'), $2)")
            .bind(table.name)
            .bind(high)
            .execute(&mut *self.target)
            .await
            .map_err(failed)?;
        Ok(Some(high))
    }

    /// Sets each room's `last_message_id` to its latest message's id (0 if
    /// none), as the PostgreSQL writer keeps it: the `prev` of the room's
    /// next message. How many rooms changed.
    async fn set_last_message_ids(&mut self) -> Result<u64, TransferError> {
        let done = sqlx::query(
            "UPDATE rooms SET last_message_id = latest.id \
             FROM (SELECT r.id AS room, coalesce(max(m.id), 0) AS id \
                   FROM rooms r LEFT JOIN messages m ON m.room_id = r.id GROUP BY r.id) latest \
             WHERE rooms.id = latest.room AND rooms.last_message_id <> latest.id",
        )
        .execute(&mut *self.target)
        .await
        .map_err(|source| TransferError::Target {
            table: "rooms",
            source,
        })?;
        Ok(done.rows_affected())
    }

    async fn source_rows(
        &mut self,
        table: &Table,
        sql: &str,
        params: &[i64],
    ) -> Result<Vec<Row>, TransferError> {
        let mut query = sqlx::query(sql);
        for param in params {
            query = query.bind(*param);
        }
        let rows = query
            .fetch_all(&mut *self.source)
            .await
            .map_err(TransferError::Source)?;
        rows.iter()
            .map(|row| decode(row, table.columns))
            .collect::<Result<_, _>>()
            .map_err(TransferError::Source)
    }

    async fn target_rows(
        &mut self,
        table: &'static Table,
        sql: &str,
        params: &[i64],
    ) -> Result<Vec<Row>, TransferError> {
        let failed = |source| TransferError::Target {
            table: table.name,
            source,
        };
        let mut query = sqlx::query(sql);
        for param in params {
            query = query.bind(*param);
        }
        let rows = query.fetch_all(&mut *self.target).await.map_err(failed)?;
        rows.iter()
            .map(|row| decode(row, table.columns))
            .collect::<Result<_, _>>()
            .map_err(failed)
    }

    async fn source_count(&mut self, sql: &str) -> Result<u64, TransferError> {
        let count: i64 = sqlx::query_scalar(sql)
            .fetch_one(&mut *self.source)
            .await
            .map_err(TransferError::Source)?;
        Ok(count.max(0) as u64)
    }

    async fn target_count(
        &mut self,
        table: &'static Table,
        sql: &str,
        params: &[i64],
    ) -> Result<u64, TransferError> {
        let mut query = sqlx::query_scalar(sql);
        for param in params {
            query = query.bind(*param);
        }
        let count: i64 =
            query
                .fetch_one(&mut *self.target)
                .await
                .map_err(|source| TransferError::Target {
                    table: table.name,
                    source,
                })?;
        Ok(count.max(0) as u64)
    }
}

/// Fails unless every row `held` by the target is the source's row of the
/// same key.
fn compare(table: &'static Table, source: &[Row], held: &[Row]) -> Result<(), TransferError> {
    let n = table.key_len();
    let by_key: HashMap<&[Value], &Row> = source.iter().map(|row| (&row[..n], row)).collect();
    for row in held {
        let Some(theirs) = by_key.get(&row[..n]) else {
            return Err(TransferError::Foreign {
                table: table.name,
                key: table.show_key(row),
            });
        };
        if let Some(i) = (0..row.len()).find(|&i| row[i] != theirs[i]) {
            return Err(TransferError::Conflict {
                table: table.name,
                key: table.show_key(row),
                column: table.columns[i].0,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tables and columns of a freshly migrated SQLite database.
    async fn sqlite_schema() -> Vec<(String, Vec<String>)> {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut conn)
            .await
            .unwrap();
        // The search index (`messages_fts` and its shadow tables, and
        // `search_indexed`, how far it has gone) is not moved: PostgreSQL
        // derives its own from the text.
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT IN ('sqlite_sequence', '_sqlx_migrations', 'search_indexed') \
             AND name NOT LIKE 'messages\\_fts%' ESCAPE '\\' ORDER BY name",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let mut schema = Vec::new();
        for table in tables {
            let columns: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
                    .bind(&table)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            schema.push((table, columns));
        }
        schema
    }

    #[tokio::test]
    async fn every_table_and_column_of_the_sqlite_schema_is_moved() {
        let mut listed: Vec<(String, Vec<String>)> = TABLES
            .iter()
            .map(|t| {
                let mut columns: Vec<String> =
                    t.columns.iter().map(|(c, _)| (*c).to_owned()).collect();
                columns.sort();
                (t.name.to_owned(), columns)
            })
            .collect();
        listed.sort();
        let mut schema = sqlite_schema().await;
        for (_, columns) in &mut schema {
            columns.sort();
        }
        assert_eq!(listed, schema);
    }

    #[test]
    fn a_url_of_the_wrong_kind_is_refused_by_its_scheme_only() {
        let err = Endpoints::parse("postgres://u:secret@h/db", "postgres://h/db")
            .err()
            .unwrap();
        assert!(matches!(err, TransferError::SourceNotSqlite(ref s) if s == "postgres"));
        assert!(!err.to_string().contains("secret"));
        let err = Endpoints::parse("sqlite:///x/banter.db", "sqlite:///y.db")
            .err()
            .unwrap();
        assert!(matches!(err, TransferError::TargetNotPostgres(_)));
        let err = Endpoints::parse("mysql://root:pw@h/db", "postgres://h/db")
            .err()
            .unwrap();
        assert!(matches!(
            err,
            TransferError::Url {
                which: "--from",
                ..
            }
        ));
    }

    fn users_row(id: i64, name: &str) -> Row {
        let table = &TABLES[0];
        table
            .columns
            .iter()
            .map(|(column, kind)| match (column, kind) {
                (&"id", _) => Value::Int(Some(id)),
                (&"name", _) => Value::Text(Some(name.to_owned())),
                (_, Int) => Value::Int(None),
                (_, Bool) => Value::Bool(Some(false)),
                (_, Text) => Value::Text(None),
                (_, Bytes) => Value::Bytes(None),
            })
            .collect()
    }

    #[test]
    fn rows_the_source_lacks_or_holds_otherwise_are_refused() {
        let users = &TABLES[0];
        let source = vec![users_row(1, "alice"), users_row(2, "bob")];
        assert!(compare(users, &source, &[users_row(2, "bob")]).is_ok());
        assert!(matches!(
            compare(users, &source, &[users_row(3, "carol")]),
            Err(TransferError::Foreign { table: "users", ref key }) if key == "id 3"
        ));
        assert!(matches!(
            compare(users, &source, &[users_row(1, "mallory")]),
            Err(TransferError::Conflict { column: "name", .. })
        ));
    }
}
