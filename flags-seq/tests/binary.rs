//! The `flags-seq` binary as a user sees it: output, exit codes, errors.

use std::process::{Command, Output};

use flags_server::{Fault, FlagServer, ServerConfig};
use flags_testkit::contract::check_saved_files;
use flags_testkit::net::closed_port;

fn flags_seq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flags-seq"))
        .args(args)
        .output()
        .expect("the flags-seq binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The report, line by line as the contract shows it, with `-v` lines for
/// each outcome; exit 1 because one code ended in error.
#[test]
fn verbose_run_prints_contract_lines() {
    let mut config = ServerConfig::default();
    config
        .scripted
        .insert("ar".into(), vec![Fault::Status(418)]);
    let server = FlagServer::start(config).expect("server starts");
    let dest = tempfile::tempdir().expect("temp dir");
    let base_url = server.base_url();
    let output = flags_seq(&[
        "-v",
        "-s",
        &base_url,
        "-d",
        dest.path().to_str().expect("utf-8 path"),
        "br",
        "zz",
        "AR",
    ]);
    let stdout = text(&output.stdout);
    let expected_head = format!(
        "URL site: {base_url}\n\
         Searching for 3 flags: AR, BR, ZZ\n\
         1 connection will be used.\n\
         AR error: HTTP 418 I'm a teapot\n\
         BR OK\n\
         ZZ not found\n\
         --------------------\n  1 flag downloaded.\n  1 not found.\n  1 error.\n\
         Elapsed time: "
    );
    assert!(stdout.starts_with(&expected_head), "stdout was:\n{stdout}");
    assert!(stdout.ends_with("s\n"), "stdout was:\n{stdout}");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(check_saved_files("-v", dest.path(), &["BR"]), Ok(()));
}

/// Not found is not an error: exit 0.
#[test]
fn not_found_only_exits_zero() {
    let server = FlagServer::start(ServerConfig::default()).expect("server starts");
    let dest = tempfile::tempdir().expect("temp dir");
    let output = flags_seq(&[
        "-s",
        &server.base_url(),
        "-d",
        dest.path().to_str().expect("utf-8 path"),
        "BR",
        "QQ",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("\n  1 flag downloaded.\n  1 not found.\nElapsed time: "),
        "{stdout}"
    );
    assert!(
        output.stderr.is_empty(),
        "no progress bar when stderr is not a terminal"
    );
}

/// A server that is not running: one clear line naming the URL and how to
/// start flags-server, exit 1, and not one line per flag.
#[test]
fn unreachable_server_is_one_clear_line() {
    let dest = tempfile::tempdir().expect("temp dir");
    let url = format!("http://127.0.0.1:{}/flags", closed_port());
    let output = flags_seq(&[
        "-a",
        "-v",
        "-s",
        &url,
        "-d",
        dest.path().to_str().expect("utf-8 path"),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "stderr was:\n{stderr}");
    assert!(
        stderr.contains(&url) && stderr.contains("flags-server"),
        "{stderr}"
    );
    assert!(
        !text(&output.stdout).contains(" error"),
        "no per-flag errors"
    );
}

/// Every usage error: a message and the usage on stderr, exit 2, and no
/// request made.
#[test]
fn usage_errors_exit_2_with_usage() {
    let dest = tempfile::tempdir().expect("temp dir");
    let file = dest.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let file = file.to_str().expect("utf-8 path");
    let rows: &[&[&str]] = &[
        &["B1"],
        &["-m", "0"],
        &["-m", "-1"],
        &["-l", "0"],
        &["-s", "NOWHERE"],
        &["-s", "http//bad"],
        &["--timeout", "0"],
        &["-d", file],
        &["-d", "/proc/version/flags"],
    ];
    for args in rows {
        let output = flags_seq(args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?} printed to stdout");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        if !args.contains(&"-d") {
            assert!(
                stderr.contains("Usage:"),
                "{args:?} without usage: {stderr}"
            );
        }
    }
}

/// A refused connection in the middle of a run is counted, not fatal.
#[test]
fn refused_connection_is_an_error_outcome() {
    let dest = tempfile::tempdir().expect("temp dir");
    let url = format!("http://127.0.0.1:{}/flags", closed_port());
    let job = flags_core::DownloadJob::new(vec!["BR".into(), "CN".into()], url, dest.path());
    let counter = flags_seq::download_many(&job).expect("the run starts");
    assert_eq!((counter.ok, counter.not_found, counter.error), (0, 0, 2));
    assert_eq!(
        std::fs::read_dir(dest.path()).expect("read dest").count(),
        0
    );
}

/// Ctrl-C mid-run (exit 130, a report for what finished, no partial file,
/// every started request counted) and failing writes (an error per flag,
/// no partial or temporary file): the checks every model binary passes.
#[test]
fn binary_keeps_the_contract() {
    let model = flags_testkit::contract::ModelBinary {
        program: std::path::Path::new(env!("CARGO_BIN_EXE_flags-seq")),
        extra_args: &[],
    };
    assert_eq!(flags_testkit::contract::check_binary(&model), Ok(()));
}
