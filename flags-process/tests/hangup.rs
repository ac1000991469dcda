//! SIGHUP, a terminal or an ssh session hanging up, with either start
//! method: sent to the parent alone (as a terminal sends it to the program
//! a session runs) or to the whole process group (as a shell passes it on
//! to its jobs), it stops the `flags-process` binary as SIGTERM does. The
//! report of what finished, exit 129, and every worker and the fork
//! server ended and reaped: none outlives the parent with another parent,
//! and none says "Broken pipe". Under `nohup` (SIGHUP ignored), the run
//! goes on to its end. Real processes, a real server, no mock.

#![cfg(target_os = "linux")]

mod common;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{PATIENCE, wait_until};
use flags_process::StartMethod;
use flags_process::pool::FORKSERVER_PROCESS_NAME;
use flags_server::FlagServer;
use flags_testkit::contract::check_saved_files;
use flags_testkit::process::{ProcessInfo, processes, processes_in_group, send_signal};
use flags_testkit::report::{file_names, parse_final_report};

/// How SIGHUP is disposed of in the binary when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HangUp {
    /// The default, as in a terminal's session.
    Default,
    /// Ignored, as `nohup` starts a program.
    Ignored,
}

/// The `flags-process` binary in a process group of its own, killed with
/// its whole group when dropped, so that a failed assertion leaves nothing
/// behind.
struct GroupRun {
    child: Child,
    group: i32,
}

