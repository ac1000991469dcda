//! What a comparison measured: a [`Row`] per model (or curl), gathered in
//! a [`Comparison`], and the [`CompareError`]s that stop one from being made
//! at all.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::chart::ChartError;

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
    /// The chart could not be written.
    #[error("cannot write the chart to {}: {source}", path.display())]
    Chart {
        /// Where it should have gone.
        path: PathBuf,
        /// Why it did not.
        source: io::Error,
    },
}
