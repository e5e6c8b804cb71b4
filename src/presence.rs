//! Presence: who is in which room right now. A user is in a room while at
//! least one of their connections has joined it, on any node, so two tabs
//! are one member wherever they are connected.
//!
//! Each node keeps the whole picture in memory: its own connections, and
//! what every other node said it has (one user in one room at a time, over
//! the bus: `cluster::Out::Presence`, numbered so a node that missed one
//! asks for the sender's full state). Member pages and counts are read here
//! without a round trip. A node that dies leaves its entries behind until
//! the others stop hearing its heartbeat (`drop_node`). Without a bus there
//! are no other nodes and this is plain local presence.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::cluster::{Bus, NodeId, Out};
use crate::rooms::RoomName;
use crate::users::{User, UserId};

/// What changed for the room's membership when a connection came or went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The user's first connection in the room, on any node: tell the others.
    Arrived,
    /// The user's last connection left, on every node: tell the others.
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

/// A change of the room's membership that another node caused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteChange {
    pub room: RoomName,
    pub user: User,
    /// `Arrived` or `Departed`.
    pub change: Change,
}

/// Room membership, by connection and by user, across nodes.
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

    /// Another node says `user` is (or is no longer) in `room` there.
    fn remote(
        &self,
        node: NodeId,
        room: &RoomName,
        user: &User,
        present: bool,
    ) -> Option<RemoteChange>;
    /// Another node's whole presence, replacing what it said before.
    fn replace_node(&self, node: NodeId, rooms: Vec<(RoomName, Vec<User>)>) -> Vec<RemoteChange>;
    /// Forgets everything another node said (it is gone).
    fn drop_node(&self, node: NodeId) -> Vec<RemoteChange>;
    /// This node's latest presence change number.
    fn seq(&self) -> u64;
    /// Publishes this node's whole presence (under the lock, so that no
    /// change overtakes it on the bus).
    fn publish_full(&self);
}

/// One user in one room: their connections here, and the other nodes where
/// they have at least one.
struct Member {
    key: String,
    user: User,
    conns: HashSet<String>,
    nodes: Vec<NodeId>,
}

impl Member {
    fn present(&self) -> bool {
        !self.conns.is_empty() || !self.nodes.is_empty()
    }
}

/// One room's members, by id and in name order.
#[derive(Default)]
struct Members {
    users: HashMap<UserId, Member>,
    by_name: BTreeMap<(String, UserId), User>,
}

#[derive(Default)]
struct State {
    rooms: HashMap<RoomName, Members>,
    conns: HashMap<String, HashSet<RoomName>>,
    /// This node's presence changes so far.
    seq: u64,
}

impl State {
    /// The member entry for `user` in `room`, made if new (not yet present).
    fn entry(&mut self, room: &RoomName, user: &User) -> &mut Member {
        self.rooms
            .entry(room.clone())
            .or_default()
            .users
            .entry(user.id)
            .or_insert_with(|| Member {
                key: user.name.to_ascii_lowercase(),
                user: user.clone(),
                conns: HashSet::new(),
                nodes: Vec::new(),
            })
    }

    /// Lists a member who just became present, in name order.
    fn listed(&mut self, room: &RoomName, user: UserId) {
        if let Some(members) = self.rooms.get_mut(room)
            && let Some(m) = members.users.get(&user)
        {
            members
                .by_name
                .insert((m.key.clone(), user), m.user.clone());
        }
    }

    /// Removes the member if nobody anywhere holds them in the room now;
    /// whether they departed.
    fn unlist_if_gone(&mut self, room: &RoomName, user: UserId) -> bool {
        let Some(members) = self.rooms.get_mut(room) else {
            return false;
        };
        let gone = members.users.get(&user).is_some_and(|m| !m.present());
        if gone && let Some(m) = members.users.remove(&user) {
            members.by_name.remove(&(m.key, user));
        }
        if members.users.is_empty() {
            self.rooms.remove(room);
        }
        gone
    }

    /// Removes `conn` from `room`; `None` if it was not there. The user's
    /// last connection here going is a change to tell the other nodes.
    fn remove(&mut self, room: &RoomName, user: UserId, conn: &str) -> Option<(Change, bool)> {
        let members = self.rooms.get_mut(room)?;
        let member = members.users.get_mut(&user)?;
        if !member.conns.remove(conn) {
            return None;
        }
        if !member.conns.is_empty() {
            return Some((Change::Unchanged, false));
        }
        let change = if self.unlist_if_gone(room, user) {
            Change::Departed
        } else {
            Change::Unchanged
        };
        Some((change, true))
    }

