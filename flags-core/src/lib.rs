//! What every concurrency model shares, and nothing about concurrency.
//!
//! The model crates (`flags-seq`, `flags-threadpool`, `flags-async`,
//! `flags-process`) differ only in how they schedule downloads. Everything
//! else lives here, once, the way the book's `flags2_common.py` serves all
//! its scripts:
//!
//! - [`countries`]: the 20 most populous countries, the 194 flags, `AA..ZZ`.
//! - [`codes`]: turning `CC` arguments, `-a`, `-e` and `-l` into codes.
//! - [`url`]: server labels and the URL of each flag.
//! - [`save`]: writing a flag atomically (temporary file, then rename).
//! - [`status`]: [`DownloadStatus`], [`FlagOutcome`] and [`StatusCounter`].
//! - [`fetch`]: how every HTTP client judges a response (status, body cap,
//!   GIF, encoding) and what it is built with, on plain values.
//! - [`retry`]: the backoff policy, and one line for a client's error.
//! - [`report`]: the lines printed before and after a run.
//! - [`progress`]: the progress bar or the `-v` lines.
//! - [`job`]: the [`DownloadJob`], what a model is asked to do.
//! - [`cli`]: the shared command line, which yields a [`DownloadJob`].
//! - [`interrupt`]: what Ctrl-C, SIGTERM and SIGHUP do.
//! - [`limits`]: how many workers the process limits leave room for.
//! - [`model`]: the [`Model`] interface every model implements, and
//!   [`Variant`], a model with some of its options set.
//! - [`run`]: what every binary's `main` calls.
//! - [`script`]: the `main` of the plain scripts in each model's `examples/`.
//!
//! This crate knows nothing of threads, tokio or child processes: a model
//! receives a [`DownloadJob`] and returns a [`StatusCounter`].

pub mod cli;
pub mod codes;
pub mod countries;
pub mod fetch;
pub mod interrupt;
pub mod job;
pub mod limits;
pub mod model;
pub mod progress;
pub mod redirect;
pub mod report;
pub mod retry;
pub mod save;
pub mod script;
pub mod status;
pub mod url;

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

pub use cli::{NoOptions, ParsedArgs};
pub use job::DownloadJob;
pub use model::{AnyModel, Model, Variant};
pub use progress::Progress;
pub use status::{DownloadStatus, FlagOutcome, FlagResult, StatusCounter};

/// A bad command line: reported with the usage, exit status 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// A `CC` argument that is not a letter or two.
    #[error(transparent)]
    BadCountryCode(#[from] codes::BadCountryCode),
    /// `-s` with a label we do not know.
    #[error("--server must be LOCAL, DELAY, ERROR, REMOTE or a base URL, not '{value}'")]
    UnknownServer {
        /// What was given.
        value: String,
    },
    /// `-s` with a URL that cannot be used.
    #[error("--server '{url}' is not a usable base URL: {reason}")]
    BadUrl {
        /// What was given.
        url: String,
        /// Why it cannot be used.
        reason: String,
    },
}

