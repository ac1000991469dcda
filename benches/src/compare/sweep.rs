//! `flags-compare --sweep`: every model at a range of concurrencies on the
//! same work, to show how each one's cost grows with `m`.
//!
//! Each model caps each `m` asked at its own maximum and at the number of
//! codes ([`Model::actual_max_req`]); a capped value is run once (the
//! process pool's 300 and 676 are both its 256). Runs go in order of `m`,
//! every model at one `m` before the next, so the runs compared at one `m`
//! saw about the same background load. Each run is a child process of its
//! own on one in-process server ([`super::run::Rig`]), measured as the
//! comparison's rows are: wall time, CPU (user + system, from `wait4`),
//! peak RSS and threads (sampled), what the server saw, and the server's
//! own CPU.
//!
//! What is derived from them ([`SweepStats`]): the ratio to the bound, CPU
//! per request (the CPU over the number of codes), and the memory a request
//! in flight costs: the slope of peak RSS against the server's peak in
//! flight, from the model's lowest `m` to each other one.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::cli::SweepOptions;
use super::comparison::{CompareError, Row};
use super::run::{Rig, curl_max_req, curl_missing_note, progress_line, say, stop_after_interrupt};
use crate::models::Model;
use crate::peer::curl_version;

/// The share of `m` a run's peak in flight must reach for its memory slope
/// to stand for its model ([`Sweep::rss_slope_of`]).
pub const FULL_SHARE: f64 = 0.9;

/// A finished sweep: every run, in the order they ran.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// The codes of every run.
    pub country_codes: Vec<String>,
    /// The server's delay.
    pub delay: Duration,
    /// The concurrencies asked, ascending.
    pub max_reqs: Vec<usize>,
    /// Every run: [`Row::max_req`] is the `m` it really used.
    pub rows: Vec<Row>,
    /// Notes for the reader: capped values, curl missing, and the like.
    pub notes: Vec<String>,
    /// Ctrl-C stopped the sweep before every run was made.
    pub interrupted: bool,
}

/// One run of the sweep, before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedRun {
    /// The model, or `None` for curl.
    pub model: Option<&'static Model>,
    /// The `m` it uses, capped.
    pub max_req: usize,
}

impl PlannedRun {
    /// The short name: the model's, or `curl`.
    pub fn name(&self) -> &'static str {
        self.model.map_or("curl", |model| model.name)
    }
}

/// Every run of a sweep over `models` (and curl when `with_curl`) at each
/// of `max_reqs` on `code_count` codes: in order of `m`, every model at one
/// `m` before the next; a model whose cap makes two `m` the same runs it
/// once.
///
/// ```
/// use flags_benches::compare::sweep::plan;
/// use flags_benches::models::model_by_name;
/// let models = ["threadpool", "process"].map(|name| model_by_name(name).unwrap());
/// let runs = plan(&models, false, &[1, 100, 300, 676], 676);
/// let named: Vec<_> = runs.iter().map(|run| (run.name(), run.max_req)).collect();
/// assert_eq!(named, [
///     ("threadpool", 1), ("process", 1), ("threadpool", 100), ("process", 100),
///     ("threadpool", 300), ("process", 256), ("threadpool", 676),
/// ]);
/// ```
pub fn plan(
    models: &[&'static Model],
    with_curl: bool,
    max_reqs: &[usize],
    code_count: usize,
) -> Vec<PlannedRun> {
    let mut runs: Vec<PlannedRun> = Vec::new();
    let entries: Vec<Option<&'static Model>> = models
        .iter()
        .copied()
        .map(Some)
        .chain(with_curl.then_some(None))
        .collect();
    for &asked in max_reqs {
        for &model in &entries {
            let max_req = match model {
                Some(model) => model.actual_max_req(asked, code_count),
                None => curl_max_req(asked, code_count),
            };
            let run = PlannedRun { model, max_req };
            if !runs.contains(&run) {
                runs.push(run);
            }
        }
    }
    runs
}

/// Notes on the `m` a model could not use as asked.
fn capping_notes(
    models: &[&'static Model],
    with_curl: bool,
    max_reqs: &[usize],
    code_count: usize,
) -> Vec<String> {
    let mut notes = Vec::new();
    let entries = models
        .iter()
        .map(|model| (model.label, model.max_max_req))
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
                "{label}: m = {} capped at {cap} ({why}), run once at {cap}.",
                capped.join(", ")
            ));
        }
    }
    notes
}

