//! Client events parsed into typed commands. This is the edge of the
//! Socket.IO side: after `Command::parse`, handlers only see valid names,
//! texts and cursors.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Code, Failure};
use crate::limits::{Limits, MEMBERS_PAGE};
use crate::mentions::Mentions;
use crate::messages::{ClientId, MessageId, MessageText, Page, PageError};
use crate::reactions::Emoji;
use crate::rooms::{DIRECT_MAX_OTHERS, NotifyLevel, RoomKind, RoomName, Topic};
use crate::users::{UserId, Username};

/// The events a client may send; anything else is answered `unknown_event`.
pub const EVENTS: [&str; 16] = [
    "join", "leave", "send", "typing", "history", "members", "delete", "mute", "ban",
    // Message features, and rooms people belong to (issue #10).
    "edit", "react", "create", "invite", "direct", "read", "notify",
];

/// Longest mute: a week, in minutes.
pub const MAX_MUTE_MINUTES: u32 = 7 * 24 * 60;

/// One client request, valid by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Join {
        room: RoomName,
    },
    Leave {
        room: RoomName,
    },
    Send {
        room: RoomName,
        text: MessageText,
        client_id: Option<ClientId>,
        /// The message it answers.
        reply_to: Option<MessageId>,
        mentions: Mentions,
    },
    Typing {
        room: RoomName,
        active: bool,
    },
    History {
        room: RoomName,
        page: Page,
    },
    /// `history` with `around`: the message and some on either side, so a
    /// search result or a reply's parent opens in context (issue #11).
    HistoryAround {
        room: RoomName,
        around: MessageId,
        limit: i64,
    },
    /// A page of a room's members, in name order, after the name `after`.
    Members {
        room: RoomName,
        after: Option<Username>,
        limit: usize,
    },
    Delete {
        id: MessageId,
    },
    Mute {
        room: RoomName,
        user: UserId,
        minutes: u32,
    },
    Ban {
        user: UserId,
    },
    // Message features (issue #10).
    /// A new text for one of your messages.
    Edit {
        id: MessageId,
        text: MessageText,
        mentions: Mentions,
    },
    /// An emoji on a message (`on`), or off it.
    React {
        id: MessageId,
        emoji: Emoji,
        on: bool,
    },
    // --- Rooms people belong to (issue #10).
    /// A new public or private room, its creator a member.
    Create {
        room: RoomName,
        kind: RoomKind,
        topic: Topic,
    },
    Invite {
        room: RoomName,
        user: UserId,
    },
    /// The direct room of these people and the caller: distinct positive
    /// ids, 1 to `DIRECT_MAX_OTHERS + 1` of them (one may be the caller's).
    Direct {
        users: Vec<UserId>,
    },
    Read {
        room: RoomName,
        id: MessageId,
    },
    Notify {
        room: RoomName,
        level: NotifyLevel,
    },
}

impl Command {
    /// Whether the event only reads (and so counts against the read rate,
    /// not the rates of the actions that change something). A member's own
    /// bookkeeping, `read` and `notify`, counts there too: it touches only
    /// their own row.
    pub fn is_read(&self) -> bool {
        matches!(
            self,
            Self::History { .. }
                | Self::HistoryAround { .. }
                | Self::Members { .. }
                | Self::Read { .. }
                | Self::Notify { .. }
        )
    }
}

#[derive(Deserialize)]
struct MembersPayload {
    room: String,
    // Read loosely so a wrong type gets the field's own code.
    after: Option<Value>,
    limit: Option<Value>,
}

#[derive(Deserialize)]
struct DeletePayload {
    id: MessageId,
}

#[derive(Deserialize)]
struct MutePayload {
    room: String,
    user_id: UserId,
    minutes: u32,
}

#[derive(Deserialize)]
struct BanPayload {
    user_id: UserId,
}

#[derive(Deserialize)]
struct CreatePayload {
    room: String,
    kind: CreateKind,
    topic: Option<String>,
}

/// The kinds `create` makes: a direct room only comes from `direct`.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum CreateKind {
    Public,
    Private,
}

#[derive(Deserialize)]
struct InvitePayload {
    room: String,
    user_id: UserId,
}

