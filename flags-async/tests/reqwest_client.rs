//! The reqwest client's own rules, where the contract checks cannot look:
//! the addresses looked up once at the start answer for the server's host,
//! never for a port, so a URL lands on the port it names (or its scheme's
//! default); redirects follow the one rule of every client, in the same
//! words; every fault of the server reads as the contract says; a request
//! on a reused connection closed under it is sent again on a new one; a
//! 404's body is read so that its connection is reused, but not waited
//! for; a folded header is unfolded.
//!
//! The tests that need ports 80 and 443 run in a private network namespace
//! of their own, as root only (CI runs as root); elsewhere they say that
//! they were skipped.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{capture_one_request, in_private_network, tls_server_on};
use flags_async::{ASYNC, AsyncOptions, HttpClient, download_many, get_flag};
use flags_core::fetch::ClientOptions;
use flags_core::fetch::FetchError;
use flags_core::redirect;
use flags_core::{DownloadJob, FlagResult, Model, SetupError, StatusCounter};
use flags_server::{Fault, FlagServer, ServerConfig};

/// A job for `codes` from `base_url`, with a deadline that only guards
/// against a hang.
fn job(codes: &[&str], base_url: &str, dest: &std::path::Path) -> DownloadJob {
    let codes = codes.iter().map(|code| code.to_string()).collect();
    let mut job = DownloadJob::new(codes, base_url, dest);
    job.timeout = Duration::from_secs(10);
    job
}

/// Run `job` as the binary would, with the default options.
fn run(job: &DownloadJob) -> Result<StatusCounter, SetupError> {
    ASYNC.download_many(job, &AsyncOptions::default())
}

/// One GET of `country_code`'s flag from `base_url`, on the reqwest client
/// built for `job` (whose base URL may be another one).
fn fetch_on(job: &DownloadJob, base_url: &str, country_code: &str) -> Result<Vec<u8>, FetchError> {
    let client = HttpClient::new(job).expect("a client");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(get_flag(&client, base_url, country_code))
}

/// `localhost`'s addresses are handed over with port 0, whether the base
/// URL writes its port or leaves it to the scheme: they answer for the
/// host, and the client takes the port of each URL it connects to.
#[test]
fn the_known_addresses_have_no_port() {
    for base_url in [
        "http://localhost/flags",
        "https://localhost/flags",
        "http://localhost:8001/flags",
    ] {
        let options = ClientOptions::for_job(&job(&["BR"], base_url, std::path::Path::new(".")))
            .expect("options");
        let (host, addresses) = options
            .known_addresses
            .unwrap_or_else(|| panic!("{base_url}: localhost looked up"));
        assert_eq!(host, "localhost", "{base_url}");
        assert!(!addresses.is_empty(), "{base_url}");
        assert!(
            addresses.iter().all(|address| address.port() == 0),
            "{base_url}: {addresses:?}"
        );
    }
}

/// A client built for `http://localhost:PORT/flags` asked for
/// `http://localhost/flags/...` (the port left to the scheme: 80) does not
/// take it to PORT, where the base URL's server listens: that server sees
/// no request. (With the base URL's port kept in the looked-up addresses,
/// reqwest sent it there, and the flag came from the wrong server.) Asked
/// for another port of the same host, it goes to that port.
#[test]
fn a_url_lands_on_its_own_port() {
    let base_server = FlagServer::start(ServerConfig::default()).expect("a server");
    let other_server = FlagServer::start(ServerConfig::default()).expect("a server");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let base_url = format!("http://localhost:{}/flags", base_server.addr().port());
    let job = job(&["BR"], &base_url, dest.path());

    // Port 80: refused on a machine where nothing listens there, or
    // answered by whatever does; never by the base URL's server.
    let _ = fetch_on(&job, "http://localhost/flags", "BR");
    let other_url = format!("http://localhost:{}/flags", other_server.addr().port());
    let flag = fetch_on(&job, &other_url, "BR");

    assert!(flag.is_ok(), "{flag:?}");
    assert_eq!(base_server.stats().requests, 0);
    assert_eq!(other_server.stats().requests, 1);
}

