//! Messages: what people say in rooms, and the parsed forms of what a client
//! sends (text, client id, history cursors).

use serde::{Deserialize, Serialize};

use crate::limits::{HISTORY_DEFAULT, HISTORY_MAX, Limits};
use crate::users::{User, UserId};

/// A message's id: strictly increasing in storage order, server-wide.
pub type MessageId = i64;

/// A stored message, as every client sees it.
/// (Deserialize: a message another node stored, from the cross-node bus.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub room: String,
    pub author: User,
    pub text: String,
    /// Milliseconds since the Unix epoch, when the server stored it.
    pub ts: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    // The fields below default when absent, so a frame from a node that
    // predates them still reads.
    /// When the text was last edited (ms), `None` if never.
    #[serde(default)]
    pub edited_at: Option<i64>,
    /// The message this one answers (same room).
    #[serde(default)]
    pub reply_to: Option<MessageId>,
    /// The users the text names with `@name`, by id, ascending.
    #[serde(default)]
    pub mentions: Vec<UserId>,
    /// Whether the text says `@room`.
    #[serde(default)]
    pub mentions_room: bool,
    /// Its reactions, by each emoji's earliest reaction still there.
    #[serde(default)]
    pub reactions: Vec<Reaction>,
    /// Its files, in the order they were uploaded (issue #11).
    #[serde(default)]
    pub attachments: Vec<crate::uploads::Attachment>,
}

/// The people who reacted to a message with one emoji.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    /// How many reacted with it: exact.
    pub count: i64,
    /// Who, in the order they reacted: the first `REACTION_USERS_SHOWN`
    /// only, so a message's size does not grow with its room.
    pub user_ids: Vec<UserId>,
}

/// Most user ids a reaction lists (its `count` is exact).
pub const REACTION_USERS_SHOWN: i64 = 100;

/// Why a message text was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MessageTextError {
    /// Nothing left after trimming white space.
    #[error("a message cannot be empty")]
    Empty,
    /// Over the limit after trimming.
    #[error("a message can be at most {max} characters long")]
    TooLong { max: usize },
    /// A control character other than tab or newline.
    #[error("a message cannot contain control characters")]
    ControlCharacter,
}

/// Message text as stored: trimmed, `\r\n` folded to `\n`, 1..=max
/// characters, no control characters but tab and newline (they would let a
/// sender hide text or corrupt other people's terminals and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str, limits: &Limits) -> Result<Self, MessageTextError> {
        let text = raw.trim().replace("\r\n", "\n");
        if text.is_empty() {
            return Err(MessageTextError::Empty);
        }
        if text.chars().count() > limits.max_message_chars {
            return Err(MessageTextError::TooLong {
                max: limits.max_message_chars,
            });
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(MessageTextError::ControlCharacter);
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// No text: a message that carries only files (an upload without a
    /// caption). Nothing a client sends parses to it.
    pub fn none() -> Self {
        Self(String::new())
    }
}

/// Why a client id was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a client_id must be 1 to {MAX_CLIENT_ID_CHARS} of letters, digits, '_', '-', '.', ':'")]
pub struct ClientIdError;

/// Longest client id: room for a UUID or a ULID with a prefix.
pub const MAX_CLIENT_ID_CHARS: usize = 64;

/// The sender's own id for a message, which makes a resend idempotent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, ClientIdError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
        if raw.is_empty() || raw.len() > MAX_CLIENT_ID_CHARS || !raw.chars().all(allowed) {
            return Err(ClientIdError);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a history request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PageError {
    /// `limit` outside 1..=100.
    #[error("limit must be between 1 and {HISTORY_MAX}")]
    Limit,
    /// `before` not a positive id, `after` negative, or both at once.
    #[error(
        "before must be a positive message id and after a message id or 0, and at most one may be given"
    )]
    Cursor,
}

/// Where a page of history starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// The newest messages.
    Latest,
    /// Messages older than this id.
    Before(MessageId),
    /// Messages newer than this id: how a client catches up. `After(0)` is
    /// from the beginning (the Socket.IO tutorial's catch-up starts at 0).
    After(MessageId),
}

