//! `--results DIR`: one command that runs the standard set and writes the
//! results page, `DIR.md`, with its charts and data under `DIR/`.
//!
//! The standard set ([`standard_set`]) is the default comparison; the
//! book's workload (`-a --delay 0.1 -m 30`) with the `threadpool-reqwest`
//! row and curl as a peer; and the full sweep, with the same extra rows.
//! curl's rows appear when curl is installed (a note says so when it is
//! not); nothing else is needed but Rust.
//!
//! Each part is run exactly as its own command line would run it (the
//! same [`super::parse_args`], the same loops), so the page can give, for
//! every table, the command that makes it again. The page records what a
//! reader needs to weigh it: the date, the machine, the commit measured
//! (from `git rev-parse HEAD`, "unknown" without git), and the exact
//! commands. Being generated, it may date itself.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::comparison::CompareError;
use super::export::{Machine, machine, reproduce_command, to_json};
use super::{
    Comparison, Sweep, comparison_svg, export, markdown, parse_args, run_comparison, run_sweep,
    sweep_svg, write_file,
};

/// One part of the results page: a command line of `flags-compare`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultPart {
    /// The stem of its files under `DIR/`: `compare` gives `compare.svg`,
    /// `compare.json`.
    pub name: String,
    /// Its heading on the page.
    pub(crate) title: String,
    /// What it shows, one paragraph.
    pub(crate) about: String,
    /// Its arguments (without `flags-compare`).
    pub args: Vec<String>,
}

impl ResultPart {
    /// A part named `name`.
    pub fn new(name: &str, title: &str, about: &str, args: &[&str]) -> ResultPart {
        ResultPart {
            name: name.to_string(),
            title: title.to_string(),
            about: about.to_string(),
            args: args.iter().map(|arg| arg.to_string()).collect(),
        }
    }
}

/// The models of the standard set's extra rows: the default six and the
/// std pool on reqwest::blocking.
const WITH_REQWEST: &str = "seq,threadpool,rayon,threads,async,process,threadpool-reqwest";

/// The standard set, in the order of the page.
pub fn standard_set() -> Vec<ResultPart> {
    vec![
        ResultPart::new(
            "compare",
            "The default comparison",
            "What `cargo run --release` shows first: the first 40 flags, 0.1 s a request, \
             10 at a time, every model three times.",
            &["--no-sweep"],
        ),
        ResultPart::new(
            "book",
            "The book's workload",
            "All 194 flags, 0.1 s a request, 30 at a time, as the book's DELAY server runs \
             them; with the std pool on reqwest::blocking and `curl --parallel` as a peer \
             (when curl is installed).",
            &[
                "-a",
                "--delay",
                "0.1",
                "-m",
                "30",
                "--models",
                WITH_REQWEST,
                "--peer-curl",
                "--no-sweep",
            ],
        ),
        ResultPart::new(
            "sweep",
            "The full sweep",
            "Every concurrent model, the reqwest::blocking pool and curl at m = 1 to 676 on \
             the 676 codes AA..ZZ, 20 ms a request: where each model leaves the bound, and \
             what a request in flight costs it in CPU and memory.",
            &[
                "--sweep",
                "--models",
                &WITH_REQWEST["seq,".len()..],
                "--peer-curl",
            ],
        ),
    ]
}

/// The commit measured: `git rev-parse HEAD`, marked when the work tree has
/// changes; "unknown" when git or the repository is missing.
pub(crate) fn commit_measured() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
    };
    match git(&["rev-parse", "HEAD"]) {
        Some(commit) if !commit.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|status| !status.is_empty());
            if dirty {
                format!("{commit} (with uncommitted changes)")
            } else {
                commit
            }
        }
        _ => "unknown".to_string(),
    }
}

