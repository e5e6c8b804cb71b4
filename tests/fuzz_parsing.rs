//! Property-based fuzzing of the input parsers at the edge (issue #4):
//! `Username`, `RoomName`, `MessageText`, `ClientId`, `Page` and the
//! Socket.IO `Command::parse`, fed arbitrary strings, numbers, event names
//! and JSON values (nested, huge and odd ones included).
//!
//! For every input: the parser does not panic; it accepts exactly what the
//! rules of `docs/protocol.md` allow (the rules are restated here as
//! independent oracles); what it accepts satisfies them (lengths, charsets,
//! trimming, no control characters but `\n` and `\t`); and parsing an
//! accepted value again gives the same value.
//!
//! `cargo test` runs each property with proptest's default case count. The
//! long run, bounded by wall-clock time (`BANTER_FUZZ_SECS`, default 60):
//!
//! ```sh
//! BANTER_FUZZ_SECS=60 cargo test --release --test fuzz_parsing -- --ignored
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use banter::error::{Code, Failure};
use banter::limits::{HISTORY_DEFAULT, HISTORY_MAX, Limits};
use banter::messages::{
    ClientId, Cursor, MAX_CLIENT_ID_CHARS, MessageText, MessageTextError, Page, PageError,
};
use banter::realtime::{Command, EVENTS};
use banter::rooms::{RoomName, RoomNameError};
use banter::users::{Username, UsernameError};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseResult, TestError, TestRunner};
use serde_json::{Map, Value, json};

/// Longest mute, in minutes (a week), as `src/realtime/command.rs` has it.
const MAX_MUTE_MINUTES: u32 = 7 * 24 * 60;

// ---------------------------------------------------------------------------
// Strategies

/// Characters that sit on the edges of the rules: every allowed kind of name
/// character, white space of all sorts, control characters, markup, SQL and
/// path metacharacters, look-alikes, zero-width and astral characters.
const EDGE_CHARS: &[char] = &[
    'a',
    'z',
    'A',
    'Z',
    '0',
    '9',
    '_',
    '-',
    '.',
    ':',
    ' ',
    '\t',
    '\n',
    '\r',
    '\0',
    '\u{1}',
    '\u{8}',
    '\u{b}',
    '\u{c}',
    '\u{1b}',
    '\u{7f}',
    '\u{80}',
    '\u{85}',
    '\u{9f}',
    '\u{a0}',
    '\u{ad}',
    '\u{200b}',
    '\u{200d}',
    '\u{2028}',
    '\u{2029}',
    '\u{202e}',
    '\u{3000}',
    '\u{feff}',
    '\u{fffd}',
    '\u{10ffff}',
    'é',
    'ß',
    'İ',
    'А',
    'а',
    '🦀',
    '<',
    '>',
    '&',
    '"',
    '\'',
    '`',
    ';',
    '/',
    '\\',
    '%',
    '*',
    '=',
    '(',
    ')',
    '#',
    '$',
    '{',
    '}',
    '[',
    ']',
    '|',
    '?',
    '!',
];

/// Any string, biased towards the edges of the rules.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        // any Unicode scalar values, control characters included
        prop::collection::vec(any::<char>(), 0..80).prop_map(String::from_iter),
        prop::collection::vec(prop::sample::select(EDGE_CHARS), 0..80).prop_map(String::from_iter),
        // shaped like the valid forms, around the length limits
        "[a-z0-9_-]{0,70}",
        "[A-Za-z0-9_.-]{0,40}",
        "[A-Za-z0-9_.:-]{0,70}",
        // valid-looking text padded with white space
        (
            "[ \t\r\n\u{a0}\u{3000}]{0,4}",
            "\\PC{0,60}",
            "[ \t\r\n\u{85}\u{2028}]{0,4}"
        )
            .prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        // markup, SQL and paths, verbatim
        prop::sample::select(vec![
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "'; DROP TABLE messages; --",
            "\" OR 1=1 --",
            "../../etc/passwd",
            "..%2f..%2fetc",
            "%00",
            "a\r\nb",
            "\r\n",
            "\r\r\n",
            "\u{202e}gnp.exe",
        ])
        .prop_map(str::to_owned),
    ]
}

/// Strings around the message length limit (4000 by default).
fn long_text() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!['x', 'é', '🦀', ' ', '\n', '\u{7}']),
        3990usize..4010,
        "[ \n]{0,3}",
    )
        .prop_map(|(c, n, pad)| format!("{pad}{}{pad}", String::from(c).repeat(n)))
}

/// The default limits mostly; otherwise random (small) ones.
fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        3 => Just(Limits::default()),
        1 => (0usize..80, 0usize..40, 0usize..70).prop_map(|(message, name, room)| Limits {
            max_message_chars: message,
            max_name_chars: name,
            max_room_chars: room,
            ..Limits::default()
        }),
    ]
}

