//! `flags-compare`: every model on the same codes, against one in-process
//! flag server with a fixed delay, each run in a child process of its own,
//! every model several times, interleaved; then a table and a chart.
//!
//! The defaults (the first 40 codes of `-a`, a 0.1 s delay, `-m 10`, three
//! runs of each model after one warm-up round) are chosen to finish in
//! about a minute on two cores, the short sweep included, and still tell
//! the models apart: the sequential model needs 40 x 0.1 = 4 s a run, every
//! concurrent one 4 rounds of 10 requests, 0.4 s. A round of the six
//! rows takes about 6.5 s, so the four rounds take about 26 s. What a
//! model costs besides waiting (starting its process, its threads or its
//! worker processes, connecting, stopping) is a fixed 25 to 50 ms on a
//! loaded two-core machine: 6 to 12% of the 0.4 s bound. A 0.2 s delay
//! would halve that share but double every run, and three runs of a seq
//! that waits 8 s would not fit in the minute; the median of three runs
//! and their spread say more about how far a row can be trusted than one
//! run against a longer bound. (The book's DELAY server waits 0.5 to 5 s
//! per flag: 0.1 s is still short.)
//!
//! Then the default run sweeps `m` briefly ([`sweep`]): the five concurrent
//! rows at m = 1, 10, 100 and 676 on every code AA..ZZ, 5 ms each, one
//! run per point (its table says so), about 20 s more. The delay is short
//! because `m = 1` is the longest run of all (676 x 5 ms = 3.4 s per
//! model); at that delay a model's own costs show from m = 100 on, which is
//! what the short sweep is for. `--sweep` runs the full sweep alone: seven
//! values of `m`, 20 ms each, about 100 s a run. `--runs` and `--warmup`
//! apply to the comparison and the sweep alike.
//!
//! The parts, in the order a run goes through them:
//!
//! - `cli`: the command line, parsed into [`CompareOptions`].
//! - [`run`]: the server and the interleaved loop over the runs, each
//!   measured into a [`comparison::Sample`] of a [`Row`] of a
//!   [`Comparison`] (`comparison` holds those types).
//! - [`stats`]: what a row's runs are summed up to (median, min–max) and
//!   the warnings (a wide spread, a busy machine).
//! - `table`: the tables.
//! - [`sweep`]: every model at a range of `m` ([`run_sweep`]), with its
//!   table ([`render_sweep_table`]) and chart ([`sweep_chart_of`]); the
//!   default run ends with a short one, `--sweep` runs a full one alone.
//! - [`export`]: `--json` and `--csv`; `markdown`: `--export-markdown`;
//!   `html`: `--html`, one page with everything; [`results`]:
//!   `--results DIR`, the standard set and its page.
//! - this module: [`main`], which strings them together, and the charts
//!   ([`chart_of`], [`sweep_chart_of`], drawn by [`crate::chart`]).

pub(crate) mod cli;
pub(crate) mod comparison;
pub mod export;
pub(crate) mod html;
pub(crate) mod markdown;
pub mod results;
pub mod run;
pub mod stats;
pub mod sweep;
pub(crate) mod table;

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use flags_core::interrupt;

use crate::chart::sweep::{SweepChart, SweepLine, SweepPoint, render_sweep_svg};
use crate::chart::{Chart, ChartRow, render_svg};
use crate::child::{RUN_MODEL_FLAG, child_main};

pub use cli::{
    CompareOptions, DEFAULT_CODE_COUNT, DEFAULT_DELAY, DEFAULT_MAX_REQ, DEFAULT_OUT, DEFAULT_RUNS,
    DEFAULT_WARMUP, Destination, SweepOptions, default_models, parse_args,
};
pub use comparison::{CompareError, Comparison, Repetition, Row, Sample};
pub use run::run_comparison;
pub use sweep::{Sweep, run_sweep};
pub use table::{render_sweep_table, render_table};

