//! The async model's second client: hyper's HTTP/1 connections driven
//! directly, with a small pool of our own, without reqwest on top
//! (`flags-async --client hyper`).
//!
//! reqwest is hyper-util's `Client` (a connection pool over hyper's HTTP/1
//! connections, hyper-rustls for https) with conveniences around it. Taking
//! hyper directly shows what those conveniences are, and what they cost at
//! 676 connections in flight:
//!
//! - **What reqwest did for us, done here by hand:** following redirects
//!   ([`MAX_REDIRECTS`], [`HyperClient::get_body`]); the deadline of the
//!   whole request (one `tokio::time::timeout` around it); the TLS
//!   configuration (webpki roots plus `--cacert`, ring as the one crypto
//!   provider); the server's address looked up once (`KnownAddresses`);
//!   the `Host` header and the request line's path; keeping idle
//!   connections for reuse (`Pool`); and the one retry of a GET whose
//!   reused connection was closed under it.
//! - **What reqwest costs (measured, "Tuning and measurements" in the
//!   crate's README):** its builder hides hyper's buffer sizes, so every
//!   connection reads into an 8 KiB buffer that grows to 16 KiB and more
//!   for a larger flag; each request and response is wrapped (its URL
//!   parsed and kept, its body boxed, a timeout future per body); and
//!   hyper-util's pool boxes a future of about 2.5 KB per request, which
//!   races "an idle connection comes back" against "a new one is opened".
//!   Here the read buffer is [`HyperTuning::read_buffer`] bytes, exactly,
//!   and the pool is a list of idle connections behind a lock: about
//!   20 KiB of RSS per connection in flight, against reqwest's 30 KiB
//!   (`-e -m 676`: 20 MiB against 27 MiB, curl 20 MiB).
//! - **What neither can change:** hyper gives each connection an 8 KiB
//!   write buffer (`WriteBuf::new` in hyper's `proto/h1/io.rs`, with no
//!   setting), and the channel that hands requests to its connection task
//!   (a tokio `mpsc` block of 32 slots, about 8 KiB, allocated when the
//!   connection opens).
//!
//! Everything a response means is decided in `flags_core::fetch`, as for
//! every client: [`ResponseHead`], [`BodyBuffer`] (the 10 MiB cap).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use flags_core::fetch::FetchError;
use flags_core::fetch::{BodyBuffer, ClientOptions, ResponseHead};
use flags_core::retry::{error_chain, is_stale_connection};
use flags_core::{DownloadJob, SetupError};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Bytes, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HOST, HeaderValue, LOCATION};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tower_service::Service;

/// The most redirects followed for one request, as every client of the
/// models; one more is an error.
pub const MAX_REDIRECTS: usize = 10;

// --- Tuning: hyper's buffers (see "Tuning and measurements" in the
// crate's README) ---

/// The sizes hyper's HTTP/1 connections are built with: what reqwest's
/// builder does not let us set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HyperTuning {
    /// Bytes of each connection's read buffer, exactly
    /// (`read_buf_exact_size`); `None` leaves hyper's adaptive buffer
    /// (8 KiB, doubling up to about 400 KiB while reads fill it), which is
    /// what reqwest uses. The status line and headers of a response must
    /// fit in it: a longer head is an error ("message head is too large").
    pub read_buffer: Option<usize>,
    /// Whether a request is written with vectored writes (`writev`); a GET
    /// is its head only, one buffer, so either way it is one system call.
    pub writev: bool,
}

impl HyperTuning {
    /// The sizes measured best for flags (1 to 40 KB) at 676 connections.
    pub const TUNED: HyperTuning = HyperTuning {
        read_buffer: Some(4096),
        writev: false,
    };
    /// hyper as reqwest builds it.
    pub const HYPER_DEFAULTS: HyperTuning = HyperTuning {
        read_buffer: None,
        writev: true,
    };
}

impl Default for HyperTuning {
    fn default() -> Self {
        HyperTuning::TUNED
    }
}

// --- End of tuning ---

/// How connections are opened: TCP, with the server's addresses known
/// from the start.
type TcpConnector = HttpConnector<KnownAddresses>;