/// Numbers of every kind JSON can carry, around the interesting values.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-3i64..120).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::sample::select(vec![
            i64::MIN,
            i64::MIN + 1,
            -1,
            0,
            1,
            100,
            101,
            10_080,
            10_081,
            i64::from(u32::MAX),
            i64::from(u32::MAX) + 1,
            i64::MAX,
        ])
        .prop_map(Value::from),
        Just(json!(u64::MAX)),
        any::<f64>().prop_map(|f| json!(f)), // NaN and infinities become null
        prop::sample::select(vec![0.5, 1.0, 50.0, -0.0, 1e300, -1e-300]).prop_map(|f| json!(f)),
    ]
}

/// Any JSON value, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number(),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 128, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((field_name(), inner), 0..8)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// Field names: the ones the events read, and anything else.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "room",
            "text",
            "client_id",
            "active",
            "before",
            "after",
            "limit",
            "id",
            "user_id",
            "minutes",
            "Room",
            "room ",
            "__proto__",
            "",
        ])
        .prop_map(str::to_owned),
        text(),
    ]
}

/// Values that are big or deep: long strings, long arrays, deep nesting.
fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        long_text().prop_map(Value::String),
        (0usize..300_000).prop_map(|n| Value::String("a".repeat(n))),
        (0usize..20_000).prop_map(|n| Value::Array(vec![json!(1); n])),
        (0usize..20_000)
            .prop_map(|n| { Value::Object((0..n).map(|i| (format!("k{i}"), json!(i))).collect()) }),
        (1usize..400, any::<bool>()).prop_map(|(depth, objects)| {
            let mut v = json!("general");
            for _ in 0..depth {
                v = if objects {
                    json!({ "room": v })
                } else {
                    json!([v])
                };
            }
            v
        }),
    ]
}

/// A value for one of the fields the events read: mostly well-typed (so the
/// field rules are reached), sometimes anything at all.
fn field_value(name: &'static str) -> BoxedStrategy<Value> {
    let typed = match name {
        "room" | "text" | "client_id" => prop_oneof![
            text().prop_map(Value::String),
            Just(json!("general")),
            long_text().prop_map(Value::String),
        ]
        .boxed(),
        "active" => any::<bool>().prop_map(Value::from).boxed(),
        // Rooms people belong to (issue #10).
        "kind" => prop::sample::select(vec!["public", "private", "direct", "Private", ""])
            .prop_map(Value::from)
            .boxed(),
        "level" => prop::sample::select(vec!["all", "mentions", "none", "loud", "All"])
            .prop_map(Value::from)
            .boxed(),
        "topic" => prop_oneof![
            text().prop_map(Value::String),
            long_text().prop_map(Value::String),
        ]
        .boxed(),
        "user_ids" => prop::collection::vec(number(), 0..12)
            .prop_map(Value::from)
            .boxed(),
        _ => number().boxed(),
    };
    prop_oneof![
        6 => typed,
        1 => Just(Value::Null),
        2 => json_value(),
        1 => odd_value(),
    ]
    .boxed()
}

/// An object shaped like an event payload: each known field present or not,
/// plus stray fields.
fn payload_object() -> impl Strategy<Value = Value> {
    let fields = [
        "room",
        "text",
        "client_id",
        "active",
        "before",
        "after",
        "limit",
        "id",
        "user_id",
        "minutes",
        "kind",
        "topic",
        "level",
        "user_ids",
    ];
    let known: Vec<_> = fields
        .iter()
        .map(|&f| prop::option::weighted(0.6, field_value(f)).prop_map(move |v| (f, v)))
        .collect();
    (
        known,
        prop::collection::vec((field_name(), json_value()), 0..3),
    )
        .prop_map(|(known, extra)| {
            let mut map = Map::new();
            for (k, v) in extra {
                map.insert(k, v);
            }
            for (k, v) in known {
                if let Some(v) = v {
                    map.insert(k.to_owned(), v);
                }
            }
            Value::Object(map)
        })
}

fn event_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(EVENTS.to_vec()).prop_map(str::to_owned),
        1 => prop::sample::select(vec![
            "JOIN", "Send", "join ", " send", "send\0", "history\n", "", "message",
            "connect", "disconnect", "__proto__", "constructor",
        ])
        .prop_map(str::to_owned),
        1 => text(),
    ]
}

fn payload() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => payload_object(),
        2 => json_value(),
        1 => odd_value(),
    ]
}

// ---------------------------------------------------------------------------
// Oracles: the documented rules, restated independently of the server code

fn is_control_but_tab_or_newline(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

fn valid_username(raw: &str, limits: &Limits) -> bool {
    let n = raw.chars().count();
    (1..=limits.max_name_chars).contains(&n)
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// A direct room's name: `dm-` and 2 to 9 positive ids, in canonical
/// decimal, strictly increasing.
fn valid_direct_name(raw: &str) -> bool {
    let Some(rest) = raw.strip_prefix("dm-") else {
        return false;
    };
    let ids: Option<Vec<i64>> = rest
        .split('-')
        .map(|p| {
            if p.is_empty() || p.starts_with('0') || !p.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                p.parse().ok()
            }
        })
        .collect();
    ids.is_some_and(|ids| (2..=9).contains(&ids.len()) && ids.windows(2).all(|w| w[0] < w[1]))
}

fn valid_room(raw: &str, limits: &Limits) -> bool {
    if valid_direct_name(raw) {
        return true;
    }
    let n = raw.chars().count();
    (1..=limits.max_room_chars).contains(&n)
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c))
}