/// The palette index of a row named `name` in every chart of a default
/// run: its place among the rows (seq, threadpool, rayon, threads, async,
/// process, then threadpool-reqwest and process-spawn), then curl; so a
/// row has the same colour in the comparison's chart and the sweep's.
pub fn colour_index(name: &str) -> usize {
    crate::models::every_variant()
        .position(|variant| variant.name == name)
        .unwrap_or_else(|| crate::models::every_variant().count())
}

/// The chart of a sweep: one line per model, its rows by ascending `m`.
pub fn sweep_chart_of(sweep: &Sweep, subtitle: String) -> SweepChart {
    let mut ticks = sweep.max_reqs.clone();
    ticks.retain(|&m| m <= sweep.country_codes.len().max(1));
    let lines = sweep
        .names()
        .into_iter()
        .map(|name| {
            let rows = sweep.runs_of(name);
            let rss_note = sweep
                .rss_slope_of(name)
                .map(|(m, kib)| format!("{kib:+.0} KiB/req (m={m})"));
            SweepLine {
                label: rows
                    .first()
                    .map_or_else(String::new, |row| row.label.clone()),
                colour: colour_index(name),
                points: rows
                    .iter()
                    .map(|row| {
                        let stats = sweep.stats(row);
                        let bound = row.bound.as_secs_f64();
                        let over_bound = |seconds: f64| (bound > 0.0).then(|| seconds / bound);
                        SweepPoint {
                            m: row.max_req,
                            ratio: stats.ratio,
                            ratio_spread: stats.wall.filter(|_| row.ran().count() > 1).and_then(
                                |wall| Some((over_bound(wall.min)?, over_bound(wall.max)?)),
                            ),
                            cpu_bound_ratio: stats
                                .cpu_bound
                                .and_then(|cpu_bound| over_bound(cpu_bound.as_secs_f64())),
                            cpu_us: stats.cpu_us_per_request,
                            rss_mib: stats.peak_rss_kib.map(|kib| kib as f64 / 1024.0),
                        }
                    })
                    .collect(),
                rss_note,
            }
        })
        .collect();
    SweepChart {
        title: format!(
            "flags-compare --sweep: {}, server delay {} s, m = {}",
            run::codes_phrase(&sweep.country_codes),
            sweep.delay.as_secs_f64(),
            sweep::join(&sweep.max_reqs),
        ),
        subtitle: format!(
            "{}. {subtitle}",
            runs_phrase(sweep.repetition.runs, "point")
        ),
        ticks,
        lines,
    }
}

/// `Median of 3 runs per model, whiskers min–max`, or `1 run per point`.
fn runs_phrase(runs: usize, per: &str) -> String {
    if runs == 1 {
        format!("1 run per {per}")
    } else {
        format!("Median of {runs} runs per {per}, interleaved; whiskers: min–max")
    }
}

/// The chart of a comparison: each row's median wall time with its
/// spread, and the timeline of its median run. The sequential row, when
/// there are others, gets a time axis of its own: it is ten times longer.
pub fn chart_of(comparison: &Comparison, subtitle: String) -> Chart {
    let several = comparison.rows.len() > 1;
    Chart {
        title: format!(
            "flags-compare: {}, server delay {} s, -m {}",
            run::codes_phrase(&comparison.country_codes),
            comparison.delay.as_secs_f64(),
            comparison.max_req,
        ),
        subtitle: format!(
            "{}. {subtitle}",
            runs_phrase(comparison.repetition.runs, "model")
        ),
        rows: comparison
            .rows
            .iter()
            .map(|row| {
                let wall = row.wall();
                let ran = row.ran().count();
                let charted = row.charted();
                ChartRow {
                    label: format!("{} (m = {})", row.label, row.max_req),
                    name: row.name.clone(),
                    wall: wall.map_or(0.0, |wall| wall.median),
                    spread: wall.filter(|_| ran > 1).map(|wall| (wall.min, wall.max)),
                    bound: (!row.bound.is_zero()).then_some(row.bound.as_secs_f64()),
                    run_wall: charted.map_or(0.0, |sample| sample.wall.as_secs_f64()),
                    run_note: match charted {
                        Some(sample) if ran > 1 => {
                            format!("run {} of {ran}, the median", sample.round)
                        }
                        _ => String::new(),
                    },
                    requests: charted.map_or_else(Vec::new, |sample| sample.timeline.clone()),
                    own_scale: several && row.name == "seq",
                }
            })
            .collect(),
    }
}

