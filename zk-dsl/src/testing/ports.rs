//! Free loopback ports for servers.
//!
//! The OS picks an unused port (bind `127.0.0.1:0`), and we release it for the JVM to bind. Between
//! the two another process may grab it; server start-up detects that and retries with fresh ports.
//! Within this process we never hand out the same port twice, so parallel tests cannot collide.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, OnceLock};

use super::error::HarnessError;

/// ZooKeeper's well-known port: never used, so tests cannot touch a real server on the machine.
const WELL_KNOWN_PORT: u16 = 2181;

fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(|| Mutex::new(HashSet::new()))
}

/// One port that was free a moment ago and that this process has not handed out before.
pub(crate) fn free_port() -> Result<u16, HarnessError> {
    for _ in 0..64 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| HarnessError::io("binding 127.0.0.1:0 to find a free port", e))?;
        let port = listener.local_addr().map_err(|e| HarnessError::io("reading a bound port", e))?.port();
        drop(listener);
        if port == WELL_KNOWN_PORT {
            continue;
        }
        let mut seen = handed_out().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if seen.insert(port) {
            return Ok(port);
        }
    }
    Err(HarnessError::io(
        "finding a free loopback port",
        std::io::Error::new(std::io::ErrorKind::AddrInUse, "the OS kept returning ports already in use"),
    ))
}

/// `n` distinct free ports.
pub(crate) fn free_ports(n: usize) -> Result<Vec<u16>, HarnessError> {
    (0..n).map(|_| free_port()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_not_2181() {
        let ports = free_ports(20).unwrap();
        let unique: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(unique.len(), ports.len());
        assert!(!unique.contains(&WELL_KNOWN_PORT));
        assert!(!unique.contains(&0));
    }
}
