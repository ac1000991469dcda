//! Spawning and reaping: a worker's whole life as the parent sees it.
//!
//! [`spawn_worker`](ProcessPool::spawn_worker) starts the child with piped
//! stdin and stdout, spawned or forked by the fork server (see
//! [`start`](super::start)), and its reader thread. The other end of the life is
//! here too: [`retire`](ProcessPool::retire) a worker that died or
//! misbehaved, give up one that never greeted, [`stop_all`](ProcessPool::stop_all)
//! at shutdown; each goes through [`stop_worker`], which closes, waits,
//! kills if it must, and [`reap`]s, so that no child stays a zombie.

use std::fs::File;
use std::io::{self, Write};
use std::process::ExitStatus;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::events::{READER_STACK_SIZE, read_lines};
use super::start::{Launched, WorkerProcess};
use super::{EXIT_GRACE, INTERRUPT_GRACE, PoolError, ProcessPool, START_TIMEOUT, WorkerProtocol};

/// Where a worker is in its life.
#[derive(Debug)]
pub(super) enum WorkerState<T> {
    /// Started, greeting not received yet. It may already hold a task:
    /// the first task is written into its stdin at once, behind the setup
    /// line, so that the worker can start on it without waiting for us.
    Starting {
        /// When it was started, for [`START_TIMEOUT`].
        since: Instant,
        /// The task written behind the setup line, if any.
        task: Option<T>,
    },
    /// Greeted, and holds no task.
    Idle,
    /// Greeted, and holds this task; its answer is awaited.
    Busy {
        /// The task.
        task: T,
        /// When the worker started on it (the greeting, for a first task):
        /// the start of its [deadline](WorkerProtocol::task_deadline).
        since: Instant,
    },
    /// Let go: the queue was empty when it became free, so its stdin is
    /// closed and it is exiting. Reaped when its output ends.
    Leaving,
}

/// One worker child process and what the parent keeps of it.
#[derive(Debug)]
pub(super) struct Worker<T> {
    /// Its number in this pool, for messages: 0, 1, 2... replacements get
    /// new numbers.
    pub(super) id: usize,
    /// The handle on the child process, spawned or forked. It must be
    /// waited for (reaped) before it is dropped, or the child stays a
    /// zombie until the parent exits: every path out of the pool goes
    /// through [`reap`].
    pub(super) child: WorkerProcess,
    /// The write end of the worker's stdin. Dropping it closes the pipe:
    /// the worker reads end-of-file and exits.
    pub(super) stdin: Option<File>,
    /// The thread that reads the worker's stdout into the pool's channel.
    /// It ends by itself when the stream ends; we join it after the child
    /// is reaped.
    reader: Option<JoinHandle<()>>,
    pub(super) state: WorkerState<T>,
}

impl<T> Worker<T> {
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(super) fn name(&self) -> String {
        format!("worker {} (pid {})", self.id, self.pid())
    }

    /// The task this worker holds, greeted or not.
    pub(super) fn task(&self) -> Option<&T> {
        match &self.state {
            WorkerState::Busy { task, .. }
            | WorkerState::Starting {
                task: Some(task), ..
            } => Some(task),
            _ => None,
        }
    }

    /// Write one line to the worker's stdin.
    pub(super) fn send(&mut self, line: &str) -> io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "stdin closed"))?;
        // One `write_all` of a short line: the pipe is never full, since a
        // worker holds at most one task, so this does not block.
        stdin.write_all(format!("{line}\n").as_bytes())?;
        stdin.flush()
    }
}

