//! Which redirects are followed, and where to: one rule for every client.
//!
//! ureq follows any 3xx but 304 and curl follows 300 and 305 too; reqwest
//! and the browsers follow 301, 302, 303, 307 and 308 only. Every client
//! here can keep the browsers' set, so that is the rule, whatever the
//! client: the blocking client follows redirects itself with these
//! functions, and the reqwest clients check each hop with them in their
//! redirect policy.
//!
//! - Only [`FOLLOWED`] statuses are followed; any other 3xx reaches the
//!   status check and is an error naming its status.
//! - A `Location` is resolved against the URL of the request that got it,
//!   by the `url` crate, which also escapes what needs escaping (a raw
//!   space becomes `%20`).
//! - Only `http` and `https` targets are followed ([`target`]); a redirect
//!   to `file:`, `data:` or any other scheme is an error naming it.
//! - At most [`MAX_REDIRECTS`] hops.
//! - Credentials (`Authorization`, and a user and password in the URL)
//!   stay with the origin that they were given for ([`same_origin`]).

use url::Url;

use crate::fetch::FetchError;

/// Redirects followed before giving up, as curl and reqwest do by default.
pub const MAX_REDIRECTS: u32 = 10;

/// The redirect statuses that are followed: the browsers' set.
pub const FOLLOWED: [u16; 5] = [301, 302, 303, 307, 308];

/// Whether a response with this status is followed to its `Location`.
///
/// ```
/// use flags_core::redirect::is_followed;
/// assert!(is_followed(301) && is_followed(308));
/// assert!(!is_followed(300) && !is_followed(304) && !is_followed(305));
/// ```
pub fn is_followed(status: u16) -> bool {
    FOLLOWED.contains(&status)
}

/// Where a redirect from `from` with this `Location` leads: the location
/// resolved against `from` (a relative one keeps `from`'s scheme, host and
/// port), escaped as a URL must be. Only `http` and `https` are followed.
///
/// ```
/// use flags_core::redirect::target;
/// let from = url::Url::parse("http://localhost/flags/br/br.gif").unwrap();
/// assert_eq!(
///     target(&from, "https://localhost/flags/br/br.gif").unwrap().as_str(),
///     "https://localhost/flags/br/br.gif"
/// );
/// assert_eq!(target(&from, "/a b.gif").unwrap().as_str(), "http://localhost/a%20b.gif");
/// assert_eq!(
///     target(&from, "file:///etc/passwd").unwrap_err().to_string(),
///     "redirect to a file: URL, which is not followed"
/// );
/// ```
pub fn target(from: &Url, location: &str) -> Result<Url, FetchError> {
    let next = from.join(location.trim()).map_err(|error| {
        FetchError::Redirect(format!(
            "redirect to a malformed Location {:?} ({error})",
            printable(location)
        ))
    })?;
    match next.scheme() {
        "http" | "https" => Ok(next),
        other => Err(FetchError::Redirect(format!(
            "redirect to a {}: URL, which is not followed",
            printable(other)
        ))),
    }
}

/// [`target`] of a `Location` as the header's bytes, which need not be
/// text: one that is not UTF-8 is an error, in the same words for every
/// client.
///
/// ```
/// use flags_core::redirect::target_bytes;
/// let from = url::Url::parse("http://localhost/flags/br/br.gif").unwrap();
/// assert!(target_bytes(&from, b"/flags/br/br.gif?hop=1").is_ok());
/// assert_eq!(
///     target_bytes(&from, b"/\xff").unwrap_err().to_string(),
///     "redirect to a malformed Location (not UTF-8)"
/// );
/// ```
pub fn target_bytes(from: &Url, location: &[u8]) -> Result<Url, FetchError> {
    let location = std::str::from_utf8(location).map_err(|_| {
        FetchError::Redirect("redirect to a malformed Location (not UTF-8)".to_string())
    })?;
    target(from, location)
}

/// The error of a redirect loop, or of a chain longer than
/// [`MAX_REDIRECTS`].
pub fn too_many() -> FetchError {
    FetchError::Redirect(format!("more than {MAX_REDIRECTS} redirects"))
}

/// The error of a followed status without a `Location` to follow.
pub fn no_location(status: u16) -> FetchError {
    FetchError::Redirect(format!("HTTP {status} redirect without a Location"))
}

/// Whether two URLs share an origin: scheme, host and port (the port
/// defaulting by scheme). Credentials go only to the origin they were
/// given for.
///
/// ```
/// use flags_core::redirect::same_origin;
/// let url = |text| url::Url::parse(text).unwrap();
/// assert!(same_origin(&url("http://h/a"), &url("http://h:80/b")));
/// assert!(!same_origin(&url("http://h/a"), &url("https://h/a")));
/// assert!(!same_origin(&url("http://h:8000/a"), &url("http://h:8001/a")));
/// ```
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The server's text, kept short and printable for an error line.
fn printable(text: &str) -> String {
    text.chars()
        .filter(|character| !character.is_control())
        .take(80)
        .collect()
}
