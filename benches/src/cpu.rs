//! CPU time, counted by the kernel rather than sampled: a child's (with
//! every descendant it reaped) from `wait4`, and the in-process server's
//! from its threads' `/proc/self/task/{tid}/schedstat`.
//!
//! - **A child's CPU** (`wait_with_cpu`): `wait4` reaps the child and
//!   hands back its `rusage`, which on Linux is `RUSAGE_BOTH` of the child:
//!   its own user and system time plus those of every descendant it waited
//!   for. The process pool waits for its workers, so they are in it; a
//!   descendant left running and reparented to `init` would not be (none
//!   of the models leaves one).
//! - **The server's CPU** (`ServerCpu`): the flag server runs in the
//!   `flags-compare` process, on a thread named `flags-server` (its accept
//!   loop) and tokio workers named `flags-server-worker` (its blocking pool
//!   threads carry the same name). Their CPU, user and system together, is
//!   the first field of `/proc/self/task/{tid}/schedstat`, in nanoseconds
//!   (the scheduler's `sum_exec_runtime`, not tick-sampled). Read before and
//!   after a run, it gives what serving that run cost, and nothing of the
//!   harness (the main thread waiting in `wait4`, the memory sampler) or of
//!   the child. A server thread that exits between the two reads takes its
//!   time with it (tokio's idle blocking threads linger 10 s; the built-in
//!   server does not use them).

use std::collections::BTreeMap;
use std::io;
use std::process::{Child, ExitStatus};
use std::time::Duration;

/// User and system CPU time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// Time in user mode.
    pub user: Duration,
    /// Time in the kernel on its behalf.
    pub system: Duration,
}

impl CpuTimes {
    /// User plus system.
    pub(crate) fn total(&self) -> Duration {
        self.user + self.system
    }
}

/// Wait for `child` to exit and reap it with `wait4`: its exit status and
/// the CPU time of it and every descendant it reaped. The `Child` must not
/// be waited for again.
#[cfg(unix)]
pub(crate) fn wait_with_cpu(child: &mut Child) -> io::Result<(ExitStatus, Option<CpuTimes>)> {
    use std::os::unix::process::ExitStatusExt;

    let pid = libc::pid_t::try_from(child.id()).map_err(io::Error::other)?;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the right types, and
        // `pid` is our own child, not yet reaped.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    let times = CpuTimes {
        user: timeval(usage.ru_utime),
        system: timeval(usage.ru_stime),
    };
    Ok((ExitStatus::from_raw(status), Some(times)))
}

/// Without `wait4`: the exit status alone.
#[cfg(not(unix))]
pub(crate) fn wait_with_cpu(child: &mut Child) -> io::Result<(ExitStatus, Option<CpuTimes>)> {
    Ok((child.wait()?, None))
}

/// A `timeval` as a duration (a negative one as zero).
#[cfg(unix)]
fn timeval(value: libc::timeval) -> Duration {
    let seconds = u64::try_from(value.tv_sec).unwrap_or(0);
    let micros = u64::try_from(value.tv_usec).unwrap_or(0);
    Duration::from_secs(seconds) + Duration::from_micros(micros)
}

/// The CPU time the calling thread has used so far, user plus system
/// (`getrusage(RUSAGE_THREAD)`, Linux only).
#[cfg(target_os = "linux")]
pub(crate) fn this_thread_cpu() -> Option<Duration> {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is to a live local of the right type.
    let done = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    (done == 0).then(|| timeval(usage.ru_utime) + timeval(usage.ru_stime))
}

/// Not known off Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn this_thread_cpu() -> Option<Duration> {
    None
}

/// The name every thread of the in-process flag server starts with, as
/// `/proc/self/task/{tid}/comm` shows it (cut to 15 bytes:
/// `flags-server-wo`).
pub(crate) const SERVER_THREAD_PREFIX: &str = "flags-server";

/// The CPU time of each thread of the in-process server, at one moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerCpu {
    /// Nanoseconds on the CPU, by thread id.
    by_thread: BTreeMap<u64, u64>,
    /// False when `/proc/self/task` could not be read.
    known: bool,
}

impl ServerCpu {
    /// Read the CPU time of every server thread of this process now.
    pub(crate) fn now() -> ServerCpu {
        let mut snapshot = ServerCpu::default();
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return snapshot;
        };
        snapshot.known = true;
        for task in tasks.flatten() {
            let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
                continue;
            };
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if !comm.starts_with(SERVER_THREAD_PREFIX) {
                continue;
            }
            if let Some(nanos) = thread_cpu_nanos(&task.path()) {
                snapshot.by_thread.insert(tid, nanos);
            }
        }
        snapshot
    }

    /// The CPU the server's threads used from `earlier` to `self`: a thread
    /// started in between counts from zero.
    pub(crate) fn since(&self, earlier: &ServerCpu) -> Option<Duration> {
        if !(self.known && earlier.known) {
            return None;
        }
        let nanos: u64 = self
            .by_thread
            .iter()
            .map(|(tid, now)| now.saturating_sub(*earlier.by_thread.get(tid).unwrap_or(&0)))
            .sum();
        Some(Duration::from_nanos(nanos))
    }
}

/// A thread's CPU time in nanoseconds: `schedstat`'s first field, or, if
/// the kernel has no `schedstat`, `stat`'s utime + stime (in clock ticks,
/// taken as the usual 100 per second).
fn thread_cpu_nanos(task: &std::path::Path) -> Option<u64> {
    if let Ok(schedstat) = std::fs::read_to_string(task.join("schedstat")) {
        if let Some(nanos) = schedstat
            .split_whitespace()
            .next()
            .and_then(|f| f.parse().ok())
        {
            return Some(nanos);
        }
    }
    let stat = std::fs::read_to_string(task.join("stat")).ok()?;
    // The name in parentheses may hold spaces: count fields after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the line are the 12th and 13th after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 10_000_000)
}
