//! The command line every model binary shares, and the job it describes.
//!
//! The options are declared once here ([`CommonArgs`]); a model with options
//! of its own (`--executor`, `--metadata`) adds them as a second
//! [`clap::Args`] struct, flattened next to these.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{ArgMatches, Args, Command, FromArgMatches};

use crate::UsageError;
use crate::codes::{CodeSelection, expand_cc_args};
use crate::job::{DownloadJob, MAX_RETRY_WAIT};
use crate::url::{ServerChoice, resolve_server};

/// The options of every model binary, as `docs/interface.md` describes them.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// country code, or one letter for all its codes (B = BA..BZ)
    #[arg(value_name = "CC")]
    pub cc: Vec<String>,
    /// all 194 available flags (AD to ZW)
    #[arg(short, long)]
    pub all: bool,
    /// every possible code AA..ZZ (676)
    #[arg(short, long)]
    pub every: bool,
    /// only the first N codes (after sorting)
    #[arg(short, long, value_name = "N", allow_negative_numbers = true,
          value_parser = parse_at_least_one)]
    pub limit: Option<u64>,
    /// maximum concurrent requests (workers, tasks or processes)
    #[arg(short = 'm', long, value_name = "N", default_value = "1",
          allow_negative_numbers = true, value_parser = parse_at_least_one)]
    pub max_req: u64,
    /// LOCAL | DELAY | ERROR | REMOTE (any case) or a base URL
    #[arg(short, long, value_name = "SERVER", default_value = "LOCAL")]
    pub server: String,
    /// one line per code instead of the progress bar
    #[arg(short, long)]
    pub verbose: bool,
    /// where flags are saved
    #[arg(short, long, value_name = "DIR", default_value = "downloaded")]
    pub dest: PathBuf,
    /// per-request timeout
    #[arg(long, value_name = "SECS", default_value = "3.1", allow_negative_numbers = true,
          value_parser = parse_seconds)]
    pub timeout: Duration,
    /// retry transient failures (not 404) with exponential backoff
    #[arg(long, value_name = "N", default_value_t = 0, allow_negative_numbers = true,
          value_parser = parse_retries)]
    pub retries: u32,
    /// also trust the CA certificates in this PEM file, for https
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
}

/// No options beyond the common ones: what `flags-seq` and `flags-process`
/// take.
#[derive(Debug, Clone, Default, Args)]
pub struct NoOptions {}

/// A parsed command line: the server, the job, and the model's own options.
#[derive(Debug, Clone)]
pub struct ParsedArgs<E> {
    /// The server chosen with `-s`.
    pub server: ServerChoice,
    /// What to download, where, and how.
    pub job: DownloadJob,
    /// The model's own options.
    pub options: E,
}

/// The `clap` command of a model: the common options, then the model's own.
pub fn command<E: Args>(default_max_req: usize) -> Command {
    let command = Command::new("flags");
    // The about text is set last: `augment_args` would otherwise take it
    // from the doc comment of the structs.
    E::augment_args(CommonArgs::augment_args(command))
        .about("Download flags of countries (with error handling). Default: the top 20 countries by population.")
        .long_about(None)
        .mut_arg("max_req", |arg| arg.default_value(default_max_req.to_string()))
}

