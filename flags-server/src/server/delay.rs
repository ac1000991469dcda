//! The delay timer: wakes each delayed request at its deadline, never
//! before and at most [`BATCH_WINDOW`] after, without any request spinning
//! and without a thread of its own.
//!
//! Why not `tokio::time::sleep`? tokio's timer counts in whole milliseconds
//! and rounds every deadline up, so `sleep(100 ms)` answers 1 to 2 ms late:
//! 2% of every request of a 0.1 s delay, which every model's ratio to the
//! bound would show.
//!
//! Each server has one [`DelayTimer`]: a sorted map of the pending
//! deadlines, each with the [`Waker`] of the request waiting for it, and one
//! kernel timer (a Linux `timerfd`) set to the earliest of them. The
//! timer's descriptor sits in the runtime's `epoll` set like a socket, so
//! an idle worker sleeps in `epoll_wait` and the kernel wakes it at the
//! deadline. One task, the timer task ([`DelayTimer::run`]), waits for the
//! descriptor, wakes every request whose deadline has passed, and sets the
//! kernel timer to the next deadline, at least [`BATCH_WINDOW`] later.
//! A woken request checks the clock itself, so it is never answered early,
//! whatever wakes it.
//!
//! The timer task also watches the server's shutdown channel, once for all
//! the waiting requests: at shutdown it wakes them all, and each wait ends
//! with [`ShuttingDown`].
//!
//! Where there is no `timerfd` (other systems), or the runtime cannot watch
//! it, a wait falls back on tokio's timer, late by a millisecond or two.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::shutdown::stopped;

/// After a pass of the timer task, the next one comes at least this much
/// later: requests due within a quarter of a millisecond of each other are
/// answered by one pass, at most this late, so that hundreds in flight do
/// not cost a wake-up of the server and of the client each. A lone request
/// is woken at its deadline.
const BATCH_WINDOW: Duration = Duration::from_micros(250);

/// The delay timer of one server (see the module's documentation).
pub(crate) struct DelayTimer {
    /// `None` where no kernel timer could be made: every wait then falls
    /// back on tokio's timer.
    shared: Option<Arc<TimerShared>>,
    /// The server's shutdown channel: the timer task watches it for every
    /// waiting request; a wait without the task watches it itself.
    shutdown: watch::Receiver<bool>,
}

/// Why a wait ended before its deadline: the server is shutting down, and
/// nobody is left to wait for the answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ShuttingDown;

/// What the waits and the timer task share.
struct TimerShared {
    pending: Mutex<Pending>,
    /// The kernel timer, set to the earliest pending deadline.
    alarm: alarm::Alarm,
    /// True once the timer task runs (and still true once it has stopped:
    /// `closed` then ends every wait); false before it starts, and for
    /// good if it cannot watch the alarm. Waits register only while it is
    /// true; otherwise they fall back on tokio's timer.
    running: AtomicBool,
}

/// The pending deadlines, sorted by instant, then by a number that tells
/// apart requests due at the same instant.
#[derive(Default)]
struct Pending {
    wakers: BTreeMap<(Instant, u64), Waker>,
    next_key: u64,
    /// What the alarm is set for, if it is set: a new deadline earlier than
    /// this one sets it again.
    armed: Option<Instant>,
    /// Set by the timer task when it stops (at shutdown): every wait ends
    /// at once with [`ShuttingDown`].
    closed: bool,
}

impl DelayTimer {
    /// A timer whose kernel timer is made now; its task must then be run by
    /// [`DelayTimer::run`] on the server's runtime. `shutdown` is the
    /// server's shutdown channel.
    pub(crate) fn new(shutdown: watch::Receiver<bool>) -> DelayTimer {
        let shared = alarm::Alarm::new().ok().map(|alarm| {
            Arc::new(TimerShared {
                pending: Mutex::new(Pending::default()),
                alarm,
                running: AtomicBool::new(false),
            })
        });
        DelayTimer { shared, shutdown }
    }

    /// Waits until `deadline`, never returning before it; or, if the
    /// server shuts down first, returns [`ShuttingDown`] then.
    pub(crate) async fn sleep_until(&self, deadline: Instant) -> Result<(), ShuttingDown> {
        match &self.shared {
            Some(shared) if shared.running.load(Ordering::Acquire) => {
                TimerWait {
                    shared,
                    deadline,
                    key: None,
                }
                .await
            }
            _ => {
                // No timer task: this wait watches the shutdown itself.
                let mut shutdown = self.shutdown.clone();
                tokio::select! {
                    // tokio's timer is late, never early.
                    () = tokio::time::sleep_until(deadline.into()) => Ok(()),
                    () = stopped(&mut shutdown) => Err(ShuttingDown),
                }
            }
        }
    }

