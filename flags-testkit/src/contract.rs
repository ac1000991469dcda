//! The contract every model must keep, as one reusable check.
//!
//! Each model crate's `tests/contract.rs` calls [`check_model`] with each
//! of its variants (a [`Variant`]: the model, through the one
//! [`flags_core::Model`] interface, with some of its options set); the
//! same servers, codes, faults and
//! expectations are used for all of them, so "same totals" means the same
//! thing everywhere.
//!
//! The checks run real HTTP against [`FlagServer`]s on `127.0.0.1:0` and
//! save into temporary folders. They return a description of the first
//! broken promise instead of panicking, so a test reads
//! `assert_eq!(check_model(..), Ok(()))`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use flags_core::save::{TEMP_PREFIX, flag_file_name};
use flags_core::{DownloadJob, SetupError, StatusCounter, Variant};
use flags_server::{Delay, Fault, FlagServer, ServerConfig, builtin_flag};

#[cfg(unix)]
use crate::report::parse_final_report;

mod faults;
mod io_threads;
#[cfg(target_os = "linux")]
mod limits;
#[cfg(unix)]
mod output;
mod retries;
mod shapes;
#[cfg(unix)]
mod signals;
mod tls;

pub use faults::{Client, check_fault_matrix};
pub use io_threads::{IoThreads, check_io_threads};
#[cfg(unix)]
use output::{check_password_hidden, check_unwritable_output};
#[cfg(unix)]
use retries::check_interrupt_in_backoff;
use retries::check_retry_after_floor;
pub use shapes::check_fresh_hangup;
use shapes::{check_closing_server, check_redirects_and_chunked, check_wrong_bodies};
#[cfg(unix)]
pub use signals::check_hangup;
pub use tls::{check_tls, check_tls_binary};

/// Real flags every scenario downloads successfully.
pub(crate) const GOOD_CODES: [&str; 8] = ["BR", "CN", "DE", "IN", "JP", "NG", "US", "VN"];
/// Codes no server has: 404, not found.
pub(crate) const MISSING_CODES: [&str; 3] = ["QQ", "XA", "ZZ"];
/// Real flags the mixed scenario faults, each with its fault.
pub(crate) fn faulted_codes(timeout: Duration) -> Vec<(&'static str, Fault)> {
    vec![
        ("AR", Fault::Status(418)),
        ("BD", Fault::Status(500)),
        ("CA", Fault::Delay(timeout * 4)),
        ("EG", Fault::Truncate),
        ("FR", Fault::Huge),
        ("GH", Fault::Drop),
    ]
}

/// Run every scenario of the contract on one model. `max_req` is the
/// concurrency the model is asked for; `model_max` is the most the model
/// ever uses (1 for the sequential model).
pub fn check_model(variant: &Variant, max_req: usize, model_max: usize) -> Result<(), String> {
    check_mixed_outcomes(variant, max_req)?;
    check_peak_concurrency(variant, max_req, model_max)?;
    check_retries(variant, max_req)?;
    check_overwrite(variant, max_req)?;
    check_redirects_and_chunked(variant, max_req)?;
    check_wrong_bodies(variant, max_req)?;
    check_retry_after_floor(variant, max_req)?;
    check_closing_server(variant, max_req)?;
    Ok(())
}

fn temp_dir() -> Result<tempfile::TempDir, String> {
    tempfile::tempdir().map_err(|error| format!("cannot make a temporary folder: {error}"))
}

fn start(config: ServerConfig) -> Result<FlagServer, String> {
    FlagServer::start(config).map_err(|error| format!("cannot start the flag server: {error}"))
}

fn job_for(codes: &[&str], server: &FlagServer, dest: &Path, max_req: usize) -> DownloadJob {
    let mut codes: Vec<String> = codes.iter().map(|code| code.to_string()).collect();
    codes.sort();
    DownloadJob::new(codes, server.base_url(), dest).with_max_req(max_req)
}

