//! The command line of `flags-compare`: what it accepts, what it refuses,
//! and the hidden child mode's arguments.

mod common;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use flags_benches::child::{child_args, parse_child_args};
use flags_benches::compare::{
    CompareOptions, Destination, SweepOptions, default_models, parse_args,
};
use flags_benches::models::{every_variant, variant_by_name};
use flags_core::DownloadJob;
use flags_testkit::process::KillOnDrop;

fn parse(args: &[&str]) -> Result<CompareOptions, clap::Error> {
    parse_args(std::iter::once("flags-compare").chain(args.iter().copied()))
}

fn names(options: &CompareOptions) -> Vec<&'static str> {
    options.models.iter().map(|model| model.name).collect()
}

/// With no argument: the first 40 codes of `-a`, 0.1 s, `-m 10`, every
/// model three times after one warm-up round, the chart in
/// `flags-compare.svg`, no curl, no export; the command line recorded.
#[test]
fn defaults() {
    let options = parse(&[]).expect("no argument is fine");
    assert_eq!(options.country_codes.len(), 40);
    assert_eq!(options.country_codes[..3], ["AD", "AE", "AF"]);
    assert_eq!(options.delay, Duration::from_millis(100));
    assert_eq!(options.max_req, 10);
    assert_eq!((options.runs, options.warmup), (3, 1));
    assert_eq!(
        (options.markdown.clone(), options.html.clone()),
        (None, None)
    );
    assert!(!options.data_on_stdout());
    assert_eq!(options.command, ["flags-compare"]);
    assert_eq!(
        names(&options),
        ["seq", "threadpool", "rayon", "threads", "async", "process"]
    );
    assert_eq!(options.models, default_models());
    assert_eq!(options.out, PathBuf::from("flags-compare.svg"));
    assert!(!options.peer_curl);
}

fn sweep_names(sweep: &SweepOptions) -> Vec<&'static str> {
    sweep.models.iter().map(|model| model.name).collect()
}

/// The default run ends with a short sweep: the concurrent models at
/// m = 1, 10, 100, 676 on all 676 codes, 5 ms each, its chart next to
/// the comparison's; `--no-sweep` drops it.
#[test]
fn default_run_ends_with_a_short_sweep() {
    let options = parse(&[]).expect("defaults");
    assert!(!options.sweep_only);
    assert_eq!((options.json.clone(), options.csv.clone()), (None, None));
    let sweep = options.sweep.expect("a short sweep");
    assert_eq!(sweep.country_codes.len(), 676);
    assert_eq!(sweep.delay, Duration::from_millis(5));
    assert_eq!(sweep.max_reqs, [1, 10, 100, 676]);
    assert_eq!(
        sweep_names(&sweep),
        ["threadpool", "rayon", "threads", "async", "process"]
    );
    assert_eq!(sweep.out, PathBuf::from("flags-compare-sweep.svg"));
    assert!(!sweep.peer_curl);
    // One run per point, no warm-up: the short sweep stays short.
    assert_eq!((sweep.runs, sweep.warmup), (1, 0));

    let options = parse(&[
        "--out",
        "x/chart.svg",
        "--models",
        "seq,async",
        "--peer-curl",
    ])
    .expect("valid");
    let sweep = options.sweep.expect("a short sweep");
    assert_eq!(sweep.out, PathBuf::from("x/chart-sweep.svg"));
    assert_eq!(sweep_names(&sweep), ["async"]);
    assert!(sweep.peer_curl);

    assert_eq!(parse(&["--no-sweep"]).expect("valid").sweep, None);
    // Nothing concurrent to sweep.
    assert_eq!(parse(&["--models", "seq"]).expect("valid").sweep, None);
}

/// Choosing the codes makes the short sweep run on the comparison's codes
/// and delay (so a small run stays small); `--sweep-m` and `--sweep-out`
/// set the rest.
#[test]
fn a_chosen_workload_is_swept_too() {
    let options = parse(&[
        "-l",
        "8",
        "--delay",
        "0.05",
        "--sweep-m",
        "4,1,4",
        "--sweep-out",
        "s.svg",
        "--json",
        "r.json",
        "--csv",
        "r.csv",
    ])
    .expect("valid");
    assert_eq!(options.country_codes.len(), 8);
    let sweep = options.sweep.clone().expect("a short sweep");
    assert_eq!(sweep.country_codes, options.country_codes);
    assert_eq!(sweep.delay, Duration::from_millis(50));
    assert_eq!(sweep.max_reqs, [1, 4]);
    assert_eq!(sweep.out, PathBuf::from("s.svg"));
    assert_eq!(options.json, Some(Destination::File("r.json".into())));
    assert_eq!(options.csv, Some(Destination::File("r.csv".into())));
}

