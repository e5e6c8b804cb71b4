//! Memberships and read state (issue #10): who belongs to which room, each
//! member's read marker and notification level, and the unread and mention
//! counts that follow from them.
//!
//! The statements are the same text on both backends (`$n` parameters,
//! which sqlx's SQLite driver reads as `?n` and rusqlite binds by name),
//! run on the backend's pool, but for those of every join: a new
//! membership is made in the writer (`Request::Member`) and, on SQLite, an
//! existing one read through the reader. None of them is on the send path. Counts stop at `COUNT_CAP`, each a
//! range of the `messages_room (room_id, id)` index after the marker, so a
//! count costs the same however long the room's history is.

use sqlx::FromRow;

use super::StoreError;
use super::sweeps::SweepPool;
use crate::messages::MessageId;
use crate::rooms::{COUNT_CAP, MyRoom, NotifyLevel, ReadState, Room, RoomKind, RoomName};
use crate::users::UserId;

/// The same code for either pool (the types differ, the text does not).
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            SweepPool::Sqlite($p) => $body,
            SweepPool::Postgres($p) => $body,
        }
    };
}

/// A member's rooms with their read state; a statement adds its `WHERE`.
/// `$1` is the member, `$2` the count cap. A message counts as unread when
/// it comes after the marker, is not deleted and is not the member's own;
/// as a mention when it also names the member or the room.
macro_rules! my_rooms_select {
    () => {
        "SELECT r.name, r.topic, r.kind, ms.notify, ms.last_read, \
         (SELECT count(*) FROM (SELECT 1 FROM messages m WHERE m.room_id = ms.room_id \
           AND m.id > ms.last_read AND m.deleted_at IS NULL AND m.author_id <> $1 \
           LIMIT $2) AS u) AS unread, \
         (SELECT count(*) FROM (SELECT 1 FROM messages m WHERE m.room_id = ms.room_id \
           AND m.id > ms.last_read AND m.deleted_at IS NULL AND m.author_id <> $1 \
           AND (m.mentions_room OR EXISTS (SELECT 1 FROM message_mentions mm \
             WHERE mm.message_id = m.id AND mm.user_id = $1)) \
           LIMIT $2) AS x) AS mentions \
         FROM memberships ms JOIN rooms r ON r.id = ms.room_id "
    };
}

/// Every room of `$1`, at most `$3`.
const MY_ROOMS: &str = concat!(
    my_rooms_select!(),
    "WHERE ms.user_id = $1 ORDER BY r.name LIMIT $3"
);

/// The room named `$3`, if `$1` is a member.
pub(super) const MY_ROOM: &str =
    concat!(my_rooms_select!(), "WHERE ms.user_id = $1 AND r.name = $3");

/// The most rooms `GET /api/me/rooms` lists.
pub const MY_ROOMS_MAX: i64 = 1000;

#[derive(FromRow)]
pub(super) struct MyRoomRow {
    name: String,
    topic: String,
    kind: String,
    notify: Option<String>,
    last_read: i64,
    unread: i64,
    mentions: i64,
}

impl MyRoomRow {
    /// A row of `MY_ROOM`/`MY_ROOMS` as rusqlite reads it (the SQLite
    /// writer's and reader's own connections), columns in their order.
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            name: row.get(0)?,
            topic: row.get(1)?,
            kind: row.get(2)?,
            notify: row.get(3)?,
            last_read: row.get(4)?,
            unread: row.get(5)?,
            mentions: row.get(6)?,
        })
    }
}

/// `my_room` on a rusqlite connection of the SQLite store's own (the
/// writer's transaction, the reader's snapshot).
pub(super) fn my_room_on(
    conn: &rusqlite::Connection,
    room: &str,
    user: UserId,
) -> rusqlite::Result<Option<MyRoom>> {
    use rusqlite::OptionalExtension;
    let row = conn
        .prepare_cached(MY_ROOM)?
        .query_row(
            rusqlite::named_params! { "$1": user, "$2": COUNT_CAP, "$3": room },
            MyRoomRow::read,
        )
        .optional()?;
    Ok(row.map(MyRoom::from))
}

