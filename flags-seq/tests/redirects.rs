//! Redirects, followed by the blocking client itself: the limit, the
//! deadline across hops, a closed keep-alive connection on any hop, and the
//! 3xx statuses that are answers rather than redirects.

use std::time::Duration;

use flags_core::{DownloadJob, FlagOutcome, FlagResult, StatusCounter};
use flags_server::{Delay, Fault, FlagServer, ServerConfig};

/// Download `codes` one after another from a server started with
/// `config`, with `br` scripted as `br_script`, within `timeout`. Returns
/// each outcome, the server (for its log) and the folder of the files.
fn run(
    mut config: ServerConfig,
    br_script: Vec<Fault>,
    codes: &[&str],
    timeout: Duration,
) -> (Vec<FlagOutcome>, FlagServer, tempfile::TempDir) {
    config.scripted.insert("br".into(), br_script);
    let server = FlagServer::start(config).expect("server starts");
    let dest = tempfile::tempdir().expect("temp dir");
    let codes: Vec<String> = codes.iter().map(|code| code.to_string()).collect();
    let mut job = DownloadJob::new(codes.clone(), server.base_url(), dest.path());
    job.timeout = timeout;
    let client = flags_seq::http_client(&job).expect("client");
    let outcomes = codes
        .iter()
        .map(|code| flags_seq::download_one(&client, code, &job))
        .collect();
    (outcomes, server, dest)
}

/// How many requests the server got for `br`'s flag, hops included.
fn asked_br(server: &FlagServer) -> usize {
    server
        .request_log()
        .iter()
        .filter(|record| record.path.starts_with("/flags/br/br.gif"))
        .count()
}

/// Ten redirects are followed and the flag is saved, byte-identical; the
/// eleventh is an error that says why, and is never asked for.
#[test]
fn ten_redirects_are_followed_and_the_eleventh_is_an_error() {
    let long = Duration::from_secs(10);
    let (outcomes, server, dest) = run(
        ServerConfig::default(),
        vec![Fault::Redirect; 10],
        &["BR"],
        long,
    );
    assert_eq!(outcomes[0].to_string(), "BR OK");
    assert_eq!(
        std::fs::read(dest.path().join("BR.gif")).expect("saved"),
        flags_server::builtin_flag("BR").expect("built in")
    );
    assert_eq!(asked_br(&server), 11);

    let (outcomes, server, dest) = run(
        ServerConfig::default(),
        vec![Fault::Redirect; 100],
        &["BR"],
        long,
    );
    assert_eq!(outcomes[0].to_string(), "BR error: more than 10 redirects");
    assert_eq!(asked_br(&server), 11);
    assert!(!dest.path().join("BR.gif").exists());
}

/// `--timeout` is a deadline for the whole chain, not for each hop: every
/// hop of a server that takes 0.2 s per request is well within 0.5 s, the
/// four of them are not. With a deadline that holds all four, the same
/// chain saves the flag.
#[test]
fn the_deadline_covers_every_hop() {
    let slow = || ServerConfig {
        delay: Delay::Fixed(Duration::from_millis(200)),
        ..ServerConfig::default()
    };
    let (outcomes, _server, _dest) = run(
        slow(),
        vec![Fault::Redirect; 3],
        &["BR"],
        Duration::from_millis(500),
    );
    assert_eq!(outcomes[0].to_string(), "BR error: operation timed out");

    let (outcomes, server, _dest) = run(
        slow(),
        vec![Fault::Redirect; 3],
        &["BR"],
        Duration::from_secs(10),
    );
    assert_eq!(outcomes[0].to_string(), "BR OK");
    assert_eq!(asked_br(&server), 4);
}

/// A server that closes every connection after its response, unsaid: each
/// hop finds its pooled connection closed and is sent once more on a new
/// one, so every hop is asked for exactly once and the flags are saved.
#[test]
fn a_closed_pooled_connection_is_replaced_on_every_hop() {
    let config = ServerConfig {
        close_after_response: true,
        ..ServerConfig::default()
    };
    let (outcomes, server, _dest) = run(
        config,
        vec![Fault::Redirect; 3],
        &["AD", "BR", "CN"],
        Duration::from_secs(10),
    );
    let counter = outcomes
        .iter()
        .fold(StatusCounter::default(), |mut counter, outcome| {
            counter.record(outcome);
            counter
        });
    assert_eq!(counter.ok, 3, "{outcomes:?}");
    assert_eq!(asked_br(&server), 4);
    assert_eq!(server.stats().requests, 6);
}

