//! The run loop of `flags-compare`: one in-process flag server, then each
//! row in turn in a child process of its own, measured from outside.
//!
//! A [`Rig`] is the server and a scratch folder; [`Rig::run_model`] (or
//! [`Rig::run_curl`]) runs one row: the parent zeroes the server's
//! statistics, reads its threads' CPU time, spawns the child, waits for it
//! ([`crate::child`]), then reads what the server saw (peak requests in
//! flight, each request's arrival and end, the CPU it spent) and checks
//! every file the child saved against the server's flags
//! ([`crate::harness::inspect_dest`]). [`run_comparison`] runs every model
//! once on a rig; the sweep ([`super::sweep`]) runs every model at each
//! `m` on another.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flags_core::{DownloadJob, interrupt};
use flags_server::{Delay, FlagServer, RequestRecord, ServerConfig};

use super::cli::CompareOptions;
use super::comparison::{CompareError, Comparison, Row};
use crate::bound;
use crate::child::{ChildRun, child_args, parse_result_line, run_child};
use crate::cpu::ServerCpu;
use crate::harness::{SavedFlags, inspect_dest};
use crate::models::Model;
use crate::peer::{CURL_PARALLEL_MAX, curl_version, run_curl};

/// The seed of the server's random generator: only fixed delays are used,
/// but a fixed seed keeps any future randomness repeatable.
const SERVER_SEED: u64 = 20;
/// How long to wait, after a child has exited, for the server to finish
/// logging its last requests.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(2);

/// The per-request timeout given to each model: the contract's default,
/// or more when the delay alone comes close to it.
fn request_timeout(delay: Duration) -> Duration {
    Duration::from_secs_f64(3.1).max(delay * 3)
}

/// An in-process flag server with a fixed delay, a scratch folder, and
/// the program to re-run as each row's child.
pub struct Rig {
    server: FlagServer,
    /// The server times its request log from this instant: the rows'
    /// spawn times are put on the same clock.
    epoch: Instant,
    scratch: tempfile::TempDir,
    program: PathBuf,
    delay: Duration,
    /// Rows run so far: each gets a folder of its own.
    runs: usize,
}

impl Rig {
    /// Start a server that waits `delay` before each answer. Rows run
    /// `program`, an executable that understands `--run-model` (normally
    /// `flags-compare` itself).
    pub fn start(delay: Duration, program: &Path) -> Result<Rig, CompareError> {
        let server = FlagServer::start(ServerConfig {
            delay: if delay.is_zero() {
                Delay::None
            } else {
                Delay::Fixed(delay)
            },
            seed: Some(SERVER_SEED),
            ..ServerConfig::default()
        })
        .map_err(CompareError::Server)?;
        // The models save into folders in memory when the machine has them
        // (see `scratch_dir`): the comparison is of the models, not the disk.
        let scratch =
            crate::harness::scratch_dir("flags-compare-").map_err(CompareError::TempDir)?;
        Ok(Rig {
            epoch: server.epoch(),
            server,
            scratch,
            program: program.to_path_buf(),
            delay,
            runs: 0,
        })
    }

    /// The server's base URL.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// A fresh folder for the next row, and its `dest` inside.
    fn row_dirs(&mut self, name: &str) -> Result<(PathBuf, PathBuf), CompareError> {
        self.runs += 1;
        let row_dir = self.scratch.path().join(format!("{}-{name}", self.runs));
        let dest_dir = row_dir.join("dest");
        std::fs::create_dir_all(&dest_dir).map_err(CompareError::TempDir)?;
        Ok((row_dir, dest_dir))
    }

    /// Run `model` on `codes` with `max_req` (already capped) in a child,
    /// and measure it.
    pub fn run_model(
        &mut self,
        model: &Model,
        codes: &[String],
        max_req: usize,
    ) -> Result<Row, CompareError> {
        let (row_dir, dest_dir) = self.row_dirs(model.name)?;
        let job = DownloadJob {
            timeout: request_timeout(self.delay),
            ..DownloadJob::new(codes.to_vec(), self.server.base_url(), &dest_dir)
                .with_max_req(max_req)
        };
        let spec = RowSpec {
            name: model.name,
            label: model.label,
            max_req,
            reports: true,
            codes,
            dest_dir: &dest_dir,
        };
        let args = child_args(model, &job);
        let row = self.measure(spec, |program| run_child(program, &args, &row_dir));
        let _ = std::fs::remove_dir_all(&row_dir);
        Ok(row)
    }

    /// Run `curl --parallel` on `codes`, at most `max_req` at a time
    /// (capped at [`CURL_PARALLEL_MAX`] here), and measure it.
    pub fn run_curl(&mut self, codes: &[String], max_req: usize) -> Result<Row, CompareError> {
        let max_req = curl_max_req(max_req, codes.len());
        let (row_dir, dest_dir) = self.row_dirs("curl")?;
        let spec = RowSpec {
            name: "curl",
            label: "curl --parallel",
            max_req,
            reports: false,
            codes,
            dest_dir: &dest_dir,
        };
        let base_url = self.server.base_url();
        let row = self.measure(spec, |_| {
            run_curl(codes, &base_url, &dest_dir, max_req, &row_dir)
        });
        let _ = std::fs::remove_dir_all(&row_dir);
        Ok(row)
    }