impl From<MyRoomRow> for MyRoom {
    fn from(row: MyRoomRow) -> Self {
        let kind = RoomKind::stored(&row.kind);
        MyRoom {
            name: row.name,
            kind,
            topic: row.topic,
            members: None,
            read: ReadState {
                last_read: row.last_read,
                unread: row.unread,
                mentions: row.mentions,
            },
            notify: NotifyLevel::stored(row.notify.as_deref(), kind),
        }
    }
}

/// The caller's rooms by name, with read state.
pub async fn my_rooms(pool: &SweepPool, user: UserId) -> Result<Vec<MyRoom>, StoreError> {
    let rows: Vec<MyRoomRow> = on_pool!(pool, p => sqlx::query_as(MY_ROOMS)
        .bind(user)
        .bind(COUNT_CAP)
        .bind(MY_ROOMS_MAX)
        .fetch_all(p)
        .await?);
    Ok(rows.into_iter().map(MyRoom::from).collect())
}

/// One room of the caller's, `None` if they are not a member.
pub async fn my_room(
    pool: &SweepPool,
    room: &RoomName,
    user: UserId,
) -> Result<Option<MyRoom>, StoreError> {
    let row: Option<MyRoomRow> = on_pool!(pool, p => sqlx::query_as(MY_ROOM)
        .bind(user)
        .bind(COUNT_CAP)
        .bind(room.as_str())
        .fetch_optional(p)
        .await?);
    Ok(row.map(MyRoom::from))
}

pub(super) const ADD_MEMBER: &str = "INSERT INTO memberships (room_id, user_id, joined_at) \
     SELECT r.id, $2, $3 FROM rooms r WHERE r.name = $1 \
     ON CONFLICT (room_id, user_id) DO NOTHING";

/// Makes `user` a member of the room; whether they were not one before.
pub async fn add_member(
    pool: &SweepPool,
    room: &RoomName,
    user: UserId,
    now: i64,
) -> Result<bool, StoreError> {
    let done = on_pool!(pool, p => sqlx::query(ADD_MEMBER)
        .bind(room.as_str())
        .bind(user)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
    Ok(done == 1)
}

/// Ends a membership; whether there was one.
pub async fn remove_member(
    pool: &SweepPool,
    room: &RoomName,
    user: UserId,
) -> Result<bool, StoreError> {
    let done = on_pool!(pool, p => sqlx::query(
        "DELETE FROM memberships WHERE user_id = $2 \
         AND room_id = (SELECT id FROM rooms WHERE name = $1)",
    )
    .bind(room.as_str())
    .bind(user)
    .execute(p)
    .await?
    .rows_affected());
    Ok(done == 1)
}

/// Whether `user` is a member of the room.
pub async fn is_member(
    pool: &SweepPool,
    room: &RoomName,
    user: UserId,
) -> Result<bool, StoreError> {
    let found: Option<i64> = on_pool!(pool, p => sqlx::query_scalar(
        "SELECT ms.user_id FROM memberships ms JOIN rooms r ON r.id = ms.room_id \
         WHERE r.name = $1 AND ms.user_id = $2",
    )
    .bind(room.as_str())
    .bind(user)
    .fetch_optional(p)
    .await?);
    Ok(found.is_some())
}

/// What `mark_read` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marked {
    /// The user is not a member of the room.
    NotMember,
    /// The marker moved forward to this id.
    Moved(MessageId),
    /// The marker was already there or further (it stays at this id).
    Unchanged(MessageId),
}

