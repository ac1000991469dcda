//! The variants of this crate, as every test file runs them.

use flags_core::Variant;
use flags_testkit::contract::Client;
use flags_threadpool::THREADPOOL;

pub const STD: Variant = Variant {
    name: "threadpool",
    label: "threadpool (std)",
    model: &THREADPOOL,
    args: &[],
};
pub const RAYON: Variant = Variant {
    name: "rayon",
    label: "threadpool (rayon)",
    model: &THREADPOOL,
    args: &["--executor", "rayon"],
};
pub const THREADS: Variant = Variant {
    name: "threads",
    label: "threads (one per code)",
    model: &THREADPOOL,
    args: &["--executor", "threads"],
};
pub const REQWEST: Variant = Variant {
    name: "threadpool-reqwest",
    label: "threadpool (reqwest::blocking)",
    model: &THREADPOOL,
    args: &["--client", "reqwest"],
};

/// Every variant, with the client its fault matrix expects and whether
/// that client tells a new connection from a pooled one.
pub const VARIANTS: [(Variant, Client, bool); 4] = [
    (STD, Client::Ureq, true),
    (RAYON, Client::Ureq, true),
    (THREADS, Client::Ureq, true),
    (REQWEST, Client::Reqwest, false),
];
