//! A pool of worker child processes fed over pipes, written on
//! `std::process`: our `ProcessPoolExecutor`.
//!
//! - **Start:** a worker is this very program re-run with the environment
//!   variable [`WORKER_ENV`] set (as Python's *spawn* start method re-runs
//!   the interpreter); the program's `main` calls a function such as
//!   [`worker_main_if_requested`](crate::worker_main_if_requested) first,
//!   which sees the variable and serves instead of running the command
//!   line. Each worker's stdin and stdout are pipes to the parent. Workers
//!   start on demand, when a task finds none free, up to the pool's size.
//! - **Work:** [`submit`](ProcessPool::submit) queues tasks; the pool hands
//!   one task to each free worker, never more, so the pool's size caps the
//!   concurrency. [`next_outcome`](ProcessPool::next_outcome) returns
//!   outcomes in completion order, like `as_completed`.
//! - **Listening to many pipes at once:** one reader thread per worker
//!   blocks on that worker's stdout and forwards each line, and the end of
//!   the stream, into one channel; the parent waits on that channel alone.
//! - **Failure:** a worker that dies, or writes a line its protocol
//!   refuses, is killed if needed, waited for, and replaced; the task it
//!   held comes back as a failed outcome. The run goes on. (Python instead
//!   marks the whole pool broken: see the README.)
//! - **Hangs:** a worker alive but silent (stopped, deadlocked) is killed
//!   when its task passes the protocol's [deadline](WorkerProtocol::task_deadline),
//!   and after Ctrl-C once [`INTERRUPT_GRACE`] is over: see [`deadline`].
//! - **Cleanup:** every child is waited for, by [`shutdown`](ProcessPool::shutdown)
//!   or by `Drop` on an error or a panic: no zombie. Workers exit when
//!   their stdin closes, also when the parent is killed: no orphan.
//!
//! The pool is generic over a [`WorkerProtocol`], so that the same
//! machinery runs the flag downloads and the primes example.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flags_core::interrupt;

use crate::protocol::{MAX_LINE_BYTES, ProtocolError, excerpt, parse_hello};

pub mod deadline;

pub use deadline::INTERRUPT_GRACE;

/// The environment variable that turns a program into a worker: its value
/// is the [`WorkerProtocol::NAME`] to speak.
pub const WORKER_ENV: &str = "FLAGS_PROCESS_WORKER";

/// How long a new worker has to send its greeting before it is given up.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the parent, while it waits for workers, looks at the Ctrl-C
/// flag, the start deadlines and the task deadlines.
const TICK: Duration = Duration::from_millis(50);

/// How long a worker whose output ended may take to exit before it is
/// killed, and how long [`ProcessPool::shutdown`] lets idle workers exit.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// The protocol of [`WORKER_ENV`] when this process was started as a
/// worker, or `None` for an ordinary run.
///
/// A value that is not UTF-8 still counts as set (read lossily): it names
/// no protocol, but the nested-pool guard must see it.
pub fn requested_worker_mode() -> Option<String> {
    std::env::var_os(WORKER_ENV).map(|mode| mode.to_string_lossy().into_owned())
}

/// What a pool's workers speak: the only part that differs between the
/// flag downloads and the primes example.
///
/// Every protocol starts the same way: the worker's first line is
/// `HELLO {NAME} {VERSION}`; then the pool sends [`setup_line`](Self::setup_line),
/// then one [`task_line`](Self::task_line) at a time, each answered by one
/// line.
pub trait WorkerProtocol {
    /// One unit of work, like a country code.
    type Task;
    /// What comes back for one task, like a [`FlagOutcome`](flags_core::FlagOutcome).
    type Outcome;
    /// The protocol's name: the value of [`WORKER_ENV`] and the name in
    /// the greeting.
    const NAME: &'static str;
    /// The protocol's version; a worker greeting with another is refused.
    const VERSION: u32;

    /// A line every new worker receives before any task (a replacement
    /// too), like the job's settings.
    fn setup_line(&self) -> Option<String>;
    /// The line that hands `task` to a worker.
    fn task_line(&self, task: &Self::Task) -> String;
    /// Read a worker's answer to `task`. An `Err` means the worker cannot
    /// be trusted any more: the pool kills and replaces it.
    fn parse_outcome(&self, task: &Self::Task, line: &str) -> Result<Self::Outcome, ProtocolError>;
    /// The outcome of a task whose worker died or misbehaved; `reason`
    /// says what happened, like `worker 3 (pid 1234) died: signal 9 (SIGKILL)`.
    fn failed(&self, task: Self::Task, reason: String) -> Self::Outcome;

