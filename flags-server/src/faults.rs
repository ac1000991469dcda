//! The fault modes: every hostile behaviour of the server, in one table.
//!
//! Each row of [`FAULT_MODES`] names a [`Fault`], says what the server does
//! and what every client must make of it. The table is the one source of
//! `--fault NAME[:RATE]` (its names and its help), of `docs/faults.md`
//! (checked against it by a test) and of the test kit's fault matrix,
//! which runs each row against every model with exact counts.

use std::fmt::Write as _;
use std::time::Duration;

use crate::config::Fault;

/// What a run must make of a flag request that met a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The flag is saved, intact.
    Ok,
    /// Not found: nothing saved, never retried.
    NotFound,
    /// An error: nothing saved; `--retries` tries again.
    Error,
    /// A redirect that is followed: the outcome is that of the request it
    /// leads to (the same flag, unless that one meets a fault too).
    Followed,
}

impl Outcome {
    /// The outcome in a word or two, as `docs/faults.md` shows it.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "OK",
            Outcome::NotFound => "not found",
            Outcome::Error => "error",
            Outcome::Followed => "followed",
        }
    }
}

/// One row of the table: a fault, what the server does, what a client
/// must make of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultMode {
    /// The name of `--fault NAME` and of [`Stats::faults`](crate::Stats::faults):
    /// always `fault.name()`.
    pub name: &'static str,
    /// What the server injects: the value a [`ServerConfig`](crate::ServerConfig)
    /// takes in its rates and scripts.
    pub fault: Fault,
    /// What the server does, in a line.
    pub does: &'static str,
    /// The outcome every client must reach, with [`expected`](Self::expected)
    /// saying how.
    pub outcome: Outcome,
    /// What every client must make of it, in a line.
    pub expected: &'static str,
}

impl FaultMode {
    /// Whether the fault sends the client to the scheme's default port (80
    /// or 443), where only a server on that port can answer: such a mode
    /// is tried end to end only where a server can listen there (the test
    /// kit's fault matrix: in a private network namespace, as root).
    pub fn needs_default_port(&self) -> bool {
        matches!(
            self.fault,
            Fault::RedirectToDefaultPort | Fault::RedirectToHttps
        )
    }
}

/// A row of [`FAULT_MODES`], one line each below.
const fn mode(
    name: &'static str,
    fault: Fault,
    outcome: Outcome,
    does: &'static str,
    expected: &'static str,
) -> FaultMode {
    FaultMode {
        name,
        fault,
        does,
        outcome,
        expected,
    }
}

