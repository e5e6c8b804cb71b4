//! Presence: who is in which room right now. A user is in a room while at
//! least one of their connections has joined it, so two tabs are one member.
//!
//! Behind a trait so that several nodes can later share presence through
//! Redis; `LocalPresence` keeps it in this process's memory.

use std::collections::{HashMap, HashSet};
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
    /// The distinct users in `room`, by name.
    async fn members(&self, room: &RoomName) -> Vec<User>;
    /// How many distinct users each occupied room has.
    async fn counts(&self) -> HashMap<RoomName, usize>;
}

#[derive(Default)]
struct Member {
    user: Option<User>,
    conns: HashSet<String>,
}

#[derive(Default)]
struct State {
    rooms: HashMap<RoomName, HashMap<UserId, Member>>,
    conns: HashMap<String, HashSet<RoomName>>,
}

impl State {
    /// Removes `conn` from `room`; `None` if it was not there.
    fn remove(&mut self, room: &RoomName, user: UserId, conn: &str) -> Option<Change> {
        let members = self.rooms.get_mut(room)?;
        let member = members.get_mut(&user)?;
        if !member.conns.remove(conn) {
            return None;
        }
        if !member.conns.is_empty() {
            return Some(Change::Unchanged);
        }
        members.remove(&user);
        if members.is_empty() {
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
            let member = s
                .rooms
                .entry(room.clone())
                .or_default()
                .entry(user.id)
                .or_default();
            member.user = Some(user.clone());
            let first = member.conns.is_empty();
            member.conns.insert(conn.to_owned());
            if first {
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

    async fn members(&self, room: &RoomName) -> Vec<User> {
        self.with(|s| {
            let mut users: Vec<User> = s
                .rooms
                .get(room)
                .into_iter()
                .flat_map(|m| m.values().filter_map(|m| m.user.clone()))
                .collect();
            users.sort_by_key(|u| u.name.to_ascii_lowercase());
            users
        })
    }

    async fn counts(&self) -> HashMap<RoomName, usize> {
        self.with(|s| s.rooms.iter().map(|(r, m)| (r.clone(), m.len())).collect())
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
        assert_eq!(p.members(&general).await, vec![alice.clone()]);
        assert_eq!(p.counts().await.get(&general), Some(&1));
        assert_eq!(p.disconnect(1, "tab1").await, Vec::<RoomName>::new());
        assert_eq!(p.disconnect(1, "tab2").await, vec![general.clone()]);
        assert!(p.members(&general).await.is_empty());
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
