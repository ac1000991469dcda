//! The first part of the chart: one horizontal bar per row, its median wall
//! time from spawn to exit; over the bar's end, when the row ran more than
//! once, a whisker from its least to its most wall time; the row's bound
//! `ceil(N / m) x delay` as a black mark across it; and the value written
//! at its end.
//!
//! The bar is the only `rect` element in the row's colour; the whisker one
//! `polyline` in [`SPREAD`] colour (a line with a tick at each end); the
//! bound mark a `polyline` in [`BOUND`] colour, as tall as the row's slot,
//! so it shows above and below the bar whether the bar ends before it or
//! after.

use plotters::chart::ChartBuilder;
use plotters::element::{EmptyElement, PathElement, Rectangle, Text};
use plotters::style::Color;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{
    AXIS, BOUND, GRID, INK, LABEL_AREA, MARGIN, RIGHT_MARGIN, SPREAD, WALL_SWATCH, bold, colour,
    text,
};
use super::{Area, ChartRow, DrawError, Ticked, TimeAxis, seconds_label};

/// The section title's height.
const TITLE_HEIGHT: u32 = 34;
/// The height of one row's slot; its bar is [`BAR_SHARE`] of it.
const BAR_PITCH: u32 = 32;
/// The part of a slot a bar takes.
const BAR_SHARE: f64 = 0.64;
/// Room under the plot for the tick labels and the axis title.
const X_AXIS_HEIGHT: u32 = 40;
/// Room at the top of the plot, so the first bound mark is not cut.
const PLOT_TOP: u32 = 4;
/// The legend's strip under the axis: two lines.
const LEGEND_HEIGHT: u32 = 56;
/// Half the height of a whisker's end ticks, in pixels.
const WHISKER_TICK: i32 = 5;

/// The height of the bars for `rows` rows, title and legend included.
pub(crate) fn height(rows: usize) -> u32 {
    let rows = u32::try_from(rows.max(1)).unwrap_or(u32::MAX / BAR_PITCH);
    TITLE_HEIGHT + PLOT_TOP + BAR_PITCH * rows + X_AXIS_HEIGHT + LEGEND_HEIGHT
}

/// Draw the bars of `rows` on `area`, which is [`height`] high.
pub(crate) fn draw(area: &Area<'_>, rows: &[ChartRow]) -> Result<(), DrawError> {
    let several = rows.iter().any(|row| row.spread.is_some());
    area.draw(&Text::new(
        if several {
            "Wall time per model (spawn to exit), median of its runs"
        } else {
            "Wall time per model (spawn to exit)"
        },
        (MARGIN, 6),
        bold(16.0, INK),
    ))?;
    let (_, below_title) = area.split_vertically(TITLE_HEIGHT);
    let plot_height = below_title.dim_in_pixel().1.saturating_sub(LEGEND_HEIGHT);
    let (plot_area, legend) = below_title.split_vertically(plot_height);
    if rows.is_empty() {
        plot_area.draw(&Text::new(
            "No model finished: there is nothing to compare.",
            (MARGIN, 8),
            text(13.0, AXIS),
        ))?;
        return Ok(());
    }
    let longest = rows
        .iter()
        .flat_map(|row| [Some(row.wall), row.bound, row.spread.map(|(_, max)| max)])
        .flatten()
        .fold(0.0, f64::max);
    let axis = TimeAxis::new(longest);
    let count = rows.len();
    // plotters' y goes up and the table's rows go down: row `index` sits at
    // y = count - 1 - index, in a slot from y - 0.5 to y + 0.5.
    let y_of = |index: usize| (count - 1 - index) as f64;
    let label_of = |y: &f64| {
        let slot = y.round();
        if (0.0..count as f64).contains(&slot) {
            rows[count - 1 - slot as usize].label.clone()
        } else {
            String::new()
        }
    };
    let slots = Ticked::new(
        -0.5..count as f64 - 0.5,
        (0..count).map(|y| y as f64).collect(),
    );
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_top(PLOT_TOP)
        .margin_right(RIGHT_MARGIN)
        .x_label_area_size(X_AXIS_HEIGHT)
        .y_label_area_size(LABEL_AREA)
        .build_cartesian_2d(axis.coord(), slots)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .bold_line_style(GRID)
        .axis_style(AXIS)
        .x_labels(axis.ticks().len())
        .x_label_formatter(&|seconds| axis.label(*seconds))
        .y_label_formatter(&label_of)
        .x_label_style(text(11.0, AXIS))
        .y_label_style(text(13.0, INK))
        .x_desc("wall time (s)")
        .axis_desc_style(text(11.0, AXIS))
        .draw()?;
    let half_bar = BAR_SHARE / 2.0;
    chart.draw_series(rows.iter().enumerate().map(|(index, row)| {
        let y = y_of(index);
        Rectangle::new(
            [(0.0, y - half_bar), (axis.clamp(row.wall), y + half_bar)],
            colour(index).filled(),
        )
    }))?;
    chart.draw_series(rows.iter().enumerate().filter_map(|(index, row)| {
        let bound = axis.clamp(row.bound?);
        let y = y_of(index);
        Some(PathElement::new(
            vec![(bound, y - 0.46), (bound, y + 0.46)],
            BOUND.stroke_width(2),
        ))
    }))?;
    // The whiskers: one polyline each, in pixels, from the least wall time
    // to the most, with a tick at both ends.
    let base = plot_area.get_base_pixel();
    for (index, row) in rows.iter().enumerate() {
        let Some((min, max)) = row.spread else {
            continue;
        };
        let (left, y) = chart.backend_coord(&(axis.clamp(min), y_of(index)));
        let (right, _) = chart.backend_coord(&(axis.clamp(max), y_of(index)));
        let (left, right, y) = (left - base.0, right - base.0, y - base.1);
        plot_area.draw(&PathElement::new(
            whisker_points((left, y), (right, y), WHISKER_TICK, true),
            SPREAD.stroke_width(2),
        ))?;
    }
    // The value at the end of each bar (or of its bound mark or whisker, if
    // further).
    let value_style = text(12.0, INK).pos(Pos::new(HPos::Left, VPos::Center));
    chart.draw_series(rows.iter().enumerate().map(|(index, row)| {
        let mut value = seconds_label(row.wall);
        if let Some(bound) = row.bound.filter(|bound| *bound > 0.0) {
            value.push_str(&format!("  ({:.2} x bound)", row.wall / bound));
        }
        let furthest = [row.bound, row.spread.map(|(_, max)| max)]
            .into_iter()
            .flatten()
            .fold(row.wall, f64::max);
        EmptyElement::at((axis.clamp(furthest), y_of(index)))
            + Text::new(value, (6, 0), value_style.clone())
    }))?;
    draw_legend(&legend, several)
}

