//! What a server does besides serving: its delay, its error rate and the
//! faults it injects.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::tls::TlsIdentity;

/// How long a [`Fault::Drip`] body waits between two of its bytes.
pub const DRIP_INTERVAL: Duration = Duration::from_millis(500);

/// How long the server waits before answering a flag or metadata request.
///
/// Parsed from the command line as seconds: `"0.5"` is a fixed delay,
/// `"0.5..5.0"` a delay drawn uniformly between the two bounds, `"0"` none.
///
/// ```
/// use std::time::Duration;
/// use flags_server::Delay;
///
/// assert_eq!("0".parse::<Delay>().unwrap(), Delay::None);
/// assert_eq!("0.25".parse::<Delay>().unwrap(), Delay::Fixed(Duration::from_millis(250)));
/// assert_eq!(
///     "0.5..5".parse::<Delay>().unwrap(),
///     Delay::Uniform { min: Duration::from_millis(500), max: Duration::from_secs(5) },
/// );
/// assert!("5..0.5".parse::<Delay>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Delay {
    /// Answer at once.
    #[default]
    None,
    /// Always wait this long.
    Fixed(Duration),
    /// Wait a time drawn uniformly in `min..=max`.
    Uniform {
        /// The shortest wait; never above `max`.
        min: Duration,
        /// The longest wait; with `max == min` the delay is fixed.
        max: Duration,
    },
}

impl Delay {
    /// Draws one wait from this delay, using `rng` for the uniform case.
    pub(crate) fn sample(&self, rng: &mut fastrand::Rng) -> Duration {
        match *self {
            Delay::None => Duration::ZERO,
            Delay::Fixed(wait) => wait,
            Delay::Uniform { min, max } => min + (max - min).mul_f64(rng.f64()),
        }
    }
}

/// Why a `--delay` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseDelayError {
    /// A bound is not a number of seconds (or is negative, infinite or NaN).
    #[error("{0:?} is not a number of seconds (expected e.g. 0.5 or 0.5..5.0)")]
    NotSeconds(String),
    /// A range `MIN..MAX` whose MIN is above its MAX, such as `5..0.5`.
    #[error("the minimum delay {min}s is larger than the maximum {max}s")]
    Reversed {
        /// MIN as the user wrote it, for the message.
        min: String,
        /// MAX as the user wrote it, for the message.
        max: String,
    },
}

/// Parses one bound of a delay: a finite, non-negative number of seconds.
fn parse_seconds(text: &str) -> Result<Duration, ParseDelayError> {
    let trimmed = text.trim();
    trimmed
        .parse::<f64>()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| ParseDelayError::NotSeconds(trimmed.to_owned()))
}

impl FromStr for Delay {
    type Err = ParseDelayError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once("..") {
            None => {
                let wait = parse_seconds(text)?;
                Ok(if wait.is_zero() {
                    Delay::None
                } else {
                    Delay::Fixed(wait)
                })
            }
            Some((min_text, max_text)) => {
                let (min, max) = (parse_seconds(min_text)?, parse_seconds(max_text)?);
                if min > max {
                    return Err(ParseDelayError::Reversed {
                        min: min_text.trim().to_owned(),
                        max: max_text.trim().to_owned(),
                    });
                }
                Ok(Delay::Uniform { min, max })
            }
        }
    }
}

impl fmt::Display for Delay {
    /// Writes the delay the way [`FromStr`] reads it: `0`, `0.5`, `0.5..5`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delay::None => write!(formatter, "0"),
            Delay::Fixed(wait) => write!(formatter, "{}", wait.as_secs_f64()),
            Delay::Uniform { min, max } => {
                write!(formatter, "{}..{}", min.as_secs_f64(), max.as_secs_f64())
            }
        }
    }
}