impl<P: WorkerProtocol> ProcessPool<P> {
    /// Start one more worker: start the child process (spawned, or forked
    /// by the fork server: [`StartMethod`](super::StartMethod)), start its reader thread, and
    /// write the setup line and its first task (if any) into its stdin. On
    /// failure the task is handed back.
    pub(super) fn spawn_worker(
        &mut self,
        task: Option<P::Task>,
    ) -> Result<(), (PoolError, Option<P::Task>)> {
        let id = self.next_worker_id;
        self.next_worker_id += 1;
        // Start the process. It runs at once, in parallel with us, and
        // greets us on its stdout when it is ready.
        let Launched {
            process: mut child,
            stdin,
            stdout,
        } = match self.launcher.launch() {
            Ok(launched) => launched,
            Err(error) => return Err((error, task)),
        };
        // Spawn the reader thread: it owns the read end of the worker's
        // stdout and a clone of the channel's sender.
        let sender = self.events_sender.clone();
        let reader = std::thread::Builder::new()
            .name(format!("worker-{id}-reader"))
            // It only reads lines into a heap buffer: a small stack will do,
            // and 256 of them then take 16 MiB of address space, not 512.
            .stack_size(READER_STACK_SIZE)
            .spawn(move || read_lines(id, stdout, sender));
        let reader = match reader {
            Ok(handle) => handle,
            Err(error) => {
                // No reader, no way to hear from it: kill and reap it.
                reap(&mut child, Duration::ZERO);
                let program = self.launcher.command().program.clone();
                return Err((
                    PoolError::Spawn {
                        program,
                        source: error,
                    },
                    task,
                ));
            }
        };
        let mut lines = self.protocol.setup_line().unwrap_or_default();
        if let Some(task) = &task {
            if !lines.is_empty() {
                lines.push('\n');
            }
            lines.push_str(&self.protocol.task_line(task));
        }
        let mut worker = Worker {
            id,
            child,
            stdin: Some(stdin),
            reader: Some(reader),
            state: WorkerState::Starting {
                since: Instant::now(),
                task,
            },
        };
        // Send the setup line and the first task now, without waiting for
        // the greeting: the pipe holds them until the worker reads them.
        if !lines.is_empty() {
            // Ignoring a failed write is safe: it means the worker is
            // already gone. Its reader then reports the end of its output,
            // and `start_failed` puts the task back in the queue.
            let _ = worker.send(&lines);
        }
        self.workers.push(worker);
        Ok(())
    }

    /// A worker that never became ready: give it up, put the task it was
    /// sent back at the head of the queue (it cannot have answered it), and
    /// shrink the pool, so that a program that cannot start is not started
    /// again without end.
    pub(super) fn start_failed(&mut self, index: usize, reason: String) {
        self.size = self.size.saturating_sub(1);
        let mut worker = self.workers.swap_remove(index);
        stop_worker(&self.protocol, &mut worker, Duration::ZERO);
        if let WorkerState::Starting {
            task: Some(task), ..
        } = worker.state
        {
            self.pending.push_front(task);
        }
        self.last_start_failure = Some(reason);
    }

    /// Give up workers that have not greeted within [`START_TIMEOUT`].
    pub(super) fn give_up_slow_starters(&mut self) {
        let late = self.workers.iter().position(|worker| {
            matches!(worker.state, WorkerState::Starting { since, .. } if since.elapsed() > START_TIMEOUT)
        });
        if let Some(index) = late {
            let name = self.workers[index].name();
            self.start_failed(
                index,
                format!("{name} sent no greeting within {START_TIMEOUT:?}"),
            );
        }
    }

    /// Remove a worker for good: kill it now or after a grace, wait for
    /// it, join its reader. Returns the failed outcome of the task it held;
    /// the next `dispatch` starts a replacement if tasks are queued.
    pub(super) fn retire(
        &mut self,
        index: usize,
        kill: KillNow,
        reason: String,
    ) -> Option<P::Outcome> {
        let mut worker = self.workers.swap_remove(index);
        let grace = match kill {
            KillNow::Yes => Duration::ZERO,
            KillNow::No => EXIT_GRACE,
        };
        stop_worker(&self.protocol, &mut worker, grace);
        match worker.state {
            WorkerState::Busy { task, .. } => Some(self.protocol.failed(task, reason)),
            WorkerState::Starting { task, .. } => {
                // Not reached (a worker that never greeted goes through
                // `start_failed`); kept so that no task is ever lost.
                if let Some(task) = task {
                    self.pending.push_front(task);
                }
                None
            }
            WorkerState::Idle | WorkerState::Leaving => None,
        }
    }

    /// Close every stdin, give idle workers [`EXIT_GRACE`] to exit on
    /// their own (after Ctrl-C: until [`INTERRUPT_GRACE`] after it), kill
    /// the rest, and wait for every one.
    pub(super) fn stop_all(&mut self) {
        for worker in &mut self.workers {
            // Closing stdin is the polite way to say "no more tasks".
            drop(worker.stdin.take());
        }
        let deadline = match self.cancelled_at {
            // Ctrl-C promises an end within a second: a worker that is
            // stopped, or ignores its closed stdin, does not get 2 s more.
            Some(cancelled_at) => cancelled_at + INTERRUPT_GRACE,
            None => Instant::now() + EXIT_GRACE,
        };
        for mut worker in self.workers.drain(..) {
            let grace = match worker.task() {
                // A worker with a task would finish it first: do not wait.
                Some(_) => Duration::ZERO,
                None => deadline.saturating_duration_since(Instant::now()),
            };
            // Wait for it, killing it when its grace is over.
            stop_worker(&self.protocol, &mut worker, grace);
        }
        // The fork server, if any: closing its socket ends it, as closing
        // stdin ends a worker.
        self.launcher
            .stop(deadline.saturating_duration_since(Instant::now()));
    }
}

