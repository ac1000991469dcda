//! Why a fetch failed, and when to try again.
//!
//! The models differ in how they wait (a thread sleeps, a task awaits a
//! timer), not in what they decide: that lives here, once.

use std::time::Duration;

use crate::fetch::MAX_BODY_BYTES;

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
