//! TLS for ZooKeeper connections (feature `tls`): rustls, no OpenSSL.
//!
//! A [`TlsConfig`] says whom to trust (CA certificates from PEM, and with feature
//! `tls-native-roots` the system's roots), who the client is (a certificate and key for mutual
//! TLS, which ZooKeeper's `X509AuthenticationProvider` turns into the identity `x509:<subject>`),
//! and how to check the server's name. Give it to [`Connect::tls`](crate::Connect::tls) and
//! connect to the servers' `secureClientPort`.
//!
//! Host names are verified by default: the certificate must name the host of the connection
//! string (a DNS name or an IP address), or the name given with
//! [`server_name`](TlsConfig::server_name). The only way around that is the loudly named
//! [`danger_accept_any_server_name`](TlsConfig::danger_accept_any_server_name); the chain is
//! still verified against the CAs.
//!
//! PEM files are read when the first connection is made and read again, before any later
//! connection, whenever one of them has changed (by modification time and size): rotated
//! certificates take effect at the next reconnection, as ZooKeeper 3.8+ reloads its own.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Where PEM data comes from: a file (re-read when it changes) or bytes given once.
#[derive(Clone)]
enum Pem {
    File(PathBuf),
    Bytes(Arc<[u8]>),
}

impl Pem {
    fn read(&self) -> Result<Vec<u8>, TlsError> {
        match self {
            Pem::File(path) => {
                std::fs::read(path).map_err(|e| TlsError::new(format!("reading {}: {e}", path.display())))
            }
            Pem::Bytes(bytes) => Ok(bytes.to_vec()),
        }
    }

    /// Modification time and size of a file, to notice a rotation; `None` for bytes.
    fn stamp(&self) -> Option<(Option<SystemTime>, u64)> {
        match self {
            Pem::File(path) => {
                let meta = std::fs::metadata(path).ok();
                Some((meta.as_ref().and_then(|m| m.modified().ok()), meta.map_or(0, |m| m.len())))
            }
            Pem::Bytes(_) => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Pem::File(path) => path.display().to_string(),
            Pem::Bytes(_) => "PEM bytes".into(),
        }
    }
}

/// A TLS setting that cannot be used: unreadable or malformed PEM, no trust roots, a key that
/// does not fit. Reported as [`Error::InvalidArgument`](crate::Error::InvalidArgument) by
/// `Connect::start`, or as a failed connection attempt when a reloaded file is bad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError {
    reason: String,
}

impl TlsError {
    fn new(reason: impl Into<String>) -> TlsError {
        TlsError { reason: reason.into() }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS configuration: {}", self.reason)
    }
}

impl std::error::Error for TlsError {}

/// How a client speaks TLS to ZooKeeper (see the [module docs](self)).
///
/// ```no_run
/// use zk_dsl::tls::TlsConfig;
/// # async fn demo() -> zk_dsl::Result<()> {
/// let tls = TlsConfig::new()
///     .ca_pem_file("/etc/zookeeper/ca.pem")
///     .client_cert_pem_files("/etc/app/client.pem", "/etc/app/client-key.pem");
/// let client = zk_dsl::Client::connect("zk1:2281,zk2:2281,zk3:2281").tls(tls).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct TlsConfig {
    cas: Vec<Pem>,
    system_roots: bool,
    client: Option<(Pem, Pem)>,
    server_name: Option<String>,
    any_server_name: bool,
    tls13_only: bool,
    /// The built rustls config and the file stamps it was built from.
    built: Arc<Mutex<Option<Built>>>,
}

struct Built {
    stamps: Vec<Option<(Option<SystemTime>, u64)>>,
    config: Arc<ClientConfig>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("cas", &self.cas.iter().map(Pem::describe).collect::<Vec<_>>())
            .field("system_roots", &self.system_roots)
            .field("client_cert", &self.client.as_ref().map(|(cert, _)| cert.describe()))
            .field("server_name", &self.server_name)
            .field("any_server_name", &self.any_server_name)
            .field("tls13_only", &self.tls13_only)
            .finish()
    }
}

impl TlsConfig {
    /// No trust roots yet: add CAs, or the system's roots.
    pub fn new() -> TlsConfig {
        TlsConfig::default()
    }

    /// Trusts the CA certificates in a PEM file (re-read when it changes).
    pub fn ca_pem_file(mut self, path: impl AsRef<Path>) -> Self {
        self.cas.push(Pem::File(path.as_ref().to_owned()));
        self
    }

