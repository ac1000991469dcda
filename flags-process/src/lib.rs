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
//! deaths, replace, reap); [`protocol`] is the line protocol of the flag
//! workers. A program that uses this model must call
//! [`worker_main_if_requested`] first thing in `main`: the workers are that
//! same program, re-run in worker mode.

pub mod pool;
pub mod protocol;

use std::io::{self, BufRead, Write};

use flags_core::fetch::FetchError;
use flags_core::save::{self, TemporaryFlag, flag_file_name};
use flags_core::{DownloadJob, Progress, SetupError, StatusCounter, interrupt};
use flags_seq::HttpClient;

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
use protocol::{Answer, DownloadProtocol, ProtocolError, Reply, Request, parse_request};

/// `-m` when none is given: one worker per CPU, as Python's
/// `ProcessPoolExecutor()` (at most [`MAX_MAX_REQ`]).
///
/// The number of CPUs is known only when the program runs, which is why
/// every model crate's default is a function (see
/// `flags_seq::default_max_req`). Asked again at each call: a run calls it
/// once.
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

/// The environment variable of the fault-injection hook for tests, like
/// the server's scripted faults: `garble:CC` makes a worker answer a
/// malformed line for code `CC`; `exit:CC` makes it exit with status 3
/// while holding `CC`; `exit-after-write:CC` makes it exit with status 3
/// once it has written `CC`'s temporary file, before answering, leaving
/// the file as a worker killed there would. Set it on workers with
/// [`WorkerCommand::env`].
///
/// Only with the `test-faults` feature, which only this crate's tests
/// turn on (its dev-dependency on itself): `cargo build` and `cargo
/// install` make a binary without the hook, whose workers always behave.
#[cfg(feature = "test-faults")]
pub const FAULT_ENV: &str = "FLAGS_PROCESS_WORKER_FAULT";

/// The exit status of a worker that exits on purpose
/// ([`WorkerFault::Exit`], [`WorkerFault::ExitAfterWrite`]).
pub const FAULT_EXIT_STATUS: i32 = 3;

/// The model's own option: how the pool starts its workers.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProcessOptions {
    /// how worker processes are started: forkserver forks each one from a
    /// clean copy of this program started once (Linux); spawn runs this
    /// program again for each
    #[arg(long, value_enum, default_value_t = StartMethod::default_for_this_system())]
    pub start_method: StartMethod,
}

/// Download every flag of `job` with a pool of worker processes running
/// this very program, and count the outcomes.
///
/// The program must call [`worker_main_if_requested`] first thing in
/// `main`. Returns `Err` only when the pool cannot start; a flag that fails,
/// or a worker that dies or hangs past its code's deadline, is counted as an
/// error and the run goes on. Stops handing out codes after Ctrl-C, and
/// returns what finished within [`pool::INTERRUPT_GRACE`].
pub fn download_many(job: &DownloadJob) -> Result<StatusCounter, SetupError> {
    let command = WorkerCommand::current_exe().map_err(start_error)?;
    download_many_on_workers(job, &command)
}

/// [`download_many`] with every worker spawned, one program start each
/// (`flags-process --start-method spawn`), rather than forked by the fork
/// server: kept to measure what the fork server saves.
pub fn download_many_spawn(job: &DownloadJob) -> Result<StatusCounter, SetupError> {
    let options = ProcessOptions {
        start_method: StartMethod::Spawn,
    };
    download_many_with_options(job, &options)
}

/// The process-pool model, as the binary, the tests and the benches run
/// it.
pub static PROCESS: ProcessModel = ProcessModel;

/// The [`Model`](flags_core::Model) of this crate: a pool of worker
/// processes running this very program.
#[derive(Debug)]
pub struct ProcessModel;

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

    fn download_many(
        &self,
        job: &DownloadJob,
        options: &ProcessOptions,
    ) -> Result<StatusCounter, SetupError> {
        download_many_with_options(job, options)
    }

    fn serve_if_worker(&self) {
        worker_main_if_requested();
    }
}

/// [`download_many`] with the model's own options: `flags-process
/// --start-method spawn|forkserver`.
pub fn download_many_with_options(
    job: &DownloadJob,
    options: &ProcessOptions,
) -> Result<StatusCounter, SetupError> {
    let command = WorkerCommand::current_exe()
        .map_err(start_error)?
        .start_method(options.start_method);
    download_many_on_workers(job, &command)
}

/// [`download_many`] on workers started by another `command`: tests pass
/// `env!("CARGO_BIN_EXE_flags-process")`, since the test harness cannot
/// be re-run as a worker.
pub fn download_many_on_workers(
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
    pool::serve_if_requested(protocol::PROTOCOL_NAME, worker_main);
}

