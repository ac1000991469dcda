//! Child processes, seen and handled from a test: a guard that kills a
//! child when the test ends ([`KillOnDrop`]), the machine's processes as
//! `/proc` lists them ([`processes`], [`processes_in_group`]), and signals
//! ([`send_signal`]).
//!
//! A test that starts a process must make sure it ends, whatever fails:
//! a model left running would hold its port and its files, and a zombie
//! (a child nobody waited for) would make the next "no process left"
//! check fail for a reason that is not its own.

/// A child process that is killed and waited for when this guard is
/// dropped: a test holds its child in one, so that a failed assertion
/// never leaves a server or a model running behind it.
#[derive(Debug)]
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Both fail harmlessly once the child has exited and been waited
        // for, which is the normal case: nothing to report then.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One process as `/proc/{pid}/stat` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Its process id.
    pub pid: u32,
    /// Its parent's.
    pub ppid: u32,
    /// Its process group.
    pub(crate) pgrp: u32,
    /// `R`, `S`, `Z` (a zombie: exited, not yet waited for)...
    pub state: char,
    /// Its command name.
    pub name: String,
}

/// Every process of the machine, zombies included (a zombie is a child
/// nobody waited for: still a process left behind). Empty where there is
/// no `/proc`.
pub fn processes() -> Vec<ProcessInfo> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            // A process may end between the listing and this read: skip it.
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(pid, &stat)
        })
        .collect()
}

/// Read `pid (name) state ppid pgrp ...`; the name may hold spaces and
/// parentheses, so the fields are read after the last `)`.
fn parse_stat(pid: u32, stat: &str) -> Option<ProcessInfo> {
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

/// The process ids of every process in process group `group`, zombies
/// included.
pub fn processes_in_group(group: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|process| process.pgrp == group)
        .map(|process| process.pid)
        .collect()
}

/// Send `signal` to a process (a positive pid) or a whole process group (a
/// negative one), and fail the test if it cannot be sent.
#[cfg(unix)]
pub fn send_signal(pid: i32, signal: i32) {
    // Send the signal: kill(2), which delivers any signal, not only
    // SIGKILL. SAFETY: `kill` has no memory-safety preconditions; the pids
    // are our own children, their workers or their group, none reaped yet.
    let result = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        result,
        0,
        "kill({pid}, {signal}) failed: {}",
        std::io::Error::last_os_error()
    );
}
