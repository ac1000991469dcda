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
//! For each model the parent zeroes the server's statistics, spawns the
//! child, waits for it ([`crate::child`]), then reads what the server saw
//! (peak requests in flight, each request's arrival and end) and checks
//! every file the child saved against the server's flags
//! ([`crate::harness::inspect_dest`]).

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use clap::{CommandFactory, Parser, value_parser};
use flags_core::codes::{CodeSelection, expand_cc_args};
use flags_core::{DownloadJob, interrupt};
use flags_server::{Delay, FlagServer, RequestRecord, ServerConfig};

use crate::bound;
use crate::chart::{Chart, ChartRow, render_svg};
use crate::child::{
    ChildRun, RUN_MODEL_FLAG, child_args, child_main, parse_result_line, run_child,
};
use crate::harness::{SavedFlags, inspect_dest};
use crate::models::{ALL_MODELS, Model, model_by_name, model_names};
use crate::peer::{CURL_PARALLEL_MAX, curl_version, run_curl};

/// How many codes of the `-a` list are used when none is given.
pub const DEFAULT_CODE_COUNT: usize = 40;
/// The default `--delay`, in seconds.
pub const DEFAULT_DELAY: &str = "0.2";
/// The default `-m`.
pub const DEFAULT_MAX_REQ: usize = 10;
/// The default `--out`.
pub const DEFAULT_OUT: &str = "flags-compare.svg";
/// The seed of the server's random generator: only fixed delays are used,
/// but a fixed seed keeps any future randomness repeatable.
const SERVER_SEED: u64 = 20;
/// How long to wait, after a child has exited, for the server to finish
/// logging its last requests.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(2);

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
fn report_usage_error(error: &clap::Error) -> u8 {
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

/// One row of the comparison: one model (or curl), as measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The short name (`seq`, `rayon`, `curl`...).
    pub name: String,
    /// The name in the table.
    pub label: String,
    /// The concurrency it really used: min(`-m`, its maximum, N).
    pub max_req: usize,
    /// `ceil(N / max_req) x delay`.
    pub bound: Duration,
    /// From spawn to exit.
    pub wall: Duration,
    /// The peak resident memory of its processes, in KiB, when known.
    pub peak_rss_kib: Option<u64>,
    /// The most processes it had at once (0 when unknown).
    pub processes: usize,
    /// The most requests the server had in flight at once.
    pub peak_in_flight: u64,
    /// How many requests the server received.
    pub requests: u64,
    /// Flags saved identical to the server's.
    pub saved: usize,
    /// Codes that ended in error: as the model counted them, or for curl
    /// the flags it did not save.
    pub errors: usize,
    /// Why the row did not run to the end, if it did not.
    pub failure: Option<String>,
    /// What is wrong with what it saved or counted.
    pub problems: Vec<String>,
    /// Each request as the server saw it, `(arrived, finished)` in seconds
    /// since the row's process was spawned.
    pub timeline: Vec<(f64, f64)>,
}

impl Row {
    /// The row ran and saved exactly what it should have.
    pub fn is_ok(&self) -> bool {
        self.failure.is_none() && self.problems.is_empty()
    }
}

/// A finished comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The codes every row downloaded.
    pub country_codes: Vec<String>,
    /// The server's delay.
    pub delay: Duration,
    /// The `-m` asked of every row.
    pub max_req: usize,
    /// The rows, in the order they ran.
    pub rows: Vec<Row>,
    /// Notes for the reader: curl missing, and the like.
    pub notes: Vec<String>,
    /// Ctrl-C stopped the comparison before every row ran.
    pub interrupted: bool,
}

impl Comparison {
    /// Every row ran and saved what it should have.
    pub fn all_ok(&self) -> bool {
        self.rows.iter().all(Row::is_ok)
    }

    /// The wall time of the sequential row, when it ran.
    fn seq_wall(&self) -> Option<Duration> {
        self.rows
            .iter()
            .find(|row| row.name == "seq" && row.failure.is_none())
            .map(|row| row.wall)
    }
}

/// Why a comparison could not be made at all. (A model that fails is a row
/// with a [`Row::failure`], not one of these.)
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The in-process flag server did not start.
    #[error("cannot start the flag server: {0}")]
    Server(io::Error),
    /// A temporary folder could not be made.
    #[error("cannot make a temporary folder: {0}")]
    TempDir(io::Error),
    /// The chart could not be written.
    #[error("cannot write the chart to {}: {source}", path.display())]
    Chart {
        /// Where it should have gone.
        path: PathBuf,
        /// Why it did not.
        source: io::Error,
    },
}

/// The per-request timeout given to each model: the contract's default,
/// or more when the delay alone comes close to it.
fn request_timeout(delay: Duration) -> Duration {
    Duration::from_secs_f64(3.1).max(delay * 3)
}

