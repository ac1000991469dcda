//! What a row's repeated runs are summed up to, and when `flags-compare`
//! warns that they cannot be trusted much.
//!
//! - **median**: the values sorted, the middle one; with an even count, the
//!   mean of the two middle ones. Half the runs took at most that long, half
//!   at least: one slow run (a page fault storm, another process waking up)
//!   moves it little, where it would move a mean.
//! - **spread**: the least and the most of the values, min–max. It says how
//!   far a run of the same row could land; `max / min` is its width.
//! - CPU time and peak memory are summed up by their median too: each run's
//!   figure is one value, and the median of those values is shown.
//!
//! Two warnings, as hyperfine warns of outliers: a row whose wall times
//! spread wider than [`WIDE_SPREAD`] (`max / min`), and a machine whose
//! 1-minute load average, read when the runs started, was above its number
//! of CPUs (other work was competing for them).

use std::time::Duration;

/// A row's wall times spread wider than this (`max / min`) earn a warning.
pub const WIDE_SPREAD: f64 = 1.25;

/// The median and the extremes of some values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The middle value (the mean of the two middle ones for an even count).
    pub median: f64,
    /// The least value.
    pub min: f64,
    /// The greatest value.
    pub max: f64,
}

impl Spread {
    /// The median and the extremes of `values`, or `None` when there is
    /// none (NaN values are left out).
    ///
    /// ```
    /// use flags_benches::compare::stats::Spread;
    /// let spread = Spread::of(&[0.5, 0.2, 0.4]).unwrap();
    /// assert_eq!((spread.median, spread.min, spread.max), (0.4, 0.2, 0.5));
    /// assert_eq!(Spread::of(&[4.0, 1.0, 3.0, 2.0]).unwrap().median, 2.5);
    /// assert_eq!(Spread::of(&[]), None);
    /// ```
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        sorted.sort_by(f64::total_cmp);
        let count = sorted.len();
        let (&min, &max) = (sorted.first()?, sorted.last()?);
        let median = if count % 2 == 1 {
            sorted[count / 2]
        } else {
            (sorted[count / 2 - 1] + sorted[count / 2]) / 2.0
        };
        Some(Spread { median, min, max })
    }

    /// `max / min`: 1 when every value is the same; infinite when the least
    /// is 0 and the greatest is not.
    pub fn width(&self) -> f64 {
        if self.max == self.min {
            1.0
        } else {
            self.max / self.min
        }
    }

    /// The spread is wider than [`WIDE_SPREAD`].
    pub fn is_wide(&self) -> bool {
        self.width() > WIDE_SPREAD
    }
}

/// The median of `values`, or `None` when there is none.
///
/// ```
/// use flags_benches::compare::stats::median;
/// assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
/// assert_eq!(median(&[1.0, 2.0]), Some(1.5));
/// assert_eq!(median(&[]), None);
/// ```
pub fn median(values: &[f64]) -> Option<f64> {
    Spread::of(values).map(|spread| spread.median)
}

pub(crate) fn median_duration(values: &[Duration]) -> Option<Duration> {
    let seconds: Vec<f64> = values.iter().map(Duration::as_secs_f64).collect();
    median(&seconds).map(Duration::from_secs_f64)
}

/// The median of some counts (of KiB, say), rounded to the nearest.
///
/// ```
/// use flags_benches::compare::stats::median_u64;
/// assert_eq!(median_u64(&[10, 30, 20]), Some(20));
/// assert_eq!(median_u64(&[10, 13]), Some(12));
/// ```
pub fn median_u64(values: &[u64]) -> Option<u64> {
    let floats: Vec<f64> = values.iter().map(|&value| value as f64).collect();
    median(&floats).map(|value| value.round() as u64)
}

/// The index, in `values`, of the run whose value is the median: with an
/// odd count the median itself, with an even count the lower of the two
/// middle ones (a run that really happened, to draw). `None` when empty.
///
/// ```
/// use flags_benches::compare::stats::median_index;
/// assert_eq!(median_index(&[0.5, 0.2, 0.4]), Some(2));
/// assert_eq!(median_index(&[0.5, 0.2, 0.4, 0.3]), Some(3));
/// assert_eq!(median_index(&[]), None);
/// ```
pub fn median_index(values: &[f64]) -> Option<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let count = order.len();
    (count > 0).then(|| order[(count - 1) / 2])
}

/// The 1-minute load average now, from `/proc/loadavg` (Linux only): the
/// average number of threads running or waiting to run.
pub(crate) fn load_average_now() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The machine counts as busy when its 1-minute load average, read as the
/// runs started, was above its number of CPUs.
///
/// ```
/// use flags_benches::compare::stats::was_busy;
/// assert!(was_busy(Some(2.5), 2));
/// assert!(!was_busy(Some(2.0), 2));
/// assert!(!was_busy(None, 2));
/// ```
pub fn was_busy(load_average: Option<f64>, cpus: usize) -> bool {
    load_average.is_some_and(|load| load > cpus as f64)
}

/// The warning line for a busy machine, or `None` when it was not.
pub fn busy_warning(load_average: Option<f64>, cpus: usize) -> Option<String> {
    let load = load_average.filter(|_| was_busy(load_average, cpus))?;
    Some(format!(
        "Warning: the machine was busy: its 1-minute load average was {load:.2} when the \
         runs started, above its {cpus} CPUs. Other work competed with the models; the \
         figures may be slower and more spread than on a quiet machine."
    ))
}

/// The warning line for a row whose wall times spread wide, or `None`.
///
/// ```
/// use flags_benches::compare::stats::{Spread, spread_warning};
/// let wide = Spread::of(&[0.40, 0.41, 0.60]).unwrap();
/// let line = spread_warning("async (m = 10)", &wide, 3).unwrap();
/// assert!(line.starts_with("Warning: async (m = 10): "), "{line}");
/// assert!(line.contains("max/min = 1.50"), "{line}");
/// assert_eq!(spread_warning("async", &Spread::of(&[0.40, 0.45]).unwrap(), 2), None);
/// ```
pub fn spread_warning(what: &str, wall: &Spread, runs: usize) -> Option<String> {
    wall.is_wide().then(|| {
        format!(
            "Warning: {what}: the wall times of its {runs} runs spread from {:.3} s to {:.3} s \
             (max/min = {:.2}, above {WIDE_SPREAD}). Something else on the machine may have \
             slowed some runs: try more runs (--runs) on a quieter machine.",
            wall.min,
            wall.max,
            wall.width()
        )
    })
}