/// A misbehaviour the server can inject into one response.
///
/// Random faults are drawn per request from the rates of [`ServerConfig`]
/// (the fields of the older options, and [`ServerConfig::fault_rates`] for
/// any fault); scripted ones are listed per code in
/// [`ServerConfig::scripted`]. Each injected fault is counted in
/// [`Stats::faults`](crate::Stats::faults) under its [`Fault::name`], the
/// name of its row in the table of fault modes
/// ([`FAULT_MODES`](crate::FAULT_MODES), `docs/faults.md`), which says
/// what a client must make of each.
///
/// Most faults are answers built with hyper. Those that hyper cannot send
/// (two `Content-Length`s, a folded head, interim responses, broken
/// chunks, bytes after the body, a reset) are written byte for byte to the
/// socket, after which the connection is closed; [`Fault::NeverRead`] is
/// drawn per connection, since the request it spoils is never read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and a short text body instead of the flag.
    /// 503 and 429 come with `Retry-After: 0`; 418 is the book's
    /// "I'm a teapot". Counted as `status_{code}`, e.g. `status_503`.
    Status(u16),
    /// Send the headers (with the real `Content-Length`), then close the
    /// connection without a byte of body. Counted as `drop`.
    Drop,
    /// Send about half of the body, then close the connection: the client
    /// gets fewer bytes than `Content-Length` says. Counted as `truncate`.
    Truncate,
    /// Read the request and never answer, until the server shuts down (then
    /// the connection is closed without an answer). Counted as `stall`.
    Stall,
    /// Claim and stream an 11 MiB body, over the 10 MiB cap that clients
    /// enforce. Counted as `huge`.
    Huge,
    /// Send the body in about 20 small pieces with short sleeps in between,
    /// about 0.3 s in all. Counted as `slow_body`.
    SlowBody,
    /// Wait this long (instead of the configured delay), then answer
    /// normally. Counted as `delay`.
    Delay(Duration),
    /// Send the headers (with the real `Content-Length`) and the first byte
    /// of the body, then one more byte every [`DRIP_INTERVAL`]: two bytes a
    /// second, so even a 1 KB flag would take over eight minutes. A read
    /// timeout longer than the interval never fires, so only a client whose
    /// timeout covers the whole body (not just each read) gives up. The
    /// server stops dripping as soon as the client goes away or the server
    /// shuts down. Counted as `drip`.
    Drip,
    /// Answer `302 Found` with a short text body and a `Location` header
    /// pointing at the same path with a query string that differs on each
    /// redirect, e.g. `/flags/br/br.gif?hop=3`. The query string changes
    /// nothing: the redirected request is the same code's next request, for
    /// its script too. So `vec![Fault::Redirect]` redirects once, then the
    /// flag is served; `vec![Fault::Redirect; 100]` is a redirect loop a
    /// client must give up on. Counted as `redirect` (and as a 302).
    Redirect,
    /// Send the real body without a `Content-Length`, in a few pieces with
    /// `Transfer-Encoding: chunked`: a client learns the length only at the
    /// end. Counted as `chunked`.
    Chunked,
    /// Like [`Fault::Huge`], 11 MiB, but chunked, without a
    /// `Content-Length`: a client can only find out that the body is over
    /// its cap while reading it, and must stop there. Counted as
    /// `huge_chunked`.
    HugeChunked,
    /// Answer `503 Service Unavailable` with `Retry-After: N` (seconds):
    /// a server that asks its clients to come back later. Counted as
    /// `busy` (and as a 503).
    Busy(u32),
    /// Answer 200 with an HTML page (`Content-Type: text/html`) instead of
    /// the flag, as a captive portal or a misconfigured proxy does: a body
    /// that is no GIF must not be saved as one. Counted as `html`.
    Html,
    /// Send the flag labelled `Content-Encoding: gzip`, which no client
    /// here asks for. (The bytes are the flag's own: the label is what a
    /// client must refuse, before reading, as it would a real gzip body it
    /// cannot decode under its cap.) Counted as `gzip`.
    Gzip,
    /// Read the request and close the connection at once, without a byte
    /// of answer, as a server or proxy that drops connections does. To a
    /// client this looks like a keep-alive connection closed under it,
    /// except that the connection was new: a client that can tell must
    /// not send the request again on that account. Counted as `hangup`.
    Hangup,
    /// Send the flag with one more header, `X-Padding`, of this many bytes:
    /// a long response head, as a server behind a few proxies and cookies
    /// sends. A client whose read buffer cannot hold the whole head fails
    /// the request. Counted as `long_head`.
    LongHead(usize),
    /// Like [`Fault::LongHead`] with [`HUGE_HEAD_PADDING`] bytes: a head
    /// over every client's limit. Counted as `huge_head`.
    HugeHead,
    /// Answer `301 Moved Permanently` to the same path on the host the
    /// request named in its `Host` header, in the server's own scheme,
    /// with no port: `http://localhost/flags/br/br.gif?hop=1`. The redirect
    /// leads to the scheme's default port, 80, whatever port this server
    /// is on. Counted as `redirect_default_port` (and as a 301).
    RedirectToDefaultPort,
    /// Like [`Fault::RedirectToDefaultPort`], to `https://` on the same
    /// host with no port: the usual upgrade from http, to port 443.
    /// Counted as `redirect_https`.
    RedirectToHttps,
    /// Answer `302 Found` with `Location: file:///etc/passwd`. Counted as
    /// `redirect_file`.
    RedirectToFile,
    /// Answer `302 Found` with a `data:` URL that holds a GIF. Counted as
    /// `redirect_data`.
    RedirectToData,
    /// Answer with this 3xx status (300 Multiple Choices, 305 Use Proxy)
    /// and a `Location` back to the same path, as [`Fault::Redirect`]
    /// does. Counted as `redirect_{code}`, e.g. `redirect_305`.
    RedirectWith(u16),
    /// Like [`Fault::Redirect`], with a raw space in the `Location`'s
    /// query string (`?hop=1&note=a b`): escaped, it is the same flag.
    /// Counted as `redirect_space`.
    RedirectWithSpace,
    /// Like [`Fault::Redirect`], with its short text body dripped one byte
    /// every [`DRIP_INTERVAL`]. Counted as `redirect_drip`.
    RedirectDrip,
    /// Answer `401 Unauthorized` with `WWW-Authenticate: Basic
    /// realm="flags"`. Counted as `basic_auth`.
    BasicAuth,
    /// Answer `503 Service Unavailable` with `Retry-After` as an HTTP date
    /// this many seconds ahead. Counted as `busy_until`.
    BusyUntil(u32),
    /// Answer `404 Not Found` with its text body dripped one byte every
    /// [`DRIP_INTERVAL`]. Counted as `drip_404`.
    DripNotFound,
    /// Answer 200 `image/gif` with a body that is no GIF. Counted as
    /// `not_gif`.
    NotGif,
    /// Written byte for byte: `103 Early Hints` and `100 Continue` before
    /// the flag's 200. Counted as `informational`.
    Informational,
    /// Written byte for byte: the flag with two `Content-Length` headers,
    /// its length and one less. Counted as `duplicate_length`.
    DuplicateLength,
    /// Written byte for byte: the flag chunked, with a `Content-Length`
    /// too. Counted as `length_and_chunked`.
    LengthAndChunked,
    /// Written byte for byte: the flag chunked, its second chunk size not
    /// a hexadecimal number. Counted as `bad_chunk`.
    BadChunk,
    /// Written byte for byte: the flag chunked, with a trailer field after
    /// the last chunk. Counted as `trailers`.
    Trailers,
    /// Written byte for byte: the flag with neither `Content-Length` nor
    /// chunking, its end marked by closing the connection. Counted as
    /// `close_delimited`.
    CloseDelimited,
    /// Written byte for byte: the flag, then a second response that was
    /// never asked for (a 200 with another GIF), then the connection is
    /// closed. Counted as `after_body`.
    AfterBody,
    /// Written byte for byte: the flag, with a header continued on a second
    /// line (obs-fold). Counted as `folded_head`.
    FoldedHead,
    /// Written byte for byte: the head of the flag (with its
    /// `Content-Length`), then the connection is reset (RST, not the FIN of
    /// [`Fault::Drop`]). Counted as `reset`.
    Reset,
    /// Accept a connection and never read from it: no request is ever seen,
    /// so this fault is drawn per connection, not per request (from
    /// [`ServerConfig::fault_rates`] or
    /// [`ServerConfig::silent_connections`]). The connection is closed at
    /// the header-read timeout, or at shutdown. Counted as `never_read`.
    NeverRead,
}