    /// The timer task: runs until the server shuts down (or the runtime
    /// drops it), waking the requests that are due each time the kernel
    /// timer fires. Returns at once (and every wait falls back on tokio's
    /// timer) if there
    /// is no kernel timer or the runtime cannot watch it. Must be spawned
    /// on the server's runtime before the first request.
    pub(crate) fn run(&self) -> impl Future<Output = ()> + Send + 'static {
        let shared = self.shared.clone();
        let mut shutdown = self.shutdown.clone();
        async move {
            let Some(shared) = shared else { return };
            let Ok(watched) = shared.alarm.watch() else {
                return;
            };
            // From here on waits register; when this task ends (at
            // shutdown, or dropped with the runtime), the guard ends them.
            let _stopped = StopGuard(Arc::clone(&shared));
            shared.running.store(true, Ordering::Release);
            // One watch of the shutdown for the whole life of the task, not
            // a new one per pass: pinned here, polled by each `select!`.
            let shutdown = stopped(&mut shutdown);
            let mut shutdown = std::pin::pin!(shutdown);
            let mut due = Vec::new();
            loop {
                tokio::select! {
                    // `biased`: a shutdown wins over a pass that fired at
                    // the same moment (the requests are abandoned anyway).
                    biased;
                    () = &mut shutdown => break,
                    fired = watched.fired() => if fired.is_err() { break },
                }
                let mut pending = shared.lock();
                pending.armed = None;
                let now = Instant::now();
                while let Some(entry) = pending.wakers.first_entry() {
                    if entry.key().0 > now {
                        break;
                    }
                    due.push(entry.remove());
                }
                if let Some(&(next, _)) = pending.wakers.keys().next() {
                    shared.arm(&mut pending, next.max(now + BATCH_WINDOW));
                }
                drop(pending);
                // Woken from this worker, the requests go to its own queue.
                due.drain(..).for_each(Waker::wake);
            }
        }
    }
}

impl TimerShared {
    /// Locks the deadlines. A panic under the lock cannot leave the map half
    /// changed (each change is one insertion or removal), so a poisoned lock
    /// is taken over.
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the alarm for `at`, under the lock, so that the alarm and
    /// `armed` always agree.
    fn arm(&self, pending: &mut Pending, at: Instant) {
        let at = at.max(Instant::now());
        pending.armed = Some(at);
        self.alarm.set(at.saturating_duration_since(Instant::now()));
    }
}

/// Dropped with the timer task: the timer is closed, and every wait,
/// registered or to come, ends with [`ShuttingDown`]. The task ends only
/// at shutdown, or when the runtime drops it, which also ends the server.
struct StopGuard(Arc<TimerShared>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        let wakers = {
            let mut pending = self.0.lock();
            pending.closed = true;
            std::mem::take(&mut pending.wakers)
        };
        wakers.into_values().for_each(Waker::wake);
    }
}

/// One wait on the timer: registers its deadline and waker when first
/// polled early, and takes them back if dropped first (a request abandoned
/// with its connection).
struct TimerWait<'a> {
    shared: &'a TimerShared,
    deadline: Instant,
    /// The map key of this wait once registered.
    key: Option<(Instant, u64)>,
}

impl Future for TimerWait<'_> {
    type Output = Result<(), ShuttingDown>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        if Instant::now() >= self.deadline {
            // The entry is gone already if the timer task woke us; if
            // something else polled us at the right moment, take it out.
            self.deregister();
            return Poll::Ready(Ok(()));
        }
        let shared = self.shared;
        let mut pending = shared.lock();
        if pending.closed {
            // The timer task stopped (the server is shutting down), and
            // took every entry with it.
            self.key = None;
            return Poll::Ready(Err(ShuttingDown));
        }
        // Polled again before the deadline (by a `select!` around the
        // wait, say): keep the entry, with the latest waker.
        if let Some(waker) = self.key.and_then(|key| pending.wakers.get_mut(&key)) {
            if !waker.will_wake(context.waker()) {
                waker.clone_from(context.waker());
            }
            return Poll::Pending;
        }
        let key = (self.deadline, pending.next_key);
        pending.next_key += 1;
        pending.wakers.insert(key, context.waker().clone());
        if pending.armed.is_none_or(|armed| self.deadline < armed) {
            shared.arm(&mut pending, self.deadline);
        }
        drop(pending);
        self.key = Some(key);
        Poll::Pending
    }
}