fn valid_client_id(raw: &str) -> bool {
    let n = raw.chars().count();
    (1..=MAX_CLIENT_ID_CHARS).contains(&n)
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
}

/// What a message text is stored as, if it is valid.
fn stored_text(raw: &str, limits: &Limits) -> Option<String> {
    let text = raw.trim_matches(char::is_whitespace).replace("\r\n", "\n");
    let n = text.chars().count();
    let ok = (1..=limits.max_message_chars).contains(&n)
        && !text.chars().any(is_control_but_tab_or_newline);
    ok.then_some(text)
}

// ---------------------------------------------------------------------------
// Properties

fn prop_username((raw, limits): (String, Limits)) -> TestCaseResult {
    let parsed = Username::parse(&raw, &limits);
    prop_assert_eq!(
        parsed.is_ok(),
        valid_username(&raw, &limits),
        "{:?}",
        parsed
    );
    match parsed {
        Ok(name) => {
            // names are not trimmed or changed in any way
            prop_assert_eq!(name.as_str(), raw.as_str());
            prop_assert!(name.as_str().is_ascii());
            prop_assert_eq!(name.key(), raw.to_ascii_lowercase());
            prop_assert_eq!(Username::parse(name.as_str(), &limits), Ok(name.clone()));
        }
        Err(UsernameError::Length { max }) => {
            prop_assert_eq!(max, limits.max_name_chars);
            let n = raw.chars().count();
            prop_assert!(n == 0 || n > max);
        }
        Err(UsernameError::Charset) => {
            prop_assert!((1..=limits.max_name_chars).contains(&raw.chars().count()));
        }
    }
    Ok(())
}

fn prop_room((raw, limits): (String, Limits)) -> TestCaseResult {
    let parsed = RoomName::parse(&raw, &limits);
    prop_assert_eq!(parsed.is_ok(), valid_room(&raw, &limits), "{:?}", parsed);
    match parsed {
        Ok(room) => {
            prop_assert_eq!(room.as_str(), raw.as_str());
            prop_assert_eq!(room.to_string(), raw.clone());
            prop_assert_eq!(room.channel(), format!("room:{raw}"));
            // no way out of a path, a URL segment or a log line
            prop_assert!(!room.as_str().contains(['/', '\\', '.', '%', ' ', '\n']));
            prop_assert_eq!(RoomName::parse(room.as_str(), &limits), Ok(room.clone()));
        }
        Err(RoomNameError::Length { max }) => {
            prop_assert_eq!(max, limits.max_room_chars);
            let n = raw.chars().count();
            prop_assert!(n == 0 || n > max);
        }
        Err(RoomNameError::Charset) => {
            prop_assert!((1..=limits.max_room_chars).contains(&raw.chars().count()));
        }
    }
    Ok(())
}

fn prop_message_text((raw, limits): (String, Limits)) -> TestCaseResult {
    let parsed = MessageText::parse(&raw, &limits);
    let expected = stored_text(&raw, &limits);
    prop_assert_eq!(
        parsed.as_ref().ok().map(|t| t.as_str().to_owned()),
        expected,
        "{:?}",
        parsed
    );
    match parsed {
        Ok(text) => {
            let s = text.as_str();
            let n = s.chars().count();
            prop_assert!((1..=limits.max_message_chars).contains(&n));
            prop_assert_eq!(s, s.trim(), "trimmed");
            prop_assert!(!s.contains('\r'), "no carriage return is stored");
            prop_assert!(!s.chars().any(is_control_but_tab_or_newline));
            // markup and metacharacters are kept verbatim
            if raw == raw.trim() && !raw.contains('\r') {
                prop_assert_eq!(s, raw.as_str());
            }
            prop_assert_eq!(MessageText::parse(s, &limits), Ok(text.clone()));
        }
        Err(MessageTextError::Empty) => prop_assert!(raw.trim().is_empty()),
        Err(MessageTextError::TooLong { max }) => {
            prop_assert_eq!(max, limits.max_message_chars);
            prop_assert!(raw.trim().replace("\r\n", "\n").chars().count() > max);
        }
        Err(MessageTextError::ControlCharacter) => {
            prop_assert!(raw.trim().chars().any(is_control_but_tab_or_newline));
        }
    }
    Ok(())
}

fn prop_client_id(raw: String) -> TestCaseResult {
    let parsed = ClientId::parse(&raw);
    prop_assert_eq!(parsed.is_ok(), valid_client_id(&raw), "{:?}", parsed);
    if let Ok(id) = parsed {
        prop_assert_eq!(id.as_str(), raw.as_str());
        prop_assert_eq!(ClientId::parse(id.as_str()), Ok(id.clone()));
    }
    Ok(())
}

