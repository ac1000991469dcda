//! The sequential model: one flag after another, on one thread.
//!
//! - **The model in one sentence:** a plain `for` loop that downloads a
//!   flag, saves it, and only then starts the next one.
//! - **How work is split and joined:** it is not; the loop is the schedule,
//!   and results arrive in the order of the codes.
//! - **What caps concurrency:** nothing needs to: there is exactly one
//!   request in flight at any time, so `-m` is ignored (maximum 1).
//! - **How errors come back:** [`download_one`] turns every failure into a
//!   [`FlagOutcome`]; the loop counts it and goes on.
//! - **Compare with:** `flags-threadpool` (the same [`download_one`], run by
//!   a pool of threads), `flags-process` (the same [`download_one`], run in
//!   worker processes) and `flags-async` (the same steps as tasks).
//!
//! The total time is the sum of every request's time: with a 0.1 s server
//! delay, 194 flags take at least 19.4 s. Every other model exists to beat
//! that number.
//!
//! **Which thread does the I/O:** the calling thread, the only one. One
//! [`HttpClient`] (a `ureq::Agent`) serves the whole run: it keeps the TCP
//! connection open between requests (HTTP keep-alive), so only the first
//! request pays for connecting, and it has no thread of its own: each call
//! connects, sends and receives on the thread that makes it, which sleeps
//! in the kernel while the server thinks. This process has exactly one
//! thread (a test reads `/proc` to check).

pub mod client;
pub mod model;

use flags_core::fetch::FetchError;
use flags_core::save::{flag_file_name, save_flag};
use flags_core::{DownloadJob, FlagOutcome, Progress, SetupError, StatusCounter, interrupt};

pub use client::{BlockingClient, ClientSettings, HttpClient};
pub use model::{SEQ, SeqModel};

/// `-m` when none is given: one request at a time.
///
/// A function in every model crate, not a constant: the process model's
/// default is the number of CPUs, known only when the program runs, and one
/// shape for all four lets every `main` pass it the same way.
pub fn default_max_req() -> usize {
    1
}
/// The most requests this model ever has in flight.
pub const MAX_MAX_REQ: usize = 1;

/// What the one worker, the calling thread, takes from the process limits,
/// for [`flags_core::run`]: one connection at a time.
pub const WORKER_COST: flags_core::limits::WorkerCost = flags_core::limits::WorkerCost::task();

/// Download every flag of `job`, one after another, and count the outcomes.
///
/// Returns `Err` only when the run cannot start (the HTTP client cannot be
/// built); a flag that fails is counted as an error and the loop goes on.
/// Stops early, between two flags, after Ctrl-C.
pub fn download_many(job: &DownloadJob) -> Result<StatusCounter, SetupError> {
    let client = HttpClient::new(job)?;
    let progress = Progress::new(job.country_codes.len(), job.verbose);
    let mut counter = StatusCounter::default();
    for country_code in &job.country_codes {
        // Ctrl-C: stop before starting another download. The one that was
        // in flight has already finished, so nothing is left half done.
        if interrupt::requested() {
            break;
        }
        // The whole model is this line: wait for one flag, then the next.
        let outcome = download_one(&client, country_code, job);
        progress.record(&outcome);
        counter.record(&outcome);
    }
    progress.finish();
    Ok(counter)
}

/// Download one flag, with retries, and save it: every failure becomes an
/// error outcome, a 404 becomes "not found".
///
/// This is the function the thread pool reuses, as the book's
/// `flags2_threadpool.py` imports `download_one` from the sequential
/// script: it is safe to call from many threads at once with one shared
/// `client`. Any [`BlockingClient`] will do: the thread pool also runs it on
/// reqwest's blocking client, for comparison.
pub fn download_one<C>(client: &C, country_code: &str, job: &DownloadJob) -> FlagOutcome
where
    C: BlockingClient + ?Sized,
{
    match fetch_one(client, country_code, job) {
        Ok(image) => match save_flag(&job.dest_dir, &flag_file_name(country_code), &image) {
            Ok(bytes) => FlagOutcome::ok(country_code, bytes),
            Err(error) => FlagOutcome::error(country_code, format!("cannot save: {error}")),
        },
        Err(FetchError::NotFound) => FlagOutcome::not_found(country_code),
        Err(error) => FlagOutcome::error(country_code, error.to_string()),
    }
}

/// The download half of [`download_one`]: one flag's bytes, with the
/// job's retries and backoff, cut short by Ctrl-C; nothing is saved.
///
/// For a caller that saves differently: the process model's workers write
/// the flag to a temporary file and leave the rename to their parent.
pub fn fetch_one<C>(
    client: &C,
    country_code: &str,
    job: &DownloadJob,
) -> Result<Vec<u8>, FetchError>
where
    C: BlockingClient + ?Sized,
{
    let policy = flags_core::retry::RetryPolicy::for_job(job);
    let mut attempt = 0;
    loop {
        // Blocks this thread for the whole request, body included.
        match client.get_flag(&job.base_url, country_code) {
            Err(error) if policy.should_retry(attempt, &error) && !interrupt::requested() => {
                // A blocking wait: this thread has nothing else to do. It
                // is cut short by Ctrl-C, and then this error is the
                // code's outcome: no more attempts.
                if interrupt::sleep(policy.delay(attempt, &error)) {
                    break Err(error);
                }
                attempt += 1;
            }
            result => break result,
        }
    }
}

/// The client of a run: [`HttpClient::new`], a name the book's readers look
/// for next to `download_one`.
pub fn http_client(job: &DownloadJob) -> Result<HttpClient, SetupError> {
    HttpClient::new(job)
}
