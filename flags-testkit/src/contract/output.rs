//! Output that cannot be written never makes a model panic: a closed pipe
//! on stdout, a full device on stderr. The exit status still says what
//! happened (0 for help, 2 for a usage error, 1 for an unreachable server).

use std::fs::File;
use std::process::{Command, Stdio};

use super::{ModelBinary, temp_dir};

/// Run the binary with `args`, stdout and stderr as given; its exit code
/// and whatever it printed (for a panic message).
fn run(
    model: &ModelBinary<'_>,
    args: &[&str],
    stdout: Stdio,
    stderr: Stdio,
) -> Result<Option<i32>, String> {
    let status = Command::new(model.program)
        .args(model.extra_args)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .status()
        .map_err(|error| format!("cannot run {}: {error}", model.program.display()))?;
    Ok(status.code())
}

fn full() -> Result<Stdio, String> {
    File::options()
        .write(true)
        .open("/dev/full")
        .map(Stdio::from)
        .map_err(|error| format!("cannot open /dev/full: {error}"))
}

/// `--help` into a closed pipe, a usage error, an unreachable server and a
/// bad `--dest` with stderr on a full device: each keeps its exit status
/// (a panic would be 101).
pub(crate) fn check_unwritable_output(model: &ModelBinary<'_>) -> Result<(), String> {
    // A pipe whose reading end is closed before the model writes: the
    // model's write fails with EPIPE (Rust ignores SIGPIPE).
    let mut child = Command::new(model.program)
        .args(model.extra_args)
        .arg("--help")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot run {}: {error}", model.program.display()))?;
    drop(child.stdout.take());
    let help = child.wait().map_err(|error| error.to_string())?;
    if help.code() != Some(0) {
        return Err(format!(
            "--help into a closed pipe: exit status {help}, expected 0"
        ));
    }
    let usage = run(model, &["-l", "0"], Stdio::null(), full()?)?;
    if usage != Some(2) {
        return Err(format!("-l 0 with stderr full: exit {usage:?}, expected 2"));
    }
    let unreachable = run(
        model,
        &["-s", "http://127.0.0.1:9/flags", "BR"],
        full()?,
        full()?,
    )?;
    if unreachable != Some(1) {
        return Err(format!(
            "unreachable server with output full: exit {unreachable:?}, expected 1"
        ));
    }
    // A `--dest` that is a file, not a folder.
    let dir = temp_dir()?;
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").map_err(|error| error.to_string())?;
    let file_text = file.to_string_lossy().into_owned();
    let bad_dest = run(model, &["-d", file_text.as_str(), "BR"], full()?, full()?)?;
    if bad_dest != Some(2) {
        return Err(format!(
            "bad --dest with output full: exit {bad_dest:?}, expected 2"
        ));
    }
    Ok(())
}

/// A password in `-s` is never printed: not in the site line (it reads
/// `***`), not in `-v` lines, not in error messages, whatever fails.
pub(crate) fn check_password_hidden(model: &ModelBinary<'_>) -> Result<(), String> {
    use flags_server::{Fault, ServerConfig};

    let mut config = ServerConfig::default();
    config.scripted.insert("gh".to_string(), vec![Fault::Drop]);
    config
        .scripted
        .insert("eg".to_string(), vec![Fault::Status(500)]);
    let server = super::start(config)?;
    let dest = temp_dir()?;
    let url = format!("http://ann:s3cret@{}/flags", server.addr());
    let output = Command::new(model.program)
        .args(model.extra_args)
        .args(["-s", url.as_str(), "-v", "-d"])
        .arg(dest.path())
        .args(["BR", "EG", "GH", "ZZ"])
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run {}: {error}", model.program.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stdout.contains("s3cret") || stderr.contains("s3cret") {
        return Err(format!(
            "the password was printed:\n{stdout}\nstderr:\n{stderr}"
        ));
    }
    let site = format!("URL site: http://ann:***@{}/flags", server.addr());
    if stdout.lines().next() != Some(site.as_str()) {
        return Err(format!("no line {site:?} first in\n{stdout}"));
    }
    // The run itself went on as usual: errors for EG and GH, exit 1.
    if output.status.code() != Some(1) {
        return Err(format!("exit status {}, expected 1", output.status));
    }
    Ok(())
}
