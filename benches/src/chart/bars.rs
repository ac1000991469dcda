//! The first part of the chart: one horizontal bar per row, its wall time
//! from spawn to exit, with the row's bound `ceil(N / m) x delay` as a black
//! mark across it and the value written at its end.
//!
//! The bar is the only `rect` element in the row's colour; the bound mark
//! is a `polyline` in [`BOUND`] colour, as tall as the row's slot, so it
//! shows above and below the bar whether the bar ends before it or after.

use plotters::chart::ChartBuilder;
use plotters::element::{EmptyElement, PathElement, Rectangle, Text};
use plotters::style::Color;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{
    AXIS, BOUND, GRID, INK, LABEL_AREA, MARGIN, RIGHT_MARGIN, WALL_SWATCH, bold, colour, text,
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
/// The legend's strip under the axis.
const LEGEND_HEIGHT: u32 = 36;

/// The height of the bars for `rows` rows, title and legend included.
pub fn height(rows: usize) -> u32 {
    let rows = u32::try_from(rows.max(1)).unwrap_or(u32::MAX / BAR_PITCH);
    TITLE_HEIGHT + PLOT_TOP + BAR_PITCH * rows + X_AXIS_HEIGHT + LEGEND_HEIGHT
}

/// Draw the bars of `rows` on `area`, which is [`height`] high.
pub fn draw(area: &Area<'_>, rows: &[ChartRow]) -> Result<(), DrawError> {
    area.draw(&Text::new(
        "Wall time per model (spawn to exit)",
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
        .flat_map(|row| [Some(row.wall), row.bound])
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
    // The value at the end of each bar (or of its bound mark, if further).
    let value_style = text(12.0, INK).pos(Pos::new(HPos::Left, VPos::Center));
    chart.draw_series(rows.iter().enumerate().map(|(index, row)| {
        let mut value = seconds_label(row.wall);
        if let Some(bound) = row.bound.filter(|bound| *bound > 0.0) {
            value.push_str(&format!("  ({:.2} x bound)", row.wall / bound));
        }
        let end = axis.clamp(row.wall.max(row.bound.unwrap_or(0.0)));
        EmptyElement::at((end, y_of(index))) + Text::new(value, (6, 0), value_style.clone())
    }))?;
    draw_legend(&legend)
}

/// The legend strip: what a bar is and what the black mark is.
fn draw_legend(legend: &Area<'_>) -> Result<(), DrawError> {
    let x = LABEL_AREA as i32;
    let label = text(12.0, INK).pos(Pos::new(HPos::Left, VPos::Center));
    legend.draw(&Rectangle::new(
        [(x, 12), (x + 18, 24)],
        WALL_SWATCH.filled(),
    ))?;
    legend.draw(&Text::new(
        "wall time, spawn to exit",
        (x + 24, 18),
        label.clone(),
    ))?;
    let x = x + 220;
    legend.draw(&Rectangle::new([(x, 8), (x + 2, 28)], BOUND.filled()))?;
    legend.draw(&Text::new(
        "bound: ceil(N / m) x delay, the least time m requests at a time can take",
        (x + 10, 18),
        label,
    ))
}
