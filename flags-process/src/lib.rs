//! The process model: a pool of worker child processes, each downloading
//! one flag at a time, fed over pipes: the book's `ProcessPoolExecutor`.
//!
//! - **The model in one sentence:** `-m N` copies of this program run as
//!   workers; the parent hands each free worker one country code down its
//!   stdin, and the worker downloads that flag with the sequential model's
//!   own [`fetch_one`] and writes it to a temporary file, then answers one
//!   line on its stdout naming that file; the parent renames it into place
//!   and counts it.
//! - **How work is split and joined:** every code is queued with
//!   [`ProcessPool::submit`]; the pool hands one code to each free worker
//!   and [`ProcessPool::next_outcome`] returns the outcomes in completion
//!   order, like `as_completed`. At the end the parent closes every
//!   worker's stdin and waits for each process to exit.
//! - **What caps concurrency:** the number of workers. A worker holds at
//!   most one code, so at most `-m` requests are in flight (default: the
//!   number of CPUs, as Python's pool; at most [`MAX_MAX_REQ`]).
//! - **How errors come back:** as data, in a line:
//!   `DONE XX ERROR 0 HTTP 418 I'm a teapot`. A worker that dies, or sends
//!   a line the [`protocol`] refuses, costs only the code it held (counted
//!   as an error that names the worker and its exit status); it is replaced
//!   and the run goes on. So does a worker that hangs alive (stopped,
//!   deadlocked): past its code's deadline, every attempt's `--timeout`
//!   plus the backoffs plus 2 s ([`protocol::JobSettings::task_deadline`]),
//!   the parent kills and reaps it, and counts
//!   `worker 3 (pid 1234) did not answer within 5.1 s; killed it`.
//! - **Ctrl-C (and SIGTERM, and SIGHUP):** no more codes are handed out;
//!   the workers holding one get [`pool::INTERRUPT_GRACE`] (0.5 s) to
//!   answer, then they are killed and reaped and their codes count as
//!   nothing: the report covers what finished, within a second whatever
//!   the workers do, and no worker outlives the parent.
//! - **Who commits:** the parent. A flag appears under its name only when
//!   the parent, reading its worker's answer, renames the worker's
//!   temporary file, and is counted then: so the count of OK is always the
//!   number of flags the run wrote, even when a worker is killed (at its
//!   deadline, after Ctrl-C's grace) between writing and answering: it
//!   leaves only its temporary file, which the parent removes once it has
//!   reaped it. (With the worker renaming, as [`download_one`] does, such a
//!   worker left a whole flag that the report did not count.)
//! - **Compare with:** `flags-seq` (the same download, [`fetch_one`], in a
//!   `for` loop: this crate changes where it runs, and who renames the
//!   file) and `flags-threadpool`
//!   (the same pool shape, with threads sharing one address space). Here
//!   each worker has its own memory, its own HTTP client and its own
//!   connection: nothing is shared, everything is copied through pipes.
//!   That isolation is what processes buy; in Python they also buy
//!   parallel CPU work past the GIL, which Rust threads already have (see
//!   `examples/primes.rs`).
//!
//! **Which thread does the I/O:** each worker's main thread, its only one:
//! the worker calls the sequential model's blocking client (ureq), which
//! does its socket I/O on the calling thread. The parent never touches a
//! network socket: it has its main thread and one thread per worker that
//! reads that worker's stdout pipe. Beside the workers runs the fork
//! server, one thread reading no network socket (a test reads `/proc` to
//! check all three; by hand, its one thread sleeps in `recvmsg` on
//! descriptor 0, the Unix socket the parent asks it for workers on).
//!
//! **How a worker starts** ([`StartMethod`], `--start-method`): on Linux, by
//! default, forked from the fork server, a single-threaded copy of this
//! program started once per pool, so that a worker costs a fork of a
//! process already loaded, not a whole program start (Python's
//! *forkserver*, its default on Linux since 3.14); or spawned, this program
//! run again for each worker (Python's *spawn*). The pool itself never
//! forks: it has threads, and a fork of a threaded process may hold a lock
//! for ever in the child. See [`pool::start`].
//!
//! Modules: [`pool`] is the generic process pool (start, hand out, notice
//! deaths, replace, reap), which knows of its workers' talk only lines and
//! a greeting; [`protocol`] is the line protocol of the flag workers, and
//! [`worker`] the flag worker itself. A program that uses this model must call
//! [`worker_main_if_requested`] first thing in `main`: the workers are that
//! same program, re-run in worker mode.

