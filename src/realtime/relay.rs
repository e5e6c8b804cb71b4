//! The relay: delivers every room's messages to this node's sockets in id
//! order, each exactly once, whichever node stored them; and answers joins
//! at the room's delivered position.
//!
//! One task, fed by the sequencer (this node's commits, in commit order) and
//! by the bus (other nodes' commits, each node's in its order). Each stored
//! message names the room's message before it (`prev`, read in the write
//! transaction). Per room with members here the relay keeps the last id it
//! delivered:
//!
//! - `prev` at or below it: delivered now (and the held messages it
//!   unblocks after it);
//! - `id` at or below it: a duplicate (already delivered from the database),
//!   dropped;
//! - `prev` above it: a gap. The message is held; if the missing ones have
//!   not come over the bus within `GAP_WAIT`, they are read from the database
//!   (`Cursor::After`) and delivered first. A room whose position came from a
//!   snapshot (its newest messages may be deleted ones) repairs at once.
//!
//! Catch-up of every room is the same repair, started when the bus was down
//! (this node may have missed frames), when another node dies (it may have
//! stored messages it never published) or resyncs (it lost frames).
//!
//! A join is answered at the room's delivered position `D`: its history is
//! the latest messages up to `D`, read from the database, plus whatever the
//! room delivered while that read was on its way; then the socket joins the
//! room's channel, before the next delivery. So its history and the stream
//! after it neither overlap nor leave a gap. Joins that arrive while a read is
//! on its way share it. A room with no members here yet has no position: its
//! first join reads the latest messages, and that sets it.
//!
//! Without a bus every message is this node's and comes in commit order:
//! each is delivered at once, as before there was a relay.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;

use super::delivery::{self, Laggards};
use super::presence_events::{self, PresenceEvents};
use super::{Adapter, SocketIo, SocketRef};
use crate::cluster::Bus;
use crate::error::Failure;
use crate::limits::HISTORY_DEFAULT;
use crate::messages::{Cursor, Message, MessageId, Page};
use crate::rooms::{ReadState, Room, RoomName};
use crate::store::{Applied, Inserted, Outcome, Store, StoreError};
use crate::users::User;
use socketioxide::extract::AckSender;

/// How long a gap may wait for the bus before the database fills it.
const GAP_WAIT: Duration = Duration::from_millis(150);
/// Messages read per repair (more follow, page by page).
const REPAIR_PAGE: i64 = 100;
/// Held messages in one room past which the repair starts at once.
const HELD_REPAIR: usize = 1_024;
/// Held messages in one room past which remote ones are not kept: the
/// repair that follows reads them from the database instead.
const HELD_MAX: usize = 16_384;
/// Messages delivered during one join read past which the read starts over
/// at the new position (bounds what a join holds in memory).
const SINCE_MAX: usize = 1_024;
/// Database reads the relay has in flight at once (repairs).
const READS: usize = 4;
/// How often rooms with nobody here are forgotten.
const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// Failed repairs of one room after which its held messages are delivered
/// anyway, in id order, with an error in the log.
const REPAIR_TRIES: u32 = 20;

/// Where completed steps go out: the sockets, the lagging set, and the
/// presence events gathered for big rooms.
pub struct Out {
    pub io: SocketIo,
    pub laggards: Arc<Laggards>,
    pub events: Arc<PresenceEvents>,
}

/// The waiter of a send: its acknowledgement, released once the message has
/// been delivered here (the sender's own echo comes first).
pub type Done = oneshot::Sender<Result<Inserted, StoreError>>;

/// What the join's connection gets once the join has its place.
pub struct JoinReply {
    pub socket: SocketRef,
    pub ack: AckSender<Adapter>,
    pub room: Room,
    /// The first page of members, and how many there are.
    pub members: Vec<User>,
    pub member_count: usize,
    /// The caller's read state in the room.
    pub read: ReadState,
    /// The arrival to announce after the ack, and the channel of the
    /// user's own connections, which are not told.
    pub announce: Option<(User, String)>,
}

/// A join waiting for its place.
pub struct Join {
    pub room: RoomName,
    pub reply: JoinReply,
    /// Whether the connection joined; on failure the ack said why.
    pub done: oneshot::Sender<bool>,
}

