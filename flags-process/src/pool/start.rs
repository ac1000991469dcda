//! How a worker process comes to life: the *start methods*, as Python's
//! `multiprocessing` calls them, and the handle the pool keeps on each
//! worker, whichever way it was started.
//!
//! - [`StartMethod::Spawn`]: the pool runs the program again for every
//!   worker (`fork` + `exec` through `std::process::Command`). Each worker
//!   pays for a whole program start: `exec`, the dynamic loader, glibc's
//!   and Rust's start-up, and the page faults of all that code, about a
//!   millisecond of CPU each on this workspace's machine (the README has the
//!   figures). Python's *spawn* method does the same with the interpreter.
//! - [`StartMethod::ForkServer`] (Linux; the default there): the pool runs
//!   the program once more, as a *fork server*: a small single-threaded
//!   process that forks each worker on request, already loaded. A fork
//!   copies page tables, not a program: no `exec`, no loader, no start-up.
//!   Python's *forkserver* method, its default on Linux since 3.14. See
//!   `pool/forkserver.rs` for why the pool cannot simply fork
//!   itself.
//!
//! Either way the worker is a child of the pool's process, its stdin and
//! stdout are pipes to the pool, and the pool waits for it, kills it and
//! reads its exit status the same way: through a [`WorkerProcess`].

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use super::{PoolError, WORKER_ENV, WorkerCommand};

/// How the pool starts its worker processes: `--start-method` of
/// `flags-process`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StartMethod {
    /// Run the program again for each worker (fork and exec), as Python's
    /// *spawn*: every worker pays for a whole program start.
    Spawn,
    /// Fork each worker from a fork server, a single-threaded copy of the
    /// program started once per pool, as Python's *forkserver* (Linux only).
    #[value(name = "forkserver")]
    ForkServer,
}

impl StartMethod {
    /// The default: the fork server where it exists (Linux, as Python 3.14
    /// chose), spawn elsewhere.
    pub const fn default_for_this_system() -> Self {
        if cfg!(target_os = "linux") {
            StartMethod::ForkServer
        } else {
            StartMethod::Spawn
        }
    }

    /// Its name on the command line: `spawn` or `forkserver`.
    pub const fn name(self) -> &'static str {
        match self {
            StartMethod::Spawn => "spawn",
            StartMethod::ForkServer => "forkserver",
        }
    }
}

impl Default for StartMethod {
    fn default() -> Self {
        Self::default_for_this_system()
    }
}

impl std::fmt::Display for StartMethod {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.name())
    }
}

/// Starts worker processes for a pool, the [`StartMethod`] of its
/// [`WorkerCommand`]'s way: the one place that knows how.
///
/// With [`StartMethod::ForkServer`] it owns the fork server: started with
/// the first worker, stopped ([`stop`](Self::stop), or on drop) with the
/// launcher. A server that stops answering (killed, stopped, hung) is
/// killed, reaped and replaced once; one that fails at its very start (the
/// program is no fork server at all) fails every later start at once, so a
/// program that cannot serve is not started again and again.
///
/// Public so that a program can start workers one at a time and time them
/// (`benches/examples/worker_start.rs`); a pool needs none of it.
#[derive(Debug)]
pub struct Launcher {
    command: WorkerCommand,
    /// The workers' protocol: the value of [`WORKER_ENV`].
    protocol_name: &'static str,
    /// The fork server, once started.
    #[cfg(target_os = "linux")]
    fork_server: Option<super::forkserver::ForkServer>,
    /// Why a fork server failed at its very start, if one did.
    #[cfg(target_os = "linux")]
    fork_server_failure: Option<String>,
}

impl Launcher {
    /// A launcher of `command`'s workers, speaking protocol `protocol_name`.
    /// It starts no process yet.
    pub fn new(command: WorkerCommand, protocol_name: &'static str) -> Self {
        Self {
            command,
            protocol_name,
            #[cfg(target_os = "linux")]
            fork_server: None,
            #[cfg(target_os = "linux")]
            fork_server_failure: None,
        }
    }

    /// The command it starts.
    pub fn command(&self) -> &WorkerCommand {
        &self.command
    }

    /// The fork server's pid, while one runs.
    pub fn fork_server_pid(&self) -> Option<u32> {
        #[cfg(target_os = "linux")]
        return self
            .fork_server
            .as_ref()
            .map(super::forkserver::ForkServer::pid);
        #[cfg(not(target_os = "linux"))]
        None
    }

    /// Start one worker. It runs at once, in parallel with us, and greets
    /// on its stdout when it is ready.
    pub fn launch(&mut self) -> Result<Launched, PoolError> {
        match self.command.start_method {
            StartMethod::Spawn => {
                spawn(&self.command, self.protocol_name).map_err(|source| PoolError::Spawn {
                    program: self.command.program.clone(),
                    source,
                })
            }
            StartMethod::ForkServer => self.fork_worker(),
        }
    }

