//! What travels on the bus: JSON objects tagged by `t`. `Out` borrows what
//! it publishes; `Frame` is what a node reads back. Every frame names the
//! node that sent it, so a node skips its own.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::messages::{Message, MessageId};
use crate::users::{User, UserId};

/// A node's id on the bus: random, new at every start.
pub type NodeId = u64;

/// A frame to publish.
#[derive(Debug, Serialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Out<'a> {
    /// A message the node stored; `prev` is the room's message before it.
    Message {
        node: NodeId,
        room: &'a str,
        id: MessageId,
        prev: MessageId,
        message: &'a Message,
    },
    /// A room event for every socket in the room but those in `except`.
    Room {
        node: NodeId,
        room: &'a str,
        event: &'a str,
        data: &'a Value,
        except: Option<&'a str>,
    },
    /// One user's presence in one room on this node changed (their first
    /// connection there arrived, or their last one went). `seq` counts the
    /// node's presence changes, so a node that missed one asks for `Full`.
    Presence {
        node: NodeId,
        seq: u64,
        room: &'a str,
        user: &'a User,
        present: bool,
    },
    /// Everyone this node has in each room, as of its change `seq`.
    Full {
        node: NodeId,
        seq: u64,
        rooms: &'a [(String, Vec<User>)],
    },
    /// Alive, with the node's latest presence change.
    Heartbeat { node: NodeId, seq: u64 },
    /// A node (re)joined the bus: everyone sends it their `Full`.
    Hello { node: NodeId },
    /// `to` missed presence changes: it asks for the node's `Full`.
    SyncRequest { node: NodeId, to: NodeId },
    /// The node lost frames it meant to publish: everyone catches its rooms
    /// up from the database (its `Full` follows).
    Resync { node: NodeId },
    /// The node is shutting down: its users are gone from presence.
    Goodbye { node: NodeId },
    // --- Rooms people belong to (issue #10).
    /// An event for every connection of one user (`invited`, `read`,
    /// `room_left`).
    User {
        node: NodeId,
        user: UserId,
        event: &'a str,
        data: &'a Value,
    },
    /// The user's membership of the room ended: every node takes the
    /// user's connections out of it.
    Evict {
        node: NodeId,
        room: &'a str,
        user: &'a User,
    },
}

/// A frame read from the bus.
#[derive(Debug, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Frame {
    Message {
        node: NodeId,
        room: String,
        id: MessageId,
        prev: MessageId,
        message: Message,
    },
    Room {
        node: NodeId,
        room: String,
        event: String,
        data: Value,
        except: Option<String>,
    },
    Presence {
        node: NodeId,
        seq: u64,
        room: String,
        user: User,
        present: bool,
    },
    Full {
        node: NodeId,
        seq: u64,
        rooms: Vec<(String, Vec<User>)>,
    },
    Heartbeat {
        node: NodeId,
        seq: u64,
    },
    Hello {
        node: NodeId,
    },
    SyncRequest {
        node: NodeId,
        to: NodeId,
    },
    Resync {
        node: NodeId,
    },
    Goodbye {
        node: NodeId,
    },
    User {
        node: NodeId,
        user: UserId,
        event: String,
        data: Value,
    },
    Evict {
        node: NodeId,
        room: String,
        user: User,
    },
}

impl Frame {
    /// The node that sent it.
    pub fn node(&self) -> NodeId {
        match self {
            Frame::Message { node, .. }
            | Frame::Room { node, .. }
            | Frame::Presence { node, .. }
            | Frame::Full { node, .. }
            | Frame::Heartbeat { node, .. }
            | Frame::Hello { node }
            | Frame::SyncRequest { node, .. }
            | Frame::Resync { node }
            | Frame::Goodbye { node }
            | Frame::User { node, .. }
            | Frame::Evict { node, .. } => *node,
        }
    }
}

/// What the subscriber hands to the node.
// A frame (with its message: reactions and mentions since issue #10) is
// moved once, from the subscriber to the node: boxing it would cost an
// allocation per frame to save a copy of a few hundred bytes.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Inbound {
    /// Subscribed (again, unless `initial`): frames may have been missed
    /// while it was down.
    Up {
        initial: bool,
    },
    /// The subscription was lost.
    Down,
    Frame(Frame),
}

/// Reads one frame.
pub fn parse(payload: &[u8]) -> Result<Frame, serde_json::Error> {
    serde_json::from_slice(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_frame_reads_back_as_it_was_sent() {
        let message = Message {
            id: 12,
            room: "general".into(),
            author: User {
                id: 3,
                name: "ann".into(),
                guest: true,
                bot: false,
            },
            text: "hi \"there\"".into(),
            ts: 1_700_000_000_000,
            client_id: None,
            edited_at: Some(1_700_000_000_500),
            reply_to: Some(9),
            mentions: vec![3, 4],
            mentions_room: true,
            reactions: vec![crate::messages::Reaction {
                emoji: "👍🏽".into(),
                count: 2,
                user_ids: vec![3, 4],
            }],
            attachments: vec![crate::uploads::Attachment {
                id: "AAAAAAAAAAAAAAAAAAAAAA".into(),
                name: "cat.png".into(),
                size: 1234,
                mime: "image/png".into(),
                width: Some(640),
                height: Some(480),
            }],
        };
        let out = Out::Message {
            node: u64::MAX,
            room: "general",
            id: 12,
            prev: 7,
            message: &message,
        };
        let bytes = serde_json::to_vec(&out).unwrap();
        match parse(&bytes).unwrap() {
            Frame::Message {
                node,
                room,
                id,
                prev,
                message: back,
            } => {
                assert_eq!(
                    (node, room.as_str(), id, prev),
                    (u64::MAX, "general", 12, 7)
                );
                assert_eq!(back, message);
            }
            other => panic!("not a message: {other:?}"),
        }
    }

    #[test]
    fn every_frame_names_its_node() {
        let frames = [
            r#"{"t":"heartbeat","node":5,"seq":2}"#,
            r#"{"t":"hello","node":5}"#,
            r#"{"t":"sync_request","node":5,"to":6}"#,
            r#"{"t":"resync","node":5}"#,
            r#"{"t":"goodbye","node":5}"#,
            r#"{"t":"full","node":5,"seq":0,"rooms":[["general",[{"id":1,"name":"a","guest":false}]]]}"#,
        ];
        for raw in frames {
            assert_eq!(parse(raw.as_bytes()).unwrap().node(), 5, "{raw}");
        }
        assert!(parse(br#"{"t":"nonsense","node":5}"#).is_err());
    }
}
