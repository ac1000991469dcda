//! Every model on the same work, side by side: the library behind
//! `flags-compare` (what `cargo run --release` runs) and the criterion suite
//! (`cargo bench`).
//!
//! A tour of the modules:
//!
//! - [`models`]: the rows by name, each a [`flags_core::Variant`] (a model
//!   with some of its options set): `seq`, `threadpool`, `rayon`,
//!   `threads`, `async`, `process`, and, when named, `threadpool-reqwest`
//!   and `process-spawn`.
//! - [`harness`]: the one place that runs a model on a job into a fresh
//!   folder and checks what it saved against the server's flags. The
//!   criterion suite and `flags-compare` both use it.
//! - [`child`]: running one model in a child process of its own, so that
//!   its peak memory is its own, and measuring that child (wall time, CPU,
//!   peak RSS, threads). The child is `flags-compare` itself, re-run in a
//!   hidden `--run-model NAME` mode, so no other binary is needed.
//! - [`cpu`]: CPU time counted by the kernel: a child's from `wait4`, the
//!   in-process server's from its threads' `schedstat`.
//! - `sampler`: a child's process tree sampled from `/proc` (memory
//!   high-water marks, processes and threads alive).
//! - [`compare`]: `flags-compare` in parts: its command line
//!   (`compare::cli`), the loop over the models against one in-process
//!   [`flags_server::FlagServer`] ([`compare::run`]), the sweep over `m`
//!   ([`compare::sweep`]), the tables (`compare::table`) and `--json` /
//!   `--csv` ([`compare::export`]).
//! - `peer`: the `--peer-curl` row, `curl --parallel` on the same URLs.
//! - [`chart`]: the SVG chart, drawn with `plotters`: a bar per model
//!   (`chart::bars`) and a timeline of every request the server saw
//!   (`chart::timeline`); and the sweep's three panels over `m`
//!   ([`chart::sweep`]).
//!
//! The bound every row is compared with is `ceil(N / m) x delay`: with `m`
//! requests in flight at most and a server that takes `delay` to answer
//! each, `N` requests need at least `ceil(N / m)` rounds of `delay`. The
//! sequential model has `m = 1`, so its bound is `N x delay`.

pub mod chart;
pub mod child;
pub mod compare;
pub mod cpu;
pub mod harness;
pub mod models;
pub(crate) mod peer;
pub(crate) mod sampler;

use std::time::Duration;

/// The least time `code_count` requests can take with at most `max_req` in
/// flight, when the server takes `delay` to answer each:
/// `ceil(code_count / max_req) x delay`.
pub(crate) fn bound(code_count: usize, max_req: usize, delay: Duration) -> Duration {
    let rounds = code_count.div_ceil(max_req.max(1));
    delay * u32::try_from(rounds).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    #[test]
    fn bound_examples() {
        use crate::bound;
        use std::time::Duration;
        let delay = Duration::from_millis(100);
        assert_eq!(bound(40, 10, delay), Duration::from_millis(400));
        assert_eq!(bound(41, 10, delay), Duration::from_millis(500));
        assert_eq!(bound(40, 1, delay), Duration::from_secs(4));
    }
}
