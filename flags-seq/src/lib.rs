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
//! One [`reqwest::blocking::Client`] serves the whole run: it keeps the TCP
//! connection open between requests (HTTP keep-alive), so only the first
//! request pays for connecting.

use std::io::Read;
use std::time::Duration;

use flags_core::retry::{FetchError, MAX_BODY_BYTES, body_capacity, check_body, error_chain};
use flags_core::save::{flag_file_name, save_flag};
use flags_core::url::{flag_url, lookup_host};
use flags_core::{DownloadJob, FlagOutcome, Progress, SetupError, StatusCounter, interrupt};
use reqwest::blocking::{Client, Response};

/// `-m` when none is given: one request at a time.
pub const DEFAULT_MAX_REQ: usize = 1;
/// The most requests this model ever has in flight.
pub const MAX_MAX_REQ: usize = 1;

/// Download every flag of `job`, one after another, and count the outcomes.
///
/// Returns `Err` only when the run cannot start (the HTTP client cannot be
/// built); a flag that fails is counted as an error and the loop goes on.
/// Stops early, between two flags, after Ctrl-C.
pub fn download_many(job: &DownloadJob) -> Result<StatusCounter, SetupError> {
    let client = http_client(job.timeout, &job.base_url)?;
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
/// `client`.
pub fn download_one(client: &Client, country_code: &str, job: &DownloadJob) -> FlagOutcome {
    let policy = job.retry_policy();
    let mut attempt = 0;
    let fetched = loop {
        match get_flag(client, &job.base_url, country_code) {
            Err(error) if policy.should_retry(attempt, &error) && !interrupt::requested() => {
                // A blocking wait: this thread has nothing else to do.
                std::thread::sleep(policy.delay(attempt, &error));
                attempt += 1;
            }
            result => break result,
        }
    };
    match fetched {
        Ok(image) => match save_flag(&job.dest_dir, &flag_file_name(country_code), &image) {
            Ok(bytes) => FlagOutcome::ok(country_code, bytes),
            Err(error) => FlagOutcome::error(country_code, format!("cannot save: {error}")),
        },
        Err(FetchError::NotFound) => FlagOutcome::not_found(country_code),
        Err(error) => FlagOutcome::error(country_code, error.to_string()),
    }
}

/// Fetch one flag's bytes: one attempt, no retry.
pub fn get_flag(
    client: &Client,
    base_url: &str,
    country_code: &str,
) -> Result<Vec<u8>, FetchError> {
    let response = client
        .get(flag_url(base_url, country_code))
        // Blocks this thread until the status line and headers arrive.
        .send()
        .map_err(|error| FetchError::Transport(error_chain(&error)))?;
    read_body(check_status(response)?)
}

/// Build the one client of a run: a timeout for each whole request, no
/// limit on idle connections kept for reuse, and the server's name looked
/// up once.
///
/// reqwest looks up the host of every new connection; a pool of 30 or 676
/// threads opens that many connections to the same host. Here the name is
/// looked up once, now, and the client told the answer
/// ([`lookup_host`]); a URL with an IP address needs no lookup, and if this
/// one fails, each connection tries again on its own (and reports the
/// error).
///
/// TCP keep-alive probes are off: they find dead peers on connections left
/// idle for minutes, while every request here has its own timeout and a
/// run lasts seconds. Each probe setting is one more system call for every
/// new connection.
pub fn http_client(timeout: Duration, base_url: &str) -> Result<Client, SetupError> {
    let mut builder = Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .tcp_keepalive(None)
        .tcp_keepalive_interval(None)
        .tcp_keepalive_retries(None);
    if let Some((host, addresses)) = lookup_host(base_url) {
        builder = builder.resolve_to_addrs(&host, &addresses);
    }
    builder
        .build()
        .map_err(|error| SetupError::Client(error_chain(&error)))
}

/// Turn every status but 200 into a [`FetchError`].
fn check_status(response: Response) -> Result<Response, FetchError> {
    let status = response.status();
    let retry_after = response.headers().get(reqwest::header::RETRY_AFTER);
    flags_core::retry::check_status(
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        // A `Retry-After` that is not visible ASCII is treated as absent:
        // the usual backoff applies, as for any other unreadable value.
        retry_after.and_then(|value| value.to_str().ok()),
    )?;
    Ok(response)
}

/// Read a body of at most [`MAX_BODY_BYTES`]; a longer one is refused
/// without reading it all, a truncated one is a transport error.
fn read_body(response: Response) -> Result<Vec<u8>, FetchError> {
    let declared = response.content_length();
    let mut image = Vec::with_capacity(body_capacity(declared)?);
    // Read one byte past the cap: if it comes, the body is too large. This
    // blocks the thread until the body ends (or the timeout fires).
    response
        .take(MAX_BODY_BYTES + 1)
        .read_to_end(&mut image)
        .map_err(|error| FetchError::Transport(error_chain(&error)))?;
    if image.len() as u64 > MAX_BODY_BYTES {
        return Err(FetchError::TooLarge);
    }
    check_body(image, declared)
}
