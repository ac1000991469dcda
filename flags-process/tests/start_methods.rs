//! The two start methods seen from outside: whose children the workers are,
//! what the fork server is, and what happens when the fork server itself
//! is killed or stopped. (The contract, the faults and Ctrl-C run on the
//! default method in the other test files, and the contract and the I/O
//! threads on `spawn` too.)

#![cfg(target_os = "linux")]

mod common;

use std::time::{Duration, Instant};

use common::{CODES, job_for, start_server, wait_until};
use flags_core::{DownloadJob, DownloadStatus, FlagOutcome};
use flags_process::pool::{FORK_TIMEOUT, FORKSERVER_PROCESS_NAME};
use flags_process::protocol::DownloadProtocol;
use flags_process::{ProcessPool, StartMethod};
use flags_testkit::contract::check_saved_files;
use flags_testkit::process::{ProcessInfo, processes, send_signal};

fn pool_for(job: &DownloadJob, method: StartMethod) -> ProcessPool<DownloadProtocol> {
    let command = common::worker_command().start_method(method);
    ProcessPool::with_command(command, DownloadProtocol::new(job), job.max_req)
        .expect("the pool starts")
}

/// This test process's child `pid`, as `/proc` shows it.
fn child(pid: u32) -> Option<ProcessInfo> {
    processes()
        .into_iter()
        .find(|process| process.pid == pid && process.ppid == std::process::id())
}

/// Every outcome of the pool's queue, in completion order.
fn drain(pool: &mut ProcessPool<DownloadProtocol>) -> Vec<FlagOutcome> {
    let mut outcomes = Vec::new();
    while let Some(outcome) = pool.next_outcome().expect("the pool keeps workers") {
        outcomes.push(outcome);
    }
    outcomes
}

/// With the fork server, each worker is a child of the pool's own process
/// (the server forks it with `CLONE_PARENT`), running under the program's
/// name; the fork server is one more child, named `forkserver`. Spawned,
/// the same workers and no server. Both leave no child at the end.
#[test]
fn forked_workers_are_the_pools_own_children() {
    let _serial = common::serial();
    let server = start_server(Duration::from_millis(300));
    for method in [StartMethod::ForkServer, StartMethod::Spawn] {
        let dest = tempfile::tempdir().expect("a temporary folder");
        let job = job_for(&server, dest.path(), 4);
        let mut pool = pool_for(&job, method);
        for code in &job.country_codes {
            pool.submit(code.clone());
        }
        // The four workers hold their first codes, their requests held by
        // the server for 300 ms.
        assert!(
            wait_until(|| server.stats().in_flight == 4),
            "{method}: the server never had 4 requests"
        );
        let workers = pool.worker_pids();
        assert_eq!(workers.len(), 4, "{method}");
        for pid in &workers {
            let worker = child(*pid);
            assert!(worker.is_some(), "{method}: worker {pid} is not our child");
            let name = worker.map(|worker| worker.name).unwrap_or_default();
            assert_eq!(name, "flags-process", "{method}: worker {pid}'s name");
        }
        let children = common::children_of_this_process();
        match method {
            StartMethod::ForkServer => {
                let server_pid = pool.fork_server_pid().expect("a fork server runs");
                let fork_server = child(server_pid).expect("the fork server is our child");
                assert_eq!(fork_server.name, FORKSERVER_PROCESS_NAME);
                assert_eq!(children.len(), 5, "{children:?}");
            }
            StartMethod::Spawn => {
                assert_eq!(pool.fork_server_pid(), None);
                assert_eq!(children.len(), 4, "{children:?}");
            }
        }
        let outcomes = drain(&mut pool);
        assert_eq!(outcomes.len(), CODES.len(), "{method}");
        assert!(
            outcomes
                .iter()
                .all(|outcome| outcome.status() == DownloadStatus::Ok),
            "{method}: {outcomes:?}"
        );
        pool.shutdown();
        common::assert_no_children();
    }
}

/// The fork server killed (`how` = SIGKILL) or stopped (SIGSTOP) mid-run,
/// then a worker killed so that the pool needs a new one: the pool notices
/// that its fork server is gone or silent, kills and reaps it, starts a
/// fresh one, and goes on. The killed worker's code is the only error;
/// every other flag is saved; no child is left. Returns how long the
/// replacement took to start, from the worker's kill to the next outcome.
fn fork_server_fault(how: i32) -> Duration {
    let server = start_server(Duration::from_millis(100));
    let dest = tempfile::tempdir().expect("a temporary folder");
    let job = job_for(&server, dest.path(), 2);
    let mut pool = pool_for(&job, StartMethod::ForkServer);
    for code in &job.country_codes {
        pool.submit(code.clone());
    }
    let mut outcomes = Vec::new();
    // A first outcome: both workers are forked and running.
    outcomes.push(pool.next_outcome().expect("a worker").expect("an outcome"));
    let first_server = pool.fork_server_pid().expect("a fork server runs");
    // The fault, from outside, as `kill -9` or `kill -STOP` would.
    send_signal(i32::try_from(first_server).expect("a pid"), how);
    // Kill a busy worker: its code fails, and the pool must fork another.
    // The victim is the worker that answered first: it has just been handed
    // the third code, which the server holds for 100 ms, so it is surely
    // busy with it (the other worker may be answering its first one).
    let victim_code = CODES[2].to_string();
    let victim = pool
        .busy_workers()
        .iter()
        .find(|(_, code)| **code == victim_code)
        .map(|(pid, _)| *pid)
        .expect("a worker holds the third code");
    send_signal(i32::try_from(victim).expect("a pid"), libc::SIGKILL);
    let killed_at = Instant::now();
    outcomes.push(pool.next_outcome().expect("a worker").expect("an outcome"));
    outcomes.extend(drain(&mut pool));
    let took = killed_at.elapsed();
    let second_server = pool.fork_server_pid();
    pool.shutdown();

    assert_eq!(outcomes.len(), CODES.len());
    let message = common::only_error(&outcomes, &victim_code);
    assert!(message.contains("died: signal 9 (SIGKILL)"), "{message}");
    assert!(
        second_server.is_some_and(|pid| pid != first_server),
        "a fresh fork server took over: {first_server} then {second_server:?}"
    );
    let saved: Vec<&str> = CODES
        .iter()
        .copied()
        .filter(|code| *code != victim_code)
        .collect();
    assert_eq!(
        check_saved_files("fork server fault", dest.path(), &saved),
        Ok(())
    );
    common::assert_no_children();
    took
}

/// A fork server that dies is replaced at the next start.
#[test]
fn a_killed_fork_server_is_replaced() {
    let _serial = common::serial();
    fork_server_fault(libc::SIGKILL);
}

/// A fork server that hangs alive (stopped) does not answer: after
/// [`FORK_TIMEOUT`] the pool kills it (SIGKILL ends a stopped process),
/// reaps it and starts a fresh one. The run goes on, no sooner than the
/// timeout.
#[test]
fn a_stopped_fork_server_is_killed_and_replaced() {
    let _serial = common::serial();
    let took = fork_server_fault(libc::SIGSTOP);
    assert!(took >= FORK_TIMEOUT, "replaced after {took:?}");
}