/// Parse a command line (`argv[0]` first), expand the codes, and cap the
/// concurrency at `max_max_req` and the number of codes.
///
/// Every usage error is a [`clap::Error`] whose exit code is 2.
pub fn parse_args<E, I, T>(
    argv: I,
    default_max_req: usize,
    max_max_req: usize,
) -> Result<ParsedArgs<E>, clap::Error>
where
    E: Args + FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut command = command::<E>(default_max_req);
    let matches: ArgMatches = command.try_get_matches_from_mut(argv)?;
    let common = CommonArgs::from_arg_matches(&matches)?;
    let options = E::from_arg_matches(&matches)?;
    let mut to_clap = |error: UsageError| command.error(ErrorKind::ValueValidation, error);
    let server = resolve_server(&common.server).map_err(&mut to_clap)?;
    let selection = CodeSelection {
        every: common.every,
        all: common.all,
        codes: common.cc.clone(),
        limit: common
            .limit
            .map(|limit| usize::try_from(limit).unwrap_or(usize::MAX)),
    };
    let country_codes = expand_cc_args(&selection).map_err(|error| to_clap(error.into()))?;
    if let Some(path) = &common.cacert {
        check_ca_file(path).map_err(|reason| {
            command.error(
                ErrorKind::ValueValidation,
                format!("--cacert {}: {reason}", path.display()),
            )
        })?;
    }
    let requested = usize::try_from(common.max_req).unwrap_or(usize::MAX);
    let max_req = requested.min(max_max_req).min(country_codes.len()).max(1);
    let job = DownloadJob {
        country_codes,
        base_url: server.base_url.clone(),
        dest_dir: common.dest,
        max_req,
        timeout: common.timeout,
        retries: common.retries,
        verbose: common.verbose,
        ca_cert: common.cacert,
        max_retry_wait: MAX_RETRY_WAIT,
    };
    Ok(ParsedArgs {
        server,
        job,
        options,
    })
}

/// Check `--cacert` before the run: a file that cannot be read, or that
/// holds no PEM certificate, is a usage error now rather than one error per
/// flag later.
fn check_ca_file(path: &std::path::Path) -> Result<(), String> {
    crate::fetch::CaFile::read_pem(path).map(drop)
}

/// Parse `-m` and `-l`: a whole number, at least 1.
fn parse_at_least_one(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(number) => Ok(number),
        Err(_) => Err(format!("'{text}' is not a whole number of 1 or more")),
    }
}

/// The most `--retries` a run may ask for: more would only hammer a server
/// that keeps failing.
pub const MAX_RETRIES: u32 = 100;

/// Parse `--retries`: a whole number from 0 to [`MAX_RETRIES`].
fn parse_retries(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(retries) if retries <= MAX_RETRIES => Ok(retries),
        _ => Err(format!(
            "'{text}' is not a whole number from 0 to {MAX_RETRIES}"
        )),
    }
}

/// The shortest `--timeout`, 1 ms. Less is no deadline a client can keep:
/// the clients count in milliseconds, a shorter one ends every connection
/// before it opens, and the run would blame the server ("cannot reach the
/// flag server") for what the command line asked.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// The longest `--timeout`, a day.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// Parse `--timeout`: a number of seconds from [`MIN_TIMEOUT`] to
/// [`MAX_TIMEOUT`].
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    let in_range = seconds.is_finite()
        && seconds >= MIN_TIMEOUT.as_secs_f64()
        && seconds <= MAX_TIMEOUT.as_secs_f64();
    if !in_range {
        return Err(format!(
            "must be from {} (1 ms) to {} seconds, not {text}",
            MIN_TIMEOUT.as_secs_f64(),
            MAX_TIMEOUT.as_secs()
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Print a usage error (or `--help`) the way the contract wants it: the
/// message and the usage on stderr, then the exit code (2 for errors, 0 for
/// help and version).
pub fn report_usage_error(error: &clap::Error, bin_name: &str) -> u8 {
    use std::io::Write;

    let rendered = error.render().to_string();
    // Writes that fail (a closed pipe, a full device) are ignored: the exit
    // code still says what happened, where `print!` would panic.
    if error.use_stderr() {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "{rendered}");
        if !rendered.contains("Usage:") {
            let usage = command::<NoOptions>(1).bin_name(bin_name).render_usage();
            let _ = writeln!(stderr, "\n{usage}");
        }
    } else {
        let mut stdout = std::io::stdout().lock();
        let _ = write!(stdout, "{rendered}");
        let _ = stdout.flush();
    }
    u8::try_from(error.exit_code()).unwrap_or(2)
}
