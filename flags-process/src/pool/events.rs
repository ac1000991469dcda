//! The event loop: how the parent listens to every worker at once.
//!
//! A worker's stdout is a pipe, and a blocking read of one pipe would leave
//! the others unheard; so each worker gets a reader thread
//! ([`read_lines`]) that blocks on its pipe alone and forwards every line,
//! and the end of the stream, as a [`WorkerEvent`] into one channel. The
//! parent waits on that channel alone, in
//! [`next_outcome`](ProcessPool::next_outcome), and acts on each event in
//! [`handle`](ProcessPool::handle): a greeting, an answer, a line out of
//! turn, the end of a worker.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::time::Instant;

use flags_core::interrupt;

use super::line::{MAX_LINE_BYTES, excerpt, parse_hello};
use super::spawn::{KillNow, WorkerState, describe_exit, reap, stop_worker};
use super::{EXIT_GRACE, PoolError, ProcessPool, TICK, WorkerProtocol};

/// The stack of each reader thread: 64 KiB instead of Rust's 2 MiB.
pub const READER_STACK_SIZE: usize = 64 * 1024;

/// What a reader thread reports about its worker's stdout.
#[derive(Debug)]
pub(super) struct WorkerEvent {
    /// Which worker, by its number (never reused, so that a late event of
    /// a replaced worker cannot be taken for its successor's).
    worker: usize,
    kind: EventKind,
}

#[derive(Debug)]
enum EventKind {
    /// One whole line, without its newline.
    Line(String),
    /// A line longer than [`MAX_LINE_BYTES`]; the reader stopped.
    TooLong,
    /// End of the stream: the worker exited, or closed its stdout.
    Closed,
}

