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
//! - [`PoolFuture`]: Python's `concurrent.futures.Future`, the handle
//!   [`submit`](ThreadPoolExecutor::submit) returns: pending, then running,
//!   then finished (or cancelled while pending). [`PoolFuture::result`]
//!   blocks until it is done. A task that panics does not kill its worker:
//!   the panic is caught and comes back as [`TaskError::Panicked`]. (Named
//!   `PoolFuture`, not `Future`, so that it does not shadow the prelude's
//!   [`std::future::Future`], which is another thing: see its docs.)
//! - [`as_completed`]: the futures in the order they finish, driven by a
//!   channel that each future's completion sends to (no polling).
//! - [`ThreadPoolExecutor::map`]: every item submitted at once, results in
//!   the order of the items.
//! - [`ThreadPoolExecutor::shutdown`], with Python's keyword arguments as
//!   the fields of [`Shutdown`]: `shutdown(Shutdown { wait: false,
//!   cancel_futures: true })`. And `Drop`: dropping the executor waits for
//!   every submitted task, like leaving a `with` block.
//!
//! Compare with rayon (`rayon_pool`, `--executor rayon`): rayon's pool has a
//! fixed number of threads started at once, work stealing instead of one
//! queue, and scopes that let tasks borrow from the caller's stack; this
//! executor, like Python's, needs `'static` tasks that own what they use.
//!
//! One concern per file, each short enough to read in one sitting:
//!
//! - `executor/future.rs`: [`PoolFuture`], its states and its done
//!   callbacks.
//! - `executor/pool.rs`: [`ThreadPoolExecutor`], its workers, the queue
//!   they share, and [`Shutdown`].
//! - `executor/work.rs`: a work item, one submitted call and the future
//!   it fills in, as the queue holds it.
//! - `executor/iter.rs`: [`as_completed`] and [`ThreadPoolExecutor::map`],
//!   with their iterators [`AsCompleted`] and [`MapResults`].
//! - this file: what they share, [`TaskError`] and the lock helper.

mod future;
mod iter;
mod pool;
mod work;

use std::any::Any;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

pub use future::PoolFuture;
pub use iter::{AsCompleted, MapResults, as_completed};
pub use pool::{Shutdown, ThreadPoolExecutor};

/// Why a [`PoolFuture`] has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// The task panicked; the message is the panic's, when it had one. The
    /// worker that ran it caught the panic and goes on with the next task.
    Panicked(String),
    /// The task was cancelled before it started, by [`PoolFuture::cancel`]
    /// or by [`ThreadPoolExecutor::shutdown`] with `cancel_futures`, or it
    /// was submitted after the executor was shut down. It never ran.
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
/// this module or its submodules panics while holding a lock (tasks and
/// callbacks always run with every lock released), so the data is never
/// half updated.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
