//! The worker loop, run in this process over in-memory input and output:
//! what a worker answers, that it writes each flag to a temporary file and
//! renames nothing (the parent commits), and that it inherits `--timeout`
//! and `--retries` through the `JOB` line.

use std::io::{self, Cursor, Write};
use std::path::Path;
use std::time::Duration;

use flags_core::DownloadJob;
use flags_core::save::{TEMP_PREFIX, commit, temp_prefix_of};
use flags_process::protocol::{Answer, JobSettings, Request, parse_answer};
use flags_process::{WorkerError, WorkerFault, serve};
use flags_server::{Fault, FlagServer, ServerConfig, builtin_flag};

/// The input a parent would send: the job line, then one `GET` per code.
fn requests(job: &DownloadJob, codes: &[&str]) -> String {
    let mut input = Request::Job(JobSettings::from_job(job)).to_line() + "\n";
    for code in codes {
        input += &(Request::Get(code.to_string()).to_line() + "\n");
    }
    input
}

/// Serve `input` and return the worker's output lines.
fn serve_lines(input: &str, fault: &WorkerFault) -> (Result<(), WorkerError>, Vec<String>) {
    let mut output = Vec::new();
    let result = serve(Cursor::new(input.as_bytes()), &mut output, fault);
    let text = String::from_utf8(output).expect("the worker writes UTF-8");
    (result, text.lines().map(String::from).collect())
}

/// The names in `dest`, sorted.
fn names_in(dest: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dest)
        .expect("the folder is readable")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// A worker greets first, answers each `GET` with one `DONE` line, and
/// returns at end of input. An OK names the temporary file the flag was
/// written to, whole, and renamed to nothing: no `BR.gif` until the parent
/// commits it. (With protocol 2 the worker renamed it itself before
/// answering, and `BR.gif` was there already.)
#[test]
fn worker_greets_then_answers_each_code() {
    let server = FlagServer::start(ServerConfig::default()).expect("the test server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let job = DownloadJob::new(Vec::new(), server.base_url(), dest.path());
    let (result, lines) = serve_lines(&requests(&job, &["BR", "ZZ"]), &WorkerFault::None);
    assert!(result.is_ok(), "{result:?}");
    let image = builtin_flag("BR").expect("a built-in flag");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0], "HELLO flags-process 4");
    // This process is the worker: its temporary files carry its pid.
    let pid = std::process::id();
    let temp_name = match parse_answer(pid, "BR", &lines[1]) {
        Ok(Answer::Written { bytes, temp_name }) => {
            assert_eq!(bytes, image.len() as u64);
            temp_name
        }
        other => panic!("{:?}: {other:?}", lines[1]),
    };
    assert_eq!(lines[1], format!("DONE BR OK {} {temp_name}", image.len()));
    assert!(temp_name.starts_with(&temp_prefix_of(pid)), "{temp_name}");
    assert_eq!(lines[2], "DONE ZZ NOT_FOUND 0");
    // Written in full under its temporary name; nothing renamed.
    assert_eq!(names_in(dest.path()), [temp_name.as_str()]);
    let written = std::fs::read(dest.path().join(&temp_name)).expect("the temporary file");
    assert_eq!(written, image);
    // What the parent does on reading the answer.
    commit(dest.path(), &temp_name, "BR.gif").expect("the parent commits");
    assert_eq!(names_in(dest.path()), ["BR.gif"]);
}

/// Output that fails: the parent is gone.
struct BrokenPipe;

impl Write for BrokenPipe {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::from(io::ErrorKind::BrokenPipe))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Output that takes the greeting, then fails: the parent died after
/// starting the worker.
struct BreaksAfterGreeting(usize);

