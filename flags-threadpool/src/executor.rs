//! A `ThreadPoolExecutor` in the shape of Python's `concurrent.futures`,
//! written with the standard library only: threads, a `Mutex` and a
//! `Condvar` for the pool's queue, another pair in each future, and an
//! `mpsc` channel for [`as_completed`].
//!
//! The parts, and their Python names:
//!
//! - [`ThreadPoolExecutor`]: a work queue and up to `max_workers` worker
//!   threads that take work items from it. Workers start lazily, one per
//!   [`submit`](ThreadPoolExecutor::submit) that finds no idle worker, as
//!   Python's `_adjust_thread_count` does.
//! - [`Future`]: the handle [`submit`](ThreadPoolExecutor::submit) returns:
//!   pending, then running, then finished (or cancelled while pending).
//!   [`Future::result`] blocks until it is done. A task that panics does not
//!   kill its worker: the panic is caught and comes back as
//!   [`TaskError::Panicked`].
//! - [`as_completed`]: the futures in the order they finish, driven by a
//!   channel that each future's completion sends to (no polling).
//! - [`ThreadPoolExecutor::map`]: every item submitted at once, results in
//!   the order of the items.
//! - [`ThreadPoolExecutor::shutdown`] and `Drop`: dropping the executor
//!   waits for every submitted task, like leaving a `with` block.
//!
//! Compare with rayon (used by `download_many_rayon`): rayon's pool has a
//! fixed number of threads started at once, work stealing instead of one
//! queue, and scopes that let tasks borrow from the caller's stack; this
//! executor, like Python's, needs `'static` tasks that own what they use.

use std::any::Any;
use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

/// Why a [`Future`] has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// The task panicked; the message is the panic's, when it had one. The
    /// worker that ran it caught the panic and goes on with the next task.
    Panicked(String),
    /// The task was cancelled before it started, by [`Future::cancel`] or
    /// by [`ThreadPoolExecutor::shutdown`] with `cancel_futures`, or it was
    /// submitted after the executor was shut down. It never ran.
    Cancelled,
    /// The executor could not start a single worker thread (the system
    /// refused to create one), so nothing could run the task.
    NoWorker(String),
}

impl fmt::Display for TaskError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked(message) => write!(formatter, "the task panicked: {message}"),
            TaskError::Cancelled => write!(formatter, "the task was cancelled"),
            TaskError::NoWorker(reason) => {
                write!(formatter, "no worker thread could be started: {reason}")
            }
        }
    }
}

impl std::error::Error for TaskError {}

/// The text of a caught panic: what `panic!` was given, when it was a
/// string, as it almost always is.
pub fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(message) => (*message).to_string(),
            Err(_) => "a panic without a message".to_string(),
        },
    }
}

/// Lock a mutex even if a thread panicked while holding it. No code of
/// this module panics while holding a lock (tasks and callbacks always run
/// with every lock released), so the data is never half updated.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------
// Future
// ---------------------------------------------------------------------------

/// The four states of a [`Future`], as Python names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    Finished,
    Cancelled,
}

/// A callback registered with [`Future::add_done_callback`].
type DoneCallback<T> = Box<dyn FnOnce(&Future<T>) + Send>;

/// What a future's mutex guards.
struct Slot<T> {
    state: State,
    /// The task's value or its panic, once finished; `None` before, and
    /// after [`MapResults`] has moved the value out.
    result: Option<Result<T, TaskError>>,
    /// Called once, by whichever thread finishes or cancels the future.
    callbacks: Vec<DoneCallback<T>>,
}

/// The shared part of a future: one per task, behind an `Arc` that the
/// caller's handles and the worker's work item all point to.
struct Inner<T> {
    slot: Mutex<Slot<T>>,
    /// Signalled once, when the future becomes finished or cancelled:
    /// [`Future::result`] waits on it.
    done: Condvar,
}

/// The result of a task that may not have finished yet: Python's
/// `concurrent.futures.Future`, **not** [`std::future::Future`].
///
/// A `Future` here is a handle to a slot that a worker thread fills in. It
/// is not polled and needs no runtime: [`result`](Future::result) simply
/// blocks the calling thread until the worker is done. (Rust's
/// `std::future::Future` is the other kind, the one `async` code awaits;
/// `flags-async` shows that one.)
///
/// Cloning is cheap (an `Arc`); every clone is the same future, and
/// equality and hashing are by identity, as in Python, so a future can key
/// a map (the book's `to_do_map`).
///
/// `{:?}` shows the state as Python's `repr` does:
/// `<Future state=pending>`, `running`, `finished` or `cancelled`.
pub struct Future<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> PartialEq for Future<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl<T> Eq for Future<T> {}

