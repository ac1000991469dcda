//! What the server counts: requests, statuses, faults, connections, and how
//! many requests are in flight at once.
//!
//! The counters are shared by every connection task, so they live behind an
//! `Arc` in [`Recorder`] and are updated with atomics (the gauges) or under a
//! short `std::sync::Mutex` (the maps and the request log). A std mutex
//! rather than tokio's is right here: it is never held across an `.await`,
//! only for a few instructions.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

/// A snapshot of the server's counters, as `GET /stats` returns it in JSON.
///
/// Only requests under `/flags/` (and other unknown paths) are counted:
/// `/stats` itself is not, so polling it does not disturb the figures.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests received since the start or the last reset.
    pub requests: u64,
    /// Requests received whose response is not finished yet.
    pub in_flight: u64,
    /// The largest `in_flight` seen since the start or the last reset. A
    /// request is in flight from its arrival until the last byte of its
    /// body is handed to the connection (or the body is dropped, when the
    /// client goes away).
    pub peak_in_flight: u64,
    /// Responses by status code, counted when the status is decided.
    pub by_status: BTreeMap<u16, u64>,
    /// Injected faults by name, the names of the table of fault modes
    /// ([`FAULT_MODES`](crate::FAULT_MODES): `drop`, `stall`,
    /// `status_503`, `redirect`, `reset`...), counted when injected:
    /// `never_read` per connection, the others per request.
    pub faults: BTreeMap<String, u64>,
    /// TCP connections accepted (all of them, those that only asked for
    /// `/stats` included).
    pub connections: u64,
    /// The largest number of connections open at once.
    pub peak_connections: u64,
    /// HTTPS connections that ended before the TLS handshake was done: the
    /// client did not trust the certificate, spoke plain HTTP, went away,
    /// or took too long. Always 0 for a plain HTTP server.
    pub tls_handshake_failures: u64,
}

/// One request, for timelines: what was asked, how it ended, and when.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// The path asked for, e.g. `/flags/br/br.gif`.
    pub path: String,
    /// The status sent, or 0 when none was (a stalled request ended by the
    /// shutdown). A dropped or truncated response keeps its 200.
    pub status: u16,
    /// The injected fault, by the name used in [`Stats::faults`].
    pub fault: Option<String>,
    /// When the request arrived, since the server started.
    pub started: Duration,
    /// When its response was finished (or abandoned), since the server
    /// started.
    pub finished: Duration,
}

/// At most this many records are kept in the request log; older ones are
/// dropped first, so a long-running server does not grow without bound.
pub(crate) const REQUEST_LOG_CAPACITY: usize = 100_000;

/// A gauge: a current level and the highest level seen.
///
/// Two atomics rather than a mutex: `enter` adds one and raises the peak with
/// `fetch_max`, which is exact even when many tasks enter at once on several
/// threads (each sees its own new level, and the maximum of those is kept).
#[derive(Debug, Default)]
struct Gauge {
    current: AtomicU64,
    peak: AtomicU64,
}

