//! The response body: the bytes to send, how to send them (at once, slowly,
//! cut short, a byte at a time...), and the in-flight guard that is dropped
//! with the body.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::{Notify, watch};
use tokio::time::Sleep;

use super::shutdown::stopped;
use crate::config::DRIP_INTERVAL;
use crate::stats::InFlight;

/// Size of a huge body: 11 MiB, over the 10 MiB cap of the clients.
pub(crate) const HUGE_BODY_LEN: u64 = 11 * 1024 * 1024;
/// A huge body is streamed in pieces of this size.
const HUGE_CHUNK_LEN: usize = 64 * 1024;
/// A chunked body is sent in this many pieces (the last may be shorter),
/// each a chunk of its own on the wire.
const CHUNKED_PIECES: usize = 4;
/// A slow body is sent in this many pieces...
const SLOW_PIECES: usize = 20;
/// ...with this pause before each piece after the first: about 0.3 s in all.
const SLOW_PAUSE: Duration = Duration::from_millis(15);
/// Before cutting a connection, the body waits this long so that hyper
/// flushes what it has (the headers, or the first half of the body) first.
const FLUSH_PAUSE: Duration = Duration::from_millis(20);

/// Why a body ended early. Hyper closes the connection when a body returns
/// an error, which is exactly what the `drop` and `truncate` faults want.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    /// The `drop` or `truncate` fault cut the connection on purpose.
    #[error("connection cut on purpose by an injected fault")]
    Cut,
    /// The server shut down while a dripping body was being sent.
    #[error("dripping body abandoned at shutdown")]
    ShuttingDown,
}

/// How the bytes of a body are sent.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// All at once.
    Whole,
    /// In [`SLOW_PIECES`] pieces with a pause before each but the first.
    Slow,
    /// Nothing: wait for the headers to go out, then cut the connection.
    DropAfterHeaders,
    /// The first half, then cut the connection.
    Truncate,
    /// [`HUGE_BODY_LEN`] bytes of filler, in pieces.
    Huge,
    /// In [`CHUNKED_PIECES`] pieces at once, without a `Content-Length`:
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Like [`Delivery::Huge`], without a `Content-Length`: chunked.
    HugeChunked,
    /// One byte at a time, with a pause of [`DRIP_INTERVAL`] before each
    /// but the first.
    Drip,
}

impl Delivery {
    /// True if the length is announced in `Content-Length`; false for a
    /// chunked body, whose length shows only at its end.
    fn announces_length(&self) -> bool {
        !matches!(self, Delivery::Chunked | Delivery::HugeChunked)
    }
}

/// A future that completes when the server shuts down. Boxed, so that the
/// body stays `Unpin` and its type does not name the async block's.
type ShutdownSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A response body that knows how to misbehave.
///
/// Hyper polls it for frames; each poll either hands out the next piece,
/// waits on a timer (returning `Pending`, which also lets hyper flush what
/// it already has to the socket), or ends the body. The [`InFlight`] guard
/// rides along and is dropped as soon as the last piece is handed out, or
/// with the body if hyper drops it earlier (client gone, connection closed).
pub(crate) struct FlagBody {
    /// The bytes not sent yet (for `Huge` and `HugeChunked`: one piece of
    /// filler, reused).
    remaining: Bytes,
    /// How many bytes are still to go for `Huge` and `HugeChunked`.
    huge_left: u64,
    /// The length of the whole body, announced in `Content-Length` unless
    /// the body is chunked.
    len: u64,
    delivery: Delivery,
    /// Size of the pieces of a slow or chunked body.
    piece_len: usize,
    /// The pause in progress, if any.
    pause: Option<Pin<Box<Sleep>>>,
    /// For `Drip`: fires at shutdown, so the body ends then instead of
    /// dripping on for an hour (see [`FlagBody::until_shutdown`]).
    shutdown: Option<ShutdownSignal>,
    /// For `DropAfterHeaders` and `Truncate`: true once the pause before
    /// the cut has begun, so the next poll after it cuts.
    cut_armed: bool,
    /// True once the body has been cut or has handed out its last piece.
    done: bool,
    in_flight: Option<InFlight>,
    /// Told when the body is dropped, that is once hyper has sent it (or
    /// given up on it): the connection then closes (see
    /// [`ServerConfig::close_after_response`](crate::ServerConfig::close_after_response)).
    sent: Option<Arc<Notify>>,
}

impl Drop for FlagBody {
    fn drop(&mut self) {
        if let Some(sent) = &self.sent {
            // `notify_one` keeps the permit if nobody waits yet, so the
            // connection task sees it whenever it looks.
            sent.notify_one();
        }
    }
}

impl FlagBody {
    /// A body sent the given way. `in_flight` is `None` for responses that
    /// are not counted (`/stats`).
    pub(crate) fn new(content: Bytes, delivery: Delivery, in_flight: Option<InFlight>) -> Self {
        let huge = matches!(delivery, Delivery::Huge | Delivery::HugeChunked);
        let len = if huge {
            HUGE_BODY_LEN
        } else {
            content.len() as u64
        };
        let remaining = if huge {
            Bytes::from(vec![0_u8; HUGE_CHUNK_LEN])
        } else {
            content
        };
        let pieces = match delivery {
            Delivery::Chunked => CHUNKED_PIECES,
            _ => SLOW_PIECES,
        };
        let piece_len = remaining.len().div_ceil(pieces).max(1);
        FlagBody {
            remaining,
            huge_left: HUGE_BODY_LEN,
            len,
            delivery,
            piece_len,
            pause: None,
            shutdown: None,
            cut_armed: false,
            done: false,
            in_flight,
            sent: None,
        }
    }

