//! The input limits every edge parser checks against. One value, built from
//! the configuration and shared read-only, so tests can tighten a limit
//! without touching global state.

/// Sizes and lengths the server accepts. Defaults are the documented ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest message text, in Unicode scalar values, after trimming.
    pub max_message_chars: usize,
    /// Longest user name.
    pub max_name_chars: usize,
    /// Longest room name.
    pub max_room_chars: usize,
    /// Shortest password.
    pub min_password_chars: usize,
    /// Largest Socket.IO packet or HTTP body, in bytes.
    pub max_packet_bytes: usize,
    /// Packets that may wait to be written to one connection; a connection
    /// with this many waiting has fallen behind and is disconnected.
    pub socket_buffer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_chars: 4000,
            max_name_chars: 32,
            max_room_chars: 64,
            min_password_chars: 8,
            max_packet_bytes: 64 * 1024,
            socket_buffer: 4 * INBOX_CAPACITY,
        }
    }
}

/// Most messages one history page may hold.
pub const HISTORY_MAX: i64 = 100;
/// Messages in a page when the client does not say.
pub const HISTORY_DEFAULT: i64 = 50;
/// Events one connection may have waiting before it is told `overloaded`.
pub const INBOX_CAPACITY: usize = 1024;
/// Members in one page of a room's member list (the join ack's first page,
/// and each `members` answer at most).
pub const MEMBERS_PAGE: usize = 100;
/// Rooms with more members than this get their arrivals and departures
/// gathered into one `presence` event a second instead of one event each:
/// past a few dozen people, one event per arrival to everyone costs more
/// than it tells.
pub const PRESENCE_LIVE_MAX: usize = 20;
