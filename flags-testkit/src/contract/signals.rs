//! The signals that stop a run, sent to a model binary mid-run: Ctrl-C
//! ([`CTRL_C`], SIGINT to the process group, as a terminal sends it) and a
//! hang-up (`HANG_UP`, SIGHUP to the model alone, as a closed ssh
//! session sends it to the program it runs). Each must end the run as the
//! contract says: a final report of what finished, the signal's exit
//! status (130, or 129 for SIGHUP), intact files, every child process
//! ended and reaped, and nothing said about broken pipes.

use std::io::Read;
use std::process::Child;
use std::time::{Duration, Instant};

use flags_server::{Delay, ServerConfig};

use super::{ModelBinary, check_saved_files, start, temp_dir};
use crate::process::{processes, send_signal};
use crate::report::{file_names, parse_final_report};

/// A signal that stops a run, whom it is sent to, and what the run must
/// then exit with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StopSignal {
    /// What the check is called in its messages.
    pub name: &'static str,
    /// The signal, like `libc::SIGHUP`.
    pub signal: i32,
    /// Sent to the model's whole process group (its workers included), as
    /// a terminal sends Ctrl-C and a shell passes a hang-up on to its
    /// jobs; or to the model alone, as `kill PID` does and as a terminal
    /// hangs up on the program a session runs.
    pub to_group: bool,
    /// The exit status the contract gives a run this signal stopped.
    pub exit_status: i32,
}

/// Ctrl-C as a terminal sends it: SIGINT to the whole process group.
pub(crate) const CTRL_C: StopSignal = StopSignal {
    name: "interrupt",
    signal: libc::SIGINT,
    to_group: true,
    exit_status: 130,
};

/// A hang-up as a terminal (or an ssh session) sends it to the program it
/// runs: SIGHUP to the model alone, so that the model must stop its
/// workers itself.
pub(crate) const HANG_UP: StopSignal = StopSignal {
    name: "hang-up",
    signal: libc::SIGHUP,
    to_group: false,
    exit_status: 129,
};

/// How long a model may take to stop before the check gives up on it: a
/// hang guard, not a speed (the contract's second is measured elsewhere).
const HANG_GUARD: Duration = Duration::from_secs(20);

/// SIGHUP mid-run (`HANG_UP`): the same stop as Ctrl-C, with exit 129
/// (`check_stop_signal`); then, on Linux, the real thing: the model's
/// terminal closed under it (`check_terminal_hangup`).
pub fn check_hangup(model: &ModelBinary<'_>) -> Result<(), String> {
    check_stop_signal(model, &HANG_UP)?;
    #[cfg(target_os = "linux")]
    check_terminal_hangup(model)?;
    Ok(())
}

