//! The run loop of `flags-compare`: one in-process flag server, then each
//! run in turn in a child process of its own, measured from outside.
//!
//! A `Rig` is the server and a scratch folder; `Rig::run_model` (or
//! `Rig::run_curl`) makes one run, a [`Sample`]: the parent zeroes the
//! server's statistics, reads its threads' CPU time, spawns the child,
//! waits for it ([`crate::child`]), then reads what the server saw (peak
//! requests in flight, each request's arrival and end, the CPU it spent)
//! and checks every file the child saved against the server's flags
//! (`crate::harness::inspect_dest`).
//!
//! Runs are interleaved ([`schedule`]): with models A, B and C, three runs
//! each and one warm-up round, the order is A B C (thrown away), then A B
//! C, A B C, A B C. Whatever drifts on the machine while they run (another
//! process waking up, the CPU's clock) then falls on every model alike,
//! where running A three times, then B three times, would charge it to
//! whichever model ran at the wrong moment. [`run_comparison`] runs every
//! model so on a rig; the sweep ([`super::sweep`]) does the same at each
//! `m` on another.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flags_core::{DownloadJob, interrupt};
use flags_server::{Delay, FlagServer, RequestRecord, ServerConfig};

use super::cli::CompareOptions;
use super::comparison::{CompareError, Comparison, Repetition, Row, Sample};
use crate::bound;
use crate::child::{ChildRun, child_args, parse_result_line, run_child};
use crate::cpu::ServerCpu;
use crate::harness::{SavedFlags, inspect_dest};
use crate::models::Variant;
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
/// the program to re-run as each run's child.
pub(crate) struct Rig {
    server: FlagServer,
    /// The server times its request log from this instant: the runs'
    /// spawn times are put on the same clock.
    epoch: Instant,
    scratch: tempfile::TempDir,
    program: PathBuf,
    delay: Duration,
    /// Runs made so far: each gets a folder of its own.
    runs: usize,
}

impl Rig {
    /// Start a server that waits `delay` before each answer. Runs re-run
    /// `program`, an executable that understands `--run-model` (normally
    /// `flags-compare` itself).
    pub(crate) fn start(delay: Duration, program: &Path) -> Result<Rig, CompareError> {
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

    pub(crate) fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// A fresh folder for the next run, and its `dest` inside.
    fn run_dirs(&mut self, name: &str) -> Result<(PathBuf, PathBuf), CompareError> {
        self.runs += 1;
        let row_dir = self.scratch.path().join(format!("{}-{name}", self.runs));
        let dest_dir = row_dir.join("dest");
        std::fs::create_dir_all(&dest_dir).map_err(CompareError::TempDir)?;
        Ok((row_dir, dest_dir))
    }

    /// Run `variant` on `codes` with `max_req` (already capped) in a
    /// child, and measure it.
    pub(crate) fn run_model(
        &mut self,
        variant: &Variant,
        codes: &[String],
        max_req: usize,
    ) -> Result<Sample, CompareError> {
        let (row_dir, dest_dir) = self.run_dirs(variant.name)?;
        let job = DownloadJob {
            timeout: request_timeout(self.delay),
            ..DownloadJob::new(codes.to_vec(), self.server.base_url(), &dest_dir)
                .with_max_req(max_req)
        };
        let spec = RunSpec {
            reports: true,
            codes,
            dest_dir: &dest_dir,
        };
        let args = child_args(variant, &job);
        let sample = self.measure(spec, |program| run_child(program, &args, &row_dir));
        let _ = std::fs::remove_dir_all(&row_dir);
        Ok(sample)
    }

    /// Run `curl --parallel` on `codes`, at most `max_req` at a time
    /// (capped at [`CURL_PARALLEL_MAX`] here), and measure it.
    pub(crate) fn run_curl(
        &mut self,
        codes: &[String],
        max_req: usize,
    ) -> Result<Sample, CompareError> {
        let max_req = curl_max_req(max_req, codes.len());
        let (row_dir, dest_dir) = self.run_dirs("curl")?;
        let spec = RunSpec {
            reports: false,
            codes,
            dest_dir: &dest_dir,
        };
        let base_url = self.server.base_url();
        let sample = self.measure(spec, |_| {
            run_curl(codes, &base_url, &dest_dir, max_req, &row_dir)
        });
        let _ = std::fs::remove_dir_all(&row_dir);
        Ok(sample)
    }

    /// Run `planned` on `codes`: a model in a child, or curl.
    pub(crate) fn run_planned(
        &mut self,
        planned: &PlannedRun,
        codes: &[String],
    ) -> Result<Sample, CompareError> {
        match planned.variant {
            Some(variant) => self.run_model(variant, codes, planned.max_req),
            None => self.run_curl(codes, planned.max_req),
        }
    }

    /// Zero the server's counters, run the child, and make its sample.
    fn measure(
        &self,
        spec: RunSpec<'_>,
        run: impl FnOnce(&Path) -> io::Result<ChildRun>,
    ) -> Sample {
        self.server.reset_stats();
        let server_before = ServerCpu::now();
        let ran = run(&self.program);
        let mut sample = finish_sample(spec, ran, &self.server, self.epoch);
        sample.server_cpu = ServerCpu::now().since(&server_before);
        sample
    }

    pub(crate) fn shutdown(self) {
        self.server.shutdown();
    }
}

/// The concurrency curl really uses when asked for `max_req` on
/// `code_count` codes.
pub(crate) fn curl_max_req(max_req: usize, code_count: usize) -> usize {
    max_req.min(CURL_PARALLEL_MAX).min(code_count).max(1)
}

/// Write one line of progress (a closed stderr is not an error).
pub(super) fn say(progress: &mut dyn Write, line: &str) {
    let _ = writeln!(progress, "{line}");
}

/// One row to run, before it runs: a model (or curl, `None`) at the
/// concurrency it will use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedRun {
    /// The variant, or `None` for curl.
    pub(crate) variant: Option<&'static Variant>,
    /// The `m` it uses, capped.
    pub max_req: usize,
}

