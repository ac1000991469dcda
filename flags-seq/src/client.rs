//! The blocking HTTP client of the sequential model, the thread pools and
//! the process workers: a [`ureq::Agent`], whose every call does its socket
//! I/O on the thread that makes it.
//!
//! That is the point of a blocking model: `get_flag` runs `connect`,
//! `sendto` and `recvfrom` on the calling thread and sleeps in the kernel
//! until the server answers. No runtime, no hidden thread: a pool of 30
//! threads is 30 threads talking to the server, which `strace -f -e
//! trace=connect` shows.
//!
//! What the client decides about a response (status, encoding, body cap,
//! GIF) is [`flags_core::fetch`]'s, as for every client; this module only
//! reads ureq's types into it.
//!
//! ureq's defaults are made for one request now and then, not for 676 of
//! them from 676 threads, so [`HttpClient::new`] tunes four things
//! ([`ClientSettings`]; `benches/examples/client_settings.rs` measures
//! what each is worth):
//!
//! - **Names are looked up once**, by [`KnownAddresses`], on the calling
//!   thread: ureq's own resolver starts a thread per request once a
//!   timeout is set.
//! - **Small buffers**: 16 KiB in, 4 KiB out per connection, not 128 KiB
//!   each.
//! - **A pool as large as the run**: up to `-m` idle connections, not 3
//!   per host.
//! - **Every body is read to its end**, 404s included: only then does a
//!   connection go back to the pool (`drain`), if it is all there within
//!   [`DRAIN_WINDOW`].
//!
//! ureq's own redirects are off: it follows any 3xx but 304 and cannot be
//! told otherwise. [`HttpClient`]'s `get_flag` follows them itself, by
//! [`flags_core::redirect`]'s rules, the same for every client.

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use flags_core::fetch::FetchError;
use flags_core::fetch::{
    CaFile, DRAIN_WINDOW, MAX_BODY_BYTES, MAX_DRAIN_BYTES, ResponseHead, body_capacity, check_body,
    check_gif,
};
use flags_core::redirect::{self, MAX_REDIRECTS};
use flags_core::retry::{error_chain, in_body, is_stale_connection_kind};
use flags_core::url::{flag_url, lookup_host};
use flags_core::{DownloadJob, SetupError};
use ureq::config::Config;
use ureq::http::{Response, Uri, header::LOCATION};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, NextTimeout, Transport, time,
};
use ureq::{Agent, Body};
use url::Url;

/// A blocking HTTP client: its [`get_flag`](BlockingClient::get_flag)
/// returns only once the whole response is in (or the request failed).
///
/// [`HttpClient`] (ureq) is the one every blocking model uses; the thread
/// pool crate has a second one on `reqwest::blocking`, to measure what its
/// hidden runtime thread costs. `Sync`, since a pool shares one client
/// between its threads.
pub trait BlockingClient: Sync {
    /// Fetch one flag's bytes: one attempt, no retry. 200 with a body is
    /// `Ok`; 404 is [`FetchError::NotFound`]; any other status, a timeout
    /// (the whole request, body included, within `--timeout`), a body over
    /// the 10 MiB cap or cut short is another [`FetchError`]. A request that
    /// fails on a reused keep-alive connection before any byte of the
    /// answer is sent again once, at once, on a new connection (RFC 9112
    /// section 9.3.1: a GET may be); that is not one of `--retries`.
    fn get_flag(&self, base_url: &str, country_code: &str) -> Result<Vec<u8>, FetchError>;
}

/// The client of one run, shared by every thread of it: a [`ureq::Agent`]
/// (an `Arc` inside, so `Clone` is cheap, and `Sync`) with its pool of
/// keep-alive connections.
#[derive(Debug, Clone)]
pub struct HttpClient {
    agent: Agent,
    /// The same client without a pool: every call on it opens a new
    /// connection. For the one retry of a request whose reused connection
    /// turned out to be closed (see [`HttpClient::send`]).
    fresh: Agent,
    /// Read unused bodies to their end, so their connections are reused.
    drain_error_bodies: bool,
    /// `--timeout`: the deadline of a whole request, redirects included.
    timeout: Duration,
}