    /// Sets whether `node` holds `user` in `room`; the change, if any.
    fn set_remote(
        &mut self,
        node: NodeId,
        room: &RoomName,
        user: &User,
        present: bool,
    ) -> Option<Change> {
        if present {
            let member = self.entry(room, user);
            let was = member.present();
            if member.nodes.contains(&node) {
                return None;
            }
            member.nodes.push(node);
            if was {
                return None;
            }
            self.listed(room, user.id);
            Some(Change::Arrived)
        } else {
            let member = self.rooms.get_mut(room)?.users.get_mut(&user.id)?;
            let before = member.nodes.len();
            member.nodes.retain(|n| *n != node);
            if member.nodes.len() == before {
                return None;
            }
            self.unlist_if_gone(room, user.id)
                .then_some(Change::Departed)
        }
    }

    /// Every (room, user) that `node` holds now.
    fn held_by(&self, node: NodeId) -> Vec<(RoomName, User)> {
        let mut held = Vec::new();
        for (room, members) in &self.rooms {
            for member in members.users.values() {
                if member.nodes.contains(&node) {
                    held.push((room.clone(), member.user.clone()));
                }
            }
        }
        held
    }

    /// Everyone this node has in each room, by room name.
    fn local(&self) -> Vec<(String, Vec<User>)> {
        let mut rooms: Vec<(String, Vec<User>)> = self
            .rooms
            .iter()
            .map(|(room, members)| {
                let users = members
                    .users
                    .values()
                    .filter(|m| !m.conns.is_empty())
                    .map(|m| m.user.clone())
                    .collect::<Vec<_>>();
                (room.as_str().to_owned(), users)
            })
            .filter(|(_, users)| !users.is_empty())
            .collect();
        rooms.sort_by(|a, b| a.0.cmp(&b.0));
        rooms
    }
}

/// Presence in this process's memory, shared with the other nodes over the
/// bus when there is one. The lock is never held across an await (a
/// change is queued for the bus without waiting), so a `std` mutex is the
/// right tool.
#[derive(Default)]
pub struct LocalPresence {
    state: Mutex<State>,
    bus: Option<Bus>,
}

impl LocalPresence {
    /// Presence that tells the other nodes on `bus` of this node's changes.
    pub fn new(bus: Option<Bus>) -> Self {
        Self {
            state: Mutex::default(),
            bus,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State, Option<&Bus>) -> T) -> T {
        let mut guard = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard, self.bus.as_ref())
    }
}

/// Tells the other nodes that this node now holds (or no longer holds)
/// `user` in `room`; numbered under the lock, so in order.
fn announce(state: &mut State, bus: Option<&Bus>, room: &RoomName, user: &User, present: bool) {
    let Some(bus) = bus else { return };
    state.seq += 1;
    bus.publish(&Out::Presence {
        node: bus.node(),
        seq: state.seq,
        room: room.as_str(),
        user,
        present,
    });
}

fn user_of(state: &State, room: &RoomName, user: UserId) -> Option<User> {
    Some(state.rooms.get(room)?.users.get(&user)?.user.clone())
}

#[async_trait]
impl Presence for LocalPresence {
    async fn join(&self, room: &RoomName, user: &User, conn: &str) -> Change {
        self.with(|s, bus| {
            s.conns
                .entry(conn.to_owned())
                .or_default()
                .insert(room.clone());
            let member = s.entry(room, user);
            let was = member.present();
            let first_here = member.conns.is_empty();
            member.conns.insert(conn.to_owned());
            if first_here {
                announce(s, bus, room, user, true);
            }
            if was {
                Change::Unchanged
            } else {
                s.listed(room, user.id);
                Change::Arrived
            }
        })
    }

    async fn leave(&self, room: &RoomName, user: UserId, conn: &str) -> Option<Change> {
        self.with(|s, bus| {
            if let Some(rooms) = s.conns.get_mut(conn) {
                rooms.remove(room);
            }
            let known = user_of(s, room, user);
            let (change, last_here) = s.remove(room, user, conn)?;
            if last_here && let Some(known) = known {
                announce(s, bus, room, &known, false);
            }
            Some(change)
        })
    }

    async fn disconnect(&self, user: UserId, conn: &str) -> Vec<RoomName> {
        self.with(|s, bus| {
            let rooms = s.conns.remove(conn).unwrap_or_default();
            let mut left = Vec::new();
            for room in rooms {
                let known = user_of(s, &room, user);
                let Some((change, last_here)) = s.remove(&room, user, conn) else {
                    continue;
                };
                if last_here && let Some(known) = known {
                    announce(s, bus, &room, &known, false);
                }
                if change == Change::Departed {
                    left.push(room);
                }
            }
            left.sort();
            left
        })
    }

