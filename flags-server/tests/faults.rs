//! Delays, errors and faults, each seen from the client's side.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, Instant};

use common::{
    assert_closed_without_answer, client, raw_get, read_head, read_until_closed, send_get, start,
    wait_for_stats,
};
use flags_server::{DRIP_INTERVAL, Delay, Fault, ServerConfig, builtin_flag};

/// A fixed delay is honoured: no answer comes sooner.
#[test]
fn fixed_delay_is_honoured() {
    let server = start(ServerConfig {
        delay: Delay::Fixed(Duration::from_millis(300)),
        ..ServerConfig::default()
    });
    let started = Instant::now();
    let response = raw_get(server.addr(), "/flags/br/br.gif").expect("answer");
    assert_eq!(response.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    // A configured delay is not a fault: the request counts as a plain 200.
    let stats = server.stats();
    assert_eq!(stats.requests, 1);
    assert_eq!(stats.by_status.get(&200), Some(&1));
    assert!(stats.faults.is_empty(), "{stats:?}");
}

/// A uniform delay waits at least its minimum.
#[test]
fn uniform_delay_waits_at_least_the_minimum() {
    let server = start(ServerConfig {
        delay: Delay::Uniform {
            min: Duration::from_millis(200),
            max: Duration::from_millis(400),
        },
        ..ServerConfig::default()
    });
    let started = Instant::now();
    let response = raw_get(server.addr(), "/flags/jp/metadata.json").expect("answer");
    assert_eq!(response.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

/// An error rate of 1 answers every flag request with 418 I'm a teapot.
#[test]
fn error_rate_one_is_always_a_teapot() {
    let server = start(ServerConfig {
        error_rate: 1.0,
        ..ServerConfig::default()
    });
    let client = client();
    for code in ["br", "cn", "zz"] {
        let response = client
            .get(format!("{}/{code}/{code}.gif", server.base_url()))
            .send()
            .expect("an answer");
        assert_eq!(response.status().as_u16(), 418);
        assert_eq!(response.status().canonical_reason(), Some("I'm a teapot"));
    }
    assert_eq!(server.stats().faults["status_418"], 3);
}

/// The same seed gives the same sequence of errors.
#[test]
fn seeded_errors_repeat() {
    let statuses = |seed| {
        let server = start(ServerConfig {
            error_rate: 0.5,
            seed: Some(seed),
            ..ServerConfig::default()
        });
        let client = client();
        (0..40)
            .map(|_| {
                client
                    .get(format!("{}/br/br.gif", server.base_url()))
                    .send()
                    .expect("an answer")
                    .status()
                    .as_u16()
            })
            .collect::<Vec<_>>()
    };
    let first = statuses(7);
    assert_eq!(first, statuses(7));
    assert!(first.contains(&200) && first.contains(&418), "{first:?}");
    assert_ne!(first, statuses(8));
}

/// Drop: the headers arrive, then the connection closes without a body, and
/// a real client reports an error reading the body.
#[test]
fn drop_fault_closes_after_headers() {
    let server = start(ServerConfig {
        drop_rate: 1.0,
        ..ServerConfig::default()
    });
    let response = raw_get(server.addr(), "/flags/br/br.gif").expect("headers arrive");
    assert_eq!(response.status, 200);
    let announced = response.content_length().expect("a Content-Length");
    assert_eq!(
        announced,
        builtin_flag("br").expect("built in").len() as u64
    );
    assert!(response.body.is_empty());

    let body = client()
        .get(format!("{}/br/br.gif", server.base_url()))
        .send()
        .and_then(|response| response.bytes());
    assert!(body.is_err(), "reqwest must see the cut");
    assert_eq!(server.stats().faults["drop"], 2);
}

/// Truncate: the body is shorter than its `Content-Length`, and a real
/// client reports an error.
#[test]
fn truncate_fault_sends_a_short_body() {
    let server = start(ServerConfig {
        truncate_rate: 1.0,
        ..ServerConfig::default()
    });
    let response = raw_get(server.addr(), "/flags/cn/cn.gif").expect("headers arrive");
    assert_eq!(response.status, 200);
    let announced = response.content_length().expect("a Content-Length");
    assert!(!response.body.is_empty());
    assert!((response.body.len() as u64) < announced);
    let flag = builtin_flag("cn").expect("built in");
    assert!(
        flag.starts_with(&response.body),
        "the part sent is the real start"
    );

    let body = client()
        .get(format!("{}/cn/cn.gif", server.base_url()))
        .send()
        .and_then(|response| response.bytes());
    assert!(body.is_err(), "reqwest must see the short body");
    assert_eq!(server.stats().faults["truncate"], 2);
}

/// Huge: the server announces (and would send) more than 10 MiB.
#[test]
fn huge_fault_claims_over_ten_mebibytes() {
    let server = start(ServerConfig {
        huge_rate: 1.0,
        ..ServerConfig::default()
    });
    let mut stream = send_get(server.addr(), "/flags/br/br.gif");
    // Read only the head, then hang up, as a careful client would.
    let response = read_head(&mut stream);
    assert_eq!(response.status, 200);
    // 11 MiB: just over the clients' 10 MiB cap.
    assert_eq!(response.content_length(), Some(11 * 1024 * 1024));
    drop(stream);
    assert_eq!(server.stats().faults["huge"], 1);
}

/// Huge bodies are really sent in full to a client that reads them all.
#[test]
fn huge_body_is_streamed_in_full() {
    let server = start(ServerConfig {
        huge_rate: 1.0,
        ..ServerConfig::default()
    });
    let response = raw_get(server.addr(), "/flags/br/br.gif").expect("answer");
    assert_eq!(response.status, 200);
    assert!(
        !response.ended_with_error,
        "the body ends with a clean close"
    );
    assert_eq!(Some(response.body.len() as u64), response.content_length());
    assert_eq!(response.body.len(), 11 * 1024 * 1024);
    assert_eq!(server.stats().faults["huge"], 1);
}

/// Stall: no answer comes, the client times out; shutting down closes the
/// connection without an answer.
#[test]
fn stall_fault_never_answers() {
    let server = start(ServerConfig {
        stall_rate: 1.0,
        ..ServerConfig::default()
    });
    let mut stream = send_get(server.addr(), "/flags/br/br.gif");
    // Once the server holds the request stalled, nothing comes back.
    let stats = wait_for_stats(&server, "the stalled request", |stats| {
        stats.faults.contains_key("stall")
    });
    assert_eq!((stats.faults["stall"], stats.in_flight), (1, 1));
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut buffer = [0_u8; 64];
    let error = stream.read(&mut buffer).expect_err("the client times out");
    assert!(
        matches!(
            error.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{error}"
    );
    assert_eq!(server.stats().in_flight, 1, "still stalled");

    server.shutdown();
    assert_closed_without_answer(stream);
}

/// 503 and 429 come with `Retry-After: 0`; other statuses as asked.
#[test]
fn status_faults_carry_retry_after() {
    for (code, retry_after) in [(503, Some("0")), (429, Some("0")), (500, None)] {
        let server = start(ServerConfig {
            status_rates: vec![(code, 1.0)],
            ..ServerConfig::default()
        });
        let response = raw_get(server.addr(), "/flags/br/br.gif").expect("answer");
        assert_eq!(response.status, code);
        assert_eq!(response.header("retry-after"), retry_after, "{code}");
        assert_eq!(server.stats().faults[&format!("status_{code}")], 1);
    }
}

/// A slow body arrives whole, but takes its time.
#[test]
fn slow_body_arrives_whole_and_late() {
    let server = start(ServerConfig {
        slow_body: true,
        ..ServerConfig::default()
    });
    let started = Instant::now();
    let response = raw_get(server.addr(), "/flags/us/us.gif").expect("answer");
    // 20 pieces with a 15 ms pause before each but the first.
    assert!(started.elapsed() >= 19 * Duration::from_millis(15));
    assert_eq!(response.status, 200);
    assert_eq!(response.body, builtin_flag("us").expect("built in"));
    assert_eq!(server.stats().faults["slow_body"], 1);
}

/// Scripted faults hit exactly the scripted requests: the n-th request for
/// a code gets the n-th fault, then the code is served normally.
#[test]
fn scripted_faults_hit_exactly_the_scripted_requests() {
    let scripted = BTreeMap::from([
        (
            "br".to_owned(),
            vec![Fault::Status(503), Fault::Status(503)],
        ),
        ("cn".to_owned(), vec![Fault::Status(500); 100]),
        ("xx".to_owned(), vec![Fault::Status(500); 100]),
        (
            "jp".to_owned(),
            vec![Fault::Delay(Duration::from_millis(200)), Fault::Truncate],
        ),
    ]);
    let server = start(ServerConfig {
        scripted,
        ..ServerConfig::default()
    });
    let status = |path: &str| raw_get(server.addr(), path).expect("answer").status;

    assert_eq!(
        status("/flags/br/metadata.json"),
        200,
        "metadata is not scripted"
    );
    assert_eq!(
        [
            status("/flags/br/br.gif"),
            status("/flags/br/br.gif"),
            status("/flags/br/br.gif"),
            status("/flags/br/br.gif"),
        ],
        [503, 503, 200, 200]
    );
    assert_eq!([(); 5].map(|()| status("/flags/cn/cn.gif")), [500; 5]);
    assert_eq!(status("/flags/xx/xx.gif"), 500);
    assert_eq!(status("/flags/us/us.gif"), 200);

    let started = Instant::now();
    assert_eq!(status("/flags/jp/jp.gif"), 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
    let truncated = raw_get(server.addr(), "/flags/jp/jp.gif").expect("answer");
    assert_eq!(truncated.status, 200);
    assert!((truncated.body.len() as u64) < truncated.content_length().expect("length"));
    let whole = raw_get(server.addr(), "/flags/jp/jp.gif").expect("answer");
    assert_eq!(
        (whole.status, whole.body.as_slice()),
        (200, builtin_flag("jp").expect("built in"))
    );

    let faults = server.stats().faults;
    assert_eq!(faults["status_503"], 2);
    assert_eq!(faults["status_500"], 6);
    assert_eq!((faults["delay"], faults["truncate"]), (1, 1));
}

/// A server whose `code` flag gets these scripted faults, one per request.
fn scripted_server(code: &str, faults: Vec<Fault>) -> flags_server::FlagServer {
    start(ServerConfig {
        scripted: BTreeMap::from([(code.to_owned(), faults)]),
        ..ServerConfig::default()
    })
}

/// Drip: the real headers, then the body a byte at a time, one every
/// `DRIP_INTERVAL`; when the client hangs up, the server stops dripping and
/// the request leaves the in-flight count.
#[test]
fn drip_fault_sends_a_byte_per_interval_until_the_client_leaves() {
    let server = scripted_server("br", vec![Fault::Drip]);
    let flag = builtin_flag("br").expect("built in");
    let asked = Instant::now();
    let mut stream = send_get(server.addr(), "/flags/br/br.gif");
    let head = read_head(&mut stream);
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), Some(flag.len() as u64));
    // Three bytes: the first comes with the head, each next one an
    // interval later, so the third cannot come before two intervals.
    let mut start_of_body = [0_u8; 3];
    stream.read_exact(&mut start_of_body).expect("three bytes");
    assert!(
        asked.elapsed() >= 2 * DRIP_INTERVAL,
        "three bytes in {:?}",
        asked.elapsed()
    );
    assert_eq!(start_of_body, flag[..3]);
    let stats = server.stats();
    assert_eq!((stats.faults["drip"], stats.in_flight), (1, 1));

    // The client goes away: hyper sees the end of the stream (or else the
    // next write fails), drops the body, and the request is done, within a
    // few intervals. A drip that went on would take hours: `wait_for_stats`
    // gives up on it long before.
    drop(stream);
    wait_for_stats(&server, "the dripping request to end", |stats| {
        stats.in_flight == 0
    });
    let log = server.request_log();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].status, log[0].fault.as_deref()),
        (200, Some("drip"))
    );
    // The script is used up: the next request gets the whole flag at once.
    let whole = raw_get(server.addr(), "/flags/br/br.gif").expect("answer");
    assert_eq!((whole.status, whole.body.as_slice()), (200, flag));
}