/// Where and when: CPUs, OS and the UTC date, for the chart's subtitle.
pub(crate) fn machine_line() -> String {
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
pub(crate) fn utc_date(since_epoch: Duration) -> String {
    i64::try_from(since_epoch.as_secs())
        .ok()
        .and_then(|seconds| time::OffsetDateTime::from_unix_timestamp(seconds).ok())
        .map(|moment| moment.date().to_string())
        .unwrap_or_default()
}

/// The chart of `comparison`, as an SVG document.
pub(crate) fn comparison_svg(comparison: &Comparison) -> Result<String, CompareError> {
    render_svg(&chart_of(comparison, machine_line())).map_err(CompareError::Draw)
}

/// The chart of `sweep`, as an SVG document.
pub(crate) fn sweep_svg(sweep: &Sweep) -> Result<String, CompareError> {
    render_sweep_svg(&sweep_chart_of(sweep, machine_line())).map_err(CompareError::Draw)
}

pub(crate) fn write_file(path: &Path, contents: &str) -> Result<(), CompareError> {
    std::fs::write(path, contents).map_err(|source| CompareError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// What one invocation measured and drew, for the exports.
struct Measured {
    comparison: Option<(Comparison, String)>,
    sweep: Option<(Sweep, String)>,
}

/// Write `--json`, `--csv`, `--export-markdown` and `--html`, when asked;
/// each file's path is said on `human`.
fn write_exports(
    options: &CompareOptions,
    measured: &Measured,
    human: &mut dyn Write,
) -> Result<(), CompareError> {
    let comparison = measured.comparison.as_ref().map(|(c, _)| c);
    let sweep = measured.sweep.as_ref().map(|(s, _)| s);
    let report = export::report(&options.command, comparison, sweep);
    let mut send = |destination: &Destination, what: &str, text: &str| {
        match destination {
            Destination::Stdout => {
                let mut stdout = io::stdout().lock();
                stdout
                    .write_all(text.as_bytes())
                    .and_then(|()| stdout.flush())
                    .map_err(|source| CompareError::Write {
                        path: "-".into(),
                        source,
                    })?;
            }
            Destination::File(path) => {
                write_file(path, text)?;
                let _ = writeln!(human, "{what}: {}", path.display());
            }
        }
        Ok::<(), CompareError>(())
    };
    if let Some(destination) = &options.json {
        send(
            destination,
            "JSON",
            &export::to_json(&report).map_err(CompareError::Json)?,
        )?;
    }
    if let Some(destination) = &options.csv {
        send(
            destination,
            "CSV",
            &export::to_csv(&report).map_err(CompareError::Json)?,
        )?;
    }
    if let Some(path) = &options.markdown {
        send(
            &Destination::File(path.clone()),
            "Markdown",
            &markdown::to_markdown(&report.reproduce, comparison, sweep),
        )?;
    }
    if let Some(path) = &options.html {
        let page = html::Page {
            title: "flags-compare".to_string(),
            reproduce: report.reproduce.clone(),
            machine: report.machine.clone(),
            comparison: measured
                .comparison
                .as_ref()
                .map(|(c, svg)| (c, svg.as_str())),
            sweep: measured.sweep.as_ref().map(|(s, svg)| (s, svg.as_str())),
        };
        send(
            &Destination::File(path.clone()),
            "HTML",
            &html::to_html(&page),
        )?;
    }
    Ok(())
}

/// The first output path whose folder does not exist, as a usage error's
/// message.
fn missing_folder(options: &CompareOptions) -> Option<String> {
    let mut paths = vec![
        ("--json", options.json.as_ref().and_then(Destination::file)),
        ("--csv", options.csv.as_ref().and_then(Destination::file)),
        ("--export-markdown", options.markdown.as_deref()),
        ("--html", options.html.as_deref()),
    ];
    if !options.sweep_only {
        paths.insert(0, ("--out", Some(options.out.as_path())));
    }
    if let Some(sweep) = &options.sweep {
        let name = if options.sweep_only {
            "--out"
        } else {
            "--sweep-out"
        };
        paths.push((name, Some(sweep.out.as_path())));
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
    // by the same Ctrl-C), print them, and exit 130 (129 after SIGHUP).
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
    let outcome = match &options.results {
        Some(dir) => results::run_results(
            dir,
            &results::standard_set(),
            &options.command,
            &program,
            &mut io::stderr(),
        ),
        None => run_all(&options, &program),
    };
    match outcome {
        Ok((interrupted, all_ok)) if interrupted => {
            let _ = all_ok;
            // 130 after Ctrl-C or SIGTERM, 129 after SIGHUP.
            ExitCode::from(interrupt::stop_status().unwrap_or(interrupt::EXIT_INTERRUPTED))
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
/// `--no-sweep` or Ctrl-C), each printed and charted, then the exports:
/// whether Ctrl-C cut it short, and whether every run was right.
///
/// The tables and every line for a reader go to stdout, or to stderr when
/// `--json -` or `--csv -` takes stdout for its data; the warnings go to
/// stderr.
fn run_all(options: &CompareOptions, program: &Path) -> Result<(bool, bool), CompareError> {
    let mut human: Box<dyn Write> = if options.data_on_stdout() {
        Box::new(io::stderr())
    } else {
        Box::new(io::stdout())
    };
    let mut measured = Measured {
        comparison: None,
        sweep: None,
    };
    if !options.sweep_only {
        let compared = run_comparison(options, program, &mut io::stderr())?;
        let _ = write!(human, "\n{}", render_table(&compared));
        let svg = comparison_svg(&compared)?;
        write_file(&options.out, &svg)?;
        let _ = writeln!(human, "\nChart: {}", options.out.display());
        warn(&compared.warnings());
        measured.comparison = Some((compared, svg));
    }
    let mut interrupted = measured
        .comparison
        .as_ref()
        .is_some_and(|(c, _)| c.interrupted);
    if let (Some(sweep_options), false) = (&options.sweep, interrupted) {
        let sweep = run_sweep(sweep_options, program, &mut io::stderr())?;
        let _ = write!(human, "\n{}", render_sweep_table(&sweep));
        let svg = sweep_svg(&sweep)?;
        write_file(&sweep_options.out, &svg)?;
        let _ = writeln!(human, "\nSweep chart: {}", sweep_options.out.display());
        warn(&sweep.warnings());
        interrupted = sweep.interrupted;
        measured.sweep = Some((sweep, svg));
    }
    write_exports(options, &measured, &mut human)?;
    let _ = human.flush();
    let all_ok = measured.comparison.as_ref().is_none_or(|(c, _)| c.all_ok())
        && measured.sweep.as_ref().is_none_or(|(s, _)| s.all_ok());
    Ok((interrupted, all_ok))
}

/// Print the warning lines on stderr, after an empty line.
fn warn(warnings: &[String]) {
    if !warnings.is_empty() {
        eprintln!();
    }
    for warning in warnings {
        eprintln!("{warning}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_date_examples() {
        use crate::compare::utc_date;
        use std::time::Duration;
        assert_eq!(utc_date(Duration::ZERO), "1970-01-01");
        assert_eq!(utc_date(Duration::from_secs(19_723 * 86_400)), "2024-01-01");
        assert_eq!(
            utc_date(Duration::from_secs(11_016 * 86_400 + 86_399)),
            "2000-02-29"
        );
    }
}