/// The size of the `X-Padding` header of [`Fault::HugeHead`]: 1 MiB, over
/// the limits of every client here (16 KiB in ureq, about 400 KiB in
/// hyper).
pub const HUGE_HEAD_PADDING: usize = 1024 * 1024;

impl Fault {
    /// The name under which this fault is counted in the statistics, and
    /// its name in the table of fault modes and in `--fault`.
    pub fn name(&self) -> String {
        let name = match self {
            Fault::Status(code) => return format!("status_{code}"),
            Fault::RedirectWith(code) => return format!("redirect_{code}"),
            Fault::Drop => "drop",
            Fault::Truncate => "truncate",
            Fault::Stall => "stall",
            Fault::Huge => "huge",
            Fault::SlowBody => "slow_body",
            Fault::Delay(_) => "delay",
            Fault::Drip => "drip",
            Fault::Redirect => "redirect",
            Fault::Chunked => "chunked",
            Fault::HugeChunked => "huge_chunked",
            Fault::Busy(_) => "busy",
            Fault::Html => "html",
            Fault::Gzip => "gzip",
            Fault::Hangup => "hangup",
            Fault::LongHead(_) => "long_head",
            Fault::HugeHead => "huge_head",
            Fault::RedirectToDefaultPort => "redirect_default_port",
            Fault::RedirectToHttps => "redirect_https",
            Fault::RedirectToFile => "redirect_file",
            Fault::RedirectToData => "redirect_data",
            Fault::RedirectWithSpace => "redirect_space",
            Fault::RedirectDrip => "redirect_drip",
            Fault::BasicAuth => "basic_auth",
            Fault::BusyUntil(_) => "busy_until",
            Fault::DripNotFound => "drip_404",
            Fault::NotGif => "not_gif",
            Fault::Informational => "informational",
            Fault::DuplicateLength => "duplicate_length",
            Fault::LengthAndChunked => "length_and_chunked",
            Fault::BadChunk => "bad_chunk",
            Fault::Trailers => "trailers",
            Fault::CloseDelimited => "close_delimited",
            Fault::AfterBody => "after_body",
            Fault::FoldedHead => "folded_head",
            Fault::Reset => "reset",
            Fault::NeverRead => "never_read",
        };
        name.to_owned()
    }
}