/// `-m 1`, BR, then XA (no such flag: a 404 with a short page), then ZA:
/// the 404's page is read, so its connection goes back to the pool, and
/// all three requests go over one connection.
#[test]
fn a_404_keeps_its_connection() {
    let server = FlagServer::start(ServerConfig::default()).expect("a server");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let job = job(&["BR", "XA", "ZA"], &server.base_url(), dest.path());

    let counter = run(&job).expect("the run starts");

    assert_eq!(
        counter,
        StatusCounter {
            ok: 2,
            not_found: 1,
            error: 0
        }
    );
    let stats = server.stats();
    assert_eq!((stats.requests, stats.connections), (3, 1));
}

/// A server that redirects BR to `http://localhost/...` and CN to
/// `https://localhost/...`, ports left to the scheme (80 and 443), and
/// nothing listening there: the redirecting server sees the two redirects
/// and nothing more. (With the base URL's port kept in the looked-up
/// addresses, both redirects came back to it, and BR's flag was saved from
/// it.)
#[test]
fn a_redirect_to_a_default_port_leaves_the_base_port() {
    let server = FlagServer::start(redirecting_to_default_ports()).expect("a server");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let base_url = format!("http://localhost:{}/flags", server.addr().port());
    let job = job(&["BR", "CN"], &base_url, dest.path()).with_max_req(2);

    // Refused on a machine where nothing listens on 80 and 443; answered
    // by whatever does. Never by this server.
    let _ = run(&job);

    assert_eq!(server.stats().requests, 2);
}

/// What the redirecting server of the tests does: BR to port 80, CN to
/// https on 443, and DE to port 80 too.
fn redirecting_to_default_ports() -> ServerConfig {
    let mut config = ServerConfig::default();
    for (code, fault) in [
        ("br", Fault::RedirectToDefaultPort),
        ("cn", Fault::RedirectToHttps),
        ("de", Fault::RedirectToDefaultPort),
    ] {
        config.scripted.insert(code.to_string(), vec![fault]);
    }
    config
}

/// The issue's case, end to end, in a network namespace where ports 80
/// and 443 are free: `-s http://localhost:PORT/flags`, BR redirected to
/// `http://localhost/...` and CN to `https://localhost/...`. Each flag is
/// saved from the server on the port its redirect names, as the three
/// servers' counts show.
#[test]
fn a_redirect_lands_on_the_default_port_it_names() {
    in_private_network("a_redirect_lands_on_the_default_port_it_names", || {
        let redirecting = FlagServer::start(redirecting_to_default_ports()).expect("a server");
        let on_80 = FlagServer::start_on(([127, 0, 0, 1], 80).into(), ServerConfig::default())
            .expect("a server on port 80");
        let dest = tempfile::tempdir().expect("a temporary folder");
        let (on_443, ca_file) = tls_server_on(443, dest.path());
        let base_url = format!("http://localhost:{}/flags", redirecting.addr().port());
        let mut job = job(&["BR", "CN"], &base_url, &dest.path().join("flags"));
        std::fs::create_dir(&job.dest_dir).expect("a folder for the flags");
        job.ca_cert = Some(ca_file);

        let counter = run(&job).expect("the run starts");

        assert_eq!(
            counter,
            StatusCounter {
                ok: 2,
                ..StatusCounter::default()
            }
        );
        let requests = |server: &FlagServer| server.stats().requests;
        assert_eq!(
            (requests(&redirecting), requests(&on_80), requests(&on_443)),
            (2, 1, 1)
        );
        assert!(job.dest_dir.join("BR.gif").is_file() && job.dest_dir.join("CN.gif").is_file());
    });
}