    /// Tell `sent` when this body is done with (sent, cut or abandoned).
    pub(crate) fn notify_when_sent(mut self, sent: Arc<Notify>) -> Self {
        self.sent = Some(sent);
        self
    }

    /// Makes the body end, cutting the connection, as soon as the server
    /// shuts down. For bodies that would otherwise outlive any grace period
    /// (a drip); the others are left to finish within it.
    pub(crate) fn until_shutdown(mut self, mut shutdown: watch::Receiver<bool>) -> Self {
        // The body is polled by hyper, not awaited, so the wait for the
        // signal becomes a future of its own that `poll_frame` polls along
        // with its pause: whichever is ready first wins, like a `select!`.
        self.shutdown = Some(Box::pin(async move { stopped(&mut shutdown).await }));
        self
    }

    /// The length to announce in `Content-Length`, or `None` for a chunked
    /// body, which must have none.
    pub(crate) fn announced_len(&self) -> Option<u64> {
        self.delivery.announces_length().then_some(self.len)
    }

    /// Starts a pause; the next polls wait for it.
    fn pause_for(&mut self, duration: Duration) {
        self.pause = Some(Box::pin(tokio::time::sleep(duration)));
    }

    /// Ends the body: the request leaves the in-flight gauge now.
    fn finish(&mut self) {
        self.done = true;
        self.in_flight = None;
    }
}

impl Body for FlagBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        // `FlagBody` holds no self-references (the sleep is boxed), so it is
        // `Unpin` and can be used through a plain `&mut`.
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            // Shutdown first: it ends the body even in the middle of a
            // pause. Polling it also registers our waker, so a shutdown
            // wakes a body that is waiting on its timer.
            if let Some(shutdown) = this.shutdown.as_mut() {
                if shutdown.as_mut().poll(context).is_ready() {
                    this.finish();
                    return Poll::Ready(Some(Err(BodyError::ShuttingDown)));
                }
            }
            // Wait out the pause in progress first. Polling the timer
            // registers our waker with it, so hyper polls us again when it
            // fires; meanwhile `Pending` lets hyper write what it has.
            if let Some(pause) = this.pause.as_mut() {
                if pause.as_mut().poll(context).is_pending() {
                    return Poll::Pending;
                }
                this.pause = None;
            }
            let piece = match this.delivery {
                Delivery::Whole => {
                    let piece = std::mem::take(&mut this.remaining);
                    this.finish();
                    piece
                }
                Delivery::Slow | Delivery::Chunked => {
                    // One piece per frame; hyper sends each frame of a
                    // chunked body as a chunk of its own.
                    let piece_len = this.piece_len.min(this.remaining.len());
                    let piece = this.remaining.split_to(piece_len);
                    if this.remaining.is_empty() {
                        this.finish();
                    } else if matches!(this.delivery, Delivery::Slow) {
                        this.pause_for(SLOW_PAUSE);
                    }
                    piece
                }
                Delivery::Drip => {
                    // One byte now, the next after a pause. Each `Pending`
                    // in between lets hyper write the byte out. Once the
                    // client has gone, hyper sees the end of its stream (or
                    // the next write fails), drops the body, and the
                    // dripping ends with it: nothing is left behind.
                    let piece = this.remaining.split_to(this.remaining.len().min(1));
                    if this.remaining.is_empty() {
                        this.finish();
                    } else {
                        this.pause_for(DRIP_INTERVAL);
                    }
                    piece
                }
                Delivery::DropAfterHeaders | Delivery::Truncate if this.cut_armed => {
                    // The pause is over and hyper has flushed: cut. Hyper
                    // closes the connection when a body fails.
                    this.finish();
                    return Poll::Ready(Some(Err(BodyError::Cut)));
                }
                Delivery::DropAfterHeaders | Delivery::Truncate => {
                    // Arm the cut and pause, so that what was sent so far
                    // (the headers, plus half the body when truncating)
                    // reaches the socket before the connection is closed.
                    this.cut_armed = true;
                    this.pause_for(FLUSH_PAUSE);
                    let keep = match this.delivery {
                        Delivery::Truncate => this.remaining.len() / 2,
                        _ => 0,
                    };
                    if keep == 0 {
                        // Nothing to hand out: go round and wait.
                        continue;
                    }
                    this.remaining.split_to(keep)
                }
                Delivery::Huge | Delivery::HugeChunked => {
                    let piece_len = this.huge_left.min(HUGE_CHUNK_LEN as u64);
                    // `piece_len` is at most HUGE_CHUNK_LEN, the filler's
                    // length, so it fits in `usize` and in the slice.
                    let piece = this.remaining.slice(..piece_len as usize);
                    this.huge_left -= piece_len;
                    if this.huge_left == 0 {
                        this.finish();
                    }
                    piece
                }
            };
            return Poll::Ready(Some(Ok(Frame::data(piece))));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        // Hyper writes a `Content-Length` of its own for a body whose size
        // is exact, and sends it chunked otherwise: so a chunked body
        // claims to know nothing of its size.
        match self.announced_len() {
            Some(len) => SizeHint::with_exact(len),
            None => SizeHint::new(),
        }
    }
}
