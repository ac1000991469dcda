//! The thread pool model: many flags at once, each downloaded by a thread
//! running the sequential model's own [`download_one`].
//!
//! - **The model in one sentence:** an executor owns a queue and up to `-m`
//!   worker threads; the main thread submits one task per code and counts
//!   the results as they come back, as the book's `flags2_threadpool.py`.
//! - **How work is split and joined:** [`std_pool`] submits every code to a
//!   [`ThreadPoolExecutor`] and reads the futures [`as_completed`];
//!   [`rayon_pool`] spawns one rayon job per code and [`thread_per_code`]
//!   one plain thread per code, each sending its outcome down a channel.
//! - **What caps concurrency:** the number of threads, `-m`, each doing one
//!   blocking request at a time.
//! - **How errors come back:** a failed flag is a [`FlagOutcome`]; a task
//!   that panics (it should not) is counted as an error with its message.
//! - **Compare with:** `flags-seq` (the same [`download_one`] in a `for`
//!   loop), `flags-async` (one thread, many tasks) and `flags-process`.
//!
//! **Which thread does the I/O:** each download thread, its own: the shared
//! [`HttpClient`] (ureq) connects, sends and receives on the thread that
//! calls it, so `-m 8` has 8 download threads and the main thread, no
//! other. `--client reqwest` ([`ReqwestClient`]) runs the same executors
//! on `reqwest::blocking`, whose hidden runtime thread does every thread's
//! I/O: kept to measure that.

pub mod client;
pub mod executor;
pub mod model;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, mpsc};
use std::thread;

use flags_core::{DownloadJob, FlagOutcome, Progress, SetupError, StatusCounter, interrupt};
use flags_seq::BlockingClient;

pub use client::ReqwestClient;
pub use executor::{PoolFuture, Shutdown, TaskError, ThreadPoolExecutor, as_completed};
/// The sequential model's `download_one` and client, reused as is: the
/// book's `from flags2_sequential import download_one`.
pub use flags_seq::{HttpClient, download_one};
pub use model::{ClientKind, ExecutorKind, THREADPOOL, ThreadpoolModel, ThreadpoolOptions};

/// `-m` when none is given: 30 threads, as the book's `DEFAULT_CONCUR_REQ`.
pub fn default_max_req() -> usize {
    30
}
/// The most threads this model starts, as the book's `MAX_CONCUR_REQ`.
pub const MAX_MAX_REQ: usize = 1000;

/// The stack of each download thread, in every executor: 256 KiB instead
/// of Rust's 2 MiB, so that more threads fit under `ulimit -v`. The
/// contract checks, https included, run on it in debug builds.
pub const WORKER_STACK_SIZE: usize = 256 * 1024;

/// What one download thread takes from the process limits.
pub const WORKER_COST: flags_core::limits::WorkerCost =
    flags_core::limits::WorkerCost::thread(WORKER_STACK_SIZE);

/// Download every flag of `job` with a [`ThreadPoolExecutor`] of
/// `job.max_req` workers on ureq: the binary's default, [`std_pool`].
pub fn download_many(job: &DownloadJob) -> Result<StatusCounter, SetupError> {
    std_pool(job, HttpClient::new(job)?)
}

/// The std pool on any blocking client, the book's `flags2_threadpool.py`:
/// every code submitted to a [`ThreadPoolExecutor`], the outcomes counted
/// as they complete. After Ctrl-C, no new download starts: queued tasks
/// are cancelled, running ones finish and are counted.
pub fn std_pool<C>(job: &DownloadJob, client: C) -> Result<StatusCounter, SetupError>
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
        let future = executor.submit(move || run_task(&client, &code, &job));
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
        report_refused_threads(executor.worker_count(), executor.max_workers(), &error);
    }
    Ok(counter)
}