/// Credentials in `-s` go to the server they were given for only: DE's
/// redirect to port 80 of the same host is another origin, and the request
/// it gets carries no `Authorization`, and no `Referer` either. (Port 80
/// is held by a listener that notes the request and answers 404.)
#[test]
fn a_redirect_elsewhere_carries_no_credentials_and_no_referer() {
    in_private_network(
        "a_redirect_elsewhere_carries_no_credentials_and_no_referer",
        || {
            let redirecting = FlagServer::start(redirecting_to_default_ports()).expect("a server");
            let captured = capture_one_request(80);
            let dest = tempfile::tempdir().expect("a temporary folder");
            let base_url = format!(
                "http://flagger:secret@localhost:{}/flags",
                redirecting.addr().port()
            );
            let job = job(&["DE"], &base_url, dest.path());

            let counter = run(&job).expect("the run starts");

            assert_eq!(
                counter,
                StatusCounter {
                    not_found: 1,
                    ..StatusCounter::default()
                }
            );
            let head = captured.join().expect("the request was captured");
            assert!(
                head.starts_with("GET /flags/de/de.gif?hop=1 HTTP/1.1\r\n"),
                "{head}"
            );
            let head = head.to_ascii_lowercase();
            assert!(!head.contains("\nauthorization:"), "{head}");
            assert!(!head.contains("\nreferer:"), "{head}");
        },
    );
}

/// Run `codes` against a server scripted with `faults` (one list per
/// lower-case code), at `-m 1`: each code's outcome line (`OK`, `not
/// found` or the error's message), and the server.
fn outcomes(
    codes: &[&str],
    faults: &[(&str, Vec<Fault>)],
) -> (BTreeMap<String, String>, FlagServer) {
    outcomes_with(codes, faults, |job| job)
}

/// [`outcomes`], with `adjust` applied to the job first.
fn outcomes_with(
    codes: &[&str],
    faults: &[(&str, Vec<Fault>)],
    adjust: impl FnOnce(DownloadJob) -> DownloadJob,
) -> (BTreeMap<String, String>, FlagServer) {
    let mut config = ServerConfig::default();
    for (code, faults) in faults {
        config.scripted.insert(code.to_string(), faults.clone());
    }
    let server = FlagServer::start(config).expect("a server");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let job = adjust(job(codes, &server.base_url(), dest.path()));
    let client = HttpClient::new(&job).expect("a client");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut lines = BTreeMap::new();
    runtime.block_on(download_many(
        &job,
        client,
        &AsyncOptions::default(),
        |outcome| {
            let line = match outcome.result {
                FlagResult::Ok { .. } => "OK".to_string(),
                FlagResult::NotFound => "not found".to_string(),
                FlagResult::Error { message } => message,
            };
            lines.insert(outcome.country_code, line);
        },
    ));
    (lines, server)
}

/// The redirect rule of every client, in the words of
/// `flags_core::redirect` (which the blocking client prints too): no
/// `file:` or `data:` target; 300 and 305 are answers, named by their
/// status; a raw space in a `Location` is escaped and followed; a
/// redirect's dripping text does not hold the request; a loop stops after
/// 10 redirects, the 11th request being the last one sent.
#[test]
fn redirects_follow_the_one_rule() {
    let (lines, server) = outcomes(
        &["BR", "CN", "DE", "FR", "GH", "IN", "JP"],
        &[
            ("br", vec![Fault::RedirectToFile]),
            ("cn", vec![Fault::RedirectToData]),
            ("de", vec![Fault::RedirectWith(300)]),
            ("fr", vec![Fault::RedirectWith(305)]),
            ("gh", vec![Fault::RedirectWithSpace]),
            ("in", vec![Fault::RedirectDrip]),
            ("jp", vec![Fault::Redirect; 100]),
        ],
    );

    let from = url::Url::parse("http://localhost/flags/br/br.gif").expect("a URL");
    let refused = |location| redirect::target(&from, location).unwrap_err().to_string();
    let expected = BTreeMap::from(
        [
            ("BR", refused("file:///etc/passwd")),
            ("CN", refused("data:image/gif;base64,R0lGODlh")),
            ("DE", "HTTP 300 Multiple Choices".to_string()),
            ("FR", "HTTP 305 Use Proxy".to_string()),
            ("GH", "OK".to_string()),
            ("IN", "OK".to_string()),
            ("JP", redirect::too_many().to_string()),
        ]
        .map(|(code, line)| (code.to_string(), line)),
    );
    assert_eq!(lines, expected);
    let faults = server.stats().faults;
    for fault in [
        "redirect_file",
        "redirect_data",
        "redirect_300",
        "redirect_305",
        "redirect_space",
        "redirect_drip",
    ] {
        assert_eq!(faults.get(fault), Some(&1), "{fault}");
    }
    assert_eq!(
        lines["BR"],
        "redirect to a file: URL, which is not followed"
    );
    let asked = |path: &str| {
        server
            .request_log()
            .iter()
            .filter(|record| record.path.starts_with(path))
            .count()
    };
    assert_eq!(asked("/flags/jp/"), 11);
    // Each followed once: the redirect, then the flag.
    assert_eq!((asked("/flags/gh/"), asked("/flags/in/")), (2, 2));
}

