//! The server itself: the handle, its thread and runtime, and what every
//! connection shares.
//!
//! The shape, from the outside in:
//!
//! - [`FlagServer::start_on`] checks the configuration in the caller's
//!   thread, then starts a std thread that owns a tokio runtime, binds the
//!   socket on it (so a busy port is reported at once, as an error of
//!   `start_on`) and runs the accept loop as a task on one of its workers.
//! - `connection`: the accept loop, one task per connection (the TLS
//!   handshake for HTTPS, then hyper, HTTP/1.1 with keep-alive).
//! - `routes`: the request handler, which counts each request, draws its
//!   delay and fault, waits, and builds the response.
//! - `body`: the response body, which can be sent whole, slowly, chunked,
//!   cut short, oversized or dripped a byte at a time, and which carries the
//!   request's in-flight guard.
//! - `delay`: the delay timer that delayed requests wait on: a kernel timer
//!   in the runtime's `epoll` set and one task, so a delay is never early,
//!   at most a quarter of a millisecond late, and costs no spinning; the
//!   task also ends every wait at shutdown.
//! - `content`: the paths, and the bytes behind them (built in, or a
//!   directory).
//! - `raw`: the answers of the faults that hyper cannot send, written byte
//!   for byte to the socket by the connection task.
//! - `shared`: everything a connection task needs from its server, in one
//!   `Shared` behind an `Arc`.
//! - `shutdown`: `stopped`, how every task waits for the shutdown channel.
//!
//! The modules import one another in one direction only: `server.rs` uses
//! `connection`, which uses `routes`, which uses `shared`, `body`, `raw` and
//! `content`; `delay`, `body`, `raw` and `connection` use `shutdown`, which
//! uses nothing.

mod body;
mod connection;
mod content;
mod delay;
mod raw;
mod routes;
mod shared;
mod shutdown;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;

use self::connection::accept_loop;
use self::content::{Content, canonical_dir};
use self::delay::DelayTimer;
pub use self::routes::RESET_HEADER;
use self::shared::Shared;
use crate::config::ServerConfig;
use crate::images::builtin_flag;
use crate::stats::{Recorder, RequestRecord, Stats};
use crate::tls::TlsIdentity;

/// Connections waiting to be accepted that the kernel may queue. Large, so
/// that a thousand clients connecting at once are queued, not refused.
const LISTEN_BACKLOG: u32 = 1024;

/// Worker threads of each server's runtime: two, so that answers due
/// together go out on both cores. One worker would cost a little less CPU,
/// but a burst of answers due at once (50 or 100, what a model sends at
/// once) would go out one after the other on one core.
const WORKER_THREADS: usize = 2;

/// Builds the runtime of one server: tokio's multi-threaded scheduler with
/// [`WORKER_THREADS`] workers, named `flags-server-worker` (benchmarks find
/// the server's CPU by the `flags-server` prefix of its threads' names).
fn build_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name("flags-server-worker")
        .enable_all()
        .build()
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
            Some(dir) => Content::dir(canonical_dir(dir)?),
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
        // The shutdown channel (see `FlagServer::shutdown`), made first: the
        // delay timer watches it too.
        let (shutdown, shutdown_receiver) = watch::channel(false);
        let silent_left = AtomicUsize::new(config.silent_connections);
        let shared = Arc::new(Shared {
            config,
            content,
            tls,
            recorder: Arc::new(Recorder::new()),
            rng: Mutex::new(rng),
            scripted: Mutex::new(scripted),
            redirects: AtomicU64::new(0),
            silent_left,
            delay: DelayTimer::new(shutdown_receiver.clone()),
        });

        // The ready channel: the server thread builds its runtime and binds
        // the socket, then sends back the bound address (or the error), so
        // that `start_on` returns only once clients can connect, and a busy
        // port is an error returned here rather than a message lost in a
        // thread. A std channel, since the caller may not be async.
        let (ready_sender, ready_receiver) = std::sync::mpsc::sync_channel(1);
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("flags-server".to_owned())
            .spawn(move || {
                // The runtime lives and dies in this thread, its own: so the
                // server works the same whether the caller is a plain thread,
                // a pool or another tokio runtime (which could neither
                // `block_on` nor drop a runtime from inside its tasks).
                let started = build_runtime().and_then(|runtime| {
                    // The listener registers with the runtime's reactor, so
                    // it is made inside the runtime.
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
                // The delay timer's task first, so that it watches its
                // kernel timer before the first request waits on it.
                runtime.spawn(thread_shared.delay.run());
                // Serve until shutdown; then dropping the runtime cancels
                // any task still running (connections past the grace period).
                //
                // The accept loop is spawned, so that it runs on a worker,
                // rather than run by `block_on` on this thread, which is not
                // one: from here each accepted connection's task would go to
                // the workers through the runtime's shared queue, with a
                // futex wake-up and a context switch per connection. Spawned
                // on a worker, a new connection's task goes to that worker's
                // own queue and usually runs right after the accept.
                let accepting = accept_loop(listener, thread_shared, shutdown_receiver);
                let ended = runtime.block_on(async { tokio::spawn(accepting).await });
                drop(runtime);
                // A panic of the loop is this thread's, as it would be
                // under `block_on`: the handle's `Drop` reports it.
                if let Err(error) = ended {
                    if error.is_panic() {
                        std::panic::resume_unwind(error.into_panic());
                    }
                }
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
        self.shared.content.flag_count()
    }

    /// A snapshot of the counters (the same as `GET /stats`).
    pub fn stats(&self) -> Stats {
        self.shared.recorder.snapshot()
    }

    /// Zeroes the counters and empties the request log (the same as
    /// `POST /stats/reset` with `X-Flags-Reset: 1`). Requests still in
    /// flight stay counted in `in_flight` until they finish.
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
    /// bodies ([`Fault::Drip`](crate::Fault::Drip)), gives other bodies being sent up to a
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

/// Raises the soft limit on open files to the hard limit, once per process:
/// each connection is a file descriptor, and the common soft limit of 1024
/// is too low for a thousand clients (whose sockets, in a test, live in the
/// same process). Failing to raise it is not fatal.
fn raise_open_file_limit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(unix)]
        {
            use rustix::process::{Resource, getrlimit, setrlimit};
            let limit = getrlimit(Resource::Nofile);
            // `None` is "unlimited".
            let below = limit
                .current
                .is_some_and(|current| limit.maximum.is_none_or(|maximum| current < maximum));
            if below {
                let raised = rustix::process::Rlimit {
                    current: limit.maximum,
                    ..limit
                };
                // On some systems the hard limit is "unlimited" and cannot
                // be the soft one: then the old limit stays.
                let _ = setrlimit(Resource::Nofile, raised);
            }
        }
    });
}
