//! The server itself: the handle, the accept loop, one task per connection,
//! and the request handler that decides what each request gets.
//!
//! The shape, from the outside in:
//!
//! - [`FlagServer::start_on`] binds the socket in the caller's thread (so a
//!   busy port is reported at once), then hands the listener to a new std
//!   thread that owns a tokio runtime and runs [`accept_loop`] on it.
//! - [`accept_loop`] accepts connections until the shutdown channel fires,
//!   spawning one task per connection ([`serve_connection`]).
//! - Each connection task first runs the TLS handshake when the server
//!   speaks HTTPS, then ([`serve_http`]) lets hyper read requests off the
//!   stream, plain or encrypted, and call [`handle`] for each; keep-alive
//!   means one connection may carry many.
//! - [`handle`] counts the request, draws its delay and fault, waits, and
//!   builds the response, whose [`FlagBody`] carries the in-flight guard.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{
    CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION, RETRY_AFTER,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, mpsc, watch};
use tokio_rustls::TlsAcceptor;

use crate::body::{Delivery, FlagBody};
use crate::config::{Fault, ServerConfig};
use crate::images::{builtin_flag, builtin_metadata, metadata_with_name};
use crate::stats::{InFlight, OpenConnection, Recorder, RequestRecord, Stats};
use crate::tls::TlsIdentity;

/// Connections waiting to be accepted that the kernel may queue. Large, so
/// that a thousand clients connecting at once are queued, not refused.
const LISTEN_BACKLOG: u32 = 1024;
/// After an accept error (such as running out of file descriptors), wait
/// this long before trying again, so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);
/// At shutdown, bodies already being sent get this long to finish before
/// their connections are cut.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// Worker threads of each server's runtime: enough to serve while the
/// clients of a test or benchmark run in the same process.
const WORKER_THREADS: usize = 2;
/// An HTTPS client gets this long to finish its TLS handshake; one that
/// does not (it connected and said nothing, or speaks too slowly) is cut
/// off, so it cannot hold a connection task for ever.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long before a delay's deadline [`precise_sleep`] stops trusting the
/// timer and starts checking the clock.
const TIMER_SLACK: Duration = Duration::from_millis(1);

/// Sleep for `wait`, to a fraction of a millisecond.
///
/// tokio's timer counts in whole milliseconds and rounds every deadline up,
/// so a plain `sleep(100 ms)` answers 1 to 2 ms late: 2% on every request of
/// the DELAY server, which would show up in every model's ratio to the
/// bound. So the task sleeps on the timer until [`TIMER_SLACK`] before the
/// deadline, then yields to the other tasks until the clock reaches it (at
/// most a millisecond or so of polling per request, never a blocked
/// thread). It never answers early.
async fn precise_sleep(wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    if wait > TIMER_SLACK {
        tokio::time::sleep_until(deadline - TIMER_SLACK).await;
    }
    while tokio::time::Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
}

/// A running flag server: the handle to it.
///
/// The server runs on its own std thread with its own tokio runtime, so
/// blocking, threaded and async code use it the same way: start it, point
/// clients at [`base_url`](Self::base_url), read its [`stats`](Self::stats),
/// and drop it (or call [`shutdown`](Self::shutdown)) to stop it.
///
/// ```
/// use flags_server::{FlagServer, ServerConfig};
///
/// let server = FlagServer::start(ServerConfig::default())?;
/// assert!(server.base_url().starts_with("http://127.0.0.1:"));
/// assert!(server.base_url().ends_with("/flags"));
/// server.shutdown();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct FlagServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// The shutdown channel. A `watch` channel holds one value that every
    /// receiver can see: `false` while running, `true` once the server must
    /// stop. The accept loop and every connection task hold a receiver and
    /// wait for `true`; a dropped sender counts as `true` too, so the server
    /// stops even if this handle is leaked in a panic.
    shutdown: watch::Sender<bool>,
    /// The thread that owns the runtime. Joined on shutdown, so that when
    /// [`FlagServer::shutdown`] returns the port is closed and every task is
    /// gone.
    thread: Option<JoinHandle<()>>,
}

