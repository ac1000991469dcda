//! The line protocol the parent and its download workers speak over the
//! worker's stdin and stdout: small, versioned, readable by eye.
//!
//! Python's `ProcessPoolExecutor` pickles a function and its arguments into
//! a pipe. We cannot send a Rust closure to another process, so we send
//! what the closure would have captured, as text: the job's settings once,
//! then one country code at a time. Each message is one line of UTF-8,
//! fields separated by exactly one space:
//!
//! ```text
//! worker -> parent   HELLO flags-process 3                 first line, always
//! parent -> worker   JOB http://127.0.0.1:8001/flags 3100000000 0 downloaded -
//! parent -> worker   GET BR
//! worker -> parent   DONE BR OK 12345 .flag-8307-Xb4kQz.tmp   written, 12345 bytes, not renamed
//! parent             renames downloaded/.flag-8307-Xb4kQz.tmp to downloaded/BR.gif, counts BR
//! parent -> worker   GET ZZ
//! worker -> parent   DONE ZZ NOT_FOUND 0
//! parent -> worker   GET XX
//! worker -> parent   DONE XX ERROR 0 HTTP 418 I'm a teapot the rest of the line is the message
//! parent closes the worker's stdin: the worker exits
//! ```
//!
//! `JOB` carries `base_url timeout_ns retries max_retry_wait_ns dest_dir
//! ca_cert`, the last
//! one `-` when there is no `--cacert`. The URL, the folders
//! and the codes are [percent-encoded](encode_field) so that a space, a
//! newline or a non-UTF-8 byte in a path cannot break a line; an error
//! message is sent as is, with control characters turned into spaces.
//!
//! **The parent commits.** A worker writes each flag in full to a
//! temporary file of `--dest` (`.flag-{its pid}-{random}.tmp`,
//! [`flags_core::save::write_temporary`]) and answers with that file's
//! name; the parent renames it to `{CC}.gif` when it reads the answer
//! ([`flags_core::save::commit`]), and only then counts the flag as saved.
//! So a flag appears in `--dest` only once the parent has counted it: a
//! worker killed before it answers (at its deadline, after Ctrl-C's grace)
//! leaves only its temporary file, which the parent removes once it has
//! reaped it ([`DownloadProtocol`]'s `clean_up_after`). With version 2 the
//! worker renamed the file itself before answering, and a worker killed
//! between the two left a whole flag that the report did not count.
//!
//! The parent must survive anything a worker writes: [`parse_reply`]
//! never panics (the tests throw arbitrary strings, bytes and nearly valid
//! lines at it), and a line it refuses is a [`ProtocolError`], which the
//! pool answers by killing and replacing that worker.

use std::path::PathBuf;
use std::time::Duration;

use flags_core::save::{self, flag_file_name, is_temporary_file_name, temp_prefix_of};
use flags_core::{DownloadJob, FlagOutcome, FlagResult};

use crate::pool::WorkerProtocol;
pub use crate::pool::line::MAX_LINE_BYTES;
use crate::pool::line::{BadGreeting, excerpt, hello_line, parse_hello};

/// The name in a download worker's greeting, and the value of
/// [`WORKER_ENV`](crate::pool::WORKER_ENV) that starts one.
pub const PROTOCOL_NAME: &str = "flags-process";
/// The version of this protocol. A worker that greets with another one is
/// refused: parent and workers must be built from the same source.
pub const PROTOCOL_VERSION: u32 = 4;
/// The longest error message a worker sends; longer ones are cut.
pub const MAX_MESSAGE_BYTES: usize = 2000;
/// The margin of a download task's deadline beyond what its requests and
/// backoffs may take: for starting a client, writing the file, answering,
/// and a loaded machine. See [`JobSettings::task_deadline`].
pub const DEADLINE_GRACE: Duration = Duration::from_secs(2);

