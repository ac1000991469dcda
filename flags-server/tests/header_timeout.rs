//! The header-read timeout (`ServerConfig::header_read_timeout`,
//! `--header-timeout`): a connection that does not send a whole request
//! head in time is closed, whether it sent nothing, idles after a response,
//! or sends its head a few bytes at a time; a request being answered is
//! not under it, however long its answer takes.

mod common;

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{
    assert_closed_without_answer, read_head, read_until_closed, send_get, start, wait_for_stats,
};
use flags_server::{DRIP_INTERVAL, Fault, FlagServer, ServerConfig, builtin_flag};

/// The timeout of these tests: short, so they end soon.
const TIMEOUT: Duration = Duration::from_millis(200);
/// How long a test keeps a connection busy before it gives up on the
/// server closing it: a hang guard, many times [`TIMEOUT`].
const PATIENCE: Duration = Duration::from_secs(30);

/// A server with the short timeout and this script for `br`.
fn server(faults: Vec<Fault>) -> FlagServer {
    start(ServerConfig {
        header_read_timeout: Some(TIMEOUT),
        scripted: BTreeMap::from([("br".to_owned(), faults)]),
        ..ServerConfig::default()
    })
}

/// A connection that never sends a byte is closed, without an answer.
#[test]
fn a_silent_connection_is_closed() {
    let server = server(vec![]);
    let silent = TcpStream::connect(server.addr()).expect("connect");
    assert_closed_without_answer(silent);
    assert_eq!(server.stats().requests, 0);
}

/// A keep-alive connection is closed once it has idled that long after
/// its response: the response whole, then the end of the stream.
#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let server = server(vec![]);
    let mut stream = send_get(server.addr(), "/flags/br/br.gif");
    let head = read_head(&mut stream);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("connection"), None, "kept alive");
    let flag = builtin_flag("br").expect("built in");
    let mut body = vec![0_u8; flag.len()];
    stream.read_exact(&mut body).expect("the body");
    assert_eq!(body, flag);
    assert!(read_until_closed(&mut stream).is_empty());
}

/// A head sent a line at a time, never ended (slowloris), is cut off,
/// although bytes keep coming well within the timeout.
#[test]
fn a_head_that_never_ends_is_cut_off() {
    let server = server(vec![]);
    let mut stream = TcpStream::connect(server.addr()).expect("connect");
    stream
        .write_all(b"GET /flags/br/br.gif HTTP/1.1\r\nHost: x\r\n")
        .expect("send");
    stream
        .set_read_timeout(Some(TIMEOUT / 4))
        .expect("read timeout");
    let started = Instant::now();
    let mut byte = [0_u8; 1];
    let closed = loop {
        assert!(
            started.elapsed() < PATIENCE,
            "still open after {PATIENCE:?}"
        );
        // One more header line, then see whether the server has closed.
        if stream.write_all(b"X-Slow: a\r\n").is_err() {
            break true;
        }
        match stream.read(&mut byte) {
            Ok(0) => break true,
            Ok(_) => break false,
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break true,
        }
    };
    assert!(closed, "the server answered a head that never ended");
    assert_eq!(server.stats().requests, 0);
}

/// A stalled request is not cut off by the timeout: it is still open many
/// timeouts later, and closes unanswered only at shutdown.
#[test]
fn a_stall_outlives_the_timeout() {
    let server = server(vec![Fault::Stall]);
    let mut stream = send_get(server.addr(), "/flags/br/br.gif");
    wait_for_stats(&server, "the stalled request", |stats| {
        stats.faults.contains_key("stall")
    });
    std::thread::sleep(TIMEOUT * 3);
    stream
        .set_read_timeout(Some(TIMEOUT))
        .expect("read timeout");
    let error = stream
        .read(&mut [0_u8; 1])
        .expect_err("neither an answer nor a close");
    assert!(
        matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{error}"
    );
    server.shutdown();
    assert_closed_without_answer(stream);
}

/// A dripping body goes on past the timeout: its third byte comes two
/// drip intervals (ten timeouts) after its head.
#[test]
fn a_drip_outlives_the_timeout() {
    assert!(DRIP_INTERVAL > TIMEOUT * 2);
    let server = server(vec![Fault::Drip]);
    let mut stream = send_get(server.addr(), "/flags/br/br.gif");
    let head = read_head(&mut stream);
    assert_eq!(head.status, 200);
    let mut start_of_body = [0_u8; 3];
    stream.read_exact(&mut start_of_body).expect("three bytes");
    assert_eq!(start_of_body, builtin_flag("br").expect("built in")[..3]);
}