/// Run the model on 40 codes that take 300 ms each with `-m 4`, send
/// `stop` once two flags are done, and check the stop: exit status
/// `stop.exit_status`; a final report of what finished (fewer than 40),
/// which counts exactly the flags in `--dest` and the requests the server
/// saw (the stop abandons no request it started); no partial or temporary
/// file; no process of the model's group left, worker, fork server,
/// zombie or orphan; and no "Broken pipe" or panic on stderr.
///
/// The model runs in a process group of its own, as a shell gives a job,
/// with `stop.signal` at its default disposition whatever this test
/// process inherited (a test run under `nohup` would otherwise pass its
/// ignored SIGHUP on).
pub(crate) fn check_stop_signal(model: &ModelBinary<'_>, stop: &StopSignal) -> Result<(), String> {
    use std::os::unix::process::CommandExt;

    let name = stop.name;
    let config = ServerConfig {
        delay: Delay::Fixed(Duration::from_millis(300)),
        ..ServerConfig::default()
    };
    let server = start(config)?;
    let dest = temp_dir()?;
    let mut command = model.command(&server, dest.path(), &["-a", "-l", "40", "-m", "4"]);
    command.process_group(0);
    let signal = stop.signal;
    // SAFETY: the closure runs in the child between fork and exec, where
    // only async-signal-safe calls are allowed; `signal(2)` is one, and it
    // allocates nothing.
    unsafe {
        command.pre_exec(move || {
            libc::signal(signal, libc::SIG_DFL);
            Ok(())
        });
    }
    // Spawn the model; it spawns its workers, if it has any, in its group.
    let mut child = command
        .spawn()
        .map_err(|error| format!("{name}: cannot start {}: {error}", model.program.display()))?;
    let pid = i32::try_from(child.id()).map_err(|error| error.to_string())?;
    let group = child.id();
    // Wait until some flags are done, so there is something to report.
    let started = Instant::now();
    while server.stats().by_status.get(&200).copied().unwrap_or(0) < 2 {
        if started.elapsed() > Duration::from_secs(30) {
            kill_group(&mut child, pid);
            return Err(format!("{name}: the model never got two flags done"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Send the signal, to the group or to the model alone.
    send_signal(if stop.to_group { -pid } else { pid }, signal);
    let signalled = Instant::now();
    let status = loop {
        // Wait without blocking: `try_wait` reaps the model once it has
        // exited, and returns at once while it runs.
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if signalled.elapsed() < HANG_GUARD => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                kill_group(&mut child, pid);
                return Err(format!(
                    "{name}: the model did not stop within {HANG_GUARD:?} of the signal"
                ));
            }
        }
    };
    // The model reaped its workers before it exited, so nothing of its
    // group is left. Checked before the pipes are read: a worker left alive
    // holds the stderr pipe open, and reading it would wait for that
    // worker's end instead of failing.
    std::thread::sleep(Duration::from_millis(100));
    let left: Vec<String> = processes()
        .into_iter()
        .filter(|process| process.pgrp == group)
        .map(|process| {
            format!(
                "{} {} (state {}, parent {})",
                process.pid, process.name, process.state, process.ppid
            )
        })
        .collect();
    if !left.is_empty() {
        kill_group(&mut child, pid);
        return Err(format!(
            "{name}: processes of the model's group outlived it (orphans, with \
             another parent now): {left:?}"
        ));
    }
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    if status.code() != Some(stop.exit_status) {
        return Err(format!(
            "{name}: exit status {status}, expected {}; stdout:\n{stdout}\nstderr:\n{stderr}",
            stop.exit_status
        ));
    }
    for noise in ["Broken pipe", "panicked"] {
        if stderr.contains(noise) {
            return Err(format!("{name}: stderr says {noise:?}:\n{stderr}"));
        }
    }
    let counter = parse_final_report(&stdout)
        .ok_or_else(|| format!("{name}: no final report on stdout:\n{stdout}"))?;
    if counter.total() >= 40 {
        return Err(format!(
            "{name}: all 40 finished ({counter:?}); the signal stopped nothing"
        ));
    }
    let saved = file_names(dest.path()).map_err(|error| format!("{name}: {error}"))?;
    if saved.len() != counter.ok {
        return Err(format!(
            "{name}: the report says {} downloaded, --dest holds {saved:?}",
            counter.ok
        ));
    }
    // Every request the model started was finished, saved and counted:
    // the stop ends scheduling, it does not abandon work in flight.
    let requests = server.stats().requests;
    if requests != counter.ok as u64 {
        return Err(format!(
            "{name}: the server saw {requests} requests, the report counts {} flags",
            counter.ok
        ));
    }
    let codes: Vec<String> = saved
        .iter()
        .map(|file| file.trim_end_matches(".gif").to_string())
        .collect();
    let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
    check_saved_files(name, dest.path(), &codes)
}

/// Kill the model's whole group (SIGKILL ends even a stopped process) and
/// reap the model: what a failed check leaves behind is nothing. Its
/// workers, killed with it, are reaped by whoever adopts them.
fn kill_group(child: &mut Child, pid: i32) {
    // SAFETY: `kill` has no memory-safety preconditions. The group's leader
    // is our child, not reaped before `wait` below (or reaped just now, in
    // which case its group may still hold its orphans), so the group id is
    // not another's. It fails harmlessly (ESRCH) once the group is empty.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let _ = child.wait();
}

/// Everything the model wrote on one of its pipes, once it has exited.
fn read_all(pipe: Option<impl Read>) -> String {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A terminal that hangs up under a run, as when the ssh session that runs
/// the model closes: the model runs as the leader of a session of its own
/// whose controlling terminal is a pseudo-terminal, with stdin, stdout and
/// stderr on it (its progress bar drawn there). Once two flags are done
/// the terminal's master side is closed; the kernel then sends SIGHUP to
/// the session's leader, the model, and every later write to the terminal
/// fails (`EIO`). The model must still exit 129 (a panic would be 101, and
/// death by the signal no status at all), and leave no process behind.
/// What it printed after the hang-up went nowhere, so no report is
/// checked here (`check_stop_signal` checks it).
#[cfg(target_os = "linux")]
pub(crate) fn check_terminal_hangup(model: &ModelBinary<'_>) -> Result<(), String> {
    use std::os::unix::process::CommandExt;

    let name = "terminal hang-up";
    let config = ServerConfig {
        delay: Delay::Fixed(Duration::from_millis(300)),
        ..ServerConfig::default()
    };
    let server = start(config)?;
    let dest = temp_dir()?;
    let (mut master, terminal) =
        open_terminal().map_err(|error| format!("{name}: cannot open a terminal: {error}"))?;
    let mut command = model.command(&server, dest.path(), &["-a", "-l", "40", "-m", "4"]);
    let stdio = |file: &std::fs::File| file.try_clone().map(std::process::Stdio::from);
    let stdio_error = |error: std::io::Error| format!("{name}: {error}");
    command
        .stdin(stdio(&terminal).map_err(stdio_error)?)
        .stdout(stdio(&terminal).map_err(stdio_error)?)
        .stderr(stdio(&terminal).map_err(stdio_error)?);
    // SAFETY: the closure runs in the child between fork and exec, after
    // std has put the terminal on descriptors 0, 1 and 2, where only
    // async-signal-safe calls are allowed: `setsid`, `ioctl` and `signal`
    // are, and nothing here allocates.
    unsafe {
        command.pre_exec(|| {
            // A session of its own (and a process group, its id the
            // model's pid), with the terminal on stdin as its controlling
            // terminal: what sshd sets up for the command it runs.
            if libc::setsid() == -1 || libc::ioctl(0, libc::TIOCSCTTY, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGHUP, libc::SIG_DFL);
            Ok(())
        });
    }
    // Spawn the model on the terminal. Our copies of the terminal's side
    // go with `command` and `terminal` below: the master is then the only
    // end this test holds.
    let mut child = command
        .spawn()
        .map_err(|error| format!("{name}: cannot start {}: {error}", model.program.display()))?;
    drop((command, terminal));
    let pid = i32::try_from(child.id()).map_err(|error| error.to_string())?;
    let group = child.id();
    // Wait until some flags are done, reading what the model draws on the
    // terminal meanwhile (without blocking: the master is non-blocking), so
    // that its writes never wait for room.
    let started = Instant::now();
    let mut screen = Vec::new();
    while server.stats().by_status.get(&200).copied().unwrap_or(0) < 2 {
        let _ = master.read_to_end(&mut screen);
        if started.elapsed() > Duration::from_secs(30) {
            kill_group(&mut child, pid);
            return Err(format!("{name}: the model never got two flags done"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Hang up: close the master side. The kernel hangs the terminal up and
    // sends SIGHUP (and SIGCONT) to the session's leader, the model.
    drop(master);
    let signalled = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if signalled.elapsed() < HANG_GUARD => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                kill_group(&mut child, pid);
                return Err(format!(
                    "{name}: the model did not stop within {HANG_GUARD:?} of the hang-up"
                ));
            }
        }
    };
    std::thread::sleep(Duration::from_millis(100));
    let left: Vec<String> = processes()
        .into_iter()
        .filter(|process| process.pgrp == group)
        .map(|process| format!("{} {} (parent {})", process.pid, process.name, process.ppid))
        .collect();
    if !left.is_empty() {
        kill_group(&mut child, pid);
        return Err(format!(
            "{name}: processes of the model's group outlived it: {left:?}"
        ));
    }
    if status.code() != Some(129) {
        return Err(format!(
            "{name}: exit status {status}, expected 129; the terminal showed:\n{}",
            String::from_utf8_lossy(&screen)
        ));
    }
    Ok(())
}

/// A new pseudo-terminal: its master side (non-blocking, close-on-exec),
/// and its terminal side, opened without becoming this process's
/// controlling terminal.
#[cfg(target_os = "linux")]
fn open_terminal() -> std::io::Result<(std::fs::File, std::fs::File)> {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;

    let last_error = std::io::Error::last_os_error;
    // SAFETY: `posix_openpt` has no memory-safety preconditions; it returns
    // a new descriptor, or -1.
    let fd = unsafe {
        libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC | libc::O_NONBLOCK)
    };
    if fd == -1 {
        return Err(last_error());
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    let master = unsafe { std::fs::File::from_raw_fd(fd) };
    let mut path = [0 as libc::c_char; 64];
    // SAFETY: `grantpt` and `unlockpt` take an open master descriptor;
    // `ptsname_r` writes a NUL-terminated name of at most `path.len()`
    // bytes into `path`, a live local buffer.
    let named = unsafe {
        libc::grantpt(fd) == 0
            && libc::unlockpt(fd) == 0
            && libc::ptsname_r(fd, path.as_mut_ptr(), path.len()) == 0
    };
    if !named {
        return Err(last_error());
    }
    // SAFETY: `ptsname_r` succeeded, so `path` holds a NUL-terminated
    // string within its bounds.
    let path = unsafe { std::ffi::CStr::from_ptr(path.as_ptr()) };
    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(path.to_bytes()));
    let terminal = std::fs::File::options()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)?;
    Ok((master, terminal))
}
