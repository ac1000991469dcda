//! Work items: one submitted call and the future it fills in, Python's
//! `_WorkItem`. The pool's queue holds them as `Box<dyn Work>`, so that
//! tasks of every result type share one queue.
//!
//! Running one is where a panic stops: it is caught here and becomes the
//! future's [`TaskError::Panicked`]. Dropping one unrun cancels its future.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{PoolFuture, TaskError, panic_message};

/// One submitted call: the function and the future it fills in. Python's
/// `_WorkItem`.
///
/// The queue holds them as `Box<dyn Work>` so that tasks of every result
/// type share one queue.
pub(super) trait Work: Send {
    /// Run the task on this (worker) thread, unless it was cancelled.
    fn run(self: Box<Self>);
    /// Finish the future with `error` without running the task.
    fn fail(self: Box<Self>, error: TaskError);
    /// The future, pending, becomes running: it was handed to a worker.
    fn claim(&self);
}

pub(super) struct WorkItem<T, F> {
    pub(super) future: PoolFuture<T>,
    /// `None` once taken to be run.
    pub(super) function: Option<F>,
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