/// A validated history request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub cursor: Cursor,
    pub limit: i64,
}

impl Page {
    pub fn latest(limit: i64) -> Self {
        Self {
            cursor: Cursor::Latest,
            limit,
        }
    }

    pub fn parse(
        before: Option<i64>,
        after: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Self, PageError> {
        // Cursors first: the order the protocol lists the fields in.
        let cursor = match (before, after) {
            (None, None) => Cursor::Latest,
            (Some(b), None) if b > 0 => Cursor::Before(b),
            (None, Some(a)) if a >= 0 => Cursor::After(a),
            _ => return Err(PageError::Cursor),
        };
        let limit = limit.unwrap_or(HISTORY_DEFAULT);
        if !(1..=HISTORY_MAX).contains(&limit) {
            return Err(PageError::Limit);
        }
        Ok(Self { cursor, limit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(raw: &str) -> Result<MessageText, MessageTextError> {
        MessageText::parse(raw, &Limits::default())
    }

    #[test]
    fn text_is_trimmed() {
        assert_eq!(text("  hi there \n").unwrap().as_str(), "hi there");
    }

    #[test]
    fn empty_and_blank_text_is_refused() {
        assert_eq!(text(""), Err(MessageTextError::Empty));
        assert_eq!(text(" \n\t "), Err(MessageTextError::Empty));
    }

    #[test]
    fn text_of_4000_characters_is_accepted_and_4001_refused() {
        assert!(text(&"é".repeat(4000)).is_ok());
        assert_eq!(
            text(&"x".repeat(4001)),
            Err(MessageTextError::TooLong { max: 4000 })
        );
    }

    #[test]
    fn the_length_counts_characters_not_bytes() {
        assert!(text(&"🦀".repeat(4000)).is_ok());
    }

    #[test]
    fn newlines_and_tabs_are_kept_and_crlf_becomes_lf() {
        assert_eq!(text("a\r\nb\tc").unwrap().as_str(), "a\nb\tc");
    }

    #[test]
    fn control_characters_are_refused() {
        for bad in ["a\u{0}b", "a\u{1b}[31mb", "a\rb", "\u{7f}x"] {
            assert_eq!(
                text(bad),
                Err(MessageTextError::ControlCharacter),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn markup_is_kept_verbatim_as_text() {
        let raw = "<img src=x onerror=alert(1)>";
        assert_eq!(text(raw).unwrap().as_str(), raw);
    }

    #[test]
    fn a_uuid_is_a_valid_client_id() {
        assert!(ClientId::parse("6f1c1a52-6a84-4a8e-9f0e-0c6c3f1f9a11").is_ok());
    }

    #[test]
    fn empty_overlong_or_odd_client_ids_are_refused() {
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse(&"a".repeat(65)).is_err());
        assert!(ClientId::parse("a b").is_err());
        assert!(ClientId::parse("<x>").is_err());
    }

    #[test]
    fn a_page_defaults_to_the_latest_50() {
        assert_eq!(Page::parse(None, None, None), Ok(Page::latest(50)));
    }

    #[test]
    fn a_page_limit_must_be_between_1_and_100() {
        assert_eq!(Page::parse(None, None, Some(0)), Err(PageError::Limit));
        assert_eq!(Page::parse(None, None, Some(101)), Err(PageError::Limit));
        assert!(Page::parse(None, None, Some(100)).is_ok());
    }

    #[test]
    fn a_page_takes_one_positive_cursor_at_most() {
        assert_eq!(Page::parse(Some(1), Some(2), None), Err(PageError::Cursor));
        assert_eq!(Page::parse(Some(0), None, None), Err(PageError::Cursor));
        assert_eq!(Page::parse(None, Some(-3), None), Err(PageError::Cursor));
        assert_eq!(
            Page::parse(None, Some(0), None),
            Ok(Page {
                cursor: Cursor::After(0),
                limit: 50
            })
        );
        assert_eq!(
            Page::parse(None, Some(7), Some(10)),
            Ok(Page {
                cursor: Cursor::After(7),
                limit: 10
            })
        );
    }
}