/// The points of a whisker from `from` to `to` (pixels), as one polyline:
/// a tick `tick` pixels each side of both ends, across the line
/// (`horizontal`: the line runs left to right, its ticks up and down).
pub(crate) fn whisker_points(
    from: (i32, i32),
    to: (i32, i32),
    tick: i32,
    horizontal: bool,
) -> Vec<(i32, i32)> {
    let across = |(x, y): (i32, i32), side: i32| {
        if horizontal {
            (x, y + side * tick)
        } else {
            (x + side * tick, y)
        }
    };
    vec![
        across(from, -1),
        across(from, 1),
        from,
        to,
        across(to, -1),
        across(to, 1),
    ]
}

/// The legend strip: what a bar is, what the black mark is and, when some
/// row ran more than once, what a whisker is.
fn draw_legend(legend: &Area<'_>, several: bool) -> Result<(), DrawError> {
    let x = LABEL_AREA as i32;
    let label = text(12.0, INK).pos(Pos::new(HPos::Left, VPos::Center));
    legend.draw(&Rectangle::new(
        [(x, 12), (x + 18, 24)],
        WALL_SWATCH.filled(),
    ))?;
    legend.draw(&Text::new(
        if several {
            "median wall time, spawn to exit"
        } else {
            "wall time, spawn to exit"
        },
        (x + 24, 18),
        label.clone(),
    ))?;
    let bound_x = x + 240;
    legend.draw(&Rectangle::new(
        [(bound_x, 8), (bound_x + 2, 28)],
        BOUND.filled(),
    ))?;
    legend.draw(&Text::new(
        "bound: ceil(N / m) x delay, the least time m requests at a time can take",
        (bound_x + 10, 18),
        label.clone(),
    ))?;
    if several {
        legend.draw(&PathElement::new(
            whisker_points((x, 42), (x + 18, 42), WHISKER_TICK, true),
            SPREAD.stroke_width(2),
        ))?;
        legend.draw(&Text::new(
            "min–max of the runs (the timelines below draw each row's median run)",
            (x + 24, 42),
            label,
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn whisker_points_examples() {
        use crate::chart::bars::whisker_points;
        assert_eq!(
            whisker_points((10, 50), (90, 50), 4, true),
            [(10, 46), (10, 54), (10, 50), (90, 50), (90, 46), (90, 54)]
        );
        assert_eq!(
            whisker_points((30, 80), (30, 20), 3, false),
            [(27, 80), (33, 80), (30, 80), (30, 20), (27, 20), (33, 20)]
        );
    }
}