/// The end of one worker: close its stdin (a worker that still runs sees
/// the end of its input and exits), wait up to `grace`, kill it if it
/// still runs, wait for it (reap), let the protocol clean up after it if it
/// did not exit cleanly or still held a task, and join its reader thread.
pub(super) fn stop_worker<P: WorkerProtocol>(
    protocol: &P,
    worker: &mut Worker<P::Task>,
    grace: Duration,
) {
    // A task whose answer the pool has not accepted: even a worker that
    // exits cleanly now (it answered, then read the end of its input) may
    // have left what only an accepted answer would have made final.
    let held_a_task = worker.task().is_some();
    drop(worker.stdin.take());
    // Wait, and kill when the grace is over: the child is reaped here.
    let reaped = reap(&mut worker.child, grace);
    if held_a_task || !matches!(reaped.status, Ok(status) if status.success()) {
        // Reaped, so it writes nothing more, and its pid is not reused
        // before this returns: remove what it left (its temporary file).
        protocol.clean_up_after(worker.pid());
    }
    // Join the reader: with the child gone, its stdout is closed, so the
    // reader has reached the end of the stream and returned.
    if let Some(reader) = worker.reader.take() {
        // `Err` only if the reader panicked: it returns nothing, and its
        // worker is already reaped, so there is nothing left to recover.
        let _ = reader.join();
    }
}

/// Whether to kill a worker being retired at once, or give it time to
/// exit by itself (its output ended: it is dying anyway).
#[derive(Debug, Clone, Copy)]
pub(super) enum KillNow {
    Yes,
    No,
}

/// Wait for a child to exit, for at most `grace`, then kill it and wait:
/// after this, the child is reaped whatever happened.
///
/// Returns its exit status, and whether we had to kill it.
pub(super) fn reap(child: &mut WorkerProcess, grace: Duration) -> Reaped {
    let deadline = Instant::now() + grace;
    // Poll: `try_wait` never blocks (std has no wait with a timeout), so
    // look every 2 ms until the child has exited or the grace is over.
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                return Reaped {
                    status: Ok(status),
                    killed_by_us: false,
                };
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            _ => break,
        }
    }
    // Kill: SIGKILL, which cannot be caught. An error means the child has
    // exited meanwhile; `wait` below reaps it either way.
    let _ = child.kill();
    // Wait: reap the child, so that it does not stay a zombie.
    Reaped {
        status: child.wait(),
        killed_by_us: true,
    }
}

/// How a reaped child ended.
#[derive(Debug)]
pub(super) struct Reaped {
    /// Its exit status, or why it could not be read.
    status: io::Result<ExitStatus>,
    /// Whether [`reap`] had to kill it.
    killed_by_us: bool,
}

/// One line on how a worker ended: `signal 9 (SIGKILL)`, `exit status 3`.
pub(super) fn describe_exit(reaped: Reaped) -> String {
    let status = match reaped.status {
        Ok(status) => status,
        Err(error) => return format!("cannot wait for it: {error}"),
    };
    let plain = describe_status(status);
    if reaped.killed_by_us {
        format!("closed its output and did not exit; killed it ({plain})")
    } else {
        plain
    }
}

#[cfg(unix)]
fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => {
            let name = match signal {
                libc::SIGINT => " (SIGINT)",
                libc::SIGKILL => " (SIGKILL)",
                libc::SIGTERM => " (SIGTERM)",
                libc::SIGSEGV => " (SIGSEGV)",
                libc::SIGABRT => " (SIGABRT)",
                libc::SIGPIPE => " (SIGPIPE)",
                _ => "",
            };
            format!("signal {signal}{name}")
        }
        (None, None) => status.to_string(),
    }
}

#[cfg(not(unix))]
fn describe_status(status: ExitStatus) -> String {
    status.to_string()
}