impl TimerWait<'_> {
    /// Takes this wait's entry out of the map, if it is still there. The
    /// alarm stays as it is: firing for nobody costs one pass of the task.
    fn deregister(&mut self) {
        if let Some(key) = self.key.take() {
            self.shared.lock().wakers.remove(&key);
        }
    }
}

impl Drop for TimerWait<'_> {
    fn drop(&mut self) {
        self.deregister();
    }
}

/// The kernel timer on Linux: a `timerfd`, which becomes readable when it
/// expires, watched by the runtime's reactor like a socket.
#[cfg(target_os = "linux")]
mod alarm {
    use std::io;
    use std::os::fd::OwnedFd;
    use std::time::Duration;

    use rustix::time::{
        Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
        timerfd_settime,
    };
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    /// A one-shot `timerfd` on the monotonic clock, the clock of
    /// [`std::time::Instant`].
    pub(super) struct Alarm(OwnedFd);

    impl Alarm {
        pub(super) fn new() -> io::Result<Alarm> {
            let flags = TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC;
            Ok(Alarm(timerfd_create(TimerfdClockId::Monotonic, flags)?))
        }

        /// Makes the timer expire `after` from now (a zero `after` would
        /// disarm it, so it is at least a nanosecond).
        pub(super) fn set(&self, after: Duration) {
            let after = after.max(Duration::from_nanos(1));
            let zero = Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // A delay is far below the 292 billion years of an i64.
            let it_value = Timespec::try_from(after).unwrap_or(zero);
            let value = Itimerspec {
                it_interval: zero,
                it_value,
            };
            // Setting an open timerfd to a valid time cannot fail.
            let _ = timerfd_settime(&self.0, TimerfdTimerFlags::empty(), &value);
        }

        /// Registers a duplicate of the timer's descriptor (the same kernel
        /// timer) with the current runtime's reactor; must be called on the
        /// runtime.
        pub(super) fn watch(&self) -> io::Result<Watched> {
            let descriptor = self.0.try_clone()?;
            // SAFETY: the `AsyncFd` owns `descriptor`, an open `OwnedFd`
            // that nothing else can close, and an `OwnedFd` always returns
            // the same raw descriptor, as `register_with_interest` requires.
            let registered =
                unsafe { AsyncFd::register_with_interest(descriptor, Interest::READABLE) };
            Ok(Watched(registered?))
        }
    }

    /// The alarm, registered with the current runtime's reactor.
    pub(super) struct Watched(AsyncFd<OwnedFd>);

    impl Watched {
        /// Waits until the alarm has fired, and resets it. An error means
        /// the reactor is gone.
        pub(super) async fn fired(&self) -> io::Result<()> {
            loop {
                let mut ready = self.0.readable().await?;
                // The read takes the count of expirations, and resets the
                // timer's readiness.
                let mut expirations = [0_u8; 8];
                let read = ready.try_io(|descriptor| {
                    rustix::io::read(descriptor, &mut expirations)?;
                    Ok(())
                });
                match read {
                    Ok(result) => {
                        // Read: the readiness is reset too (a later expiry
                        // sets it again), which saves a read that would
                        // only say so.
                        ready.clear_ready();
                        return result;
                    }
                    // Not fired after all (a stale readiness): wait again.
                    Err(_would_block) => continue,
                }
            }
        }
    }
}

/// Elsewhere there is no `timerfd`: no alarm can be made, so none exists,
/// and every wait falls back on tokio's timer.
#[cfg(not(target_os = "linux"))]
mod alarm {
    use std::io;
    use std::time::Duration;

    pub(super) enum Alarm {}

    impl Alarm {
        pub(super) fn new() -> io::Result<Alarm> {
            Err(io::Error::from(io::ErrorKind::Unsupported))
        }

        pub(super) fn set(&self, _after: Duration) {
            match *self {}
        }

        pub(super) fn watch(&self) -> io::Result<Watched> {
            match *self {}
        }
    }

    pub(super) enum Watched {}

