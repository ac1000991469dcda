//! `executor.map` up close, the book's `demo_executor_map.py`: five calls
//! of `loiter(n)`, which sleeps `n` seconds, on a pool of 3 threads, with a
//! timestamp on every line.
//!
//! ```text
//! cargo run -p flags-threadpool --example executor_map
//! [14:03:49.822] Script starting.
//! [14:03:49.822] results: MapResults { remaining: 5 }
//! [14:03:49.822] Waiting for individual results:
//! [14:03:49.822] loiter(0): doing nothing for 0s...
//! [14:03:49.822] loiter(0): done.
//! [14:03:49.822]             loiter(3): doing nothing for 3s...
//! [14:03:49.822]         loiter(2): doing nothing for 2s...
//! [14:03:49.822] result 0: 0
//! [14:03:49.825]     loiter(1): doing nothing for 1s...
//! [14:03:50.825]     loiter(1): done.
//! [14:03:50.826]                 loiter(4): doing nothing for 4s...
//! [14:03:50.826] result 1: 10
//! [14:03:51.822]         loiter(2): done.
//! [14:03:51.824] result 2: 20
//! [14:03:52.822]             loiter(3): done.
//! [14:03:52.822] result 3: 30
//! [14:03:54.829]                 loiter(4): done.
//! [14:03:54.833] result 4: 40
//! ```
//!
//! What to see: `map` returns at once (`results:` is printed before any
//! call has even started), while the calls run three at a time; then the
//! results come out in the order of the calls, each as soon as it and every
//! call before it are done. The worker that ran `loiter(0)` is free at once
//! and takes `loiter(3)`; `loiter(4)` waits in the queue until `loiter(1)`
//! frees a worker (at 1 s), so its result comes last (at 5 s). The
//! interleaving of the first lines changes from run to run.

use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flags_threadpool::executor::ThreadPoolExecutor;

/// Print the arguments after a `[HH:MM:SS.mmm]` timestamp (UTC).
fn display(message: &str) {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since_epoch.as_secs();
    println!(
        "[{:02}:{:02}:{:02}.{:03}] {message}",
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
        since_epoch.subsec_millis()
    );
}

/// Do nothing for `n` seconds, saying so before and after; return `n * 10`.
/// Each call's lines are indented by `n` so that the calls form columns.
fn loiter(n: u64) -> u64 {
    let indent = "    ".repeat(usize::try_from(n).unwrap_or(0));
    display(&format!("{indent}loiter({n}): doing nothing for {n}s..."));
    thread::sleep(Duration::from_secs(n));
    display(&format!("{indent}loiter({n}): done."));
    n * 10
}

fn main() {
    display("Script starting.");
    let executor = ThreadPoolExecutor::new(3);
    // Submit all five calls and return at once: nothing waits here.
    let results = executor.map(loiter, 0..5);
    display(&format!("results: {results:?}"));
    display("Waiting for individual results:");
    // Join, in order: each `next()` blocks until that call is done.
    for (index, result) in results.enumerate() {
        match result {
            Ok(value) => display(&format!("result {index}: {value}")),
            Err(error) => display(&format!("result {index}: {error}")),
        }
    }
}
