//! The sequencer: the one ordered path that every message and every join
//! takes.
//!
//! Handlers submit steps; one task takes whatever has queued up as a
//! batch, has the store apply it in one transaction (group commit: one
//! fsync for the whole batch), and only then, in log order, broadcasts each
//! new message and completes each join. So a room's messages reach every
//! member in id order with no lock held across disk I/O, nothing is
//! acknowledged or broadcast before it is on disk, and a join's history and
//! the broadcasts after it neither overlap nor leave a gap: the join is
//! answered at its place in the log, before any later message is queued to
//! the joining connection.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use socketioxide::extract::AckSender;
use tokio::sync::{mpsc, oneshot};

use super::delivery::{self, Laggards};
use super::presence_events::{self, PresenceEvents};
use super::{Adapter, SocketIo, SocketRef};
use crate::error::Failure;
use crate::messages::Message;
use crate::rooms::{Room, RoomName};
use crate::store::{Inserted, NewMessage, Outcome, Pending, Step, Store, StoreError};
use crate::users::User;

/// Most steps in one batch; more wait for the next.
const MAX_BATCH: usize = 512;
/// Steps that may wait for the sequencer. Each connection has at most one
/// in flight (its inbox waits), so this is never reached in practice.
const QUEUE: usize = 65_536;

/// Where handlers submit steps. Cheap to clone.
#[derive(Clone)]
pub struct Sequencer {
    tx: mpsc::Sender<Job>,
}

/// The receiving end, handed to `run` once Socket.IO is set up.
pub struct Queue(mpsc::Receiver<Job>);

/// Where completed steps go out: the sockets, the lagging set, and the
/// presence events gathered for big rooms.
pub struct Out {
    pub io: SocketIo,
    pub laggards: Arc<Laggards>,
    pub events: Arc<PresenceEvents>,
}

/// What the join's connection gets once the join has its place in the log.
pub struct JoinReply {
    pub socket: SocketRef,
    pub ack: AckSender<Adapter>,
    pub room: Room,
    /// The first page of members, and how many there are.
    pub members: Vec<User>,
    pub member_count: usize,
    /// The arrival to announce after the ack, and the channel of the
    /// user's own connections, which are not told.
    pub announce: Option<(User, String)>,
}

enum Job {
    Send {
        message: NewMessage,
        done: oneshot::Sender<Result<Inserted, StoreError>>,
    },
    Join {
        room: RoomName,
        limit: i64,
        reply: JoinReply,
        /// Whether the connection joined; on failure the ack said why.
        done: oneshot::Sender<bool>,
    },
}

#[derive(Serialize)]
struct JoinAck<'a> {
    ok: bool,
    room: &'a Room,
    members: &'a [User],
    member_count: usize,
    messages: &'a [Message],
}

impl Sequencer {
    pub fn new() -> (Self, Queue) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Self { tx }, Queue(rx))
    }

    /// Stores a message; once it is on disk, broadcasts it to its room
    /// (sender included) and returns it.
    pub async fn send(&self, message: NewMessage) -> Result<Inserted, StoreError> {
        let started = Instant::now();
        let (done, result) = oneshot::channel();
        let job = Job::Send { message, done };
        self.tx
            .send(job)
            .await
            .map_err(|_| StoreError::WriterGone)?;
        let inserted = result.await.map_err(|_| StoreError::WriterGone)?;
        crate::metrics::get().ack_seconds.record(started.elapsed());
        inserted
    }

    /// Puts the connection in the room's channel and answers its join ack
    /// with the room's latest `limit` messages, at one point in the log.
    /// On failure the ack carries the error and this returns `false`.
    pub async fn join(&self, room: RoomName, limit: i64, reply: JoinReply) -> bool {
        let (done, result) = oneshot::channel();
        let job = Job::Join {
            room,
            limit,
            reply,
            done,
        };
        if let Err(Job::Join { reply, .. }) = self.tx.send(job).await.map_err(|e| e.0) {
            let _ = reply
                .ack
                .send(&Failure::from(StoreError::WriterGone).to_ack());
            return false;
        }
        result.await.unwrap_or(false)
    }
}

