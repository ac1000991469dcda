//! The request handler: what each request gets, and the responses it is
//! built from.
//!
//! [`handle`] is called by hyper once per request. It answers `/stats` at
//! once; any other request is counted and in flight from here until its
//! body is done with. A request under `/flags/` then draws its delay and
//! fault ([`Shared::plan`]), waits out the delay on the delay timer
//! ([`super::delay`]), and gets its fault or its flag.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{
    CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION, RETRY_AFTER,
};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::watch;

use super::content::{Resource, parse_resource};
use super::{Shared, stopped};
use crate::body::{Delivery, FlagBody};
use crate::config::Fault;
use crate::stats::{InFlight, Stats};

/// Why a request got no response: the connection is closed instead.
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
}

impl Shared {
    /// Draws the wait and the fault of one request. Both random draws are
    /// made for every request, whatever the script says, so a seed gives the
    /// same sequence with or without scripts.
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
        match scripted {
            Some(Fault::Delay(scripted_wait)) => (scripted_wait, Some(Fault::Delay(scripted_wait))),
            Some(fault) => (wait, Some(fault)),
            None => (wait, random),
        }
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
        (&Method::POST, "/stats/reset") => {
            shared.recorder.reset();
            return Ok(stats_response(shared.recorder.snapshot()));
        }
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
    // A redirect names the path it answers; no other answer needs the
    // path from here on (the resource holds its code by value).
    let redirect_path = (fault == Some(Fault::Redirect)).then(|| path.to_owned());
    // Let go of the request now, before any wait: its head (the URI, the
    // headers) borrows hyper's read buffer, and dropping it a delay later
    // touches memory gone cold in the meantime (measured: the drop cost
    // five times as much after a 0.1 s delay as right away).
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
    if let Some(fault @ Fault::Status(code)) = fault {
        in_flight.set_fault(fault.name());
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Ok(text_response(status, in_flight));
    }
    if let Some(fault @ Fault::Busy(seconds)) = fault {
        in_flight.set_fault(fault.name());
        let mut response = text_response(StatusCode::SERVICE_UNAVAILABLE, in_flight);
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
        return Ok(response);
    }
    // Only a `Fault::Redirect` kept its path.
    if let Some(path) = redirect_path {
        in_flight.set_fault(Fault::Redirect.name());
        let hop = shared.redirects.fetch_add(1, Ordering::Relaxed) + 1;
        return Ok(redirect_response(&path, hop, in_flight));
    }
    if fault == Some(Fault::Html) {
        in_flight.set_fault(Fault::Html.name());
        in_flight.set_status(StatusCode::OK.as_u16());
        let page = Bytes::from_static(b"<html><body><h1>Please log in</h1></body></html>\n");
        let body = FlagBody::new(page, Delivery::Whole, Some(in_flight));
        return Ok(response(StatusCode::OK, "text/html; charset=utf-8", body));
    }

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
    // Each fault is counted once: a gzip label on a body that `slow_body`
    // sends slowly counts as `gzip` below and as `slow_body` here.
    match (&delivery, fault) {
        (Delivery::Whole, _) => {}
        (Delivery::Slow, None | Some(Fault::Delay(_) | Fault::Gzip | Fault::LongHead(_))) => {
            in_flight.set_fault(Fault::SlowBody.name())
        }
        (_, Some(fault)) => in_flight.set_fault(fault.name()),
        (_, None) => {}
    }
    let gzip = fault == Some(Fault::Gzip);
    if gzip {
        in_flight.set_fault(Fault::Gzip.name());
    }
    if let Some(fault @ Fault::LongHead(_)) = fault {
        in_flight.set_fault(fault.name());
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
    if let Some(Fault::LongHead(bytes)) = fault {
        // Letters only: always a valid header value.
        let padding = HeaderValue::try_from("a".repeat(bytes))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        response.headers_mut().insert("x-padding", padding);
    }
    Ok(response)
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

/// `302 Found` back to the same path, as `{path}?hop={hop}`: an absolute
/// path, which every client resolves against the URL it asked for.
fn redirect_response(path: &str, hop: u64, in_flight: InFlight) -> Response<FlagBody> {
    // Hyper only accepts a path made of URI characters, all of which may
    // stand in a header: the fallback is never used.
    let location = HeaderValue::try_from(format!("{path}?hop={hop}"))
        .unwrap_or_else(|_| HeaderValue::from_static("/"));
    let mut response = text_response(StatusCode::FOUND, in_flight);
    response.headers_mut().insert(LOCATION, location);
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
