//! The HTTP client of the async model: reqwest's async `Client`, one for
//! the whole run, shared by every task (a clone is a handle on the same
//! connection pool).
//!
//! Each request is a future: awaiting it parks the task, and the runtime's
//! one thread runs other tasks until the socket is ready. What the client
//! decides about a response (status, encoding, body cap, GIF) is
//! [`flags_core::fetch`]'s, as for every client; this module reads
//! reqwest's types into it, and sets reqwest up as every client of the
//! models is ([`ClientOptions`]).

use flags_core::fetch::FetchError;
use flags_core::fetch::{
    BodyBuffer, ClientOptions, DRAIN_WINDOW, MAX_DRAIN_BYTES, ResponseHead, check_gif,
};
use flags_core::redirect;
use flags_core::retry::{error_chain, is_stale_connection};
use flags_core::url::{flag_url, metadata_url};
use flags_core::{DownloadJob, SetupError};
use reqwest::{Client, Response};

/// The one client of a run, shared by every task. It keeps idle keep-alive
/// connections for reuse, and sends a GET again, once, on a new connection
/// when a reused one turned out to be closed before any byte of the answer.
#[derive(Debug, Clone)]
pub struct HttpClient {
    /// The client of every request, with its pool of idle connections.
    pooled: Client,
    /// The same settings without a pool, for that one retry on a new
    /// connection.
    fresh: Client,
}

impl HttpClient {
    /// Build the client of a run, with the settings every reqwest client of
    /// the models uses ([`ClientOptions`]): a deadline for each whole
    /// request (body included: reqwest's async timeout covers the body
    /// stream), idle connections kept for reuse, `--cacert` trusted on top
    /// of the web roots, and the server's name looked up once instead of
    /// once per new connection; redirects followed by the rule of every
    /// client ([`flags_core::redirect`]), without a `Referer`; folded
    /// header lines unfolded.
    ///
    /// The lookup blocks: call this before the runtime starts, not on it.
    pub fn new(job: &DownloadJob) -> Result<Self, SetupError> {
        Ok(Self::from_clients(
            reqwest_client(job, true)?,
            reqwest_client(job, false)?,
        ))
    }

    /// Two reqwest clients made elsewhere (tests build theirs without
    /// timers): `fresh` should keep no idle connection.
    pub fn from_clients(pooled: Client, fresh: Client) -> Self {
        HttpClient { pooled, fresh }
    }

    /// One GET: the status checked and the body read, as one attempt; the
    /// body and its `Content-Type`.
    async fn get_body(&self, url: &str) -> Result<(Vec<u8>, Option<String>), FetchError> {
        // Await the status line and headers, redirects followed; the body
        // follows below.
        let response = self.send(url).await?;
        let head = ResponseHead::of(response.status(), response.headers());
        // Every status but 200 is a `FetchError`; an encoding we did not ask
        // for is refused before reading.
        if let Err(error) = head.check_status() {
            let error = unfollowed_redirect(&response).unwrap_or(error);
            // Await the rest of the unused body, briefly, to keep the
            // connection.
            drain(response).await;
            return Err(error);
        }
        head.check_encoding()?;
        Ok((read_body(response).await?, head.content_type))
    }

    /// Send a GET and await the status line and headers. If the pooled
    /// connection was closed under it (the server may close an idle
    /// keep-alive connection at any time, and its FIN can come too late to
    /// be seen), send it again, once, at once, on a new connection: a GET
    /// may be (RFC 9112 section 9.3.1). That is not one of `--retries`.
    async fn send(&self, url: &str) -> Result<Response, FetchError> {
        match self.pooled.get(url).send().await {
            Err(error) if is_stale_connection(&error) => self
                .fresh
                .get(url)
                .send()
                .await
                .map_err(|error| send_error(&error)),
            other => other.map_err(|error| send_error(&error)),
        }
    }
}

/// The client of a run: [`HttpClient::new`], by the name the tour scripts
/// share with `flags_seq::http_client`.
pub fn http_client(job: &DownloadJob) -> Result<HttpClient, SetupError> {
    HttpClient::new(job)
}

