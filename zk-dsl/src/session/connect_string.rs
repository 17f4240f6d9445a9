//! Connection strings: `host[:port][,host[:port]...][/chroot]`, as every ZooKeeper client
//! takes them. Ports default to 2181; IPv6 hosts are written in brackets (`[::1]:2181`); the
//! chroot is everything from the first `/` and must itself be a valid path (`/` means none).

use std::fmt;

use crate::error::Error;
use crate::proto::validate_path;

/// ZooKeeper's well-known client port, used when a host names none.
pub const DEFAULT_PORT: u16 = 2181;

/// One server address as written (names are resolved at connect time, every time, so a
/// server that moved is found again).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// The host name or address (IPv6 without brackets).
    pub host: String,
    /// The port.
    pub port: u16,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A parsed connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectString {
    /// The servers, in the order written.
    pub hosts: Vec<HostPort>,
    /// The chroot, without trailing slash; `None` when absent or `/`.
    pub chroot: Option<String>,
}

fn invalid(input: &str, reason: impl Into<String>) -> Error {
    Error::invalid_argument(
        Some(crate::proto::OpCode::CreateSession),
        Some(input),
        format!("connection string: {}", reason.into()),
    )
}

impl ConnectString {
    /// Parses `host:port,...[/chroot]`.
    pub fn parse(input: &str) -> Result<ConnectString, Error> {
        let input_trimmed = input.trim();
        let (hosts_part, chroot) = match input_trimmed.find('/') {
            Some(i) => (&input_trimmed[..i], Some(&input_trimmed[i..])),
            None => (input_trimmed, None),
        };
        let chroot = match chroot {
            None | Some("/") => None,
            Some(c) => {
                validate_path(c, false).map_err(|e| invalid(input, format!("chroot {c:?}: {e}")))?;
                Some(c.to_owned())
            }
        };
        let mut hosts = Vec::new();
        for part in hosts_part.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            hosts.push(parse_host(part).map_err(|reason| invalid(input, reason))?);
        }
        if hosts.is_empty() {
            return Err(invalid(input, "no hosts"));
        }
        Ok(ConnectString { hosts, chroot })
    }
}

fn parse_port(s: &str, whole: &str) -> Result<u16, String> {
    s.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| format!("bad port in {whole:?}"))
}

fn parse_host(part: &str) -> Result<HostPort, String> {
    if let Some(rest) = part.strip_prefix('[') {
        let end = rest.find(']').ok_or_else(|| format!("unclosed '[' in {part:?}"))?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => parse_port(p, part)?,
            None if after.is_empty() => DEFAULT_PORT,
            None => return Err(format!("unexpected {after:?} after ']' in {part:?}")),
        };
        if host.is_empty() {
            return Err(format!("empty host in {part:?}"));
        }
        return Ok(HostPort { host: host.to_owned(), port });
    }
    match part.matches(':').count() {
        0 => Ok(HostPort { host: part.to_owned(), port: DEFAULT_PORT }),
        1 => {
            let (host, port) = part.split_once(':').unwrap_or((part, ""));
            if host.is_empty() {
                return Err(format!("empty host in {part:?}"));
            }
            Ok(HostPort { host: host.to_owned(), port: parse_port(port, part)? })
        }
        // A bare IPv6 address without brackets and without a port.
        _ => Ok(HostPort { host: part.to_owned(), port: DEFAULT_PORT }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(host: &str, port: u16) -> HostPort {
        HostPort { host: host.into(), port }
    }

    #[test]
    fn parses_hosts_ports_and_chroot() {
        let c = ConnectString::parse("a:1,b, [::1]:3,[fe80::2]/app/x").unwrap();
        assert_eq!(c.hosts, vec![hp("a", 1), hp("b", 2181), hp("::1", 3), hp("fe80::2", 2181)]);
        assert_eq!(c.chroot.as_deref(), Some("/app/x"));
        assert_eq!(ConnectString::parse("h/").unwrap().chroot, None);
        assert_eq!(ConnectString::parse("::1").unwrap().hosts, vec![hp("::1", 2181)]);
        assert_eq!(hp("::1", 5).to_string(), "[::1]:5");
    }

    #[test]
    fn rejects_bad_strings() {
        for bad in ["", "/app", "a:0", "a:x", "a:70000", "[::1", "a/b/", "a/b//c", ":1"] {
            assert!(ConnectString::parse(bad).is_err(), "{bad}");
        }
    }
}
