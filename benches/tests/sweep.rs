//! The sweep's bookkeeping, from end to end on small workloads: every run
//! accounted for (models x m), CPU and memory (RSS and PSS) measured, the
//! JSON and CSV complete, memory growing with the std pool's threads, the
//! chart with one line per model per panel. Never a timing.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use flags_benches::chart::sweep::{SweepChart, SweepLine, SweepPoint, render_sweep_svg};
use flags_benches::compare::export::{CSV_COLUMNS, SCHEMA_VERSION, report, to_csv, to_json};
use flags_benches::compare::sweep::plan;
use flags_benches::compare::{
    Sweep, SweepOptions, colour_index, render_sweep_table, run_sweep, sweep_chart_of,
};
use flags_benches::models::variant_by_name;
use flags_core::countries::all_cc;

use common::{bound_colour, parse_svg, row_colour};

/// The fields every run object of the JSON must have.
const RUN_FIELDS: [&str; 12] = [
    "model",
    "m",
    "run",
    "order",
    "wall_s",
    "bound_s",
    "cpu_s",
    "peak_rss_bytes",
    "peak_pss_bytes",
    "peak_in_flight",
    "saved",
    "errors",
];

/// The first `count` codes of the `-a` list: every one a flag.
fn codes(count: usize) -> Vec<String> {
    all_cc().into_iter().take(count).map(String::from).collect()
}

/// A sweep of `models` at each of `max_reqs` over `code_count` real
/// flags, 20 ms each.
fn options(models: &[&str], max_reqs: &[usize], code_count: usize) -> SweepOptions {
    SweepOptions {
        country_codes: codes(code_count),
        delay: Duration::from_millis(20),
        max_reqs: max_reqs.to_vec(),
        models: models
            .iter()
            .map(|name| variant_by_name(name).expect("a model"))
            .collect(),
        peer_curl: false,
        out: "unused.svg".into(),
        runs: 1,
        warmup: 0,
    }
}

/// Run a sweep with the real `flags-compare` as every run's child.
fn swept(options: &SweepOptions) -> Sweep {
    let program = Path::new(env!("CARGO_BIN_EXE_flags-compare"));
    let mut progress = Vec::new();
    let sweep = run_sweep(options, program, &mut progress).expect("the sweep runs");
    let progress = String::from_utf8_lossy(&progress);
    assert!(sweep.all_ok(), "{sweep:#?}\n{progress}");
    sweep
}

