//! A pool of worker child processes fed over pipes, written on
//! `std::process`: our `ProcessPoolExecutor`.
//!
//! - **Start:** a worker is this very program, run with the environment
//!   variable [`WORKER_ENV`] set; the program's `main` calls
//!   [`serve_if_requested`] first (through a function such as
//!   [`worker_main_if_requested`](crate::worker_main_if_requested)), which
//!   sees the variable and serves instead of running the command line.
//!   Two [start methods](StartMethod), as Python's: *spawn* runs the
//!   program again for each worker; *forkserver* (the default on Linux)
//!   runs it once more as a fork server, which forks each worker already
//!   loaded. Each worker's stdin and stdout are pipes to the parent, and
//!   each is the parent's child either way. Workers start on demand, when
//!   a task finds none free, up to the pool's size.
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
//!
//! The pool in eight files, one concern each:
//!
//! - this file: the [`WorkerProtocol`] a pool speaks, the [`WorkerCommand`]
//!   it runs, [`ProcessPool`] itself and its public handles;
//! - [`start`]: the start methods, and the handle on a worker process
//!   whichever way it started;
//! - `pool/forkserver.rs` (Linux): the fork server, both its sides;
//! - `pool/spawn.rs`: starting a worker, and its end: stopping, killing,
//!   reaping, replacing;
//! - `pool/dispatch.rs`: the job queue, and handing its tasks out, one per
//!   worker;
//! - `pool/events.rs`: the event loop, [`next_outcome`](ProcessPool::next_outcome):
//!   the reader threads, the one channel they feed, and what each event
//!   does to its worker;
//! - [`deadline`]: what the pool does about a worker that hangs alive;
//! - [`line`](mod@line): all it knows of what workers say: lines, and a greeting.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

pub mod deadline;
mod dispatch;
mod events;
#[cfg(target_os = "linux")]
mod forkserver;
pub mod line;
mod spawn;
pub mod start;

pub use deadline::INTERRUPT_GRACE;
pub use events::READER_STACK_SIZE;
use events::WorkerEvent;
#[cfg(target_os = "linux")]
pub use forkserver::{FORK_TIMEOUT, FORKSERVER_ENV, FORKSERVER_PROCESS_NAME};
use spawn::Worker;
pub use start::{Launched, Launcher, StartMethod, WorkerProcess};

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

/// Serve as a worker of protocol `name` and exit, when this process was
/// started as one; return at once otherwise. Call it first thing in
/// `main`, with the worker's own `main` (which returns the exit status).
///
/// A process started by the pool is either a worker, which runs
/// `worker_main` and exits, or (with [`StartMethod::ForkServer`]) the
/// pool's fork server, which forks a worker running `worker_main` each
/// time the pool asks, and exits when the pool is done with it.
pub fn serve_if_requested(name: &str, worker_main: fn() -> i32) {
    if requested_worker_mode().as_deref() != Some(name) {
        return;
    }
    #[cfg(target_os = "linux")]
    if std::env::var_os(FORKSERVER_ENV).is_some() {
        forkserver::serve_forks(worker_main);
    }
    // Serve until the parent closes our stdin, then end the process here:
    // a worker never returns into the program's own `main`.
    exit_worker(worker_main())
}

/// End a worker process with `status`, at once: flush stdout, then
/// `_exit`.
///
/// A worker has nothing to tidy at exit (its answers are flushed line by
/// line, its files handed over), so it skips what `std::process::exit`
/// runs on the way out: Rust's runtime clean-up, the `atexit` handlers and
/// every shared library's destructors (what that saves is in
/// `docs/findings.md`).
pub(crate) fn exit_worker(status: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SAFETY: `_exit` ends the process without running any user code; all
    // this process had to say has been flushed above.
    unsafe { libc::_exit(status) }
}

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
    /// Why an answer was refused; the pool only shows it.
    type Error: std::fmt::Display;
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
    /// Read the answer of the worker with pid `worker_pid` to `task`, and
    /// act on it: what the answer makes final is done here, in the parent,
    /// before the outcome is returned (the download protocol renames the
    /// flag the worker wrote into place, so that a flag exists only once it
    /// is counted). An `Err` means the worker cannot be trusted any more:
    /// the pool kills and replaces it, and [cleans up](Self::clean_up_after)
    /// after it.
    fn accept_answer(
        &self,
        worker_pid: u32,
        task: &Self::Task,
        line: &str,
    ) -> Result<Self::Outcome, Self::Error>;
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
    /// or dead of a signal or with an error status), or that still held a
    /// task, has been reaped: remove what it may have left half done. A
    /// worker killed with SIGKILL runs no destructor, so a download worker
    /// killed while it writes a flag, or before the parent has read its
    /// answer, leaves its temporary file behind. The default does nothing.
    fn clean_up_after(&self, _pid: u32) {}
}

/// The program a pool runs as its workers, extra environment for them,
/// and how they are started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    program: PathBuf,
    env: Vec<(OsString, OsString)>,
    start_method: StartMethod,
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
            start_method: StartMethod::default(),
        }
    }

    /// Start the workers this way instead of the default
    /// ([`StartMethod::default_for_this_system`]).
    pub fn start_method(mut self, start_method: StartMethod) -> Self {
        self.start_method = start_method;
        self
    }

    /// How the workers are started.
    pub fn method(&self) -> StartMethod {
        self.start_method
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
    /// Workers could not be had from a fork server.
    #[error("cannot start workers of {} through a fork server: {reason}", program.display())]
    ForkServer {
        /// The program.
        program: PathBuf,
        /// What went wrong.
        reason: String,
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
    /// Starts the worker processes, spawned or forked by the pool's fork
    /// server, which it starts with the first worker and stops with the
    /// pool (its socket closed, the process reaped).
    launcher: Launcher,
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
            launcher: Launcher::new(command, P::NAME),
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

    /// The process id of the pool's fork server, while one runs.
    pub fn fork_server_pid(&self) -> Option<u32> {
        self.launcher.fork_server_pid()
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
            .field("command", self.launcher.command())
            .field("size", &self.size)
            .field("workers", &self.worker_pids())
            .field("pending", &self.pending.len())
            .finish()
    }
}