#[derive(Deserialize)]
struct DirectPayload {
    user_ids: Vec<UserId>,
}

#[derive(Deserialize)]
struct ReadPayload {
    room: String,
    id: MessageId,
}

#[derive(Deserialize)]
struct NotifyPayload {
    room: String,
    level: NotifyLevel,
}

#[derive(Deserialize)]
struct RoomPayload {
    room: String,
}

#[derive(Deserialize)]
struct SendPayload {
    room: String,
    text: String,
    client_id: Option<String>,
    reply_to: Option<MessageId>,
}

#[derive(Deserialize)]
struct EditPayload {
    id: MessageId,
    text: String,
}

#[derive(Deserialize)]
struct ReactPayload {
    id: MessageId,
    emoji: String,
    on: bool,
}

#[derive(Deserialize)]
struct TypingPayload {
    room: String,
    active: bool,
}

#[derive(Deserialize)]
struct HistoryPayload {
    room: String,
    // Read loosely so a non-integer gets the field's own code, as over HTTP.
    before: Option<Value>,
    after: Option<Value>,
    limit: Option<Value>,
    /// Search (issue #11): a message id to centre the page on.
    around: Option<Value>,
}

impl Command {
    /// Parses an event and its payload (`Null` when there was none).
    pub fn parse(event: &str, data: Value, limits: &Limits) -> Result<Self, Failure> {
        let room = |raw: &str| RoomName::parse(raw, limits).map_err(Failure::from);
        match event {
            "join" => Ok(Self::Join {
                room: room(&payload::<RoomPayload>(data)?.room)?,
            }),
            "leave" => Ok(Self::Leave {
                room: room(&payload::<RoomPayload>(data)?.room)?,
            }),
            "send" => {
                let p: SendPayload = payload(data)?;
                let room = room(&p.room)?;
                let text = MessageText::parse(&p.text, limits)?;
                Ok(Self::Send {
                    room,
                    mentions: Mentions::parse(&text, limits),
                    text,
                    client_id: p.client_id.as_deref().map(ClientId::parse).transpose()?,
                    reply_to: p.reply_to.map(positive).transpose()?,
                })
            }
            "typing" => {
                let p: TypingPayload = payload(data)?;
                Ok(Self::Typing {
                    room: room(&p.room)?,
                    active: p.active,
                })
            }
            "history" => {
                let p: HistoryPayload = payload(data)?;
                let room = room(&p.room)?;
                if let Some(around) = integer(p.around, PageError::Cursor)? {
                    return history_around(room, around, p.before, p.after, p.limit);
                }
                let before = integer(p.before, PageError::Cursor)?;
                let after = integer(p.after, PageError::Cursor)?;
                // A limit past i64 is a limit error too, but only once the
                // cursors have passed their own rules (fields in table order).
                let limit = match integer(p.limit, PageError::Limit) {
                    Ok(limit) => limit,
                    Err(e) => {
                        Page::parse(before, after, None)?;
                        return Err(e);
                    }
                };
                Ok(Self::History {
                    room,
                    page: Page::parse(before, after, limit)?,
                })
            }
            "members" => {
                let p: MembersPayload = payload(data)?;
                let room = room(&p.room)?;
                let after = match p.after {
                    None | Some(Value::Null) => None,
                    Some(Value::String(name)) => Some(
                        Username::parse(&name, limits)
                            .map_err(|_| Failure::from(PageError::Cursor))?,
                    ),
                    Some(_) => return Err(PageError::Cursor.into()),
                };
                let limit = match integer(p.limit, PageError::Limit)? {
                    None => MEMBERS_PAGE,
                    Some(n) if (1..=MEMBERS_PAGE as i64).contains(&n) => n as usize,
                    Some(_) => return Err(PageError::Limit.into()),
                };
                Ok(Self::Members { room, after, limit })
            }
            "delete" => {
                let p: DeletePayload = payload(data)?;
                Ok(Self::Delete {
                    id: positive(p.id)?,
                })
            }
            "mute" => {
                let p: MutePayload = payload(data)?;
                let (room, user) = (room(&p.room)?, positive(p.user_id)?);
                if p.minutes > MAX_MUTE_MINUTES {
                    return Err(Failure::new(
                        Code::InvalidPayload,
                        format!("minutes must be 0 (unmute) to {MAX_MUTE_MINUTES}"),
                    ));
                }
                Ok(Self::Mute {
                    room,
                    user,
                    minutes: p.minutes,
                })
            }
            "ban" => {
                let p: BanPayload = payload(data)?;
                Ok(Self::Ban {
                    user: positive(p.user_id)?,
                })
            }
            "edit" => {
                let p: EditPayload = payload(data)?;
                let id = positive(p.id)?;
                let text = MessageText::parse(&p.text, limits)?;
                Ok(Self::Edit {
                    id,
                    mentions: Mentions::parse(&text, limits),
                    text,
                })
            }
            "react" => {
                let p: ReactPayload = payload(data)?;
                Ok(Self::React {
                    id: positive(p.id)?,
                    emoji: Emoji::parse(&p.emoji)?,
                    on: p.on,
                })
            }
            "create" | "invite" | "direct" | "read" | "notify" => {
                Self::parse_membership(event, data, limits)
            }
            _ => Err(Failure::new(
                Code::UnknownEvent,
                format!("unknown event {event:?}"),
            )),
        }
    }
}