// --- Tuning: what the client changes from ureq's defaults, one switch each
// (what each is worth: `benches/examples/client_settings.rs`) ---

/// Input buffer of a connection: a response head and a piece of a body.
pub const INPUT_BUFFER_BYTES: usize = 16 * 1024;
/// The longest response head accepted: as long as the input buffer, which
/// must hold a whole head. A longer one is the error "response head over
/// 16 KiB" (ureq alone would say "Peer disconnected").
pub const MAX_HEAD_BYTES: usize = INPUT_BUFFER_BYTES;
/// Output buffer of a connection: a request head (a few hundred bytes).
pub const OUTPUT_BUFFER_BYTES: usize = 4 * 1024;

/// The four settings [`HttpClient::new`] changes from ureq's defaults, one
/// switch each, so that each can be measured on its own
/// (`benches/examples/client_settings.rs` runs them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSettings {
    /// Hand back the addresses looked up at the start ([`KnownAddresses`])
    /// instead of ureq's resolver, which starts a thread per request.
    pub known_addresses: bool,
    /// 16 KiB in and 4 KiB out per connection, instead of 128 KiB each.
    pub small_buffers: bool,
    /// Keep up to `-m` idle connections, instead of 3 per host.
    pub pool_per_thread: bool,
    /// Read a 404's body (and a redirect's) to its end, so its connection
    /// goes back to the pool instead of being closed.
    pub drain_error_bodies: bool,
}

impl ClientSettings {
    /// What every model uses.
    pub const TUNED: ClientSettings = ClientSettings {
        known_addresses: true,
        small_buffers: true,
        pool_per_thread: true,
        drain_error_bodies: true,
    };
    /// ureq as it comes (but for what correctness needs: statuses as
    /// answers, the whole-request deadline, our redirects, the body cap).
    pub const UREQ_DEFAULTS: ClientSettings = ClientSettings {
        known_addresses: false,
        small_buffers: false,
        pool_per_thread: false,
        drain_error_bodies: false,
    };
}

// --- End of tuning ---

impl HttpClient {
    /// The client for `job`: `--timeout` as a deadline for each whole
    /// request (connect, head and the entire body), `--cacert` trusted on
    /// top of the usual web roots, the server's name looked up once, and up
    /// to `job.max_req` idle connections kept for reuse.
    pub fn new(job: &DownloadJob) -> Result<HttpClient, SetupError> {
        HttpClient::with_settings(job, ClientSettings::TUNED)
    }

    /// The client for `job` with some of the tuned settings off: for
    /// measuring what each one is worth.
    pub fn with_settings(
        job: &DownloadJob,
        settings: ClientSettings,
    ) -> Result<HttpClient, SetupError> {
        let tls = tls_config(job.ca_cert.as_deref())?;
        // The settings of both agents; `pooled` says whether idle
        // connections are kept for reuse.
        let config = |pooled: bool| {
            let mut config = Config::builder()
                // A 404 or a 503 is an answer to judge, not an error.
                .http_status_as_error(false)
                // The deadline of the whole call, body included: a server
                // that drips its body one byte at a time is cut off at
                // `--timeout`.
                .timeout_global(Some(job.timeout))
                // A 3xx is an answer too: `get_flag` follows redirects
                // itself (ureq would follow any 3xx but 304).
                .max_redirects(0)
                .max_redirects_will_error(false)
                .tls_config(tls.clone());
            if settings.small_buffers {
                config = config
                    .input_buffer_size(INPUT_BUFFER_BYTES)
                    .output_buffer_size(OUTPUT_BUFFER_BYTES)
                    .max_response_header_size(MAX_HEAD_BYTES);
            }
            if !pooled {
                config = config
                    .max_idle_connections(0)
                    .max_idle_connections_per_host(0);
            } else if settings.pool_per_thread {
                config = config
                    .max_idle_connections(job.max_req.max(1))
                    .max_idle_connections_per_host(job.max_req.max(1));
            }
            config.build()
        };
        let resolver = settings
            .known_addresses
            .then(|| KnownAddresses::for_base_url(&job.base_url));
        // ureq's own connector (TCP, then TLS for https), followed by one
        // that notes on this thread that a new connection was opened, and
        // one that bounds each connection's reads ([`Bounded`]).
        let connector = || {
            DefaultConnector::default()
                .chain(NoteNewConnection)
                .chain(BoundReads)
        };
        let agent = |pooled: bool| match &resolver {
            Some(resolver) => Agent::with_parts(config(pooled), connector(), resolver.clone()),
            None => Agent::with_parts(config(pooled), connector(), DefaultResolver::default()),
        };
        Ok(HttpClient {
            agent: agent(true),
            fresh: agent(false),
            drain_error_bodies: settings.drain_error_bodies,
            timeout: job.timeout,
        })
    }
}

