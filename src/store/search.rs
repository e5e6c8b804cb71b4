//! Full-text search (issue #11): the messages a reader may see whose text
//! matches a parsed query, newest first. SQLite asks its FTS5 index
//! (`messages_fts`), PostgreSQL its GIN-indexed `search` tsvector.
//! PostgreSQL's is generated in the row, in the send's transaction.
//! SQLite's takes new messages in batches behind the writer, within about
//! 250 ms of the send and before every search (`Store::search_messages`
//! settles it first, `writer.rs`), and edits and deletes of indexed ones by
//! trigger (the `…_search.sql` and `…_search_behind.sql` migrations).
//!
//! What a reader may see is decided here, in the same statement as the
//! match: public rooms, and the rooms (private, direct) they are a member
//! of. Deleted messages are never found (their text is blanked, and
//! `deleted_at` is checked besides).
//!
//! Only `SearchQuery::fts5` and `SearchQuery::tsquery` reach `MATCH` and
//! `to_tsquery`, as bound parameters: never the text a user typed.
//!
//! PostgreSQL's planner guesses how many rows a tsquery matches from its
//! statistics, and guesses badly for words it has no figure for (rare or
//! absent ones); so a cheap bounded look at the index decides first between the two
//! plans that suit many matches and few (docs/benchmarks.md, Search).

use super::StoreError;
use super::shared::MessageRow;
use super::sweeps::SweepPool;
use crate::messages::Message;
use crate::search::Search;
use crate::users::UserId;

/// SQLite: the index is the outer loop (`CROSS JOIN` keeps SQLite's
/// planner from turning it around), read backwards by rowid = message id,
/// so the newest matches come first and the scan stops at the limit.
/// `$1` the MATCH expression, `$2` the cursor, `$3` a room or NULL, `$4` the
/// reader, `$5` the limit.
const SQLITE_SEARCH: &str = "SELECT m.id, r.name AS room, u.id AS author_id, u.name AS author_name, \
     (u.password_hash IS NULL) AS author_guest, m.text, m.created_at, m.client_id, \
     m.edited_at, m.reply_to, m.mentions_room, u.is_bot AS author_bot \
     FROM messages_fts f CROSS JOIN messages m ON m.id = f.rowid \
     JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.author_id \
     WHERE messages_fts MATCH $1 AND f.rowid < $2 AND m.deleted_at IS NULL \
     AND ($3 IS NULL OR r.name = $3) \
     AND (r.kind = 'public' OR EXISTS (SELECT 1 FROM memberships ms \
          WHERE ms.room_id = m.room_id AND ms.user_id = $4)) \
     ORDER BY f.rowid DESC LIMIT $5";

/// PostgreSQL: the same question of the `search` column, for a query with
/// many matches (`PG_PROBE` found `PG_PROBE_ROWS`): the planner
/// reads the primary key backwards, filtered, and stops after `$5`.
const PG_SEARCH_COMMON: &str = "SELECT m.id, r.name AS room, u.id AS author_id, u.name AS author_name, \
     (u.password_hash IS NULL) AS author_guest, m.text, m.created_at, m.client_id, \
     m.edited_at, m.reply_to, m.mentions_room, u.is_bot AS author_bot \
     FROM messages m JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.author_id \
     WHERE m.search @@ to_tsquery('simple', $1) AND m.id < $2 AND m.deleted_at IS NULL \
     AND ($3::text IS NULL OR r.name = $3::text) \
     AND (r.kind = 'public' OR EXISTS (SELECT 1 FROM memberships ms \
          WHERE ms.room_id = m.room_id AND ms.user_id = $4)) \
     ORDER BY m.id DESC LIMIT $5";

/// The same for a query with few matches, whose ids `PG_PROBE` has all
/// found (`$1`, an array) in the GIN index: they are sorted here. Without
/// this, a word with no or few matches (whose frequency the statistics do
/// not know) is looked for by reading the whole table backwards: half a
/// second in a million messages.
const PG_SEARCH_RARE: &str = "SELECT m.id, r.name AS room, u.id AS author_id, u.name AS author_name, \
     (u.password_hash IS NULL) AS author_guest, m.text, m.created_at, m.client_id, \
     m.edited_at, m.reply_to, m.mentions_room, u.is_bot AS author_bot \
     FROM messages m JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.author_id \
     WHERE m.id = ANY($1) AND m.id < $2 AND m.deleted_at IS NULL \
     AND ($3::text IS NULL OR r.name = $3::text) \
     AND (r.kind = 'public' OR EXISTS (SELECT 1 FROM memberships ms \
          WHERE ms.room_id = m.room_id AND ms.user_id = $4)) \
     ORDER BY m.id DESC LIMIT $5";

/// The ids of the matches, up to `$3`, in no order: with a `LIMIT` and no
/// `ORDER BY` either plan stops early (a scan meets common words soon; the
/// GIN index holds few entries for rare ones).
const PG_PROBE: &str = "SELECT id FROM messages \
     WHERE search @@ to_tsquery('simple', $1) AND id < $2 AND deleted_at IS NULL LIMIT $3";

/// From this many matches on a query counts as common (`PG_SEARCH_COMMON`).
const PG_PROBE_ROWS: i64 = 1000;

/// The messages `reader` may see that match `search`, newest first, with
/// their mentions and reactions.
pub async fn search(
    pool: &SweepPool,
    search: &Search,
    reader: UserId,
) -> Result<Vec<Message>, StoreError> {
    let before = search.before.unwrap_or(i64::MAX);
    let room = search.room.as_ref().map(|r| r.as_str().to_owned());
    // The same code for either pool (the types differ, the text does not).
    macro_rules! fetch {
        ($pool:expr, $sql:expr, $first:expr) => {
            sqlx::query_as::<_, MessageRow>($sql)
                .bind($first)
                .bind(before)
                .bind(&room)
                .bind(reader)
                .bind(search.limit)
                .fetch_all($pool)
                .await?
        };
    }
    let rows = match pool {
        SweepPool::Sqlite(pool) => fetch!(pool, SQLITE_SEARCH, search.query.fts5()),
        SweepPool::Postgres(pool) => {
            let expression = search.query.tsquery();
            let ids: Vec<i64> = sqlx::query_scalar(PG_PROBE)
                .bind(&expression)
                .bind(before)
                .bind(PG_PROBE_ROWS)
                .fetch_all(pool)
                .await?;
            if i64::try_from(ids.len()).unwrap_or(i64::MAX) >= PG_PROBE_ROWS {
                fetch!(pool, PG_SEARCH_COMMON, &expression)
            } else {
                fetch!(pool, PG_SEARCH_RARE, &ids)
            }
        }
    };
    let mut messages: Vec<Message> = rows.into_iter().map(Message::from).collect();
    match pool {
        SweepPool::Sqlite(pool) => {
            super::message_extras::sqlite::decorate(pool, &mut messages).await?
        }
        SweepPool::Postgres(pool) => {
            super::message_extras::postgres::decorate(pool, &mut messages).await?
        }
    }
    Ok(messages)
}