/// The std pool's work with a rayon pool of exactly `job.max_req` threads
/// (never rayon's default of one per CPU). Rayon's scope lets each job
/// borrow the client and the job, where the std executor needs owned
/// copies.
pub fn rayon_pool<C>(job: &DownloadJob, client: &C) -> Result<StatusCounter, SetupError>
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
                        // Send: the receiver lives until the scope ends, so
                        // this cannot fail; there is nothing to do if it did.
                        let _ = sender.send(run_task(client, country_code, job));
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

/// No pool: one new thread per code, at most `job.max_req` alive at once.
///
/// The chapter's epigraph, Michele Simionato: "the simple pattern of spawning a bunch of independent threads and collecting the results in a queue ...".
///
/// A thread the system refuses is reported as the std pool reports it, and
/// its code waits for a thread to end, as the std pool queues a task for
/// the workers it has; with no thread alive, the calling thread runs it.
pub fn thread_per_code<C>(job: &DownloadJob, client: &C) -> Result<StatusCounter, SetupError>
where
    C: BlockingClient,
{
    let progress = Progress::new(job.country_codes.len(), job.verbose);
    let mut counter = StatusCounter::default();
    let (mut codes, mut alive, mut most_alive, mut refused) =
        (job.country_codes.iter().peekable(), 0, 0, None);
    // The queue of the epigraph: each thread sends its outcome (`None` when
    // skipped after Ctrl-C); the calling thread reads them as they come.
    let (sender, receiver) = mpsc::channel();
    // Scoped threads may borrow the client and the job: `scope` joins every
    // one of them before it returns.
    thread::scope(|scope| {
        loop {
            // Start threads until `job.max_req` are alive; none after Ctrl-C.
            while alive < job.max_req.max(1)
                && !interrupt::requested()
                && let Some(&country_code) = codes.peek()
            {
                let to_caller = sender.clone();
                // Spawn: a new thread with the pools' small stack, for this
                // one code; it sends its outcome and ends. Nothing reuses it.
                let spawned = thread::Builder::new()
                    .stack_size(WORKER_STACK_SIZE)
                    .spawn_scoped(scope, move || {
                        // Send: the receiver outlives every thread of the scope.
                        let _ = to_caller.send(run_task(client, country_code, job));
                    });
                match spawned {
                    Ok(_) => most_alive = most_alive.max(alive + 1),
                    Err(error) => {
                        refused = Some(error.to_string());
                        if alive > 0 {
                            break; // the code waits until a thread ends
                        }
                        // No thread to wait for: the calling thread runs it.
                        let _ = sender.send(run_task(client, country_code, job));
                    }
                }
                codes.next();
                alive += 1;
            }
            if alive == 0 {
                break;
            }
            // Recv: sleep until the next thread sends its outcome, whichever.
            let Ok(outcome) = receiver.recv() else { break };
            alive -= 1;
            if let Some(outcome) = outcome {
                progress.record(&outcome);
                counter.record(&outcome);
            }
        }
    });
    progress.finish();
    if let Some(error) = refused {
        report_refused_threads(most_alive, job.max_req.max(1), &error);
    }
    Ok(counter)
}

/// One task of any executor: [`download_one`], unless Ctrl-C came before
/// it started (then `None`: skipped, not counted). A panic, which would end
/// the whole run from a rayon job or a scoped thread, becomes the code's
/// error outcome, as the std pool's futures make it.
fn run_task<C>(client: &C, country_code: &str, job: &DownloadJob) -> Option<FlagOutcome>
where
    C: BlockingClient + ?Sized,
{
    if interrupt::requested() {
        return None;
    }
    let result = catch_unwind(AssertUnwindSafe(|| download_one(client, country_code, job)));
    Some(result.unwrap_or_else(|payload| {
        let error = TaskError::Panicked(executor::panic_message(payload));
        FlagOutcome::error(country_code, error.to_string())
    }))
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

/// Say, on stderr, that the system refused a thread: no error of any code
/// (each still ran), but the run had less concurrency than its banner said.
fn report_refused_threads(started: usize, wanted: usize, error: &str) {
    flags_core::eprint_line(&format!(
        "flags-threadpool: started only {started} of {wanted} worker threads ({error}); \
         the codes waited for those"
    ));
}