/// A failure that stops a run before any flag is tried: the run cannot
/// start at all. (A failed flag is not one of these: it is counted.)
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The destination folder cannot be created or written to.
    #[error("cannot use --dest {}: {source}", path.display())]
    Dest {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The flag server cannot be reached at all.
    #[error(
        "cannot reach the flag server at {url} ({reason}); start one with `flags-server` \
         (cargo run --release -p flags-server) or choose another with --server"
    )]
    Unreachable {
        /// The base URL.
        url: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// The model's machinery (a runtime, a pool, worker processes) could
    /// not be started.
    #[error("cannot start the {what}: {reason}")]
    Start {
        /// What could not be started.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

/// Exit status of a run that ended with an error or could not start.
pub const EXIT_ERROR: u8 = 1;
/// Exit status of a usage error.
pub const EXIT_USAGE: u8 = 2;

/// Run a model from the command line, as the book's `flags2_common.main`:
/// parse the arguments (the common ones and the model's own
/// [`Model::Options`]), print the initial report, call
/// [`Model::download_many`], print the final report, and return the exit
/// status (0 when no code ended in error, 1 otherwise or when the server
/// cannot be reached, 2 for a usage error, 130 after Ctrl-C or SIGTERM, 129
/// after SIGHUP).
///
/// When the process limits (`ulimit -v`, `-d`, `-n`) leave room for fewer
/// of the model's workers ([`Model::worker_cost`]) than `-m` asks, `-m` is
/// lowered before the banner, which states what is used, and one line on
/// stderr says which limit decided. A model with worker programs of its
/// own becomes one here, first thing ([`Model::serve_if_worker`]).
pub fn run<M: Model>(model: &M) -> ExitCode {
    model.serve_if_worker();
    run_parsed::<M::Options, _>(
        |job, options| model.download_many(job, options),
        model.default_max_req(),
        model.max_max_req(),
        model.worker_cost(),
    )
}

/// [`run`] on plain parts: the model's own options `E`, its
/// `download_many`, its concurrency and its worker's cost.
fn run_parsed<E, F>(
    download_many: F,
    default_max_req: usize,
    max_max_req: usize,
    worker_cost: limits::WorkerCost,
) -> ExitCode
where
    E: clap::Args + clap::FromArgMatches,
    F: FnOnce(&DownloadJob, &E) -> Result<StatusCounter, SetupError>,
{
    let argv: Vec<_> = std::env::args_os().collect();
    let bin_name = argv
        .first()
        .map(PathBuf::from)
        .and_then(|path| {
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "flags".to_string());
    let mut parsed = match cli::parse_args::<E, _, _>(argv, default_max_req, max_max_req) {
        Ok(parsed) => parsed,
        Err(error) => return ExitCode::from(cli::report_usage_error(&error, &bin_name)),
    };
    // Fewer workers than asked when the process limits leave room for no
    // more: a pool that ran into them would abort (thread stacks filling
    // the address space) or quietly shrink while the banner said otherwise.
    limits::share_one_heap_under_a_memory_limit();
    let fit = limits::fit_workers(parsed.job.max_req, worker_cost);
    if let Some(notice) = fit.notice(parsed.job.max_req) {
        eprint_line(&format!("{bin_name}: {notice}"));
    }
    parsed.job.max_req = fit.workers;
    let job = &parsed.job;
    if let Err(source) = save::prepare_dest(&job.dest_dir) {
        let error = SetupError::Dest {
            path: job.dest_dir.clone(),
            source,
        };
        eprint_line(&format!("{bin_name}: {error}"));
        return ExitCode::from(EXIT_USAGE);
    }
    print_flush(&report::initial_report(
        &parsed.server.label,
        &job.base_url,
        &job.country_codes,
        job.max_req,
    ));
    if let Err(error) = check_reachable(&job.base_url, job.timeout) {
        eprint_line(&format!("{bin_name}: {error}"));
        return ExitCode::from(EXIT_ERROR);
    }
    // From here on Ctrl-C, SIGTERM and SIGHUP set the stop flag rather than
    // end the process: the model stops starting downloads, and the report
    // below still covers what finished.
    if let Err(error) = interrupt::install() {
        eprint_line(&format!(
            "{bin_name}: Ctrl-C will not stop cleanly: {error}"
        ));
    }
    let start = Instant::now();
    let counter = match download_many(job, &parsed.options) {
        Ok(counter) => counter,
        Err(error) => {
            eprint_line(&format!("{bin_name}: {error}"));
            return ExitCode::from(EXIT_ERROR);
        }
    };
    print_flush(&report::final_report(&counter, start.elapsed()));
    // The signal that stopped the run, if one did, picks the exit status.
    ExitCode::from(exit_status(&counter, interrupt::stop_status()))
}

/// The exit status of a finished run: `stop_status` when a signal stopped
/// it ([`interrupt::stop_status`]: 130 after Ctrl-C or SIGTERM, 129 after
/// SIGHUP), else 1 when any code ended in error, else 0.
///
/// ```
/// use flags_core::{StatusCounter, exit_status};
/// assert_eq!(exit_status(&StatusCounter { ok: 3, not_found: 2, error: 0 }, None), 0);
/// assert_eq!(exit_status(&StatusCounter { ok: 3, not_found: 0, error: 1 }, None), 1);
/// assert_eq!(exit_status(&StatusCounter::default(), Some(130)), 130);
/// assert_eq!(exit_status(&StatusCounter { ok: 0, not_found: 0, error: 1 }, Some(129)), 129);
/// ```
pub fn exit_status(counter: &StatusCounter, stop_status: Option<u8>) -> u8 {
    if let Some(status) = stop_status {
        status
    } else if counter.error > 0 {
        EXIT_ERROR
    } else {
        0
    }
}

/// Check once, before the run, that something listens at the server's
/// address, so that a server that is not running is one clear line rather
/// than one error per flag. Only a TCP connection is made: no request, so
/// the server's statistics do not see it.
pub fn check_reachable(base_url: &str, timeout: Duration) -> Result<(), SetupError> {
    let unreachable = |reason: String| SetupError::Unreachable {
        url: url::redact(base_url),
        reason,
    };
    let authority = url::host_and_port(base_url).ok_or_else(|| unreachable("no host".into()))?;
    let addresses = authority
        .to_socket_addrs()
        .map_err(|error| unreachable(error.to_string()))?;
    let mut last_error = None;
    for address in addresses {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(_) => return Ok(()),
            Err(error) => last_error = Some(error),
        }
    }
    Err(unreachable(last_error.map_or_else(
        || "no address".to_string(),
        |error| error.to_string(),
    )))
}

/// Write one line to stderr. A closed or full stderr is ignored: there is
/// nowhere left to say anything, and `eprintln!` would panic instead (Rust
/// ignores SIGPIPE, so a write to a closed pipe is an error, not a signal).
pub fn eprint_line(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
}

fn print_flush(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}
