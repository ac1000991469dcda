//! What became of each flag, and the tally of a whole run.
//!
//! A failed flag is data, not an `Err`: every model turns each code into a
//! [`FlagOutcome`] and adds it to a [`StatusCounter`], exactly as the book's
//! `download_many` returns a `Counter[DownloadStatus]`.

use std::fmt;

/// The three ways a download can end, as in the book's `DownloadStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DownloadStatus {
    /// The server answered 200 with a body, and the flag was saved.
    Ok,
    /// The server answered 404: there is no such flag. Not an error.
    NotFound,
    /// Anything else: another status, a timeout, a reset, a truncated or
    /// oversized body, a failed save. Nothing was saved.
    Error,
}

/// The outcome of one country code: the code, and how its download ended.
///
/// What each ending carries is in [`FlagResult`]: only a saved flag has a
/// byte count, only an error has a message. No other combination can be
/// built, so a model cannot report a saved flag with an error message, or
/// an error without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagOutcome {
    /// The country code, upper case.
    pub country_code: String,
    /// How the download ended.
    pub result: FlagResult,
}

/// How one code's download ended, with what that ending carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagResult {
    /// The flag was downloaded and saved.
    Ok {
        /// Bytes saved.
        bytes: u64,
    },
    /// The server has no flag for this code.
    NotFound,
    /// The download failed; nothing was saved.
    Error {
        /// What went wrong, in one line.
        message: String,
    },
}

impl FlagResult {
    /// The status this ending is counted under.
    pub fn status(&self) -> DownloadStatus {
        match self {
            FlagResult::Ok { .. } => DownloadStatus::Ok,
            FlagResult::NotFound => DownloadStatus::NotFound,
            FlagResult::Error { .. } => DownloadStatus::Error,
        }
    }
}

impl FlagOutcome {
    /// The flag was downloaded and saved, `bytes` long.
    pub fn ok(country_code: impl Into<String>, bytes: u64) -> Self {
        Self {
            country_code: country_code.into(),
            result: FlagResult::Ok { bytes },
        }
    }

    /// The server has no flag for this code.
    pub fn not_found(country_code: impl Into<String>) -> Self {
        Self {
            country_code: country_code.into(),
            result: FlagResult::NotFound,
        }
    }

    /// The download failed; `message` says why, in one line.
    pub fn error(country_code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            country_code: country_code.into(),
            result: FlagResult::Error {
                message: message.into(),
            },
        }
    }

    /// The status this outcome is counted under.
    pub fn status(&self) -> DownloadStatus {
        self.result.status()
    }
}

/// The line `-v` prints for an outcome: `BR OK`, `ZZ not found`,
/// `XX error: HTTP 418 I'm a teapot`.
///
/// ```
/// use flags_core::FlagOutcome;
/// assert_eq!(FlagOutcome::ok("BR", 10).to_string(), "BR OK");
/// assert_eq!(FlagOutcome::not_found("ZZ").to_string(), "ZZ not found");
/// assert_eq!(
///     FlagOutcome::error("XX", "HTTP 418 I'm a teapot").to_string(),
///     "XX error: HTTP 418 I'm a teapot"
/// );
/// ```
impl fmt::Display for FlagOutcome {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let country_code = &self.country_code;
        match &self.result {
            FlagResult::Ok { .. } => write!(formatter, "{country_code} OK"),
            FlagResult::NotFound => write!(formatter, "{country_code} not found"),
            FlagResult::Error { message } => write!(formatter, "{country_code} error: {message}"),
        }
    }
}

/// How many codes ended in each status: the book's `Counter[DownloadStatus]`.
///
/// ```
/// use flags_core::{DownloadStatus, FlagOutcome, StatusCounter};
/// let mut counter = StatusCounter::default();
/// counter.record(&FlagOutcome::ok("BR", 10));
/// counter.record(&FlagOutcome::not_found("ZZ"));
/// assert_eq!(counter.count(DownloadStatus::Ok), 1);
/// assert_eq!(counter.total(), 2);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounter {
    /// Flags downloaded and saved.
    pub ok: usize,
    /// Codes the server does not have.
    pub not_found: usize,
    /// Codes that ended in an error.
    pub error: usize,
}

impl StatusCounter {
    /// Count one finished code.
    pub fn record(&mut self, outcome: &FlagOutcome) {
        self.add(outcome.status());
    }

    /// Count one status.
    pub fn add(&mut self, status: DownloadStatus) {
        match status {
            DownloadStatus::Ok => self.ok += 1,
            DownloadStatus::NotFound => self.not_found += 1,
            DownloadStatus::Error => self.error += 1,
        }
    }

    /// How many codes ended in `status`.
    pub fn count(&self, status: DownloadStatus) -> usize {
        match status {
            DownloadStatus::Ok => self.ok,
            DownloadStatus::NotFound => self.not_found,
            DownloadStatus::Error => self.error,
        }
    }

    /// How many codes finished, whatever their status.
    pub fn total(&self) -> usize {
        self.ok + self.not_found + self.error
    }
}
