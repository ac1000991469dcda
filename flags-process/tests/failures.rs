//! What happens when workers fail: killed from outside, exiting, sending
//! garbage, or not being workers at all. The run goes on, one code is lost,
//! and no child process is left.

mod common;

use std::time::Duration;

use common::{CODES, job_for, start_server};
use flags_core::save::temp_prefix_of;
use flags_core::{DownloadJob, DownloadStatus, FlagOutcome, FlagResult, SetupError, StatusCounter};
use flags_process::protocol::DownloadProtocol;
use flags_process::{FAULT_ENV, ProcessPool, download_many};
use flags_server::{Delay, Fault, FlagServer, ServerConfig};
use flags_testkit::contract::check_saved_files;
use flags_testkit::process::send_signal;

/// Run a pool over every code of `job`, calling `meddle` after each
/// outcome, and return the outcomes in completion order.
fn run_pool(
    pool: &mut ProcessPool<DownloadProtocol>,
    job: &DownloadJob,
    mut meddle: impl FnMut(&ProcessPool<DownloadProtocol>),
) -> Vec<FlagOutcome> {
    for code in &job.country_codes {
        pool.submit(code.clone());
    }
    let mut outcomes = Vec::new();
    while let Some(outcome) = pool.next_outcome().expect("the pool keeps workers") {
        outcomes.push(outcome);
        meddle(pool);
    }
    outcomes
}

/// The codes of the outcomes with `status`, sorted.
fn codes_with(outcomes: &[FlagOutcome], status: DownloadStatus) -> Vec<String> {
    let mut codes: Vec<String> = outcomes
        .iter()
        .filter(|outcome| outcome.status() == status)
        .map(|outcome| outcome.country_code.clone())
        .collect();
    codes.sort();
    codes
}

/// The error message of `country_code`'s outcome; empty when it is not an
/// error.
fn error_message_of<'a>(outcomes: &'a [FlagOutcome], country_code: &str) -> &'a str {
    match outcomes
        .iter()
        .find(|outcome| outcome.country_code == country_code)
        .map(|outcome| &outcome.result)
    {
        Some(FlagResult::Error { message }) => message,
        _ => "",
    }
}

