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
    pub kind: RoomKind,
    /// The people of a direct room (fixed by its name); `None` for the
    /// other kinds, whose members come and go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<crate::users::User>>,
}

impl Room {
    /// A room as stored: its kind as the column holds it.
    pub fn stored(name: String, topic: String, kind: &str) -> Self {
        Self {
            name,
            topic,
            kind: RoomKind::stored(kind),
            members: None,
        }
    }
}

/// Who may be in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RoomKind {
    /// Anyone may join (and find it in `GET /api/rooms`).
    Public,
    /// Members only; members invite.
    Private,
    /// A fixed set of people, named `dm-<sorted ids>`.
    Direct,
}

impl RoomKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
            Self::Direct => "direct",
        }
    }

    /// The kind a stored row names. Anything unknown is treated as private:
    /// a room is never opened to everyone by mistake.
    pub fn stored(raw: &str) -> Self {
        match raw {
            "public" => Self::Public,
            "direct" => Self::Direct,
            _ => Self::Private,
        }
    }

    /// Whether only members may see it.
    pub fn is_closed(self) -> bool {
        self != Self::Public
    }

    /// The notification level of a member who has not chosen one.
    pub fn default_notify(self) -> NotifyLevel {
        match self {
            Self::Direct => NotifyLevel::All,
            _ => NotifyLevel::Mentions,
        }
    }
}

/// When a member wants a desktop notification for a room's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyLevel {
    All,
    Mentions,
    None,
}

impl NotifyLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Mentions => "mentions",
            Self::None => "none",
        }
    }

    /// The level a stored row names; `None` (NULL or unknown) is the kind's
    /// default.
    pub fn stored(raw: Option<&str>, kind: RoomKind) -> Self {
        match raw {
            Some("all") => Self::All,
            Some("mentions") => Self::Mentions,
            Some("none") => Self::None,
            _ => kind.default_notify(),
        }
    }
}

/// One of the caller's rooms, with their read state (`GET /api/me/rooms`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MyRoom {
    pub name: String,
    pub kind: RoomKind,
    pub topic: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<crate::users::User>>,
    #[serde(flatten)]
    pub read: ReadState,
    pub notify: NotifyLevel,
}

impl MyRoom {
    /// The room itself, without the member's state.
    pub fn as_room(&self) -> Room {
        Room {
            name: self.name.clone(),
            topic: self.topic.clone(),
            kind: self.kind,
            members: self.members.clone(),
        }
    }
}

/// A member's read state in a room. `unread` and `mentions` stop counting at
/// `COUNT_CAP`, so a count costs the same in a room of a million messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct ReadState {
    pub last_read: i64,
    pub unread: i64,
    pub mentions: i64,
}

/// Where unread and mention counts stop (a client shows "999+").
pub const COUNT_CAP: i64 = 1000;

/// Prefix of direct room names, which `join` and `create` never make.
pub const DIRECT_PREFIX: &str = "dm-";
/// The most people of a direct room besides the caller.
pub const DIRECT_MAX_OTHERS: usize = 8;

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

/// The longest topic, in characters.
pub const TOPIC_MAX_CHARS: usize = 200;

/// Why a topic was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TopicError {
    /// Longer than `TOPIC_MAX_CHARS` after trimming.
    #[error("a topic is at most {TOPIC_MAX_CHARS} characters")]
    Length,
    /// A control character (a topic is one line).
    #[error("a topic may not hold control characters")]
    Control,
}

/// A room's topic: one line of at most `TOPIC_MAX_CHARS`, trimmed; may be
/// empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic(String);

impl Topic {
    pub fn parse(raw: &str) -> Result<Self, TopicError> {
        let topic = raw.trim();
        if topic.chars().count() > TOPIC_MAX_CHARS {
            return Err(TopicError::Length);
        }
        if topic.chars().any(char::is_control) {
            return Err(TopicError::Control);
        }
        Ok(Self(topic.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
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
        // A direct room's name grows with its people's ids, past the name
        // limit; its shape is checked instead.
        if direct_ids(raw).is_some() {
            return Ok(Self(raw.to_owned()));
        }
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

    /// The direct room of these people (the caller included): `dm-` and the
    /// sorted ids joined by `-`, so the same set always names the same room.
    pub fn direct(people: &[crate::users::UserId]) -> Self {
        let mut ids = people.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
        Self(format!("{DIRECT_PREFIX}{}", ids.join("-")))
    }

    /// Whether the name is reserved for direct rooms (`join` and `create`
    /// never make one).
    pub fn is_reserved(&self) -> bool {
        self.0.starts_with(DIRECT_PREFIX)
    }

    /// The people of a direct room, from its name.
    pub fn direct_people(&self) -> Option<Vec<crate::users::UserId>> {
        direct_ids(&self.0)
    }

    /// The Socket.IO room that carries this room's broadcasts. Prefixed so it
    /// can never collide with the per-user and per-session rooms.
    pub fn channel(&self) -> String {
        format!("room:{}", self.0)
    }
}

/// The ids of a well-formed direct room name: 2 to 9 positive ids, sorted,
/// distinct, in canonical decimal.
fn direct_ids(raw: &str) -> Option<Vec<crate::users::UserId>> {
    let rest = raw.strip_prefix(DIRECT_PREFIX)?;
    let ids: Vec<i64> = rest
        .split('-')
        .map(|part| {
            let canonical = !part.is_empty() && !part.starts_with('0');
            part.parse::<i64>().ok().filter(|_| canonical)
        })
        .collect::<Option<_>>()?;
    let sorted = ids.windows(2).all(|w| w[0] < w[1]);
    let count = (2..=DIRECT_MAX_OTHERS + 1).contains(&ids.len());
    (sorted && count && ids.iter().all(|id| *id > 0)).then_some(ids)
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
    fn a_direct_name_is_the_sorted_ids_whoever_lists_them() {
        assert_eq!(RoomName::direct(&[12, 3, 7]).as_str(), "dm-3-7-12");
        assert_eq!(RoomName::direct(&[7, 3, 12, 3]).as_str(), "dm-3-7-12");
        let long = RoomName::direct(&[i64::MAX - 8, i64::MAX - 7, i64::MAX - 6]);
        let parsed = parse(long.as_str()).unwrap();
        assert_eq!(parsed.direct_people().unwrap().len(), 3);
        assert!(parsed.is_reserved());
        for not_direct in ["dm-3", "dm-7-3", "dm-3-3", "dm-03-7", "dm-x", "dm-0-1"] {
            assert_eq!(parse(not_direct).ok().and_then(|r| r.direct_people()), None);
        }
        assert!(parse("dm-x").unwrap().is_reserved());
        assert!(parse(&format!("dm-{}", "1-".repeat(40))).is_err());
    }

    #[test]
    fn the_broadcast_channel_is_prefixed() {
        assert_eq!(parse("general").unwrap().channel(), "room:general");
    }
}
