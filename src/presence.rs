//! Presence: who is in which room right now. A user is in a room while at
//! least one of their connections has joined it, so two tabs are one member.
//!
//! Behind a trait so that several nodes can later share presence through
//! Redis; `LocalPresence` keeps it in this process's memory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::rooms::RoomName;
use crate::users::{User, UserId};

/// What changed for the room's membership when a connection came or went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The user's first connection in the room: tell the others.
    Arrived,
    /// The user's last connection left: tell the others.
    Departed,
    /// Another connection of a user already there (or one that was not).
    Unchanged,
}

/// A page of a room's members, in name order, and how many there are.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberPage {
    pub members: Vec<User>,
    pub count: usize,
}

/// Room membership, by connection and by user.
#[async_trait]
pub trait Presence: Send + Sync + 'static {
    /// Puts a connection of `user` in `room`.
    async fn join(&self, room: &RoomName, user: &User, conn: &str) -> Change;
    /// Takes a connection out of `room`; `None` if it was not in it.
    async fn leave(&self, room: &RoomName, user: UserId, conn: &str) -> Option<Change>;
    /// Takes a connection out of every room; returns the rooms the user left.
    async fn disconnect(&self, user: UserId, conn: &str) -> Vec<RoomName>;
    /// Whether this connection has joined `room`.
    async fn is_member(&self, room: &RoomName, conn: &str) -> bool;
    /// Up to `limit` of the distinct users in `room`, in name order (case
    /// ignored), after the name `after`; and how many there are in all. A
    /// page costs the same however big the room is.
    async fn members(&self, room: &RoomName, after: Option<&str>, limit: usize) -> MemberPage;
    /// How many distinct users are in `room`.
    async fn count(&self, room: &RoomName) -> usize;
    /// How many distinct users each occupied room has.
    async fn counts(&self) -> HashMap<RoomName, usize>;
}

/// One room's members: each user's connections, and the users in name order.
#[derive(Default)]
struct Members {
    /// Each user's name key (to find them in `by_name`) and connections.
    conns: HashMap<UserId, (String, HashSet<String>)>,
    by_name: BTreeMap<(String, UserId), User>,
}

#[derive(Default)]
struct State {
    rooms: HashMap<RoomName, Members>,
    conns: HashMap<String, HashSet<RoomName>>,
}

impl State {
    /// Removes `conn` from `room`; `None` if it was not there.
    fn remove(&mut self, room: &RoomName, user: UserId, conn: &str) -> Option<Change> {
        let members = self.rooms.get_mut(room)?;
        let (_, conns) = members.conns.get_mut(&user)?;
        if !conns.remove(conn) {
            return None;
        }
        if !conns.is_empty() {
            return Some(Change::Unchanged);
        }
        if let Some((key, _)) = members.conns.remove(&user) {
            members.by_name.remove(&(key, user));
        }
        if members.conns.is_empty() {
            self.rooms.remove(room);
        }
        Some(Change::Departed)
    }
}

/// Presence for a single node, in memory. The lock is never held across an
/// await, so a `std` mutex is the right tool.
#[derive(Default)]
pub struct LocalPresence {
    state: Mutex<State>,
}

impl LocalPresence {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut guard = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }
}

#[async_trait]
impl Presence for LocalPresence {
    async fn join(&self, room: &RoomName, user: &User, conn: &str) -> Change {
        self.with(|s| {
            s.conns
                .entry(conn.to_owned())
                .or_default()
                .insert(room.clone());
            let members = s.rooms.entry(room.clone()).or_default();
            let (key, conns) = members
                .conns
                .entry(user.id)
                .or_insert_with(|| (user.name.to_ascii_lowercase(), HashSet::new()));
            let first = conns.is_empty();
            conns.insert(conn.to_owned());
            if first {
                members.by_name.insert((key.clone(), user.id), user.clone());
                Change::Arrived
            } else {
                Change::Unchanged
            }
        })
    }

    async fn leave(&self, room: &RoomName, user: UserId, conn: &str) -> Option<Change> {
        self.with(|s| {
            if let Some(rooms) = s.conns.get_mut(conn) {
                rooms.remove(room);
            }
            s.remove(room, user, conn)
        })
    }

