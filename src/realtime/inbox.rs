//! The per-connection inbox that keeps a connection's events in order.
//!
//! socketioxide calls each handler's extractors synchronously, in arrival
//! order, and only then spawns the handler. The `Slot` extractor uses that
//! moment to reserve the event's place in the connection's queue; the
//! spawned handler fills the place whenever it runs, and places are taken
//! strictly in queue order.
//!
//! No task waits on an idle connection. The event that finds the queue idle
//! is the one whose handler drains it, in its own task (socketioxide's,
//! spawned for it anyway): it handles its event and whatever queued behind
//! it, then leaves the queue idle again. So an idle connection holds the
//! queue's few words, not a worker task and a channel (about 1.4 KB, most
//! of it a tokio mpsc channel's cache-padded state and first block), and an
//! event costs no wake-up of another task. When the connection closes
//! (socketioxide's disconnect handler, the socket dropped, or the server
//! stopping) the queue takes no more, and whoever drains it last runs the
//! connection's disconnect, once, after its last event.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use socketioxide::extract::AckSender;
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::{Sid, Socket};
use tokio::sync::oneshot;

use super::{Adapter, Connection, SocketRef};
use crate::error::{Code, Failure};
use crate::limits::INBOX_CAPACITY;

/// One event waiting to be handled.
pub struct Job {
    pub socket: SocketRef,
    pub event: String,
    pub data: Option<Value>,
    pub ack: AckSender<Adapter>,
}

/// Every open connection's queue, so that shutdown can close them all: the
/// sockets socketioxide closes at shutdown get no disconnect handler.
#[derive(Default)]
pub struct Inboxes {
    open: Mutex<HashMap<Sid, Arc<Mailbox>>>,
}

impl Inboxes {
    fn lock(&self) -> MutexGuard<'_, HashMap<Sid, Arc<Mailbox>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes every queue: each takes no more events, handles what it
    /// holds, then runs its connection's disconnect (on `Core::workers`,
    /// which shutdown waits for).
    pub fn close_all(&self) {
        let open: Vec<Arc<Mailbox>> = self.lock().values().cloned().collect();
        for mailbox in open {
            mailbox.close();
        }
    }
}

/// A connection and its queue of reserved places.
struct Mailbox {
    conn: Connection,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    places: VecDeque<oneshot::Receiver<Job>>,
    /// Some task is draining the queue, or has been given the turn to.
    draining: bool,
    /// The queue takes no more events; its last drain runs the disconnect.
    closed: bool,
}

impl Mailbox {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes no more events. If nobody is draining, starts a drain for
    /// what is left and the disconnect; otherwise the drain under way
    /// runs them when it reaches the end.
    fn close(self: &Arc<Self>) {
        let start = {
            let mut state = self.lock();
            if state.closed {
                return;
            }
            state.closed = true;
            !std::mem::replace(&mut state.draining, true)
        };
        if start {
            self.spawn_drain();
        }
    }

    /// Drains on a task of its own (tracked for shutdown), for a turn that
    /// no handler will take. Outside a runtime (the process is ending)
    /// there is nothing to run it on.
    fn spawn_drain(self: &Arc<Self>) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let workers = self.conn.core.workers.clone();
            workers.spawn_on(drain(self.clone()), &runtime);
        }
    }
}

