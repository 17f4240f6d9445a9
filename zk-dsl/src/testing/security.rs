//! Security a test server can have: SASL DIGEST-MD5 users (the server's JAAS
//! `DigestLoginModule`) and TLS on a `secureClientPort` (Netty, PEM key and trust stores, the
//! `x509` authentication provider), written into the server's directory when it starts.

use std::path::Path;

use super::certs::TestCa;
use super::config::ServerSettings;
use super::error::HarnessError;
use super::jvm::JvmSettings;

/// The provider that turns a verified client certificate into the identity `x509:<subject>`.
const X509_PROVIDER: &str = "org.apache.zookeeper.server.auth.X509AuthenticationProvider";

/// The provider that turns a completed SASL exchange into the identity `sasl:<user>`.
const SASL_PROVIDER: &str = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider";

/// Whether a TLS server asks clients for certificates (`ssl.clientAuth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// Clients present no certificate.
    None,
    /// Clients may present one (then the session is `x509:<subject>`); the default.
    #[default]
    Want,
    /// Clients must present one signed by the server's trusted CA.
    Need,
}

impl ClientAuth {
    fn as_str(self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::Want => "want",
            ClientAuth::Need => "need",
        }
    }
}

/// TLS on the client port's secure twin.
#[derive(Debug, Clone)]
pub(crate) struct ServerTls {
    pub(crate) ca: TestCa,
    /// The names the server's certificate carries (default `localhost` and `127.0.0.1`).
    pub(crate) names: Vec<String>,
    pub(crate) client_auth: ClientAuth,
}

/// Server-side security settings collected by the builders.
#[derive(Debug, Clone, Default)]
pub(crate) struct Security {
    /// DIGEST-MD5 users: name and password.
    pub(crate) digest_users: Vec<(String, String)>,
    pub(crate) tls: Option<ServerTls>,
}

/// Writes `text` to `dir/name` and returns the path as a string for a system property.
fn write_file(dir: &Path, name: &str, text: &str) -> Result<String, HarnessError> {
    let file = dir.join(name);
    std::fs::write(&file, text).map_err(|e| HarnessError::io(format!("writing {}", file.display()), e))?;
    file.to_str()
        .map(str::to_owned)
        .ok_or_else(|| HarnessError::InvalidConfig(format!("{} is not UTF-8", file.display())))
}

impl Security {
    pub(crate) fn validate(&self) -> Result<(), HarnessError> {
        for (user, password) in &self.digest_users {
            let plain = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_control() || matches!(c, '"' | '\\'));
            if !plain(user) || user.contains(|c: char| c.is_whitespace() || c == '=' || c == ';') {
                return Err(HarnessError::InvalidConfig(format!("{user:?} cannot be a JAAS user name")));
            }
            if !plain(password) {
                return Err(HarnessError::InvalidConfig(format!("the password of {user} cannot be written in JAAS")));
            }
        }
        Ok(())
    }

    /// The server's settings with these requirements applied, writing what they need into `dir`.
    pub(crate) fn apply(
        &self,
        dir: &Path,
        settings: &ServerSettings,
        jvm: &JvmSettings,
    ) -> Result<(ServerSettings, JvmSettings), HarnessError> {
        self.validate()?;
        let (mut settings, mut jvm) = (settings.clone(), jvm.clone());
        if !self.digest_users.is_empty() {
            let mut jaas = String::from("Server {\n    org.apache.zookeeper.server.auth.DigestLoginModule required");
            for (user, password) in &self.digest_users {
                jaas.push_str(&format!("\n    user_{user}=\"{password}\""));
            }
            jaas.push_str(";\n};\n");
            let file = write_file(dir, "jaas.conf", &jaas)?;
            jvm.system_properties.push(("java.security.auth.login.config".into(), file));
            // The JAAS file is read in the JVM's default charset, which follows the locale on
            // Java 17 (ASCII on a bare machine): the file is UTF-8, so non-ASCII passwords work.
            if !jvm.system_properties.iter().any(|(k, _)| k == "file.encoding") {
                jvm.system_properties.push(("file.encoding".into(), "UTF-8".into()));
            }
            settings.extra.push(("authProvider.sasl".into(), SASL_PROVIDER.into()));
        }
        if let Some(tls) = &self.tls {
            let names: Vec<&str> = tls.names.iter().map(String::as_str).collect();
            let server = tls.ca.issue_server(&names)?;
            let key_store = write_file(dir, "server-tls.pem", &format!("{}{}", server.key_pem, server.cert_pem))?;
            let trust_store = write_file(dir, "ca.pem", tls.ca.cert_pem())?;
            // As system properties: the x509 provider reads its stores from them, not zoo.cfg.
            for (key, value) in [
                ("zookeeper.serverCnxnFactory", "org.apache.zookeeper.server.NettyServerCnxnFactory".to_owned()),
                ("zookeeper.ssl.keyStore.location", key_store),
                ("zookeeper.ssl.keyStore.type", "PEM".into()),
                ("zookeeper.ssl.trustStore.location", trust_store),
                ("zookeeper.ssl.trustStore.type", "PEM".into()),
                ("zookeeper.ssl.clientAuth", tls.client_auth.as_str().into()),
                ("zookeeper.authProvider.x509", X509_PROVIDER.into()),
            ] {
                jvm.system_properties.push((key.into(), value));
            }
        }
        Ok((settings, jvm))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaas_file_and_provider() {
        let dir = tempfile::tempdir().unwrap();
        let security = Security { digest_users: vec![("bob".into(), "s3cret".into())], tls: None };
        let (settings, jvm) = security.apply(dir.path(), &ServerSettings::default(), &JvmSettings::default()).unwrap();
        let jaas = std::fs::read_to_string(dir.path().join("jaas.conf")).unwrap();
        assert!(jaas.contains("DigestLoginModule required\n    user_bob=\"s3cret\";"), "{jaas}");
        assert!(settings.extra.contains(&("authProvider.sasl".into(), SASL_PROVIDER.into())));
        assert!(jvm.system_properties.iter().any(|(k, _)| k == "java.security.auth.login.config"));
    }

    #[test]
    fn unwritable_credentials_are_refused() {
        for (user, password) in [("", "p"), ("a b", "p"), ("bob", "a\"b"), ("bob", "")] {
            let security = Security { digest_users: vec![(user.into(), password.into())], tls: None };
            assert!(security.validate().is_err(), "{user:?} {password:?}");
        }
    }
}