/// What every connection task shares: the configuration, the counters, the
/// random generator and the scripts. Behind an `Arc`, one per server.
struct Shared {
    config: ServerConfig,
    /// Where the files come from.
    content: Content,
    /// For an HTTPS server, what runs the handshake of each connection.
    tls: Option<TlsAcceptor>,
    recorder: Arc<Recorder>,
    /// The random generator behind delays and faults. One generator behind
    /// a mutex, rather than one per task, so that a seed gives the same
    /// sequence of answers to the same sequence of requests.
    rng: Mutex<fastrand::Rng>,
    /// The faults still to come per code, taken from the front.
    scripted: Mutex<BTreeMap<String, VecDeque<Fault>>>,
    /// Redirects sent so far ([`Fault::Redirect`]): numbers the `hop` of
    /// each `Location`, so that no two are the same.
    redirects: AtomicU64,
}

/// Where the flags and metadata come from.
#[derive(Debug)]
enum Content {
    /// The generated ones of [`crate::images`].
    Builtin,
    /// A directory, canonicalised at start: `{root}/{cc}/{cc}.gif`.
    Dir(PathBuf),
}

/// Why a request got no response: the connection is closed instead.
#[derive(Debug, thiserror::Error)]
enum NoResponse {
    /// A stalled request, abandoned at shutdown.
    #[error("stalled request abandoned at shutdown")]
    Stalled,
    /// A delayed request, abandoned at shutdown.
    #[error("delayed request abandoned at shutdown")]
    ShuttingDown,
}