impl BlockingClient for HttpClient {
    fn get_flag(&self, base_url: &str, country_code: &str) -> Result<Vec<u8>, FetchError> {
        let mut url = Url::parse(&flag_url(base_url, country_code))
            .map_err(|error| FetchError::Transport(format!("bad URL: {error}")))?;
        // `--timeout` is a deadline for the whole request, redirects
        // included: each hop gets what remains of it.
        let deadline = Instant::now() + self.timeout;
        // Follow redirects, one request per hop: ureq's are off, so a 3xx
        // comes back here as an answer.
        let mut redirects = 0;
        let (mut response, head) = loop {
            // Blocks this thread: look up (from memory), connect or take a
            // pooled connection, send the request, wait for the head. The
            // first hop has the whole `--timeout`, the agent's own setting.
            let mut response = self.send(&url, (redirects > 0).then_some(deadline))?;
            let head = ResponseHead::of(response.status(), response.headers());
            // 301, 302, 303, 307 and 308 lead on; any other status (another
            // 3xx included) is the answer, judged below.
            if !redirect::is_followed(head.status) {
                break (response, head);
            }
            let location = response
                .headers()
                .get(LOCATION)
                .map(|value| value.as_bytes());
            let next = next_hop(&url, head.status, location);
            // The redirect's own text is not used: read it (briefly) so
            // that its connection can serve the next hop.
            if self.drain_error_bodies {
                drain(response.body_mut());
            }
            if redirects == MAX_REDIRECTS {
                return Err(redirect::too_many());
            }
            url = next?;
            redirects += 1;
        };
        if let Err(error) = head.check_status() {
            // Read the short error body so the connection can be reused.
            if self.drain_error_bodies {
                drain(response.body_mut());
            }
            return Err(error);
        }
        head.check_encoding()?;
        let image = read_body(response.body_mut())?;
        check_gif(image, head.content_type.as_deref())
    }
}

impl HttpClient {
    /// One request, one hop: a GET of `url` on a pooled connection, sent
    /// again once on a new one if the pooled one turns out closed. Within
    /// `deadline` when one is given, else within the whole `--timeout`.
    fn send(&self, url: &Url, deadline: Option<Instant>) -> Result<Response<Body>, FetchError> {
        let call = |agent: &Agent| {
            let request = agent.get(url.as_str());
            match deadline {
                None => request.call(),
                // A redirect's hop: what remains of the deadline, set for
                // this request only (it shares the agent's pool).
                Some(deadline) => {
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    request
                        .config()
                        .timeout_global(Some(remaining))
                        .build()
                        .call()
                }
            }
        };
        NEW_CONNECTION.set(false);
        match call(&self.agent) {
            // The connection taken from the pool was closed by the server
            // (it may close an idle keep-alive connection at any time, and
            // its FIN can arrive after we checked): nothing of the answer
            // came back, and a GET may be sent again. Once, at once, on a
            // new connection; not a `--retries` attempt, not shown. Not
            // when this call opened its connection itself: a new connection
            // that the server closes unanswered is the server's answer.
            Err(ureq::Error::Io(error))
                if is_stale_connection_kind(error.kind()) && !NEW_CONNECTION.get() =>
            {
                call(&self.fresh)
            }
            other => other,
        }
        .map_err(|error| FetchError::Transport(transport_error(&error)))
    }
}