pub mod pool;
pub mod protocol;
pub mod worker;

use std::path::PathBuf;
use std::sync::OnceLock;

use flags_core::{DownloadJob, Progress, SetupError, StatusCounter};

/// The sequential model's `download_one`, which saves each flag itself (the
/// book's process pool runs the sequential script's function). The workers
/// run its first half, [`fetch_one`], reused as is, in the worker process
/// with the worker's own client; they write the flag to a temporary file
/// and leave the rename to the parent instead of its `save_flag`.
pub use flags_seq::download_one;
/// The download half of [`download_one`]: what a worker does for each
/// `GET` line before it writes the flag to a temporary file.
pub use flags_seq::fetch_one;
pub use pool::{PoolError, ProcessPool, StartMethod, WorkerCommand, WorkerProtocol};
use protocol::DownloadProtocol;
#[cfg(feature = "test-faults")]
pub use worker::{FAULT_ENV, WorkerFault};
pub use worker::{FAULT_EXIT_STATUS, WorkerError, serve};

/// `-m` when none is given: one worker per CPU, as Python's
/// `ProcessPoolExecutor()` (at most [`MAX_MAX_REQ`]). A function, as in
/// every model crate: the number of CPUs is known only at run time.
pub fn default_max_req() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(MAX_MAX_REQ)
}
/// The most workers this model starts: each is a whole process.
pub const MAX_MAX_REQ: usize = 256;

/// What one worker takes from this process's limits, for
/// [`flags_core::run`]: seen from the parent, two pipes and a reader
/// thread (the worker itself is a process with limits of its own).
pub const WORKER_COST: flags_core::limits::WorkerCost =
    flags_core::limits::WorkerCost::process(pool::READER_STACK_SIZE);

/// The process-pool model, as the binary, the tests and the benches run
/// it.
pub static PROCESS: ProcessModel = ProcessModel {
    worker_program: OnceLock::new(),
};

/// The [`Model`](flags_core::Model) of this crate: a pool of worker
/// processes running this very program (or the one
/// [`use_worker_program`](Self::use_worker_program) names).
#[derive(Debug)]
pub struct ProcessModel {
    worker_program: OnceLock<PathBuf>,
}

impl ProcessModel {
    /// Run `program` as the workers, rather than this program, in every
    /// later run of this process: for a program that cannot serve as its
    /// own worker, like a test harness (tests pass
    /// `env!("CARGO_BIN_EXE_flags-process")`). The first call wins.
    pub fn use_worker_program(&self, program: impl Into<PathBuf>) {
        let _ = self.worker_program.set(program.into());
    }
}

/// The model's own option: how the pool starts its workers.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProcessOptions {
    /// how worker processes are started: forkserver forks each one from a
    /// clean copy of this program started once (Linux); spawn runs this
    /// program again for each
    #[arg(long, value_enum, default_value_t = StartMethod::default_for_this_system())]
    pub start_method: StartMethod,
}

impl flags_core::Model for ProcessModel {
    type Options = ProcessOptions;

