//! Personal access tokens and incoming webhooks (issue #11).
//!
//! A token is a row of `sessions` with a name (`token_name`), so finding,
//! ending and revoking one is what it is for a session; only its listing
//! and its cap are here. A webhook is a row of `webhooks` and a bot user
//! (`users.is_bot`, password hash `'*'`) that holds the webhook's name.
//!
//! The statements are the same text on both backends (`$n` parameters,
//! which sqlx's SQLite driver reads as `?n`), run on the backend's pool:
//! none is on the send path. A cap is counted after a no-op update of the
//! row it counts under (the user, the room), which locks that row in
//! PostgreSQL and takes the write lock in SQLite, so concurrent requests
//! cannot both pass it.

use sqlx::FromRow;

use super::StoreError;
use super::sweeps::{SweepPool, on_pool};
use crate::bots::{MAX_TOKENS, MAX_WEBHOOKS, TOKEN_EXPIRES_AT, TokenInfo, TokenName, Webhook};
use crate::rooms::RoomName;
use crate::users::{User, UserId, Username};

/// A new token for an account.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub user: UserId,
    pub name: &'a TokenName,
    pub token_hash: &'a [u8],
    /// Where it was made from, so a ban of the account covers it.
    pub address: &'a str,
    pub now: i64,
}

/// A new webhook for a room.
#[derive(Debug, Clone)]
pub struct NewWebhook<'a> {
    pub room: &'a RoomName,
    pub creator: UserId,
    pub name: &'a Username,
    pub secret_hash: &'a [u8],
    pub now: i64,
}

/// Locks the user's row (a no-op update) for the count that follows.
const LOCK_USER: &str = "UPDATE users SET left_at = left_at WHERE id = $1";
const COUNT_TOKENS: &str =
    "SELECT count(*) FROM sessions WHERE user_id = $1 AND token_name IS NOT NULL";
const INSERT_TOKEN: &str = "INSERT INTO sessions \
     (token_hash, user_id, created_at, expires_at, address, token_name) \
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";

/// Stores a token; `None` if the user holds `MAX_TOKENS` already.
pub async fn create_token(
    pool: &SweepPool,
    token: &NewToken<'_>,
) -> Result<Option<TokenInfo>, StoreError> {
    on_pool!(pool, p => {
        let mut tx = p.begin().await?;
        sqlx::query(LOCK_USER).bind(token.user).execute(&mut *tx).await?;
        let held: i64 = sqlx::query_scalar(COUNT_TOKENS)
            .bind(token.user)
            .fetch_one(&mut *tx)
            .await?;
        if held >= MAX_TOKENS {
            tx.rollback().await?;
            return Ok(None);
        }
        let id: i64 = sqlx::query_scalar(INSERT_TOKEN)
            .bind(token.token_hash)
            .bind(token.user)
            .bind(token.now)
            .bind(TOKEN_EXPIRES_AT)
            .bind(token.address)
            .bind(token.name.as_str())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(TokenInfo {
            id,
            name: token.name.as_str().to_owned(),
            created_at: token.now,
            last_used_at: None,
        }))
    })
}