impl FlagServer {
    /// Starts a server on `127.0.0.1`, on a port chosen by the system.
    ///
    /// Returns once the socket listens, so clients may connect at once.
    pub fn start(config: ServerConfig) -> io::Result<FlagServer> {
        FlagServer::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config)
    }

    /// Starts a server on the given address (port 0 for any free port).
    ///
    /// Returns once the socket listens. Fails when the address cannot be
    /// bound (for instance [`io::ErrorKind::AddrInUse`]), when `config.dir`
    /// is not a readable directory, or when the runtime cannot be built; the
    /// error message names the address or the directory.
    pub fn start_on(addr: SocketAddr, config: ServerConfig) -> io::Result<FlagServer> {
        raise_open_file_limit();
        let content = match &config.dir {
            None => {
                // Paint the built-in flags now, not on the first request, so
                // that the first client is not slowed down.
                let _ = builtin_flag("br");
                Content::Builtin
            }
            Some(dir) => Content::Dir(canonical_dir(dir)?),
        };
        let scripted = config
            .scripted
            .iter()
            .map(|(code, faults)| (code.to_ascii_lowercase(), faults.iter().copied().collect()))
            .collect();
        let rng = match config.seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        };
        let tls = config.tls.as_ref().map(TlsIdentity::acceptor);
        let shared = Arc::new(Shared {
            config,
            content,
            tls,
            recorder: Arc::new(Recorder::new()),
            rng: Mutex::new(rng),
            scripted: Mutex::new(scripted),
            redirects: AtomicU64::new(0),
        });

        // The ready channel: the server thread builds its runtime and binds
        // the socket, then sends back the bound address (or the error), so
        // that `start_on` returns only once clients can connect, and a busy
        // port is an error returned here rather than a message lost in a
        // thread. A std channel, since the caller may not be async.
        let (ready_sender, ready_receiver) = std::sync::mpsc::sync_channel(1);
        let (shutdown, shutdown_receiver) = watch::channel(false);
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("flags-server".to_owned())
            .spawn(move || {
                // The runtime lives and dies in this thread, its own: so the
                // server works the same whether the caller is a plain thread,
                // a pool or another tokio runtime (which could neither
                // `block_on` nor drop a runtime from inside its tasks).
                let started = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(WORKER_THREADS)
                    .thread_name("flags-server-worker")
                    .enable_all()
                    .build()
                    .and_then(|runtime| {
                        // The listener registers with the runtime's reactor,
                        // so it is made inside the runtime.
                        let listener = runtime.block_on(async { bind(addr) })?;
                        Ok((runtime, listener))
                    });
                let (runtime, listener) = match started {
                    Ok(started) => started,
                    Err(error) => {
                        let _ = ready_sender.send(Err(error));
                        return;
                    }
                };
                let _ = ready_sender.send(listener.local_addr());
                // Serve until shutdown; then dropping the runtime cancels
                // any task still running (connections past the grace period).
                runtime.block_on(accept_loop(listener, thread_shared, shutdown_receiver));
                drop(runtime);
            })?;
        // `recv` fails only if the thread died without a word (a panic).
        let ready = ready_receiver
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the server thread died while starting")));
        match ready {
            Ok(addr) => Ok(FlagServer {
                addr,
                shared,
                shutdown,
                thread: Some(thread),
            }),
            Err(error) => {
                let _ = thread.join();
                Err(io::Error::new(
                    error.kind(),
                    format!("cannot listen on {addr}: {error}"),
                ))
            }
        }
    }

    /// The address the server listens on, with the real port.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL of the flags, without a trailing slash, e.g.
    /// `http://127.0.0.1:40123/flags`: a flag is at `{base_url}/br/br.gif`.
    /// An HTTPS server (with [`ServerConfig::tls`]) says `https://`.
    pub fn base_url(&self) -> String {
        let scheme = if self.shared.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}/flags", self.addr)
    }

    /// For an HTTPS server, the PEM certificate its clients must trust
    /// ([`TlsIdentity::cert_pem`]); `None` for plain HTTP.
    pub fn ca_pem(&self) -> Option<&str> {
        self.shared.config.tls.as_ref().map(TlsIdentity::cert_pem)
    }

    /// How many flags this server holds: 194 for the built-in data, the
    /// number of `{cc}/{cc}.gif` files for a directory.
    pub fn flag_count(&self) -> usize {
        match &self.shared.content {
            Content::Builtin => flags_core::countries::ALL_COUNTRIES.len(),
            Content::Dir(root) => count_flags_in(root),
        }
    }

    /// A snapshot of the counters (the same as `GET /stats`).
    pub fn stats(&self) -> Stats {
        self.shared.recorder.snapshot()
    }

    /// Zeroes the counters and empties the request log (the same as
    /// `POST /stats/reset`). Requests still in flight stay counted in
    /// `in_flight` until they finish.
    pub fn reset_stats(&self) {
        self.shared.recorder.reset();
    }

    /// The instant the times of [`FlagServer::request_log`] count from, so
    /// that a caller can put the server's timeline next to its own clock.
    pub fn epoch(&self) -> std::time::Instant {
        self.shared.recorder.epoch()
    }

    /// Every finished request since the start or the last reset (at most the
    /// latest 100 000), oldest first: what each asked, got, and when,
    /// counted from [`FlagServer::epoch`].
    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.shared.recorder.request_log()
    }

    /// Stops the server: stops accepting (the port refuses connections from
    /// now on), closes idle connections, abandons stalled and delayed
    /// requests (their connections close without an answer), cuts dripping
    /// bodies ([`Fault::Drip`]), gives other bodies being sent up to a
    /// second to finish, and joins the server thread.
    /// Dropping the handle does the same.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for FlagServer {
    fn drop(&mut self) {
        // Flip the channel to `true`: every receiver wakes up.
        self.shutdown.send_replace(true);
        if let Some(thread) = self.thread.take() {
            // The thread only panics if the server code has a bug; there is
            // nothing better to do with that in a destructor than to say so.
            if thread.join().is_err() {
                eprintln!("flags-server: the server thread panicked");
            }
        }
    }
}

impl fmt::Debug for FlagServer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("FlagServer")
            .field("addr", &self.addr)
            .field("content", &self.shared.content)
            .finish_non_exhaustive()
    }
}

/// Binds a listening socket with a large backlog. Must run inside a runtime.
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Lets a restarted server bind its port again while old connections
    // linger in TIME_WAIT. It does not let two servers share a port.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The canonical form of the `--dir` directory, or an error naming it.
fn canonical_dir(dir: &Path) -> io::Result<PathBuf> {
    let describe = |error: io::Error| {
        io::Error::new(
            error.kind(),
            format!("cannot serve {}: {error}", dir.display()),
        )
    };
    let root = dir.canonicalize().map_err(describe)?;
    if !root.is_dir() {
        return Err(describe(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        )));
    }
    Ok(root)
}

/// Counts the `{cc}/{cc}.gif` files of a flag directory.
fn count_flags_in(root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|code| is_country_code(code))
        .filter(|code| read_inside(root, &root.join(code).join(format!("{code}.gif"))).is_some())
        .count()
}