/// Everything that makes one server differ from another.
///
/// The default is the LOCAL server of the book: no delay, no error, no
/// fault, the built-in flags.
///
/// ```
/// use std::time::Duration;
/// use flags_server::{Delay, ServerConfig};
///
/// // The ERROR server of the book.
/// let config = ServerConfig {
///     delay: Delay::Fixed(Duration::from_millis(500)),
///     error_rate: 0.25,
///     ..ServerConfig::default()
/// };
/// # let _ = config;
/// ```
#[derive(Clone, Debug, Default)]
pub struct ServerConfig {
    /// Applied to every request under `/flags/` before answering (not to
    /// `/stats`).
    pub delay: Delay,
    /// Probability of answering 418 I'm a teapot instead of the resource.
    pub error_rate: f64,
    /// Seed of the random generator behind delays and faults: the same seed
    /// and the same sequence of requests give the same answers. `None`
    /// seeds from the system.
    pub seed: Option<u64>,
    /// Serve `{dir}/{cc}/{cc}.gif` and `{dir}/{cc}/metadata.json` instead of
    /// the built-in data. No file outside `dir` is ever served, not even
    /// through a symbolic link.
    pub dir: Option<PathBuf>,
    /// Per flag request, the chance (0 to 1) of [`Fault::Drop`]: the
    /// connection closed right after the headers (`--drop-rate`).
    pub drop_rate: f64,
    /// The chance of [`Fault::Truncate`]: half the body, then a close
    /// (`--truncate-rate`).
    pub truncate_rate: f64,
    /// The chance of [`Fault::Stall`]: no answer until the server stops
    /// (`--stall-rate`).
    pub stall_rate: f64,
    /// The chance of [`Fault::Huge`]: a body over the clients' cap
    /// (`--huge-rate`).
    pub huge_rate: f64,
    /// The chance of [`Fault::Drip`]: a body sent a byte at a time
    /// (`--drip-rate`).
    pub drip_rate: f64,
    /// Probabilities of other statuses, e.g. `[(503, 0.1), (429, 0.05)]`.
    pub status_rates: Vec<(u16, f64)>,
    /// Send every successful body slowly ([`Fault::SlowBody`]).
    pub slow_body: bool,
    /// Probabilities of any faults, e.g. `[(Fault::Reset, 0.1)]`: what
    /// `--fault NAME:RATE` sets. Drawn after the rates above (so a seed
    /// gives the draws it gave before these were added), per request, but
    /// for [`Fault::NeverRead`], which is drawn per connection.
    pub fault_rates: Vec<(Fault, f64)>,
    /// The first this many connections accepted are never read
    /// ([`Fault::NeverRead`]): the scripted form of a fault whose request
    /// names no code, since it is never read.
    pub silent_connections: usize,
    /// Faults scripted per flag (key: lower-case country code like `"br"`):
    /// the n-th request for that code's GIF gets the n-th fault of the list;
    /// once the list is used up the code is served normally (and random
    /// faults apply again). Lets tests fault exactly known codes, e.g.
    /// `"xx" => vec![Fault::Status(500); 100]` (always fails) or
    /// `"br" => vec![Fault::Status(503), Fault::Status(503)]` (flaky: fails
    /// twice then succeeds). The configured delay still applies to scripted
    /// requests (to each hop of a [`Fault::Redirect`] too), except with
    /// [`Fault::Delay`], which replaces it. A query string does not change
    /// the code a request counts for: `/flags/br/br.gif?hop=1` is `br`.
    pub scripted: BTreeMap<String, Vec<Fault>>,
    /// Country names that replace the built-in ones in `metadata.json`, by
    /// lower-case code (built-in data only): a server whose metadata gives
    /// two codes one name (`"br" => "Brazil", "jp" => "Brazil"`), or a
    /// hostile one (`"../x"`, a right-to-left override), for `--metadata`.
    pub country_names: BTreeMap<String, String>,
    /// Close every connection right after its first response, without
    /// saying so (no `Connection: close`), as some servers and proxies do:
    /// a client that reuses a pooled connection finds it closed, and must
    /// try again on a new one.
    pub close_after_response: bool,
    /// Speak HTTPS with this identity instead of plain HTTP, on the same
    /// port. Clients must trust [`TlsIdentity::cert_pem`].
    pub tls: Option<TlsIdentity>,
    /// How long a connection may take to send a complete request head,
    /// counted from its start or from the end of its previous response: so
    /// it also ends a keep-alive connection left idle that long, and a
    /// client that sends its head a few bytes at a time (slowloris). A
    /// request being answered is not under it: a stall, a delay or a drip
    /// goes on. `None` (the default, for tests and benchmarks in-process):
    /// a connection lasts until the client or the shutdown ends it. The
    /// `flags-server` binary sets 30 s (`--header-timeout`).
    pub header_read_timeout: Option<Duration>,
}