/// A line the parent (or a worker) cannot accept.
///
/// Values quoted in the message are cut to a few dozen characters and
/// escaped, so that the message stays one short line whatever was received.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// An empty line.
    #[error("empty line")]
    Empty,
    /// A line longer than [`MAX_LINE_BYTES`].
    #[error("line longer than {MAX_LINE_BYTES} bytes")]
    TooLong,
    /// The first word is no message of this protocol.
    #[error("unknown message {0:?}")]
    UnknownMessage(String),
    /// Too few or too many fields for the message.
    #[error("{message} takes {expected} fields, got {got}")]
    FieldCount {
        /// The message, like `DONE`.
        message: &'static str,
        /// How many fields it takes, the message word included.
        expected: usize,
        /// How many the line had.
        got: usize,
    },
    /// A field that cannot be read.
    #[error("bad {field} {value:?}: {reason}")]
    BadField {
        /// Which field, like `byte count`.
        field: &'static str,
        /// What was received (cut).
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A `HELLO` line that is no greeting.
    #[error("{0}")]
    BadGreeting(#[from] BadGreeting),
    /// A well-formed line that is not what was expected at this point.
    #[error("expected {expected}, got {got:?}")]
    Unexpected {
        /// What the reader was waiting for.
        expected: String,
        /// What came (cut).
        got: String,
    },
}

/// What the parent sends a download worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The settings of the run, sent once, right after the worker starts.
    Job(JobSettings),
    /// Download this country's flag and write it to a temporary file, then
    /// answer [`Reply::Done`].
    Get(String),
}

/// The part of a [`DownloadJob`] a worker needs: where to download from,
/// how patiently, and where to save. The codes come one by one in
/// [`Request::Get`]; concurrency and `-v` are the parent's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSettings {
    /// Where flags are found, without a trailing `/`.
    pub base_url: String,
    /// `--timeout`, per request.
    pub timeout: Duration,
    /// `--retries`.
    pub retries: u32,
    /// The longest wait before a retry ([`DownloadJob::max_retry_wait`]).
    pub max_retry_wait: Duration,
    /// `--dest`.
    pub dest_dir: PathBuf,
    /// `--cacert`.
    pub ca_cert: Option<PathBuf>,
}

impl JobSettings {
    /// The settings of `job` that its workers inherit.
    pub fn from_job(job: &DownloadJob) -> Self {
        Self {
            base_url: job.base_url.clone(),
            timeout: job.timeout,
            retries: job.retries,
            max_retry_wait: job.max_retry_wait,
            dest_dir: job.dest_dir.clone(),
            ca_cert: job.ca_cert.clone(),
        }
    }

    /// How long a worker may hold one code before the parent kills it:
    /// every attempt's `--timeout` (a deadline for the whole request, body
    /// included), the longest backoff before each retry
    /// ([`RetryPolicy::max_delay`](flags_core::retry::RetryPolicy::max_delay),
    /// which also caps a `Retry-After`), and
    /// [`DEADLINE_GRACE`]:
    ///
    /// `timeout x (retries + 1) + max_delay x retries + 2 s`
    ///
    /// An honest worker always answers within it; one that does not is
    /// hung (stopped, deadlocked), not slow.
    ///
    /// ```
    /// use std::time::Duration;
    /// use flags_core::DownloadJob;
    /// use flags_process::protocol::JobSettings;
    /// let mut job = DownloadJob::new(Vec::new(), "http://localhost:8001/flags", "downloaded");
    /// // The defaults: --timeout 3.1, no retry.
    /// assert_eq!(JobSettings::from_job(&job).task_deadline(), Duration::from_millis(5100));
    /// // --timeout 0.5 --retries 2: 3 attempts, 2 backoffs of at most 5 s.
    /// job.timeout = Duration::from_millis(500);
    /// job.retries = 2;
    /// assert_eq!(JobSettings::from_job(&job).task_deadline(), Duration::from_millis(13_500));
    /// ```
    pub fn task_deadline(&self) -> Duration {
        // The policy the worker's `download_one` follows.
        let policy = flags_core::retry::RetryPolicy::for_job(&self.to_job());
        let attempts = self.retries.saturating_add(1);
        // Saturating: `--timeout` may be huge; the pool compares with
        // `elapsed()`, so `Duration::MAX` simply means "never".
        self.timeout
            .saturating_mul(attempts)
            .saturating_add(policy.max_delay.saturating_mul(policy.retries))
            .saturating_add(DEADLINE_GRACE)
    }

