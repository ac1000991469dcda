//! The async model: one task per flag on a tokio runtime, all sharing one
//! HTTP client, with a semaphore capping how many requests are in flight:
//! the book's `flags2_asyncio.py` and, with `--metadata`, `flags3_asyncio.py`.
//!
//! - **The model in one sentence:** every code becomes a task at once; each
//!   task waits for a semaphore permit, sends its request, hands the permit
//!   back, and saves the flag on tokio's pool of blocking threads.
//! - **How work is split and joined:** [`download_many`] spawns one task
//!   per code into a [`JoinSet`] and takes the results back in the order
//!   they finish (`join_next`, the book's `asyncio.as_completed`).
//! - **What caps concurrency:** a [`Semaphore`] of `job.max_req` permits,
//!   held only while a request is sent and its body read; not while saving,
//!   not while waiting to retry. A waiting task costs a few hundred bytes,
//!   not a thread: the permits are what the server sees.
//! - **How errors come back:** as in every model, [`download_one`] turns
//!   each failure into a [`FlagOutcome`]; a task that panicked comes back as
//!   a `JoinError`, which the collecting loop counts as an error for its
//!   code (the book's `except` around `await coro`).
//! - **Compare with:** `flags-seq` (the same steps one at a time: read its
//!   `download_one` next to this one) and `flags-threadpool` (the same cap,
//!   held by a fixed number of threads instead of permits).
//!
//! **Which thread does the I/O:** the one runtime thread, for every
//! connection. Every task runs on it, as in asyncio: a current-thread tokio
//! runtime, where tasks take turns at each `.await`, and while all of them
//! wait it sleeps in `epoll_wait` on every socket at once (a test reads
//! `/proc` to check: one thread holds `-m 8` requests). So no blocking call
//! runs on it: requests and timers are async, files are written by
//! `spawn_blocking` (the book's `asyncio.to_thread`), the server's name is
//! looked up once before the runtime starts, and the progress bar or `-v`
//! lines are drawn by a thread of their own.
//!
//! With `--metadata` each task chains a second request,
//! `{base}/{cc}/metadata.json`, and saves the flag under the country's name.
//! That name comes from the server, so it goes through
//! [`country_file_name`], which
//! refuses anything that could leave `--dest`, and is claimed in
//! [`NameClaims`] so that two codes never save under one name. (The book's
//! version forgets to reset its `error` variable, so after one failure
//! every later success is counted as an error: here each outcome belongs
//! to its own task.)
//!
//! Ctrl-C: the collecting loop also watches [`interrupt::requested`]. Once
//! it is set, it closes the semaphore, so every task still waiting for a
//! permit gives up at once and is not counted; requests already in flight
//! end normally (bounded by `--timeout`) and are saved and counted, so the
//! report is exactly what finished and no file is ever half written.

pub mod client;
pub mod model;
mod runtime;

use std::collections::HashMap;
use std::sync::Arc;

use flags_core::fetch::FetchError;
use flags_core::retry::RetryPolicy;
use flags_core::save::{NameClaims, country_file_name, flag_file_name, save_flag};
use flags_core::{DownloadJob, FlagOutcome, StatusCounter, interrupt};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub use client::{HttpClient, country_name, get_flag, get_metadata, http_client};
pub use model::{ASYNC, AsyncModel, AsyncOptions};

/// `-m` when none is given: low, as the book's, not to flood a server.
pub fn default_max_req() -> usize {
    5
}
/// The most requests this model ever has in flight.
pub const MAX_MAX_REQ: usize = 1000;

/// What one task takes from the process limits: a connection, no thread.
pub const WORKER_COST: flags_core::limits::WorkerCost = flags_core::limits::WorkerCost::task();

