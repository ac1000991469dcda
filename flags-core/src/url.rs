//! Server labels and the URLs of flags.

use std::net::{SocketAddr, ToSocketAddrs};

use crate::UsageError;

/// The servers known by label, as in the book's `SERVERS`.
pub const SERVERS: [(&str, &str); 4] = [
    ("LOCAL", "http://localhost:8000/flags"),
    ("DELAY", "http://localhost:8001/flags"),
    ("ERROR", "http://localhost:8002/flags"),
    ("REMOTE", "https://www.fluentpython.com/data/flags"),
];

/// The label the report prints for a server given as a URL.
pub const URL_LABEL: &str = "URL";

/// A server chosen with `-s`: its label and its base URL (no trailing `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerChoice {
    /// `LOCAL`, `DELAY`, `ERROR`, `REMOTE`, or [`URL_LABEL`].
    pub label: String,
    /// The URL flags are found under, without a trailing `/`.
    pub base_url: String,
}

/// Resolve `-s`: a label in any case, or a base URL (anything with `://`).
///
/// ```
/// use flags_core::url::resolve_server;
/// let server = resolve_server("delay").unwrap();
/// assert_eq!((server.label.as_str(), server.base_url.as_str()), ("DELAY", "http://localhost:8001/flags"));
/// let custom = resolve_server("http://127.0.0.1:9000/flags/").unwrap();
/// assert_eq!(custom.base_url, "http://127.0.0.1:9000/flags");
/// assert!(resolve_server("LOCL").is_err());
/// assert!(resolve_server("ftp://example.com/flags").is_err());
/// ```
pub fn resolve_server(value: &str) -> Result<ServerChoice, UsageError> {
    if value.contains("://") {
        let parsed = ::url::Url::parse(value).map_err(|error| UsageError::BadUrl {
            url: value.to_string(),
            reason: error.to_string(),
        })?;
        let scheme_ok = matches!(parsed.scheme(), "http" | "https");
        if !scheme_ok || parsed.host_str().is_none_or(str::is_empty) {
            return Err(UsageError::BadUrl {
                url: value.to_string(),
                reason: "expected http:// or https:// and a host".to_string(),
            });
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(UsageError::BadUrl {
                url: value.to_string(),
                reason: "a base URL has no query or fragment".to_string(),
            });
        }
        return Ok(ServerChoice {
            label: URL_LABEL.to_string(),
            base_url: value.trim_end_matches('/').to_string(),
        });
    }
    let upper = value.to_ascii_uppercase();
    SERVERS
        .iter()
        .find(|(label, _)| *label == upper)
        .map(|(label, base_url)| ServerChoice {
            label: label.to_string(),
            base_url: base_url.to_string(),
        })
        .ok_or_else(|| UsageError::UnknownServer {
            value: value.to_string(),
        })
}

/// The URL of a flag: `{base}/{cc}/{cc}.gif`, the code in lower case.
///
/// ```
/// assert_eq!(
///     flags_core::url::flag_url("http://localhost:8000/flags", "BR"),
///     "http://localhost:8000/flags/br/br.gif"
/// );
/// ```
pub fn flag_url(base_url: &str, country_code: &str) -> String {
    let lower = country_code.to_ascii_lowercase();
    format!("{base_url}/{lower}/{lower}.gif")
}

/// The URL of a flag's metadata: `{base}/{cc}/metadata.json`.
///
/// ```
/// assert_eq!(
///     flags_core::url::metadata_url("http://localhost:8000/flags", "BR"),
///     "http://localhost:8000/flags/br/metadata.json"
/// );
/// ```
pub fn metadata_url(base_url: &str, country_code: &str) -> String {
    let lower = country_code.to_ascii_lowercase();
    format!("{base_url}/{lower}/metadata.json")
}

/// The host name of a base URL and its addresses, looked up once with the
/// system's resolver (`getaddrinfo`, which blocks), with the URL's port.
///
/// `None` when there is nothing to look up (an IP address) or the lookup
/// fails: a client then resolves the name itself at each connection, and
/// reports the failure there.
///
/// ```
/// use flags_core::url::lookup_host;
///
/// assert_eq!(lookup_host("http://127.0.0.1:8000/flags"), None);
/// assert_eq!(lookup_host("not a url"), None);
/// if let Some((host, addresses)) = lookup_host("http://localhost:8000/flags") {
///     assert_eq!(host, "localhost");
///     assert!(addresses.iter().all(|address| address.port() == 8000));
/// }
/// ```
pub fn lookup_host(base_url: &str) -> Option<(String, Vec<SocketAddr>)> {
    let parsed = ::url::Url::parse(base_url).ok()?;
    let ::url::Host::Domain(name) = parsed.host()? else {
        return None;
    };
    let port = parsed.port_or_known_default()?;
    let addresses: Vec<SocketAddr> = (name, port).to_socket_addrs().ok()?.collect();
    (!addresses.is_empty()).then(|| (name.to_owned(), addresses))
}

/// The `host:port` a base URL connects to, for the reachability check.
///
/// ```
/// assert_eq!(
///     flags_core::url::host_and_port("http://localhost:8000/flags").as_deref(),
///     Some("localhost:8000")
/// );
/// assert_eq!(
///     flags_core::url::host_and_port("https://www.fluentpython.com/data/flags").as_deref(),
///     Some("www.fluentpython.com:443")
/// );
/// ```
pub fn host_and_port(base_url: &str) -> Option<String> {
    let parsed = ::url::Url::parse(base_url).ok()?;
    let port = parsed.port_or_known_default()?;
    match parsed.host()? {
        ::url::Host::Ipv6(address) => Some(format!("[{address}]:{port}")),
        host => Some(format!("{host}:{port}")),
    }
}

/// A URL as it may be shown: a password in it becomes `***`, so that the
/// site line, the unreachable-server line and the benchmarks' tables never
/// print it. A URL that does not parse is shown as it is (it holds no
/// password the client would send).
///
/// ```
/// use flags_core::url::redact;
/// assert_eq!(redact("http://ann:secret@host:8000/flags"), "http://ann:***@host:8000/flags");
/// assert_eq!(redact("http://host:8000/flags"), "http://host:8000/flags");
/// ```
pub fn redact(url: &str) -> String {
    match ::url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Setting a password fails only for URLs that cannot have one
            // (no host), and those were refused when the URL was read.
            let _ = parsed.set_password(Some("***"));
            // The base URL never ends with `/`; the parser adds none to a
            // URL with a path, so the text keeps its shape.
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}
