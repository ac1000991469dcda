//! The SVG chart: well-formed, one bar per row with its bound, one timeline
//! per row with one line per request and its bound, labels present.
//!
//! plotters writes no class or id, so the marks are found by colour, as
//! `flags_benches::chart` documents (see `common`).

mod common;

use std::time::Duration;

use flags_benches::chart::{Chart, ChartRow, render_svg};
use flags_benches::compare::{Comparison, Repetition, Row, Sample, chart_of, render_table};
use flags_benches::cpu::CpuTimes;

use common::{Polyline, Svg, TIMELINE_AXIS, parse_svg, wall_swatch_colour};

/// A row with `count` requests in waves of `max_req`, 0.1 s each.
fn waves(name: &str, label: &str, count: usize, max_req: usize, own_scale: bool) -> ChartRow {
    let requests: Vec<(f64, f64)> = (0..count)
        .map(|index| {
            let start = 0.01 + (index / max_req) as f64 * 0.1;
            (start, start + 0.1)
        })
        .collect();
    let rounds = count.div_ceil(max_req) as f64;
    let wall = 0.02 + rounds * 0.1;
    ChartRow {
        label: label.to_string(),
        name: name.to_string(),
        wall,
        spread: None,
        bound: Some(rounds * 0.1),
        run_wall: wall,
        run_note: String::new(),
        requests,
        own_scale,
    }
}

/// A chart like the default run's: seq, two pools, async, processes.
fn sample_chart() -> Chart {
    Chart {
        title: "flags-compare: 40 flags, delay 0.1 s, -m 10".to_string(),
        subtitle: "2 CPUs <test> & \"quotes\"".to_string(),
        rows: vec![
            waves("seq", "seq (m = 1)", 40, 1, true),
            waves("threadpool", "threadpool (std)", 40, 10, false),
            waves("rayon", "threadpool (rayon)", 40, 10, false),
            waves("async", "async <&>", 40, 40, false),
            waves("process", "process", 7, 3, false),
        ],
    }
}

/// Render and read back, failing with the document when it is not SVG.
fn rendered(chart: &Chart) -> Svg {
    let svg = render_svg(chart).expect("the chart is drawn");
    parse_svg(&svg).unwrap_or_else(|error| panic!("{error}\n{svg}"))
}

/// The bound mark whose vertical span covers `top..=bottom`: exactly one,
/// or none.
fn bound_across(svg: &Svg, top: f64, bottom: f64) -> Option<Polyline> {
    let across: Vec<&Polyline> = svg
        .bounds()
        .into_iter()
        .filter(|line| {
            let (low, high) = line.y_span();
            low <= top && bottom <= high
        })
        .collect();
    assert!(across.len() <= 1, "{across:?}");
    across.first().map(|line| (*line).clone())
}

/// The chart is a well-formed SVG document (roxmltree refuses anything
/// else: a cut-off copy of the same chart is refused), in the SVG
/// namespace, sized, with its title and subtitle.
#[test]
fn chart_is_well_formed_svg() {
    let svg = render_svg(&sample_chart()).expect("the chart is drawn");
    let chart = parse_svg(&svg).unwrap_or_else(|error| panic!("{error}\n{svg}"));
    assert_eq!(chart.width, 1100.0);
    assert!(chart.height > 500.0, "{}", chart.height);
    assert_eq!(
        chart.count_text("flags-compare: 40 flags, delay 0.1 s, -m 10"),
        1
    );
    assert_eq!(chart.count_text("Wall time per model (spawn to exit)"), 1);
    assert_eq!(chart.count_text("Requests as the server saw them"), 1);
    assert_eq!(chart.count_text("wall time (s)"), 1);
    let cut = svg
        .trim_end()
        .strip_suffix("</svg>")
        .expect("ends the root");
    assert!(parse_svg(cut).is_err(), "a document without its end tag");
    assert!(parse_svg(&svg.replacen("<rect", "<rect <", 1)).is_err());
}

/// Text from the rows is escaped: a label with `<`, `&` and `>` neither
/// breaks the document nor gets lost.
#[test]
fn labels_are_escaped() {
    let svg = render_svg(&sample_chart()).expect("the chart is drawn");
    assert!(svg.contains("async &lt;&amp;&gt;"));
    assert!(svg.contains("&lt;test&gt; &amp; &quot;quotes&quot;"));
    let chart = parse_svg(&svg).expect("well-formed");
    assert_eq!(chart.count_text("2 CPUs <test> & \"quotes\""), 1);
    // Once on the bars' axis, once over its timeline.
    assert_eq!(chart.count_text("async <&>"), 1);
    assert!(chart.has_text_starting("async <&>: 40 requests"));
}

