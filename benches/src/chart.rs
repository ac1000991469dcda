//! The SVG chart of a comparison, written as text: no plotting library.
//!
//! Two parts, top to bottom:
//!
//! 1. **Wall time**: one bar per row, on one time axis, with the row's bound
//!    `ceil(N / m) x delay` drawn as a dashed line across its bar.
//! 2. **Timelines**: one panel per row; in it, one horizontal line per
//!    request, from when the server received it to when it sent its last
//!    byte, one line under the other in order of arrival. A sequential run
//!    draws a staircase; a pool of `m` workers draws waves of `m` lines; a
//!    run with every request in flight at once draws one block. A grey band
//!    behind the lines spans the process, from spawn to exit, so start-up
//!    and tear-down show as the gaps at both ends, and the bound is a
//!    dashed line.
//!
//! The concurrent rows share one time axis so their shapes compare
//! directly; a row marked [`ChartRow::own_scale`] (the sequential one, ten
//! times longer) gets an axis of its own, said in its title.
//!
//! Every element a test may count carries a class: `<g class="timeline"
//! data-model="...">` per panel and `<line class="request">` per request.

/// One row of the chart: one model (or the curl peer).
#[derive(Debug, Clone, PartialEq)]
pub struct ChartRow {
    /// The name in the legend and the titles, e.g. `threadpool (std)`.
    pub label: String,
    /// The short name, as `--models` writes it; `data-model` in the SVG.
    pub name: String,
    /// Wall time, in seconds.
    pub wall: f64,
    /// The bound `ceil(N / m) x delay`, in seconds, when the delay is not 0.
    pub bound: Option<f64>,
    /// Each request as the server saw it, `(arrived, finished)`, in seconds
    /// since the row's process was spawned.
    pub requests: Vec<(f64, f64)>,
    /// Draw this row's timeline on its own time axis.
    pub own_scale: bool,
}

/// Everything the chart shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The first line, e.g. `flags-compare: 40 flags, delay 0.1 s, -m 10`.
    pub title: String,
    /// The second line: the machine, the date or any note.
    pub subtitle: String,
    /// The rows, in the order of the table.
    pub rows: Vec<ChartRow>,
}

/// Width of the whole picture, in pixels.
const WIDTH: f64 = 1000.0;
/// Where plots start: the row labels go left of this.
const PLOT_LEFT: f64 = 190.0;
/// Where plots end: room on the right for the value labels.
const PLOT_RIGHT: f64 = 880.0;
/// Height of one bar, and the distance from one bar to the next.
const BAR_HEIGHT: f64 = 20.0;
const BAR_PITCH: f64 = 30.0;
/// A timeline's plot area is at most this high; lines get closer together
/// when there are many requests.
const TIMELINE_MAX_HEIGHT: f64 = 180.0;
/// The distance between two request lines when there is room.
const REQUEST_PITCH_MAX: f64 = 4.0;
/// One colour per row, in order (colour-blind friendly, Okabe-Ito).
const COLOURS: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000",
];

/// The colour of row `index`.
fn colour(index: usize) -> &'static str {
    COLOURS[index % COLOURS.len()]
}

