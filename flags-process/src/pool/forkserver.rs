//! The fork server (Linux): one clean, single-threaded copy of the program,
//! started once per pool, that forks every worker already loaded. Python's
//! `forkserver` start method, its default on Linux since 3.14.
//!
//! **Why not spawn.** Spawning runs the whole program again for every
//! worker: `exec`, the dynamic loader relocating the binary and libc,
//! glibc probing the CPU (which traps to the hypervisor on a virtual
//! machine), Rust's runtime start-up, and a page fault for every page of
//! code all that touches, for every worker before it does any work
//! (`benches/examples/worker_start.rs` measures both start methods).
//!
//! **Why not fork the pool itself.** The pool's process has threads (one
//! reader per worker, and whatever the program runs beside the pool). A
//! fork copies only the thread that calls it: a lock another thread held
//! at that instant (the allocator's, stdout's) stays locked for ever in the
//! child, so a child of a threaded process may only call async-signal-safe
//! functions until it execs, which rules out running a worker. That is why
//! Python 3.14 stopped forking by default.
//!
//! **The fork server.** So the pool spawns the program once more, with
//! [`FORKSERVER_ENV`] set: that process loads itself, starts no thread,
//! greets, and waits on a Unix socket. For each new worker the pool makes
//! the worker's two pipes and sends their far ends over the socket
//! (`SCM_RIGHTS`: the kernel copies the file descriptors into the
//! receiving process). The server forks; the child puts the pipes on its
//! stdin and stdout and runs the worker's `main`; the server answers the
//! child's pid and closes its copies of the pipes. A fork of a process
//! with one thread, holding no lock, is safe to run anything in.
//!
//! **Whose child.** The server forks with `clone(CLONE_PARENT)`: the new
//! process's parent is the server's parent, the pool. So the pool waits
//! for its workers, kills them and reads their exit statuses exactly as it
//! does for spawned ones, and the kernel tells the pool, not the server,
//! when one dies. (Python's fork server keeps its workers as its own
//! children and reports their exit codes back over its socket; Linux lets
//! us skip that relay.)
//!
//! **The conversation** on the socket (a stream socket pair; each request
//! waits for its answer, so the lines never interleave):
//!
//! | direction | bytes | meaning |
//! |---|---|---|
//! | server → pool | `HELLO forkserver 1` | first line: it is a fork server, protocol version 1 |
//! | pool → server | `FORK`, with 2 file descriptors attached | fork a worker on these: its stdin's read end, its stdout's write end |
//! | server → pool | `FORKED {pid}` | done: the worker is the pool's child `pid` |
//! | server → pool | `ERROR {message}` | the fork failed (say, the process limit): no worker |
//! | pool closes the socket | | no more workers: the server exits |
//!
//! **Faults.** A server that is not one (it answers something else than
//! its greeting: `cat` echoes the request), exits, or does not answer
//! within [`FORK_TIMEOUT`] (stopped, hung) is killed and reaped, and the
//! pool starts a fresh one once; if that one fails too, the worker's start
//! fails as a spawn would. When the pool's process dies, the socket
//! closes and the server exits: no orphan.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IoSlice, IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flags_core::interrupt;
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, recvmsg, sendmsg,
};

use super::spawn::{Reaped, describe_exit, reap};
use super::start::{Launched, WorkerProcess, worker_environment};
use super::{EXIT_GRACE, TICK, WorkerCommand};

/// The environment variable that makes a worker program a fork server
/// rather than a worker (next to [`WORKER_ENV`](super::WORKER_ENV), which
/// names the workers' protocol).
pub const FORKSERVER_ENV: &str = "FLAGS_PROCESS_FORKSERVER";

/// The fork server's command name (`/proc/PID/comm`, what `ps` and `top`
/// show), so that it can be told from the workers it forks, which take
/// back the program's own name.
pub const FORKSERVER_PROCESS_NAME: &str = "forkserver";

/// The fork server's greeting: its protocol's name and version.
const GREETING: &str = "HELLO forkserver 1";

/// The signals a terminal sends to the whole process group: Ctrl-C and the
/// hang-up. The fork server ignores them, since the pool decides when it
/// stops.
const TERMINAL_SIGNALS: [libc::c_int; 2] = [libc::SIGINT, libc::SIGHUP];

/// The request for one worker; its two file descriptors ride on it.
const FORK_REQUEST: &[u8] = b"FORK\n";