/// Spawn one task per code, collect their outcomes as they finish, and
/// count them: the book's `supervisor`. `on_finished` gets each outcome as
/// soon as it is counted, on the runtime's thread, so it must not block.
pub async fn download_many(
    job: &DownloadJob,
    client: HttpClient,
    options: &AsyncOptions,
    mut on_finished: impl FnMut(FlagOutcome),
) -> StatusCounter {
    // Spawned tasks may outlive this call as far as the compiler knows, so
    // each owns its data: the job behind an `Arc`, a clone of the client.
    let job = Arc::new(job.clone());
    // The semaphore is the whole concurrency cap: a task must hold one of its
    // `max_req` permits while its request is in flight, and gives it back as
    // soon as the body is read. Closing it (after Ctrl-C) makes every
    // waiting and future `acquire` fail at once.
    let semaphore = Arc::new(Semaphore::new(job.max_req.clamp(1, MAX_MAX_REQ)));
    // The join set owns every task: `join_next` hands back the result of
    // whichever task ends first, which is the book's `as_completed`. If the
    // set were dropped early, its tasks would be aborted, not leaked.
    let mut tasks = JoinSet::new();
    // Which code each task downloads, to name the code of a task that
    // panicked (its `JoinError` knows only the task's id).
    let mut code_of_task = HashMap::new();
    // With `--metadata`, the file names claimed so far, shared by every
    // task: the first task to claim a country name saves under it, a later
    // one is an error naming both codes. Claimed before the save, on this
    // thread: asked at save time, "is the file there yet?" would race.
    let names = Arc::new(NameClaims::default());
    let options = *options;
    for country_code in &job.country_codes {
        let (client, semaphore, job, names) = (
            client.clone(),
            Arc::clone(&semaphore),
            Arc::clone(&job),
            Arc::clone(&names),
        );
        let task_code = country_code.clone();
        // Spawning only schedules the task: nothing is sent yet. It runs
        // when this loop next awaits, and stops at its first `.await`, the
        // semaphore.
        let task = tasks.spawn(async move {
            download_one(&client, &semaphore, &task_code, &job, &options, &names).await
        });
        code_of_task.insert(task.id(), country_code.clone());
    }
    let mut counter = StatusCounter::default();
    let mut interrupted = false;
    loop {
        // Wait for whichever comes first: a task ending, or Ctrl-C. The
        // second branch is disabled once taken, so after Ctrl-C the loop
        // only drains the tasks still running.
        let joined = tokio::select! {
            joined = tasks.join_next_with_id() => joined,
            () = interrupt_requested(), if !interrupted => {
                // Stop scheduling: every task still waiting for a permit
                // gives up now; requests in flight end normally.
                semaphore.close();
                interrupted = true;
                continue;
            }
        };
        // `None`: the set is empty, every task has ended.
        let Some(joined) = joined else { break };
        let outcome = match joined {
            Ok((_, Some(outcome))) => outcome,
            // The task gave up before its first request (Ctrl-C): nothing
            // finished, nothing is counted.
            Ok((_, None)) => continue,
            // The task panicked: a bug, but one code's bug, reported as
            // that code's error while the others go on.
            Err(error) => {
                let code = code_of_task.get(&error.id()).map_or("??", String::as_str);
                FlagOutcome::error(code, format!("task failed: {error}"))
            }
        };
        counter.record(&outcome);
        on_finished(outcome);
    }
    counter
}