    /// Trusts the CA certificates in PEM text.
    pub fn ca_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.cas.push(Pem::Bytes(pem.as_ref().into()));
        self
    }

    /// Also trusts the operating system's roots (feature `tls-native-roots`).
    #[cfg(feature = "tls-native-roots")]
    pub fn system_roots(mut self) -> Self {
        self.system_roots = true;
        self
    }

    /// Presents this certificate chain and private key (PEM files, re-read when they change):
    /// mutual TLS, and the `x509` identity on servers with `X509AuthenticationProvider`.
    pub fn client_cert_pem_files(mut self, cert_chain: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        self.client = Some((Pem::File(cert_chain.as_ref().to_owned()), Pem::File(key.as_ref().to_owned())));
        self
    }

    /// Presents this certificate chain and private key (PEM text).
    pub fn client_cert_pem(mut self, cert_chain: impl AsRef<[u8]>, key: impl AsRef<[u8]>) -> Self {
        self.client = Some((Pem::Bytes(cert_chain.as_ref().into()), Pem::Bytes(key.as_ref().into())));
        self
    }

    /// The name the servers' certificates must carry, instead of each connection string host
    /// (for servers reached by address but certified by name, or through a proxy).
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// **Disables host name verification**: any certificate that chains to a trusted CA is
    /// accepted, whatever name it is for. Anyone holding such a certificate can impersonate the
    /// ensemble. For test setups without proper names only.
    pub fn danger_accept_any_server_name(mut self) -> Self {
        self.any_server_name = true;
        self
    }

    /// TLS 1.3 only (default: TLS 1.2 and 1.3, as ZooKeeper's Netty offers both).
    pub fn tls13_only(mut self) -> Self {
        self.tls13_only = true;
        self
    }

    /// The name to verify for a connection to `host`.
    pub(crate) fn name_for(&self, host: &str) -> Result<ServerName<'static>, TlsError> {
        let name = self.server_name.as_deref().unwrap_or(host);
        ServerName::try_from(name.to_owned()).map_err(|e| TlsError::new(format!("{name:?} is not a server name: {e}")))
    }

    /// The rustls configuration for the next connection: built once, and again whenever a PEM
    /// file has changed since.
    pub(crate) fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let stamps: Vec<_> = self.sources().map(Pem::stamp).collect();
        let mut built = self.built.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(b) = built.as_ref().filter(|b| b.stamps == stamps) {
            return Ok(b.config.clone());
        }
        if built.is_some() {
            tracing::info!("TLS certificate files changed; reloading them");
        }
        let config = Arc::new(self.build()?);
        *built = Some(Built { stamps, config: config.clone() });
        Ok(config)
    }

    fn sources(&self) -> impl Iterator<Item = &Pem> {
        self.cas.iter().chain(self.client.iter().flat_map(|(cert, key)| [cert, key]))
    }

    fn build(&self) -> Result<ClientConfig, TlsError> {
        let mut roots = RootCertStore::empty();
        for ca in &self.cas {
            let pem = ca.read()?;
            let mut found = 0;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| TlsError::new(format!("{}: {e}", ca.describe())))?;
                roots.add(cert).map_err(|e| TlsError::new(format!("{}: {e}", ca.describe())))?;
                found += 1;
            }
            if found == 0 {
                return Err(TlsError::new(format!("{} holds no certificate", ca.describe())));
            }
        }
        self.add_system_roots(&mut roots)?;
        if roots.is_empty() {
            return Err(TlsError::new("no trust roots: add a CA (ca_pem_file) or the system roots"));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&rustls::SupportedProtocolVersion] = if self.tls13_only {
            &[&rustls::version::TLS13]
        } else {
            &[&rustls::version::TLS12, &rustls::version::TLS13]
        };
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(|e| TlsError::new(e.to_string()))?;
        let roots = Arc::new(roots);
        let builder = if self.any_server_name {
            let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| TlsError::new(e.to_string()))?;
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyServerName(verifier)))
        } else {
            builder.with_root_certificates(roots)
        };
        match &self.client {
            None => Ok(builder.with_no_client_auth()),
            Some((cert, key)) => {
                let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert.read()?)
                    .collect::<Result<_, _>>()
                    .map_err(|e| TlsError::new(format!("{}: {e}", cert.describe())))?;
                if chain.is_empty() {
                    return Err(TlsError::new(format!("{} holds no certificate", cert.describe())));
                }
                let key = PrivateKeyDer::from_pem_slice(&key.read()?)
                    .map_err(|e| TlsError::new(format!("{}: {e}", key.describe())))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| TlsError::new(format!("the client certificate and key: {e}")))
            }
        }
    }

    #[cfg(feature = "tls-native-roots")]
    fn add_system_roots(&self, roots: &mut RootCertStore) -> Result<(), TlsError> {
        if self.system_roots {
            let found = rustls_native_certs::load_native_certs();
            for error in &found.errors {
                tracing::warn!(%error, "reading a system root certificate");
            }
            roots.add_parsable_certificates(found.certs);
        }
        Ok(())
    }

    #[cfg(not(feature = "tls-native-roots"))]
    fn add_system_roots(&self, _roots: &mut RootCertStore) -> Result<(), TlsError> {
        debug_assert!(!self.system_roots, "only settable with the feature");
        Ok(())
    }
}

/// Verifies the chain like rustls's WebPKI verifier, but takes a certificate for any name.
#[derive(Debug)]
struct AnyServerName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyServerName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