impl ServerConfig {
    /// Draws the random fault of one request, if any, from one uniform
    /// number: the rates are laid end to end in the order status rates,
    /// error rate (418), drop, truncate, stall, huge, drip, then
    /// [`fault_rates`](Self::fault_rates) (but [`Fault::NeverRead`]). So
    /// each fault has exactly its own probability as long as the rates add
    /// up to at most 1.
    pub(crate) fn draw_fault(&self, rng: &mut fastrand::Rng) -> Option<Fault> {
        let draw = rng.f64();
        let mut threshold = 0.0;
        let candidates = self
            .status_rates
            .iter()
            .map(|&(code, rate)| (Fault::Status(code), rate))
            .chain([
                (Fault::Status(418), self.error_rate),
                (Fault::Drop, self.drop_rate),
                (Fault::Truncate, self.truncate_rate),
                (Fault::Stall, self.stall_rate),
                (Fault::Huge, self.huge_rate),
                (Fault::Drip, self.drip_rate),
            ])
            .chain(
                self.fault_rates
                    .iter()
                    .copied()
                    .filter(|(fault, _)| *fault != Fault::NeverRead),
            );
        for (fault, rate) in candidates {
            threshold += rate;
            if draw < threshold {
                return Some(fault);
            }
        }
        None
    }