/// Run the comparison: start the server, run every row one after another,
/// each in a child process of `program` (an executable that understands
/// `--run-model`, normally `flags-compare` itself), and measure them.
/// Progress goes to `progress`, one line as each row starts and ends.
pub fn run_comparison(
    options: &CompareOptions,
    program: &Path,
    progress: &mut dyn Write,
) -> Result<Comparison, CompareError> {
    let delay = if options.delay.is_zero() {
        Delay::None
    } else {
        Delay::Fixed(options.delay)
    };
    let server = FlagServer::start(ServerConfig {
        delay,
        seed: Some(SERVER_SEED),
        ..ServerConfig::default()
    })
    .map_err(CompareError::Server)?;
    // The server times its request log from this instant: the models'
    // spawn times are put on the same clock.
    let server_epoch = server.epoch();
    // The models save into folders in memory when the machine has them
    // (see `scratch_dir`): the comparison is of the models, not the disk.
    let scratch = crate::harness::scratch_dir("flags-compare-").map_err(CompareError::TempDir)?;
    let code_count = options.country_codes.len();
    let mut comparison = Comparison {
        country_codes: options.country_codes.clone(),
        delay: options.delay,
        max_req: options.max_req,
        rows: Vec::new(),
        notes: Vec::new(),
        interrupted: false,
    };
    let total = options.models.len() + usize::from(options.peer_curl);
    let say = |progress: &mut dyn Write, line: String| {
        let _ = writeln!(progress, "{line}");
    };
    say(
        progress,
        format!(
            "flags-compare: {code_count} flags, delay {} s, -m {}, server at {}",
            options.delay.as_secs_f64(),
            options.max_req,
            server.base_url()
        ),
    );
    for (index, model) in options.models.iter().enumerate() {
        if stop_after_interrupt(&mut comparison, progress) {
            break;
        }
        let max_req = model.actual_max_req(options.max_req, code_count);
        say(
            progress,
            format!(
                "[{}/{total}] {}: running with {max_req} at a time...",
                index + 1,
                model.label
            ),
        );
        let row_dir = scratch.path().join(model.name);
        let dest_dir = row_dir.join("dest");
        std::fs::create_dir_all(&dest_dir).map_err(CompareError::TempDir)?;
        let job = DownloadJob {
            timeout: request_timeout(options.delay),
            ..DownloadJob::new(options.country_codes.clone(), server.base_url(), &dest_dir)
                .with_max_req(max_req)
        };
        server.reset_stats();
        let ran = run_child(program, &child_args(model, &job), &row_dir);
        let row = finish_row(
            RowSpec {
                name: model.name,
                label: model.label,
                max_req,
                reports: true,
                options,
                dest_dir: &dest_dir,
            },
            ran,
            &server,
            server_epoch,
        );
        if stop_after_interrupt(&mut comparison, progress) {
            // Ctrl-C reached the child too: its row is cut short, not
            // measured.
            break;
        }
        say(progress, progress_line(index + 1, total, &row));
        comparison.rows.push(row);
    }
    if options.peer_curl && !comparison.interrupted {
        match curl_version() {
            None => {
                let note = "--peer-curl: curl is not installed (not found on PATH), so there is \
                            no curl row"
                    .to_string();
                say(progress, note.clone());
                comparison.notes.push(note);
            }
            Some(version) => {
                let max_req = options
                    .max_req
                    .min(CURL_PARALLEL_MAX)
                    .min(code_count)
                    .max(1);
                say(
                    progress,
                    format!(
                        "[{total}/{total}] curl --parallel: running with {max_req} at a time... ({version})"
                    ),
                );
                let row_dir = scratch.path().join("curl");
                let dest_dir = row_dir.join("dest");
                std::fs::create_dir_all(&dest_dir).map_err(CompareError::TempDir)?;
                server.reset_stats();
                let ran = run_curl(
                    &options.country_codes,
                    &server.base_url(),
                    &dest_dir,
                    max_req,
                    &row_dir,
                );
                let row = finish_row(
                    RowSpec {
                        name: "curl",
                        label: "curl --parallel",
                        max_req,
                        reports: false,
                        options,
                        dest_dir: &dest_dir,
                    },
                    ran,
                    &server,
                    server_epoch,
                );
                if !stop_after_interrupt(&mut comparison, progress) {
                    say(progress, progress_line(total, total, &row));
                    comparison.rows.push(row);
                }
            }
        }
    }
    server.shutdown();
    Ok(comparison)
}

/// After Ctrl-C (when [`flags_core::interrupt`] is installed): note it once
/// and say that no other row must run.
fn stop_after_interrupt(comparison: &mut Comparison, progress: &mut dyn Write) -> bool {
    if !interrupt::requested() {
        return false;
    }
    if !comparison.interrupted {
        comparison.interrupted = true;
        let note = "Interrupted: the table shows only the rows that finished.".to_string();
        let _ = writeln!(progress, "{note}");
        comparison.notes.push(note);
    }
    true
}

