//! The delay timer: wakes each delayed request at its deadline, never
//! before and at most a quarter of a millisecond after, without any request
//! spinning and without a thread of its own.
//!
//! # Why not `tokio::time::sleep`?
//!
//! tokio's timer counts in whole milliseconds and rounds every deadline up,
//! so a plain `sleep(100 ms)` answers 1 to 2 ms late: 2% on every request of
//! the DELAY server, which would show up in every model's ratio to the
//! bound. The server used to make up for it by sleeping on tokio's timer
//! until a millisecond before the deadline, then yielding to the other tasks
//! until the clock got there. Precise, but each yield polls the whole
//! connection task again (hyper's dispatcher, the shutdown watch, the clock)
//! and keeps the worker from ever parking: at 676 requests in flight some
//! request is always in its last millisecond, so the runtime spins for the
//! whole run, and that CPU is taken from the client being measured.
//!
//! # How it works
//!
//! Each server has one [`DelayTimer`]: a sorted map of the pending
//! deadlines, each with the [`Waker`] of the request waiting for it, and one
//! kernel timer (a Linux `timerfd`) set to the earliest of them. The timer's
//! file descriptor sits in the runtime's `epoll` set like a socket, so a
//! worker that has nothing to do sleeps in `epoll_wait` and the kernel wakes
//! it at the deadline, to tens of microseconds. One task, the timer task
//! ([`DelayTimer::run`]), waits for the descriptor to become readable, wakes
//! every request whose deadline has passed, and sets the kernel timer to the
//! next deadline. A request that waits costs one insertion in the map (and
//! a system call when its deadline is the new earliest); requests due at
//! nearly the same moment are woken by one pass of the timer task, on the
//! worker it runs on, without waking another thread; passes are at least
//! [`BATCH_WINDOW`] apart, so a pass has a few requests to wake even when
//! hundreds are due within a few milliseconds.
//!
//! A woken request checks the clock itself: a wait ends only once
//! `Instant::now()` has reached its deadline, so a request is never
//! answered early, whatever wakes it.
//!
//! The timer task also watches the server's shutdown channel, once for
//! every waiting request: at shutdown it wakes them all, and each wait
//! ends with [`ShuttingDown`]. A request that watched the channel itself
//! would add itself to the channel's list of waiters and take itself off
//! again, under the channel's lock, for every delayed request.
//!
//! Where there is no `timerfd` (other systems), or the runtime cannot watch
//! it, a wait falls back on the old way: tokio's timer to a millisecond
//! before the deadline, then yielding until the clock gets there.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::stopped;

// --- Tuning: how far apart the timer's passes are (see "What was
// changed" in `flags-server/README.md`) ---

/// After a pass of the timer task, the next one comes at least this much
/// later: requests due within a quarter of a millisecond of each other are
/// answered by one pass, at most this late. Each pass wakes the worker, and
/// the client it answers: at 676 requests in flight a deadline falls every
/// 75 to 150 microseconds, and a pass for each costs about a tenth more
/// CPU per run (measured in `flags-server/README.md`). A lone request is
/// woken at its deadline. Wider windows (0.5 and 1 ms) and deadlines
/// rounded up to a grid cost the same CPU within the noise, and 1 ms put
/// the median lateness over a millisecond.
const BATCH_WINDOW: Duration = Duration::from_micros(250);

// --- End of tuning ---

/// Without the kernel timer, how long before a deadline a wait stops
/// trusting tokio's millisecond timer and yields until the clock gets there.
const TIMER_SLACK: Duration = Duration::from_millis(1);

