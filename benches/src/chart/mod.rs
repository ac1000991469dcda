//! The SVG chart of a comparison, drawn with the `plotters` crate's SVG
//! backend.
//!
//! Two parts, top to bottom, each a module of its own:
//!
//! 1. `bars`, **wall time**: one bar per row, its median wall time, on
//!    one time axis, with the spread of its runs (min–max) as a whisker over
//!    the bar's end and the row's bound `ceil(N / m) x delay` drawn as a
//!    black mark across it.
//! 2. `timeline`, **the requests as the server saw them**: one panel per
//!    row, of the run whose wall time is the median; in it, one horizontal
//!    line per request, from when the server
//!    received it to when it sent its last byte, one line under the other
//!    in order of arrival. A sequential run draws a staircase; a pool of `m`
//!    workers draws waves of `m` lines; a run with every request in flight
//!    at once draws one block. A grey band behind the lines spans the
//!    process, from spawn to exit, so start-up and tear-down show as the
//!    gaps at both ends, and the bound is a black vertical line.
//!
//! The concurrent rows share one time axis so their shapes compare
//! directly; a row marked [`ChartRow::own_scale`] (the sequential one, ten
//! times longer) gets an axis of its own, said in its title.
//!
//! A part is a pair of functions: its height for the data, and a `draw`
//! onto a plotters `Area` of that height. [`render_svg`] stacks them
//! under the title on one page of `style::WIDTH` pixels; another chart
//! (over a range of `m`, say) is another such part and another page
//! function built on `draw_page`: the sweep's chart, three panels over
//! `m`, is one ([`sweep`]). The colours, fonts and margins the
//! parts share are in [`style`]; time axes in `TimeAxis`.
//!
//! The SVG holds no class or id of ours (plotters writes plain `rect`,
//! `polyline`, `line` and `text` elements), so what a test counts is told
//! by colour: a row's bar is the only `rect` filled with its
//! [`style::colour`], its requests the only `polyline`s stroked with it,
//! the bounds the only `polyline`s stroked with [`style::BOUND`], and the
//! whiskers the only ones stroked with [`style::SPREAD`].

mod axis;
pub(crate) mod bars;
pub mod style;
pub mod sweep;
pub(crate) mod timeline;

use plotters::backend::SVGBackend;
use plotters::coord::Shift;
use plotters::drawing::{DrawingArea, DrawingAreaErrorKind, IntoDrawingArea};
use plotters::element::Text;
use plotters::style::WHITE;

pub(crate) use axis::{Ticked, TimeAxis, seconds_label};

/// One row of the chart: one model (or the curl peer).
#[derive(Debug, Clone, PartialEq)]
pub struct ChartRow {
    /// The name in the labels and the titles, e.g. `threadpool (std)`.
    pub label: String,
    /// The short name, as `--models` writes it.
    pub name: String,
    /// The median wall time of its runs, in seconds: the bar.
    pub wall: f64,
    /// The least and the most wall time of its runs, in seconds, when it
    /// ran more than once: the whisker.
    pub spread: Option<(f64, f64)>,
    /// The bound `ceil(N / m) x delay`, in seconds, when the delay is not 0.
    pub bound: Option<f64>,
    /// The wall time of the run whose requests are drawn, in seconds: the
    /// grey band behind its timeline.
    pub run_wall: f64,
    /// Which run the timeline draws, for its caption, e.g. `run 2 of 3, the
    /// median`; empty when there was one run.
    pub run_note: String,
    /// Each request of that run as the server saw it, `(arrived,
    /// finished)`, in seconds since the run's process was spawned.
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

/// A drawing area of the SVG page, in pixels from its top left corner.
pub(crate) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// What drawing onto an [`Area`] can fail with.
pub(crate) type DrawError = DrawingAreaErrorKind<std::io::Error>;

/// The chart could not be drawn: plotters refused a layout (an area too
/// small for its labels, say). Drawing into memory does no I/O.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart: {0}")]
pub struct ChartError(String);

impl From<DrawError> for ChartError {
    fn from(error: DrawError) -> ChartError {
        ChartError(error.to_string())
    }
}

/// Height of the title and subtitle at the top of a page.
const HEADER_HEIGHT: u32 = 70;
/// Room under the last part.
const FOOTER_HEIGHT: u32 = 10;

/// Render the chart as a standalone SVG document: the title, the bars,
/// then the timelines.
pub fn render_svg(chart: &Chart) -> Result<String, ChartError> {
    let bars_height = bars::height(chart.rows.len());
    let timelines_height = timeline::height(&chart.rows);
    let height = bars_height + timelines_height;
    draw_page(&chart.title, &chart.subtitle, height, |area| {
        let (bars_area, timelines_area) = area.split_vertically(bars_height);
        bars::draw(&bars_area, &chart.rows)?;
        timeline::draw(&timelines_area, &chart.rows)
    })
}

/// One SVG page, [`style::WIDTH`] pixels wide, white: `title` and
/// `subtitle` at the top, then `draw` on the `body_height` pixels under
/// them. Every chart of the crate is made through here.
pub(crate) fn draw_page(
    title: &str,
    subtitle: &str,
    body_height: u32,
    draw: impl FnOnce(&Area<'_>) -> Result<(), DrawError>,
) -> Result<String, ChartError> {
    let size = (style::WIDTH, HEADER_HEIGHT + body_height + FOOTER_HEIGHT);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        let (header, body) = root.split_vertically(HEADER_HEIGHT);
        header.draw(&Text::new(
            title.to_string(),
            (style::MARGIN, 16),
            style::bold(20.0, style::INK),
        ))?;
        header.draw(&Text::new(
            subtitle.to_string(),
            (style::MARGIN, 46),
            style::text(12.0, style::AXIS),
        ))?;
        draw(&body)?;
        // Close the document: plotters writes the end tag here.
        root.present()?;
    }
    Ok(svg)
}