    async fn is_member(&self, room: &RoomName, conn: &str) -> bool {
        self.with(|s, _| s.conns.get(conn).is_some_and(|rooms| rooms.contains(room)))
    }

    async fn members(&self, room: &RoomName, after: Option<&str>, limit: usize) -> MemberPage {
        self.with(|s, _| {
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
                count: members.by_name.len(),
            }
        })
    }

    async fn count(&self, room: &RoomName) -> usize {
        self.with(|s, _| s.rooms.get(room).map_or(0, |m| m.by_name.len()))
    }

    async fn counts(&self) -> HashMap<RoomName, usize> {
        self.with(|s, _| {
            s.rooms
                .iter()
                .map(|(r, m)| (r.clone(), m.by_name.len()))
                .filter(|(_, n)| *n > 0)
                .collect()
        })
    }

    fn remote(
        &self,
        node: NodeId,
        room: &RoomName,
        user: &User,
        present: bool,
    ) -> Option<RemoteChange> {
        self.with(|s, _| {
            let change = s.set_remote(node, room, user, present)?;
            Some(RemoteChange {
                room: room.clone(),
                user: user.clone(),
                change,
            })
        })
    }

    fn replace_node(&self, node: NodeId, rooms: Vec<(RoomName, Vec<User>)>) -> Vec<RemoteChange> {
        self.with(|s, _| {
            let now: HashSet<(RoomName, UserId)> = rooms
                .iter()
                .flat_map(|(room, users)| users.iter().map(move |u| (room.clone(), u.id)))
                .collect();
            let mut changes = Vec::new();
            for (room, user) in s.held_by(node) {
                if !now.contains(&(room.clone(), user.id))
                    && let Some(change) = s.set_remote(node, &room, &user, false)
                {
                    changes.push(RemoteChange { room, user, change });
                }
            }
            for (room, users) in rooms {
                for user in users {
                    if let Some(change) = s.set_remote(node, &room, &user, true) {
                        changes.push(RemoteChange {
                            room: room.clone(),
                            user,
                            change,
                        });
                    }
                }
            }
            changes
        })
    }

    fn drop_node(&self, node: NodeId) -> Vec<RemoteChange> {
        self.replace_node(node, Vec::new())
    }

    fn seq(&self) -> u64 {
        self.with(|s, _| s.seq)
    }

    fn publish_full(&self) {
        self.with(|s, bus| {
            let Some(bus) = bus else { return };
            let rooms = s.local();
            bus.publish(&Out::Full {
                node: bus.node(),
                seq: s.seq,
                rooms: &rooms,
            });
        });
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
            bot: false,
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

    #[tokio::test]
    async fn a_user_on_two_nodes_is_one_member_until_both_are_gone() {
        let p = LocalPresence::default();
        let (general, alice, bob) = (room("general"), user(1, "alice"), user(2, "bob"));
        let arrived = p.remote(7, &general, &alice, true).unwrap();
        assert_eq!(arrived.change, Change::Arrived);
        assert_eq!(p.remote(7, &general, &alice, true), None);
        // A tab here as well: still one member, nobody is told.
        assert_eq!(p.join(&general, &alice, "tab").await, Change::Unchanged);
        assert_eq!(p.count(&general).await, 1);
        assert_eq!(p.remote(7, &general, &alice, false), None);
        assert_eq!(p.disconnect(1, "tab").await, vec![general.clone()]);
        // Another node's members go when it does, each told once.
        p.remote(8, &general, &alice, true);
        p.remote(9, &general, &alice, true);
        p.remote(9, &general, &bob, true);
        assert_eq!(p.drop_node(8), vec![]);
        let gone = p.drop_node(9);
        assert_eq!(gone.len(), 2);
        assert!(gone.iter().all(|c| c.change == Change::Departed));
        assert_eq!(p.count(&general).await, 0);
    }

    #[test]
    fn a_full_state_replaces_what_the_node_said_before() {
        let p = LocalPresence::default();
        let (general, alice, bob) = (room("general"), user(1, "alice"), user(2, "bob"));
        p.remote(7, &general, &alice, true);
        let changes = p.replace_node(7, vec![(general.clone(), vec![bob.clone()])]);
        let summary: Vec<_> = changes.iter().map(|c| (c.user.id, c.change)).collect();
        assert_eq!(summary, vec![(1, Change::Departed), (2, Change::Arrived)]);
        assert!(
            p.replace_node(7, vec![(general.clone(), vec![bob])])
                .is_empty()
        );
    }
}
