//! The fault modes added to the older ones of `tests/faults.rs`, each seen
//! byte for byte from a bare socket: redirects of every kind, statuses
//! with odd headers, bodies that drip or lie, broken framing, odd heads, a
//! reset, and a server that never reads.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use common::{
    assert_closed_without_answer, client, decode_chunked, raw_get, read_head, read_until_closed,
    send_get, start, wait_for_stats,
};
use flags_server::{FAULT_MODES, Fault, FlagServer, HUGE_HEAD_PADDING, ServerConfig, builtin_flag};

/// A server whose `br` flag gets these scripted faults, one per request.
fn scripted_server(faults: Vec<Fault>) -> FlagServer {
    start(ServerConfig {
        scripted: BTreeMap::from([("br".to_owned(), faults)]),
        ..ServerConfig::default()
    })
}

/// The flag of `br`, as the server serves it.
fn flag() -> &'static [u8] {
    builtin_flag("br").expect("built in")
}

/// Sends `GET path` with `Connection: close` and `Host: host`, and reads
/// every byte until the server closes the connection.
fn raw_exchange(server: &FlagServer, host: &str, path: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(server.addr()).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    read_until_closed(&mut stream)
}

/// The head of raw bytes (up to the first blank line) as text, and the rest.
fn split_head(received: &[u8]) -> (String, &[u8]) {
    let end = received
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a head");
    (
        String::from_utf8_lossy(&received[..end + 4]).into_owned(),
        &received[end + 4..],
    )
}

/// Every redirect points where its row says: the same host (the one the
/// request named, without its port) on the default port, https, a `file:`
/// and a `data:` URL, 300 and 305 back to the same path, a raw space.
#[test]
fn redirects_point_where_they_say() {
    let server = scripted_server(vec![
        Fault::RedirectToDefaultPort,
        Fault::RedirectToHttps,
        Fault::RedirectToFile,
        Fault::RedirectToData,
        Fault::RedirectWith(300),
        Fault::RedirectWith(305),
        Fault::RedirectWithSpace,
    ]);
    let path = "/flags/br/br.gif";
    let mut answers = Vec::new();
    for host in [
        "localhost:8000",
        "flags.test:1234",
        "[::1]:8000",
        "x",
        "x",
        "x",
        "x",
    ] {
        let received = raw_exchange(&server, host, path);
        let response = common::parse_response(&received, false).expect("a response");
        answers.push((
            response.status,
            response.header("location").unwrap_or_default().to_owned(),
        ));
    }
    assert_eq!(
        answers,
        [
            (301, "http://localhost/flags/br/br.gif?hop=1".to_owned()),
            (301, "https://flags.test/flags/br/br.gif?hop=2".to_owned()),
            (302, "file:///etc/passwd".to_owned()),
            (
                302,
                "data:image/gif;base64,R0lGODlhAQABAAAAACwAAAAAAQABAAACADs=".to_owned()
            ),
            (300, "/flags/br/br.gif?hop=3".to_owned()),
            (305, "/flags/br/br.gif?hop=4".to_owned()),
            (302, "/flags/br/br.gif?hop=5&note=a b".to_owned()),
        ]
    );
    let faults = server.stats().faults;
    for name in [
        "redirect_default_port",
        "redirect_https",
        "redirect_file",
        "redirect_data",
        "redirect_300",
        "redirect_305",
        "redirect_space",
    ] {
        assert_eq!(faults.get(name), Some(&1), "{name}: {faults:?}");
    }
    // The script is used up: the flag.
    let last = raw_get(server.addr(), path).expect("answer");
    assert_eq!((last.status, last.body.as_slice()), (200, flag()));
}

/// The data URL's GIF is a GIF, and the raw space of `redirect_space`,
/// escaped by a client that follows it, still names the flag.
#[test]
fn a_spaced_location_escaped_is_the_same_flag() {
    let server = scripted_server(vec![Fault::RedirectWithSpace]);
    let response = client()
        .get(format!("{}/br/br.gif", server.base_url()))
        .send()
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.url().query(), Some("hop=1&note=a%20b"));
    assert_eq!(response.bytes().expect("the body").as_ref(), flag());
    let stats = server.stats();
    assert_eq!((stats.by_status[&302], stats.by_status[&200]), (1, 1));
}