/// How `https://` connections are opened: TLS over the TCP connector.
type TlsConnector = HttpsConnector<TcpConnector>;

/// A GET has no body: [`Empty`] is a body type of size zero.
type NoBody = Empty<Bytes>;

/// One HTTP/1 connection, seen from the tasks: the handle that sends it a
/// request. The connection itself is a task of its own, which reads and
/// writes the socket.
type Sender = SendRequest<NoBody>;

/// The client of a run on hyper directly: how to open a connection, how
/// hyper builds one, the idle ones kept for reuse, and the deadline of
/// each request.
///
/// Every task holds a clone: one reference count, as a reqwest `Client`
/// is.
#[derive(Clone)]
pub struct HyperClient {
    shared: Arc<Shared>,
}

/// What a [`HyperClient`] shares between its clones.
struct Shared {
    /// Opens `http://` connections: TCP.
    tcp: TcpConnector,
    /// Opens `https://` connections: TCP, then TLS.
    tls: TlsConnector,
    http1: http1::Builder,
    pool: Pool,
    /// `--timeout`: the deadline of each whole request, redirects and body
    /// included; `None` only for tests on a paused clock.
    deadline: Option<Duration>,
}

impl fmt::Debug for HyperClient {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("HyperClient")
            .field("deadline", &self.shared.deadline)
            .finish_non_exhaustive()
    }
}

impl HyperClient {
    /// The client for `job`, with the [tuned](HyperTuning::TUNED) buffers:
    /// the same settings as the reqwest client ([`ClientOptions`]).
    ///
    /// Looks the server's name up, so it blocks: call it before the
    /// runtime starts, not on it.
    pub fn new(job: &DownloadJob) -> Result<HyperClient, SetupError> {
        HyperClient::with_tuning(job, HyperTuning::TUNED)
    }

    /// The client for `job` with the buffers of `tuning`: for measuring
    /// what each setting is worth.
    pub fn with_tuning(job: &DownloadJob, tuning: HyperTuning) -> Result<HyperClient, SetupError> {
        let options = ClientOptions::for_job(job)?;
        HyperClient::build(&options, tuning, Some(options.timeout))
    }

    /// The client for `job` with no timer at all: no deadline. For tests on
    /// a paused clock, where a pending timer fires at once.
    pub fn without_timers(job: &DownloadJob) -> Result<HyperClient, SetupError> {
        HyperClient::build(&ClientOptions::for_job(job)?, HyperTuning::TUNED, None)
    }

    fn build(
        options: &ClientOptions,
        tuning: HyperTuning,
        deadline: Option<Duration>,
    ) -> Result<HyperClient, SetupError> {
        let mut http1 = http1::Builder::new();
        http1
            .read_buf_exact_size(tuning.read_buffer)
            .writev(tuning.writev);
        Ok(HyperClient {
            shared: Arc::new(Shared {
                tcp: tcp_connector(options),
                tls: tls_connector(options)?,
                http1,
                pool: Pool::default(),
                deadline,
            }),
        })
    }

    /// One GET of `url`, redirects followed, the status checked and the
    /// whole body read, under the deadline: the body and its
    /// `Content-Type`.
    ///
    /// The deadline wraps everything, as reqwest's `timeout` does:
    /// connecting, each redirect, the head, and every byte of the body (a
    /// server that drips its body one byte at a time is cut off).
    /// Dropping the unfinished request at the deadline closes its
    /// connection (hyper's rule for a request dropped in flight).
    pub async fn get_body(&self, url: &str) -> Result<(Vec<u8>, Option<String>), FetchError> {
        // Set once the head is in, to say where the deadline struck, in
        // reqwest's words: `operation timed out`, or `body: operation timed
        // out` while the body was read.
        let mut in_body = false;
        let Some(deadline) = self.shared.deadline else {
            return self.follow_and_read(url, &mut in_body).await;
        };
        match tokio::time::timeout(deadline, self.follow_and_read(url, &mut in_body)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(FetchError::Transport(
                if in_body {
                    "body: operation timed out"
                } else {
                    "operation timed out"
                }
                .to_string(),
            )),
        }
    }

