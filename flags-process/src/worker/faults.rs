//! The workers' fault injection, for the failure tests: only with the
//! `test-faults` feature, which only this crate's tests turn on (its
//! dev-dependency on itself). `cargo build` and `cargo install` make a
//! binary without it, whose workers always behave.

use super::WorkerError;
use crate::protocol::{Answer, Reply};

/// The environment variable of the hook, like the server's scripted
/// faults: `garble:CC` makes a worker answer a malformed line for code
/// `CC`; `exit:CC` makes it exit with status
/// [`FAULT_EXIT_STATUS`](super::FAULT_EXIT_STATUS) while holding `CC`;
/// `exit-after-write:CC` makes it exit so once it has written `CC`'s
/// temporary file, before answering, leaving the file as a worker killed
/// there would. Set it on workers with
/// [`WorkerCommand::env`](crate::WorkerCommand::env).
pub const FAULT_ENV: &str = "FLAGS_PROCESS_WORKER_FAULT";

/// A misbehaviour a worker injects on purpose: [`serve`](super::serve)
/// takes one, and the worker process reads it from [`FAULT_ENV`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum WorkerFault {
    /// Behave.
    #[default]
    None,
    /// Answer a malformed line for this code.
    Garble(String),
    /// Exit with [`FAULT_EXIT_STATUS`](super::FAULT_EXIT_STATUS) when
    /// given this code.
    Exit(String),
    /// Download this code and write its temporary file, then exit with
    /// [`FAULT_EXIT_STATUS`](super::FAULT_EXIT_STATUS) without answering,
    /// and without removing the file: what a worker killed between writing
    /// and answering leaves.
    ExitAfterWrite(String),
}

impl WorkerFault {
    /// The fault [`FAULT_ENV`] asks for (none when unset or unknown).
    pub fn from_env() -> Self {
        let value = std::env::var(FAULT_ENV).unwrap_or_default();
        match value.split_once(':') {
            Some(("garble", code)) => WorkerFault::Garble(code.to_string()),
            Some(("exit", code)) => WorkerFault::Exit(code.to_string()),
            Some(("exit-after-write", code)) => WorkerFault::ExitAfterWrite(code.to_string()),
            _ => WorkerFault::None,
        }
    }

    /// [`WorkerFault::Exit`]: stop before downloading `country_code`.
    pub(crate) fn before_download(&self, country_code: &str) -> Result<(), WorkerError> {
        match self {
            WorkerFault::Exit(code) if code == country_code => {
                Err(WorkerError::InjectedExit(code.clone()))
            }
            _ => Ok(()),
        }
    }

    /// [`WorkerFault::ExitAfterWrite`]: stop as if killed with the file
    /// written and no answer sent.
    pub(crate) fn after_write(&self, country_code: &str) -> Result<(), WorkerError> {
        match self {
            WorkerFault::ExitAfterWrite(code) if code == country_code => {
                Err(WorkerError::InjectedExit(code.clone()))
            }
            _ => Ok(()),
        }
    }

    /// The line that carries `reply`, or with [`WorkerFault::Garble`] for
    /// its code, a `DONE` line with an unknown status.
    pub(crate) fn reply_line(&self, reply: &Reply) -> String {
        match (self, reply) {
            (
                WorkerFault::Garble(code),
                Reply::Done {
                    country_code,
                    answer,
                },
            ) if code == country_code => {
                let bytes = match answer {
                    Answer::Written { bytes, .. } => *bytes,
                    Answer::NotFound | Answer::Error { .. } => 0,
                };
                format!("DONE {country_code} MAYBE {bytes}")
            }
            _ => reply.to_line(),
        }
    }
}
