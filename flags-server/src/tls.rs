//! HTTPS: a self-signed certificate made at start, and the rustls
//! configuration that serves it.
//!
//! There is no certificate authority here: the certificate signs itself, and
//! clients are told to trust exactly it (`--cacert` for the models and curl,
//! `add_root_certificate` for reqwest). It is made with `rcgen` and served
//! with `rustls`, both on `ring` (not aws-lc-rs), so no system library, no
//! OpenSSL and no cmake are needed: only the C compiler that `ring`'s build
//! script already uses.

use std::fmt;
use std::io;
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// The names the certificate is valid for: what a client may put in the URL.
pub(crate) const SUBJECT_ALT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The subject of the certificate, its issuer too (it signs itself).
const CERTIFICATE_NAME: &str = "flags-server self-signed certificate";

/// The only protocol offered in the TLS handshake (ALPN): the server speaks
/// HTTP/1.1 only, so a client must not pick HTTP/2.
const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// A server's HTTPS identity: a self-signed certificate and its private key,
/// ready to serve.
///
/// Cloning is cheap and shares the same certificate, so several servers (the
/// three of `flags-server --tls`) can be trusted with one PEM file. `Debug`
/// shows the names the certificate is for, never the key.
///
/// ```
/// use flags_server::{FlagServer, ServerConfig, TlsIdentity};
///
/// let identity = TlsIdentity::generate()?;
/// assert!(identity.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// let server = FlagServer::start(ServerConfig {
///     tls: Some(identity.clone()),
///     ..ServerConfig::default()
/// })?;
/// assert!(server.base_url().starts_with("https://127.0.0.1:"));
/// assert_eq!(server.ca_pem(), Some(identity.cert_pem()));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct TlsIdentity {
    /// The certificate in PEM, what clients must trust.
    cert_pem: Arc<str>,
    /// The rustls configuration holding the certificate and the key, built
    /// once and shared by every connection of every server using it.
    server_config: Arc<rustls::ServerConfig>,
}

impl TlsIdentity {
    /// Makes a new self-signed certificate, valid for `localhost`,
    /// `127.0.0.1` and `::1`, with a new ECDSA P-256 key. Each call makes a
    /// different one; the key never leaves the process.
    ///
    /// Fails only if the key or the certificate cannot be made (the system's
    /// random source failing, for instance); the error says so.
    pub fn generate() -> io::Result<TlsIdentity> {
        let cannot_make = |error: rcgen::Error| {
            io::Error::other(format!("cannot make a TLS certificate: {error}"))
        };
        let mut params = rcgen::CertificateParams::new(SUBJECT_ALT_NAMES.map(str::to_owned))
            .map_err(cannot_make)?;
        // The name a user sees in `curl -v` or a browser's warning.
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, CERTIFICATE_NAME);
        let signing_key = rcgen::KeyPair::generate().map_err(cannot_make)?;
        let cert = params.self_signed(&signing_key).map_err(cannot_make)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signing_key.serialize_der()));
        // The crypto provider is given here rather than installed for the
        // whole process, so this works whatever else the process does with
        // rustls (reqwest in the same test, for instance).
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|builder| {
                builder
                    .with_no_client_auth()
                    .with_single_cert(vec![cert.der().clone()], key)
            })
            .map_err(|error| io::Error::other(format!("cannot set up TLS: {error}")))?;
        server_config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
        Ok(TlsIdentity {
            cert_pem: Arc::from(cert.pem()),
            server_config: Arc::new(server_config),
        })
    }

    /// The certificate in PEM (`-----BEGIN CERTIFICATE-----`...): what a
    /// client must trust to talk to a server with this identity.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The acceptor that runs the server side of the handshake.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(&self.server_config))
    }
}

impl fmt::Debug for TlsIdentity {
    /// The names only: the key is a secret, and the PEM is long.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TlsIdentity")
            .field("subject_alt_names", &SUBJECT_ALT_NAMES)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each identity is new, in PEM, and its `Debug` shows no key material.
    #[test]
    fn identities_are_new_pem_and_keep_the_key_quiet() {
        let first = TlsIdentity::generate().expect("an identity");
        let second = TlsIdentity::generate().expect("an identity");
        assert!(
            first
                .cert_pem()
                .starts_with("-----BEGIN CERTIFICATE-----\n")
        );
        assert!(
            first
                .cert_pem()
                .trim_end()
                .ends_with("-----END CERTIFICATE-----")
        );
        assert_ne!(first.cert_pem(), second.cert_pem());
        let debug = format!("{first:?}");
        assert_eq!(
            debug,
            r#"TlsIdentity { subject_alt_names: ["localhost", "127.0.0.1", "::1"], .. }"#
        );
        assert_eq!(first.acceptor().config().alpn_protocols, [b"http/1.1"]);
    }
}