fn prop_page((before, after, limit): (Option<i64>, Option<i64>, Option<i64>)) -> TestCaseResult {
    let parsed = Page::parse(before, after, limit);
    let limit_ok = limit.is_none_or(|l| (1..=HISTORY_MAX).contains(&l));
    let cursor_ok = match (before, after) {
        (Some(_), Some(_)) => false,
        (Some(b), None) => b > 0,
        (None, Some(a)) => a >= 0,
        (None, None) => true,
    };
    prop_assert_eq!(parsed.is_ok(), limit_ok && cursor_ok, "{:?}", parsed);
    match parsed {
        Ok(page) => {
            prop_assert_eq!(page.limit, limit.unwrap_or(HISTORY_DEFAULT));
            prop_assert!((1..=HISTORY_MAX).contains(&page.limit));
            let expected = match (before, after) {
                (Some(b), None) => Cursor::Before(b),
                (None, Some(a)) => Cursor::After(a),
                _ => Cursor::Latest,
            };
            prop_assert_eq!(page.cursor, expected);
            // the page parses again from its own parts
            let (b, a) = match page.cursor {
                Cursor::Latest => (None, None),
                Cursor::Before(b) => (Some(b), None),
                Cursor::After(a) => (None, Some(a)),
            };
            prop_assert_eq!(Page::parse(b, a, Some(page.limit)), Ok(page));
        }
        Err(PageError::Limit) => prop_assert!(!limit_ok),
        Err(PageError::Cursor) => prop_assert!(!cursor_ok),
    }
    Ok(())
}

/// A string field: `Ok(None)` when absent (or null, if `optional`),
/// `invalid_payload` when it is not a string.
fn string_field<'a>(data: &'a Value, name: &str, optional: bool) -> Result<Option<&'a str>, Code> {
    match data.get(name) {
        None => Ok(None),
        Some(Value::Null) if optional => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Code::InvalidPayload),
    }
}

fn required_string<'a>(data: &'a Value, name: &str) -> Result<&'a str, Code> {
    string_field(data, name, false)?.ok_or(Code::InvalidPayload)
}

fn room_field(data: &Value, limits: &Limits) -> Result<(), Code> {
    let room = required_string(data, "room")?;
    if valid_room(room, limits) {
        Ok(())
    } else {
        Err(Code::InvalidRoom)
    }
}

/// An optional history number: null or absent is none; otherwise it must be
/// an integer.
fn history_number(data: &Value, name: &str, code: Code) -> Result<Option<i64>, Code> {
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or(code),
    }
}

fn required_i64(data: &Value, name: &str) -> Result<i64, Code> {
    data.get(name)
        .and_then(Value::as_i64)
        .ok_or(Code::InvalidPayload)
}

/// An optional integer field: absent, null or an integer.
fn optional_i64(data: &Value, name: &str) -> bool {
    match data.get(name) {
        None | Some(Value::Null) => true,
        Some(v) => v.as_i64().is_some(),
    }
}

fn positive_id(data: &Value, name: &str) -> Result<(), Code> {
    if required_i64(data, name)? > 0 {
        Ok(())
    } else {
        Err(Code::InvalidPayload)
    }
}

/// Whether every field has its documented type (required fields present):
/// the payload's shape, checked before any field's rules. The history
/// numbers are read loosely and checked by their rules.
fn shape_ok(event: &str, data: &Value) -> bool {
    let string = |name| required_string(data, name).is_ok();
    let integer = |name| required_i64(data, name).is_ok();
    match event {
        "join" | "leave" | "history" | "members" => string("room"),
        "send" => {
            string("room")
                && string("text")
                && string_field(data, "client_id", true).is_ok()
                && optional_i64(data, "reply_to")
        }
        "edit" => integer("id") && string("text"),
        "react" => {
            integer("id") && string("emoji") && matches!(data.get("on"), Some(Value::Bool(_)))
        }
        "typing" => string("room") && matches!(data.get("active"), Some(Value::Bool(_))),
        "delete" => integer("id"),
        "mute" => {
            let minutes = data.get("minutes").and_then(Value::as_u64);
            string("room")
                && integer("user_id")
                && minutes.is_some_and(|m| m <= u64::from(u32::MAX))
        }
        "ban" => integer("user_id"),
        "create" => {
            string("room")
                && matches!(
                    data.get("kind").and_then(Value::as_str),
                    Some("public" | "private")
                )
                && string_field(data, "topic", true).is_ok()
        }
        "invite" => string("room") && integer("user_id"),
        "direct" => data
            .get("user_ids")
            .and_then(Value::as_array)
            .is_some_and(|ids| ids.iter().all(|id| id.as_i64().is_some())),
        "read" => string("room") && integer("id"),
        "notify" => {
            string("room")
                && matches!(
                    data.get("level").and_then(Value::as_str),
                    Some("all" | "mentions" | "none")
                )
        }
        _ => true,
    }
}

/// A topic: at most 200 characters once trimmed, none a control character.
fn topic_check(data: &Value) -> Result<(), Code> {
    let topic = data
        .get("topic")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();
    if topic.chars().count() <= 200 && !topic.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(Code::InvalidTopic)
    }
}

