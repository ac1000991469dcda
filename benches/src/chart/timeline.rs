//! The second part of the chart: the requests as the server saw them, one
//! panel per row, of the row's median run (the run whose wall time is the
//! median of its runs, the lower middle one for an even count).
//!
//! In a panel, each request is a horizontal line from its arrival to its
//! last byte, on the server's clock counted from the spawn of the row's
//! process; the first to arrive is at the top. Behind them, a grey band
//! spans the process from spawn to exit; across them, a black vertical line
//! marks the bound: where the last request would end if nothing but the
//! server's delay took any time.
//!
//! Each request is one `polyline` element in the row's colour, and the
//! bound one `polyline` in [`BOUND`] colour from the top of the panel's
//! plot to its bottom.

use plotters::chart::ChartBuilder;
use plotters::element::{Circle, PathElement, Rectangle, Text};
use plotters::style::{Color, RGBColor};

use super::style::{
    AXIS, BOUND, GRID, INK, LABEL_AREA, LIFETIME, MARGIN, RIGHT_MARGIN, WIDTH, bold, colour, text,
};
use super::{Area, ChartRow, DrawError, Ticked, TimeAxis, seconds_label};

/// The section title and its note.
const HEADER_HEIGHT: u32 = 58;
/// A panel's caption, over its plot.
const CAPTION_HEIGHT: u32 = 22;
/// A plot is at most this high; lines get closer together when there are
/// many requests.
const PLOT_MAX_HEIGHT: f64 = 180.0;
/// The distance between two request lines when there is room.
const REQUEST_PITCH_MAX: f64 = 4.0;
/// Room under a plot for the tick labels and the axis title.
const X_AXIS_HEIGHT: u32 = 36;
/// Room between two panels.
const GAP: u32 = 14;

/// The height of a panel's plot area for `count` requests.
fn plot_height(count: usize) -> u32 {
    (REQUEST_PITCH_MAX * count as f64).clamp(24.0, PLOT_MAX_HEIGHT) as u32 + 6
}

/// The height of the panel of `row`.
fn panel_height(row: &ChartRow) -> u32 {
    CAPTION_HEIGHT + plot_height(row.requests.len()) + X_AXIS_HEIGHT + GAP
}

/// The height of the timelines of `rows`, title included.
pub(crate) fn height(rows: &[ChartRow]) -> u32 {
    HEADER_HEIGHT + rows.iter().map(panel_height).sum::<u32>()
}

/// When the last sign of life of `row`'s drawn run was: its exit, or a
/// request the server finished later.
fn row_end(row: &ChartRow) -> f64 {
    row.requests
        .iter()
        .map(|&(_, end)| end)
        .fold(row.run_wall, f64::max)
}

/// Draw the timelines of `rows` on `area`, which is [`height`] high.
pub(crate) fn draw(area: &Area<'_>, rows: &[ChartRow]) -> Result<(), DrawError> {
    area.draw(&Text::new(
        "Requests as the server saw them",
        (MARGIN, 6),
        bold(16.0, INK),
    ))?;
    area.draw(&Text::new(
        "Each row's median run: one line per request, from arrival to last byte, in order of \
         arrival. Grey band: the model's process, spawn to exit. Black line: the bound.",
        (MARGIN, 30),
        text(12.0, AXIS),
    ))?;
    let shared_axis = TimeAxis::new(
        rows.iter()
            .filter(|row| !row.own_scale)
            .map(row_end)
            .fold(0.0, f64::max),
    );
    let (_, mut rest) = area.split_vertically(HEADER_HEIGHT);
    for (index, row) in rows.iter().enumerate() {
        let (panel, below) = rest.split_vertically(panel_height(row));
        let axis = if row.own_scale {
            TimeAxis::new(row_end(row))
        } else {
            shared_axis
        };
        draw_panel(&panel, row, colour(index), axis)?;
        rest = below;
    }
    Ok(())
}

/// One row's panel: its caption, then its plot.
fn draw_panel(
    area: &Area<'_>,
    row: &ChartRow,
    colour: RGBColor,
    axis: TimeAxis,
) -> Result<(), DrawError> {
    let count = row.requests.len();
    let scale_note = if row.own_scale {
        "its own time axis"
    } else {
        "shared time axis"
    };
    area.draw(&Circle::new((MARGIN + 5, 9), 5, colour.filled()))?;
    let run_note = if row.run_note.is_empty() {
        String::new()
    } else {
        format!(", {}", row.run_note)
    };
    area.draw(&Text::new(
        format!(
            "{}: {count} request{}, {}{run_note} ({scale_note})",
            row.label,
            if count == 1 { "" } else { "s" },
            seconds_label(row.run_wall),
        ),
        (MARGIN + 16, 2),
        bold(13.0, INK),
    ))?;
    let (_, below_caption) = area.split_vertically(CAPTION_HEIGHT);
    let plot_px = plot_height(count);
    let (plot_area, _) = below_caption.split_vertically(plot_px + X_AXIS_HEIGHT);
    // One slot per request, the first (y = slots - 1) at the top.
    let slots = count.max(1) as f64;
    let ends = if count > 1 {
        vec![0.0, slots - 1.0]
    } else {
        vec![0.0]
    };
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_right(RIGHT_MARGIN)
        .x_label_area_size(X_AXIS_HEIGHT)
        .y_label_area_size(LABEL_AREA)
        .build_cartesian_2d(axis.coord(), Ticked::new(-0.5..slots - 0.5, ends))?;
    // The process's lifetime first, behind the grid and the lines.
    chart.draw_series(std::iter::once(Rectangle::new(
        [(0.0, -0.5), (axis.clamp(row.run_wall), slots - 0.5)],
        LIFETIME.filled(),
    )))?;
    let request_label = |y: &f64| {
        if count == 0 {
            String::new()
        } else {
            format!("request {}", (slots - y.round()) as usize)
        }
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .bold_line_style(GRID)
        .axis_style(AXIS)
        .x_labels(axis.ticks().len())
        .x_label_formatter(&|seconds| axis.label(*seconds))
        .y_label_formatter(&request_label)
        .label_style(text(11.0, AXIS))
        .x_desc("seconds since the model's process was spawned")
        .axis_desc_style(text(11.0, AXIS))
        .draw()?;
    if let Some(bound) = row.bound {
        let x = axis.clamp(bound);
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, -0.5), (x, slots - 0.5)],
            BOUND.stroke_width(1),
        )))?;
    }
    let mut requests = row.requests.clone();
    requests.sort_by(|a, b| a.0.total_cmp(&b.0));
    let pitch = f64::from(plot_px) / slots;
    let stroke = (pitch * 0.7).clamp(1.0, 3.0).round() as u32;
    // A request shorter than a pixel still shows as one.
    let plot_width = f64::from(WIDTH - LABEL_AREA - RIGHT_MARGIN);
    let pixel = axis.max / plot_width;
    chart.draw_series(requests.iter().enumerate().map(|(line, &(start, end))| {
        let y = slots - 1.0 - line as f64;
        let x1 = axis.clamp(start);
        let x2 = axis.clamp(end.max(x1 + pixel));
        let x1 = x1.min(x2 - pixel).max(0.0);
        PathElement::new(vec![(x1, y), (x2, y)], colour.stroke_width(stroke))
    }))?;
    Ok(())
}
