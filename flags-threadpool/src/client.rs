//! `--client reqwest`: the same executors on `reqwest::blocking`, kept as a
//! measured lesson, not as the default.
//!
//! `reqwest::blocking::Client` looks blocking from the outside, but it
//! starts a tokio runtime on a thread of its own, and every call made from
//! a pool thread is a message to that one thread, which does all the socket
//! work and sends the answer back. With `-m 30`, 30 pool threads wait on a
//! channel while one hidden thread runs every `connect`, `sendto` and
//! `recvfrom` (`strace -f -e trace=connect` shows it). The default client,
//! [`HttpClient`](flags_seq::HttpClient) (ureq), has no such thread: each
//! pool thread does its own I/O. `flags-compare --models threadpool-reqwest`
//! measures both, side by side.

use std::io::Read;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use flags_core::fetch::FetchError;
use flags_core::fetch::{BodyBuffer, ClientOptions, MAX_BODY_BYTES, ResponseHead, check_gif};
use flags_core::redirect;
use flags_core::retry::{error_chain, in_body, is_stale_connection};
use flags_core::url::flag_url;
use flags_core::{DownloadJob, SetupError};
use flags_seq::BlockingClient;
use reqwest::blocking::{Client, Response};

/// reqwest's blocking client with the settings every reqwest client of the
/// models uses ([`ClientOptions`]): a deadline for each whole request,
/// `--cacert` trusted, the server's name looked up once; redirects followed
/// by the rule of every client ([`flags_core::redirect`]), without a
/// `Referer`; folded header lines unfolded. `Clone` shares one client (and
/// its one runtime thread).
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: Client,
    /// The same settings without a pool, for the one retry of a request
    /// whose reused connection was closed under it. Built on first need:
    /// each blocking client starts a runtime thread of its own.
    fresh: Arc<OnceLock<Result<Client, String>>>,
    /// What `fresh` is built from.
    job: Arc<DownloadJob>,
    /// `--timeout`, the deadline of each whole request.
    timeout: Duration,
}

impl ReqwestClient {
    /// Build the client of a run. This starts reqwest's runtime thread.
    pub fn new(job: &DownloadJob) -> Result<ReqwestClient, SetupError> {
        Ok(ReqwestClient {
            client: build(job, true)?,
            fresh: Arc::new(OnceLock::new()),
            job: Arc::new(job.clone()),
            timeout: job.timeout,
        })
    }

    /// Send the GET; if a pooled connection turns out to be closed before
    /// any byte of the answer, once more on a new connection.
    fn send(&self, url: &str) -> Result<Response, FetchError> {
        match self.client.get(url).send() {
            Err(error) if is_stale_connection(&error) => {
                let fresh = self
                    .fresh
                    .get_or_init(|| build(&self.job, false).map_err(|error| error.to_string()));
                match fresh {
                    Ok(fresh) => fresh.get(url).send().map_err(|error| send_error(&error)),
                    Err(_) => Err(send_error(&error)),
                }
            }
            other => other.map_err(|error| send_error(&error)),
        }
    }
}

/// The [`FetchError`] of a failed send: a redirect that [`redirect_policy`]
/// refused carries that refusal as its cause, which is the error (reqwest's
/// own line would say `error following redirect for url (...)` first);
/// anything else is a transport error.
fn send_error(error: &reqwest::Error) -> FetchError {
    match std::error::Error::source(error).and_then(|cause| cause.downcast_ref::<FetchError>()) {
        Some(refused) => refused.clone(),
        None => FetchError::Transport(error_chain(error)),
    }
}

/// Which redirects reqwest follows: [`redirect`]'s rule, the same in every
/// client, and the same policy as `flags_async`'s reqwest client. reqwest
/// calls this on each redirect it is about to follow (only
/// [`redirect::FOLLOWED`] statuses with a readable `Location`), with the
/// target already resolved against the request's URL.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if !redirect::is_followed(attempt.status().as_u16()) {
            // Handed back as the answer, whose status check names it.
            return attempt.stop();
        }
        // Resolved already: `target` only checks the scheme.
        if let Err(refused) = redirect::target(attempt.url(), attempt.url().as_str()) {
            return attempt.error(refused);
        }
        // `previous` holds every URL requested so far, the first one
        // included: this would be redirect number `previous().len()`.
        if attempt.previous().len() > redirect::MAX_REDIRECTS as usize {
            return attempt.error(redirect::too_many());
        }
        attempt.follow()
    })
}

