//! [`DownloadJob`]: everything a model's `download_many` needs to know
//! about one run, whether it came from a command line or a test.

use std::path::PathBuf;
use std::time::Duration;

/// The longest wait before a retry unless a job says otherwise
/// ([`DownloadJob::max_retry_wait`]),
/// also for a `Retry-After` that asks for more: a run is not held for
/// minutes by one server's say-so.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(5);

/// Everything a model's `download_many` needs to know about one run.
#[derive(Debug, Clone, PartialEq)]
pub struct DownloadJob {
    /// The codes to download, upper case, sorted, without duplicates.
    pub country_codes: Vec<String>,
    /// Where flags are found, without a trailing `/`.
    pub base_url: String,
    /// where flags are saved; it exists and can be written to.
    pub dest_dir: PathBuf,
    /// The concurrency to use: min(`-m`, the model's maximum, the number of
    /// codes), and at least 1.
    pub max_req: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries after a failed attempt (not for 404).
    pub retries: u32,
    /// Print one line per code.
    pub verbose: bool,
    /// `--cacert`: a PEM file of CA certificates to trust for https, on top
    /// of the usual web roots (checked to hold at least one certificate).
    pub ca_cert: Option<PathBuf>,
    /// The longest wait before a retry, also when a `Retry-After` asks for
    /// more ([`RetryPolicy::max_delay`](crate::retry::RetryPolicy::max_delay)): [`MAX_RETRY_WAIT`] (5 s) from the
    /// command line, which has no option for it. A test sets a lower one,
    /// so that a server asking for minutes costs it milliseconds.
    pub max_retry_wait: Duration,
}

impl DownloadJob {
    /// A job with the command line's defaults: one request at a time, a
    /// 3.1 s timeout, no retry, quiet.
    pub fn new(
        country_codes: Vec<String>,
        base_url: impl Into<String>,
        dest_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            country_codes,
            base_url: base_url.into(),
            dest_dir: dest_dir.into(),
            max_req: 1,
            timeout: Duration::from_secs_f64(3.1),
            retries: 0,
            verbose: false,
            ca_cert: None,
            max_retry_wait: MAX_RETRY_WAIT,
        }
    }

    /// The same job with another concurrency.
    pub fn with_max_req(mut self, max_req: usize) -> Self {
        self.max_req = max_req.max(1);
        self
    }
}
