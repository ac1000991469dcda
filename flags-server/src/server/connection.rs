//! Connections: the accept loop, one task per connection, and hyper's
//! HTTP/1.1 on each.
//!
//! - [`accept_loop`] accepts connections until the shutdown channel fires,
//!   spawning one task per connection ([`serve_connection`]).
//! - Each connection task first runs the TLS handshake when the server
//!   speaks HTTPS, then ([`serve_http`]) lets hyper read requests off the
//!   stream, plain or encrypted, and call [`handle`] for each; keep-alive
//!   means one connection may carry many. A fault hyper cannot send ends
//!   hyper's part, and the task writes the answer itself
//!   ([`RawAnswer::write_to`]).
//! - A connection drawn for [`Fault::NeverRead`] is never read at all
//!   ([`ignore`]).
//!
//! What a connection costs is what the server costs: a run of `-e` at 676
//! in flight opens 676 connections for one request each. So the per-
//! connection work is kept to what hyper needs (see [`serve_http`] for the
//! builder settings and why), and no timer is armed per connection unless
//! the server has a header-read timeout.
//!
//! [`RawAnswer::write_to`]: super::raw::RawAnswer::write_to
//! [`Fault::NeverRead`]: crate::Fault::NeverRead

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, watch};

use super::raw::RawStream;
use super::routes::{NoResponse, handle};
use super::shared::Shared;
use super::shutdown::stopped;
use crate::stats::OpenConnection;

