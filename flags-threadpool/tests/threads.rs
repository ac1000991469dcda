//! No worker thread outlives its executor.
//!
//! This file holds one test only, so that no other test of the same binary
//! starts or ends threads while this one counts them.

use std::thread;
use std::time::Duration;

use flags_threadpool::executor::{Shutdown, ThreadPoolExecutor};

/// The threads of this process, as Linux lists them in `/proc/self/task`.
fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|entries| entries.count())
        .unwrap_or(0)
}

/// After the executor is dropped, the process has exactly the threads it
/// had before: every worker was joined, none leaked. Checked after a
/// panic, a cancellation and a shutdown without waiting, too.
#[test]
fn no_thread_is_leaked_after_drop() {
    let before = thread_count();
    assert!(before > 0, "cannot read /proc/self/task");
    {
        let executor = ThreadPoolExecutor::new(8);
        let results: Vec<_> = executor
            .map(
                |number: u64| {
                    thread::sleep(Duration::from_millis(number % 5));
                    number
                },
                0..40,
            )
            .collect();
        let expected: Vec<_> = (0..40).map(Ok).collect();
        assert_eq!(results, expected, "map yields every result, in order");
        let panicking = executor.submit(|| -> u8 { panic!("boom") });
        assert!(panicking.result().is_err());
        let started = executor.worker_count();
        assert!((1..=8).contains(&started));
        assert_eq!(thread_count(), before + started);
        executor.submit(|| thread::sleep(Duration::from_millis(50)));
        executor.submit(|| ()).cancel();
        // Do not wait here: the drop below must.
        executor.shutdown(Shutdown {
            wait: false,
            cancel_futures: false,
        });
    }
    assert_eq!(thread_count(), before);
}
