//! The chart of a sweep: three panels over `m` on a log scale, one line
//! per model in each, drawn on a page of `super::draw_page`.
//!
//! 1. **wall / bound**: 1 is the bound `ceil(N / m) x delay` (a black
//!    line); where a model's line leaves it, its own costs start to show.
//!    Each model's CPU-aware bound (the bound plus the model's and the
//!    server's CPU time shared over the machine's CPUs), over the same
//!    bound, is a dashed line in its colour: a model whose line runs along
//!    its dashed line is computing, one above it is waiting on something
//!    else. With more than one run per point, a whisker spans the min–max.
//! 2. **CPU per request** (µs): user + system of the model's processes over
//!    the number of codes.
//! 3. **peak RSS** (MiB), with what one more request in flight costs
//!    written at the end of each line.
//!
//! A y axis is logarithmic when its values span more than `LOG_SPAN`
//! (the process pool's memory is a hundred times the async model's), and
//! linear from 0 otherwise; the axis title says which.
//!
//! As in the comparison's chart, marks are told apart by colour: a model's
//! line is the only `polyline` stroked with its colour, 2 pixels wide and
//! opaque, in a panel (so three per model on the page), its points
//! `circle`s, and the bound the only `polyline` stroked with [`BOUND`]. Its
//! whiskers are 1 pixel wide, and the dashes of its CPU-aware bound are
//! drawn at `DASH_OPACITY`. The legend uses circles, not lines.

use std::ops::Range;

use plotters::chart::ChartBuilder;
use plotters::element::{Circle, DashedPathElement, PathElement, Text};
use plotters::style::Color;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::bars::whisker_points;
use super::style::{AXIS, BOUND, GRID, INK, MARGIN, WIDTH, bold, colour, text};
use super::{Area, ChartError, DrawError, Ticked, TimeAxis, draw_page};

/// A y axis whose largest value is more than this many times its smallest
/// is drawn on a log scale.
pub(crate) const LOG_SPAN: f64 = 20.0;
/// The legend's strip: the models, then what the marks mean.
const LEGEND_HEIGHT: u32 = 58;
/// The opacity of the dashes of a CPU-aware bound.
pub(crate) const DASH_OPACITY: f64 = 0.85;
/// Half the width of a whisker's end ticks, in pixels.
const WHISKER_TICK: i32 = 4;
/// A panel's title and note, over its plot.
const PANEL_HEADER: u32 = 48;
/// A panel's plot, axes included.
const PLOT_HEIGHT: u32 = 300;
/// Room between two panels.
const GAP: u32 = 14;
/// Room for the y tick labels.
const Y_LABELS: u32 = 70;
/// Room for the x tick labels and the axis title.
const X_LABELS: u32 = 40;
/// Room right of a plot for the label at the end of each line.
const END_LABELS: u32 = 260;
/// The distance between two entries of the legend.
const LEGEND_PITCH: i32 = 190;
/// The least distance between two end labels, in pixels.
const LABEL_PITCH: i32 = 14;

/// One point of a model's line: one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepPoint {
    /// The `m` it used.
    pub m: usize,
    /// Median wall time over the bound.
    pub ratio: Option<f64>,
    /// The least and the most wall time over the bound, when the point
    /// ran more than once.
    pub ratio_spread: Option<(f64, f64)>,
    /// The CPU-aware bound over the bound.
    pub cpu_bound_ratio: Option<f64>,
    /// CPU per request, in µs.
    pub cpu_us: Option<f64>,
    /// Peak RSS, in MiB.
    pub rss_mib: Option<f64>,
}

/// One model's line.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepLine {
    /// Its name in the legend, e.g. `threadpool (std)`.
    pub label: String,
    /// Its palette index ([`super::style::colour`]).
    pub colour: usize,
    /// Its runs, by ascending `m`.
    pub points: Vec<SweepPoint>,
    /// Written after its label at the end of its memory line, e.g.
    /// `+61 KiB/req (m=300)`.
    pub rss_note: Option<String>,
}

/// Everything the sweep's chart shows.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepChart {
    /// The first line.
    pub title: String,
    /// The second line: the machine and the date.
    pub subtitle: String,
    /// The `m` with a tick on the x axes.
    pub ticks: Vec<usize>,
    /// One line per model.
    pub lines: Vec<SweepLine>,
}

/// The height of the page's body.
fn body_height() -> u32 {
    LEGEND_HEIGHT + 3 * (PANEL_HEADER + PLOT_HEIGHT + GAP)
}

