//! One fetch, judged the same way whatever the HTTP client.
//!
//! Three clients run the models: ureq (`flags_seq::HttpClient`, for every
//! blocking model), reqwest's async client (`flags-async`) and
//! reqwest's blocking one (`flags-threadpool --client reqwest`). Each reads
//! a response through its own types, but what it then decides is the same
//! for all, so it is decided here, on plain values, and no client library
//! is needed to read it:
//!
//! - [`ResponseHead`]: the status line and the headers that matter, read
//!   once by each client; [`ResponseHead::check_status`] (200, 404 or an
//!   error carrying `Retry-After`) and [`ResponseHead::check_encoding`].
//! - [`BodyBuffer`]: a body read piece by piece under the
//!   [`MAX_BODY_BYTES`] cap, then checked against its `Content-Length`
//!   ([`check_body`]); [`check_gif`] for a flag.
//! - [`ClientOptions`]: what a client is built with for a job (deadline,
//!   the server's addresses looked up once, `--cacert`), for the two
//!   reqwest clients, whose builders are two types with no common trait.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::url::lookup_host;
use crate::{DownloadJob, SetupError};

/// The largest body accepted, 10 MiB; a larger one is an error.
pub const MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;

/// Why fetching one URL failed. Model-independent: the HTTP client's own
/// error is turned into a one-line message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// 404: there is no such flag. Never retried.
    #[error("HTTP 404 Not Found")]
    NotFound,
    /// Any other status than 200.
    #[error("HTTP {code} {reason}")]
    Status {
        /// The status code.
        code: u16,
        /// Its reason phrase, like `I'm a teapot`.
        reason: String,
        /// The server's `Retry-After` as a wait from when the answer came
        /// ([`parse_retry_after`]), when it sent one that can be read.
        retry_after: Option<Duration>,
    },
    /// The body is longer than [`MAX_BODY_BYTES`].
    #[error("body over the {} MiB cap", MAX_BODY_BYTES / 1024 / 1024)]
    TooLarge,
    /// The request did not complete: timeout, refused, reset, truncated.
    #[error("{0}")]
    Transport(String),
    /// A 200 whose body is not a GIF image: an HTML page from a proxy or a
    /// captive portal, say. Never saved as a flag.
    #[error("not a GIF image (Content-Type {content_type})")]
    NotGif {
        /// What the server said the body was, `none` when it did not say.
        content_type: String,
    },
    /// A body in a `Content-Encoding` the client did not ask for (it asks
    /// for none): refused before reading, since it could not be checked
    /// against the cap, nor saved as it is.
    #[error("Content-Encoding {0} was not asked for")]
    Encoding(String),
    /// A redirect that is not followed: to another scheme than http or
    /// https, without a `Location`, or past the limit
    /// ([`crate::redirect`]).
    #[error("{0}")]
    Redirect(String),
}

impl FetchError {
    /// Whether trying again may help: everything but a 404.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, FetchError::NotFound)
    }
}

/// The longest a client waits for the rest of a body it will not use (a
/// 404 page, a redirect's text) before dropping it with its connection.
///
/// Reading such a body to its end lets the connection go back to the pool,
/// which is worth a few milliseconds, not more: a server that drips its 404
/// page would otherwise hold the request until `--timeout`. A body that is
/// all there (the usual case: a few hundred bytes that came with the head)
/// is read at once; one still arriving after this long costs only its
/// connection.
pub const DRAIN_WINDOW: Duration = Duration::from_millis(50);

/// Judge a response by its status line, before reading its body: 200 is
/// `Ok`, 404 is [`FetchError::NotFound`], anything else a
/// [`FetchError::Status`] carrying the server's `Retry-After` (seconds or
/// an HTTP date, as a wait from now: [`parse_retry_after`]).
///
/// ```
/// use flags_core::fetch::check_status;
/// use flags_core::fetch::FetchError;
/// assert_eq!(check_status(200, "OK", None), Ok(()));
/// assert_eq!(check_status(404, "Not Found", None), Err(FetchError::NotFound));
/// let busy = check_status(503, "Service Unavailable", Some("2")).unwrap_err();
/// assert_eq!(busy.to_string(), "HTTP 503 Service Unavailable");
/// ```
pub fn check_status(code: u16, reason: &str, retry_after: Option<&str>) -> Result<(), FetchError> {
    match code {
        200 => Ok(()),
        404 => Err(FetchError::NotFound),
        _ => Err(FetchError::Status {
            code,
            reason: reason.to_string(),
            retry_after: retry_after.and_then(parse_retry_after),
        }),
    }
}

