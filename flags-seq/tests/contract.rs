//! The sequential model keeps the contract every model keeps.

use flags_server::contract::check_model;

/// Same totals, same files, one request at a time, retries as promised.
#[test]
fn sequential_model_keeps_the_contract() {
    // The sequential model ignores -m: whatever it is asked, it uses one.
    assert_eq!(
        check_model(&flags_seq::download_many, 4, flags_seq::MAX_MAX_REQ),
        Ok(())
    );
}

/// Every fault mode of the server: counted, nothing partial, retried.
#[test]
fn sequential_model_survives_every_fault() {
    assert_eq!(
        flags_server::contract::check_fault_matrix(&flags_seq::download_many, 4),
        Ok(())
    );
}
