//! How the store's own threads (the SQLite writer and reader) are
//! scheduled: under Linux's `SCHED_BATCH` policy, at the default niceness.
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
//! on a machine with CPUs to spare. Measured in `docs/benchmarks.md`.
//!
//! A thread whose policy is not the default one (an operator's `chrt`) is
//! left as it is.

/// Puts the calling thread under `SCHED_BATCH` if it is under the default
/// policy. A failure is logged and changes nothing else.
pub(super) fn batch_policy(thread: &str) {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id, thread_schedule_policy,
        };
        use thread_priority::{ThreadPriority, ThreadPriorityOsValue};

        let default = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other);
        match thread_schedule_policy() {
            Ok(policy) if policy == default => {}
            Ok(policy) => {
                tracing::debug!(thread, ?policy, "left under its scheduling policy");
                return;
            }
            Err(err) => {
                tracing::warn!(thread, ?err, "cannot read the thread's scheduling policy");
                return;
            }
        }
        let batch = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
        // For the normal policies the priority is the niceness: 0, the default.
        let niceness = ThreadPriority::Os(ThreadPriorityOsValue::default());
        if let Err(err) = set_thread_priority_and_policy(thread_native_id(), niceness, batch) {
            tracing::warn!(thread, ?err, "cannot put the thread under SCHED_BATCH");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = thread;
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, thread_schedule_policy,
    };

    use super::batch_policy;

    #[test]
    fn a_thread_under_the_default_policy_is_put_under_batch() {
        let policy = std::thread::spawn(|| {
            batch_policy("test");
            thread_schedule_policy()
        })
        .join()
        .map_err(|_| "the thread panicked");
        assert_eq!(
            policy,
            Ok(Ok(ThreadSchedulePolicy::Normal(
                NormalThreadSchedulePolicy::Batch
            )))
        );
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
            batch_policy("test");
            thread_schedule_policy().map_err(|e| format!("{e:?}"))
        })
        .join()
        .map_err(|_| "the thread panicked".to_owned());
        assert_eq!(policy, Ok(Ok(idle)));
    }
}
