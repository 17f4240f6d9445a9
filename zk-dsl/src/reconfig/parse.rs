//! The text of `/zookeeper/config`, parsed: the `version=` line and one member per
//! `server.<id>=` line.
//!
//! A member line is `server.<id>=<host>:<quorum port>:<election port>[:<role>][;<client>]`,
//! where the client part is `<port>`, `<host>:<port>` or absent, IPv6 hosts are written in
//! brackets, and since ZooKeeper 3.6 the server part may list several addresses separated by
//! `|` (the first is kept). Other keys (`group.N`, `weight.N`, ones a later server adds) are
//! skipped. A line that claims to be a member but cannot be read is an error naming the line,
//! never a guess: a client that followed a half-read list could drop servers that exist.

use std::fmt;

use crate::session::HostPort;

/// A member's role in the quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberRole {
    /// Votes in elections and on writes (the default when a line names no role).
    Participant,
    /// Follows the leader without voting: serves clients, adds no write latency.
    Observer,
}

impl MemberRole {
    /// The role as ZooKeeper writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Participant => "participant",
            MemberRole::Observer => "observer",
        }
    }
}

impl fmt::Display for MemberRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `server.<id>=` line of an ensemble's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConfigMember {
    /// The server id (`myid`).
    pub id: u64,
    /// The host the members reach it at (IPv6 without brackets).
    pub host: String,
    /// The port followers talk to the leader on.
    pub quorum_port: u16,
    /// The leader-election port.
    pub election_port: u16,
    /// Participant or observer.
    pub role: MemberRole,
    /// Where clients connect, when the line says (a wildcard host, `0.0.0.0` or `::`, is
    /// replaced by the member's `host`: the server listens everywhere, and clients reach it
    /// where the members do).
    pub client: Option<HostPort>,
}

impl fmt::Display for ConfigMember {
    /// The line's ZooKeeper form, `server.4=127.0.0.1:2888:3888:participant;127.0.0.1:2181`,
    /// as `reconfig` takes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let server = HostPort { host: self.host.clone(), port: self.quorum_port };
        write!(f, "server.{}={server}:{}:{}", self.id, self.election_port, self.role)?;
        match &self.client {
            Some(client) => write!(f, ";{client}"),
            None => Ok(()),
        }
    }
}

/// An ensemble's configuration as `/zookeeper/config` holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnsembleConfig {
    /// The configuration's version (the `version=` line, hexadecimal in the text): the zxid
    /// of the reconfiguration that made it, what `reconfig().from_config(v)` compares with.
    /// `None` when the text has no version line (a standalone server's empty node).
    pub version: Option<i64>,
    /// The members, in the order listed.
    pub members: Vec<ConfigMember>,
}

impl EnsembleConfig {
    /// Parses the node's text. Never panics; a line that cannot be read is an error naming it.
    pub fn parse(text: &str) -> Result<EnsembleConfig, ConfigParseError> {
        let mut config = EnsembleConfig::default();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |reason: String| ConfigParseError { line: index + 1, text: line.to_owned(), reason };
            let Some((key, value)) = line.split_once('=') else {
                return Err(fail("not a key=value line".into()));
            };
            let (key, value) = (key.trim(), value.trim());
            if key == "version" {
                let version = i64::from_str_radix(value, 16)
                    .map_err(|e| fail(format!("the version {value:?} is not a hexadecimal number: {e}")))?;
                config.version = Some(version);
            } else if let Some(id) = key.strip_prefix("server.") {
                let id: u64 = id.parse().map_err(|_| fail(format!("{id:?} is not a server id")))?;
                if config.members.iter().any(|m| m.id == id) {
                    return Err(fail(format!("server {id} is listed twice")));
                }
                config.members.push(parse_member(id, value).map_err(fail)?);
            }
            // Anything else (group.N, weight.N, later keys) says nothing about where members are.
        }
        Ok(config)
    }

    /// Every member's client address (participants and observers alike), in the order listed;
    /// members whose line names none are left out.
    pub fn client_addresses(&self) -> Vec<HostPort> {
        self.members.iter().filter_map(|m| m.client.clone()).collect()
    }

    /// The client addresses as a connection string (`host:port,...`), `None` when no member
    /// names one.
    pub fn connect_string(&self) -> Option<String> {
        let hosts: Vec<String> = self.client_addresses().iter().map(HostPort::to_string).collect();
        (!hosts.is_empty()).then(|| hosts.join(","))
    }

    /// The member with server id `id`.
    pub fn member(&self, id: u64) -> Option<&ConfigMember> {
        self.members.iter().find(|m| m.id == id)
    }
}