impl PlannedRun {
    /// The short name: the model's, or `curl`.
    pub fn name(&self) -> &'static str {
        self.variant.map_or("curl", |variant| variant.name)
    }

    /// The name in the tables: the model's, or `curl --parallel`.
    pub(crate) fn label(&self) -> &'static str {
        self.variant
            .map_or("curl --parallel", |variant| variant.label)
    }

    /// Its row, with no run yet, on `code_count` codes at `delay`.
    pub(crate) fn row(&self, code_count: usize, delay: Duration) -> Row {
        Row::new(
            self.name(),
            self.label(),
            self.max_req,
            bound(code_count, self.max_req, delay),
        )
    }
}

/// One run of a schedule: which row, and which round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// The row, as an index into the rows scheduled.
    pub row: usize,
    /// The measured round it belongs to, from 1; `None` for a warm-up run,
    /// which is thrown away.
    pub round: Option<usize>,
}

/// The order of the runs of `rows` rows, `runs` measured times each after
/// `warmup` rounds thrown away: round by round, every row once per round,
/// in order.
///
/// ```
/// use flags_benches::compare::run::{Slot, schedule};
/// let order: Vec<(usize, Option<usize>)> =
///     schedule(3, 2, 1).iter().map(|slot| (slot.row, slot.round)).collect();
/// assert_eq!(order, [
///     (0, None), (1, None), (2, None),
///     (0, Some(1)), (1, Some(1)), (2, Some(1)),
///     (0, Some(2)), (1, Some(2)), (2, Some(2)),
/// ]);
/// ```
pub fn schedule(rows: usize, runs: usize, warmup: usize) -> Vec<Slot> {
    let warm = (0..warmup).map(|_| None);
    let measured = (1..=runs).map(Some);
    warm.chain(measured)
        .flat_map(|round| (0..rows).map(move |row| Slot { row, round }))
        .collect()
}