/// Every fault mode of the server.
#[rustfmt::skip]
pub const FAULT_MODES: &[FaultMode] = {
    use Outcome::{Error, Followed, NotFound, Ok};
    &[
    // Statuses.
    mode("status_418", Fault::Status(418), Error,
        "answers 418 I'm a teapot, as the book's ERROR server does (also `--error-rate`)",
        "an error naming the status; tried again with `--retries`"),
    mode("status_500", Fault::Status(500), Error,
        "answers 500 Internal Server Error",
        "an error naming the status; tried again with `--retries`"),
    mode("status_503", Fault::Status(503), Error,
        "answers 503 Service Unavailable with `Retry-After: 0`",
        "an error; `--retries` waits its own backoff, which `Retry-After: 0` never shortens"),
    mode("status_429", Fault::Status(429), Error,
        "answers 429 Too Many Requests with `Retry-After: 0`",
        "an error; `--retries` waits its own backoff, which `Retry-After: 0` never shortens"),
    mode("busy", Fault::Busy(u32::MAX), Error,
        "answers 503 with `Retry-After: 4294967295` (seconds: 136 years)",
        "an error; `--retries` waits the longest wait it allows, no longer"),
    mode("busy_until", Fault::BusyUntil(3), Error,
        "answers 503 with `Retry-After` as an HTTP date 3 s ahead",
        "an error; `--retries` waits until that date (a date past means now)"),
    mode("basic_auth", Fault::BasicAuth, Error,
        "answers 401 Unauthorized with `WWW-Authenticate: Basic realm=\"flags\"`",
        "an error naming the status: no prompt, no credentials sent"),
    // Redirects.
    mode("redirect", Fault::Redirect, Followed,
        "answers 302 Found back to the same path, `?hop=N` added",
        "followed, up to 10 hops: the flag is saved; an 11th redirect is an error"),
    mode("redirect_default_port", Fault::RedirectToDefaultPort, Followed,
        "answers 301 to `http://HOST/...`: the host asked for, no port",
        "followed to port 80, not to the port of the first request"),
    mode("redirect_https", Fault::RedirectToHttps, Followed,
        "answers 301 to `https://HOST/...`: the upgrade to https, no port",
        "followed to port 443, over TLS"),
    mode("redirect_file", Fault::RedirectToFile, Error,
        "answers 302 to `file:///etc/passwd`",
        "an error naming the scheme: only http and https are followed"),
    mode("redirect_data", Fault::RedirectToData, Error,
        "answers 302 to a `data:` URL holding a GIF",
        "an error naming the scheme: only http and https are followed"),
    mode("redirect_300", Fault::RedirectWith(300), Error,
        "answers 300 Multiple Choices with a `Location` back to the same path",
        "an error naming the status: only 301, 302, 303, 307 and 308 are followed"),
    mode("redirect_305", Fault::RedirectWith(305), Error,
        "answers 305 Use Proxy with a `Location` back to the same path",
        "an error naming the status: only 301, 302, 303, 307 and 308 are followed"),
    mode("redirect_space", Fault::RedirectWithSpace, Followed,
        "answers 302 with a raw space in the `Location`'s query (`?hop=1&note=a b`)",
        "followed to the `Location` escaped (`%20`): the flag is saved"),
    mode("redirect_drip", Fault::RedirectDrip, Followed,
        "answers 302 with its text body dripped, a byte every 0.5 s",
        "followed after draining the body for 50 ms at most, not after the drip"),
    // The connection.
    mode("drop", Fault::Drop, Error,
        "sends the head, with `Content-Length`, then closes (FIN) without a body (also `--drop-rate`)",
        "an error; nothing saved"),
    mode("reset", Fault::Reset, Error,
        "sends the head, with `Content-Length`, then resets the connection (RST)",
        "an error; nothing saved"),
    mode("truncate", Fault::Truncate, Error,
        "sends about half of the body, then closes (also `--truncate-rate`)",
        "an error: the body is shorter than its `Content-Length`; nothing saved"),
    mode("hangup", Fault::Hangup, Error,
        "reads the request and closes without a byte of answer",
        "an error; sent again once on a pooled connection (reqwest, unable to tell, always does)"),
    mode("stall", Fault::Stall, Error,
        "reads the request and never answers (also `--stall-rate`)",
        "an error at `--timeout`"),
    mode("never_read", Fault::NeverRead, Error,
        "accepts the connection and never reads from it (drawn per connection)",
        "an error at `--timeout`"),
    mode("delay", Fault::Delay(Duration::from_secs(10)), Error,
        "waits 10 s instead of `--delay`, then answers",
        "an error at `--timeout` (with a `--timeout` over 10 s, the flag)"),
    // The body.
    mode("slow_body", Fault::SlowBody, Ok,
        "sends the body in 20 pieces over about 0.3 s (also `--slow-body`)",
        "the flag, within `--timeout`"),
    mode("drip", Fault::Drip, Error,
        "sends the body a byte every 0.5 s (also `--drip-rate`)",
        "an error at `--timeout`, which covers the whole request, body included"),
    mode("drip_404", Fault::DripNotFound, NotFound,
        "answers 404 with its text body dripped, a byte every 0.5 s",
        "not found at once: an unused body is drained for 50 ms at most"),
    mode("huge", Fault::Huge, Error,
        "sends an 11 MiB body, announced in `Content-Length` (also `--huge-rate`)",
        "an error from the length alone: over the 10 MiB cap"),
    mode("huge_chunked", Fault::HugeChunked, Error,
        "sends an 11 MiB body, chunked",
        "an error once 10 MiB are read"),
    mode("html", Fault::Html, Error,
        "answers 200 with an HTML page (`text/html`), as a captive portal does",
        "an error: not a GIF; nothing saved"),
    mode("not_gif", Fault::NotGif, Error,
        "answers 200 `image/gif` with a body that is no GIF",
        "an error: not a GIF; nothing saved"),
    mode("gzip", Fault::Gzip, Error,
        "sends the flag labelled `Content-Encoding: gzip`",
        "an error: an encoding not asked for"),
    // Framing.
    mode("chunked", Fault::Chunked, Ok,
        "sends the flag chunked, without `Content-Length`",
        "the flag"),
    mode("trailers", Fault::Trailers, Ok,
        "sends the flag chunked, with a trailer field after the last chunk",
        "the flag"),
    mode("bad_chunk", Fault::BadChunk, Error,
        "sends the flag chunked, its second chunk size not hexadecimal",
        "an error; nothing saved"),
    mode("length_and_chunked", Fault::LengthAndChunked, Ok,
        "sends the flag chunked, with a `Content-Length` too",
        "the flag: chunked wins over the length (RFC 9112, 6.3)"),
    mode("duplicate_length", Fault::DuplicateLength, Error,
        "sends the flag with two `Content-Length`s, its length and one less",
        "an error: the length is unknown; nothing saved"),
    mode("close_delimited", Fault::CloseDelimited, Ok,
        "sends the flag with neither length nor chunks, and closes the connection at its end",
        "the flag, read to the close"),
    mode("after_body", Fault::AfterBody, Ok,
        "sends the flag, then a second response nobody asked for (another GIF), and closes",
        "the flag; the extra bytes never answer another request"),
    // The head.
    mode("informational", Fault::Informational, Ok,
        "sends 103 Early Hints and 100 Continue before the 200",
        "the flag: interim responses are skipped"),
    mode("folded_head", Fault::FoldedHead, Ok,
        "sends a header continued on a second line (obs-fold)",
        "the flag where the client unfolds it (reqwest); an error in ureq, which cannot"),
    mode("long_head", Fault::LongHead(12 * 1024), Ok,
        "adds a 12 KiB `X-Padding` header",
        "the flag"),
    mode("huge_head", Fault::HugeHead, Error,
        "adds a 1 MiB `X-Padding` header",
        "an error saying the head is too large"),
    ]
};