/// The longest line the pool reads from a fork server.
const MAX_ANSWER_BYTES: usize = 512;

/// How long a fork server has to greet and answer one request. A fork
/// takes well under a millisecond; this only catches a server that is
/// stopped or hung, and it is short because the pool waits while it runs.
pub const FORK_TIMEOUT: Duration = Duration::from_secs(2);

/// After Ctrl-C, how much longer the pool waits for an answer already
/// asked for: the run must end within a second.
const FORK_TIMEOUT_AFTER_INTERRUPT: Duration = Duration::from_millis(100);

/// The pool's side of a fork server: the process, and the pool's end of
/// the socket to it.
#[derive(Debug)]
pub(super) struct ForkServer {
    /// The fork server, a child of ours like the workers it forks. Reaped
    /// when the pool stops it ([`stop`](Self::stop)), or on drop.
    process: WorkerProcess,
    /// Requests go out on it, with file descriptors attached; answers come
    /// back, read line by line through the buffer.
    socket: BufReader<UnixStream>,
    /// Whether its greeting has been read (it is read with the first
    /// answer, so that the first worker's start waits for one round trip,
    /// not two).
    greeted: bool,
}

/// Why a fork server could not give us a worker.
#[derive(Debug)]
pub(super) enum ForkError {
    /// The server is gone, broken or hung: worth one fresh server.
    Server(String),
    /// The server is fine but could not fork this worker (the process
    /// limit, say): the worker's start failed, as a failed spawn.
    Refused(String),
}

impl ForkServer {
    /// Start a fork server: the worker program with [`FORKSERVER_ENV`]
    /// set, its stdin and stdout both the far end of a new socket pair.
    pub(super) fn start(command: &WorkerCommand, protocol_name: &str) -> io::Result<Self> {
        // A connected pair of Unix sockets (close-on-exec, as std makes
        // every descriptor): ours, and the server's.
        let (ours, theirs) = UnixStream::pair()?;
        let theirs_again = theirs.try_clone()?;
        let process = {
            let mut server = Command::new(&command.program);
            server
                .envs(worker_environment(command, protocol_name))
                .env(FORKSERVER_ENV, "1")
                // The socket is the server's stdin (it reads requests and
                // writes answers there) and its stdout, so that a program
                // that is not a fork server but echoes, like `cat`, is
                // caught at its first answer.
                .stdin(Stdio::from(OwnedFd::from(theirs)))
                .stdout(Stdio::from(OwnedFd::from(theirs_again)))
                .stderr(Stdio::inherit());
            // Spawn: the one fork and exec of this pool.
            server.spawn()?
            // The command, and with it our copies of the server's end of
            // the socket, is dropped here: when the server exits, its end
            // is closed everywhere and our reads see the end of stream.
        };
        ours.set_read_timeout(Some(TICK))?;
        Ok(Self {
            process: WorkerProcess::Spawned(process),
            socket: BufReader::new(ours),
            greeted: false,
        })
    }

    /// The fork server's pid.
    pub(super) fn pid(&self) -> u32 {
        self.process.id()
    }

    /// Ask for one worker: make its pipes, send their far ends, read the
    /// answer. The worker greets on its stdout, as a spawned one does.
    pub(super) fn fork_worker(&mut self) -> Result<Launched, ForkError> {
        let system = |what: &str, error: io::Error| ForkError::Refused(format!("{what}: {error}"));
        // The worker's two pipes, close-on-exec (the server's copies must
        // not leak into anything it might exec).
        let (stdin_read, stdin_write) = pipe().map_err(|error| system("pipe", error))?;
        let (stdout_read, stdout_write) = pipe().map_err(|error| system("pipe", error))?;
        // Send: `FORK`, with the worker's ends of the pipes attached. The
        // kernel puts copies of both descriptors in the message; the
        // server receives them as descriptors of its own.
        send_with_fds(
            self.socket.get_ref(),
            FORK_REQUEST,
            &[stdin_read.as_fd(), stdout_write.as_fd()],
        )
        .map_err(|error| match error.kind() {
            // The server has closed its end: it exited, or is exiting.
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => self.server_gone(),
            _ => ForkError::Server(format!("cannot write to the fork server: {error}")),
        })?;
        // Close our copies of the worker's ends: each end must be open only
        // in the worker, or the worker would never read the end of its
        // input, nor we the end of its output.
        drop((stdin_read, stdout_write));
        if !self.greeted {
            // Receive the greeting, sent when the server started.
            let greeting = self.read_answer()?;
            if greeting != GREETING {
                return Err(ForkError::Server(format!(
                    "the fork server did not greet (it said {:?})",
                    super::line::excerpt(&greeting)
                )));
            }
            self.greeted = true;
        }
        // Receive the answer to our request.
        let answer = self.read_answer()?;
        if let Some(pid) = answer.strip_prefix("FORKED ") {
            let pid = pid
                .parse::<u32>()
                .map_err(|_| ForkError::Server(format!("the fork server answered {answer:?}")))?;
            return Ok(Launched {
                process: WorkerProcess::Forked { pid, status: None },
                stdin: File::from(stdin_write),
                stdout: File::from(stdout_read),
            });
        }
        if let Some(message) = answer.strip_prefix("ERROR ") {
            return Err(ForkError::Refused(format!("fork failed: {message}")));
        }
        Err(ForkError::Server(format!(
            "the fork server answered {:?}",
            super::line::excerpt(&answer)
        )))
    }