impl<P: WorkerProtocol> ProcessPool<P> {
    /// Wait for the next task to finish, in completion order. `Ok(None)`
    /// when no task is left running or queued.
    ///
    /// A worker that holds its task past the protocol's
    /// [`task_deadline`](WorkerProtocol::task_deadline) is killed (SIGKILL)
    /// and reaped; its task comes back as a failed outcome that says so,
    /// like `worker 3 (pid 1234) did not answer within 5.1 s; killed it`,
    /// and a replacement takes the queued tasks.
    ///
    /// After Ctrl-C ([`interrupt::requested`]) the queued tasks are dropped
    /// and the busy workers are asked to stop retrying; the tasks they
    /// answer within [`INTERRUPT_GRACE`](super::INTERRUPT_GRACE) still come
    /// back. Then the workers still holding a task are killed and reaped,
    /// their tasks counted as nothing (they did not finish), and
    /// `Ok(None)`: the run ends within the grace whatever the workers do.
    ///
    /// `Err` only when tasks are left but no worker can be started.
    pub fn next_outcome(&mut self) -> Result<Option<P::Outcome>, PoolError> {
        loop {
            if interrupt::requested() && !self.is_cancelled() {
                self.cancel_pending();
            }
            // Answers already sent come first: a worker whose answer is in
            // the channel is not late, whatever the clocks below say.
            if let Some(outcome) = self.outcome_already_sent() {
                self.dispatch();
                return Ok(Some(outcome));
            }
            self.abandon_tasks_after_interrupt();
            self.give_up_slow_starters();
            if let Some(outcome) = self.kill_overdue_worker() {
                // A replacement takes the next queued task, if any.
                self.dispatch();
                return Ok(Some(outcome));
            }
            self.dispatch();
            let held = self
                .workers
                .iter()
                .filter(|worker| worker.task().is_some())
                .count();
            let queued = if self.is_cancelled() {
                0
            } else {
                self.pending.len()
            };
            if held == 0 && queued == 0 {
                return Ok(None);
            }
            if self.workers.is_empty() {
                // `dispatch` could not start a single worker for the queue.
                let reason = self
                    .last_start_failure
                    .clone()
                    .unwrap_or_else(|| "every worker failed".to_string());
                return Err(PoolError::NoWorkers { reason });
            }
            // Receive: wait for any worker to say something. The timeout
            // only lets us look at the Ctrl-C flag and the deadlines again:
            // a hung worker sends no event to wake us.
            match self.events.recv_timeout(TICK) {
                Ok(event) => {
                    if let Some(outcome) = self.handle(event) {
                        // Give the worker that just finished its next task
                        // before the caller spends time on this outcome.
                        self.dispatch();
                        return Ok(Some(outcome));
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                // Cannot happen: `self.events_sender` keeps the channel
                // open. Treat it as "nothing more will come".
                Err(RecvTimeoutError::Disconnected) => return Ok(None),
            }
        }
    }

    /// Act on one event from a reader thread; returns an outcome when a
    /// task finished (well or not).
    pub(super) fn handle(&mut self, event: WorkerEvent) -> Option<P::Outcome> {
        // An event from a worker already retired (its end of stream, after
        // we killed it for a bad line) is old news.
        let index = self
            .workers
            .iter()
            .position(|worker| worker.id == event.worker)?;
        let name = self.workers[index].name();
        let phase = match &self.workers[index].state {
            WorkerState::Starting { .. } => Phase::Starting,
            WorkerState::Idle => Phase::Idle,
            WorkerState::Busy { .. } => Phase::Busy,
            WorkerState::Leaving => Phase::Leaving,
        };
        match (event.kind, phase) {
            // The greeting: the worker is ready, and starts on the task
            // already in its stdin, if any.
            (EventKind::Line(line), Phase::Starting) => {
                match parse_hello(&line) {
                    Ok((other, version)) if other == P::NAME && version == P::VERSION => {
                        let worker = &mut self.workers[index];
                        let state = std::mem::replace(&mut worker.state, WorkerState::Idle);
                        if let WorkerState::Starting {
                            task: Some(task), ..
                        } = state
                        {
                            // Its deadline starts now: it begins the task
                            // right after greeting.
                            worker.state = WorkerState::Busy {
                                task,
                                since: Instant::now(),
                            };
                        }
                    }
                    Ok((other, version)) => self.start_failed(
                        index,
                        format!(
                            "{name} speaks {other} {version}, not {} {}",
                            P::NAME,
                            P::VERSION
                        ),
                    ),
                    Err(error) => {
                        let program = self.launcher.command().program.display().to_string();
                        self.start_failed(
                            index,
                            format!(
                                "{name} did not greet ({error}): is {program} a worker program \
                                 that calls worker_main_if_requested() first thing in main?"
                            ),
                        );
                    }
                }
                None
            }
            // The answer to the task it holds.
            (EventKind::Line(line), Phase::Busy) => {
                // The protocol reads the answer and does what makes it final
                // (the download protocol renames the flag into place) before
                // the outcome is counted.
                let pid = self.workers[index].pid();
                let parsed = match &self.workers[index].state {
                    WorkerState::Busy { task, .. } => self.protocol.accept_answer(pid, task, &line),
                    _ => return None,
                };
                match parsed {
                    Ok(outcome) => {
                        self.workers[index].state = WorkerState::Idle;
                        Some(outcome)
                    }
                    Err(error) => {
                        let reason = format!("{name} sent a malformed line ({error}); killed it");
                        self.retire(index, KillNow::Yes, reason)
                    }
                }
            }
            (EventKind::Line(line), Phase::Idle | Phase::Leaving) => {
                let reason = format!("{name} spoke out of turn ({:?}); killed it", excerpt(&line));
                self.retire(index, KillNow::Yes, reason)
            }
            (EventKind::TooLong, Phase::Starting) => {
                let reason = format!("{name} sent a line over {MAX_LINE_BYTES} bytes");
                self.start_failed(index, reason);
                None
            }
            (EventKind::TooLong, _) => {
                let reason = format!(
                    "{name} sent a malformed line (line longer than {MAX_LINE_BYTES} bytes); killed it"
                );
                self.retire(index, KillNow::Yes, reason)
            }
            // The end of its output: the worker died (or closed stdout,
            // which is as bad). Whatever it held failed.
            (EventKind::Closed, Phase::Starting) => {
                // Wait for it (reap), to tell how it ended.
                let status = describe_exit(reap(&mut self.workers[index].child, EXIT_GRACE));
                self.start_failed(
                    index,
                    format!("{name} exited before its greeting: {status}"),
                );
                None
            }
            // A worker let go has exited, as asked: reap it, nothing lost.
            (EventKind::Closed, Phase::Leaving) => {
                let mut worker = self.workers.swap_remove(index);
                stop_worker(&self.protocol, &mut worker, EXIT_GRACE);
                None
            }
            (EventKind::Closed, Phase::Idle | Phase::Busy) => {
                // Wait for it (reap), to tell how it ended.
                let status = describe_exit(reap(&mut self.workers[index].child, EXIT_GRACE));
                self.retire(index, KillNow::No, format!("{name} died: {status}"))
            }
        }
    }
}

/// [`WorkerState`] without its task, to match on while the pool changes.
#[derive(Debug, Clone, Copy)]
enum Phase {
    Starting,
    Idle,
    Busy,
    Leaving,
}

/// The body of a reader thread: read the worker's stdout line by line and
/// send each line into the channel, until the stream ends.
///
/// The read is capped at [`MAX_LINE_BYTES`] per line, so a worker that
/// writes without newlines cannot make the parent grow without bound.
pub(super) fn read_lines(worker: usize, stdout: File, events: Sender<WorkerEvent>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut line = Vec::new();
        let limit = MAX_LINE_BYTES as u64 + 1;
        // Blocking read: this thread has nothing else to do.
        let read = (&mut reader).take(limit).read_until(b'\n', &mut line);
        let kind = match read {
            Ok(_) if line.last() == Some(&b'\n') => {
                line.pop();
                EventKind::Line(String::from_utf8_lossy(&line).into_owned())
            }
            Ok(_) if line.len() > MAX_LINE_BYTES => EventKind::TooLong,
            // End of the stream, maybe in the middle of a line (the worker
            // died while writing), or a read error: the worker is gone.
            Ok(_) | Err(_) => EventKind::Closed,
        };
        let last = !matches!(kind, EventKind::Line(_));
        // Send the event to the parent. If the pool is gone (the receiver
        // dropped), nobody listens any more: stop.
        if events.send(WorkerEvent { worker, kind }).is_err() || last {
            return;
        }
    }
}