impl Write for BreaksAfterGreeting {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return BrokenPipe.write(bytes);
        }
        if bytes.ends_with(b"\n") {
            self.0 -= 1;
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A worker that cannot answer (its parent is gone) removes the temporary
/// file it wrote: nobody is left to commit it, and no file is left that
/// nobody counted.
#[test]
fn worker_that_cannot_answer_leaves_no_file() {
    let server = FlagServer::start(ServerConfig::default()).expect("the test server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let job = DownloadJob::new(Vec::new(), server.base_url(), dest.path());
    let input = requests(&job, &["BR"]);
    let result = serve(
        Cursor::new(input.as_bytes()),
        BreaksAfterGreeting(1),
        &WorkerFault::None,
    );
    assert!(matches!(result, Err(WorkerError::Io(_))), "{result:?}");
    // The flag was downloaded (the server saw it), and nothing is left.
    assert_eq!(server.stats().requests, 1);
    assert!(
        names_in(dest.path()).is_empty(),
        "{:?}",
        names_in(dest.path())
    );
    // Not even the greeting goes: the worker stops at once.
    let result = serve(
        Cursor::new(input.as_bytes()),
        BrokenPipe,
        &WorkerFault::None,
    );
    assert!(matches!(result, Err(WorkerError::Io(_))), "{result:?}");
    assert!(names_in(dest.path()).is_empty());
}

/// `--retries 3` reaches the worker: a flag that fails twice with 503 is
/// fetched three times and saved.
#[test]
fn worker_inherits_retries() {
    let mut config = ServerConfig::default();
    config.scripted.insert(
        "br".to_string(),
        vec![Fault::Status(503), Fault::Status(503)],
    );
    let server = FlagServer::start(config).expect("the test server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let mut job = DownloadJob::new(Vec::new(), server.base_url(), dest.path());
    job.retries = 3;
    let (result, lines) = serve_lines(&requests(&job, &["BR"]), &WorkerFault::None);
    assert!(result.is_ok(), "{result:?}");
    assert!(lines[1].starts_with("DONE BR OK "), "{lines:?}");
    assert_eq!(server.stats().requests, 3);
}

/// `--timeout` reaches the worker: with 0.2 s, a flag delayed 2 s is an
/// error that says it timed out.
#[test]
fn worker_inherits_timeout() {
    let mut config = ServerConfig::default();
    config
        .scripted
        .insert("cn".to_string(), vec![Fault::Delay(Duration::from_secs(2))]);
    let server = FlagServer::start(config).expect("the test server starts");
    let dest = tempfile::tempdir().expect("a temporary folder");
    let mut job = DownloadJob::new(Vec::new(), server.base_url(), dest.path());
    job.timeout = Duration::from_millis(200);
    let (result, lines) = serve_lines(&requests(&job, &["CN"]), &WorkerFault::None);
    assert!(result.is_ok(), "{result:?}");
    assert!(lines[1].starts_with("DONE CN ERROR 0 "), "{lines:?}");
    assert!(lines[1].contains("timed out"), "{lines:?}");
    assert!(names_in(dest.path()).is_empty());
}

/// A `GET` before the `JOB` line, or a line that is no request, stops the
/// worker with an error (the parent then sees it die).
#[test]
fn worker_refuses_bad_requests() {
    let (result, lines) = serve_lines("GET BR\n", &WorkerFault::None);
    assert!(matches!(result, Err(WorkerError::NoJob)), "{result:?}");
    assert_eq!(lines, ["HELLO flags-process 4"]);
    let (result, _) = serve_lines("PUT BR\n", &WorkerFault::None);
    assert!(
        matches!(result, Err(WorkerError::Protocol(_))),
        "{result:?}"
    );
}

/// The temporary files in `dest`, sorted.
fn temporary_files_in(dest: &Path) -> Vec<String> {
    let mut names = names_in(dest);
    names.retain(|name| name.starts_with(TEMP_PREFIX));
    names
}

/// The fault hooks do what the failure tests rely on: `garble` answers a
/// line with a bad status, `exit` stops before downloading,
/// `exit-after-write` stops after writing the temporary file and before
/// answering, and leaves the file (as a worker killed there would).
#[test]
fn fault_hooks_misbehave_on_their_code_only() {
    let server = FlagServer::start(ServerConfig::default()).expect("the test server starts");
    let input_for = |dest: &Path| {
        let job = DownloadJob::new(Vec::new(), server.base_url(), dest);
        requests(&job, &["BR", "JP"])
    };
    let dest = tempfile::tempdir().expect("a temporary folder");
    let (_, lines) = serve_lines(&input_for(dest.path()), &WorkerFault::Garble("JP".into()));
    assert!(lines[1].starts_with("DONE BR OK "), "{lines:?}");
    assert!(lines[2].starts_with("DONE JP MAYBE "), "{lines:?}");

    let dest = tempfile::tempdir().expect("a temporary folder");
    let (result, lines) = serve_lines(&input_for(dest.path()), &WorkerFault::Exit("JP".into()));
    assert!(matches!(result, Err(WorkerError::InjectedExit(ref code)) if code == "JP"));
    assert_eq!(lines.len(), 2);
    // BR's file, handed over in its answer; nothing of JP's.
    assert_eq!(temporary_files_in(dest.path()).len(), 1);

    let dest = tempfile::tempdir().expect("a temporary folder");
    let fault = WorkerFault::ExitAfterWrite("JP".into());
    let (result, lines) = serve_lines(&input_for(dest.path()), &fault);
    assert!(matches!(result, Err(WorkerError::InjectedExit(ref code)) if code == "JP"));
    // No answer for JP, but its temporary file is written and left, whole:
    // two files, BR's (answered) and JP's, and no flag.
    assert_eq!(lines.len(), 2, "{lines:?}");
    let left = temporary_files_in(dest.path());
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(names_in(dest.path()), left);
    let image = builtin_flag("JP").expect("a built-in flag");
    let whole = left
        .iter()
        .filter(|name| std::fs::read(dest.path().join(name)).ok().as_deref() == Some(image))
        .count();
    assert_eq!(whole, 1, "JP's temporary file holds JP's flag");
}
