//! `/api/rooms`: the room list and each room's history.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde_json::json;

use super::extract::Authenticated;
use crate::app::AppState;
use crate::auth::{AuthError, token_from_headers};
use crate::error::{Code, Failure};
use crate::messages::{Page, PageError};
use crate::rooms::{MyRoom, RoomKind, RoomName, RoomSearch, RoomSummary};

/// `GET /api/rooms?q=&after=&limit=`: a page of rooms by name, each with
/// its number of online members, and the cursor of the next page. Open to
/// all when anyone may join as a guest anyway; otherwise signed-in only.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, Failure> {
    let core = &state.core;
    if !core.auth.guests_allowed() {
        let token = token_from_headers(&headers).ok_or(AuthError::Unauthorized)?;
        core.auth.authenticate(&token).await?;
    }
    let field = |key: &str| query.get(key).map(String::as_str);
    let search = RoomSearch::parse(field("q"), field("after"), field("limit"))
        .map_err(|err| Failure::new(Code::InvalidLimit, err.to_string()))?;
    let counts = core.presence.counts().await;
    let page = core.store.list_rooms(&search).await?;
    let rooms: Vec<RoomSummary> = page
        .rooms
        .into_iter()
        .map(|room| {
            let members = RoomName::parse(&room.name, &core.limits)
                .ok()
                .and_then(|name| counts.get(&name).copied())
                .unwrap_or(0);
            RoomSummary {
                name: room.name,
                topic: room.topic,
                members,
            }
        })
        .collect();
    Ok(Json(json!({ "rooms": rooms, "next": page.next })))
}

/// `GET /api/rooms/{room}/messages?before=&after=&limit=`: a page of
/// history, oldest first. A room that is not public is 404
/// `room_not_found` to a non-member, as a room that does not exist.
pub async fn messages(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(room): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, Failure> {
    let room = RoomName::parse(&room, &state.core.limits)?;
    let page = page_from_query(&query)?;
    crate::realtime::visible_room(&state.core, &room, auth.identity.user.id).await?;
    let messages = state.core.store.messages(&room, page).await?;
    Ok(Json(json!({ "messages": messages })))
}

fn page_from_query(query: &HashMap<String, String>) -> Result<Page, Failure> {
    let number = |key: &str, err: PageError| -> Result<Option<i64>, Failure> {
        query
            .get(key)
            .map(|v| v.parse::<i64>().map_err(|_| Failure::from(err)))
            .transpose()
    };
    let before = number("before", PageError::Cursor)?;
    let after = number("after", PageError::Cursor)?;
    let limit = number("limit", PageError::Limit)?;
    Ok(Page::parse(before, after, limit)?)
}

/// `GET /api/me/rooms`: the caller's rooms by name, with kind, read state
/// and notification level (direct rooms with their people).
pub async fn mine(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Vec<MyRoom>>, Failure> {
    let core = &state.core;
    let mut rooms = core.store.my_rooms(auth.identity.user.id).await?;
    for room in rooms.iter_mut().filter(|r| r.kind == RoomKind::Direct) {
        let described = crate::realtime::described(core, room.as_room()).await?;
        room.members = described.members;
    }
    Ok(Json(rooms))
}