/// Every concurrent model at m = 1 and 4 on 8 flags, twice: one row per
/// model and m, each with two runs, made m by m and round by round, each
/// saving all 8 flags, with CPU, memory, threads and the server's view
/// measured; PSS no more than RSS, and well under it for the process
/// pool's 4 workers, which share the binary's pages; the JSON has a row
/// object per row and a run object per run with every field, the CSV a
/// line per run, the table a line per row, the chart a line per model per
/// panel with a whisker per point and a dashed CPU-aware bound.
#[test]
fn every_run_is_accounted_for() {
    let models = ["threadpool", "rayon", "threads", "async", "process"];
    let options = SweepOptions {
        runs: 2,
        ..options(&models, &[1, 4], 8)
    };
    let sweep = swept(&options);
    let expected: BTreeSet<(String, usize)> = models
        .iter()
        .flat_map(|name| [1, 4].map(|m| (name.to_string(), m)))
        .collect();
    let seen: BTreeSet<(String, usize)> = sweep
        .rows
        .iter()
        .map(|row| (row.name.clone(), row.max_req))
        .collect();
    assert_eq!(sweep.rows.len(), expected.len(), "{sweep:#?}");
    assert_eq!(seen, expected);
    assert_eq!(sweep.names(), models);
    // At m = 1: the five rows (runs 1 to 5), again (6 to 10); then m = 4.
    for (index, row) in sweep.rows.iter().enumerate() {
        let orders: Vec<(usize, usize)> = row.samples.iter().map(|s| (s.round, s.order)).collect();
        assert_eq!(
            orders,
            [
                (1, index % 5 + 1 + index / 5 * 10),
                (2, index % 5 + 6 + index / 5 * 10)
            ],
            "{} m={}",
            row.name,
            row.max_req
        );
    }
    for row in &sweep.rows {
        let what = format!("{} m={}", row.name, row.max_req);
        for sample in &row.samples {
            assert_eq!(
                (sample.saved, sample.errors, sample.requests),
                (8, 0, 8),
                "{what}"
            );
            assert!(
                sample.peak_in_flight >= 1 && sample.peak_in_flight <= row.max_req as u64,
                "{what}"
            );
        }
        if cfg!(target_os = "linux") {
            let cpu = row.cpu().expect("wait4 gives the CPU time");
            assert!(cpu > Duration::ZERO, "{what}: {cpu:?}");
            let rss = row.peak_rss_kib().expect("RSS measured");
            assert!(rss > 0, "{what}");
            let pss = row.peak_pss_kib().expect("PSS measured");
            assert!(
                pss > 0 && pss <= rss,
                "{what}: PSS {pss} KiB, RSS {rss} KiB"
            );
            if row.name == "process" && row.max_req >= 4 {
                // RSS counts the pages the workers share once per worker;
                // PSS splits them.
                assert!(
                    (pss as f64) < 0.8 * rss as f64,
                    "{what}: PSS {pss} KiB, RSS {rss} KiB"
                );
            }
            assert!(
                row.peak_threads() >= 1 && row.processes() >= 1,
                "{what}: {row:?}"
            );
            assert!(
                row.server_cpu().is_some_and(|cpu| cpu > Duration::ZERO),
                "{what}"
            );
            let cpu_bound = row
                .cpu_bound(sweep.repetition.cpus)
                .expect("a CPU-aware bound");
            assert!(cpu_bound > row.bound, "{what}");
        }
    }

    let command = vec!["flags-compare".to_string(), "--sweep".to_string()];
    let json: serde_json::Value =
        serde_json::from_str(&to_json(&report(&command, None, Some(&sweep))).expect("JSON"))
            .expect("parses");
    assert_eq!(json["schema_version"], SCHEMA_VERSION);
    assert_eq!(
        json["command"],
        serde_json::json!(["flags-compare", "--sweep"])
    );
    assert_eq!(json["reproduce"], "cargo run --release -- --sweep");
    assert_eq!(
        json["machine"]["cpus"].as_u64().unwrap_or(0) as usize,
        num_cpus()
    );
    assert!(json["machine"]["os"].is_string() && json["machine"]["date"].is_string());
    assert_eq!(json["workloads"][0]["code_count"], 8);
    assert_eq!(json["workloads"][0]["flag_count"], 8);
    assert_eq!(json["workloads"][0]["delay_s"], 0.02);
    assert_eq!(json["workloads"][0]["runs"], 2);
    assert_eq!(json["workloads"][0]["warmup"], 0);
    let rows = json["rows"].as_array().expect("a rows array");
    assert_eq!(rows.len(), sweep.rows.len());
    for row in rows {
        assert_eq!(row["runs"], 2, "{row}");
        let (min, median, max) = (
            row["wall_min_s"].as_f64().unwrap_or(0.0),
            row["wall_median_s"].as_f64().unwrap_or(0.0),
            row["wall_max_s"].as_f64().unwrap_or(0.0),
        );
        assert!(0.0 < min && min <= median && median <= max, "{row}");
        assert!(row["timeline"].is_null(), "the sweep draws no timeline");
    }
    let results = json["results"].as_array().expect("a results array");
    assert_eq!(results.len(), 2 * sweep.rows.len());
    let orders: Vec<u64> = results
        .iter()
        .map(|run| run["order"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(orders, (1..=20).collect::<Vec<u64>>());
    for run in results {
        for field in RUN_FIELDS {
            assert!(run.get(field).is_some(), "{field} missing from {run}");
        }
        assert_eq!(run["part"], "sweep");
        assert!(run["wall_s"].as_f64().is_some_and(|s| s > 0.0), "{run}");
        assert!(run["bound_s"].as_f64().is_some_and(|s| s > 0.0), "{run}");
        if cfg!(target_os = "linux") {
            assert!(run["cpu_s"].as_f64().is_some_and(|s| s > 0.0), "{run}");
            let rss = run["peak_rss_bytes"].as_u64().unwrap_or(0);
            let pss = run["peak_pss_bytes"].as_u64().unwrap_or(0);
            assert!(pss > 0 && pss <= rss, "{run}");
        }
        assert_eq!(run["saved"], 8);
        assert_eq!(run["errors"], 0);
    }

    let csv = to_csv(&report(&command, None, Some(&sweep))).expect("CSV");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 2 * sweep.rows.len(), "{csv}");
    assert_eq!(lines[0], CSV_COLUMNS.join(","));
    for line in &lines[1..] {
        assert_eq!(line.split(',').count(), CSV_COLUMNS.len(), "{line}");
    }

    let table = render_sweep_table(&sweep);
    assert!(
        table.contains("median of 2 runs per row, interleaved"),
        "{table}"
    );
    for row in &sweep.rows {
        let found = table.lines().any(|line| {
            let cells: Vec<&str> = line.split("  ").filter(|c| !c.is_empty()).collect();
            cells.len() > 2 && cells[0] == row.label && cells[1].trim() == row.max_req.to_string()
        });
        assert!(
            found,
            "no line for {} m={}:\n{table}",
            row.label, row.max_req
        );
    }

    let svg = render_sweep_svg(&sweep_chart_of(&sweep, "test".to_string())).expect("drawn");
    let chart = parse_svg(&svg).unwrap_or_else(|error| panic!("{error}\n{svg}"));
    for name in models {
        let index = colour_index(name);
        let lines = chart.model_lines(index);
        assert_eq!(lines.len(), 3, "{name}: one line per panel");
        assert!(lines.iter().all(|line| line.points.len() == 2), "{name}");
        assert_eq!(
            chart.model_whiskers(index).len(),
            2,
            "{name}: one per point"
        );
        if cfg!(target_os = "linux") {
            assert!(
                !chart.dashes(index).is_empty(),
                "{name}: its CPU-aware bound"
            );
        }
    }
}

/// The CPUs this test sees, as the report counts them.
fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(0, usize::from)
}

