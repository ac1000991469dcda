//! The std `ThreadPoolExecutor` and its futures, on plain functions.
//!
//! No test asserts how fast anything is (the machine is shared): orderings
//! are forced with channels and gates, not with sleeps of chosen lengths,
//! and every wait has a generous timeout so a broken pool fails instead of
//! hanging.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use flags_threadpool::executor::{
    PoolFuture, Shutdown, TaskError, ThreadPoolExecutor, as_completed,
};

/// Longest any test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(10);

/// A gate tasks wait at until the test opens it (or `PATIENCE` runs out).
#[derive(Clone, Default)]
struct Gate(Arc<AtomicBool>);

impl Gate {
    fn open(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn wait(&self) {
        let start = Instant::now();
        while !self.0.load(Ordering::SeqCst) && start.elapsed() < PATIENCE {
            thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Wait until `condition` holds or `PATIENCE` runs out; say which.
fn eventually(condition: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while !condition() {
        if start.elapsed() > PATIENCE {
            return false;
        }
        thread::sleep(Duration::from_millis(1));
    }
    true
}

/// How many tasks run right now, and the most that ever ran at once.
#[derive(Default)]
struct Gauge {
    current: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    fn enter(&self) {
        let now = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.current.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Twenty tasks on three workers all run, each once, and each result comes
/// back through its own future.
#[test]
fn more_tasks_than_workers_all_run() {
    let executor = ThreadPoolExecutor::new(3);
    let runs = Arc::new(AtomicUsize::new(0));
    let futures: Vec<PoolFuture<usize>> = (0..20)
        .map(|number| {
            let runs = Arc::clone(&runs);
            executor.submit(move || {
                runs.fetch_add(1, Ordering::SeqCst);
                number * number
            })
        })
        .collect();
    let results: Vec<_> = futures.iter().map(PoolFuture::result).collect();
    let expected: Vec<_> = (0..20).map(|number| Ok(number * number)).collect();
    assert_eq!(results, expected);
    assert_eq!(runs.load(Ordering::SeqCst), 20);
    // Fewer than three if a worker went idle in time to take the next task.
    assert!((1..=3).contains(&executor.worker_count()));
}

/// With twelve tasks that wait until three run at once, the gauge peaks at
/// exactly three: the pool never runs more than `max_workers` tasks, and
/// does run that many.
#[test]
fn at_most_max_workers_run_at_once() {
    let executor = ThreadPoolExecutor::new(3);
    let gauge = Arc::new(Gauge::default());
    let threads = Arc::new(Mutex::new(HashSet::new()));
    let futures: Vec<PoolFuture<()>> = (0..12)
        .map(|_| {
            let (gauge, threads) = (Arc::clone(&gauge), Arc::clone(&threads));
            executor.submit(move || {
                gauge.enter();
                threads.lock().unwrap().insert(thread::current().id());
                // The first ones hold on until three have run at once (or
                // give up), so that a fourth would have its chance to sneak
                // in.
                eventually(|| gauge.peak.load(Ordering::SeqCst) >= 3);
                thread::sleep(Duration::from_millis(5));
                gauge.leave();
            })
        })
        .collect();
    for future in &futures {
        assert_eq!(future.result(), Ok(()));
    }
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 3);
    assert_eq!(threads.lock().unwrap().len(), 3);
}

/// Workers start lazily: one per task that finds no idle worker, never more
/// than `max_workers`.
#[test]
fn workers_start_lazily_up_to_max_workers() {
    let executor = ThreadPoolExecutor::new(4);
    assert_eq!(executor.worker_count(), 0);
    let gate = Gate::default();
    let blocked = |executor: &ThreadPoolExecutor| {
        let gate = gate.clone();
        executor.submit(move || gate.wait())
    };
    let first = blocked(&executor);
    assert_eq!(executor.worker_count(), 1);
    let mut futures = vec![first];
    for _ in 0..5 {
        futures.push(blocked(&executor));
    }
    // Six tasks that cannot finish, four workers at most.
    assert_eq!(executor.worker_count(), 4);
    gate.open();
    for future in &futures {
        assert_eq!(future.result(), Ok(()));
    }
    // Every worker is idle now: new tasks go to them, no thread is added.
    assert!(eventually(
        || format!("{executor:?}").contains("idle_workers: 4")
    ));
    for _ in 0..10 {
        assert_eq!(executor.submit(|| 1).result(), Ok(1));
    }
    assert_eq!(executor.worker_count(), 4);
}

/// `map` yields in the order of the items even when later items finish
/// first: here item `n` waits for item `n + 1` to finish, so they finish in
/// reverse.
#[test]
fn map_keeps_input_order() {
    let count = 5;
    let executor = ThreadPoolExecutor::new(count);
    let finished = Arc::new(Mutex::new(Vec::new()));
    // One channel per item: item n + 1 tells item n that it is done.
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..count).map(|_| mpsc::channel::<()>()).unzip();
    let mut senders: Vec<Option<mpsc::Sender<()>>> = senders.into_iter().map(Some).collect();
    let items: Vec<_> = receivers
        .into_iter()
        .enumerate()
        .map(|(index, receiver)| {
            // Item `index` reports to the item before it.
            let report = if index == 0 {
                None
            } else {
                senders[index - 1].take()
            };
            (index, receiver, report)
        })
        .collect();
    drop(senders);
    let finished_in_task = Arc::clone(&finished);
    let results = executor.map(
        move |(index, wait_for_next, report): (
            usize,
            mpsc::Receiver<()>,
            Option<mpsc::Sender<()>>,
        )| {
            if index + 1 < count {
                let _ = wait_for_next.recv_timeout(PATIENCE);
            }
            finished_in_task.lock().unwrap().push(index);
            if let Some(report) = report {
                let _ = report.send(());
            }
            index * 10
        },
        items,
    );
    let results: Vec<_> = results.collect();
    assert_eq!(results, vec![Ok(0), Ok(10), Ok(20), Ok(30), Ok(40)]);
    assert_eq!(*finished.lock().unwrap(), vec![4, 3, 2, 1, 0]);
}

/// `map` returns at once, before any task has finished, like Python's: the
/// iterator is what waits.
#[test]
fn map_returns_before_results_are_ready() {
    let executor = ThreadPoolExecutor::new(2);
    let gate = Gate::default();
    let finished = Arc::new(AtomicUsize::new(0));
    let (task_gate, task_finished) = (gate.clone(), Arc::clone(&finished));
    let mut results = executor.map(
        move |number: u32| {
            task_gate.wait();
            task_finished.fetch_add(1, Ordering::SeqCst);
            number + 1
        },
        vec![1, 2, 3],
    );
    assert_eq!(finished.load(Ordering::SeqCst), 0);
    assert_eq!(results.len(), 3);
    gate.open();
    assert_eq!(results.next(), Some(Ok(2)));
    assert_eq!(results.by_ref().collect::<Vec<_>>(), vec![Ok(3), Ok(4)]);
}

/// `as_completed` yields futures in the order they finish, not the order
/// they were submitted: task n waits for task n + 1.
#[test]
fn as_completed_yields_in_finishing_order() {
    let count = 4;
    let executor = ThreadPoolExecutor::new(count);
    let gates: Vec<Gate> = (0..count).map(|_| Gate::default()).collect();
    let futures: Vec<PoolFuture<usize>> = (0..count)
        .map(|index| {
            let gates = gates.clone();
            executor.submit(move || {
                // Wait for the next task to finish, then let the previous
                // one go.
                if index + 1 < count {
                    gates[index].wait();
                }
                if index > 0 {
                    gates[index - 1].open();
                }
                index
            })
        })
        .collect();
    let order: Vec<usize> = as_completed(futures.clone())
        .map(|future| future.result().unwrap())
        .collect();
    assert_eq!(order, vec![3, 2, 1, 0]);
}

/// `as_completed` yields futures that are already done, and each future
/// once even when given twice.
#[test]
fn as_completed_yields_done_futures_once() {
    let executor = ThreadPoolExecutor::new(2);
    let first = executor.submit(|| 1);
    let second = executor.submit(|| 2);
    assert_eq!(first.result(), Ok(1));
    assert_eq!(second.result(), Ok(2));
    let given = vec![first.clone(), second.clone(), first.clone()];
    let yielded: Vec<PoolFuture<i32>> = as_completed(given).collect();
    assert_eq!(yielded.len(), 2);
    assert!(yielded.contains(&first) && yielded.contains(&second));
}

/// A task that panics gives `TaskError::Panicked` with its message from
/// `result()`, and the worker that ran it goes on with the next task.
#[test]
fn panicking_task_is_an_error_and_the_pool_keeps_working() {
    let executor = ThreadPoolExecutor::new(1);
    let panicking: PoolFuture<u32> = executor.submit(|| panic!("flag not found: {}", "XX"));
    let worker = executor.submit(|| thread::current().id());
    assert_eq!(
        panicking.result(),
        Err(TaskError::Panicked("flag not found: XX".to_string()))
    );
    let worker_after = executor.submit(|| thread::current().id());
    assert_eq!(worker.result(), worker_after.result());
    assert_eq!(executor.worker_count(), 1);
    // `result()` can be asked again, and gives the same answer.
    assert!(matches!(panicking.result(), Err(TaskError::Panicked(_))));
}

/// Cancelling a task still in the queue stops it from ever running;
/// cancelling a running one fails.
#[test]
fn cancel_of_a_pending_task_stops_it_from_running() {
    let executor = ThreadPoolExecutor::new(1);
    let gate = Gate::default();
    let task_gate = gate.clone();
    let running = executor.submit(move || task_gate.wait());
    let ran = Arc::new(AtomicBool::new(false));
    let task_ran = Arc::clone(&ran);
    let pending = executor.submit(move || task_ran.store(true, Ordering::SeqCst));
    assert!(running.running());
    assert!(!pending.running() && !pending.done());
    assert!(!running.cancel());
    assert!(pending.cancel());
    assert!(pending.cancel(), "cancelling twice is still cancelled");
    assert!(pending.cancelled() && pending.done());
    gate.open();
    assert_eq!(running.result(), Ok(()));
    // One more task through the only worker: if `pending` were going to
    // run, it would have run before this one.
    assert_eq!(executor.submit(|| 7).result(), Ok(7));
    assert_eq!(pending.result(), Err(TaskError::Cancelled));
    assert!(!ran.load(Ordering::SeqCst));
    assert!(!running.cancel(), "a finished task cannot be cancelled");
}

/// `{:?}` shows each of the four states as Python's `repr` does.
#[test]
fn debug_shows_the_state() {
    let executor = ThreadPoolExecutor::new(1);
    let gate = Gate::default();
    let task_gate = gate.clone();
    let running = executor.submit(move || task_gate.wait());
    let pending = executor.submit(|| ());
    let cancelled = executor.submit(|| ());
    assert!(cancelled.cancel());
    assert_eq!(format!("{running:?}"), "<Future state=running>");
    assert_eq!(format!("{pending:?}"), "<Future state=pending>");
    assert_eq!(format!("{cancelled:?}"), "<Future state=cancelled>");
    gate.open();
    assert_eq!(pending.result(), Ok(()));
    assert_eq!(format!("{pending:?}"), "<Future state=finished>");
}

/// A done callback runs once, with the finished future; one added to a
/// future already done runs at once; one that panics harms nothing.
#[test]
fn done_callbacks_run_once_when_done() {
    let executor = ThreadPoolExecutor::new(1);
    let gate = Gate::default();
    let task_gate = gate.clone();
    let future = executor.submit(move || {
        task_gate.wait();
        "BR"
    });
    let (sender, receiver) = mpsc::channel();
    let callback_sender = sender.clone();
    future.add_done_callback(move |done| {
        let _ = callback_sender.send(format!("{done:?} {:?}", done.result()));
    });
    future.add_done_callback(|_| panic!("a careless callback"));
    assert!(
        receiver.try_recv().is_err(),
        "called before the task finished"
    );
    gate.open();
    assert_eq!(
        receiver.recv_timeout(PATIENCE).unwrap(),
        "<Future state=finished> Ok(\"BR\")"
    );
    future.add_done_callback(move |done| {
        let _ = sender.send(format!("late {:?}", done.result()));
    });
    assert_eq!(receiver.try_recv().unwrap(), "late Ok(\"BR\")");
    assert!(receiver.try_recv().is_err(), "a callback ran twice");
    // The worker survived the panicking callback.
    assert_eq!(executor.submit(|| 2).result(), Ok(2));
}

/// Dropping the executor waits for every submitted task, running or
/// queued: leaving Python's `with` block.
#[test]
fn drop_waits_for_submitted_tasks() {
    let finished = Arc::new(AtomicUsize::new(0));
    let futures: Vec<PoolFuture<()>> = {
        let executor = ThreadPoolExecutor::new(2);
        (0..6)
            .map(|_| {
                let finished = Arc::clone(&finished);
                executor.submit(move || {
                    thread::sleep(Duration::from_millis(20));
                    finished.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect()
        // The executor is dropped here.
    };
    assert_eq!(finished.load(Ordering::SeqCst), 6);
    assert!(futures.iter().all(PoolFuture::done));
}

/// `shutdown(Shutdown { wait: false, cancel_futures: true })` cancels the
/// queued tasks, lets the running one finish, and a task submitted
/// afterwards never runs.
#[test]
fn shutdown_cancels_queued_tasks_and_refuses_new_ones() {
    let executor = ThreadPoolExecutor::new(1);
    let gate = Gate::default();
    let task_gate = gate.clone();
    let running = executor.submit(move || {
        task_gate.wait();
        1
    });
    let queued: Vec<PoolFuture<i32>> = (0..3).map(|_| executor.submit(|| 2)).collect();
    executor.shutdown(Shutdown {
        wait: false,
        cancel_futures: true,
    });
    assert!(queued.iter().all(PoolFuture::cancelled));
    let late = executor.submit(|| 3);
    assert_eq!(late.result(), Err(TaskError::Cancelled));
    gate.open();
    executor.shutdown(Shutdown {
        wait: true,
        cancel_futures: false,
    });
    assert_eq!(running.result(), Ok(1));
    assert_eq!(format!("{late:?}"), "<Future state=cancelled>");
}

/// Dropping `map`'s iterator early cancels the items that have not started.
#[test]
fn dropping_map_results_cancels_the_rest() {
    let executor = ThreadPoolExecutor::new(1);
    let gate = Gate::default();
    let task_gate = gate.clone();
    let runs = Arc::new(AtomicUsize::new(0));
    let task_runs = Arc::clone(&runs);
    let results = executor.map(
        move |_: u8| {
            task_gate.wait();
            task_runs.fetch_add(1, Ordering::SeqCst);
        },
        vec![0; 5],
    );
    drop(results);
    gate.open();
    drop(executor);
    // The first item was already running; the other four were cancelled.
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}
