//! What a comparison measured: a [`Row`] per model (or curl), each with
//! its runs ([`Sample`]), gathered in a [`Comparison`]; how the runs were
//! repeated ([`Repetition`]); and the [`CompareError`]s that stop one from
//! being made at all.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use super::stats::{Spread, median, median_duration, median_index, median_u64};
use crate::chart::ChartError;
use crate::cpu::CpuTimes;

/// One run of a model (or curl) at one concurrency, as measured: what
/// `super::run::Rig` makes of one child process.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Which measured round of its row this was, from 1 (warm-up rounds
    /// are not counted).
    pub round: usize,
    /// Its place among every run of its part (comparison or sweep), from 1,
    /// warm-up runs included: the `[k/total]` of the progress lines.
    pub order: usize,
    /// From spawn to exit.
    pub wall: Duration,
    /// The CPU time of its process and every descendant it reaped, from
    /// `wait4`, when known.
    pub cpu: Option<CpuTimes>,
    /// The CPU time the in-process server's threads spent on this run, from
    /// their `schedstat` before and after (`crate::cpu::ServerCpu`).
    pub server_cpu: Option<Duration>,
    /// The CPU time the parent's memory sampler spent watching this run.
    pub sampler_cpu: Option<Duration>,
    /// The peak resident memory of its processes, in KiB, when known.
    pub peak_rss_kib: Option<u64>,
    /// The peak proportional set size of its processes (shared pages split
    /// among them), in KiB, as sampled, when known.
    pub peak_pss_kib: Option<u64>,
    /// The most processes it had at once (0 when unknown).
    pub processes: usize,
    /// The most threads it had at once, over all its processes, sampled
    /// (0 when unknown).
    pub peak_threads: usize,
    /// The most requests the server had in flight at once.
    pub peak_in_flight: u64,
    /// How many requests the server received.
    pub requests: u64,
    /// Flags saved identical to the server's.
    pub saved: usize,
    /// Codes that ended in error: as the model counted them, or for curl
    /// the flags it did not save.
    pub errors: usize,
    /// Why the run did not go to the end, if it did not.
    pub failure: Option<String>,
    /// What is wrong with what it saved or counted.
    pub problems: Vec<String>,
    /// Each request as the server saw it, `(arrived, finished)` in seconds
    /// since the run's process was spawned.
    pub timeline: Vec<(f64, f64)>,
}

impl Sample {
    /// The run went to the end (whatever it saved).
    pub(crate) fn ran(&self) -> bool {
        self.failure.is_none()
    }

    /// The run went to the end and saved exactly what it should have.
    pub(crate) fn is_ok(&self) -> bool {
        self.failure.is_none() && self.problems.is_empty()
    }
}

/// One line of a table: one model (or curl) at one concurrency, with every
/// run of it ([`Sample`]) and what they sum up to (see [`super::stats`]:
/// the median and min–max of the wall time, the medians of CPU and
/// memory).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// The short name (`seq`, `rayon`, `curl`...).
    pub name: String,
    /// The name in the table.
    pub label: String,
    /// The concurrency it really used: min(`-m`, its maximum, N).
    pub max_req: usize,
    /// `ceil(N / max_req) x delay`.
    pub bound: Duration,
    /// Its measured runs, in the order they ran.
    pub samples: Vec<Sample>,
}

impl Row {
    /// A row with no run yet.
    pub fn new(name: &str, label: &str, max_req: usize, bound: Duration) -> Row {
        Row {
            name: name.to_string(),
            label: label.to_string(),
            max_req,
            bound,
            samples: Vec::new(),
        }
    }

    /// The runs that went to the end.
    pub(crate) fn ran(&self) -> impl Iterator<Item = &Sample> {
        self.samples.iter().filter(|sample| sample.ran())
    }

    /// At least one run, and every run went to the end and saved exactly
    /// what it should have.
    pub fn is_ok(&self) -> bool {
        !self.samples.is_empty() && self.samples.iter().all(Sample::is_ok)
    }

    /// Why no run went to the end, when none did: the first run's failure.
    pub fn failure(&self) -> Option<&str> {
        if self.ran().next().is_some() {
            return None;
        }
        self.samples
            .iter()
            .find_map(|sample| sample.failure.as_deref())
    }

    /// How many runs did not go to the end.
    pub fn failed_runs(&self) -> usize {
        self.samples.iter().filter(|sample| !sample.ran()).count()
    }

