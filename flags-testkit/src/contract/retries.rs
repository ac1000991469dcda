//! Retries that respect the server: `Retry-After: 0` does not shorten the
//! exponential backoff, and Ctrl-C ends a backoff wait at once.

use std::time::{Duration, Instant};

use flags_core::{StatusCounter, Variant};
use flags_server::{Fault, ServerConfig};

use super::{ModelBinary, expect_counter, job_for, start, temp_dir};
#[cfg(unix)]
use crate::report::parse_final_report;

/// A server that always answers `503` with `Retry-After: 0`, and
/// `--retries 4`: exactly 5 requests, and at least the backoff's least
/// waits between them (25 + 50 + 100 + 200 ms: half of each doubling
/// ceiling, the jitter's floor), not a tight loop.
pub(crate) fn check_retry_after_floor(variant: &Variant, max_req: usize) -> Result<(), String> {
    let scenario = "Retry-After: 0";
    let mut config = ServerConfig::default();
    config
        .scripted
        .insert("br".to_string(), vec![Fault::Status(503); 10]);
    let server = start(config)?;
    let dest = temp_dir()?;
    let mut job = job_for(&["BR"], &server, dest.path(), max_req);
    job.retries = 4;
    let started = Instant::now();
    let expected = StatusCounter {
        error: 1,
        ..StatusCounter::default()
    };
    expect_counter(scenario, variant.download_many(&job), expected)?;
    let elapsed = started.elapsed();
    let requests = server.request_log().len();
    if requests != 5 {
        return Err(format!("{scenario}: {requests} requests, expected 5"));
    }
    let least = Duration::from_millis(25 + 50 + 100 + 200);
    if elapsed < least {
        return Err(format!(
            "{scenario}: 5 attempts in {elapsed:?}: the backoff was shortened (at least {least:?})"
        ));
    }
    Ok(())
}

/// Ctrl-C while a model waits to retry (the server said `503` with
/// `Retry-After: 10`, so the wait is the 5 s cap): the run ends well
/// before the wait would, with exit 130, the code counted as the error it
/// was, no file, and no process left.
#[cfg(unix)]
pub(crate) fn check_interrupt_in_backoff(model: &ModelBinary<'_>) -> Result<(), String> {
    use std::os::unix::process::CommandExt;

    let scenario = "Ctrl-C in a backoff";
    let mut config = ServerConfig::default();
    config
        .scripted
        .insert("br".to_string(), vec![Fault::Busy(10); 5]);
    let server = start(config)?;
    let dest = temp_dir()?;
    let mut command = model.command(&server, dest.path(), &["--retries", "3", "BR"]);
    // Its own process group, so the SIGINT reaches the model and any
    // worker it started, as a terminal's Ctrl-C does.
    command.process_group(0);
    let child = command
        .spawn()
        .map_err(|error| format!("{scenario}: cannot start the model: {error}"))?;
    let mut child = crate::process::KillOnDrop(child);
    let group = i32::try_from(child.0.id()).map_err(|error| error.to_string())?;
    // Wait for the first answer: from then on the model waits 5 s.
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.request_log().is_empty() {
        if Instant::now() > deadline {
            return Err(format!("{scenario}: the model never asked for BR"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // Let the answer reach the model and its wait begin.
    let answered = Instant::now();
    std::thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    // SAFETY: kill(2) with a negative pid signals a process group; it has
    // no memory-safety requirement.
    unsafe { libc::kill(-group, libc::SIGINT) };
    let status = loop {
        match child.0.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if signalled.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => return Err(format!("{scenario}: still running 10 s after Ctrl-C")),
        }
    };
    let took = signalled.elapsed();
    // Not a speed check: a model that waited its backoff out cannot end
    // before that backoff (5 s from the answer, which came before
    // `answered`) is over, however fast the machine. Ending sooner shows
    // the wait was cut short; how soon (about 20 ms) is measured, not
    // asserted.
    let backoff_end = answered + Duration::from_secs(5);
    if signalled + took >= backoff_end {
        return Err(format!(
            "{scenario}: the model stopped {took:?} after Ctrl-C, not before its 5 s backoff ended"
        ));
    }
    if status.code() != Some(130) {
        return Err(format!("{scenario}: exit status {status}, expected 130"));
    }
    let mut stdout = String::new();
    if let Some(mut pipe) = child.0.stdout.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stdout)
            .map_err(|error| format!("{scenario}: {error}"))?;
    }
    let counter = parse_final_report(&stdout)
        .ok_or_else(|| format!("{scenario}: no final report on stdout:\n{stdout}"))?;
    let expected = StatusCounter {
        error: 1,
        ..StatusCounter::default()
    };
    if counter != expected {
        return Err(format!(
            "{scenario}: counted {counter:?}, expected {expected:?}"
        ));
    }
    if server.request_log().len() != 1 {
        return Err(format!(
            "{scenario}: {} requests: a retry was sent after Ctrl-C",
            server.request_log().len()
        ));
    }
    super::check_saved_files(scenario, dest.path(), &[])
}
