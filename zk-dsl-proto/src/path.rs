//! ZooKeeper's path rules, exactly as the server's `PathUtils.validatePath` applies them, so a
//! bad path is refused before anything is sent and with the rule it broke.
//!
//! This file uses nothing but `std`, on purpose: `zk-dsl-macros` compiles it too (with
//! `#[path]`), so `zk!` checks literal paths at compile time with these very rules.

use std::fmt;

/// Which path rule was broken, and where (`at` counts UTF-16 code units, as the server does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// The path is empty.
    Empty,
    /// The path does not start with `/`.
    NotAbsolute,
    /// A path other than `/` ends with `/`.
    TrailingSlash,
    /// A NUL character.
    NullCharacter { at: usize },
    /// Two slashes in a row: an empty node name.
    EmptySegment { at: usize },
    /// `.` or `..` as a whole node name.
    RelativeSegment { at: usize },
    /// A character ZooKeeper refuses in names: controls U+0001–U+001F and U+007F–U+009F,
    /// U+D800–U+F8FF (so anything outside the Basic Multilingual Plane, which Java holds as
    /// surrogates, and the private-use area), and U+FFF0–U+FFFF.
    InvalidCharacter { ch: char, at: usize },
}

impl PathError {
    /// A short name of the rule, for messages and tests.
    pub fn rule(&self) -> &'static str {
        match self {
            PathError::Empty => "path must not be empty",
            PathError::NotAbsolute => "path must start with /",
            PathError::TrailingSlash => "path must not end with /",
            PathError::NullCharacter { .. } => "null character not allowed",
            PathError::EmptySegment { .. } => "empty node name (//) not allowed",
            PathError::RelativeSegment { .. } => "relative paths (. or ..) not allowed",
            PathError::InvalidCharacter { .. } => "invalid character",
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::NullCharacter { at } | PathError::EmptySegment { at } | PathError::RelativeSegment { at } => {
                write!(f, "{} @{at}", self.rule())
            }
            PathError::InvalidCharacter { ch, at } => {
                write!(f, "{} {:?} (U+{:04X}) @{at}", self.rule(), ch, *ch as u32)
            }
            _ => f.write_str(self.rule()),
        }
    }
}

impl std::error::Error for PathError {}

fn invalid_unit(u: u16) -> bool {
    (0x0001..=0x001f).contains(&u) || (0x007f..=0x009f).contains(&u) || (0xd800..=0xf8ff).contains(&u) || u >= 0xfff0
}

/// Validates a node path. For a sequential create pass `sequential = true`: ZooKeeper appends
/// the counter, so the path is checked as `path + "1"` and a prefix such as `/queue/` is fine.
pub fn validate_path(path: &str, sequential: bool) -> Result<(), PathError> {
    // Work on UTF-16 units like the server, so positions and surrogate rules match it. An ASCII
    // path is its own UTF-16 (one unit per byte): checked in place, without converting it.
    let bytes = path.as_bytes();
    // Only ASCII is plain, so this settles the common case before anything else looks.
    if is_plain_ascii(bytes, sequential) {
        return Ok(());
    }
    if path.is_ascii() {
        return check_units(bytes, sequential);
    }
    let units: Vec<u16> = path.encode_utf16().collect();
    check_units(&units, sequential)
}

/// The common case, decided in one pass: an absolute ASCII path without dots, control
/// characters or empty node names, and without a trailing `/` (unless the counter follows it)
/// breaks none of the rules. Anything else gets the full check, which also says what is wrong.
fn is_plain_ascii(path: &[u8], sequential: bool) -> bool {
    let [b'/', rest @ ..] = path else { return false };
    if !sequential && rest.last() == Some(&b'/') {
        return false;
    }
    // One table lookup per byte and no branch (this runs for every request): a byte is bad if
    // the table says so, or if it is a slash right after a slash (or after the leading one).
    let mut bad = 0u8;
    let mut after_slash = SLASH;
    for &c in rest {
        let class = PLAIN[usize::from(c)];
        bad |= (class & OTHER) | (class & after_slash);
        after_slash = class & SLASH;
    }
    bad == 0
}

/// What a byte is to [`is_plain_ascii`]: printable ASCII other than `/` and `.` is 0, a slash
/// [`SLASH`], and [`OTHER`] a dot, a control character, DEL or a byte of a multi-byte character
/// (the full check decides).
const SLASH: u8 = 1;
const OTHER: u8 = 2;

static PLAIN: [u8; 256] = {
    let mut table = [OTHER; 256];
    let mut c = 0x20;
    while c < 0x7f {
        table[c] = match c as u8 {
            b'/' => SLASH,
            b'.' => OTHER,
            _ => 0,
        };
        c += 1;
    }
    table
};

