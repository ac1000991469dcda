//! The process tree of a child, sampled on a thread of its own until the
//! child is reaped: each process's memory high-water mark (`VmHWM`), and
//! the most processes and threads alive at once (`Threads:`), all from
//! `/proc/{pid}/status`; and the most proportional set size the tree had
//! in one sample (`Pss:` of `/proc/{pid}/smaps_rollup`, summed). Linux
//! only.
//!
//! Why PSS next to RSS: a page shared by several processes (the pages of
//! the binary and of libc, for the process pool's workers, which all run
//! the same executable) is in the RSS of each of them, so RSS summed over
//! a tree counts it once per process. PSS splits each page among the
//! processes that map it: summed over the tree, a shared page counts once.
//! (Pages shared with processes outside the tree still count only their
//! share.) Unlike `VmHWM`, PSS has no kernel-kept peak: its peak is the
//! largest sum seen in one sample, so it can miss a peak between samples;
//! and when the largest sum read was of a tree smaller than two thirds of
//! the most processes seen (a run too fast to be read at its largest), no
//! PSS is reported rather than that one.
//!
//! A sample walks the tree from the child down, through every thread's
//! `/proc/{pid}/task/{tid}/children`. With hundreds of threads that walk
//! costs milliseconds of CPU, on the same two cores the model runs on, so
//! the sampler keeps its own share bounded: after each sample it sleeps
//! [`SAMPLE_INTERVAL`] or [`SLEEP_PER_WORK`] times the CPU time the sample
//! took, whichever is longer (at most 10% of one core). What it did use is
//! reported ([`Sampled::sampler_cpu`]).
//!
//! The peaks of processes and threads are sampled, so a burst shorter than
//! the interval between two samples can be missed; the models start their
//! workers at once and keep them to the end, which a sample does not miss.
//! A high-water mark is never missed that way: `VmHWM` is the kernel's own
//! peak, and only its last few milliseconds can be.
//!
//! `smaps_rollup` costs more to read than `status` (the kernel walks every
//! mapping of the process), which the pacing above accounts for: the
//! sampler samples less often rather than taking more of the CPU.

use std::time::Duration;

/// How often the tree is sampled, at most.
pub(crate) const SAMPLE_INTERVAL: Duration = Duration::from_millis(10);
/// The sampler sleeps at least this many times the CPU time a sample took.
pub(crate) const SLEEP_PER_WORK: u32 = 9;

/// What the sampler saw of a tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sampled {
    /// The sum of every process's latest high-water mark, in KiB; `None`
    /// when nothing could be read.
    pub(crate) rss_kib: Option<u64>,
    /// The largest sum, in one sample, of every process's proportional set
    /// size, in KiB; `None` when no `smaps_rollup` could be read (never 0).
    pub(crate) pss_kib: Option<u64>,
    /// The most processes alive in one sample (0 when not sampled).
    pub(crate) peak_processes: usize,
    /// The most threads alive in one sample, summed over the processes
    /// (0 when not sampled).
    pub(crate) peak_threads: usize,
    pub(crate) samples: usize,
    /// The CPU time the sampling thread used (Linux only).
    pub(crate) sampler_cpu: Option<Duration>,
}

pub(crate) use flags_core::limits::proc_status_field as status_field;

/// The `Pss:` of a `/proc/{pid}/smaps_rollup` text, in KiB (not `Pss_Anon:`
/// and the like).
pub(crate) fn rollup_pss_kib(rollup: &str) -> Option<u64> {
    status_field(rollup, "Pss:")
}

pub(crate) use imp::Sampler;

#[cfg(target_os = "linux")]
mod imp {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread::JoinHandle;
    use std::time::Instant;

    use super::{SAMPLE_INTERVAL, SLEEP_PER_WORK, Sampled, rollup_pss_kib, status_field};
    use crate::cpu::this_thread_cpu;

    /// Each process's latest high-water mark, and the peaks so far.
    #[derive(Default)]
    struct Seen {
        peak_by_pid: BTreeMap<u32, u64>,
        /// The largest PSS sum of one sample, if any was read, and the
        /// processes it summed.
        peak_pss_kib: Option<(u64, usize)>,
        peak_processes: usize,
        peak_threads: usize,
        /// The processes of the last sample, to tell a growing tree.
        last_processes: usize,
        /// Whether the PSS has been read since the tree last reached a new
        /// largest size.
        pss_since_peak: bool,
        samples: usize,
    }

    /// The sampling thread and the flag that stops it.
    pub(crate) struct Sampler {
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<Sampled>>,
    }

