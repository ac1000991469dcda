//! All the pool knows of what its workers say: lines, and a greeting.
//!
//! Every worker protocol speaks one line of UTF-8 per message, at most
//! [`MAX_LINE_BYTES`] long, and every worker's first line is its greeting,
//! `HELLO {name} {version}` ([`hello_line`], read by [`parse_hello`]). The
//! rest of each protocol (the flag workers' `JOB`, `GET` and `DONE`) is the
//! protocol's own business: the pool hands its lines over unread.

use std::io::{self, Write};

/// The longest line the parent accepts from a worker, newline excluded.
pub const MAX_LINE_BYTES: usize = 8192;

/// A first line that is not a greeting the pool can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a greeting, {reason}: {line:?}")]
pub struct BadGreeting {
    /// What is wrong with it.
    pub reason: &'static str,
    /// The line (cut, see [`excerpt`]).
    pub line: String,
}

/// The greeting line of a protocol: `HELLO {name} {version}`.
pub fn hello_line(name: &str, version: u32) -> String {
    format!("HELLO {name} {version}")
}

/// Read a worker's greeting: `HELLO {name} {version}`, the name made of
/// letters, digits, `-`, `_` and `.`. Never panics, whatever the line.
///
/// ```
/// use flags_process::pool::line::parse_hello;
/// assert_eq!(parse_hello("HELLO flags-process 1"), Ok(("flags-process".to_string(), 1)));
/// assert!(parse_hello("HELLO flags-process").is_err());
/// assert!(parse_hello("HELLO flags-process -1").is_err());
/// ```
pub fn parse_hello(line: &str) -> Result<(String, u32), BadGreeting> {
    let bad = |reason| BadGreeting {
        reason,
        line: excerpt(line),
    };
    if line.len() > MAX_LINE_BYTES {
        return Err(bad("too long"));
    }
    let fields: Vec<&str> = line.split(' ').collect();
    let ["HELLO", name, version] = fields.as_slice() else {
        return Err(bad("not HELLO NAME VERSION"));
    };
    let name_ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte));
    if !name_ok {
        return Err(bad("the name is not a name"));
    }
    if version.is_empty() || !version.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(bad("the version is not a number"));
    }
    let version = version.parse().map_err(|_| bad("the version is too big"))?;
    Ok((name.to_string(), version))
}

/// At most 40 characters of `text`, for error messages.
pub fn excerpt(text: &str) -> String {
    const KEEP: usize = 40;
    match text.char_indices().nth(KEEP) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// Write one line and flush it (a worker's answers, the fork server's).
pub fn write_line(output: &mut impl Write, line: &str) -> io::Result<()> {
    output.write_all(line.as_bytes())?;
    output.write_all(b"\n")?;
    output.flush()
}