/// The direct room's ids: each positive, then 1 to 9 distinct ones.
fn direct_check(data: &Value) -> Result<(), Code> {
    let ids: Vec<i64> = data["user_ids"]
        .as_array()
        .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    if ids.iter().any(|id| *id <= 0) {
        return Err(Code::InvalidPayload);
    }
    let distinct: std::collections::BTreeSet<i64> = ids.into_iter().collect();
    if (1..=9).contains(&distinct.len()) {
        Ok(())
    } else {
        Err(Code::InvalidPayload)
    }
}

/// Every check the documented rules make on one event, in the documented
/// order (field by field, in the order the event table lists the fields):
/// the codes of those that fail. Empty: the command is valid.
fn failing_checks(event: &str, data: &Value, limits: &Limits) -> Vec<Code> {
    if !EVENTS.contains(&event) {
        return vec![Code::UnknownEvent];
    }
    if !data.is_object() || !shape_ok(event, data) {
        return vec![Code::InvalidPayload];
    }
    let mut checks: Vec<Result<(), Code>> = Vec::new();
    match event {
        "join" | "leave" => checks.push(room_field(data, limits)),
        "send" => {
            checks.push(room_field(data, limits));
            checks.push(
                required_string(data, "text")
                    .and_then(|t| stored_text(t, limits).map(drop).ok_or(Code::InvalidText)),
            );
            checks.push(string_field(data, "client_id", true).and_then(|c| match c {
                Some(c) if !valid_client_id(c) => Err(Code::InvalidClientId),
                _ => Ok(()),
            }));
            checks.push(match data.get("reply_to").and_then(Value::as_i64) {
                Some(n) if n <= 0 => Err(Code::InvalidPayload),
                _ => Ok(()),
            });
        }
        "edit" => {
            checks.push(positive_id(data, "id"));
            checks.push(
                required_string(data, "text")
                    .and_then(|t| stored_text(t, limits).map(drop).ok_or(Code::InvalidText)),
            );
        }
        "react" => {
            checks.push(positive_id(data, "id"));
            // The emoji rule itself is src/reactions.rs's, tested there.
            checks.push(required_string(data, "emoji").and_then(|e| {
                banter::reactions::Emoji::parse(e)
                    .map(drop)
                    .map_err(|_| Code::InvalidEmoji)
            }));
        }
        "typing" => {
            checks.push(room_field(data, limits));
            checks.push(match data.get("active") {
                Some(Value::Bool(_)) => Ok(()),
                _ => Err(Code::InvalidPayload),
            });
        }
        "history" => {
            checks.push(room_field(data, limits));
            let before = history_number(data, "before", Code::InvalidCursor);
            let after = history_number(data, "after", Code::InvalidCursor);
            checks.push(before.and_then(|b| match b {
                Some(b) if b <= 0 => Err(Code::InvalidCursor),
                _ => Ok(()),
            }));
            checks.push(after.and_then(|a| match (before, a) {
                (_, Some(a)) if a < 0 => Err(Code::InvalidCursor),
                (Ok(Some(_)), Some(_)) => Err(Code::InvalidCursor),
                _ => Ok(()),
            }));
            checks.push(
                history_number(data, "limit", Code::InvalidLimit).and_then(|l| match l {
                    Some(l) if !(1..=HISTORY_MAX).contains(&l) => Err(Code::InvalidLimit),
                    _ => Ok(()),
                }),
            );
        }
        "members" => {
            checks.push(room_field(data, limits));
            checks.push(match data.get("after") {
                None | Some(Value::Null) => Ok(()),
                Some(Value::String(name)) if valid_username(name, limits) => Ok(()),
                Some(_) => Err(Code::InvalidCursor),
            });
            checks.push(
                history_number(data, "limit", Code::InvalidLimit).and_then(|l| match l {
                    Some(l) if !(1..=100).contains(&l) => Err(Code::InvalidLimit),
                    _ => Ok(()),
                }),
            );
        }
        "delete" => checks.push(positive_id(data, "id")),
        "mute" => {
            checks.push(room_field(data, limits));
            checks.push(positive_id(data, "user_id"));
            checks.push(
                data.get("minutes")
                    .and_then(Value::as_u64)
                    .filter(|&m| m <= u64::from(MAX_MUTE_MINUTES))
                    .map(drop)
                    .ok_or(Code::InvalidPayload),
            );
        }
        "ban" => checks.push(positive_id(data, "user_id")),
        "create" => {
            checks.push(room_field(data, limits));
            checks.push(topic_check(data));
        }
        "invite" => {
            checks.push(room_field(data, limits));
            checks.push(positive_id(data, "user_id"));
        }
        "direct" => checks.push(direct_check(data)),
        "read" => {
            checks.push(room_field(data, limits));
            checks.push(positive_id(data, "id"));
        }
        "notify" => checks.push(room_field(data, limits)),
        other => panic!("the oracle does not know the event {other:?}: add it"),
    }
    checks.into_iter().filter_map(Result::err).collect()
}

