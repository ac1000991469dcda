//! `flags-compare --sweep`: every model at a range of concurrencies on the
//! same work, to show how each one's cost grows with `m`.
//!
//! Each model caps each `m` asked at its own maximum and at the number of
//! codes ([`Variant::actual_max_req`]); a capped value is run once per round
//! (the process pool's 300 and 676 are both its 256). Runs go in order of
//! `m`: at each `m`, the warm-up rounds, then the measured rounds, every
//! model once per round ([`super::run::schedule`]), so the runs compared at
//! one `m` saw about the same background load. Each run is a child process
//! of its own on one in-process server (`super::run::Rig`), measured as
//! the comparison's are: wall time, CPU (user + system, from `wait4`), peak
//! RSS and threads (sampled), what the server saw, and the server's own
//! CPU.
//!
//! What is derived from them ([`SweepStats`], from each row's medians): the
//! ratio to the bound, the CPU-aware bound (the bound plus the model's and
//! the server's CPU time shared over the machine's CPUs), CPU per request
//! (the CPU over the number of codes), and the memory a request in flight
//! costs: the slope of peak RSS against the server's peak in flight, from
//! the model's lowest `m` to each other one.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::cli::SweepOptions;
use super::comparison::{CompareError, Repetition, Row};
pub(crate) use super::run::{PlannedRun, Slot};
use super::run::{
    Rig, codes_phrase, curl_max_req, curl_missing_note, run_slots, runs_count, say, schedule,
    warmup_phrase,
};
use super::stats::Spread;
use crate::models::Variant;
use crate::peer::curl_version;

/// The share of `m` a run's peak in flight must reach for its memory slope
/// to stand for its model ([`Sweep::rss_slope_of`]).
pub(crate) const FULL_SHARE: f64 = 0.9;

/// A finished sweep: a row per model and `m`, each with its runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// The codes of every run.
    pub(crate) country_codes: Vec<String>,
    pub(crate) delay: Duration,
    /// The concurrencies asked, ascending.
    pub(crate) max_reqs: Vec<usize>,
    /// How the runs were repeated.
    pub repetition: Repetition,
    /// One row per model and `m` it really used ([`Row::max_req`]), in the
    /// order they first ran.
    pub rows: Vec<Row>,
    /// Notes for the reader: capped values, curl missing, and the like.
    pub(crate) notes: Vec<String>,
    /// Ctrl-C stopped the sweep before every run was made.
    pub(crate) interrupted: bool,
}

