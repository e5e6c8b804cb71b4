//! How the store's own threads (the SQLite writer and reader) are
//! scheduled: under Linux's `SCHED_BATCH` policy, at the default niceness,
//! except while the writer commits messages.
//!
//! Why: every request to one of them wakes it (a sign-in, a join, a send).
//! Under the default policy a thread that wakes on a CPU where the event
//! loop is running preempts it at once, so on a busy CPU each request costs
//! two context switches, and the thread, having run at once, finds only
//! that one request queued: one transaction (one fsync, for the writer) a
//! request. A `SCHED_BATCH` thread gets the same share of the CPU but does
//! not preempt on wake-up: it runs when the event loop waits for I/O or its
//! time slice ends, and by then the requests that arrived meanwhile are
//! queued behind the first, and go in one transaction. Where a CPU is idle
//! the thread runs on it at once, as before, so the policy changes nothing
//! on a machine with CPUs to spare.
//!
//! Messages are the exception. A send's ack and its delivery wait for its
//! commit, and a batch thread woken by its fsync's completion waits in turn
//! for the event loop's slice: on one shared core that lengthened the
//! commits' tail (5 % instead of 0.5 % over 5 ms) and the deliveries' p99
//! with it. So the writer goes back to the default policy for a batch that
//! holds messages, and to `SCHED_BATCH` for one that does not (sign-ins,
//! joins); it changes only when the kind of batch changes, one system call
//! then. Measured in `docs/benchmarks.md`.
//!
//! A thread started under another policy than the default (an operator's
//! `chrt`) is left as it is.

#[cfg(target_os = "linux")]
use thread_priority::unix::{NormalThreadSchedulePolicy, ThreadSchedulePolicy};

/// The scheduling of the calling thread, as far as the store changes it.
pub(super) struct Policy {
    thread: &'static str,
    /// `None`: not ours to change (another policy, or no way to change it);
    /// else whether the thread is under `SCHED_BATCH` now.
    batch: Option<bool>,
}

impl Policy {
    /// The calling thread's policy, put under `SCHED_BATCH` if it is the
    /// default one. A failure is logged and changes nothing else.
    pub(super) fn batch(thread: &'static str) -> Self {
        let mut policy = Self {
            thread,
            batch: initial(thread),
        };
        policy.set(true);
        policy
    }

    /// Puts the thread under `SCHED_BATCH` (`true`) or back under the
    /// default policy (`false`), if it is not there already.
    pub(super) fn set(&mut self, batch: bool) {
        if self.batch.is_none_or(|now| now == batch) {
            return;
        }
        self.batch = apply(self.thread, batch).then_some(batch);
    }
}

/// `Some(false)` if the calling thread is under the default policy.
#[cfg(target_os = "linux")]
fn initial(thread: &str) -> Option<bool> {
    match thread_priority::unix::thread_schedule_policy() {
        Ok(policy) if policy == policy_for(false) => Some(false),
        Ok(policy) => {
            tracing::debug!(thread, ?policy, "left under its scheduling policy");
            None
        }
        Err(err) => {
            tracing::warn!(thread, ?err, "cannot read the thread's scheduling policy");
            None
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn initial(_: &str) -> Option<bool> {
    None
}

#[cfg(target_os = "linux")]
fn policy_for(batch: bool) -> ThreadSchedulePolicy {
    ThreadSchedulePolicy::Normal(if batch {
        NormalThreadSchedulePolicy::Batch
    } else {
        NormalThreadSchedulePolicy::Other
    })
}

/// Whether the calling thread is now under the policy asked for.
#[cfg(target_os = "linux")]
fn apply(thread: &str, batch: bool) -> bool {
    use thread_priority::unix::{set_thread_priority_and_policy, thread_native_id};
    use thread_priority::{ThreadPriority, ThreadPriorityOsValue};
    // For the normal policies the priority is the niceness: 0, the default.
    let niceness = ThreadPriority::Os(ThreadPriorityOsValue::default());
    match set_thread_priority_and_policy(thread_native_id(), niceness, policy_for(batch)) {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!(
                thread,
                batch,
                ?err,
                "cannot change the thread's scheduling policy"
            );
            false
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn apply(_: &str, _: bool) -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, thread_schedule_policy,
    };

    use super::Policy;

    #[test]
    fn a_thread_under_the_default_policy_is_put_under_batch_and_back() {
        let policies = std::thread::spawn(|| {
            let mut policy = Policy::batch("test");
            let first = thread_schedule_policy();
            policy.set(false);
            let prompt = thread_schedule_policy();
            policy.set(true);
            (first, prompt, thread_schedule_policy())
        })
        .join()
        .map_err(|_| "the thread panicked");
        let batch = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
        let other = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other);
        assert_eq!(policies, Ok((Ok(batch), Ok(other), Ok(batch))));
    }

    #[test]
    fn another_policy_is_left_as_it_is() {
        // SCHED_IDLE can always be set without privileges.
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        let policy = std::thread::spawn(move || {
            thread_priority::unix::set_thread_priority_and_policy(
                thread_priority::unix::thread_native_id(),
                thread_priority::ThreadPriority::Os(Default::default()),
                idle,
            )
            .map_err(|e| format!("{e:?}"))?;
            let mut policy = Policy::batch("test");
            policy.set(false);
            policy.set(true);
            thread_schedule_policy().map_err(|e| format!("{e:?}"))
        })
        .join()
        .map_err(|_| "the thread panicked".to_owned());
        assert_eq!(policy, Ok(Ok(idle)));
    }
}
