//! The run loop of `flags-compare`: one in-process flag server, then each
//! row in turn in a child process of its own, measured from outside.
//!
//! For each model the parent zeroes the server's statistics, spawns the
//! child, waits for it ([`crate::child`]), then reads what the server saw
//! (peak requests in flight, each request's arrival and end) and checks
//! every file the child saved against the server's flags
//! ([`crate::harness::inspect_dest`]). The `--peer-curl` row is run the same
//! way, with `curl` as the child ([`crate::peer`]).

use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use flags_core::{DownloadJob, interrupt};
use flags_server::{Delay, FlagServer, RequestRecord, ServerConfig};

use super::cli::CompareOptions;
use super::comparison::{CompareError, Comparison, Row};
use crate::bound;
use crate::child::{ChildRun, child_args, parse_result_line, run_child};
use crate::harness::{SavedFlags, inspect_dest};
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
