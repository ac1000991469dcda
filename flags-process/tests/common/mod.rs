//! What the test files share: the worker program, a lock so that the tests
//! of one file start their children one test at a time, and a `/proc` scan
//! (through `flags_testkit::process::processes`) that shows no child
//! process is left behind. Signals are sent with
//! `flags_testkit::process::send_signal`.

#![allow(dead_code)] // Each test file uses its own part of this module.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use flags_core::{DownloadJob, DownloadStatus, FlagOutcome, FlagResult};
use flags_process::WorkerCommand;
use flags_server::{Delay, FlagServer, ServerConfig};
use flags_testkit::contract::ModelBinary;
use flags_testkit::process::{ProcessInfo, processes};

/// The worker program: the `flags-process` binary. Integration tests run in
/// the libtest harness, which cannot be re-run as a worker.
pub fn worker_command() -> WorkerCommand {
    WorkerCommand::program(env!("CARGO_BIN_EXE_flags-process"))
}

/// The `flags-process` binary, for the binary checks of
/// `flags_testkit::contract`.
pub fn model_binary() -> ModelBinary<'static> {
    ModelBinary {
        program: std::path::Path::new(env!("CARGO_BIN_EXE_flags-process")),
        extra_args: &[],
    }
}

/// One test at a time in a file: tests in one binary run on parallel
/// threads of one process, and "no child left" must not see the children of
/// a test running next to it.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The children of this test process, zombies included.
pub fn children_of_this_process() -> Vec<ProcessInfo> {
    let me = std::process::id();
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

/// The message of the one error among `outcomes`, which must be
/// `country_code`'s: every other code ended well.
pub fn only_error<'a>(outcomes: &'a [FlagOutcome], country_code: &str) -> &'a str {
    let errors: Vec<&FlagOutcome> = outcomes
        .iter()
        .filter(|outcome| outcome.status() != DownloadStatus::Ok)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].country_code, country_code);
    match &errors[0].result {
        FlagResult::Error { message } => message,
        other => panic!("{country_code}: an error, not {other:?}"),
    }
}

/// Sixteen real flags, sorted: the codes of the pool tests.
pub const CODES: [&str; 16] = [
    "BR", "CN", "DE", "EG", "ET", "FR", "ID", "IN", "JP", "MX", "NG", "PH", "PK", "RU", "TR", "US",
];

/// A job over [`CODES`] against `server`, saving into `dest`, with
/// `max_req` workers.
pub fn job_for(server: &FlagServer, dest: &std::path::Path, max_req: usize) -> DownloadJob {
    let codes = CODES.iter().map(|code| code.to_string()).collect();
    DownloadJob::new(codes, server.base_url(), dest).with_max_req(max_req)
}

/// An in-process flag server that answers after `delay`.
pub fn start_server(delay: Duration) -> FlagServer {
    let config = ServerConfig {
        delay: Delay::Fixed(delay),
        ..ServerConfig::default()
    };
    FlagServer::start(config).expect("the test server starts")
}

/// How long the tests wait for a condition before they give up: generous,
/// since the machine may be busy compiling.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Wait until `condition` holds, checking every 10 ms; `false` if it still
/// does not after [`PATIENCE`].
pub fn wait_until(mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < PATIENCE {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}