/// Shutting down ends a drip: the connection closes with the body short.
/// (That the drip is cut at once, rather than after the grace period given
/// to other bodies, is checked without a clock by the unit test
/// `shutdown_cuts_a_drip` in `src/server.rs`.)
#[test]
fn drip_fault_stops_at_shutdown() {
    let server = scripted_server("cn", vec![Fault::Drip]);
    let mut stream = send_get(server.addr(), "/flags/cn/cn.gif");
    let head = read_head(&mut stream);
    let announced = head.content_length().expect("a Content-Length");
    server.shutdown();
    // The connection ends, cleanly or with a reset: either way it is over.
    let body = read_until_closed(&mut stream);
    assert!((body.len() as u64) < announced, "{} bytes", body.len());
    assert!(builtin_flag("cn").expect("built in").starts_with(&body));
}

/// A random drip rate drips metadata too; 1 drips everything.
#[test]
fn drip_rate_one_drips_every_body() {
    let server = start(ServerConfig {
        drip_rate: 1.0,
        ..ServerConfig::default()
    });
    let mut stream = send_get(server.addr(), "/flags/br/metadata.json");
    let head = read_head(&mut stream);
    assert_eq!(head.header("content-type"), Some("application/json"));
    let mut first = [0_u8; 1];
    stream.read_exact(&mut first).expect("the first byte");
    assert_eq!(&first, b"{");
    assert_eq!(server.stats().faults["drip"], 1);
}