    /// Read one line from the server, waiting at most [`FORK_TIMEOUT`]
    /// (less after Ctrl-C).
    fn read_answer(&mut self) -> Result<String, ForkError> {
        let started = Instant::now();
        let mut line = Vec::new();
        loop {
            // Receive, for at most one tick (the socket's read timeout), so
            // that the clock and the Ctrl-C flag are looked at between
            // tries.
            let read = (&mut self.socket)
                .take((MAX_ANSWER_BYTES + 1 - line.len()) as u64)
                .read_until(b'\n', &mut line);
            match read {
                Ok(_) if line.last() == Some(&b'\n') => {
                    line.pop();
                    return Ok(String::from_utf8_lossy(&line).into_owned());
                }
                Ok(_) if line.len() > MAX_ANSWER_BYTES => {
                    return Err(ForkError::Server(
                        "the fork server sent a line too long".to_string(),
                    ));
                }
                // The end of the stream, or a reset (it exited with our
                // request unread): the server closed the socket.
                Ok(_) => return Err(self.server_gone()),
                Err(error) if error.kind() == io::ErrorKind::ConnectionReset => {
                    return Err(self.server_gone());
                }
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    let patience = if interrupt::requested() {
                        FORK_TIMEOUT_AFTER_INTERRUPT.min(FORK_TIMEOUT)
                    } else {
                        FORK_TIMEOUT
                    };
                    if started.elapsed() > patience {
                        return Err(ForkError::Server(format!(
                            "the fork server did not answer within {patience:?}"
                        )));
                    }
                }
                Err(error) => {
                    return Err(ForkError::Server(format!(
                        "cannot read from the fork server: {error}"
                    )));
                }
            }
        }
    }

    /// The server closed its end of the socket, so it exited or is
    /// exiting: reap it, and say how it ended.
    fn server_gone(&mut self) -> ForkError {
        let status = describe_exit(self.stop_now(EXIT_GRACE));
        let when = if self.greeted {
            ""
        } else {
            " before its greeting"
        };
        ForkError::Server(format!("the fork server exited{when}: {status}"))
    }

    /// Stop the server: close the socket (it reads the end of its input
    /// and exits), wait up to `grace`, then kill it; reap it either way.
    /// A server given up for a fault is stopped with no grace.
    pub(super) fn stop(mut self, grace: Duration) {
        self.stop_now(grace);
    }

    /// [`stop`](Self::stop), through a borrow: how the server ended.
    fn stop_now(&mut self, grace: Duration) -> Reaped {
        // Closing our end is the polite "no more workers". `shutdown`
        // rather than drop, since `self` still owns the stream.
        let _ = self.socket.get_ref().shutdown(std::net::Shutdown::Both);
        // Wait for it up to `grace`, then kill it; reaped either way, as a
        // worker is.
        reap(&mut self.process, grace)
    }
}

impl Drop for ForkServer {
    /// No fork server outlives its pool, nor stays a zombie.
    fn drop(&mut self) {
        // Reaped already when `try_wait` says so; otherwise stop it now.
        if !matches!(self.process.try_wait(), Ok(Some(_))) {
            self.stop_now(EXIT_GRACE);
        }
    }
}

/// A pipe, both ends close-on-exec.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let ends = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    Ok(ends)
}