/// A 404 whose page drips (one byte every half second) is not waited for:
/// read for a moment at most, then dropped with its connection, so the
/// next code, at `-m 1`, goes out on a new one. Had the page been read to
/// its end, the connection would have been reused.
#[test]
fn a_dripping_404_is_dropped_with_its_connection() {
    let (lines, server) = outcomes(&["BR", "CN"], &[("br", vec![Fault::DripNotFound])]);

    assert_eq!(lines["BR"], "not found");
    assert_eq!(lines["CN"], "OK");
    let stats = server.stats();
    assert_eq!(stats.faults.get("drip_404"), Some(&1));
    assert_eq!((stats.requests, stats.connections), (2, 2));
}

/// A header folded over two lines (obs-fold) is unfolded, not refused.
#[test]
fn a_folded_header_is_unfolded() {
    let (lines, server) = outcomes(&["BR"], &[("br", vec![Fault::FoldedHead])]);

    assert_eq!(lines["BR"], "OK");
    assert_eq!(server.stats().faults.get("folded_head"), Some(&1));
}

/// Every fault the client meets most often (418, 503, stall, drip,
/// truncated, dropped, huge, huge chunked, redirect loop, HTML, gzip,
/// redirect + chunked), at once, with a short deadline: each outcome line
/// reads as the contract says, in the same words as the blocking client's.
#[test]
fn every_fault_reads_as_the_contract_says() {
    let faults = [
        ("ar", vec![Fault::Status(418)]),
        ("bd", vec![Fault::Status(503)]),
        ("ca", vec![Fault::Stall]),
        ("de", vec![Fault::Drip]),
        ("eg", vec![Fault::Truncate]),
        ("fr", vec![Fault::Huge]),
        ("gh", vec![Fault::Drop]),
        ("in", vec![Fault::HugeChunked]),
        ("jp", vec![Fault::Redirect; 100]),
        ("ke", vec![Fault::Html]),
        ("mx", vec![Fault::Gzip]),
        ("ng", vec![Fault::Redirect, Fault::Chunked]),
    ];
    let codes = [
        "AR", "BD", "BR", "CA", "DE", "EG", "FR", "GH", "IN", "JP", "KE", "MX", "NG", "ZZ",
    ];
    let (lines, _server) = outcomes_with(&codes, &faults, |mut job| {
        job.timeout = Duration::from_millis(800);
        job.with_max_req(14)
    });

    assert_eq!(lines.len(), 14, "{lines:?}");
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
        assert_eq!(lines.get(code).map(String::as_str), Some(line), "{code}");
    }
}

/// `-m 1`, BR then CN: CN goes out on BR's kept-alive connection, which the
/// server closes without answering; the client sends CN again, once, on a
/// new connection, so both flags are saved and nothing is an error.
#[test]
fn a_request_on_a_closed_reused_connection_is_sent_again() {
    // CN's first request is hung up on without a byte (`Fault::Hangup`);
    // its next one is answered.
    let mut config = ServerConfig::default();
    config
        .scripted
        .insert("cn".to_string(), vec![Fault::Hangup]);
    let server = FlagServer::start(config).expect("the test server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let job = job(&["BR", "CN"], &server.base_url(), dest.path()).with_max_req(1);

    let counter = run(&job).expect("the run starts");

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
