//! Time axes: from 0 to a round number of seconds, with round ticks, and
//! the way durations are written on a chart.
//!
//! plotters would pick ticks by itself; choosing them here keeps the axis
//! ending on a tick (so a bar at the longest time ends near the right end)
//! and the labels written with just the decimals their step needs.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;

/// A round step for about `target` ticks on an axis from 0 to `max`: 1, 2
/// or 5 times a power of ten.
pub(crate) fn tick_step(max: f64, target: usize) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 1.0;
    }
    let rough = max / target.max(1) as f64;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|factor| factor * power)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * power);
    // Round away the binary noise of powf (0.05 rather than 0.05000000001).
    let digits = (-step.log10().floor()).max(0.0) as i32 + 1;
    let scale = 10f64.powi(digits);
    (step * scale).round() / scale
}

/// A time axis from 0 to [`TimeAxis::max`] seconds, a whole number of
/// [`TimeAxis::step`]s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TimeAxis {
    /// The time at the right end.
    pub(crate) max: f64,
    /// The distance between two ticks.
    pub(crate) step: f64,
}

impl TimeAxis {
    /// An axis long enough for `longest` seconds, with about 8 ticks.
    pub(crate) fn new(longest: f64) -> TimeAxis {
        let step = tick_step(longest, 8);
        let ticks = (longest / step).ceil().max(1.0);
        // Round as tick_step does: 6 x 0.2 is 1.2000000000000002.
        let max = ((ticks * step) * 1e9).round() / 1e9;
        TimeAxis { max, step }
    }

    /// The ticks, 0 included, `max` included.
    pub(crate) fn ticks(&self) -> Vec<f64> {
        let count = (self.max / self.step).round() as usize;
        (0..=count)
            .map(|tick| ((tick as f64 * self.step) * 1e9).round() / 1e9)
            .collect()
    }

    /// The axis as a plotters coordinate, with [`TimeAxis::ticks`] as its
    /// key points.
    pub(crate) fn coord(&self) -> Ticked {
        Ticked::new(0.0..self.max, self.ticks())
    }

    /// A tick's label: as many decimals as the step needs, no more.
    pub(crate) fn label(&self, seconds: f64) -> String {
        format!("{seconds:.*}", decimals_for(self.step))
    }

    /// `seconds` moved inside the axis, so that nothing is drawn past its
    /// ends (plotters does not clip).
    pub(crate) fn clamp(&self, seconds: f64) -> f64 {
        if seconds.is_nan() {
            0.0
        } else {
            seconds.clamp(0.0, self.max)
        }
    }
}

/// A linear plotters coordinate over a range of `f64`, whose only key
/// points (ticks, grid lines, labels) are the ones it is given.
///
/// plotters' own `with_key_points` does the same but loses the coordinate's
/// label formatting, which its mesh then refuses; this one keeps plotters'
/// mapping of values to pixels and its default formatting, which every
/// chart here replaces with its own labels anyway.
#[derive(Debug, Clone)]
pub(crate) struct Ticked {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ticked {
    /// The coordinate over `range` with `ticks`.
    pub(crate) fn new(range: Range<f64>, ticks: Vec<f64>) -> Ticked {
        Ticked { range, ticks }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        RangedCoordf64::from(self.range.clone()).map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Light points are the thin grid lines between ticks: none.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// Decimals enough to write multiples of `step` exactly.
fn decimals_for(step: f64) -> usize {
    let mut decimals = 0;
    while decimals < 6
        && ((step * 10f64.powi(decimals as i32)).round() - step * 10f64.powi(decimals as i32)).abs()
            > 1e-9
    {
        decimals += 1;
    }
    decimals
}

/// A duration for a label: `4.07 s`, `0.412 s`, `12.0 ms`.
pub(crate) fn seconds_label(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else if seconds >= 0.1 {
        format!("{seconds:.3} s")
    } else {
        format!("{:.1} ms", seconds * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tick_step_examples() {
        use crate::chart::axis::tick_step;
        assert_eq!(tick_step(4.07, 8), 1.0);
        assert_eq!(tick_step(0.42, 8), 0.1);
        assert_eq!(tick_step(0.42, 10), 0.05);
        assert_eq!(tick_step(10.0, 5), 2.0);
    }

    #[test]
    fn time_axis_new_examples() {
        use crate::chart::TimeAxis;
        let axis = TimeAxis::new(1.018);
        assert_eq!((axis.max, axis.step), (1.2, 0.2));
        assert_eq!(axis.label(0.4), "0.4");
        assert_eq!(TimeAxis::new(0.0).max, 1.0);
    }

    #[test]
    fn seconds_label_examples() {
        use crate::chart::seconds_label;
        assert_eq!(seconds_label(4.071), "4.07 s");
        assert_eq!(seconds_label(0.4123), "0.412 s");
        assert_eq!(seconds_label(0.012), "12.0 ms");
    }
}
