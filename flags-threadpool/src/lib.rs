//! The thread pool model: many flags at once, each downloaded by a worker
//! thread running the sequential model's own [`download_one`].
//!
//! - **The model in one sentence:** an executor owns a queue and up to `-m`
//!   worker threads; the main thread submits one task per code and counts
//!   the results as they come back, as the book's `flags2_threadpool.py`.
//! - **How work is split and joined:** [`download_many`] submits every
//!   code to a [`ThreadPoolExecutor`] and gets a [`PoolFuture`] for each; it
//!   then iterates [`as_completed`], which yields each future as soon as it
//!   is done, in finishing order, and reads its result.
//!   [`download_many_rayon`] does the same with a rayon pool: one spawned
//!   job per code, each sending its outcome down a channel to the caller.
//! - **What caps concurrency:** the number of worker threads, `-m` (at most
//!   [`MAX_MAX_REQ`]). Each worker does one blocking request at a time, so
//!   the server never sees more than `-m` requests at once.
//! - **How errors come back:** a failed flag is a [`FlagOutcome`] like any
//!   other, the value of its future. A task that panics (it should not)
//!   comes back as [`TaskError::Panicked`] and is counted as an error with
//!   the panic's message; the worker survives and the run goes on.
//! - **Compare with:** `flags-seq` (the same [`download_one`] in a `for`
//!   loop: this crate changes only who calls it), `flags-async` (one thread,
//!   many tasks, a semaphore instead of a fixed number of threads) and
//!   `flags-process` (workers that are processes, not threads).
//!
//! **Which thread does the I/O:** each pool thread, its own. One
//! [`HttpClient`] (a `ureq::Agent`) is shared by every worker: it is `Clone`
//! (an `Arc` inside) and `Sync`, and its connection pool keeps up to `-m`
//! connections open for reuse; but each call runs `connect`, `send` and
//! `recv` on the worker thread that makes it, which then sleeps in the
//! kernel until the server answers. A run with `-m 8` has 8 pool threads
//! and the main thread, no other. `--client reqwest` runs the same pool on
//! `reqwest::blocking` instead ([`reqwest_client`]), whose hidden runtime
//! thread does every pool thread's I/O: kept only to measure that.
//!
//! The [`executor`] module is the point of this crate: it rebuilds Python's
//! `concurrent.futures.ThreadPoolExecutor` with std threads only, so that
//! workers, the work queue and futures can be read in a few hundred lines.

pub mod executor;
pub mod reqwest_client;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, mpsc};

use flags_core::{DownloadJob, FlagOutcome, Progress, SetupError, StatusCounter, interrupt};
use flags_seq::BlockingClient;

pub use executor::{PoolFuture, Shutdown, TaskError, ThreadPoolExecutor, as_completed};
/// The sequential model's `download_one` and client, reused as is: the
/// book's `from flags2_sequential import download_one`.
pub use flags_seq::{HttpClient, download_one};
pub use reqwest_client::ReqwestClient;

/// `-m` when none is given: 30 worker threads, as the book's
/// `DEFAULT_CONCUR_REQ`. (A function in every model crate: see
/// `flags_seq::default_max_req`.)
pub fn default_max_req() -> usize {
    30
}
/// The most worker threads this model starts, as the book's
/// `MAX_CONCUR_REQ`.
pub const MAX_MAX_REQ: usize = 1000;

// --- Tuning: the worker threads' stacks (see "Tuning and measurements" in
// the crate's README) ---

/// The stack of each download thread, in both pools: 256 KiB instead of
/// Rust's 2 MiB, so that more threads fit under `ulimit -v`. Every
/// download of the contract checks, https included, runs on it in debug
/// builds.
pub const WORKER_STACK_SIZE: usize = 256 * 1024;

// --- End of tuning ---

/// What one worker thread takes from the process limits, for
/// [`flags_core::run`].
pub const WORKER_COST: flags_core::limits::WorkerCost =
    flags_core::limits::WorkerCost::thread(WORKER_STACK_SIZE);

