//! `--client reqwest`'s own rules, where the contract checks cannot look:
//! the addresses looked up once at the start answer for the server's host,
//! never for a port, so a URL lands on the port it names (or its scheme's
//! default); redirects follow the one rule of every client, in the same
//! words; a 404's body, dropped unread, still leaves its connection to be
//! reused when it is all there, and is never waited for; a folded header
//! is unfolded. The same checks as `flags-async`'s reqwest client's.
//!
//! The tests that need ports 80 and 443 run in a private network namespace
//! of their own, as root only (CI runs as root); elsewhere they say that
//! they were skipped.

// The helpers the async model's reqwest tests use, read from their file.
#[path = "../../flags-async/tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{capture_one_request, in_private_network, tls_server_on};
use flags_core::AnyModel;
use flags_core::redirect;
use flags_core::{DownloadJob, FlagResult, StatusCounter};
use flags_seq::BlockingClient;
use flags_server::{Fault, FlagServer, ServerConfig};
use flags_threadpool::{ReqwestClient, THREADPOOL, download_one};

/// The model as `flags-threadpool --client reqwest` runs it.
fn download_on_reqwest(job: &DownloadJob) -> Result<StatusCounter, flags_core::SetupError> {
    THREADPOOL.download_many_with_args(job, &["--client", "reqwest"])
}

/// A job for `codes` from `base_url`, with a deadline that only guards
/// against a hang.
fn job(codes: &[&str], base_url: &str, dest: &std::path::Path) -> DownloadJob {
    let codes = codes.iter().map(|code| code.to_string()).collect();
    let mut job = DownloadJob::new(codes, base_url, dest);
    job.timeout = Duration::from_secs(10);
    job
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
    let client = ReqwestClient::new(&job(&["BR"], &base_url, dest.path())).expect("a client");

    // Port 80: refused on a machine where nothing listens there, or
    // answered by whatever does; never by the base URL's server.
    let _ = client.get_flag("http://localhost/flags", "BR");
    let other_url = format!("http://localhost:{}/flags", other_server.addr().port());
    let flag = client.get_flag(&other_url, "BR");

    assert!(flag.is_ok(), "{flag:?}");
    assert_eq!(base_server.stats().requests, 0);
    assert_eq!(other_server.stats().requests, 1);
}

/// `-m 1`, BR, then XA (no such flag: a 404 with a short page), then ZA:
/// the 404's page came with its head, so dropping it unread leaves the
/// connection reusable, and all three requests go over one connection.
#[test]
fn a_404_keeps_its_connection() {
    let server = FlagServer::start(ServerConfig::default()).expect("a server");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let job = job(&["BR", "XA", "ZA"], &server.base_url(), dest.path());

    let counter = download_on_reqwest(&job).expect("the run starts");

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
    let _ = download_on_reqwest(&job);

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

        let counter = download_on_reqwest(&job).expect("the run starts");

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

            let counter = download_on_reqwest(&job).expect("the run starts");

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

/// Run `codes`, one after the other on one client, against a server
/// scripted with `faults` (one list per lower-case code): each code's
/// outcome line (`OK`, `not found` or the error's message), and the
/// server.
fn outcomes(
    codes: &[&str],
    faults: &[(&str, Vec<Fault>)],
) -> (BTreeMap<String, String>, FlagServer) {
    let mut config = ServerConfig::default();
    for (code, faults) in faults {
        config.scripted.insert(code.to_string(), faults.clone());
    }
    let server = FlagServer::start(config).expect("a server");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let job = job(codes, &server.base_url(), dest.path());
    let client = ReqwestClient::new(&job).expect("a client");
    let lines = codes
        .iter()
        .map(|code| {
            let line = match download_one(&client, code, &job).result {
                FlagResult::Ok { .. } => "OK".to_string(),
                FlagResult::NotFound => "not found".to_string(),
                FlagResult::Error { message } => message,
            };
            (code.to_string(), line)
        })
        .collect();
    (lines, server)
}

/// The redirect rule of every client, in the words of
/// `flags_core::redirect` (which the other clients print too): no `file:`
/// or `data:` target; 300 and 305 are answers, named by their status; a
/// raw space in a `Location` is escaped and followed; a redirect's
/// dripping text does not hold the request; a loop stops after 10
/// redirects, the 11th request being the last one sent.
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

    let from = reqwest::Url::parse("http://localhost/flags/br/br.gif").expect("a URL");
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
/// dropped unread with its connection, so the next code goes out on a new
/// one. Had the page been read to its end, the connection would have been
/// reused.
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
