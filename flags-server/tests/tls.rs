//! HTTPS: the same server over TLS, with a self-signed certificate made at
//! start, seen from reqwest clients that trust it and clients that do not.

mod common;

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::time::Duration;

use common::{
    assert_closed_without_answer, client, client_trusting, client_trusting_with_timeout,
    error_chain, read_until_closed, send_get, start, wait_for_stats,
};
use flags_server::{
    Delay, Fault, FlagServer, ServerConfig, TlsIdentity, builtin_flag, builtin_metadata,
};

/// A server speaking HTTPS with a new identity.
fn https_server(config: ServerConfig) -> (FlagServer, TlsIdentity) {
    let identity = TlsIdentity::generate().expect("an identity");
    let server = start(ServerConfig {
        tls: Some(identity.clone()),
        ..config
    });
    (server, identity)
}

/// Over HTTPS, a client that trusts the certificate gets the same bytes as
/// over HTTP, by address or by the name `localhost`, on HTTP/1.1.
#[test]
fn https_serves_the_same_flag_as_http() {
    let (server, identity) = https_server(ServerConfig::default());
    let plain = start(ServerConfig::default());
    assert_eq!(
        server.base_url(),
        format!("https://127.0.0.1:{}/flags", server.addr().port())
    );
    assert_eq!(server.ca_pem(), Some(identity.cert_pem()));
    assert!(plain.base_url().starts_with("http://") && plain.ca_pem().is_none());

    let trusting = client_trusting(identity.cert_pem());
    let response = trusting
        .get(format!("{}/br/br.gif", server.base_url()))
        .send()
        .expect("GET over https");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.headers()["content-type"], "image/gif");
    let over_https = response.bytes().expect("body");
    let over_http = client()
        .get(format!("{}/br/br.gif", plain.base_url()))
        .send()
        .and_then(|response| response.bytes())
        .expect("GET over http");
    assert_eq!(over_https, over_http);
    assert_eq!(over_https.as_ref(), builtin_flag("br").expect("built in"));

    // The certificate names `localhost` too, not only the address.
    let by_name = trusting
        .get(format!(
            "https://localhost:{}/flags/br/metadata.json",
            server.addr().port()
        ))
        .send()
        .and_then(|response| response.text())
        .expect("GET by name");
    assert_eq!(Some(by_name), builtin_metadata("br"));

    let stats = server.stats();
    assert_eq!((stats.requests, stats.by_status[&200]), (2, 2));
    assert_eq!(stats.tls_handshake_failures, 0);
}

/// A client that does not trust the certificate (web roots only, or another
/// server's certificate) fails on it, and the server goes on serving the
/// next client that does.
#[test]
fn untrusting_clients_fail_and_the_server_goes_on() {
    let (server, identity) = https_server(ServerConfig::default());
    let url = format!("{}/jp/jp.gif", server.base_url());
    let other = TlsIdentity::generate().expect("another identity");
    for untrusting in [client(), client_trusting(other.cert_pem())] {
        let error = untrusting.get(&url).send().expect_err("not trusted");
        let why = error_chain(&error);
        assert!(why.contains("invalid peer certificate"), "{why}");
    }
    let stats = wait_for_stats(&server, "the two failed handshakes", |stats| {
        stats.tls_handshake_failures == 2
    });
    assert_eq!(stats.requests, 0);

    let flag = client_trusting(identity.cert_pem())
        .get(&url)
        .send()
        .and_then(|response| response.bytes())
        .expect("a trusting client is served");
    assert_eq!(flag.as_ref(), builtin_flag("jp").expect("built in"));
    assert_eq!(server.stats().by_status[&200], 1);
}

/// Plain HTTP to an HTTPS server gets no HTTP answer, only a closed
/// connection, counted as a failed handshake.
#[test]
fn plain_http_to_https_gets_no_http_answer() {
    let (server, _identity) = https_server(ServerConfig::default());
    let mut stream = send_get(server.addr(), "/flags/br/br.gif");
    // Closed cleanly or reset: either way it ends, and not with HTTP.
    let received = read_until_closed(&mut stream);
    assert!(!received.starts_with(b"HTTP/"), "{received:?}");
    wait_for_stats(&server, "the failed handshake", |stats| {
        stats.tls_handshake_failures == 1
    });
    assert_eq!(server.stats().requests, 0);
}

/// A client that connects and never starts its handshake holds only its own
/// task: the others are served meanwhile, and shutting down closes it.
/// (That the shutdown ends the handshake itself, rather than its timeout or
/// the end of the grace period, is checked without a clock by the unit
/// test `shutdown_ends_a_silent_handshake` in `src/server.rs`.)
#[test]
fn a_silent_client_holds_nobody_up() {
    let (server, identity) = https_server(ServerConfig::default());
    let silent = TcpStream::connect(server.addr()).expect("connect");
    wait_for_stats(&server, "the silent connection", |stats| {
        stats.connections == 1
    });
    let response = client_trusting(identity.cert_pem())
        .get(format!("{}/br/br.gif", server.base_url()))
        .send()
        .expect("served while another handshake waits");
    assert_eq!(response.status().as_u16(), 200);

    server.shutdown();
    assert_closed_without_answer(silent);
}

