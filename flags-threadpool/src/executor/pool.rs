//! The pool: [`ThreadPoolExecutor`], its worker threads, and the one queue
//! of work items (`work.rs`) they take from: Python's `_worker` and
//! `_adjust_thread_count`, in `concurrent/futures/thread.py`.
//!
//! One mutex guards the queue and the workers' census; one condition
//! variable wakes idle workers when work comes or the pool shuts down.
//! Tasks and callbacks always run with that lock released.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use super::work::{Work, WorkItem};
use super::{PoolFuture, TaskError, lock};

/// What the executor's mutex guards: the queue and the workers' census.
struct PoolState {
    /// Work waiting for a worker, oldest first.
    queue: VecDeque<Box<dyn Work>>,
    /// Workers blocked waiting for work: a task submitted while one is
    /// idle goes to the queue for it instead of starting a new thread.
    idle_workers: usize,
    /// Every worker started so far, to be joined on shutdown.
    workers: Vec<JoinHandle<()>>,
    /// Set once by `shutdown`: no new work is accepted, and idle workers
    /// exit when the queue is empty.
    shutdown: bool,
    /// Why the last worker thread could not be started, if one could not.
    start_error: Option<String>,
}

/// What the executor and its workers share.
struct Shared {
    state: Mutex<PoolState>,
    /// Signalled when work is queued or on shutdown: idle workers wait on
    /// it.
    work_available: Condvar,
}

/// A pool of at most `max_workers` threads running submitted functions:
/// Python's `concurrent.futures.ThreadPoolExecutor`.
///
/// One queue feeds every worker. A [`submit`](Self::submit) starts a new
/// worker thread only when no worker is idle and fewer than `max_workers`
/// exist, so a pool of 1000 that is given 20 tasks starts about 20 threads.
/// Workers live until the executor is shut down; each takes the oldest
/// task, runs it, and fills in its [`PoolFuture`].
///
/// Dropping the executor is leaving Python's `with` block: it calls
/// [`shutdown(Shutdown::default())`](Self::shutdown), which waits until every
/// submitted task has run and every worker thread has been joined, so no
/// thread outlives it.
///
/// ```
/// use flags_threadpool::executor::{Shutdown, ThreadPoolExecutor, as_completed};
///
/// let executor = ThreadPoolExecutor::new(3);
/// // `submit` returns a future at once; `result()` waits for the value.
/// let futures: Vec<_> = (1..=5).map(|n| executor.submit(move || n * 10)).collect();
/// // `as_completed`: in the order they finish, which may be any order.
/// let mut finished: Vec<i32> = as_completed(futures).map(|f| f.result().unwrap()).collect();
/// finished.sort();
/// assert_eq!(finished, [10, 20, 30, 40, 50]);
/// // `map`: in the order of the items.
/// let mapped: Result<Vec<i32>, _> = executor.map(|n: i32| n + 1, vec![1, 2, 3]).collect();
/// assert_eq!(mapped.unwrap(), [2, 3, 4]);
/// // A panic is an error value, and the pool goes on.
/// let panicked = executor.submit(|| -> i32 { panic!("boom") });
/// assert!(panicked.result().is_err());
/// assert_eq!(executor.submit(|| 7).result(), Ok(7));
/// // Python's `executor.shutdown(wait=False, cancel_futures=True)`: the
/// // keyword arguments are the fields of `Shutdown`.
/// executor.shutdown(Shutdown { wait: false, cancel_futures: true });
/// assert!(executor.submit(|| 8).cancelled());
/// ```
pub struct ThreadPoolExecutor {
    max_workers: usize,
    /// The stack size of each worker thread, when not Rust's default.
    stack_size: Option<usize>,
    /// The queue and the workers' census, behind one mutex; the workers
    /// hold clones of this `Arc`.
    shared: Arc<Shared>,
}

impl fmt::Debug for ThreadPoolExecutor {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.shared.state);
        formatter
            .debug_struct("ThreadPoolExecutor")
            .field("max_workers", &self.max_workers)
            .field("workers", &state.workers.len())
            .field("idle_workers", &state.idle_workers)
            .field("queued", &state.queue.len())
            .field("shutdown", &state.shutdown)
            .finish()
    }
}