/// Render the sweep's chart as a standalone SVG document.
pub fn render_sweep_svg(chart: &SweepChart) -> Result<String, ChartError> {
    draw_page(&chart.title, &chart.subtitle, body_height(), |area| {
        let (legend, mut rest) = area.split_vertically(LEGEND_HEIGHT);
        draw_legend(&legend, &chart.lines)?;
        let panels: [Panel; 3] = [
            Panel {
                title: "Wall time / bound",
                note: "1 = the bound ceil(N / m) x delay (black line). Where a line leaves it, \
                       the model's own costs show. Dashed: its CPU-aware bound, \
                       bound + (model CPU + server CPU) / CPUs.",
                unit: "wall / bound",
                value: |point| point.ratio,
                spread: |point| point.ratio_spread,
                dashed: |point| point.cpu_bound_ratio,
                reference: Some(1.0),
                rss: false,
            },
            Panel {
                title: "CPU per request",
                note: "User + system time of the model's processes (from wait4), over the \
                       number of codes.",
                unit: "µs per request",
                value: |point| point.cpu_us,
                spread: |_| None,
                dashed: |_| None,
                reference: None,
                rss: false,
            },
            Panel {
                title: "Peak resident memory",
                note: "Summed over the model's processes. At the end of each line, KiB/req: what one \
                       more request in flight costs over the lowest m, at the highest m that had \
                       90% of m in flight.",
                unit: "MiB",
                value: |point| point.rss_mib,
                spread: |_| None,
                dashed: |_| None,
                reference: None,
                rss: true,
            },
        ];
        for panel in &panels {
            let (this, below) = rest.split_vertically(PANEL_HEADER + PLOT_HEIGHT + GAP);
            draw_panel(&this, chart, panel)?;
            rest = below;
        }
        Ok(())
    })
}

/// One panel: what it shows of each point.
struct Panel {
    title: &'static str,
    note: &'static str,
    unit: &'static str,
    value: fn(&SweepPoint) -> Option<f64>,
    /// The min–max of the value, drawn as a whisker.
    spread: fn(&SweepPoint) -> Option<(f64, f64)>,
    /// A second value of each model, drawn as a dashed line in its colour.
    dashed: fn(&SweepPoint) -> Option<f64>,
    /// A value to draw across the plot in [`BOUND`] colour.
    reference: Option<f64>,
    /// Write each line's memory note at its end.
    rss: bool,
}

/// The legend: a dot and a label per model; then, in ink, what a dashed
/// line and a whisker are.
fn draw_legend(area: &Area<'_>, lines: &[SweepLine]) -> Result<(), DrawError> {
    let label = text(13.0, INK).pos(Pos::new(HPos::Left, VPos::Center));
    let mut x = MARGIN + 6;
    for line in lines {
        area.draw(&Circle::new((x, 16), 6, colour(line.colour).filled()))?;
        area.draw(&Text::new(line.label.clone(), (x + 12, 16), label.clone()))?;
        x += LEGEND_PITCH;
    }
    let small = text(12.0, AXIS).pos(Pos::new(HPos::Left, VPos::Center));
    let x = MARGIN;
    area.draw(&DashedPathElement::new(
        vec![(x, 42), (x + 24, 42)],
        6,
        4,
        AXIS.stroke_width(1),
    ))?;
    area.draw(&Text::new(
        "dashed, in a model's colour: its CPU-aware bound (top panel)",
        (x + 30, 42),
        small.clone(),
    ))?;
    let whisker = x + 420;
    if lines
        .iter()
        .any(|line| line.points.iter().any(|p| p.ratio_spread.is_some()))
    {
        area.draw(&PathElement::new(
            whisker_points((whisker + 6, 34), (whisker + 6, 50), WHISKER_TICK, false),
            AXIS.stroke_width(1),
        ))?;
        area.draw(&Text::new(
            "min–max of the runs at that point (top panel; the dot is the median)",
            (whisker + 18, 42),
            small,
        ))?;
    }
    Ok(())
}

/// A y scale: linear from 0, or log10.
#[derive(Debug, Clone)]
enum Scale {
    Linear(TimeAxis),
    Log { range: Range<f64>, ticks: Vec<f64> },
}

impl Scale {
    /// The scale for `values` (and `reference`, if any).
    fn for_values(values: &[f64], reference: Option<f64>) -> Scale {
        let all: Vec<f64> = values
            .iter()
            .copied()
            .chain(reference)
            .filter(|v| v.is_finite())
            .collect();
        let high = all.iter().copied().fold(0.0, f64::max);
        let low = all.iter().copied().fold(f64::INFINITY, f64::min);
        if low > 0.0 && high / low > LOG_SPAN {
            let (range, ticks) = log_ticks(low, high);
            Scale::Log { range, ticks }
        } else {
            Scale::Linear(TimeAxis::new(if high > 0.0 { high * 1.05 } else { 1.0 }))
        }
    }