/// A line of `/zookeeper/config` that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigParseError {
    /// The line's number, from 1.
    pub line: usize,
    /// The line, trimmed.
    pub text: String,
    /// Why it could not be read.
    pub reason: String,
}

impl fmt::Display for ConfigParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} of the ensemble configuration ({:?}): {}", self.line, self.text, self.reason)
    }
}

impl std::error::Error for ConfigParseError {}

/// The value of a `server.<id>=` line.
fn parse_member(id: u64, value: &str) -> Result<ConfigMember, String> {
    let (server, client) = match value.split_once(';') {
        Some((server, client)) => (server.trim(), Some(client.trim())),
        None => (value, None),
    };
    // Several addresses (3.6+, `a:1:2|b:3:4`): the first is where the member is; the role may
    // follow any of them.
    let mut first = None;
    let mut role = None;
    for address in server.split('|') {
        let (host, rest) = split_host(address.trim())?;
        let parts: Vec<&str> = rest.split(':').collect();
        let (quorum, election, named_role) = match parts.as_slice() {
            [q, e] => (q, e, None),
            [q, e, r] => (q, e, Some(*r)),
            _ => return Err(format!("{address:?} is not host:quorum_port:election_port[:role]")),
        };
        if let Some(r) = named_role {
            role = Some(parse_role(r)?);
        }
        if first.is_none() {
            first = Some((host, port(quorum, "quorum port")?, port(election, "election port")?));
        }
    }
    let Some((host, quorum_port, election_port)) = first else {
        return Err("no server address".into());
    };
    let client = match client {
        None | Some("") => None,
        Some(client) => Some(parse_client(client, &host)?),
    };
    Ok(ConfigMember { id, host, quorum_port, election_port, role: role.unwrap_or(MemberRole::Participant), client })
}

fn parse_role(role: &str) -> Result<MemberRole, String> {
    match role.trim().to_ascii_lowercase().as_str() {
        "participant" => Ok(MemberRole::Participant),
        "observer" => Ok(MemberRole::Observer),
        other => Err(format!("{other:?} is not a role (participant or observer)")),
    }
}

fn port(text: &str, what: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("the {what} {text:?} is not a port number")),
        Ok(port) => Ok(port),
    }
}

/// `host:rest` or `[v6]:rest` → the host (without brackets) and what follows its colon.
fn split_host(text: &str) -> Result<(String, &str), String> {
    if let Some(bracketed) = text.strip_prefix('[') {
        let Some((host, rest)) = bracketed.split_once(']') else {
            return Err(format!("{text:?} opens an IPv6 bracket and never closes it"));
        };
        let Some(rest) = rest.strip_prefix(':') else {
            return Err(format!("{text:?} has no port after the IPv6 address"));
        };
        if host.is_empty() {
            return Err(format!("{text:?} has an empty host"));
        }
        return Ok((host.to_owned(), rest));
    }
    match text.split_once(':') {
        Some((host, rest)) if !host.is_empty() => Ok((host.to_owned(), rest)),
        _ => Err(format!("{text:?} is not host:port")),
    }
}

