//! What the server's tests share: starting a server, waiting on its
//! statistics, and a bare HTTP/1.1 client over `std::net::TcpStream` for the
//! tests that must see exactly what the server sent: a cut connection, a
//! body shorter than its `Content-Length`, no answer at all, or a path that
//! a real client would clean up.

#![allow(dead_code)] // Each test file uses its own part of these helpers.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use flags_server::{FlagServer, ServerConfig, Stats};

/// How long [`wait_for_stats`] and [`assert_closed_without_answer`] wait
/// before they call it a failure. Only a hang guard: a passing test never
/// waits this long, however loaded the machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// Starts a server; no test can go on without one.
pub fn start(config: ServerConfig) -> FlagServer {
    FlagServer::start(config).expect("server starts")
}

/// Polls the server's statistics until `ready` holds, and returns the
/// snapshot that satisfied it. Panics, naming `what`, if that does not
/// happen within [`PATIENCE`].
pub fn wait_for_stats(server: &FlagServer, what: &str, ready: impl Fn(&Stats) -> bool) -> Stats {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let stats = server.stats();
        if ready(&stats) {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "waited {PATIENCE:?} for {what}: {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Connects and sends `GET path` on a keep-alive connection (no
/// `Connection: close`), for the tests that read the answer, or its
/// absence, themselves.
pub fn send_get(addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
    stream
}

/// Reads `stream` until the server closes it (cleanly or with a reset) and
/// returns what came before the close. Fails if the connection is still
/// open after [`PATIENCE`].
pub fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut received = Vec::new();
    // On an error, `read_to_end` keeps in `received` what it read before.
    if let Err(error) = stream.read_to_end(&mut received) {
        assert!(
            !matches!(
                error.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "the connection is still open: {error}"
        );
    }
    received
}

/// Reads a response head byte by byte, so that nothing of the body is read
/// with it, and parses it. Fails if the head does not come within
/// [`PATIENCE`] (which stays the stream's read timeout).
pub fn read_head(stream: &mut TcpStream) -> RawResponse {
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("the head arrives");
        head.push(byte[0]);
    }
    parse_response(&head, false).expect("a response head")
}

/// The server closed `stream` (cleanly or with a reset) without sending a
/// byte. Fails if it sent anything, or if the connection is still open
/// after [`PATIENCE`].
pub fn assert_closed_without_answer(mut stream: TcpStream) {
    let received = read_until_closed(&mut stream);
    assert!(
        received.is_empty(),
        "no answer, just a close: got {:?}",
        String::from_utf8_lossy(&received)
    );
}

/// What came back on one connection.
#[derive(Debug)]
pub struct RawResponse {
    /// The status code of the status line.
    pub status: u16,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body bytes received before the connection ended.
    pub body: Vec<u8>,
    /// True if the connection ended with an error (reset) rather than a
    /// clean close.
    pub ended_with_error: bool,
}

impl RawResponse {
    /// The value of a header, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| value.as_str())
    }

    /// The `Content-Length` header as a number.
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")?.parse().ok()
    }
}

/// Sends one request with `Connection: close` and reads until the server
/// closes the connection.
pub fn raw_request(addr: SocketAddr, method: &str, path: &str) -> io::Result<RawResponse> {
    raw_request_with(addr, method, path, &[])
}

/// [`raw_request`] with more header lines, such as `("X-Flags-Reset", "1")`.
pub fn raw_request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> io::Result<RawResponse> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    let mut received = Vec::new();
    let mut buffer = [0_u8; 16 * 1024];
    let mut ended_with_error = false;
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(count) => received.extend_from_slice(&buffer[..count]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                ended_with_error = true;
                break;
            }
        }
    }
    parse_response(&received, ended_with_error)
}

/// `GET path` with [`raw_request`].
pub fn raw_get(addr: SocketAddr, path: &str) -> io::Result<RawResponse> {
    raw_request(addr, "GET", path)
}

/// Splits a response into status, headers and body.
pub fn parse_response(received: &[u8], ended_with_error: bool) -> io::Result<RawResponse> {
    let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
    let head_end = received
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| invalid("no complete response head"))?;
    let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Ok(RawResponse {
        status,
        headers,
        body: received[head_end + 4..].to_vec(),
        ended_with_error,
    })
}

/// A blocking reqwest client that does not pool connections across tests.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(PATIENCE)
        .no_proxy()
        .build()
        .expect("a reqwest client builds")
}

/// A blocking reqwest client like [`client`] that also trusts the given PEM
/// certificate, as an HTTPS client of the server must.
pub fn client_trusting(pem: &str) -> reqwest::blocking::Client {
    client_trusting_with_timeout(pem, PATIENCE)
}

/// [`client_trusting`] with a deadline of its own for each whole request.
pub fn client_trusting_with_timeout(pem: &str, timeout: Duration) -> reqwest::blocking::Client {
    let certificate = reqwest::Certificate::from_pem(pem.as_bytes()).expect("a PEM certificate");
    reqwest::blocking::Client::builder()
        .add_root_certificate(certificate)
        .timeout(timeout)
        .no_proxy()
        .build()
        .expect("a reqwest client builds")
}

/// An error and all its sources, joined with `: `, to see why a request
/// failed (reqwest puts the TLS reason a few sources down).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Splits a `Transfer-Encoding: chunked` body into its chunks (without the
/// last, empty one). Fails if the encoding is broken or the final chunk is
/// missing.
pub fn decode_chunked(mut encoded: &[u8]) -> io::Result<Vec<Vec<u8>>> {
    let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
    let mut chunks = Vec::new();
    loop {
        let line_end = encoded
            .windows(2)
            .position(|window| window == b"\r\n")
            .ok_or_else(|| invalid("no chunk size line"))?;
        let size_line = String::from_utf8_lossy(&encoded[..line_end]);
        // A size may be followed by `;extensions`, which we ignore.
        let size_text = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
        encoded = &encoded[line_end + 2..];
        if size == 0 {
            return Ok(chunks);
        }
        if encoded.len() < size + 2 || &encoded[size..size + 2] != b"\r\n" {
            return Err(invalid("chunk cut short"));
        }
        chunks.push(encoded[..size].to_vec());
        encoded = &encoded[size + 2..];
    }
}