impl Command {
    /// The events of rooms people belong to (issue #10).
    fn parse_membership(event: &str, data: Value, limits: &Limits) -> Result<Self, Failure> {
        let room = |raw: &str| RoomName::parse(raw, limits).map_err(Failure::from);
        match event {
            "create" => {
                let p: CreatePayload = payload(data)?;
                let room = room(&p.room)?;
                let kind = match p.kind {
                    CreateKind::Public => RoomKind::Public,
                    CreateKind::Private => RoomKind::Private,
                };
                let topic = Topic::parse(p.topic.as_deref().unwrap_or(""))?;
                Ok(Self::Create { room, kind, topic })
            }
            "invite" => {
                let p: InvitePayload = payload(data)?;
                Ok(Self::Invite {
                    room: room(&p.room)?,
                    user: positive(p.user_id)?,
                })
            }
            "direct" => {
                let p: DirectPayload = payload(data)?;
                let mut users = p
                    .user_ids
                    .into_iter()
                    .map(positive)
                    .collect::<Result<Vec<_>, _>>()?;
                users.sort_unstable();
                users.dedup();
                if users.is_empty() || users.len() > DIRECT_MAX_OTHERS + 1 {
                    return Err(Failure::new(
                        Code::InvalidPayload,
                        format!("user_ids must name 1 to {DIRECT_MAX_OTHERS} other people"),
                    ));
                }
                Ok(Self::Direct { users })
            }
            "read" => {
                let p: ReadPayload = payload(data)?;
                Ok(Self::Read {
                    room: room(&p.room)?,
                    id: positive(p.id)?,
                })
            }
            _ => {
                let p: NotifyPayload = payload(data)?;
                Ok(Self::Notify {
                    room: room(&p.room)?,
                    level: p.level,
                })
            }
        }
    }
}

/// An id, which is always positive.
fn positive(id: i64) -> Result<i64, Failure> {
    if id > 0 {
        Ok(id)
    } else {
        Err(Failure::new(
            Code::InvalidPayload,
            "ids are positive integers",
        ))
    }
}

/// `history {room, around, limit?}`: `around` a positive id, with neither
/// `before` nor `after`; `limit` as for any page (it counts the message
/// itself).
fn history_around(
    room: RoomName,
    around: i64,
    before: Option<Value>,
    after: Option<Value>,
    limit: Option<Value>,
) -> Result<Command, Failure> {
    let given = |v: &Option<Value>| !matches!(v, None | Some(Value::Null));
    if around <= 0 || given(&before) || given(&after) {
        return Err(Failure::new(
            Code::InvalidCursor,
            "around must be a positive message id, without before or after",
        ));
    }
    let page = Page::parse(None, None, integer(limit, PageError::Limit)?)?;
    Ok(Command::HistoryAround {
        room,
        around,
        limit: page.limit,
    })
}

/// An optional integer field; `null` counts as absent.
fn integer(value: Option<Value>, err: PageError) -> Result<Option<i64>, Failure> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| err.into()),
    }
}

