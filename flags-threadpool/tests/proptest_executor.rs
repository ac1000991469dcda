//! Property tests of the std executor: random task durations and pool
//! sizes, small enough to run in a few seconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use flags_threadpool::executor::{PoolFuture, ThreadPoolExecutor, as_completed};
use proptest::prelude::*;

/// How many tasks run right now, and the most that ever ran at once.
#[derive(Default)]
struct Gauge {
    current: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    fn run<T>(&self, task: impl FnOnce() -> T) -> T {
        let now = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let value = task();
        self.current.fetch_sub(1, Ordering::SeqCst);
        value
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the durations and the pool size: `map` gives every result
    /// in input order, at most `max_workers` tasks run at once, and no more
    /// than `max_workers` threads are started.
    #[test]
    fn map_is_ordered_and_bounded(
        durations in prop::collection::vec(0u64..4, 1..24),
        max_workers in 1usize..6,
    ) {
        let executor = ThreadPoolExecutor::new(max_workers);
        let gauge = Arc::new(Gauge::default());
        let task_gauge = Arc::clone(&gauge);
        let indexed: Vec<(usize, u64)> = durations.iter().copied().enumerate().collect();
        let results: Vec<_> = executor
            .map(
                move |(index, millis): (usize, u64)| {
                    task_gauge.run(|| {
                        thread::sleep(Duration::from_millis(millis));
                        index
                    })
                },
                indexed,
            )
            .collect();
        let expected: Vec<_> = (0..durations.len()).map(Ok).collect();
        prop_assert_eq!(results, expected);
        prop_assert!(gauge.peak.load(Ordering::SeqCst) <= max_workers);
        prop_assert!(executor.worker_count() <= max_workers.min(durations.len()));
    }

    /// Whatever the durations and the pool size: `as_completed` yields every
    /// future exactly once, each done when yielded, and the values are the
    /// ones submitted.
    #[test]
    fn as_completed_yields_each_future_once(
        durations in prop::collection::vec(0u64..4, 1..24),
        max_workers in 1usize..6,
    ) {
        let executor = ThreadPoolExecutor::new(max_workers);
        let futures: Vec<PoolFuture<usize>> = durations
            .iter()
            .enumerate()
            .map(|(index, &millis)| {
                executor.submit(move || {
                    thread::sleep(Duration::from_millis(millis));
                    index
                })
            })
            .collect();
        let mut values = Vec::new();
        for future in as_completed(futures.clone()) {
            prop_assert!(future.done());
            values.push(future.result().unwrap_or(usize::MAX));
        }
        values.sort_unstable();
        prop_assert_eq!(values, (0..durations.len()).collect::<Vec<_>>());
    }
}
