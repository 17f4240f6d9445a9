//! DIGEST-MD5 (RFC 2831) as a SASL client, one step at a time.

use std::fmt;

use md5::{Digest, Md5};

use super::{DIGEST_SERVER_NAME, SERVICE};

/// Why a DIGEST-MD5 exchange failed on the client's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslError {
    /// The server's challenge cannot be used: malformed, or missing what RFC 2831 requires.
    BadChallenge(String),
    /// The server's final message did not prove it knows the password (mutual authentication).
    ServerNotAuthenticated,
    /// The exchange went on after it was complete, or a step came out of order.
    OutOfOrder(&'static str),
}

impl fmt::Display for SaslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaslError::BadChallenge(why) => write!(f, "unusable DIGEST-MD5 challenge: {why}"),
            SaslError::ServerNotAuthenticated => {
                f.write_str("the server's DIGEST-MD5 rspauth does not match: it does not know the password")
            }
            SaslError::OutOfOrder(what) => write!(f, "DIGEST-MD5 step out of order: {what}"),
        }
    }
}

impl std::error::Error for SaslError {}

/// Where the exchange is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Waiting for the server's challenge.
    Challenge,
    /// Sent the response; waiting for `rspauth`, which must equal this.
    RspAuth(String),
    Complete,
}

/// A DIGEST-MD5 client for one exchange (one connection): [`initial`](Self::initial) is the
/// first token (empty: the mechanism has no initial response), then each server token goes to
/// [`step`](Self::step), which returns the next token to send or `None` once complete.
pub struct DigestMd5 {
    username: String,
    password: String,
    authzid: Option<String>,
    digest_uri: String,
    cnonce: Option<String>,
    state: State,
}

impl fmt::Debug for DigestMd5 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestMd5")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("digest_uri", &self.digest_uri)
            .field("state", &self.state)
            .finish()
    }
}

impl DigestMd5 {
    /// A client for `username` with `password`, speaking to ZooKeeper (digest-uri
    /// `zookeeper/zk-sasl-md5`).
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> DigestMd5 {
        DigestMd5 {
            username: username.into(),
            password: password.into(),
            authzid: None,
            digest_uri: format!("{SERVICE}/{DIGEST_SERVER_NAME}"),
            cnonce: None,
            state: State::Challenge,
        }
    }

    /// Asks to act as `authzid` (defaults to the username).
    pub fn authzid(mut self, authzid: impl Into<String>) -> Self {
        self.authzid = Some(authzid.into());
        self
    }

    /// Another service's digest-uri (`service/host`), for test vectors and other servers.
    pub fn digest_uri(mut self, uri: impl Into<String>) -> Self {
        self.digest_uri = uri.into();
        self
    }

    /// Fixes the client nonce (test vectors); by default each exchange draws 16 random bytes.
    pub fn cnonce(mut self, cnonce: impl Into<String>) -> Self {
        self.cnonce = Some(cnonce.into());
        self
    }