/// Text made safe for XML: `&`, `<`, `>` and quotes escaped.
///
/// ```
/// assert_eq!(flags_benches::chart::escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
/// ```
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// A round step for about `target` ticks on an axis from 0 to `max`: 1, 2
/// or 5 times a power of ten.
///
/// ```
/// use flags_benches::chart::tick_step;
/// assert_eq!(tick_step(4.07, 8), 1.0);
/// assert_eq!(tick_step(0.42, 8), 0.1);
/// assert_eq!(tick_step(0.42, 10), 0.05);
/// assert_eq!(tick_step(10.0, 5), 2.0);
/// ```
pub fn tick_step(max: f64, target: usize) -> f64 {
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

/// A time axis from 0 to `max` seconds mapped onto the plot's width.
#[derive(Debug, Clone, Copy)]
struct Axis {
    /// The time at the right end: a whole number of ticks.
    max: f64,
    step: f64,
}

impl Axis {
    fn new(longest: f64) -> Axis {
        let step = tick_step(longest, 8);
        let ticks = (longest / step).ceil().max(1.0);
        Axis {
            max: ticks * step,
            step,
        }
    }

    /// The x of time `seconds`.
    fn x(&self, seconds: f64) -> f64 {
        PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * (seconds.max(0.0) / self.max).min(1.0)
    }

    /// Draw the axis line at `y`, its ticks and grid lines (up to `top`),
    /// their labels, and the axis title `label` under them.
    fn draw(&self, svg: &mut String, y: f64, top: f64, label: &str) {
        svg.push_str(&format!(
            r##"<line class="axis" x1="{PLOT_LEFT}" y1="{y:.1}" x2="{PLOT_RIGHT}" y2="{y:.1}" stroke="#444" stroke-width="1"/>"##
        ));
        svg.push('\n');
        let ticks = (self.max / self.step).round() as usize;
        let decimals = decimals_for(self.step);
        for tick in 0..=ticks {
            let seconds = tick as f64 * self.step;
            let x = self.x(seconds);
            svg.push_str(&format!(
                r##"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{y:.1}" stroke="#ddd" stroke-width="1"/><line x1="{x:.1}" y1="{y:.1}" x2="{x:.1}" y2="{:.1}" stroke="#444" stroke-width="1"/><text x="{x:.1}" y="{:.1}" font-size="11" text-anchor="middle">{seconds:.decimals$}</text>"##,
                y + 4.0,
                y + 16.0,
            ));
            svg.push('\n');
        }
        svg.push_str(&format!(
            r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#444">{}</text>"##,
            (PLOT_LEFT + PLOT_RIGHT) / 2.0,
            y + 30.0,
            escape(label),
        ));
        svg.push('\n');
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

/// A duration for a label: `4.07 s`, `0.412 s`, `12 ms`.
fn seconds_label(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else if seconds >= 0.1 {
        format!("{seconds:.3} s")
    } else {
        format!("{:.1} ms", seconds * 1000.0)
    }
}

/// Render the chart as a standalone SVG document.
pub fn render_svg(chart: &Chart) -> String {
    let mut body = String::new();
    let mut y = 30.0;
    body.push_str(&format!(
        r#"<text x="20" y="{y}" font-size="20" font-weight="bold">{}</text>"#,
        escape(&chart.title)
    ));
    body.push('\n');
    y += 22.0;
    body.push_str(&format!(
        r##"<text x="20" y="{y}" font-size="12" fill="#444">{}</text>"##,
        escape(&chart.subtitle)
    ));
    body.push('\n');
    y += 38.0;
    y = draw_bars(&mut body, chart, y);
    y += 30.0;
    y = draw_timelines(&mut body, chart, y);
    let height = y + 20.0;
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {WIDTH} {height:.0}\" font-family=\"sans-serif\">\n\
         <title>{}</title>\n\
         <rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{height:.0}\" fill=\"white\"/>\n\
         {body}</svg>\n",
        escape(&chart.title)
    )
}

/// The bar chart of wall times, from `top`; returns the y below it.
fn draw_bars(svg: &mut String, chart: &Chart, top: f64) -> f64 {
    svg.push_str(&format!(
        r#"<g class="bars"><text x="20" y="{top}" font-size="16" font-weight="bold">Wall time per model (spawn to exit)</text>"#
    ));
    svg.push('\n');
    let longest = chart
        .rows
        .iter()
        .flat_map(|row| [Some(row.wall), row.bound])
        .flatten()
        .fold(0.0, f64::max);
    let axis = Axis::new(longest);
    let plot_top = top + 14.0;
    let mut y = plot_top + 6.0;
    // The axis first, so that its grid lies behind the bars.
    let axis_y = y + BAR_PITCH * chart.rows.len() as f64;
    axis.draw(svg, axis_y, plot_top, "wall time (s)");
    for (index, row) in chart.rows.iter().enumerate() {
        let x_end = axis.x(row.wall);
        svg.push_str(&format!(
            r#"<text x="{:.1}" y="{:.1}" font-size="13" text-anchor="end">{}</text>"#,
            PLOT_LEFT - 8.0,
            y + BAR_HEIGHT * 0.7,
            escape(&row.label)
        ));
        svg.push_str(&format!(
            r#"<rect class="bar" data-model="{}" x="{PLOT_LEFT}" y="{y:.1}" width="{:.1}" height="{BAR_HEIGHT}" fill="{}"/>"#,
            escape(&row.name),
            (x_end - PLOT_LEFT).max(1.0),
            colour(index)
        ));
        let mut value = seconds_label(row.wall);
        if let Some(bound) = row.bound {
            let x_bound = axis.x(bound);
            svg.push_str(&format!(
                r##"<line class="bound" x1="{x_bound:.1}" y1="{:.1}" x2="{x_bound:.1}" y2="{:.1}" stroke="#000" stroke-width="2" stroke-dasharray="4,2"/>"##,
                y - 4.0,
                y + BAR_HEIGHT + 4.0
            ));
            if bound > 0.0 {
                value.push_str(&format!("  ({:.2} x bound)", row.wall / bound));
            }
        }
        let label_x = x_end.max(row.bound.map_or(0.0, |bound| axis.x(bound))) + 6.0;
        svg.push_str(&format!(
            r#"<text x="{label_x:.1}" y="{:.1}" font-size="12">{}</text>"#,
            y + BAR_HEIGHT * 0.7,
            escape(&value)
        ));
        svg.push('\n');
        y += BAR_PITCH;
    }
    // The legend of the bars.
    let legend_y = axis_y + 52.0;
    svg.push_str(&format!(
        r##"<rect x="{PLOT_LEFT}" y="{:.1}" width="18" height="10" fill="#888"/><text x="{:.1}" y="{legend_y:.1}" font-size="12">wall time, spawn to exit</text><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#000" stroke-width="2" stroke-dasharray="4,2"/><text x="{:.1}" y="{legend_y:.1}" font-size="12">bound: ceil(N / m) x delay</text>"##,
        legend_y - 9.0,
        PLOT_LEFT + 24.0,
        PLOT_LEFT + 210.0,
        legend_y - 12.0,
        PLOT_LEFT + 210.0,
        legend_y + 2.0,
        PLOT_LEFT + 218.0,
    ));
    svg.push_str("</g>\n");
    legend_y + 10.0
}

/// One timeline panel per row, from `top`; returns the y below them.
fn draw_timelines(svg: &mut String, chart: &Chart, top: f64) -> f64 {
    svg.push_str(&format!(
        r#"<text x="20" y="{top}" font-size="16" font-weight="bold">Requests as the server saw them</text>"#
    ));
    svg.push('\n');
    svg.push_str(&format!(
        r##"<text x="20" y="{:.1}" font-size="12" fill="#444">One line per request, from arrival to last byte, in order of arrival. Grey band: the model's process, spawn to exit. Dashed: the bound.</text>"##,
        top + 18.0
    ));
    svg.push('\n');
    let row_end = |row: &ChartRow| {
        row.requests
            .iter()
            .map(|&(_, end)| end)
            .fold(row.wall, f64::max)
    };
    let shared_longest = chart
        .rows
        .iter()
        .filter(|row| !row.own_scale)
        .map(row_end)
        .fold(0.0, f64::max);
    let shared_axis = Axis::new(shared_longest);
    let mut y = top + 44.0;
    for (index, row) in chart.rows.iter().enumerate() {
        let axis = if row.own_scale {
            Axis::new(row_end(row))
        } else {
            shared_axis
        };
        y = draw_timeline(svg, row, colour(index), axis, y) + 24.0;
    }
    y
}

/// One timeline panel from `top`; returns the y below it.
fn draw_timeline(svg: &mut String, row: &ChartRow, colour: &str, axis: Axis, top: f64) -> f64 {
    let count = row.requests.len();
    let scale_note = if row.own_scale {
        "its own time axis"
    } else {
        "shared time axis"
    };
    svg.push_str(&format!(
        r#"<g class="timeline" data-model="{}" data-requests="{count}">"#,
        escape(&row.name)
    ));
    svg.push_str(&format!(
        r##"<text x="20" y="{top:.1}" font-size="13"><tspan font-weight="bold" fill="{colour}">{}</tspan><tspan fill="#444">: {count} request{}, {} ({scale_note})</tspan></text>"##,
        escape(&row.label),
        if count == 1 { "" } else { "s" },
        seconds_label(row.wall),
    ));
    svg.push('\n');
    let pitch = if count == 0 {
        REQUEST_PITCH_MAX
    } else {
        (TIMELINE_MAX_HEIGHT / count as f64).min(REQUEST_PITCH_MAX)
    };
    let plot_top = top + 8.0;
    let plot_height = (pitch * count.max(1) as f64).max(12.0) + 4.0;
    // The process's lifetime, behind the lines.
    svg.push_str(&format!(
        r##"<rect class="lifetime" x="{PLOT_LEFT}" y="{plot_top:.1}" width="{:.1}" height="{plot_height:.1}" fill="#eee"/>"##,
        (axis.x(row.wall) - PLOT_LEFT).max(1.0)
    ));
    svg.push('\n');
    // The axis before the lines, so that its grid lies behind them.
    let axis_y = plot_top + plot_height;
    axis.draw(
        svg,
        axis_y,
        plot_top,
        "seconds since the model's process was spawned",
    );
    // The bound, where the last request would end if nothing but the
    // server's delay took any time.
    if let Some(bound) = row.bound {
        let x_bound = axis.x(bound);
        svg.push_str(&format!(
            r##"<line class="bound" x1="{x_bound:.1}" y1="{:.1}" x2="{x_bound:.1}" y2="{axis_y:.1}" stroke="#000" stroke-width="1" stroke-dasharray="4,3"/>"##,
            plot_top - 4.0
        ));
        svg.push('\n');
    }
    let mut requests = row.requests.clone();
    requests.sort_by(|a, b| a.0.total_cmp(&b.0));
    let stroke = (pitch * 0.7).clamp(0.6, 2.5);
    for (line, &(start, end)) in requests.iter().enumerate() {
        let line_y = plot_top + 2.0 + pitch * (line as f64 + 0.5);
        let (x1, x2) = (axis.x(start), axis.x(end));
        // A request shorter than a pixel still shows as one.
        let x2 = x2.max(x1 + 1.0);
        svg.push_str(&format!(
            r#"<line class="request" x1="{x1:.1}" y1="{line_y:.2}" x2="{x2:.1}" y2="{line_y:.2}" stroke="{colour}" stroke-width="{stroke:.2}"/>"#
        ));
        svg.push('\n');
    }
    svg.push_str("</g>\n");
    axis_y + 32.0
}
