//! The request handler: what each request gets, and the responses it is
//! built from.
//!
//! [`handle`] is called by hyper once per request. It answers `/stats` and
//! `/stats/reset` at once; any other request is counted and in flight from
//! here until its body is done with. A request under `/flags/` then draws
//! its delay and fault ([`Shared::plan`]), waits out the delay on the delay
//! timer ([`super::delay`]), and gets what its fault makes of it: an
//! answer instead of the resource ([`fault_response`]), an answer hyper
//! cannot send ([`RawAnswer`], written by the connection task), or the
//! flag itself, shaped by the fault ([`flag_response`]).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{
    CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderValue, LOCATION, RETRY_AFTER,
    WWW_AUTHENTICATE,
};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::watch;

use super::body::{Delivery, FlagBody};
use super::content::{Resource, parse_resource};
use super::raw::{Handover, PIXEL_GIF_BASE64, RawAnswer};
use super::shared::Shared;
use super::shutdown::stopped;
use crate::config::{Fault, HUGE_HEAD_PADDING};
use crate::stats::{InFlight, Stats};

/// The header a `POST /stats/reset` must carry, with the value `1`. A
/// browser sends a header of its own making to another site only after a
/// CORS preflight (`OPTIONS`), which this server never grants: so no web
/// page can reset the statistics behind a measurement's back, as a plain
/// cross-site form could.
pub const RESET_HEADER: &str = "x-flags-reset";

/// Why a request got no response from hyper: the connection is closed
/// instead, or answered byte for byte.
#[derive(Debug, thiserror::Error)]
pub(super) enum NoResponse {
    /// A stalled request, abandoned at shutdown.
    #[error("stalled request abandoned at shutdown")]
    Stalled,
    /// A delayed request, abandoned at shutdown.
    #[error("delayed request abandoned at shutdown")]
    ShuttingDown,
    /// [`Fault::Hangup`]: the connection is closed unanswered.
    #[error("hung up on purpose")]
    HungUp,
    /// A fault hyper cannot send: the connection task writes it to the
    /// socket itself (see [`super::raw`]).
    #[error("answered byte for byte")]
    Raw(Handover),
}

impl Shared {
    /// Draws the wait and the fault of one request. Both random draws are
    /// made for every request, whatever the script says, so a seed gives the
    /// same sequence with or without scripts. A [`Fault::Delay`] replaces
    /// the wait.
    fn plan(&self, resource: Option<Resource>) -> (Duration, Option<Fault>) {
        let scripted = match resource {
            Some(Resource::Flag(code)) => self
                .scripted
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_mut(code.as_str())
                .and_then(VecDeque::pop_front),
            _ => None,
        };
        let mut rng = self.rng();
        let wait = self.config.delay.sample(&mut rng);
        let random = self.config.draw_fault(&mut rng);
        match scripted.or(random) {
            Some(Fault::Delay(fault_wait)) => (fault_wait, Some(Fault::Delay(fault_wait))),
            fault => (wait, fault),
        }
    }

    /// Where a redirect fault sends the request for `path`, or `None` for
    /// any other fault. Those that point back at the same path number
    /// their hops, so that no two `Location`s are the same.
    fn location(&self, fault: Fault, request: &Request<Incoming>) -> Option<String> {
        let back = || {
            let hop = self.redirects.fetch_add(1, Ordering::Relaxed) + 1;
            format!("{}?hop={hop}", request.uri().path())
        };
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        Some(match fault {
            Fault::Redirect | Fault::RedirectWith(_) | Fault::RedirectDrip => back(),
            Fault::RedirectWithSpace => format!("{}&note=a b", back()),
            Fault::RedirectToDefaultPort => format!("{scheme}://{}{}", host(request), back()),
            Fault::RedirectToHttps => format!("https://{}{}", host(request), back()),
            Fault::RedirectToFile => "file:///etc/passwd".to_owned(),
            Fault::RedirectToData => format!("data:image/gif;base64,{PIXEL_GIF_BASE64}"),
            _ => return None,
        })
    }
}