/// Raises the soft limit on open files to the hard limit, once per process:
/// each connection is a file descriptor, and the common soft limit of 1024
/// is too low for a thousand clients (whose sockets, in a test, live in the
/// same process). Failing to raise it is not fatal.
fn raise_open_file_limit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(unix)]
        {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: `getrlimit` and `setrlimit` only read or write the
            // `rlimit` struct we pass, which lives on our stack.
            unsafe {
                if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
                    && limit.rlim_cur < limit.rlim_max
                {
                    limit.rlim_cur = limit.rlim_max;
                    // On some systems the hard limit is "unlimited" and
                    // cannot be the soft one: then the old limit stays.
                    let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
                }
            }
        }
    });
}

/// Returns once the shutdown channel says stop.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // `wait_for` returns at once if the value is already `true`, and with an
    // error if the sender is gone: both mean stop. The value it returns
    // borrows the channel, so it is dropped right here.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Accepts connections until shutdown, one task per connection.
async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    // The completion channel (the pattern of mini-redis): every connection
    // task holds a clone of `finished_sender` and drops it when it ends.
    // Nothing is ever sent; once the last clone is dropped, `recv` on the
    // receiver returns `None`, which tells us every connection is closed.
    let (finished_sender, mut finished_receiver) = mpsc::channel::<Infallible>(1);
    loop {
        tokio::select! {
            // `biased`: check shutdown first, so that no connection is
            // accepted once it is asked for.
            biased;
            () = stopped(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let open = shared.recorder.open_connection();
                    // One task per connection: a stalled or slow client holds
                    // only its own task, never the loop.
                    tokio::spawn(serve_connection(
                        stream,
                        open,
                        Arc::clone(&shared),
                        shutdown.clone(),
                        finished_sender.clone(),
                    ));
                }
                Err(error) => {
                    // Accept errors are about one connection or a passing
                    // shortage (EMFILE: out of file descriptors). The loop
                    // must not die of them: say so, pause, go on.
                    eprintln!("flags-server: accept failed: {error}");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            },
        }
    }
    // Closing the listener now makes the port refuse new connections while
    // the open ones finish.
    drop(listener);
    drop(finished_sender);
    // Wait for the connection tasks (which saw the same shutdown signal), but
    // not forever: whatever is left after the grace period is cancelled when
    // the runtime is dropped.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, finished_receiver.recv()).await;
}

/// Serves one connection: over HTTPS, the TLS handshake first, then
/// [`serve_http`] on the encrypted stream; over HTTP, [`serve_http`] on the
/// socket itself.
async fn serve_connection(
    stream: TcpStream,
    _open: OpenConnection,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    _finished: mpsc::Sender<Infallible>,
) {
    // Small responses should leave at once rather than wait for more data.
    let _ = stream.set_nodelay(true);
    let Some(acceptor) = shared.tls.clone() else {
        serve_http(stream, shared, shutdown).await;
        return;
    };
    // The handshake runs here, in the connection's own task, not in the
    // accept loop: it takes round trips, and a client that stalls in the
    // middle of it must hold only its own task. The timeout bounds how long
    // it may hold even that; a shutdown ends the wait at once.
    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    let stream = tokio::select! {
        handshake = handshake => match handshake {
            Ok(Ok(stream)) => stream,
            // A failed or timed-out handshake is only a closed connection:
            // dropping the socket closes it. The client sees why (a
            // certificate it does not trust, say) on its side.
            Ok(Err(_)) | Err(_) => {
                shared.recorder.tls_handshake_failed();
                return;
            }
        },
        () = stopped(&mut shutdown) => return,
    };
    serve_http(stream, shared, shutdown).await;
    // `_open` and `_finished` are dropped when this function returns, by
    // whichever way: the connection leaves the open-connections gauge and
    // the completion channel.
}