/// Where a followed redirect (`status`, one of [`redirect::FOLLOWED`]) from
/// `from` leads: its `Location` resolved against `from`, http or https
/// only ([`redirect::target`]).
///
/// Credentials, the user and password of the URL (which ureq sends as
/// `Authorization: Basic`), go on only while the chain stays on their
/// origin: a hop to another origin drops them for the rest of the chain.
/// A `Location` cannot bring its own.
fn next_hop(from: &Url, status: u16, location: Option<&[u8]>) -> Result<Url, FetchError> {
    let location = location.ok_or_else(|| redirect::no_location(status))?;
    let mut next = redirect::target_bytes(from, location)?;
    let (username, password) = if redirect::same_origin(from, &next) {
        (from.username(), from.password())
    } else {
        ("", None)
    };
    // Neither can fail: an http or https URL always has a host.
    let _ = next.set_username(username);
    let _ = next.set_password(password);
    // A fragment is never sent.
    next.set_fragment(None);
    Ok(next)
}

/// Read a flag's body, at most [`MAX_BODY_BYTES`]: one whose
/// `Content-Length` says more is refused before reading; one of unknown
/// length is cut off once it passes the cap; a truncated one is an error.
/// Blocks this thread until the body ends (or the deadline passes).
fn read_body(body: &mut Body) -> Result<Vec<u8>, FetchError> {
    let declared = body.content_length();
    // Reserve what the server announced (refusing an announced 11 MiB now).
    let capacity = body_capacity(declared)?;
    let mut image = Vec::with_capacity(capacity);
    let mut reader = body.with_config().limit(MAX_BODY_BYTES).reader();
    if let Err(error) = std::io::Read::read_to_end(&mut reader, &mut image) {
        let error = ureq::Error::from(error);
        return Err(match error {
            ureq::Error::BodyExceedsLimit(_) => FetchError::TooLarge,
            // In a body, what does not fit the buffer is a chunk's line.
            ureq::Error::LargeResponseHeader(_, limit) => {
                FetchError::Transport(in_body(&format!("chunk line over {}", size_text(limit))))
            }
            other => FetchError::Transport(in_body(&transport_error(&other))),
        });
    }
    check_body(image, declared)
}

/// Read and drop a body that is not used (a 404 page, a redirect's text),
/// so that ureq returns its connection to the pool: at most
/// [`MAX_DRAIN_BYTES`], for at most [`DRAIN_WINDOW`]. A longer body, a
/// slower one, or one that fails costs only its connection, which is
/// closed when the response is dropped. Says whether the body was read to
/// its end.
fn drain(body: &mut Body) -> bool {
    // Every read of this drain waits at most for what is left of the
    // window ([`Bounded`]), until `_window` is dropped.
    let _window = DrainWindow::open();
    let mut reader = body.with_config().limit(MAX_DRAIN_BYTES).reader();
    // Failing to drain is not this request's error: the status already
    // said what happened.
    std::io::copy(&mut reader, &mut std::io::sink()).is_ok()
}

/// One line for a ureq error, in the words the other clients use.
fn transport_error(error: &ureq::Error) -> String {
    match error {
        // ureq says "timeout: global": which deadline, not what happened.
        ureq::Error::Timeout(_) => "operation timed out".to_string(),
        // "response header is too big: 16384 > 16384", in ureq's words.
        ureq::Error::LargeResponseHeader(_, limit) => {
            format!("response head over {}", size_text(*limit))
        }
        // ureq puts "io: " before the system's words.
        ureq::Error::Io(error) => error_chain(error),
        other => error_chain(other),
    }
}