/// The accepted command holds exactly the payload's values, each valid.
fn check_accepted(cmd: &Command, event: &str, data: &Value, limits: &Limits) -> TestCaseResult {
    let room_of = |room: &RoomName| -> TestCaseResult {
        prop_assert_eq!(Some(room.as_str()), data["room"].as_str());
        prop_assert!(valid_room(room.as_str(), limits));
        prop_assert_eq!(RoomName::parse(room.as_str(), limits), Ok(room.clone()));
        Ok(())
    };
    match cmd {
        Command::Join { room } => {
            prop_assert_eq!(event, "join");
            room_of(room)?;
        }
        Command::Leave { room } => {
            prop_assert_eq!(event, "leave");
            room_of(room)?;
        }
        Command::Send {
            room,
            text,
            client_id,
            reply_to,
            ..
        } => {
            prop_assert_eq!(*reply_to, data["reply_to"].as_i64());
            prop_assert_eq!(event, "send");
            room_of(room)?;
            let raw = data["text"].as_str().unwrap_or_default();
            prop_assert_eq!(Some(text.as_str().to_owned()), stored_text(raw, limits));
            prop_assert_eq!(MessageText::parse(text.as_str(), limits), Ok(text.clone()));
            match client_id {
                Some(c) => {
                    prop_assert_eq!(Some(c.as_str()), data["client_id"].as_str());
                    prop_assert!(valid_client_id(c.as_str()));
                    prop_assert_eq!(ClientId::parse(c.as_str()), Ok(c.clone()));
                }
                None => prop_assert!(data["client_id"].is_null()),
            }
        }
        Command::Typing { room, active } => {
            prop_assert_eq!(event, "typing");
            room_of(room)?;
            prop_assert_eq!(Some(*active), data["active"].as_bool());
        }
        Command::Members { room, after, limit } => {
            prop_assert_eq!(event, "members");
            room_of(room)?;
            prop_assert_eq!(after.as_ref().map(|a| a.as_str()), data["after"].as_str());
            prop_assert_eq!(*limit as i64, data["limit"].as_i64().unwrap_or(100));
        }
        Command::History { room, page } => {
            prop_assert_eq!(event, "history");
            room_of(room)?;
            prop_assert_eq!(
                page.limit,
                data["limit"].as_i64().unwrap_or(HISTORY_DEFAULT)
            );
            let expected = match (data["before"].as_i64(), data["after"].as_i64()) {
                (Some(b), None) => Cursor::Before(b),
                (None, Some(a)) => Cursor::After(a),
                _ => Cursor::Latest,
            };
            prop_assert_eq!(page.cursor, expected);
        }
        Command::HistoryAround {
            room,
            around,
            limit,
        } => {
            prop_assert_eq!(event, "history");
            room_of(room)?;
            prop_assert_eq!(Some(*around), data["around"].as_i64());
            prop_assert!(*around > 0);
            prop_assert_eq!(*limit, data["limit"].as_i64().unwrap_or(HISTORY_DEFAULT));
        }
        Command::Delete { id } => {
            prop_assert_eq!(event, "delete");
            prop_assert!(*id > 0);
            prop_assert_eq!(Some(*id), data["id"].as_i64());
        }
        Command::Mute {
            room,
            user,
            minutes,
        } => {
            prop_assert_eq!(event, "mute");
            room_of(room)?;
            prop_assert!(*user > 0);
            prop_assert_eq!(Some(*user), data["user_id"].as_i64());
            prop_assert!(*minutes <= MAX_MUTE_MINUTES);
            prop_assert_eq!(Some(u64::from(*minutes)), data["minutes"].as_u64());
        }
        Command::Ban { user } => {
            prop_assert_eq!(event, "ban");
            prop_assert!(*user > 0);
            prop_assert_eq!(Some(*user), data["user_id"].as_i64());
        }
        Command::Edit { id, text, .. } => {
            prop_assert_eq!(event, "edit");
            prop_assert_eq!(Some(*id), data["id"].as_i64());
            let raw = data["text"].as_str().unwrap_or_default();
            prop_assert_eq!(Some(text.as_str().to_owned()), stored_text(raw, limits));
        }
        Command::React { id, emoji, on } => {
            prop_assert_eq!(event, "react");
            prop_assert_eq!(Some(*id), data["id"].as_i64());
            prop_assert_eq!(Some(emoji.as_str()), data["emoji"].as_str());
            prop_assert_eq!(Some(*on), data["on"].as_bool());
        }
        Command::Create { room, kind, topic } => {
            prop_assert_eq!(event, "create");
            room_of(room)?;
            prop_assert_eq!(Some(kind.as_str()), data["kind"].as_str());
            let raw = data["topic"].as_str().unwrap_or("");
            prop_assert_eq!(topic.as_str(), raw.trim());
        }
        Command::Invite { room, user } => {
            prop_assert_eq!(event, "invite");
            room_of(room)?;
            prop_assert_eq!(Some(*user), data["user_id"].as_i64());
        }
        Command::Direct { users } => {
            prop_assert_eq!(event, "direct");
            let mut expected: Vec<i64> = data["user_ids"]
                .as_array()
                .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            expected.sort_unstable();
            expected.dedup();
            prop_assert_eq!(users, &expected);
        }
        Command::Read { room, id } => {
            prop_assert_eq!(event, "read");
            room_of(room)?;
            prop_assert_eq!(Some(*id), data["id"].as_i64());
        }
        Command::Notify { room, level } => {
            prop_assert_eq!(event, "notify");
            room_of(room)?;
            prop_assert_eq!(Some(level.as_str()), data["level"].as_str());
        }
    }
    Ok(())
}