    /// [`get_body`](HyperClient::get_body) without the deadline: send,
    /// follow up to [`MAX_REDIRECTS`] redirects, judge the head, read the
    /// body (setting `in_body` first).
    async fn follow_and_read(
        &self,
        url: &str,
        in_body: &mut bool,
    ) -> Result<(Vec<u8>, Option<String>), FetchError> {
        let mut url = url.to_string();
        let mut redirects = 0;
        loop {
            // The connection stays leased until this hop is done with it
            // (its body read, or dropped), then goes back to the pool.
            let (response, _lease) = self.send(&url).await?;
            if let Some(next) = redirect_target(&response, &url) {
                if redirects == MAX_REDIRECTS {
                    return Err(FetchError::Transport(format!(
                        "more than {MAX_REDIRECTS} redirects"
                    )));
                }
                redirects += 1;
                // The redirect's own body is dropped unread: hyper reads
                // what is already there (an empty or short body) and keeps
                // the connection, or closes it.
                url = next;
                continue;
            }
            let head = ResponseHead::of(response.status(), response.headers());
            // Every status but 200 is a `FetchError`; an encoding we did
            // not ask for is refused before reading.
            head.check_status()?;
            head.check_encoding()?;
            *in_body = true;
            return Ok((read_body(response.into_body()).await?, head.content_type));
        }
    }

    /// Send a GET of `url` on an idle connection to its server, or a new
    /// one, and await the status line and headers: the response, and the
    /// connection it came on, leased until dropped.
    ///
    /// If a reused connection was closed under the request (the server may
    /// close an idle keep-alive connection at any time, and its FIN can
    /// come too late to be seen), send it again, once, at once, on a new
    /// connection: a GET may be (RFC 9112 section 9.3.1). That is not one
    /// of `--retries`. Unlike the reqwest path, which cannot tell, this
    /// one knows that the connection was a reused one: a new connection
    /// that fails is not tried twice.
    async fn send(&self, url: &str) -> Result<(Response<Incoming>, Lease<'_>), FetchError> {
        let uri: Uri = url
            .parse()
            .map_err(|error| FetchError::Transport(format!("bad URL {url}: {error}")))?;
        let key = pool_key(&uri)?;
        if let Some(mut lease) = self.shared.pool.take(&key).await {
            match lease.sender().send_request(get(&uri)?).await {
                Ok(response) => return Ok((response, lease)),
                // Closed before any byte of the answer, or before the
                // request could be written: once more, on a new one.
                Err(error) if error.is_canceled() || is_stale_connection(&error) => {}
                Err(error) => return Err(FetchError::Transport(error_chain(&error))),
            }
        }
        // Boxed: connecting needs a few hundred bytes more than waiting for
        // an answer does (a TLS stream alone is over 1 KB), and only for a
        // moment; on the task's own state it would stay for the whole run.
        let sender = Box::pin(self.connect(&uri)).await?;
        let mut lease = Lease::new(&self.shared.pool, key, sender);
        let response = lease
            .sender()
            .send_request(get(&uri)?)
            .await
            .map_err(|error| FetchError::Transport(error_chain(&error)))?;
        Ok((response, lease))
    }

    /// Open a new connection to `uri`'s server: TCP, and TLS on it for
    /// `https://`.
    async fn connect(&self, uri: &Uri) -> Result<Sender, FetchError> {
        // Two connectors, not hyper-rustls's one for both schemes: its
        // stream type holds a TLS session inline (about 1.1 KB) even when
        // it carries plain HTTP, and every connection's task would be that
        // much larger.
        if uri.scheme_str() == Some("https") {
            self.open(self.shared.tls.clone(), uri).await
        } else {
            self.open(self.shared.tcp.clone(), uri).await
        }
    }