    /// A job with these settings and no codes, for
    /// [`download_one`](crate::download_one) in the worker.
    pub fn to_job(&self) -> DownloadJob {
        let mut job = DownloadJob::new(Vec::new(), self.base_url.clone(), self.dest_dir.clone());
        job.timeout = self.timeout;
        job.retries = self.retries;
        job.max_retry_wait = self.max_retry_wait;
        job.ca_cert = self.ca_cert.clone();
        job
    }
}

/// What a download worker sends back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The greeting, the first line of every worker.
    Hello {
        /// The protocol's name, [`PROTOCOL_NAME`] for download workers.
        name: String,
        /// Its version.
        version: u32,
    },
    /// One code is finished, whatever its status.
    Done {
        /// The code, as the `GET` line named it.
        country_code: String,
        /// How it went.
        answer: Answer,
    },
}

/// How one code went, as its worker tells it: the rest of a `DONE` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `OK {bytes} {temp_name}`: the flag is written in full, `bytes` long,
    /// to the temporary file `temp_name` of `--dest`, and not renamed: the
    /// parent renames it to the flag's name, and only then counts it.
    Written {
        /// The flag's length.
        bytes: u64,
        /// The temporary file's name (no folder), `.flag-{pid}-{random}.tmp`
        /// with the worker's pid.
        temp_name: String,
    },
    /// `NOT_FOUND 0`: a 404; nothing written.
    NotFound,
    /// `ERROR 0 {message}`: anything else; nothing left written.
    Error {
        /// What went wrong: the rest of the line.
        message: String,
    },
}

impl Request {
    /// The request as one line, without the newline.
    ///
    /// ```
    /// use flags_process::protocol::Request;
    /// assert_eq!(Request::Get("BR".into()).to_line(), "GET BR");
    /// ```
    pub fn to_line(&self) -> String {
        match self {
            Request::Job(settings) => {
                let nanos = |wait: Duration| u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
                format!(
                    "JOB {} {} {} {} {} {}",
                    encode_field(settings.base_url.as_bytes()),
                    nanos(settings.timeout),
                    settings.retries,
                    nanos(settings.max_retry_wait),
                    encode_field(&path_to_bytes(&settings.dest_dir)),
                    encode_optional_path(settings.ca_cert.as_deref()),
                )
            }
            Request::Get(country_code) => format!("GET {}", encode_field(country_code.as_bytes())),
        }
    }
}

impl Reply {
    /// The greeting of a download worker of this version.
    pub fn hello() -> Self {
        Reply::Hello {
            name: PROTOCOL_NAME.to_string(),
            version: PROTOCOL_VERSION,
        }
    }

    /// The answer for a code that is finished without a flag written: a
    /// 404 or an error (`NOT_FOUND` or `ERROR`). `None` for an OK outcome,
    /// whose answer names its temporary file ([`Answer::Written`]).
    ///
    /// ```
    /// use flags_core::FlagOutcome;
    /// use flags_process::protocol::Reply;
    /// let reply = Reply::unwritten(&FlagOutcome::not_found("ZZ")).unwrap();
    /// assert_eq!(reply.to_line(), "DONE ZZ NOT_FOUND 0");
    /// assert!(Reply::unwritten(&FlagOutcome::ok("BR", 1)).is_none());
    /// ```
    pub fn unwritten(outcome: &FlagOutcome) -> Option<Self> {
        let answer = match &outcome.result {
            FlagResult::Ok { .. } => return None,
            FlagResult::NotFound => Answer::NotFound,
            FlagResult::Error { message } => Answer::Error {
                message: message.clone(),
            },
        };
        Some(Reply::Done {
            country_code: outcome.country_code.clone(),
            answer,
        })
    }

