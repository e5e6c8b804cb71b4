//! Bots and integrations (issue #11): `/api/tokens` (personal access
//! tokens), `/api/rooms/{room}/webhooks` and `/api/webhooks/{id}`, and the
//! webhooks' own door, `POST /hooks/{id}/{secret}`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::extract::{Authenticated, Body, ClientIp};
use crate::app::AppState;
use crate::auth::{Identity, hash_token, new_token, session_channel};
use crate::bots::{BotError, TOKEN_PREFIX, TokenName, Webhook};
use crate::clock::now_ms;
use crate::error::{Code, Failure};
use crate::mentions::Mentions;
use crate::messages::{ClientId, MessageText};
use crate::ratelimit::Key;
use crate::rooms::{RoomKind, RoomName};
use crate::store::tokens::{NewToken, NewWebhook};
use crate::store::{Inserted, NewMessage};
use crate::users::Username;

#[derive(Deserialize)]
pub struct NamePayload {
    name: String,
}

#[derive(Deserialize)]
pub struct HookPayload {
    text: String,
    client_id: Option<String>,
}

/// Tokens and webhooks belong to accounts: a guest's name and rows go
/// when the guest does.
fn account(identity: &Identity) -> Result<(), Failure> {
    if identity.user.guest || identity.user.bot {
        return Err(BotError::AccountRequired.into());
    }
    Ok(())
}

async fn within_rate(state: &AppState, key: Key) -> Result<(), Failure> {
    state
        .core
        .limiter
        .check(key)
        .await
        .map_err(Failure::rate_limited)
}