/// Download one flag, with retries, and save it: a failure is an error
/// outcome, a 404 "not found"; `None` if Ctrl-C came before any request.
/// With `--metadata`, the file name is the country's, claimed in `names`.
pub async fn download_one(
    client: &HttpClient,
    semaphore: &Semaphore,
    country_code: &str,
    job: &DownloadJob,
    options: &AsyncOptions,
    names: &NameClaims,
) -> Option<FlagOutcome> {
    let policy = RetryPolicy::for_job(job);
    // The requests as one future; awaiting it, below, parks this task.
    let fetched = async {
        // The first request, under a permit of its own.
        let image = with_permit_and_retries(semaphore, &policy, || {
            get_flag(client, &job.base_url, country_code)
        })
        .await?;
        if !options.metadata {
            return Ok((image, flag_file_name(country_code)));
        }
        // The chained request, under a second permit: in between, this task
        // held none, so another code's request may have gone first.
        let metadata = with_permit_and_retries(semaphore, &policy, || {
            get_metadata(client, &job.base_url, country_code)
        })
        .await?;
        let name = country_name(&metadata)
            .map_err(|error| Stop::BadMetadata(format!("bad metadata.json: {error}")))?;
        let file_name =
            country_file_name(&name).map_err(|error| Stop::BadMetadata(error.to_string()))?;
        // Claim the name before the save is handed off, with no `.await` in
        // between: no other task can run meanwhile. It is never given back.
        names
            .claim(country_code, &name, &file_name)
            .map_err(|taken| Stop::BadMetadata(taken.to_string()))?;
        Ok((image, file_name))
    };
    match fetched.await {
        Ok((image, file_name)) => {
            // Hand the write to tokio's blocking threads (the book's
            // `asyncio.to_thread`) and await it, parked: the runtime's thread
            // runs other tasks. It runs to its end: no partial file is left.
            let dest_dir = job.dest_dir.clone();
            let save = move || save_flag(&dest_dir, &file_name, &image);
            Some(match tokio::task::spawn_blocking(save).await {
                Ok(Ok(bytes)) => FlagOutcome::ok(country_code, bytes),
                Ok(Err(error)) => FlagOutcome::error(country_code, format!("cannot save: {error}")),
                Err(error) => FlagOutcome::error(country_code, format!("cannot save: {error}")),
            })
        }
        Err(Stop::Interrupted) => None,
        Err(Stop::Fetch(FetchError::NotFound)) => Some(FlagOutcome::not_found(country_code)),
        Err(Stop::Fetch(error)) => Some(FlagOutcome::error(country_code, error.to_string())),
        Err(Stop::BadMetadata(message)) => Some(FlagOutcome::error(country_code, message)),
    }
}

/// Why a code stopped before its flag could be saved.
enum Stop {
    /// Ctrl-C came before the request could start.
    Interrupted,
    /// A request failed, after its retries.
    Fetch(FetchError),
    /// The metadata gives no usable file name.
    BadMetadata(String),
}

/// Run `attempt_once` under a permit of `semaphore`, retrying as `policy`
/// says, the permit given back before each wait. After Ctrl-C no new
/// attempt starts: the result is the last error, if there was one.
async fn with_permit_and_retries<F, Fut>(
    semaphore: &Semaphore,
    policy: &RetryPolicy,
    mut attempt_once: F,
) -> Result<Vec<u8>, Stop>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Vec<u8>, FetchError>>,
{
    let mut attempt = 0;
    let mut last_error = None;
    loop {
        // Wait for a permit. `acquire` fails only once the semaphore is
        // closed, after Ctrl-C; Ctrl-C may also have come while we waited,
        // before it was closed: look once more, before anything is sent.
        let permit = match semaphore.acquire().await {
            Ok(permit) if !interrupt::requested() => permit,
            _ => return Err(last_error.map_or(Stop::Interrupted, Stop::Fetch)),
        };
        // Await the request and its whole body, holding the permit.
        let result = attempt_once().await;
        // Give the permit back at once: parsing, saving and waiting to
        // retry happen without it.
        drop(permit);
        match result {
            Err(error) if policy.should_retry(attempt, &error) && !interrupt::requested() => {
                // An async wait: the task is parked on a timer and the
                // runtime's thread runs other tasks meanwhile. Ctrl-C ends
                // the wait at once: this error is then the code's outcome.
                tokio::select! {
                    () = tokio::time::sleep(policy.delay(attempt, &error)) => {}
                    () = interrupt_requested() => return Err(Stop::Fetch(error)),
                }
                attempt += 1;
                last_error = Some(error);
            }
            Ok(body) => return Ok(body),
            Err(error) => return Err(Stop::Fetch(error)),
        }
    }
}

/// Resolves once Ctrl-C has been pressed. The flag is an atomic set by a
/// signal handler, which cannot wake a task, so it is polled every 20 ms.
async fn interrupt_requested() {
    while !interrupt::requested() {
        // Park this task on a timer; the thread runs the others.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