    /// The reply as one line, without the newline. An error message is cut
    /// to [`MAX_MESSAGE_BYTES`] and its control characters become spaces.
    ///
    /// ```
    /// use flags_process::protocol::{Answer, Reply};
    /// let written = Answer::Written { bytes: 12345, temp_name: ".flag-8307-Xb4kQz.tmp".into() };
    /// assert_eq!(
    ///     Reply::Done { country_code: "BR".into(), answer: written }.to_line(),
    ///     "DONE BR OK 12345 .flag-8307-Xb4kQz.tmp"
    /// );
    /// let error = Answer::Error { message: "HTTP 418 I'm a teapot".into() };
    /// assert_eq!(
    ///     Reply::Done { country_code: "XX".into(), answer: error }.to_line(),
    ///     "DONE XX ERROR 0 HTTP 418 I'm a teapot"
    /// );
    /// ```
    pub fn to_line(&self) -> String {
        match self {
            Reply::Hello { name, version } => hello_line(name, *version),
            Reply::Done {
                country_code,
                answer,
            } => {
                let country_code = encode_field(country_code.as_bytes());
                match answer {
                    Answer::Written { bytes, temp_name } => format!(
                        "DONE {country_code} OK {bytes} {}",
                        encode_field(temp_name.as_bytes())
                    ),
                    Answer::NotFound => format!("DONE {country_code} NOT_FOUND 0"),
                    Answer::Error { message } => {
                        format!("DONE {country_code} ERROR 0 {}", clean_message(message))
                    }
                }
            }
        }
    }
}

/// Read one line from a download worker (without its newline). Never
/// panics, whatever the line holds.
///
/// The temporary file of an `OK` must have a temporary file's name
/// ([`is_temporary_file_name`]: `.flag-...tmp`, one plain file name), so
/// that no answer can make the parent rename anything else.
///
/// ```
/// use flags_process::protocol::{Answer, Reply, parse_reply};
/// let done = |code: &str, answer| Reply::Done { country_code: code.into(), answer };
/// assert_eq!(
///     parse_reply("DONE BR OK 12345 .flag-8307-Xb4kQz.tmp"),
///     Ok(done("BR", Answer::Written { bytes: 12345, temp_name: ".flag-8307-Xb4kQz.tmp".into() }))
/// );
/// assert_eq!(parse_reply("DONE ZZ NOT_FOUND 0"), Ok(done("ZZ", Answer::NotFound)));
/// assert_eq!(
///     parse_reply("DONE XX ERROR 0 HTTP 418 I'm a teapot"),
///     Ok(done("XX", Answer::Error { message: "HTTP 418 I'm a teapot".into() }))
/// );
/// assert!(parse_reply("DONE BR OK twelve .flag-8307-Xb4kQz.tmp").is_err());
/// assert!(parse_reply("DONE BR MAYBE 1").is_err());
/// // Version 2's OK, without its temporary file.
/// assert!(parse_reply("DONE BR OK 12345").is_err());
/// // Never a file that is not a temporary one.
/// assert!(parse_reply("DONE BR OK 12345 JP.gif").is_err());
/// assert!(parse_reply("DONE BR OK 12345 ../.flag-1-x.tmp").is_err());
/// ```
pub fn parse_reply(line: &str) -> Result<Reply, ProtocolError> {
    if line.len() > MAX_LINE_BYTES {
        return Err(ProtocolError::TooLong);
    }
    if line.split(' ').next() == Some("HELLO") {
        let (name, version) = parse_hello(line)?;
        return Ok(Reply::Hello { name, version });
    }
    // At most five fields: the fifth, an OK's temporary file or an
    // error's message, is the rest of the line (a message may hold spaces).
    let fields: Vec<&str> = line.splitn(5, ' ').collect();
    match fields.as_slice() {
        ["DONE", country_code, status, bytes, rest @ ..] => {
            let country_code = decode_text("country code", country_code)?;
            let bytes = parse_number::<u64>("byte count", bytes)?;
            let answer = match (*status, rest) {
                ("OK", [temp_name]) => Answer::Written {
                    bytes,
                    temp_name: decode_temp_name(temp_name)?,
                },
                ("NOT_FOUND", []) if bytes == 0 => Answer::NotFound,
                ("ERROR", [message]) if bytes == 0 => Answer::Error {
                    message: message.to_string(),
                },
                ("NOT_FOUND" | "ERROR", _) if bytes != 0 => {
                    return Err(bad_field(
                        "byte count",
                        &bytes.to_string(),
                        "must be 0 unless OK",
                    ));
                }
                ("NOT_FOUND", _) => {
                    return Err(ProtocolError::FieldCount {
                        message: "DONE",
                        expected: 4,
                        got: fields.len(),
                    });
                }
                ("OK" | "ERROR", _) => {
                    return Err(ProtocolError::FieldCount {
                        message: if *status == "OK" {
                            "DONE OK"
                        } else {
                            "DONE ERROR"
                        },
                        expected: 5,
                        got: fields.len(),
                    });
                }
                (other, _) => {
                    return Err(bad_field("status", other, "not OK, NOT_FOUND or ERROR"));
                }
            };
            Ok(Reply::Done {
                country_code,
                answer,
            })
        }
        ["DONE", ..] => Err(ProtocolError::FieldCount {
            message: "DONE",
            expected: 4,
            got: fields.len(),
        }),
        [""] | [] => Err(ProtocolError::Empty),
        // `splitn` cut on spaces, so the first field holds none.
        [word, ..] => Err(ProtocolError::UnknownMessage(excerpt(word))),
    }
}