/// What the relay is told, besides this node's commits.
pub enum Input {
    /// A message another node stored.
    Remote {
        room: RoomName,
        prev: MessageId,
        message: Message,
    },
    Join(Join),
    /// A join read came back.
    Snapshot {
        room: RoomName,
        generation: u64,
        result: Result<Vec<Message>, StoreError>,
    },
    /// A repair read came back.
    Repair {
        room: RoomName,
        generation: u64,
        result: Result<Vec<Message>, StoreError>,
    },
    /// Read every room's messages after its position from the database.
    CatchUpAll,
}

/// One send of this node's batch, waiting for its commit.
pub struct Waiter {
    pub room: RoomName,
    pub done: Done,
}

/// A message held until the ones before it are delivered.
struct Held {
    prev: MessageId,
    message: Message,
    done: Option<Done>,
    /// When it came, in arrival order: a repair covers what came before it.
    arrival: u64,
}

/// A join read on its way.
struct Snapshot {
    generation: u64,
    /// The position it reads up to; `None` for a room with no position yet.
    at: Option<MessageId>,
    joins: Vec<Join>,
    /// Messages delivered since `at`, for the joins' history.
    since: Vec<Message>,
    /// More than `SINCE_MAX` were: the read starts over when it is back.
    overflowed: bool,
}

/// A repair read on its way.
struct Repair {
    generation: u64,
    /// Arrivals up to this one came before the read began.
    covers: u64,
}

#[derive(Default)]
struct RoomState {
    /// The last id delivered here; `None` until the first join's read.
    delivered: Option<MessageId>,
    /// The position came from a snapshot: the room's head may be newer
    /// (deleted messages), so the first gap is repaired at once.
    unverified: bool,
    held: BTreeMap<MessageId, Held>,
    snapshot: Option<Snapshot>,
    repair: Option<Repair>,
    /// A repair must follow the one on its way (messages were not kept).
    again: bool,
    /// A gap timer is queued.
    timed: bool,
    failures: u32,
}

impl RoomState {
    fn idle(&self) -> bool {
        self.held.is_empty() && self.snapshot.is_none() && self.repair.is_none()
    }
}

/// The relay's state; owned by its one task.
pub struct Relay {
    out: Out,
    store: Arc<dyn Store>,
    bus: Option<Bus>,
    inputs: mpsc::Sender<Input>,
    rooms: HashMap<RoomName, RoomState>,
    /// Rooms whose gap waits, in deadline order (the wait is constant).
    timers: VecDeque<(Instant, RoomName)>,
    arrivals: u64,
    generations: u64,
    reads: Arc<Semaphore>,
    next_sweep: Instant,
}

#[derive(Serialize)]
struct JoinAck<'a> {
    ok: bool,
    room: &'a Room,
    members: &'a [User],
    member_count: usize,
    messages: &'a [Message],
    #[serde(flatten)]
    read: ReadState,
}

impl Relay {
    pub fn new(
        out: Out,
        store: Arc<dyn Store>,
        bus: Option<Bus>,
        inputs: mpsc::Sender<Input>,
    ) -> Self {
        Self {
            out,
            store,
            bus,
            inputs,
            rooms: HashMap::new(),
            timers: VecDeque::new(),
            arrivals: 0,
            generations: 0,
            reads: Arc::new(Semaphore::new(READS)),
            next_sweep: Instant::now() + SWEEP_EVERY,
        }
    }

    /// The relay's loop: this node's batches in commit order (the next one
    /// is awaited while the relay handles everything else), the inputs, and
    /// the gap timers. Ends when the sequencer does.
    pub async fn run(
        mut self,
        mut batches: mpsc::UnboundedReceiver<(Vec<Waiter>, crate::store::Pending)>,
        mut inputs: mpsc::Receiver<Input>,
    ) {
        let mut queue: VecDeque<(Vec<Waiter>, crate::store::Pending)> = VecDeque::new();
        let mut open = true;
        while open || !queue.is_empty() {
            let deadline = self.deadline();
            tokio::select! {
                applied = front(&mut queue), if !queue.is_empty() => {
                    if let Some((waiters, _)) = queue.pop_front() {
                        self.committed(waiters, applied).await;
                    }
                }
                batch = batches.recv(), if open => match batch {
                    Some(batch) => queue.push_back(batch),
                    None => open = false,
                },
                Some(input) = inputs.recv() => self.input(input).await,
                () = tokio::time::sleep_until(deadline) => self.tick().await,
            }
        }
    }

