//! The exports from end to end, on tiny workloads with the real binary:
//! `--json -` gives clean JSON on stdout (the tables go to stderr) with
//! every run, the schema version and the command line; `--csv -` one line
//! per run; `--export-markdown` well-formed tables; `--html` a page an XML
//! parser reads, with the tables, both charts inline, the machine and the
//! command. Nothing is timed.

mod common;

use std::process::{Command, Output};

use flags_benches::compare::export::{CSV_COLUMNS, SCHEMA_VERSION};

/// Run `flags-compare` with `args`, checking that it exited with 0.
fn run(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_flags-compare"))
        .args(args)
        .output()
        .expect("flags-compare runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// One run writes everything: `--json -` to stdout, the CSV, the markdown,
/// the HTML and the charts to files. Each is checked in turn.
#[test]
fn json_on_stdout_and_every_export() {
    let scratch = tempfile::tempdir().expect("a temporary folder");
    let path = |name: &str| scratch.path().join(name).to_string_lossy().into_owned();
    let (csv, markdown, html, out) = (
        path("runs.csv"),
        path("table.md"),
        path("page.html"),
        path("chart.svg"),
    );
    let args = [
        "-l",
        "3",
        "--delay",
        "0.02",
        "--models",
        "seq,async",
        "--runs",
        "2",
        "--warmup",
        "1",
        "--sweep-m",
        "1,3",
        "--json",
        "-",
        "--csv",
        &csv,
        "--export-markdown",
        &markdown,
        "--html",
        &html,
        "--out",
        &out,
    ];
    let output = run(&args);
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let stderr = String::from_utf8_lossy(&output.stderr);

    // stdout is the JSON document and nothing else; the tables, the
    // charts' paths and the other files' paths went to stderr.
    let document: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error}:\n{stdout}"));
    assert!(
        stdout.starts_with('{') && stdout.ends_with("}\n"),
        "{stdout}"
    );
    assert!(
        stderr.contains("3 flags (AD, AE, AF), server delay 0.02 s"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("Chart: {out}")), "{stderr}");
    assert!(stderr.contains(&format!("CSV: {csv}")), "{stderr}");
    assert!(stderr.contains(&format!("HTML: {html}")), "{stderr}");
    assert!(!stderr.contains("JSON:"), "{stderr}");

    assert_eq!(document["schema_version"], SCHEMA_VERSION);
    let mut command = vec!["flags-compare"];
    command.extend(args);
    assert_eq!(document["command"], serde_json::json!(command));
    let reproduce = document["reproduce"].as_str().expect("a string");
    assert!(
        reproduce.starts_with("cargo run --release -- -l 3 --delay 0.02 --models seq,async"),
        "{reproduce}"
    );
    // Every run: 2 models x 2 runs, then 1 model x 2 m x 2 runs (--runs
    // and --warmup apply to the sweep too).
    let results = document["results"].as_array().expect("results");
    let runs: Vec<(&str, &str, u64, u64)> = results
        .iter()
        .map(|run| {
            (
                run["part"].as_str().unwrap_or(""),
                run["model"].as_str().unwrap_or(""),
                run["m"].as_u64().unwrap_or(0),
                run["run"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        runs,
        [
            ("compare", "seq", 1, 1),
            ("compare", "async", 3, 1),
            ("compare", "seq", 1, 2),
            ("compare", "async", 3, 2),
            ("sweep", "async", 1, 1),
            ("sweep", "async", 1, 2),
            ("sweep", "async", 3, 1),
            ("sweep", "async", 3, 2),
        ]
    );
    // The comparison's runs come after the warm-up round (runs 1 and 2).
    let orders: Vec<u64> = results[..4]
        .iter()
        .map(|run| run["order"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(orders, [3, 4, 5, 6]);
    let rows = document["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2 + 2);
    for row in &rows[..2] {
        assert_eq!(row["part"], "compare");
        assert_eq!(row["runs"], 2);
        let timeline = row["timeline"].as_array().expect("the charted timeline");
        assert_eq!(timeline.len(), 3, "{row}");
        assert!(
            row["timeline_run"]
                .as_u64()
                .is_some_and(|run| run == 1 || run == 2)
        );
        let wall = |key: &str| row[key].as_f64().unwrap_or(f64::NAN);
        assert!(wall("wall_min_s") <= wall("wall_median_s"), "{row}");
        assert!(wall("wall_median_s") <= wall("wall_max_s"), "{row}");
    }
    assert_eq!(document["workloads"][0]["warmup"], 1);
    assert_eq!(document["workloads"][1]["runs"], 2);
    assert!(
        document["machine"]["cpus"]
            .as_u64()
            .is_some_and(|cpus| cpus >= 1)
    );

    // The CSV: a header, then one line per run, the same runs.
    let csv_text = std::fs::read_to_string(&csv).expect("CSV written");
    let lines: Vec<&str> = csv_text.lines().collect();
    assert_eq!(lines[0], CSV_COLUMNS.join(","));
    assert_eq!(lines.len(), 1 + results.len(), "{csv_text}");

    check_markdown(&std::fs::read_to_string(&markdown).expect("markdown written"));
    check_html(
        &std::fs::read_to_string(&html).expect("HTML written"),
        reproduce,
    );
}

/// Every markdown table is well-formed: after its header, a rule with as
/// many columns, then lines with as many cells (escaped pipes are not
/// separators). The comparison's table has a line per model, the sweep's
/// and its summary a line per row and per model.
fn check_markdown(markdown: &str) {
    assert!(markdown.starts_with("# flags-compare\n"), "{markdown}");
    assert!(markdown.contains("\n## Comparison\n"), "{markdown}");
    assert!(markdown.contains("\n## Sweep\n"), "{markdown}");
    let cells = |line: &str| line.replace("\\|", "").matches('|').count() - 1;
    let mut tables: Vec<Vec<&str>> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in markdown.lines() {
        if line.starts_with('|') {
            current.push(line);
        } else if !current.is_empty() {
            tables.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        tables.push(current);
    }
    assert_eq!(tables.len(), 3, "{markdown}");
    for table in &tables {
        let width = cells(table[0]);
        assert!(table[1].starts_with("|:--|"), "{table:?}");
        for line in table {
            assert_eq!(cells(line), width, "{line}");
        }
    }
    assert!(tables[0][0].starts_with("| model | m | wall | min–max | bound |"));
    assert_eq!(tables[0].len(), 2 + 2, "{:?}", tables[0]);
    assert!(tables[0][2].starts_with("| seq | 1 |"), "{:?}", tables[0]);
    assert_eq!(tables[1].len(), 2 + 2, "{:?}", tables[1]);
    assert!(
        tables[1][0].contains("| CPU-aware bound |"),
        "{:?}",
        tables[1]
    );
    assert_eq!(tables[2].len(), 2 + 1, "{:?}", tables[2]);
}

/// The page parses as XML (XHTML-compatible), holds both charts inline as
/// SVG, the three tables, the machine, and the command that reproduces it;
/// it loads nothing from elsewhere.
fn check_html(html: &str, reproduce: &str) {
    let document = roxmltree::Document::parse_with_options(
        html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        },
    )
    .unwrap_or_else(|error| panic!("{error}\n{html}"));
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "html");
    let elements = |name: &str| {
        root.descendants()
            .filter(|node| node.is_element() && node.tag_name().name() == name)
            .collect::<Vec<_>>()
    };
    let svgs = elements("svg");
    assert_eq!(svgs.len(), 2, "both charts inline");
    for svg in &svgs {
        assert_eq!(svg.tag_name().namespace(), Some(common::SVG_NAMESPACE));
        assert!(svg.attribute("viewBox").is_some());
    }
    assert_eq!(elements("table").len(), 3);
    let text: String = root
        .descendants()
        .filter(|node| node.is_text())
        .filter_map(|node| node.text())
        .collect();
    for expected in [
        reproduce,
        "CPU model",
        "memory",
        "Comparison",
        "Sweep over m",
        "async",
        "median of 2 runs per row",
        "3 flags: AD, AE, AF",
    ] {
        assert!(text.contains(expected), "{expected} missing from the page");
    }
    for name in ["script", "link", "img", "iframe"] {
        assert!(
            elements(name).is_empty(),
            "a <{name}> in a self-contained page"
        );
    }
}

/// `--csv -` writes one line per run to stdout and nothing else; the
/// tables go to stderr.
#[test]
fn csv_on_stdout_has_one_line_per_run() {
    let scratch = tempfile::tempdir().expect("a temporary folder");
    let out = scratch.path().join("chart.svg");
    let output = run(&[
        "-l",
        "2",
        "--delay",
        "0.01",
        "--models",
        "async,threadpool",
        "--runs",
        "3",
        "--warmup",
        "0",
        "--no-sweep",
        "--csv",
        "-",
        "--out",
        &out.to_string_lossy(),
    ]);
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], CSV_COLUMNS.join(","));
    assert_eq!(lines.len(), 1 + 2 * 3, "{stdout}");
    let model = CSV_COLUMNS
        .iter()
        .position(|column| *column == "model")
        .expect("a model column");
    let models: Vec<&str> = lines[1..]
        .iter()
        .map(|line| line.split(',').nth(model).unwrap_or(""))
        .collect();
    assert_eq!(
        models,
        [
            "async",
            "threadpool",
            "async",
            "threadpool",
            "async",
            "threadpool"
        ]
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("median of 3 runs per row"), "{stderr}");
}