/// The std pool's memory grows with its threads: at m = 64 on a delayed
/// server it has more threads and more resident memory than at m = 1, by
/// at least 8 KiB a thread (a thread's stack and its buffers touch more).
#[test]
fn std_pool_memory_grows_with_its_threads() {
    let sweep = swept(&options(&["threadpool"], &[1, 64], 64));
    let runs = sweep.runs_of("threadpool");
    assert_eq!(
        runs.iter().map(|row| row.max_req).collect::<Vec<_>>(),
        [1, 64]
    );
    let (one, many) = (runs[0], runs[1]);
    assert_eq!(one.peak_in_flight(), 1);
    if cfg!(target_os = "linux") {
        let (low, high) = (
            one.peak_rss_kib().expect("measured"),
            many.peak_rss_kib().expect("measured"),
        );
        assert!(high >= low + 63 * 8, "m=1: {low} KiB, m=64: {high} KiB");
        assert!(
            many.peak_threads() > one.peak_threads(),
            "{one:?}\n{many:?}"
        );
        let slope = sweep.stats(many).rss_kib_per_in_flight.expect("a slope");
        assert!(slope > 0.0, "{slope}");
        assert_eq!(sweep.stats(one).rss_kib_per_in_flight, None);
    }
}

/// The plan caps each m at the model's maximum and the number of codes,
/// runs a capped value once, and goes m by m.
#[test]
fn the_plan_caps_and_deduplicates() {
    let models =
        ["seq", "threadpool", "process"].map(|name| variant_by_name(name).expect("a model"));
    let runs = plan(&models, true, &[1, 10, 300, 676], 676);
    let named: Vec<(&str, usize)> = runs.iter().map(|run| (run.name(), run.max_req)).collect();
    assert_eq!(
        named,
        [
            ("seq", 1),
            ("threadpool", 1),
            ("process", 1),
            ("curl", 1),
            ("threadpool", 10),
            ("process", 10),
            ("curl", 10),
            ("threadpool", 300),
            ("process", 256),
            ("curl", 300),
            ("threadpool", 676),
        ]
    );
    let few = plan(&models[1..2], false, &[1, 4, 64], 8);
    assert_eq!(
        few.iter().map(|run| run.max_req).collect::<Vec<_>>(),
        [1, 4, 8]
    );
}

