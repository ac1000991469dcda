//! The async model: one task per flag on a tokio runtime, all sharing one
//! HTTP client, with a semaphore capping how many requests are in flight.
//!
//! - **The model in one sentence:** every code becomes a task at once; each
//!   task waits for a semaphore permit, sends its request, hands the permit
//!   back, and saves the flag on tokio's pool of blocking threads.
//! - **How work is split and joined:** [`download_many_async`] spawns one
//!   task per code into a [`JoinSet`] and takes the results back in the
//!   order they finish (`join_next`, the book's `asyncio.as_completed`).
//! - **What caps concurrency:** a [`Semaphore`] of `job.max_req` permits,
//!   held only while a request is sent and its body read; not while saving,
//!   not while waiting to retry. A waiting task costs a few hundred bytes,
//!   not a thread, so 676 of them waiting is nothing: the permits are what
//!   the server sees.
//! - **How errors come back:** as in every model, [`download_one`] turns
//!   each failure into a [`FlagOutcome`]; a task that panicked comes back as
//!   a `JoinError`, which the collecting loop counts as an error for its
//!   code (the book's `except` around `await coro`).
//! - **Compare with:** `flags-seq` (the same steps one at a time: read its
//!   `download_one` next to this one) and `flags-threadpool` (the same cap,
//!   held by a fixed number of threads instead of permits).
//!
//! With `--metadata` (the book's `flags3_asyncio.py`) each task chains a
//! second request, `{base}/{cc}/metadata.json`, under a second permit of its
//! own, and saves the flag under the country's name. That name comes from
//! the server, so it goes through
//! [`country_file_name`], which refuses
//! anything that could leave `--dest`; a refused name is an error for that
//! code only. A name another code of the run has already claimed (in any
//! case) is an error too, for the later code: without that, codes sharing a
//! name would each overwrite the last one's flag and all be counted as
//! saved (see [`NameClaims`]). (The book's version forgets to reset its
//! `error` variable, so after one failure every later success is counted
//! as an error: here each outcome belongs to its own task and cannot leak
//! into the next.)
//!
//! **Which thread does the I/O:** the one runtime thread, for every
//! connection. Every task runs on it, as in asyncio: a current-thread tokio
//! runtime, where tasks take turns at each `.await`, and while all of them
//! wait it sleeps in `epoll_wait` on every socket at once (a test reads
//! `/proc` to check: one thread holds `-m 8` requests). So no blocking call
//! runs on it: requests and timers are async, files are written by
//! `spawn_blocking` (the book's `asyncio.to_thread`), the server's name is
//! looked up once before the runtime starts, and the progress bar or `-v`
//! lines are drawn by a thread of their own, fed through a channel.
//!
//! Ctrl-C: the collecting loop also watches
//! [`interrupt::requested`]. Once it is
//! set, it closes the semaphore, so every task still waiting for a permit
//! gives up at once and is not counted; requests already in flight end
//! normally (bounded by `--timeout`) and are saved and counted, so the
//! report is exactly what finished and no file is ever half written.
//!
//! **Which client:** reqwest's async `Client` by default; `--client hyper`
//! runs the same model on hyper's HTTP/1 connections directly, with a
//! small pool of our own ([`hyper_client`]), whose buffer sizes can be
//! set: what reqwest's convenience costs per connection, measured in the
//! crate's README. Only [`HttpClient`] differs: the semaphore,
//! `download_one`, Ctrl-C and the saving are the same code for both.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use flags_core::fetch::FetchError;
use flags_core::fetch::{
    BodyBuffer, ClientOptions, DRAIN_WINDOW, MAX_DRAIN_BYTES, ResponseHead, check_gif,
};
use flags_core::redirect;
use flags_core::retry::{RetryPolicy, error_chain, is_stale_connection};
use flags_core::save::{NameClaims, country_file_name, flag_file_name, save_flag};
use flags_core::url::{flag_url, metadata_url};
use flags_core::{DownloadJob, FlagOutcome, Progress, SetupError, StatusCounter, interrupt};
use reqwest::{Client, Response};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub mod hyper_client;
pub use hyper_client::HyperClient;