    fn deadline(&self) -> Instant {
        let next = self.timers.front().map_or(self.next_sweep, |(at, _)| *at);
        next.min(self.next_sweep)
    }

    async fn committed(&mut self, waiters: Vec<Waiter>, applied: Applied) {
        let outcomes = match applied {
            Ok(outcomes) => outcomes,
            Err(err) => {
                tracing::error!(%err, "a batch of messages was not stored");
                for waiter in waiters {
                    let _ = waiter.done.send(Err(StoreError::BatchFailed));
                }
                return;
            }
        };
        for (waiter, outcome) in waiters.into_iter().zip(outcomes) {
            match outcome {
                Ok(Outcome::Sent(Inserted::New { message, prev })) => {
                    crate::metrics::get().messages_stored.increment(1);
                    if let Some(bus) = &self.bus {
                        bus.publish_message(&waiter.room, &message, prev);
                    }
                    self.arrive(waiter.room, prev, message, Some(waiter.done))
                        .await;
                }
                Ok(Outcome::Sent(other)) => {
                    let _ = waiter.done.send(Ok(other));
                }
                Err(err) => {
                    let _ = waiter.done.send(Err(err));
                }
            }
        }
    }

    async fn input(&mut self, input: Input) {
        match input {
            Input::Remote {
                room,
                prev,
                message,
            } => self.arrive(room, prev, message, None).await,
            Input::Join(join) => self.join(join),
            Input::Snapshot {
                room,
                generation,
                result,
            } => self.snapshot_read(room, generation, result).await,
            Input::Repair {
                room,
                generation,
                result,
            } => self.repair_read(room, generation, result).await,
            Input::CatchUpAll => {
                let rooms: Vec<RoomName> = self
                    .rooms
                    .iter()
                    .filter(|(_, state)| state.delivered.is_some())
                    .map(|(room, _)| room.clone())
                    .collect();
                tracing::info!(
                    rooms = rooms.len(),
                    "catching up every room from the database"
                );
                for room in rooms {
                    // A read already on its way may have begun before what
                    // is to be caught up was stored: another follows it.
                    self.start_repair(&room, true);
                }
            }
        }
    }

    /// A stored message, from this node or another.
    async fn arrive(
        &mut self,
        room: RoomName,
        prev: MessageId,
        message: Message,
        done: Option<Done>,
    ) {
        self.arrivals += 1;
        let arrival = self.arrivals;
        let bus = self.bus.is_some();
        let Some(state) = self.rooms.get_mut(&room) else {
            // Nobody here is in the room.
            release(done, message, prev);
            return;
        };
        let id = message.id;
        match state.delivered {
            Some(delivered) if id <= delivered => release(done, message, prev),
            Some(delivered) if prev <= delivered || !bus => {
                deliver(&self.out, &room, state, message, prev, done).await;
                flush(&self.out, &room, state).await;
            }
            _ => {
                let remote = done.is_none();
                if remote && state.held.len() >= HELD_MAX {
                    // Not kept: the repair after the one on its way reads it.
                    state.again = true;
                    return;
                }
                state.held.insert(
                    id,
                    Held {
                        prev,
                        message,
                        done,
                        arrival,
                    },
                );
                if state.delivered.is_none() {
                    // The first join's read is on its way.
                    if state.held.len() >= HELD_REPAIR {
                        self.restart_snapshot(&room);
                    }
                    return;
                }
                if state.repair.is_none() && (state.unverified || state.held.len() >= HELD_REPAIR) {
                    self.start_repair(&room, false);
                } else {
                    self.wait_for_gap(&room);
                }
            }
        }
    }

