//! The contract every model keeps, checked on this one.

use flags_async::{ASYNC, MAX_MAX_REQ};
use flags_core::Variant;
use flags_testkit::contract::{Client, ModelBinary, check_model};

/// The async model with its default options, as `flags-compare` runs it.
const ASYNC_VARIANT: Variant = Variant {
    name: "async",
    label: "async",
    model: &ASYNC,
    args: &[],
};

/// Same totals as every model with 404s, 418s, 500s, timeouts, truncated,
/// dropped and oversized bodies mixed in; files byte-identical; the server
/// sees exactly `-m` requests at once; retries and overwrites work;
/// redirects (a loop stopped after 10), chunked bodies, an HTML page and an
/// unasked `Content-Encoding`, `Retry-After: 0`, and a server that closes
/// every connection after its response.
#[test]
fn async_model_keeps_the_contract() {
    assert_eq!(check_model(&ASYNC_VARIANT, 4, MAX_MAX_REQ), Ok(()));
}

/// At a larger `-m` too, the server sees exactly `-m` requests at once:
/// the semaphore is the cap, and nothing else limits it.
#[test]
fn peak_concurrency_is_max_req_at_30() {
    assert_eq!(
        flags_testkit::contract::check_peak_concurrency(&ASYNC_VARIANT, 30, MAX_MAX_REQ),
        Ok(())
    );
}

/// Every fault mode of the server: counted, nothing partial, retried.
#[test]
fn async_model_survives_every_fault() {
    assert_eq!(
        flags_testkit::contract::check_fault_matrix(&ASYNC_VARIANT, 4, Client::Reqwest),
        Ok(())
    );
}

/// Load: `-e -m 1000`: no error, all 676 requests in flight at once.
#[test]
fn every_code_at_once() {
    assert_eq!(flags_testkit::contract::check_load(&ASYNC_VARIANT), Ok(()));
}

/// Over https with `--cacert`; with the wrong CA, every code an error.
#[test]
fn async_model_speaks_https() {
    assert_eq!(
        flags_testkit::contract::check_tls(&ASYNC_VARIANT, 4),
        Ok(())
    );
}

/// The binary as a user runs it.
fn binary() -> ModelBinary<'static> {
    ModelBinary {
        program: std::path::Path::new(env!("CARGO_BIN_EXE_flags-async")),
        extra_args: &[],
    }
}

/// The binary over https, and with the wrong CA: one "certificate not
/// trusted" line per code, exit 1, no panic; `https://` to a plain HTTP
/// server says so.
#[cfg(unix)]
#[test]
fn async_binary_speaks_https() {
    assert_eq!(flags_testkit::contract::check_tls_binary(&binary()), Ok(()));
}

/// `-m 8`: one thread, the runtime's, holds all 8 requests; it sleeps in
/// the event loop (epoll), not on any one socket.
#[cfg(target_os = "linux")]
#[test]
fn one_thread_holds_every_request() {
    let expected = flags_testkit::contract::IoThreads {
        threads: 1,
        on_sockets: 0,
        workers: 0,
        helpers: 0,
    };
    assert_eq!(
        flags_testkit::contract::check_io_threads(&binary(), 8, expected),
        Ok(())
    );
}

/// A hang-up on a new connection: reqwest cannot tell a new connection
/// from a pooled one, and sends the request once more.
#[test]
fn a_new_connection_hung_up_is_resent() {
    assert_eq!(
        flags_testkit::contract::check_fresh_hangup(&ASYNC_VARIANT, false),
        Ok(())
    );
}
