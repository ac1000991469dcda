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
//! Then the default run sweeps `m` briefly ([`sweep`]): the four concurrent
//! models at m = 1, 10, 100 and 676 on every code AA..ZZ, 5 ms each, about
//! 20 s more. The delay is short because `m = 1` is the longest run of all
//! (676 x 5 ms = 3.4 s per model); at that delay a model's own costs show
//! from m = 100 on, which is what the short sweep is for. `--sweep` runs
//! the full sweep alone: seven values of `m`, 20 ms each, about 100 s.
//!
//! The parts, in the order a run goes through them:
//!
//! - [`cli`]: the command line, parsed into [`CompareOptions`].
//! - [`run`]: the server and the loop over the rows, each measured into a
//!   [`Row`] of a [`Comparison`] ([`comparison`] holds those types).
//! - [`table`]: the tables printed on stdout.
//! - [`sweep`]: every model at a range of `m` ([`run_sweep`]), with its
//!   table ([`render_sweep_table`]) and chart ([`sweep_chart_of`]); the
//!   default run ends with a short one, `--sweep` runs a full one alone.
//! - [`export`]: `--json` and `--csv`.
//! - this module: [`main`], which strings them together, and the charts
//!   ([`chart_of`], [`sweep_chart_of`], drawn by [`crate::chart`]).

pub mod cli;
pub mod comparison;
pub mod export;
pub mod run;
pub mod sweep;
pub mod table;

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use flags_core::interrupt;

use crate::chart::sweep::{SweepChart, SweepLine, SweepPoint, render_sweep_svg};
use crate::chart::{Chart, ChartRow, render_svg};
use crate::child::{RUN_MODEL_FLAG, child_main};

pub use cli::{
    CompareOptions, DEFAULT_CODE_COUNT, DEFAULT_DELAY, DEFAULT_MAX_REQ, DEFAULT_OUT, SweepOptions,
    default_models, parse_args,
};
pub use comparison::{CompareError, Comparison, Row};
pub use run::run_comparison;
pub use sweep::{Sweep, run_sweep};
pub use table::{render_sweep_table, render_table};

/// The palette index of a row named `name` in every chart of a default
/// run: its place in the default comparison (seq, threadpool, rayon,
/// async, process), then threadpool-reqwest, async-hyper and process-spawn, then curl; so a model has the
/// same colour in the comparison's chart and the sweep's.
pub fn colour_index(name: &str) -> usize {
    crate::models::ALL_MODELS
        .iter()
        .chain(&crate::models::EXTRA_MODELS)
        .position(|model| model.name == name)
        .unwrap_or(crate::models::ALL_MODELS.len() + crate::models::EXTRA_MODELS.len())
}

/// The chart of a sweep: one line per model, its runs by ascending `m`.
pub fn sweep_chart_of(sweep: &Sweep, subtitle: String) -> SweepChart {
    let mut ticks = sweep.max_reqs.clone();
    ticks.retain(|&m| m <= sweep.country_codes.len().max(1));
    let lines = sweep
        .names()
        .into_iter()
        .map(|name| {
            let runs = sweep.runs_of(name);
            let stats: Vec<_> = runs.iter().map(|row| sweep.stats(row)).collect();
            let rss_note = sweep
                .rss_slope_of(name)
                .map(|(m, kib)| format!("{kib:+.0} KiB/req (m={m})"));
            SweepLine {
                label: runs
                    .first()
                    .map_or_else(String::new, |row| row.label.clone()),
                colour: colour_index(name),
                points: runs
                    .iter()
                    .zip(&stats)
                    .map(|(row, stats)| SweepPoint {
                        m: row.max_req,
                        ratio: stats.ratio,
                        cpu_us: stats.cpu_us_per_request,
                        rss_mib: stats.peak_rss_kib.map(|kib| kib as f64 / 1024.0),
                    })
                    .collect(),
                rss_note,
            }
        })
        .collect();
    SweepChart {
        title: format!(
            "flags-compare --sweep: {} flags, server delay {} s, m = {}",
            sweep.country_codes.len(),
            sweep.delay.as_secs_f64(),
            sweep::join(&sweep.max_reqs)
        ),
        subtitle,
        ticks,
        lines,
    }
}

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
    write_file(path, &svg)
}