/// `DIR.md` for `DIR`: `docs/results` gives `docs/results.md`.
///
/// ```
/// use std::path::Path;
/// use flags_benches::compare::results::page_path;
/// assert_eq!(page_path(Path::new("docs/results")), Path::new("docs/results.md"));
/// assert_eq!(page_path(Path::new("out/")), Path::new("out.md"));
/// ```
pub fn page_path(dir: &Path) -> PathBuf {
    let name = dir.file_name().map_or_else(
        || "results".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    dir.with_file_name(format!("{name}.md"))
}

/// What one part measured.
struct Measured {
    part: ResultPart,
    comparison: Option<Comparison>,
    sweep: Option<Sweep>,
}

/// Run `parts` (each a `flags-compare` command line) with `program` as the
/// runs' child, write each part's charts and JSON under `dir`, and the
/// page, [`page_path`] of `dir`, headed by `command` (the command line
/// that asked for it). Progress goes to `progress`. Whether Ctrl-C cut it
/// short, and whether every run was right.
pub fn run_results(
    dir: &Path,
    parts: &[ResultPart],
    command: &[String],
    program: &Path,
    progress: &mut dyn Write,
) -> Result<(bool, bool), CompareError> {
    std::fs::create_dir_all(dir).map_err(|source| CompareError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let commit = commit_measured();
    let mut measured = Vec::new();
    let mut interrupted = false;
    for part in parts {
        if interrupted {
            break;
        }
        let argv: Vec<OsString> = std::iter::once("flags-compare".into())
            .chain(part.args.iter().map(OsString::from))
            .collect();
        let options = parse_args(argv).map_err(|error| CompareError::Part {
            part: part.name.clone(),
            message: error.to_string(),
        })?;
        let _ = writeln!(
            progress,
            "\n== {}: {}",
            part.title,
            reproduce_command(&options.command)
        );
        let mut done = Measured {
            part: part.clone(),
            comparison: None,
            sweep: None,
        };
        if !options.sweep_only {
            let comparison = run_comparison(&options, program, progress)?;
            let chart = dir.join(format!("{}.svg", part.name));
            write_file(&chart, &comparison_svg(&comparison)?)?;
            interrupted = comparison.interrupted;
            done.comparison = Some(comparison);
        }
        if let (Some(sweep_options), false) = (&options.sweep, interrupted) {
            let sweep = run_sweep(sweep_options, program, progress)?;
            let name = if options.sweep_only {
                format!("{}.svg", part.name)
            } else {
                format!("{}-sweep.svg", part.name)
            };
            write_file(&dir.join(name), &sweep_svg(&sweep)?)?;
            interrupted = sweep.interrupted;
            done.sweep = Some(sweep);
        }
        let report = export::report(
            &options.command,
            done.comparison.as_ref(),
            done.sweep.as_ref(),
        );
        write_file(
            &dir.join(format!("{}.json", part.name)),
            &to_json(&report).map_err(CompareError::Json)?,
        )?;
        measured.push(done);
    }
    let page = page_path(dir);
    write_file(
        &page,
        &results_page(dir, command, &commit, &machine(), &measured),
    )?;
    let _ = writeln!(progress, "\nResults: {}", page.display());
    let all_ok = measured.iter().all(|done| {
        done.comparison.as_ref().is_none_or(Comparison::all_ok)
            && done.sweep.as_ref().is_none_or(Sweep::all_ok)
    });
    Ok((interrupted, all_ok))
}

/// The page: what it is and how it was made, the machine, then each part
/// with its command, its tables and its charts.
fn results_page(
    dir: &Path,
    command: &[String],
    commit: &str,
    machine: &Machine,
    measured: &[Measured],
) -> String {
    let folder = dir.file_name().map_or_else(
        || "results".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    let mut page = String::from("# Results\n\n");
    page.push_str(&format!(
        "This page is written by a command; do not edit it by hand. To measure again, from \
         the root of the workspace:\n\n```sh\n{}\n```\n\n",
        reproduce_command(command)
    ));
    page.push_str(&format!(
        "- Date (UTC): {}\n- Commit measured: `{commit}`\n- Machine: {}\n\n",
        machine.date,
        machine_summary(machine)
    ));
    page.push_str(
        "Each table gives the command that makes it again alone. Wall times are the median \
         of the runs, with their spread min–max; CPU and memory are medians too (see \
         `docs/interface.md`). A warning under a table says when the machine was busy or a \
         row's runs spread wide.\n",
    );
    for done in measured {
        page.push_str(&format!(
            "\n## {}\n\n{}\n\n",
            done.part.title, done.part.about
        ));
        let args: Vec<String> = std::iter::once("flags-compare".to_string())
            .chain(done.part.args.iter().cloned())
            .collect();
        page.push_str(&format!("```sh\n{}\n```\n\n", reproduce_command(&args)));
        if let Some(comparison) = &done.comparison {
            page.push_str(&markdown::comparison_section("### Comparison", comparison));
            page.push_str(&format!(
                "\n![The chart of {}]({folder}/{}.svg)\n",
                done.part.title.to_lowercase(),
                done.part.name
            ));
        }
        if let Some(sweep) = &done.sweep {
            let chart = if done.comparison.is_some() {
                format!("{}-sweep", done.part.name)
            } else {
                done.part.name.clone()
            };
            if done.comparison.is_some() {
                page.push('\n');
            }
            page.push_str(&markdown::sweep_section("### Sweep", sweep));
            page.push_str(&format!(
                "\n![The chart of {}]({folder}/{chart}.svg)\n",
                done.part.title.to_lowercase()
            ));
        }
        page.push_str(&format!(
            "\nEvery run, as JSON: [`{folder}/{name}.json`]({folder}/{name}.json).\n",
            name = done.part.name
        ));
    }
    page
}

/// The machine on one line: `2 CPUs (AMD EPYC), 23.5 GiB, Debian GNU/Linux
/// 12 (bookworm), linux x86_64, kernel 6.1`.
fn machine_summary(machine: &Machine) -> String {
    let mut parts = vec![match &machine.cpu_model {
        Some(model) => format!("{} CPUs ({model})", machine.cpus),
        None => format!("{} CPUs", machine.cpus),
    }];
    if let Some(bytes) = machine.memory_bytes {
        parts.push(format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64));
    }
    parts.extend(machine.os_name.clone());
    parts.push(format!("{} {}", machine.os, machine.arch));
    if let Some(kernel) = &machine.kernel {
        parts.push(format!("kernel {kernel}"));
    }
    parts.join(", ")
}