/// Read the answer of the worker with pid `worker_pid` to `country_code`:
/// a `DONE` line for that code, whose temporary file, if any, is that
/// worker's own (`.flag-{worker_pid}-...`). Never panics, and touches no
/// file: [`DownloadProtocol`]'s `accept_answer` reads answers with it,
/// then commits.
///
/// ```
/// use flags_process::protocol::{Answer, parse_answer};
/// assert_eq!(
///     parse_answer(8307, "BR", "DONE BR OK 6 .flag-8307-Xb4kQz.tmp"),
///     Ok(Answer::Written { bytes: 6, temp_name: ".flag-8307-Xb4kQz.tmp".into() })
/// );
/// // Another process's temporary file.
/// assert!(parse_answer(8307, "BR", "DONE BR OK 6 .flag-8308-Xb4kQz.tmp").is_err());
/// // Another code.
/// assert!(parse_answer(8307, "BR", "DONE JP NOT_FOUND 0").is_err());
/// ```
pub fn parse_answer(
    worker_pid: u32,
    country_code: &str,
    line: &str,
) -> Result<Answer, ProtocolError> {
    match parse_reply(line)? {
        Reply::Done {
            country_code: answered,
            answer,
        } if answered == country_code => match &answer {
            Answer::Written { temp_name, .. }
                if !temp_name.starts_with(&temp_prefix_of(worker_pid)) =>
            {
                Err(bad_field("temporary file", temp_name, "not this worker's"))
            }
            _ => Ok(answer),
        },
        _ => Err(ProtocolError::Unexpected {
            expected: format!("DONE {}", encode_field(country_code.as_bytes())),
            got: excerpt(line),
        }),
    }
}

/// The temporary file's name of an `OK`: percent-encoded, and a temporary
/// file's name once decoded.
fn decode_temp_name(field: &str) -> Result<String, ProtocolError> {
    let name = decode_text("temporary file", field)?;
    if !is_temporary_file_name(&name) {
        return Err(bad_field(
            "temporary file",
            field,
            "not a temporary file's name",
        ));
    }
    Ok(name)
}

/// Read one line from the parent (without its newline), in the worker.
///
/// ```
/// use flags_process::protocol::{Request, parse_request};
/// assert_eq!(parse_request("GET BR"), Ok(Request::Get("BR".into())));
/// assert!(parse_request("GET").is_err());
/// ```
pub fn parse_request(line: &str) -> Result<Request, ProtocolError> {
    let fields = fields_of(line)?;
    match fields.as_slice() {
        ["GET", country_code] => Ok(Request::Get(decode_text("country code", country_code)?)),
        [
            "JOB",
            base_url,
            timeout_ns,
            retries,
            max_retry_wait_ns,
            dest_dir,
            ca_cert,
        ] => Ok(Request::Job(JobSettings {
            base_url: decode_text("base URL", base_url)?,
            timeout: Duration::from_nanos(parse_number("timeout", timeout_ns)?),
            retries: parse_number("retries", retries)?,
            max_retry_wait: Duration::from_nanos(parse_number(
                "max_retry_wait",
                max_retry_wait_ns,
            )?),
            dest_dir: bytes_to_path(decode_field(dest_dir)?),
            ca_cert: decode_optional_path(ca_cert)?,
        })),
        [word @ ("GET" | "JOB"), ..] => Err(ProtocolError::FieldCount {
            message: if *word == "GET" { "GET" } else { "JOB" },
            expected: if *word == "GET" { 2 } else { 7 },
            got: fields.len(),
        }),
        [word, ..] => Err(ProtocolError::UnknownMessage(excerpt(word))),
        [] => Err(ProtocolError::Empty),
    }
}

