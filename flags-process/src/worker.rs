//! The download worker: the process the pool starts, serving one code at a
//! time over its stdin and stdout in the [`protocol`](crate::protocol).

use std::io::{self, BufRead};

use flags_core::fetch::FetchError;
use flags_core::save::{self, TemporaryFlag, flag_file_name};
use flags_core::{DownloadJob, SetupError, interrupt};
use flags_seq::{HttpClient, fetch_one};

use crate::pool::line::write_line;
use crate::protocol::{Answer, ProtocolError, Reply, Request, parse_request};

#[cfg(feature = "test-faults")]
pub mod faults;
#[cfg(feature = "test-faults")]
pub use faults::{FAULT_ENV, WorkerFault};

/// The exit status of a worker that exits on purpose, as a test's injected
/// fault asks.
pub const FAULT_EXIT_STATUS: i32 = 3;

/// The worker process's `main`: serve stdin and stdout, return the exit
/// status.
pub(crate) fn worker_main() -> i32 {
    // Ctrl-C reaches the whole process group, workers included, and so
    // does the SIGHUP of a terminal hanging up. A worker must not die of
    // either: the parent coordinates the stop. The handler sets the same
    // flag `download_one` checks before each retry, so the worker finishes
    // its current code without retrying, answers, and exits when the
    // parent closes its stdin. (If it takes longer than the parent's grace,
    // the parent kills it: the stop is the parent's.)
    if let Err(error) = interrupt::install() {
        flags_core::eprint_line(&format!(
            "flags-process worker: cannot handle Ctrl-C: {error}"
        ));
    }
    // The test hook, in test builds only (the `test-faults` feature): a
    // shipped worker reads no such variable and always behaves.
    let fault = WorkerFault::from_env();
    let stdin = io::stdin().lock();
    let stdout = io::stdout().lock();
    match serve(stdin, stdout, &fault) {
        Ok(()) => 0,
        Err(WorkerError::InjectedExit(_)) => FAULT_EXIT_STATUS,
        // The answer met a closed pipe: the parent is gone (or has given
        // up on this worker), so nobody is left to read a message, and one
        // line per worker on a shared terminal would only be noise
        // ("Broken pipe"). Exit quietly. (A closed stdin is the end of the
        // input, which `serve` takes as the polite way to stop.)
        Err(WorkerError::Io(error)) if error.kind() == io::ErrorKind::BrokenPipe => 1,
        Err(error) => {
            flags_core::eprint_line(&format!("flags-process worker: {error}"));
            1
        }
    }
}

/// Why a worker stopped serving before the end of its input.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Reading stdin or writing stdout failed (the parent is gone).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The parent sent a line this worker cannot read.
    #[error("bad request from the parent: {0}")]
    Protocol(#[from] ProtocolError),
    /// A `GET` came before the `JOB` line.
    #[error("GET before JOB")]
    NoJob,
    /// A test's injected fault asked to exit on this code.
    #[error("exiting on {0} as the injected fault asks")]
    InjectedExit(String),
}

/// Without the `test-faults` feature a worker has no fault to inject: this
/// stands in for the test builds' `faults::WorkerFault`, and does nothing.
#[cfg(not(feature = "test-faults"))]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerFault;

#[cfg(not(feature = "test-faults"))]
impl WorkerFault {
    fn from_env() -> Self {
        WorkerFault
    }
    fn before_download(&self, _country_code: &str) -> Result<(), WorkerError> {
        Ok(())
    }
    fn after_write(&self, _country_code: &str) -> Result<(), WorkerError> {
        Ok(())
    }
    fn reply_line(&self, reply: &Reply) -> String {
        reply.to_line()
    }
}