/// Before reading a body: refuse one whose `Content-Length` is over
/// [`MAX_BODY_BYTES`] without reading it, and say how many bytes to reserve.
///
/// ```
/// use flags_core::fetch::body_capacity;
/// use flags_core::fetch::FetchError;
/// assert_eq!(body_capacity(Some(1234)), Ok(1234));
/// assert_eq!(body_capacity(Some(11 << 20)), Err(FetchError::TooLarge));
/// assert_eq!(body_capacity(None), Ok(0));
/// ```
pub fn body_capacity(declared: Option<u64>) -> Result<usize, FetchError> {
    match declared {
        Some(length) if length > MAX_BODY_BYTES => Err(FetchError::TooLarge),
        // At most 10 MiB, so it fits in a usize on every platform we build for.
        Some(length) => Ok(usize::try_from(length).unwrap_or(0)),
        None => Ok(0),
    }
}

/// After reading a body: refuse one shorter than its `Content-Length`
/// (the connection was cut) or empty.
///
/// ```
/// use flags_core::fetch::check_body;
/// assert_eq!(check_body(b"GIF89a".to_vec(), Some(6)), Ok(b"GIF89a".to_vec()));
/// assert_eq!(
///     check_body(b"GIF".to_vec(), Some(6)).unwrap_err().to_string(),
///     "body truncated: 3 of 6 bytes"
/// );
/// assert!(check_body(Vec::new(), None).is_err());
/// ```
pub fn check_body(body: Vec<u8>, declared: Option<u64>) -> Result<Vec<u8>, FetchError> {
    if let Some(length) = declared.filter(|length| *length != body.len() as u64) {
        return Err(FetchError::Transport(format!(
            "body truncated: {} of {length} bytes",
            body.len()
        )));
    }
    if body.is_empty() {
        return Err(FetchError::Transport("empty body".to_string()));
    }
    Ok(body)
}

/// What every flag starts with: the GIF signature, version 87a or 89a.
pub const GIF_SIGNATURES: [&[u8]; 2] = [b"GIF87a", b"GIF89a"];

/// After reading a flag: refuse a body that does not start with a GIF
/// signature, naming what the server said it was.
///
/// ```
/// use flags_core::fetch::check_gif;
/// assert!(check_gif(b"GIF89a...".to_vec(), Some("image/gif")).is_ok());
/// assert_eq!(
///     check_gif(b"<html>".to_vec(), Some("text/html")).unwrap_err().to_string(),
///     "not a GIF image (Content-Type text/html)"
/// );
/// ```
pub fn check_gif(body: Vec<u8>, content_type: Option<&str>) -> Result<Vec<u8>, FetchError> {
    if GIF_SIGNATURES
        .iter()
        .any(|signature| body.starts_with(signature))
    {
        return Ok(body);
    }
    // The type is the server's text: keep it short and printable.
    let content_type: String = content_type
        .unwrap_or("none")
        .chars()
        .filter(|character| !character.is_control())
        .take(80)
        .collect();
    Err(FetchError::NotGif { content_type })
}

/// Before reading a body: the clients ask for no `Content-Encoding`, so
/// any but `identity` is refused. An empty header lists no coding, so it
/// is `identity` too (RFC 9110's list syntax allows empty elements).
///
/// ```
/// use flags_core::fetch::check_encoding;
/// assert!(check_encoding(None).is_ok());
/// assert!(check_encoding(Some("identity")).is_ok());
/// assert!(check_encoding(Some("")).is_ok());
/// assert!(check_encoding(Some(" \t")).is_ok());
/// assert_eq!(
///     check_encoding(Some("gzip")).unwrap_err().to_string(),
///     "Content-Encoding gzip was not asked for"
/// );
/// ```
pub fn check_encoding(content_encoding: Option<&str>) -> Result<(), FetchError> {
    match content_encoding.map(str::trim) {
        None | Some("") => Ok(()),
        Some(encoding) if encoding.eq_ignore_ascii_case("identity") => Ok(()),
        Some(encoding) => Err(FetchError::Encoding(
            encoding
                .chars()
                .filter(|character| !character.is_control())
                .take(40)
                .collect(),
        )),
    }
}