    fn wait_for_gap(&mut self, room: &RoomName) {
        let Some(state) = self.rooms.get_mut(room) else {
            return;
        };
        if state.timed || state.repair.is_some() {
            return;
        }
        state.timed = true;
        self.timers
            .push_back((Instant::now() + GAP_WAIT, room.clone()));
    }

    /// Gap timers that are due, and the sweep.
    async fn tick(&mut self) {
        let now = Instant::now();
        while let Some((at, _)) = self.timers.front()
            && *at <= now
        {
            let Some((_, room)) = self.timers.pop_front() else {
                break;
            };
            let Some(state) = self.rooms.get_mut(&room) else {
                continue;
            };
            state.timed = false;
            if !state.held.is_empty() && state.delivered.is_some() && state.repair.is_none() {
                crate::metrics::get().bus_gaps.increment(1);
                self.start_repair(&room, false);
            }
        }
        if self.next_sweep <= now {
            self.next_sweep = now + SWEEP_EVERY;
            self.sweep();
        }
    }

    /// Forgets rooms that nobody here is in and nothing waits on.
    fn sweep(&mut self) {
        let Some(ns) = self.out.io.of("/") else {
            return;
        };
        self.rooms.retain(|room, state| {
            !state.idle() || !ns.clone().to(room.channel()).sockets().is_empty()
        });
    }

    /// Reads what the room may have missed, after its position. With a
    /// read already on its way, `again` has another follow it.
    fn start_repair(&mut self, room: &RoomName, again: bool) {
        let Some(state) = self.rooms.get_mut(room) else {
            return;
        };
        let Some(after) = state.delivered else { return };
        if state.repair.is_some() {
            state.again |= again;
            return;
        }
        self.generations += 1;
        let generation = self.generations;
        state.repair = Some(Repair {
            generation,
            covers: self.arrivals,
        });
        let page = Page {
            cursor: Cursor::After(after),
            limit: REPAIR_PAGE,
        };
        let (store, inputs, reads) = (self.store.clone(), self.inputs.clone(), self.reads.clone());
        let room = room.clone();
        tokio::spawn(async move {
            let result = match reads.acquire_owned().await {
                Ok(_permit) => store.messages(&room, page).await,
                Err(_) => Err(StoreError::WriterGone),
            };
            let _ = inputs
                .send(Input::Repair {
                    room,
                    generation,
                    result,
                })
                .await;
        });
    }

    async fn repair_read(
        &mut self,
        room: RoomName,
        generation: u64,
        result: Result<Vec<Message>, StoreError>,
    ) {
        let Some(state) = self.rooms.get_mut(&room) else {
            return;
        };
        let covers = match &state.repair {
            Some(repair) if repair.generation == generation => repair.covers,
            _ => return,
        };
        state.repair = None;
        let messages = match result {
            Ok(messages) => messages,
            Err(err) if err.is_closed() => {
                // A node that left made every room catch up while this one
                // was closing too: nobody is left to deliver to.
                tracing::debug!(room = %room, "the store closed before a room caught up");
                return;
            }
            Err(err) => {
                state.failures += 1;
                tracing::warn!(%err, room = %room, tries = state.failures, "cannot read a room's missing messages");
                if state.failures >= REPAIR_TRIES {
                    tracing::error!(room = %room, held = state.held.len(),
                        "giving up on a gap: delivering what is held, in id order");
                    state.failures = 0;
                    force(&self.out, &room, state).await;
                } else {
                    self.wait_for_gap(&room);
                }
                return;
            }
        };
        state.failures = 0;
        let full = messages.len() as i64 >= REPAIR_PAGE;
        let mut repaired = 0;
        for message in messages {
            if state.delivered.is_some_and(|d| message.id <= d) {
                continue;
            }
            let (prev, done) = match state.held.remove(&message.id) {
                Some(held) => (held.prev, held.done),
                None => {
                    repaired += 1;
                    (0, None)
                }
            };
            deliver(&self.out, &room, state, message, prev, done).await;
        }
        crate::metrics::get()
            .bus_messages_repaired
            .increment(repaired);
        if full || std::mem::take(&mut state.again) {
            self.start_repair(&room, false);
            return;
        }
        // Everything stored before the read began is delivered now, but for
        // deleted messages: what was held from then on can go, in id order.
        let covered: Vec<MessageId> = state
            .held
            .iter()
            .filter(|(_, held)| held.arrival <= covers)
            .map(|(id, _)| *id)
            .collect();
        for id in covered {
            if let Some(held) = state.held.remove(&id) {
                if state.delivered.is_some_and(|d| id <= d) {
                    release(held.done, held.message, held.prev);
                } else {
                    deliver(&self.out, &room, state, held.message, held.prev, held.done).await;
                }
            }
        }
        flush(&self.out, &room, state).await;
        if !state.held.is_empty() {
            self.wait_for_gap(&room);
        }
    }

