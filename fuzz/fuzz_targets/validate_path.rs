//! `validate_path` on arbitrary strings: never panics, and agrees with a from-scratch reading of
//! the path rules (wire-protocol.md §10).

#![no_main]

use libfuzzer_sys::fuzz_target;
use zk_dsl_proto::{validate_path, PathError};

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    for sequential in [false, true] {
        let ours = validate_path(path, sequential);
        assert_eq!(ours.is_ok(), reference(path, sequential), "{path:?} sequential={sequential}: {ours:?}");
        if let Err(e) = ours {
            let _ = e.to_string();
            if let PathError::InvalidCharacter { at, .. } | PathError::EmptySegment { at } = e {
                assert!(at < path.encode_utf16().count() + usize::from(sequential));
            }
        }
    }
});

/// Split into node names; each must be non-empty, not `.` or `..`, and free of NUL, C0/C1
/// controls, U+D800–U+F8FF, U+FFF0–U+FFFF and anything outside the BMP.
fn reference(path: &str, sequential: bool) -> bool {
    let full = if sequential { format!("{path}1") } else { path.to_owned() };
    let Some(rest) = full.strip_prefix('/') else {
        return false;
    };
    rest.is_empty()
        || rest.split('/').all(|name| {
            !matches!(name, "" | "." | "..")
                && name.chars().all(|c| !matches!(u32::from(c), 0..=0x1f | 0x7f..=0x9f | 0xd800..=0xf8ff | 0xfff0..))
        })
}
