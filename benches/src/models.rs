//! The rows of the comparison, by name: each a [`Variant`], one model with
//! some of its own options set, as on its binary's command line. The
//! default rows ([`DEFAULT_VARIANTS`]) are what `--models` runs unasked
//! and what the criterion suite iterates over; `EXTRA_VARIANTS` are run
//! only when `--models` names them.
//!
//! Every model is called through the one [`flags_core::Model`] interface,
//! so adding a row is adding a line here: the comparison, the sweep, the
//! child runner and the criterion suite never need to know which model is
//! which.

use flags_async::ASYNC;
pub use flags_core::Variant;
use flags_process::PROCESS;
use flags_seq::SEQ;
use flags_threadpool::THREADPOOL;

/// The default rows, in the order of the table: the baseline first, then
/// from threads to tasks to processes.
pub static DEFAULT_VARIANTS: [Variant; 6] = [
    Variant {
        name: "seq",
        label: "seq",
        model: &SEQ,
        args: &[],
    },
    Variant {
        name: "threadpool",
        label: "threadpool (std)",
        model: &THREADPOOL,
        args: &[],
    },
    Variant {
        name: "rayon",
        label: "threadpool (rayon)",
        model: &THREADPOOL,
        args: &["--executor", "rayon"],
    },
    // The chapter's epigraph: one plain thread per code, no pool.
    Variant {
        name: "threads",
        label: "threads (one per code)",
        model: &THREADPOOL,
        args: &["--executor", "threads"],
    },
    Variant {
        name: "async",
        label: "async",
        model: &ASYNC,
        args: &[],
    },
    Variant {
        name: "process",
        label: "process",
        model: &PROCESS,
        args: &[],
    },
];

/// Rows run only when `--models` names them: the std pool on reqwest's
/// blocking client, whose hidden runtime thread does every pool thread's
/// I/O, to measure what that costs next to the default ureq pool; and the
/// process pool with every worker spawned, to measure what its fork server
/// saves.
pub(crate) static EXTRA_VARIANTS: [Variant; 2] = [
    Variant {
        name: "threadpool-reqwest",
        label: "threadpool (reqwest::blocking)",
        model: &THREADPOOL,
        args: &["--client", "reqwest"],
    },
    Variant {
        name: "process-spawn",
        label: "process (spawn)",
        model: &PROCESS,
        args: &["--start-method", "spawn"],
    },
];

/// Every row `--models` takes: the default ones, then the extra ones.
pub fn every_variant() -> impl Iterator<Item = &'static Variant> {
    DEFAULT_VARIANTS.iter().chain(&EXTRA_VARIANTS)
}

/// The names `--models` accepts, comma-separated, for messages.
pub(crate) fn variant_names() -> String {
    every_variant()
        .map(|variant| variant.name)
        .collect::<Vec<_>>()
        .join(",")
}

/// The row called `name` (`seq`, `threadpool`, `rayon`, `threads`,
/// `async`, `process`, `threadpool-reqwest`, `process-spawn`), in any case.
///
/// ```
/// use flags_benches::models::variant_by_name;
/// assert_eq!(variant_by_name("Rayon").unwrap().label, "threadpool (rayon)");
/// assert!(variant_by_name("threads").is_some());
/// assert!(variant_by_name("process-spawn").is_some());
/// assert!(variant_by_name("goroutines").is_none());
/// ```
pub fn variant_by_name(name: &str) -> Option<&'static Variant> {
    every_variant().find(|variant| variant.name.eq_ignore_ascii_case(name.trim()))
}

/// Serve as a worker and exit when this process was started as one by a
/// model (the process pool re-runs the current executable as its workers);
/// otherwise return at once. Every program that runs a row calls it first
/// thing in `main`.
pub fn serve_if_worker() {
    for variant in every_variant() {
        variant.model.serve_if_worker();
    }
}
