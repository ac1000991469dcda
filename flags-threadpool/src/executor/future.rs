//! [`PoolFuture`]: the result of a task that may not have finished yet,
//! Python's `concurrent.futures.Future`. Its mutex guards the state, the
//! result and the done callbacks; its condition variable wakes whoever
//! waits in [`result`](PoolFuture::result).
//!
//! The pool's side of a future (claim it, finish it, cancel one that will
//! never run) is here too, as `pub(super)` methods that only the pool's
//! work items and [`MapResults`](super::MapResults) call.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use super::{TaskError, lock};

/// The four states of a [`PoolFuture`], as Python names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    Finished,
    Cancelled,
}

/// A callback registered with [`PoolFuture::add_done_callback`].
type DoneCallback<T> = Box<dyn FnOnce(&PoolFuture<T>) + Send>;

/// What a future's mutex guards.
struct Slot<T> {
    state: State,
    /// The task's value or its panic, once finished; `None` before, and
    /// after [`MapResults`](super::MapResults) has moved the value out.
    result: Option<Result<T, TaskError>>,
    /// Called once, by whichever thread finishes or cancels the future.
    callbacks: Vec<DoneCallback<T>>,
}

/// The shared part of a future: one per task, behind an `Arc` that the
/// caller's handles and the worker's work item all point to.
struct Inner<T> {
    slot: Mutex<Slot<T>>,
    /// Signalled once, when the future becomes finished or cancelled:
    /// [`PoolFuture::result`] waits on it.
    done: Condvar,
}

/// The result of a task that may not have finished yet: Python's
/// `concurrent.futures.Future`, **not** [`std::future::Future`].
///
/// Named `PoolFuture` rather than the book's `Future` so that importing it
/// does not shadow the prelude's `std::future::Future`; its `{:?}` still
/// says `Future`, as Python's `repr` does.
///
/// A `PoolFuture` is a handle to a slot that a worker thread fills in. It
/// is not polled and needs no runtime: [`result`](PoolFuture::result) simply
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
pub struct PoolFuture<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for PoolFuture<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> PartialEq for PoolFuture<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl<T> Eq for PoolFuture<T> {}

impl<T> Hash for PoolFuture<T> {
    fn hash<H: Hasher>(&self, hasher: &mut H) {
        Arc::as_ptr(&self.inner).hash(hasher);
    }
}

impl<T> fmt::Debug for PoolFuture<T> {
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

impl<T> PoolFuture<T> {
    /// A new future, pending.
    pub(super) fn new() -> Self {
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
    /// cancelled: [`result`](PoolFuture::result) will not block.
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
    pub(super) fn abandon(&self) -> bool {
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
    pub fn add_done_callback(&self, callback: impl FnOnce(&PoolFuture<T>) + Send + 'static) {
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
    /// [`MapResults`](super::MapResults) does, since it holds the only
    /// handle that reads.
    pub(super) fn take_result(&self) -> Result<T, TaskError> {
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
    pub(super) fn claim(&self) -> bool {
        // Check and change under one lock, so that `cancel` cannot slip in
        // between and cancel a task that is about to run.
        let mut slot = lock(&self.inner.slot);
        if slot.state == State::Pending {
            slot.state = State::Running;
        }
        slot.state != State::Cancelled
    }

    /// Store the task's outcome, wake the waiters, run the callbacks.
    pub(super) fn finish(&self, result: Result<T, TaskError>) {
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

impl<T: Clone> PoolFuture<T> {
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