/// The model's own options: which pool runs the downloads, on which client.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ThreadpoolOptions {
    /// which thread pool runs the downloads
    #[arg(long, value_enum, default_value_t = ExecutorKind::Std)]
    pub executor: ExecutorKind,
    /// which blocking HTTP client the pool threads call
    #[arg(long, value_enum, default_value_t = ClientKind::Ureq)]
    pub client: ClientKind,
}

/// The two clients of `--client`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientKind {
    /// ureq: each pool thread does its own socket I/O.
    #[default]
    Ureq,
    /// reqwest::blocking: one hidden runtime thread does every thread's I/O.
    Reqwest,
}

/// The two pools of `--executor`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecutorKind {
    /// This crate's `ThreadPoolExecutor`, std threads only.
    #[default]
    Std,
    /// A rayon thread pool.
    Rayon,
}

/// Download every flag of `job` with a [`ThreadPoolExecutor`] of
/// `job.max_req` workers, and count the outcomes as they complete.
///
/// Returns `Err` only when the run cannot start (the HTTP client cannot be
/// built); a flag that fails is counted as an error. After Ctrl-C, no new
/// download starts: queued tasks are cancelled, running ones finish and
/// are counted.
pub fn download_many(job: &DownloadJob) -> Result<StatusCounter, SetupError> {
    download_many_on(job, HttpClient::new(job)?)
}

/// [`download_many`] on reqwest's blocking client: the comparison row
/// (`--client reqwest`).
pub fn download_many_reqwest(job: &DownloadJob) -> Result<StatusCounter, SetupError> {
    download_many_on(job, ReqwestClient::new(job)?)
}

/// [`download_many`] on any blocking client: the std pool, the book's
/// `flags2_threadpool.py`.
pub fn download_many_on<C>(job: &DownloadJob, client: C) -> Result<StatusCounter, SetupError>
where
    C: BlockingClient + Clone + Send + 'static,
{
    let progress = Progress::new(job.country_codes.len(), job.verbose);
    let mut counter = StatusCounter::default();
    // Tasks must own what they use (`'static`), as the workers outlive this
    // stack frame as far as the compiler knows: one copy of the job,
    // shared.
    let shared_job = Arc::new(job.clone());
    // The pool: up to `job.max_req` worker threads, started as tasks
    // arrive, fed from one queue. Dropping it at the end of this function
    // waits for every task and joins every worker: the book's
    // `with ThreadPoolExecutor(...) as executor:` block.
    let executor = ThreadPoolExecutor::new(job.max_req).with_stack_size(WORKER_STACK_SIZE);
    // The book's `to_do_map`: each future and its code, to name the code of
    // a task that panicked.
    #[allow(
        clippy::mutable_key_type,
        reason = "a future hashes by identity, which its changing state never alters"
    )]
    let mut to_do_map = HashMap::with_capacity(job.country_codes.len());
    for country_code in &job.country_codes {
        let (client, job, code) = (
            client.clone(),
            Arc::clone(&shared_job),
            country_code.clone(),
        );
        // Submit: the task is queued (or handed to a new worker) and its
        // future comes back at once; nothing waits here.
        let future = executor.submit(move || download_unless_interrupted(&client, &code, &job));
        to_do_map.insert(future, country_code.clone());
    }
    // Join, in finishing order: `as_completed` sleeps until the next future
    // is done, whichever it is.
    for future in as_completed(to_do_map.keys().cloned()) {
        // Ctrl-C: cancel every task still queued; those running finish and
        // are counted. The tasks check the flag too, for one that a worker
        // takes before this line runs.
        if interrupt::requested() {
            executor.shutdown(Shutdown {
                wait: false,
                cancel_futures: true,
            });
        }
        // The future is done, so `result()` returns at once. (Indexing
        // cannot fail: every future `as_completed` yields is a key of the
        // map.)
        let Some(outcome) = task_outcome(future.result(), &to_do_map[&future]) else {
            continue;
        };
        progress.record(&outcome);
        counter.record(&outcome);
    }
    progress.finish();
    // A thread the system refused is no error of any code (the others ran
    // its tasks), but the run had less concurrency than the banner said.
    if let Some(error) = executor.start_error() {
        flags_core::eprint_line(&format!(
            "flags-threadpool: started only {} of {} worker threads ({error}); \
             the codes waited for those",
            executor.worker_count(),
            executor.max_workers(),
        ));
    }
    Ok(counter)
}