    /// The median and min–max of the wall times of the runs that went to
    /// the end.
    pub fn wall(&self) -> Option<Spread> {
        let walls: Vec<f64> = self.ran().map(|s| s.wall.as_secs_f64()).collect();
        Spread::of(&walls)
    }

    /// The median wall time.
    pub fn median_wall(&self) -> Option<Duration> {
        self.wall()
            .map(|spread| Duration::from_secs_f64(spread.median))
    }

    /// The median CPU time (user + system) of the model's processes.
    pub fn cpu(&self) -> Option<Duration> {
        let cpus: Vec<Duration> = self
            .ran()
            .filter_map(|s| s.cpu.map(|cpu| cpu.total()))
            .collect();
        median_duration(&cpus)
    }

    /// The median and min–max of the runs' CPU time (user + system), in
    /// seconds.
    pub fn cpu_spread(&self) -> Option<Spread> {
        let cpus: Vec<f64> = self
            .ran()
            .filter_map(|s| s.cpu.map(|cpu| cpu.total().as_secs_f64()))
            .collect();
        Spread::of(&cpus)
    }

    /// The median CPU time of the in-process server's threads.
    pub fn server_cpu(&self) -> Option<Duration> {
        let cpus: Vec<Duration> = self.ran().filter_map(|s| s.server_cpu).collect();
        median_duration(&cpus)
    }

    /// The CPU time the memory sampler spent on every run of the row.
    pub(crate) fn sampler_cpu(&self) -> Option<Duration> {
        let cpus: Vec<Duration> = self.samples.iter().filter_map(|s| s.sampler_cpu).collect();
        (!cpus.is_empty()).then(|| cpus.iter().sum())
    }

    /// The median of the runs' peak RSS, in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let peaks: Vec<u64> = self.ran().filter_map(|s| s.peak_rss_kib).collect();
        median_u64(&peaks)
    }

    /// The median of the runs' peak PSS, in KiB.
    pub fn peak_pss_kib(&self) -> Option<u64> {
        let peaks: Vec<u64> = self.ran().filter_map(|s| s.peak_pss_kib).collect();
        median_u64(&peaks)
    }

    /// The most requests in flight the server saw, over every run.
    pub fn peak_in_flight(&self) -> u64 {
        self.samples
            .iter()
            .map(|s| s.peak_in_flight)
            .max()
            .unwrap_or(0)
    }

    /// The median of the runs' peak in flight.
    pub(crate) fn median_in_flight(&self) -> Option<f64> {
        let peaks: Vec<f64> = self.ran().map(|s| s.peak_in_flight as f64).collect();
        median(&peaks)
    }

    /// The most processes at once, over every run.
    pub fn processes(&self) -> usize {
        self.samples.iter().map(|s| s.processes).max().unwrap_or(0)
    }

    /// The most threads at once, over every run.
    pub fn peak_threads(&self) -> usize {
        self.samples
            .iter()
            .map(|s| s.peak_threads)
            .max()
            .unwrap_or(0)
    }

    /// The fewest flags a run saved.
    pub fn saved(&self) -> usize {
        self.samples.iter().map(|s| s.saved).min().unwrap_or(0)
    }

    /// The most errors a run had.
    pub fn errors(&self) -> usize {
        self.samples.iter().map(|s| s.errors).max().unwrap_or(0)
    }

    /// Median CPU time (user + system) per code, in microseconds.
    pub(crate) fn cpu_us_per_request(&self, code_count: usize) -> Option<f64> {
        let cpu = self.cpu()?;
        (code_count > 0).then(|| cpu.as_secs_f64() * 1e6 / code_count as f64)
    }

    /// The server's median CPU time per code, in microseconds.
    pub(crate) fn server_us_per_request(&self, code_count: usize) -> Option<f64> {
        let cpu = self.server_cpu()?;
        (code_count > 0).then(|| cpu.as_secs_f64() * 1e6 / code_count as f64)
    }

    /// Median wall time over the bound, when there is a bound and a run
    /// went to the end.
    pub fn ratio(&self) -> Option<f64> {
        let wall = self.wall()?;
        (!self.bound.is_zero()).then(|| wall.median / self.bound.as_secs_f64())
    }

    /// The CPU-aware bound: the bound plus the CPU time the run needs
    /// besides waiting, spread over the machine's `cpus`: `bound + (model
    /// CPU + server CPU) / cpus`, from the medians. A model whose wall time
    /// is near it is computing, not waiting.
    pub fn cpu_bound(&self, cpus: usize) -> Option<Duration> {
        let work = self.cpu()? + self.server_cpu().unwrap_or_default();
        Some(self.bound + work / u32::try_from(cpus.max(1)).unwrap_or(1))
    }

    /// The run the chart draws: the one whose wall time is the median (the
    /// lower middle one for an even count), among the runs that went to the
    /// end; the first run when none did.
    pub fn charted(&self) -> Option<&Sample> {
        let ran: Vec<&Sample> = self.ran().collect();
        let walls: Vec<f64> = ran.iter().map(|s| s.wall.as_secs_f64()).collect();
        median_index(&walls)
            .map(|index| ran[index])
            .or(self.samples.first())
    }
}

