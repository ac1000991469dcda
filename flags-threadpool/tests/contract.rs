//! The contract every model keeps, checked by the one helper all models
//! share, for both pools of this crate.

use flags_testkit::contract::{Client, check_model};
use flags_threadpool::{MAX_MAX_REQ, download_many, download_many_rayon};

/// The std executor: same totals as every model on 200s, 404s, 418s,
/// 500s, timeouts, truncated, huge and dropped responses; exactly
/// `max_req` (4) requests in flight with three times as many codes;
/// retries; overwriting.
#[test]
fn std_executor_keeps_the_contract() {
    assert_eq!(check_model(download_many, 4, MAX_MAX_REQ), Ok(()));
}

/// The rayon pool keeps the same contract, with the same numbers.
#[test]
fn rayon_pool_keeps_the_contract() {
    assert_eq!(check_model(download_many_rayon, 4, MAX_MAX_REQ), Ok(()));
}

/// Every fault mode of the server, on the std executor: counted, nothing
/// partial, retried.
#[test]
fn std_executor_survives_every_fault() {
    assert_eq!(
        flags_testkit::contract::check_fault_matrix(download_many, 4, Client::Ureq),
        Ok(())
    );
}

/// Every fault mode of the server, on the rayon pool.
#[test]
fn rayon_pool_survives_every_fault() {
    assert_eq!(
        flags_testkit::contract::check_fault_matrix(download_many_rayon, 4, Client::Ureq),
        Ok(())
    );
}

/// The std pool on reqwest's blocking client (`--client reqwest`), the
/// comparison row, keeps the same contract.
#[test]
fn reqwest_client_keeps_the_contract() {
    assert_eq!(
        check_model(flags_threadpool::download_many_reqwest, 4, MAX_MAX_REQ),
        Ok(())
    );
}

/// Every fault mode of the server on `--client reqwest` too: a dripping
/// body included, which reqwest's own blocking timeout does not bound.
#[test]
fn reqwest_client_survives_every_fault() {
    assert_eq!(
        flags_testkit::contract::check_fault_matrix(
            flags_threadpool::download_many_reqwest,
            4,
            Client::Reqwest
        ),
        Ok(())
    );
}

/// Over https with `--cacert`, on both pools and both clients; with the
/// wrong CA, every code an error.
#[test]
fn every_pool_and_client_speaks_https() {
    use flags_testkit::contract::check_tls;
    assert_eq!(check_tls(download_many, 4), Ok(()));
    assert_eq!(check_tls(download_many_rayon, 4), Ok(()));
    assert_eq!(
        check_tls(flags_threadpool::download_many_reqwest, 4),
        Ok(())
    );
}

fn binary(extra_args: &'static [&'static str]) -> flags_testkit::contract::ModelBinary<'static> {
    flags_testkit::contract::ModelBinary {
        program: std::path::Path::new(env!("CARGO_BIN_EXE_flags-threadpool")),
        extra_args,
    }
}

/// The binary over https, and with the wrong CA: one "certificate not
/// trusted" line per code, exit 1, no panic; on both clients.
#[cfg(unix)]
#[test]
fn binary_speaks_https_on_both_clients() {
    use flags_testkit::contract::check_tls_binary;
    assert_eq!(check_tls_binary(&binary(&[])), Ok(()));
    assert_eq!(check_tls_binary(&binary(&["--client", "reqwest"])), Ok(()));
}

/// `-m 8`: 8 pool threads and the main thread, no other, and each pool
/// thread asleep reading a socket of its own: both pools do their own I/O.
#[cfg(target_os = "linux")]
#[test]
fn each_pool_thread_does_its_own_io() {
    use flags_testkit::contract::{IoThreads, check_io_threads};
    let expected = IoThreads {
        threads: 9,
        on_sockets: 8,
        workers: 0,
        helpers: 0,
    };
    assert_eq!(check_io_threads(&binary(&[]), 8, expected), Ok(()));
    assert_eq!(
        check_io_threads(&binary(&["--executor", "rayon"]), 8, expected),
        Ok(())
    );
}

/// The lesson of `--client reqwest`: one thread more (reqwest's runtime),
/// and no pool thread reads a socket: they all wait for that one thread.
#[cfg(target_os = "linux")]
#[test]
fn reqwest_client_hides_one_io_thread() {
    use flags_testkit::contract::{IoThreads, check_io_threads};
    let expected = IoThreads {
        threads: 10,
        on_sockets: 0,
        workers: 0,
        helpers: 0,
    };
    assert_eq!(
        check_io_threads(&binary(&["--client", "reqwest"]), 8, expected),
        Ok(())
    );
}

/// A hang-up on a new connection: both pools on ureq, which can tell a
/// new connection from a pooled one, do not send the request again;
/// reqwest cannot tell, and sends it once more.
#[test]
fn a_new_connection_hung_up_is_resent_only_where_the_client_cannot_tell() {
    use flags_testkit::contract::check_fresh_hangup;
    assert_eq!(check_fresh_hangup(download_many, true), Ok(()));
    assert_eq!(check_fresh_hangup(download_many_rayon, true), Ok(()));
    assert_eq!(
        check_fresh_hangup(flags_threadpool::download_many_reqwest, false),
        Ok(())
    );
}