/// A line of `count` points on `m` = 1, 10, 100...
fn line(label: &str, name: &str, count: u32, scale: f64) -> SweepLine {
    SweepLine {
        label: label.to_string(),
        colour: colour_index(name),
        points: (0..count)
            .map(|power| SweepPoint {
                m: 10usize.pow(power),
                ratio: Some(1.0 + f64::from(power) * scale),
                ratio_spread: Some((
                    0.9 + f64::from(power) * scale,
                    1.2 + f64::from(power) * scale,
                )),
                cpu_bound_ratio: Some(1.0 + f64::from(power) * scale * 0.5),
                cpu_us: Some(100.0 * scale + f64::from(power)),
                rss_mib: Some(5.0 * scale.powi(i32::try_from(power).unwrap_or(0))),
            })
            .collect(),
        rss_note: Some(format!("+{scale} KiB/req (m=100)")),
    }
}

/// The sweep's chart alone: well-formed, three panels, one line per model
/// per panel with a dot per point, a whisker per point and a dashed
/// CPU-aware bound in the first, the bound once, a legend entry and an end
/// label per model, labels escaped.
#[test]
fn sweep_chart_has_one_line_per_model_per_panel() {
    let chart = SweepChart {
        title: "flags-compare --sweep: test".to_string(),
        subtitle: "2 CPUs <&>".to_string(),
        ticks: vec![1, 10, 100, 676],
        lines: vec![
            line("threadpool (std)", "threadpool", 3, 2.0),
            line("async", "async", 3, 1.5),
            line("process", "process", 2, 60.0),
        ],
    };
    let svg = render_sweep_svg(&chart).expect("drawn");
    let parsed = parse_svg(&svg).unwrap_or_else(|error| panic!("{error}\n{svg}"));
    assert_eq!(parsed.count_text("flags-compare --sweep: test"), 1);
    assert_eq!(parsed.count_text("2 CPUs <&>"), 1);
    for title in [
        "Wall time / bound",
        "CPU per request",
        "Peak resident memory",
    ] {
        assert_eq!(parsed.count_text(title), 1, "{title}");
    }
    assert_eq!(
        parsed.count_text("m, requests allowed in flight (log scale)"),
        3
    );
    // The memory axis spans more than LOG_SPAN: log scale, said so.
    assert_eq!(parsed.count_text("MiB (log scale)"), 1);
    assert!(parsed.has_text_starting("dashed, in a model's colour: its CPU-aware bound"));
    assert!(parsed.has_text_starting("min–max of the runs at that point"));
    for sweep_line in &chart.lines {
        let lines = parsed.model_lines(sweep_line.colour);
        assert_eq!(lines.len(), 3, "{}", sweep_line.label);
        let whiskers = parsed.model_whiskers(sweep_line.colour);
        assert_eq!(
            whiskers.len(),
            sweep_line.points.len(),
            "{}",
            sweep_line.label
        );
        for whisker in whiskers {
            let ((x1, y1), (x2, y2)) = whisker.whisker_ends();
            // Vertical, the most at or above the least.
            assert!(x1 == x2 && y2 <= y1, "{whisker:?}");
        }
        assert!(
            !parsed.dashes(sweep_line.colour).is_empty(),
            "{}",
            sweep_line.label
        );
        for drawn in &lines {
            assert_eq!(drawn.points.len(), sweep_line.points.len());
            // m grows to the right.
            assert!(drawn.points.windows(2).all(|pair| pair[0].0 < pair[1].0));
        }
        // Once in the legend, once at the end of each of the first two
        // panels' lines, and with its note in the third.
        assert_eq!(
            parsed.count_text(&sweep_line.label),
            3,
            "{}",
            sweep_line.label
        );
        let note = sweep_line.rss_note.as_deref().unwrap_or_default();
        assert_eq!(
            parsed.count_text(&format!("{}: {note}", sweep_line.label)),
            1
        );
    }
    let bounds: Vec<_> = parsed
        .polylines
        .iter()
        .filter(|line| line.stroke == bound_colour())
        .collect();
    assert_eq!(bounds.len(), 1, "the bound, across the first panel");
    assert!(bounds[0].is_horizontal());
    assert_ne!(row_colour(0), bound_colour());
}