impl ThreadPoolExecutor {
    /// An executor that will run at most `max_workers` tasks at once (0 is
    /// taken as 1). No thread is started until the first
    /// [`submit`](Self::submit).
    pub fn new(max_workers: usize) -> Self {
        Self {
            max_workers: max_workers.max(1),
            stack_size: None,
            shared: Arc::new(Shared {
                state: Mutex::new(PoolState {
                    queue: VecDeque::new(),
                    idle_workers: 0,
                    workers: Vec::new(),
                    shutdown: false,
                    start_error: None,
                }),
                work_available: Condvar::new(),
            }),
        }
    }

    /// Give each worker thread a stack of `bytes` instead of Rust's 2 MiB
    /// default (Python's `threading.stack_size`). The stack is address
    /// space, not memory: only the pages a thread touches are resident. A
    /// smaller one lets more threads fit under `ulimit -v`.
    pub fn with_stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// The most worker threads this executor starts.
    pub fn max_workers(&self) -> usize {
        self.max_workers
    }

    /// How many worker threads have been started so far.
    pub fn worker_count(&self) -> usize {
        lock(&self.shared.state).workers.len()
    }

    /// Why a worker thread could not be started, when one could not (the
    /// system refused a new thread): the pool went on with the workers it
    /// had, which [`worker_count`](Self::worker_count) tells.
    pub fn start_error(&self) -> Option<String> {
        lock(&self.shared.state).start_error.clone()
    }

    /// Schedule `function` to run on a worker thread and return its
    /// [`PoolFuture`] at once.
    ///
    /// If a worker is idle, the task is queued for it. Otherwise, if fewer
    /// than `max_workers` threads exist, a new worker is started and the
    /// task is handed to it directly, so the future is already running
    /// when `submit` returns. Otherwise the task waits in the queue for
    /// the first worker that is free.
    ///
    /// After [`shutdown`](Self::shutdown), the function is not run: the
    /// future comes back cancelled (Python raises `RuntimeError` there).
    pub fn submit<T, F>(&self, function: F) -> PoolFuture<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let future = PoolFuture::new();
        let work: Box<dyn Work> = Box::new(WorkItem {
            future: future.clone(),
            function: Some(function),
        });
        // One lock for the whole decision (shut down? an idle worker? room
        // for another?), so that two submits cannot count on the same idle
        // worker.
        let mut state = lock(&self.shared.state);
        if state.shutdown {
            // Dropping the work item cancels its future. Nobody else holds
            // the future yet, so no callback runs under this lock.
            drop(work);
            return future;
        }
        if state.idle_workers > state.queue.len() {
            // An idle worker is waiting: queue the task and wake one.
            state.queue.push_back(work);
            self.shared.work_available.notify_one();
        } else if state.workers.len() < self.max_workers {
            // Python's `_adjust_thread_count`: no idle worker, room for
            // another, so start one, with this task as its first.
            if let Err((work, error)) = self.start_worker(&mut state, work) {
                state.start_error = Some(error.to_string());
                if state.workers.is_empty() {
                    // Nothing will ever take it from the queue.
                    drop(state);
                    work.fail(TaskError::NoWorker(error.to_string()));
                } else {
                    // The workers we have will get to it.
                    state.queue.push_back(work);
                    self.shared.work_available.notify_one();
                }
            }
        } else {
            // Every worker is busy and the pool is full: the task waits in
            // the queue; the first worker to finish its task takes it.
            state.queue.push_back(work);
        }
        future
    }

    /// Start one worker thread with `first` as its first task. On failure,
    /// the task comes back with the error, untouched.
    fn start_worker(
        &self,
        state: &mut PoolState,
        first: Box<dyn Work>,
    ) -> Result<(), (Box<dyn Work>, std::io::Error)> {
        // The task is handed to a thread of its own: from now on it cannot
        // be cancelled, so it is running, as far as anyone can see, by the
        // time `submit` returns. (If the thread cannot be made, the task is
        // queued or failed by `submit`, and runs or finishes all the same.)
        first.claim();
        // The task travels to the new thread through this slot, so that it
        // can be taken back if the thread cannot be created.
        let handoff = Arc::new(Mutex::new(Some(first)));
        let handoff_for_worker = Arc::clone(&handoff);
        let shared = Arc::clone(&self.shared);
        let name = format!("pool-worker-{}", state.workers.len());
        // Spawn: the worker runs its first task, then serves the queue
        // until shutdown. It owns a clone of `shared`; the `JoinHandle`
        // stays with the executor, which joins it on shutdown.
        let mut builder = thread::Builder::new().name(name);
        if let Some(bytes) = self.stack_size {
            builder = builder.stack_size(bytes);
        }
        let spawned = builder.spawn(move || {
            let first = lock(&handoff_for_worker).take();
            worker_loop(&shared, first);
        });
        match spawned {
            Ok(handle) => {
                state.workers.push(handle);
                Ok(())
            }
            Err(error) => match lock(&handoff).take() {
                Some(work) => Err((work, error)),
                // The closure was dropped unrun with its clone of the slot,
                // so the task is still here; if it were not, there would
                // be nothing left to report it on.
                None => Ok(()),
            },
        }
    }

    /// Stop accepting work, as Python's `executor.shutdown`, whose keyword
    /// arguments are the fields of [`Shutdown`]:
    /// `executor.shutdown(Shutdown { wait: false, cancel_futures: true })`.
    ///
    /// With `cancel_futures`, every task still in the queue is cancelled
    /// (running tasks cannot be). With `wait`, block until the queue is
    /// empty and every worker thread has exited and been joined; without
    /// it, return at once and let the workers finish on their own (the
    /// executor's `Drop` still waits for them). Calling it again is
    /// harmless.
    pub fn shutdown(&self, options: Shutdown) {
        let Shutdown {
            wait,
            cancel_futures,
        } = options;
        let (cancelled, workers) = {
            // Under the pool's lock: set the flag, and take the queued work
            // and the join handles out, to deal with once it is released.
            let mut state = lock(&self.shared.state);
            state.shutdown = true;
            let cancelled: Vec<Box<dyn Work>> = if cancel_futures {
                state.queue.drain(..).collect()
            } else {
                Vec::new()
            };
            let workers = if wait {
                std::mem::take(&mut state.workers)
            } else {
                Vec::new()
            };
            (cancelled, workers)
        };
        // Wake every idle worker: each finds the queue empty and the pool
        // shut down, and exits.
        self.shared.work_available.notify_all();
        // Dropping the queued work items cancels their futures, outside
        // the lock (their callbacks may run here).
        drop(cancelled);
        let current = thread::current().id();
        for worker in workers {
            // Join: wait for the worker to run out of work and exit. A task
            // that shuts down its own pool must not wait for itself.
            if worker.thread().id() != current {
                // `join` fails only if the worker thread itself panicked,
                // and a worker catches every panic of its tasks and
                // callbacks, so the error is ignored: it cannot happen.
                let _ = worker.join();
            }
        }
    }
}

