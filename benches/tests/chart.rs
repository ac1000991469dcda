//! The SVG chart: well-formed, one timeline per row, one line per request.

mod common;

use flags_benches::chart::{Chart, ChartRow, render_svg};
use flags_benches::compare::{Comparison, Row, chart_of, render_table};

use common::{parse_xml, self_check};

/// A row with `count` requests in waves of `max_req`, 0.1 s each.
fn waves(name: &str, label: &str, count: usize, max_req: usize, own_scale: bool) -> ChartRow {
    let requests: Vec<(f64, f64)> = (0..count)
        .map(|index| {
            let start = 0.01 + (index / max_req) as f64 * 0.1;
            (start, start + 0.1)
        })
        .collect();
    let rounds = count.div_ceil(max_req) as f64;
    ChartRow {
        label: label.to_string(),
        name: name.to_string(),
        wall: 0.02 + rounds * 0.1,
        bound: Some(rounds * 0.1),
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

/// The hand-written XML checker accepts good XML and refuses broken XML,
/// so the tests below that rely on it mean something.
#[test]
fn the_xml_checker_refuses_broken_documents() {
    assert_eq!(self_check(), Ok(()));
}

/// The chart is a well-formed SVG document whose root is `<svg>` in the SVG
/// namespace, with a title.
#[test]
fn chart_is_well_formed_svg() {
    let svg = render_svg(&sample_chart());
    let root = parse_xml(&svg).unwrap_or_else(|error| panic!("{error}\n{svg}"));
    assert_eq!(root.name, "svg");
    assert_eq!(root.attribute("xmlns"), Some("http://www.w3.org/2000/svg"));
    assert!(root.attribute("viewBox").is_some());
    assert!(root.children.iter().any(|child| child.name == "title"));
}

/// Text from the rows is escaped: a label with `<`, `&` and `>` neither
/// breaks the document nor gets lost.
#[test]
fn labels_are_escaped() {
    let svg = render_svg(&sample_chart());
    assert!(svg.contains("async &lt;&amp;&gt;"));
    assert!(svg.contains("&lt;test&gt; &amp; &quot;quotes&quot;"));
    assert!(parse_xml(&svg).is_ok());
}

/// There is one timeline per row, in order, and in each exactly one request
/// line per request of that row.
#[test]
fn one_timeline_per_row_with_one_line_per_request() {
    let chart = sample_chart();
    let root = parse_xml(&render_svg(&chart)).expect("well-formed");
    let timelines = root.find_class("g", "timeline");
    let names: Vec<&str> = timelines
        .iter()
        .map(|timeline| timeline.attribute("data-model").unwrap_or(""))
        .collect();
    assert_eq!(names, ["seq", "threadpool", "rayon", "async", "process"]);
    for (timeline, row) in timelines.iter().zip(&chart.rows) {
        let lines = timeline.find_class("line", "request");
        assert_eq!(lines.len(), row.requests.len(), "timeline of {}", row.name);
        assert_eq!(
            timeline.attribute("data-requests"),
            Some(row.requests.len().to_string().as_str())
        );
    }
    // No request line outside a timeline.
    assert_eq!(root.find_class("line", "request").len(), 40 * 4 + 7);
}

/// One bar per row, and a bound line on each bar and each timeline of a
/// row that has a bound.
#[test]
fn one_bar_and_one_bound_per_row() {
    let mut chart = sample_chart();
    chart.rows[4].bound = None;
    let root = parse_xml(&render_svg(&chart)).expect("well-formed");
    let bars: Vec<&str> = root
        .find_class("rect", "bar")
        .iter()
        .map(|bar| bar.attribute("data-model").unwrap_or(""))
        .collect();
    assert_eq!(bars, ["seq", "threadpool", "rayon", "async", "process"]);
    let bars = root.find_class("g", "bars");
    assert_eq!(bars.len(), 1);
    assert_eq!(bars[0].find_class("line", "bound").len(), 4);
    let timelines = root.find_class("g", "timeline");
    let bounds: Vec<usize> = timelines
        .iter()
        .map(|timeline| timeline.find_class("line", "bound").len())
        .collect();
    assert_eq!(bounds, [1, 1, 1, 1, 0]);
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
            bound: Some(0.5),
            requests: vec![(0.0, 0.25), (0.0, 0.5), (0.9, 5.0)],
            own_scale: false,
        }],
    };
    let root = parse_xml(&render_svg(&chart)).expect("well-formed");
    let lengths: Vec<f64> = root
        .find_class("line", "request")
        .iter()
        .map(|line| {
            let x = |name| {
                line.attribute(name)
                    .and_then(|value| value.parse::<f64>().ok())
            };
            x("x2").expect("x2") - x("x1").expect("x1")
        })
        .collect();
    assert_eq!(lengths.len(), 3);
    assert!(
        lengths[1] > lengths[0] * 1.9 && lengths[1] < lengths[0] * 2.1,
        "{lengths:?}"
    );
    let width: f64 = root
        .attribute("width")
        .and_then(|value| value.parse().ok())
        .expect("a width");
    for line in root.find_class("line", "request") {
        let x2: f64 = line
            .attribute("x2")
            .and_then(|value| value.parse().ok())
            .expect("x2");
        assert!(x2 <= width, "{x2} is outside the picture");
    }
}

/// A chart with no request at all (a model that failed) is still valid.
#[test]
fn empty_rows_still_make_a_valid_chart() {
    let chart = Chart {
        title: "t".to_string(),
        subtitle: "s".to_string(),
        rows: vec![ChartRow {
            label: "failed".to_string(),
            name: "failed".to_string(),
            wall: 0.0,
            bound: None,
            requests: Vec::new(),
            own_scale: false,
        }],
    };
    let root = parse_xml(&render_svg(&chart)).expect("well-formed");
    assert_eq!(root.find_class("g", "timeline").len(), 1);
    assert_eq!(root.find_class("line", "request").len(), 0);
}

/// A measured row, for the table.
fn row(name: &str, max_req: usize, wall_ms: u64, bound_ms: u64) -> Row {
    Row {
        name: name.to_string(),
        label: name.to_string(),
        max_req,
        bound: std::time::Duration::from_millis(bound_ms),
        wall: std::time::Duration::from_millis(wall_ms),
        peak_rss_kib: Some(6 * 1024),
        processes: 1,
        peak_in_flight: max_req as u64,
        requests: 40,
        saved: 40,
        errors: 0,
        failure: None,
        problems: Vec::new(),
        timeline: vec![(0.0, 0.1); 40],
    }
}

/// The table computes the ratio to the bound and the speedup over seq, and
/// the chart of a comparison puts seq on its own axis.
#[test]
fn table_has_ratios_and_speedups() {
    let comparison = Comparison {
        country_codes: (0..40).map(|index| format!("C{index}")).collect(),
        delay: std::time::Duration::from_millis(100),
        max_req: 10,
        rows: vec![row("seq", 1, 4_000, 4_000), row("async", 10, 440, 400)],
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
            "async", "10", "0.440", "s", "0.400", "s", "1.10", "9.1x", "6.0", "MiB", "10", "40",
            "0"
        ]
    );
    assert!(table.contains("a note"));
    let chart = chart_of(&comparison, "machine".to_string());
    assert!(chart.rows[0].own_scale);
    assert!(!chart.rows[1].own_scale);
}