/// The header names a client reads, lower case.
const RETRY_AFTER: &str = "retry-after";
const CONTENT_TYPE: &str = "content-type";
const CONTENT_ENCODING: &str = "content-encoding";

/// What every client reads of a response's head, as plain values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code, like 404.
    pub status: u16,
    /// Its reason phrase, like `Not Found` (empty when there is none).
    pub reason: String,
    /// `Retry-After`, when the server sent one of visible ASCII; any other
    /// is treated as absent, so the usual backoff applies.
    pub retry_after: Option<String>,
    /// `Content-Type`, as text (bytes that are not UTF-8 replaced).
    pub content_type: Option<String>,
    /// `Content-Encoding`, the same way.
    pub content_encoding: Option<String>,
}

impl ResponseHead {
    /// Read a head from its status and a lookup of its headers by (lower
    /// case) name, giving the first value's bytes: each client passes its
    /// own header map.
    ///
    /// ```
    /// use flags_core::fetch::ResponseHead;
    /// let headers = [("retry-after", &b"2"[..]), ("content-type", &b"image/gif"[..])];
    /// let head = ResponseHead::read(503, "Service Unavailable", |name| {
    ///     headers.iter().find(|(key, _)| *key == name).map(|(_, value)| *value)
    /// });
    /// assert_eq!(head.retry_after.as_deref(), Some("2"));
    /// assert_eq!(head.content_type.as_deref(), Some("image/gif"));
    /// assert_eq!(head.check_status().unwrap_err().to_string(), "HTTP 503 Service Unavailable");
    /// ```
    pub fn read<'h>(
        status: u16,
        reason: &str,
        header: impl Fn(&str) -> Option<&'h [u8]>,
    ) -> ResponseHead {
        let text = |name| header(name).map(|value| String::from_utf8_lossy(value).into_owned());
        ResponseHead {
            status,
            reason: reason.to_string(),
            retry_after: header(RETRY_AFTER)
                .filter(|value| value.iter().all(|&byte| is_visible_ascii(byte)))
                .map(|value| String::from_utf8_lossy(value).into_owned()),
            content_type: text(CONTENT_TYPE),
            content_encoding: text(CONTENT_ENCODING),
        }
    }

    /// [`read`](Self::read) from `http`'s types, which ureq, reqwest and
    /// hyper all hand back: the one place a client's head becomes ours.
    ///
    /// ```
    /// use flags_core::fetch::ResponseHead;
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("content-type", http::HeaderValue::from_static("image/gif"));
    /// let head = ResponseHead::of(http::StatusCode::NOT_FOUND, &headers);
    /// assert_eq!(head.content_type.as_deref(), Some("image/gif"));
    /// assert_eq!(head.check_status().unwrap_err().to_string(), "HTTP 404 Not Found");
    /// ```
    pub fn of(status: http::StatusCode, headers: &http::HeaderMap) -> ResponseHead {
        ResponseHead::read(
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            |name| headers.get(name).map(http::HeaderValue::as_bytes),
        )
    }

    /// [`check_status`] of this head: judged before the body is read.
    pub fn check_status(&self) -> Result<(), FetchError> {
        check_status(self.status, &self.reason, self.retry_after.as_deref())
    }

    /// [`check_encoding`] of this head: an encoding we did not ask for is
    /// refused before the body is read.
    pub fn check_encoding(&self) -> Result<(), FetchError> {
        check_encoding(self.content_encoding.as_deref())
    }
}

/// What `http`'s `HeaderValue::to_str` accepts: a tab or printable ASCII.
fn is_visible_ascii(byte: u8) -> bool {
    byte == b'\t' || (32..127).contains(&byte)
}