/// Run the comparison: start the server, run every row `options.runs`
/// times, interleaved ([`schedule`]), after `options.warmup` rounds thrown
/// away, each run in a child process of `program` (an executable that
/// understands `--run-model`, normally `flags-compare` itself), and
/// measure them. Progress goes to `progress`, one line as each run starts
/// and ends.
pub fn run_comparison(
    options: &CompareOptions,
    program: &Path,
    progress: &mut dyn Write,
) -> Result<Comparison, CompareError> {
    let codes = &options.country_codes;
    let code_count = codes.len();
    let mut comparison = Comparison {
        country_codes: codes.clone(),
        delay: options.delay,
        max_req: options.max_req,
        repetition: Repetition::now(options.runs, options.warmup),
        rows: Vec::new(),
        notes: Vec::new(),
        interrupted: false,
    };
    let mut planned: Vec<PlannedRun> = options
        .models
        .iter()
        .map(|&variant| PlannedRun {
            variant: Some(variant),
            max_req: variant.actual_max_req(options.max_req, code_count),
        })
        .collect();
    if options.peer_curl {
        match curl_version() {
            None => comparison.notes.push(curl_missing_note()),
            Some(version) => {
                comparison.notes.push(format!("curl: {version}"));
                planned.push(PlannedRun {
                    variant: None,
                    max_req: curl_max_req(options.max_req, code_count),
                });
            }
        }
    }
    let mut rig = Rig::start(options.delay, program)?;
    say(
        progress,
        &format!(
            "flags-compare: {}, delay {} s, -m {}, {} rows x {}{}, server at {}",
            codes_phrase(codes),
            options.delay.as_secs_f64(),
            options.max_req,
            planned.len(),
            runs_count(options.runs),
            warmup_phrase(options.warmup),
            rig.base_url()
        ),
    );
    for note in &comparison.notes {
        say(progress, note);
    }
    let mut rows: Vec<Row> = planned
        .iter()
        .map(|run| run.row(code_count, options.delay))
        .collect();
    let slots = schedule(planned.len(), options.runs, options.warmup);
    run_slots(
        &mut rig,
        &planned,
        &slots,
        codes,
        &mut rows,
        &mut comparison.notes,
        &mut comparison.interrupted,
        progress,
    )?;
    rig.shutdown();
    // A row cut short by Ctrl-C before its first run has nothing to show.
    rows.retain(|row| !row.samples.is_empty());
    comparison.rows = rows;
    Ok(comparison)
}

/// Make the runs of `slots` on `rig`, each the run of `planned[slot.row]`
/// on `codes`, into the samples of `rows` (warm-up runs are thrown away);
/// stop at Ctrl-C.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_slots(
    rig: &mut Rig,
    planned: &[PlannedRun],
    slots: &[Slot],
    codes: &[String],
    rows: &mut [Row],
    notes: &mut Vec<String>,
    interrupted: &mut bool,
    progress: &mut dyn Write,
) -> Result<(), CompareError> {
    let total = slots.len();
    let runs = slots
        .iter()
        .filter_map(|slot| slot.round)
        .max()
        .unwrap_or(0);
    for (index, slot) in slots.iter().enumerate() {
        if stop_after_interrupt(notes, interrupted, progress) {
            break;
        }
        let run = &planned[slot.row];
        let which = match slot.round {
            None => "warm-up".to_string(),
            Some(round) if runs > 1 => format!("run {round} of {runs}"),
            Some(_) => String::new(),
        };
        let head = match which.as_str() {
            "" => format!("[{}/{total}] {}", index + 1, run.label()),
            which => format!("[{}/{total}] {} ({which})", index + 1, run.label()),
        };
        say(
            progress,
            &format!("{head}: running with {} at a time...", run.max_req),
        );
        let mut sample = rig.run_planned(run, codes)?;
        if stop_after_interrupt(notes, interrupted, progress) {
            // Ctrl-C reached the child too: its run is cut short, not
            // measured.
            break;
        }
        say(progress, &progress_line(&head, &sample));
        if let Some(round) = slot.round {
            sample.round = round;
            sample.order = index + 1;
            rows[slot.row].samples.push(sample);
        }
    }
    Ok(())
}

/// `40 flags`, or `676 codes (194 flags, 482 not found)`: the codes
/// counted as what the server has for them.
pub(crate) fn codes_phrase(codes: &[String]) -> String {
    let flags = codes
        .iter()
        .filter(|code| flags_server::builtin_flag(code).is_some())
        .count();
    let plural = |count: usize, one: &str, many: &str| {
        format!("{count} {}", if count == 1 { one } else { many })
    };
    if flags == codes.len() {
        plural(flags, "flag", "flags")
    } else {
        format!(
            "{} ({}, {} not found)",
            plural(codes.len(), "code", "codes"),
            plural(flags, "flag", "flags"),
            codes.len() - flags
        )
    }
}

