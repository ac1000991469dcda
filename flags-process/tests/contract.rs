//! The contract every model keeps, checked on the process pool.

mod common;

use flags_core::Variant;
use flags_process::PROCESS;
use flags_testkit::contract::check_model;

/// The process model as `flags-compare` runs it: workers forked by the
/// fork server.
const FORKSERVER: Variant = Variant {
    name: "process",
    label: "process",
    model: &PROCESS,
    args: &[],
};

/// The same with every worker spawned, one program start each.
const SPAWN: Variant = Variant {
    name: "process-spawn",
    label: "process (spawn)",
    model: &PROCESS,
    args: &["--start-method", "spawn"],
};

/// `variant`, with the `flags-process` binary as the worker program: the
/// test harness cannot serve as a worker.
fn here(variant: &Variant) -> &Variant {
    PROCESS.use_worker_program(common::worker_command().program_path());
    variant
}

/// The process pool counts, saves, caps its concurrency (the server sees
/// exactly 4 requests at once with 4 workers), retries and overwrites as
/// every model does, and leaves no child process behind.
#[test]
fn process_pool_keeps_the_contract() {
    let _serial = common::serial();
    assert_eq!(
        check_model(here(&FORKSERVER), 4, flags_process::MAX_MAX_REQ),
        Ok(())
    );
    common::assert_no_children();
}

/// The same contract with workers spawned, one program start each, rather
/// than forked by the fork server: the start method changes nothing a run
/// can see.
#[test]
fn spawned_process_pool_keeps_the_contract() {
    let _serial = common::serial();
    assert_eq!(
        check_model(here(&SPAWN), 4, flags_process::MAX_MAX_REQ),
        Ok(())
    );
    common::assert_no_children();
}

/// Every fault mode of the server, on the process pool: counted, nothing
/// partial, retried by the workers, no child left.
#[test]
fn process_pool_survives_every_fault() {
    let _serial = common::serial();
    assert_eq!(
        flags_testkit::contract::check_fault_matrix(
            here(&FORKSERVER),
            4,
            flags_testkit::contract::Client::Ureq
        ),
        Ok(())
    );
    common::assert_no_children();
}

/// Over https with `--cacert` (each worker gets the path in its `JOB`
/// line); with the wrong CA, every code an error.
#[test]
fn process_pool_speaks_https() {
    let _serial = common::serial();
    assert_eq!(
        flags_testkit::contract::check_tls(here(&FORKSERVER), 4),
        Ok(())
    );
    common::assert_no_children();
}

/// The binary over https, and with the wrong CA: one "certificate not
/// trusted" line per code, exit 1, no panic.
#[cfg(unix)]
#[test]
fn process_binary_speaks_https() {
    let _serial = common::serial();
    assert_eq!(
        flags_testkit::contract::check_tls_binary(&common::model_binary()),
        Ok(())
    );
}

/// `-m 4`: four workers, each a process with one thread, asleep reading its
/// own socket; the parent has its main thread and one pipe reader per
/// worker, and touches no socket; beside the workers, the fork server, one
/// thread asleep on its Unix socket to the parent.
#[cfg(target_os = "linux")]
#[test]
fn each_worker_does_its_own_io_on_its_one_thread() {
    let _serial = common::serial();
    let expected = flags_testkit::contract::IoThreads {
        threads: 5,
        on_sockets: 0,
        workers: 4,
        helpers: 1,
    };
    assert_eq!(
        flags_testkit::contract::check_io_threads(&common::model_binary(), 4, expected),
        Ok(())
    );
}

/// The same with `--start-method spawn`: the same workers and threads, and
/// no fork server.
#[cfg(target_os = "linux")]
#[test]
fn each_spawned_worker_does_its_own_io_on_its_one_thread() {
    let _serial = common::serial();
    let expected = flags_testkit::contract::IoThreads {
        threads: 5,
        on_sockets: 0,
        workers: 4,
        helpers: 0,
    };
    let binary = flags_testkit::contract::ModelBinary {
        extra_args: &["--start-method", "spawn"],
        ..common::model_binary()
    };
    assert_eq!(
        flags_testkit::contract::check_io_threads(&binary, 4, expected),
        Ok(())
    );
}

/// A hang-up on a new connection: the worker's ureq client tells a new
/// connection from a pooled one, so the request is not sent again.
#[test]
fn process_pool_does_not_resend_on_a_new_connection() {
    assert_eq!(
        flags_testkit::contract::check_fresh_hangup(here(&FORKSERVER), true),
        Ok(())
    );
}
