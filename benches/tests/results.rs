//! `--results DIR`, on a tiny set: the page and its files are written,
//! with the date, the commit, the machine, each part's command, its
//! tables and its charts. Nothing is timed.

mod common;

use std::path::Path;

use flags_benches::compare::parse_args;
use flags_benches::compare::results::{ResultPart, page_path, run_results, standard_set};

/// The standard set is the default comparison, the book's workload with
/// the reqwest::blocking row and curl, and the full sweep; each part's
/// command line is one `flags-compare` accepts.
#[test]
fn the_standard_set() {
    let set = standard_set();
    let names: Vec<&str> = set.iter().map(|part| part.name.as_str()).collect();
    assert_eq!(names, ["compare", "book", "sweep"]);
    for part in &set {
        let options =
            parse_args(std::iter::once("flags-compare".to_string()).chain(part.args.clone()))
                .unwrap_or_else(|error| panic!("{}: {error}", part.name));
        match part.name.as_str() {
            "compare" => {
                assert_eq!(options.country_codes.len(), 40);
                assert_eq!(options.sweep, None);
            }
            "book" => {
                assert_eq!(options.country_codes.len(), 194);
                assert_eq!(options.max_req, 30);
                assert!(options.peer_curl);
                assert!(
                    options
                        .models
                        .iter()
                        .any(|model| model.name == "threadpool-reqwest")
                );
            }
            _ => {
                let sweep = options.sweep.expect("a sweep");
                assert!(options.sweep_only);
                assert_eq!(sweep.country_codes.len(), 676);
                assert!(sweep.peer_curl);
                assert!(
                    sweep
                        .models
                        .iter()
                        .any(|model| model.name == "threadpool-reqwest")
                );
            }
        }
    }
}

/// Two tiny parts, a comparison and a sweep: `DIR.md` is written beside
/// `DIR`, with the command that wrote it, the date, the commit, the
/// machine, each part's own command, its tables, and links to its chart
/// and its JSON, each of which exists under `DIR`.
#[test]
fn a_tiny_set_writes_the_page_and_its_files() {
    let scratch = tempfile::tempdir().expect("a temporary folder");
    let dir = scratch.path().join("results");
    let parts = [
        ResultPart::new(
            "tiny",
            "A tiny comparison",
            "Two flags.",
            &[
                "-l",
                "2",
                "--delay",
                "0.01",
                "--models",
                "seq,async",
                "--runs",
                "2",
                "--warmup",
                "0",
                "--no-sweep",
            ],
        ),
        ResultPart::new(
            "tiny-sweep",
            "A tiny sweep",
            "Two codes, two m.",
            &[
                "--sweep",
                "-l",
                "2",
                "--sweep-m",
                "1,2",
                "--delay",
                "0.01",
                "--models",
                "async",
            ],
        ),
    ];
    let command = ["flags-compare", "--results", "docs/results"].map(String::from);
    let program = Path::new(env!("CARGO_BIN_EXE_flags-compare"));
    let mut progress = Vec::new();
    let (interrupted, all_ok) =
        run_results(&dir, &parts, &command, program, &mut progress).expect("the set runs");
    let progress = String::from_utf8_lossy(&progress);
    assert!(!interrupted && all_ok, "{progress}");
    let page_file = page_path(&dir);
    assert_eq!(page_file, scratch.path().join("results.md"));
    let page = std::fs::read_to_string(&page_file).expect("the page is written");
    for expected in [
        "# Results\n",
        "cargo run --release -- --results docs/results\n",
        "- Date (UTC): ",
        "- Commit measured: `",
        "- Machine: ",
        "## A tiny comparison\n",
        "cargo run --release -- -l 2 --delay 0.01 --models seq,async --runs 2 --warmup 0 --no-sweep\n",
        "| model | m | wall | min–max |",
        "![The chart of a tiny comparison](results/tiny.svg)",
        "## A tiny sweep\n",
        "| model | m | wall | min–max | bound | CPU-aware bound |",
        "![The chart of a tiny sweep](results/tiny-sweep.svg)",
        "[`results/tiny-sweep.json`](results/tiny-sweep.json)",
    ] {
        assert!(
            page.contains(expected),
            "{expected:?} missing from:\n{page}"
        );
    }
    for file in ["tiny.svg", "tiny.json", "tiny-sweep.svg", "tiny-sweep.json"] {
        let text = std::fs::read_to_string(dir.join(file))
            .unwrap_or_else(|error| panic!("{file}: {error}"));
        if file.ends_with(".svg") {
            common::parse_svg(&text).unwrap_or_else(|error| panic!("{file}: {error}"));
        } else {
            let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            assert!(
                json["results"]
                    .as_array()
                    .is_some_and(|runs| !runs.is_empty())
            );
        }
    }
}