/// A size in bytes for a message: in KiB when it is a whole number of them.
fn size_text(bytes: usize) -> String {
    if bytes % 1024 == 0 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

thread_local! {
    /// Whether the call on this thread opened a new connection (rather
    /// than taking one from the pool): set by [`NoteNewConnection`], read
    /// by [`HttpClient::get_flag`]. A thread-local is exact here because
    /// ureq connects on the calling thread, inside the call.
    static NEW_CONNECTION: Cell<bool> = const { Cell::new(false) };
}

/// A link of the client's connector chain, after TCP and TLS: ureq calls
/// its connectors only when no pooled connection can be reused, so passing
/// through here means this request is on a new connection.
#[derive(Debug)]
struct NoteNewConnection;

impl<In: Transport> Connector<In> for NoteNewConnection {
    type Out = In;

    fn connect(
        &self,
        _details: &ConnectionDetails<'_>,
        chained: Option<In>,
    ) -> Result<Option<In>, ureq::Error> {
        if chained.is_some() {
            NEW_CONNECTION.set(true);
        }
        Ok(chained)
    }
}

thread_local! {
    /// When the drain running on this thread gives up: set by
    /// [`DrainWindow`] for the length of one [`drain`], read by
    /// [`Bounded`] before each read. A thread-local is exact for the
    /// same reason as [`NEW_CONNECTION`]: ureq reads on the calling thread.
    static DRAIN_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The time bound of one [`drain`]: opened when it starts, lifted when it
/// is dropped, however the drain ends.
struct DrainWindow;

impl DrainWindow {
    fn open() -> DrainWindow {
        DRAIN_DEADLINE.set(Some(Instant::now() + DRAIN_WINDOW));
        DrainWindow
    }
}

impl Drop for DrainWindow {
    fn drop(&mut self) {
        DRAIN_DEADLINE.set(None);
    }
}

/// The last link of the client's connector chain: wraps every new
/// connection (pooled ones keep theirs) in a [`Bounded`].
#[derive(Debug)]
struct BoundReads;

impl<In: Transport> Connector<In> for BoundReads {
    type Out = Bounded<In>;

    fn connect(
        &self,
        _details: &ConnectionDetails<'_>,
        chained: Option<In>,
    ) -> Result<Option<Bounded<In>>, ureq::Error> {
        Ok(chained.map(Bounded))
    }
}

/// A connection whose reads are bounded by this client, on top of what
/// ureq asks: in time while a drain runs on this thread, and in size when
/// a head does not fit the input buffer.
///
/// Why here: ureq fixes a request's timeouts when the call starts, and
/// whether a body will be drained is known only once its head is in. The
/// one thing that sees every read is the transport, and ureq hands it each
/// read's [`NextTimeout`]: lowering its per-read limit (the one ureq's
/// `timeout_per_read` would set) to what is left of the drain's window
/// ([`DRAIN_DEADLINE`]) is what bounds the drain. The TCP transport at the
/// bottom applies it, under TLS too; once the window is spent, the limit
/// is zero and the read fails at once with a timeout, the drain stops, and
/// the connection is dropped with its response.
#[derive(Debug)]
struct Bounded<T>(T);

impl<T: Transport> Transport for Bounded<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.0.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.0.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, mut timeout: NextTimeout) -> Result<bool, ureq::Error> {
        // ureq asks for more input while its buffer is full only when what
        // it parses does not fit: a response head longer than the buffer
        // (or, in a chunked body, a chunk's line). The read would get no
        // byte, and ureq would call that "Peer disconnected". Its own check
        // of `max_response_header_size` cannot see it: it compares what
        // the buffer holds, which can never be more than the buffer. (A
        // limit under the buffer size would fail a 1xx answer followed by
        // a full buffer of head and body: ureq counts all of it.)
        let buffers = self.0.buffers();
        if buffers.input_append_buf().is_empty() {
            let held = buffers.input().len();
            return Err(ureq::Error::LargeResponseHeader(held, held));
        }
        if let Some(deadline) = DRAIN_DEADLINE.get() {
            let left = time::Duration::Exact(deadline.saturating_duration_since(Instant::now()));
            timeout.per_read = Some(timeout.per_read.map_or(left, |limit| limit.min(left)));
        }
        self.0.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.0.is_open()
    }

    fn is_tls(&self) -> bool {
        self.0.is_tls()
    }
}