/// One bar per row, top to bottom in the table's order, all from the same
/// x, as long as the row's wall time; each row is named on the axis, and
/// the legend says what a bar and the bound are.
#[test]
fn one_bar_per_row() {
    let sample = sample_chart();
    let chart = rendered(&sample);
    let bars: Vec<_> = (0..sample.rows.len())
        .map(|index| {
            let bars = chart.bars(index);
            assert_eq!(bars.len(), 1, "row {index}: {bars:?}");
            bars[0].clone()
        })
        .collect();
    for pair in bars.windows(2) {
        assert!(pair[0].y < pair[1].y, "{pair:?}");
        assert_eq!(pair[0].x, pair[1].x);
    }
    let pixels_per_second = bars[0].width / sample.rows[0].wall;
    for (bar, row) in bars.iter().zip(&sample.rows) {
        let expected = row.wall * pixels_per_second;
        assert!((bar.width - expected).abs() <= 2.0, "{}: {bar:?}", row.name);
        assert_eq!(chart.count_text(&row.label), 1, "{}", row.label);
    }
    assert_eq!(
        chart
            .rects
            .iter()
            .filter(|rect| rect.fill == wall_swatch_colour())
            .count(),
        1
    );
    assert_eq!(chart.count_text("wall time, spawn to exit"), 1);
    assert!(chart.has_text_starting("bound: ceil(N / m) x delay"));
    // The value at the end of a bar, with its ratio to the bound.
    assert_eq!(chart.count_text("0.420 s  (1.05 x bound)"), 2);
}

/// Each row with a bound has its mark across its bar, where the bound
/// falls on the bar's time axis, and one across its timeline; a row with
/// no bound has neither, and there is no other bound mark.
#[test]
fn the_bound_is_drawn_on_bars_and_timelines() {
    let mut sample = sample_chart();
    sample.rows[4].bound = None;
    let chart = rendered(&sample);
    for (index, row) in sample.rows.iter().enumerate() {
        let bar = chart.bars(index)[0].clone();
        let on_bar = bound_across(&chart, bar.y, bar.y + bar.height);
        let (top, bottom) = chart
            .requests(index)
            .iter()
            .map(|line| line.y_span())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), span| {
                (low.min(span.0), high.max(span.1))
            });
        let on_timeline = bound_across(&chart, top, bottom);
        match row.bound {
            Some(bound) => {
                let on_bar =
                    on_bar.unwrap_or_else(|| panic!("no bound on the bar of {}", row.name));
                assert!(on_bar.is_vertical(), "{on_bar:?}");
                let expected = bar.x + bar.width * bound / row.wall;
                assert!(
                    (on_bar.x_span().0 - expected).abs() <= 2.0,
                    "{}: {on_bar:?}, expected x = {expected}",
                    row.name
                );
                let on_timeline = on_timeline
                    .unwrap_or_else(|| panic!("no bound on the timeline of {}", row.name));
                assert!(on_timeline.is_vertical(), "{on_timeline:?}");
            }
            None => {
                assert_eq!(on_bar, None, "{}", row.name);
                assert_eq!(on_timeline, None, "{}", row.name);
            }
        }
    }
    assert_eq!(chart.bounds().len(), 2 * 4);
}

/// There is one timeline per row, in order, below the bars, and in each
/// exactly one horizontal line per request of that row, the first to
/// arrive at the top; each panel's caption names its row and its count.
#[test]
fn one_timeline_per_row_with_one_line_per_request() {
    let sample = sample_chart();
    let chart = rendered(&sample);
    assert_eq!(chart.timeline_count(), sample.rows.len());
    let lowest_bar = chart.bars(sample.rows.len() - 1)[0].y;
    let mut above = lowest_bar;
    for (index, row) in sample.rows.iter().enumerate() {
        let mut lines = chart.requests(index);
        assert_eq!(lines.len(), row.requests.len(), "timeline of {}", row.name);
        assert!(
            chart.has_text_starting(&format!("{}: {} requests, ", row.label, row.requests.len())),
            "{:?}",
            chart.texts
        );
        lines.sort_by(|a, b| a.y_span().0.total_cmp(&b.y_span().0));
        for pair in lines.windows(2) {
            assert!(pair[0].is_horizontal() && pair[1].is_horizontal());
            assert!(pair[0].x_span().0 <= pair[1].x_span().0, "{pair:?}");
        }
        // Below the previous panel (or the bars).
        let (top, bottom) = (lines[0].y_span().0, lines[lines.len() - 1].y_span().1);
        assert!(top > above, "{}: {top} is not below {above}", row.name);
        above = bottom;
    }
    // The shared axis is said, and seq's own.
    assert!(chart.has_text_starting("seq (m = 1): 40 requests, 4.02 s (its own time axis)"));
    assert!(chart.has_text_starting("threadpool (std): 40 requests, 0.420 s (shared time axis)"));
}

