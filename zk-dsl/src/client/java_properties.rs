//! The Java client's configuration properties (`zookeeper.client.secure`,
//! `zookeeper.ssl.trustStore.location`, ...) applied to a [`Connect`], for people moving a
//! service's configuration over from Java.

use super::Connect;
use crate::error::Error;
use crate::proto::OpCode;

/// The properties [`Connect::java_properties`] understands.
const SUPPORTED: &[&str] = &[
    "zookeeper.client.secure",
    "zookeeper.ssl.trustStore.location",
    "zookeeper.ssl.trustStore.type",
    "zookeeper.ssl.keyStore.location",
    "zookeeper.ssl.keyStore.type",
    "zookeeper.ssl.hostnameVerification",
    "zookeeper.ssl.protocol",
    "zookeeper.ssl.enabledProtocols",
    "zookeeper.clientCnxnSocket",
    "zookeeper.sasl.client",
    "jute.maxbuffer",
];

/// TLS settings gathered from the properties before they are applied.
#[derive(Default)]
struct Tls {
    secure: bool,
    trust_store: Option<String>,
    key_store: Option<String>,
    verify_host_names: bool,
    tls13_only: bool,
}

impl Connect {
    /// Applies the Java client's properties (as in a `zookeeper.properties` file or `-D` flags)
    /// to this builder. Understood: `zookeeper.client.secure`, the `zookeeper.ssl.*` trust and
    /// key stores **in PEM** (`*.type` must be `PEM`: JKS and PKCS#12 need the JDK's tools to
    /// convert), `zookeeper.ssl.hostnameVerification`, `zookeeper.ssl.protocol` /
    /// `enabledProtocols` (TLSv1.2, TLSv1.3), and `jute.maxbuffer`; `zookeeper.clientCnxnSocket`
    /// and `zookeeper.sasl.client=false` are accepted and have nothing to do here. Anything else,
    /// or a value that cannot be honoured, is refused with an error naming the property, so a
    /// setting is never silently dropped. SASL credentials come from a JAAS file in Java; here
    /// they are [`sasl_digest`](Self::sasl_digest).
    pub fn java_properties<K: AsRef<str>, V: AsRef<str>>(
        mut self,
        properties: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, Error> {
        let refuse = |key: &str, why: String| {
            Error::invalid_argument(Some(OpCode::CreateSession), None, format!("Java property {key}: {why}"))
        };
        let flag = |key: &str, value: &str| match value.trim() {
            v if v.eq_ignore_ascii_case("true") => Ok(true),
            v if v.eq_ignore_ascii_case("false") => Ok(false),
            v => Err(refuse(key, format!("{v:?} is not true or false"))),
        };
        let mut tls = Tls { verify_host_names: true, ..Tls::default() };
        for (key, value) in properties {
            let (key, value) = (key.as_ref(), value.as_ref().trim());
            match key {
                "zookeeper.client.secure" => tls.secure = flag(key, value)?,
                "zookeeper.ssl.trustStore.location" => tls.trust_store = Some(value.to_owned()),
                "zookeeper.ssl.keyStore.location" => tls.key_store = Some(value.to_owned()),
                "zookeeper.ssl.trustStore.type" | "zookeeper.ssl.keyStore.type" => {
                    if !value.eq_ignore_ascii_case("PEM") {
                        return Err(refuse(key, format!("{value} stores are not read here; convert them to PEM")));
                    }
                }
                "zookeeper.ssl.hostnameVerification" => tls.verify_host_names = flag(key, value)?,
                "zookeeper.ssl.protocol" | "zookeeper.ssl.enabledProtocols" => {
                    let protocols: Vec<&str> = value.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
                    if protocols.iter().any(|p| !matches!(*p, "TLSv1.2" | "TLSv1.3" | "TLS")) {
                        return Err(refuse(key, format!("{value}: only TLSv1.2 and TLSv1.3 are spoken")));
                    }
                    tls.tls13_only = protocols == ["TLSv1.3"];
                }
                "jute.maxbuffer" => {
                    let bytes = value.parse().map_err(|_| refuse(key, format!("{value:?} is not a byte count")))?;
                    self = self.max_packet(bytes);
                }
                "zookeeper.clientCnxnSocket" => {}
                "zookeeper.sasl.client" => {
                    if flag(key, value)? {
                        // Java turns SASL on from a JAAS file; the credentials must be given here.
                        #[cfg(not(feature = "sasl"))]
                        return Err(refuse(key, "SASL needs the `sasl` feature".into()));
                    }
                }
                other => {
                    return Err(refuse(other, format!("not understood (supported: {})", SUPPORTED.join(", "))));
                }
            }
        }
        self.apply_tls(tls, refuse)
    }

    #[cfg(feature = "tls")]
    fn apply_tls(self, tls: Tls, refuse: impl Fn(&str, String) -> Error) -> Result<Self, Error> {
        if !tls.secure {
            return Ok(self);
        }
        let Some(trust_store) = tls.trust_store else {
            return Err(refuse(
                "zookeeper.ssl.trustStore.location",
                "required with zookeeper.client.secure=true".into(),
            ));
        };
        let mut config = crate::tls::TlsConfig::new().ca_pem_file(trust_store);
        if let Some(key_store) = tls.key_store {
            // A PEM key store holds the private key and the certificate chain in one file.
            config = config.client_cert_pem_files(&key_store, &key_store);
        }
        if !tls.verify_host_names {
            config = config.danger_accept_any_server_name();
        }
        if tls.tls13_only {
            config = config.tls13_only();
        }
        Ok(self.tls(config))
    }

    #[cfg(not(feature = "tls"))]
    fn apply_tls(self, tls: Tls, refuse: impl Fn(&str, String) -> Error) -> Result<Self, Error> {
        if tls.secure {
            return Err(refuse("zookeeper.client.secure", "TLS needs the `tls` feature".into()));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use crate::Client;

    #[test]
    fn unknown_or_unusable_properties_are_refused_by_name() {
        for (key, value) in [
            ("zookeeper.unknown", "x"),
            ("zookeeper.ssl.trustStore.type", "JKS"),
            ("zookeeper.client.secure", "yes"),
            ("zookeeper.ssl.protocol", "TLSv1.1"),
            ("jute.maxbuffer", "lots"),
        ] {
            let refused = Client::connect("127.0.0.1:2181").java_properties([(key, value)]);
            let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains(key), "{key}={value}: {message}");
        }
    }

    #[test]
    fn harmless_properties_are_accepted() {
        let ok = Client::connect("127.0.0.1:2181").java_properties([
            ("zookeeper.clientCnxnSocket", "org.apache.zookeeper.ClientCnxnSocketNetty"),
            ("jute.maxbuffer", "4194304"),
            ("zookeeper.client.secure", "false"),
        ]);
        assert!(ok.is_ok());
    }

    #[cfg(feature = "tls")]
    #[test]
    fn secure_without_a_trust_store_is_refused() {
        let refused = Client::connect("127.0.0.1:2281").java_properties([("zookeeper.client.secure", "true")]);
        assert!(refused.err().map(|e| e.to_string()).unwrap_or_default().contains("trustStore.location"));
    }
}
