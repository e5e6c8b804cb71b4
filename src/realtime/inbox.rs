//! The per-connection inbox that keeps a connection's events in order.
//!
//! socketioxide calls each handler's extractors synchronously, in arrival
//! order, and only then spawns the handler. The `Slot` extractor uses that
//! moment to reserve the event's place in the connection's queue; the
//! spawned handler fills the place whenever it runs, and the worker takes
//! places strictly in queue order.

use std::convert::Infallible;
use std::sync::Arc;

use serde_json::Value;
use socketioxide::extract::AckSender;
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::Socket;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

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

/// The sending side of a connection's queue, kept in the socket's extensions.
#[derive(Clone)]
struct Inbox(mpsc::Sender<oneshot::Receiver<Job>>);

/// An event's reserved place in its connection's queue.
pub struct Slot(Result<oneshot::Sender<Job>, Failure>);

impl FromMessageParts<Adapter> for Slot {
    type Error = Infallible;

    fn from_message_parts(
        s: &Arc<Socket<Adapter>>,
        _: &mut socketioxide::handler::Value,
        _: &Option<i64>,
    ) -> Result<Self, Infallible> {
        let Some(inbox) = s.extensions.get::<Inbox>() else {
            return Ok(Slot(Err(Failure::new(
                Code::Unauthorized,
                "connection closed",
            ))));
        };
        let (tx, rx) = oneshot::channel();
        let reserved = inbox.0.try_send(rx).map(|()| tx).map_err(|_| {
            Failure::new(
                Code::Overloaded,
                format!("more than {INBOX_CAPACITY} events are waiting; slow down"),
            )
        });
        Ok(Slot(reserved))
    }
}

impl Slot {
    /// Hands the event to the worker, or refuses it if no place was had.
    pub fn fill(self, job: Job) {
        match self.0 {
            Ok(place) => {
                let _ = place.send(job);
            }
            Err(failure) => {
                let _ = job.ack.send(&failure.to_ack());
            }
        }
    }
}

/// Gives the socket its inbox and starts the worker that drains it. The
/// worker holds no reference to the socket, so it ends when the inbox is
/// closed or the socket is dropped, after handling what was queued.
pub fn open(socket: &SocketRef, conn: Connection) {
    let (tx, mut rx) = mpsc::channel(INBOX_CAPACITY);
    socket.extensions.insert(Inbox(tx));
    let workers = conn.core.workers.clone();
    let stop = conn.core.shutdown.clone();
    workers.spawn(async move {
        while let Some(place) = next_place(&mut rx, &stop).await {
            // A handler that never ran (its extraction failed) leaves an
            // empty place; skip it.
            if let Ok(job) = place.await {
                // A connection that asks faster than it reads waits here
                // until it has read what its answers left waiting.
                let laggards = &conn.core.laggards;
                if laggards.behind(&conn.backlog) {
                    Box::pin(laggards.wait_for_reader(conn.socket_id, &conn.backlog)).await;
                }
                // Boxed for the time it runs: a future is as large as its
                // largest state, and an idle worker (most of them, most of
                // the time) would otherwise hold room for the biggest
                // handler's for the connection's whole life.
                Box::pin(conn.handle(job)).await;
            }
        }
        Box::pin(conn.on_disconnect()).await;
    });
}

/// The next place in the queue. Once the server is shutting down the queue
/// takes no more, and what is already in it is still handled.
async fn next_place(
    rx: &mut mpsc::Receiver<oneshot::Receiver<Job>>,
    stop: &CancellationToken,
) -> Option<oneshot::Receiver<Job>> {
    tokio::select! {
        biased;
        place = rx.recv() => place,
        () = stop.cancelled() => {
            rx.close();
            rx.recv().await
        }
    }
}

/// On disconnect: close the inbox; the worker finishes what is queued, then
/// clears the connection's presence.
pub async fn close(socket: SocketRef) {
    socket.extensions.remove::<Inbox>();
}