    /// Open a connection with `connector`, then set hyper's HTTP/1 state on
    /// it, whose task is spawned on the runtime to read and write the
    /// socket for as long as it lives.
    async fn open<C>(&self, mut connector: C, uri: &Uri) -> Result<Sender, FetchError>
    where
        C: Service<Uri>,
        C::Response: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
        C::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let connecting = async {
            std::future::poll_fn(|context| connector.poll_ready(context)).await?;
            connector.call(uri.clone()).await
        };
        let io = connecting
            .await
            .map_err(|error| FetchError::Transport(error_chain(&*error.into())))?;
        let (sender, connection) = self
            .shared
            .http1
            .handshake(io)
            .await
            .map_err(|error| FetchError::Transport(error_chain(&error)))?;
        // The connection runs until it closes; its errors reach the request
        // that was on it, so its own result is dropped with the handle.
        // (Spawned as it is: `async move { connection.await }` would hold
        // the connection twice over in the task, as the captured value and
        // as the awaited one.)
        drop(tokio::spawn(connection));
        Ok(sender)
    }
}

/// The idle connections, by server (`scheme://host:port`): the whole
/// connection pool. A task takes one when it has a request to send, and
/// gives it back when it is done with it, so the pool never holds more
/// connections than were ever in use at once. (hyper-util's pool adds
/// what a general client needs: idle timeouts, a limit per host, HTTP/2
/// sharing, and a race between waiting for an idle connection and opening
/// a new one.)
#[derive(Default)]
struct Pool {
    idle: Mutex<HashMap<String, Vec<Sender>>>,
}

impl Pool {
    /// The most recently given back connection to `key` that can take a
    /// request (waiting, if hyper is still reading the end of its last
    /// response), or `None` when there is none: then the caller connects.
    async fn take(&self, key: &str) -> Option<Lease<'_>> {
        loop {
            // The lock is held for the pop only, never across an `.await`.
            let mut sender = self.idle.lock().ok()?.get_mut(key)?.pop()?;
            if !sender.is_closed() && sender.ready().await.is_ok() {
                return Some(Lease::new(self, key.to_string(), sender));
            }
            // Closed while idle (the server closed it): drop it, try the
            // next one.
        }
    }

    /// Keep `sender` for reuse, unless its connection has closed.
    fn give_back(&self, key: String, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.entry(key).or_default().push(sender);
        }
    }
}

/// A connection in use by one request; given back to the pool when
/// dropped, whatever happened (a connection that hyper closed is then
/// left out, now or when it is next taken).
struct Lease<'a> {
    pool: &'a Pool,
    key: String,
    sender: Option<Sender>,
}

impl<'a> Lease<'a> {
    fn new(pool: &'a Pool, key: String, sender: Sender) -> Lease<'a> {
        Lease {
            pool,
            key,
            sender: Some(sender),
        }
    }

    fn sender(&mut self) -> &mut Sender {
        self.sender
            .as_mut()
            .expect("a lease holds its sender until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            self.pool.give_back(std::mem::take(&mut self.key), sender);
        }
    }
}

/// Which idle connections can carry a request to `uri`: those to the same
/// scheme, host and port.
fn pool_key(uri: &Uri) -> Result<String, FetchError> {
    let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
        return Err(FetchError::Transport(format!("not an absolute URL: {uri}")));
    };
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    Ok(format!("{scheme}://{host}:{port}"))
}

/// A GET of `uri` as one connection sends it: the path and query on the
/// request line, the server in `Host` (with its port when not the
/// scheme's), and no other header: no `Accept-Encoding`, so no
/// `Content-Encoding` is asked for.
fn get(uri: &Uri) -> Result<Request<NoBody>, FetchError> {
    let host = uri.host().unwrap_or_default();
    let host = match uri.port() {
        Some(port) => HeaderValue::try_from(format!("{host}:{port}")),
        None => HeaderValue::try_from(host),
    };
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    Request::get(path)
        .header(
            HOST,
            host.map_err(|error| FetchError::Transport(error.to_string()))?,
        )
        .body(Empty::new())
        .map_err(|error| FetchError::Transport(format!("bad URL {uri}: {error}")))
}

/// Where a redirect points, as an absolute URL; `None` when `response` is
/// no redirect, or one without a usable `Location` (then its status is
/// judged as any other: an error).
fn redirect_target(response: &Response<Incoming>, url: &str) -> Option<String> {
    let redirect = matches!(
        response.status(),
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    );
    if !redirect {
        return None;
    }
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    // `Location` may be relative: resolved against the URL asked for.
    let next = url::Url::parse(url).ok()?.join(location).ok()?;
    matches!(next.scheme(), "http" | "https").then(|| next.into())
}

