//! The `flags-process` binary from outside: its report, its default `-m`,
//! Ctrl-C, and what it does when started as a worker by mistake.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use flags_core::save::TEMP_PREFIX;
use flags_server::{Delay, FlagServer, ServerConfig};

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

/// The number on the report line that ends with `suffix`, like
/// `flags downloaded.`
fn report_count(stdout: &str, suffixes: &[&str]) -> Option<usize> {
    stdout
        .lines()
        .find(|line| suffixes.iter().any(|suffix| line.ends_with(suffix)))
        .and_then(|line| line.split_whitespace().next()?.parse().ok())
}

fn files_in(dest: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dest)
        .expect("the folder exists")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
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
    assert_eq!(files_in(dest.path()), ["BR.gif", "CN.gif", "JP.gif"]);
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
    assert_eq!(report_count(&stdout, &["flags downloaded."]), Some(194));
    common::assert_no_children();
}

/// Ctrl-C (SIGINT to the whole process group, as a terminal sends it):
/// the run stops early, the report covers what finished, the exit status is
/// 130, no temporary file is left, and no worker survives.
#[test]
fn ctrl_c_stops_cleanly_and_leaves_no_worker() {
    let _serial = common::serial();
    let config = ServerConfig {
        delay: Delay::Fixed(Duration::from_millis(400)),
        ..ServerConfig::default()
    };
    let server = FlagServer::start(config).expect("the test server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let dest_arg = dest.path().to_string_lossy().into_owned();
    let child = Command::new(BIN)
        .args(["-s", &server.base_url(), "-a", "-m", "4", "-d", &dest_arg])
        // Its own process group, as a shell gives a foreground job: the
        // group is the binary and its workers.
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let pgid = i32::try_from(child.id()).expect("a pid");
    // Wait until the second wave of requests is under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.stats().requests < 6 {
        assert!(Instant::now() < deadline, "the run never got going");
        std::thread::sleep(Duration::from_millis(10));
    }
    let workers = common::processes_in_group(pgid).len();
    assert_eq!(workers, 5, "the binary and its 4 workers");
    // Ctrl-C: SIGINT to every process of the group.
    common::send_signal(-pgid, libc::SIGINT);
    let output = child.wait_with_output().expect("the binary ends");
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(130),
        "{stdout}{}",
        text(&output.stderr)
    );
    let downloaded = report_count(&stdout, &["flags downloaded.", "flag downloaded."]);
    let saved: Vec<String> = files_in(dest.path());
    assert!(
        saved.iter().all(|name| !name.starts_with(TEMP_PREFIX)),
        "{saved:?}"
    );
    assert_eq!(downloaded, Some(saved.len()), "{stdout}");
    assert!((4..194).contains(&saved.len()), "{stdout}");
    assert!(stdout.contains("Elapsed time: "), "{stdout}");
    assert_eq!(common::processes_in_group(pgid), []);
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

fn model() -> flags_server::contract::ModelBinary<'static> {
    flags_server::contract::ModelBinary {
        program: Path::new(env!("CARGO_BIN_EXE_flags-process")),
        extra_args: &[],
    }
}

/// The shared Ctrl-C check every model binary passes.
#[test]
fn shared_interrupt_check_passes() {
    let _serial = common::serial();
    assert_eq!(flags_server::contract::check_interrupt(&model()), Ok(()));
    common::assert_no_children();
}

/// Writes that fail (a file-size limit, inherited by the workers) are
/// counted per flag and leave no partial or temporary file.
#[test]
fn write_failures_are_counted() {
    let _serial = common::serial();
    assert_eq!(
        flags_server::contract::check_write_failure(&model()),
        Ok(())
    );
    common::assert_no_children();
}
