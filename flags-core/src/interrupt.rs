//! Ctrl-C: stop starting new downloads, report what finished, exit 130.
//!
//! [`install`] makes SIGINT (and SIGTERM) set a flag instead of killing the
//! process. Each model checks [`requested`] before it starts another
//! download; what is in flight ends normally (bounded by `--timeout`), and
//! [`crate::run`] prints the report and exits with 130.
//!
//! The flag is a plain atomic, set from the signal handler: that is all a
//! signal handler may safely do.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often [`sleep`] looks at the flag: a Ctrl-C ends a backoff wait
/// within this long.
pub const SLEEP_SLICE: Duration = Duration::from_millis(20);

/// The exit status of a run stopped by Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

fn flag() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Route SIGINT and SIGTERM to the flag. Called once by [`crate::run`].
pub fn install() -> std::io::Result<()> {
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(flag()))?;
    }
    Ok(())
}

/// Whether the user asked to stop.
pub fn requested() -> bool {
    flag().load(Ordering::Relaxed)
}

/// Ask to stop, as Ctrl-C does: for a library caller that has its own
/// reason to stop a run early.
pub fn request() {
    flag().store(true, Ordering::Relaxed);
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