/// `POST /api/tokens {name}`: a new personal access token, whose secret is
/// shown this once. Counts as a sign-in against the address's rate.
pub async fn create_token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    auth: Authenticated,
    Body(body): Body<NamePayload>,
) -> Result<Response, Failure> {
    account(&auth.identity)?;
    let name = TokenName::parse(&body.name)?;
    within_rate(&state, Key::Auth(ip)).await?;
    let token = format!("{TOKEN_PREFIX}{}", new_token());
    let hash = hash_token(&token);
    let new = NewToken {
        user: auth.identity.user.id,
        name: &name,
        token_hash: &hash,
        address: &ip.to_string(),
        now: now_ms(),
    };
    let info = state
        .core
        .store
        .create_token(&new)
        .await?
        .ok_or(BotError::TooManyTokens)?;
    let body = json!({
        "token": token,
        "id": info.id,
        "name": info.name,
        "created_at": info.created_at,
        "last_used_at": info.last_used_at,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /api/tokens`: the caller's tokens, oldest first, without secrets.
pub async fn list_tokens(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<serde_json::Value>, Failure> {
    account(&auth.identity)?;
    let tokens = state.core.store.tokens_of(auth.identity.user.id).await?;
    Ok(Json(json!({ "tokens": tokens })))
}

/// `DELETE /api/tokens/{id}`: revokes one of the caller's tokens and
/// disconnects the sockets opened with it (here at once; other nodes
/// through the revocation the store writes).
pub async fn revoke_token(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, Failure> {
    account(&auth.identity)?;
    let id = positive_id(&id).ok_or(BotError::TokenNotFound)?;
    let store = &state.core.store;
    if !store.delete_token(auth.identity.user.id, id).await? {
        return Err(BotError::TokenNotFound.into());
    }
    if let Some(ns) = state.io.of("/")
        && let Err(err) = ns.to(session_channel(id)).disconnect().await
    {
        tracing::warn!(%err, "cannot disconnect the sockets of a revoked token");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The room, if the caller is a member of it: a room that is not public is
/// `room_not_found` to anyone else, a public one `not_in_room`.
async fn member_room(
    state: &AppState,
    raw: &str,
    identity: &Identity,
) -> Result<RoomName, Failure> {
    let core = &state.core;
    let room = RoomName::parse(raw, &core.limits)?;
    let user = identity.user.id;
    let found = crate::realtime::visible_room(core, &room, user).await?;
    if found.kind == RoomKind::Direct {
        return Err(BotError::DirectRoom.into());
    }
    if !core.store.is_member(&room, user).await? {
        let message = format!("you are not a member of {}", room.as_str());
        return Err(Failure::new(Code::NotInRoom, message));
    }
    Ok(room)
}

/// `POST /api/rooms/{room}/webhooks {name}`: a webhook posting to the room
/// as a new bot user named `name`. The secret URL is shown this once.
pub async fn create_webhook(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    auth: Authenticated,
    Path(room): Path<String>,
    Body(body): Body<NamePayload>,
) -> Result<Response, Failure> {
    account(&auth.identity)?;
    let core = &state.core;
    let name = Username::parse(&body.name, &core.limits)?;
    let room = member_room(&state, &room, &auth.identity).await?;
    // A bot is a new user, holding a name: it counts as a sign-up.
    within_rate(&state, Key::Auth(ip)).await?;
    let secret = new_token();
    let hash = hash_token(&secret);
    let new = NewWebhook {
        room: &room,
        creator: auth.identity.user.id,
        name: &name,
        secret_hash: &hash,
        now: now_ms(),
    };
    let id = core
        .store
        .create_webhook(&new)
        .await?
        .ok_or(BotError::TooManyWebhooks)?;
    let hook = core
        .store
        .find_webhook(id)
        .await?
        .ok_or(BotError::WebhookNotFound)?;
    let url = format!("/hooks/{id}/{secret}");
    Ok((StatusCode::CREATED, Json(with_url(&hook, &url))).into_response())
}

fn with_url(hook: &Webhook, url: &str) -> serde_json::Value {
    let mut body = json!(hook);
    body["url"] = json!(url);
    body
}

/// `GET /api/rooms/{room}/webhooks`: the room's webhooks, for its members.
pub async fn list_webhooks(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room): Path<String>,
) -> Result<Json<serde_json::Value>, Failure> {
    let room = member_room(&state, &room, &auth.identity).await?;
    let hooks = state.core.store.webhooks_of(&room).await?;
    Ok(Json(json!({ "webhooks": hooks })))
}

/// `DELETE /api/webhooks/{id}`: by its creator or an admin.
pub async fn revoke_webhook(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, Failure> {
    let store = &state.core.store;
    let id = positive_id(&id).ok_or(BotError::WebhookNotFound)?;
    let hook = store
        .find_webhook(id)
        .await?
        .ok_or(BotError::WebhookNotFound)?;
    if hook.created_by.id != auth.identity.user.id && !auth.identity.admin {
        return Err(BotError::NotYours.into());
    }
    if !store.delete_webhook(id).await? {
        return Err(BotError::WebhookNotFound.into());
    }
    Ok(StatusCode::NO_CONTENT)
}

fn positive_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

/// `POST /hooks/{id}/{secret} {text, client_id?}`: posts to the webhook's
/// room as its bot, through the sequencer as `send` does: stored, then
/// broadcast as a `message`, then answered. Needs no cookie and no Origin:
/// the secret is the authority. A wrong id, a wrong secret and a revoked
/// webhook answer the same 404, and count against the address's sign-in
/// rate (then 429).
pub async fn post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path((id, secret)): Path<(String, String)>,
    Body(body): Body<HookPayload>,
) -> Result<Response, Failure> {
    let core = &state.core;
    let found = match positive_id(&id) {
        Some(id) if secret.len() <= 128 => {
            core.store.webhook_to_post(id, &hash_token(&secret)).await?
        }
        _ => None,
    };
    let Some(hook) = found else {
        within_rate(&state, Key::Auth(ip)).await?;
        return Err(BotError::WebhookNotFound.into());
    };
    let text = MessageText::parse(&body.text, &core.limits)?;
    let client_id = body.client_id.as_deref().map(ClientId::parse).transpose()?;
    let room = RoomName::parse(&hook.room, &core.limits)?;
    // The bot's own send bucket: one bot per webhook, so a limit per webhook.
    within_rate(&state, Key::Send(hook.bot.id)).await?;
    let now = now_ms();
    let new = NewMessage {
        room,
        mentions: Mentions::parse(&text, &core.limits),
        author: hook.bot,
        text,
        client_id,
        ts: now,
        reply_to: None,
        attachments: Vec::new(),
    };
    match core.sequencer.send(new).await? {
        Inserted::New { message, .. } => {
            let body = json!({ "message": message, "duplicate": false });
            Ok((StatusCode::CREATED, Json(body)).into_response())
        }
        Inserted::Duplicate(message) => {
            let message = core
                .store
                .find_message(message.id)
                .await?
                .unwrap_or(message);
            Ok(Json(json!({ "message": message, "duplicate": true })).into_response())
        }
        Inserted::Muted { until } => Err(Failure {
            retry_after_ms: Some(u64::try_from(until - now).unwrap_or(0)),
            ..Failure::new(
                Code::Muted,
                format!("this webhook is muted in {}", hook.room),
            )
        }),
    }
}