#[derive(FromRow)]
struct TokenRow {
    id: i64,
    token_name: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

/// The user's tokens, oldest first.
pub async fn tokens_of(pool: &SweepPool, user: UserId) -> Result<Vec<TokenInfo>, StoreError> {
    let rows: Vec<TokenRow> = on_pool!(pool, p => sqlx::query_as(
        "SELECT id, token_name, created_at, last_used_at FROM sessions \
         WHERE user_id = $1 AND token_name IS NOT NULL ORDER BY id",
    )
    .bind(user)
    .fetch_all(p)
    .await?);
    Ok(rows
        .into_iter()
        .map(|r| TokenInfo {
            id: r.id,
            name: r.token_name,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        })
        .collect())
}

/// Revokes one of the user's tokens (the revocation trigger tells every
/// node to disconnect its sockets); whether there was one.
pub async fn delete_token(pool: &SweepPool, user: UserId, id: i64) -> Result<bool, StoreError> {
    let done = on_pool!(pool, p => sqlx::query(
        "DELETE FROM sessions WHERE id = $1 AND user_id = $2 AND token_name IS NOT NULL",
    )
    .bind(id)
    .bind(user)
    .execute(p)
    .await?
    .rows_affected());
    Ok(done == 1)
}

/// Records that a token was used at `now`.
pub async fn touch_token(pool: &SweepPool, id: i64, now: i64) -> Result<(), StoreError> {
    on_pool!(pool, p => sqlx::query(
        "UPDATE sessions SET last_used_at = $2 WHERE id = $1 AND token_name IS NOT NULL",
    )
    .bind(id)
    .bind(now)
    .execute(p)
    .await
    .map(|_| ())?);
    Ok(())
}

/// Locks the room's row (a no-op update) for the count that follows.
const LOCK_ROOM: &str = "UPDATE rooms SET topic = topic WHERE name = $1 RETURNING id";
const COUNT_WEBHOOKS: &str = "SELECT count(*) FROM webhooks WHERE room_id = $1";
/// The bot, holding its name for good; no row if anyone holds it.
const INSERT_BOT: &str = "INSERT INTO users \
     (name, name_key, name_hold, password_hash, created_at, is_bot) \
     VALUES ($1, $2, $2, '*', $3, true) ON CONFLICT DO NOTHING RETURNING id";
const INSERT_WEBHOOK: &str = "INSERT INTO webhooks \
     (room_id, bot_id, creator_id, secret_hash, created_at) \
     VALUES ($1, $2, $3, $4, $5) RETURNING id";

/// Creates a webhook and its bot. `RoomNotFound`, `NameTaken` (by the
/// rules of every name: an account, a guest holding it, another bot), or
/// `None` if the room has `MAX_WEBHOOKS` already.
pub async fn create_webhook(
    pool: &SweepPool,
    hook: &NewWebhook<'_>,
) -> Result<Option<i64>, StoreError> {
    on_pool!(pool, p => {
        let mut tx = p.begin().await?;
        let room: Option<i64> = sqlx::query_scalar(LOCK_ROOM)
            .bind(hook.room.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let room = room.ok_or(StoreError::RoomNotFound)?;
        let held: i64 = sqlx::query_scalar(COUNT_WEBHOOKS)
            .bind(room)
            .fetch_one(&mut *tx)
            .await?;
        if held >= MAX_WEBHOOKS {
            tx.rollback().await?;
            return Ok(None);
        }
        sqlx::query(super::postgres::RELEASE_NAME)
            .bind(hook.name.key())
            .bind(hook.now)
            .execute(&mut *tx)
            .await?;
        let bot: Option<i64> = sqlx::query_scalar(INSERT_BOT)
            .bind(hook.name.as_str())
            .bind(hook.name.key())
            .bind(hook.now)
            .fetch_optional(&mut *tx)
            .await?;
        let bot = bot.ok_or(StoreError::NameTaken)?;
        let id: i64 = sqlx::query_scalar(INSERT_WEBHOOK)
            .bind(room)
            .bind(bot)
            .bind(hook.creator)
            .bind(hook.secret_hash)
            .bind(hook.now)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(id))
    })
}

/// A webhook with its room, bot and creator; a statement adds its `WHERE`.
macro_rules! webhook_select {
    () => {
        "SELECT w.id, r.name AS room, b.id AS bot_id, b.name AS bot_name, \
         c.id AS creator_id, c.name AS creator_name, (c.password_hash IS NULL) AS creator_guest, \
         w.created_at FROM webhooks w JOIN rooms r ON r.id = w.room_id \
         JOIN users b ON b.id = w.bot_id JOIN users c ON c.id = w.creator_id "
    };
}

#[derive(FromRow)]
struct WebhookRow {
    id: i64,
    room: String,
    bot_id: i64,
    bot_name: String,
    creator_id: i64,
    creator_name: String,
    creator_guest: bool,
    created_at: i64,
}

impl From<WebhookRow> for Webhook {
    fn from(row: WebhookRow) -> Self {
        Webhook {
            id: row.id,
            name: row.bot_name.clone(),
            room: row.room,
            bot: User {
                id: row.bot_id,
                name: row.bot_name,
                guest: false,
                bot: true,
            },
            created_by: User {
                id: row.creator_id,
                name: row.creator_name,
                guest: row.creator_guest,
                bot: false,
            },
            created_at: row.created_at,
        }
    }
}

/// The webhook with this id.
pub async fn find_webhook(pool: &SweepPool, id: i64) -> Result<Option<Webhook>, StoreError> {
    let row: Option<WebhookRow> = on_pool!(pool, p => sqlx::query_as(
        concat!(webhook_select!(), "WHERE w.id = $1"),
    )
    .bind(id)
    .fetch_optional(p)
    .await?);
    Ok(row.map(Webhook::from))
}

/// A room's webhooks, oldest first (at most `MAX_WEBHOOKS`).
pub async fn webhooks_of(pool: &SweepPool, room: &RoomName) -> Result<Vec<Webhook>, StoreError> {
    let rows: Vec<WebhookRow> = on_pool!(pool, p => sqlx::query_as(
        concat!(webhook_select!(), "WHERE r.name = $1 ORDER BY w.id LIMIT $2"),
    )
    .bind(room.as_str())
    .bind(MAX_WEBHOOKS)
    .fetch_all(p)
    .await?);
    Ok(rows.into_iter().map(Webhook::from).collect())
}

/// The webhook that this id and secret hash open, if it may post now: its
/// creator is still a member of the room and not banned, and its bot is
/// not banned. Anything else is `None`, without saying which.
pub async fn webhook_to_post(
    pool: &SweepPool,
    id: i64,
    secret_hash: &[u8],
) -> Result<Option<Webhook>, StoreError> {
    let row: Option<WebhookRow> = on_pool!(pool, p => sqlx::query_as(concat!(
        webhook_select!(),
        "WHERE w.id = $1 AND w.secret_hash = $2 \
         AND b.banned_at IS NULL AND c.banned_at IS NULL \
         AND EXISTS (SELECT 1 FROM memberships ms \
           WHERE ms.room_id = w.room_id AND ms.user_id = w.creator_id)",
    ))
    .bind(id)
    .bind(secret_hash)
    .fetch_optional(p)
    .await?);
    Ok(row.map(Webhook::from))
}

/// Revokes a webhook: its URL answers 404 from now on; its bot stays, as
/// the author of what it posted, and keeps its name. Whether there was one.
pub async fn delete_webhook(pool: &SweepPool, id: i64) -> Result<bool, StoreError> {
    let done = on_pool!(pool, p => sqlx::query("DELETE FROM webhooks WHERE id = $1")
        .bind(id)
        .execute(p)
        .await?
        .rows_affected());
    Ok(done == 1)
}