/// The host a request asked for in its `Host` header, without its port
/// (`localhost` when it named none).
fn host(request: &Request<Incoming>) -> &str {
    let named = request
        .headers()
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("localhost");
    without_port(named)
}

/// `localhost` of `localhost:8000`, `[::1]` of `[::1]:8000`.
fn without_port(host: &str) -> &str {
    match host.find(']') {
        Some(end) => &host[..=end],
        None => host.split(':').next().unwrap_or(host),
    }
}

/// Answers one request.
pub(super) async fn handle(
    request: Request<Incoming>,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<Response<FlagBody>, NoResponse> {
    let method = request.method();
    // The path only: a query string (such as the `?hop=1` of a redirect)
    // changes neither the resource nor the code it counts for.
    let path = request.uri().path();

    // The statistics are not counted, delayed or faulted.
    match (method, path) {
        (&Method::GET | &Method::HEAD, "/stats") => {
            return Ok(stats_response(shared.recorder.snapshot()));
        }
        (_, "/stats/reset") => return Ok(reset_response(&request, &shared)),
        _ => {}
    }

    // From here on the request is counted and in flight until its body is
    // done with.
    let mut in_flight = shared.recorder.arrive(path);
    let is_flags_request =
        matches!(*method, Method::GET | Method::HEAD) && path.starts_with("/flags/");
    if !is_flags_request {
        return Ok(text_response(StatusCode::NOT_FOUND, in_flight));
    }
    let resource = parse_resource(path);
    let (wait, fault) = shared.plan(resource);

    if fault == Some(Fault::Stall) {
        in_flight.set_fault(Fault::Stall.name());
        // Never answer; when the server shuts down, give up and let hyper
        // close the connection. `in_flight` is dropped with status 0.
        stopped(&mut shutdown).await;
        return Err(NoResponse::Stalled);
    }
    if fault == Some(Fault::Hangup) {
        // An error from the service makes hyper close the connection
        // without writing a response.
        in_flight.set_fault(Fault::Hangup.name());
        return Err(NoResponse::HungUp);
    }
    if let Some(fault @ Fault::Delay(_)) = fault {
        in_flight.set_fault(fault.name());
    }
    // A redirect names where it leads, from the request; no other answer
    // needs the request from here on (the resource holds its code by
    // value).
    let location = fault.and_then(|fault| shared.location(fault, &request));
    // Let go of the request now, before any wait: its head (the URI, the
    // headers) borrows hyper's read buffer, and dropping it a delay later
    // touches memory gone cold in the meantime.
    drop(request);
    // The delay of the book's slow server: this task waits on the delay
    // timer, the others go on. A shutdown cuts the wait short (the timer
    // watches the server's shutdown channel for every waiting request at
    // once): nobody is left to wait for the answer (a test that dropped
    // its server, a user who pressed Ctrl-C).
    if !wait.is_zero() {
        let deadline = Instant::now() + wait;
        if shared.delay.sleep_until(deadline).await.is_err() {
            return Err(NoResponse::ShuttingDown);
        }
    }

    // The faults that answer instead of the resource, whether it exists
    // or not.
    let in_flight = match fault {
        Some(fault) => match fault_response(fault, location, in_flight, &shutdown) {
            Ok(response) => return Ok(response),
            Err(in_flight) => in_flight,
        },
        None => in_flight,
    };

    let Some(resource) = resource else {
        return Ok(text_response(StatusCode::NOT_FOUND, in_flight));
    };
    let loaded = shared
        .content
        .load(resource, &shared.config.country_names)
        .await;
    let Some((content, content_type)) = loaded else {
        return Ok(text_response(StatusCode::NOT_FOUND, in_flight));
    };
    // The faults hyper cannot send, around a body that exists.
    let in_flight = match fault {
        Some(fault) => match RawAnswer::for_fault(fault, &content, content_type, in_flight) {
            Ok(raw) => return Err(NoResponse::Raw(raw)),
            Err(in_flight) => in_flight,
        },
        None => in_flight,
    };
    Ok(flag_response(
        fault,
        content,
        content_type,
        in_flight,
        &shared,
        &shutdown,
    ))
}

/// The answer of a fault that replaces the resource (a status, a
/// redirect, a page that is no flag), counted under its name; for a fault
/// that shapes the resource's own answer, the guard back, untouched.
fn fault_response(
    fault: Fault,
    location: Option<String>,
    mut in_flight: InFlight,
    shutdown: &watch::Receiver<bool>,
) -> Result<Response<FlagBody>, InFlight> {
    let replaces = matches!(
        fault,
        Fault::Status(_)
            | Fault::Busy(_)
            | Fault::BusyUntil(_)
            | Fault::BasicAuth
            | Fault::DripNotFound
            | Fault::Html
            | Fault::NotGif
    ) || location.is_some();
    if !replaces {
        return Err(in_flight);
    }
    in_flight.set_fault(fault.name());
    Ok(match fault {
        Fault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            text_response(status, in_flight)
        }
        Fault::Busy(seconds) => {
            let retry_after = HeaderValue::from(seconds);
            with_header(busy_response(in_flight), RETRY_AFTER, retry_after)
        }
        Fault::BusyUntil(seconds) => {
            let date = SystemTime::now() + Duration::from_secs(seconds.into());
            // An HTTP date is letters, digits, spaces, commas and colons:
            // the fallback is never used.
            let retry_after = HeaderValue::try_from(httpdate::fmt_http_date(date))
                .unwrap_or_else(|_| HeaderValue::from_static("0"));
            with_header(busy_response(in_flight), RETRY_AFTER, retry_after)
        }
        Fault::BasicAuth => {
            let challenge = HeaderValue::from_static("Basic realm=\"flags\"");
            let response = text_response(StatusCode::UNAUTHORIZED, in_flight);
            with_header(response, WWW_AUTHENTICATE, challenge)
        }
        Fault::DripNotFound => {
            dripping_text_response(StatusCode::NOT_FOUND, in_flight, shutdown.clone())
        }
        Fault::Html => {
            in_flight.set_status(StatusCode::OK.as_u16());
            let page = Bytes::from_static(b"<html><body><h1>Please log in</h1></body></html>\n");
            let body = FlagBody::new(page, Delivery::Whole, Some(in_flight));
            response(StatusCode::OK, "text/html; charset=utf-8", body)
        }
        Fault::NotGif => {
            in_flight.set_status(StatusCode::OK.as_u16());
            // A PNG's signature, then text: an image, but no GIF.
            let bytes = Bytes::from_static(b"\x89PNG\r\n\x1a\nnot a GIF, whatever its type says\n");
            let body = FlagBody::new(bytes, Delivery::Whole, Some(in_flight));
            response(StatusCode::OK, "image/gif", body)
        }
        // Only a redirect has a location.
        _ => {
            let status = match fault {
                Fault::RedirectWith(code) => {
                    StatusCode::from_u16(code).unwrap_or(StatusCode::FOUND)
                }
                Fault::RedirectToDefaultPort | Fault::RedirectToHttps => {
                    StatusCode::MOVED_PERMANENTLY
                }
                _ => StatusCode::FOUND,
            };
            // Hyper only accepts visible ASCII and spaces in a header, which
            // is all a `Location` here holds: the fallback is never used.
            let location = HeaderValue::try_from(location.unwrap_or_default())
                .unwrap_or_else(|_| HeaderValue::from_static("/"));
            let response = if fault == Fault::RedirectDrip {
                dripping_text_response(status, in_flight, shutdown.clone())
            } else {
                text_response(status, in_flight)
            };
            with_header(response, LOCATION, location)
        }
    })
}