impl<T> Hash for Future<T> {
    fn hash<H: Hasher>(&self, hasher: &mut H) {
        Arc::as_ptr(&self.inner).hash(hasher);
    }
}

impl<T> fmt::Debug for Future<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match lock(&self.inner.slot).state {
            State::Pending => "pending",
            State::Running => "running",
            State::Finished => "finished",
            State::Cancelled => "cancelled",
        };
        write!(formatter, "<Future state={state}>")
    }
}

impl<T> Future<T> {
    /// A new future, pending.
    fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                slot: Mutex::new(Slot {
                    state: State::Pending,
                    result: None,
                    callbacks: Vec::new(),
                }),
                done: Condvar::new(),
            }),
        }
    }

    /// Whether the task has finished (with a value or a panic) or was
    /// cancelled: [`result`](Future::result) will not block.
    pub fn done(&self) -> bool {
        matches!(
            lock(&self.inner.slot).state,
            State::Finished | State::Cancelled
        )
    }

    /// Whether a worker has taken the task and it has not finished yet: it
    /// can no longer be cancelled.
    pub fn running(&self) -> bool {
        lock(&self.inner.slot).state == State::Running
    }

    /// Whether the future was cancelled.
    pub fn cancelled(&self) -> bool {
        lock(&self.inner.slot).state == State::Cancelled
    }

    /// Cancel the task if no worker has taken it yet, and say whether the
    /// future is now cancelled. A running or finished task cannot be
    /// cancelled: `false`. Cancelling twice is `true` twice.
    pub fn cancel(&self) -> bool {
        self.cancel_unless(&[State::Running, State::Finished])
    }

    /// Cancel the future unless it has finished, even if a worker claimed
    /// it: what a task that will never run does to its future.
    fn abandon(&self) -> bool {
        self.cancel_unless(&[State::Finished])
    }

    /// Cancel the future unless its state is one of `final_states`; say
    /// whether it is cancelled now. One lock for the check and the change,
    /// so a worker cannot claim the task in between.
    fn cancel_unless(&self, final_states: &[State]) -> bool {
        let callbacks = {
            let mut slot = lock(&self.inner.slot);
            if slot.state == State::Cancelled {
                return true;
            }
            if final_states.contains(&slot.state) {
                return false;
            }
            slot.state = State::Cancelled;
            std::mem::take(&mut slot.callbacks)
        };
        // Wake every thread blocked in `result()`: the answer is
        // `TaskError::Cancelled`.
        self.inner.done.notify_all();
        self.run_callbacks(callbacks);
        true
    }

    /// Call `callback` with this future once it is done (finished or
    /// cancelled), on the thread that finishes it; at once, on this thread,
    /// if it is already done.
    ///
    /// A callback that panics is ignored (after the panic message is
    /// printed): it cannot break the worker that calls it.
    pub fn add_done_callback(&self, callback: impl FnOnce(&Future<T>) + Send + 'static) {
        {
            // Check and push under one lock, so that the future cannot
            // finish in between and never call this callback.
            let mut slot = lock(&self.inner.slot);
            if matches!(slot.state, State::Pending | State::Running) {
                slot.callbacks.push(Box::new(callback));
                return;
            }
        }
        // Already done: call it now, with the lock released, so that the
        // callback may use this future.
        self.run_callbacks(vec![Box::new(callback)]);
    }

    /// Block until the future is done, and return the state it ended in.
    fn wait(&self) -> MutexGuard<'_, Slot<T>> {
        let mut slot = lock(&self.inner.slot);
        while matches!(slot.state, State::Pending | State::Running) {
            // Waiting on a condition variable releases the lock while
            // asleep; the loop guards against spurious wake-ups.
            slot = self
                .inner
                .done
                .wait(slot)
                .unwrap_or_else(PoisonError::into_inner);
        }
        slot
    }

    /// Take the value out of a done future, leaving nothing behind: what
    /// [`MapResults`] does, since it holds the only handle that reads.
    fn take_result(&self) -> Result<T, TaskError> {
        let mut slot = self.wait();
        match slot.state {
            State::Cancelled => Err(TaskError::Cancelled),
            // A finished future always holds a result until it is taken,
            // and only `MapResults`, which owns its futures, ever takes
            // one, once; an empty slot here would be a bug of this module,
            // reported as a cancellation rather than a panic.
            _ => slot.result.take().unwrap_or(Err(TaskError::Cancelled)),
        }
    }

    /// Claim the task for a worker: pending becomes running. Returns
    /// `false` when it was cancelled (the worker then skips it). Claiming a
    /// running or finished future changes nothing and returns `true`.
    fn claim(&self) -> bool {
        // Check and change under one lock, so that `cancel` cannot slip in
        // between and cancel a task that is about to run.
        let mut slot = lock(&self.inner.slot);
        if slot.state == State::Pending {
            slot.state = State::Running;
        }
        slot.state != State::Cancelled
    }

    /// Store the task's outcome, wake the waiters, run the callbacks.
    fn finish(&self, result: Result<T, TaskError>) {
        let callbacks = {
            // Store under the lock: a waiter sees either no result or the
            // whole of it. The callbacks are taken out and run after it is
            // released, so that they may use this future.
            let mut slot = lock(&self.inner.slot);
            if slot.state == State::Cancelled {
                return;
            }
            slot.state = State::Finished;
            slot.result = Some(result);
            std::mem::take(&mut slot.callbacks)
        };
        // Wake every thread blocked in `result()` or `MapResults::next()`.
        self.inner.done.notify_all();
        self.run_callbacks(callbacks);
    }

    fn run_callbacks(&self, callbacks: Vec<DoneCallback<T>>) {
        for callback in callbacks {
            // A panicking callback must not take the worker down with it.
            let _ = catch_unwind(AssertUnwindSafe(|| callback(self)));
        }
    }
}

