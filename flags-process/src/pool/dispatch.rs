//! The job queue and dispatch: [`submit`](ProcessPool::submit) puts a task
//! at the back of the queue, [`dispatch`](ProcessPool::dispatch) hands
//! tasks from its front to idle workers, then to new ones while the pool
//! has room, never more than one per worker: the pool's size is the cap on
//! concurrency. A worker that becomes free when the queue is empty is let
//! go at once.

use std::time::Instant;

use super::spawn::{KillNow, WorkerState};
use super::{ProcessPool, WorkerProtocol};

impl<P: WorkerProtocol> ProcessPool<P> {
    /// Queue a task. It goes at once to a free worker, or to a new worker
    /// if the pool has fewer than `size`; else it waits its turn.
    pub fn submit(&mut self, task: P::Task) {
        self.pending.push_back(task);
        self.dispatch();
    }

    /// Hand out queued tasks: one to each idle worker, then one to each
    /// new worker while the pool has fewer than `size`. Never more than
    /// one task per worker, so `size` caps the concurrency.
    pub(super) fn dispatch(&mut self) {
        if self.is_cancelled() {
            self.let_idle_workers_go();
            return;
        }
        let mut index = 0;
        while index < self.workers.len() && !self.pending.is_empty() {
            let worker = &mut self.workers[index];
            if !matches!(worker.state, WorkerState::Idle) {
                index += 1;
                continue;
            }
            let Some(task) = self.pending.pop_front() else {
                break;
            };
            // Send: the task's line goes down the worker's stdin.
            match worker.send(&self.protocol.task_line(&task)) {
                Ok(()) => {
                    worker.state = WorkerState::Busy {
                        task,
                        since: Instant::now(),
                    };
                    index += 1;
                }
                Err(error) => {
                    // The worker's stdin is broken, so it never got the
                    // task: put the task back, and give the worker up
                    // (kill and reap it). It held no task, so `retire`
                    // returns no outcome; the slot at `index` now holds
                    // another worker, looked at next.
                    self.pending.push_front(task);
                    let reason = format!("{} cannot be written to: {error}", worker.name());
                    self.retire(index, KillNow::Yes, reason);
                }
            }
        }
        while self.active_workers() < self.size {
            let Some(task) = self.pending.pop_front() else {
                break;
            };
            // Spawn a new worker with this task already in its stdin.
            if let Err((error, task)) = self.spawn_worker(Some(task)) {
                // This program cannot be started: shrink the pool, keep
                // the task. With no worker left, `next_outcome` says why.
                if let Some(task) = task {
                    self.pending.push_front(task);
                }
                self.size -= 1;
                self.last_start_failure = Some(error.to_string());
            }
        }
        self.let_idle_workers_go();
    }

    /// With nothing queued, close the stdin of every idle worker: each
    /// reads the end of its input and exits now, while others finish their
    /// last task, instead of all at shutdown.
    fn let_idle_workers_go(&mut self) {
        if !self.pending.is_empty() && !self.is_cancelled() {
            return;
        }
        for worker in &mut self.workers {
            if matches!(worker.state, WorkerState::Idle) {
                // Closing its stdin is how we say "no more tasks".
                drop(worker.stdin.take());
                worker.state = WorkerState::Leaving;
            }
        }
    }

    /// The workers not leaving: those that count toward `size`.
    fn active_workers(&self) -> usize {
        self.workers
            .iter()
            .filter(|worker| !matches!(worker.state, WorkerState::Leaving))
            .count()
    }
}