/// Run the `flags-compare` binary with `args`; its stdout, after checking
/// it exited with 0.
fn run_binary(args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_flags-compare"))
        .args(args)
        .output()
        .expect("flags-compare runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// `flags-compare --sweep` as CI runs it, smaller: the table, the chart,
/// the JSON and the CSV, each with every run.
#[test]
fn binary_sweep_writes_table_chart_json_and_csv() {
    let scratch = tempfile::tempdir().expect("a temporary folder");
    let path = |name: &str| scratch.path().join(name).to_string_lossy().into_owned();
    let (json, csv, out) = (path("s.json"), path("s.csv"), path("s.svg"));
    let stdout = run_binary(&[
        "--sweep",
        "--sweep-m",
        "1,2",
        "-l",
        "4",
        "--delay",
        "0.02",
        "--models",
        "threadpool,async",
        "--json",
        &json,
        "--csv",
        &csv,
        "--out",
        &out,
    ]);
    assert!(
        stdout.contains("Sweep: 4 codes (1 flag, 3 not found) (AA, AB, AC, AD)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 run per row, so no spread (--runs N to repeat)"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("Sweep chart: {out}")), "{stdout}");
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("JSON written"))
            .expect("well-formed JSON");
    let runs = document["results"].as_array().expect("results");
    assert_eq!(runs.len(), 4);
    for run in runs {
        for field in RUN_FIELDS {
            assert!(run.get(field).is_some(), "{field} missing from {run}");
        }
        // AD is the only flag among AA..AD; the other three are 404s.
        assert_eq!(
            (run["saved"].as_u64(), run["errors"].as_u64()),
            (Some(1), Some(0))
        );
    }
    assert_eq!(
        std::fs::read_to_string(&csv)
            .expect("CSV written")
            .lines()
            .count(),
        5
    );
    let chart =
        parse_svg(&std::fs::read_to_string(&out).expect("chart written")).expect("well-formed SVG");
    assert_eq!(chart.model_lines(colour_index("threadpool")).len(), 3);
    assert_eq!(chart.model_lines(colour_index("async")).len(), 3);
    assert!(chart.has_text_starting("flags-compare --sweep: 4 codes (1 flag, 3 not found)"));
}

/// The default run, small: the comparison's table and chart (three runs of
/// each model, interleaved), then the short sweep's table and chart next
/// to it (one run per point), and one JSON with both parts.
#[test]
fn binary_default_run_ends_with_the_short_sweep() {
    let scratch = tempfile::tempdir().expect("a temporary folder");
    let path = |name: &str| scratch.path().join(name).to_string_lossy().into_owned();
    let (json, out) = (path("run.json"), path("chart.svg"));
    let stdout = run_binary(&[
        "-l",
        "3",
        "--delay",
        "0.02",
        "--models",
        "seq,async",
        "--sweep-m",
        "1,3",
        "--json",
        &json,
        "--out",
        &out,
    ]);
    let sweep_out = path("chart-sweep.svg");
    assert!(stdout.contains(&format!("Chart: {out}")), "{stdout}");
    assert!(
        stdout.contains(&format!("Sweep chart: {sweep_out}")),
        "{stdout}"
    );
    parse_svg(&std::fs::read_to_string(&out).expect("chart")).expect("well-formed");
    let sweep_chart =
        parse_svg(&std::fs::read_to_string(&sweep_out).expect("sweep chart")).expect("well-formed");
    assert_eq!(sweep_chart.model_lines(colour_index("async")).len(), 3);
    assert!(sweep_chart.model_lines(colour_index("seq")).is_empty());
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("JSON")).expect("well-formed");
    let parts: Vec<(&str, &str, u64)> = document["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|run| {
            (
                run["part"].as_str().unwrap_or(""),
                run["model"].as_str().unwrap_or(""),
                run["m"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        parts,
        [
            ("compare", "seq", 1),
            ("compare", "async", 3),
            ("compare", "seq", 1),
            ("compare", "async", 3),
            ("compare", "seq", 1),
            ("compare", "async", 3),
            ("sweep", "async", 1),
            ("sweep", "async", 3),
        ]
    );
    assert_eq!(document["workloads"][0]["runs"], 3);
    assert_eq!(document["workloads"][0]["warmup"], 1);
    assert_eq!(document["workloads"][1]["runs"], 1);
    assert_eq!(
        document["workloads"][1]["m_asked"],
        serde_json::json!([1, 3])
    );
}