    async fn disconnect(&self, user: UserId, conn: &str) -> Vec<RoomName> {
        self.with(|s| {
            let rooms = s.conns.remove(conn).unwrap_or_default();
            let mut left: Vec<RoomName> = rooms
                .into_iter()
                .filter(|room| s.remove(room, user, conn) == Some(Change::Departed))
                .collect();
            left.sort();
            left
        })
    }

    async fn is_member(&self, room: &RoomName, conn: &str) -> bool {
        self.with(|s| s.conns.get(conn).is_some_and(|rooms| rooms.contains(room)))
    }

    async fn members(&self, room: &RoomName, after: Option<&str>, limit: usize) -> MemberPage {
        self.with(|s| {
            let Some(members) = s.rooms.get(room) else {
                return MemberPage::default();
            };
            let from = match after {
                Some(name) => Bound::Excluded((name.to_ascii_lowercase(), UserId::MAX)),
                None => Bound::Unbounded,
            };
            MemberPage {
                members: members
                    .by_name
                    .range((from, Bound::Unbounded))
                    .take(limit)
                    .map(|(_, user)| user.clone())
                    .collect(),
                count: members.conns.len(),
            }
        })
    }

    async fn count(&self, room: &RoomName) -> usize {
        self.with(|s| s.rooms.get(room).map_or(0, |m| m.conns.len()))
    }

    async fn counts(&self) -> HashMap<RoomName, usize> {
        self.with(|s| {
            s.rooms
                .iter()
                .map(|(r, m)| (r.clone(), m.conns.len()))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    fn room(name: &str) -> RoomName {
        RoomName::parse(name, &Limits::default()).unwrap()
    }

    fn user(id: i64, name: &str) -> User {
        User {
            id,
            name: name.into(),
            guest: false,
        }
    }

    #[tokio::test]
    async fn a_user_with_two_connections_is_one_member() {
        let p = LocalPresence::default();
        let (general, alice) = (room("general"), user(1, "alice"));
        assert_eq!(p.join(&general, &alice, "tab1").await, Change::Arrived);
        assert_eq!(p.join(&general, &alice, "tab2").await, Change::Unchanged);
        let page = p.members(&general, None, 10).await;
        assert_eq!(page.members, vec![alice.clone()]);
        assert_eq!(page.count, 1);
        assert_eq!(p.counts().await.get(&general), Some(&1));
        assert_eq!(p.disconnect(1, "tab1").await, Vec::<RoomName>::new());
        assert_eq!(p.disconnect(1, "tab2").await, vec![general.clone()]);
        assert_eq!(p.members(&general, None, 10).await, MemberPage::default());
    }

    #[tokio::test]
    async fn members_come_in_pages_by_name_with_the_whole_count() {
        let p = LocalPresence::default();
        let general = room("general");
        for (id, name) in [(1, "dora"), (2, "Bob"), (3, "alice"), (4, "carl")] {
            p.join(&general, &user(id, name), &format!("c{id}")).await;
        }
        let first = p.members(&general, None, 2).await;
        let names: Vec<_> = first.members.iter().map(|u| u.name.as_str()).collect();
        assert_eq!((names, first.count), (vec!["alice", "Bob"], 4));
        let next = p.members(&general, Some("BOB"), 2).await;
        let names: Vec<_> = next.members.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, vec!["carl", "dora"]);
        p.disconnect(1, "c1").await;
        assert_eq!(p.members(&general, Some("carl"), 2).await.members, vec![]);
        assert_eq!(p.count(&general).await, 3);
    }

    #[tokio::test]
    async fn leaving_a_room_not_joined_changes_nothing() {
        let p = LocalPresence::default();
        assert_eq!(p.leave(&room("general"), 1, "tab1").await, None);
    }

    #[tokio::test]
    async fn membership_is_per_connection() {
        let p = LocalPresence::default();
        let general = room("general");
        p.join(&general, &user(1, "alice"), "tab1").await;
        assert!(p.is_member(&general, "tab1").await);
        assert!(!p.is_member(&general, "tab2").await);
        assert_eq!(p.leave(&general, 1, "tab1").await, Some(Change::Departed));
        assert!(!p.is_member(&general, "tab1").await);
    }
}