/// Redirect: a 302 back to the same path, with a query string that differs
/// on each hop and a short body of the announced length; the redirected
/// request is the same code's next one, for the script and for the GIF.
#[test]
fn redirect_fault_points_back_at_the_same_flag() {
    let server = scripted_server("br", vec![Fault::Redirect, Fault::Redirect]);
    let first = raw_get(server.addr(), "/flags/br/br.gif").expect("answer");
    assert_eq!(first.status, 302);
    assert_eq!(first.header("location"), Some("/flags/br/br.gif?hop=1"));
    assert_eq!(first.body, b"302 Found\n");
    assert_eq!(first.content_length(), Some(first.body.len() as u64));
    let second = raw_get(server.addr(), "/flags/br/br.gif?hop=1").expect("answer");
    assert_eq!(second.status, 302);
    assert_eq!(second.header("location"), Some("/flags/br/br.gif?hop=2"));
    let flag = raw_get(server.addr(), "/flags/br/br.gif?hop=2").expect("answer");
    assert_eq!(
        (flag.status, flag.body.as_slice()),
        (200, builtin_flag("br").expect("built in"))
    );
    let stats = server.stats();
    assert_eq!((stats.by_status[&302], stats.by_status[&200]), (2, 1));
    assert_eq!(stats.faults["redirect"], 2);
    // The log keeps the path, without the query string.
    let log = server.request_log();
    assert!(log.iter().all(|record| record.path == "/flags/br/br.gif"));
}

