//! How many workers the process limits leave room for, so that the banner
//! states the concurrency a run really uses.
//!
//! A model asks for `-m` workers (threads, worker processes or tasks).
//! Under `ulimit -v` (the address space), `ulimit -d` (the data segment,
//! which since Linux 4.7 counts every private writable mapping, thread
//! stacks included) or `ulimit -n` (open files), fewer may fit. Without a
//! check, a thread pool fills the address space with stacks until a small
//! `malloc` fails, and Rust aborts the process with no report. So before
//! the banner, [`run`](crate::run) asks [`fit_workers`] how many workers of
//! the model's [`WorkerCost`] fit in what is left, lowers `-m` to that, and
//! says so on stderr ([`Fit::notice`]).
//!
//! The estimate is deliberately simple: each worker's reservation times
//! the count, plus a fixed reserve for everything else, against the limit
//! minus what the process already uses. A thread or process that still
//! cannot be started later (a per-user process limit, say) is the model's
//! to report; the pools then go on with the workers they have.

use std::fmt;

/// What one worker of a model takes from this process's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerCost {
    /// Address space reserved per worker, in bytes: a thread's stack and
    /// guard page, plus what it allocates while it downloads.
    pub address_space: u64,
    /// File descriptors per worker in this process: its socket and the
    /// file it saves, or a worker process's two pipes.
    pub files: u64,
}

impl WorkerCost {
    /// A worker thread with a stack of `stack_size` bytes that holds one
    /// connection, and the file it saves into (the thread pools: every
    /// worker may be saving at the same moment).
    pub const fn thread(stack_size: usize) -> Self {
        Self {
            address_space: stack_size as u64 + PAGE + HEAP_PER_WORKER,
            files: 2,
        }
    }

    /// A worker child process, seen from the parent: one pipe to its stdin,
    /// one from its stdout, and the parent's reader thread for it (with a
    /// stack of `reader_stack_size`). The child has limits of its own.
    pub const fn process(reader_stack_size: usize) -> Self {
        Self {
            address_space: reader_stack_size as u64 + PAGE + HEAP_PER_WORKER,
            files: 2,
        }
    }

    /// A task on an async runtime: no thread, one connection and its
    /// buffers (about 25 KiB in hyper under reqwest).
    pub const fn task() -> Self {
        Self {
            address_space: HEAP_PER_TASK,
            files: 1,
        }
    }
}

/// One page: the guard page below each thread stack.
const PAGE: u64 = 4096;
/// What one download holds on the heap while it runs: the client's
/// buffers, TLS state and the body (flags are 1 to 40 KB), with room to
/// spare.
const HEAP_PER_WORKER: u64 = 256 * 1024;
/// What one async task holds: its connection's buffers and its state
/// machine, with room to spare.
const HEAP_PER_TASK: u64 = 64 * 1024;
/// Address space kept free for everything that is not a worker: the main
/// thread, the client, the runtime, the allocator's own bookkeeping.
const RESERVE_ADDRESS_SPACE: u64 = 48 * 1024 * 1024;
/// File descriptors kept free: stdio, the destination folder, temporary
/// files being written, the allocator's and runtime's own.
const RESERVE_FILES: u64 = 16;

/// The answer of [`fit_workers`]: how many workers to use, and, when a
/// limit leaves room for fewer than asked, which one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fit {
    /// The workers to use: at most the number asked for, and at least 1.
    pub workers: usize,
    /// The limit that leaves room for the fewest workers, when that is
    /// fewer than asked. With room for none, `workers` is still 1, so a
    /// run that asked for one is not lowered at all.
    pub limited_by: Option<Limit>,
}

impl Fit {
    /// The line to print when a limit leaves room for fewer than the
    /// `asked` workers: what was used instead, or, when nothing could be
    /// lowered (one worker asked, room for none), that the run tries with
    /// one anyway. `None` when no limit is in the way.
    ///
    /// ```
    /// use flags_core::limits::{Fit, Limit};
    /// let limit = Limit { name: "ulimit -n (open files)", room_for: 0 };
    /// let fit = Fit { workers: 1, limited_by: Some(limit) };
    /// assert_eq!(
    ///     fit.notice(5).as_deref(),
    ///     Some("ulimit -n (open files) leaves room for 0 workers; using 1 instead of 5")
    /// );
    /// assert_eq!(
    ///     fit.notice(1).as_deref(),
    ///     Some("ulimit -n (open files) leaves room for 0 workers; using 1 anyway")
    /// );
    /// assert_eq!(Fit { workers: 3, limited_by: None }.notice(3), None);
    /// ```
    pub fn notice(&self, asked: usize) -> Option<String> {
        let limit = self.limited_by.as_ref()?;
        Some(if self.workers < asked {
            format!("{limit}; using {} instead of {asked}", self.workers)
        } else {
            format!("{limit}; using {} anyway", self.workers)
        })
    }
}

/// A process limit that leaves room for fewer workers than asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// The `ulimit` option and what it limits, e.g. `ulimit -v (address space)`.
    pub name: &'static str,
    /// How many workers it leaves room for (can be 0).
    pub room_for: usize,
}

impl fmt::Display for Limit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.room_for == 1 { "" } else { "s" };
        write!(
            formatter,
            "{} leaves room for {} worker{plural}",
            self.name, self.room_for
        )
    }
}