    /// A join: answered once the room's history up to its position is read.
    fn join(&mut self, join: Join) {
        let room = join.room.clone();
        let state = self.rooms.entry(room.clone()).or_default();
        if let Some(snapshot) = &mut state.snapshot {
            snapshot.joins.push(join);
            return;
        }
        let at = state.delivered;
        state.snapshot = Some(Snapshot {
            generation: 0,
            at,
            joins: vec![join],
            since: Vec::new(),
            overflowed: false,
        });
        self.read_snapshot(&room);
    }

    /// Starts the read of the room's snapshot at its position now.
    fn read_snapshot(&mut self, room: &RoomName) {
        let Some(state) = self.rooms.get_mut(room) else {
            return;
        };
        let at = state.delivered;
        let Some(snapshot) = &mut state.snapshot else {
            return;
        };
        self.generations += 1;
        let generation = self.generations;
        snapshot.generation = generation;
        snapshot.at = at;
        snapshot.since.clear();
        snapshot.overflowed = false;
        let page = match at {
            Some(at) => Page {
                cursor: Cursor::Before(at + 1),
                limit: HISTORY_DEFAULT,
            },
            None => Page::latest(HISTORY_DEFAULT),
        };
        let (store, inputs, room) = (self.store.clone(), self.inputs.clone(), room.clone());
        tokio::spawn(async move {
            let result = store.messages(&room, page).await;
            let _ = inputs
                .send(Input::Snapshot {
                    room,
                    generation,
                    result,
                })
                .await;
        });
    }

    /// Too much arrived during the first join's read: what is held is
    /// older than a new read will see, so it goes, and the read starts over.
    fn restart_snapshot(&mut self, room: &RoomName) {
        let Some(state) = self.rooms.get_mut(room) else {
            return;
        };
        for (_, held) in std::mem::take(&mut state.held) {
            release(held.done, held.message, held.prev);
        }
        self.read_snapshot(room);
    }

    async fn snapshot_read(
        &mut self,
        room: RoomName,
        generation: u64,
        result: Result<Vec<Message>, StoreError>,
    ) {
        let Some(state) = self.rooms.get_mut(&room) else {
            return;
        };
        if state
            .snapshot
            .as_ref()
            .is_none_or(|s| s.generation != generation)
        {
            return;
        }
        if state.snapshot.as_ref().is_some_and(|s| s.overflowed) && result.is_ok() {
            // The room moved on too far during the read: read again, at
            // its position now.
            self.read_snapshot(&room);
            return;
        }
        let Some(snapshot) = state.snapshot.take() else {
            return;
        };
        let mut messages = match result {
            Ok(messages) => messages,
            Err(err) => {
                tracing::warn!(%err, room = %room, "cannot read a room's history for a join");
                for join in snapshot.joins {
                    let _ = join.reply.ack.send(&Failure::from(err_copy(&err)).to_ack());
                    let _ = join.done.send(false);
                }
                if state.delivered.is_none() {
                    for (_, held) in std::mem::take(&mut state.held) {
                        release(held.done, held.message, held.prev);
                    }
                    self.rooms.remove(&room);
                }
                return;
            }
        };
        let first = snapshot.at.is_none();
        if first {
            // The room's position: the newest message it has (deleted ones
            // after it are found at the first gap).
            state.delivered = Some(messages.last().map_or(0, |m| m.id));
            state.unverified = true;
        } else {
            messages.extend(snapshot.since);
            let extra = messages.len().saturating_sub(HISTORY_DEFAULT as usize);
            messages.drain(..extra);
        }
        for join in snapshot.joins {
            answer(&self.out, join, &messages).await;
        }
        if first {
            let Some(delivered) = state.delivered else {
                return;
            };
            let stale: Vec<MessageId> = state.held.range(..=delivered).map(|(id, _)| *id).collect();
            for id in stale {
                if let Some(held) = state.held.remove(&id) {
                    release(held.done, held.message, held.prev);
                }
            }
            flush(&self.out, &room, state).await;
            if !state.held.is_empty() {
                self.start_repair(&room, false);
            }
        }
    }
}

