//! The sequencer: the one ordered path that every message takes on its way
//! to the database.
//!
//! Handlers submit sends; one task takes whatever has queued up as a
//! batch and has the store apply it in one transaction (group commit: one
//! fsync for the whole batch). The relay (`relay.rs`) then takes each batch's
//! outcome in log order and delivers its messages, so nothing is acknowledged
//! or delivered before it is on disk and no lock is held across disk I/O.
//! Joins go to the relay directly: they are answered at the room's
//! delivered position, which is what their history must match.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::relay::{Input, Join, JoinReply, Relay, Waiter};
use crate::error::Failure;
use crate::store::{Inserted, NewMessage, Step, Store, StoreError};

/// Most steps in one batch; more wait for the next.
const MAX_BATCH: usize = 512;
/// Steps that may wait for the sequencer. Each connection has at most one
/// in flight (its inbox waits), so this is never reached in practice.
const QUEUE: usize = 65_536;
/// Inputs that may wait for the relay (joins, other nodes' messages, reads
/// that came back); their senders wait when it is full.
const RELAY_QUEUE: usize = 8_192;

/// Where handlers submit sends and joins. Cheap to clone.
#[derive(Clone)]
pub struct Sequencer {
    tx: mpsc::Sender<Job>,
    relay: mpsc::Sender<Input>,
}

/// The receiving ends, handed to `run` once Socket.IO is set up.
pub struct Queue {
    jobs: mpsc::Receiver<Job>,
    inputs: mpsc::Receiver<Input>,
}

struct Job {
    message: NewMessage,
    done: oneshot::Sender<Result<Inserted, StoreError>>,
}

impl Sequencer {
    pub fn new() -> (Self, Queue) {
        let (tx, jobs) = mpsc::channel(QUEUE);
        let (relay, inputs) = mpsc::channel(RELAY_QUEUE);
        (Self { tx, relay }, Queue { jobs, inputs })
    }

    /// Stores a message; once it is on disk and delivered here (sender
    /// included), returns it.
    pub async fn send(&self, message: NewMessage) -> Result<Inserted, StoreError> {
        let started = Instant::now();
        let (done, result) = oneshot::channel();
        let job = Job { message, done };
        self.tx
            .send(job)
            .await
            .map_err(|_| StoreError::WriterGone)?;
        let inserted = result.await.map_err(|_| StoreError::WriterGone)?;
        crate::metrics::get().ack_seconds.record(started.elapsed());
        inserted
    }

    /// Puts the connection in the room's channel and answers its join ack
    /// with the room's latest messages, at the room's delivered position.
    /// On failure the ack carries the error and this returns `false`.
    pub async fn join(&self, room: crate::rooms::RoomName, reply: JoinReply) -> bool {
        let (done, result) = oneshot::channel();
        let join = Join { room, reply, done };
        if let Err(mpsc::error::SendError(Input::Join(join))) =
            self.relay.send(Input::Join(join)).await
        {
            let _ = join
                .reply
                .ack
                .send(&Failure::from(StoreError::WriterGone).to_ack());
            return false;
        }
        result.await.unwrap_or(false)
    }

    /// Where other parts of the node tell the relay things (the bus).
    pub fn relay(&self) -> mpsc::Sender<Input> {
        self.relay.clone()
    }
}

/// The sequencer: batches go to the store as soon as they form, and the
/// relay completes them in the same order as each commit lands, so the
/// fan-out of one batch overlaps the next batch's trip to disk. Ends when
/// every `Sequencer` handle is gone.
pub async fn run(queue: Queue, store: Arc<dyn Store>, relay: Relay) {
    let Queue { mut jobs, inputs } = queue;
    let (committed, in_order) = mpsc::unbounded_channel();
    tokio::spawn(relay.run(in_order, inputs));
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Let every task that is ready now run first: the connections whose
        // sends have already arrived queue them, and they share this commit
        // instead of each paying for one. When idle this costs nothing.
        tokio::task::yield_now().await;
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // The message moves into its step; its waiter keeps only the room.
        let (steps, waiters): (Vec<Step>, Vec<Waiter>) = batch
            .drain(..)
            .map(|Job { message, done }| {
                let room = message.room.clone();
                (Step::Send(message), Waiter { room, done })
            })
            .unzip();
        // The batch takes its place in the log here, before the next one.
        let pending = store.append(steps);
        if committed.send((waiters, pending)).is_err() {
            break;
        }
    }
}
