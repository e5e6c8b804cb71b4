//! The sweep: removes the files nobody can see any more.
//!
//! Which files go is decided in the database: a message deleted (the
//! `delete` event, moderation) or removed (retention) hands its files over
//! in the same transaction, by the migration's triggers, and the rows of an
//! upload that never became a message (refused, repeated, or cut short by
//! a crash) are handed over by their `remove_after`. So whatever deleted
//! the message, and whichever node, the files follow; nothing here looks
//! at the file store to guess. The sweep runs every minute, and at once
//! when this node deleted a message (`Uploads::sweep_soon`); with several
//! nodes each runs it, and a file two of them remove at once is simply
//! gone for both.
//!
//! A file is removed before its row is marked, so a failure in between
//! leaves a row to try again, never a file without one.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::storage::{Variant, clear_staging};
use super::{FileId, Uploads};
use crate::clock::now_ms;
use crate::store::{Store, StoreError};

/// How often the sweep runs without being asked.
const EVERY: Duration = Duration::from_secs(60);
/// Files removed per round of one sweep.
const BATCH: i64 = 100;
/// Rounds in one sweep at most; the rest waits for the next.
const ROUNDS: usize = 50;
/// Staging files older than this were left by a crash.
const STALE_STAGING: Duration = Duration::from_secs(3600);

/// Sweeps until `closing` is cancelled.
pub async fn run(uploads: Arc<Uploads>, store: Arc<dyn Store>, closing: CancellationToken) {
    clear_stale_staging(&uploads).await;
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut round = 0u32;
    loop {
        let woken = async {
            tokio::select! {
                _ = every.tick() => {}
                () = uploads.sweep.notified() => {}
            }
        };
        if closing.run_until_cancelled(woken).await.is_none() {
            break;
        }
        if let Err(err) = sweep(&uploads, store.as_ref(), now_ms()).await
            && !err.is_closed()
        {
            tracing::warn!(%err, "cannot remove the files of deleted messages");
        }
        round = round.wrapping_add(1);
        if round.is_multiple_of(60) {
            clear_stale_staging(&uploads).await;
        }
    }
}

/// One sweep at `now`: removes the files that are due and forgets the rows
/// whose hour is over. Returns how many files were removed.
pub async fn sweep(uploads: &Uploads, store: &dyn Store, now: i64) -> Result<usize, StoreError> {
    let mut removed = 0;
    for _ in 0..ROUNDS {
        let due = store.due_attachments(now, BATCH).await?;
        if due.is_empty() {
            break;
        }
        let mut gone = Vec::with_capacity(due.len());
        for file in &due {
            if remove(uploads, &file.id, file.thumb).await {
                gone.push(file.id.clone());
            }
        }
        store.attachments_removed(&gone).await?;
        removed += gone.len();
        if gone.len() < due.len() {
            // The file store fails: try again next time.
            break;
        }
    }
    while store.forget_attachments(now, BATCH * 10).await? > 0 {}
    if removed > 0 {
        tracing::info!(removed, "removed the files of deleted messages");
    }
    Ok(removed)
}

/// Removes one file and its thumbnail; whether both are gone.
async fn remove(uploads: &Uploads, id: &str, thumb: bool) -> bool {
    let Some(id) = FileId::parse(id) else {
        // Not an id this server made: there is no such file to remove.
        return true;
    };
    let mut variants = vec![Variant::Original];
    if thumb {
        variants.push(Variant::Thumb);
    }
    for variant in variants {
        if let Err(err) = uploads.files.delete(&id, variant).await {
            tracing::warn!(%err, id = id.as_str(), "cannot remove a file");
            return false;
        }
    }
    true
}

async fn clear_stale_staging(uploads: &Uploads) {
    let dir = uploads.files.staging().to_path_buf();
    match tokio::task::spawn_blocking(move || clear_staging(&dir, STALE_STAGING)).await {
        Ok(Ok(0)) => {}
        Ok(Ok(removed)) => tracing::info!(removed, "removed stale staging files"),
        Ok(Err(err)) => tracing::warn!(%err, "cannot clear the staging directory"),
        Err(err) => tracing::warn!(%err, "cannot clear the staging directory"),
    }
}