/// Fetch one flag's bytes: one attempt, no retry, no permit.
pub async fn get_flag(
    client: &HttpClient,
    base_url: &str,
    country_code: &str,
) -> Result<Vec<u8>, FetchError> {
    // Boxed, for as long as the request is in flight: else every task
    // would carry the request's state for the whole run (676 tasks for
    // `-e`, spawned at once, are mostly waiting for a permit).
    let (image, content_type) =
        Box::pin(client.get_body(&flag_url(base_url, country_code))).await?;
    check_gif(image, content_type.as_deref())
}

/// Fetch one code's `metadata.json`: one attempt, no retry, no permit.
pub async fn get_metadata(
    client: &HttpClient,
    base_url: &str,
    country_code: &str,
) -> Result<Vec<u8>, FetchError> {
    // The JSON is checked by whoever reads it; its type does not matter.
    let url = metadata_url(base_url, country_code);
    let (metadata, _content_type) = Box::pin(client.get_body(&url)).await?;
    Ok(metadata)
}

/// The `country` of a `metadata.json`, as the server sent it (not yet
/// checked as a file name).
///
/// ```
/// let metadata = br#"{"tld_cc": ".br", "iso_cc": "BR", "country": "Brazil", "gec_cc": "BR"}"#;
/// assert_eq!(flags_async::country_name(metadata).unwrap(), "Brazil");
/// assert!(flags_async::country_name(b"{\"iso_cc\": \"BR\"}").is_err());
/// assert!(flags_async::country_name(b"<html>").is_err());
/// ```
pub fn country_name(metadata: &[u8]) -> Result<String, serde_json::Error> {
    /// The one field we need; the others are ignored.
    #[derive(serde::Deserialize)]
    struct Metadata {
        country: String,
    }
    serde_json::from_slice::<Metadata>(metadata).map(|metadata| metadata.country)
}

/// Why a response with a redirect status came back to us unfollowed, in
/// the words of [`redirect`] (every client's): reqwest hands back, as an
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

/// Read and drop a body that will not be used (a 404 page), so that its
/// connection goes back to the pool: at most [`MAX_DRAIN_BYTES`], for at
/// most [`DRAIN_WINDOW`]. A longer body, or one still arriving by then, is
/// dropped with its connection: it costs a new connection, not the wait
/// of a dripping server until `--timeout`.
async fn drain(mut response: Response) {
    let mut drained = 0;
    // Await the chunks under a timer: when it fires first, the read is
    // cancelled and the response dropped below.
    let _ = tokio::time::timeout(DRAIN_WINDOW, async {
        while let Ok(Some(chunk)) = response.chunk().await {
            drained += chunk.len() as u64;
            if drained > MAX_DRAIN_BYTES {
                break;
            }
        }
    })
    .await;
}

/// Read a body of at most the cap, chunk by chunk as it arrives
/// ([`BodyBuffer`]); a longer one is refused as soon as it passes the cap, a
/// truncated one is a transport error.
async fn read_body(mut response: Response) -> Result<Vec<u8>, FetchError> {
    let mut body = BodyBuffer::new(response.content_length())?;
    // Await each chunk: between two chunks the thread runs other tasks.
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| FetchError::Transport(error_chain(&error)))?
    {
        body.push(&chunk)?;
    }
    body.finish()
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
/// client. reqwest calls this on each redirect it is about to follow
/// (only [`redirect::FOLLOWED`] statuses with a readable `Location`), with
/// the target already resolved against the request's URL.
/// (`flags_threadpool`'s reqwest client sets the same policy.)
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

/// One reqwest client for `job`, keeping idle connections when `pooled`:
/// [`ClientOptions`] set on the async builder.
/// (`flags_threadpool::client` makes the same calls on reqwest's
/// blocking builder: the two crates share no crate with reqwest in it.)
fn reqwest_client(job: &DownloadJob, pooled: bool) -> Result<Client, SetupError> {
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