    impl Sampler {
        /// Start sampling the tree rooted at `pid`.
        pub(crate) fn start(pid: u32) -> Sampler {
            let stop = Arc::new(AtomicBool::new(false));
            let thread_stop = Arc::clone(&stop);
            // The sampler thread: it only reads files under /proc, and ends
            // when `stop` is set.
            let thread = std::thread::Builder::new()
                .name("rss-sampler".to_string())
                .spawn(move || {
                    let mut seen = Seen::default();
                    while !thread_stop.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        let cpu_before = this_thread_cpu();
                        sample_tree(pid, &mut seen);
                        // What the sample cost in CPU, not in wall time: on
                        // a saturated machine a walk can wait long for a
                        // core, and sleeping in proportion to that would
                        // miss short-lived workers.
                        let cost = match (cpu_before, this_thread_cpu()) {
                            (Some(before), Some(after)) => after.saturating_sub(before),
                            _ => started.elapsed(),
                        };
                        std::thread::sleep(SAMPLE_INTERVAL.max(cost * SLEEP_PER_WORK));
                    }
                    let total: u64 = seen.peak_by_pid.values().sum();
                    Sampled {
                        rss_kib: (total > 0).then_some(total),
                        // A PSS read of a tree much smaller than its
                        // largest (a run too fast to be caught at its
                        // largest) would pass for the run's: none, then.
                        pss_kib: seen
                            .peak_pss_kib
                            .filter(|&(kib, processes)| {
                                kib > 0 && 3 * processes >= 2 * seen.peak_processes
                            })
                            .map(|(kib, _)| kib),
                        peak_processes: seen.peak_processes,
                        peak_threads: seen.peak_threads,
                        samples: seen.samples,
                        sampler_cpu: this_thread_cpu(),
                    }
                })
                .ok();
            Sampler { stop, thread }
        }

        /// Stop sampling and say what was seen.
        pub(crate) fn stop(self) -> Sampled {
            self.stop.store(true, Ordering::Relaxed);
            match self.thread.map(JoinHandle::join) {
                Some(Ok(sampled)) => sampled,
                _ => Sampled::default(),
            }
        }
    }

    /// Read `pid` and every descendant into `seen`. A process that ends
    /// while it is being read is simply skipped.
    fn sample_tree(pid: u32, seen: &mut Seen) {
        let mut pending = vec![pid];
        let (mut processes, mut threads) = (0, 0);
        let mut alive = Vec::new();
        while let Some(pid) = pending.pop() {
            let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                continue;
            };
            // A zombie has no memory left, and no VmHWM line.
            if let Some(peak) = status_field(&status, "VmHWM:") {
                let kept = seen.peak_by_pid.entry(pid).or_default();
                *kept = (*kept).max(peak);
                processes += 1;
                threads += status_field(&status, "Threads:").unwrap_or(1) as usize;
                alive.push(pid);
            }
            pending.extend(children_of(pid));
        }
        // PSS only when the tree is at its largest so far and has stopped
        // growing since the last sample: `smaps_rollup` costs the kernel a
        // walk of each process's page tables, about three times what
        // `status` costs, and read on every sample it cut the samples of a
        // 257-process run from 19 to 7, so that whole workers slipped
        // between them (their RSS with them). While the tree grows, the
        // cheap samples follow it; once it holds, its PSS is read.
        let steady = processes > 0 && processes == seen.last_processes;
        let growing = processes > seen.last_processes;
        if processes > seen.peak_processes {
            seen.pss_since_peak = false;
        }
        seen.last_processes = processes;
        // Also on the first sample that is not growing after a new largest
        // tree, even if it has begun to shrink: a fast run (forked workers
        // start in a third of a millisecond) may never hold still at its
        // largest. (And on the very first sample, so that even a run too
        // short for two samples has a PSS.) Reading it while the tree grows
        // was tried: at 256 workers it thinned the samples so much that
        // two thirds of the workers slipped between them.
        let first_after_peak = !growing && !seen.pss_since_peak;
        let read_pss =
            seen.samples == 0 || (steady && processes >= seen.peak_processes) || first_after_peak;
        if read_pss && processes > 0 {
            seen.pss_since_peak = !growing;
            let pss = alive
                .iter()
                .filter_map(|pid| {
                    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"));
                    rollup.ok().as_deref().and_then(rollup_pss_kib)
                })
                .fold(None, |sum: Option<u64>, kib| Some(sum.unwrap_or(0) + kib));
            if let Some(pss) = pss {
                if seen.peak_pss_kib.is_none_or(|(peak, _)| pss > peak) {
                    seen.peak_pss_kib = Some((pss, processes));
                }
            }
        }
        seen.peak_processes = seen.peak_processes.max(processes);
        seen.peak_threads = seen.peak_threads.max(threads);
        seen.samples += 1;
    }

    /// The children of every thread of `pid`, from
    /// `/proc/{pid}/task/{tid}/children`.
    fn children_of(pid: u32) -> Vec<u32> {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return Vec::new();
        };
        let mut children = Vec::new();
        for task in tasks.flatten() {
            if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
                children.extend(
                    list.split_whitespace()
                        .filter_map(|pid| pid.parse::<u32>().ok()),
                );
            }
        }
        children
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    //! No `/proc`: nothing is sampled.

    use super::Sampled;

    /// A sampler that samples nothing.
    pub(crate) struct Sampler;

    impl Sampler {
        /// Nothing to start.
        pub(crate) fn start(_pid: u32) -> Sampler {
            Sampler
        }

        /// Nothing was seen.
        pub(crate) fn stop(self) -> Sampled {
            Sampled::default()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rollup_pss_kib_examples() {
        use crate::sampler::rollup_pss_kib;
        let rollup = "55d0c0000000-7ffd00000000 ---p 00000000 00:00 0  [rollup]\n\
                      Rss:    4480 kB\nPss:    1210 kB\nPss_Anon:  600 kB\n";
        assert_eq!(rollup_pss_kib(rollup), Some(1210));
        assert_eq!(rollup_pss_kib(""), None);
    }
}