    /// The first token: empty (DIGEST-MD5 starts with the server's challenge).
    pub fn initial(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Whether the exchange is complete (the server proved itself).
    pub fn is_complete(&self) -> bool {
        self.state == State::Complete
    }

    /// Takes the server's token: the challenge (answered with the digest-response), then
    /// `rspauth` (checked; `None`: complete).
    pub fn step(&mut self, server_token: &[u8]) -> Result<Option<Vec<u8>>, SaslError> {
        match std::mem::replace(&mut self.state, State::Complete) {
            State::Challenge => {
                let challenge = Challenge::parse(server_token)?;
                let (response, rspauth) = self.respond(&challenge)?;
                self.state = State::RspAuth(rspauth);
                Ok(Some(response.into_bytes()))
            }
            State::RspAuth(expected) => {
                let text = std::str::from_utf8(server_token)
                    .map_err(|_| SaslError::BadChallenge("the final message is not UTF-8".into()))?;
                let directives = parse_directives(text)?;
                let got = directives.iter().find(|(k, _)| k.eq_ignore_ascii_case("rspauth")).map(|(_, v)| v.as_str());
                if got.map(str::to_ascii_lowercase).as_deref() == Some(expected.as_str()) {
                    Ok(None)
                } else {
                    Err(SaslError::ServerNotAuthenticated)
                }
            }
            State::Complete => Err(SaslError::OutOfOrder("a token after the exchange completed")),
        }
    }

    /// The digest-response to `challenge`, and the `rspauth` the server must answer with.
    fn respond(&self, challenge: &Challenge) -> Result<(String, String), SaslError> {
        let cnonce = match &self.cnonce {
            Some(cnonce) => cnonce.clone(),
            None => random_cnonce()?,
        };
        // Our own realm choice: the server's (the first, if it offers several), else none.
        let realm = challenge.realms.first().cloned().unwrap_or_default();
        let encode = |s: &str| encode_text(s, challenge.utf8);
        let nc = "00000001";
        let qop = "auth";

        // A1 = { H(username ":" realm ":" password) } ":" nonce ":" cnonce [ ":" authzid ]
        let mut a1 = Md5::new()
            .chain_update(encode(&self.username)?)
            .chain_update(b":")
            .chain_update(encode(&realm)?)
            .chain_update(b":")
            .chain_update(encode(&self.password)?)
            .finalize()
            .to_vec();
        a1.extend_from_slice(format!(":{}:{cnonce}", challenge.nonce).as_bytes());
        if let Some(authzid) = &self.authzid {
            a1.push(b':');
            a1.extend_from_slice(authzid.as_bytes());
        }
        let ha1 = hex(&Md5::digest(&a1));
        let kd = |a2: &str| {
            let ha2 = hex(&Md5::digest(a2.as_bytes()));
            hex(&Md5::digest(format!("{ha1}:{}:{nc}:{cnonce}:{qop}:{ha2}", challenge.nonce).as_bytes()))
        };
        let response = kd(&format!("AUTHENTICATE:{}", self.digest_uri));
        let rspauth = kd(&format!(":{}", self.digest_uri));

        let mut out = String::new();
        if challenge.utf8 {
            out.push_str("charset=utf-8,");
        }
        out.push_str(&format!("username={}", quote(&self.username)));
        if !realm.is_empty() {
            out.push_str(&format!(",realm={}", quote(&realm)));
        }
        out.push_str(&format!(
            ",nonce={},nc={nc},cnonce={},digest-uri={},response={response},qop={qop}",
            quote(&challenge.nonce),
            quote(&cnonce),
            quote(&self.digest_uri)
        ));
        if let Some(authzid) = &self.authzid {
            out.push_str(&format!(",authzid={}", quote(authzid)));
        }
        Ok((out, rspauth))
    }
}

/// What the client needs from a digest-challenge.
#[derive(Debug)]
struct Challenge {
    realms: Vec<String>,
    nonce: String,
    utf8: bool,
}

impl Challenge {
    fn parse(token: &[u8]) -> Result<Challenge, SaslError> {
        let text =
            std::str::from_utf8(token).map_err(|_| SaslError::BadChallenge("the challenge is not UTF-8".into()))?;
        let mut realms = Vec::new();
        let (mut nonce, mut algorithm, mut qops, mut utf8) = (None, None, None, false);
        for (key, value) in parse_directives(text)? {
            match key.to_ascii_lowercase().as_str() {
                "realm" => realms.push(value),
                "nonce" if nonce.is_some() => return Err(SaslError::BadChallenge("more than one nonce".into())),
                "nonce" => nonce = Some(value),
                "algorithm" if algorithm.is_some() => {
                    return Err(SaslError::BadChallenge("more than one algorithm".into()))
                }
                "algorithm" => algorithm = Some(value),
                "qop" => qops = Some(value),
                "charset" if value.eq_ignore_ascii_case("utf-8") => utf8 = true,
                "charset" => return Err(SaslError::BadChallenge(format!("charset {value:?}"))),
                // stale, maxbuf, cipher, auth-params: nothing the client must act on.
                _ => {}
            }
        }
        let nonce = nonce.ok_or_else(|| SaslError::BadChallenge("no nonce".into()))?;
        match algorithm {
            Some(a) if a.eq_ignore_ascii_case("md5-sess") => {}
            other => return Err(SaslError::BadChallenge(format!("algorithm {other:?}, not md5-sess"))),
        }
        // qop defaults to "auth"; the client needs that one (integrity and privacy layers are
        // left to TLS).
        if let Some(qops) = qops {
            if !qops.split(',').any(|q| q.trim().eq_ignore_ascii_case("auth")) {
                return Err(SaslError::BadChallenge(format!("qop {qops:?} does not offer auth")));
            }
        }
        Ok(Challenge { realms, nonce, utf8 })
    }
}

/// `key=value` pairs separated by commas (RFC 2831's `#rule`: empty elements and linear white
/// space allowed); a value is a token or a quoted-string with backslash escapes.
fn parse_directives(text: &str) -> Result<Vec<(String, String)>, SaslError> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', '\t', '\r', '\n', ',']);
        if rest.is_empty() {
            return Ok(out);
        }
        let eq = rest.find('=').ok_or_else(|| SaslError::BadChallenge(format!("no '=' in {rest:?}")))?;
        let key = rest[..eq].trim();
        if key.is_empty() || key.contains([',', '"', ' ']) {
            return Err(SaslError::BadChallenge(format!("bad directive name {key:?}")));
        }
        rest = rest[eq + 1..].trim_start_matches([' ', '\t']);
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, c)) => v.push(c),
                        None => return Err(SaslError::BadChallenge("a quoted value ends in '\\'".into())),
                    },
                    Some((i, '"')) => break i,
                    Some((_, c)) => v.push(c),
                    None => return Err(SaslError::BadChallenge("an unterminated quoted value".into())),
                }
            };
            value = v;
            rest = &quoted[end + 1..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_owned();
            rest = &rest[end..];
        }
        out.push((key.to_owned(), value));
        rest = rest.trim_start_matches([' ', '\t', '\r', '\n']);
        if !(rest.is_empty() || rest.starts_with(',')) {
            return Err(SaslError::BadChallenge(format!("junk after {key}'s value: {rest:?}")));
        }
    }
}