/// Moves the member's read marker forward to `id`, never past the room's
/// latest message (a marker past it would hide messages not written yet).
pub async fn mark_read(
    pool: &SweepPool,
    room: &RoomName,
    user: UserId,
    id: MessageId,
) -> Result<Marked, StoreError> {
    on_pool!(pool, p => {
        let mut tx = p.begin().await?;
        let found: Option<(i64, i64)> = sqlx::query_as(
            "SELECT ms.last_read, \
             (SELECT coalesce(max(m.id), 0) FROM messages m WHERE m.room_id = ms.room_id) \
             FROM memberships ms JOIN rooms r ON r.id = ms.room_id \
             WHERE r.name = $1 AND ms.user_id = $2",
        )
        .bind(room.as_str())
        .bind(user)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((current, top)) = found else {
            return Ok(Marked::NotMember);
        };
        let target = id.min(top);
        if target <= current {
            return Ok(Marked::Unchanged(current));
        }
        // `last_read < $3` keeps it forward-only against a concurrent read.
        let moved = sqlx::query(
            "UPDATE memberships SET last_read = $3 WHERE user_id = $2 \
             AND room_id = (SELECT id FROM rooms WHERE name = $1) AND last_read < $3",
        )
        .bind(room.as_str())
        .bind(user)
        .bind(target)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(if moved == 1 { Marked::Moved(target) } else { Marked::Unchanged(current) })
    })
}

/// Sets the member's notification level; `false` if not a member.
pub async fn set_notify(
    pool: &SweepPool,
    room: &RoomName,
    user: UserId,
    level: NotifyLevel,
) -> Result<bool, StoreError> {
    let done = on_pool!(pool, p => sqlx::query(
        "UPDATE memberships SET notify = $3 WHERE user_id = $2 \
         AND room_id = (SELECT id FROM rooms WHERE name = $1)",
    )
    .bind(room.as_str())
    .bind(user)
    .bind(level.as_str())
    .execute(p)
    .await?
    .rows_affected());
    Ok(done == 1)
}

const CREATE_ROOM: &str = "INSERT INTO rooms (name, topic, kind, created_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING RETURNING id";

const ADD_MEMBER_BY_ID: &str = "INSERT INTO memberships (room_id, user_id, joined_at) \
     VALUES ($1, $2, $3) ON CONFLICT (room_id, user_id) DO NOTHING";

/// Creates a room with its creator as the first member, in one
/// transaction; `RoomExists` if the name is taken (the unique name decides,
/// so of two creators racing exactly one wins).
pub async fn create_room(
    pool: &SweepPool,
    room: &Room,
    creator: UserId,
    now: i64,
) -> Result<(), StoreError> {
    on_pool!(pool, p => {
        let mut tx = p.begin().await?;
        let id: Option<i64> = sqlx::query_scalar(CREATE_ROOM)
            .bind(&room.name)
            .bind(&room.topic)
            .bind(room.kind.as_str())
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        let id = id.ok_or(StoreError::RoomExists)?;
        sqlx::query(ADD_MEMBER_BY_ID)
            .bind(id)
            .bind(creator)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    })
}

/// The direct room of `people` (the caller among them), made with all of
/// them as members if new; if it existed, the caller is a member again.
/// Whether it was made now. `RoomExists` if the name belongs to a room of
/// another kind (made before names starting `dm-` were reserved).
pub async fn direct_room(
    pool: &SweepPool,
    room: &RoomName,
    people: &[UserId],
    caller: UserId,
    now: i64,
) -> Result<bool, StoreError> {
    on_pool!(pool, p => {
        let mut tx = p.begin().await?;
        let made: Option<i64> = sqlx::query_scalar(CREATE_ROOM)
            .bind(room.as_str())
            .bind("")
            .bind(RoomKind::Direct.as_str())
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        let (id, members) = match made {
            Some(id) => (id, people),
            None => {
                let (id, kind): (i64, String) =
                    sqlx::query_as("SELECT id, kind FROM rooms WHERE name = $1")
                        .bind(room.as_str())
                        .fetch_one(&mut *tx)
                        .await?;
                if RoomKind::stored(&kind) != RoomKind::Direct {
                    tx.rollback().await?;
                    return Err(StoreError::RoomExists);
                }
                (id, std::slice::from_ref(&caller))
            }
        };
        for member in members {
            sqlx::query(ADD_MEMBER_BY_ID)
                .bind(id)
                .bind(*member)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(made.is_some())
    })
}
