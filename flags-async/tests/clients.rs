//! The two clients of `--client` side by side, where the shared contract
//! checks cannot look: for every fault of the server, the hyper client says
//! what reqwest's says, in the same words (the report is the same whichever
//! client ran); both send a request again on a new connection when a
//! reused one is closed under it (`Fault::Hangup`); and the
//! hyper client's small read buffer still holds a long response head.

use std::collections::BTreeMap;
use std::time::Duration;

use flags_async::hyper_client::HyperTuning;
use flags_async::{
    AsyncOptions, ClientKind, HttpClient, HyperClient, download_many_async, http_client_of_kind,
};
use flags_core::{DownloadJob, FlagResult, StatusCounter};
use flags_server::{Fault, FlagServer, ServerConfig};

/// Each code with its fault, the same on every request of that code.
fn faults() -> Vec<(&'static str, Vec<Fault>)> {
    vec![
        ("AR", vec![Fault::Status(418)]),
        ("BD", vec![Fault::Status(503)]),
        ("CA", vec![Fault::Stall]),
        ("DE", vec![Fault::Drip]),
        ("EG", vec![Fault::Truncate]),
        ("FR", vec![Fault::Huge]),
        ("GH", vec![Fault::Drop]),
        ("IN", vec![Fault::HugeChunked]),
        ("JP", vec![Fault::Redirect; 100]),
        ("KE", vec![Fault::Html]),
        ("MX", vec![Fault::Gzip]),
        ("NG", vec![Fault::Redirect, Fault::Chunked]),
    ]
}

