//! Ctrl-C, SIGTERM and SIGHUP: stop starting new downloads, report what
//! finished, exit 130 (129 after SIGHUP).
//!
//! [`install`] makes SIGINT, SIGTERM and SIGHUP (a terminal or an ssh
//! session hanging up) set a flag instead of killing the process. Each
//! model checks [`requested`] before it starts another download; what is
//! in flight ends normally (bounded by `--timeout`), and [`crate::run`]
//! prints the report and exits with [`stop_status`].
//!
//! The flag is a plain atomic, set from the signal handler: that is all a
//! signal handler may safely do. It holds the exit status the signal
//! calls for, so that one atomic says both *whether* to stop and *which*
//! signal asked: 0 while none has, [`EXIT_INTERRUPTED`] after SIGINT or
//! SIGTERM, [`EXIT_HUNG_UP`] after SIGHUP. When several arrive, the last
//! one decides the exit status.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How often [`sleep`] looks at the flag: a Ctrl-C ends a backoff wait
/// within this long.
pub const SLEEP_SLICE: Duration = Duration::from_millis(20);

/// The exit status of a run stopped by Ctrl-C or SIGTERM (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

/// The exit status of a run stopped by SIGHUP, its terminal gone
/// (128 + SIGHUP).
pub const EXIT_HUNG_UP: u8 = 129;

/// The stop flag: 0 until a stop is asked for, then the exit status it
/// calls for. A static, since a signal handler can reach nothing else.
static STOP: AtomicUsize = AtomicUsize::new(0);

/// Route SIGINT and SIGTERM, and SIGHUP unless it is ignored, to the flag.
/// Called once by [`crate::run`] (and by each process worker).
///
/// A SIGHUP this process was started ignoring is left ignored: that is how
/// `nohup` asks a run to outlive its terminal, and the convention every
/// Unix program keeps.
pub fn install() -> std::io::Result<()> {
    // Each registration stores its exit status in the flag when its
    // signal arrives.
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_usize(signal, &STOP, EXIT_INTERRUPTED.into())?;
    }
    #[cfg(unix)]
    if !ignored(signal_hook::consts::SIGHUP) {
        signal_hook::flag::register_usize(signal_hook::consts::SIGHUP, &STOP, EXIT_HUNG_UP.into())?;
    }
    Ok(())
}

/// Whether `signal` is ignored (`SIG_IGN`), as `nohup` leaves SIGHUP for
/// the program it starts. Only reads the disposition: changes nothing.
#[cfg(unix)]
fn ignored(signal: libc::c_int) -> bool {
    let mut current = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: with a null new action, `sigaction` changes nothing and only
    // writes the current action into `current`, a live, zeroed
    // `sigaction` of the right size.
    let result = unsafe { libc::sigaction(signal, std::ptr::null(), current.as_mut_ptr()) };
    // SAFETY: all zeroes is a valid `sigaction` (a plain C struct), and on
    // success the call above has filled it in.
    result == 0 && unsafe { current.assume_init() }.sa_sigaction == libc::SIG_IGN
}

/// Whether a signal (or [`request`]) asked to stop.
pub fn requested() -> bool {
    STOP.load(Ordering::Relaxed) != 0
}

/// Ask to stop, as Ctrl-C does: for a library caller that has its own
/// reason to stop a run early.
pub fn request() {
    STOP.store(EXIT_INTERRUPTED.into(), Ordering::Relaxed);
}

/// The exit status of a run that was asked to stop: [`EXIT_HUNG_UP`]
/// after SIGHUP, [`EXIT_INTERRUPTED`] after Ctrl-C, SIGTERM or
/// [`request`]; `None` while no stop was asked for.
///
/// ```
/// // No signal has arrived in this test.
/// assert_eq!(flags_core::interrupt::stop_status(), None);
/// ```
pub fn stop_status() -> Option<u8> {
    // Only 0 and the two statuses above are ever stored.
    u8::try_from(STOP.load(Ordering::Relaxed))
        .ok()
        .filter(|status| *status != 0)
}

/// Sleep this thread for `duration`, or until Ctrl-C, whichever comes
/// first; `true` when it was cut short by Ctrl-C.
///
/// A signal handler may only set a flag, so a thread asleep in a plain
/// `std::thread::sleep` would not notice Ctrl-C until its backoff is over
/// (up to 5 s). This sleeps in slices of [`SLEEP_SLICE`] and looks at the
/// flag between them.
///
/// ```
/// use std::time::Duration;
/// assert!(!flags_core::interrupt::sleep(Duration::from_millis(1)));
/// ```
pub fn sleep(duration: Duration) -> bool {
    let deadline = Instant::now() + duration;
    loop {
        if requested() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep((deadline - now).min(SLEEP_SLICE));
    }
}