fn expect_counter(
    scenario: &str,
    got: Result<StatusCounter, SetupError>,
    expected: StatusCounter,
) -> Result<(), String> {
    match got {
        Ok(counter) if counter == expected => Ok(()),
        Ok(counter) => Err(format!(
            "{scenario}: counted {counter:?}, expected {expected:?}"
        )),
        Err(error) => Err(format!(
            "{scenario}: download_many failed to start: {error}"
        )),
    }
}

/// Check that `dest` holds exactly the flags of `codes`, each byte-identical
/// to the built-in image, and nothing else: no temporary, partial or empty
/// file.
pub fn check_saved_files(scenario: &str, dest: &Path, codes: &[&str]) -> Result<(), String> {
    let mut expected: BTreeMap<String, &[u8]> = BTreeMap::new();
    for code in codes {
        let image = builtin_flag(code).ok_or_else(|| format!("{code} has no built-in flag"))?;
        expected.insert(flag_file_name(code), image);
    }
    let entries = std::fs::read_dir(dest).map_err(|error| format!("{scenario}: {error}"))?;
    let mut found = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(|error| format!("{scenario}: {error}"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(TEMP_PREFIX) {
            return Err(format!("{scenario}: temporary file {name} left in --dest"));
        }
        let bytes = std::fs::read(entry.path()).map_err(|error| format!("{scenario}: {error}"))?;
        found.insert(name, bytes);
    }
    let found_names: Vec<&String> = found.keys().collect();
    let expected_names: Vec<&String> = expected.keys().collect();
    if found_names != expected_names {
        return Err(format!(
            "{scenario}: --dest holds {found_names:?}, expected {expected_names:?}"
        ));
    }
    for (name, bytes) in &found {
        if expected.get(name).is_none_or(|image| image != bytes) {
            return Err(format!(
                "{scenario}: {name} differs from what the server served"
            ));
        }
    }
    Ok(())
}

/// 200s, 404s, and one of each fault: the counts add up, errors are exactly
/// the faulted codes, and only the good flags are saved, intact.
pub(crate) fn check_mixed_outcomes(variant: &Variant, max_req: usize) -> Result<(), String> {
    let timeout = Duration::from_millis(600);
    let faulted = faulted_codes(timeout);
    let mut config = ServerConfig::default();
    for (code, fault) in &faulted {
        // The same fault for every attempt: these codes always fail.
        config
            .scripted
            .insert(code.to_ascii_lowercase(), vec![*fault; 10]);
    }
    let server = start(config)?;
    let dest = temp_dir()?;
    let mut codes: Vec<&str> = GOOD_CODES.to_vec();
    codes.extend(MISSING_CODES);
    codes.extend(faulted.iter().map(|(code, _)| *code));
    let mut job = job_for(&codes, &server, dest.path(), max_req);
    job.timeout = timeout;
    let expected = StatusCounter {
        ok: GOOD_CODES.len(),
        not_found: MISSING_CODES.len(),
        error: faulted.len(),
    };
    expect_counter("mixed outcomes", variant.download_many(&job), expected)?;
    check_saved_files("mixed outcomes", dest.path(), &GOOD_CODES)?;
    let stats = server.stats();
    if stats.requests != codes.len() as u64 {
        return Err(format!(
            "mixed outcomes: the server saw {} requests for {} codes with no retry",
            stats.requests,
            codes.len()
        ));
    }
    Ok(())
}

/// With a delay and more codes than `max_req`, the server sees exactly
/// min(`max_req`, `model_max`) requests at once: the model uses the
/// concurrency it was given, no less and no more.
pub fn check_peak_concurrency(
    variant: &Variant,
    max_req: usize,
    model_max: usize,
) -> Result<(), String> {
    let config = ServerConfig {
        delay: Delay::Fixed(Duration::from_millis(200)),
        ..ServerConfig::default()
    };
    let server = start(config)?;
    let dest = temp_dir()?;
    let expected_peak = max_req.min(model_max);
    // Three waves' worth of work, so the pool is full for a while.
    let codes: Vec<&str> = flags_core::countries::all_cc()
        .into_iter()
        .take(expected_peak * 3)
        .collect();
    let job = job_for(&codes, &server, dest.path(), max_req);
    let expected = StatusCounter {
        ok: codes.len(),
        ..StatusCounter::default()
    };
    expect_counter("peak concurrency", variant.download_many(&job), expected)?;
    check_saved_files("peak concurrency", dest.path(), &codes)?;
    let peak = server.stats().peak_in_flight;
    if peak != expected_peak as u64 {
        return Err(format!(
            "peak concurrency: the server saw {peak} requests at once, expected {expected_peak}"
        ));
    }
    Ok(())
}

/// `--retries 3` turns a flaky flag (two 503s, then 200) into a success,
/// and a 404 is asked for once only.
pub(crate) fn check_retries(variant: &Variant, max_req: usize) -> Result<(), String> {
    let mut config = ServerConfig::default();
    config.scripted.insert(
        "br".to_string(),
        vec![Fault::Status(503), Fault::Status(503)],
    );
    config.scripted.insert("jp".to_string(), vec![Fault::Drop]);
    let server = start(config)?;
    let dest = temp_dir()?;
    let codes = ["BR", "JP", "US", "ZZ"];
    let mut job = job_for(&codes, &server, dest.path(), max_req);
    job.retries = 3;
    let expected = StatusCounter {
        ok: 3,
        not_found: 1,
        error: 0,
    };
    expect_counter("retries", variant.download_many(&job), expected)?;
    check_saved_files("retries", dest.path(), &["BR", "JP", "US"])?;
    let log = server.request_log();
    let asked = |code: &str| {
        log.iter()
            .filter(|record| record.path.ends_with(&format!("/{code}.gif")))
            .count()
    };
    let counts = (asked("br"), asked("jp"), asked("us"), asked("zz"));
    if counts != (3, 2, 1, 1) {
        return Err(format!(
            "retries: requests per code (br, jp, us, zz) were {counts:?}, expected (3, 2, 1, 1)"
        ));
    }
    Ok(())
}

/// A second run over the same folder replaces the flags with whole new
/// copies and leaves nothing else behind.
pub(crate) fn check_overwrite(variant: &Variant, max_req: usize) -> Result<(), String> {
    let server = start(ServerConfig::default())?;
    let dest = temp_dir()?;
    let codes = ["BR", "CN"];
    std::fs::write(dest.path().join("BR.gif"), b"stale")
        .map_err(|error| format!("overwrite: {error}"))?;
    let job = job_for(&codes, &server, dest.path(), max_req);
    let expected = StatusCounter {
        ok: 2,
        ..StatusCounter::default()
    };
    expect_counter("overwrite", variant.download_many(&job), expected)?;
    check_saved_files("overwrite", dest.path(), &codes)
}

/// What a model binary is run with in the binary checks: its path and the
/// options it needs besides the common ones.
#[derive(Debug, Clone)]
pub struct ModelBinary<'a> {
    /// The executable, e.g. `env!("CARGO_BIN_EXE_flags-seq")`.
    pub program: &'a Path,
    /// Extra arguments, e.g. `["--executor", "rayon"]`.
    pub extra_args: &'a [&'a str],
}