/// The worker process's `main`: serve stdin and stdout, return the exit
/// status.
fn worker_main() -> i32 {
    // Ctrl-C reaches the whole process group, workers included, and so
    // does the SIGHUP of a terminal hanging up. A worker must not die of
    // either: the parent coordinates the stop. The handler sets the same
    // flag `download_one` checks before each retry, so the worker finishes
    // its current code without retrying, answers, and exits when the
    // parent closes its stdin. (If it takes longer than the parent's grace,
    // the parent kills it: the stop is the parent's.)
    if let Err(error) = interrupt::install() {
        flags_core::eprint_line(&format!(
            "flags-process worker: cannot handle Ctrl-C: {error}"
        ));
    }
    // The test hook, in test builds only (the `test-faults` feature): a
    // shipped worker reads no such variable and always behaves.
    #[cfg(feature = "test-faults")]
    let fault = WorkerFault::from_env();
    #[cfg(not(feature = "test-faults"))]
    let fault = WorkerFault::None;
    let stdin = io::stdin().lock();
    let stdout = io::stdout().lock();
    match serve(stdin, stdout, &fault) {
        Ok(()) => 0,
        Err(WorkerError::InjectedExit(_)) => FAULT_EXIT_STATUS,
        // The answer met a closed pipe: the parent is gone (or has given
        // up on this worker), so nobody is left to read a message, and one
        // line per worker on a shared terminal would only be noise
        // ("Broken pipe"). Exit quietly. (A closed stdin is the end of the
        // input, which `serve` takes as the polite way to stop.)
        Err(WorkerError::Io(error)) if error.kind() == io::ErrorKind::BrokenPipe => 1,
        Err(error) => {
            flags_core::eprint_line(&format!("flags-process worker: {error}"));
            1
        }
    }
}

/// Why a worker stopped serving before the end of its input.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Reading stdin or writing stdout failed (the parent is gone).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The parent sent a line this worker cannot read.
    #[error("bad request from the parent: {0}")]
    Protocol(#[from] ProtocolError),
    /// A `GET` came before the `JOB` line.
    #[error("GET before JOB")]
    NoJob,
    /// The injected fault ([`WorkerFault::Exit`] or
    /// [`WorkerFault::ExitAfterWrite`]) asked to exit on this code.
    #[error("exiting on {0} as the injected fault asks")]
    InjectedExit(String),
}

/// A misbehaviour a worker injects on purpose, for tests: [`serve`] takes
/// one, and the worker process reads it from `FAULT_ENV` in builds with the
/// `test-faults` feature (the tests' builds; a shipped worker behaves).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum WorkerFault {
    /// Behave.
    #[default]
    None,
    /// Answer a malformed line for this code.
    Garble(String),
    /// Exit with [`FAULT_EXIT_STATUS`] when given this code.
    Exit(String),
    /// Download this code and write its temporary file, then exit with
    /// [`FAULT_EXIT_STATUS`] without answering, and without removing the
    /// file: what a worker killed between writing and answering leaves.
    ExitAfterWrite(String),
}

impl WorkerFault {
    /// The fault [`FAULT_ENV`] asks for (none when unset or unknown).
    #[cfg(feature = "test-faults")]
    pub fn from_env() -> Self {
        let value = std::env::var(FAULT_ENV).unwrap_or_default();
        match value.split_once(':') {
            Some(("garble", code)) => WorkerFault::Garble(code.to_string()),
            Some(("exit", code)) => WorkerFault::Exit(code.to_string()),
            Some(("exit-after-write", code)) => WorkerFault::ExitAfterWrite(code.to_string()),
            _ => WorkerFault::None,
        }
    }
}

