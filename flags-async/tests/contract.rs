//! The contract every model keeps, checked on this one, on both of its
//! clients: reqwest (`download_many`, the default) and hyper directly
//! (`download_many_hyper`, `--client hyper`).

use flags_async::{MAX_MAX_REQ, download_many, download_many_hyper};
use flags_testkit::contract::{ModelBinary, check_model};

/// Same totals as every model with 404s, 418s, 500s, timeouts, truncated,
/// dropped and oversized bodies mixed in; files byte-identical; the server
/// sees exactly `-m` requests at once; retries and overwrites work;
/// redirects (a loop stopped after 10), chunked bodies, an HTML page and an
/// unasked `Content-Encoding`, `Retry-After: 0`, and a server that closes
/// every connection after its response.
#[test]
fn async_model_keeps_the_contract() {
    assert_eq!(check_model(download_many, 4, MAX_MAX_REQ), Ok(()));
}

/// The same on the hyper client: every outcome reqwest gave us for free
/// (redirects, the deadline, the stale-connection retry) kept by hand.
#[test]
fn async_model_on_hyper_keeps_the_contract() {
    assert_eq!(check_model(download_many_hyper, 4, MAX_MAX_REQ), Ok(()));
}

/// At a larger `-m` too, the server sees exactly `-m` requests at once:
/// the semaphore is the cap, and nothing else limits it (on either client).
#[test]
fn peak_concurrency_is_max_req_at_30() {
    for download_many in [download_many, download_many_hyper] {
        assert_eq!(
            flags_testkit::contract::check_peak_concurrency(download_many, 30, MAX_MAX_REQ),
            Ok(())
        );
    }
}

/// Every fault mode of the server: counted, nothing partial, retried.
#[test]
fn async_model_survives_every_fault() {
    assert_eq!(
        flags_testkit::contract::check_fault_matrix(
            download_many,
            4,
            flags_testkit::contract::Client::Reqwest
        ),
        Ok(())
    );
}

/// The basic fault modes on the hyper client (it is on its way out, and
/// held to no newer mode): a stall and a drip end at the one
/// `tokio::time::timeout` around the whole request.
#[test]
fn async_model_on_hyper_survives_every_fault() {
    assert_eq!(
        flags_testkit::contract::check_fault_matrix(
            download_many_hyper,
            4,
            flags_testkit::contract::Client::Hyper
        ),
        Ok(())
    );
}

/// Load: `-e -m 1000`: no error, all 676 requests in flight at once.
#[test]
fn every_code_at_once() {
    assert_eq!(flags_testkit::contract::check_load(download_many), Ok(()));
}

/// Load on the hyper client: 676 connections, each with its small read
/// buffer, all in flight at once.
#[test]
fn every_code_at_once_on_hyper() {
    assert_eq!(
        flags_testkit::contract::check_load(download_many_hyper),
        Ok(())
    );
}

/// Over https with `--cacert`; with the wrong CA, every code an error.
#[test]
fn async_model_speaks_https() {
    assert_eq!(flags_testkit::contract::check_tls(download_many, 4), Ok(()));
}

/// The same through hyper-rustls, with the TLS configuration built by hand
/// (webpki roots and `--cacert`, ring as the one provider).
#[test]
fn async_model_on_hyper_speaks_https() {
    assert_eq!(
        flags_testkit::contract::check_tls(download_many_hyper, 4),
        Ok(())
    );
}

/// The binary as a user runs it, with `extra_args` (`--client hyper`).
fn binary(extra_args: &'static [&'static str]) -> ModelBinary<'static> {
    ModelBinary {
        program: std::path::Path::new(env!("CARGO_BIN_EXE_flags-async")),
        extra_args,
    }
}

/// The two ways to run the binary: reqwest (no option) and hyper.
const CLIENTS: [&[&str]; 2] = [&[], &["--client", "hyper"]];

/// The binary over https, and with the wrong CA: one "certificate not
/// trusted" line per code, exit 1, no panic; `https://` to a plain HTTP
/// server says so. On both clients.
#[cfg(unix)]
#[test]
fn async_binary_speaks_https() {
    for extra_args in CLIENTS {
        assert_eq!(
            flags_testkit::contract::check_tls_binary(&binary(extra_args)),
            Ok(()),
            "{extra_args:?}"
        );
    }
}

/// `-m 8`: one thread, the runtime's, holds all 8 requests; it sleeps in
/// the event loop (epoll), not on any one socket. On both clients: hyper's
/// connection tasks run on the same one thread.
#[cfg(target_os = "linux")]
#[test]
fn one_thread_holds_every_request() {
    let expected = flags_testkit::contract::IoThreads {
        threads: 1,
        on_sockets: 0,
        workers: 0,
        helpers: 0,
    };
    for extra_args in CLIENTS {
        assert_eq!(
            flags_testkit::contract::check_io_threads(&binary(extra_args), 8, expected),
            Ok(()),
            "{extra_args:?}"
        );
    }
}

/// A hang-up on a new connection: reqwest cannot tell a new connection
/// from a pooled one, and sends the request once more; the hyper client's
/// own pool can, and does not.
#[test]
fn a_new_connection_hung_up_is_resent_only_by_reqwest() {
    use flags_testkit::contract::check_fresh_hangup;
    assert_eq!(check_fresh_hangup(download_many, false), Ok(()));
    assert_eq!(check_fresh_hangup(download_many_hyper, true), Ok(()));
}