/// A redirect or a 404 whose text body drips: the head comes at once, with
/// the text's length, then its first byte, and no more for a while.
#[test]
fn redirect_and_not_found_bodies_drip() {
    let server = scripted_server(vec![Fault::RedirectDrip, Fault::DripNotFound]);
    for (status, text) in [(302, &b"302 Found\n"[..]), (404, &b"404 Not Found\n"[..])] {
        let mut stream = send_get(server.addr(), "/flags/br/br.gif");
        let head = read_head(&mut stream);
        assert_eq!(head.status, status);
        assert_eq!(head.content_length(), Some(text.len() as u64));
        let mut first = [0_u8; 1];
        stream.read_exact(&mut first).expect("the first byte");
        assert_eq!(first[0], text[0]);
        if status == 302 {
            assert_eq!(head.header("location"), Some("/flags/br/br.gif?hop=1"));
        }
    }
    let faults = server.stats().faults;
    assert_eq!(
        (faults.get("redirect_drip"), faults.get("drip_404")),
        (Some(&1), Some(&1))
    );
}

/// 401 asks for Basic credentials; `busy` asks to wait 136 years and
/// `busy_until` until a date 3 s ahead (2 to 3 s, a date having whole
/// seconds); a body that is no GIF comes labelled `image/gif`.
#[test]
fn statuses_with_odd_headers_and_a_lying_type() {
    let server = scripted_server(vec![
        Fault::BasicAuth,
        Fault::Busy(u32::MAX),
        Fault::BusyUntil(3),
        Fault::NotGif,
    ]);
    let path = "/flags/br/br.gif";
    let auth = raw_get(server.addr(), path).expect("answer");
    assert_eq!(auth.status, 401);
    assert_eq!(
        auth.header("www-authenticate"),
        Some("Basic realm=\"flags\"")
    );
    let busy = raw_get(server.addr(), path).expect("answer");
    assert_eq!(
        (busy.status, busy.header("retry-after")),
        (503, Some("4294967295"))
    );
    let asked = SystemTime::now();
    let until = raw_get(server.addr(), path).expect("answer");
    assert_eq!(until.status, 503);
    let date = httpdate::parse_http_date(until.header("retry-after").expect("Retry-After"))
        .expect("an HTTP date");
    let ahead = date.duration_since(asked).expect("a date ahead");
    assert!(
        ahead > Duration::from_secs(1) && ahead <= Duration::from_secs(3),
        "{ahead:?}"
    );
    let not_gif = raw_get(server.addr(), path).expect("answer");
    assert_eq!(
        (not_gif.status, not_gif.header("content-type")),
        (200, Some("image/gif"))
    );
    assert!(!not_gif.body.starts_with(b"GIF8"), "{:?}", not_gif.body);
    assert_eq!(
        not_gif.content_length(),
        Some(not_gif.body.len() as u64),
        "a whole body"
    );
    let faults = server.stats().faults;
    for name in ["basic_auth", "busy", "busy_until", "not_gif"] {
        assert_eq!(faults.get(name), Some(&1), "{name}: {faults:?}");
    }
}

/// 103 Early Hints and 100 Continue, then the 200 with the flag, and the
/// connection closed; counted as one request, a 200.
#[test]
fn informational_responses_come_before_the_flag() {
    let server = scripted_server(vec![Fault::Informational]);
    let received = raw_exchange(&server, "x", "/flags/br/br.gif");
    let (early, rest) = split_head(&received);
    assert!(early.starts_with("HTTP/1.1 103 Early Hints\r\n"), "{early}");
    let (continued, rest) = split_head(rest);
    assert_eq!(continued, "HTTP/1.1 100 Continue\r\n\r\n");
    let response = common::parse_response(rest, false).expect("the final response");
    assert_eq!(response.status, 200);
    assert_eq!(response.content_length(), Some(flag().len() as u64));
    assert_eq!(response.body, flag());
    let stats = server.stats();
    assert_eq!(
        (
            stats.requests,
            stats.by_status[&200],
            stats.faults["informational"]
        ),
        (1, 1, 1)
    );
}