/// The sequential row, ten times longer, has a time axis of its own: its
/// staircase fills the plot's width as the concurrent rows' waves do,
/// instead of pushing them into a tenth of it.
#[test]
fn seq_has_its_own_time_axis() {
    let chart = rendered(&sample_chart());
    let right_end = |index: usize| {
        chart
            .requests(index)
            .iter()
            .map(|line| line.x_span().1)
            .fold(0.0, f64::max)
    };
    let left = chart.bars(0)[0].x;
    let (seq, pool) = (right_end(0) - left, right_end(1) - left);
    assert!(
        seq < pool * 1.5 && pool < seq * 1.5,
        "seq {seq}, pool {pool}"
    );
}

/// A longer request is drawn as a longer line, and lines stay inside the
/// plot even when a request outlives the row's wall time.
#[test]
fn request_lines_are_scaled_and_clipped() {
    let chart = Chart {
        title: "t".to_string(),
        subtitle: "s".to_string(),
        rows: vec![ChartRow {
            label: "one".to_string(),
            name: "one".to_string(),
            wall: 1.0,
            spread: None,
            bound: Some(0.5),
            run_wall: 1.0,
            run_note: String::new(),
            requests: vec![(0.0, 0.25), (0.0, 0.5), (0.9, 5.0)],
            own_scale: false,
        }],
    };
    let svg = rendered(&chart);
    let mut lines = svg.requests(0);
    lines.sort_by(|a, b| a.y_span().0.total_cmp(&b.y_span().0));
    let lengths: Vec<f64> = lines
        .iter()
        .map(|line| line.x_span().1 - line.x_span().0)
        .collect();
    assert_eq!(lengths.len(), 3);
    assert!(
        lengths[1] > lengths[0] * 1.9 && lengths[1] < lengths[0] * 2.1,
        "{lengths:?}"
    );
    for line in &lines {
        let (left, right) = line.x_span();
        assert!(
            left >= 0.0 && right <= svg.width,
            "{line:?} is outside the picture"
        );
    }
}

/// A chart with a row that made no request (a model that failed) is still
/// valid: its bar and its empty timeline are there.
#[test]
fn empty_rows_still_make_a_valid_chart() {
    let chart = Chart {
        title: "t".to_string(),
        subtitle: "s".to_string(),
        rows: vec![ChartRow {
            label: "failed".to_string(),
            name: "failed".to_string(),
            wall: 0.0,
            spread: None,
            bound: None,
            run_wall: 0.0,
            run_note: String::new(),
            requests: Vec::new(),
            own_scale: false,
        }],
    };
    let svg = rendered(&chart);
    assert_eq!(svg.timeline_count(), 1);
    assert_eq!(svg.requests(0).len(), 0);
    assert_eq!(svg.bars(0).len(), 1);
    assert!(svg.bounds().is_empty());
    assert!(svg.has_text_starting("failed: 0 requests"));
}

/// A chart with no row at all (Ctrl-C before the first model ended) says
/// so, with no bar and no timeline.
#[test]
fn a_chart_with_no_rows_is_valid() {
    let svg = rendered(&Chart {
        title: "t".to_string(),
        subtitle: "s".to_string(),
        rows: Vec::new(),
    });
    assert_eq!(svg.count_text(TIMELINE_AXIS), 0);
    assert!(svg.bars(0).is_empty() && svg.requests(0).is_empty());
    assert!(svg.has_text_starting("No model finished"));
}

