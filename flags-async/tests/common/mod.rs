//! What the tests of both reqwest clients share (`flags-threadpool`'s
//! tests read this file too, by its path): a private network namespace,
//! where ports 80 and 443 can be bound, and what the tests run in it.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flags_server::{FlagServer, ServerConfig, TlsIdentity};

/// Run `test` on a thread of its own, moved into a new network namespace
/// with its loopback interface up: there, ports 80 and 443 of 127.0.0.1
/// are free, and nothing else of the machine's network is seen. Every
/// thread and process that `test` starts is in the namespace too (a new
/// thread shares the namespaces of the thread that starts it); the other
/// tests' threads are not. Needs root; without it, or without `ip`, `test`
/// does not run and a line says that `name` was skipped.
pub fn in_private_network(name: &str, test: impl FnOnce() + Send + 'static) {
    // A thread of its own, which ends with the test: the namespace never
    // outlives it, whatever thread the test harness runs tests on.
    let entered = std::thread::spawn(move || {
        // SAFETY: `unshare` is given no pointer; with CLONE_NEWNET alone it
        // moves only the calling thread into a new network namespace, and
        // changes no memory, file descriptor or other state that the
        // process's other threads share.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return false;
        }
        // A new namespace's loopback interface starts down.
        let up = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status();
        if !up.is_ok_and(|status| status.success()) {
            return false;
        }
        test();
        true
    })
    // Join: a panic in `test` fails this test here.
    .join()
    .expect("the test passed in its network namespace");
    if !entered {
        eprintln!("{name}: skipped, no private network namespace (it needs root and `ip`)");
    }
}

/// Listen on `127.0.0.1:port` for one request, answer it with a 404 and
/// close: joined, the thread gives the request's head as text. What the
/// target of a redirect is sent, which a flag server does not record.
pub fn capture_one_request(port: u16) -> JoinHandle<String> {
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("a listener");
    // Not blocking, so that a request that never comes fails the test
    // instead of hanging it.
    listener.set_nonblocking(true).expect("a listener");
    // The listener's thread: it ends with the one request it answers.
    std::thread::spawn(move || {
        let give_up = Instant::now() + Duration::from_secs(30);
        let mut stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(error) if error.kind() == ErrorKind::WouldBlock && Instant::now() < give_up => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(error) => panic!("no request came to port {port}: {error}"),
            }
        };
        stream.set_nonblocking(false).expect("a blocking stream");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("a read timeout");
        let mut head = Vec::new();
        let mut byte = [0_u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).expect("a request head");
            head.push(byte[0]);
        }
        stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .expect("an answer");
        String::from_utf8_lossy(&head).into_owned()
    })
}

/// A flag server speaking https on `127.0.0.1:port`, and its certificate
/// written to a file in `dir`, for `--cacert`.
pub fn tls_server_on(port: u16, dir: &Path) -> (FlagServer, PathBuf) {
    let identity = TlsIdentity::generate().expect("a certificate");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, identity.cert_pem()).expect("the certificate written");
    let config = ServerConfig {
        tls: Some(identity),
        ..ServerConfig::default()
    };
    let server =
        FlagServer::start_on(([127, 0, 0, 1], port).into(), config).expect("an https server");
    (server, ca_file)
}
