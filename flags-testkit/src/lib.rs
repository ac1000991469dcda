//! What the workspace's tests share, in the spirit of rust-analyzer's
//! `test_utils`: the contract every model keeps, and the helpers that more
//! than one crate's tests need.
//!
//! - [`contract`]: the one check every model's tests run against
//!   [`flags_server`]: [`contract::check_model`] on a model's
//!   `download_many`, the fault matrix, load, https, and the checks of a
//!   model binary as a user runs it ([`contract::check_binary`]: Ctrl-C,
//!   a hang-up, output that cannot be written, a hidden password, failing writes;
//!   [`contract::check_io_threads`], which reads `/proc` to see which
//!   thread sleeps on which socket).
//! - [`process`]: child processes from a test's side: [`KillOnDrop`], the
//!   machine's processes from `/proc`, signals.
//! - [`report`]: what a run printed and left: the final report read back,
//!   the files in `--dest`.
//! - [`net`]: a port nothing listens on.
//!
//! # How a model's tests use it
//!
//! The checks take a model as a [`flags_core::Variant`]: the value the
//! model crate exports (it implements [`flags_core::Model`]) with some of
//! its own options, as on its binary's command line. A model's
//! `tests/contract.rs` names each variant it has once and runs every check
//! on each, asserting that no promise was broken:
//!
//! ```text
//! use flags_core::Variant;
//! use flags_testkit::contract::{Client, check_fault_matrix, check_model};
//! use flags_threadpool::{MAX_MAX_REQ, THREADPOOL};
//!
//! const RAYON: Variant = Variant {
//!     name: "rayon",
//!     label: "threadpool (rayon)",
//!     model: &THREADPOOL,
//!     args: &["--executor", "rayon"],
//! };
//!
//! #[test]
//! fn rayon_keeps_the_contract() {
//!     assert_eq!(check_model(&RAYON, 4, MAX_MAX_REQ), Ok(()));
//!     assert_eq!(check_fault_matrix(&RAYON, 4, Client::Ureq), Ok(()));
//! }
//! ```
//!
//! The in-process checks ([`contract::check_model`],
//! [`contract::check_fault_matrix`], [`contract::check_tls`], ...) call
//! `variant.download_many(&job)` against their own servers; the binary
//! checks ([`contract::check_binary`], [`contract::check_io_threads`]) run
//! the model's executable, a [`contract::ModelBinary`] whose `extra_args`
//! are the variant's `args`.
//!
//! # Invariants
//!
//! - Tests only: every crate lists it under `[dev-dependencies]`, never
//!   under `[dependencies]`, so nothing ships with it: no binary of the
//!   workspace contains a line of it (`cargo tree -e normal` of any shipped
//!   crate does not name it).
//! - It depends on the server and on `flags-core`, never on a model: the
//!   models are judged from the outside, through the
//!   [`flags_core::Model`] interface and their binaries' command lines, so the same check means the same thing for each of them.
//! - A check returns `Err` with a description of the first broken promise
//!   and lets the test assert; a helper that cannot go on (a port it
//!   cannot bind, a signal it cannot send) panics, as a test would.
//!
//! [`KillOnDrop`]: process::KillOnDrop

pub mod contract;
pub mod net;
pub mod process;
pub mod report;