/// Send `bytes` on a Unix socket with file descriptors attached
/// (`SCM_RIGHTS`).
fn send_with_fds(
    socket: &UnixStream,
    bytes: &[u8],
    fds: &[std::os::fd::BorrowedFd<'_>],
) -> io::Result<()> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::other(
            "too many file descriptors for one message",
        ));
    }
    // NOSIGNAL: a server that is gone makes this an `EPIPE` error, not a
    // SIGPIPE for the whole process.
    let sent = sendmsg(
        socket,
        &[IoSlice::new(bytes)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    if sent == bytes.len() {
        Ok(())
    } else {
        // A few bytes on an empty local socket are sent whole; anything
        // else means the server is not reading as it should.
        Err(io::Error::other("the request was cut short"))
    }
}

/// The fork server's `main`: greet, then fork one worker per request until
/// the pool closes the socket, and exit. `worker_main` is what each forked
/// child runs, its exit status the child's.
///
/// Its stdin is the socket to the pool. It starts no thread: the whole
/// point is that a fork of it is safe, and a fork of a threaded process is
/// not.
pub(super) fn serve_forks(worker_main: fn() -> i32) -> ! {
    // Ctrl-C reaches the whole process group, this server included, and so
    // does the SIGHUP of a terminal hanging up. Neither is the server's to
    // act on: the pool stops asking for workers and then closes the
    // socket, and that ends the server (as does the pool's death, which
    // closes the socket too). So it ignores both, and keeps what it
    // inherited for its children (see `become_worker`).
    let inherited = TERMINAL_SIGNALS.map(|signal| {
        // SAFETY: `signal` with `SIG_IGN` installs no handler function;
        // this process has a single thread, so no other code races with it.
        (signal, unsafe { libc::signal(signal, libc::SIG_IGN) })
    });
    // Our stdin is the socket (see `ForkServer::start`), borrowed for the
    // life of this process: a child replaces descriptor 0 with `dup2`
    // after it has stopped using the server's copy.
    let socket = rustix::stdio::stdin();
    // Lines go out as the workers' do.
    let write_line = |line: &str| super::line::write_line(&mut SocketWriter(socket), line);
    // Show as `forkserver` in `ps`; each child takes the program's own name
    // back.
    let program_name = process_name();
    set_process_name(&std::ffi::CString::new(FORKSERVER_PROCESS_NAME).unwrap_or_default());
    if write_line(GREETING).is_err() {
        std::process::exit(1);
    }
    loop {
        // Receive: block until the pool asks for a worker, or closes the
        // socket.
        let (request, fds) = match receive_request(socket) {
            Ok(Some(received)) => received,
            // The end of the stream: the pool is done (or gone). Exit.
            Ok(None) => std::process::exit(0),
            Err(_) => std::process::exit(1),
        };
        let [stdin, stdout]: [OwnedFd; 2] = match (request.as_slice(), fds.try_into()) {
            (b"FORK\n", Ok(pair)) => pair,
            _ => {
                // Whatever we were sent is closed when dropped here.
                let answer = "ERROR a request is FORK with two file descriptors";
                if write_line(answer).is_err() {
                    std::process::exit(1);
                }
                continue;
            }
        };
        // Fork: one more process, a copy of this one, whose parent is
        // ours (the pool).
        let answer = match fork_as_sibling() {
            // In the child: become the worker. Never returns.
            Ok(0) => become_worker(stdin, stdout, &program_name, &inherited, worker_main),
            Ok(pid) => format!("FORKED {pid}"),
            Err(error) => format!("ERROR {error}"),
        };
        // In the server: close our copies of the worker's pipes (the
        // worker has its own), then answer.
        drop((stdin, stdout));
        if write_line(&answer).is_err() {
            std::process::exit(1);
        }
    }
}

/// The fork server's end of its socket, as an [`io::Write`]: each write
/// one `write(2)`, nothing buffered.
struct SocketWriter(std::os::fd::BorrowedFd<'static>);

impl io::Write for SocketWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        Ok(rustix::io::write(self.0, bytes)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// This process's command name, as `/proc/self/comm` has it (at most 15
/// bytes; empty if it cannot be read).
fn process_name() -> std::ffi::CString {
    rustix::thread::name().unwrap_or_default()
}

/// Set this process's command name (the kernel cuts it to 15 bytes). A
/// failure only leaves the old name in `ps`.
fn set_process_name(name: &std::ffi::CStr) {
    let _ = rustix::thread::set_name(name);
}

/// Receive one request, `FORK\n`, and the descriptors attached to it:
/// `None` at the end of the stream.
fn receive_request(
    socket: std::os::fd::BorrowedFd<'_>,
) -> io::Result<Option<(Vec<u8>, Vec<OwnedFd>)>> {
    let mut request = Vec::new();
    let mut fds = Vec::new();
    // A stream socket may hand a message over in pieces: read until the
    // newline. The descriptors come with the first piece.
    while request.last() != Some(&b'\n') {
        let mut bytes = [0_u8; 64];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        // CMSG_CLOEXEC: the received descriptors are close-on-exec, as
        // every descriptor of ours.
        let received = match recvmsg(
            socket,
            &mut [IoSliceMut::new(&mut bytes)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(received) => received,
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(error.into()),
        };
        for message in control.drain() {
            if let RecvAncillaryMessage::ScmRights(received_fds) = message {
                fds.extend(received_fds);
            }
        }
        if received.bytes == 0 {
            return Ok(None);
        }
        request.extend_from_slice(&bytes[..received.bytes]);
        if request.len() > MAX_ANSWER_BYTES {
            break;
        }
    }
    Ok(Some((request, fds)))
}

/// `fork`, except that the child's parent is our parent
/// (`clone(CLONE_PARENT | SIGCHLD)` with no new stack): 0 in the child,
/// the child's pid in the server.
fn fork_as_sibling() -> io::Result<u32> {
    let flags = (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: `clone` with these flags and a null stack behaves as
    // `fork(2)`: the child goes on from this call on a copy-on-write copy
    // of our memory, stack included, and the other arguments (null tid
    // pointers, no TLS) are unused. Any code may run in the child because
    // this process has exactly one thread, which holds no lock here (it is
    // between two system calls of the serving loop), so the allocator's
    // and std's locks are free in the copy. glibc's own `fork` does two
    // more things, which we skip:
    // - It runs the handlers registered with `pthread_atfork`. This binary
    //   registers none: it imports neither `pthread_atfork` nor
    //   `__register_atfork`, which the test
    //   `tests/fork_safety.rs` checks on every build of the tests, so a
    //   dependency that starts registering one fails it.
    // - It refreshes the thread id cached in the thread block, which stays
    //   the server's here. glibc's `raise` and `abort` ask the kernel for
    //   the id instead; no robust or process-shared mutex is made (the
    //   same test: no `pthread_mutexattr_*` import), and the child has one
    //   thread, so an owner id a lock records is only ever compared with
    //   itself.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0_usize, 0_usize, 0_usize, 0_usize) };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        pid => u32::try_from(pid).map_err(io::Error::other),
    }
}

/// In a forked child: put the worker's pipes on stdin and stdout, run the
/// worker's `main`, and exit with its status. Never returns into the
/// server's loop.
fn become_worker(
    stdin: OwnedFd,
    stdout: OwnedFd,
    program_name: &std::ffi::CStr,
    inherited: &[(libc::c_int, libc::sighandler_t)],
    worker_main: fn() -> i32,
) -> ! {
    set_process_name(program_name);
    // Undo the server's ignoring of SIGINT and SIGHUP: the worker starts
    // with what the server inherited, as a spawned worker would (the
    // default, or SIGHUP ignored under `nohup`), and sets its own
    // (download workers route both to their Ctrl-C flag).
    for &(signal, disposition) in inherited {
        if disposition == libc::SIG_ERR {
            continue;
        }
        // SAFETY: as in `serve_forks`: `disposition` is what `signal`
        // returned there, `SIG_DFL` or `SIG_IGN` (the server was started by
        // exec, which resets every handler function to the default), so no
        // handler function is installed; one thread.
        unsafe {
            libc::signal(signal, disposition);
        }
    }
    // Put the pipes on descriptors 0 and 1. `dup2` replaces the server's
    // socket there, so this process no longer holds the socket, and
    // clears close-on-exec on the new descriptors; then close the
    // originals.
    if rustix::stdio::dup2_stdin(&stdin).is_err() || rustix::stdio::dup2_stdout(&stdout).is_err() {
        std::process::exit(1);
    }
    drop((stdin, stdout));
    // Run the worker. A panic is caught here, so that it cannot unwind
    // into the server's loop in this process: it ends the worker with
    // Rust's usual status for a panic, as in a spawned worker.
    let status = std::panic::catch_unwind(worker_main).unwrap_or(101);
    super::exit_worker(status)
}