    fn name(&self) -> &'static str {
        "process"
    }

    fn about(&self) -> &'static str {
        "Download flags with a pool of worker processes fed over pipes."
    }

    fn default_max_req(&self) -> usize {
        default_max_req()
    }

    fn max_max_req(&self) -> usize {
        MAX_MAX_REQ
    }

    fn worker_cost(&self) -> flags_core::limits::WorkerCost {
        WORKER_COST
    }

    /// [`download_many`] on workers running this program (which must call
    /// [`worker_main_if_requested`] first thing in `main`), started as
    /// `--start-method` says.
    fn download_many(
        &self,
        job: &DownloadJob,
        options: &ProcessOptions,
    ) -> Result<StatusCounter, SetupError> {
        let command = match self.worker_program.get() {
            Some(program) => WorkerCommand::program(program),
            None => WorkerCommand::current_exe().map_err(start_error)?,
        };
        download_many(job, &command.start_method(options.start_method))
    }

    fn serve_if_worker(&self) {
        worker_main_if_requested();
    }
}

/// Download every flag of `job` with a pool of worker processes running
/// `command` (this very program, as [`PROCESS`] runs it), and count the
/// outcomes.
///
/// Returns `Err` only when the pool cannot start; a flag that fails, or a
/// worker that dies or hangs past its code's deadline, is counted as an
/// error and the run goes on. Stops handing out codes after Ctrl-C, and
/// returns what finished within [`pool::INTERRUPT_GRACE`].
pub fn download_many(
    job: &DownloadJob,
    command: &WorkerCommand,
) -> Result<StatusCounter, SetupError> {
    let mut counter = StatusCounter::default();
    let workers = job
        .max_req
        .clamp(1, MAX_MAX_REQ)
        .min(job.country_codes.len());
    if workers == 0 {
        return Ok(counter);
    }
    let progress = Progress::new(job.country_codes.len(), job.verbose);
    // The pool of up to `workers` processes. Each worker it starts gets
    // the job's settings (`--timeout`, `--retries`, `--dest`) in its first
    // line.
    let mut pool = ProcessPool::with_command(command.clone(), DownloadProtocol::new(job), workers)
        .map_err(start_error)?;
    // Queue every code, as the book's `executor.submit` in a loop. The
    // first `workers` codes each spawn a worker and go down its stdin at
    // once, so the first downloads start while later workers are still
    // being spawned; the other codes wait in the queue.
    for country_code in &job.country_codes {
        pool.submit(country_code.clone());
    }
    // Wait for outcomes in completion order, as `futures.as_completed`.
    // Each one frees a worker, which the pool hands the next code before
    // returning. A worker that holds its code past the deadline comes back
    // as an error outcome (killed, reaped, replaced). After Ctrl-C the pool
    // hands out no more codes and returns `None` once the codes in flight
    // are done, or after its grace, having killed the workers still busy.
    // Either way the loop ends: no worker can hold the parent for ever.
    while let Some(outcome) = pool.next_outcome().map_err(start_error)? {
        progress.record(&outcome);
        counter.record(&outcome);
    }
    progress.finish();
    // A worker the system would not start is no error of any code (the
    // others took its codes), but the run had less concurrency than the
    // banner said: say so.
    if let Some(reason) = pool.start_failure() {
        flags_core::eprint_line(&format!(
            "flags-process: the pool shrank to {} of {workers} workers: {reason}",
            pool.size()
        ));
    }
    // Join: close every worker's stdin so that it exits, and wait for
    // each process (no zombie left).
    pool.shutdown();
    Ok(counter)
}

/// A pool that cannot start (or has no worker left) stops the run.
fn start_error(error: PoolError) -> SetupError {
    SetupError::Start {
        what: "worker processes",
        reason: error.to_string(),
    }
}

/// Serve as a download worker and exit, when this process was started as
/// one; return at once otherwise.
///
/// Call it first thing in `main` of every program that runs this model
/// (the `flags-process` binary does): the pool's workers are the same
/// program, re-run with [`pool::WORKER_ENV`] set, as Python's *spawn* start
/// method re-runs the interpreter and imports the main module. Without the
/// call, a worker would run the command line instead; the pool notices (no
/// greeting) and fails with a clear error rather than starting workers
/// without end.
pub fn worker_main_if_requested() {
    // A worker serves and exits inside this call; so does the pool's fork
    // server, forking a worker that runs `worker_main` at each request.
    pool::serve_if_requested(protocol::PROTOCOL_NAME, worker::worker_main);
}
