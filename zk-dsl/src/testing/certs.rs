//! Certificates for TLS test servers and clients, made fresh for each run (nothing checked in
//! that could expire): a throw-away certificate authority that issues server and client
//! certificates, all ECDSA P-256 in PEM.

use std::fmt;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::error::HarnessError;

fn rcgen_error(what: &str, e: rcgen::Error) -> HarnessError {
    HarnessError::InvalidConfig(format!("generating {what}: {e}"))
}

/// A certificate and its private key, in PEM.
#[derive(Clone)]
pub struct IssuedCert {
    /// The certificate (PEM `CERTIFICATE`).
    pub cert_pem: String,
    /// Its private key (PEM PKCS#8 `PRIVATE KEY`).
    pub key_pem: String,
}

impl fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCert").field("cert_pem", &self.cert_pem).field("key_pem", &"<redacted>").finish()
    }
}

/// A certificate authority for tests: its own certificate (to trust) and the certificates it
/// issues (for servers and clients). Cheap to clone.
#[derive(Clone)]
pub struct TestCa {
    inner: Arc<CaInner>,
}

struct CaInner {
    name: String,
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for TestCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa").field("name", &self.inner.name).finish()
    }
}

impl TestCa {
    /// A new authority named `name` (its certificate's common name).
    pub fn new(name: &str) -> Result<TestCa, HarnessError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| rcgen_error("a CA", e))?;
        params.distinguished_name = common_name(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().map_err(|e| rcgen_error("a CA key", e))?;
        let cert = params.self_signed(&key).map_err(|e| rcgen_error("a CA certificate", e))?;
        let issuer = Issuer::new(params, key);
        Ok(TestCa { inner: Arc::new(CaInner { name: name.to_owned(), cert_pem: cert.pem(), issuer }) })
    }

    /// The authority's certificate, to trust.
    pub fn cert_pem(&self) -> &str {
        &self.inner.cert_pem
    }

    /// A server certificate for `names` (DNS names and IP addresses, as subject alternative
    /// names), usable for client authentication too (ZooKeeper's quorum TLS needs both).
    pub fn issue_server(&self, names: &[&str]) -> Result<IssuedCert, HarnessError> {
        let first = names.first().copied().unwrap_or("zookeeper");
        self.issue(first, names.iter().map(|n| n.to_string()).collect(), true)
    }

    /// A client certificate whose subject is `CN=<common_name>` (the identity ZooKeeper's
    /// `X509AuthenticationProvider` gives the session: `x509:CN=<common_name>`).
    pub fn issue_client(&self, common_name: &str) -> Result<IssuedCert, HarnessError> {
        self.issue(common_name, Vec::new(), false)
    }

    fn issue(&self, common: &str, names: Vec<String>, server: bool) -> Result<IssuedCert, HarnessError> {
        let mut params = CertificateParams::new(names).map_err(|e| rcgen_error("a certificate", e))?;
        params.distinguished_name = common_name(common);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = if server {
            vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth]
        } else {
            vec![ExtendedKeyUsagePurpose::ClientAuth]
        };
        let key = KeyPair::generate().map_err(|e| rcgen_error("a key", e))?;
        let cert = params.signed_by(&key, &self.inner.issuer).map_err(|e| rcgen_error("a certificate", e))?;
        Ok(IssuedCert { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }
}

fn common_name(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn
}
