//! The `flags-process` binary from outside: its report, its default `-m`,
//! Ctrl-C and failing writes, and what it does when started as a worker by mistake.

mod common;

use std::process::{Command, Output};

use flags_server::{FlagServer, ServerConfig};
use flags_testkit::report::{file_names, parse_final_report};

const BIN: &str = env!("CARGO_BIN_EXE_flags-process");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A run prints the contract's report, one line per code with `-v`, saves
/// the flags, and exits 0 (a 404 is not an error).
#[test]
fn binary_downloads_and_reports() {
    let _serial = common::serial();
    let server = FlagServer::start(ServerConfig::default()).expect("the test server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let dest_arg = dest.path().to_string_lossy().into_owned();
    let url = server.base_url();
    let output = run(&[
        "-s", &url, "-m", "3", "-v", "-d", &dest_arg, "br", "CN", "JP", "ZZ",
    ]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], format!("URL site: {url}"));
    assert_eq!(lines[1], "Searching for 4 flags: BR, CN, JP, ZZ");
    assert_eq!(lines[2], "3 concurrent connections will be used.");
    let mut verbose: Vec<&str> = lines[3..7].to_vec();
    verbose.sort();
    assert_eq!(verbose, ["BR OK", "CN OK", "JP OK", "ZZ not found"]);
    assert_eq!(lines[7], "--------------------");
    assert_eq!(lines[8], "  3 flags downloaded.");
    assert_eq!(lines[9], "  1 not found.");
    assert!(lines[10].starts_with("Elapsed time: "), "{stdout}");
    assert_eq!(
        file_names(dest.path()).expect("the folder can be listed"),
        ["BR.gif", "CN.gif", "JP.gif"]
    );
    common::assert_no_children();
}

/// Without `-m`, one worker per CPU (capped by the number of codes).
#[test]
fn default_max_req_is_the_number_of_cpus() {
    let _serial = common::serial();
    let server = FlagServer::start(ServerConfig::default()).expect("the test server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let dest_arg = dest.path().to_string_lossy().into_owned();
    let output = run(&["-s", &server.base_url(), "-a", "-d", &dest_arg]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    let cpus = std::thread::available_parallelism().map_or(1, |count| count.get());
    let expected = match cpus.min(flags_process::MAX_MAX_REQ) {
        1 => "1 connection will be used.".to_string(),
        workers => format!("{workers} concurrent connections will be used."),
    };
    assert!(stdout.lines().any(|line| line == expected), "{stdout}");
    let counter = parse_final_report(&stdout).expect("a final report");
    assert_eq!((counter.ok, counter.not_found, counter.error), (194, 0, 0));
    common::assert_no_children();
}

/// A program started as a worker of another protocol that runs the
/// command line instead refuses to start a pool of its own (no chain of
/// workers starting workers) and says why.
#[test]
fn a_worker_never_starts_a_pool() {
    let _serial = common::serial();
    let server = FlagServer::start(ServerConfig::default()).expect("the test server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let dest_arg = dest.path().to_string_lossy().into_owned();
    let output = Command::new(BIN)
        .args(["-s", &server.base_url(), "-d", &dest_arg, "BR"])
        .env(flags_process::pool::WORKER_ENV, "some-other-protocol")
        .output()
        .expect("the binary runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("worker_main_if_requested()"), "{stderr}");
    assert_eq!(server.stats().requests, 0);
    common::assert_no_children();
}

/// Ctrl-C mid-run (SIGINT to the whole process group: workers included)
/// and failing writes (the limit is inherited by the workers, which save):
/// the checks every model binary passes, and no worker left behind.
#[test]
fn binary_keeps_the_contract() {
    let _serial = common::serial();
    assert_eq!(
        flags_testkit::contract::check_binary(&common::model_binary()),
        Ok(())
    );
    common::assert_no_children();
}
