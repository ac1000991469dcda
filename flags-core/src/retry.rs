//! Why a fetch failed, and when to try again.
//!
//! The models differ in how they wait (a thread sleeps, a task awaits a
//! timer), not in what they decide: that lives here, once.

use std::time::Duration;

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
        /// The server's `Retry-After`, when it sent one in seconds.
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
}

impl FetchError {
    /// Whether trying again may help: everything but a 404.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, FetchError::NotFound)
    }
}

/// Judge a response by its status line, before reading its body: 200 is
/// `Ok`, 404 is [`FetchError::NotFound`], anything else a
/// [`FetchError::Status`] carrying the server's `Retry-After` (in seconds).
///
/// ```
/// use flags_core::retry::{FetchError, check_status};
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
/// use flags_core::retry::{FetchError, body_capacity};
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
/// use flags_core::retry::check_body;
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
/// use flags_core::retry::check_gif;
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
/// any but `identity` is refused.
///
/// ```
/// use flags_core::retry::check_encoding;
/// assert!(check_encoding(None).is_ok());
/// assert!(check_encoding(Some("identity")).is_ok());
/// assert_eq!(
///     check_encoding(Some("gzip")).unwrap_err().to_string(),
///     "Content-Encoding gzip was not asked for"
/// );
/// ```
pub fn check_encoding(content_encoding: Option<&str>) -> Result<(), FetchError> {
    match content_encoding.map(str::trim) {
        None => Ok(()),
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

/// `--retries`: how many times to try again, and how long to wait.
///
/// The wait doubles each time (exponential backoff) and is drawn at random
/// between half and all of that (jitter), so that many clients that failed
/// together do not all come back at the same instant. A `Retry-After` from
/// the server (429, 503) is honoured when it asks for longer, up to
/// `max_delay`; it never shortens the backoff (`Retry-After: 0` with
/// `--retries 100` would otherwise be a tight loop against a server that
/// is already struggling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 means try once.
    pub retries: u32,
    /// The wait before the first retry, before jitter.
    pub base_delay: Duration,
    /// The longest wait, also for `Retry-After`.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// A policy with `retries` retries, waiting 50 ms, 100 ms, 200 ms ...
    /// up to 5 s.
    pub fn new(retries: u32) -> Self {
        Self {
            retries,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(5),
        }
    }

    /// Whether attempt number `attempt` (0 for the first) that failed with
    /// `error` should be followed by another.
    pub fn should_retry(&self, attempt: u32, error: &FetchError) -> bool {
        attempt < self.retries && error.is_retryable()
    }

    /// How long to wait after failed attempt number `attempt`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flags_core::retry::{FetchError, RetryPolicy};
    /// let policy = RetryPolicy::new(3);
    /// let timeout = FetchError::Transport("timed out".into());
    /// let wait = policy.delay(2, &timeout);
    /// assert!(wait >= Duration::from_millis(100) && wait <= Duration::from_millis(200));
    /// let busy = FetchError::Status { code: 503, reason: "Service Unavailable".into(),
    ///                                 retry_after: Some(Duration::from_secs(1)) };
    /// assert_eq!(policy.delay(0, &busy), Duration::from_secs(1));
    /// // `Retry-After: 0` does not shorten the backoff of the 3rd retry.
    /// let hurry = FetchError::Status { code: 503, reason: "Service Unavailable".into(),
    ///                                  retry_after: Some(Duration::ZERO) };
    /// assert!(policy.delay(2, &hurry) >= Duration::from_millis(100));
    /// ```
    pub fn delay(&self, attempt: u32, error: &FetchError) -> Duration {
        let doubled = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.min(20)));
        let ceiling = doubled.min(self.max_delay);
        // Jitter: somewhere between half and all of the ceiling.
        let backoff = ceiling.mul_f64(0.5 + fastrand::f64() * 0.5);
        match error {
            // The server may ask for longer, not for less.
            FetchError::Status {
                retry_after: Some(wait),
                ..
            } => backoff.max((*wait).min(self.max_delay)),
            _ => backoff,
        }
    }
}

/// Read a `Retry-After` header given in seconds (the HTTP-date form is not
/// used by flag servers and is ignored).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(flags_core::retry::parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
/// assert_eq!(flags_core::retry::parse_retry_after("soon"), None);
/// ```
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Whether an I/O error on sending a request says that the connection was
/// closed under us (reset, aborted, broken pipe, closed before any byte of
/// the answer), as when a server closes an idle keep-alive connection
/// while the client is reusing it. Refused connections and timeouts are
/// not: trying again at once would not help.
pub fn is_stale_connection_kind(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind;
    matches!(
        kind,
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
    )
}

/// [`is_stale_connection_kind`] for an error with a chain of causes
/// (reqwest's): an I/O error of such a kind anywhere in it, or hyper's
/// "connection closed before message completed".
pub fn is_stale_connection(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(cause) = current {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && is_stale_connection_kind(io.kind())
        {
            return true;
        }
        if cause
            .to_string()
            .contains("connection closed before message completed")
        {
            return true;
        }
        current = cause.source();
    }
    false
}

/// How rustls begins the message of a certificate it refuses.
const UNTRUSTED_CERTIFICATE: &str = "invalid peer certificate";
/// What rustls says of an answer that is not TLS at all.
const NOT_TLS: &str = "corrupt message of type InvalidContentType";

/// One line for an error from an HTTP client: the messages of its chain of
/// causes, the outermost dropped when it only repeats the URL. A server
/// certificate that the client does not trust reads "certificate not
/// trusted (...)", the TLS library's words in brackets; a plain HTTP
/// server asked for https, "the server did not answer TLS (is it plain
/// http?): ...".
///
/// ```
/// let error = std::io::Error::new(std::io::ErrorKind::TimedOut, "operation timed out");
/// assert_eq!(flags_core::retry::error_chain(&error), "operation timed out");
/// ```
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    // reqwest and hyper wrap the cause in layers that name the URL (which
    // the report already shows next to the code) or only say where the
    // cause was found; keep the causes that say what happened.
    const WRAPPERS: [&str; 4] = [
        "error sending request for url",
        "error decoding response body",
        "request or response body error",
        "error reading a body from connection",
    ];
    let mut messages: Vec<String> = Vec::new();
    let mut in_body = false;
    let mut current = Some(error);
    while let Some(cause) = current {
        let message = cause.to_string();
        if WRAPPERS.iter().any(|wrapper| message.starts_with(wrapper)) {
            in_body |= message.contains("body");
        } else if !messages.contains(&message) {
            messages.push(message);
        }
        current = cause.source();
    }
    let mut text = if messages.is_empty() {
        error.to_string()
    } else {
        messages.join(": ")
    };
    // rustls says "invalid peer certificate: UnknownIssuer" (under both
    // ureq and reqwest): say first what it means for the user.
    if let Some(start) = text.find(UNTRUSTED_CERTIFICATE) {
        text = format!("certificate not trusted ({})", &text[start..]);
    }
    // rustls got bytes that are no TLS record: an `https://` URL (or a
    // redirect to one) on a port that speaks plain HTTP.
    if text.contains(NOT_TLS) {
        text = format!("the server did not answer TLS (is it plain http?): {text}");
    }
    if in_body {
        format!("body: {text}")
    } else {
        text
    }
}