/// A quoted-string: `"` and `\` escaped.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The bytes hashed for a user name, realm or password (RFC 2831 §2.1.2.1): ISO 8859-1
/// whenever every character fits in it — even when the server offered `charset=utf-8` — and
/// UTF-8 otherwise, which only a server that offered `charset=utf-8` accepts.
fn encode_text(s: &str, utf8: bool) -> Result<Vec<u8>, SaslError> {
    if let Some(latin1) = s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect::<Option<Vec<u8>>>() {
        return Ok(latin1);
    }
    if utf8 {
        return Ok(s.as_bytes().to_vec());
    }
    Err(SaslError::BadChallenge("the server did not offer UTF-8 and a credential is not ISO 8859-1".into()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 16 bytes from the operating system's generator, base64 (no characters that need quoting).
fn random_cnonce() -> Result<String, SaslError> {
    use base64::Engine as _;
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| SaslError::OutOfOrder("the OS random generator failed"))?;
    Ok(base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2831 §4's example: user chris, password secret, IMAP on elwood.innosoft.com.
    #[test]
    fn rfc_2831_example_response_and_rspauth() {
        let mut client =
            DigestMd5::new("chris", "secret").digest_uri("imap/elwood.innosoft.com").cnonce("OA6MHXh6VqTrRk");
        assert!(client.initial().is_empty());
        let challenge =
            br#"realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8"#;
        let response = String::from_utf8(client.step(challenge).unwrap().unwrap()).unwrap();
        assert_eq!(
            response,
            r#"charset=utf-8,username="chris",realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",nc=00000001,cnonce="OA6MHXh6VqTrRk",digest-uri="imap/elwood.innosoft.com",response=d388dad90d4bbd760a152321f2143af7,qop=auth"#
        );
        assert!(!client.is_complete());
        // The RFC prints ea40f60335c427b5527b84dbabcbfff4, a known erratum in its last bytes; this
        // is the value its own formula gives (and Cyrus SASL and Java's server send).
        assert_eq!(client.step(b"rspauth=ea40f60335c427b5527b84dbabcdfffd").unwrap(), None);
        assert!(client.is_complete());
        assert!(matches!(client.step(b"rspauth=x"), Err(SaslError::OutOfOrder(_))));
    }

    #[test]
    fn a_server_that_does_not_know_the_password_is_refused() {
        let mut client =
            DigestMd5::new("chris", "secret").digest_uri("imap/elwood.innosoft.com").cnonce("OA6MHXh6VqTrRk");
        client.step(br#"realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",algorithm=md5-sess"#).unwrap();
        assert_eq!(client.step(b"rspauth=00000000000000000000000000000000"), Err(SaslError::ServerNotAuthenticated));
    }

    #[test]
    fn unusable_challenges_are_refused_with_the_reason() {
        for bad in [
            &br#"realm="r",algorithm=md5-sess"#[..],            // no nonce
            br#"nonce="n""#,                                    // no algorithm
            br#"nonce="n",algorithm=md5"#,                      // wrong algorithm
            br#"nonce="n",nonce="m",algorithm=md5-sess"#,       // two nonces
            br#"nonce="n",qop="auth-conf",algorithm=md5-sess"#, // no auth qop
            br#"nonce="n,algorithm=md5-sess"#,                  // unterminated
            br#"nonce"#,                                        // no '='
            b"\xff",                                            // not UTF-8
        ] {
            let mut client = DigestMd5::new("u", "p");
            assert!(matches!(client.step(bad), Err(SaslError::BadChallenge(_))), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn directives_allow_spaces_empty_elements_and_escapes() {
        let parsed = parse_directives(r#" , realm = "a\"b\\c" ,, nonce=xyz , qop="auth,auth-int""#).unwrap();
        assert_eq!(
            parsed,
            [
                ("realm".into(), "a\"b\\c".into()),
                ("nonce".into(), "xyz".into()),
                ("qop".into(), "auth,auth-int".into())
            ]
        );
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn credentials_are_hashed_as_latin_1_when_they_fit_and_utf8_otherwise() {
        // "é" is one ISO 8859-1 byte (0xe9), also when the server offers UTF-8.
        assert_eq!(encode_text("José", true).unwrap(), b"Jos\xe9");
        assert_eq!(encode_text("José", false).unwrap(), b"Jos\xe9");
        assert!(encode_text("東京", false).is_err());
        assert_eq!(encode_text("東京", true).unwrap(), "東京".as_bytes());
    }

    #[test]
    fn random_cnonces_differ() {
        assert_ne!(random_cnonce().unwrap(), random_cnonce().unwrap());
    }
}
