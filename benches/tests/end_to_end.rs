//! The comparison from end to end, on a tiny workload: real server, real
//! child processes (the `flags-compare` binary in its `--run-model` mode),
//! real files.

mod common;

use std::path::Path;
use std::time::Duration;

use flags_benches::chart::render_svg;
use flags_benches::compare::{CompareOptions, chart_of, render_table, run_comparison};
use flags_benches::models::variant_by_name;

use common::parse_svg;

/// Six flags, 50 ms each, at most three at a time, one run each.
fn tiny_options(models: &[&str]) -> CompareOptions {
    CompareOptions {
        country_codes: ["BR", "CN", "DE", "IN", "JP", "US"]
            .map(String::from)
            .to_vec(),
        delay: Duration::from_millis(50),
        max_req: 3,
        models: models
            .iter()
            .map(|name| variant_by_name(name).expect("a model"))
            .collect(),
        out: "unused.svg".into(),
        peer_curl: false,
        sweep_only: false,
        sweep: None,
        runs: 1,
        warmup: 0,
        json: None,
        csv: None,
        markdown: None,
        html: None,
        command: vec!["flags-compare".to_string()],
        results: None,
    }
}

/// Three models, each run twice after a warm-up round, interleaved, each
/// run in a child process, save all six flags identical to the server's,
/// and the server sees exactly their concurrency: one request at a time
/// for seq, never more than three for the others. The runs went round by
/// round (seq, threadpool, async, then again); the table has a line per
/// model, and the chart a bar with its whisker and a timeline per model
/// with one line per request.
#[test]
fn three_models_side_by_side() {
    let options = CompareOptions {
        runs: 2,
        warmup: 1,
        ..tiny_options(&["seq", "threadpool", "async"])
    };
    let program = Path::new(env!("CARGO_BIN_EXE_flags-compare"));
    let mut progress = Vec::new();
    let comparison = run_comparison(&options, program, &mut progress).expect("the comparison runs");
    let progress = String::from_utf8_lossy(&progress);

    assert!(comparison.all_ok(), "{comparison:#?}\n{progress}");
    let names: Vec<&str> = comparison
        .rows
        .iter()
        .map(|row| row.name.as_str())
        .collect();
    assert_eq!(names, ["seq", "threadpool", "async"]);
    // Warm-up runs 1 to 3, then round 1 (4 to 6) and round 2 (7 to 9).
    let orders: Vec<Vec<(usize, usize)>> = comparison
        .rows
        .iter()
        .map(|row| row.samples.iter().map(|s| (s.round, s.order)).collect())
        .collect();
    assert_eq!(
        orders,
        [[(1, 4), (2, 7)], [(1, 5), (2, 8)], [(1, 6), (2, 9)]]
    );
    for row in &comparison.rows {
        assert_eq!((row.saved(), row.errors()), (6, 0), "{}", row.name);
        for sample in &row.samples {
            assert_eq!(sample.requests, 6, "{}", row.name);
            assert_eq!(sample.timeline.len(), 6, "{}", row.name);
            assert!(
                sample.peak_in_flight >= 1 && sample.peak_in_flight <= 3,
                "{sample:?}"
            );
            // Every request took at least the server's delay, and arrived
            // after the child was spawned.
            for &(start, end) in &sample.timeline {
                assert!(end - start >= 0.049, "{}: {start}..{end}", row.name);
                assert!(start >= 0.0, "{sample:?}");
            }
            // Each wall time is at least the bound: no model beats physics.
            assert!(sample.wall >= row.bound, "{sample:?}");
            // Memory is read from /proc, so only Linux knows it.
            if cfg!(target_os = "linux") {
                assert!(sample.peak_rss_kib.is_some_and(|kib| kib > 0), "{sample:?}");
            }
        }
        let wall = row.wall().expect("a spread");
        assert!(
            wall.min <= wall.median && wall.median <= wall.max,
            "{wall:?}"
        );
    }
    assert_eq!(comparison.rows[0].peak_in_flight(), 1);
    assert_eq!(comparison.rows[0].max_req, 1);
    assert_eq!(comparison.rows[0].bound, Duration::from_millis(300));
    assert_eq!(comparison.rows[1].bound, Duration::from_millis(100));
    // One progress line as each run starts and one as it ends, warm-ups
    // included; each says which run it is.
    let lines: Vec<&str> = progress
        .lines()
        .filter(|line| line.starts_with('['))
        .collect();
    assert_eq!(lines.len(), 2 * 9, "{progress}");
    assert!(
        lines[0].starts_with("[1/9] seq (warm-up): running"),
        "{progress}"
    );
    assert!(
        lines[7].starts_with("[4/9] seq (run 1 of 2): "),
        "{progress}"
    );
    assert!(
        lines[17].starts_with("[9/9] async (run 2 of 2): "),
        "{progress}"
    );

    let table = render_table(&comparison);
    for label in ["seq", "threadpool (std)", "async"] {
        assert!(
            table.lines().any(|line| line.starts_with(label)),
            "{label}:\n{table}"
        );
    }

    let svg = render_svg(&chart_of(&comparison, "test".to_string())).expect("the chart is drawn");
    let chart = parse_svg(&svg).expect("well-formed");
    assert_eq!(chart.timeline_count(), 3);
    for (index, row) in comparison.rows.iter().enumerate() {
        assert_eq!(chart.bars(index).len(), 1, "{}", row.name);
        assert_eq!(chart.requests(index).len(), 6, "{}", row.name);
    }
    // A bound across each bar and each timeline; a whisker over each bar,
    // and one in the legend.
    assert_eq!(chart.bounds().len(), 2 * 3);
    assert_eq!(chart.whiskers().len(), 3 + 1);
}

/// A child that does not run the model (an executable that does not
/// understand `--run-model`) makes a failed row, not a panic or a silent
/// success.
#[test]
fn a_model_that_fails_is_reported() {
    let options = tiny_options(&["seq"]);
    // The test binary itself does not know `--run-model`: it exits with an
    // error and prints no result line.
    let not_a_model = std::env::current_exe().expect("the test binary");
    let mut progress = Vec::new();
    let comparison =
        run_comparison(&options, &not_a_model, &mut progress).expect("the comparison runs");
    assert!(!comparison.all_ok());
    assert_eq!(comparison.rows.len(), 1, "{comparison:#?}");
    let row = &comparison.rows[0];
    assert_eq!(row.name, "seq");
    assert!(row.failure().is_some(), "{row:?}");
    assert_eq!(row.saved(), 0, "{row:?}");
    assert!(render_table(&comparison).contains("FAILED"));
    assert!(String::from_utf8_lossy(&progress).contains("FAILED"));
}