/// `-m` when none is given: a low default, as the book's, so that a public
/// server is not flooded. (A function in every model crate: see
/// `flags_seq::default_max_req`.)
pub fn default_max_req() -> usize {
    5
}
/// The most requests this model ever has in flight.
pub const MAX_MAX_REQ: usize = 1000;

/// What one task takes from the process limits, for [`flags_core::run`]:
/// its connection and buffers, no thread.
pub const WORKER_COST: flags_core::limits::WorkerCost = flags_core::limits::WorkerCost::task();

// --- Tuning: the runtime's blocking pool (see "Tuning and measurements"
// in the crate's README) ---

/// Threads of the runtime's blocking pool, where flags are saved
/// (`spawn_blocking`): saving is bound by the disk, so a few threads keep
/// it busy, where tokio would start up to 512.
const SAVE_THREADS: usize = 4;

// --- End of tuning ---

/// How often the collecting loop looks at the Ctrl-C flag. The flag is a
/// plain atomic set by a signal handler, which cannot wake a task, so it is
/// polled; 20 ms is far below what a person notices.
const INTERRUPT_POLL: Duration = Duration::from_millis(20);

/// The options only this model has, added to the common command line by
/// [`flags_core::run_with_options`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::Args)]
pub struct AsyncOptions {
    /// also fetch each {cc}/metadata.json and save the flag as {Country_Name}.gif
    #[arg(long)]
    pub metadata: bool,
    /// which async HTTP client the tasks share
    #[arg(long, value_enum, default_value_t = ClientKind::Reqwest)]
    pub client: ClientKind,
}

/// The two clients of `--client`: the same model on either.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientKind {
    /// reqwest: redirects, deadlines and TLS set up for us; hyper's buffer
    /// sizes out of reach.
    #[default]
    Reqwest,
    /// hyper directly, with a pool of our own: those done by hand
    /// ([`hyper_client`]), the buffers sized for flags.
    Hyper,
}

/// Download every flag of `job`, at most `job.max_req` at a time, and count
/// the outcomes: [`download_many_with_options`] without `--metadata`.
///
/// Synchronous, like every model's `download_many`, so that the binary, the
/// contract tests and `flags-compare` call all models the same way.
pub fn download_many(job: &DownloadJob) -> Result<StatusCounter, SetupError> {
    download_many_with_options(job, &AsyncOptions::default())
}

/// [`download_many`] on hyper directly instead of reqwest
/// ([`HyperClient`]): the comparison row (`--client hyper`).
pub fn download_many_hyper(job: &DownloadJob) -> Result<StatusCounter, SetupError> {
    let options = AsyncOptions {
        client: ClientKind::Hyper,
        ..AsyncOptions::default()
    };
    download_many_with_options(job, &options)
}

/// The async model, as the binary, the tests and the benches run it.
pub static ASYNC: AsyncModel = AsyncModel;

/// The [`Model`](flags_core::Model) of this crate: tasks on one thread,
/// at most `-m` requests at a time.
#[derive(Debug)]
pub struct AsyncModel;

impl flags_core::Model for AsyncModel {
    type Options = AsyncOptions;

    fn name(&self) -> &'static str {
        "async"
    }

    fn about(&self) -> &'static str {
        "Download flags as tokio tasks on one thread, at most -m requests at a time."
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
        options: &AsyncOptions,
    ) -> Result<StatusCounter, SetupError> {
        download_many_with_options(job, options)
    }
}

