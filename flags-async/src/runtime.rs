//! Where the tasks run: a current-thread tokio runtime, and the progress
//! drawn off it.
//!
//! The runtime's one thread runs every task, so nothing on it may block,
//! and printing can: a terminal or a pipe that is not read (`| less`,
//! paused) stalls the write. So the progress bar or the `-v` lines are
//! drawn by a thread of their own, fed through a channel whose `send` never
//! blocks.

use std::sync::mpsc;

use flags_core::{FlagOutcome, Progress, SetupError};
use tokio::runtime::Runtime;

/// Threads of the runtime's blocking pool, where flags are saved
/// (`spawn_blocking`): saving is bound by the disk, so a few keep it busy,
/// where tokio would start up to 512.
const SAVE_THREADS: usize = 4;

/// A current-thread runtime with time and I/O: every task runs on the
/// thread that calls `block_on`, taking turns at each `.await`, as
/// asyncio's event loop does. One thread is enough because the tasks
/// mostly wait on sockets, and no wake-up ever crosses threads.
pub(crate) fn current_thread() -> Result<Runtime, SetupError> {
    tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(SAVE_THREADS)
        .enable_all()
        .build()
        .map_err(|error| SetupError::Start {
            what: "tokio runtime",
            reason: error.to_string(),
        })
}

/// Run `run`, which hands each finished outcome to the function it is
/// given, and show those outcomes with `progress` from a thread of its own;
/// that thread has ended when this returns.
///
/// When there is nothing to show (no `-v`, and stderr is not a terminal),
/// no thread is started and each outcome is dropped: even an idle extra
/// thread slows a run down (`docs/findings.md`).
pub(crate) fn with_progress_thread<R>(
    progress: Progress,
    run: impl FnOnce(&mut dyn FnMut(FlagOutcome)) -> R,
) -> R {
    if !progress.is_shown() {
        return run(&mut drop);
    }
    let (finished, finished_outcomes) = mpsc::channel::<FlagOutcome>();
    std::thread::scope(|scope| {
        // Spawn the printing thread. It ends when the sender is dropped,
        // below, and the scope joins it before returning.
        scope.spawn(move || {
            for outcome in finished_outcomes {
                progress.record(&outcome);
            }
            progress.finish();
        });
        let mut send = move |outcome| {
            // Send to the printing thread: never blocks. Only fails once
            // that thread is gone; nothing to do then.
            let _ = finished.send(outcome);
        };
        let result = run(&mut send);
        // Drop the sender, so that the printing thread's loop ends.
        drop(send);
        result
    })
}