/// Run every faulted code plus a good and a missing one on `client`, and
/// return each code's outcome as one line: `OK`, `not found`, or the
/// error's message.
fn outcomes_on(client: ClientKind) -> BTreeMap<String, String> {
    let mut config = ServerConfig::default();
    for (code, faults) in faults() {
        config.scripted.insert(code.to_ascii_lowercase(), faults);
    }
    let server = FlagServer::start(config).expect("the server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let mut codes: Vec<String> = faults().iter().map(|(code, _)| code.to_string()).collect();
    codes.extend(["BR".to_string(), "ZZ".to_string()]);
    codes.sort();
    let mut job = DownloadJob::new(codes, server.base_url(), dest.path()).with_max_req(14);
    job.timeout = Duration::from_millis(800);
    let http = http_client_of_kind(&job, client).expect("a client");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let options = AsyncOptions {
        client,
        ..AsyncOptions::default()
    };
    let mut outcomes = BTreeMap::new();
    runtime.block_on(download_many_async(&job, http, &options, |outcome| {
        let line = match outcome.result {
            FlagResult::Ok { .. } => "OK".to_string(),
            FlagResult::NotFound => "not found".to_string(),
            FlagResult::Error { message } => message,
        };
        outcomes.insert(outcome.country_code, line);
    }));
    outcomes
}

/// Every outcome, code by code, is the same line on both clients, a
/// redirect loop's included, and those the contract fixes read as it says.
#[test]
fn both_clients_say_the_same() {
    let reqwest = outcomes_on(ClientKind::Reqwest);
    let hyper = outcomes_on(ClientKind::Hyper);

    assert_eq!(reqwest.len(), 14, "{reqwest:?}");
    assert_eq!(hyper, reqwest);
    let expected = [
        ("AR", "HTTP 418 I'm a teapot"),
        ("BR", "OK"),
        ("CA", "operation timed out"),
        ("FR", "body over the 10 MiB cap"),
        // reqwest's own line would be `error following redirect for url
        // (...?hop=11): too many redirects`.
        ("JP", "more than 10 redirects"),
        (
            "KE",
            "not a GIF image (Content-Type text/html; charset=utf-8)",
        ),
        ("MX", "Content-Encoding gzip was not asked for"),
        ("NG", "OK"),
        ("ZZ", "not found"),
    ];
    for (code, line) in expected {
        assert_eq!(hyper.get(code).map(String::as_str), Some(line), "{code}");
    }
}

/// `-m 1`, BR then CN: CN goes out on BR's kept-alive connection, which the
/// server closes without answering; the client sends CN again, once, on a
/// new connection, so both flags are saved and nothing is an error. On both
/// clients.
#[test]
fn a_request_on_a_closed_reused_connection_is_sent_again() {
    for download_many in [flags_async::download_many, flags_async::download_many_hyper] {
        // CN's first request is hung up on without a byte (`Fault::Hangup`);
        // its next one is answered.
        let mut config = ServerConfig::default();
        config
            .scripted
            .insert("cn".to_string(), vec![Fault::Hangup]);
        let server = FlagServer::start(config).expect("the test server starts");
        let dest = tempfile::tempdir().expect("a temporary folder");
        let mut job = DownloadJob::new(
            vec!["BR".into(), "CN".into()],
            server.base_url(),
            dest.path(),
        )
        .with_max_req(1);
        job.timeout = Duration::from_secs(10);

        let counter = download_many(&job).expect("the run starts");

        assert_eq!(
            counter,
            StatusCounter {
                ok: 2,
                ..StatusCounter::default()
            }
        );
        // The scenario happened: CN was hung up on once (on BR's kept-alive
        // connection, the only one a client at `-m 1` has), then sent again.
        let stats = server.stats();
        assert_eq!(stats.faults.get("hangup"), Some(&1));
        assert_eq!(stats.requests, 3);
    }
}

/// A flag server whose answers to BR and CN carry a head of about
/// `head_bytes` bytes (`Fault::LongHead`: one long `X-Padding` header), as
/// a server behind a few proxies and cookies may send.
fn long_head_server(head_bytes: usize) -> FlagServer {
    let mut config = ServerConfig::default();
    for code in ["br", "cn"] {
        config
            .scripted
            .insert(code.to_string(), vec![Fault::LongHead(head_bytes); 10]);
    }
    FlagServer::start(config).expect("the test server starts")
}

/// Run BR and CN on the hyper client with `tuning`, against `base_url`:
/// each code's outcome line.
fn hyper_outcomes(base_url: &str, tuning: HyperTuning) -> Vec<String> {
    let dest = tempfile::tempdir().expect("a temporary folder");
    let job =
        DownloadJob::new(vec!["BR".into(), "CN".into()], base_url, dest.path()).with_max_req(2);
    let client = HttpClient::from_hyper(HyperClient::with_tuning(&job, tuning).expect("a client"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut lines = Vec::new();
    let options = AsyncOptions {
        client: ClientKind::Hyper,
        ..AsyncOptions::default()
    };
    runtime.block_on(download_many_async(&job, client, &options, |outcome| {
        lines.push(match outcome.result {
            FlagResult::Ok { .. } => format!("{} OK", outcome.country_code),
            FlagResult::NotFound => format!("{} not found", outcome.country_code),
            FlagResult::Error { message } => format!("{} error: {message}", outcome.country_code),
        });
    }));
    lines.sort();
    lines
}

/// The price of a small exact read buffer: a response head must fit in
/// it. A 3 KB head fits the tuned 4 KiB buffer (and hyper's default one);
/// in a 1 KiB buffer it is an error for every code, in hyper's words.
#[test]
fn the_response_head_must_fit_the_read_buffer() {
    let server = long_head_server(3000);
    let base_url = server.base_url();

    assert_eq!(
        hyper_outcomes(&base_url, HyperTuning::TUNED),
        ["BR OK", "CN OK"]
    );
    assert_eq!(
        hyper_outcomes(&base_url, HyperTuning::HYPER_DEFAULTS),
        ["BR OK", "CN OK"]
    );
    let small = HyperTuning {
        read_buffer: Some(1024),
        ..HyperTuning::TUNED
    };
    assert_eq!(
        hyper_outcomes(&base_url, small),
        [
            "BR error: message head is too large",
            "CN error: message head is too large"
        ]
    );
}