/// What a row is, before it runs.
struct RowSpec<'a> {
    name: &'static str,
    label: &'static str,
    max_req: usize,
    /// The child prints a result line ([`crate::child::ChildReport`]): true
    /// for the models. curl does not, and its exit status says little (22
    /// when a URL answers 404 under `--fail`), so its row is judged by the
    /// files alone.
    reports: bool,
    options: &'a CompareOptions,
    dest_dir: &'a Path,
}

/// Turn a finished child into a row: read the server's view of it, check
/// the folder, and read the child's own report.
fn finish_row(
    spec: RowSpec<'_>,
    ran: io::Result<ChildRun>,
    server: &FlagServer,
    server_epoch: Instant,
) -> Row {
    let codes = &spec.options.country_codes;
    let mut row = Row {
        name: spec.name.to_string(),
        label: spec.label.to_string(),
        max_req: spec.max_req,
        bound: bound(codes.len(), spec.max_req, spec.options.delay),
        wall: Duration::ZERO,
        peak_rss_kib: None,
        processes: 0,
        peak_in_flight: 0,
        requests: 0,
        saved: 0,
        errors: 0,
        failure: None,
        problems: Vec::new(),
        timeline: Vec::new(),
    };
    let run = match ran {
        Ok(run) => run,
        Err(error) => {
            row.failure = Some(format!("cannot run: {error}"));
            return row;
        }
    };
    row.wall = run.wall;
    row.peak_rss_kib = run.sampled_rss_kib;
    row.processes = run.peak_processes;
    // The child is gone, so its connections are closed; wait for the server
    // to have logged every request before reading the log.
    let settle_deadline = Instant::now() + SETTLE_TIMEOUT;
    while server.stats().in_flight > 0 && Instant::now() < settle_deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let stats = server.stats();
    row.peak_in_flight = stats.peak_in_flight;
    row.requests = stats.requests;
    let spawn_offset = run.spawned_at.saturating_duration_since(server_epoch);
    row.timeline = server
        .request_log()
        .iter()
        .map(|record| relative_span(record, spawn_offset))
        .collect();
    let mut saved = match inspect_dest(spec.dest_dir, codes) {
        Ok(saved) => saved,
        Err(error) => SavedFlags {
            problems: vec![format!("cannot read what it saved: {error}")],
            ..SavedFlags::default()
        },
    };
    row.saved = saved.identical;
    row.errors = saved.expected - saved.identical;
    if spec.reports {
        match parse_result_line(&run.stdout) {
            Some(report) => {
                row.errors = report.counter.error;
                saved.check_counter(&report.counter, codes.len());
                // The child's own high-water mark is exact; the sampled sum
                // may have missed its last milliseconds, but counts the
                // other processes of its tree.
                row.peak_rss_kib = match (row.peak_rss_kib, report.vm_hwm_kib) {
                    (Some(sampled), Some(own)) => Some(sampled.max(own)),
                    (sampled, own) => sampled.or(own),
                };
            }
            None => row.failure = Some(child_failure(&run)),
        }
    } else if !run.status.success() && saved.identical < saved.expected {
        // A peer that failed and left flags missing: say why, from its
        // own stderr.
        row.failure = Some(child_failure(&run));
    }
    row.problems = saved.problems;
    row
}

/// A request's arrival and end, in seconds since the spawn of the process
/// that sent it.
fn relative_span(record: &RequestRecord, spawn_offset: Duration) -> (f64, f64) {
    let since_spawn = |at: Duration| at.as_secs_f64() - spawn_offset.as_secs_f64();
    (since_spawn(record.started), since_spawn(record.finished))
}

/// Why a child gave no count: its exit status and the end of its stderr.
fn child_failure(run: &ChildRun) -> String {
    let stderr = run.stderr.trim();
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    if tail.is_empty() {
        format!("it exited with {} and printed no result", run.status)
    } else {
        format!("it exited with {}: {}", run.status, tail.join(" | "))
    }
}

/// The progress line printed when a row ends.
fn progress_line(number: usize, total: usize, row: &Row) -> String {
    match &row.failure {
        Some(failure) => format!("[{number}/{total}] {}: FAILED: {failure}", row.label),
        _ => format!(
            "[{number}/{total}] {}: {:.3} s, {} flags saved, {} errors, peak {} in flight{}",
            row.label,
            row.wall.as_secs_f64(),
            row.saved,
            row.errors,
            row.peak_in_flight,
            if row.problems.is_empty() {
                String::new()
            } else {
                format!(", {} problems", row.problems.len())
            }
        ),
    }
}

