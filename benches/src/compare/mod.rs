//! `flags-compare`: every model on the same codes, against one in-process
//! flag server with a fixed delay, one after another, each in a child
//! process of its own; then a table and a chart.
//!
//! The defaults (the first 40 codes of `-a`, a 0.2 s delay, `-m 10`) are
//! chosen to finish in about 12 s on two cores and still tell the models
//! apart: the sequential model needs 40 x 0.2 = 8 s, every concurrent one
//! needs 4 rounds of 10 requests, 0.8 s. Why 0.2 s and not 0.1 s: what a
//! model costs besides waiting (starting its process, its threads or its
//! worker processes, connecting, stopping) is a fixed 25 to 50 ms on a
//! loaded two-core machine. Against a 0.4 s bound that is up to 13%, and
//! the ratios would mostly measure start-up; against 0.8 s it is under 7%,
//! and the waiting, which is what the models differ in, dominates. (The
//! book's DELAY server waits 0.5 to 5 s per flag: 0.2 s is still short.)
//!
//! The parts, in the order a run goes through them:
//!
//! - [`cli`]: the command line, parsed into [`CompareOptions`].
//! - [`run`]: the server and the loop over the rows, each measured into a
//!   [`Row`] of a [`Comparison`] ([`comparison`] holds those types).
//! - [`table`]: the table printed on stdout.
//! - this module: [`main`], which strings them together, and the chart of a
//!   comparison ([`chart_of`], drawn by [`crate::chart`]).

pub mod cli;
pub mod comparison;
pub mod run;
pub mod table;

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use flags_core::interrupt;

use crate::chart::{Chart, ChartRow, render_svg};
use crate::child::{RUN_MODEL_FLAG, child_main};

pub use cli::{
    CompareOptions, DEFAULT_CODE_COUNT, DEFAULT_DELAY, DEFAULT_MAX_REQ, DEFAULT_OUT,
    default_models, parse_args,
};
pub use comparison::{CompareError, Comparison, Row};
pub use run::run_comparison;
pub use table::render_table;

/// The chart of a comparison. The sequential row, when there are others,
/// gets a time axis of its own: it is ten times longer.
pub fn chart_of(comparison: &Comparison, subtitle: String) -> Chart {
    let several = comparison.rows.len() > 1;
    Chart {
        title: format!(
            "flags-compare: {} flags, server delay {} s, -m {}",
            comparison.country_codes.len(),
            comparison.delay.as_secs_f64(),
            comparison.max_req
        ),
        subtitle,
        rows: comparison
            .rows
            .iter()
            .map(|row| ChartRow {
                label: format!("{} (m = {})", row.label, row.max_req),
                name: row.name.clone(),
                wall: row.wall.as_secs_f64(),
                bound: (!row.bound.is_zero()).then_some(row.bound.as_secs_f64()),
                requests: row.timeline.clone(),
                own_scale: several && row.name == "seq",
            })
            .collect(),
    }
}

/// Where and when: CPUs, OS and the UTC date, for the chart's subtitle.
pub fn machine_line() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let date = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(utc_date)
        .unwrap_or_default();
    format!(
        "{cpus} CPUs, {} {}, {date}. Each model ran in a child process of its own; \
         the server ran in the parent.",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// The UTC date `since_epoch` after 1970-01-01 00:00 UTC, as `YYYY-MM-DD`
/// (the `time` crate does the calendar).
///
/// ```
/// use std::time::Duration;
/// use flags_benches::compare::utc_date;
/// assert_eq!(utc_date(Duration::ZERO), "1970-01-01");
/// assert_eq!(utc_date(Duration::from_secs(19_723 * 86_400)), "2024-01-01");
/// assert_eq!(utc_date(Duration::from_secs(11_016 * 86_400 + 86_399)), "2000-02-29");
/// ```
pub fn utc_date(since_epoch: Duration) -> String {
    i64::try_from(since_epoch.as_secs())
        .ok()
        .and_then(|seconds| time::OffsetDateTime::from_unix_timestamp(seconds).ok())
        .map(|moment| moment.date().to_string())
        .unwrap_or_default()
}

/// Draw the chart of `comparison` and write it to `path`.
pub fn write_chart(comparison: &Comparison, path: &Path) -> Result<(), CompareError> {
    let svg = render_svg(&chart_of(comparison, machine_line())).map_err(CompareError::Draw)?;
    std::fs::write(path, svg).map_err(|source| CompareError::Chart {
        path: path.to_path_buf(),
        source,
    })
}

/// The whole of `flags-compare`, from its command line to its exit status:
/// 0 when every row ran and saved what it should, 1 when one did not (or
/// nothing could be compared), 2 for a usage error, 130 after Ctrl-C.
///
/// Called with `--run-model NAME ...` first, it is a child instead: see
/// [`crate::child`].
pub fn main(argv: Vec<OsString>) -> ExitCode {
    if argv.get(1).is_some_and(|arg| arg == RUN_MODEL_FLAG) {
        return child_main(&argv[1..]);
    }
    let options = match parse_args(argv) {
        Ok(options) => options,
        Err(error) => return ExitCode::from(cli::report_usage_error(&error)),
    };
    if let Some(parent) = options
        .out
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        if !parent.is_dir() {
            eprintln!(
                "flags-compare: --out {}: the folder {} does not exist",
                options.out.display(),
                parent.display()
            );
            return ExitCode::from(flags_core::EXIT_USAGE);
        }
    }
    // Ctrl-C: finish with the rows that ran (the child running is stopped
    // by the same Ctrl-C), print them, and exit 130.
    if let Err(error) = interrupt::install() {
        eprintln!("flags-compare: Ctrl-C will not stop cleanly: {error}");
    }
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(error) => {
            eprintln!("flags-compare: cannot find my own executable to re-run it: {error}");
            return ExitCode::from(flags_core::EXIT_ERROR);
        }
    };
    let comparison = match run_comparison(&options, &program, &mut io::stderr()) {
        Ok(comparison) => comparison,
        Err(error) => {
            eprintln!("flags-compare: {error}");
            return ExitCode::from(flags_core::EXIT_ERROR);
        }
    };
    print!("\n{}", render_table(&comparison));
    if let Err(error) = write_chart(&comparison, &options.out) {
        eprintln!("flags-compare: {error}");
        return ExitCode::from(flags_core::EXIT_ERROR);
    }
    println!("\nChart: {}", options.out.display());
    if comparison.interrupted {
        ExitCode::from(interrupt::EXIT_INTERRUPTED)
    } else if comparison.all_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(flags_core::EXIT_ERROR)
    }
}