    impl Watched {
        pub(super) async fn fired(&self) -> io::Result<()> {
            match *self {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How long the tests below give a wait to end once told to stop: only
    /// a hang guard, far over what a loaded machine needs.
    const HANG_GUARD: Duration = Duration::from_secs(30);

    /// Runs `test` with a timer whose task runs on the same runtime, and
    /// the sender of the timer's shutdown channel.
    fn with_timer(test: impl AsyncFnOnce(Arc<DelayTimer>, watch::Sender<bool>)) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let (stop, shutdown) = watch::channel(false);
        let timer = Arc::new(DelayTimer::new(shutdown));
        runtime.spawn(timer.run());
        runtime.block_on(async {
            // The timer task sets `running` when it starts.
            while cfg!(target_os = "linux")
                && !timer
                    .shared
                    .as_ref()
                    .is_some_and(|shared| shared.running.load(Ordering::Acquire))
            {
                tokio::task::yield_now().await;
            }
            test(Arc::clone(&timer), stop).await;
        });
    }

    /// Waits end at their deadline, never before, in deadline order however
    /// they were registered.
    #[test]
    fn waits_end_on_time_and_in_order() {
        with_timer(async |timer, _stop| {
            let start = Instant::now();
            let finished = Arc::new(Mutex::new(Vec::new()));
            let tasks: Vec<_> = [30_u64, 10, 20]
                .into_iter()
                .map(|millis| {
                    let (timer, finished) = (Arc::clone(&timer), Arc::clone(&finished));
                    let deadline = start + Duration::from_millis(millis);
                    tokio::spawn(async move {
                        let waited = timer.sleep_until(deadline).await;
                        assert_eq!(waited, Ok(()), "no shutdown");
                        assert!(Instant::now() >= deadline, "{millis} ms came early");
                        finished.lock().expect("lock").push(millis);
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("no panic");
            }
            assert_eq!(*finished.lock().expect("lock"), [10, 20, 30]);
        });
    }

    /// A wait dropped before its deadline (a request abandoned at shutdown)
    /// takes its entry back, and the others still end on time.
    #[test]
    fn a_dropped_wait_leaves_nothing_behind() {
        with_timer(async |timer, _stop| {
            let far = Instant::now() + Duration::from_secs(600);
            let abandoned = tokio::time::timeout(Duration::from_millis(5), timer.sleep_until(far));
            assert!(abandoned.await.is_err(), "600 s did not pass in 5 ms");
            if let Some(shared) = &timer.shared {
                assert!(shared.lock().wakers.is_empty());
            }
            let soon = Instant::now() + Duration::from_millis(2);
            assert_eq!(timer.sleep_until(soon).await, Ok(()));
            assert!(Instant::now() >= soon);
        });
    }

    /// A shutdown ends every wait, registered or still to come, with
    /// `ShuttingDown`: no clock is read, a wait either ends or hangs.
    #[test]
    fn a_shutdown_ends_every_wait() {
        with_timer(async |timer, stop| {
            let far = Instant::now() + Duration::from_secs(600);
            let waiting = {
                let timer = Arc::clone(&timer);
                tokio::spawn(async move { timer.sleep_until(far).await })
            };
            // Let the wait register (where there is a kernel timer) before
            // the shutdown, so that it is the timer task that ends it.
            while timer
                .shared
                .as_ref()
                .is_some_and(|shared| shared.lock().wakers.is_empty())
            {
                tokio::task::yield_now().await;
            }
            stop.send_replace(true);
            let ended = tokio::time::timeout(HANG_GUARD, waiting)
                .await
                .expect("the wait ends at shutdown")
                .expect("the wait does not panic");
            assert_eq!(ended, Err(ShuttingDown));
            let late = tokio::time::timeout(HANG_GUARD, timer.sleep_until(far)).await;
            assert_eq!(late.expect("a new wait ends at once"), Err(ShuttingDown));
        });
    }

    /// Without its task the timer still never answers early (on tokio's
    /// timer).
    #[test]
    fn without_the_task_waits_end_on_time() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let (_stop, shutdown) = watch::channel(false);
        let timer = DelayTimer::new(shutdown);
        runtime.block_on(async {
            let deadline = Instant::now() + Duration::from_millis(3);
            assert_eq!(timer.sleep_until(deadline).await, Ok(()));
            assert!(Instant::now() >= deadline);
        });
    }
}