/// Draw the chart of `sweep` and write it to `path`.
pub fn write_sweep_chart(sweep: &Sweep, path: &Path) -> Result<(), CompareError> {
    let svg =
        render_sweep_svg(&sweep_chart_of(sweep, machine_line())).map_err(CompareError::Draw)?;
    write_file(path, &svg)
}

/// Write `contents` to `path`.
fn write_file(path: &Path, contents: &str) -> Result<(), CompareError> {
    std::fs::write(path, contents).map_err(|source| CompareError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Write `--json` and `--csv`, when asked.
fn write_exports(
    options: &CompareOptions,
    comparison: Option<&Comparison>,
    sweep: Option<&Sweep>,
) -> Result<(), CompareError> {
    let report = export::report(comparison, sweep);
    if let Some(path) = &options.json {
        write_file(path, &export::to_json(&report).map_err(CompareError::Json)?)?;
        println!("JSON: {}", path.display());
    }
    if let Some(path) = &options.csv {
        write_file(path, &export::to_csv(&report).map_err(CompareError::Json)?)?;
        println!("CSV: {}", path.display());
    }
    Ok(())
}

/// The first output path whose folder does not exist, as a usage error's
/// message.
fn missing_folder(options: &CompareOptions) -> Option<String> {
    let mut paths = vec![
        ("--json", options.json.as_ref()),
        ("--csv", options.csv.as_ref()),
    ];
    if !options.sweep_only {
        paths.insert(0, ("--out", Some(&options.out)));
    }
    if let Some(sweep) = &options.sweep {
        let name = if options.sweep_only {
            "--out"
        } else {
            "--sweep-out"
        };
        paths.push((name, Some(&sweep.out)));
    }
    paths.into_iter().find_map(|(name, path)| {
        let path = path?;
        let parent = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())?;
        (!parent.is_dir()).then(|| {
            format!(
                "flags-compare: {name} {}: the folder {} does not exist",
                path.display(),
                parent.display()
            )
        })
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
    if let Some(message) = missing_folder(&options) {
        eprintln!("{message}");
        return ExitCode::from(flags_core::EXIT_USAGE);
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
    match run_all(&options, &program) {
        Ok((interrupted, all_ok)) if interrupted => {
            let _ = all_ok;
            ExitCode::from(interrupt::EXIT_INTERRUPTED)
        }
        Ok((_, true)) => ExitCode::SUCCESS,
        Ok((_, false)) => ExitCode::from(flags_core::EXIT_ERROR),
        Err(error) => {
            eprintln!("flags-compare: {error}");
            ExitCode::from(flags_core::EXIT_ERROR)
        }
    }
}

/// The comparison (unless `--sweep`), then the sweep (unless
/// `--no-sweep` or Ctrl-C), each printed and charted, then `--json` and
/// `--csv`: whether Ctrl-C cut it short, and whether every run was right.
fn run_all(options: &CompareOptions, program: &Path) -> Result<(bool, bool), CompareError> {
    let mut comparison = None;
    if !options.sweep_only {
        let compared = run_comparison(options, program, &mut io::stderr())?;
        print!("\n{}", render_table(&compared));
        write_chart(&compared, &options.out)?;
        println!("\nChart: {}", options.out.display());
        comparison = Some(compared);
    }
    let mut interrupted = comparison.as_ref().is_some_and(|c| c.interrupted);
    let mut swept = None;
    if let (Some(sweep_options), false) = (&options.sweep, interrupted) {
        let sweep = run_sweep(sweep_options, program, &mut io::stderr())?;
        print!("\n{}", render_sweep_table(&sweep));
        write_sweep_chart(&sweep, &sweep_options.out)?;
        println!("\nSweep chart: {}", sweep_options.out.display());
        interrupted = sweep.interrupted;
        swept = Some(sweep);
    }
    write_exports(options, comparison.as_ref(), swept.as_ref())?;
    let all_ok = comparison.as_ref().is_none_or(Comparison::all_ok)
        && swept.as_ref().is_none_or(Sweep::all_ok);
    Ok((interrupted, all_ok))
}
