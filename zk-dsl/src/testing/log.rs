//! Reading a server's log file: the tail for error messages, and a search for fatal start-up causes.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// How many lines of the log an error message carries.
pub(crate) const ERROR_TAIL_LINES: usize = 40;

/// The tail is cut from at most this many bytes at the end of the file.
const TAIL_WINDOW: u64 = 256 * 1024;

/// The current length of the log file (0 if it does not exist yet).
pub(crate) fn len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn read_from(path: &Path, offset: u64) -> String {
    let Ok(mut file) = File::open(path) else { return String::new() };
    if file.seek(SeekFrom::Start(offset)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    // A read error leaves whatever was read; this is diagnostics, best effort.
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The last `lines` lines of the file; empty if it cannot be read.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = read_from(path, len(path).saturating_sub(TAIL_WINDOW));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Whether the log, from byte `offset` on, shows that a port could not be bound.
pub(crate) fn shows_port_in_use(path: &Path, offset: u64) -> bool {
    let text = read_from(path, offset);
    text.contains("Address already in use") || text.contains("BindException")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_and_search() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zk.log");
        assert_eq!(tail(&path, 3), "");
        assert_eq!(len(&path), 0);
        std::fs::write(&path, "one\njava.net.BindException: Address already in use\nthree\nfour\n").unwrap();
        assert_eq!(tail(&path, 2), "three\nfour");
        assert_eq!(tail(&path, 100).lines().count(), 4);
        assert!(shows_port_in_use(&path, 0));
        assert!(!shows_port_in_use(&path, len(&path) - 11));
    }
}
