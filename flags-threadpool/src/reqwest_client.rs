//! `--client reqwest`: the same pool on `reqwest::blocking`, kept as a
//! measured lesson, not as the default.
//!
//! `reqwest::blocking::Client` looks blocking from the outside, but it
//! starts a tokio runtime on a thread of its own, and every call made from
//! a pool thread is a message to that one thread, which does all the socket
//! work and sends the answer back. With `-m 30`, 30 pool threads wait on a
//! channel while one hidden thread runs every `connect`, `sendto` and
//! `recvfrom` (`strace -f -e trace=connect` shows it). The default client,
//! [`HttpClient`](flags_seq::HttpClient) (ureq), has no such thread: each
//! pool thread does its own I/O. The crate's README measures both, side by
//! side.

use std::io::Read;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use flags_core::fetch::{BodyBuffer, ClientOptions, MAX_BODY_BYTES, ResponseHead, check_gif};
use flags_core::retry::{FetchError, error_chain, is_stale_connection};
use flags_core::url::flag_url;
use flags_core::{DownloadJob, SetupError};
use flags_seq::BlockingClient;
use reqwest::blocking::{Client, Response};

/// reqwest's blocking client with the settings every reqwest client of the
/// models uses ([`ClientOptions`]): a deadline for each whole request,
/// `--cacert` trusted, the server's name looked up once. `Clone` shares one
/// client (and its one runtime thread).
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
        let transport = |error: &reqwest::Error| FetchError::Transport(error_chain(error));
        match self.client.get(url).send() {
            Err(error) if is_stale_connection(&error) => {
                let fresh = self
                    .fresh
                    .get_or_init(|| build(&self.job, false).map_err(|error| error.to_string()));
                match fresh {
                    Ok(fresh) => fresh.get(url).send().map_err(|error| transport(&error)),
                    Err(_) => Err(transport(&error)),
                }
            }
            other => other.map_err(|error| transport(&error)),
        }
    }
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
        .connect_timeout(options.connect_timeout);
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
        head.check_status()?;
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
            .map_err(|error| FetchError::Transport(format!("body: {}", error_chain(&error))))?;
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