/// The delay timer of one server (see the module's documentation).
pub(crate) struct DelayTimer {
    /// `None` where no kernel timer could be made: every wait then spins
    /// through its last millisecond ([`spin_sleep_until`]).
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
    /// true; otherwise they spin.
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
                    () = spin_sleep_until(deadline) => Ok(()),
                    () = stopped(&mut shutdown) => Err(ShuttingDown),
                }
            }
        }
    }

    /// The timer task: runs until the server shuts down (or the runtime
    /// drops it), waking the requests that are due each time the kernel
    /// timer fires. Returns at once (and every wait spins instead) if there
    /// is no kernel timer or the runtime cannot watch it. Must be spawned
    /// on the server's runtime before the first request.
    pub(crate) fn run(&self) -> impl Future<Output = ()> + Send + 'static {
        let shared = self.shared.clone();
        let mut shutdown = self.shutdown.clone();
        async move {
            let Some(shared) = shared else { return };
            let Ok(watched) = alarm::Watched::new(Arc::clone(&shared)) else {
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

/// Waits until `deadline` without the kernel timer: on tokio's timer until
/// [`TIMER_SLACK`] before it, then yielding to the other tasks until the
/// clock gets there (at most a millisecond or so of polling, never a blocked
/// thread). Never returns early; costs CPU in that last millisecond.
async fn spin_sleep_until(deadline: Instant) {
    if let Some(early) = deadline.checked_sub(TIMER_SLACK) {
        if early > Instant::now() {
            tokio::time::sleep_until(early.into()).await;
        }
    }
    while Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
}

/// The kernel timer on Linux: a `timerfd`, which becomes readable when it
/// expires, watched by the runtime's reactor like a socket.
#[cfg(target_os = "linux")]
mod alarm {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    use super::TimerShared;

    /// A one-shot `timerfd` on the monotonic clock, the clock of
    /// [`std::time::Instant`].
    pub(super) struct Alarm(OwnedFd);

    impl Alarm {
        pub(super) fn new() -> io::Result<Alarm> {
            // SAFETY: `timerfd_create` takes no pointer; a non-negative
            // result is a new descriptor that nothing else owns.
            let fd = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` was just created and is owned by nobody else.
            Ok(Alarm(unsafe { OwnedFd::from_raw_fd(fd) }))
        }

        /// Makes the timer expire `after` from now (a zero `after` would
        /// disarm it, so it is at least a nanosecond).
        pub(super) fn set(&self, after: Duration) {
            let after = after.max(Duration::from_nanos(1));
            let value = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    // A delay is far below the 292 billion years of an i64.
                    tv_sec: after.as_secs() as libc::time_t,
                    tv_nsec: after.subsec_nanos() as libc::c_long,
                },
            };
            // SAFETY: the descriptor is ours and open; `value` lives on the
            // stack for the call; a null old value is allowed. Setting a
            // valid timerfd with valid values cannot fail.
            unsafe {
                libc::timerfd_settime(self.0.as_raw_fd(), 0, &value, std::ptr::null_mut());
            }
        }
    }

    /// The descriptor of the alarm, for the reactor, which only borrows it:
    /// the `OwnedFd` in [`TimerShared`] closes it once the reactor is done.
    struct Descriptor(Arc<TimerShared>);

    impl AsRawFd for Descriptor {
        fn as_raw_fd(&self) -> RawFd {
            self.0.alarm.0.as_raw_fd()
        }
    }

    /// The alarm, registered with the current runtime's reactor.
    pub(super) struct Watched(AsyncFd<Descriptor>);

    impl Watched {
        /// Registers the alarm; must be called on the runtime.
        pub(super) fn new(shared: Arc<TimerShared>) -> io::Result<Watched> {
            // SAFETY: the descriptor is the alarm's `OwnedFd`, which the
            // `Arc` in `Descriptor` keeps open for as long as the `AsyncFd`
            // lives, and `as_raw_fd` always returns that same descriptor.
            let registered =
                unsafe { AsyncFd::register_with_interest(Descriptor(shared), Interest::READABLE) };
            registered.map(Watched).map_err(io::Error::from)
        }

        /// Waits until the alarm has fired, and resets it. An error means
        /// the reactor is gone.
        pub(super) async fn fired(&self) -> io::Result<()> {
            loop {
                let mut ready = self.0.readable().await?;
                let mut expirations = 0_u64;
                let read = ready.try_io(|descriptor| {
                    // SAFETY: reads 8 bytes into a `u64` on our stack from
                    // a descriptor that is open while `descriptor` lives.
                    let read = unsafe {
                        libc::read(
                            descriptor.as_raw_fd(),
                            (&raw mut expirations).cast(),
                            std::mem::size_of::<u64>(),
                        )
                    };
                    if read < 0 {
                        Err(io::Error::last_os_error())
                    } else {
                        Ok(())
                    }
                });
                match read {
                    Ok(result) => {
                        // Read: the timer is reset, so is the readiness (a
                        // later expiry sets it again: tokio keeps newer
                        // events). Saves a read that would only say so.
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

/// Elsewhere there is no `timerfd`: no alarm can be made, and every wait
/// spins through its last millisecond.
#[cfg(not(target_os = "linux"))]
mod alarm {
    use std::io;
    use std::sync::Arc;
    use std::time::Duration;

    use super::TimerShared;

    pub(super) struct Alarm;

    impl Alarm {
        pub(super) fn new() -> io::Result<Alarm> {
            Err(io::Error::from(io::ErrorKind::Unsupported))
        }

        pub(super) fn set(&self, _after: Duration) {}
    }

    pub(super) struct Watched;

    impl Watched {
        pub(super) fn new(_shared: Arc<TimerShared>) -> io::Result<Watched> {
            Err(io::Error::from(io::ErrorKind::Unsupported))
        }

        pub(super) async fn fired(&self) -> io::Result<()> {
            Err(io::Error::from(io::ErrorKind::Unsupported))
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

    /// Without its task the timer still never answers early (it spins).
    #[test]
    fn without_the_task_waits_spin_on_time() {
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
