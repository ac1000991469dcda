//! The two ways to read many results: [`as_completed`], in the order the
//! tasks finish, and [`ThreadPoolExecutor::map`], in the order of the
//! items; with their iterators, [`AsCompleted`] and [`MapResults`].

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};

use super::{PoolFuture, TaskError, ThreadPoolExecutor};

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
    I: IntoIterator<Item = PoolFuture<T>>,
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
    receiver: Receiver<PoolFuture<T>>,
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
    type Item = PoolFuture<T>;

    fn next(&mut self) -> Option<PoolFuture<T>> {
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

impl ThreadPoolExecutor {
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
}

/// The iterator [`ThreadPoolExecutor::map`] returns: results in the order
/// of the items, each as soon as it and all before it are done.
pub struct MapResults<U> {
    futures: VecDeque<PoolFuture<U>>,
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