/// `1 run`, `3 runs`.
pub(super) fn runs_count(runs: usize) -> String {
    if runs == 1 {
        "1 run".to_string()
    } else {
        format!("{runs} runs")
    }
}

/// ` after 1 warm-up round`, or nothing.
pub(super) fn warmup_phrase(warmup: usize) -> String {
    match warmup {
        0 => String::new(),
        1 => " after 1 warm-up round".to_string(),
        rounds => format!(" after {rounds} warm-up rounds"),
    }
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

/// What a run needs to be judged once it has run.
struct RunSpec<'a> {
    /// The child prints a result line ([`crate::child::ChildReport`]): true
    /// for the models. curl does not, and its exit status says little (22
    /// when a URL answers 404 under `--fail`), so its row is judged by the
    /// files alone.
    reports: bool,
    codes: &'a [String],
    dest_dir: &'a Path,
}

/// Turn a finished child into a sample: read the server's view of it,
/// check the folder, and read the child's own report.
fn finish_sample(
    spec: RunSpec<'_>,
    ran: io::Result<ChildRun>,
    server: &FlagServer,
    server_epoch: Instant,
) -> Sample {
    let codes = spec.codes;
    let mut sample = Sample::default();
    let run = match ran {
        Ok(run) => run,
        Err(error) => {
            sample.failure = Some(format!("cannot run: {error}"));
            return sample;
        }
    };
    sample.wall = run.wall;
    sample.cpu = run.cpu;
    sample.sampler_cpu = run.sampler_cpu;
    sample.peak_rss_kib = run.sampled_rss_kib;
    sample.peak_pss_kib = run.sampled_pss_kib;
    sample.processes = run.peak_processes;
    sample.peak_threads = run.peak_threads;
    // The child is gone, so its connections are closed; wait for the server
    // to have logged every request before reading the log.
    let settle_deadline = Instant::now() + SETTLE_TIMEOUT;
    while server.stats().in_flight > 0 && Instant::now() < settle_deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let stats = server.stats();
    sample.peak_in_flight = stats.peak_in_flight;
    sample.requests = stats.requests;
    let spawn_offset = run.spawned_at.saturating_duration_since(server_epoch);
    sample.timeline = server
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
    sample.saved = saved.identical;
    sample.errors = saved.expected - saved.identical;
    if spec.reports {
        match parse_result_line(&run.stdout) {
            Some(report) => {
                sample.errors = report.counter.error;
                saved.check_counter(&report.counter, codes.len());
                // The child's own high-water mark is exact; the sampled sum
                // may have missed its last milliseconds, but counts the
                // other processes of its tree.
                sample.peak_rss_kib = match (sample.peak_rss_kib, report.vm_hwm_kib) {
                    (Some(sampled), Some(own)) => Some(sampled.max(own)),
                    (sampled, own) => sampled.or(own),
                };
            }
            None => sample.failure = Some(child_failure(&run)),
        }
    } else if !run.status.success() && saved.identical < saved.expected {
        // A peer that failed and left flags missing: say why, from its
        // own stderr.
        sample.failure = Some(child_failure(&run));
    }
    sample.problems = saved.problems;
    sample
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

/// The progress line printed when a run ends, after `head` (`[3/20]
/// async (run 1 of 3)`).
pub(super) fn progress_line(head: &str, sample: &Sample) -> String {
    match &sample.failure {
        Some(failure) => format!("{head}: FAILED: {failure}"),
        _ => format!(
            "{head}: {:.3} s, {} flags saved, {} errors, peak {} in flight{}",
            sample.wall.as_secs_f64(),
            sample.saved,
            sample.errors,
            sample.peak_in_flight,
            if sample.problems.is_empty() {
                String::new()
            } else {
                format!(", {} problems", sample.problems.len())
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_phrase_examples() {
        use crate::compare::run::codes_phrase;
        let codes = |list: &[&str]| list.iter().map(|code| code.to_string()).collect::<Vec<_>>();
        assert_eq!(codes_phrase(&codes(&["BR", "CN"])), "2 flags");
        assert_eq!(codes_phrase(&codes(&["BR"])), "1 flag");
        assert_eq!(
            codes_phrase(&codes(&["AA", "AD", "ZZ"])),
            "3 codes (1 flag, 2 not found)"
        );
    }
}