    /// Zero the server's counters, run the child, and make its row.
    fn measure(&self, spec: RowSpec<'_>, run: impl FnOnce(&Path) -> io::Result<ChildRun>) -> Row {
        self.server.reset_stats();
        let server_before = ServerCpu::now();
        let ran = run(&self.program);
        let mut row = finish_row(spec, ran, &self.server, self.epoch, self.delay);
        row.server_cpu = ServerCpu::now().since(&server_before);
        row
    }

    /// Stop the server.
    pub fn shutdown(self) {
        self.server.shutdown();
    }
}

/// The concurrency curl really uses when asked for `max_req` on
/// `code_count` codes.
pub fn curl_max_req(max_req: usize, code_count: usize) -> usize {
    max_req.min(CURL_PARALLEL_MAX).min(code_count).max(1)
}

/// Write one line of progress (a closed stderr is not an error).
pub(super) fn say(progress: &mut dyn Write, line: &str) {
    let _ = writeln!(progress, "{line}");
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
    let mut rig = Rig::start(options.delay, program)?;
    let codes = &options.country_codes;
    let code_count = codes.len();
    let mut comparison = Comparison {
        country_codes: codes.clone(),
        delay: options.delay,
        max_req: options.max_req,
        rows: Vec::new(),
        notes: Vec::new(),
        interrupted: false,
    };
    let total = options.models.len() + usize::from(options.peer_curl);
    say(
        progress,
        &format!(
            "flags-compare: {code_count} flags, delay {} s, -m {}, server at {}",
            options.delay.as_secs_f64(),
            options.max_req,
            rig.base_url()
        ),
    );
    for (index, model) in options.models.iter().enumerate() {
        if stop_after_interrupt(&mut comparison.notes, &mut comparison.interrupted, progress) {
            break;
        }
        let max_req = model.actual_max_req(options.max_req, code_count);
        say(
            progress,
            &format!(
                "[{}/{total}] {}: running with {max_req} at a time...",
                index + 1,
                model.label
            ),
        );
        let row = rig.run_model(model, codes, max_req)?;
        if stop_after_interrupt(&mut comparison.notes, &mut comparison.interrupted, progress) {
            // Ctrl-C reached the child too: its row is cut short, not
            // measured.
            break;
        }
        say(progress, &progress_line(index + 1, total, &row));
        comparison.rows.push(row);
    }
    if options.peer_curl && !comparison.interrupted {
        match curl_version() {
            None => {
                let note = curl_missing_note();
                say(progress, &note);
                comparison.notes.push(note);
            }
            Some(version) => {
                let max_req = curl_max_req(options.max_req, code_count);
                say(
                    progress,
                    &format!(
                        "[{total}/{total}] curl --parallel: running with {max_req} at a time... ({version})"
                    ),
                );
                let row = rig.run_curl(codes, options.max_req)?;
                if !stop_after_interrupt(
                    &mut comparison.notes,
                    &mut comparison.interrupted,
                    progress,
                ) {
                    say(progress, &progress_line(total, total, &row));
                    comparison.rows.push(row);
                }
            }
        }
    }
    rig.shutdown();
    Ok(comparison)
}

/// The note when `--peer-curl` finds no curl.
pub(super) fn curl_missing_note() -> String {
    "--peer-curl: curl is not installed (not found on PATH), so there is no curl row".to_string()
}

/// After Ctrl-C (when [`flags_core::interrupt`] is installed): note it once
/// and say that no other row must run.
pub(super) fn stop_after_interrupt(
    notes: &mut Vec<String>,
    interrupted: &mut bool,
    progress: &mut dyn Write,
) -> bool {
    if !interrupt::requested() {
        return false;
    }
    if !*interrupted {
        *interrupted = true;
        let note = "Interrupted: the table shows only the rows that finished.".to_string();
        say(progress, &note);
        notes.push(note);
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
    codes: &'a [String],
    dest_dir: &'a Path,
}

/// Turn a finished child into a row: read the server's view of it, check
/// the folder, and read the child's own report.
fn finish_row(
    spec: RowSpec<'_>,
    ran: io::Result<ChildRun>,
    server: &FlagServer,
    server_epoch: Instant,
    delay: Duration,
) -> Row {
    let codes = spec.codes;
    let mut row = Row {
        name: spec.name.to_string(),
        label: spec.label.to_string(),
        max_req: spec.max_req,
        bound: bound(codes.len(), spec.max_req, delay),
        ..Row::default()
    };
    let run = match ran {
        Ok(run) => run,
        Err(error) => {
            row.failure = Some(format!("cannot run: {error}"));
            return row;
        }
    };
    row.wall = run.wall;
    row.cpu = run.cpu;
    row.sampler_cpu = run.sampler_cpu;
    row.peak_rss_kib = run.sampled_rss_kib;
    row.peak_pss_kib = run.sampled_pss_kib;
    row.processes = run.peak_processes;
    row.peak_threads = run.peak_threads;
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
pub(super) fn progress_line(number: usize, total: usize, row: &Row) -> String {
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
