//! The fault matrix: every fault mode of the server (its one table,
//! [`FAULT_MODES`]) against one model, with exact counts.
//!
//! Each mode is tried twice ([`check_fault_mode`]):
//!
//! - at random, on about 30% of the requests of 23 codes, with no retry:
//!   the outcome of each code is read off the server's request log (the
//!   last request for the code: its fault's outcome in the table, or its
//!   status), and the run must count exactly those, save exactly the codes
//!   that came out OK, byte for byte, leave nothing temporary, and send
//!   each code exactly one request plus one per redirect followed (and let
//!   a dripping 404 go without waiting for its drip);
//! - scripted on a few codes, with `--retries 3`: an error is tried again
//!   until the flag comes, a redirect is followed to it, a 404 is asked
//!   for once, and `Retry-After` (as seconds or as a date) is waited for.
//!
//! The outcome a mode must have is the table's, but for the documented
//! place where clients may differ ([`Client::outcome`]). The two redirects
//! to a scheme's default port need a server on port 80 or 443: they are
//! tried end to end in a private network namespace, where the tests run
//! as root (`default_port`), and skipped elsewhere.

use std::time::Duration;

use flags_core::{DownloadJob, StatusCounter, Variant};
use flags_server::{
    DRIP_INTERVAL, FAULT_MODES, Fault, FaultMode, FlagServer, Outcome, RequestRecord, ServerConfig,
    Stats, fault_mode,
};

use super::{MISSING_CODES, check_fresh_hangup, check_saved_files, job_for, start, temp_dir};

#[cfg(target_os = "linux")]
mod default_port;

/// The HTTP client a model runs on, for what the contract lets clients do
/// differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// ureq (seq, the thread pools, the process workers): it cannot unfold
    /// an obs-fold header, and it tells a new connection from a pooled one.
    Ureq,
    /// reqwest (async, `flags-threadpool --client reqwest`): it cannot tell
    /// a new connection from a pooled one, so it sends a hung-up request
    /// once more.
    Reqwest,
}

impl Client {
    /// What a run on this client must make of `mode`: the table's outcome,
    /// but for a folded head in ureq, which refuses it (an error, as
    /// `docs/interface.md` says).
    fn outcome(self, mode: &FaultMode) -> Outcome {
        match (self, mode.fault) {
            (Client::Ureq, Fault::FoldedHead) => Outcome::Error,
            _ => mode.outcome,
        }
    }

    /// Whether the client knows a connection it just opened from a pooled
    /// one, and so does not send a request again when a new connection
    /// is closed under it ([`check_fresh_hangup`]).
    fn tells_fresh(self) -> bool {
        self != Client::Reqwest
    }
}

/// The share of requests that meet the fault in the random pass.
const RATE: f64 = 0.3;
/// The seed of the random pass.
const SEED: u64 = 7;
/// The least a client that honours `Retry-After` waits before its retry,
/// for the two modes that ask for long waits (a number of seconds over
/// the clients' cap, a date 2 to 3 s ahead): a client that ignores the
/// header comes back after its backoff, tens of milliseconds.
const RETRY_AFTER_FLOOR: Duration = Duration::from_secs(1);
/// How long a dripping 404 (`404 Not Found\n`, 14 bytes, the first sent
/// at once) takes to reach its end. A client that drains an unused body
/// for a short while only (50 ms) lets it go long before; one that reads it
/// to its end, or to its deadline (which [`timeout_for`] puts later still),
/// holds it this long: the run counts the same "not found" either way, so
/// the server's log tells them apart.
const WHOLE_404_DRIP: Duration = DRIP_INTERVAL.saturating_mul(13);
/// How long the server may take to see every request end once the run is
/// over (a stalled one ends when its client closes the connection): only a
/// hang guard.
const SETTLE_PATIENCE: Duration = Duration::from_secs(30);