/// The worker loop, over any input and output (the worker process runs it
/// over its stdin and stdout): greet, read the `JOB` line, then answer each
/// `GET` with one `DONE` line, until the input ends.
///
/// For each code the worker downloads the flag ([`fetch_one`]) and writes
/// it in full to a temporary file of `--dest`
/// ([`save::write_temporary`]), and answers `DONE {CC} OK {bytes}
/// {temporary file}`: the file is the parent's from then on, to rename to
/// `{CC}.gif` (or to remove). The worker renames nothing. If it cannot
/// answer, it removes the file itself before it returns the error.
///
/// The input ends when the parent closes the pipe: after the run, or
/// because the parent died. Either way the worker returns, so no worker
/// outlives its parent for longer than its current download. `fault` is a
/// test's misbehaviour, in test builds only.
pub fn serve(
    mut input: impl BufRead,
    mut output: impl io::Write,
    fault: &WorkerFault,
) -> Result<(), WorkerError> {
    // Greet first, before any slow setup: the parent counts a worker as
    // started when this line arrives.
    write_line(&mut output, &Reply::hello().to_line())?;
    let mut session: Option<(Result<HttpClient, SetupError>, DownloadJob)> = None;
    let mut line = String::new();
    loop {
        line.clear();
        // Blocking read of the next request. 0 bytes: end of input, the
        // parent has closed our stdin. Time to exit.
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let text = line.strip_suffix('\n').unwrap_or(&line);
        match parse_request(text)? {
            Request::Job(settings) => {
                let job = settings.to_job();
                // This worker's own client: one connection pool per
                // process, kept alive from one code to the next. It does
                // its I/O on this, the worker's only thread.
                session = Some((HttpClient::new(&job), job));
            }
            Request::Get(country_code) => {
                let (client, job) = session.as_ref().ok_or(WorkerError::NoJob)?;
                fault.before_download(&country_code)?;
                let answer = match client {
                    Ok(client) => download_and_write(client, &country_code, job),
                    Err(error) => Err(Answer::Error {
                        message: error.to_string(),
                    }),
                };
                // The answer, and the temporary file it names: from here
                // on, the parent's to rename. Kept (no longer removed when
                // dropped) before the answer goes, so that the parent never
                // looks for a file this worker might still remove.
                let (answer, handed_over) = match answer {
                    Ok(flag) => match hand_over(flag) {
                        Ok((answer, path)) => (answer, Some(path)),
                        Err(answer) => (answer, None),
                    },
                    Err(answer) => (answer, None),
                };
                fault.after_write(&country_code)?;
                let reply = fault.reply_line(&Reply::Done {
                    country_code,
                    answer,
                });
                // Send the answer: one line, flushed at once, since the
                // parent is waiting for it.
                if let Err(error) = write_line(&mut output, &reply) {
                    // No parent to commit the file: remove it, so that no
                    // file is left that nobody counted.
                    if let Some(path) = handed_over {
                        let _ = std::fs::remove_file(path);
                    }
                    return Err(error.into());
                }
            }
        }
    }
}

/// Download one flag and write it in full to a temporary file of `--dest`,
/// not renamed; or the answer that says why not (a 404, an error). Every
/// error is worded as [`download_one`](crate::download_one) words it, so
/// that the report is the same whoever renames.
fn download_and_write(
    client: &HttpClient,
    country_code: &str,
    job: &DownloadJob,
) -> Result<TemporaryFlag, Answer> {
    match fetch_one(client, country_code, job) {
        Ok(image) => save::write_temporary(&job.dest_dir, &flag_file_name(country_code), &image)
            .map_err(|error| Answer::Error {
                message: format!("cannot save: {error}"),
            }),
        Err(FetchError::NotFound) => Err(Answer::NotFound),
        Err(error) => Err(Answer::Error {
            message: error.to_string(),
        }),
    }
}

/// Stop removing `flag`'s temporary file on drop, for the parent to commit:
/// the answer that names it, and its path. If it cannot be kept (never on
/// Unix, where keeping only forgets it), it is removed, and the answer is
/// that code's error.
fn hand_over(flag: TemporaryFlag) -> Result<(Answer, std::path::PathBuf), Answer> {
    let (bytes, temp_name) = (flag.bytes(), flag.file_name().to_string());
    match flag.keep() {
        Ok(path) => Ok((Answer::Written { bytes, temp_name }, path)),
        Err(error) => Err(Answer::Error {
            message: format!("cannot save: {error}"),
        }),
    }
}