/// An optional path as one field: `-` for none. A path that is `-` itself
/// is sent escaped, as `%2D`, so the two never mix.
fn encode_optional_path(path: Option<&std::path::Path>) -> String {
    match path.map(|path| encode_field(&path_to_bytes(path))) {
        None => "-".to_string(),
        Some(field) if field == "-" => "%2D".to_string(),
        Some(field) => field,
    }
}

/// The reverse of [`encode_optional_path`].
fn decode_optional_path(field: &str) -> Result<Option<PathBuf>, ProtocolError> {
    if field == "-" {
        return Ok(None);
    }
    Ok(Some(bytes_to_path(decode_field(field)?)))
}

/// Percent-encode bytes into one field: every byte that is not printable
/// ASCII, and the space and `%` themselves, become `%XX`.
///
/// ```
/// use flags_process::protocol::{decode_field, encode_field};
/// assert_eq!(encode_field(b"my flags/100%"), "my%20flags/100%25");
/// assert_eq!(decode_field("my%20flags/100%25").unwrap(), b"my flags/100%");
/// ```
pub fn encode_field(bytes: &[u8]) -> String {
    let mut field = String::with_capacity(bytes.len());
    for &byte in bytes {
        if byte.is_ascii_graphic() && byte != b'%' {
            field.push(char::from(byte));
        } else {
            field.push_str(&format!("%{byte:02X}"));
        }
    }
    field
}

/// Undo [`encode_field`]. A `%` not followed by two hex digits is an error.
pub fn decode_field(field: &str) -> Result<Vec<u8>, ProtocolError> {
    let mut bytes = Vec::with_capacity(field.len());
    let mut rest = field.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let digits = tail
                .get(..2)
                .and_then(|pair| std::str::from_utf8(pair).ok())
                .filter(|pair| pair.bytes().all(|digit| digit.is_ascii_hexdigit()))
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| {
                    bad_field("escape", field, "% must be followed by two hex digits")
                })?;
            bytes.push(digits);
            rest = tail.get(2..).unwrap_or_default();
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    Ok(bytes)
}

/// The download protocol, as the generic [`ProcessPool`](crate::pool::ProcessPool)
/// needs it: a task is a country code, an outcome is a [`FlagOutcome`].
#[derive(Debug, Clone)]
pub struct DownloadProtocol {
    job_line: String,
    /// [`JobSettings::task_deadline`] of the run.
    task_deadline: Duration,
    /// `--dest`, where the workers write their temporary files, the parent
    /// renames them, and a killed worker may have left one.
    dest_dir: PathBuf,
}

impl DownloadProtocol {
    /// The protocol of one run: every worker receives `job`'s settings,
    /// and holds each code at most [`JobSettings::task_deadline`].
    pub fn new(job: &DownloadJob) -> Self {
        let settings = JobSettings::from_job(job);
        Self {
            job_line: Request::Job(settings.clone()).to_line(),
            task_deadline: settings.task_deadline(),
            dest_dir: job.dest_dir.clone(),
        }
    }
}

impl WorkerProtocol for DownloadProtocol {
    type Task = String;
    type Outcome = FlagOutcome;
    type Error = ProtocolError;
    const NAME: &'static str = PROTOCOL_NAME;
    const VERSION: u32 = PROTOCOL_VERSION;

    fn setup_line(&self) -> Option<String> {
        Some(self.job_line.clone())
    }

    fn task_line(&self, country_code: &String) -> String {
        Request::Get(country_code.clone()).to_line()
    }

