//! Which thread does the I/O: a model binary seen from the kernel while
//! the server holds its requests.
//!
//! Every claim of the kind "each pool thread does its own blocking I/O" is
//! checked here, from the outside, on Linux: `/proc/{pid}/task` lists a
//! process's threads, and `/proc/{pid}/task/{tid}/syscall` says which
//! system call each one sleeps in and on which file descriptor. A thread
//! that waits in `recvfrom` (or `read`) on a socket is a thread doing its
//! own blocking I/O; a thread that waits on a futex is waiting for another
//! thread; one in `epoll_wait` is an event loop.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use flags_server::{Delay, ServerConfig};

use super::{ModelBinary, start, temp_dir};
use crate::process::{KillOnDrop, processes};

/// What a model's processes look like while `-m N` requests are held by
/// the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoThreads {
    /// Threads of the model's own process, all of them.
    pub threads: usize,
    /// How many of those are asleep reading a socket, each its own.
    pub on_sockets: usize,
    /// Worker child processes; each must have exactly one thread, asleep
    /// reading its own socket.
    pub workers: usize,
    /// Other child processes, each with one thread that reads no network
    /// socket: the process pool's fork server, asleep on the Unix socket
    /// it takes requests from.
    pub helpers: usize,
}

/// The system calls that read a socket, by number, on this architecture:
/// `read` and `recvfrom`.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
const READ_SYSCALLS: [u64; 2] = [0, 45];
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
const READ_SYSCALLS: [u64; 2] = [63, 207];

/// What one process is doing now: its thread count, and the distinct
/// sockets its threads are asleep reading.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn threads_of(pid: u32) -> (usize, usize) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return (0, 0);
    };
    let mut threads = 0;
    let mut sockets = BTreeSet::new();
    for task in tasks.filter_map(Result::ok) {
        threads += 1;
        // `nr arg0 arg1 ...` in hexadecimal but for `nr`, or `running`.
        let Ok(syscall) = std::fs::read_to_string(task.path().join("syscall")) else {
            continue;
        };
        let mut fields = syscall.split_whitespace();
        let Some(number) = fields.next().and_then(|field| field.parse::<u64>().ok()) else {
            continue;
        };
        let Some(fd) = fields
            .next()
            .and_then(|field| u64::from_str_radix(field.trim_start_matches("0x"), 16).ok())
        else {
            continue;
        };
        if !READ_SYSCALLS.contains(&number) {
            continue;
        }
        let is_socket = std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        if is_socket {
            sockets.insert(fd);
        }
    }
    (threads, sockets.len())
}

/// One look at a model process and its worker children.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    threads: usize,
    on_sockets: usize,
    /// `(threads, sockets read)` of each child process.
    workers: Vec<(usize, usize)>,
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn look(pid: u32) -> Seen {
    let (threads, on_sockets) = threads_of(pid);
    let workers = processes()
        .into_iter()
        .filter(|process| process.ppid == pid && process.state != 'Z')
        .map(|process| threads_of(process.pid))
        .collect();
    Seen {
        threads,
        on_sockets,
        workers,
    }
}

impl Seen {
    fn matches(&self, expected: IoThreads) -> bool {
        let count = |wanted: (usize, usize)| {
            self.workers
                .iter()
                .filter(|&&child| child == wanted)
                .count()
        };
        self.threads == expected.threads
            && self.on_sockets == expected.on_sockets
            && self.workers.len() == expected.workers + expected.helpers
            && count((1, 1)) == expected.workers
            && count((1, 0)) == expected.helpers
    }
}

/// Run the binary with `-m max_req` on as many codes against a server that
/// holds every request for 3 s, and look at its threads once the server
/// has all of them in flight: they must be exactly `expected`. Then the run
/// must end normally.
///
/// A thread may be between two system calls at the instant of a look, so
/// the check looks again, every 20 ms for up to 2 s, before it fails.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub fn check_io_threads(
    model: &ModelBinary<'_>,
    max_req: usize,
    expected: IoThreads,
) -> Result<(), String> {
    let scenario = format!("I/O threads at -m {max_req}");
    let config = ServerConfig {
        delay: Delay::Fixed(Duration::from_secs(3)),
        ..ServerConfig::default()
    };
    let server = start(config)?;
    let dest = temp_dir()?;
    let max_text = max_req.to_string();
    let codes: Vec<&str> = flags_core::countries::all_cc()
        .into_iter()
        .take(max_req)
        .collect();
    let mut args = vec!["-m", max_text.as_str(), "--timeout", "30"];
    args.extend(&codes);
    let child = model
        .command(&server, dest.path(), &args)
        .spawn()
        .map_err(|error| format!("{scenario}: cannot run the model: {error}"))?;
    let mut child = KillOnDrop(child);
    let pid = child.0.id();

    // Wait until the server holds every request: then each one's client
    // side is asleep, waiting for the answer.
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.stats().in_flight < max_req as u64 {
        if Instant::now() > deadline {
            return Err(format!(
                "{scenario}: the server never had {max_req} requests in flight ({:?})",
                server.stats()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut seen = look(pid);
    let looking_until = Instant::now() + Duration::from_secs(2);
    while !seen.matches(expected) && Instant::now() < looking_until {
        std::thread::sleep(Duration::from_millis(20));
        seen = look(pid);
    }
    if !seen.matches(expected) {
        return Err(format!(
            "{scenario}: expected {expected:?}, saw {} threads, {} reading sockets, \
             children (threads, sockets) {:?}",
            seen.threads, seen.on_sockets, seen.workers
        ));
    }
    let status = child
        .0
        .wait()
        .map_err(|error| format!("{scenario}: {error}"))?;
    if !status.success() {
        return Err(format!("{scenario}: exit status {status}"));
    }
    Ok(())
}

/// Not on this system: there is no `/proc/{pid}/task/{tid}/syscall` to
/// read, or no table of its system call numbers here.
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
pub fn check_io_threads(
    _model: &ModelBinary<'_>,
    _max_req: usize,
    _expected: IoThreads,
) -> Result<(), String> {
    Err("the I/O thread check needs Linux on x86_64 or aarch64".to_string())
}