impl ModelBinary<'_> {
    fn command(&self, server: &FlagServer, dest: &Path, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(self.program);
        command
            .args(self.extra_args)
            .arg("--server")
            .arg(server.base_url())
            .arg("--dest")
            .arg(dest)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    }
}

/// Ctrl-C in the middle of a run, as a terminal sends it (SIGINT to the
/// whole process group): exit 130, a final report for what finished, no
/// partial or temporary file, every saved flag intact, no process of the
/// group left behind, and no "Broken pipe" said
/// ([`signals::check_stop_signal`] with [`signals::CTRL_C`]).
#[cfg(unix)]
pub(crate) fn check_interrupt(model: &ModelBinary<'_>) -> Result<(), String> {
    signals::check_stop_signal(model, &signals::CTRL_C)
}

/// A destination where writes fail (a file-size limit of 2000 bytes, the
/// "disk full" a test can make without privileges): every flag larger than
/// that is an error, the smaller ones are saved, no partial or temporary
/// file is left, and the run ends with exit status 1.
#[cfg(unix)]
pub(crate) fn check_write_failure(model: &ModelBinary<'_>) -> Result<(), String> {
    use std::os::unix::process::CommandExt;

    const LIMIT: u64 = 2000;
    let server = start(ServerConfig::default())?;
    let dest = temp_dir()?;
    let codes: Vec<&str> = flags_core::countries::all_cc()
        .into_iter()
        .take(30)
        .collect();
    let mut args = vec!["-m", "4"];
    args.extend(&codes);
    let mut command = model.command(&server, dest.path(), &args);
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls the async-signal-safe setrlimit(2) and signal(2).
    unsafe {
        command.pre_exec(|| {
            // Writing past the limit fails with EFBIG instead of killing the
            // process with SIGXFSZ, because the signal is ignored.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: LIMIT,
                rlim_max: LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let output = command
        .output()
        .map_err(|error| format!("write failure: cannot run the model: {error}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let small: Vec<&str> = codes
        .iter()
        .copied()
        .filter(|code| builtin_flag(code).is_some_and(|image| image.len() as u64 <= LIMIT))
        .collect();
    let expected = StatusCounter {
        ok: small.len(),
        not_found: 0,
        error: codes.len() - small.len(),
    };
    let counter = parse_final_report(&stdout)
        .ok_or_else(|| format!("write failure: no final report on stdout:\n{stdout}"))?;
    if counter != expected {
        return Err(format!(
            "write failure: counted {counter:?}, expected {expected:?}"
        ));
    }
    if output.status.code() != Some(1) {
        return Err(format!(
            "write failure: exit status {}, expected 1",
            output.status
        ));
    }
    check_saved_files("write failure", dest.path(), &small)
}

/// Load: every code `AA..ZZ` (676) at once (`-e -m 1000`) against a
/// delayed server: no error, no refused connection, and the server sees all
/// 676 requests in flight together.
///
/// The delay is 3 s rather than the 0.2 s of the release measurements: a
/// debug build on a loaded 2-core machine (the workspace's other tests
/// running beside it) may need more than a second to start 676 threads and
/// open 676 connections, and then the first requests end before the last
/// start, which says nothing about the model. The check is the same: every
/// request in flight at once.
pub fn check_load(variant: &Variant) -> Result<(), String> {
    let config = ServerConfig {
        delay: Delay::Fixed(Duration::from_secs(3)),
        ..ServerConfig::default()
    };
    let server = start(config)?;
    let dest = temp_dir()?;
    let codes = flags_core::countries::every_cc();
    let mut job =
        DownloadJob::new(codes.clone(), server.base_url(), dest.path()).with_max_req(1000);
    // The model caps -m at the number of codes, as `run` does.
    job.max_req = job.max_req.min(codes.len());
    // Starting 676 connections on a loaded machine takes a while: the
    // timeout is there to catch a hang, not to measure.
    job.timeout = Duration::from_secs(30);
    let all = flags_core::countries::all_cc();
    let expected = StatusCounter {
        ok: all.len(),
        not_found: codes.len() - all.len(),
        error: 0,
    };
    expect_counter("load", variant.download_many(&job), expected)?;
    check_saved_files("load", dest.path(), &all)?;
    let peak = server.stats().peak_in_flight;
    if peak != codes.len() as u64 {
        return Err(format!(
            "load: the server saw at most {peak} requests at once, expected {}",
            codes.len()
        ));
    }
    Ok(())
}

/// Every check of a model binary as a user runs it: Ctrl-C
/// (`check_interrupt`), a hang-up ([`check_hangup`]), Ctrl-C during a
/// backoff wait
/// (`check_interrupt_in_backoff`), output that cannot be written
/// (`check_unwritable_output`), a password in `-s`
/// (`check_password_hidden`), failing writes (`check_write_failure`)
/// and process limits that leave room for fewer workers than asked
/// (`limits::check_worker_limits`, on Linux).
#[cfg(unix)]
pub fn check_binary(model: &ModelBinary<'_>) -> Result<(), String> {
    check_interrupt(model)?;
    check_hangup(model)?;
    check_interrupt_in_backoff(model)?;
    check_unwritable_output(model)?;
    check_password_hidden(model)?;
    #[cfg(target_os = "linux")]
    limits::check_worker_limits(model)?;
    check_write_failure(model)
}
