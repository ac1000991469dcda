//! Workers that hang alive: stopped with SIGSTOP, so that they neither
//! answer nor die. The parent's clocks end the wait: a code's deadline
//! costs that code alone (the worker is killed, reaped and replaced), and
//! Ctrl-C or SIGTERM end the run within the interrupt grace. Real worker
//! processes, a real server, no mock; no child, zombie or stopped process
//! is left.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::PATIENCE;
use flags_core::save::temp_prefix_of;
use flags_core::{DownloadJob, FlagOutcome};
use flags_process::ProcessPool;
use flags_process::pool::INTERRUPT_GRACE;
use flags_process::protocol::DownloadProtocol;
use flags_server::{Delay, Fault, FlagServer, ServerConfig};
use flags_testkit::contract::check_saved_files;
use flags_testkit::process::{processes, processes_in_group, send_signal};
use flags_testkit::report::{file_names, parse_final_report};

/// The `/proc` state of a process (`T` when stopped), `None` when it is
/// gone (reaped).
fn state_of(pid: u32) -> Option<char> {
    processes()
        .into_iter()
        .find(|process| process.pid == pid)
        .map(|process| process.state)
}

fn as_pid(pid: u32) -> i32 {
    i32::try_from(pid).expect("a pid fits in pid_t")
}

/// Stop a worker as `kill -STOP` does, and wait until the kernel shows it
/// stopped.
fn stop(pid: u32) {
    send_signal(as_pid(pid), libc::SIGSTOP);
    assert!(
        common::wait_until(|| state_of(pid) == Some('T')),
        "worker {pid} did not stop: {:?}",
        state_of(pid)
    );
}

/// The first 40 codes of `-a`, sorted.
fn forty_codes() -> Vec<String> {
    flags_core::countries::all_cc()
        .into_iter()
        .take(40)
        .map(String::from)
        .collect()
}