/// A client that follows redirects gets the flag after one hop: one 302
/// and one 200 on the server's side.
#[test]
fn redirect_once_then_the_flag() {
    let server = scripted_server("br", vec![Fault::Redirect]);
    let response = client()
        .get(format!("{}/br/br.gif", server.base_url()))
        .send()
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.url().query(), Some("hop=1"));
    let body = response.bytes().expect("the body");
    assert_eq!(body.as_ref(), builtin_flag("br").expect("built in"));
    let stats = server.stats();
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.by_status.get(&302), Some(&1));
    assert_eq!(stats.by_status.get(&200), Some(&1));
    assert_eq!(stats.faults.get("redirect"), Some(&1));
}

/// A redirect loop: reqwest follows its 10 hops, gets an 11th redirect and
/// gives up; the server saw exactly those 11 requests, and no more.
#[test]
fn redirect_loop_makes_the_client_give_up() {
    let server = scripted_server("br", vec![Fault::Redirect; 100]);
    let error = client()
        .get(format!("{}/br/br.gif", server.base_url()))
        .send()
        .expect_err("too many redirects");
    assert!(error.is_redirect(), "{}", common::error_chain(&error));
    let stats = server.stats();
    assert_eq!((stats.requests, stats.faults["redirect"]), (11, 11));
    assert_eq!(stats.by_status.get(&200), None);
}

