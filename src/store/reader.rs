//! The SQLite reader: one thread that owns one read-only connection and
//! answers the reads of the connect path (a socket's session lookup), all
//! that are queued in one read transaction.
//!
//! Why not the sqlx pool: sqlx runs each statement on a worker thread and
//! wakes the caller through a channel, several thread switches per query.
//! When 64 clients connect at once, their 64 session lookups cost one
//! switch in and one out here, on a connection whose prepared statements
//! stay cached. In WAL mode a reader never waits for the writer, and a
//! transaction begun after a commit sees it, so a session created by a
//! guest sign-in is found by the socket that follows it.

use std::path::Path;
use std::sync::{Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use super::StoreError;

/// A read to run on the reader's connection; it sends its own answer.
type Job = Box<dyn FnOnce(&Connection) + Send>;

/// Most reads in one transaction.
const MAX_JOBS: usize = 1024;

/// The handle on the reader thread.
pub struct Reader {
    /// `None` once closed; the thread ends when the sender is dropped.
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reader")
    }
}

impl Reader {
    /// Opens a read-only connection to the (already migrated) database
    /// file and starts the thread.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("banter-reader".into())
            .spawn(move || {
                super::sched::Policy::batch("banter-reader");
                serve(&conn, &rx)
            })
            .map_err(|_| StoreError::WriterGone)?;
        Ok(Self {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Runs `read` on the reader's connection, with whatever other reads
    /// are queued beside it.
    pub async fn read<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(read(conn).map_err(StoreError::from));
        });
        {
            let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
            let tx = tx.as_ref().ok_or(StoreError::WriterGone)?;
            tx.send(job).map_err(|_| StoreError::WriterGone)?;
        }
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Stops taking reads; returns the thread to join.
    pub fn close(&self) -> Option<JoinHandle<()>> {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.thread.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

fn serve(conn: &Connection, rx: &mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        // Everything queued is taken before the transaction begins, so its
        // snapshot is younger than every read in it: a read sees each commit
        // that happened before it was queued.
        let mut jobs = vec![first];
        jobs.extend(rx.try_iter().take(MAX_JOBS - 1));
        // One snapshot for the batch. If it cannot begin, each read runs on
        // its own.
        let begun = conn.execute_batch("BEGIN DEFERRED").is_ok();
        for job in jobs {
            job(conn);
        }
        if begun && let Err(err) = conn.execute_batch("COMMIT") {
            tracing::warn!(%err, "cannot end a read transaction");
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}