/// Copies what a client may be told of a store error.
fn err_copy(err: &StoreError) -> StoreError {
    match err {
        StoreError::RoomNotFound => StoreError::RoomNotFound,
        _ => StoreError::BatchFailed,
    }
}

/// The first batch's commit, or never if there is none.
async fn front(queue: &mut VecDeque<(Vec<Waiter>, crate::store::Pending)>) -> Applied {
    match queue.front_mut() {
        Some((_, pending)) => pending.as_mut().await,
        None => std::future::pending().await,
    }
}

/// Acknowledges a send whose message is not (or no longer) to be delivered
/// here.
fn release(done: Option<Done>, message: Message, prev: MessageId) {
    if let Some(done) = done {
        let _ = done.send(Ok(Inserted::New { message, prev }));
    }
}

/// Delivers one message to the room's sockets here, then acknowledges it
/// if it is this node's.
async fn deliver(
    out: &Out,
    room: &RoomName,
    state: &mut RoomState,
    message: Message,
    prev: MessageId,
    done: Option<Done>,
) {
    delivery::to_room(&out.io, room, None, "message", &message).await;
    state.delivered = Some(message.id);
    state.unverified = false;
    if let Some(snapshot) = &mut state.snapshot
        && snapshot.at.is_some()
    {
        if snapshot.since.len() < SINCE_MAX {
            snapshot.since.push(message.clone());
        } else {
            snapshot.overflowed = true;
        }
    }
    release(done, message, prev);
}

/// Delivers the held messages that now follow the room's position.
async fn flush(out: &Out, room: &RoomName, state: &mut RoomState) {
    while let Some(entry) = state.held.first_entry() {
        let (id, prev) = (*entry.key(), entry.get().prev);
        let Some(delivered) = state.delivered else {
            return;
        };
        if id <= delivered {
            let held = entry.remove();
            release(held.done, held.message, held.prev);
        } else if prev <= delivered {
            let held = entry.remove();
            deliver(out, room, state, held.message, held.prev, held.done).await;
        } else {
            return;
        }
    }
}

/// Delivers everything held, in id order, gaps or not.
async fn force(out: &Out, room: &RoomName, state: &mut RoomState) {
    for (_, held) in std::mem::take(&mut state.held) {
        if state.delivered.is_some_and(|d| held.message.id <= d) {
            release(held.done, held.message, held.prev);
        } else {
            deliver(out, room, state, held.message, held.prev, held.done).await;
        }
    }
}

/// Puts the joining socket in the room's channel, acknowledges the join
/// with `messages`, and announces the arrival.
async fn answer(out: &Out, join: Join, messages: &[Message]) {
    let Join { room, reply, done } = join;
    reply.socket.join(room.channel());
    crate::metrics::get().joins.increment(1);
    let ack = JoinAck {
        ok: true,
        room: &reply.room,
        members: &reply.members,
        member_count: reply.member_count,
        messages,
        read: reply.read,
    };
    if let Some(backlog) = out.laggards.backlog(reply.socket.id) {
        out.laggards.answered(&backlog, delivery::json_bytes(&ack));
    }
    if let Err(err) = reply.ack.send(&ack)
        && delivery::is_full(&err)
    {
        delivery::evict(&out.laggards, &reply.socket);
    }
    if let Some((user, except)) = &reply.announce {
        let joined = presence_events::Change::Joined;
        let count = reply.member_count;
        presence_events::announce(
            &out.io,
            &out.events,
            &room,
            user,
            joined,
            count,
            except.clone(),
        )
        .await;
    }
    let _ = done.send(true);
}