/// A body read piece by piece, at most [`MAX_BODY_BYTES`]: what a client
/// that gets its body in pieces (reqwest's chunks, or reads) fills.
///
/// ```
/// use flags_core::fetch::BodyBuffer;
/// use flags_core::fetch::FetchError;
/// let mut body = BodyBuffer::new(Some(6)).unwrap();
/// body.push(b"GIF").unwrap();
/// body.push(b"89a").unwrap();
/// assert_eq!(body.finish().unwrap(), b"GIF89a");
/// assert_eq!(BodyBuffer::new(Some(11 << 20)).unwrap_err(), FetchError::TooLarge);
/// ```
#[derive(Debug)]
pub struct BodyBuffer {
    body: Vec<u8>,
    declared: Option<u64>,
}

impl BodyBuffer {
    /// A buffer for a body whose `Content-Length` is `declared`: one
    /// announced over the cap is refused now, before any read
    /// ([`body_capacity`]).
    pub fn new(declared: Option<u64>) -> Result<BodyBuffer, FetchError> {
        Ok(BodyBuffer {
            body: Vec::with_capacity(body_capacity(declared)?),
            declared,
        })
    }

    /// Add the next piece; a body that passes the cap is refused as soon as
    /// it does.
    pub fn push(&mut self, piece: &[u8]) -> Result<(), FetchError> {
        if (self.body.len() + piece.len()) as u64 > MAX_BODY_BYTES {
            return Err(FetchError::TooLarge);
        }
        self.body.extend_from_slice(piece);
        Ok(())
    }

    /// The whole body, once it has ended: refused if shorter than its
    /// `Content-Length` or empty ([`check_body`]).
    pub fn finish(self) -> Result<Vec<u8>, FetchError> {
        check_body(self.body, self.declared)
    }
}

/// A `--cacert` file, read and checked to hold a PEM certificate: each
/// client parses the certificates itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaFile {
    /// The path given to `--cacert`.
    pub path: PathBuf,
    /// The file's bytes.
    pub pem: Vec<u8>,
}

impl CaFile {
    /// Read `path` ([`read_pem`](CaFile::read_pem)); a file that cannot be
    /// read or holds no certificate cannot build a client.
    pub fn read(path: &Path) -> Result<CaFile, SetupError> {
        let pem = CaFile::read_pem(path).map_err(|reason| refused(path, reason))?;
        Ok(CaFile {
            path: path.to_path_buf(),
            pem,
        })
    }

    /// Read a `--cacert` file: its bytes, if it can be read and holds at
    /// least one PEM certificate. Each HTTP client then parses the
    /// certificates itself; the message says why the file cannot be used.
    pub fn read_pem(path: &Path) -> Result<Vec<u8>, String> {
        let pem = std::fs::read(path).map_err(|error| error.to_string())?;
        let marker: &[u8] = b"-----BEGIN CERTIFICATE-----";
        if pem.windows(marker.len()).any(|window| window == marker) {
            Ok(pem)
        } else {
            Err("no PEM certificate in the file".to_string())
        }
    }

    /// The error for a file whose certificates the client refuses:
    /// `cannot build the HTTP client: --cacert PATH: REASON`.
    pub fn refused(&self, reason: impl fmt::Display) -> SetupError {
        refused(&self.path, reason)
    }
}

fn refused(path: &Path, reason: impl fmt::Display) -> SetupError {
    SetupError::Client(format!("--cacert {}: {reason}", path.display()))
}

/// The most of a body that will not be used (a 404 page) that a client
/// reads to keep its connection, within [`DRAIN_WINDOW`]; past that the
/// body is dropped with its connection.
pub const MAX_DRAIN_BYTES: u64 = 64 * 1024;