impl Gauge {
    fn enter(&self) {
        let level = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(level, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.current.fetch_sub(1, Ordering::SeqCst);
    }

    /// Forgets the old peak: the new one starts at the current level, since
    /// whatever is open now is still open.
    fn reset_peak(&self) {
        self.peak
            .store(self.current.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// The counters behind the maps, updated together under one lock.
#[derive(Debug, Default)]
struct Tallies {
    by_status: BTreeMap<u16, u64>,
    faults: BTreeMap<String, u64>,
    log: VecDeque<RequestRecord>,
}

/// The server's shared counters. One per server, behind an `Arc`, cloned
/// into every connection task.
#[derive(Debug)]
pub(crate) struct Recorder {
    /// The origin of every time in the request log.
    epoch: Instant,
    requests: AtomicU64,
    connections: AtomicU64,
    tls_handshake_failures: AtomicU64,
    /// Requests in flight: entered on arrival, left when the response body
    /// is finished or dropped (see [`InFlight`]).
    in_flight: Gauge,
    /// Connections open: entered on accept, left when the connection task
    /// ends (see [`OpenConnection`]).
    open_connections: Gauge,
    tallies: Mutex<Tallies>,
}

impl Recorder {
    /// The instant every time of the request log counts from.
    pub(crate) fn epoch(&self) -> Instant {
        self.epoch
    }

    pub(crate) fn new() -> Self {
        Recorder {
            epoch: Instant::now(),
            requests: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            tls_handshake_failures: AtomicU64::new(0),
            in_flight: Gauge::default(),
            open_connections: Gauge::default(),
            tallies: Mutex::new(Tallies::default()),
        }
    }

    /// Locks the maps. A panic while holding the lock cannot leave them
    /// half-updated in a way that matters (each update is one insertion), so
    /// a poisoned lock is simply taken over.
    fn tallies(&self) -> MutexGuard<'_, Tallies> {
        self.tallies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A snapshot of every counter.
    pub(crate) fn snapshot(&self) -> Stats {
        let tallies = self.tallies();
        Stats {
            requests: self.requests.load(Ordering::SeqCst),
            in_flight: self.in_flight.current.load(Ordering::SeqCst),
            peak_in_flight: self.in_flight.peak.load(Ordering::SeqCst),
            by_status: tallies.by_status.clone(),
            faults: tallies.faults.clone(),
            connections: self.connections.load(Ordering::SeqCst),
            peak_connections: self.open_connections.peak.load(Ordering::SeqCst),
            tls_handshake_failures: self.tls_handshake_failures.load(Ordering::SeqCst),
        }
    }

    /// Zeroes the counters and empties the log. The gauges keep their
    /// current level (those requests and connections are still open, and
    /// will leave later), and their peaks restart from it.
    pub(crate) fn reset(&self) {
        let mut tallies = self.tallies();
        self.requests.store(0, Ordering::SeqCst);
        self.connections.store(0, Ordering::SeqCst);
        self.tls_handshake_failures.store(0, Ordering::SeqCst);
        self.in_flight.reset_peak();
        self.open_connections.reset_peak();
        tallies.by_status.clear();
        tallies.faults.clear();
        tallies.log.clear();
    }

    /// A copy of the request log, oldest first.
    pub(crate) fn request_log(&self) -> Vec<RequestRecord> {
        self.tallies().log.iter().cloned().collect()
    }

    /// Counts an accepted connection and returns its guard, which keeps it
    /// counted as open until dropped.
    pub(crate) fn open_connection(self: &Arc<Self>) -> OpenConnection {
        self.connections.fetch_add(1, Ordering::SeqCst);
        self.open_connections.enter();
        OpenConnection {
            recorder: Arc::clone(self),
        }
    }

    /// Counts a fault that struck no request ([`Fault::NeverRead`], whose
    /// request is never read).
    ///
    /// [`Fault::NeverRead`]: crate::Fault::NeverRead
    pub(crate) fn count_fault(&self, name: &str) {
        *self.tallies().faults.entry(name.to_owned()).or_default() += 1;
    }

    /// Counts a connection whose TLS handshake failed or timed out.
    pub(crate) fn tls_handshake_failed(&self) {
        self.tls_handshake_failures.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts an arriving request and returns its guard, which keeps it in
    /// flight until dropped.
    pub(crate) fn arrive(self: &Arc<Self>, path: &str) -> InFlight {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.in_flight.enter();
        InFlight {
            recorder: Arc::clone(self),
            path: path.to_owned(),
            status: 0,
            fault: None,
            started: self.epoch.elapsed(),
        }
    }
}

/// An open connection, counted in `peak_connections` until dropped.
#[derive(Debug)]
pub(crate) struct OpenConnection {
    recorder: Arc<Recorder>,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.recorder.open_connections.leave();
    }
}

/// A request in flight.
///
/// This guard is what makes `peak_in_flight` honest. It is created when the
/// request arrives, then moved into the response body; dropping it (when the
/// body has sent its last byte, or when hyper drops the body because the
/// client went away, or when a stalled request is abandoned) takes the
/// request out of flight and writes its line in the request log. Whatever
/// path a request takes, the drop happens exactly once.
#[derive(Debug)]
pub(crate) struct InFlight {
    recorder: Arc<Recorder>,
    path: String,
    status: u16,
    fault: Option<String>,
    started: Duration,
}

impl InFlight {
    /// Records the status of the response, once decided.
    pub(crate) fn set_status(&mut self, status: u16) {
        self.status = status;
        *self.recorder.tallies().by_status.entry(status).or_default() += 1;
    }

    /// Records an injected fault.
    pub(crate) fn set_fault(&mut self, name: String) {
        *self
            .recorder
            .tallies()
            .faults
            .entry(name.clone())
            .or_default() += 1;
        self.fault = Some(name);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let record = RequestRecord {
            path: std::mem::take(&mut self.path),
            status: self.status,
            fault: self.fault.take(),
            started: self.started,
            finished: self.recorder.epoch.elapsed(),
        };
        {
            let mut tallies = self.recorder.tallies();
            if tallies.log.len() == REQUEST_LOG_CAPACITY {
                tallies.log.pop_front();
            }
            tallies.log.push_back(record);
        }
        // Leave the gauge last, so that once `in_flight` reads 0 the log
        // holds every finished request.
        self.recorder.in_flight.leave();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gauge's peak is the highest simultaneous level, and a reset keeps
    /// the open ones.
    #[test]
    fn gauge_tracks_peak_and_reset_keeps_open_requests() {
        let recorder = Arc::new(Recorder::new());
        let first = recorder.arrive("/a");
        let second = recorder.arrive("/b");
        drop(first);
        let third = recorder.arrive("/c");
        assert_eq!(recorder.snapshot().peak_in_flight, 2);
        drop(second);
        recorder.reset();
        let stats = recorder.snapshot();
        assert_eq!(
            (stats.requests, stats.in_flight, stats.peak_in_flight),
            (0, 1, 1)
        );
        drop(third);
        let stats = recorder.snapshot();
        assert_eq!((stats.in_flight, stats.peak_in_flight), (0, 1));
        assert_eq!(recorder.request_log().len(), 1);
    }
}
