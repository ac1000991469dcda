//! Showing progress while a run goes on: a bar on a terminal, or one line
//! per code with `-v`.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::FlagOutcome;

/// The progress display of one run, shared by all the workers of a model.
///
/// It is `Send + Sync`: a thread pool's workers, a process pool's reader and
/// async tasks all call [`Progress::record`] through a shared reference.
/// The bar is drawn on stderr and only when stderr is a terminal, so piped
/// output and tests see nothing of it.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    verbose: bool,
}

impl Progress {
    /// A display for `total` codes: lines with `verbose`, else a bar when
    /// stderr is a terminal, else nothing.
    pub fn new(total: usize, verbose: bool) -> Self {
        let bar = (!verbose && std::io::stderr().is_terminal()).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            // tqdm's look, as in the book: `45%|████░░░| 88/194 [...]`.
            if let Ok(style) = ProgressStyle::with_template(
                "{percent:>3}%|{wide_bar}| {pos}/{len} [{elapsed_precise}<{eta_precise}, {rate}]",
            ) {
                bar.set_style(style.with_key(
                    "rate",
                    |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                        let _ = write!(out, "{:.1} flags/s", state.per_sec());
                    },
                ));
            }
            bar
        });
        Self { bar, verbose }
    }

    /// A display that shows nothing, for benchmarks and library callers.
    pub fn hidden() -> Self {
        Self {
            bar: None,
            verbose: false,
        }
    }

    /// Whether this shows anything at all: `false` without `-v` when stderr
    /// is not a terminal, and for [`Progress::hidden`]. A caller may then
    /// skip the work of feeding it.
    ///
    /// ```
    /// assert!(!flags_core::Progress::hidden().is_shown());
    /// assert!(flags_core::Progress::new(20, true).is_shown());
    /// ```
    pub fn is_shown(&self) -> bool {
        self.verbose || self.bar.is_some()
    }

    /// One code finished.
    pub fn record(&self, outcome: &FlagOutcome) {
        if self.verbose {
            // One `writeln!` on a locked stdout is one whole line, even when
            // many threads finish at once.
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{outcome}");
        } else if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// The run is over: clear the bar so that the report follows cleanly.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
