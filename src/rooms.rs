//! Rooms: where people talk. A room is created the first time someone joins
//! it by a valid name; `general` exists from the first start.

use serde::Serialize;

use crate::limits::Limits;

/// The room every fresh server starts with.
pub const GENERAL: &str = "general";

/// A room as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Room {
    pub name: String,
    pub topic: String,
}

/// A room in the listing, with how many distinct users are in it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomSummary {
    pub name: String,
    pub topic: String,
    pub members: usize,
}

/// Rooms per page of `GET /api/rooms` unless the client asks otherwise.
pub const ROOMS_PAGE_DEFAULT: usize = 100;
/// The most rooms one page of `GET /api/rooms` holds.
pub const ROOMS_PAGE_MAX: usize = 500;

/// One page of the room list: rooms by name after `after` whose names
/// contain `query` (all rooms when it is empty), at most `limit` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSearch {
    pub query: String,
    pub after: String,
    pub limit: usize,
}

/// Why a room list request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RoomSearchError {
    /// `limit` not an integer in 1..=ROOMS_PAGE_MAX.
    #[error("limit must be an integer between 1 and {ROOMS_PAGE_MAX}")]
    Limit,
}

impl RoomSearch {
    /// From the raw query parameters. Names are lowercase, so the search is
    /// too; `after` is any string (names sort after it byte by byte).
    pub fn parse(
        query: Option<&str>,
        after: Option<&str>,
        limit: Option<&str>,
    ) -> Result<Self, RoomSearchError> {
        let limit = match limit {
            None => ROOMS_PAGE_DEFAULT,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=ROOMS_PAGE_MAX).contains(n))
                .ok_or(RoomSearchError::Limit)?,
        };
        Ok(Self {
            query: query.unwrap_or("").trim().to_lowercase(),
            after: after.unwrap_or("").to_owned(),
            limit,
        })
    }
}

/// A page of rooms, and the cursor for the next page (`None` on the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomPage {
    pub rooms: Vec<Room>,
    pub next: Option<String>,
}

/// Why a room name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RoomNameError {
    /// Empty or longer than the limit.
    #[error("a room name must be 1 to {max} characters long")]
    Length { max: usize },
    /// A character outside lowercase ASCII letters, digits, `_`, `-`.
    #[error("a room name may only contain lowercase letters, digits, '_' and '-'")]
    Charset,
}

/// A valid room name: 1..=max of `[a-z0-9_-]`. Being this narrow keeps room
/// names safe in URLs, logs, Socket.IO room keys and file names alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomName(String);

impl RoomName {
    pub fn parse(raw: &str, limits: &Limits) -> Result<Self, RoomNameError> {
        let len = raw.chars().count();
        if len == 0 || len > limits.max_room_chars {
            return Err(RoomNameError::Length {
                max: limits.max_room_chars,
            });
        }
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
        if !raw.chars().all(allowed) {
            return Err(RoomNameError::Charset);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Socket.IO room that carries this room's broadcasts. Prefixed so it
    /// can never collide with the per-user and per-session rooms.
    pub fn channel(&self) -> String {
        format!("room:{}", self.0)
    }
}

impl std::fmt::Display for RoomName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_search_takes_defaults_and_refuses_limits_out_of_range() {
        let search = RoomSearch::parse(None, None, None).unwrap();
        assert_eq!((search.query.as_str(), search.after.as_str()), ("", ""));
        assert_eq!(search.limit, ROOMS_PAGE_DEFAULT);
        assert_eq!(
            RoomSearch::parse(Some(" Dev "), None, Some("5"))
                .unwrap()
                .query,
            "dev"
        );
        for bad in ["0", "-1", "x", "2.5", "501"] {
            assert_eq!(
                RoomSearch::parse(None, None, Some(bad)),
                Err(RoomSearchError::Limit),
                "{bad}"
            );
        }
    }

    fn parse(raw: &str) -> Result<RoomName, RoomNameError> {
        RoomName::parse(raw, &Limits::default())
    }

    #[test]
    fn lowercase_letters_digits_dash_and_underscore_make_a_room_name() {
        assert_eq!(parse("rust-lang_2").unwrap().as_str(), "rust-lang_2");
    }

    #[test]
    fn an_empty_room_name_is_refused() {
        assert_eq!(parse(""), Err(RoomNameError::Length { max: 64 }));
    }

    #[test]
    fn a_room_name_of_64_characters_is_accepted_and_65_refused() {
        assert!(parse(&"r".repeat(64)).is_ok());
        assert_eq!(
            parse(&"r".repeat(65)),
            Err(RoomNameError::Length { max: 64 })
        );
    }

    #[test]
    fn uppercase_spaces_dots_and_slashes_are_refused() {
        for bad in [
            "General",
            "two words",
            "../etc",
            "a.b",
            "a/b",
            "ä",
            "room\n",
            "%2e%2e",
        ] {
            assert_eq!(parse(bad), Err(RoomNameError::Charset), "{bad:?}");
        }
    }

    #[test]
    fn the_broadcast_channel_is_prefixed() {
        assert_eq!(parse("general").unwrap().channel(), "room:general");
    }
}