/// `Command::parse` never panics, is deterministic, accepts exactly the
/// valid commands, and refuses with the code of one of the failing checks.
fn prop_command((event, data, limits): (String, Value, Limits)) -> TestCaseResult {
    let result = Command::parse(&event, data.clone(), &limits);
    prop_assert_eq!(&Command::parse(&event, data.clone(), &limits), &result);
    let failing = failing_checks(&event, &data, &limits);
    match &result {
        Ok(cmd) => {
            prop_assert!(
                failing.is_empty(),
                "accepted, but fails {:?}: {:?}",
                failing,
                cmd
            );
            check_accepted(cmd, &event, &data, &limits)?;
        }
        Err(Failure {
            code,
            message,
            retry_after_ms,
            ..
        }) => {
            prop_assert!(
                failing.contains(code),
                "refused with {:?} ({}), but the failing checks are {:?}",
                code,
                message,
                failing
            );
            prop_assert!(!message.is_empty());
            prop_assert_eq!(*retry_after_ms, None);
        }
    }
    Ok(())
}

/// When several checks fail, the one reported is the first in the documented
/// order: "field by field in the order the event tables list the fields"
/// (`docs/protocol.md`, Input rules). Only the events of the protocol
/// tables.
fn prop_command_error_order((event, data, limits): (String, Value, Limits)) -> TestCaseResult {
    if !["join", "leave", "send", "typing", "history", "members"].contains(&event.as_str()) {
        return Ok(());
    }
    if let Err(f) = Command::parse(&event, data.clone(), &limits) {
        let failing = failing_checks(&event, &data, &limits);
        prop_assert_eq!(
            Some(&f.code),
            failing.first(),
            "all failing checks in order: {:?}; message {}",
            failing,
            f.message
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The normal run: proptest's default case count

fn prop_search_query(raw: &str) -> TestCaseResult {
    use banter::search::{MAX_QUERY_CHARS, MAX_QUERY_WORDS, SearchQuery};
    let Ok(query) = SearchQuery::parse(raw) else {
        return Ok(());
    };
    prop_assert!(raw.chars().count() <= MAX_QUERY_CHARS);
    let words: Vec<&String> = query.clauses().iter().flat_map(|c| c.words()).collect();
    prop_assert!(!words.is_empty() && words.len() <= MAX_QUERY_WORDS);
    for word in &words {
        // Letters and digits, with the combining marks on them.
        let wordy =
            |c: char| c.is_alphanumeric() || unicode_normalization::char::is_combining_mark(c);
        prop_assert!(!word.is_empty() && word.chars().all(wordy), "{word:?}");
    }
    // Quotes only around clauses; no backslash or quote inside a lexeme.
    let fts5 = query.fts5();
    prop_assert_eq!(fts5.matches('"').count(), 2 * query.clauses().len());
    let tsquery = query.tsquery();
    prop_assert_eq!(tsquery.matches('\'').count(), 2 * words.len());
    prop_assert!(!tsquery.contains('\\'));
    // Every highlight range lies inside the text, in order.
    let mut at = 0;
    let units = raw.encode_utf16().count();
    for [start, end] in query.highlight(raw) {
        prop_assert!(at <= start && start < end && end <= units);
        at = end;
    }
    Ok(())
}

fn persistence_off() -> ProptestConfig {
    // Minimal failing inputs are printed; no regression files are written
    // into the source tree.
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(persistence_off())]

    /// Search (issue #11): any text parses or is refused with a reason,
    /// and what reaches the backends is words of letters and digits only.
    #[test]
    fn search_queries_reach_the_backends_as_quoted_words_only(
        raw in prop_oneof![3 => text(), 1 => "[a-z \"*():&|!'\\^-]{0,60}"],
    ) {
        prop_search_query(&raw)?;
    }

    #[test]
    fn usernames_are_accepted_exactly_when_they_follow_the_rules(input in (text(), limits())) {
        prop_username(input)?;
    }

    #[test]
    fn room_names_are_accepted_exactly_when_they_follow_the_rules(input in (text(), limits())) {
        prop_room(input)?;
    }

    #[test]
    fn message_texts_are_trimmed_bounded_and_free_of_control_characters(
        input in (prop_oneof![3 => text(), 1 => long_text()], limits()),
    ) {
        prop_message_text(input)?;
    }

    #[test]
    fn client_ids_are_accepted_exactly_when_they_follow_the_rules(raw in text()) {
        prop_client_id(raw)?;
    }

    #[test]
    fn history_pages_take_a_bounded_limit_and_at_most_one_positive_cursor(
        input in (
            prop::option::of(prop_oneof![-3i64..120, any::<i64>()]),
            prop::option::of(prop_oneof![-3i64..120, any::<i64>()]),
            prop::option::of(prop_oneof![-3i64..120, any::<i64>()]),
        ),
    ) {
        prop_page(input)?;
    }

    #[test]
    fn commands_never_panic_and_accept_exactly_valid_payloads(
        input in (event_name(), payload(), limits()),
    ) {
        prop_command(input)?;
    }

    #[test]
    fn command_errors_follow_the_documented_field_order(
        input in (event_name(), payload_object(), limits()),
    ) {
        prop_command_error_order(input)?;
    }
}

/// The documented order, as plain examples: the payload's shape first,
/// then each field's rules in the order the event table lists the fields.
#[test]
fn a_missing_field_is_reported_before_a_bad_room() {
    let data = json!({ "room": "Bad Room" });
    let got = Command::parse("send", data, &Limits::default()).map_err(|f| f.code);
    assert_eq!(got, Err(Code::InvalidPayload), "{got:?}");
}

#[test]
fn a_bad_cursor_is_reported_before_a_bad_limit() {
    let data = json!({ "room": "general", "before": 0, "limit": 0 });
    let got = Command::parse("history", data, &Limits::default()).map_err(|f| f.code);
    assert_eq!(got, Err(Code::InvalidCursor), "{got:?}");
}

// ---------------------------------------------------------------------------
// The long run: the same properties for BANTER_FUZZ_SECS seconds

/// Runs `test` over `strategy` in rounds of `cases` until `deadline`.
/// Returns the cases run, or the failure with its minimal failing input (a
/// failing property stops; the others still get their time).
fn fuzz_until<S: Strategy>(
    name: &str,
    strategy: &S,
    test: impl Fn(S::Value) -> TestCaseResult,
    deadline: Instant,
) -> Result<u64, String>
where
    S::Value: std::fmt::Debug,
{
    let cases = 1000;
    let mut total = 0u64;
    loop {
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            // keep shrinking bounded, too
            max_shrink_time: 60_000,
            ..Config::default()
        });
        match runner.run(strategy, &test) {
            Ok(()) => total += u64::from(cases),
            Err(TestError::Fail(why, input)) => {
                return Err(format!("{name}: {why}\nminimal failing input: {input:#?}"));
            }
            Err(TestError::Abort(why)) => return Err(format!("{name}: aborted: {why}")),
        }
        if Instant::now() >= deadline {
            return Ok(total);
        }
    }
}