/// The sequencer: batches go to the store as soon as they form, and a
/// second task completes them in the same order as each commit lands, so
/// the fan-out of one batch overlaps the next batch's trip to disk. Ends
/// when every `Sequencer` handle is gone.
pub async fn run(Queue(mut rx): Queue, store: Arc<dyn Store>, out: Out) {
    let (committed, in_order) = mpsc::unbounded_channel();
    tokio::spawn(complete_in_order(in_order, out));
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Let every task that is ready now run first: the connections whose
        // sends have already arrived queue them, and they share this commit
        // instead of each paying for one. When idle this costs nothing.
        tokio::task::yield_now().await;
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // The message moves into its step; its waiter keeps only the room.
        let (steps, waiters): (Vec<Step>, Vec<Waiter>) = batch.drain(..).map(Job::split).unzip();
        // The batch takes its place in the log here, before the next one.
        let pending = store.append(steps);
        if committed.send((waiters, pending)).is_err() {
            break;
        }
    }
}

/// Waits for each batch's commit, in log order, then broadcasts its messages
/// and answers its joins.
async fn complete_in_order(mut batches: mpsc::UnboundedReceiver<(Vec<Waiter>, Pending)>, out: Out) {
    while let Some((waiters, pending)) = batches.recv().await {
        match pending.await {
            Ok(outcomes) => {
                for (waiter, outcome) in waiters.into_iter().zip(outcomes) {
                    waiter.complete(outcome, &out).await;
                }
            }
            Err(err) => {
                tracing::error!(%err, "a batch of messages was not stored");
                for waiter in waiters {
                    waiter.fail(StoreError::BatchFailed);
                }
            }
        }
    }
}

/// What a step's submitter waits for, once the step has gone to the store.
enum Waiter {
    Send {
        room: RoomName,
        done: oneshot::Sender<Result<Inserted, StoreError>>,
    },
    Join {
        room: RoomName,
        reply: JoinReply,
        done: oneshot::Sender<bool>,
    },
}

impl Job {
    /// The step for the store, and who waits for its outcome.
    fn split(self) -> (Step, Waiter) {
        match self {
            Job::Send { message, done } => {
                let room = message.room.clone();
                (Step::Send(message), Waiter::Send { room, done })
            }
            Job::Join {
                room,
                limit,
                reply,
                done,
            } => {
                let step = Step::Join {
                    room: room.clone(),
                    limit,
                };
                (step, Waiter::Join { room, reply, done })
            }
        }
    }
}

impl Waiter {
    async fn complete(self, outcome: Result<Outcome, StoreError>, out: &Out) {
        let io = &out.io;
        match (self, outcome) {
            (Waiter::Send { room, done }, Ok(Outcome::Sent(inserted))) => {
                if let Inserted::New { message, .. } = &inserted {
                    crate::metrics::get().messages_stored.increment(1);
                    delivery::to_room(io, &room, None, "message", message).await;
                }
                let _ = done.send(Ok(inserted));
            }
            (Waiter::Join { room, reply, done }, Ok(Outcome::Joined { messages })) => {
                reply.socket.join(room.channel());
                crate::metrics::get().joins.increment(1);
                let ack = JoinAck {
                    ok: true,
                    room: &reply.room,
                    members: &reply.members,
                    member_count: reply.member_count,
                    messages: &messages,
                };
                if let Err(err) = reply.ack.send(&ack)
                    && delivery::is_full(&err)
                {
                    delivery::evict(&out.laggards, &reply.socket);
                }
                if let Some((user, except)) = &reply.announce {
                    let count = reply.member_count;
                    let joined = presence_events::Change::Joined;
                    let events = &out.events;
                    presence_events::announce(
                        io,
                        events,
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
            (waiter, Err(err)) => waiter.fail(err),
            (waiter, Ok(_)) => waiter.fail(StoreError::WriterGone),
        }
    }

    fn fail(self, err: StoreError) {
        match self {
            Waiter::Send { done, .. } => {
                let _ = done.send(Err(err));
            }
            Waiter::Join { reply, done, .. } => {
                let _ = reply.ack.send(&Failure::from(err).to_ack());
                let _ = done.send(false);
            }
        }
    }
}