/// Build a tokio runtime and an HTTP client, then run
/// [`download_many_async`] to the end on them: the book's `asyncio.run`.
///
/// The runtime is a current-thread one: every task runs on this one thread,
/// taking turns at each `.await`, as asyncio's event loop does. One thread
/// is enough because the tasks mostly wait on sockets, and no wake-up ever
/// crosses threads. (How it compares with a multi-thread runtime: "Tuning
/// and measurements" in the crate's README.)
///
/// Returns `Err` only when the run cannot start (no runtime, no client); a
/// flag that fails is counted as an error and the others go on. Stops
/// early after Ctrl-C.
pub fn download_many_with_options(
    job: &DownloadJob,
    options: &AsyncOptions,
) -> Result<StatusCounter, SetupError> {
    let client = http_client_of_kind(job, options.client)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(SAVE_THREADS)
        .enable_all()
        .build()
        .map_err(|error| SetupError::Start {
            what: "tokio runtime",
            reason: error.to_string(),
        })?;
    let progress = Progress::new(job.country_codes.len(), job.verbose);
    if !progress.is_shown() {
        // --- Tuning: nothing to show (no `-v`, and stderr is not a
        // terminal), so no progress thread: each outcome is only counted.
        // Even an idle extra thread slows a run down ("Tuning and
        // measurements" in the crate's README). ---
        return Ok(runtime.block_on(download_many_async(job, client, options, drop)));
    }
    // The runtime's one thread runs every task, so nothing on it may block,
    // and printing can: a terminal or a pipe that is not read (`| less`,
    // paused) stalls the write. So the progress is shown by a thread of its
    // own, fed through a channel whose `send` never blocks.
    let (finished, finished_outcomes) = std::sync::mpsc::channel::<FlagOutcome>();
    let counter = std::thread::scope(|scope| {
        scope.spawn(move || {
            // Ends when the sender is dropped, that is when `block_on`
            // returns and drops the future that owns it.
            for outcome in finished_outcomes {
                progress.record(&outcome);
            }
            progress.finish();
        });
        // `block_on` runs the collecting loop and every task on this thread
        // until every task has ended. When it returns, the runtime is
        // dropped with nothing left on it.
        runtime.block_on(download_many_async(job, client, options, move |outcome| {
            // Only fails once the printing thread is gone; nothing to do then.
            let _ = finished.send(outcome);
        }))
    });
    Ok(counter)
}