/// Delays, scripted faults, statistics and concurrency are the same over
/// HTTPS: a 503, a truncated body, a drip that a client's whole-request
/// timeout cuts short (and that stops when the client leaves), and several
/// requests in flight at once.
#[test]
fn faults_and_concurrency_work_over_https() {
    let scripted = BTreeMap::from([
        ("br".to_owned(), vec![Fault::Status(503), Fault::Truncate]),
        ("jp".to_owned(), vec![Fault::Drip]),
    ]);
    let (server, identity) = https_server(ServerConfig {
        scripted,
        ..ServerConfig::default()
    });
    let client = client_trusting(identity.cert_pem());
    let url = |code: &str| format!("{}/{code}/{code}.gif", server.base_url());

    let unavailable = client.get(url("br")).send().expect("an answer");
    assert_eq!(unavailable.status().as_u16(), 503);
    assert_eq!(unavailable.headers()["retry-after"], "0");
    let truncated = client
        .get(url("br"))
        .send()
        .and_then(|response| response.bytes());
    assert!(truncated.is_err(), "reqwest must see the short body");
    let whole = client
        .get(url("br"))
        .send()
        .and_then(|response| response.bytes())
        .expect("the script is used up");
    assert_eq!(whole.as_ref(), builtin_flag("br").expect("built in"));

    // A timeout for the whole request, longer than the drip's interval: a
    // timeout per read would never fire, since a byte comes every 0.5 s;
    // this one fires long before the body (minutes of dripping) is done.
    let impatient = client_trusting_with_timeout(identity.cert_pem(), Duration::from_millis(700));
    let dripped = impatient
        .get(url("jp"))
        .send()
        .and_then(|response| response.bytes());
    assert!(
        dripped.as_ref().is_err_and(reqwest::Error::is_timeout),
        "{dripped:?}"
    );
    drop(impatient);
    wait_for_stats(&server, "the drip to stop", |stats| stats.in_flight == 0);

    let faults = server.stats().faults;
    assert_eq!(
        (faults["status_503"], faults["truncate"], faults["drip"]),
        (1, 1, 1)
    );

    // Twenty requests at once against a server whose delay outlasts the
    // test, each on its own connection and handshake: all twenty wait
    // together, however slowly a loaded machine starts them, and shutting
    // down ends them without an answer, as over HTTP.
    const CLIENTS: usize = 20;
    let (slow, identity) = https_server(ServerConfig {
        delay: Delay::Fixed(Duration::from_secs(600)),
        ..ServerConfig::default()
    });
    let client = client_trusting(identity.cert_pem());
    let url = format!("{}/cn/cn.gif", slow.base_url());
    // One thread per request; the client is shared, and opens a new
    // connection for each request, since none is ever idle.
    let requests: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            std::thread::spawn(move || client.get(url).send().map(|response| response.status()))
        })
        .collect();
    let stats = wait_for_stats(&slow, "every request in flight", |stats| {
        stats.in_flight == CLIENTS as u64
    });
    assert_eq!(stats.peak_in_flight, CLIENTS as u64);
    assert_eq!(stats.connections, CLIENTS as u64);
    slow.shutdown();
    for request in requests {
        let answer = request.join().expect("client thread");
        assert!(answer.is_err(), "no answer after shutdown: {answer:?}");
    }
}

/// The faults written byte for byte go through TLS too: interim responses
/// then the flag, a body ended by the close (TLS's close_notify, then the
/// socket's), and a reset.
#[test]
fn raw_faults_speak_tls() {
    let (server, identity) = https_server(ServerConfig {
        scripted: BTreeMap::from([(
            "br".to_owned(),
            vec![Fault::Informational, Fault::CloseDelimited, Fault::Reset],
        )]),
        ..ServerConfig::default()
    });
    let trusting = client_trusting(identity.cert_pem());
    let url = format!("{}/br/br.gif", server.base_url());
    for _ in 0..2 {
        let flag = trusting
            .get(&url)
            .send()
            .and_then(|response| response.error_for_status())
            .and_then(|response| response.bytes())
            .expect("the flag");
        assert_eq!(flag.as_ref(), builtin_flag("br").expect("built in"));
    }
    let reset = trusting
        .get(&url)
        .send()
        .and_then(|response| response.bytes());
    assert!(reset.is_err(), "the reset cuts the body");
    let faults = wait_for_stats(&server, "the reset to end", |stats| stats.in_flight == 0).faults;
    for name in ["informational", "close_delimited", "reset"] {
        assert_eq!(faults.get(name), Some(&1), "{name}");
    }
}
