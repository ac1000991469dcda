//! The lines printed before and after a run, byte for byte as the contract
//! shows them.
//!
//! The functions return `String`s so that tests can compare them exactly;
//! [`crate::run`] prints them.

use std::time::Duration;

use crate::StatusCounter;

/// The three lines printed before the downloads start.
///
/// ```
/// let text = flags_core::report::initial_report(
///     "DELAY",
///     "http://localhost:8001/flags",
///     &["BR".to_string(), "CN".to_string()],
///     1,
/// );
/// assert_eq!(
///     text,
///     "DELAY site: http://localhost:8001/flags\n\
///      Searching for 2 flags: BR, CN\n\
///      1 connection will be used.\n"
/// );
/// ```
pub fn initial_report(
    server_label: &str,
    base_url: &str,
    country_codes: &[String],
    actual_max_req: usize,
) -> String {
    let codes_text = match country_codes {
        [first, .., last] if country_codes.len() > 10 => format!("from {first} to {last}"),
        codes => codes.join(", "),
    };
    let plural = if country_codes.len() == 1 { "" } else { "s" };
    let connections = if actual_max_req == 1 {
        "1 connection will be used.".to_string()
    } else {
        format!("{actual_max_req} concurrent connections will be used.")
    };
    let base_url = crate::url::redact(base_url);
    format!(
        "{server_label} site: {base_url}\n\
         Searching for {count} flag{plural}: {codes_text}\n\
         {connections}\n",
        count = country_codes.len(),
    )
}

/// The lines printed after the run: a rule, the counts (only those that
/// are not zero, except the first), and the elapsed time.
///
/// ```
/// use std::time::Duration;
/// use flags_core::StatusCounter;
/// let counter = StatusCounter { ok: 190, not_found: 3, error: 1 };
/// assert_eq!(
///     flags_core::report::final_report(&counter, Duration::from_millis(720)),
///     "--------------------\n\
///      190 flags downloaded.\n  3 not found.\n  1 error.\n\
///      Elapsed time: 0.72s\n"
/// );
/// ```
pub fn final_report(counter: &StatusCounter, elapsed: Duration) -> String {
    let mut text = String::new();
    text.push_str(&"-".repeat(20));
    text.push('\n');
    let plural = if counter.ok == 1 { "" } else { "s" };
    text.push_str(&format!("{:3} flag{plural} downloaded.\n", counter.ok));
    if counter.not_found > 0 {
        text.push_str(&format!("{:3} not found.\n", counter.not_found));
    }
    if counter.error > 0 {
        let plural = if counter.error == 1 { "" } else { "s" };
        text.push_str(&format!("{:3} error{plural}.\n", counter.error));
    }
    text.push_str(&format!("Elapsed time: {:.2}s\n", elapsed.as_secs_f64()));
    text
}