/// A memory size for the table: `12.3 MiB`.
fn mebibytes(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The table of a comparison, as printed on stdout: a header line on the
/// workload, one line per row, and notes.
pub fn render_table(comparison: &Comparison) -> String {
    let code_count = comparison.country_codes.len();
    let delay = comparison.delay.as_secs_f64();
    let mut text = format!(
        "{code_count} flags ({}), server delay {delay} s, -m {}\n\
         bound = ceil(N / m) x delay: the least time m requests at a time can take \
         (N x delay for seq)\n\n",
        codes_summary(&comparison.country_codes),
        comparison.max_req
    );
    let header = [
        "model",
        "m",
        "wall",
        "bound",
        "ratio",
        "speedup",
        "peak RSS",
        "peak in flight",
        "saved",
        "errors",
    ];
    let seq_wall = comparison.seq_wall();
    let mut lines: Vec<[String; 10]> = Vec::new();
    for row in &comparison.rows {
        let failed = row.failure.is_some();
        let ratio = if row.bound.is_zero() || failed {
            "-".to_string()
        } else {
            format!("{:.2}", row.wall.as_secs_f64() / row.bound.as_secs_f64())
        };
        let speedup = match seq_wall {
            Some(seq) if !failed && !row.wall.is_zero() => {
                format!("{:.1}x", seq.as_secs_f64() / row.wall.as_secs_f64())
            }
            _ => "-".to_string(),
        };
        let rss = match row.peak_rss_kib {
            Some(kib) if row.processes > 1 => format!("{} ({}p)", mebibytes(kib), row.processes),
            Some(kib) => mebibytes(kib),
            None => "-".to_string(),
        };
        lines.push([
            row.label.clone(),
            row.max_req.to_string(),
            if failed {
                "FAILED".to_string()
            } else {
                format!("{:.3} s", row.wall.as_secs_f64())
            },
            format!("{:.3} s", row.bound.as_secs_f64()),
            ratio,
            speedup,
            rss,
            row.peak_in_flight.to_string(),
            row.saved.to_string(),
            row.errors.to_string(),
        ]);
    }
    let mut widths = header.map(str::len);
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.len());
        }
    }
    let format_line = |cells: &[String]| {
        let mut line = String::new();
        for (column, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if column == 0 {
                line.push_str(&format!("{cell:<width$}"));
            } else {
                line.push_str(&format!("  {cell:>width$}"));
            }
        }
        line.trim_end().to_string() + "\n"
    };
    text.push_str(&format_line(&header.map(str::to_string)));
    let rule_width = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
    text.push_str(&"-".repeat(rule_width));
    text.push('\n');
    for line in &lines {
        text.push_str(&format_line(line));
    }
    if comparison.rows.iter().any(|row| row.processes > 1) {
        text.push_str("\n(Np): N processes at once; peak RSS is the sum of their peaks.\n");
    }
    for row in &comparison.rows {
        if let Some(failure) = &row.failure {
            text.push_str(&format!("\n{} failed: {failure}\n", row.label));
        }
        for problem in row.problems.iter().take(10) {
            text.push_str(&format!("{}: {problem}\n", row.label));
        }
        if row.problems.len() > 10 {
            text.push_str(&format!(
                "{}: and {} more problems\n",
                row.label,
                row.problems.len() - 10
            ));
        }
    }
    for note in &comparison.notes {
        text.push_str(&format!("\n{note}\n"));
    }
    text
}

/// `AD to BW` for many codes, `BR, CN, JP` for ten or fewer.
fn codes_summary(country_codes: &[String]) -> String {
    match country_codes {
        [first, .., last] if country_codes.len() > 10 => format!("{first} to {last}"),
        codes => codes.join(", "),
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
        .map(|since| utc_date(since.as_secs() / 86_400))
        .unwrap_or_default();
    format!(
        "{cpus} CPUs, {} {}, {date}. Each model ran in a child process of its own; \
         the server ran in the parent.",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// The date `days` days after 1970-01-01, as `YYYY-MM-DD` (the civil
/// calendar, from Howard Hinnant's `civil_from_days`).
///
/// ```
/// assert_eq!(flags_benches::compare::utc_date(0), "1970-01-01");
/// assert_eq!(flags_benches::compare::utc_date(19_723), "2024-01-01");
/// assert_eq!(flags_benches::compare::utc_date(11_016), "2000-02-29");
/// ```
pub fn utc_date(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Write the chart of `comparison` to `path`.
pub fn write_chart(comparison: &Comparison, path: &Path) -> Result<(), CompareError> {
    let svg = render_svg(&chart_of(comparison, machine_line()));
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
        Err(error) => return ExitCode::from(report_usage_error(&error)),
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

/// Every model's name, for `--help` and tests: the default of `--models`.
pub fn default_models() -> Vec<&'static Model> {
    ALL_MODELS.iter().collect()
}
