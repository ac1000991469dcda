//! What the test files share: the worker program, a lock so that the tests
//! of one file start their children one test at a time, and `/proc` scans
//! that show no child process is left behind.

#![allow(dead_code)] // Each test file uses its own part of this module.

use std::sync::{Mutex, MutexGuard, PoisonError};

use flags_process::WorkerCommand;

/// The worker program: the `flags-process` binary. Integration tests run in
/// the libtest harness, which cannot be re-run as a worker.
pub fn worker_command() -> WorkerCommand {
    WorkerCommand::program(env!("CARGO_BIN_EXE_flags-process"))
}

/// One test at a time in a file: tests in one binary run on parallel
/// threads of one process, and "no child left" must not see the children of
/// a test running next to it.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One process as `/proc/{pid}/stat` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Its process id.
    pub pid: i32,
    /// Its parent's.
    pub ppid: i32,
    /// Its process group.
    pub pgrp: i32,
    /// `R`, `S`, `Z` (zombie)...
    pub state: char,
    /// Its command name.
    pub name: String,
}

/// Every process of the machine (not threads: `/proc` lists only thread
/// group leaders).
pub fn processes() -> Vec<ProcessInfo> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(pid, &stat)
        })
        .collect()
}

/// Read `pid (name) state ppid pgrp ...`; the name may hold spaces and
/// parentheses, so the fields are read after the last `)`.
fn parse_stat(pid: i32, stat: &str) -> Option<ProcessInfo> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    let mut fields = stat.get(close + 1..)?.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(ProcessInfo {
        pid,
        ppid,
        pgrp,
        state,
        name,
    })
}

/// The children of this test process, zombies included.
pub fn children_of_this_process() -> Vec<ProcessInfo> {
    let me = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
    processes()
        .into_iter()
        .filter(|process| process.ppid == me)
        .collect()
}

/// Fail if this test process has any child left: a running worker (an
/// orphan to be) or a zombie (a worker nobody waited for).
pub fn assert_no_children() {
    let children = children_of_this_process();
    assert!(children.is_empty(), "children left behind: {children:?}");
}

/// The processes of a process group, whoever their parent now is.
pub fn processes_in_group(pgrp: i32) -> Vec<ProcessInfo> {
    processes()
        .into_iter()
        .filter(|process| process.pgrp == pgrp)
        .collect()
}

/// Send `signal` to a process (a positive pid) or a whole process group (a
/// negative one).
pub fn send_signal(pid: i32, signal: i32) {
    // SAFETY: `kill` has no memory-safety preconditions; the pids are our
    // own children (or their group), not yet reaped.
    let result = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        result,
        0,
        "kill({pid}, {signal}) failed: {}",
        std::io::Error::last_os_error()
    );
}