/// 300 and 305 are not followed (nor 304, which a GET without a condition
/// never gets): each is an error naming its status.
#[test]
fn other_3xx_statuses_are_errors_naming_them() {
    for (code, text) in [
        (300, "BR error: HTTP 300 Multiple Choices"),
        (304, "BR error: HTTP 304 Not Modified"),
        (305, "BR error: HTTP 305 Use Proxy"),
    ] {
        let (outcomes, server, _dest) = run(
            ServerConfig::default(),
            vec![Fault::Status(code)],
            &["BR"],
            Duration::from_secs(10),
        );
        assert_eq!(outcomes[0].to_string(), text);
        assert!(matches!(outcomes[0].result, FlagResult::Error { .. }));
        assert_eq!(asked_br(&server), 1);
    }
}

/// The server's redirect modes that end in an error: each says why, and
/// nothing after the redirect is asked for.
#[test]
fn redirects_that_are_not_followed_say_why() {
    for (fault, text) in [
        (
            Fault::RedirectWith(300),
            "BR error: HTTP 300 Multiple Choices",
        ),
        (Fault::RedirectWith(305), "BR error: HTTP 305 Use Proxy"),
        (
            Fault::RedirectToFile,
            "BR error: redirect to a file: URL, which is not followed",
        ),
        (
            Fault::RedirectToData,
            "BR error: redirect to a data: URL, which is not followed",
        ),
    ] {
        let (outcomes, server, dest) = run(
            ServerConfig::default(),
            vec![fault],
            &["BR"],
            Duration::from_secs(10),
        );
        assert_eq!(outcomes[0].to_string(), text, "{fault:?}");
        assert_eq!(asked_br(&server), 1, "{fault:?}");
        assert!(!dest.path().join("BR.gif").exists());
    }
}

/// A raw space in the `Location` is escaped, and the flag saved.
#[test]
fn a_raw_space_in_the_location_is_escaped() {
    let (outcomes, server, _dest) = run(
        ServerConfig::default(),
        vec![Fault::RedirectWithSpace],
        &["BR"],
        Duration::from_secs(10),
    );
    assert_eq!(outcomes[0].to_string(), "BR OK");
    assert_eq!(asked_br(&server), 2);
}

/// A redirect whose text drips, and a 404 page that drips: neither holds
/// the request. Each body is given up on after the drain window and its
/// connection dropped, so the next request is on a new connection (a
/// drain that waited for the whole body would have kept it: the body ends
/// well within the 30 s deadline).
#[test]
fn a_dripping_unused_body_costs_its_connection_not_the_request() {
    let (outcomes, server, _dest) = run(
        ServerConfig::default(),
        vec![Fault::RedirectDrip],
        &["BR"],
        Duration::from_secs(30),
    );
    assert_eq!(outcomes[0].to_string(), "BR OK");
    assert_eq!(asked_br(&server), 2);
    assert_eq!(server.stats().connections, 2);

    let (outcomes, server, _dest) = run(
        ServerConfig::default(),
        vec![Fault::DripNotFound],
        &["BR", "JP"],
        Duration::from_secs(30),
    );
    assert_eq!(outcomes[0].to_string(), "BR not found");
    assert_eq!(outcomes[1].to_string(), "JP OK");
    assert_eq!(server.stats().connections, 2);
}

/// The upgrade to https and the redirect to the default port, from a base
/// URL named `localhost` on a port of its own: the redirect goes to port
/// 443 or 80 as it says (where nothing listens in a test), never back to
/// the base URL's port, which sees the first request only.
#[test]
fn a_redirect_to_a_default_port_leaves_the_base_port() {
    for fault in [Fault::RedirectToHttps, Fault::RedirectToDefaultPort] {
        let mut config = ServerConfig::default();
        config.scripted.insert("br".into(), vec![fault]);
        let server = FlagServer::start(config).expect("server starts");
        let base_url = server.base_url().replace("127.0.0.1", "localhost");
        let dest = tempfile::tempdir().expect("temp dir");
        let job = DownloadJob::new(vec!["BR".into()], base_url, dest.path());
        let client = flags_seq::http_client(&job).expect("client");
        let outcome = flags_seq::download_one(&client, "BR", &job);
        assert!(
            matches!(outcome.result, FlagResult::Error { .. }),
            "{fault:?}: {outcome}"
        );
        assert_eq!(asked_br(&server), 1, "{fault:?}");
        assert_eq!(server.stats().requests, 1, "{fault:?}");
    }
}