/// The row of this name.
pub fn fault_mode(name: &str) -> Option<&'static FaultMode> {
    FAULT_MODES.iter().find(|mode| mode.name == name)
}

/// Reads `NAME[:RATE]`, as `--fault` takes it: a row of the table and a
/// probability (1 when left out: every flag request).
///
/// ```
/// use flags_server::{Fault, parse_fault_rate};
/// assert_eq!(parse_fault_rate("reset:0.25"), Ok((Fault::Reset, 0.25)));
/// assert_eq!(parse_fault_rate("reset"), Ok((Fault::Reset, 1.0)));
/// assert!(parse_fault_rate("rest").is_err());
/// ```
pub fn parse_fault_rate(text: &str) -> Result<(Fault, f64), String> {
    let (name, rate) = match text.split_once(':') {
        Some((name, rate_text)) => match rate_text.trim().parse::<f64>() {
            Ok(rate) if (0.0..=1.0).contains(&rate) => (name, rate),
            _ => return Err(format!("{rate_text:?} is not a probability from 0 to 1")),
        },
        None => (text, 1.0),
    };
    match fault_mode(name.trim()) {
        Some(mode) => Ok((mode.fault, rate)),
        None => Err(format!(
            "{name:?} is not a fault mode; one of: {}",
            FAULT_MODES
                .iter()
                .map(|mode| mode.name)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The list of `--fault --help`: one line per row, its name and what the
/// server does (backquotes dropped).
pub fn fault_help() -> String {
    let mut help = String::from(
        "Inject this fault into a flag request with probability RATE (default 1: every one); \
         repeatable, the rates adding up to at most 1. What each mode does, and what a client \
         must make of it: docs/faults.md. NAME is one of:\n",
    );
    for mode in FAULT_MODES {
        let _ = writeln!(help, "  {:<23}{}", mode.name, mode.does.replace('`', ""));
    }
    help
}

/// The table of `docs/faults.md`, in Markdown: one row per mode.
pub fn fault_table_markdown() -> String {
    let mut table = String::from(
        "| `--fault` | what the server does | outcome | what every client must make of it |\n\
         |---|---|---|---|\n",
    );
    for mode in FAULT_MODES {
        let _ = writeln!(
            table,
            "| `{}` | {} | {} | {} |",
            mode.name,
            mode.does,
            mode.outcome.label(),
            mode.expected
        );
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row's name is its fault's name (the one the statistics count),
    /// and no two rows share one.
    #[test]
    fn names_are_the_faults_own_and_unique() {
        let mut names = std::collections::BTreeSet::new();
        for mode in FAULT_MODES {
            assert_eq!(mode.name, mode.fault.name());
            assert!(names.insert(mode.name), "{} twice", mode.name);
            assert!(!mode.does.contains('|') && !mode.expected.contains('|'));
        }
    }

    /// `--fault` reads every row by name, with or without a rate, and
    /// refuses the rest.
    #[test]
    fn every_row_parses() {
        for mode in FAULT_MODES {
            assert_eq!(parse_fault_rate(mode.name), Ok((mode.fault, 1.0)));
            let with_rate = format!("{}:0.5", mode.name);
            assert_eq!(parse_fault_rate(&with_rate), Ok((mode.fault, 0.5)));
        }
        for bad in ["", "teapot", "reset:2", "reset:", "reset:x", ":0.5"] {
            assert!(parse_fault_rate(bad).is_err(), "{bad:?}");
        }
    }

    /// `docs/faults.md` holds exactly the table made from [`FAULT_MODES`].
    #[test]
    fn the_docs_show_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/faults.md");
        let docs = std::fs::read_to_string(path).expect("docs/faults.md");
        let table = fault_table_markdown();
        assert!(
            docs.contains(&table),
            "docs/faults.md is out of date: its table must read\n{table}"
        );
        let listed = docs
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split_once('`'))
            .map(|(name, _)| name)
            .filter(|name| *name != "--fault")
            .collect::<Vec<_>>();
        let names = FAULT_MODES.iter().map(|mode| mode.name).collect::<Vec<_>>();
        assert_eq!(listed, names);
    }
}