/// The worker loop, over any input and output (the worker process runs it
/// over its stdin and stdout): greet, read the `JOB` line, then answer each
/// `GET` with one `DONE` line, until the input ends.
///
/// For each code the worker downloads the flag ([`fetch_one`]) and writes
/// it in full to a temporary file of `--dest`
/// ([`save::write_temporary`]), and answers `DONE {CC} OK {bytes}
/// {temporary file}`: the file is the parent's from then on, to rename to
/// `{CC}.gif` (or to remove). The worker renames nothing. If it cannot
/// answer, it removes the file itself before it returns the error.
///
/// The input ends when the parent closes the pipe: after the run, or
/// because the parent died. Either way the worker returns, so no worker
/// outlives its parent for longer than its current download.
pub fn serve(
    mut input: impl BufRead,
    mut output: impl Write,
    fault: &WorkerFault,
) -> Result<(), WorkerError> {
    // Greet first, before any slow setup: the parent counts a worker as
    // started when this line arrives.
    write_line(&mut output, &Reply::hello().to_line())?;
    let mut session: Option<(Result<HttpClient, SetupError>, DownloadJob)> = None;
    let mut line = String::new();
    loop {
        line.clear();
        // Blocking read of the next request. 0 bytes: end of input, the
        // parent has closed our stdin. Time to exit.
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let text = line.strip_suffix('\n').unwrap_or(&line);
        match parse_request(text)? {
            Request::Job(settings) => {
                let job = settings.to_job();
                // This worker's own client: one connection pool per
                // process, kept alive from one code to the next. It does
                // its I/O on this, the worker's only thread.
                session = Some((HttpClient::new(&job), job));
            }
            Request::Get(country_code) => {
                let (client, job) = session.as_ref().ok_or(WorkerError::NoJob)?;
                if fault == &WorkerFault::Exit(country_code.clone()) {
                    return Err(WorkerError::InjectedExit(country_code));
                }
                let answer = match client {
                    Ok(client) => download_and_write(client, &country_code, job),
                    Err(error) => Err(Answer::Error {
                        message: error.to_string(),
                    }),
                };
                // The answer, and the temporary file it names: from here
                // on, the parent's to rename. Kept (no longer removed when
                // dropped) before the answer goes, so that the parent never
                // looks for a file this worker might still remove.
                let (answer, handed_over) = match answer {
                    Ok(flag) => match hand_over(flag) {
                        Ok((answer, path)) => (answer, Some(path)),
                        Err(answer) => (answer, None),
                    },
                    Err(answer) => (answer, None),
                };
                if fault == &WorkerFault::ExitAfterWrite(country_code.clone()) {
                    // As if killed here: the file written, no answer sent.
                    return Err(WorkerError::InjectedExit(country_code));
                }
                let reply = if fault == &WorkerFault::Garble(country_code.clone()) {
                    let bytes = match answer {
                        Answer::Written { bytes, .. } => bytes,
                        Answer::NotFound | Answer::Error { .. } => 0,
                    };
                    format!("DONE {country_code} MAYBE {bytes}")
                } else {
                    Reply::Done {
                        country_code,
                        answer,
                    }
                    .to_line()
                };
                // Send the answer: one line, flushed at once, since the
                // parent is waiting for it.
                if let Err(error) = write_line(&mut output, &reply) {
                    // No parent to commit the file: remove it, so that no
                    // file is left that nobody counted.
                    if let Some(path) = handed_over {
                        let _ = std::fs::remove_file(path);
                    }
                    return Err(error.into());
                }
            }
        }
    }
}

/// Download one flag and write it in full to a temporary file of `--dest`,
/// not renamed; or the answer that says why not (a 404, an error). Every
/// error is worded as [`download_one`] words it, so that the report is the
/// same whoever renames.
fn download_and_write(
    client: &HttpClient,
    country_code: &str,
    job: &DownloadJob,
) -> Result<TemporaryFlag, Answer> {
    match fetch_one(client, country_code, job) {
        Ok(image) => save::write_temporary(&job.dest_dir, &flag_file_name(country_code), &image)
            .map_err(|error| Answer::Error {
                message: format!("cannot save: {error}"),
            }),
        Err(FetchError::NotFound) => Err(Answer::NotFound),
        Err(error) => Err(Answer::Error {
            message: error.to_string(),
        }),
    }
}

/// Stop removing `flag`'s temporary file on drop, for the parent to commit:
/// the answer that names it, and its path. If it cannot be kept (never on
/// Unix, where keeping only forgets it), it is removed, and the answer is
/// that code's error.
fn hand_over(flag: TemporaryFlag) -> Result<(Answer, std::path::PathBuf), Answer> {
    let (bytes, temp_name) = (flag.bytes(), flag.file_name().to_string());
    match flag.keep() {
        Ok(path) => Ok((Answer::Written { bytes, temp_name }, path)),
        Err(error) => Err(Answer::Error {
            message: format!("cannot save: {error}"),
        }),
    }
}

/// Write one line and flush it (the workers' answers, and the fork
/// server's).
pub(crate) fn write_line(output: &mut impl Write, line: &str) -> io::Result<()> {
    output.write_all(line.as_bytes())?;
    output.write_all(b"\n")?;
    output.flush()
}

/// A pool that cannot start (or has no worker left) stops the run.
fn start_error(error: PoolError) -> SetupError {
    SetupError::Start {
        what: "worker processes",
        reason: error.to_string(),
    }
}
