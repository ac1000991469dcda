//! The contract every model keeps, checked by the one helper all models
//! share, for both pools of this crate.

use flags_server::contract::check_model;
use flags_threadpool::{MAX_MAX_REQ, download_many, download_many_rayon};

/// The std executor: same totals as every model on 200s, 404s, 418s,
/// 500s, timeouts, truncated, huge and dropped responses; exactly
/// `max_req` (4) requests in flight with three times as many codes;
/// retries; overwriting.
#[test]
fn std_executor_keeps_the_contract() {
    assert_eq!(check_model(&download_many, 4, MAX_MAX_REQ), Ok(()));
}

/// The rayon pool keeps the same contract, with the same numbers.
#[test]
fn rayon_pool_keeps_the_contract() {
    assert_eq!(check_model(&download_many_rayon, 4, MAX_MAX_REQ), Ok(()));
}

/// Every fault mode of the server, on the std executor: counted, nothing
/// partial, retried.
#[test]
fn std_executor_survives_every_fault() {
    assert_eq!(
        flags_server::contract::check_fault_matrix(&download_many, 4),
        Ok(())
    );
}

/// Every fault mode of the server, on the rayon pool.
#[test]
fn rayon_pool_survives_every_fault() {
    assert_eq!(
        flags_server::contract::check_fault_matrix(&download_many_rayon, 4),
        Ok(())
    );
}
