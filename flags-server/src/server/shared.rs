//! What every task of one server shares, behind one `Arc`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio_rustls::TlsAcceptor;

use super::content::Content;
use super::delay::DelayTimer;
use crate::config::{Fault, ServerConfig};
use crate::stats::Recorder;

/// What every connection task shares: the configuration, the counters, the
/// random generator and the scripts. Behind an `Arc`, one per server.
pub(super) struct Shared {
    pub(super) config: ServerConfig,
    /// Where the files come from.
    pub(super) content: Content,
    /// For an HTTPS server, what runs the handshake of each connection.
    pub(super) tls: Option<TlsAcceptor>,
    pub(super) recorder: Arc<Recorder>,
    /// The random generator behind delays and faults. One generator behind
    /// a mutex, rather than one per task, so that a seed gives the same
    /// sequence of answers to the same sequence of requests.
    pub(super) rng: Mutex<fastrand::Rng>,
    /// The faults still to come per code, taken from the front.
    pub(super) scripted: Mutex<BTreeMap<String, VecDeque<Fault>>>,
    /// Redirects sent so far ([`Fault::Redirect`]): numbers the `hop` of
    /// each `Location`, so that no two are the same.
    pub(super) redirects: AtomicU64,
    /// Connections still to be left unread
    /// ([`ServerConfig::silent_connections`]).
    pub(super) silent_left: AtomicUsize,
    /// What delayed requests wait on; its task runs on the server's runtime.
    pub(super) delay: DelayTimer,
}

impl Shared {
    /// Locks the random generator; a poisoned lock is taken over, since a
    /// generator cannot be left half-updated.
    pub(super) fn rng(&self) -> MutexGuard<'_, fastrand::Rng> {
        self.rng.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a connection just accepted is never to be read
    /// ([`Fault::NeverRead`]): one of the first scripted ones, or drawn.
    /// Counted as the fault when it is.
    pub(super) fn never_reads(&self) -> bool {
        let scripted = self
            .silent_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        let rate = self.config.never_read_rate();
        // No draw without a rate, so that a seed gives the same answers
        // as before to a server without this fault.
        let silent = scripted || (rate > 0.0 && self.rng().f64() < rate);
        if silent {
            self.recorder.count_fault(&Fault::NeverRead.name());
        }
        silent
    }
}