/// The thread-pool model, as the binary, the tests and the benches run it.
pub static THREADPOOL: ThreadpoolModel = ThreadpoolModel;

/// The [`Model`](flags_core::Model) of this crate: a pool of threads,
/// `--executor` and `--client` chosen by [`ThreadpoolOptions`].
#[derive(Debug)]
pub struct ThreadpoolModel;

impl flags_core::Model for ThreadpoolModel {
    type Options = ThreadpoolOptions;

    fn name(&self) -> &'static str {
        "threadpool"
    }

    fn about(&self) -> &'static str {
        "Download flags with a pool of threads, each doing its own blocking I/O."
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
        options: &ThreadpoolOptions,
    ) -> Result<StatusCounter, SetupError> {
        download_many_with_options(job, options)
    }
}

/// Run `job` with the pool and the client `options` choose: what the binary
/// calls.
pub fn download_many_with_options(
    job: &DownloadJob,
    options: &ThreadpoolOptions,
) -> Result<StatusCounter, SetupError> {
    match (options.executor, options.client) {
        (ExecutorKind::Std, ClientKind::Ureq) => download_many(job),
        (ExecutorKind::Std, ClientKind::Reqwest) => download_many_reqwest(job),
        (ExecutorKind::Rayon, ClientKind::Ureq) => download_many_rayon(job),
        (ExecutorKind::Rayon, ClientKind::Reqwest) => {
            download_many_rayon_on(job, &ReqwestClient::new(job)?)
        }
    }
}

/// [`download_many`] with a rayon thread pool of exactly `job.max_req`
/// threads (never rayon's default of one per CPU), running the same
/// [`download_one`].
///
/// Same results, same Ctrl-C behaviour: only the pool differs. Rayon's
/// scope lets each job borrow the client and the job from this stack
/// frame, where the std executor needs owned copies.
pub fn download_many_rayon(job: &DownloadJob) -> Result<StatusCounter, SetupError> {
    download_many_rayon_on(job, &HttpClient::new(job)?)
}

