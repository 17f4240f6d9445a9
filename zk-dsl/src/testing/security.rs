//! Authentication a test server can require: SASL DIGEST-MD5 users (the server's JAAS
//! `DigestLoginModule`), written into the server's directory when it starts.

use std::path::Path;

use super::config::ServerSettings;
use super::error::HarnessError;
use super::jvm::JvmSettings;

/// The provider that turns a completed SASL exchange into the identity `sasl:<user>`.
const SASL_PROVIDER: &str = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider";

/// Server-side security settings collected by the builders.
#[derive(Debug, Clone, Default)]
pub(crate) struct Security {
    /// DIGEST-MD5 users: name and password.
    pub(crate) digest_users: Vec<(String, String)>,
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
            let file = dir.join("jaas.conf");
            std::fs::write(&file, jaas).map_err(|e| HarnessError::io("writing the server's JAAS file", e))?;
            let file = file
                .to_str()
                .ok_or_else(|| HarnessError::InvalidConfig(format!("{} is not UTF-8", file.display())))?
                .to_owned();
            jvm.system_properties.push(("java.security.auth.login.config".into(), file));
            // The JAAS file is read in the JVM's default charset, which follows the locale on
            // Java 17 (ASCII on a bare machine): the file is UTF-8, so non-ASCII passwords work.
            if !jvm.system_properties.iter().any(|(k, _)| k == "file.encoding") {
                jvm.system_properties.push(("file.encoding".into(), "UTF-8".into()));
            }
            settings.extra.push(("authProvider.sasl".into(), SASL_PROVIDER.into()));
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
        let security = Security { digest_users: vec![("bob".into(), "s3cret".into())] };
        let (settings, jvm) = security.apply(dir.path(), &ServerSettings::default(), &JvmSettings::default()).unwrap();
        let jaas = std::fs::read_to_string(dir.path().join("jaas.conf")).unwrap();
        assert!(jaas.contains("DigestLoginModule required\n    user_bob=\"s3cret\";"), "{jaas}");
        assert!(settings.extra.contains(&("authProvider.sasl".into(), SASL_PROVIDER.into())));
        assert!(jvm.system_properties.iter().any(|(k, _)| k == "java.security.auth.login.config"));
    }

    #[test]
    fn unwritable_credentials_are_refused() {
        for (user, password) in [("", "p"), ("a b", "p"), ("bob", "a\"b"), ("bob", "")] {
            let security = Security { digest_users: vec![(user.into(), password.into())] };
            assert!(security.validate().is_err(), "{user:?} {password:?}");
        }
    }
}