/// ureq's TLS settings: Mozilla's roots, plus the certificates of
/// `--cacert` when it is given.
fn tls_config(ca_cert: Option<&Path>) -> Result<TlsConfig, SetupError> {
    let Some(path) = ca_cert else {
        return Ok(TlsConfig::builder().root_certs(RootCerts::WebPki).build());
    };
    let ca_file = CaFile::read(path)?;
    let mut roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()))
        .collect();
    let web_roots = roots.len();
    for item in ureq::tls::parse_pem(&ca_file.pem) {
        // A key or anything else in the file is not a CA to trust.
        if let PemItem::Certificate(certificate) = item.map_err(|error| ca_file.refused(error))? {
            roots.push(certificate);
        }
    }
    if roots.len() == web_roots {
        return Err(ca_file.refused("no PEM certificate in the file"));
    }
    Ok(TlsConfig::builder()
        .root_certs(RootCerts::from(roots))
        .build())
}

/// A [`Resolver`] that knows the server's addresses from the start, so a
/// request never waits for a lookup and never starts a thread for one.
///
/// The base URL's host is looked up once, when the client is built
/// ([`lookup_host`]); an IP address needs no lookup. Any other host (a
/// redirect elsewhere) goes to ureq's own resolver.
#[derive(Debug, Clone)]
pub struct KnownAddresses {
    /// The host and port of the base URL, and its addresses.
    known: Option<(String, u16, Vec<SocketAddr>)>,
}

impl KnownAddresses {
    /// Look up the host of `base_url` now, on the calling thread.
    pub fn for_base_url(base_url: &str) -> KnownAddresses {
        let known = lookup_host(base_url).and_then(|(host, addresses)| {
            let port = addresses.first()?.port();
            Some((host, port, addresses))
        });
        KnownAddresses { known }
    }
}

