//! The SQLite WAL starts over while messages keep coming, instead of
//! growing for as long as the server runs (found by the 30-minute soak:
//! 800 MB of WAL after five minutes at 500 messages a second).
#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

use std::time::{Duration, Instant};

use banter::limits::Limits;
use banter::rooms::RoomName;
use banter::store::{SqliteStore, Store};
use banter::users::Username;
use tempfile::TempDir;

mod support;

/// Frames in the WAL now, as a checkpoint from another connection sees it
/// (the store's own checkpoint task does the same every second).
async fn wal_frames(pool: &sqlx::SqlitePool) -> i64 {
    let (_busy, frames, _copied): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(pool)
            .await
            .unwrap();
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_starts_over_while_sends_keep_coming() {
    let dir = TempDir::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("banter.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    let limits = Limits::default();
    let author = store
        .create_account(&Username::parse("writer", &limits).unwrap(), "hash", 0)
        .await
        .unwrap()
        .user;
    let room = RoomName::parse("general", &limits).unwrap();

    // Many senders with no pause between them, as under load: the writer
    // always has the next batch waiting when it commits one.
    let until = Instant::now() + Duration::from_secs(4);
    let senders: Vec<_> = (0..32)
        .map(|_| {
            let (store, author, room) = (store.clone(), author.clone(), room.clone());
            tokio::spawn(async move {
                let mut sent = 0u32;
                while Instant::now() < until {
                    let message = support::new_message(&room, &author, &format!("message {sent}"));
                    store.insert_message(message).await.unwrap();
                    sent += 1;
                }
                sent
            })
        })
        .collect();

    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let mut frames = Vec::new();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(250)).await;
        frames.push(wal_frames(&pool).await);
    }
    let mut sent = 0;
    for sender in senders {
        sent += sender.await.unwrap();
    }
    assert!(sent > 100, "only {sent} messages sent");
    // Growing for good, the WAL would only ever have more frames; starting
    // over, it has fewer at some point than a moment before.
    let restarted = frames.windows(2).any(|w| w[1] < w[0]);
    assert!(
        restarted,
        "the WAL never started over: frames {frames:?} after {sent} messages"
    );
}