impl<T: Clone> Future<T> {
    /// Block until the task is done, then return a copy of its value, or
    /// why there is none: [`TaskError::Panicked`] with the panic's message,
    /// [`TaskError::Cancelled`] if it never ran.
    ///
    /// Like Python's `future.result()`, it can be called any number of
    /// times, from any thread, through any clone; hence `T: Clone`.
    pub fn result(&self) -> Result<T, TaskError> {
        let slot = self.wait();
        match (&slot.state, &slot.result) {
            (State::Finished, Some(result)) => result.clone(),
            // Cancelled; or finished but taken, which only `MapResults`
            // does, with futures nobody else can see.
            _ => Err(TaskError::Cancelled),
        }
    }
}

// ---------------------------------------------------------------------------
// Work items
// ---------------------------------------------------------------------------

/// One submitted call: the function and the future it fills in. Python's
/// `_WorkItem`.
///
/// The queue holds them as `Box<dyn Work>` so that tasks of every result
/// type share one queue.
trait Work: Send {
    /// Run the task on this (worker) thread, unless it was cancelled.
    fn run(self: Box<Self>);
    /// Finish the future with `error` without running the task.
    fn fail(self: Box<Self>, error: TaskError);
    /// The future, pending, becomes running: it was handed to a worker.
    fn claim(&self);
}

struct WorkItem<T, F> {
    future: Future<T>,
    /// `None` once taken to be run.
    function: Option<F>,
}

impl<T, F> Work for WorkItem<T, F>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    fn run(mut self: Box<Self>) {
        // Python's `set_running_or_notify_cancel`: from here on the task
        // cannot be cancelled; if it already was, skip it.
        if !self.future.claim() {
            return;
        }
        let Some(function) = self.function.take() else {
            return;
        };
        // The whole trick of a panic-proof pool: the panic unwinds to here,
        // becomes an error in the future, and the worker goes on.
        let result = catch_unwind(AssertUnwindSafe(function))
            .map_err(|payload| TaskError::Panicked(panic_message(payload)));
        self.future.finish(result);
    }

    fn fail(self: Box<Self>, error: TaskError) {
        self.future.finish(Err(error));
    }

    fn claim(&self) {
        self.future.claim();
    }
}

impl<T, F> Drop for WorkItem<T, F> {
    /// A work item dropped without running (taken off the queue by
    /// `shutdown(cancel_futures)`, or submitted after shutdown) cancels its
    /// future, even one already handed to a worker, so that nobody waits
    /// for it forever. After a run, the function is gone and the future
    /// finished: nothing to do.
    fn drop(&mut self) {
        if self.function.is_some() {
            self.future.abandon();
        }
    }
}

