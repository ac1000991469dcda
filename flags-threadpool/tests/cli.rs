//! The `flags-threadpool` binary, run as a child process against the
//! in-process flag server: output, exit statuses, `--executor`, Ctrl-C.

use std::path::Path;
use std::process::{Command, Output};

use flags_server::{Fault, FlagServer, ServerConfig};
use flags_testkit::contract::check_saved_files;
use flags_testkit::report::without_elapsed;

const EXECUTORS: [&str; 3] = ["std", "rayon", "threads"];

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flags-threadpool"))
}

fn run(arguments: &[&str]) -> Output {
    binary().args(arguments).output().unwrap()
}

/// The lines of stdout without the last one (the elapsed time varies).
fn stdout_without_time(output: &Output) -> Vec<String> {
    let text = String::from_utf8_lossy(&output.stdout);
    let report = without_elapsed(&text).unwrap_or_else(|| panic!("no elapsed time: {text}"));
    report.lines().map(str::to_string).collect()
}

/// `-a` with the default `-m`: the report the contract shows, 30
/// connections, all 194 flags saved, exit 0, with each executor.
#[test]
fn all_flags_report_with_each_executor() {
    let server = FlagServer::start(ServerConfig::default()).unwrap();
    for executor in EXECUTORS {
        let dest = tempfile::tempdir().unwrap();
        let url = server.base_url();
        let output = run(&[
            "-a",
            "-s",
            &url,
            "-d",
            dest.path().to_str().unwrap(),
            "--executor",
            executor,
        ]);
        assert_eq!(output.status.code(), Some(0), "{executor}: {output:?}");
        assert_eq!(
            stdout_without_time(&output),
            [
                format!("URL site: {url}"),
                "Searching for 194 flags: from AD to ZW".to_string(),
                "30 concurrent connections will be used.".to_string(),
                "-".repeat(20),
                "194 flags downloaded.".to_string(),
            ],
            "{executor}"
        );
        let all = flags_core::countries::all_cc();
        assert_eq!(check_saved_files(executor, dest.path(), &all), Ok(()));
    }
}

/// `-v` prints one line per code as it finishes; a 418 is an error line,
/// counted, and makes the exit status 1; a 404 is "not found".
#[test]
fn verbose_lines_and_exit_status_one_on_error() {
    for executor in EXECUTORS {
        let mut config = ServerConfig::default();
        config
            .scripted
            .insert("cn".into(), vec![Fault::Status(418)]);
        let server = FlagServer::start(config).unwrap();
        let dest = tempfile::tempdir().unwrap();
        let url = server.base_url();
        let arguments = [
            "-v",
            "-s",
            &url,
            "-d",
            dest.path().to_str().unwrap(),
            "--executor",
            executor,
        ];
        let output = binary()
            .args(arguments)
            .args(["BR", "CN", "ZZ"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{executor}: {output:?}");
        let lines = stdout_without_time(&output);
        assert_eq!(
            lines[..3],
            [
                format!("URL site: {url}"),
                "Searching for 3 flags: BR, CN, ZZ".to_string(),
                "3 concurrent connections will be used.".to_string(),
            ]
        );
        // The `-v` lines come in finishing order: compare them sorted.
        let mut progress: Vec<&str> = lines[3..6].iter().map(String::as_str).collect();
        progress.sort_unstable();
        assert_eq!(
            progress,
            ["BR OK", "CN error: HTTP 418 I'm a teapot", "ZZ not found"],
            "{executor}"
        );
        assert_eq!(
            lines[6..],
            [
                "-".repeat(20),
                "  1 flag downloaded.".to_string(),
                "  1 not found.".to_string(),
                "  1 error.".to_string(),
            ]
        );
        assert_eq!(check_saved_files(executor, dest.path(), &["BR"]), Ok(()));
    }
}

/// An unknown `--executor` is a usage error: exit 2, the message and the
/// usage on stderr, nothing downloaded.
#[test]
fn unknown_executor_is_a_usage_error() {
    let output = run(&["--executor", "tokio", "BR"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tokio") && stderr.contains("Usage:"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

/// Ctrl-C mid-run and failing writes, for every executor and both
/// clients: the checks every model binary passes.
#[test]
fn binary_keeps_the_contract() {
    let variants: [&[&str]; 4] = [
        &["--executor", "std"],
        &["--executor", "rayon"],
        &["--executor", "threads"],
        &["--client", "reqwest"],
    ];
    for executor in variants {
        let model = flags_testkit::contract::ModelBinary {
            program: Path::new(env!("CARGO_BIN_EXE_flags-threadpool")),
            extra_args: executor,
        };
        assert_eq!(
            flags_testkit::contract::check_binary(&model),
            Ok(()),
            "{executor:?}"
        );
    }
}