/// [`download_many_rayon`] on any blocking client, borrowed by every job.
pub fn download_many_rayon_on<C>(job: &DownloadJob, client: &C) -> Result<StatusCounter, SetupError>
where
    C: BlockingClient,
{
    let progress = Progress::new(job.country_codes.len(), job.verbose);
    let mut counter = StatusCounter::default();
    // The pool: `job.max_req` rayon worker threads, all started here.
    // Each runs one blocking download at a time, so the thread count is
    // the cap on requests in flight. `build_scoped` starts them as scoped
    // threads, runs the closure, drops the pool and joins every thread
    // before it returns: as with the std executor, none outlives this call.
    rayon::ThreadPoolBuilder::new()
        // Never 0: rayon would take that as "one thread per CPU".
        .num_threads(job.max_req.max(1))
        .thread_name(|index| format!("rayon-worker-{index}"))
        .stack_size(WORKER_STACK_SIZE)
        // Each thread just runs rayon's worker loop.
        .build_scoped(rayon::ThreadBuilder::run, |pool| {
            // The way back: each job sends its outcome (`None` when skipped
            // after Ctrl-C); the caller receives them in finishing order.
            // The channel ends when the last job drops its sender.
            let (sender, receiver) = mpsc::channel();
            // `in_place_scope` runs this closure on the calling thread, not
            // on a pool thread, so all `job.max_req` pool threads download
            // while this thread counts; it returns once every spawned job
            // has finished.
            pool.in_place_scope(|scope| {
                for country_code in &job.country_codes {
                    let sender = sender.clone();
                    // Spawn: queue one job on the pool; a free worker takes it.
                    scope.spawn(move |_| {
                        // A panic would otherwise come out of the scope and
                        // end the whole run; here it becomes this code's
                        // error outcome.
                        let result = catch_unwind(AssertUnwindSafe(|| {
                            download_unless_interrupted(client, country_code, job)
                        }))
                        .map_err(|payload| TaskError::Panicked(executor::panic_message(payload)));
                        // Send: the receiver lives until the scope ends, so
                        // this cannot fail; there is nothing to do if it did.
                        let _ = sender.send(task_outcome(result, country_code));
                    });
                }
                // Drop our own sender, so that the channel ends with the last job.
                drop(sender);
                // Join, in finishing order: each `recv` waits for the next outcome.
                for outcome in receiver.iter().flatten() {
                    progress.record(&outcome);
                    counter.record(&outcome);
                }
            });
        })
        .map_err(|error| SetupError::Start {
            what: "rayon thread pool",
            reason: error.to_string(),
        })?;
    progress.finish();
    Ok(counter)
}

/// One task of either pool: [`download_one`], unless Ctrl-C came before
/// the task started (then `None`: skipped, not counted).
fn download_unless_interrupted<C>(
    client: &C,
    country_code: &str,
    job: &DownloadJob,
) -> Option<FlagOutcome>
where
    C: BlockingClient + ?Sized,
{
    if interrupt::requested() {
        return None;
    }
    Some(download_one(client, country_code, job))
}

/// What a finished task means for the count: its outcome; an error outcome
/// naming the panic for a task that panicked; `None` for one that never
/// ran (cancelled, or skipped after Ctrl-C).
fn task_outcome(
    result: Result<Option<FlagOutcome>, TaskError>,
    country_code: &str,
) -> Option<FlagOutcome> {
    match result {
        Ok(outcome) => outcome,
        Err(TaskError::Cancelled) => None,
        Err(error @ (TaskError::Panicked(_) | TaskError::NoWorker(_))) => {
            Some(FlagOutcome::error(country_code, error.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task that panics in the std executor is counted as an error that
    /// names the code and the panic, and the pool goes on.
    #[test]
    fn panicking_std_task_is_an_error_outcome() {
        let executor = ThreadPoolExecutor::new(1);
        let panicking = executor.submit(|| -> Option<FlagOutcome> { panic!("no flag today") });
        let outcome = task_outcome(panicking.result(), "BR");
        let expected = FlagOutcome::error("BR", "the task panicked: no flag today");
        assert_eq!(outcome, Some(expected));
        let after = executor.submit(|| Some(FlagOutcome::ok("CN", 1)));
        assert_eq!(
            task_outcome(after.result(), "CN"),
            Some(FlagOutcome::ok("CN", 1))
        );
    }

    /// The same panic caught as the rayon variant catches it gives the same
    /// outcome.
    #[test]
    fn panicking_rayon_task_is_the_same_error_outcome() {
        let result = catch_unwind(|| -> Option<FlagOutcome> { panic!("no flag today") })
            .map_err(|payload| TaskError::Panicked(executor::panic_message(payload)));
        let expected = FlagOutcome::error("BR", "the task panicked: no flag today");
        assert_eq!(task_outcome(result, "BR"), Some(expected));
    }

    /// A cancelled or skipped task is not counted.
    #[test]
    fn cancelled_or_skipped_task_is_not_counted() {
        assert_eq!(task_outcome(Err(TaskError::Cancelled), "BR"), None);
        assert_eq!(task_outcome(Ok(None), "BR"), None);
    }
}
