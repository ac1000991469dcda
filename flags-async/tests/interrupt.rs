//! Ctrl-C on the real binary: it stops scheduling, lets what is in flight
//! finish, prints the report, exits 130, and leaves no partial file.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flags_core::save::TEMP_PREFIX;
use flags_server::{Delay, FlagServer, ServerConfig};

/// The count on the report's `N flags downloaded.` line.
fn downloaded_count(report: &str) -> Option<u64> {
    report
        .lines()
        .find(|line| line.ends_with(" downloaded."))
        .and_then(|line| line.split_whitespace().next())
        .and_then(|count| count.parse().ok())
}

/// SIGINT while 194 slow flags download 4 at a time: exit status 130, the
/// final report counts exactly the requests the server saw (each one
/// started finished and was saved), far fewer than 194, and `--dest` holds
/// exactly that many whole flags and no temporary file.
#[test]
fn sigint_stops_scheduling_and_reports_what_finished() {
    // 194 flags, 4 at a time, 0.4 s each: a run of about 20 s, stopped
    // well before its end.
    let server = FlagServer::start(ServerConfig {
        delay: Delay::Fixed(Duration::from_millis(400)),
        ..ServerConfig::default()
    })
    .expect("the server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let child = Command::new(env!("CARGO_BIN_EXE_flags-async"))
        .args([
            "-a",
            "-m",
            "4",
            "--timeout",
            "10",
            "-s",
            &server.base_url(),
            "-d",
        ])
        .arg(dest.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");

    // Wait for the first wave to reach the server: by then the binary has
    // installed its Ctrl-C handler, which it does before any request.
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.stats().requests < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits in pid_t");
    // SAFETY: `kill` has no memory-safety preconditions; `pid` is our own
    // child, which has not been waited for, so the id is still its own.
    let sent = unsafe { libc::kill(pid, libc::SIGINT) };
    assert_eq!(sent, 0, "SIGINT could not be sent");
    let output = child.wait_with_output().expect("the binary ends");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(130),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("--------------------\n"), "{stdout}");
    assert!(stdout.contains("Elapsed time: "), "{stdout}");
    let downloaded = downloaded_count(&stdout).expect("a count of flags downloaded");
    let requests = server.stats().requests;
    assert_eq!(
        downloaded, requests,
        "every request started was finished and counted"
    );
    assert!(
        (4..194).contains(&downloaded),
        "{downloaded} flags downloaded"
    );
    let names: Vec<String> = std::fs::read_dir(dest.path())
        .expect("--dest can be listed")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert!(
        !names.iter().any(|name| name.starts_with(TEMP_PREFIX)),
        "a temporary file was left: {names:?}"
    );
    assert_eq!(names.len() as u64, downloaded, "{names:?}");
}

fn model() -> flags_server::contract::ModelBinary<'static> {
    flags_server::contract::ModelBinary {
        program: std::path::Path::new(env!("CARGO_BIN_EXE_flags-async")),
        extra_args: &[],
    }
}

/// The shared Ctrl-C check every model binary passes (SIGINT to the
/// process group, as a terminal sends it).
#[test]
fn shared_interrupt_check_passes() {
    assert_eq!(flags_server::contract::check_interrupt(&model()), Ok(()));
}

/// Writes that fail (a file-size limit) are counted per flag and leave no
/// partial or temporary file.
#[test]
fn write_failures_are_counted() {
    assert_eq!(
        flags_server::contract::check_write_failure(&model()),
        Ok(())
    );
}
