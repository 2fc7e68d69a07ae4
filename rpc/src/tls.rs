//! Mutual TLS for the key-exchange service.
//!
//! The DOCA application sends SPIs and keys over plaintext gRPC. With
//! `--grpc-cert`, `--grpc-key` and `--grpc-ca` this gateway does better:
//! the server requires a client certificate that chains to the CA and the
//! client verifies the server's certificate against the same CA and
//! presents its own. Without them the service stays plaintext, for
//! compatibility with DOCA gateways.
//!
//! TLS is rustls on aws-lc-rs (tonic's `tls-aws-lc`), the crypto library
//! the rest of the project uses.
//!
//! One certificate serves a gateway both as server and as client: it must
//! carry either no extended key usage extension or both `serverAuth` and
//! `clientAuth`, and a subject alternative name matching the address peers
//! dial (an IP address SAN when they dial an IP address, as `-t` and `-f`
//! tunnels do).

use rustls_pki_types::pem::{self, PemObject as _, SectionKind};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};
use zeroize::Zeroizing;

/// How long the server waits for a peer to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The three PEM files of a gateway's TLS identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Our certificate chain (`--grpc-cert`): our certificate first, then
    /// any intermediates.
    pub cert: PathBuf,
    /// Our private key (`--grpc-key`): PKCS#8, PKCS#1 (RSA) or SEC1 (EC),
    /// unencrypted.
    pub key: PathBuf,
    /// The CA certificate(s) that peers' certificates must chain to
    /// (`--grpc-ca`), for both the server and the client side.
    pub ca: PathBuf,
}

/// Why a TLS identity could not be loaded. Each message is one line and
/// names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file does not exist.
    #[error("{what} {}: no such file", path.display())]
    Missing {
        /// Which file (certificate chain, private key, CA certificate).
        what: &'static str,
        /// Its path.
        path: PathBuf,
    },
    /// The file exists but could not be read.
    #[error("{what} {}: cannot read: {source}", path.display())]
    Unreadable {
        /// Which file.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not PEM, or a PEM block in it is malformed.
    #[error("{what} {}: not PEM: {reason}", path.display())]
    NotPem {
        /// Which file.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A PEM file without any `CERTIFICATE` block.
    #[error("{what} {}: no certificate (no PEM block \"CERTIFICATE\")", path.display())]
    NoCertificate {
        /// Which file.
        what: &'static str,
        /// Its path.
        path: PathBuf,
    },
    /// A PEM file without any (unencrypted) private key block.
    #[error(
        "private key {}: no key (no PEM block \"PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\"{})",
        path.display(),
        if *encrypted { "; encrypted keys are not supported" } else { "" }
    )]
    NoKey {
        /// Its path.
        path: PathBuf,
        /// The file holds an `ENCRYPTED PRIVATE KEY` block.
        encrypted: bool,
    },
    /// A key file with more than one private key.
    #[error("private key {}: {count} private keys, expected one", path.display())]
    SeveralKeys {
        /// Its path.
        path: PathBuf,
        /// How many.
        count: usize,
    },
    /// The files parse, but TLS refuses them together (a key that does not
    /// match the certificate, a CA certificate that is not a valid trust
    /// anchor...).
    #[error("certificate {}, key {}, CA {}: rejected by TLS: {reason}", files.cert.display(), files.key.display(), files.ca.display())]
    Rejected {
        /// The files.
        files: TlsFiles,
        /// Why, from the TLS library.
        reason: String,
    },
}

const CERT: &str = "certificate chain";
const KEY: &str = "private key";
const CA: &str = "CA certificate";

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => TlsError::Missing { what, path: path.to_owned() },
        _ => TlsError::Unreadable { what, path: path.to_owned(), source },
    })
}

/// The kinds of the PEM blocks in `bytes` that this parser knows (blocks
/// of other labels are skipped).
fn sections(what: &'static str, path: &Path, bytes: &[u8]) -> Result<Vec<SectionKind>, TlsError> {
    let not_pem = |reason: String| TlsError::NotPem { what, path: path.to_owned(), reason };
    let mut kinds = Vec::new();
    for item in <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes) {
        let (kind, mut der) = item.map_err(|e| not_pem(pem_error(&e)))?;
        zeroize::Zeroize::zeroize(&mut der);
        kinds.push(kind);
    }
    if kinds.is_empty() && !contains(bytes, b"-----BEGIN ") {
        return Err(not_pem("no \"-----BEGIN ...-----\" line".into()));
    }
    Ok(kinds)
}

