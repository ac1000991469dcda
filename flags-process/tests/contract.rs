//! The contract every model keeps, checked on the process pool.

mod common;

use flags_core::{DownloadJob, SetupError, StatusCounter};
use flags_server::contract::check_model;

/// `download_many` with the `flags-process` binary as the worker program.
fn download_many_here(job: &DownloadJob) -> Result<StatusCounter, SetupError> {
    flags_process::download_many_with(job, &common::worker_command())
}

/// The process pool counts, saves, caps its concurrency (the server sees
/// exactly 4 requests at once with 4 workers), retries and overwrites as
/// every model does, and leaves no child process behind.
#[test]
fn process_pool_keeps_the_contract() {
    let _serial = common::serial();
    assert_eq!(
        check_model(&download_many_here, 4, flags_process::MAX_MAX_REQ),
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
        flags_server::contract::check_fault_matrix(&download_many_here, 4),
        Ok(())
    );
    common::assert_no_children();
}