/// The server's rules on a path's UTF-16 units (`u8` for an ASCII path, `u16` otherwise).
fn check_units<T: Copy + Into<u16>>(path: &[T], sequential: bool) -> Result<(), PathError> {
    // A sequential path is checked with the counter's first digit appended.
    let len = path.len() + usize::from(sequential);
    let unit = |i: usize| path.get(i).map_or(u16::from(b'1'), |&u| u.into());
    if len == 0 {
        return Err(PathError::Empty);
    }
    if unit(0) != u16::from(b'/') {
        return Err(PathError::NotAbsolute);
    }
    if len == 1 {
        return Ok(());
    }
    if unit(len - 1) == u16::from(b'/') {
        return Err(PathError::TrailingSlash);
    }
    let slash = u16::from(b'/');
    let dot = u16::from(b'.');
    let ends_segment = |i: usize| i + 1 == len || unit(i + 1) == slash;
    for i in 1..len {
        let c = unit(i);
        let last = unit(i - 1);
        if c == 0 {
            return Err(PathError::NullCharacter { at: i });
        } else if c == slash && last == slash {
            return Err(PathError::EmptySegment { at: i });
        } else if c == dot && last == dot {
            if unit(i - 2) == slash && ends_segment(i) {
                return Err(PathError::RelativeSegment { at: i });
            }
        } else if c == dot {
            if last == slash && ends_segment(i) {
                return Err(PathError::RelativeSegment { at: i });
            }
        } else if invalid_unit(c) {
            let ch = char::decode_utf16([c]).next().and_then(Result::ok).unwrap_or(char::REPLACEMENT_CHARACTER);
            // For a surrogate, report the real character it belongs to.
            let ch = if (0xd800..=0xdfff).contains(&c) {
                char::decode_utf16((i..len).take(2).map(unit)).next().and_then(Result::ok).unwrap_or(ch)
            } else {
                ch
            };
            return Err(PathError::InvalidCharacter { ch, at: i });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: &str) -> Result<(), &'static str> {
        validate_path(path, false).map_err(|e| e.rule())
    }

    #[test]
    fn accepts_valid_paths() {
        for p in ["/", "/a", "/a/b/c", "/a.b", "/..a", "/a..", "/.a/b", "/zookeeper", "/é/ü", "/a b"] {
            assert_eq!(validate_path(p, false), Ok(()), "{p}");
        }
    }

    #[test]
    fn each_rule_is_named() {
        assert_eq!(rule(""), Err("path must not be empty"));
        assert_eq!(rule("a"), Err("path must start with /"));
        assert_eq!(rule("/a/"), Err("path must not end with /"));
        assert_eq!(rule("/a\0b"), Err("null character not allowed"));
        assert_eq!(rule("/a//b"), Err("empty node name (//) not allowed"));
        assert_eq!(rule("/a/./b"), Err("relative paths (. or ..) not allowed"));
        assert_eq!(rule("/a/../b"), Err("relative paths (. or ..) not allowed"));
        assert_eq!(rule("/a/."), Err("relative paths (. or ..) not allowed"));
        assert_eq!(rule("/a/.."), Err("relative paths (. or ..) not allowed"));
        assert_eq!(rule("/."), Err("relative paths (. or ..) not allowed"));
        assert_eq!(rule("/a\u{1}"), Err("invalid character"));
        assert_eq!(rule("/a\u{7f}"), Err("invalid character"));
        assert_eq!(rule("/a\u{9f}"), Err("invalid character"));
        assert_eq!(rule("/a\u{e000}"), Err("invalid character"));
        assert_eq!(rule("/a\u{fff0}"), Err("invalid character"));
        assert_eq!(rule("/a\u{1F600}"), Err("invalid character"));
    }

    #[test]
    fn reports_positions_and_characters() {
        assert_eq!(validate_path("/ab//c", false), Err(PathError::EmptySegment { at: 4 }));
        assert_eq!(validate_path("/a\u{1F600}", false), Err(PathError::InvalidCharacter { ch: '\u{1F600}', at: 2 }));
        assert_eq!(validate_path("/a\u{1}", false).unwrap_err().to_string(), "invalid character '\\u{1}' (U+0001) @2");
    }

    #[test]
    fn sequential_prefix_may_end_with_slash() {
        assert_eq!(validate_path("/queue/", true), Ok(()));
    }

    #[test]
    fn the_fast_path_accepts_only_what_the_full_check_accepts() {
        // Every path of up to 6 bytes over the characters the rules care about.
        let alphabet = [b'/', b'.', b'a', b' ', 0x01, 0x7f, 0x00];
        let mut path = Vec::new();
        for len in 0..=6u32 {
            for mut n in 0..alphabet.len().pow(len) {
                path.clear();
                for _ in 0..len {
                    path.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                for sequential in [false, true] {
                    if is_plain_ascii(&path, sequential) {
                        assert_eq!(check_units(&path, sequential), Ok(()), "{path:?} sequential={sequential}");
                    }
                }
            }
        }
        // And it does settle the common paths.
        assert!(is_plain_ascii(b"/zkb/data-100/k123", false));
        assert!(is_plain_ascii(b"/queue/", true));
        assert!(is_plain_ascii(b"/", false));
        assert!(!is_plain_ascii(b"/a b/.x", false), "a dot goes to the full check");
        assert_eq!(validate_path("/queue/", false), Err(PathError::TrailingSlash));
        assert_eq!(validate_path("/queue/job-", true), Ok(()));
        assert!(validate_path("/a//", true).is_err());
        // "/a/." + "1" is a valid name ".1"; the server agrees.
        assert_eq!(validate_path("/a/.", true), Ok(()));
    }
}