/// `--runs` and `--warmup` apply to the comparison and the sweep alike;
/// `-` sends `--json` or `--csv` to stdout (and the tables to stderr);
/// `--export-markdown` and `--html` take a path; the command line is kept
/// as given.
#[test]
fn runs_warmup_and_exports() {
    let args = [
        "--runs",
        "5",
        "--warmup",
        "0",
        "--json",
        "-",
        "--csv",
        "runs.csv",
        "--export-markdown",
        "t.md",
        "--html",
        "page.html",
        "-l",
        "4",
    ];
    let options = parse(&args).expect("valid");
    assert_eq!((options.runs, options.warmup), (5, 0));
    let sweep = options.sweep.clone().expect("a short sweep");
    assert_eq!((sweep.runs, sweep.warmup), (5, 0));
    assert_eq!(options.json, Some(Destination::Stdout));
    assert_eq!(options.csv, Some(Destination::File("runs.csv".into())));
    assert!(options.data_on_stdout());
    assert_eq!(options.markdown, Some(PathBuf::from("t.md")));
    assert_eq!(options.html, Some(PathBuf::from("page.html")));
    let mut command = vec!["flags-compare"];
    command.extend(args);
    assert_eq!(options.command, command);

    let options = parse(&["--sweep", "--runs", "2", "--csv", "-"]).expect("valid");
    let sweep = options.sweep.clone().expect("a sweep");
    assert_eq!((sweep.runs, sweep.warmup), (2, 0));
    assert_eq!(options.csv, Some(Destination::Stdout));
    assert!(options.data_on_stdout());
}

/// `--json -` and `--csv -` cannot share stdout: a usage error, with exit
/// status 2, that says why; from the binary too, before anything runs.
#[test]
fn json_and_csv_cannot_both_be_stdout() {
    let error = parse(&["--json", "-", "--csv", "-"]).expect_err("refused");
    assert_eq!(error.exit_code(), 2);
    assert!(
        error.to_string().contains("cannot both write to stdout"),
        "{error}"
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_flags-compare"))
        .args(["--json", "-", "--csv", "-"])
        .output()
        .expect("flags-compare runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot both write to stdout"), "{stderr}");
    assert!(!stderr.contains("running"), "{stderr}");
}

/// `--sweep` alone: all 676 codes of `-e`, 20 ms, m = 1, 3, 10, 30, 100,
/// 300, 676, the concurrent models, the chart in --out or
/// flags-compare-sweep.svg; `-e`, `-a`, `-l`, `--models`, `--delay` and
/// `--sweep-m` change it.
#[test]
fn sweep_options() {
    let options = parse(&["--sweep"]).expect("valid");
    assert!(options.sweep_only);
    let sweep = options.sweep.expect("a sweep");
    assert_eq!(sweep.country_codes.len(), 676);
    assert_eq!(sweep.country_codes[..2], ["AA", "AB"]);
    assert_eq!(sweep.delay, Duration::from_millis(20));
    assert_eq!(sweep.max_reqs, [1, 3, 10, 30, 100, 300, 676]);
    assert_eq!(
        sweep_names(&sweep),
        ["threadpool", "rayon", "threads", "async", "process"]
    );
    assert_eq!(sweep.out, PathBuf::from("flags-compare-sweep.svg"));

    let sweep = parse(&[
        "--sweep",
        "-l",
        "8",
        "--sweep-m",
        "1,4",
        "--delay",
        "0.02",
        "--out",
        "o.svg",
    ])
    .expect("valid")
    .sweep
    .expect("a sweep");
    assert_eq!(
        sweep.country_codes,
        ["AA", "AB", "AC", "AD", "AE", "AF", "AG", "AH"]
    );
    assert_eq!(sweep.max_reqs, [1, 4]);
    assert_eq!(sweep.out, PathBuf::from("o.svg"));

    let sweep = parse(&["--sweep", "-a", "--models", "threadpool-reqwest,async"])
        .expect("valid")
        .sweep
        .expect("a sweep");
    assert_eq!(sweep.country_codes.len(), 194);
    assert_eq!(sweep_names(&sweep), ["threadpool-reqwest", "async"]);
    assert_eq!(
        parse(&["--sweep", "-e", "-l", "3"])
            .expect("valid")
            .sweep
            .expect("a sweep")
            .country_codes,
        ["AA", "AB", "AC"]
    );
    assert_eq!(parse(&["-e"]).expect("valid").country_codes.len(), 676);
}

