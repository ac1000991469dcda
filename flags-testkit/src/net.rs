//! Ports for the tests that need one: [`closed_port`].

use std::net::TcpListener;

/// A port of `127.0.0.1` with nothing listening on it: bound, noted and
/// released. A client that connects to it is refused (an unreachable
/// server); a server may be started on it (a port chosen in advance).
///
/// Another process could take the port between this call and its use;
/// on a test machine that does not happen in practice.
///
/// ```
/// let port = flags_testkit::net::closed_port();
/// assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
/// ```
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}
