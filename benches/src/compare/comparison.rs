//! What a comparison measured: a [`Row`] per model (or curl), gathered in
//! a [`Comparison`], and the [`CompareError`]s that stop one from being made
//! at all.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::chart::ChartError;
use crate::cpu::CpuTimes;

/// One row of the comparison (or one run of a sweep): one model (or curl)
/// at one concurrency, as measured.
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
    /// From spawn to exit.
    pub wall: Duration,
    /// The CPU time of its process and every descendant it reaped, from
    /// `wait4`, when known.
    pub cpu: Option<CpuTimes>,
    /// The CPU time the in-process server's threads spent on this row, from
    /// their `schedstat` before and after ([`crate::cpu::ServerCpu`]).
    pub server_cpu: Option<Duration>,
    /// The CPU time the parent's memory sampler spent watching this row.
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

    /// Its CPU time (user + system) per code, in microseconds.
    pub fn cpu_us_per_request(&self, code_count: usize) -> Option<f64> {
        let cpu = self.cpu?.total();
        (code_count > 0).then(|| cpu.as_secs_f64() * 1e6 / code_count as f64)
    }

    /// The server's CPU time per code, in microseconds.
    pub fn server_us_per_request(&self, code_count: usize) -> Option<f64> {
        let cpu = self.server_cpu?;
        (code_count > 0).then(|| cpu.as_secs_f64() * 1e6 / code_count as f64)
    }

    /// Wall time over the bound, when there is a bound and the row ran.
    pub fn ratio(&self) -> Option<f64> {
        (self.failure.is_none() && !self.bound.is_zero())
            .then(|| self.wall.as_secs_f64() / self.bound.as_secs_f64())
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
    pub(super) fn seq_wall(&self) -> Option<Duration> {
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
    /// The chart could not be drawn.
    #[error("{0}")]
    Draw(ChartError),
    /// The JSON or CSV of the results could not be made.
    #[error("cannot write the results as JSON: {0}")]
    Json(serde_json::Error),
    /// A file (the chart, the JSON or the CSV) could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// Where it should have gone.
        path: PathBuf,
        /// Why it did not.
        source: io::Error,
    },
}