/// Every fault mode on one model: the fault matrix's row for it. Every
/// mode is tried; the error lists each mode that failed, one per line.
pub fn check_fault_matrix(variant: &Variant, max_req: usize, client: Client) -> Result<(), String> {
    let failures: Vec<String> = FAULT_MODES
        .iter()
        .filter_map(|mode| check_fault_mode(variant, max_req, client, mode).err())
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// One cell of the fault matrix: `mode` on one model, at random and
/// scripted (see the module's documentation). A hang-up is the one mode
/// whose outcome hangs on whether its connection was new, so it is tried
/// only as [`check_fresh_hangup`] tries it; a redirect to a default port
/// is tried once, end to end, where a private network can be had (see
/// the module's documentation).
pub(crate) fn check_fault_mode(
    variant: &Variant,
    max_req: usize,
    client: Client,
    mode: &FaultMode,
) -> Result<(), String> {
    if mode.needs_default_port() {
        #[cfg(target_os = "linux")]
        return default_port::check_default_port(variant, max_req, mode);
        #[cfg(not(target_os = "linux"))]
        return Ok(());
    }
    if mode.fault == Fault::Hangup {
        return check_fresh_hangup(variant, client.tells_fresh())
            .map_err(|error| format!("{}: {error}", mode.name));
    }
    check_at_random(variant, max_req, client, mode)?;
    check_scripted(variant, max_req, client, mode)
}

/// `--timeout` for a mode: a slow body takes about 0.3 s, which a loaded
/// machine may stretch; a dripping 404 must be let go long before a
/// drained-to-the-end drip, or a deadline, would end it (see
/// [`WHOLE_404_DRIP`]); the other faults fail fast or at the timeout,
/// which stalls make everyone wait for.
fn timeout_for(mode: &FaultMode) -> Duration {
    match mode.fault {
        Fault::SlowBody => Duration::from_secs(3),
        Fault::DripNotFound => Duration::from_secs(10),
        _ => Duration::from_millis(600),
    }
}

/// The random pass: about [`RATE`] of the requests of 23 codes meet the
/// fault, no retry; every code's outcome is the one its requests earned.
fn check_at_random(
    variant: &Variant,
    max_req: usize,
    client: Client,
    mode: &FaultMode,
) -> Result<(), String> {
    let scenario = mode.name;
    let server = start(ServerConfig {
        seed: Some(SEED),
        fault_rates: vec![(mode.fault, RATE)],
        // The fault strikes connections, not requests: each request on a
        // new connection (the client sends a request again, once, when
        // the connection it reused was closed).
        close_after_response: mode.fault == Fault::NeverRead,
        ..ServerConfig::default()
    })?;
    let dest = temp_dir()?;
    let mut codes: Vec<&str> = flags_core::countries::all_cc()
        .into_iter()
        .take(20)
        .collect();
    codes.extend(MISSING_CODES);
    let mut job = job_for(&codes, &server, dest.path(), max_req);
    job.timeout = timeout_for(mode);
    let counter = variant
        .download_many(&job)
        .map_err(|error| format!("{scenario}: download_many failed to start: {error}"))?;
    let stats = settled(&server, scenario)?;
    let log = server.request_log();
    if stats.faults.get(scenario).copied().unwrap_or(0) == 0 {
        return Err(format!(
            "{scenario}: the fault never struck ({:?})",
            stats.faults
        ));
    }

    let mut expected = StatusCounter::default();
    let mut saved = Vec::new();
    let mut unread = 0;
    for code in &codes {
        let mut records: Vec<&RequestRecord> = log
            .iter()
            .filter(|record| record.path == flag_path(code))
            .collect();
        // By arrival: a redirect whose body drips ends after the request
        // it led to.
        records.sort_by_key(|record| record.started);
        let outcome = if records.is_empty() && mode.fault == Fault::NeverRead {
            // Its connection was never read.
            unread += 1;
            Outcome::Error
        } else {
            outcome_of(client, code, &records).map_err(|error| format!("{scenario}: {error}"))?
        };
        match outcome {
            Outcome::Ok => {
                expected.ok += 1;
                saved.push(*code);
            }
            Outcome::NotFound => expected.not_found += 1,
            Outcome::Error | Outcome::Followed => expected.error += 1,
        }
    }
    if counter != expected {
        return Err(format!(
            "{scenario}: counted {counter:?}, the server's log says {expected:?} ({:?})",
            stats.faults
        ));
    }
    let asked: usize = codes
        .iter()
        .map(|code| {
            log.iter()
                .filter(|record| record.path == flag_path(code))
                .count()
        })
        .sum();
    if stats.requests != log.len() as u64 || asked != log.len() {
        return Err(format!(
            "{scenario}: {} requests, {} of them for the run's flags, {} logged",
            stats.requests,
            asked,
            log.len()
        ));
    }
    let held = log.iter().find(|record| {
        record.fault.as_deref() == Some("drip_404")
            && record.finished.saturating_sub(record.started) >= WHOLE_404_DRIP
    });
    if let Some(record) = held {
        return Err(format!(
            "{scenario}: the dripping 404 of {} was held {:?}, to the end of its drip",
            record.path,
            record.finished.saturating_sub(record.started)
        ));
    }
    let never_read = stats.faults.get("never_read").copied().unwrap_or(0);
    if unread > never_read {
        return Err(format!(
            "{scenario}: {unread} codes never asked for, {never_read} connections left unread"
        ));
    }
    check_saved_files(scenario, dest.path(), &saved)
}

/// What a run must count for a code, from its requests in the order they
/// came: each but the last a redirect that the client follows, and the
/// last one's fault (its outcome on this client) or its status. A code
/// asked for once more than its redirects explain was sent again.
fn outcome_of(client: Client, code: &str, records: &[&RequestRecord]) -> Result<Outcome, String> {
    let outcome = |record: &RequestRecord| match record.fault.as_deref().and_then(fault_mode) {
        Some(mode) => Ok(client.outcome(mode)),
        None => match record.status {
            200 => Ok(Outcome::Ok),
            404 => Ok(Outcome::NotFound),
            status => Err(format!("{code}: status {status} without a fault")),
        },
    };
    let Some((last, before)) = records.split_last() else {
        return Err(format!("{code} was never asked for"));
    };
    for record in before {
        if outcome(record)? != Outcome::Followed {
            return Err(format!(
                "{code} was asked for again after {:?} (status {}): {} requests",
                record.fault,
                record.status,
                records.len()
            ));
        }
    }
    match outcome(last)? {
        // The limit: the first request and 10 redirects, then the 11th
        // redirect is the error.
        Outcome::Followed if records.len() == 11 => Ok(Outcome::Error),
        Outcome::Followed => Err(format!(
            "{code}: the redirect of its request {} was not followed",
            records.len()
        )),
        outcome => Ok(outcome),
    }
}

/// The scripted pass: the fault on a few codes (twice each, or once on
/// one code for the modes that ask for a long wait) and `--retries 3`.
fn check_scripted(
    variant: &Variant,
    max_req: usize,
    client: Client,
    mode: &FaultMode,
) -> Result<(), String> {
    let scenario = format!("{} with retries", mode.name);
    let waits = matches!(mode.fault, Fault::Busy(_) | Fault::BusyUntil(_));
    let (flaky, times): (&[&str], usize) = if waits {
        (&["BR"], 1)
    } else {
        (&["BR", "CN", "JP"], 2)
    };
    let mut config = ServerConfig::default();
    if mode.fault == Fault::NeverRead {
        // Its request names no code: the first connections are the ones.
        config.silent_connections = times;
    } else {
        for code in flaky {
            config
                .scripted
                .insert(code.to_ascii_lowercase(), vec![mode.fault; times]);
        }
    }
    let server = start(config)?;
    let dest = temp_dir()?;
    let codes = ["BR", "CN", "DE", "JP", "ZZ"];
    let mut job: DownloadJob = job_for(&codes, &server, dest.path(), max_req);
    job.timeout = timeout_for(mode);
    job.retries = 3;
    // A `Retry-After` of hours, or a date seconds ahead, is honoured up to
    // the job's cap: a low one keeps the matrix quick, and the retry must
    // still wait that long.
    job.max_retry_wait = RETRY_AFTER_FLOOR;
    let counter = variant
        .download_many(&job)
        .map_err(|error| format!("{scenario}: download_many failed to start: {error}"))?;
    let stats = settled(&server, &scenario)?;
    let log = server.request_log();

    // What each code must come to, and how many requests it takes.
    let outcome = client.outcome(mode);
    let faulted = mode.fault != Fault::NeverRead;
    let mut expected = StatusCounter::default();
    let mut saved = Vec::new();
    let mut asked = Vec::new();
    for code in codes {
        let (result, requests) = match (code, outcome) {
            ("ZZ", _) => (Outcome::NotFound, 1),
            (code, Outcome::NotFound) if faulted && flaky.contains(&code) => (Outcome::NotFound, 1),
            (code, Outcome::Error | Outcome::Followed) if faulted && flaky.contains(&code) => {
                (Outcome::Ok, times + 1)
            }
            _ => (Outcome::Ok, 1),
        };
        match result {
            Outcome::Ok => {
                expected.ok += 1;
                saved.push(code);
            }
            _ => expected.not_found += 1,
        }
        let got = log
            .iter()
            .filter(|record| record.path == flag_path(code))
            .count();
        if got != requests {
            asked.push(format!("{code}: {got}, expected {requests}"));
        }
    }
    if counter != expected {
        return Err(format!(
            "{scenario}: counted {counter:?}, expected {expected:?} ({:?})",
            stats.faults
        ));
    }
    if !asked.is_empty() {
        return Err(format!(
            "{scenario}: requests per code: {}",
            asked.join("; ")
        ));
    }
    if !faulted && stats.faults.get("never_read") != Some(&(times as u64)) {
        return Err(format!(
            "{scenario}: {:?} connections left unread, expected {times}",
            stats.faults.get("never_read")
        ));
    }
    check_saved_files(&scenario, dest.path(), &saved)?;
    if waits {
        // The retry came no sooner than `Retry-After` allowed.
        let mut asked_br: Vec<&RequestRecord> = log
            .iter()
            .filter(|record| record.path == flag_path("BR"))
            .collect();
        asked_br.sort_by_key(|record| record.started);
        if let [busy, retry] = asked_br[..] {
            let waited = retry.started.saturating_sub(busy.finished);
            if waited < RETRY_AFTER_FLOOR {
                return Err(format!(
                    "{scenario}: retried {waited:?} after a Retry-After asking for longer \
                     (at least {RETRY_AFTER_FLOOR:?})"
                ));
            }
        }
    }
    Ok(())
}

/// The path of a code's flag, as the request log records it.
fn flag_path(code: &str) -> String {
    let code = code.to_ascii_lowercase();
    format!("/flags/{code}/{code}.gif")
}

/// The server's statistics once no request is in flight any more, so that
/// the log holds every request of the run.
fn settled(server: &FlagServer, scenario: &str) -> Result<Stats, String> {
    let deadline = std::time::Instant::now() + SETTLE_PATIENCE;
    loop {
        let stats = server.stats();
        if stats.in_flight == 0 {
            return Ok(stats);
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "{scenario}: {} requests still in flight {SETTLE_PATIENCE:?} after the run",
                stats.in_flight
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
