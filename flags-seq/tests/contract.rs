//! The sequential model keeps the contract every model keeps.

use flags_core::Variant;
use flags_testkit::contract::check_model;

/// The one variant of the sequential model.
const SEQ: Variant = Variant {
    name: "seq",
    label: "seq",
    model: &flags_seq::SEQ,
    args: &[],
};

/// Same totals, same files, one request at a time, retries as promised.
#[test]
fn sequential_model_keeps_the_contract() {
    // The sequential model ignores -m: whatever it is asked, it uses one.
    assert_eq!(check_model(&SEQ, 4, flags_seq::MAX_MAX_REQ), Ok(()));
}

/// Every fault mode of the server: counted, nothing partial, retried.
#[test]
fn sequential_model_survives_every_fault() {
    assert_eq!(
        flags_testkit::contract::check_fault_matrix(&SEQ, 4, flags_testkit::contract::Client::Ureq),
        Ok(())
    );
}

/// The `flags-seq` binary, as the binary checks run it.
fn binary() -> flags_testkit::contract::ModelBinary<'static> {
    flags_testkit::contract::ModelBinary {
        program: std::path::Path::new(env!("CARGO_BIN_EXE_flags-seq")),
        extra_args: &[],
    }
}

/// Over https from an in-process TLS server with `--cacert`: the same
/// flags; with the wrong CA, every code an error.
#[test]
fn sequential_model_speaks_https() {
    assert_eq!(flags_testkit::contract::check_tls(&SEQ, 4), Ok(()));
}

/// The binary over https, and with the wrong CA: one "certificate not
/// trusted" line per code, exit 1, no panic.
#[cfg(unix)]
#[test]
fn sequential_binary_speaks_https() {
    assert_eq!(flags_testkit::contract::check_tls_binary(&binary()), Ok(()));
}

/// One thread, the main one, and it is the one asleep on the socket: no
/// runtime or helper thread behind the blocking call.
#[cfg(target_os = "linux")]
#[test]
fn sequential_binary_does_its_io_on_its_one_thread() {
    let expected = flags_testkit::contract::IoThreads {
        threads: 1,
        on_sockets: 1,
        workers: 0,
        helpers: 0,
    };
    assert_eq!(
        flags_testkit::contract::check_io_threads(&binary(), 1, expected),
        Ok(())
    );
}

/// A hang-up on a new connection is the server's answer: ureq tells a new
/// connection from a pooled one, so the request is not sent again.
#[test]
fn sequential_model_does_not_resend_on_a_new_connection() {
    assert_eq!(
        flags_testkit::contract::check_fresh_hangup(&SEQ, true),
        Ok(())
    );
}