    /// How long a worker may hold one task before the pool gives up on it
    /// (see [`ProcessPool::next_outcome`]): it kills the worker, reaps it,
    /// counts the task as [`failed`](Self::failed) and starts a
    /// replacement. `None`, the default: no limit, the pool waits for as
    /// long as the worker lives.
    ///
    /// A worker that dies is noticed at once (its stdout ends); one that
    /// hangs alive (stopped with `kill -STOP`, deadlocked, stuck in a call
    /// that ignores its own timeout) says nothing and ends nothing, so only
    /// a clock in the parent can tell. Return an upper bound of what an
    /// honest worker may need, computed from the settings the protocol
    /// already holds, plus a margin.
    fn task_deadline(&self) -> Option<Duration> {
        None
    }

    /// Called once a worker that did not exit cleanly (killed by the pool,
    /// or dead of a signal or with an error status) has been reaped: remove
    /// what it may have left half done. A worker killed with SIGKILL runs no
    /// destructor, so a download worker killed while it saves leaves its
    /// temporary file behind. The default does nothing.
    fn clean_up_after(&self, _pid: u32) {}
}

/// The program a pool runs as its workers, and extra environment for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    program: PathBuf,
    env: Vec<(OsString, OsString)>,
}

impl WorkerCommand {
    /// This very program, which must call its worker entry point first
    /// thing in `main`.
    pub fn current_exe() -> Result<Self, PoolError> {
        let program = std::env::current_exe().map_err(PoolError::CurrentExe)?;
        Ok(Self::program(program))
    }

    /// Another program, like a test's `env!("CARGO_BIN_EXE_flags-process")`:
    /// integration tests run inside the test harness, which cannot serve
    /// as a worker.
    pub fn program(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            env: Vec::new(),
        }
    }

    /// Set one more environment variable in every worker.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The program the workers run.
    pub fn program_path(&self) -> &std::path::Path {
        &self.program
    }
}

/// Why a pool could not start, or cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The path of this program is unknown.
    #[error("cannot find this program to re-run it as a worker: {0}")]
    CurrentExe(io::Error),
    /// A worker program could not be started.
    #[error("cannot start worker program {}: {source}", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// This process is itself a worker: a pool here would start workers
    /// that start workers, without end.
    #[error(
        "this process was started as a worker ({WORKER_ENV}={mode}) but runs the command \
         line: call flags_process::worker_main_if_requested() first thing in main"
    )]
    NestedPool {
        /// The value of [`WORKER_ENV`].
        mode: String,
    },
    /// Every worker failed to start, and tasks are left.
    #[error("no worker left to run the tasks: {reason}")]
    NoWorkers {
        /// What happened to the last one.
        reason: String,
    },
}

/// The stack of each reader thread: 64 KiB instead of Rust's 2 MiB.
pub const READER_STACK_SIZE: usize = 64 * 1024;

/// What a reader thread reports about its worker's stdout.
#[derive(Debug)]
struct WorkerEvent {
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

/// Where a worker is in its life.
#[derive(Debug)]
enum WorkerState<T> {
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
struct Worker<T> {
    /// Its number in this pool, for messages: 0, 1, 2... replacements get
    /// new numbers.
    id: usize,
    /// The handle on the child process. It must be waited for (reaped)
    /// before it is dropped, or the child stays a zombie until the parent
    /// exits: every path out of the pool goes through [`reap`].
    child: Child,
    /// The write end of the worker's stdin. Dropping it closes the pipe:
    /// the worker reads end-of-file and exits.
    stdin: Option<ChildStdin>,
    /// The thread that reads the worker's stdout into the pool's channel.
    /// It ends by itself when the stream ends; we join it after the child
    /// is reaped.
    reader: Option<JoinHandle<()>>,
    state: WorkerState<T>,
}

impl<T> Worker<T> {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn name(&self) -> String {
        format!("worker {} (pid {})", self.id, self.pid())
    }

    /// The task this worker holds, greeted or not.
    fn task(&self) -> Option<&T> {
        match &self.state {
            WorkerState::Busy { task, .. }
            | WorkerState::Starting {
                task: Some(task), ..
            } => Some(task),
            _ => None,
        }
    }

