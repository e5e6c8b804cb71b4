//! Retention: messages older than `--retention-days` are deleted in the
//! background.
//!
//! SQLite has one writer at a time, and a send batch waits for whichever
//! write holds the lock (in PostgreSQL a long delete would hold back
//! vacuum and replicas). So the sweep never holds it for long: each delete is
//! its own transaction of at most `BATCH` rows, found by walking the table
//! from its oldest id (ids follow time, so the old rows are at the start and
//! no index on the time is needed: the insert path pays nothing), with a
//! pause between batches so sends slip in. A row whose time is out of step
//! with its id (the clock stepped back) is caught once the rows after it
//! expire. Ids are never reused (AUTOINCREMENT, an identity sequence), so
//! clients' cursors stay valid. The same statements run on either backend
//! (`sweeps.rs`).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::sweeps::SweepPool;
use crate::clock::now_ms;

/// Most rows deleted in one transaction.
const BATCH: i64 = 500;
/// Pause between two batches of one sweep.
const BETWEEN_BATCHES: Duration = Duration::from_millis(20);

/// How often to sweep for a retention period: often enough that nothing
/// outlives it by much more than a quarter of it, at most once a second and
/// at least once a minute.
pub fn sweep_every(retention: Duration) -> Duration {
    (retention / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Sweeps until `closing` is cancelled.
pub async fn run(pool: SweepPool, retention: Duration, closing: CancellationToken) {
    let mut every = tokio::time::interval(sweep_every(retention));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let keep_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    while closing.run_until_cancelled(every.tick()).await.is_some() {
        let cutoff = now_ms().saturating_sub(keep_ms);
        let mut deleted = 0;
        loop {
            match delete_batch(&pool, cutoff).await {
                Ok(0) => break,
                Ok(n) => deleted += n,
                Err(err) => {
                    tracing::warn!(%err, "retention: cannot delete old messages");
                    break;
                }
            }
            if closing
                .run_until_cancelled(tokio::time::sleep(BETWEEN_BATCHES))
                .await
                .is_none()
            {
                break;
            }
        }
        if deleted > 0 {
            tracing::info!(deleted, "retention: deleted old messages");
        }
    }
}

/// Deletes the old rows among the oldest `BATCH` by id; how many.
async fn delete_batch(pool: &SweepPool, cutoff: i64) -> Result<u64, sqlx::Error> {
    pool.execute_one(
        "DELETE FROM messages WHERE id IN \
         (SELECT id FROM (SELECT id, created_at FROM messages ORDER BY id LIMIT $1) AS oldest \
          WHERE created_at < $2)",
        &[BATCH, cutoff],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_come_at_a_quarter_of_the_period_within_a_second_and_a_minute() {
        assert_eq!(sweep_every(Duration::from_secs(2)), Duration::from_secs(1));
        assert_eq!(
            sweep_every(Duration::from_secs(40)),
            Duration::from_secs(10)
        );
        assert_eq!(
            sweep_every(Duration::from_secs(86_400 * 30)),
            Duration::from_secs(60)
        );
    }
}