/// A measured row, for the table: one run per wall time given, in order.
fn row(name: &str, max_req: usize, walls_ms: &[u64], bound_ms: u64) -> Row {
    let samples = walls_ms
        .iter()
        .enumerate()
        .map(|(index, &wall_ms)| Sample {
            round: index + 1,
            order: index + 1,
            wall: Duration::from_millis(wall_ms),
            cpu: Some(CpuTimes {
                user: Duration::from_millis(10 + index as u64),
                system: Duration::from_millis(5),
            }),
            peak_rss_kib: Some(6 * 1024),
            processes: 1,
            peak_in_flight: max_req as u64,
            requests: 40,
            saved: 40,
            timeline: vec![(0.0, wall_ms as f64 / 1000.0); 40],
            ..Sample::default()
        })
        .collect();
    Row {
        samples,
        ..Row::new(name, name, max_req, Duration::from_millis(bound_ms))
    }
}

/// The table shows the median wall time and its min–max, computes the
/// ratio to the bound and the speedup over seq from the medians, the
/// median CPU; the chart of a comparison puts seq on its own axis, draws
/// each median with its whisker and the timeline of the median run.
#[test]
fn table_has_medians_spreads_ratios_and_speedups() {
    let comparison = Comparison {
        country_codes: (0..40).map(|index| format!("C{index}")).collect(),
        delay: Duration::from_millis(100),
        max_req: 10,
        repetition: Repetition {
            runs: 3,
            ..Repetition::default()
        },
        rows: vec![
            row("seq", 1, &[4_100, 4_000, 4_050], 4_000),
            row("async", 10, &[470, 430, 440], 400),
        ],
        notes: vec!["a note".to_string()],
        interrupted: false,
    };
    let table = render_table(&comparison);
    let async_line = table
        .lines()
        .find(|line| line.starts_with("async"))
        .expect("an async line");
    let cells: Vec<&str> = async_line.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "async",
            "10",
            "0.440",
            "s",
            "0.430–0.470",
            "s",
            "0.400",
            "s",
            "1.10",
            "9.2x",
            "0.016",
            "s",
            "0.015–0.017",
            "s",
            "6.0",
            "MiB",
            "10",
            "40",
            "0"
        ]
    );
    assert!(
        table.contains("median of 3 runs per row, interleaved"),
        "{table}"
    );
    assert!(table.contains("a note"));
    let chart = chart_of(&comparison, "machine".to_string());
    assert!(chart.rows[0].own_scale);
    assert!(!chart.rows[1].own_scale);
    assert_eq!(chart.rows[1].wall, 0.44);
    assert_eq!(chart.rows[1].spread, Some((0.43, 0.47)));
    // The timeline drawn is the median run's: the third.
    assert_eq!(chart.rows[1].run_wall, 0.44);
    assert_eq!(chart.rows[1].run_note, "run 3 of 3, the median");
    assert!(
        chart.title.contains("40 codes (0 flags, 40 not found)"),
        "{}",
        chart.title
    );
    assert!(chart.title.ends_with("-m 10"), "{}", chart.title);
    assert!(
        chart
            .subtitle
            .starts_with("Median of 3 runs per model, interleaved; whiskers: min–max. machine"),
        "{}",
        chart.subtitle
    );
}

/// A row that ran more than once gets a whisker from its least to its
/// most wall time, on the bars' time axis, over its bar; a row that ran
/// once gets none; the legend says what a whisker is.
#[test]
fn whiskers_span_the_runs() {
    let mut sample = sample_chart();
    let wall = sample.rows[1].wall;
    sample.rows[1].spread = Some((wall * 0.9, wall * 1.2));
    sample.rows[3].spread = Some((wall * 0.95, wall * 1.05));
    let chart = rendered(&sample);
    let whiskers: Vec<&Polyline> = chart.whiskers();
    // Two rows and the legend's.
    assert_eq!(whiskers.len(), 3, "{whiskers:?}");
    assert!(whiskers.iter().all(|line| line.is_whisker()));
    assert!(chart.has_text_starting("min–max of the runs"));
    let bar = chart.bars(1)[0].clone();
    let pixels_per_second = bar.width / wall;
    let over_bar: Vec<&&Polyline> = whiskers
        .iter()
        .filter(|line| {
            let y = line.whisker_ends().0.1;
            y >= bar.y && y <= bar.y + bar.height
        })
        .collect();
    assert_eq!(over_bar.len(), 1);
    let ((left, _), (right, _)) = over_bar[0].whisker_ends();
    assert!((left - (bar.x + 0.9 * wall * pixels_per_second)).abs() <= 2.0);
    assert!((right - (bar.x + 1.2 * wall * pixels_per_second)).abs() <= 2.0);
    // No whisker in the legend when no row ran twice.
    assert!(rendered(&sample_chart()).whiskers().is_empty());
}
