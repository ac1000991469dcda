//! Workers that cannot all be started: a model under `ulimit -n` (open
//! files) or `ulimit -v` (address space) either fits its concurrency to
//! the limit and says so, or reports the workers it could not start; it
//! never aborts, never loses a flag, and its banner never states more
//! concurrency than it used.

use std::os::unix::process::CommandExt;
use std::time::Duration;

use flags_core::StatusCounter;
use flags_server::{Delay, FlagServer, ServerConfig};

use super::{ModelBinary, check_saved_files, start, temp_dir};
use crate::report::parse_final_report;

/// `-e -m 676` (676 codes, 194 flags) under a limit of 64 open files, then
/// under an address-space limit 100 MiB above the model's own size: every
/// code is counted, the banner is no more than what the server saw and the
/// limit allows, and a lowered `-m` is announced on one stderr line.
pub(crate) fn check_worker_limits(model: &ModelBinary<'_>) -> Result<(), String> {
    const OPEN_FILES: u64 = 64;
    let banner = run_limited(model, "ulimit -n 64", libc::RLIMIT_NOFILE, OPEN_FILES)?;
    if banner as u64 > OPEN_FILES {
        return Err(format!(
            "ulimit -n 64: the banner says {banner} connections, more than 64 files allow"
        ));
    }
    let size = idle_address_space(model)?;
    run_limited(
        model,
        "ulimit -v",
        libc::RLIMIT_AS,
        size + 100 * 1024 * 1024,
    )?;
    Ok(())
}

/// Run `-e -m 676` with `resource` limited to `limit`; check the run and
/// return the concurrency its banner stated.
fn run_limited(
    model: &ModelBinary<'_>,
    name: &str,
    resource: libc::__rlimit_resource_t,
    limit: u64,
) -> Result<usize, String> {
    let server = start(ServerConfig::default())?;
    let dest = temp_dir()?;
    let mut command = model.command(&server, dest.path(), &["-e", "-m", "676"]);
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls the async-signal-safe setrlimit(2).
    unsafe {
        command.pre_exec(move || {
            let value = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(resource, &value) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let output = command
        .output()
        .map_err(|error| format!("{name}: cannot run the model: {error}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let context = || {
        format!(
            "{name}: status {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            output.status
        )
    };
    if output.status.code() != Some(0) {
        return Err(format!("{} (expected exit 0)", context()));
    }
    let counter = parse_final_report(&stdout).ok_or_else(|| format!("{}: no report", context()))?;
    let expected = StatusCounter {
        ok: 194,
        not_found: 676 - 194,
        error: 0,
    };
    if counter != expected {
        return Err(format!(
            "{}: counted {counter:?}, expected {expected:?}",
            context()
        ));
    }
    let banner = banner_concurrency(&stdout).ok_or_else(|| format!("{}: no banner", context()))?;
    // A lowered `-m` is said once, with the number the banner then uses.
    let lowered: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("leaves room for"))
        .collect();
    match lowered.as_slice() {
        [] => {}
        [line] => {
            let using = line
                .split("using ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .and_then(|number| number.parse::<usize>().ok());
            if using != Some(banner) {
                return Err(format!(
                    "{}: the stderr line and the banner disagree",
                    context()
                ));
            }
        }
        _ => {
            return Err(format!(
                "{}: the limit is announced more than once",
                context()
            ));
        }
    }
    // The limit was known before the banner: no worker should then fail to
    // start, and the server never sees more requests than the banner says.
    if stderr.contains("started only") || stderr.contains("shrank") {
        return Err(format!(
            "{}: workers failed to start past the banner",
            context()
        ));
    }
    let peak = server.stats().peak_in_flight;
    if peak > banner as u64 {
        return Err(format!(
            "{}: the server saw {peak} requests at once, the banner said {banner}",
            context()
        ));
    }
    let flags: Vec<&str> = flags_core::countries::all_cc().into_iter().collect();
    check_saved_files(name, dest.path(), &flags)?;
    Ok(banner)
}

/// The concurrency of the banner's third line.
fn banner_concurrency(stdout: &str) -> Option<usize> {
    let line = stdout.lines().nth(2)?;
    if line == "1 connection will be used." {
        return Some(1);
    }
    line.strip_suffix(" concurrent connections will be used.")?
        .parse()
        .ok()
}

/// The address space the model uses while it waits on its first request
/// with `-m 1` (`VmSize` in bytes): the base the address-space limit is
/// set above, so that the check means the same in debug and release builds.
fn idle_address_space(model: &ModelBinary<'_>) -> Result<u64, String> {
    let server = FlagServer::start(ServerConfig {
        delay: Delay::Fixed(Duration::from_millis(800)),
        ..ServerConfig::default()
    })
    .map_err(|error| format!("cannot start the flag server: {error}"))?;
    let dest = temp_dir()?;
    let child = model
        .command(&server, dest.path(), &["-m", "1", "BR"])
        .spawn()
        .map_err(|error| format!("cannot run the model: {error}"))?;
    let mut child = crate::process::KillOnDrop(child);
    // Wait until the request is held by the server: the model is then at
    // its steady size.
    let waited = std::time::Instant::now();
    while server.stats().in_flight == 0 {
        if waited.elapsed() > Duration::from_secs(30) {
            return Err("the model never sent its request".to_string());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.0.id()))
        .map_err(|error| format!("cannot read the model's /proc status: {error}"))?;
    let size = flags_core::limits::proc_status_field(&status, "VmSize:")
        .ok_or_else(|| "no VmSize in /proc status".to_string())?;
    let _ = child.0.wait();
    Ok(size * 1024)
}