/// After an accept error (such as running out of file descriptors), wait
/// this long before trying again, so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);
/// At shutdown, bodies already being sent get this long to finish before
/// their connections are cut.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// An HTTPS client gets this long to finish its TLS handshake; one that
/// does not (it connected and said nothing, or speaks too slowly) is cut
/// off, so it cannot hold a connection task for ever.
pub(super) const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until shutdown, one task per connection.
pub(super) async fn accept_loop(
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
/// socket itself. A connection drawn for
/// [`Fault::NeverRead`](crate::Fault::NeverRead) is left unread
/// ([`ignore`]).
pub(super) async fn serve_connection(
    stream: TcpStream,
    _open: OpenConnection,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    _finished: mpsc::Sender<Infallible>,
) {
    if shared.never_reads() {
        ignore(stream, &shared, shutdown).await;
        return;
    }
    // Small responses should leave at once rather than wait for more data.
    let _ = stream.set_nodelay(true);
    match shared.tls.clone() {
        None => serve_http(stream, shared, shutdown).await,
        // Boxed: the handshake's state is large, and only HTTPS
        // connections should carry it.
        Some(acceptor) => Box::pin(serve_tls(stream, acceptor, shared, shutdown)).await,
    }
    // `_open` and `_finished` are dropped when this function returns, by
    // whichever way: the connection leaves the open-connections gauge and
    // the completion channel.
}

/// [`Fault::NeverRead`](crate::Fault::NeverRead): hold the connection
/// without reading a byte, until the header-read timeout (a request head
/// that never came) or the shutdown, then close it.
async fn ignore(stream: TcpStream, shared: &Shared, mut shutdown: watch::Receiver<bool>) {
    let stop = stopped(&mut shutdown);
    match shared.config.header_read_timeout {
        Some(timeout) => {
            let _ = tokio::time::timeout(timeout, stop).await;
        }
        None => stop.await,
    }
    drop(stream);
}

/// The HTTPS side of [`serve_connection`]: the handshake, then
/// [`serve_http`] on the encrypted stream.
async fn serve_tls(
    stream: TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
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
}

/// Serves HTTP/1.1 on one connection's stream, a plain socket or a TLS
/// stream over one (the same code for both: hyper only needs something to
/// read and write): hyper parses requests and calls [`handle`] for each,
/// keeping the connection alive between them. When [`handle`] asks for an
/// answer written byte for byte, hyper's part ends without a byte written,
/// and the stream is taken back from it for
/// [`RawAnswer::write_to`](super::raw::RawAnswer::write_to).
///
/// hyper's builder settings, and what each costs:
///
/// - keep-alive on (the default), so a client's pooled connection carries
///   its next request without a new handshake.
/// - `header_read_timeout` from [`ServerConfig::header_read_timeout`]: a
///   connection must send each request head within it, counted from its
///   start or from the end of its previous response, so it also closes a
///   keep-alive connection idle that long. Only while a head is awaited: a request being
///   answered (stalled, delayed, dripping) is not under it. It costs a
///   timer per connection (an entry in the runtime's timer wheel) and a
///   close that may race with a client reusing the idle connection, which
///   clients here retry once; so in-process servers, for tests and
///   benchmarks, go without it (`None`: no timer at all), and the
///   standalone server sets 30 s.
/// - vectored writes (hyper's default for a socket that supports them): the
///   head is written from hyper's buffer and the body straight from our
///   shared [`bytes::Bytes`] in one `writev`, never copied into a buffer.
/// - `max_buf_size`, `half_close` and `pipeline_flush` stay at their
///   defaults: the first only caps a buffer's growth (requests here are
///   small), the other two would change how connections behave.
///
/// [`ServerConfig::header_read_timeout`]: crate::ServerConfig::header_read_timeout
async fn serve_http<S: RawStream>(
    stream: S,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let service_shutdown = shutdown.clone();
    // A server that closes each connection after its response (without
    // saying so in a `Connection: close`): each response's body tells this
    // when it is sent, and the connection is then closed below.
    let close_after_response = shared.config.close_after_response;
    let header_read_timeout = shared.config.header_read_timeout;
    let sent = close_after_response.then(|| Arc::new(Notify::new()));
    let service_sent = sent.clone();
    let service = service_fn(move |request| {
        let answer = handle(request, Arc::clone(&shared), service_shutdown.clone());
        let sent = service_sent.clone();
        async move {
            let response = answer.await?;
            Ok::<_, NoResponse>(match sent {
                Some(sent) => response.map(|body| body.notify_when_sent(sent)),
                None => response,
            })
        }
    });
    let mut builder = http1::Builder::new();
    builder.keep_alive(true);
    match header_read_timeout {
        Some(timeout) => builder
            .timer(TokioTimer::new())
            .header_read_timeout(timeout),
        // With no timeout, hyper needs no timer either.
        None => builder.header_read_timeout(None),
    };
    // Not pinned in place: the connection is `Unpin`, and owning it lets
    // `into_parts` take the stream back for a raw answer.
    let mut connection = builder.serve_connection(TokioIo::new(stream), service);
    let closed_after_response = async {
        match &sent {
            Some(sent) => sent.notified().await,
            None => std::future::pending().await,
        }
    };
    let ended = tokio::select! {
        // The client closed the connection, or an error (a cut body, a bad
        // request, a header-read timeout, a raw answer) ended it. Errors
        // here are the client's business or on purpose, so they are not
        // logged.
        ended = &mut connection => ended,
        // Shutdown: let hyper finish the response in progress and close the
        // connection (an idle keep-alive connection closes at once).
        () = stopped(&mut shutdown) => {
            std::pin::Pin::new(&mut connection).graceful_shutdown();
            let _ = connection.await;
            return;
        }
        // `close_after_response`: the first response is sent, its head
        // without `Connection: close`; hyper flushes it and closes. A client
        // that reuses the connection finds it closed.
        () = closed_after_response => {
            std::pin::Pin::new(&mut connection).graceful_shutdown();
            let _ = connection.await;
            return;
        }
    };
    // hyper keeps the service's error as the source of its own.
    let raw = ended.err().and_then(|error| {
        let source = std::error::Error::source(&error)?;
        match source.downcast_ref::<NoResponse>()? {
            NoResponse::Raw(handover) => handover.take(),
            _ => None,
        }
    });
    if let Some(raw) = raw {
        // hyper wrote nothing of this answer and did not shut the stream
        // down (it does so only after a response it sent): the stream is
        // whole, to write to.
        let stream = connection.into_parts().io.into_inner();
        raw.write_to(stream, shutdown).await;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::net::Ipv4Addr;

    use super::*;
    use crate::{Fault, FlagServer, ServerConfig, TlsIdentity};

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
