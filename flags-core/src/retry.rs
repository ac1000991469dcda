//! Why a fetch failed, and when to try again.
//!
//! The models differ in how they wait (a thread sleeps, a task awaits a
//! timer), not in what they decide: that lives here, once.

use std::time::Duration;

use crate::fetch::FetchError;
use crate::job::{DownloadJob, MAX_RETRY_WAIT};

/// `--retries`: how many times to try again, and how long to wait.
///
/// The wait doubles each time (exponential backoff) and is drawn at random
/// between half and all of that (jitter), so that many clients that failed
/// together do not all come back at the same instant. A `Retry-After` from
/// the server (429, 503) is honoured when it asks for longer, up to
/// `max_delay`; it never shortens the backoff (`Retry-After: 0`, or a date
/// already past, with `--retries 100` would otherwise be a tight loop
/// against a server that is already struggling).
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
    /// The retry policy of a job: its `--retries`, its waits capped at
    /// [`DownloadJob::max_retry_wait`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use flags_core::DownloadJob;
    /// use flags_core::retry::RetryPolicy;
    /// let mut job = DownloadJob::new(vec!["BR".into()], "http://localhost:8000/flags", "downloaded");
    /// assert_eq!(RetryPolicy::for_job(&job).max_delay, Duration::from_secs(5));
    /// job.max_retry_wait = Duration::from_millis(200);
    /// assert_eq!(RetryPolicy::for_job(&job).max_delay, Duration::from_millis(200));
    /// ```
    pub fn for_job(job: &DownloadJob) -> RetryPolicy {
        RetryPolicy {
            max_delay: job.max_retry_wait,
            ..RetryPolicy::new(job.retries)
        }
    }

    /// A policy with `retries` retries, waiting 50 ms, 100 ms, 200 ms ...
    /// up to [`MAX_RETRY_WAIT`].
    pub fn new(retries: u32) -> Self {
        Self {
            retries,
            base_delay: Duration::from_millis(50),
            max_delay: MAX_RETRY_WAIT,
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
    /// use flags_core::retry::RetryPolicy;
    /// use flags_core::fetch::FetchError;
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
/// What the HTTP parsers say of an answer that does not start with
/// `HTTP/1.x`, as when a TLS server answers a plain request with an alert:
/// ureq's "http parse fail: invalid HTTP version", hyper's (under reqwest)
/// "invalid HTTP version parsed".
const NOT_HTTP: &str = "invalid HTTP version";
/// What a message about a body begins with ([`in_body`]).
const BODY_PREFIX: &str = "body: ";

/// One line for an error from an HTTP client: the messages of its chain of
/// causes, the outermost dropped when it only repeats the URL. A server
/// certificate that the client does not trust reads "certificate not
/// trusted (...)", the TLS library's words in brackets; a plain HTTP
/// server asked for https, "the server did not answer TLS (is it plain
/// http?): ..."; an answer that is not HTTP, as a TLS server's to plain
/// http, "the server did not answer HTTP (is it an https server?): ...".
/// An error found while reading a body begins with `body: `, once
/// ([`in_body`]).
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
    let mut in_a_body = false;
    let mut current = Some(error);
    while let Some(cause) = current {
        let message = cause.to_string();
        if WRAPPERS.iter().any(|wrapper| message.starts_with(wrapper)) {
            in_a_body |= message.contains("body");
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
    // The answer did not start with `HTTP/1.x`: most likely a TLS alert
    // from an https port asked for `http://`.
    if text.contains(NOT_HTTP) {
        text = format!("the server did not answer HTTP (is it an https server?): {text}");
    }
    if in_a_body { in_body(&text) } else { text }
}

/// `message` about a response's body: `body: {message}`, the prefix added
/// once however many layers add it (a client's body reader, then
/// [`error_chain`] finding a body error in the chain).
///
/// ```
/// use flags_core::retry::in_body;
/// assert_eq!(in_body("Connection reset by peer"), "body: Connection reset by peer");
/// assert_eq!(in_body(&in_body("Connection reset by peer")), "body: Connection reset by peer");
/// ```
pub fn in_body(message: &str) -> String {
    if message.starts_with(BODY_PREFIX) {
        message.to_string()
    } else {
        format!("{BODY_PREFIX}{message}")
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::fetch::{parse_retry_after, parse_retry_after_at};

    /// An error with an optional cause: the layers that reqwest, hyper and
    /// ureq wrap around what happened.
    #[derive(Debug)]
    struct Layer {
        message: &'static str,
        source: Option<Box<Layer>>,
    }

    impl std::fmt::Display for Layer {
        fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str(self.message)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.source
                .as_deref()
                .map(|layer| layer as &(dyn std::error::Error + 'static))
        }
    }

    /// The chain `messages[0]`, caused by `messages[1]`, and so on.
    fn chain(messages: &[&'static str]) -> Layer {
        messages
            .iter()
            .rev()
            .fold(None, |source, message| {
                Some(Layer {
                    message,
                    source: source.map(Box::new),
                })
            })
            .expect("at least one message")
    }

    /// reqwest's body error, read through `io::Read` and named a body
    /// error by its reader too: `body: ` once, whichever layers say it.
    #[test]
    fn a_body_error_says_body_once() {
        let reset = chain(&[
            "error decoding response body",
            "request or response body error",
            "error reading a body from connection",
            "Connection reset by peer (os error 104)",
        ]);
        let text = error_chain(&reset);
        assert_eq!(text, "body: Connection reset by peer (os error 104)");
        // What a client's body reader then makes of it.
        assert_eq!(in_body(&text), text);
        // A cause that says `body: ` itself is not prefixed again.
        let inner = chain(&["error decoding response body", "body: connection closed"]);
        assert_eq!(error_chain(&inner), "body: connection closed");
    }

    /// A TLS port asked for plain http answers with an alert, which the
    /// HTTP parsers call an invalid version: the message says what that
    /// likely means, in each client's words.
    #[test]
    fn plain_http_to_a_tls_port_gets_a_hint() {
        // ureq (flags-seq and the blocking models).
        let ureq = chain(&["protocol: http parse fail: invalid HTTP version"]);
        assert_eq!(
            error_chain(&ureq),
            "the server did not answer HTTP (is it an https server?): \
             protocol: http parse fail: invalid HTTP version"
        );
        // reqwest (flags-async, flags-threadpool --client reqwest).
        let reqwest = chain(&[
            "error sending request for url (http://127.0.0.1:8443/flags/br/br.gif)",
            "client error (SendRequest)",
            "invalid HTTP version parsed",
        ]);
        assert_eq!(
            error_chain(&reqwest),
            "the server did not answer HTTP (is it an https server?): \
             client error (SendRequest): invalid HTTP version parsed"
        );
        // The other way round keeps its own hint.
        let not_tls = chain(&["corrupt message of type InvalidContentType"]);
        assert_eq!(
            error_chain(&not_tls),
            "the server did not answer TLS (is it plain http?): \
             corrupt message of type InvalidContentType"
        );
    }

    /// A `Retry-After` date is a wait from now, capped like any wait, and
    /// one in the past leaves the backoff as it is.
    #[test]
    fn a_retry_after_date_is_a_wait_from_now() {
        let policy = RetryPolicy::new(3);
        let now = SystemTime::now();
        let in_three_seconds = httpdate::fmt_http_date(now + Duration::from_secs(3));
        // The date has whole seconds: 2 to 3 s after `now`.
        let wait = parse_retry_after_at(&in_three_seconds, now).expect("a date");
        assert!(
            wait > Duration::from_secs(2) && wait <= Duration::from_secs(3),
            "{wait:?}"
        );
        // From the real now, which only moves on: never more than asked.
        let from_now = parse_retry_after(&in_three_seconds).expect("a date");
        assert!(from_now <= wait, "{from_now:?}");
        let busy = |retry_after| FetchError::Status {
            code: 503,
            reason: "Service Unavailable".into(),
            retry_after,
        };
        assert_eq!(policy.delay(0, &busy(Some(wait))), wait);
        let in_an_hour = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
        assert_eq!(
            policy.delay(0, &busy(parse_retry_after(&in_an_hour))),
            policy.max_delay
        );
        let past = parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(past, Some(Duration::ZERO));
        let backoff = policy.delay(2, &busy(past));
        assert!(backoff >= Duration::from_millis(100), "{backoff:?}");
        // A job's lower cap holds for both.
        let capped = RetryPolicy {
            max_delay: Duration::from_millis(30),
            ..policy
        };
        assert_eq!(
            capped.delay(0, &busy(parse_retry_after(&in_an_hour))),
            Duration::from_millis(30)
        );
        assert!(capped.delay(10, &busy(None)) <= Duration::from_millis(30));
    }
}