    /// A value on the plot's y coordinate.
    fn plot(&self, value: f64) -> f64 {
        match self {
            Scale::Linear(axis) => axis.clamp(value),
            Scale::Log { range, .. } => value.max(1e-9).log10().clamp(range.start, range.end),
        }
    }

    /// The coordinate, with its ticks.
    fn coord(&self) -> Ticked {
        match self {
            Scale::Linear(axis) => axis.coord(),
            Scale::Log { range, ticks } => Ticked::new(range.clone(), ticks.clone()),
        }
    }

    /// The label of a tick, given in plot coordinates.
    fn label(&self, plotted: f64) -> String {
        match self {
            Scale::Linear(axis) => axis.label(plotted),
            Scale::Log { .. } => number_label(10f64.powf(plotted)),
        }
    }

    /// What the axis title adds.
    fn name(&self) -> &'static str {
        match self {
            Scale::Linear(_) => "",
            Scale::Log { .. } => " (log scale)",
        }
    }
}

/// A log axis from a round value at or under `low` to one at or over
/// `high` (1, 2 or 5 times a power of ten), in log10, with its ticks; the
/// range goes 3% of its span past both.
pub(crate) fn log_ticks(low: f64, high: f64) -> (Range<f64>, Vec<f64>) {
    let first = low.log10().floor() as i32 - 1;
    let last = high.log10().ceil() as i32 + 1;
    let mut candidates: Vec<f64> = (first..=last)
        .flat_map(|power| [1.0, 2.0, 5.0].map(|k| k * 10f64.powi(power)))
        .collect();
    candidates.sort_by(f64::total_cmp);
    let start = candidates
        .iter()
        .copied()
        .filter(|c| *c <= low * 1.000_001)
        .fold(candidates[0], f64::max);
    let end = candidates
        .iter()
        .copied()
        .find(|c| *c >= high / 1.000_001)
        .unwrap_or(high);
    let mut ticks: Vec<f64> = candidates
        .into_iter()
        .filter(|c| *c >= start && *c <= end)
        .collect();
    if ticks.len() > 10 {
        // Many decades: the powers of ten alone.
        ticks.retain(|tick| (tick.log10() - tick.log10().round()).abs() < 1e-9);
    }
    let ticks = ticks.into_iter().map(f64::log10).collect();
    // A little room past the end ticks, so that a line (or the bound) on
    // them is not hidden by the axis.
    let pad = (end.log10() - start.log10()).max(0.3) * 0.03;
    (start.log10() - pad..end.log10() + pad, ticks)
}

/// A tick value: `0.5`, `20`, `1000`.
fn number_label(value: f64) -> String {
    if value >= 10.0 {
        format!("{value:.0}")
    } else {
        let decimals = (0..4)
            .find(|&d| ((value * 10f64.powi(d)).round() - value * 10f64.powi(d)).abs() < 1e-6)
            .unwrap_or(3) as usize;
        format!("{value:.decimals$}")
    }
}

/// The x coordinate: log10 of m, with a tick at each of `ticks`.
fn x_coord(ticks: &[usize], lines: &[SweepLine]) -> Ticked {
    let used = lines
        .iter()
        .flat_map(|line| line.points.iter().map(|p| p.m));
    let (low, high) = ticks
        .iter()
        .copied()
        .chain(used)
        .fold((usize::MAX, 1), |(low, high), m| (low.min(m), high.max(m)));
    let low = (low.max(1) as f64).log10();
    let high = (high.max(1) as f64).log10().max(low + 0.5);
    let pad = (high - low) * 0.04;
    Ticked::new(
        low - pad..high + pad,
        ticks.iter().map(|&m| (m.max(1) as f64).log10()).collect(),
    )
}