impl Resolver for KnownAddresses {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or("");
        let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
            Some("https") => 443,
            _ => 80,
        });
        let mut addresses = self.empty();
        if let Some((known_host, known_port, known)) = &self.known
            && host.eq_ignore_ascii_case(known_host)
            && port == *known_port
        {
            for address in known {
                // The list holds 16 addresses; more would not help.
                if addresses.try_push(*address).is_err() {
                    break;
                }
            }
            return Ok(addresses);
        }
        // An IP address is its own answer: no lookup, no thread. (`[::1]`
        // comes with its brackets.)
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            addresses.push(SocketAddr::new(ip, port));
            return Ok(addresses);
        }
        DefaultResolver::default().resolve(uri, config, timeout)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use flags_server::{Fault, FlagServer, ServerConfig};

    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("a valid URL")
    }

    /// The next hop of a 302 from `from` with this `Location`.
    fn hop(from: &str, location: &str) -> Result<String, String> {
        next_hop(&url(from), 302, Some(location.as_bytes()))
            .map(String::from)
            .map_err(|error| error.to_string())
    }

    const FROM: &str = "http://user:secret@localhost:8000/flags/br/br.gif";

    /// A relative Location keeps the scheme, host, port and credentials of
    /// the request; an absolute one to the same origin keeps the
    /// credentials too.
    #[test]
    fn a_hop_on_the_same_origin_keeps_the_credentials() {
        assert_eq!(
            hop(FROM, "/flags/br/br.gif?hop=1").as_deref(),
            Ok("http://user:secret@localhost:8000/flags/br/br.gif?hop=1")
        );
        assert_eq!(
            hop(FROM, "http://localhost:8000/other/br.gif").as_deref(),
            Ok("http://user:secret@localhost:8000/other/br.gif")
        );
    }

    /// Another scheme (same host, its default port), another port or
    /// another host is another origin: the credentials stay behind, and
    /// the Location cannot bring its own.
    #[test]
    fn a_hop_to_another_origin_drops_the_credentials() {
        for (location, expected) in [
            (
                "https://localhost/flags/br/br.gif",
                "https://localhost/flags/br/br.gif",
            ),
            (
                "http://localhost:8001/flags/br/br.gif",
                "http://localhost:8001/flags/br/br.gif",
            ),
            (
                "http://127.0.0.1:8000/flags/br/br.gif",
                "http://127.0.0.1:8000/flags/br/br.gif",
            ),
            (
                "//other:pw@example.test/br.gif",
                "http://example.test/br.gif",
            ),
        ] {
            assert_eq!(hop(FROM, location).as_deref(), Ok(expected), "{location}");
        }
        // Once dropped, they stay dropped, even back on their origin.
        let away = hop(FROM, "http://example.test/br.gif").expect("followed");
        assert_eq!(
            hop(&away, "http://localhost:8000/flags/br/br.gif").as_deref(),
            Ok("http://localhost:8000/flags/br/br.gif")
        );
    }

    /// Only http and https are followed; any other scheme is an error
    /// naming it, not a path on the same server.
    #[test]
    fn other_schemes_are_errors() {
        assert_eq!(
            hop(FROM, "file:///etc/passwd"),
            Err("redirect to a file: URL, which is not followed".to_string())
        );
        assert_eq!(
            hop(FROM, "data:image/gif;base64,R0lGODlh"),
            Err("redirect to a data: URL, which is not followed".to_string())
        );
    }

    /// A followed status without a Location, and a Location that is not
    /// UTF-8: errors that say so.
    #[test]
    fn a_missing_or_unreadable_location_is_an_error() {
        assert_eq!(
            next_hop(&url(FROM), 301, None).map_err(|error| error.to_string()),
            Err("HTTP 301 redirect without a Location".to_string())
        );
        assert_eq!(
            next_hop(&url(FROM), 302, Some(b"/br\xff.gif")).map_err(|error| error.to_string()),
            Err("redirect to a malformed Location (not UTF-8)".to_string())
        );
    }

    /// A raw space, characters a URI may not hold, and a fragment: escaped
    /// (or dropped) the way the url crate does for every client, into a
    /// URI that ureq takes.
    #[test]
    fn a_hostile_location_becomes_a_uri_ureq_takes() {
        assert_eq!(
            hop(FROM, "/flags/b r/b r.gif").as_deref(),
            Ok("http://user:secret@localhost:8000/flags/b%20r/b%20r.gif")
        );
        assert_eq!(
            hop(FROM, "/x.gif#part").as_deref(),
            Ok("http://user:secret@localhost:8000/x.gif")
        );
        for location in [
            "/a b\"<>`{}|^\\.gif?q=a b\"<>`{}|^",
            "/\u{e9}t\u{e9}.gif",
            "  /padded.gif  ",
        ] {
            let next = hop(FROM, location).expect("followed");
            assert!(Uri::try_from(next.as_str()).is_ok(), "{location:?}: {next}");
        }
    }

    /// A resolver that knows `host:port` as 127.0.0.9 (a loopback address
    /// no name resolves to), and what it answers for `uri`.
    fn resolved(host: &str, port: u16, uri: &str) -> Vec<SocketAddr> {
        let known = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)), port);
        let resolver = KnownAddresses {
            known: Some((host.to_string(), port, vec![known])),
        };
        let uri = Uri::try_from(uri).expect("a valid URI");
        let answer = resolver
            .resolve(&uri, &Config::default(), NextTimeout::default())
            .expect("localhost resolves");
        answer.to_vec()
    }

    /// The http -> https redirect of a base URL on a port of its own:
    /// `https://localhost/...` is localhost on 443, not the base URL's
    /// address and port 8000.
    #[test]
    fn another_scheme_on_its_default_port_is_not_the_base_address() {
        let answer = resolved("localhost", 8000, "https://localhost/flags/br/br.gif");
        assert!(!answer.is_empty());
        for address in &answer {
            assert_eq!(address.port(), 443, "{answer:?}");
            assert_ne!(address.ip(), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)));
        }
        // The same for plain http on its default port.
        for address in resolved("localhost", 8000, "http://localhost/flags/br/br.gif") {
            assert_eq!(address.port(), 80);
        }
    }

    /// A URL that leaves the default port implicit is the base URL's host
    /// and port when the base used that default port, whichever way it was
    /// written.
    #[test]
    fn an_implicit_default_port_matches_the_base() {
        let known = vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)), 80)];
        assert_eq!(
            resolved("localhost", 80, "http://localhost/flags/br/br.gif"),
            known
        );
        assert_eq!(resolved("localhost", 80, "http://LOCALHOST:80/x"), known);
        let known = vec![SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)),
            443,
        )];
        assert_eq!(resolved("localhost", 443, "https://localhost/x"), known);
    }

    /// `for_base_url` keeps the port the base URL implies.
    #[test]
    fn the_base_url_port_defaults_by_scheme() {
        let port = |base: &str| {
            KnownAddresses::for_base_url(base)
                .known
                .map(|(_, port, _)| port)
        };
        assert_eq!(port("http://localhost/flags"), Some(80));
        assert_eq!(port("https://localhost/flags"), Some(443));
        assert_eq!(port("http://localhost:8000/flags"), Some(8000));
    }

    /// A client of `server` whose deadline is far away: what ends a drain
    /// early is the drain's own window. `ca_cert`: the server's
    /// certificate, for https.
    fn client_of(server: &FlagServer, ca_cert: Option<&Path>) -> HttpClient {
        let mut job = DownloadJob::new(vec!["BR".into()], server.base_url(), Path::new("unused"));
        job.timeout = Duration::from_secs(30);
        job.ca_cert = ca_cert.map(Path::to_path_buf);
        HttpClient::new(&job).expect("client")
    }

    /// A body still dripping when the drain window ends is given up on at
    /// once, not at `--timeout`, and dropped with its connection: the next
    /// request opens another. Over plain http and over TLS.
    #[test]
    fn a_drain_gives_up_on_a_dripping_body() {
        let dir = tempfile::tempdir().expect("temp dir");
        let identity = flags_server::TlsIdentity::generate().expect("a certificate");
        let pem = dir.path().join("ca.pem");
        std::fs::write(&pem, identity.cert_pem()).expect("written");
        for (tls, ca_cert) in [(None, None), (Some(identity), Some(pem.as_path()))] {
            let mut config = ServerConfig {
                tls,
                ..ServerConfig::default()
            };
            config.scripted.insert("br".into(), vec![Fault::Drip]);
            let server = FlagServer::start(config).expect("server starts");
            let client = client_of(&server, ca_cert);
            let mut response = client
                .agent
                .get(&flag_url(&server.base_url(), "BR"))
                .call()
                .expect("a head");
            let started = Instant::now();
            assert!(
                !drain(response.body_mut()),
                "a dripping body is not all there"
            );
            // A hang guard, far under the 30 s deadline and over the window.
            assert!(started.elapsed() < Duration::from_secs(15));
            assert_eq!(DRAIN_DEADLINE.get(), None, "the window is closed again");
            drop(response);
            assert!(client.get_flag(&server.base_url(), "BR").is_ok());
            assert_eq!(server.stats().connections, 2, "{}", server.base_url());
        }
    }

    /// A short 404 page is drained whole, and its connection serves the
    /// next request.
    #[test]
    fn a_drained_404_keeps_its_connection() {
        let server = FlagServer::start(ServerConfig::default()).expect("server starts");
        let client = client_of(&server, None);
        for _ in 0..3 {
            assert_eq!(
                client.get_flag(&server.base_url(), "ZZ"),
                Err(FetchError::NotFound)
            );
        }
        assert!(client.get_flag(&server.base_url(), "BR").is_ok());
        assert_eq!(server.stats().connections, 1);
    }
}