    /// Ask the fork server for a worker, starting the server on the first
    /// call, replacing it once if it went wrong.
    #[cfg(target_os = "linux")]
    fn fork_worker(&mut self) -> Result<Launched, PoolError> {
        use super::forkserver::{ForkError, ForkServer};
        let program = self.command.program.clone();
        let failed = |reason: String| PoolError::ForkServer {
            program: program.clone(),
            reason,
        };
        if let Some(reason) = &self.fork_server_failure {
            return Err(failed(reason.clone()));
        }
        loop {
            let fresh = self.fork_server.is_none();
            let server = match &mut self.fork_server {
                Some(server) => server,
                None => {
                    // Spawn the fork server: the one program start of
                    // this launcher (but for a replacement).
                    let server =
                        ForkServer::start(&self.command, self.protocol_name).map_err(|source| {
                            PoolError::Spawn {
                                program: program.clone(),
                                source,
                            }
                        })?;
                    self.fork_server.insert(server)
                }
            };
            match server.fork_worker() {
                Ok(launched) => return Ok(launched),
                // This one fork failed (the process limit, say); the
                // server is fine.
                Err(ForkError::Refused(reason)) => return Err(failed(reason)),
                Err(ForkError::Server(reason)) => {
                    // Give the server up: kill it now and reap it.
                    if let Some(server) = self.fork_server.take() {
                        server.stop(Duration::ZERO);
                    }
                    if fresh {
                        // A new server failed: the program cannot serve.
                        self.fork_server_failure = Some(reason.clone());
                        return Err(failed(reason));
                    }
                    if flags_core::interrupt::requested() {
                        // After Ctrl-C no new server: the run is ending.
                        return Err(failed(reason));
                    }
                    // A server that had served went wrong: start a new
                    // one, once (the next turn of the loop is `fresh`).
                }
            }
        }
    }

    /// No fork server but on Linux: the start method needs `CLONE_PARENT`.
    #[cfg(not(target_os = "linux"))]
    fn fork_worker(&mut self) -> Result<Launched, PoolError> {
        Err(PoolError::ForkServer {
            program: self.command.program.clone(),
            reason: "the forkserver start method needs Linux; use spawn".to_string(),
        })
    }

    /// Stop the fork server, if one runs: close its socket (it exits), wait
    /// up to `grace`, kill it if it is still there, reap it. Workers are
    /// not the launcher's to stop: the pool stops them first.
    pub fn stop(&mut self, grace: Duration) {
        #[cfg(target_os = "linux")]
        if let Some(server) = self.fork_server.take() {
            server.stop(grace);
        }
        #[cfg(not(target_os = "linux"))]
        let _ = grace;
    }
}

/// A worker just started, and the parent's ends of its two pipes.
#[derive(Debug)]
pub struct Launched {
    /// The handle on the process.
    pub process: WorkerProcess,
    /// The write end of the worker's stdin: dropping it closes the pipe,
    /// and the worker, reading the end of its input, exits.
    pub stdin: File,
    /// The read end of the worker's stdout.
    pub stdout: File,
}

/// The pool's handle on one worker process, spawned or forked: its pid,
/// and the means to wait for it and kill it.
///
/// A child process must be waited for (reaped) once it has exited, or it
/// stays a zombie until the pool's process exits; and its pid must not be
/// signalled after it has been reaped, since the system may give the pid
/// to another process. Both handles keep those rules: they signal only a
/// child not yet reaped (a zombie keeps its pid), and remember the exit
/// status once they have it.
#[derive(Debug)]
pub enum WorkerProcess {
    /// Started by `std::process::Command`, which keeps the handle.
    Spawned(Child),
    /// Forked by the fork server as a child of ours (`CLONE_PARENT`): std
    /// has no `Child` for a process it did not start, so the handle is
    /// its pid and, once reaped, its exit status.
    Forked {
        /// Its process id.
        pid: u32,
        /// Its exit status, once reaped.
        status: Option<ExitStatus>,
    },
}

impl WorkerProcess {
    /// Its process id.
    pub fn id(&self) -> u32 {
        match self {
            WorkerProcess::Spawned(child) => child.id(),
            WorkerProcess::Forked { pid, .. } => *pid,
        }
    }

    /// Reap it if it has exited, without blocking.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        match self {
            WorkerProcess::Spawned(child) => child.try_wait(),
            WorkerProcess::Forked { pid, status } => {
                if status.is_none() {
                    *status = wait_for_pid(*pid, Wait::IfExited)?;
                }
                Ok(*status)
            }
        }
    }

    /// Wait for it to exit, and reap it.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        match self {
            WorkerProcess::Spawned(child) => child.wait(),
            WorkerProcess::Forked { pid, status } => {
                if let Some(status) = status {
                    return Ok(*status);
                }
                let reaped = wait_for_pid(*pid, Wait::Block)?
                    .ok_or_else(|| io::Error::other("waitpid returned no status"))?;
                *status = Some(reaped);
                Ok(reaped)
            }
        }
    }

    /// Kill it with SIGKILL (which no process can catch, and which ends
    /// even a stopped one). Nothing is sent to a child already reaped.
    pub fn kill(&mut self) -> io::Result<()> {
        match self {
            WorkerProcess::Spawned(child) => child.kill(),
            WorkerProcess::Forked { pid, status } => {
                if status.is_some() {
                    return Ok(());
                }
                send_signal(*pid, Signal::Kill)
            }
        }
    }
}