/// How [`ThreadPoolExecutor::shutdown`] stops the pool: Python's keyword
/// arguments, `shutdown(wait=True, cancel_futures=False)`, named at the
/// call site and with the same defaults.
///
/// `executor.shutdown(Shutdown { wait: false, cancel_futures: true })` is
/// Python's `executor.shutdown(wait=False, cancel_futures=True)`, and
/// `executor.shutdown(Shutdown::default())` is `executor.shutdown()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shutdown {
    /// Block until the queue is empty and every worker thread has exited
    /// and been joined. Python's default: `true`.
    pub wait: bool,
    /// Cancel every task still waiting in the queue (running tasks cannot
    /// be). Python's default: `false`.
    pub cancel_futures: bool,
}

impl Default for Shutdown {
    /// Python's defaults, `wait=True, cancel_futures=False`: what leaving a
    /// `with` block does.
    fn default() -> Self {
        Self {
            wait: true,
            cancel_futures: false,
        }
    }
}

impl Drop for ThreadPoolExecutor {
    /// Leaving the `with` block: run everything submitted, then join every
    /// worker.
    fn drop(&mut self) {
        self.shutdown(Shutdown::default());
    }
}

/// The life of a worker thread: run the first task, then take the oldest
/// task from the queue, run it, and again, until the pool is shut down and
/// the queue is empty. Python's `_worker`.
fn worker_loop(shared: &Shared, first: Option<Box<dyn Work>>) {
    if let Some(work) = first {
        work.run();
    }
    loop {
        let work = {
            // Lock the pool to take a task (or to learn there is none); the
            // lock is released at the end of this block, before the task
            // runs.
            let mut state = lock(&shared.state);
            loop {
                if let Some(work) = state.queue.pop_front() {
                    break Some(work);
                }
                if state.shutdown {
                    break None;
                }
                // Idle: count ourselves, so that `submit` queues work for
                // us instead of starting a thread, and sleep until work
                // comes or the pool shuts down.
                state.idle_workers += 1;
                state = shared
                    .work_available
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                state.idle_workers -= 1;
            }
        };
        match work {
            // Run the task with the lock released, so that the other
            // workers and `submit` carry on meanwhile.
            Some(work) => work.run(),
            None => return,
        }
    }
}