/// A worker killed with SIGKILL while it downloads CN (held 3 s by the
/// server) costs CN alone: its error names the worker, its pid and the
/// signal; its temporary file is removed; a replacement is started; every
/// other code is saved.
#[test]
fn worker_killed_mid_run_costs_one_code() {
    let _serial = common::serial();
    let mut config = ServerConfig {
        delay: Delay::Fixed(Duration::from_millis(100)),
        ..ServerConfig::default()
    };
    config
        .scripted
        .insert("cn".to_string(), vec![Fault::Delay(Duration::from_secs(3))]);
    let server = FlagServer::start(config).expect("the test server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let job = job_for(&server, dest.path(), 4);
    let mut pool =
        ProcessPool::with_command(common::worker_command(), DownloadProtocol::new(&job), 4)
            .expect("the pool starts");
    let mut victim = None;
    let outcomes = run_pool(&mut pool, &job, |pool| {
        if victim.is_some() {
            return;
        }
        // Kill the worker holding CN from outside, as `kill -9` would, once
        // the server has its request: the worker is then surely greeted
        // and mid-download.
        let holder = pool
            .busy_workers()
            .into_iter()
            .find(|(_, code)| *code == "CN");
        // (CN's scripted delay is counted as soon as its request arrives.)
        let asked = || server.stats().faults.get("delay") == Some(&1);
        if let Some((pid, _)) = holder.filter(|_| asked()) {
            // As if it were killed in the middle of a save: a temporary
            // file of its own, which the parent must remove once it has
            // reaped it (`check_saved_files` below finds any left).
            let planted = dest
                .path()
                .join(format!("{}planted.tmp", temp_prefix_of(pid)));
            std::fs::write(planted, b"GIF89a half").expect("a temporary file can be planted");
            // Kill: SIGKILL from outside, which no handler can catch.
            send_signal(i32::try_from(pid).expect("a pid"), libc::SIGKILL);
            victim = Some(pid);
        }
    });
    let victim = victim.expect("CN was held by a worker while others finished");
    assert_eq!(outcomes.len(), CODES.len());
    assert_eq!(codes_with(&outcomes, DownloadStatus::Error), ["CN"]);
    let message = error_message_of(&outcomes, "CN");
    assert!(
        message.contains(&format!("(pid {victim}) died: signal 9 (SIGKILL)")),
        "{message}"
    );
    // The dead worker was reaped and replaced: five workers were started
    // for four places.
    assert!(!pool.worker_pids().contains(&victim));
    assert_eq!(pool.started_workers(), 5);
    let saved: Vec<&str> = CODES.iter().copied().filter(|code| *code != "CN").collect();
    assert_eq!(
        check_saved_files("killed worker", dest.path(), &saved),
        Ok(())
    );
    pool.shutdown();
    common::assert_no_children();
}

/// How many flags (`.gif` files) `dest` holds.
fn flags_in(dest: &std::path::Path) -> usize {
    std::fs::read_dir(dest)
        .expect("--dest is readable")
        .filter(|entry| {
            let entry = entry.as_ref().expect("an entry");
            entry.file_name().to_string_lossy().ends_with(".gif")
        })
        .count()
}

/// Run every code twice with the worker fault hook set to `fault` (which
/// names JP): once through `download_many`, which must count exactly
/// one error, save every other flag intact, leave no `JP.gif` and no
/// temporary file, and count as OK exactly the flags on disk; and once
/// through the pool itself, to read JP's message. Whether or not the faulty
/// worker wrote JP before failing, no JP.gif appears: only the parent
/// renames a flag into place, on a valid answer. Returns JP's message;
/// leaves no child.
fn one_faulty_worker(fault: &str) -> String {
    let server = start_server(Duration::from_millis(20));
    let dest = tempfile::tempdir().expect("a temporary folder");
    let job = job_for(&server, dest.path(), 3);
    let command = common::worker_command().env(FAULT_ENV, fault);
    let counter = download_many(&job, &command).expect("the pool starts");
    let expected = StatusCounter {
        ok: CODES.len() - 1,
        not_found: 0,
        error: 1,
    };
    assert_eq!(counter, expected, "{fault}");
    // The contract: the count of OK is the number of flags written.
    assert_eq!(counter.ok, flags_in(dest.path()), "{fault}");
    let saved: Vec<&str> = CODES.iter().copied().filter(|code| *code != "JP").collect();
    // Exactly those flags, intact; no JP.gif, no temporary file.
    assert_eq!(check_saved_files(fault, dest.path(), &saved), Ok(()));

    let mut pool = ProcessPool::with_command(command, DownloadProtocol::new(&job), 3)
        .expect("the pool starts");
    let outcomes = run_pool(&mut pool, &job, |_| {});
    assert_eq!(
        codes_with(&outcomes, DownloadStatus::Error),
        ["JP"],
        "{fault}"
    );
    let message = error_message_of(&outcomes, "JP").to_string();
    drop(pool);
    common::assert_no_children();
    message
}

/// A worker that exits while it holds JP (through the fault hook) costs JP
/// alone, with its exit status in the message; the rest are downloaded.
#[test]
fn worker_exiting_mid_run_costs_one_code() {
    let _serial = common::serial();
    // The worker exits before downloading JP: no JP.gif.
    let message = one_faulty_worker("exit:JP");
    assert!(message.contains("died: exit status 3"), "{message}");
}

/// The parent commits: a worker that exits right after writing JP's
/// temporary file, before answering (through the fault hook, as a worker
/// killed there by the parent at its deadline or after Ctrl-C's grace
/// would), costs JP alone: JP is an error with the worker's exit status,
/// there is no `JP.gif` and no temporary file (the parent removes the dead
/// worker's once it has reaped it), every other code is saved and counted,
/// and the count of OK equals the number of `.gif` files.
///
/// Before the fix (protocol 2) the worker renamed `JP.gif` into place
/// itself and then answered; a worker killed between the two left a whole
/// `JP.gif` on disk that the report counted as an error: 15 OK, 16 flags.
/// Now the rename is the parent's, done when it reads the answer, so that
/// window does not exist: what a worker leaves before answering is only a
/// temporary file.
#[test]
fn worker_exiting_after_writing_leaves_no_uncounted_flag() {
    let _serial = common::serial();
    let message = one_faulty_worker("exit-after-write:JP");
    assert!(message.contains("died: exit status 3"), "{message}");
}

/// A worker that answers a malformed line for JP is killed and replaced;
/// JP is an error that says so, and every other code is saved.
#[test]
fn malformed_line_costs_one_code() {
    let _serial = common::serial();
    // The worker wrote JP, then garbled its answer: the parent cannot trust
    // a worker that broke the protocol, so it renames nothing, kills it and
    // removes its temporary file: no JP.gif.
    let message = one_faulty_worker("garble:JP");
    assert!(
        message.contains("sent a malformed line (bad status \"MAYBE\""),
        "{message}"
    );
}

/// A worker program that never greets (`cat` echoes the job line back;
/// `true` exits at once; a missing program cannot start) is a setup error
/// with a clear message, not a run of errors, and leaves no child.
#[test]
fn program_that_is_not_a_worker_is_a_setup_error() {
    let _serial = common::serial();
    let server = start_server(Duration::ZERO);
    let dest = tempfile::tempdir().expect("a temporary folder");
    let job = job_for(&server, dest.path(), 2);
    let cases = [
        ("/bin/cat", "did not greet"),
        ("/bin/true", "exited before its greeting: exit status 0"),
        (
            "/nonexistent/worker",
            "cannot start worker program /nonexistent/worker",
        ),
    ];
    // Each start method: spawned, the program is each worker; with a fork
    // server, the program is the server, and fails as one.
    let methods = [
        flags_process::StartMethod::Spawn,
        flags_process::StartMethod::ForkServer,
    ];
    for method in methods {
        for (program, expected) in cases {
            let command = flags_process::WorkerCommand::program(program).start_method(method);
            match download_many(&job, &command) {
                Err(SetupError::Start { reason, .. }) => {
                    assert!(reason.contains(expected), "{method} {program}: {reason}");
                }
                other => panic!("{method} {program}: expected a start error, got {other:?}"),
            }
            common::assert_no_children();
        }
    }
}
