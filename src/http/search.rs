//! `/api/search`: full-text search of the messages the caller may read.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use serde::Serialize;

use super::extract::Authenticated;
use crate::app::AppState;
use crate::error::Failure;
use crate::messages::Message;
use crate::ratelimit::Key;
use crate::rooms::RoomName;
use crate::search::{Hit, Search};

/// The answer: the hits, newest first.
#[derive(Serialize)]
pub struct Results {
    results: Vec<Hit<Message>>,
}

/// `GET /api/search?q=&room=&before=&limit=`: messages matching `q` in the
/// rooms the caller may read (public rooms, and their private rooms and
/// direct conversations), newest first, each with the UTF-16 ranges of the
/// matched words in its text. A `room` the caller may not read is
/// `room_not_found`, as in history.
pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Results>, Failure> {
    let core = &state.core;
    let user = auth.identity.user.id;
    let field = |key: &str| query.get(key).map(String::as_str);
    let room = match field("room") {
        None | Some("") => None,
        Some(raw) => Some(RoomName::parse(raw, &core.limits)?),
    };
    let search = Search::parse(field("q"), room, field("before"), field("limit"))?;
    core.limiter
        .check(Key::Search(user))
        .await
        .map_err(Failure::rate_limited)?;
    if let Some(room) = &search.room {
        crate::realtime::visible_room(core, room, user).await?;
    }
    let messages = core.store.search_messages(&search, user).await?;
    let results = messages
        .into_iter()
        .map(|message| Hit {
            highlight: search.query.highlight(&message.text),
            message,
        })
        .collect();
    Ok(Json(Results { results }))
}