/// The reqwest::blocking row runs only when named, and is named like the
/// others (any case, in the order given).
#[test]
fn reqwest_row_only_when_named() {
    assert!(!names(&parse(&[]).expect("defaults")).contains(&"threadpool-reqwest"));
    let options = parse(&["--models", "Threadpool-Reqwest,threadpool"]).expect("named");
    assert_eq!(names(&options), ["threadpool-reqwest", "threadpool"]);
    assert_eq!(options.models[0].label, "threadpool (reqwest::blocking)");
}

/// `-a` takes all 194; `-l` cuts the `-a` list; codes and letters expand as
/// in the models, sorted and without duplicates.
#[test]
fn code_selection() {
    assert_eq!(parse(&["-a"]).expect("-a").country_codes.len(), 194);
    assert_eq!(
        parse(&["--all", "-l", "100"])
            .expect("-a -l")
            .country_codes
            .len(),
        100
    );
    assert_eq!(
        parse(&["-l", "5"]).expect("-l").country_codes,
        ["AD", "AE", "AF", "AG", "AL"]
    );
    assert_eq!(
        parse(&["jp", "BR", "br"]).expect("codes").country_codes,
        ["BR", "JP"]
    );
    assert_eq!(
        parse(&["b", "-l", "3"]).expect("letter").country_codes,
        ["BA", "BB", "BC"]
    );
}

/// The other options: delay, `-m`, the models in the order given and
/// without repeats, the output path and curl.
#[test]
fn other_options() {
    let options = parse(&[
        "--delay",
        "0.25",
        "-m",
        "3",
        "--models",
        "async,SEQ,async",
        "--out",
        "x/y.svg",
        "--peer-curl",
    ])
    .expect("all valid");
    assert_eq!(options.delay, Duration::from_millis(250));
    assert_eq!(options.max_req, 3);
    assert_eq!(names(&options), ["async", "seq"]);
    assert_eq!(options.out, PathBuf::from("x/y.svg"));
    assert!(options.peer_curl);
    assert_eq!(
        parse(&["--delay", "0"]).expect("no delay").delay,
        Duration::ZERO
    );
    assert_eq!(
        parse(&["--models", "process"]).expect("one").models.len(),
        1
    );
}

/// Every bad argument is a usage error with exit status 2.
#[test]
fn bad_arguments_are_usage_errors() {
    for bad in [
        &["-m", "0"][..],
        &["-m", "1001"],
        &["-m", "many"],
        &["-l", "0"],
        &["--delay", "-1"],
        &["--delay", "abc"],
        &["--delay", "61"],
        &["--delay", "NaN"],
        &["--models", "goroutines"],
        &["--models", "seq,"],
        &["B1"],
        &["ABC"],
        &["--no-such-option"],
        &["--sweep", "-m", "3"],
        &["--sweep", "--no-sweep"],
        &["--sweep-m", "0"],
        &["--sweep-m", "1,1001"],
        &["--sweep-m", "1,x"],
        &["--no-sweep", "--sweep-m", "1,2"],
        &["--runs", "0"],
        &["--runs", "x"],
        &["--warmup", "-1"],
        &["--warmup", "101"],
        &["--json", "-", "--csv", "-"],
        &["--results", "out", "--sweep"],
        &["--results", "out", "-l", "3"],
        &["--results"],
    ] {
        match parse(bad) {
            Ok(options) => panic!("{bad:?} was accepted: {options:?}"),
            Err(error) => assert_eq!(error.exit_code(), 2, "{bad:?}: {error}"),
        }
    }
}

/// `--help` is not an error: exit status 0, and it names the options.
#[test]
fn help_exits_zero() {
    let error = parse(&["--help"]).expect_err("help is returned as an error value");
    assert_eq!(error.exit_code(), 0);
    let help = error.to_string();
    for option in [
        "--delay",
        "--max-req",
        "--models",
        "--out",
        "--peer-curl",
        "--all",
        "--every",
        "--limit",
        "--sweep",
        "--sweep-m",
        "--sweep-out",
        "--no-sweep",
        "--json",
        "--csv",
        "--runs",
        "--warmup",
        "--export-markdown",
        "--html",
        "--results",
    ] {
        assert!(help.contains(option), "{option} missing from:\n{help}");
    }
}