/// Run the sweep of `options`: one server with its delay, then every
/// planned run, each a child process of `program`. Progress goes to
/// `progress`, one line as each run starts and ends.
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
    let runs = plan(&options.models, with_curl, &options.max_reqs, codes.len());
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
            "flags-compare --sweep: {} flags, delay {} s, m = {}, {} runs, server at {}",
            codes.len(),
            options.delay.as_secs_f64(),
            join(&options.max_reqs),
            runs.len(),
            rig.base_url()
        ),
    );
    let total = runs.len();
    for (index, run) in runs.iter().enumerate() {
        if stop_after_interrupt(&mut sweep.notes, &mut sweep.interrupted, progress) {
            break;
        }
        let label = run.model.map_or("curl --parallel", |model| model.label);
        say(
            progress,
            &format!(
                "[{}/{total}] {label}: running with {} at a time...",
                index + 1,
                run.max_req
            ),
        );
        let row = match run.model {
            Some(model) => rig.run_model(model, codes, run.max_req)?,
            None => rig.run_curl(codes, run.max_req)?,
        };
        if stop_after_interrupt(&mut sweep.notes, &mut sweep.interrupted, progress) {
            break;
        }
        say(progress, &progress_line(index + 1, total, &row));
        sweep.rows.push(row);
    }
    rig.shutdown();
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

/// What the sweep's table and chart show of one run, derived from its row
/// and its model's lowest-`m` run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepStats {
    /// Wall time over the bound.
    pub ratio: Option<f64>,
    /// CPU (user + system) per code, in µs.
    pub cpu_us_per_request: Option<f64>,
    /// The server's CPU per code, in µs.
    pub server_us_per_request: Option<f64>,
    /// Peak RSS, in KiB.
    pub peak_rss_kib: Option<u64>,
    /// Peak PSS, in KiB.
    pub peak_pss_kib: Option<u64>,
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

    /// The runs of `name`, by ascending `m`.
    pub fn runs_of(&self, name: &str) -> Vec<&Row> {
        let mut runs: Vec<&Row> = self.rows.iter().filter(|row| row.name == name).collect();
        runs.sort_by_key(|row| row.max_req);
        runs
    }

    /// What the table shows of `row`, a run of this sweep.
    pub fn stats(&self, row: &Row) -> SweepStats {
        let code_count = self.country_codes.len();
        let ran = row.failure.is_none();
        let lowest = self
            .runs_of(&row.name)
            .into_iter()
            .find(|run| run.failure.is_none());
        let slope = lowest.and_then(|lowest| {
            let rss = row.peak_rss_kib? as f64 - lowest.peak_rss_kib? as f64;
            let in_flight = row.peak_in_flight as f64 - lowest.peak_in_flight as f64;
            (ran && in_flight > 0.0).then(|| rss / in_flight)
        });
        SweepStats {
            ratio: row.ratio(),
            cpu_us_per_request: row.cpu_us_per_request(code_count).filter(|_| ran),
            server_us_per_request: row.server_us_per_request(code_count).filter(|_| ran),
            peak_rss_kib: row.peak_rss_kib.filter(|_| ran),
            peak_pss_kib: row.peak_pss_kib.filter(|_| ran),
            rss_kib_per_in_flight: slope,
        }
    }

    /// What one more request in flight costs `name` in memory, as one
    /// figure: the slope ([`SweepStats::rss_kib_per_in_flight`]) at its
    /// highest `m` whose peak in flight reached [`FULL_SHARE`] of `m`, so
    /// that requests in flight and workers started agree (at the highest
    /// `m`s of a short delay, a pool starts more workers than it ever has
    /// requests in flight, and the slope per request would count the idle
    /// ones too); at its highest `m` if none did. With that `m`.
    pub fn rss_slope_of(&self, name: &str) -> Option<(usize, f64)> {
        let runs = self.runs_of(name);
        let slopes: Vec<(&Row, f64)> = runs
            .iter()
            .filter_map(|row| Some((*row, self.stats(row).rss_kib_per_in_flight?)))
            .collect();
        let full = slopes
            .iter()
            .rev()
            .find(|(row, _)| row.peak_in_flight as f64 >= FULL_SHARE * row.max_req as f64);
        full.or(slopes.last())
            .map(|(row, slope)| (row.max_req, *slope))
    }

    /// Every run ran and saved what it should have.
    pub fn all_ok(&self) -> bool {
        self.rows.iter().all(Row::is_ok)
    }
}