    /// The probability that a new connection is never read
    /// ([`Fault::NeverRead`] in [`fault_rates`](Self::fault_rates)).
    pub(crate) fn never_read_rate(&self) -> f64 {
        self.fault_rates
            .iter()
            .filter(|(fault, _)| *fault == Fault::NeverRead)
            .map(|(_, rate)| rate)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Delays read the way `--delay` documents, and print back the same way.
    #[test]
    fn delay_parses_and_prints() {
        assert_eq!("0.0".parse(), Ok(Delay::None));
        assert_eq!(
            " 1.5 ".parse(),
            Ok(Delay::Fixed(Duration::from_millis(1500)))
        );
        let uniform: Delay = "0.5..5.0".parse().expect("a valid range");
        assert_eq!(uniform.to_string(), "0.5..5");
        assert_eq!(
            "0.5".parse::<Delay>().map(|d| d.to_string()),
            Ok("0.5".into())
        );
        for bad in [
            "", "abc", "-1", "NaN", "inf", "1..", "..1", "2..1", "1..2..3",
        ] {
            assert!(bad.parse::<Delay>().is_err(), "{bad:?} should be refused");
        }
    }

    /// A uniform delay stays within its bounds.
    #[test]
    fn uniform_delay_samples_within_bounds() {
        let delay = Delay::Uniform {
            min: Duration::from_millis(100),
            max: Duration::from_millis(200),
        };
        let mut rng = fastrand::Rng::with_seed(1);
        let waits: Vec<Duration> = (0..1000).map(|_| delay.sample(&mut rng)).collect();
        for wait in &waits {
            assert!((Duration::from_millis(100)..=Duration::from_millis(200)).contains(wait));
        }
        // ...and covers them, rather than sticking to one value.
        assert!(waits.iter().any(|wait| *wait < Duration::from_millis(110)));
        assert!(waits.iter().any(|wait| *wait > Duration::from_millis(190)));
    }

    /// With rates adding up to 1, every draw gives a fault, in proportion.
    #[test]
    fn fault_rates_partition_the_draw() {
        let config = ServerConfig {
            error_rate: 0.5,
            status_rates: vec![(503, 0.5)],
            ..ServerConfig::default()
        };
        let mut rng = fastrand::Rng::with_seed(3);
        let faults: Vec<_> = (0..1000).map(|_| config.draw_fault(&mut rng)).collect();
        let teapots = faults
            .iter()
            .filter(|f| **f == Some(Fault::Status(418)))
            .count();
        let unavailable = faults
            .iter()
            .filter(|f| **f == Some(Fault::Status(503)))
            .count();
        assert_eq!(teapots + unavailable, 1000);
        assert!((400..600).contains(&teapots), "{teapots}");
        let none = ServerConfig::default();
        assert!((0..100).all(|_| none.draw_fault(&mut rng).is_none()));
    }

    /// Drip comes last, after huge: adding a drip rate changes none of the
    /// draws that gave a fault without it (a seed gives the same faults as
    /// before), it only turns some of the draws that gave none into drips.
    #[test]
    fn drip_is_drawn_last() {
        let draws = |config: &ServerConfig| {
            let mut rng = fastrand::Rng::with_seed(5);
            (0..1000)
                .map(|_| config.draw_fault(&mut rng))
                .collect::<Vec<_>>()
        };
        let without = ServerConfig {
            error_rate: 0.25,
            huge_rate: 0.25,
            ..ServerConfig::default()
        };
        let with = ServerConfig {
            drip_rate: 0.5,
            ..without.clone()
        };
        let (before, after) = (draws(&without), draws(&with));
        for (old, new) in before.iter().zip(&after) {
            match old {
                Some(fault) => assert_eq!(new, &Some(*fault)),
                None => assert_eq!(new, &Some(Fault::Drip)),
            }
        }
        let drips = after.iter().filter(|f| **f == Some(Fault::Drip)).count();
        assert!((400..600).contains(&drips), "{drips}");
        assert_eq!(Fault::Drip.name(), "drip");
    }

    /// `fault_rates` come after every older rate, so a seed gives the
    /// draws it gave without them; `never_read` is never drawn per
    /// request (it is per connection).
    #[test]
    fn fault_rates_come_last_and_never_read_is_per_connection() {
        let draws = |config: &ServerConfig| {
            let mut rng = fastrand::Rng::with_seed(9);
            (0..1000)
                .map(|_| config.draw_fault(&mut rng))
                .collect::<Vec<_>>()
        };
        let without = ServerConfig {
            error_rate: 0.3,
            drip_rate: 0.2,
            ..ServerConfig::default()
        };
        let with = ServerConfig {
            fault_rates: vec![(Fault::NeverRead, 0.2), (Fault::Reset, 0.5)],
            ..without.clone()
        };
        for (old, new) in draws(&without).iter().zip(&draws(&with)) {
            match old {
                Some(fault) => assert_eq!(new, &Some(*fault)),
                None => assert_eq!(new, &Some(Fault::Reset)),
            }
        }
        assert_eq!(with.never_read_rate(), 0.2);
        assert_eq!(without.never_read_rate(), 0.0);
    }
}