/// The client part: `port` or `host:port`; a wildcard host means the member's own.
fn parse_client(text: &str, server_host: &str) -> Result<HostPort, String> {
    let (host, port_text) = match text.matches(':').count() {
        _ if text.starts_with('[') => split_host(text)?,
        0 => (server_host.to_owned(), text),
        1 => split_host(text)?,
        _ => return Err(format!("the client address {text:?} needs brackets around its IPv6 host")),
    };
    let port = port(port_text, "client port")?;
    let wildcard = matches!(host.as_str(), "0.0.0.0" | "::" | "0:0:0:0:0:0:0:0");
    Ok(HostPort { host: if wildcard { server_host.to_owned() } else { host }, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(host: &str, port: u16) -> Option<HostPort> {
        Some(HostPort { host: host.into(), port })
    }

    #[test]
    fn a_real_three_member_config() {
        let text = "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
                    server.2=127.0.0.1:2889:3889:participant;127.0.0.1:2182\n\
                    server.3=10.0.0.3:2890:3890:observer;2183\n\
                    version=10000000a\n";
        let config = EnsembleConfig::parse(text).unwrap();
        assert_eq!(config.version, Some(0x1_0000_000a));
        assert_eq!(config.members.len(), 3);
        let one = &config.members[0];
        assert_eq!((one.id, one.host.as_str(), one.quorum_port, one.election_port), (1, "127.0.0.1", 2888, 3888));
        assert_eq!(one.role, MemberRole::Participant);
        assert_eq!(one.client, hp("127.0.0.1", 2181), "the wildcard is the member's host");
        assert_eq!(config.members[2].role, MemberRole::Observer);
        assert_eq!(config.members[2].client, hp("10.0.0.3", 2183), "a bare port is on the member's host");
        assert_eq!(config.connect_string().as_deref(), Some("127.0.0.1:2181,127.0.0.1:2182,10.0.0.3:2183"));
        assert_eq!(config.member(2).map(|m| m.quorum_port), Some(2889));
    }

    #[test]
    fn odd_but_valid_forms() {
        let text = "  server.7 = [::1]:2888:3888:OBSERVER;[::]:2181  \n\
                    server.8=[fe80::1]:1:2;[fe80::2]:3\n\
                    server.9=h9:1:2\n\
                    server.10=h10:1:2:participant;\n\
                    server.11=a:1:2|b:3:4:observer;h:5\n\
                    group.1=7:8\nweight.7=1\n# a comment\n\n";
        let config = EnsembleConfig::parse(text).unwrap();
        assert_eq!(config.version, None);
        let m = |id| config.member(id).unwrap();
        assert_eq!(
            (m(7).host.as_str(), m(7).role, m(7).client.clone()),
            ("::1", MemberRole::Observer, hp("::1", 2181))
        );
        assert_eq!(m(8).client, hp("fe80::2", 3));
        assert_eq!((m(9).role, m(9).client.clone()), (MemberRole::Participant, None), "no role, no client part");
        assert_eq!(m(10).client, None, "an empty client part");
        assert_eq!((m(11).host.as_str(), m(11).quorum_port, m(11).role), ("a", 1, MemberRole::Observer));
        assert_eq!(config.client_addresses().len(), 3);
        assert_eq!(m(7).to_string(), "server.7=[::1]:2888:3888:observer;[::1]:2181");
        assert_eq!(EnsembleConfig::parse(&m(11).to_string()).unwrap().members, vec![m(11).clone()]);
        assert_eq!(EnsembleConfig::parse("").unwrap(), EnsembleConfig::default());
    }

    #[test]
    fn unreadable_lines_are_errors_naming_the_line() {
        for (text, line) in [
            ("version=zz", 1),
            ("server.1=h:1:2\nserver.x=h:1:2", 2),
            ("server.1=h:1", 1),
            ("server.1=h:1:2:leader", 1),
            ("server.1=h:0:2", 1),
            ("server.1=h:1:99999", 1),
            ("server.1=[::1:1:2", 1),
            ("server.1=[::1]1:2", 1),
            ("server.1=:1:2", 1),
            ("server.1=h:1:2;h:", 1),
            ("server.1=h:1:2;::1:2181", 1),
            ("server.1=h:1:2\nserver.1=h:3:4", 2),
            ("server.1=h:1:2:participant:extra", 1),
            ("no equals sign", 1),
            ("server.1=\u{0}:\u{FFFF}:", 1),
        ] {
            let e = EnsembleConfig::parse(text).expect_err(text);
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(!e.reason.is_empty());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = fastrand::Rng::with_seed(7);
        let alphabet: Vec<char> = "server.1=:;[]|0123456789abcdef\n version=.:".chars().collect();
        for _ in 0..20_000 {
            let len = rng.usize(0..60);
            let text: String = (0..len).map(|_| alphabet[rng.usize(0..alphabet.len())]).collect();
            let _ = EnsembleConfig::parse(&text);
        }
    }
}
