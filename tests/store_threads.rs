//! The SQLite store's own threads run under SCHED_BATCH, so that a request
//! to one of them does not preempt the event loop on a busy CPU; the writer
//! goes back to the default policy while it commits messages
//! (`src/store/sched.rs`).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

use banter::limits::Limits;
use banter::rooms::RoomName;
use banter::store::{SqliteStore, Store};
use banter::users::Username;
use tempfile::TempDir;

mod support;

/// `SCHED_OTHER` (the default) and `SCHED_BATCH` in `sched.h`.
const SCHED_OTHER: u32 = 0;
const SCHED_BATCH: u32 = 3;

/// The scheduling policy of each of this process's threads named `name`,
/// from `/proc/self/task/<tid>/stat` (field 41, `policy`).
fn policies_of(name: &str) -> Vec<u32> {
    let mut policies = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue; // the thread ended meanwhile
        };
        if comm.trim_end() != name {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
            continue;
        };
        // The name (field 2) is in parentheses and may hold spaces: count
        // from the last ')', after which field 3 comes.
        let after = &stat[stat.rfind(')').unwrap() + 1..];
        let policy = after.split_whitespace().nth(41 - 3).unwrap();
        policies.push(policy.parse().unwrap());
    }
    policies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_threads_run_under_sched_batch_but_the_writer_commits_messages_under_the_default_policy()
 {
    let dir = TempDir::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("banter.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    // A thread sets its own policy as it starts: wait until both have.
    let mut seen = (Vec::new(), Vec::new());
    for _ in 0..100 {
        seen = (policies_of("banter-writer"), policies_of("banter-reader"));
        if !seen.0.is_empty()
            && !seen.1.is_empty()
            && seen.0.iter().chain(&seen.1).all(|p| *p == SCHED_BATCH)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(seen, (vec![SCHED_BATCH], vec![SCHED_BATCH]));

    // A message: its batch is committed under the default policy, and
    // the writer stays there until a batch without messages.
    let limits = Limits::default();
    let author = store
        .create_account(&Username::parse("writer", &limits).unwrap(), "hash", 0)
        .await
        .unwrap()
        .user;
    let general = RoomName::parse("general", &limits).unwrap();
    let message = support::new_message(&general, &author, "hello");
    store.ensure_room(&message.room, 1).await.unwrap();
    store.insert_message(message).await.unwrap();
    assert_eq!(policies_of("banter-writer"), vec![SCHED_OTHER]);

    // A guest sign-in (the writer's too, with no message in it): batch again.
    let guest = Username::parse("guest", &limits).unwrap();
    store
        .create_guest_session(&guest, b"token hash", "127.0.0.1", 2, 10_000)
        .await
        .unwrap();
    assert_eq!(policies_of("banter-writer"), vec![SCHED_BATCH]);
    assert_eq!(policies_of("banter-reader"), vec![SCHED_BATCH]);
}