/// Why a response with a redirect status came back unfollowed, in the
/// words of [`redirect`] (every client's): reqwest hands back, as an
/// answer, not an error, a redirect whose `Location` is missing, or that it
/// cannot read or make a request of: a `file:` or `data:` URL comes back
/// this way, before the redirect policy sees it. `None` for any other
/// status, which [`ResponseHead::check_status`] names (a 300 or a 305 is
/// never followed).
fn unfollowed_redirect(response: &Response) -> Option<FetchError> {
    let status = response.status().as_u16();
    if !redirect::is_followed(status) {
        return None;
    }
    let Some(location) = response.headers().get(reqwest::header::LOCATION) else {
        return Some(redirect::no_location(status));
    };
    Some(
        match redirect::target_bytes(response.url(), location.as_bytes()) {
            Err(error) => error,
            // `url` reads it, but reqwest's own `Uri` type cannot hold it.
            Ok(target) => FetchError::Redirect(format!(
                "redirect to {target}, which the client cannot request"
            )),
        },
    )
}

/// reqwest's blocking client for `job`, keeping idle connections for reuse
/// when `pooled`: [`ClientOptions`] set on the blocking builder, as
/// `flags_async`'s client sets them on the async one. The settings are
/// decided once, in `ClientOptions`; only these few builder calls are
/// written twice, because no crate both models depend on has reqwest in it
/// (flags-core knows no HTTP client, and this crate does not depend on the
/// async model).
///
/// The blocking builder's `timeout` bounds each wait for the runtime
/// thread (each read of the body, say), not the whole request:
/// [`read_body`] checks the whole request's deadline itself.
fn build(job: &DownloadJob, pooled: bool) -> Result<Client, SetupError> {
    let options = ClientOptions::for_job(job)?;
    let mut builder = Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.connect_timeout)
        .redirect(redirect_policy())
        // No `Referer`: where a flag was asked from is no business of the
        // server a redirect leads to.
        .referer(false)
        // Unfold a header folded over several lines (obs-fold), as RFC 9112
        // asks of a user agent, instead of refusing the response.
        .http1_allow_obsolete_multiline_headers_in_responses(true);
    if !options.keepalive_probes {
        builder = builder
            .tcp_keepalive(None)
            .tcp_keepalive_interval(None)
            .tcp_keepalive_retries(None);
    }
    if let Some((host, addresses)) = &options.known_addresses {
        builder = builder.resolve_to_addrs(host, addresses);
    }
    if let Some(ca_file) = &options.ca_file {
        let certificates = reqwest::Certificate::from_pem_bundle(&ca_file.pem)
            .map_err(|error| ca_file.refused(error_chain(&error)))?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    if !pooled {
        builder = builder.pool_max_idle_per_host(0);
    }
    builder
        .build()
        .map_err(|error| SetupError::Client(error_chain(&error)))
}

impl BlockingClient for ReqwestClient {
    fn get_flag(&self, base_url: &str, country_code: &str) -> Result<Vec<u8>, FetchError> {
        let deadline = Instant::now() + self.timeout;
        // Sends the request to reqwest's runtime thread, then blocks this
        // thread on a channel until the head comes back.
        let response = self.send(&flag_url(base_url, country_code))?;
        let head = ResponseHead::of(response.status(), response.headers());
        // Every status but 200 is a `FetchError`; an encoding we did not
        // ask for is refused before reading.
        if let Err(error) = head.check_status() {
            // The unused body (a 404 page) is not read here: each read
            // waits up to `--timeout`, which nothing shorter can bound.
            // Dropping the response hands the body back to hyper, on the
            // runtime thread, which reads what has already arrived, once,
            // without waiting: a body all there keeps its connection, one
            // still arriving is dropped with it (no wait at all, well
            // within `DRAIN_WINDOW`).
            return Err(unfollowed_redirect(&response).unwrap_or(error));
        }
        head.check_encoding()?;
        check_gif(read_body(response, deadline)?, head.content_type.as_deref())
    }
}

/// Read a body of at most [`MAX_BODY_BYTES`] by `deadline`: announced
/// larger, refused before reading; longer than announced or cut short, an
/// error.
///
/// reqwest's blocking timeout bounds each read, not the body (reqwest
/// 0.12's `blocking::Response::read` waits up to the timeout for each
/// read): a server that sends one byte every half second would never trip
/// it. So the body is
/// read piece by piece and the deadline checked after each piece; a run
/// ends at most one read (itself bounded by the timeout) past it. Each read
/// is a round trip to the runtime thread.
fn read_body(response: Response, deadline: Instant) -> Result<Vec<u8>, FetchError> {
    let mut image = BodyBuffer::new(response.content_length())?;
    // One byte past the cap: if it comes, the body is too large.
    let mut body = response.take(MAX_BODY_BYTES + 1);
    let mut piece = [0_u8; 16 * 1024];
    loop {
        let read = body
            .read(&mut piece)
            // `in_body`: the chain may say `body:` already.
            .map_err(|error| FetchError::Transport(in_body(&error_chain(&error))))?;
        if read == 0 {
            break;
        }
        if Instant::now() > deadline {
            return Err(FetchError::Transport(
                "body: operation timed out (the whole request's deadline passed)".to_string(),
            ));
        }
        image.push(&piece[..read])?;
    }
    image.finish()
}
