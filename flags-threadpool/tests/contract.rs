//! The contract every model keeps, checked by the one helper all models
//! share, on every variant of this crate: the std pool, rayon, one thread
//! per code, and the std pool on reqwest's blocking client.

mod common;

use common::{RAYON, REQWEST, STD, THREADS, VARIANTS};
use flags_core::Variant;
use flags_testkit::contract::{Client, IoThreads, ModelBinary, check_model};
use flags_threadpool::MAX_MAX_REQ;

/// Same totals as every model on 200s, 404s, 418s, 500s, timeouts,
/// truncated, huge and dropped responses; exactly `max_req` (4) requests
/// in flight with three times as many codes; retries; overwriting.
fn keeps_the_contract(variant: &Variant) {
    assert_eq!(check_model(variant, 4, MAX_MAX_REQ), Ok(()), "{variant:?}");
}

/// Every fault mode of the server: counted, nothing partial, retried.
fn survives_every_fault(variant: &Variant, client: Client) {
    assert_eq!(
        flags_testkit::contract::check_fault_matrix(variant, 4, client),
        Ok(()),
        "{variant:?}"
    );
}

#[test]
fn std_pool_keeps_the_contract() {
    keeps_the_contract(&STD);
}

#[test]
fn rayon_pool_keeps_the_contract() {
    keeps_the_contract(&RAYON);
}

#[test]
fn thread_per_code_keeps_the_contract() {
    keeps_the_contract(&THREADS);
}

#[test]
fn reqwest_client_keeps_the_contract() {
    keeps_the_contract(&REQWEST);
}

#[test]
fn std_pool_survives_every_fault() {
    survives_every_fault(&STD, Client::Ureq);
}

#[test]
fn rayon_pool_survives_every_fault() {
    survives_every_fault(&RAYON, Client::Ureq);
}

#[test]
fn thread_per_code_survives_every_fault() {
    survives_every_fault(&THREADS, Client::Ureq);
}

/// A dripping body included, which reqwest's own blocking timeout does
/// not bound.
#[test]
fn reqwest_client_survives_every_fault() {
    survives_every_fault(&REQWEST, Client::Reqwest);
}

/// Over https with `--cacert`, on every variant; with the wrong CA, every
/// code an error.
#[test]
fn every_variant_speaks_https() {
    for (variant, _, _) in &VARIANTS {
        assert_eq!(
            flags_testkit::contract::check_tls(variant, 4),
            Ok(()),
            "{variant:?}"
        );
    }
}

/// A hang-up on a new connection: ureq, which can tell a new connection
/// from a pooled one, does not send the request again; reqwest cannot
/// tell, and sends it once more.
#[test]
fn a_new_connection_hung_up_is_resent_only_where_the_client_cannot_tell() {
    for (variant, _, tells_fresh) in &VARIANTS {
        assert_eq!(
            flags_testkit::contract::check_fresh_hangup(variant, *tells_fresh),
            Ok(()),
            "{variant:?}"
        );
    }
}

/// The binary with a variant's own options.
fn binary(variant: &Variant) -> ModelBinary<'static> {
    ModelBinary {
        program: std::path::Path::new(env!("CARGO_BIN_EXE_flags-threadpool")),
        extra_args: variant.args,
    }
}

/// The binary over https, and with the wrong CA: one "certificate not
/// trusted" line per code, exit 1, no panic; on every variant.
#[cfg(unix)]
#[test]
fn binary_speaks_https_on_every_variant() {
    for (variant, _, _) in &VARIANTS {
        assert_eq!(
            flags_testkit::contract::check_tls_binary(&binary(variant)),
            Ok(()),
            "{variant:?}"
        );
    }
}

/// `-m 8`: 8 download threads and the main thread, no other, each of the
/// 8 asleep reading a socket of its own, on every executor. On reqwest:
/// one thread more (its runtime), and no download thread reads a socket:
/// they all wait for that one thread.
#[cfg(target_os = "linux")]
#[test]
fn each_download_thread_does_its_own_io_but_on_reqwest() {
    use flags_testkit::contract::check_io_threads;
    for (variant, client, _) in &VARIANTS {
        let expected = match client {
            Client::Reqwest => IoThreads {
                threads: 10,
                on_sockets: 0,
                workers: 0,
                helpers: 0,
            },
            _ => IoThreads {
                threads: 9,
                on_sockets: 8,
                workers: 0,
                helpers: 0,
            },
        };
        assert_eq!(
            check_io_threads(&binary(variant), 8, expected),
            Ok(()),
            "{variant:?}"
        );
    }
}