    /// Read the answer ([`parse_answer`]) and commit: a flag the worker
    /// wrote is renamed from its temporary file to `{CC}.gif` here, in the
    /// parent, and counts as saved only once it is in place. A rename that
    /// fails is that code's error, naming the flag's file (the temporary
    /// file is removed).
    fn accept_answer(
        &self,
        worker_pid: u32,
        country_code: &String,
        line: &str,
    ) -> Result<FlagOutcome, ProtocolError> {
        Ok(match parse_answer(worker_pid, country_code, line)? {
            Answer::Written { bytes, temp_name } => {
                let file_name = flag_file_name(country_code);
                match save::commit(&self.dest_dir, &temp_name, &file_name) {
                    Ok(()) => FlagOutcome::ok(country_code, bytes),
                    Err(error) => FlagOutcome::error(country_code, format!("cannot save: {error}")),
                }
            }
            Answer::NotFound => FlagOutcome::not_found(country_code),
            Answer::Error { message } => FlagOutcome::error(country_code, message),
        })
    }

    fn failed(&self, country_code: String, reason: String) -> FlagOutcome {
        FlagOutcome::error(country_code, reason)
    }

    /// Every code has a deadline: a worker that holds one longer is hung.
    fn task_deadline(&self) -> Option<Duration> {
        Some(self.task_deadline)
    }

    /// A worker killed (or dead) while it wrote a flag, or after it wrote it
    /// and before the parent read its answer, leaves its `.flag-{pid}-*.tmp`
    /// file: remove it, so that `--dest` holds only the flags the parent
    /// committed and counted. A failure to remove it is said on stderr, not
    /// hidden.
    fn clean_up_after(&self, pid: u32) {
        match flags_core::save::remove_temporary_files(&self.dest_dir, pid) {
            Ok(_) => {}
            // No `--dest` (never made, or removed): nothing can be left in it.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => flags_core::eprint_line(&format!(
                "flags-process: cannot remove the temporary file of worker pid {pid}: {error}"
            )),
        }
    }
}

/// Split a line on single spaces, after the checks every message shares.
fn fields_of(line: &str) -> Result<Vec<&str>, ProtocolError> {
    if line.is_empty() {
        return Err(ProtocolError::Empty);
    }
    if line.len() > MAX_LINE_BYTES {
        return Err(ProtocolError::TooLong);
    }
    Ok(line.split(' ').collect())
}

/// A number made of ASCII digits only (no sign, no space), that fits.
fn parse_number<N: std::str::FromStr>(field: &'static str, text: &str) -> Result<N, ProtocolError> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(bad_field(field, text, "not a number"));
    }
    text.parse()
        .map_err(|_| bad_field(field, text, "out of range"))
}

/// A percent-encoded field that must decode to UTF-8 text.
fn decode_text(field: &'static str, text: &str) -> Result<String, ProtocolError> {
    String::from_utf8(decode_field(text)?).map_err(|_| bad_field(field, text, "not UTF-8"))
}

fn bad_field(field: &'static str, value: &str, reason: &'static str) -> ProtocolError {
    ProtocolError::BadField {
        field,
        value: excerpt(value),
        reason,
    }
}

/// An error message fit for the rest of a line: control characters
/// (newlines above all) become spaces, and it is cut to
/// [`MAX_MESSAGE_BYTES`] on a character boundary.
fn clean_message(message: &str) -> String {
    let mut clean = String::with_capacity(message.len().min(MAX_MESSAGE_BYTES));
    for character in message.chars() {
        if clean.len() + character.len_utf8() > MAX_MESSAGE_BYTES {
            break;
        }
        clean.push(if character.is_control() {
            ' '
        } else {
            character
        });
    }
    clean
}

/// A path's bytes: exact on Unix, where a path is any bytes but NUL.
#[cfg(unix)]
fn path_to_bytes(path: &std::path::Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

/// A path's bytes: its UTF-8 form elsewhere.
#[cfg(not(unix))]
fn path_to_bytes(path: &std::path::Path) -> Vec<u8> {
    path.to_string_lossy().into_owned().into_bytes()
}

/// The path of [`path_to_bytes`]'s bytes.
#[cfg(unix)]
fn bytes_to_path(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

/// The path of [`path_to_bytes`]'s bytes.
#[cfg(not(unix))]
fn bytes_to_path(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}
