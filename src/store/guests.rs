//! Departed guests are removed after a grace period (`--guest-grace-secs`).
//!
//! A guest is a user made for one sign-in: no password, so once their last
//! session has ended (logout, revocation, expiry) nobody can ever be them
//! again. A sweep in the background, after the grace period:
//!
//! - ends expired sessions (any user's: nothing else deletes them), which
//!   also starts the grace period of a guest whose last session it was;
//! - removes each departed guest who is not banned, not muted, not an admin
//!   and holds no session. One who never wrote a message is deleted with
//!   everything that names them; one who did stays only as the name on
//!   those messages (`removed_at` set, no hold on the name, never found by
//!   name), because history shows every message under its author's name;
//! - deletes such name rows once no message names them any more (after
//!   retention has taken their messages).
//!
//! Ids are AUTOINCREMENT (identity sequences in PostgreSQL), so a removed
//! guest's id is never handed to anyone else. Like retention, every step is
//! its own short transaction of at most `BATCH` rows, with a pause between,
//! so a send never waits long for the lock. The same statements run on
//! either backend (`sweeps.rs`); with several nodes, each sweeps, and a row
//! one of them already removed is simply not found by the others.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::sweeps::SweepPool;
use crate::clock::now_ms;

/// Most rows changed in one transaction.
const BATCH: i64 = 500;
/// Pause between two batches of one sweep.
const BETWEEN_BATCHES: Duration = Duration::from_millis(20);

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// Expired sessions deleted.
    pub sessions_ended: u64,
    /// Departed guests deleted outright (they had written nothing).
    pub guests_deleted: u64,
    /// Departed guests kept only as the name on their messages.
    pub guests_kept_as_names: u64,
    /// Such names deleted because no message names them any more.
    pub names_deleted: u64,
}

impl Sweep {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// How often to sweep for a grace period: a quarter of it, at least once a
/// second and at most once a minute.
pub fn sweep_every(grace: Duration) -> Duration {
    (grace / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Sweeps until `closing` is cancelled.
pub async fn run(pool: SweepPool, grace: Duration, closing: CancellationToken) {
    let mut every = tokio::time::interval(sweep_every(grace));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while closing.run_until_cancelled(every.tick()).await.is_some() {
        let pause = || async {
            closing
                .run_until_cancelled(tokio::time::sleep(BETWEEN_BATCHES))
                .await
                .is_some()
        };
        match sweep(&pool, now_ms(), grace, pause).await {
            Ok(done) if !done.is_empty() => {
                crate::metrics::get()
                    .guests_removed
                    .increment(done.guests_deleted + done.guests_kept_as_names);
                tracing::info!(
                    sessions_ended = done.sessions_ended,
                    guests_deleted = done.guests_deleted,
                    guests_kept_as_names = done.guests_kept_as_names,
                    names_deleted = done.names_deleted,
                    "guests: removed departed guests"
                );
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, "guests: cannot remove departed guests"),
        }
    }
}

/// A guest past the grace period that nothing keeps: `$1` is now, `$2` the
/// end of the grace period's start (now minus the grace). A guest made
/// without a session (never signed in) counts from its creation.
const DEPARTED: &str = "SELECT id FROM users u \
     WHERE u.password_hash IS NULL AND u.removed_at IS NULL \
       AND u.banned_at IS NULL AND NOT u.is_admin \
       AND coalesce(u.left_at, u.created_at) <= $2 \
       AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = u.id) \
       AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.user_id = u.id AND m.until > $1)";

/// One sweep at `now`; `pause` is awaited between batches and says whether
/// to go on.
pub async fn sweep<F, P>(
    pool: &SweepPool,
    now: i64,
    grace: Duration,
    pause: F,
) -> Result<Sweep, sqlx::Error>
where
    F: Fn() -> P,
    P: std::future::Future<Output = bool>,
{
    let cutoff = now.saturating_sub(i64::try_from(grace.as_millis()).unwrap_or(i64::MAX));
    let sessions_ended = delete_in_batches(
        pool,
        "DELETE FROM sessions WHERE id IN \
         (SELECT id FROM sessions WHERE expires_at <= $1 LIMIT $2)",
        now,
        &pause,
    )
    .await?;
    let mut done = Sweep {
        sessions_ended,
        ..Sweep::default()
    };

    loop {
        // Their mutes have run out (a live one keeps the guest), and would
        // hold the row by its foreign key.
        let wrote = "EXISTS (SELECT 1 FROM messages m WHERE m.author_id = u.id)";
        // Their memberships go too: a name row belongs to no room.
        let departed = [
            format!("DELETE FROM mutes WHERE user_id IN ({DEPARTED} LIMIT $3)"),
            format!("DELETE FROM memberships WHERE user_id IN ({DEPARTED} LIMIT $3)"),
            format!(
                "UPDATE users SET removed_at = $1, name_hold = NULL WHERE id IN \
                 ({DEPARTED} AND {wrote} LIMIT $3)"
            ),
            format!("DELETE FROM users WHERE id IN ({DEPARTED} AND NOT {wrote} LIMIT $3)"),
        ];
        let statements = departed.each_ref().map(String::as_str);
        let changed = pool.execute(&statements, &[now, cutoff, BATCH]).await?;
        let [_, _, kept, deleted] = changed[..] else {
            break;
        };
        done.guests_kept_as_names += kept;
        done.guests_deleted += deleted;
        if kept + deleted == 0 || !pause().await {
            break;
        }
    }

    done.names_deleted = delete_in_batches(
        pool,
        "DELETE FROM users WHERE id IN (SELECT id FROM users u WHERE u.removed_at IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.author_id = u.id) LIMIT $2)",
        now,
        &pause,
    )
    .await?;
    Ok(done)
}

/// Runs `delete` (`$1` is now, `$2` the batch size) until it deletes less
/// than a batch or `pause` says stop; how many rows in all.
async fn delete_in_batches<F, P>(
    pool: &SweepPool,
    delete: &str,
    now: i64,
    pause: &F,
) -> Result<u64, sqlx::Error>
where
    F: Fn() -> P,
    P: std::future::Future<Output = bool>,
{
    let mut deleted = 0;
    loop {
        let batch = pool.execute_one(delete, &[now, BATCH]).await?;
        deleted += batch;
        if batch < BATCH as u64 || !pause().await {
            return Ok(deleted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_come_at_a_quarter_of_the_grace_within_a_second_and_a_minute() {
        assert_eq!(sweep_every(Duration::from_secs(1)), Duration::from_secs(1));
        assert_eq!(
            sweep_every(Duration::from_secs(100)),
            Duration::from_secs(25)
        );
        assert_eq!(
            sweep_every(Duration::from_secs(86_400)),
            Duration::from_secs(60)
        );
    }
}