    /// Write one line to the worker's stdin.
    fn send(&mut self, line: &str) -> io::Result<()> {
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

/// Up to `size` worker processes speaking protocol `P`, and the queue of
/// tasks waiting for them.
///
/// Workers start on demand: a task submitted when no worker is free starts
/// a new one, up to `size` (Python's `ProcessPoolExecutor` has also spawned
/// on demand since 3.9, except with the `fork` start method). The first
/// tasks therefore start while later workers are still being spawned.
/// And a worker that becomes free when the queue is empty is let go at
/// once (its stdin is closed), so that workers exit during the last tasks
/// rather than all together at shutdown; a task submitted later starts a
/// new worker.
///
/// Dropping the pool kills the workers still running and waits for every
/// one, so no zombie is left on an early return or a panic;
/// [`shutdown`](Self::shutdown) lets idle workers exit on their own first.
pub struct ProcessPool<P: WorkerProtocol> {
    protocol: P,
    command: WorkerCommand,
    /// The most workers the pool runs at once. It shrinks only when a
    /// worker fails to start (so a broken program is not restarted forever).
    size: usize,
    /// The live workers, in no particular order.
    workers: Vec<Worker<P::Task>>,
    /// Tasks submitted and not handed out yet: `submit` pushes at the back,
    /// free workers take from the front.
    pending: VecDeque<P::Task>,
    /// The one channel every reader thread sends into. The parent waits on
    /// it alone, so it wakes as soon as any worker says anything.
    events: Receiver<WorkerEvent>,
    /// A sender kept to clone into the reader thread of each new worker.
    /// Keeping it also means the channel never reports "disconnected".
    events_sender: Sender<WorkerEvent>,
    next_worker_id: usize,
    /// When Ctrl-C was seen (or [`cancel_pending`](Self::cancel_pending)
    /// called): from then on no task is handed out, and the workers still
    /// holding one [`INTERRUPT_GRACE`] later are killed.
    cancelled_at: Option<Instant>,
    /// Why the last worker that failed to start failed, for
    /// [`PoolError::NoWorkers`].
    last_start_failure: Option<String>,
}

impl<P: WorkerProtocol> ProcessPool<P> {
    /// A pool of up to `workers` workers running this very program.
    pub fn new(protocol: P, workers: usize) -> Result<Self, PoolError> {
        Self::with_command(WorkerCommand::current_exe()?, protocol, workers)
    }

    /// A pool of up to `workers` workers running `command`. No process is
    /// started yet: [`submit`](Self::submit) starts them as tasks come.
    ///
    /// Refused in a process that is itself a worker: see
    /// [`PoolError::NestedPool`].
    pub fn with_command(
        command: WorkerCommand,
        protocol: P,
        workers: usize,
    ) -> Result<Self, PoolError> {
        if let Some(mode) = requested_worker_mode() {
            return Err(PoolError::NestedPool { mode });
        }
        // The channel of worker events: many reader threads send, the
        // parent alone receives.
        let (events_sender, events) = mpsc::channel();
        Ok(Self {
            protocol,
            command,
            size: workers.max(1),
            workers: Vec::new(),
            pending: VecDeque::new(),
            events,
            events_sender,
            next_worker_id: 0,
            cancelled_at: None,
            last_start_failure: None,
        })
    }

    /// Queue a task. It goes at once to a free worker, or to a new worker
    /// if the pool has fewer than `size`; else it waits its turn.
    pub fn submit(&mut self, task: P::Task) {
        self.pending.push_back(task);
        self.dispatch();
    }

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
    /// answer within [`INTERRUPT_GRACE`] still come back. Then the workers
    /// still holding a task are killed and reaped, their tasks counted as
    /// nothing (they did not finish), and `Ok(None)`: the run ends within
    /// the grace whatever the workers do.
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

    /// The most workers the pool runs at once now: the size it was made
    /// with, less one for each worker that could not be started.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Why the last worker could not be started (spawned, or greeting in
    /// time), if one could not: the pool then went on with fewer.
    pub fn start_failure(&self) -> Option<&str> {
        self.last_start_failure.as_deref()
    }

    /// The process ids of the live workers.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.workers.iter().map(Worker::pid).collect()
    }

    /// How many worker processes this pool has started, replacements
    /// included.
    pub fn started_workers(&self) -> usize {
        self.next_worker_id
    }

    /// The process ids of the workers that hold a task, each with its
    /// task: lets a test kill the worker that holds a given task.
    pub fn busy_workers(&self) -> Vec<(u32, &P::Task)> {
        self.workers
            .iter()
            .filter_map(|worker| Some((worker.pid(), worker.task()?)))
            .collect()
    }

    /// Close every worker's stdin so that it exits, and wait for all of
    /// them: Python's `executor.shutdown(wait=True)`. A worker still busy
    /// (only after an error) is killed.
    pub fn shutdown(mut self) {
        self.stop_all();
    }

    /// Start one more worker: spawn the child with piped stdin and stdout,
    /// start its reader thread, and write the setup line and its first
    /// task (if any) into its stdin. On failure the task is handed back.
    fn spawn_worker(&mut self, task: Option<P::Task>) -> Result<(), (PoolError, Option<P::Task>)> {
        let id = self.next_worker_id;
        self.next_worker_id += 1;
        let program = self.command.program.clone();
        let spawn_error = |source| PoolError::Spawn { program, source };
        let mut command = Command::new(&self.command.program);
        command
            .env(WORKER_ENV, P::NAME)
            .envs(self.command.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // The worker's stderr is ours: its own error messages (and a
            // panic's) reach the terminal. Its stdout is the protocol only.
            .stderr(Stdio::inherit());
        // Spawn: fork and exec the program. It runs at once, in parallel
        // with us; it greets us when it is ready.
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(error) => return Err((spawn_error(error), task)),
        };
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
        let Some(stdout) = stdout else {
            // Cannot happen with `Stdio::piped()`; but never leave a child
            // unwaited for.
            reap(&mut child, Duration::ZERO);
            return Err((spawn_error(io::Error::other("no stdout pipe")), task));
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
                return Err((spawn_error(error), task));
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
            stdin,
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

    /// Hand out queued tasks: one to each idle worker, then one to each
    /// new worker while the pool has fewer than `size`. Never more than
    /// one task per worker, so `size` caps the concurrency.
    fn dispatch(&mut self) {
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

    /// Act on one event from a reader thread; returns an outcome when a
    /// task finished (well or not).
    fn handle(&mut self, event: WorkerEvent) -> Option<P::Outcome> {
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
                        let program = self.command.program.display().to_string();
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
                let parsed = match &self.workers[index].state {
                    WorkerState::Busy { task, .. } => self.protocol.parse_outcome(task, &line),
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
                let error = ProtocolError::TooLong;
                let reason = format!("{name} sent a malformed line ({error}); killed it");
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

    /// A worker that never became ready: give it up, put the task it was
    /// sent back at the head of the queue (it cannot have answered it), and
    /// shrink the pool, so that a program that cannot start is not started
    /// again without end.
    fn start_failed(&mut self, index: usize, reason: String) {
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
    fn give_up_slow_starters(&mut self) {
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
    fn retire(&mut self, index: usize, kill: KillNow, reason: String) -> Option<P::Outcome> {
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
    fn stop_all(&mut self) {
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
    }
}

impl<P: WorkerProtocol> Drop for ProcessPool<P> {
    /// Kill and wait for any worker left: on an early return, an error or
    /// a panic, no child outlives the pool and none stays a zombie.
    fn drop(&mut self) {
        self.stop_all();
    }
}

impl<P: WorkerProtocol> std::fmt::Debug for ProcessPool<P> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ProcessPool")
            .field("protocol", &P::NAME)
            .field("command", &self.command)
            .field("size", &self.size)
            .field("workers", &self.worker_pids())
            .field("pending", &self.pending.len())
            .finish()
    }
}

/// The end of one worker: close its stdin (a worker that still runs sees
/// the end of its input and exits), wait up to `grace`, kill it if it
/// still runs, wait for it (reap), let the protocol clean up after it if it
/// did not exit cleanly, and join its reader thread.
fn stop_worker<P: WorkerProtocol>(protocol: &P, worker: &mut Worker<P::Task>, grace: Duration) {
    drop(worker.stdin.take());
    // Wait, and kill when the grace is over: the child is reaped here.
    let reaped = reap(&mut worker.child, grace);
    if !matches!(reaped.status, Ok(status) if status.success()) {
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

/// [`WorkerState`] without its task, to match on while the pool changes.
#[derive(Debug, Clone, Copy)]
enum Phase {
    Starting,
    Idle,
    Busy,
    Leaving,
}

/// Whether to kill a worker being retired at once, or give it time to
/// exit by itself (its output ended: it is dying anyway).
#[derive(Debug, Clone, Copy)]
enum KillNow {
    Yes,
    No,
}

/// The body of a reader thread: read the worker's stdout line by line and
/// send each line into the channel, until the stream ends.
///
/// The read is capped at [`MAX_LINE_BYTES`] per line, so a worker that
/// writes without newlines cannot make the parent grow without bound.
fn read_lines(worker: usize, stdout: ChildStdout, events: Sender<WorkerEvent>) {
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

/// Wait for a child to exit, for at most `grace`, then kill it and wait:
/// after this, the child is reaped whatever happened.
///
/// Returns its exit status, and whether we had to kill it.
fn reap(child: &mut Child, grace: Duration) -> Reaped {
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
struct Reaped {
    /// Its exit status, or why it could not be read.
    status: io::Result<ExitStatus>,
    /// Whether [`reap`] had to kill it.
    killed_by_us: bool,
}

/// One line on how a worker ended: `signal 9 (SIGKILL)`, `exit status 3`.
fn describe_exit(reaped: Reaped) -> String {
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