/// How many of `wanted` workers of `cost` fit in this process's limits.
///
/// Never more than `wanted`, never less than 1: a run with room for none
/// still tries with one, and a failure to start it is then reported as
/// such.
pub fn fit_workers(wanted: usize, cost: WorkerCost) -> Fit {
    let usage = Usage::read();
    let candidates = [
        (
            "ulimit -v (address space)",
            limit(Resource::AddressSpace),
            usage.address_space,
            cost.address_space,
            RESERVE_ADDRESS_SPACE,
        ),
        (
            "ulimit -d (data segment)",
            limit(Resource::Data),
            usage.data,
            cost.address_space,
            RESERVE_ADDRESS_SPACE,
        ),
        (
            "ulimit -n (open files)",
            limit(Resource::Files),
            usage.files,
            cost.files,
            RESERVE_FILES,
        ),
    ];
    let mut fit = Fit {
        workers: wanted.max(1),
        limited_by: None,
    };
    for (name, limit, used, per_worker, reserve) in candidates {
        let (Some(limit), Some(used)) = (limit, used) else {
            continue;
        };
        let room_for = room_for(limit, used, reserve, per_worker);
        if room_for < fit.workers {
            fit = Fit {
                workers: room_for.max(1),
                limited_by: Some(Limit { name, room_for }),
            };
        }
    }
    fit
}

/// A number field of a `/proc/{pid}/status` text (or of `smaps_rollup`),
/// e.g. `VmHWM:` in kB or `Threads:`: the one reader of those files that
/// the limits here, the benches' sampler and the test kit share.
///
/// ```
/// use flags_core::limits::proc_status_field;
/// let status = "Name:\tx\nThreads:\t7\nVmHWM:\t   9216 kB\n";
/// assert_eq!(proc_status_field(status, "VmHWM:"), Some(9216));
/// assert_eq!(proc_status_field(status, "Threads:"), Some(7));
/// assert_eq!(proc_status_field(status, "VmPeak:"), None);
/// ```
pub fn proc_status_field(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `ulimit -v` or `ulimit -d` limits this process's memory.
pub fn memory_is_limited() -> bool {
    limit(Resource::AddressSpace).is_some() || limit(Resource::Data).is_some()
}

// ---------------------------------------------------------------------------
// Tuning: glibc's malloc arenas under a memory limit.
//
// glibc gives a thread that finds the shared heap busy an arena of its own,
// up to 8 per CPU, and reserves 64 MiB of address space for each. Under
// `ulimit -v` those reservations, not the workers, run out first: a pool
// of 274 threads under 195 MiB aborted on a 24-byte `malloc` until the
// arenas were capped. With one arena, every thread shares the main heap.
// ---------------------------------------------------------------------------

/// Under a memory limit, keep glibc's malloc to its main arena, so that the
/// workers [`fit_workers`] counted really fit; without a limit, do nothing.
/// Call it before any worker thread starts.
pub fn share_one_heap_under_a_memory_limit() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if memory_is_limited() {
        // SAFETY: `mallopt` sets one of malloc's parameters; it is safe to
        // call at any time, and the arenas that exist stay valid.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

/// Workers of `per_worker` that fit under `limit` once `used` and
/// `reserve` are taken.
fn room_for(limit: u64, used: u64, reserve: u64, per_worker: u64) -> usize {
    let free = limit.saturating_sub(used).saturating_sub(reserve);
    usize::try_from(free / per_worker.max(1)).unwrap_or(usize::MAX)
}

/// The limits [`fit_workers`] looks at.
#[derive(Debug, Clone, Copy)]
enum Resource {
    AddressSpace,
    Data,
    Files,
}

/// The soft limit on `resource`, or `None` when there is none (or it
/// cannot be read).
#[cfg(unix)]
fn limit(resource: Resource) -> Option<u64> {
    use rustix::process::{Resource as Which, getrlimit};
    let which = match resource {
        Resource::AddressSpace => Which::As,
        Resource::Data => Which::Data,
        Resource::Files => Which::Nofile,
    };
    // `None`: no limit (RLIM_INFINITY).
    getrlimit(which).current
}

/// No limits are read where there is no `getrlimit`.
#[cfg(not(unix))]
fn limit(_resource: Resource) -> Option<u64> {
    None
}

/// What this process uses now of each limited resource, where it can be
/// read (Linux's `/proc/self`).
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    address_space: Option<u64>,
    data: Option<u64>,
    files: Option<u64>,
}

impl Usage {
    fn read() -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let kib = |field: &str| proc_status_field(&status, field).map(|kib| kib * 1024);
        let files = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|entries| entries.count() as u64);
        Self {
            address_space: kib("VmSize:"),
            data: kib("VmData:"),
            files,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_what_is_left_after_the_reserve() {
        assert_eq!(room_for(100, 20, 30, 10), 5);
        assert_eq!(room_for(100, 90, 30, 10), 0);
        assert_eq!(
            room_for(u64::MAX, 0, 0, 1),
            usize::try_from(u64::MAX).unwrap_or(usize::MAX)
        );
    }

    #[test]
    fn a_thread_costs_its_stack_and_more() {
        let cost = WorkerCost::thread(256 * 1024);
        assert!(cost.address_space > 256 * 1024);
        assert_eq!(cost.files, 2);
        assert_eq!(WorkerCost::process(64 * 1024).files, 2);
        assert_eq!(WorkerCost::task().files, 1);
    }

    #[test]
    fn without_limits_every_worker_asked_for_fits() {
        // The test process has no tight limits: 3 workers always fit.
        let fit = fit_workers(3, WorkerCost::task());
        assert_eq!(
            fit,
            Fit {
                workers: 3,
                limited_by: None
            }
        );
        assert_eq!(fit_workers(0, WorkerCost::task()).workers, 1);
    }

    #[test]
    fn the_limit_names_itself() {
        let limit = Limit {
            name: "ulimit -n (open files)",
            room_for: 1,
        };
        assert_eq!(
            limit.to_string(),
            "ulimit -n (open files) leaves room for 1 worker"
        );
    }
}
