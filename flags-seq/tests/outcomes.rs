//! Each outcome of one download, and the message it carries.

use std::time::Duration;

use flags_core::{DownloadJob, DownloadStatus, FlagResult};
use flags_server::{Delay, Fault, FlagServer, ServerConfig};

fn one(fault: Option<Fault>, timeout: Duration) -> flags_core::FlagOutcome {
    let mut config = ServerConfig::default();
    if let Some(fault) = fault {
        config.scripted.insert("br".into(), vec![fault]);
    }
    let server = FlagServer::start(config).expect("server starts");
    let dest = tempfile::tempdir().expect("temp dir");
    let mut job = DownloadJob::new(vec!["BR".into()], server.base_url(), dest.path());
    job.timeout = timeout;
    let client = flags_seq::http_client(&job).expect("client");
    let outcome = flags_seq::download_one(&client, "BR", &job);
    let saved = dest.path().join("BR.gif");
    if let FlagResult::Ok { bytes } = outcome.result {
        let served = flags_server::builtin_flag("BR").expect("built in");
        assert_eq!(std::fs::read(&saved).expect("saved"), served);
        assert_eq!(bytes, served.len() as u64);
    } else {
        assert!(!saved.exists(), "no file for {outcome}");
    }
    assert_eq!(
        std::fs::read_dir(dest.path()).expect("read dest").count(),
        usize::from(saved.exists())
    );
    outcome
}

const TIMEOUT: Duration = Duration::from_millis(500);

/// 200: saved, byte-identical.
#[test]
fn ok_is_saved() {
    assert_eq!(one(None, TIMEOUT).to_string(), "BR OK");
}

/// 404 of a scripted status is "not found", like a missing flag.
#[test]
fn status_404_is_not_found() {
    assert_eq!(
        one(Some(Fault::Status(404)), TIMEOUT).to_string(),
        "BR not found"
    );
}

/// 418 and 500 are errors named by status and reason.
#[test]
fn other_statuses_are_errors() {
    assert_eq!(
        one(Some(Fault::Status(418)), TIMEOUT).to_string(),
        "BR error: HTTP 418 I'm a teapot"
    );
    assert_eq!(
        one(Some(Fault::Status(500)), TIMEOUT).to_string(),
        "BR error: HTTP 500 Internal Server Error"
    );
}

/// A server slower than --timeout is an error that says so.
#[test]
fn timeout_is_an_error() {
    let outcome = one(Some(Fault::Delay(TIMEOUT * 4)), TIMEOUT);
    assert_eq!(outcome.status(), DownloadStatus::Error);
    assert!(outcome.to_string().contains("timed out"), "{outcome}");
}

/// Fewer bytes than Content-Length, a connection dropped after the
/// headers, a body over the cap: errors, nothing saved.
#[test]
fn broken_bodies_are_errors() {
    for fault in [Fault::Truncate, Fault::Drop, Fault::Huge] {
        let outcome = one(Some(fault), Duration::from_secs(5));
        assert_eq!(
            outcome.status(),
            DownloadStatus::Error,
            "{fault:?}: {outcome}"
        );
    }
    let huge = one(Some(Fault::Huge), Duration::from_secs(5));
    assert!(huge.to_string().contains("cap"), "{huge}");
}

/// A server that answers slowly but within the timeout is fine.
#[test]
fn slow_but_in_time_is_ok() {
    let config = ServerConfig {
        delay: Delay::Fixed(Duration::from_millis(100)),
        ..ServerConfig::default()
    };
    let server = FlagServer::start(config).expect("server starts");
    let dest = tempfile::tempdir().expect("temp dir");
    let job = DownloadJob::new(
        vec!["BR".into(), "JP".into()],
        server.base_url(),
        dest.path(),
    );
    let counter = flags_seq::download_many(&job).expect("the run starts");
    assert_eq!(counter.ok, 2);
    assert_eq!(server.stats().peak_in_flight, 1, "one request at a time");
}

/// A response head longer than the client accepts is reported as such,
/// not as a connection that went away; one that fits is fine.
#[test]
fn an_oversize_head_is_named() {
    assert_eq!(
        one(Some(Fault::LongHead(20_000)), TIMEOUT).to_string(),
        "BR error: response head over 16 KiB"
    );
    assert_eq!(
        one(Some(Fault::LongHead(15_000)), TIMEOUT).to_string(),
        "BR OK"
    );
}

/// A body cut short says "body:" once, before what happened.
#[test]
fn a_broken_body_says_body_once() {
    for fault in [Fault::Truncate, Fault::Drop] {
        let outcome = one(Some(fault), Duration::from_secs(5)).to_string();
        assert!(outcome.starts_with("BR error: body: "), "{outcome}");
        assert_eq!(outcome.matches("body:").count(), 1, "{outcome}");
    }
}

/// The server's head over every client's limit, and a folded header line,
/// which ureq cannot be told to unfold (see the crate's README): errors
/// that name what is wrong with the head.
#[test]
fn heads_ureq_refuses_are_named() {
    assert_eq!(
        one(Some(Fault::HugeHead), TIMEOUT).to_string(),
        "BR error: response head over 16 KiB"
    );
    assert_eq!(
        one(Some(Fault::FoldedHead), TIMEOUT).to_string(),
        "BR error: protocol: http parse fail: invalid header name"
    );
}

/// 103 and 100 before the answer are skipped, even when the 200's head
/// and body fill the input buffer behind them in one read.
#[test]
fn interim_responses_are_skipped() {
    assert_eq!(
        one(Some(Fault::Informational), TIMEOUT).to_string(),
        "BR OK"
    );
}
