//! The command line of `flags-compare`: its options, their defaults, and
//! how a usage error is reported.
//!
//! [`parse_args`] turns `argv` into [`CompareOptions`], the plain data the
//! run loop ([`super::run`]) works from: codes expanded and sorted as the
//! models do it, models deduplicated in the order given. Every usage error
//! is a [`clap::Error`] with exit status 2, like the model binaries'.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, Parser, value_parser};
use flags_core::codes::{CodeSelection, expand_cc_args};

use crate::models::{ALL_MODELS, Model, model_by_name, model_names};

/// How many codes of the `-a` list are used when none is given.
pub const DEFAULT_CODE_COUNT: usize = 40;
/// The default `--delay`, in seconds.
pub const DEFAULT_DELAY: &str = "0.2";
/// The default `-m`.
pub const DEFAULT_MAX_REQ: usize = 10;
/// The default `--out`.
pub const DEFAULT_OUT: &str = "flags-compare.svg";

/// The command line of `flags-compare`.
#[derive(Debug, Parser)]
#[command(
    name = "flags-compare",
    about = "Run every concurrency model on the same flags, against an in-process flag server, \
             and compare them: a table on stdout and an SVG chart.",
    after_help = "With no CC and no -a: the first 40 codes of the -a list. \
                  Each model runs in a child process of its own, so its peak memory is its own."
)]
struct CompareArgs {
    /// Country code, or one letter for all its codes (B = BA..BZ)
    #[arg(value_name = "CC")]
    cc: Vec<String>,
    /// All 194 available flags (AD to ZW)
    #[arg(short, long)]
    all: bool,
    /// Only the first N codes (after sorting)
    #[arg(short, long, value_name = "N", value_parser = value_parser!(u64).range(1..))]
    limit: Option<u64>,
    /// Maximum concurrent requests, the same for every model
    #[arg(short = 'm', long, value_name = "N", default_value_t = DEFAULT_MAX_REQ as u64,
          value_parser = value_parser!(u64).range(1..=1000))]
    max_req: u64,
    /// The server's delay before each answer, in seconds
    #[arg(long, value_name = "SECS", default_value = DEFAULT_DELAY, value_parser = parse_delay)]
    delay: Duration,
    /// The models to run, comma-separated, in this order (also
    /// threadpool-reqwest: the std pool on reqwest::blocking)
    #[arg(long, value_name = "LIST", value_delimiter = ',',
          default_value = "seq,threadpool,rayon,async,process", value_parser = parse_model)]
    models: Vec<&'static Model>,
    /// Where to write the SVG chart
    #[arg(long, value_name = "PATH", default_value = DEFAULT_OUT)]
    out: PathBuf,
    /// Add a row for `curl --parallel` on the same URLs (when curl is installed)
    #[arg(long)]
    peer_curl: bool,
}

/// What to compare, from the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    /// The codes every model downloads: upper case, sorted, distinct.
    pub country_codes: Vec<String>,
    /// The server's delay before each answer.
    pub delay: Duration,
    /// `-m`: the concurrency asked of every model (each caps it at its own
    /// maximum and at the number of codes).
    pub max_req: usize,
    /// The models to run, in order, without repeats.
    pub models: Vec<&'static Model>,
    /// Where the chart goes.
    pub out: PathBuf,
    /// Add the `curl --parallel` row.
    pub peer_curl: bool,
}

/// `--delay`: a number of seconds, from 0 to 60.
fn parse_delay(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if !(seconds.is_finite() && (0.0..=60.0).contains(&seconds)) {
        return Err(format!("must be from 0 to 60 seconds, not {text}"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// One name of `--models`.
fn parse_model(text: &str) -> Result<&'static Model, String> {
    model_by_name(text).ok_or_else(|| format!("no model '{text}': choose among {}", model_names()))
}

/// Parse the command line of `flags-compare` (`argv[0]` first).
///
/// Every usage error (a bad code, `-m 0`, an unknown model, a bad delay) is
/// a [`clap::Error`] whose exit code is 2; `--help` is one whose exit code
/// is 0.
pub fn parse_args<I, T>(argv: I) -> Result<CompareOptions, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = CompareArgs::try_parse_from(argv)?;
    let use_default_codes = args.cc.is_empty() && !args.all;
    let limit = match args.limit {
        Some(limit) => Some(usize::try_from(limit).unwrap_or(usize::MAX)),
        None if use_default_codes => Some(DEFAULT_CODE_COUNT),
        None => None,
    };
    let selection = CodeSelection {
        every: false,
        all: args.all || args.cc.is_empty(),
        codes: args.cc,
        limit,
    };
    let country_codes = expand_cc_args(&selection).map_err(|error| {
        CompareArgs::command().error(clap::error::ErrorKind::ValueValidation, error)
    })?;
    let mut models: Vec<&'static Model> = Vec::new();
    for model in args.models {
        if !models.contains(&model) {
            models.push(model);
        }
    }
    Ok(CompareOptions {
        country_codes,
        delay: args.delay,
        max_req: usize::try_from(args.max_req).unwrap_or(usize::MAX),
        models,
        out: args.out,
        peer_curl: args.peer_curl,
    })
}

/// Print a usage error the way the model binaries do (the message, then
/// the usage, on stderr) or `--help` on stdout; the exit status to use.
pub(super) fn report_usage_error(error: &clap::Error) -> u8 {
    let rendered = error.render().to_string();
    if error.use_stderr() {
        eprint!("{rendered}");
        if !rendered.contains("Usage:") {
            eprintln!("\n{}", CompareArgs::command().render_usage());
        }
    } else {
        print!("{rendered}");
    }
    u8::try_from(error.exit_code()).unwrap_or(flags_core::EXIT_USAGE)
}

/// Every model's name, for `--help` and tests: the default of `--models`.
pub fn default_models() -> Vec<&'static Model> {
    ALL_MODELS.iter().collect()
}