/// The framing faults, each on its own bytes: two lengths, a length and
/// chunks, a broken chunk size, trailers, a body ended by the close, and a
/// second response after the body.
#[test]
fn framing_faults_frame_as_they_say() {
    let server = scripted_server(vec![
        Fault::DuplicateLength,
        Fault::LengthAndChunked,
        Fault::BadChunk,
        Fault::Trailers,
        Fault::CloseDelimited,
        Fault::AfterBody,
    ]);
    let flag = flag();
    let length = flag.len();
    let next = || {
        let received = raw_exchange(&server, "x", "/flags/br/br.gif");
        common::parse_response(&received, false).expect("a response")
    };

    let duplicate = next();
    let lengths: Vec<&str> = duplicate
        .headers
        .iter()
        .filter(|(name, _)| name == "content-length")
        .map(|(_, value)| value.as_str())
        .collect();
    assert_eq!(lengths, [length.to_string(), (length - 1).to_string()]);
    assert_eq!(duplicate.body, flag);

    let both = next();
    assert_eq!(both.content_length(), Some(length as u64));
    assert_eq!(both.header("transfer-encoding"), Some("chunked"));
    assert_eq!(decode_chunked(&both.body).expect("chunks").concat(), flag);

    let bad = next();
    assert_eq!(bad.header("transfer-encoding"), Some("chunked"));
    assert!(decode_chunked(&bad.body).is_err());
    let first_chunk = format!("{:x}\r\n", length / 2);
    assert!(bad.body.starts_with(first_chunk.as_bytes()));

    let trailers = next();
    assert_eq!(trailers.header("trailer"), Some("x-flag-length"));
    assert_eq!(
        decode_chunked(&trailers.body).expect("chunks").concat(),
        flag
    );
    let end = format!("\r\n0\r\nx-flag-length: {length}\r\n\r\n");
    assert!(trailers.body.ends_with(end.as_bytes()));

    let closed = next();
    assert_eq!(
        (
            closed.header("content-length"),
            closed.header("transfer-encoding")
        ),
        (None, None)
    );
    assert!(!closed.ended_with_error, "a clean close ends the body");
    assert_eq!(closed.body, flag);

    let after = next();
    assert_eq!(after.content_length(), Some(length as u64));
    assert_eq!(&after.body[..length], flag);
    let extra = common::parse_response(&after.body[length..], false).expect("a second response");
    assert_eq!(extra.status, 200);
    assert!(extra.body.starts_with(b"GIF89a") && extra.body != flag);
    assert_eq!(extra.content_length(), Some(extra.body.len() as u64));

    let stats = server.stats();
    assert_eq!((stats.requests, stats.by_status[&200]), (6, 6));
    for name in [
        "duplicate_length",
        "length_and_chunked",
        "bad_chunk",
        "trailers",
        "close_delimited",
        "after_body",
    ] {
        assert_eq!(stats.faults.get(name), Some(&1), "{name}");
    }
}

/// A folded header (a line that starts with a space continues the one
/// before it), and a 1 MiB head; the flag after each.
#[test]
fn folded_and_huge_heads() {
    let server = scripted_server(vec![Fault::FoldedHead, Fault::HugeHead]);
    let received = raw_exchange(&server, "x", "/flags/br/br.gif");
    let (head, body) = split_head(&received);
    assert!(
        head.contains("\r\nx-folded: a header on\r\n two lines\r\n"),
        "{head}"
    );
    assert_eq!(body, flag());
    let huge = raw_get(server.addr(), "/flags/br/br.gif").expect("answer");
    assert_eq!(
        huge.header("x-padding").map(str::len),
        Some(HUGE_HEAD_PADDING)
    );
    assert_eq!(huge.body, flag());
    let faults = server.stats().faults;
    assert_eq!(
        (faults.get("folded_head"), faults.get("huge_head")),
        (Some(&1), Some(&1))
    );
}

/// A reset: the head of the flag with its length, then RST: the client's
/// read fails (not a clean end of stream), and no byte of body came.
#[test]
fn reset_cuts_with_a_reset() {
    let server = scripted_server(vec![Fault::Reset]);
    let response = raw_get(server.addr(), "/flags/br/br.gif").expect("the head");
    assert_eq!(response.status, 200);
    assert_eq!(response.content_length(), Some(flag().len() as u64));
    assert!(response.body.is_empty());
    assert!(response.ended_with_error, "a reset, not a close");
    let stats = wait_for_stats(&server, "the reset request to end", |stats| {
        stats.in_flight == 0
    });
    assert_eq!(stats.faults["reset"], 1);
}

