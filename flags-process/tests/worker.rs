//! The worker loop, run in this process over in-memory input and output:
//! what a worker answers, and that it inherits `--timeout` and `--retries`
//! through the `JOB` line.

use std::io::Cursor;
use std::time::Duration;

use flags_core::DownloadJob;
use flags_process::protocol::{JobSettings, Request};
use flags_process::{WorkerError, WorkerFault, serve};
use flags_server::{Fault, FlagServer, ServerConfig, builtin_flag};

/// The input a parent would send: the job line, then one `GET` per code.
fn requests(job: &DownloadJob, codes: &[&str]) -> String {
    let mut input = Request::Job(JobSettings::from_job(job)).to_line() + "\n";
    for code in codes {
        input += &(Request::Get(code.to_string()).to_line() + "\n");
    }
    input
}

/// Serve `input` and return the worker's output lines.
fn serve_lines(input: &str, fault: &WorkerFault) -> (Result<(), WorkerError>, Vec<String>) {
    let mut output = Vec::new();
    let result = serve(Cursor::new(input.as_bytes()), &mut output, fault);
    let text = String::from_utf8(output).expect("the worker writes UTF-8");
    (result, text.lines().map(String::from).collect())
}

/// A worker greets first, answers each `GET` with one `DONE` line (with
/// the saved size), saves the flag itself, and returns at end of input.
#[test]
fn worker_greets_then_answers_each_code() {
    let server = FlagServer::start(ServerConfig::default()).expect("the test server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let job = DownloadJob::new(Vec::new(), server.base_url(), dest.path());
    let (result, lines) = serve_lines(&requests(&job, &["BR", "ZZ"]), &WorkerFault::None);
    assert!(result.is_ok(), "{result:?}");
    let br_bytes = builtin_flag("BR").expect("a built-in flag").len();
    assert_eq!(
        lines,
        [
            "HELLO flags-process 2".to_string(),
            format!("DONE BR OK {br_bytes}"),
            "DONE ZZ NOT_FOUND 0".to_string(),
        ]
    );
    let saved = std::fs::read(dest.path().join("BR.gif")).expect("BR.gif is saved");
    assert_eq!(saved, builtin_flag("BR").expect("a built-in flag"));
}

/// `--retries 3` reaches the worker: a flag that fails twice with 503 is
/// fetched three times and saved.
#[test]
fn worker_inherits_retries() {
    let mut config = ServerConfig::default();
    config.scripted.insert(
        "br".to_string(),
        vec![Fault::Status(503), Fault::Status(503)],
    );
    let server = FlagServer::start(config).expect("the test server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let mut job = DownloadJob::new(Vec::new(), server.base_url(), dest.path());
    job.retries = 3;
    let (result, lines) = serve_lines(&requests(&job, &["BR"]), &WorkerFault::None);
    assert!(result.is_ok(), "{result:?}");
    assert!(lines[1].starts_with("DONE BR OK "), "{lines:?}");
    assert_eq!(server.stats().requests, 3);
}

/// `--timeout` reaches the worker: with 0.2 s, a flag delayed 2 s is an
/// error that says it timed out.
#[test]
fn worker_inherits_timeout() {
    let mut config = ServerConfig::default();
    config
        .scripted
        .insert("cn".to_string(), vec![Fault::Delay(Duration::from_secs(2))]);
    let server = FlagServer::start(config).expect("the test server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let mut job = DownloadJob::new(Vec::new(), server.base_url(), dest.path());
    job.timeout = Duration::from_millis(200);
    let (result, lines) = serve_lines(&requests(&job, &["CN"]), &WorkerFault::None);
    assert!(result.is_ok(), "{result:?}");
    assert!(lines[1].starts_with("DONE CN ERROR 0 "), "{lines:?}");
    assert!(lines[1].contains("timed out"), "{lines:?}");
    assert!(!dest.path().join("CN.gif").exists());
}

/// A `GET` before the `JOB` line, or a line that is no request, stops the
/// worker with an error (the parent then sees it die).
#[test]
fn worker_refuses_bad_requests() {
    let (result, lines) = serve_lines("GET BR\n", &WorkerFault::None);
    assert!(matches!(result, Err(WorkerError::NoJob)), "{result:?}");
    assert_eq!(lines, ["HELLO flags-process 2"]);
    let (result, _) = serve_lines("PUT BR\n", &WorkerFault::None);
    assert!(
        matches!(result, Err(WorkerError::Protocol(_))),
        "{result:?}"
    );
}

/// The fault hooks do what the failure tests rely on: `garble` answers a
/// line with a bad status, `exit` stops before downloading.
#[test]
fn fault_hooks_misbehave_on_their_code_only() {
    let server = FlagServer::start(ServerConfig::default()).expect("the test server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let job = DownloadJob::new(Vec::new(), server.base_url(), dest.path());
    let input = requests(&job, &["BR", "JP"]);
    let (_, lines) = serve_lines(&input, &WorkerFault::Garble("JP".into()));
    assert!(lines[1].starts_with("DONE BR OK "), "{lines:?}");
    assert!(lines[2].starts_with("DONE JP MAYBE "), "{lines:?}");
    let (result, lines) = serve_lines(&input, &WorkerFault::Exit("JP".into()));
    assert!(matches!(result, Err(WorkerError::InjectedExit(ref code)) if code == "JP"));
    assert_eq!(lines.len(), 2);
}