/// Read a body of at most the cap, frame by frame as it arrives
/// ([`BodyBuffer`]); a longer one is refused as soon as it passes the cap, a
/// truncated one is a transport error.
async fn read_body(mut body: Incoming) -> Result<Vec<u8>, FetchError> {
    // hyper knows the exact length when the server sent `Content-Length`.
    let mut buffer = BodyBuffer::new(body.size_hint().exact())?;
    // Await each frame: between two frames the thread runs other tasks.
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| FetchError::Transport(error_chain(&error)))?;
        // A frame is data or trailers; trailers say nothing we read.
        if let Some(data) = frame.data_ref() {
            buffer.push(data)?;
        }
    }
    buffer.finish()
}

/// TCP connections with the settings of [`ClientOptions`].
fn tcp_connector(options: &ClientOptions) -> TcpConnector {
    let mut tcp = HttpConnector::new_with_resolver(KnownAddresses::new(options));
    // `https://` URLs come here too, under the TLS connector.
    tcp.enforce_http(false);
    tcp.set_connect_timeout(Some(options.connect_timeout));
    // As reqwest: each request is written at once, never held back.
    tcp.set_nodelay(true);
    // hyper-util asks for no TCP keep-alive probes unless told to.
    if options.keepalive_probes {
        tcp.set_keepalive(Some(Duration::from_secs(15)));
    }
    tcp
}

/// TLS connections, over [`tcp_connector`]'s, with the web's roots and
/// `--cacert`.
fn tls_connector(options: &ClientOptions) -> Result<TlsConnector, SetupError> {
    Ok(HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(options)?)
        .https_only()
        .enable_http1()
        .wrap_connector(tcp_connector(options)))
}

/// rustls with ring as its one crypto provider (no aws-lc-rs, so no
/// cmake), trusting Mozilla's roots (`webpki-roots`, as reqwest) and the
/// certificates of `--cacert` on top of them.
fn tls_config(options: &ClientOptions) -> Result<rustls::ClientConfig, SetupError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(ca_file) = &options.ca_file {
        for certificate in CertificateDer::pem_slice_iter(&ca_file.pem) {
            let certificate = certificate.map_err(|error| ca_file.refused(error))?;
            roots
                .add(certificate)
                .map_err(|error| ca_file.refused(error))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| SetupError::Client(error.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The resolver of both clients: the base URL's host answered from the
/// addresses looked up once before the run ([`ClientOptions`]), so a new
/// connection never waits for a lookup nor sends one to a blocking thread;
/// any other host (a redirect elsewhere) goes to the system's resolver, on
/// tokio's blocking pool. (reqwest's `resolve_to_addrs` is the same.)
#[derive(Clone)]
struct KnownAddresses {
    known: Option<Arc<(String, Vec<SocketAddr>)>>,
    system: GaiResolver,
}

impl KnownAddresses {
    fn new(options: &ClientOptions) -> KnownAddresses {
        KnownAddresses {
            known: options.known_addresses.clone().map(Arc::new),
            system: GaiResolver::new(),
        }
    }
}

/// What a lookup gives back: the addresses, in order of preference.
type Addresses = std::vec::IntoIter<SocketAddr>;
/// A lookup that may have to wait (the system's resolver).
type Lookup = Pin<Box<dyn Future<Output = Result<Addresses, std::io::Error>> + Send>>;

impl tower_service::Service<Name> for KnownAddresses {
    type Response = Addresses;
    type Error = std::io::Error;
    type Future = Lookup;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        if let Some(known) = &self.known
            && known.0.eq_ignore_ascii_case(name.as_str())
        {
            let addresses = known.1.clone();
            return Box::pin(std::future::ready(Ok(addresses.into_iter())));
        }
        let lookup = self.system.call(name);
        Box::pin(async move { Ok(lookup.await?.collect::<Vec<_>>().into_iter()) })
    }
}