/// What the parent writes for a child, the child reads back: the model and
/// every field of the job.
#[test]
fn child_arguments_round_trip() {
    for variant in every_variant() {
        let job = DownloadJob {
            timeout: Duration::from_millis(3_250),
            ..DownloadJob::new(
                vec!["BR".to_string(), "CN".to_string()],
                "http://127.0.0.1:9/flags",
                "/tmp/some dir/dest",
            )
            .with_max_req(7)
        };
        let args = child_args(variant, &job);
        let (parsed_variant, parsed_job) = parse_child_args(&args).expect("parses back");
        assert_eq!(parsed_variant, variant);
        assert_eq!(parsed_job, job);
    }
}

/// A mangled child command line is refused, not guessed at.
#[test]
fn bad_child_arguments_are_refused() {
    let seq = variant_by_name("seq").expect("seq exists");
    let job = DownloadJob::new(vec!["BR".to_string()], "http://127.0.0.1:9/flags", "/tmp/x");
    let good = child_args(seq, &job);
    let mangle = |index: usize, value: &str| {
        let mut args = good.clone();
        args[index] = OsString::from(value);
        args
    };
    assert!(parse_child_args(&good).is_ok());
    for bad in [
        mangle(0, "--walk-model"),
        mangle(1, "goroutines"),
        mangle(2, "--bogus"),
        mangle(7, "seven"),
        mangle(9, "-1"),
        good[..5].to_vec(),
    ] {
        assert!(parse_child_args(&bad).is_err(), "{bad:?} was accepted");
    }
}

/// The binary itself: a usage error exits with 2 and prints the usage on
/// stderr, before anything runs; `--help` exits with 0.
#[test]
fn binary_usage_errors_exit_2() {
    let program = env!("CARGO_BIN_EXE_flags-compare");
    let output = std::process::Command::new(program)
        .args(["-m", "0"])
        .output()
        .expect("flags-compare runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Usage:"), "{stderr}");
    assert!(output.stdout.is_empty());

    let output = std::process::Command::new(program)
        .args(["--out", "/no/such/folder/chart.svg"])
        .output()
        .expect("flags-compare runs");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "flags-compare: --out /no/such/folder/chart.svg: the folder /no/such/folder does not exist\n"
    );
    assert!(output.stdout.is_empty());

    let output = std::process::Command::new(program)
        .arg("--help")
        .output()
        .expect("flags-compare runs");
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("--peer-curl"));
}

/// Ctrl-C (SIGINT to flags-compare alone here) lets the running model
/// finish, runs no other, drops the cut-short row, writes what it has (a
/// chart with no timeline) and exits with 130.
#[cfg(unix)]
#[test]
fn interrupt_stops_after_the_running_model() {
    use std::io::{BufRead, BufReader, Read};

    let scratch = tempfile::tempdir().expect("a temporary folder");
    let out = scratch.path().join("chart.svg");
    // seq takes at least 4 x 0.5 s: the signal arrives while it runs.
    let mut child = KillOnDrop(
        std::process::Command::new(env!("CARGO_BIN_EXE_flags-compare"))
            .args([
                "-l",
                "4",
                "--delay",
                "0.5",
                "--models",
                "seq,async",
                "--runs",
                "2",
                "--warmup",
                "0",
                "--out",
            ])
            .arg(&out)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("flags-compare runs"),
    );
    // Wait until the first model has started (the Ctrl-C handler is
    // installed before that), then interrupt.
    let mut stderr = BufReader::new(child.0.stderr.take().expect("stderr"));
    let mut seen = String::new();
    while !seen.contains("seq (run 1 of 2): running") {
        let read = stderr.read_line(&mut seen).expect("stderr");
        assert_ne!(read, 0, "flags-compare ended before seq ran:\n{seen}");
    }
    let pid = libc::pid_t::try_from(child.0.id()).expect("a pid");
    // SAFETY: kill only sends a signal; `pid` is our own running child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    stderr.read_to_string(&mut seen).expect("stderr");
    let status = child.0.wait().expect("flags-compare ends");
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(
        seen.contains("Interrupted: the table shows only the rows that finished."),
        "{seen}"
    );
    assert!(!seen.contains("async (run"), "{seen}");
    let mut stdout = String::new();
    child
        .0
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("stdout");
    assert!(
        stdout.ends_with(&format!("\nChart: {}\n", out.display())),
        "{stdout}"
    );
    let svg = std::fs::read_to_string(&out).expect("the chart is written");
    let chart = common::parse_svg(&svg).expect("well-formed");
    assert_eq!(chart.timeline_count(), 0, "{svg}");
    assert!(chart.has_text_starting("No model finished"), "{svg}");
}