/// Serves HTTP/1.1 on one connection's stream, a plain socket or a TLS
/// stream over one (the same code for both: hyper only needs something to
/// read and write): hyper parses requests and calls [`handle`] for each,
/// keeping the connection alive between them.
async fn serve_http<S>(stream: S, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service_shutdown = shutdown.clone();
    // A server that closes each connection after its response (without
    // saying so in a `Connection: close`): each response's body tells this
    // when it is sent, and the connection is then closed below.
    let sent = Arc::new(Notify::new());
    let close_after_response = shared.config.close_after_response;
    let service_sent = Arc::clone(&sent);
    let service = service_fn(move |request| {
        let answer = handle(request, Arc::clone(&shared), service_shutdown.clone());
        let sent = Arc::clone(&service_sent);
        async move {
            let response = answer.await?;
            Ok::<_, NoResponse>(if close_after_response {
                response.map(|body| body.notify_when_sent(sent))
            } else {
                response
            })
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        // Hyper's default closes a connection that has not sent a complete
        // request head within 30 s, idle keep-alive ones included. A test
        // rig wants the opposite: a client's pooled connection stays usable
        // however long it idles (no race with a close from our side), and
        // only the client or the shutdown ends it.
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        // The client closed the connection, or an error (a cut body, a bad
        // request) ended it: nothing more to do. Errors here are the
        // client's business or on purpose, so they are not logged.
        _ = connection.as_mut() => {}
        // Shutdown: let hyper finish the response in progress and close the
        // connection (an idle keep-alive connection closes at once).
        () = stopped(&mut shutdown) => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
        // `close_after_response`: the first response is sent, its head
        // without `Connection: close`; hyper flushes it and closes. A client
        // that reuses the connection finds it closed.
        () = sent.notified(), if close_after_response => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// What a path under `/flags/` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resource {
    /// `/flags/{cc}/{cc}.gif`
    Flag(String),
    /// `/flags/{cc}/metadata.json`
    Metadata(String),
}

/// True for a lower-case two-letter code such as `br`: the only codes the
/// server knows, which also rules out `..`, `%2e` and any other trick.
fn is_country_code(text: &str) -> bool {
    text.len() == 2 && text.bytes().all(|byte| byte.is_ascii_lowercase())
}

/// Parses `/flags/{cc}/{cc}.gif` or `/flags/{cc}/metadata.json`.
fn parse_resource(path: &str) -> Option<Resource> {
    let rest = path.strip_prefix("/flags/")?;
    let (code, file) = rest.split_once('/')?;
    if !is_country_code(code) {
        return None;
    }
    if file == "metadata.json" {
        Some(Resource::Metadata(code.to_owned()))
    } else if file.strip_suffix(".gif") == Some(code) {
        Some(Resource::Flag(code.to_owned()))
    } else {
        None
    }
}

impl Shared {
    /// Locks the random generator; a poisoned lock is taken over, since a
    /// generator cannot be left half-updated.
    fn rng(&self) -> MutexGuard<'_, fastrand::Rng> {
        self.rng.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Draws the wait and the fault of one request. Both random draws are
    /// made for every request, whatever the script says, so a seed gives the
    /// same sequence with or without scripts.
    fn plan(&self, resource: Option<&Resource>) -> (Duration, Option<Fault>) {
        let scripted = match resource {
            Some(Resource::Flag(code)) => self
                .scripted
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_mut(code)
                .and_then(VecDeque::pop_front),
            _ => None,
        };
        let mut rng = self.rng();
        let wait = self.config.delay.sample(&mut rng);
        let random = self.config.draw_fault(&mut rng);
        match scripted {
            Some(Fault::Delay(scripted_wait)) => (scripted_wait, Some(Fault::Delay(scripted_wait))),
            Some(fault) => (wait, Some(fault)),
            None => (wait, random),
        }
    }

    /// Loads the bytes and content type of a resource, or `None` (404).
    async fn load(&self, resource: &Resource) -> Option<(Bytes, &'static str)> {
        let (code, file, content_type) = match resource {
            Resource::Flag(code) => (code, format!("{code}.gif"), "image/gif"),
            Resource::Metadata(code) => (code, "metadata.json".to_owned(), "application/json"),
        };
        match &self.content {
            Content::Builtin => {
                let bytes = match resource {
                    Resource::Flag(_) => Bytes::from_static(builtin_flag(code)?),
                    Resource::Metadata(_) => {
                        Bytes::from(match self.config.country_names.get(code.as_str()) {
                            Some(name) => metadata_with_name(code, name)?,
                            None => builtin_metadata(code)?,
                        })
                    }
                };
                Some((bytes, content_type))
            }
            Content::Dir(root) => {
                let (root, path) = (root.clone(), root.join(code).join(file));
                // File reads block the thread, so they go to tokio's pool of
                // blocking threads and the workers stay free for sockets.
                let bytes = tokio::task::spawn_blocking(move || read_inside(&root, &path))
                    .await
                    .ok()??;
                Some((Bytes::from(bytes), content_type))
            }
        }
    }
}

/// Reads `path` if, once every symbolic link is resolved, it is a file
/// inside `root` (itself canonical). Anything else reads as absent.
fn read_inside(root: &Path, path: &Path) -> Option<Vec<u8>> {
    let real_path = path.canonicalize().ok()?;
    if !real_path.starts_with(root) || !real_path.is_file() {
        return None;
    }
    std::fs::read(real_path).ok()
}

/// Answers one request.
async fn handle(
    request: Request<Incoming>,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<Response<FlagBody>, NoResponse> {
    let method = request.method();
    // The path only: a query string (such as the `?hop=1` of a redirect)
    // changes neither the resource nor the code it counts for.
    let path = request.uri().path();

    // The statistics are not counted, delayed or faulted.
    match (method, path) {
        (&Method::GET | &Method::HEAD, "/stats") => {
            return Ok(stats_response(shared.recorder.snapshot()));
        }
        (&Method::POST, "/stats/reset") => {
            shared.recorder.reset();
            return Ok(stats_response(shared.recorder.snapshot()));
        }
        _ => {}
    }

    // From here on the request is counted and in flight until its body is
    // done with.
    let mut in_flight = shared.recorder.arrive(path);
    let is_flags_request =
        matches!(*method, Method::GET | Method::HEAD) && path.starts_with("/flags/");
    if !is_flags_request {
        return Ok(text_response(StatusCode::NOT_FOUND, in_flight));
    }
    let resource = parse_resource(path);
    let (wait, fault) = shared.plan(resource.as_ref());

    if fault == Some(Fault::Stall) {
        in_flight.set_fault(Fault::Stall.name());
        // Never answer; when the server shuts down, give up and let hyper
        // close the connection. `in_flight` is dropped with status 0.
        stopped(&mut shutdown).await;
        return Err(NoResponse::Stalled);
    }
    if let Some(fault @ Fault::Delay(_)) = fault {
        in_flight.set_fault(fault.name());
    }
    // The delay of the book's slow server: this task sleeps, the others go
    // on. A shutdown cuts the wait short: nobody is left to wait for the
    // answer (a test that dropped its server, a user who pressed Ctrl-C).
    if !wait.is_zero() {
        tokio::select! {
            () = precise_sleep(wait) => {}
            () = stopped(&mut shutdown) => return Err(NoResponse::ShuttingDown),
        }
    }
    if let Some(fault @ Fault::Status(code)) = fault {
        in_flight.set_fault(fault.name());
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Ok(text_response(status, in_flight));
    }
    if let Some(fault @ Fault::Busy(seconds)) = fault {
        in_flight.set_fault(fault.name());
        let mut response = text_response(StatusCode::SERVICE_UNAVAILABLE, in_flight);
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
        return Ok(response);
    }
    if fault == Some(Fault::Redirect) {
        in_flight.set_fault(Fault::Redirect.name());
        let hop = shared.redirects.fetch_add(1, Ordering::Relaxed) + 1;
        return Ok(redirect_response(path, hop, in_flight));
    }
    if fault == Some(Fault::Html) {
        in_flight.set_fault(Fault::Html.name());
        in_flight.set_status(StatusCode::OK.as_u16());
        let page = Bytes::from_static(b"<html><body><h1>Please log in</h1></body></html>\n");
        let body = FlagBody::new(page, Delivery::Whole, Some(in_flight));
        return Ok(response(StatusCode::OK, "text/html; charset=utf-8", body));
    }

    let Some(resource) = resource else {
        return Ok(text_response(StatusCode::NOT_FOUND, in_flight));
    };
    let Some((content, content_type)) = shared.load(&resource).await else {
        return Ok(text_response(StatusCode::NOT_FOUND, in_flight));
    };
    // The body faults apply only to a body that exists.
    let delivery = match fault {
        Some(Fault::Drop) => Delivery::DropAfterHeaders,
        Some(Fault::Truncate) => Delivery::Truncate,
        Some(Fault::Huge) => Delivery::Huge,
        Some(Fault::SlowBody) => Delivery::Slow,
        Some(Fault::Drip) => Delivery::Drip,
        Some(Fault::Chunked) => Delivery::Chunked,
        Some(Fault::HugeChunked) => Delivery::HugeChunked,
        _ if shared.config.slow_body => Delivery::Slow,
        _ => Delivery::Whole,
    };
    // Each fault is counted once: a gzip label on a body that `slow_body`
    // sends slowly counts as `gzip` below and as `slow_body` here.
    match (&delivery, fault) {
        (Delivery::Whole, _) => {}
        (Delivery::Slow, None | Some(Fault::Delay(_) | Fault::Gzip)) => {
            in_flight.set_fault(Fault::SlowBody.name())
        }
        (_, Some(fault)) => in_flight.set_fault(fault.name()),
        (_, None) => {}
    }
    let gzip = fault == Some(Fault::Gzip);
    if gzip {
        in_flight.set_fault(Fault::Gzip.name());
    }
    in_flight.set_status(StatusCode::OK.as_u16());
    let drips = matches!(delivery, Delivery::Drip);
    let mut body = FlagBody::new(content, delivery, Some(in_flight));
    if drips {
        // A drip would outlast any grace period: it stops at shutdown.
        body = body.until_shutdown(shutdown.clone());
    }
    let mut response = response(StatusCode::OK, content_type, body);
    if gzip {
        response
            .headers_mut()
            .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(response)
}

/// A response with its status, type and length headers (no length for a
/// chunked body: hyper then sends `Transfer-Encoding: chunked`).
fn response(status: StatusCode, content_type: &'static str, body: FlagBody) -> Response<FlagBody> {
    let length = body.announced_len();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(length) = length {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    }
    response
}

/// `302 Found` back to the same path, as `{path}?hop={hop}`: an absolute
/// path, which every client resolves against the URL it asked for.
fn redirect_response(path: &str, hop: u64, in_flight: InFlight) -> Response<FlagBody> {
    // Hyper only accepts a path made of URI characters, all of which may
    // stand in a header: the fallback is never used.
    let location = HeaderValue::try_from(format!("{path}?hop={hop}"))
        .unwrap_or_else(|_| HeaderValue::from_static("/"));
    let mut response = text_response(StatusCode::FOUND, in_flight);
    response.headers_mut().insert(LOCATION, location);
    response
}

/// A short text response such as `404 Not Found`, counted under its status.
/// 503 and 429 tell the client it may retry at once.
fn text_response(status: StatusCode, mut in_flight: InFlight) -> Response<FlagBody> {
    in_flight.set_status(status.as_u16());
    let text = format!(
        "{} {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let body = FlagBody::new(Bytes::from(text), Delivery::Whole, Some(in_flight));
    let mut response = response(status, "text/plain; charset=utf-8", body);
    if matches!(
        status,
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
    ) {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("0"));
    }
    response
}

/// The statistics as pretty JSON.
fn stats_response(stats: Stats) -> Response<FlagBody> {
    // `Stats` holds only numbers, strings and maps keyed by numbers or
    // strings, which JSON can always express: serialising cannot fail.
    let mut json = serde_json::to_string_pretty(&stats).unwrap_or_default();
    json.push('\n');
    let body = FlagBody::new(Bytes::from(json), Delivery::Whole, None);
    response(StatusCode::OK, "application/json", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the two shapes of path name a resource, and only with a
    /// lower-case two-letter code.
    #[test]
    fn paths_parse_strictly() {
        assert_eq!(
            parse_resource("/flags/br/br.gif"),
            Some(Resource::Flag("br".into()))
        );
        assert_eq!(
            parse_resource("/flags/br/metadata.json"),
            Some(Resource::Metadata("br".into()))
        );
        for bad in [
            "/flags/br/us.gif",
            "/flags/BR/BR.gif",
            "/flags/br/br.gif/",
            "/flags/br/br.png",
            "/flags/../br.gif",
            "/flags/%2e%2e/%2e%2e.gif",
            "/flags/bra/bra.gif",
            "/flags/br",
            "/br/br.gif",
            "/flags//br.gif",
        ] {
            assert_eq!(parse_resource(bad), None, "{bad}");
        }
        // `handle` passes the path without its query string; a query left
        // on would not name a resource.
        let uri: hyper::Uri = "/flags/br/br.gif?hop=3".parse().expect("a URI");
        assert_eq!(
            parse_resource(uri.path()),
            Some(Resource::Flag("br".into()))
        );
        assert_eq!(parse_resource("/flags/br/br.gif?hop=3"), None);
    }

    /// How long the tests below give a connection task to end once told to
    /// stop: only a hang guard, far over what a loaded machine needs, far
    /// under a drip's hours (and over [`TLS_HANDSHAKE_TIMEOUT`], so a
    /// handshake that ends by its own timeout is told apart by its count).
    const HANG_GUARD: Duration = Duration::from_secs(30);

    /// Runs `test` on a runtime of the test's own, with one thread: the
    /// connection task under test runs only while `test` awaits.
    fn run_on_own_runtime(test: impl std::future::Future<Output = ()>) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(test);
    }

    /// The two ends of a fresh local TCP connection: the client's, and the
    /// one the accept loop would hand to [`serve_connection`].
    async fn connected_pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr"))
            .await
            .expect("connect");
        let (served, _peer) = listener.accept().await.expect("accept");
        (client, served)
    }

    /// Spawns [`serve_connection`] for `served` with `server`'s shared
    /// state, as the accept loop does, but with a shutdown channel of the
    /// test's own: the sender is returned with the task.
    fn spawn_connection(
        server: &FlagServer,
        served: TcpStream,
    ) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
        let shared = Arc::clone(&server.shared);
        let (stop, shutdown) = watch::channel(false);
        // Nobody waits for the completion channel here: the receiver goes.
        let (finished, _) = mpsc::channel(1);
        // One task per connection, as in the accept loop.
        let task = tokio::spawn(serve_connection(
            served,
            shared.recorder.open_connection(),
            Arc::clone(&shared),
            shutdown,
            finished,
        ));
        (stop, task)
    }

    /// A shutdown cuts a dripping body: the connection task ends then, not
    /// after the hours the drip would take (which the grace period of
    /// [`accept_loop`] would otherwise cut off only by dropping the
    /// runtime). No clock is read: the task either ends or hangs.
    #[test]
    fn shutdown_cuts_a_drip() {
        let server = FlagServer::start(ServerConfig {
            scripted: BTreeMap::from([("br".to_owned(), vec![Fault::Drip])]),
            ..ServerConfig::default()
        })
        .expect("server starts");
        run_on_own_runtime(async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut client, served) = connected_pair().await;
            let (stop, task) = spawn_connection(&server, served);
            client
                .write_all(b"GET /flags/br/br.gif HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .expect("send");
            // The head and the first byte of the body: the drip is on.
            let mut received = Vec::new();
            while !received.ends_with(b"\r\n\r\n") {
                received.push(client.read_u8().await.expect("the head"));
            }
            assert_eq!(client.read_u8().await.expect("a first byte"), b'G');
            stop.send_replace(true);
            tokio::time::timeout(HANG_GUARD, task)
                .await
                .expect("the drip ends at shutdown")
                .expect("the connection task does not panic");
        });
        assert_eq!(server.stats().faults["drip"], 1);
    }

    /// A shutdown ends a TLS handshake that the client never starts: the
    /// task ends by the shutdown, not by [`TLS_HANDSHAKE_TIMEOUT`] (which
    /// would count a failed handshake).
    #[test]
    fn shutdown_ends_a_silent_handshake() {
        let server = FlagServer::start(ServerConfig {
            tls: Some(TlsIdentity::generate().expect("an identity")),
            ..ServerConfig::default()
        })
        .expect("server starts");
        run_on_own_runtime(async {
            let (_silent, served) = connected_pair().await;
            let (stop, task) = spawn_connection(&server, served);
            // Let the task run until it waits for the client's hello.
            tokio::task::yield_now().await;
            stop.send_replace(true);
            tokio::time::timeout(HANG_GUARD, task)
                .await
                .expect("the handshake ends at shutdown")
                .expect("the connection task does not panic");
        });
        assert_eq!(server.stats().tls_handshake_failures, 0);
    }
}