/// The first `silent_connections` connections are never read: no request
/// is counted, no byte comes back, and the header-read timeout closes
/// them; the next connection is served.
#[test]
fn silent_connections_are_never_read() {
    let server = start(ServerConfig {
        silent_connections: 1,
        header_read_timeout: Some(Duration::from_millis(200)),
        ..ServerConfig::default()
    });
    let silent = send_get(server.addr(), "/flags/br/br.gif");
    assert_closed_without_answer(silent);
    let served = raw_get(server.addr(), "/flags/br/br.gif").expect("answer");
    assert_eq!(served.status, 200);
    let stats = server.stats();
    assert_eq!(
        (
            stats.connections,
            stats.requests,
            stats.faults["never_read"]
        ),
        (2, 1, 1)
    );
}

/// `fault_rates` (what `--fault` sets) puts a fault on every request at
/// rate 1, metadata included; `never_read` at rate 1 leaves every
/// connection unread; a drawn delay replaces the configured one.
#[test]
fn fault_rates_draw_any_fault() {
    let server = start(ServerConfig {
        fault_rates: vec![(Fault::NotGif, 1.0)],
        ..ServerConfig::default()
    });
    for path in ["/flags/br/br.gif", "/flags/zz/zz.gif"] {
        let response = raw_get(server.addr(), path).expect("answer");
        assert_eq!(response.status, 200, "{path}");
        assert!(!response.body.starts_with(b"GIF8"));
    }
    assert_eq!(server.stats().faults["not_gif"], 2);

    let silent = start(ServerConfig {
        fault_rates: vec![(Fault::NeverRead, 1.0)],
        ..ServerConfig::default()
    });
    let stream = send_get(silent.addr(), "/flags/br/br.gif");
    wait_for_stats(&silent, "a connection left unread", |stats| {
        stats.faults.get("never_read") == Some(&1)
    });
    drop(silent);
    assert_closed_without_answer(stream);

    let delayed = start(ServerConfig {
        fault_rates: vec![(Fault::Delay(Duration::from_millis(300)), 1.0)],
        ..ServerConfig::default()
    });
    let asked = std::time::Instant::now();
    let response = raw_get(delayed.addr(), "/flags/br/br.gif").expect("answer");
    assert!(asked.elapsed() >= Duration::from_millis(300));
    assert_eq!((response.status, response.body.as_slice()), (200, flag()));
    assert_eq!(delayed.stats().faults["delay"], 1);
}

/// A fault that needs a body does nothing to a code without one (a 404),
/// and a redirect of a code without a flag leads to its 404: every row of
/// the table meets a missing code the way its outcome says.
#[test]
fn missing_codes_meet_the_faults_as_the_table_says() {
    use flags_server::Outcome;
    for mode in FAULT_MODES {
        if matches!(
            mode.fault,
            Fault::Stall | Fault::NeverRead | Fault::Hangup | Fault::Delay(_)
        ) {
            continue;
        }
        let server = start(ServerConfig {
            scripted: BTreeMap::from([("zz".to_owned(), vec![mode.fault])]),
            ..ServerConfig::default()
        });
        let mut stream = send_get(server.addr(), "/flags/zz/zz.gif");
        let head = read_head(&mut stream);
        drop(stream);
        let stats = wait_for_stats(&server, "the request to end", |stats| stats.in_flight == 0);
        let faulted = stats.faults.contains_key(mode.name);
        match mode.outcome {
            // Whatever needs the flag's body is not sent without one.
            Outcome::Ok => assert!(!faulted && head.status == 404, "{}", mode.name),
            Outcome::NotFound => assert_eq!(head.status, 404, "{}", mode.name),
            Outcome::Followed | Outcome::Error => {
                let body_fault = matches!(
                    mode.fault,
                    Fault::Drop
                        | Fault::Reset
                        | Fault::Truncate
                        | Fault::Drip
                        | Fault::Huge
                        | Fault::HugeChunked
                        | Fault::Gzip
                        | Fault::BadChunk
                        | Fault::DuplicateLength
                        | Fault::HugeHead
                );
                assert_eq!(faulted, !body_fault, "{}: {stats:?}", mode.name);
                assert_eq!(head.status == 404, body_fault, "{}", mode.name);
            }
        }
    }
}