#[test]
#[ignore = "long fuzz run: BANTER_FUZZ_SECS=60 cargo test --release --test fuzz_parsing -- --ignored"]
fn fuzz_all_parsers_for_a_while() {
    let secs: u64 = std::env::var("BANTER_FUZZ_SECS")
        .ok()
        .map(|s| {
            s.trim()
                .parse()
                .expect("BANTER_FUZZ_SECS is a number of seconds")
        })
        .unwrap_or(60);
    let started = Instant::now();
    let end = started + Duration::from_secs(secs);
    // Equal slices of the time for each property, one after the other.
    let properties = 7u32;
    let slice = Duration::from_secs(secs) / properties;
    let mut next = started;
    let mut deadline = || {
        next = (next + slice).min(end);
        next
    };
    let mut report = Vec::new();
    report.push((
        "username",
        fuzz_until("username", &(text(), limits()), prop_username, deadline()),
    ));
    report.push((
        "room",
        fuzz_until("room", &(text(), limits()), prop_room, deadline()),
    ));
    report.push((
        "message text",
        fuzz_until(
            "message text",
            &(prop_oneof![3 => text(), 1 => long_text()], limits()),
            prop_message_text,
            deadline(),
        ),
    ));
    report.push((
        "client id",
        fuzz_until("client id", &text(), prop_client_id, deadline()),
    ));
    let maybe_i64 = || prop::option::of(prop_oneof![-3i64..120, any::<i64>()]);
    report.push((
        "page",
        fuzz_until(
            "page",
            &(maybe_i64(), maybe_i64(), maybe_i64()),
            prop_page,
            deadline(),
        ),
    ));
    report.push((
        "command",
        fuzz_until(
            "command",
            &(event_name(), payload(), limits()),
            prop_command,
            deadline(),
        ),
    ));
    report.push((
        "command error order",
        fuzz_until(
            "command error order",
            &(event_name(), payload_object(), limits()),
            prop_command_error_order,
            deadline(),
        ),
    ));
    let mut failures = Vec::new();
    let mut total = 0;
    for (name, outcome) in report {
        match outcome {
            Ok(cases) => {
                total += cases;
                eprintln!("fuzz_parsing: {name}: {cases} cases passed");
            }
            Err(failure) => {
                eprintln!("fuzz_parsing: {name}: FAILED");
                failures.push(failure);
            }
        }
    }
    eprintln!(
        "fuzz_parsing: {total} cases passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