/// The resource's own answer, shaped by `fault` if it is one of those that
/// send the flag otherwise: cut, slow, oversized, chunked, relabelled,
/// padded.
fn flag_response(
    fault: Option<Fault>,
    content: Bytes,
    content_type: &'static str,
    mut in_flight: InFlight,
    shared: &Shared,
    shutdown: &watch::Receiver<bool>,
) -> Response<FlagBody> {
    // The body faults apply only to a body that exists.
    let delivery = match fault {
        Some(Fault::Drop) => Delivery::DropAfterHeaders,
        Some(Fault::Truncate) => Delivery::Truncate,
        Some(Fault::Huge) => Delivery::Huge,
        Some(Fault::SlowBody) => Delivery::Slow,
        Some(Fault::Drip) => Delivery::Drip,
        Some(Fault::Chunked) => Delivery::Chunked,
        Some(Fault::HugeChunked) => Delivery::HugeChunked,
        _ if shared.config.slow_body => Delivery::Slow,
        _ => Delivery::Whole,
    };
    let padding = match fault {
        Some(Fault::LongHead(bytes)) => Some(bytes),
        Some(Fault::HugeHead) => Some(HUGE_HEAD_PADDING),
        _ => None,
    };
    let gzip = fault == Some(Fault::Gzip);
    // Each fault is counted once: a gzip label on a body that `slow_body`
    // sends slowly counts as `gzip` and as `slow_body`; a delay was
    // counted before its wait.
    match fault {
        Some(Fault::Gzip | Fault::LongHead(_) | Fault::HugeHead | Fault::Delay(_)) | None => {
            if matches!(delivery, Delivery::Slow) {
                in_flight.set_fault(Fault::SlowBody.name());
            }
            if let Some(fault @ (Fault::Gzip | Fault::LongHead(_) | Fault::HugeHead)) = fault {
                in_flight.set_fault(fault.name());
            }
        }
        Some(fault) if !matches!(delivery, Delivery::Whole) => in_flight.set_fault(fault.name()),
        Some(_) => {}
    }
    in_flight.set_status(StatusCode::OK.as_u16());
    let drips = matches!(delivery, Delivery::Drip);
    let mut body = FlagBody::new(content, delivery, Some(in_flight));
    if drips {
        // A drip would outlast any grace period: it stops at shutdown.
        body = body.until_shutdown(shutdown.clone());
    }
    let mut response = response(StatusCode::OK, content_type, body);
    if gzip {
        response
            .headers_mut()
            .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if let Some(bytes) = padding {
        // Letters only: always a valid header value.
        let padding = HeaderValue::try_from("a".repeat(bytes))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        response.headers_mut().insert("x-padding", padding);
    }
    response
}

/// `response` with one more header.
fn with_header(
    mut response: Response<FlagBody>,
    name: hyper::header::HeaderName,
    value: HeaderValue,
) -> Response<FlagBody> {
    response.headers_mut().insert(name, value);
    response
}

/// A response with its status, type and length headers (no length for a
/// chunked body: hyper then sends `Transfer-Encoding: chunked`).
fn response(status: StatusCode, content_type: &'static str, body: FlagBody) -> Response<FlagBody> {
    let length = body.announced_len();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(length) = length {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    }
    response
}

/// The body of a short text response, such as `404 Not Found\n`. The two
/// that a run of `-e` sends hundreds of times (404 for the 482 codes
/// without a flag, 418 from the ERROR server) are `'static`; others are
/// written out.
fn status_text(status: StatusCode) -> Bytes {
    match status {
        StatusCode::NOT_FOUND => Bytes::from_static(b"404 Not Found\n"),
        StatusCode::IM_A_TEAPOT => Bytes::from_static(b"418 I'm a teapot\n"),
        _ => Bytes::from(format!(
            "{} {}\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )),
    }
}

/// A short text response such as `404 Not Found`, counted under its status.
/// 503 and 429 tell the client it may retry at once.
fn text_response(status: StatusCode, mut in_flight: InFlight) -> Response<FlagBody> {
    in_flight.set_status(status.as_u16());
    let body = FlagBody::new(status_text(status), Delivery::Whole, Some(in_flight));
    let mut response = response(status, "text/plain; charset=utf-8", body);
    if matches!(
        status,
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
    ) {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("0"));
    }
    response
}

/// A 503 whose `Retry-After` the caller sets.
fn busy_response(mut in_flight: InFlight) -> Response<FlagBody> {
    let status = StatusCode::SERVICE_UNAVAILABLE;
    in_flight.set_status(status.as_u16());
    let body = FlagBody::new(status_text(status), Delivery::Whole, Some(in_flight));
    response(status, "text/plain; charset=utf-8", body)
}

/// A short text response whose body drips, a byte every
/// [`DRIP_INTERVAL`](crate::DRIP_INTERVAL), until the client goes away or
/// the server shuts down.
fn dripping_text_response(
    status: StatusCode,
    mut in_flight: InFlight,
    shutdown: watch::Receiver<bool>,
) -> Response<FlagBody> {
    in_flight.set_status(status.as_u16());
    let body = FlagBody::new(status_text(status), Delivery::Drip, Some(in_flight))
        .until_shutdown(shutdown);
    response(status, "text/plain; charset=utf-8", body)
}

/// `POST /stats/reset` with [`RESET_HEADER`]`: 1` zeroes the statistics
/// and answers them; anything else there (another method, an `OPTIONS`
/// preflight, a POST without the header) is 403, and changes nothing.
fn reset_response(request: &Request<Incoming>, shared: &Shared) -> Response<FlagBody> {
    let allowed = request.method() == Method::POST
        && request
            .headers()
            .get(RESET_HEADER)
            .is_some_and(|value| value.as_bytes() == b"1");
    if !allowed {
        let text = Bytes::from_static(
            b"403 Forbidden: POST /stats/reset needs the header X-Flags-Reset: 1\n",
        );
        let body = FlagBody::new(text, Delivery::Whole, None);
        return response(StatusCode::FORBIDDEN, "text/plain; charset=utf-8", body);
    }
    shared.recorder.reset();
    stats_response(shared.recorder.snapshot())
}

/// The statistics as pretty JSON.
fn stats_response(stats: Stats) -> Response<FlagBody> {
    // `Stats` holds only numbers, strings and maps keyed by numbers or
    // strings, which JSON can always express: serialising cannot fail.
    let mut json = serde_json::to_string_pretty(&stats).unwrap_or_default();
    json.push('\n');
    let body = FlagBody::new(Bytes::from(json), Delivery::Whole, None);
    response(StatusCode::OK, "application/json", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Host` loses its port, an IPv6 one keeps its brackets.
    #[test]
    fn hosts_lose_their_ports() {
        assert_eq!(without_port("localhost:8000"), "localhost");
        assert_eq!(without_port("localhost"), "localhost");
        assert_eq!(without_port("127.0.0.1:80"), "127.0.0.1");
        assert_eq!(without_port("[::1]:8000"), "[::1]");
        assert_eq!(without_port("[::1]"), "[::1]");
    }

    /// The `'static` texts say what the written-out ones would.
    #[test]
    fn static_status_texts_match_the_written_ones() {
        for status in [StatusCode::NOT_FOUND, StatusCode::IM_A_TEAPOT] {
            let written = format!(
                "{} {}\n",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            );
            assert_eq!(status_text(status), written.as_bytes());
        }
        assert_eq!(
            status_text(StatusCode::SERVICE_UNAVAILABLE),
            &b"503 Service Unavailable\n"[..]
        );
    }
}