/// Spawn one task per code, collect their outcomes as they finish, and
/// count them: the book's `supervisor`.
///
/// Needs a tokio runtime with time and I/O enabled. `client` is shared by
/// every task (a clone is a reference to the same connection pool).
/// `on_finished` gets each outcome as soon as it is counted, on the
/// runtime's thread, so it must not block (sending it to a channel is the
/// usual way to show it).
pub async fn download_many_async(
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
    // soon as the body is read. `acquire` queues waiters first come, first
    // served, so the codes start roughly in sorted order as permits come
    // free. Closing it (after Ctrl-C) makes every waiting and future
    // `acquire` fail at once.
    let semaphore = Arc::new(Semaphore::new(job.max_req.clamp(1, MAX_MAX_REQ)));
    // The join set owns every task: `join_next` hands back the result of
    // whichever task ends first, which is the book's `as_completed`. If the
    // set were dropped early, its tasks would be aborted, not leaked.
    let mut tasks = JoinSet::new();
    // Which code each task downloads, to name the code of a task that
    // panicked (its `JoinError` knows only the task's id).
    let mut code_of_task = HashMap::new();
    // With `--metadata`, the file names claimed so far, shared by every task:
    // two codes may be given the same country name, and each task alone
    // cannot know that another one has it. The first task to claim a name
    // saves under it; a later one is an error naming both codes. The claim
    // is a check and an insert under one lock, and it happens on the runtime's
    // thread before the save is handed to `spawn_blocking`: the blocking pool
    // runs several saves at once, so "is the file there yet?" asked at save
    // time would race (two saves both see no file, the last rename wins), and
    // could not tell a flag of this run from one left by an earlier run,
    // which is simply overwritten.
    let names = Arc::new(NameClaims::default());
    for country_code in &job.country_codes {
        let (client, semaphore, job, options, names) = (
            client.clone(),
            Arc::clone(&semaphore),
            Arc::clone(&job),
            *options,
            Arc::clone(&names),
        );
        let task_code = country_code.clone();
        // Spawning only schedules the task: nothing is sent yet. It runs
        // when this loop next awaits, and stops at its first `.await`, the
        // semaphore.
        let task = tasks.spawn(async move {
            download_one_claiming(&client, &semaphore, &task_code, &job, &options, &names).await
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

/// Download one flag (and, with `--metadata`, its country name), with
/// retries, and save it: every failure becomes an error outcome, a 404
/// becomes "not found".
///
/// Each request holds a permit of `semaphore` only while it is sent and its
/// body read. Returns `None` when Ctrl-C came before the code's first
/// request: the code did not finish and is not counted.
///
/// One code alone: with `--metadata`, no other code can have its name. For
/// several codes of one run, use [`download_one_claiming`] with the run's
/// [`NameClaims`].
pub async fn download_one(
    client: &HttpClient,
    semaphore: &Semaphore,
    country_code: &str,
    job: &DownloadJob,
    options: &AsyncOptions,
) -> Option<FlagOutcome> {
    let names = NameClaims::default();
    download_one_claiming(client, semaphore, country_code, job, options, &names).await
}

/// [`download_one`] as one code of a run: with `--metadata`, the flag is
/// saved only if its file name is not in `names` yet for another code
/// (case-folded); else it is an error naming that code, and nothing is
/// saved.
pub async fn download_one_claiming(
    client: &HttpClient,
    semaphore: &Semaphore,
    country_code: &str,
    job: &DownloadJob,
    options: &AsyncOptions,
    names: &NameClaims,
) -> Option<FlagOutcome> {
    let fetched =
        get_flag_and_file_name(client, semaphore, country_code, job, options, names).await;
    match fetched {
        Ok((image, file_name)) => {
            Some(save_in_background(&job.dest_dir, file_name, image, country_code).await)
        }
        Err(Stop::Interrupted) => None,
        Err(Stop::Fetch(FetchError::NotFound)) => Some(FlagOutcome::not_found(country_code)),
        Err(Stop::Fetch(error)) => Some(FlagOutcome::error(country_code, error.to_string())),
        Err(Stop::BadMetadata(message)) => Some(FlagOutcome::error(country_code, message)),
    }
}

/// Fetch one flag's bytes: one attempt, no retry, no permit.
pub async fn get_flag(
    client: &HttpClient,
    base_url: &str,
    country_code: &str,
) -> Result<Vec<u8>, FetchError> {
    let (image, content_type) = get_body(client, &flag_url(base_url, country_code)).await?;
    check_gif(image, content_type.as_deref())
}

/// Fetch one code's `metadata.json`: one attempt, no retry, no permit.
pub async fn get_metadata(
    client: &HttpClient,
    base_url: &str,
    country_code: &str,
) -> Result<Vec<u8>, FetchError> {
    // The JSON is checked by whoever reads it; its type does not matter.
    let (metadata, _content_type) = get_body(client, &metadata_url(base_url, country_code)).await?;
    Ok(metadata)
}

/// The one client of a run, shared by every task (clones share its
/// connection pool): reqwest's or ours on hyper (`--client`). Each keeps
/// idle keep-alive connections for reuse, and sends a GET again, once, on
/// a new connection when a reused one turned out to be closed before any
/// byte of the answer.
///
/// An enum, not a trait: `download_one` and everything above it take this
/// one concrete type, as before there were two clients, and each request
/// asks it which client to use (one branch). A trait would put a type
/// parameter on every function of the model, or a `dyn` on the client.
#[derive(Debug, Clone)]
pub struct HttpClient {
    backend: Backend,
}

/// The client behind an [`HttpClient`].
#[derive(Debug, Clone)]
enum Backend {
    /// reqwest's async `Client` (`pooled`), and the same settings without
    /// a pool (`fresh`) for the one retry on a new connection: it follows
    /// redirects, keeps the deadline and sets TLS up, at the price of
    /// buffers we cannot size and wrappers around each request and
    /// response.
    Reqwest { pooled: Client, fresh: Client },
    /// hyper directly, with those done by hand in [`hyper_client`].
    Hyper(HyperClient),
}

impl HttpClient {
    /// Two reqwest clients made elsewhere (tests build theirs without
    /// timers): `fresh` should keep no idle connection.
    pub fn from_clients(pooled: Client, fresh: Client) -> Self {
        HttpClient {
            backend: Backend::Reqwest { pooled, fresh },
        }
    }

    /// The model on hyper directly: [`HyperClient::new`], or one made with
    /// other buffers ([`HyperClient::with_tuning`]).
    pub fn from_hyper(client: HyperClient) -> Self {
        HttpClient {
            backend: Backend::Hyper(client),
        }
    }

    /// One GET: the status checked and the body read, as one attempt, on
    /// whichever client this is; the body and its `Content-Type`.
    async fn get_body(&self, url: &str) -> Result<(Vec<u8>, Option<String>), FetchError> {
        // Each boxed, for as long as the request is in flight: else every
        // task would be as large as the larger of the two requests' states,
        // whichever client runs, for the whole run (676 tasks for `-e`,
        // spawned at once, are mostly waiting for a permit).
        match &self.backend {
            Backend::Reqwest { pooled, fresh } => {
                Box::pin(reqwest_get_body(pooled, fresh, url)).await
            }
            Backend::Hyper(client) => Box::pin(client.get_body(url)).await,
        }
    }
}

/// Build the one client of a run of the `kind` that `--client` chose.
///
/// The lookup blocks: call this before the runtime starts, not on it.
pub fn http_client_of_kind(job: &DownloadJob, kind: ClientKind) -> Result<HttpClient, SetupError> {
    match kind {
        ClientKind::Reqwest => http_client(job),
        ClientKind::Hyper => Ok(HttpClient::from_hyper(HyperClient::new(job)?)),
    }
}

/// The reqwest side of [`HttpClient`]: a GET on `pooled`, the status
/// checked and the body read.
async fn reqwest_get_body(
    pooled: &Client,
    fresh: &Client,
    url: &str,
) -> Result<(Vec<u8>, Option<String>), FetchError> {
    // Await the status line and headers, redirects followed; the body
    // follows below.
    let response = reqwest_send(pooled, fresh, url).await?;
    let head = ResponseHead::of(response.status(), response.headers());
    // Every status but 200 is a `FetchError`; an encoding we did not ask
    // for is refused before reading.
    if let Err(error) = head.check_status() {
        let error = unfollowed_redirect(&response).unwrap_or(error);
        // Await the rest of the unused body, briefly, to keep the connection.
        drain(response).await;
        return Err(error);
    }
    head.check_encoding()?;
    Ok((read_body(response).await?, head.content_type))
}

/// Why a response with a redirect status came back to us unfollowed, in
/// the words of [`redirect`] (every client's): reqwest hands back, as an
/// answer, not an error, a redirect whose `Location` is missing, or that it
/// cannot read or make a request of: a `file:` or `data:` URL comes back
/// this way, before the redirect policy sees it. `None` for any other
/// status, which [`ResponseHead::check_status`] names (a 300 or a 305 is
/// never followed).
fn unfollowed_redirect(response: &Response) -> Option<FetchError> {
    let status = response.status().as_u16();
    if !redirect::is_followed(status) {
        return None;
    }
    let Some(location) = response.headers().get(reqwest::header::LOCATION) else {
        return Some(redirect::no_location(status));
    };
    Some(
        match redirect::target_bytes(response.url(), location.as_bytes()) {
            Err(error) => error,
            // `url` reads it, but reqwest's own `Uri` type cannot hold it.
            Ok(target) => FetchError::Redirect(format!(
                "redirect to {target}, which the client cannot request"
            )),
        },
    )
}

/// Read and drop a body that will not be used (a 404 page), so that its
/// connection goes back to the pool: at most [`MAX_DRAIN_BYTES`], for at
/// most [`DRAIN_WINDOW`]. A longer body, or one still arriving by then, is
/// dropped with its connection: it costs a new connection, not the wait
/// of a dripping server until `--timeout`.
async fn drain(mut response: Response) {
    let mut drained = 0;
    // Await the chunks under a timer: when it fires first, the read is
    // cancelled and the response dropped below.
    let _ = tokio::time::timeout(DRAIN_WINDOW, async {
        while let Ok(Some(chunk)) = response.chunk().await {
            drained += chunk.len() as u64;
            if drained > MAX_DRAIN_BYTES {
                break;
            }
        }
    })
    .await;
}

/// Send a GET on `pooled` and await the status line and headers. If the
/// pooled connection was closed under it (the server may close an idle
/// keep-alive connection at any time, and its FIN can come too late to be
/// seen), send it again, once, at once, on a new connection of `fresh`: a
/// GET may be (RFC 9112 section 9.3.1). That is not one of `--retries`.
async fn reqwest_send(pooled: &Client, fresh: &Client, url: &str) -> Result<Response, FetchError> {
    match pooled.get(url).send().await {
        Err(error) if is_stale_connection(&error) => fresh
            .get(url)
            .send()
            .await
            .map_err(|error| send_error(&error)),
        other => other.map_err(|error| send_error(&error)),
    }
}

/// The [`FetchError`] of a failed send: a redirect that [`redirect_policy`]
/// refused carries that refusal as its cause, which is the error (reqwest's
/// own line would say `error following redirect for url (...)` first);
/// anything else is a transport error.
fn send_error(error: &reqwest::Error) -> FetchError {
    match std::error::Error::source(error).and_then(|cause| cause.downcast_ref::<FetchError>()) {
        Some(refused) => refused.clone(),
        None => FetchError::Transport(error_chain(error)),
    }
}

/// Which redirects reqwest follows: [`redirect`]'s rule, the same in every
/// client. reqwest calls this on each redirect it is about to follow
/// (only [`redirect::FOLLOWED`] statuses with a readable `Location`), with
/// the target already resolved against the request's URL.
/// (`flags_threadpool`'s reqwest client sets the same policy.)
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if !redirect::is_followed(attempt.status().as_u16()) {
            // Handed back as the answer, whose status check names it.
            return attempt.stop();
        }
        // Resolved already: `target` only checks the scheme.
        if let Err(refused) = redirect::target(attempt.url(), attempt.url().as_str()) {
            return attempt.error(refused);
        }
        // `previous` holds every URL requested so far, the first one
        // included: this would be redirect number `previous().len()`.
        if attempt.previous().len() > redirect::MAX_REDIRECTS as usize {
            return attempt.error(redirect::too_many());
        }
        attempt.follow()
    })
}

/// Build the one client of a run, with the settings every reqwest client
/// of the models uses ([`ClientOptions`]): a deadline for each whole
/// request (body included: reqwest's async timeout covers the body
/// stream), idle connections kept for reuse, `--cacert` trusted on top of
/// the web roots, and the server's name looked up once instead of once per
/// new connection; redirects followed by the rule of every client
/// ([`flags_core::redirect`]), without a `Referer`; folded header lines
/// unfolded.
///
/// The lookup blocks: call this before the runtime starts, not on it.
pub fn http_client(job: &DownloadJob) -> Result<HttpClient, SetupError> {
    Ok(HttpClient::from_clients(
        reqwest_client(job, true)?,
        reqwest_client(job, false)?,
    ))
}

/// One reqwest client for `job`, keeping idle connections when `pooled`:
/// [`ClientOptions`] set on the async builder.
/// (`flags_threadpool::reqwest_client` makes the same calls on reqwest's
/// blocking builder: the two crates share no crate with reqwest in it.)
fn reqwest_client(job: &DownloadJob, pooled: bool) -> Result<Client, SetupError> {
    let options = ClientOptions::for_job(job)?;
    let mut builder = Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.connect_timeout)
        .redirect(redirect_policy())
        // No `Referer`: where a flag was asked from is no business of the
        // server a redirect leads to.
        .referer(false)
        // Unfold a header folded over several lines (obs-fold), as RFC 9112
        // asks of a user agent, instead of refusing the response.
        .http1_allow_obsolete_multiline_headers_in_responses(true);
    if !options.keepalive_probes {
        builder = builder
            .tcp_keepalive(None)
            .tcp_keepalive_interval(None)
            .tcp_keepalive_retries(None);
    }
    if let Some((host, addresses)) = &options.known_addresses {
        builder = builder.resolve_to_addrs(host, addresses);
    }
    if let Some(ca_file) = &options.ca_file {
        let certificates = reqwest::Certificate::from_pem_bundle(&ca_file.pem)
            .map_err(|error| ca_file.refused(error_chain(&error)))?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    if !pooled {
        builder = builder.pool_max_idle_per_host(0);
    }
    builder
        .build()
        .map_err(|error| SetupError::Client(error_chain(&error)))
}

/// The `country` of a `metadata.json`, as the server sent it (not yet
/// checked as a file name).
///
/// ```
/// let metadata = br#"{"tld_cc": ".br", "iso_cc": "BR", "country": "Brazil", "gec_cc": "BR"}"#;
/// assert_eq!(flags_async::country_name(metadata).unwrap(), "Brazil");
/// assert!(flags_async::country_name(b"{\"iso_cc\": \"BR\"}").is_err());
/// assert!(flags_async::country_name(b"<html>").is_err());
/// ```
pub fn country_name(metadata: &[u8]) -> Result<String, serde_json::Error> {
    /// The one field we need; the others are ignored.
    #[derive(serde::Deserialize)]
    struct Metadata {
        country: String,
    }
    serde_json::from_slice::<Metadata>(metadata).map(|metadata| metadata.country)
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

/// The flag's bytes and the name to save it under: `{CC}.gif`, or with
/// `--metadata` the country's name from a second request, claimed in
/// `names` for this code.
async fn get_flag_and_file_name(
    client: &HttpClient,
    semaphore: &Semaphore,
    country_code: &str,
    job: &DownloadJob,
    options: &AsyncOptions,
    names: &NameClaims,
) -> Result<(Vec<u8>, String), Stop> {
    let policy = flags_core::retry::RetryPolicy::for_job(job);
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
    // Claim the name before the save is handed off (see
    // `download_many_async`). No `.await` in between: on this one thread no
    // other task can run between the check and the insert, and the lock
    // keeps that true on any runtime. Claimed by the file name case-folded,
    // because `Brazil.gif` and `BRAZIL.gif` are one file on a
    // case-insensitive file system. A claim is never given back, even if
    // the save then fails (both codes are then errors, and no file is
    // counted that is not there): which code gets a name is decided once.
    names
        .claim(country_code, &name, &file_name)
        .map_err(|taken| Stop::BadMetadata(taken.to_string()))?;
    Ok((image, file_name))
}

/// Run `attempt_once` under a permit of `semaphore`, retrying as `policy`
/// says; the permit is given back before each wait, so a task that waits
/// to retry does not keep another code from going ahead.
///
/// After Ctrl-C no new attempt starts: the result is the last error, or
/// [`Stop::Interrupted`] if there was no attempt at all.
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
        // Wait for a permit. `acquire` fails only when the semaphore has
        // been closed, which the collecting loop does after Ctrl-C.
        let Ok(permit) = semaphore.acquire().await else {
            return Err(last_error.map_or(Stop::Interrupted, Stop::Fetch));
        };
        // Ctrl-C may have come while we waited and before the semaphore was
        // closed: look once more, before anything is sent.
        if interrupt::requested() {
            return Err(last_error.map_or(Stop::Interrupted, Stop::Fetch));
        }
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

/// Save a flag with [`save_flag`] on tokio's pool of blocking threads, the
/// book's `asyncio.to_thread`, and say how it went.
///
/// Writing a file blocks the thread that does it; on the runtime's thread
/// that would stall every task. `save_flag` writes a temporary
/// file and renames it, and a blocking task, once started, always runs to
/// its end (it cannot be aborted), so no partial file is ever left.
async fn save_in_background(
    dest_dir: &Path,
    file_name: String,
    image: Vec<u8>,
    country_code: &str,
) -> FlagOutcome {
    let dest_dir = dest_dir.to_path_buf();
    // Hand the write to a blocking thread and await its end: this task is
    // parked meanwhile, and the runtime's thread runs other tasks.
    let saved = tokio::task::spawn_blocking(move || save_flag(&dest_dir, &file_name, &image)).await;
    match saved {
        Ok(Ok(bytes)) => FlagOutcome::ok(country_code, bytes),
        Ok(Err(error)) => FlagOutcome::error(country_code, format!("cannot save: {error}")),
        Err(error) => FlagOutcome::error(country_code, format!("cannot save: {error}")),
    }
}

/// Resolves once Ctrl-C has been pressed (or
/// [`interrupt::request`] called).
async fn interrupt_requested() {
    while !interrupt::requested() {
        tokio::time::sleep(INTERRUPT_POLL).await;
    }
}

/// One GET: the status checked and the body read, as one attempt.
async fn get_body(client: &HttpClient, url: &str) -> Result<(Vec<u8>, Option<String>), FetchError> {
    client.get_body(url).await
}

/// Read a reqwest body of at most the cap, chunk by chunk as it arrives
/// ([`BodyBuffer`]); a longer one is refused as soon as it passes the cap, a
/// truncated one is a transport error.
async fn read_body(mut response: Response) -> Result<Vec<u8>, FetchError> {
    let mut body = BodyBuffer::new(response.content_length())?;
    // Await each chunk: between two chunks the thread runs other tasks.
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| FetchError::Transport(error_chain(&error)))?
    {
        body.push(&chunk)?;
    }
    body.finish()
}