/// What an HTTP client of the models is built with for one job, as plain
/// values: the two reqwest clients (`flags-async`'s and the thread pool's
/// `reqwest::blocking` one) read these and set them on their builders, two
/// types with no trait in common, so the choices are made here once. The
/// ureq client reads [`CaFile`] and its own tuned settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// `--timeout`: the deadline of each whole request.
    pub timeout: Duration,
    /// The longest a connection may take to open: also `--timeout`.
    pub connect_timeout: Duration,
    /// The server's host and its addresses, looked up once now
    /// ([`lookup_host`]), for the client to use instead of a lookup per new
    /// connection; `None` for an IP address, or when the lookup failed (the
    /// client's own then reports it).
    ///
    /// Every address has port 0: they answer for the host, never for a
    /// port. reqwest's `resolve_to_addrs` matches the host alone, so with
    /// the base URL's port in them a redirect from `http://localhost/` to
    /// `https://localhost/` would be sent, in TLS, to port 80. With port 0
    /// the client takes each URL's own port, written or by scheme
    /// (reqwest's documentation of `resolve_to_addrs`; hyper-util's
    /// connector does the same for any resolver).
    pub known_addresses: Option<(String, Vec<SocketAddr>)>,
    /// `--cacert`, trusted on top of the usual web roots.
    pub ca_file: Option<CaFile>,
    // --- Tuning: TCP keep-alive probes ---
    /// Whether the client asks the kernel for TCP keep-alive probes. Off:
    /// probes find dead peers on connections idle for minutes, a run lasts
    /// seconds, and each of the three settings is one system call more per
    /// connection.
    pub keepalive_probes: bool,
}

impl ClientOptions {
    /// The options of `job`'s clients. Looks the server's name up, so it
    /// blocks: call it before an async runtime starts, not on it.
    ///
    /// ```
    /// use flags_core::DownloadJob;
    /// use flags_core::fetch::ClientOptions;
    /// // The port is left to the URL (80 here), and 0 in the addresses.
    /// let job = DownloadJob::new(vec!["BR".into()], "http://localhost/flags", ".");
    /// let options = ClientOptions::for_job(&job).unwrap();
    /// if let Some((host, addresses)) = &options.known_addresses {
    ///     assert_eq!(host, "localhost");
    ///     assert!(addresses.iter().all(|address| address.port() == 0));
    /// }
    /// ```
    pub fn for_job(job: &DownloadJob) -> Result<ClientOptions, SetupError> {
        // The lookup needs a port; the client must not be given one.
        let known_addresses = lookup_host(&job.base_url).map(|(host, mut addresses)| {
            for address in &mut addresses {
                address.set_port(0);
            }
            (host, addresses)
        });
        let ca_file = job.ca_cert.as_deref().map(CaFile::read).transpose()?;
        Ok(ClientOptions {
            timeout: job.timeout,
            connect_timeout: job.timeout,
            known_addresses,
            ca_file,
            keepalive_probes: false,
        })
    }
}

/// Read a `Retry-After` header as the wait it asks for from now: either of
/// its two forms (RFC 9110, section 10.2.3), a number of seconds or an
/// HTTP date ([`parse_retry_after_at`]). Anything else is `None`: the usual
/// backoff applies.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(flags_core::fetch::parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
/// assert_eq!(flags_core::fetch::parse_retry_after("soon"), None);
/// // A date in the past: no wait asked for.
/// assert_eq!(
///     flags_core::fetch::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
///     Some(Duration::ZERO)
/// );
/// ```
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    parse_retry_after_at(value, SystemTime::now())
}

/// [`parse_retry_after`] with `now` given: a number of seconds is that
/// wait; an HTTP date (the preferred `Sun, 06 Nov 1994 08:49:37 GMT`, or
/// the two obsolete forms, read by the `httpdate` crate) is the time from
/// `now` until then, and zero when it is already past.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use flags_core::fetch::parse_retry_after_at;
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_774); // 08:49:34
/// let date = "Sun, 06 Nov 1994 08:49:37 GMT";
/// assert_eq!(parse_retry_after_at(date, now), Some(Duration::from_secs(3)));
/// assert_eq!(
///     parse_retry_after_at("Sunday, 06-Nov-94 08:49:37 GMT", now),
///     Some(Duration::from_secs(3))
/// );
/// assert_eq!(parse_retry_after_at("Sun Nov  6 08:49:37 1994", now), Some(Duration::from_secs(3)));
/// let later = now + Duration::from_secs(60);
/// assert_eq!(parse_retry_after_at(date, later), Some(Duration::ZERO));
/// assert_eq!(parse_retry_after_at("-1", now), None);
/// ```
pub fn parse_retry_after_at(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    // An error here means the date is before `now`: retry now.
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}