/// Whether [`wait_for_pid`] blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    IfExited,
    Block,
}

/// `waitpid` on one child of ours: its exit status once it has exited (it
/// is then reaped), `None` if it still runs and `wait` is
/// [`Wait::IfExited`].
#[cfg(unix)]
fn wait_for_pid(pid: u32, wait: Wait) -> io::Result<Option<ExitStatus>> {
    use rustix::process::{WaitOptions, waitpid};
    use std::os::unix::process::ExitStatusExt;
    let pid = raw_pid(pid)?;
    let options = match wait {
        Wait::IfExited => WaitOptions::NOHANG,
        Wait::Block => WaitOptions::empty(),
    };
    loop {
        // The pid is a child of this process that has not been reaped (the
        // handle reaps it at most once), so it names no other process.
        match waitpid(Some(pid), options) {
            Ok(None) => return Ok(None),
            // Asked for one pid, it can only reap that one.
            Ok(Some((_, status))) => return Ok(Some(ExitStatus::from_raw(status.as_raw()))),
            // A signal arrived while we waited: wait again.
            Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(error.into()),
        }
    }
}

/// A pid as rustix takes it.
#[cfg(unix)]
fn raw_pid(pid: u32) -> io::Result<rustix::process::Pid> {
    i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| io::Error::other(format!("not a pid: {pid}")))
}

#[cfg(not(unix))]
fn wait_for_pid(_pid: u32, _wait: Wait) -> io::Result<Option<ExitStatus>> {
    Err(io::Error::other("only on Unix"))
}

/// The signals the pool sends its workers by pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signal {
    /// SIGINT: download workers turn it into the Ctrl-C flag.
    Interrupt,
    /// SIGKILL.
    Kill,
}

/// Send `signal` to one of our children, not yet reaped (so its pid has
/// not been given to another process: a zombie keeps it).
#[cfg(unix)]
pub(super) fn send_signal(pid: u32, signal: Signal) -> io::Result<()> {
    let signal = match signal {
        Signal::Interrupt => rustix::process::Signal::INT,
        Signal::Kill => rustix::process::Signal::KILL,
    };
    Ok(rustix::process::kill_process(raw_pid(pid)?, signal)?)
}

#[cfg(not(unix))]
pub(super) fn send_signal(_pid: u32, _signal: Signal) -> io::Result<()> {
    Err(io::Error::other("only on Unix"))
}

/// The environment of every process the pool starts, worker or fork
/// server: [`WORKER_ENV`] names the protocol, then the command's own
/// variables.
pub(super) fn worker_environment<'a>(
    command: &'a WorkerCommand,
    protocol_name: &'a str,
) -> impl Iterator<Item = (&'a OsStr, &'a OsStr)> {
    std::iter::once((OsStr::new(WORKER_ENV), OsStr::new(protocol_name))).chain(
        command
            .env
            .iter()
            .map(|(key, value)| (key.as_os_str(), value.as_os_str())),
    )
}

/// [`StartMethod::Spawn`]: run the program as a new worker, with piped
/// stdin and stdout.
fn spawn(command: &WorkerCommand, protocol_name: &str) -> io::Result<Launched> {
    // Spawn: fork and exec the program. It runs at once, in parallel with
    // us, loads itself, and greets us on its stdout when it is ready.
    let mut child = Command::new(&command.program)
        .envs(worker_environment(command, protocol_name))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        // The worker's stderr is ours: its own error messages (and a
        // panic's) reach the terminal. Its stdout is the protocol only.
        .stderr(Stdio::inherit())
        .spawn()?;
    let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
    let (Some(stdin), Some(stdout)) = (stdin, stdout) else {
        // Cannot happen with `Stdio::piped()`; but never leave a child
        // unwaited for.
        let _ = child.kill();
        let _ = child.wait();
        return Err(io::Error::other("no pipe to the worker"));
    };
    Ok(Launched {
        process: WorkerProcess::Spawned(child),
        stdin: pipe_file(stdin),
        stdout: pipe_file(stdout),
    })
}

/// A pipe end of std's `Child` as a plain `File`: on Unix both are a file
/// descriptor, and the pool then handles spawned and forked workers alike.
#[cfg(unix)]
fn pipe_file(end: impl Into<std::os::fd::OwnedFd>) -> File {
    File::from(end.into())
}

#[cfg(windows)]
fn pipe_file(end: impl Into<std::os::windows::io::OwnedHandle>) -> File {
    File::from(end.into())
}