/// Reads a payload into its typed form; anything that does not fit (not an
/// object, a missing field, a wrong type) is `invalid_payload`.
fn payload<T: DeserializeOwned>(data: Value) -> Result<T, Failure> {
    if !data.is_object() {
        return Err(Failure::new(
            Code::InvalidPayload,
            "the payload must be an object",
        ));
    }
    serde_json::from_value(data).map_err(|err| {
        // serde quotes the offending value; a client's value can be long.
        let detail: String = err.to_string().chars().take(200).collect();
        Failure::new(Code::InvalidPayload, format!("invalid payload: {detail}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(event: &str, data: Value) -> Result<Command, Code> {
        Command::parse(event, data, &Limits::default()).map_err(|f| f.code)
    }

    #[test]
    fn a_valid_send_parses_into_typed_fields() {
        let cmd = parse(
            "send",
            json!({ "room": "general", "text": " hi ", "client_id": "c1" }),
        );
        let Ok(Command::Send {
            room,
            text,
            client_id,
            ..
        }) = cmd
        else {
            panic!("{cmd:?}");
        };
        assert_eq!((room.as_str(), text.as_str()), ("general", "hi"));
        assert_eq!(
            client_id.map(|c| c.as_str().to_owned()),
            Some("c1".to_owned())
        );
    }

    #[test]
    fn payloads_that_are_not_objects_are_invalid() {
        for data in [json!("general"), json!(5), json!([1]), Value::Null] {
            assert_eq!(parse("join", data), Err(Code::InvalidPayload));
        }
    }

    #[test]
    fn wrong_field_types_are_invalid_payloads() {
        assert_eq!(
            parse("join", json!({ "room": 5 })),
            Err(Code::InvalidPayload)
        );
        assert_eq!(
            parse("send", json!({ "room": "a", "text": {} })),
            Err(Code::InvalidPayload)
        );
        assert_eq!(
            parse("typing", json!({ "room": "a", "active": "yes" })),
            Err(Code::InvalidPayload)
        );
        assert_eq!(
            parse("history", json!({ "room": 7, "limit": 5 })),
            Err(Code::InvalidPayload)
        );
    }

    #[test]
    fn field_rules_give_their_own_codes() {
        assert_eq!(
            parse("join", json!({ "room": "Bad Room" })),
            Err(Code::InvalidRoom)
        );
        assert_eq!(
            parse("send", json!({ "room": "a", "text": " " })),
            Err(Code::InvalidText)
        );
        assert_eq!(
            parse("send", json!({ "room": "a", "text": "x", "client_id": "" })),
            Err(Code::InvalidClientId)
        );
        assert_eq!(
            parse("history", json!({ "room": "a", "limit": 0 })),
            Err(Code::InvalidLimit)
        );
        assert_eq!(
            parse("history", json!({ "room": "a", "before": 1, "after": 2 })),
            Err(Code::InvalidCursor)
        );
    }

    #[test]
    fn history_numbers_that_are_not_integers_get_their_field_codes() {
        assert_eq!(
            parse("history", json!({ "room": "a", "limit": "x" })),
            Err(Code::InvalidLimit)
        );
        assert_eq!(
            parse("history", json!({ "room": "a", "before": 1.5 })),
            Err(Code::InvalidCursor)
        );
        let nulls = json!({ "room": "a", "before": null, "after": null, "limit": null });
        assert!(parse("history", nulls).is_ok());
    }

    #[test]
    fn moderation_commands_take_positive_ids_and_bounded_mutes() {
        assert_eq!(
            parse("delete", json!({ "id": 3 })),
            Ok(Command::Delete { id: 3 })
        );
        assert_eq!(
            parse("delete", json!({ "id": 0 })),
            Err(Code::InvalidPayload)
        );
        assert_eq!(
            parse("ban", json!({ "user_id": "1" })),
            Err(Code::InvalidPayload)
        );
        let mute = |minutes| {
            parse(
                "mute",
                json!({ "room": "a", "user_id": 2, "minutes": minutes }),
            )
        };
        assert!(mute(json!(0)).is_ok());
        assert!(mute(json!(10080)).is_ok());
        assert_eq!(mute(json!(10081)), Err(Code::InvalidPayload));
        assert_eq!(mute(json!(-1)), Err(Code::InvalidPayload));
    }

    #[test]
    fn only_history_and_members_count_as_reads() {
        let reads: Vec<bool> = [
            ("history", json!({ "room": "general" })),
            ("members", json!({ "room": "general" })),
            ("join", json!({ "room": "general" })),
            ("send", json!({ "room": "general", "text": "hi" })),
        ]
        .into_iter()
        .map(|(event, data)| {
            Command::parse(event, data, &Limits::default())
                .unwrap()
                .is_read()
        })
        .collect();
        assert_eq!(reads, [true, true, false, false]);
    }

    #[test]
    fn edits_and_reactions_parse_their_fields_with_their_own_codes() {
        let cmd = parse("edit", json!({ "id": 4, "text": " hi @bob " })).unwrap();
        let Command::Edit { id, text, mentions } = cmd else {
            panic!("{cmd:?}");
        };
        assert_eq!((id, text.as_str()), (4, "hi @bob"));
        assert_eq!(mentions.names(), ["bob"]);
        assert_eq!(
            parse("edit", json!({ "id": 4, "text": "" })),
            Err(Code::InvalidText)
        );
        assert_eq!(
            parse("edit", json!({ "id": 0, "text": "x" })),
            Err(Code::InvalidPayload)
        );
        let react = |emoji: &str| parse("react", json!({ "id": 1, "emoji": emoji, "on": true }));
        assert!(matches!(
            react("👍🏽"),
            Ok(Command::React {
                id: 1,
                on: true,
                ..
            })
        ));
        assert_eq!(react("👍👍"), Err(Code::InvalidEmoji));
        assert_eq!(
            parse("react", json!({ "id": 1, "emoji": "x" })),
            Err(Code::InvalidPayload)
        );
    }

    #[test]
    fn a_reply_names_a_positive_id_and_null_is_none() {
        let send = |reply_to: Value| {
            parse(
                "send",
                json!({ "room": "a", "text": "x", "reply_to": reply_to }),
            )
        };
        assert!(matches!(
            send(json!(9)),
            Ok(Command::Send {
                reply_to: Some(9),
                ..
            })
        ));
        assert!(matches!(
            send(Value::Null),
            Ok(Command::Send { reply_to: None, .. })
        ));
        assert_eq!(send(json!(-1)), Err(Code::InvalidPayload));
        assert_eq!(send(json!("9")), Err(Code::InvalidPayload));
    }

    #[test]
    fn membership_commands_parse_their_fields() {
        assert_eq!(
            parse(
                "create",
                json!({ "room": "team", "kind": "private", "topic": " t " })
            ),
            Ok(Command::Create {
                room: RoomName::parse("team", &Limits::default()).unwrap(),
                kind: RoomKind::Private,
                topic: Topic::parse("t").unwrap(),
            })
        );
        assert_eq!(
            parse("create", json!({ "room": "team", "kind": "direct" })),
            Err(Code::InvalidPayload)
        );
        assert_eq!(
            parse(
                "create",
                json!({ "room": "team", "kind": "public", "topic": "a\u{7}" })
            ),
            Err(Code::InvalidTopic)
        );
        assert_eq!(
            parse("direct", json!({ "user_ids": [3, 2, 3] })),
            Ok(Command::Direct { users: vec![2, 3] })
        );
        for bad in [json!([]), json!([0]), json!((1..=10).collect::<Vec<i64>>())] {
            assert_eq!(
                parse("direct", json!({ "user_ids": bad })),
                Err(Code::InvalidPayload)
            );
        }
        assert_eq!(
            parse("read", json!({ "room": "a", "id": 0 })),
            Err(Code::InvalidPayload)
        );
        assert_eq!(
            parse("notify", json!({ "room": "a", "level": "loud" })),
            Err(Code::InvalidPayload)
        );
        assert!(parse("notify", json!({ "room": "a", "level": "none" })).is_ok());
    }

    #[test]
    fn unknown_events_are_named_as_such() {
        assert_eq!(parse("shout", json!({})), Err(Code::UnknownEvent));
    }
}