/// Chunked: the flag comes in four chunks (one per piece of the body), with
/// no `Content-Length`, and a real client puts it back together.
#[test]
fn chunked_fault_sends_the_flag_without_a_length() {
    let server = scripted_server("br", vec![Fault::Chunked; 2]);
    let flag = builtin_flag("br").expect("built in");
    let response = raw_get(server.addr(), "/flags/br/br.gif").expect("answer");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(response.header("content-length"), None);
    assert_eq!(response.header("content-type"), Some("image/gif"));
    let chunks = common::decode_chunked(&response.body).expect("a chunked body");
    assert_eq!(chunks.len(), 4, "one chunk per piece");
    assert_eq!(chunks.concat(), flag);

    let response = client()
        .get(format!("{}/br/br.gif", server.base_url()))
        .send()
        .expect("an answer");
    assert_eq!(response.content_length(), None);
    assert_eq!(response.bytes().expect("the body").as_ref(), flag);
    let stats = server.stats();
    assert_eq!((stats.faults["chunked"], stats.by_status[&200]), (2, 2));
}

/// Huge and chunked: no `Content-Length` to warn the client, and more than
/// 10 MiB to read: a client reading with a cap hits it.
#[test]
fn huge_chunked_fault_goes_over_the_cap_without_a_length() {
    const CAP: u64 = 10 * 1024 * 1024;
    let server = scripted_server("br", vec![Fault::HugeChunked; 2]);
    let mut stream = send_get(server.addr(), "/flags/br/br.gif");
    let head = read_head(&mut stream);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    assert_eq!(head.content_length(), None);
    drop(stream);

    let response = client()
        .get(format!("{}/br/br.gif", server.base_url()))
        .send()
        .expect("an answer");
    assert_eq!(response.content_length(), None);
    let mut capped = Vec::new();
    response
        .take(CAP + 1)
        .read_to_end(&mut capped)
        .expect("the body reads");
    assert_eq!(capped.len() as u64, CAP + 1, "over the cap");
    assert_eq!(server.stats().faults["huge_chunked"], 2);
}

/// Gzip: the flag's own bytes labelled `Content-Encoding: gzip`, counted
/// once, even on a server that sends every body slowly (which counts as
/// `slow_body` too).
#[test]
fn gzip_fault_labels_the_flag_and_counts_once() {
    let server = start(ServerConfig {
        scripted: BTreeMap::from([("br".to_owned(), vec![Fault::Gzip])]),
        slow_body: true,
        ..ServerConfig::default()
    });
    let response = raw_get(server.addr(), "/flags/br/br.gif").expect("answer");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-encoding"), Some("gzip"));
    assert_eq!(response.body, builtin_flag("br").expect("built in"));
    let faults = server.stats().faults;
    assert_eq!(
        (faults.get("gzip"), faults.get("slow_body")),
        (Some(&1), Some(&1))
    );
}

/// A long head: the flag, whole, with one `X-Padding` header of the asked
/// size; counted once. And a hang-up: the request is read, the connection
/// closed without a byte.
#[test]
fn long_head_pads_the_head_and_hangup_answers_nothing() {
    let server = start(ServerConfig {
        scripted: BTreeMap::from([
            ("br".to_owned(), vec![Fault::LongHead(3000)]),
            ("cn".to_owned(), vec![Fault::Hangup]),
        ]),
        ..ServerConfig::default()
    });
    let response = raw_get(server.addr(), "/flags/br/br.gif").expect("answer");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("x-padding").map(str::len), Some(3000));
    assert_eq!(response.body, builtin_flag("br").expect("built in"));
    assert!(
        raw_get(server.addr(), "/flags/cn/cn.gif").is_err(),
        "a hang-up sends no answer"
    );
    let faults = server.stats().faults;
    assert_eq!(
        (faults.get("long_head"), faults.get("hangup")),
        (Some(&1), Some(&1))
    );
}