// ---------------------------------------------------------------------------
// The executor
// ---------------------------------------------------------------------------

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
/// task, runs it, and fills in its [`Future`].
///
/// Dropping the executor is leaving Python's `with` block: it calls
/// [`shutdown(true, false)`](Self::shutdown), which waits until every
/// submitted task has run and every worker thread has been joined, so no
/// thread outlives it.
///
/// ```
/// use flags_threadpool::executor::{ThreadPoolExecutor, as_completed};
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
    /// [`Future`] at once.
    ///
    /// If a worker is idle, the task is queued for it. Otherwise, if fewer
    /// than `max_workers` threads exist, a new worker is started and the
    /// task is handed to it directly, so the future is already running
    /// when `submit` returns. Otherwise the task waits in the queue for
    /// the first worker that is free.
    ///
    /// After [`shutdown`](Self::shutdown), the function is not run: the
    /// future comes back cancelled (Python raises `RuntimeError` there).
    pub fn submit<T, F>(&self, function: F) -> Future<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let future = Future::new();
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

    /// Run `function` on every item, all submitted at once, and return an
    /// iterator over the results in the order of the items (Python's
    /// `executor.map`).
    ///
    /// It returns at once; each `next()` blocks until that item's result
    /// is ready, so one slow early item holds back the ones after it even
    /// if they are done (use [`as_completed`] to get them as they finish).
    /// Dropping the iterator early cancels the items not started yet.
    pub fn map<I, F, U>(&self, function: F, items: I) -> MapResults<U>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> U + Send + Sync + 'static,
        U: Send + 'static,
    {
        // One copy of the function, shared by every task.
        let function = Arc::new(function);
        let futures = items
            .into_iter()
            .map(|item| {
                let function = Arc::clone(&function);
                self.submit(move || function(item))
            })
            .collect();
        MapResults { futures }
    }

    /// Stop accepting work, as Python's `executor.shutdown`.
    ///
    /// With `cancel_futures`, every task still in the queue is cancelled
    /// (running tasks cannot be). With `wait`, block until the queue is
    /// empty and every worker thread has exited and been joined; without
    /// it, return at once and let the workers finish on their own (the
    /// executor's `Drop` still waits for them). Calling it again is
    /// harmless.
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
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

impl Drop for ThreadPoolExecutor {
    /// Leaving the `with` block: run everything submitted, then join every
    /// worker.
    fn drop(&mut self) {
        self.shutdown(true, false);
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

// ---------------------------------------------------------------------------
// as_completed and map's iterator
// ---------------------------------------------------------------------------

/// The futures given, each once, in the order they finish (or are
/// cancelled): Python's `concurrent.futures.as_completed`.
///
/// Each future gets a done callback that sends it down one channel; the
/// iterator receives from that channel, so it sleeps until the next future
/// is done, whichever it is. Futures already done come first. A future
/// given twice is yielded once.
pub fn as_completed<T, I>(futures: I) -> AsCompleted<T>
where
    T: Send + 'static,
    I: IntoIterator<Item = Future<T>>,
{
    let (sender, receiver) = mpsc::channel();
    #[allow(
        clippy::mutable_key_type,
        reason = "a future hashes by identity, which its changing state never alters"
    )]
    let mut seen = HashSet::new();
    for future in futures {
        if !seen.insert(future.clone()) {
            continue;
        }
        let sender = sender.clone();
        // Send: when the future is done, its finishing thread (or this
        // one, if it is done already) sends it to the iterator. The send
        // fails only if the iterator was dropped: nobody is listening.
        future.add_done_callback(move |done| {
            let _ = sender.send(done.clone());
        });
    }
    AsCompleted {
        receiver,
        remaining: seen.len(),
    }
}

/// The iterator [`as_completed`] returns.
pub struct AsCompleted<T> {
    /// Fed by the done callbacks, one message per future, in the order
    /// they finish.
    receiver: Receiver<Future<T>>,
    /// Futures not yielded yet.
    remaining: usize,
}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("AsCompleted")
            .field("remaining", &self.remaining)
            .finish()
    }
}

impl<T> Iterator for AsCompleted<T> {
    type Item = Future<T>;

    fn next(&mut self) -> Option<Future<T>> {
        if self.remaining == 0 {
            return None;
        }
        // Block until the next future is done. Every future is finished or
        // cancelled eventually (a work item dropped unrun cancels it), so
        // the only error is every sender gone: then nothing more can come.
        let future = self.receiver.recv().ok()?;
        self.remaining -= 1;
        Some(future)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

/// The iterator [`ThreadPoolExecutor::map`] returns: results in the order
/// of the items, each as soon as it and all before it are done.
pub struct MapResults<U> {
    futures: VecDeque<Future<U>>,
}

impl<U> fmt::Debug for MapResults<U> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("MapResults")
            .field("remaining", &self.futures.len())
            .finish()
    }
}

impl<U> Iterator for MapResults<U> {
    type Item = Result<U, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        // Join, in order: block on the oldest item's future only.
        let future = self.futures.pop_front()?;
        Some(future.take_result())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.futures.len(), Some(self.futures.len()))
    }
}

impl<U> ExactSizeIterator for MapResults<U> {}

impl<U> Drop for MapResults<U> {
    /// Nobody will read the rest: cancel what has not started, as
    /// Python's `map` generator does when it is closed.
    fn drop(&mut self) {
        for future in &self.futures {
            future.cancel();
        }
    }
}