impl GroupRun {
    /// Run the binary on the first `codes` codes of `-a` with two workers
    /// started by `method`, SIGHUP disposed of as `hang_up` says.
    fn start(
        server: &FlagServer,
        dest: &std::path::Path,
        method: StartMethod,
        codes: usize,
        hang_up: HangUp,
    ) -> Self {
        use std::os::unix::process::CommandExt;
        let disposition = match hang_up {
            HangUp::Default => libc::SIG_DFL,
            HangUp::Ignored => libc::SIG_IGN,
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_flags-process"));
        command
            .arg("-s")
            .arg(server.base_url())
            .arg("-d")
            .arg(dest)
            .args(["-a", "-l", &codes.to_string(), "-m", "2"])
            .args(["--start-method", method.name()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A group of its own, as a shell gives a job.
            .process_group(0);
        // SAFETY: the closure runs in the child between fork and exec,
        // where only async-signal-safe calls are allowed; `signal(2)` is
        // one, and nothing here allocates.
        unsafe {
            command.pre_exec(move || {
                libc::signal(libc::SIGHUP, disposition);
                Ok(())
            });
        }
        // Spawn: fork and exec the binary, which starts its workers.
        let child = command.spawn().expect("the binary starts");
        let group = i32::try_from(child.id()).expect("a pid");
        Self { child, group }
    }

    /// The binary's children, from `/proc`: its workers and, with the
    /// fork server, the fork server.
    fn children(&self) -> Vec<ProcessInfo> {
        let parent = self.child.id();
        processes()
            .into_iter()
            .filter(|process| process.ppid == parent)
            .collect()
    }

    /// Its workers: its children but the fork server.
    fn workers(&self) -> Vec<u32> {
        self.children()
            .into_iter()
            .filter(|process| process.name != FORKSERVER_PROCESS_NAME)
            .map(|process| process.pid)
            .collect()
    }

    /// Wait for the binary to exit (a hang guard of [`PATIENCE`]), and
    /// reap it.
    fn wait(&mut self) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("the binary can be waited for") {
                return status;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "the binary did not stop within {PATIENCE:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What it printed on stdout and stderr. Read only once nothing of its
    /// group is left: a worker alive would hold the pipes open.
    fn output(&mut self) -> (String, String) {
        let mut stdout = String::new();
        if let Some(mut pipe) = self.child.stdout.take() {
            pipe.read_to_string(&mut stdout)
                .expect("stdout can be read");
        }
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            pipe.read_to_string(&mut stderr)
                .expect("stderr can be read");
        }
        (stdout, stderr)
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
        let _ = self.child.wait();
    }
}

/// A server that holds every flag for 300 ms: a run of 40 codes on two
/// workers takes 6 s, so a hang-up always lands mid-run.
fn slow_server() -> FlagServer {
    common::start_server(Duration::from_millis(300))
}

/// Whether `pid` still exists in any form (running, stopped, zombie).
fn exists(pid: u32) -> bool {
    processes().iter().any(|process| process.pid == pid)
}

/// Start a run of 40 codes by `method`, wait until two flags are done and
/// both workers (and the fork server, with that method) run, then send
/// SIGHUP to the parent alone or to its whole group. Check the stop: exit
/// 129; a final report of what finished, with no error (no worker died of
/// the signal) and exactly the flags in `--dest`, intact; every worker and
/// the fork server seen before the signal gone from `/proc` (ended and
/// reaped, not orphaned); nothing of the group left; and nothing on
/// stderr, "Broken pipe" least of all.
fn hang_up(method: StartMethod, to_group: bool) {
    let server = slow_server();
    let dest = tempfile::tempdir().expect("a temporary folder");
    let mut run = GroupRun::start(&server, dest.path(), method, 40, HangUp::Default);
    let with_fork_server = method == StartMethod::ForkServer;
    assert!(
        wait_until(|| {
            let fork_servers = run
                .children()
                .iter()
                .filter(|process| process.name == FORKSERVER_PROCESS_NAME)
                .count();
            server.stats().by_status.get(&200).copied().unwrap_or(0) >= 2
                && run.workers().len() == 2
                && fork_servers == usize::from(with_fork_server)
        }),
        "{method}: the run never got going: {:?}",
        run.children()
    );
    let children: Vec<u32> = run.children().iter().map(|process| process.pid).collect();
    // Send the hang-up, to the parent alone or to the whole group.
    let target = if to_group { -run.group } else { run.group };
    send_signal(target, libc::SIGHUP);
    let status = run.wait();
    // The parent ended and reaped every child before it exited: none is
    // left, not even with init as its new parent. Checked before the pipes
    // are read, which a survivor would hold open.
    let survivors: Vec<u32> = children
        .iter()
        .copied()
        .filter(|pid| exists(*pid))
        .collect();
    assert!(
        survivors.is_empty(),
        "{method}: outlived the parent: {:?}",
        processes()
            .into_iter()
            .filter(|process| survivors.contains(&process.pid))
            .collect::<Vec<_>>()
    );
    let group = u32::try_from(run.group).expect("a pid");
    let left = processes_in_group(group);
    assert!(left.is_empty(), "{method}: left in the group: {left:?}");
    let (stdout, stderr) = run.output();
    assert_eq!(status.code(), Some(129), "{method}: {stdout}{stderr}");
    assert_eq!(stderr, "", "{method}: stderr");
    let counter = parse_final_report(&stdout).expect("a final report");
    assert!(counter.total() < 40, "{method}: {counter:?}");
    assert_eq!(counter.error, 0, "{method}: {stdout}");
    let saved: Vec<String> = file_names(dest.path())
        .expect("the folder can be listed")
        .into_iter()
        .map(|name| name.trim_end_matches(".gif").to_string())
        .collect();
    assert_eq!(saved.len(), counter.ok, "{method}: {saved:?}\n{stdout}");
    let saved: Vec<&str> = saved.iter().map(String::as_str).collect();
    assert_eq!(check_saved_files("hang-up", dest.path(), &saved), Ok(()));
    common::assert_no_children();
}

/// SIGHUP to the parent alone, workers forked by the fork server: the
/// parent stops them, and the fork server, itself.
#[test]
fn sighup_to_the_parent_ends_forked_workers_and_the_fork_server() {
    let _serial = common::serial();
    hang_up(StartMethod::ForkServer, false);
}

/// SIGHUP to the whole group, workers forked by the fork server: the
/// workers and the fork server take it without dying of it, and the parent
/// stops them.
#[test]
fn sighup_to_the_group_ends_forked_workers_and_the_fork_server() {
    let _serial = common::serial();
    hang_up(StartMethod::ForkServer, true);
}

/// SIGHUP to the parent alone, spawned workers.
#[test]
fn sighup_to_the_parent_ends_spawned_workers() {
    let _serial = common::serial();
    hang_up(StartMethod::Spawn, false);
}

/// SIGHUP to the whole group, spawned workers.
#[test]
fn sighup_to_the_group_ends_spawned_workers() {
    let _serial = common::serial();
    hang_up(StartMethod::Spawn, true);
}

/// Started with SIGHUP ignored, as `nohup` starts a program, the binary
/// and its workers (and fork server) keep ignoring it: a hang-up to the
/// whole group mid-run changes nothing, and the run saves every flag and
/// exits 0.
#[test]
fn a_run_under_nohup_outlives_a_hang_up() {
    let _serial = common::serial();
    let server = slow_server();
    for method in [StartMethod::ForkServer, StartMethod::Spawn] {
        let dest = tempfile::tempdir().expect("a temporary folder");
        let mut run = GroupRun::start(&server, dest.path(), method, 12, HangUp::Ignored);
        assert!(
            wait_until(|| run.workers().len() == 2),
            "{method}: the run never got going"
        );
        send_signal(-run.group, libc::SIGHUP);
        let status = run.wait();
        let (stdout, stderr) = run.output();
        assert_eq!(status.code(), Some(0), "{method}: {stdout}{stderr}");
        let counter = parse_final_report(&stdout).expect("a final report");
        assert_eq!(
            (counter.ok, counter.not_found, counter.error),
            (12, 0, 0),
            "{method}: {stdout}"
        );
        let group = u32::try_from(run.group).expect("a pid");
        assert_eq!(processes_in_group(group), Vec::<u32>::new(), "{method}");
    }
    common::assert_no_children();
}

/// A parent killed outright (SIGKILL: no handler, no clean-up) leaves its
/// workers and fork server with their pipes closed: the fork server exits
/// at once, and each worker once its current download ends (it then finds
/// its answer's pipe closed). All of them quietly: nothing on the stderr
/// they share with the dead parent, no "Broken pipe" from every worker.
#[test]
fn workers_of_a_killed_parent_exit_quietly() {
    let _serial = common::serial();
    let server = slow_server();
    for method in [StartMethod::ForkServer, StartMethod::Spawn] {
        let dest = tempfile::tempdir().expect("a temporary folder");
        let mut run = GroupRun::start(&server, dest.path(), method, 40, HangUp::Default);
        assert!(
            wait_until(
                || server.stats().by_status.get(&200).copied().unwrap_or(0) >= 2
                    && run.workers().len() == 2
            ),
            "{method}: the run never got going"
        );
        let children: Vec<u32> = run.children().iter().map(|process| process.pid).collect();
        send_signal(run.group, libc::SIGKILL);
        run.wait();
        // Orphans now: each ends by itself (a zombie until its new parent
        // reaps it), or the wait gives up after PATIENCE.
        let ended = |pid: &u32| {
            processes()
                .iter()
                .find(|process| process.pid == *pid)
                .is_none_or(|process| process.state == 'Z')
        };
        assert!(
            wait_until(|| children.iter().all(ended)),
            "{method}: orphans still running: {children:?}"
        );
        // Every holder of the stderr pipe has exited: reading it ends.
        let (_, stderr) = run.output();
        assert_eq!(stderr, "", "{method}: the orphans' stderr");
    }
    common::assert_no_children();
}

/// The hang-up checks every model binary passes (SIGHUP to the binary
/// alone, then its terminal closed under it), with spawned workers: the
/// default start method, the fork server, runs them in `cli.rs` with the
/// other binary checks.
#[test]
fn spawned_workers_keep_the_hang_up_contract() {
    let _serial = common::serial();
    let model = flags_testkit::contract::ModelBinary {
        program: std::path::Path::new(env!("CARGO_BIN_EXE_flags-process")),
        extra_args: &["--start-method", "spawn"],
    };
    assert_eq!(flags_testkit::contract::check_hangup(&model), Ok(()));
    common::assert_no_children();
}