/// How the runs of a part (the comparison or the sweep) were repeated, and
/// how busy the machine was when they started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Repetition {
    /// Measured runs of every row.
    pub runs: usize,
    /// Rounds run first and thrown away.
    pub warmup: usize,
    /// The CPUs the runs could use.
    pub cpus: usize,
    /// The 1-minute load average when the runs started (Linux only).
    pub load_average: Option<f64>,
}

impl Repetition {
    /// `runs` and `warmup` on this machine, now.
    pub(crate) fn now(runs: usize, warmup: usize) -> Repetition {
        Repetition {
            runs,
            warmup,
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            load_average: super::stats::load_average_now(),
        }
    }

    /// What the table's header says of it: `median of 3 runs (interleaved,
    /// after 1 warm-up round)`.
    pub(crate) fn describe(&self) -> String {
        let warmup = match self.warmup {
            0 => String::new(),
            1 => ", after 1 warm-up round".to_string(),
            rounds => format!(", after {rounds} warm-up rounds"),
        };
        if self.runs == 1 {
            format!("1 run per row, so no spread (--runs N to repeat){warmup}")
        } else {
            format!(
                "median of {} runs per row, interleaved, min–max their spread{warmup}",
                self.runs
            )
        }
    }

    /// The warning lines for `rows`: the machine was busy, a row's wall
    /// times spread wide.
    pub fn warnings<'a>(&self, rows: impl IntoIterator<Item = &'a Row>) -> Vec<String> {
        let mut warnings: Vec<String> = super::stats::busy_warning(self.load_average, self.cpus)
            .into_iter()
            .collect();
        for row in rows {
            if let Some(wall) = row.wall() {
                let what = format!("{} (m = {})", row.label, row.max_req);
                warnings.extend(super::stats::spread_warning(
                    &what,
                    &wall,
                    row.ran().count(),
                ));
            }
        }
        warnings
    }
}

impl Default for Repetition {
    /// One run, no warm-up, on one CPU of unknown load.
    fn default() -> Repetition {
        Repetition {
            runs: 1,
            warmup: 0,
            cpus: 1,
            load_average: None,
        }
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
    /// How the runs were repeated.
    pub repetition: Repetition,
    /// The rows, in the order of `--models` (curl last).
    pub rows: Vec<Row>,
    /// Notes for the reader: curl missing, and the like.
    pub notes: Vec<String>,
    /// Ctrl-C stopped the comparison before every run was made.
    pub interrupted: bool,
}

impl Comparison {
    /// Every row ran and saved what it should have.
    pub fn all_ok(&self) -> bool {
        self.rows.iter().all(Row::is_ok)
    }

    /// The median wall time of the sequential row, when it ran.
    pub(super) fn seq_wall(&self) -> Option<Duration> {
        self.rows
            .iter()
            .find(|row| row.name == "seq")
            .and_then(Row::median_wall)
    }

    /// The warning lines: a busy machine, rows whose runs spread wide.
    pub(crate) fn warnings(&self) -> Vec<String> {
        self.repetition.warnings(&self.rows)
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
    /// The chart could not be drawn.
    #[error("{0}")]
    Draw(ChartError),
    /// The JSON or CSV of the results could not be made.
    #[error("cannot write the results as JSON: {0}")]
    Json(serde_json::Error),
    /// A part of `--results` has a command line that does not parse.
    #[error("--results: the part {part} has a bad command line: {message}")]
    Part {
        /// The part's name.
        part: String,
        /// Why its command line is refused.
        message: String,
    },
    /// A file (the chart, the JSON or the CSV) could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// Where it should have gone.
        path: PathBuf,
        /// Why it did not.
        source: io::Error,
    },
}