/// A worker stopped while it holds a code (the server holds that code's
/// answer for 3 s; every other code takes 100 ms) costs that code alone:
/// once the deadline is over, `--timeout` 1 s with no retry plus the 2 s
/// margin, the parent kills and reaps it (it is gone from `/proc` when its
/// outcome arrives), removes its temporary file, reports one error that
/// names it, starts a replacement, and saves every other flag, intact.
#[test]
fn stopped_worker_costs_its_code_at_the_deadline() {
    let _serial = common::serial();
    let codes = forty_codes();
    let victim_code = codes[1].clone();
    let mut config = ServerConfig {
        delay: Delay::Fixed(Duration::from_millis(100)),
        ..ServerConfig::default()
    };
    config.scripted.insert(
        victim_code.to_lowercase(),
        vec![Fault::Delay(Duration::from_secs(3))],
    );
    let server = FlagServer::start(config).expect("the test server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let mut job = DownloadJob::new(codes.clone(), server.base_url(), dest.path()).with_max_req(2);
    job.timeout = Duration::from_secs(1);
    job.retries = 0;
    let protocol = DownloadProtocol::new(&job);
    let deadline = Duration::from_secs(3);
    assert_eq!(
        flags_process::WorkerProtocol::task_deadline(&protocol),
        Some(deadline)
    );
    let mut pool =
        ProcessPool::with_command(common::worker_command(), protocol, 2).expect("the pool starts");
    for code in &codes {
        pool.submit(code.clone());
    }
    // The first two codes went to the two new workers at once: find the
    // one holding the victim, wait until the server has its request (the
    // worker is then greeted and mid-download), and stop it.
    let victim = pool
        .busy_workers()
        .into_iter()
        .find(|(_, code)| **code == victim_code)
        .map(|(pid, _)| pid)
        .expect("a worker holds the second code");
    assert!(
        common::wait_until(|| server.stats().faults.get("delay") == Some(&1)),
        "the server never saw {victim_code}"
    );
    stop(victim);
    // As if it had been stopped in the middle of a save: a temporary file
    // of its own, which the parent must remove once it has killed and
    // reaped it (`check_saved_files` below finds any left).
    let planted = dest
        .path()
        .join(format!("{}planted.tmp", temp_prefix_of(victim)));
    std::fs::write(&planted, b"GIF89a half a fl").expect("a temporary file can be planted");

    let start = Instant::now();
    let mut outcomes: Vec<FlagOutcome> = Vec::new();
    let mut victim_done = None;
    while let Some(outcome) = pool.next_outcome().expect("the pool keeps workers") {
        if outcome.country_code == victim_code {
            victim_done = Some(start.elapsed());
            // Killed and reaped before its outcome is returned: no zombie,
            // not even for a moment.
            assert_eq!(state_of(victim), None, "the stopped worker is not reaped");
        }
        outcomes.push(outcome);
    }
    let total = start.elapsed();
    let victim_done = victim_done.expect("the stopped worker's code came back");
    eprintln!(
        "stopped worker: its code failed after {victim_done:.2?}, run over after {total:.2?}"
    );
    // Not before the deadline (counted from the greeting, which the parent
    // read after `start`): a lower bound, safe on any machine. How soon
    // after it is a speed, printed above and not asserted: a stopped worker
    // never ends by itself, so a pool without the deadline would never get
    // here at all.
    assert!(victim_done >= deadline, "killed early: {victim_done:?}");

    assert_eq!(outcomes.len(), codes.len());
    let message = common::only_error(&outcomes, &victim_code);
    assert!(
        message.contains(&format!(
            "(pid {victim}) did not answer within 3.0 s; killed it"
        )),
        "{message}"
    );
    assert!(message.starts_with("worker "), "{message}");
    // Codes were still queued when it was killed: a third worker took them.
    assert_eq!(pool.started_workers(), 3);
    assert!(!pool.worker_pids().contains(&victim));
    let saved: Vec<&str> = codes
        .iter()
        .map(String::as_str)
        .filter(|code| *code != victim_code)
        .collect();
    assert_eq!(
        check_saved_files("stopped worker", dest.path(), &saved),
        Ok(())
    );
    pool.shutdown();
    common::assert_no_children();
}

/// The `flags-process` binary in a process group of its own, killed with
/// its whole group when dropped (SIGKILL ends stopped processes too), so
/// that a failed assertion leaves nothing behind, stopped or not.
struct GroupRun {
    child: Child,
    group: i32,
}

impl GroupRun {
    fn start(server: &FlagServer, dest: &std::path::Path) -> Self {
        use std::os::unix::process::CommandExt;
        let child = Command::new(env!("CARGO_BIN_EXE_flags-process"))
            .arg("-s")
            .arg(server.base_url())
            .arg("-d")
            .arg(dest)
            .args(["-a", "-l", "40", "-m", "2"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A group of its own, as a shell gives a job: Ctrl-C reaches
            // the parent and its workers, and nothing else.
            .process_group(0)
            // Spawn: fork and exec the binary, which spawns its workers.
            .spawn()
            .expect("the binary starts");
        let group = as_pid(child.id());
        Self { child, group }
    }

    /// The binary's workers: its children, from `/proc`, but its fork
    /// server.
    fn workers(&self) -> Vec<u32> {
        let parent = self.child.id();
        processes()
            .into_iter()
            .filter(|process| {
                process.ppid == parent
                    && process.name != flags_process::pool::FORKSERVER_PROCESS_NAME
            })
            .map(|process| process.pid)
            .collect()
    }
}

impl Drop for GroupRun {
    fn drop(&mut self) {
        // Kill the whole group. The group's leader is our child, not reaped
        // before `wait` below, so the group id is still ours. The error is
        // ESRCH once the group is empty, the normal case: nothing to do.
        if let Some(group) = rustix::process::Pid::from_raw(self.group) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        // Wait: reap the binary, so that it is no zombie of this test. Its
        // workers, killed with it, are reaped by init once it is gone.
        let _ = self.child.wait();
    }
}

/// Run the binary on 40 codes against a server that takes 300 ms a code,
/// stop one of its two workers mid-run, send `signal` to the group (or the
/// parent alone), and check the stop: not before the interrupt grace (the
/// stopped worker holds a code), well within 3 s, exit 130, a final report
/// of what finished (nothing for the stopped worker's code), intact files,
/// and no process of the group left. Returns how long the stop took.
fn stop_with_a_stopped_worker(signal: i32, to_group: bool) -> Duration {
    let config = ServerConfig {
        delay: Delay::Fixed(Duration::from_millis(300)),
        ..ServerConfig::default()
    };
    let server = FlagServer::start(config).expect("the test server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let mut run = GroupRun::start(&server, dest.path());
    // Something to report first, and both workers running.
    assert!(
        common::wait_until(
            || server.stats().by_status.get(&200).copied().unwrap_or(0) >= 2
                && run.workers().len() == 2
        ),
        "the run never got going"
    );
    let victim = run.workers()[0];
    stop(victim);
    // Let the parent wait on it for a while: without the interrupt grace,
    // this run would now hang for ever.
    std::thread::sleep(Duration::from_millis(400));
    let target = if to_group { -run.group } else { run.group };
    let start = Instant::now();
    // Send the signal, as a terminal's Ctrl-C (the group) or `kill PID`.
    send_signal(target, signal);
    let status = loop {
        // Wait without blocking: `try_wait` reaps the binary once it has
        // exited, and returns at once while it runs.
        if let Some(status) = run.child.try_wait().expect("the binary can be waited for") {
            break status;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "the binary did not stop within {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = start.elapsed();
    // The binary reaped its workers, the stopped one included, before it
    // exited: nothing of its group is left, not even a zombie. Checked
    // before the pipes are read: a worker left alive would hold the
    // stderr pipe open, and reading it would hang instead of failing.
    let group = u32::try_from(run.group).expect("a pid");
    let left = processes_in_group(group);
    assert!(left.is_empty(), "left in the group: {left:?}");
    assert_eq!(state_of(victim), None);
    let mut stdout = String::new();
    if let Some(mut pipe) = run.child.stdout.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stdout).expect("stdout can be read");
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = run.child.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).expect("stderr can be read");
    }
    assert_eq!(status.code(), Some(130), "{stdout}{stderr}");
    // The stopped worker holds a code, so the parent waits out the grace
    // before it kills it: not sooner (a lower bound, safe on any machine).
    assert!(
        took >= INTERRUPT_GRACE,
        "stopped before the grace: {took:?}"
    );
    // How soon after the grace is a speed (measured 0.55 s, printed
    // below), not asserted: a parent that did not kill the stopped worker
    // would never stop, and the loop above gives up on it after PATIENCE.
    eprintln!("stopped after {took:.2?}");
    let counter = parse_final_report(&stdout).expect("a final report");
    // What finished is reported; the stopped worker's code did not finish,
    // and is not counted at all.
    assert!(counter.total() < 40, "{counter:?}");
    assert_eq!(counter.error, 0, "{stdout}");
    let saved: Vec<String> = file_names(dest.path())
        .expect("the folder can be listed")
        .into_iter()
        .map(|name| name.trim_end_matches(".gif").to_string())
        .collect();
    assert_eq!(saved.len(), counter.ok, "{saved:?}\n{stdout}");
    let saved: Vec<&str> = saved.iter().map(String::as_str).collect();
    assert_eq!(
        check_saved_files("stopped worker, interrupted", dest.path(), &saved),
        Ok(())
    );
    took
}

/// Ctrl-C as a terminal sends it (SIGINT to the process group) while one
/// worker is stopped: the run still ends within the interrupt grace.
#[test]
fn ctrl_c_ends_the_run_despite_a_stopped_worker() {
    let _serial = common::serial();
    let took = stop_with_a_stopped_worker(libc::SIGINT, true);
    eprintln!("Ctrl-C with a stopped worker: exited after {took:.2?}");
    common::assert_no_children();
}

/// SIGTERM to the parent alone (as `kill PID` sends it), which flags-core
/// routes to the same flag as Ctrl-C: the same stop.
#[test]
fn sigterm_ends_the_run_despite_a_stopped_worker() {
    let _serial = common::serial();
    let took = stop_with_a_stopped_worker(libc::SIGTERM, false);
    eprintln!("SIGTERM with a stopped worker: exited after {took:.2?}");
    common::assert_no_children();
}
