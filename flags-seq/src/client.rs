//! The blocking HTTP client of the sequential model, the thread pools and
//! the process workers: a [`ureq::Agent`], whose every call does its socket
//! I/O on the thread that makes it.
//!
//! That is the point of a blocking model: `get_flag` runs `connect`,
//! `sendto` and `recvfrom` on the calling thread and sleeps in the kernel
//! until the server answers. No runtime, no hidden thread: a pool of 30
//! threads is 30 threads talking to the server, which `strace -f -e
//! trace=connect` shows (see the README of this crate).
//!
//! What the client decides about a response (status, encoding, body cap,
//! GIF) is [`flags_core::fetch`]'s, as for every client; this module only
//! reads ureq's types into it.
//!
//! ureq's defaults are made for one request now and then, not for 676 of
//! them from 676 threads, so [`HttpClient::new`] tunes four things
//! ([`ClientSettings`]; what each is worth is under "Tuning and
//! measurements" in the crate's README):
//!
//! - **Names are looked up once**, by [`KnownAddresses`], on the calling
//!   thread: ureq's own resolver starts a thread per request once a
//!   timeout is set.
//! - **Small buffers**: 16 KiB in, 4 KiB out per connection, not 128 KiB
//!   each.
//! - **A pool as large as the run**: up to `-m` idle connections, not 3
//!   per host.
//! - **Every body is read to its end**, 404s included: only then does a
//!   connection go back to the pool (`drain`).

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use flags_core::fetch::{
    CaFile, MAX_BODY_BYTES, ResponseHead, body_capacity, check_body, check_gif,
};
use flags_core::retry::{FetchError, error_chain, is_stale_connection_kind};
use flags_core::url::{flag_url, lookup_host};
use flags_core::{DownloadJob, SetupError};
use ureq::config::Config;
use ureq::http::Uri;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    ConnectionDetails, Connector, DefaultConnector, NextTimeout, Transport,
};
use ureq::{Agent, Body};

use crate::BlockingClient;

/// Redirects followed before giving up, as the contract says.
pub const MAX_REDIRECTS: u32 = 10;

/// The client of one run, shared by every thread of it: a [`ureq::Agent`]
/// (an `Arc` inside, so `Clone` is cheap, and `Sync`) with its pool of
/// keep-alive connections.
#[derive(Debug, Clone)]
pub struct HttpClient {
    agent: Agent,
    /// The same client without a pool: every call on it opens a new
    /// connection. For the one retry of a request whose reused connection
    /// turned out to be closed (see [`BlockingClient::get_flag`]).
    fresh: Agent,
    /// Read error bodies to their end, so their connections are reused.
    drain_error_bodies: bool,
}

// --- Tuning: what the client changes from ureq's defaults, one switch each
// (what each is worth: "Tuning and measurements" in the crate's README) ---

/// Input buffer of a connection: a response head and a piece of a body.
pub const INPUT_BUFFER_BYTES: usize = 16 * 1024;
/// Output buffer of a connection: a request head (a few hundred bytes).
pub const OUTPUT_BUFFER_BYTES: usize = 4 * 1024;
/// The longest response head accepted; it must fit the input buffer.
pub const MAX_HEAD_BYTES: usize = INPUT_BUFFER_BYTES;

/// The most of an error body (a 404 page) read to keep its connection;
/// past that the connection is dropped instead.
pub const MAX_DRAIN_BYTES: u64 = 64 * 1024;

/// The four settings [`HttpClient::new`] changes from ureq's defaults, one
/// switch each, so that each can be measured on its own
/// (`examples/client_settings.rs` in flags-threadpool runs them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSettings {
    /// Hand back the addresses looked up at the start ([`KnownAddresses`])
    /// instead of ureq's resolver, which starts a thread per request.
    pub known_addresses: bool,
    /// 16 KiB in and 4 KiB out per connection, instead of 128 KiB each.
    pub small_buffers: bool,
    /// Keep up to `-m` idle connections, instead of 3 per host.
    pub pool_per_thread: bool,
    /// Read a 404's body to its end, so its connection goes back to the
    /// pool instead of being closed.
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
    /// answers, the whole-request deadline, redirects, the body cap).
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
                .max_redirects(MAX_REDIRECTS)
                .max_redirects_will_error(true)
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
        // that notes on this thread that a new connection was opened.
        let connector = || DefaultConnector::default().chain(NoteNewConnection);
        let agent = |pooled: bool| match &resolver {
            Some(resolver) => Agent::with_parts(config(pooled), connector(), resolver.clone()),
            None => Agent::with_parts(config(pooled), connector(), DefaultResolver::default()),
        };
        Ok(HttpClient {
            agent: agent(true),
            fresh: agent(false),
            drain_error_bodies: settings.drain_error_bodies,
        })
    }
}

impl BlockingClient for HttpClient {
    fn get_flag(&self, base_url: &str, country_code: &str) -> Result<Vec<u8>, FetchError> {
        // Blocks this thread: look up (from memory), connect or take a
        // pooled connection, send the request, wait for the head.
        let url = flag_url(base_url, country_code);
        NEW_CONNECTION.set(false);
        let mut response = match self.agent.get(&url).call() {
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
                self.fresh.get(&url).call()
            }
            other => other,
        }
        .map_err(|error| FetchError::Transport(transport_error(&error)))?;
        let head = ResponseHead::of(response.status(), response.headers());
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
            other => FetchError::Transport(format!("body: {}", transport_error(&other))),
        });
    }
    check_body(image, declared)
}

/// Read and drop an error body (a 404 page) of at most [`MAX_DRAIN_BYTES`],
/// so that ureq returns the connection to the pool. A longer body, or one
/// that fails, costs only that connection.
fn drain(body: &mut Body) {
    let mut reader = body.with_config().limit(MAX_DRAIN_BYTES).reader();
    // Failing to drain is not this request's error: the status already said
    // what happened. The connection is then closed instead of pooled.
    let _ = std::io::copy(&mut reader, &mut std::io::sink());
}

/// One line for a ureq error, in the words the other clients use.
fn transport_error(error: &ureq::Error) -> String {
    match error {
        // ureq says "timeout: global": which deadline, not what happened.
        ureq::Error::Timeout(_) => "operation timed out".to_string(),
        ureq::Error::TooManyRedirects => format!("more than {MAX_REDIRECTS} redirects"),
        other => error_chain(other),
    }
}

thread_local! {
    /// Whether the call on this thread opened a new connection (rather
    /// than taking one from the pool): set by [`NoteNewConnection`], read
    /// by [`HttpClient::get_flag`]. A thread-local is exact here because
    /// ureq connects on the calling thread, inside the call.
    static NEW_CONNECTION: Cell<bool> = const { Cell::new(false) };
}

/// The last link of the client's connector chain: ureq calls its
/// connectors only when no pooled connection can be reused, so passing
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