/// One panel: its title and note, then its plot.
fn draw_panel(area: &Area<'_>, chart: &SweepChart, panel: &Panel) -> Result<(), DrawError> {
    area.draw(&Text::new(panel.title, (MARGIN, 4), bold(16.0, INK)))?;
    area.draw(&Text::new(panel.note, (MARGIN, 26), text(12.0, AXIS)))?;
    let (_, below) = area.split_vertically(PANEL_HEADER);
    let (plot_area, _) = below.split_vertically(PLOT_HEIGHT);
    let values: Vec<f64> = chart
        .lines
        .iter()
        .flat_map(|line| {
            line.points.iter().flat_map(|point| {
                let spread = (panel.spread)(point);
                [
                    (panel.value)(point),
                    (panel.dashed)(point),
                    spread.map(|(min, _)| min),
                    spread.map(|(_, max)| max),
                ]
                .into_iter()
                .flatten()
            })
        })
        .collect();
    let scale = Scale::for_values(&values, panel.reference);
    let mut plot = ChartBuilder::on(&plot_area)
        .margin_left(MARGIN as u32)
        .margin_right(END_LABELS)
        .margin_top(6)
        .x_label_area_size(X_LABELS)
        .y_label_area_size(Y_LABELS)
        .build_cartesian_2d(x_coord(&chart.ticks, &chart.lines), scale.coord())?;
    let y_title = format!("{}{}", panel.unit, scale.name());
    plot.configure_mesh()
        .bold_line_style(GRID)
        .axis_style(AXIS)
        .x_labels(chart.ticks.len())
        .y_labels(16)
        .x_label_formatter(&|x| format!("{:.0}", 10f64.powf(*x)))
        .y_label_formatter(&|y| scale.label(*y))
        .label_style(text(11.0, AXIS))
        .x_desc("m, requests allowed in flight (log scale)")
        .y_desc(y_title)
        .axis_desc_style(text(11.0, AXIS))
        .draw()?;
    let x_range = plot.x_range();
    if let Some(reference) = panel.reference {
        let y = scale.plot(reference);
        plot.draw_series(std::iter::once(PathElement::new(
            vec![(x_range.start, y), (x_range.end, y)],
            BOUND.stroke_width(1),
        )))?;
    }
    let mut ends: Vec<(i32, String, usize)> = Vec::new();
    for line in &chart.lines {
        let points: Vec<(f64, f64)> = line
            .points
            .iter()
            .filter_map(|point| {
                let value = (panel.value)(point)?;
                Some(((point.m.max(1) as f64).log10(), scale.plot(value)))
            })
            .collect();
        let Some(&last) = points.last() else {
            continue;
        };
        let stroke = colour(line.colour);
        let dashed: Vec<(f64, f64)> = line
            .points
            .iter()
            .filter_map(|point| {
                let value = (panel.dashed)(point)?;
                Some(((point.m.max(1) as f64).log10(), scale.plot(value)))
            })
            .collect();
        if dashed.len() > 1 {
            plot.draw_series(std::iter::once(DashedPathElement::new(
                dashed,
                6,
                4,
                stroke.mix(DASH_OPACITY).stroke_width(1),
            )))?;
        }
        plot.draw_series(std::iter::once(PathElement::new(
            points.clone(),
            stroke.stroke_width(2),
        )))?;
        // The whiskers, in pixels on the plot's area: a vertical line from
        // the least value to the most, with a tick at both ends.
        let base = plot_area.get_base_pixel();
        for point in &line.points {
            let Some((min, max)) = (panel.spread)(point) else {
                continue;
            };
            let x = (point.m.max(1) as f64).log10();
            let low = plot.backend_coord(&(x, scale.plot(min)));
            let high = plot.backend_coord(&(x, scale.plot(max)));
            plot_area.draw(&PathElement::new(
                whisker_points(
                    (low.0 - base.0, low.1 - base.1),
                    (high.0 - base.0, high.1 - base.1),
                    WHISKER_TICK,
                    false,
                ),
                stroke.stroke_width(1),
            ))?;
        }
        plot.draw_series(
            points
                .iter()
                .map(|&point| Circle::new(point, 3, stroke.filled())),
        )?;
        let mut label = line.label.clone();
        if panel.rss {
            if let Some(note) = &line.rss_note {
                label.push_str(&format!(": {note}"));
            }
        }
        ends.push((plot.backend_coord(&last).1, label, line.colour));
    }
    // The labels at the ends of the lines, pushed apart so none overlaps.
    ends.sort_by_key(|end| end.0);
    for index in 1..ends.len() {
        ends[index].0 = ends[index].0.max(ends[index - 1].0 + LABEL_PITCH);
    }
    let base = plot_area.get_base_pixel();
    let x = (WIDTH - END_LABELS + 8) as i32;
    for (y, label, index) in ends {
        plot_area.draw(&Text::new(
            label,
            (x, y - base.1),
            text(11.0, colour(index)).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn log_ticks_examples() {
        use crate::chart::sweep::log_ticks;
        let (range, ticks) = log_ticks(1.3, 41.0);
        let values: Vec<f64> = ticks
            .iter()
            .map(|t| (10f64.powf(*t) * 100.0).round() / 100.0)
            .collect();
        assert_eq!(values, [1.0, 2.0, 5.0, 10.0, 20.0, 50.0]);
        assert!(range.start < 0.0 && range.start > -0.1);
        assert!(range.end > 50f64.log10() && range.end < 50f64.log10() + 0.1);
    }
}
