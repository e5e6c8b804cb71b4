//! The SQLite store's own threads run under SCHED_BATCH, so that a request
//! to one of them does not preempt the event loop on a busy CPU
//! (`src/store/sched.rs`).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

use banter::store::SqliteStore;
use tempfile::TempDir;

/// `SCHED_BATCH` in `sched.h`.
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
async fn the_writer_and_the_reader_run_under_sched_batch() {
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
    drop(store);
}