/// Every run of a sweep over `models` (and curl when `with_curl`) at each
/// of `max_reqs` on `code_count` codes: in order of `m`, every model at one
/// `m` before the next; a model whose cap makes two `m` the same runs it
/// once.
///
/// ```
/// use flags_benches::compare::sweep::plan;
/// use flags_benches::models::variant_by_name;
/// let models = ["threadpool", "process"].map(|name| variant_by_name(name).unwrap());
/// let runs = plan(&models, false, &[1, 100, 300, 676], 676);
/// let named: Vec<_> = runs.iter().map(|run| (run.name(), run.max_req)).collect();
/// assert_eq!(named, [
///     ("threadpool", 1), ("process", 1), ("threadpool", 100), ("process", 100),
///     ("threadpool", 300), ("process", 256), ("threadpool", 676),
/// ]);
/// ```
pub fn plan(
    models: &[&'static Variant],
    with_curl: bool,
    max_reqs: &[usize],
    code_count: usize,
) -> Vec<PlannedRun> {
    plan_by_m(models, with_curl, max_reqs, code_count)
        .into_iter()
        .flatten()
        .collect()
}

/// [`plan`], one group per `m` asked (a group is empty when every model's
/// cap made its runs repeats of earlier ones).
pub fn plan_by_m(
    models: &[&'static Variant],
    with_curl: bool,
    max_reqs: &[usize],
    code_count: usize,
) -> Vec<Vec<PlannedRun>> {
    let mut groups: Vec<Vec<PlannedRun>> = Vec::new();
    let mut runs: Vec<PlannedRun> = Vec::new();
    let entries: Vec<Option<&'static Variant>> = models
        .iter()
        .copied()
        .map(Some)
        .chain(with_curl.then_some(None))
        .collect();
    for &asked in max_reqs {
        let mut group = Vec::new();
        for &variant in &entries {
            let max_req = match variant {
                Some(variant) => variant.actual_max_req(asked, code_count),
                None => curl_max_req(asked, code_count),
            };
            let run = PlannedRun { variant, max_req };
            if !runs.contains(&run) {
                runs.push(run);
                group.push(run);
            }
        }
        groups.push(group);
    }
    groups
}

/// The order of the runs of a sweep planned as `groups` ([`plan_by_m`]):
/// at each `m` in turn, [`schedule`] of its runs; `row` indexes the
/// groups' runs one after another, as [`plan`] lists them.
///
/// ```
/// use flags_benches::compare::sweep::{plan_by_m, schedule_by_m};
/// use flags_benches::models::variant_by_name;
/// let models = ["threadpool", "async"].map(|name| variant_by_name(name).unwrap());
/// let groups = plan_by_m(&models, false, &[1, 4], 8);
/// let order: Vec<(usize, Option<usize>)> = schedule_by_m(&groups, 2, 0)
///     .iter().map(|slot| (slot.row, slot.round)).collect();
/// assert_eq!(order, [
///     (0, Some(1)), (1, Some(1)), (0, Some(2)), (1, Some(2)),
///     (2, Some(1)), (3, Some(1)), (2, Some(2)), (3, Some(2)),
/// ]);
/// ```
pub fn schedule_by_m(groups: &[Vec<PlannedRun>], runs: usize, warmup: usize) -> Vec<Slot> {
    let mut slots = Vec::new();
    let mut offset = 0;
    for group in groups {
        slots.extend(
            schedule(group.len(), runs, warmup)
                .into_iter()
                .map(|slot| Slot {
                    row: slot.row + offset,
                    ..slot
                }),
        );
        offset += group.len();
    }
    slots
}

/// Notes on the `m` a model could not use as asked.
fn capping_notes(
    models: &[&'static Variant],
    with_curl: bool,
    max_reqs: &[usize],
    code_count: usize,
) -> Vec<String> {
    let mut notes = Vec::new();
    let entries = models
        .iter()
        .map(|variant| (variant.label, variant.model.max_max_req()))
        .chain(with_curl.then_some(("curl --parallel", crate::peer::CURL_PARALLEL_MAX)));
    for (label, maximum) in entries {
        let cap = maximum.min(code_count).max(1);
        let capped: Vec<String> = max_reqs
            .iter()
            .filter(|&&m| m > cap)
            .map(usize::to_string)
            .collect();
        if !capped.is_empty() {
            let why = if cap == maximum {
                "its maximum"
            } else {
                "the number of codes"
            };
            notes.push(format!(
                "{label}: m = {} capped at {cap} ({why}), run once per round at {cap}.",
                capped.join(", ")
            ));
        }
    }
    notes
}

/// Run the sweep of `options`: one server with its delay, then every
/// planned run, `options.runs` times after `options.warmup` rounds thrown
/// away, each a child process of `program`. Progress goes to `progress`,
/// one line as each run starts and ends.
pub fn run_sweep(
    options: &SweepOptions,
    program: &Path,
    progress: &mut dyn Write,
) -> Result<Sweep, CompareError> {
    let codes = &options.country_codes;
    let mut sweep = Sweep {
        country_codes: codes.clone(),
        delay: options.delay,
        max_reqs: options.max_reqs.clone(),
        repetition: Repetition::now(options.runs, options.warmup),
        rows: Vec::new(),
        notes: Vec::new(),
        interrupted: false,
    };
    let mut with_curl = false;
    if options.peer_curl {
        match curl_version() {
            Some(version) => {
                with_curl = true;
                sweep.notes.push(format!("curl: {version}"));
            }
            None => sweep.notes.push(curl_missing_note()),
        }
    }
    let groups = plan_by_m(&options.models, with_curl, &options.max_reqs, codes.len());
    let planned: Vec<PlannedRun> = groups.iter().flatten().copied().collect();
    let slots = schedule_by_m(&groups, options.runs, options.warmup);
    sweep.notes.extend(capping_notes(
        &options.models,
        with_curl,
        &options.max_reqs,
        codes.len(),
    ));
    let mut rig = Rig::start(options.delay, program)?;
    say(
        progress,
        &format!(
            "flags-compare --sweep: {}, delay {} s, m = {}, {} rows x {}{}, server at {}",
            codes_phrase(codes),
            options.delay.as_secs_f64(),
            join(&options.max_reqs),
            planned.len(),
            runs_count(options.runs),
            warmup_phrase(options.warmup),
            rig.base_url()
        ),
    );
    let mut rows: Vec<Row> = planned
        .iter()
        .map(|run| run.row(codes.len(), options.delay))
        .collect();
    run_slots(
        &mut rig,
        &planned,
        &slots,
        codes,
        &mut rows,
        &mut sweep.notes,
        &mut sweep.interrupted,
        progress,
    )?;
    rig.shutdown();
    rows.retain(|row| !row.samples.is_empty());
    sweep.rows = rows;
    Ok(sweep)
}

/// `1, 3, 10`.
pub(crate) fn join(values: &[usize]) -> String {
    values
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the sweep's table and chart show of one row, derived from its
/// runs and its model's lowest-`m` row (medians, see [`super::stats`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepStats {
    /// The median and min–max of the wall time, in seconds.
    pub(crate) wall: Option<Spread>,
    /// Median wall time over the bound.
    pub(crate) ratio: Option<f64>,
    /// The CPU-aware bound: the bound plus (the model's CPU + the server's
    /// CPU) / the machine's CPUs.
    pub(crate) cpu_bound: Option<Duration>,
    /// CPU (user + system) per code, in µs.
    pub(crate) cpu_us_per_request: Option<f64>,
    /// The server's CPU per code, in µs.
    pub(crate) server_us_per_request: Option<f64>,
    /// Peak RSS, in KiB.
    pub(crate) peak_rss_kib: Option<u64>,
    /// Peak PSS, in KiB.
    pub(crate) peak_pss_kib: Option<u64>,
    /// (peak RSS - peak RSS at the lowest m) / (peak in flight - peak in
    /// flight at the lowest m), in KiB: what one more request in flight
    /// costs. `None` for the lowest `m` itself.
    pub rss_kib_per_in_flight: Option<f64>,
}

impl Sweep {
    /// The names of the models (and curl) in the sweep, in the order they
    /// first ran.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for row in &self.rows {
            if !names.contains(&row.name.as_str()) {
                names.push(&row.name);
            }
        }
        names
    }

    /// The rows of `name`, by ascending `m`.
    pub fn runs_of(&self, name: &str) -> Vec<&Row> {
        let mut runs: Vec<&Row> = self.rows.iter().filter(|row| row.name == name).collect();
        runs.sort_by_key(|row| row.max_req);
        runs
    }

    /// What the table shows of `row`, a row of this sweep.
    pub fn stats(&self, row: &Row) -> SweepStats {
        let code_count = self.country_codes.len();
        let lowest = self
            .runs_of(&row.name)
            .into_iter()
            .find(|run| run.wall().is_some());
        let slope = lowest.and_then(|lowest| {
            let rss = row.peak_rss_kib()? as f64 - lowest.peak_rss_kib()? as f64;
            let in_flight = row.median_in_flight()? - lowest.median_in_flight()?;
            (in_flight > 0.0).then(|| rss / in_flight)
        });
        SweepStats {
            wall: row.wall(),
            ratio: row.ratio(),
            cpu_bound: row.cpu_bound(self.repetition.cpus),
            cpu_us_per_request: row.cpu_us_per_request(code_count),
            server_us_per_request: row.server_us_per_request(code_count),
            peak_rss_kib: row.peak_rss_kib(),
            peak_pss_kib: row.peak_pss_kib(),
            rss_kib_per_in_flight: slope,
        }
    }

    /// What one more request in flight costs `name` in memory, as one
    /// figure: the slope ([`SweepStats::rss_kib_per_in_flight`]) at its
    /// highest `m` whose median peak in flight reached [`FULL_SHARE`] of
    /// `m`, so that requests in flight and workers started agree (at the
    /// highest `m`s of a short delay, a pool starts more workers than it
    /// ever has requests in flight, and the slope per request would count
    /// the idle ones too); at its highest `m` if none did. With that `m`.
    pub(crate) fn rss_slope_of(&self, name: &str) -> Option<(usize, f64)> {
        let runs = self.runs_of(name);
        let slopes: Vec<(&Row, f64)> = runs
            .iter()
            .filter_map(|row| Some((*row, self.stats(row).rss_kib_per_in_flight?)))
            .collect();
        let full = slopes.iter().rev().find(|(row, _)| {
            row.median_in_flight()
                .is_some_and(|in_flight| in_flight >= FULL_SHARE * row.max_req as f64)
        });
        full.or(slopes.last())
            .map(|(row, slope)| (row.max_req, *slope))
    }

    /// The warning lines: a busy machine, rows whose runs spread wide.
    pub(crate) fn warnings(&self) -> Vec<String> {
        self.repetition.warnings(&self.rows)
    }

    /// Every row ran and saved what it should have.
    pub fn all_ok(&self) -> bool {
        self.rows.iter().all(Row::is_ok)
    }
}