fn pem_error(e: &pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { end_marker } => {
            format!("no \"-----END {}-----\" line", String::from_utf8_lossy(end_marker))
        }
        pem::Error::IllegalSectionStart { line } => {
            format!("bad line \"{}\"", String::from_utf8_lossy(line).escape_debug())
        }
        pem::Error::Base64Decode(e) => format!("bad base64: {e}"),
        other => other.to_string(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn certificates(what: &'static str, path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    let kinds = sections(what, path, bytes)?;
    if !kinds.contains(&SectionKind::Certificate) {
        return Err(TlsError::NoCertificate { what, path: path.to_owned() });
    }
    Ok(())
}

fn private_key(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    let kinds = sections(KEY, path, bytes)?;
    let count = kinds
        .iter()
        .filter(|k| {
            matches!(
                k,
                SectionKind::PrivateKey | SectionKind::RsaPrivateKey | SectionKind::EcPrivateKey
            )
        })
        .count();
    match count {
        0 => Err(TlsError::NoKey {
            path: path.to_owned(),
            encrypted: contains(bytes, b"-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        }),
        1 => Ok(()),
        count => Err(TlsError::SeveralKeys { path: path.to_owned(), count }),
    }
}

/// `error` and its sources, joined with `": "`.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        let s = e.to_string();
        if !out.ends_with(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        next = e.source();
    }
    out
}

impl TlsFiles {
    /// Reads and checks the three files: each must exist and be PEM; the
    /// certificate and CA files must hold at least one certificate, the
    /// key file exactly one unencrypted private key; and TLS must accept
    /// the key with the certificate and the CA as a trust anchor.
    pub fn load(&self) -> Result<TlsIdentity, TlsError> {
        let cert = read(CERT, &self.cert)?;
        certificates(CERT, &self.cert, &cert)?;
        let key = Zeroizing::new(read(KEY, &self.key)?);
        private_key(&self.key, &key)?;
        let ca = read(CA, &self.ca)?;
        certificates(CA, &self.ca, &ca)?;
        let identity = TlsIdentity { cert, key, ca, files: self.clone() };
        // Builds the server's rustls configuration once: rustls checks
        // that the key matches the certificate and that the CA certificate
        // makes a trust anchor.
        tonic::transport::Server::builder()
            .tls_config(identity.server_config())
            .map_err(|e| TlsError::Rejected { files: self.clone(), reason: error_chain(&e) })?;
        Ok(identity)
    }
}

/// A loaded TLS identity: our certificate chain and key, and the CA that
/// signs peers' certificates. The key bytes are wiped on drop (tonic and
/// rustls keep copies of their own, which are not).
#[derive(Clone)]
pub struct TlsIdentity {
    cert: Vec<u8>,
    key: Zeroizing<Vec<u8>>,
    ca: Vec<u8>,
    files: TlsFiles,
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("files", &self.files)
            .field("key", &format_args!("<redacted>"))
            .finish()
    }
}

impl TlsIdentity {
    /// The files it was loaded from.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    fn identity(&self) -> Identity {
        Identity::from_pem(&self.cert, &*self.key)
    }

    /// The server side: our identity, and a client certificate chaining to
    /// the CA required (`client_auth_optional(false)`) from every peer.
    pub fn server_config(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(self.identity())
            .client_ca_root(Certificate::from_pem(&self.ca))
            .client_auth_optional(false)
            .timeout(HANDSHAKE_TIMEOUT)
    }

    /// The client side: the server's certificate must chain to the CA and
    /// be valid for `server_name` (a DNS name or an IP address); we
    /// present our identity.
    pub fn client_config(&self, server_name: &str) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca))
            .identity(self.identity())
            .domain_name(server_name)
            .timeout(HANDSHAKE_TIMEOUT)
    }
}