/// Handles the queue's places in order until it is empty, then leaves it
/// idle; or, once it is closed and empty, runs the disconnect.
async fn drain(mailbox: Arc<Mailbox>) {
    let conn = &mailbox.conn;
    loop {
        let place = {
            let mut state = mailbox.lock();
            match state.places.pop_front() {
                Some(place) => place,
                None if state.closed => break,
                None => {
                    state.draining = false;
                    return;
                }
            }
        };
        // A handler that never ran (its extraction failed) leaves an empty
        // place; skip it.
        if let Ok(job) = place.await {
            // Should the handler panic, the turn passes on: the
            // connection's later events and its disconnect still run.
            let mut resume = Turn(Some(mailbox.clone()));
            // A connection that asks faster than it reads waits here until
            // it has read what its answers left waiting.
            let laggards = &conn.core.laggards;
            if laggards.behind(&conn.backlog) {
                Box::pin(laggards.wait_for_reader(conn.socket_id, &conn.backlog)).await;
            }
            // Boxed for the time it runs: this future lives in the task of
            // every event's handler, and would otherwise hold room for the
            // biggest handler's state in each of them.
            Box::pin(conn.handle(job)).await;
            resume.0 = None;
        }
    }
    Box::pin(conn.on_disconnect()).await;
    conn.core.inboxes.lock().remove(&conn.socket_id);
}

/// The socket's way to its queue, kept in its extensions (socketioxide hands
/// out clones). When the last copy goes (the disconnect handler removes it,
/// or the socket is dropped), the queue closes.
#[derive(Clone)]
struct Inbox(Arc<Owner>);

struct Owner(Arc<Mailbox>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// An event's reserved place in its connection's queue, and the turn to
/// drain the queue if the event found it idle.
pub struct Slot {
    place: Result<oneshot::Sender<Job>, Failure>,
    turn: Turn,
}

/// The turn to drain a queue. One dropped unused (its handler never ran, or
/// panicked) passes it to a task of its own.
struct Turn(Option<Arc<Mailbox>>);

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(mailbox) = self.0.take() {
            mailbox.spawn_drain();
        }
    }
}

impl FromMessageParts<Adapter> for Slot {
    type Error = Infallible;

    fn from_message_parts(
        s: &Arc<Socket<Adapter>>,
        _: &mut socketioxide::handler::Value,
        _: &Option<i64>,
    ) -> Result<Self, Infallible> {
        let closed = || Failure::new(Code::Unauthorized, "connection closed");
        let Some(Inbox(owner)) = s.extensions.get::<Inbox>() else {
            return Ok(Slot {
                place: Err(closed()),
                turn: Turn(None),
            });
        };
        let mailbox = owner.0.clone();
        // Not dropped under the queue's lock: the last owner closes it.
        drop(owner);
        let mut state = mailbox.lock();
        let place = if state.closed {
            Err(closed())
        } else if state.places.len() >= INBOX_CAPACITY {
            Err(Failure::new(
                Code::Overloaded,
                format!("more than {INBOX_CAPACITY} events are waiting; slow down"),
            ))
        } else {
            let (tx, rx) = oneshot::channel();
            state.places.push_back(rx);
            Ok(tx)
        };
        let turn = place.is_ok() && !std::mem::replace(&mut state.draining, true);
        drop(state);
        Ok(Slot {
            place,
            turn: Turn(turn.then_some(mailbox)),
        })
    }
}

impl Slot {
    /// Hands the event to its place, or refuses it if no place was had;
    /// then, if this event has the turn, drains the queue.
    pub async fn fill(self, job: Job) {
        let Slot { place, mut turn } = self;
        match place {
            Ok(place) => {
                let _ = place.send(job);
            }
            Err(failure) => {
                let _ = job.ack.send(&failure.to_ack());
            }
        }
        if let Some(mailbox) = turn.0.take() {
            let workers = mailbox.conn.core.workers.clone();
            workers.track_future(drain(mailbox)).await;
        }
    }
}

/// Gives the socket its queue.
pub fn open(socket: &SocketRef, conn: Connection) {
    let core = conn.core.clone();
    let mailbox = Arc::new(Mailbox {
        conn,
        state: Mutex::default(),
    });
    core.inboxes.lock().insert(socket.id, mailbox.clone());
    socket.extensions.insert(Inbox(Arc::new(Owner(mailbox))));
}

/// On disconnect: close the queue; what it holds is still handled, then the
/// connection's presence is cleared.
pub async fn close(socket: SocketRef) {
    socket.extensions.remove::<Inbox>();
}
