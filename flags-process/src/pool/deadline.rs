//! Deadlines: what the pool does about a worker that hangs without dying.
//!
//! A worker that dies is noticed at once: its stdout ends and its reader
//! thread says so. A worker that hangs alive says nothing at all: stopped
//! (`kill -STOP`, a debugger), deadlocked, or stuck in a call that ignores
//! its own timeout. Its pipe stays open and silent, its reader thread stays
//! blocked, and a parent that only waits for events waits for ever, Ctrl-C
//! included. Only a clock in the parent can tell, so the parent keeps two:
//!
//! - **A deadline per task**, [`WorkerProtocol::task_deadline`], counted
//!   from when the worker started on the task. Past it, the worker is
//!   killed and reaped, its task is a failed outcome that says so, and a
//!   replacement takes the queue: one hung worker costs one task, like one
//!   dead worker.
//! - **A grace after Ctrl-C**, [`INTERRUPT_GRACE`]: workers still holding a
//!   task when it is over are killed and reaped, and their tasks count as
//!   nothing (they did not finish), so that the run ends within a second
//!   whatever the workers do.
//!
//! Both are checked at every turn of
//! [`next_outcome`](ProcessPool::next_outcome)'s loop, which wakes at least
//! every `TICK` even when no worker speaks, and only after the answers
//! already sent have been read: a worker that answered in time is never
//! killed for its answer still being in the channel.
//!
//! **Why SIGKILL, not SIGTERM.** A stopped process does not run, so it
//! cannot act on a catchable signal: SIGTERM (or SIGINT) would stay pending
//! until someone sends SIGCONT, and a worker that is merely stuck may
//! ignore it too (download workers turn it into the Ctrl-C flag, checked
//! only between retries). SIGKILL is handled by the kernel itself: it ends
//! a process even while it is stopped, with nothing left to negotiate.
//!
//! **Why reap.** A killed child stays in the process table as a zombie,
//! holding its pid and exit status, until its parent waits for it. So the
//! kill is always followed by a wait (through `stop_worker`), and only
//! then is the reader thread joined: with the process gone, its stdout is
//! closed and the reader has returned.

use std::time::{Duration, Instant};

use super::spawn::{KillNow, WorkerState, stop_worker};
use super::start::{Signal, send_signal};
use super::{ProcessPool, WorkerProtocol};

/// How long workers holding a task get to answer after Ctrl-C, before they
/// are killed and reaped. Short, so that the whole stop (this grace, the
/// kills, the report) stays within the second the contract promises; long
/// enough for a download already receiving its answer to finish and be
/// counted.
pub const INTERRUPT_GRACE: Duration = Duration::from_millis(500);

impl<P: WorkerProtocol> ProcessPool<P> {
    /// Drop the queued tasks and ask busy workers to stop retrying (with
    /// SIGINT, which download workers turn into the Ctrl-C flag): what
    /// Ctrl-C does. Tasks already handed out may still finish, within
    /// [`INTERRUPT_GRACE`] of the first call.
    pub fn cancel_pending(&mut self) {
        self.cancelled_at.get_or_insert_with(Instant::now);
        self.pending.clear();
        for worker in &self.workers {
            // Only greeted workers: a worker that has not greeted may not
            // have set up its Ctrl-C handler yet, and would die of SIGINT.
            if matches!(worker.state, WorkerState::Busy { .. }) {
                // Its result is not checked: a worker that has already
                // exited takes the signal harmlessly (it is a zombie until
                // reaped), and its reader reports its end.
                let _ = send_signal(worker.pid(), Signal::Interrupt);
            }
        }
    }

    /// Whether Ctrl-C was seen (or [`cancel_pending`](Self::cancel_pending)
    /// called): no task is handed out any more.
    pub(super) fn is_cancelled(&self) -> bool {
        self.cancelled_at.is_some()
    }

    /// Kill the first busy worker that holds its task past the protocol's
    /// deadline, reap it, and return its task as a failed outcome; `None`
    /// when no worker is late (or the protocol sets no deadline, or after
    /// Ctrl-C, when [`abandon_tasks_after_interrupt`](Self::abandon_tasks_after_interrupt)
    /// rules instead). Several late workers go one per call.
    pub(super) fn kill_overdue_worker(&mut self) -> Option<P::Outcome> {
        if self.is_cancelled() {
            return None;
        }
        let deadline = self.protocol.task_deadline()?;
        // `elapsed() > deadline` rather than `since + deadline`: a huge
        // deadline (a long `--timeout` times many retries) cannot overflow.
        let index = self.workers.iter().position(|worker| {
            matches!(worker.state, WorkerState::Busy { since, .. } if since.elapsed() > deadline)
        })?;
        let reason = format!(
            "{} did not answer within {}; killed it",
            self.workers[index].name(),
            seconds(deadline)
        );
        // Kill now (SIGKILL: a stopped worker cannot act on anything
        // else), wait for it so that it is no zombie, and count its task as
        // failed. The caller's next `dispatch` starts a replacement.
        self.retire(index, KillNow::Yes, reason)
    }

    /// After Ctrl-C and [`INTERRUPT_GRACE`]: kill and reap every worker
    /// still holding a task, and forget the tasks. Nothing is counted for
    /// them: the report covers what finished, and these did not.
    pub(super) fn abandon_tasks_after_interrupt(&mut self) {
        let Some(cancelled_at) = self.cancelled_at else {
            return;
        };
        if cancelled_at.elapsed() < INTERRUPT_GRACE {
            return;
        }
        let mut index = 0;
        while index < self.workers.len() {
            if self.workers[index].task().is_none() {
                index += 1;
                continue;
            }
            // Kill (SIGKILL) and wait (reap), and remove its temporary
            // file if it was saving; the slot at `index` now holds another
            // worker, looked at next.
            let mut worker = self.workers.swap_remove(index);
            stop_worker(&self.protocol, &mut worker, Duration::ZERO);
        }
    }

    /// Handle the events the reader threads have already sent, without
    /// waiting, until one is an outcome: called before the deadlines are
    /// looked at, so that a worker whose answer is already in the channel
    /// is counted, not killed as late.
    pub(super) fn outcome_already_sent(&mut self) -> Option<P::Outcome> {
        // Receive without blocking: `try_recv` returns at once when the
        // channel is empty.
        while let Ok(event) = self.events.try_recv() {
            if let Some(outcome) = self.handle(event) {
                return Some(outcome);
            }
        }
        None
    }
}

/// A deadline for a message: `5.1 s`, or `300 ms` under a second.
fn seconds(duration: Duration) -> String {
    if duration >= Duration::from_secs(1) {
        format!("{:.1} s", duration.as_secs_f64())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_read_in_seconds() {
        assert_eq!(seconds(Duration::from_millis(5100)), "5.1 s");
        assert_eq!(seconds(Duration::from_millis(2500)), "2.5 s");
        assert_eq!(seconds(Duration::from_millis(300)), "300 ms");
    }
}
