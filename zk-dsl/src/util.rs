//! Sequential-node utilities and child-name filters: the seed's `zookeeper.util`.
//!
//! # Sequence suffixes
//!
//! A sequential create appends `String.format("%010d", cversion)` of the parent, an `i32`
//! counter that starts at 0 and goes up with every child created or deleted under that parent,
//! whatever the child's prefix. So `n-0000000042` is the 43rd such change. After 2 147 483 647
//! the counter wraps to -2 147 483 648 and counts up towards -1. `%010d` pads to ten characters
//! *including* the sign, so a negative suffix is `-000000001` (-1) down to `-999999999`, but from
//! -1 000 000 000 down to -2 147 483 648 it is eleven characters wide (`-1000000000`).
//!
//! That makes names ambiguous once the counter has wrapped: `n-1500000000` is prefix `n-` with
//! 1 500 000 000, or prefix `n` with -1 500 000 000. [`extract_id`] works from the name alone, as
//! the seed does, and reads it the first way; it is exact until the counter wraps and again from
//! -999 999 999 on. When the creator's prefix is known, [`extract_id_with_prefix`] and
//! [`sort_sequential_nodes_with_prefix`] are exact for every value.
//!
//! # Ordering
//!
//! "In sequence order" means *in order of creation*, which is what leader election, locks and
//! queues need. Because the counter wraps, a negative suffix is always newer than every
//! non-negative one, so the order of creation is the order of the suffix read as an *unsigned*
//! 32-bit number ([`compare_sequence_ids`]). This is exact for the first 2³² changes under a
//! parent; past that, names alone cannot tell old from new. The seed sorts by the signed value,
//! which puts the wrapped, newest nodes first; the two agree until a parent has seen 2³¹ changes.
//!
//! The order of two nodes depends only on their own suffixes, never on which other nodes are in
//! the list. That matters for recipes: clients that list the children at different moments must
//! still agree on who precedes whom.
//!
//! ```
//! use zk_dsl::util;
//!
//! # fn main() -> Result<(), util::SequenceError> {
//! let children = ["n-0000000002", "n-0000000000", "ready", "n-0000000001"];
//! let members = util::filter_nodes_by_prefix("n-", children);
//! assert_eq!(util::sort_sequential_nodes(members)?, ["n-0000000000", "n-0000000001", "n-0000000002"]);
//! assert_eq!(util::extract_id("/parent/child-0000000002")?, 2);
//! # Ok(())
//! # }
//! ```

use std::cmp::Ordering;
use std::fmt;

use crate::error::Error;

/// Width of the suffix ZooKeeper appends (`%010d`) to every value but the eleven-character
/// negatives from -1 000 000 000 down.
pub const SEQUENCE_DIGITS: usize = 10;

/// A name without a parsable sequence suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SequenceError {
    /// The name is shorter than the ten-character suffix.
    TooShort {
        /// The name.
        name: String,
    },
    /// The suffix is not a decimal `i32` as ZooKeeper writes it.
    NotANumber {
        /// The name.
        name: String,
    },
    /// The name does not start with the prefix it was said to have.
    PrefixMismatch {
        /// The name.
        name: String,
        /// The prefix it should have started with.
        prefix: String,
    },
}

impl fmt::Display for SequenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SequenceError::TooShort { name } => {
                write!(f, "{name:?} is shorter than a {SEQUENCE_DIGITS}-digit sequence suffix")
            }
            SequenceError::NotANumber { name } => write!(f, "{name:?} does not end in a sequence number"),
            SequenceError::PrefixMismatch { name, prefix } => write!(f, "{name:?} does not start with {prefix:?}"),
        }
    }
}

impl std::error::Error for SequenceError {}

/// A name with no sequence suffix, met outside any request (no `op`, no path; the name is in the
/// source, the [`SequenceError`]). A client call that sorts children can give its own
/// operation and path instead.
impl From<SequenceError> for Error {
    fn from(e: SequenceError) -> Error {
        Error::InvalidArgument {
            op: None,
            path: None,
            reason: "not a sequential node name".into(),
            source: Some(std::sync::Arc::new(e)),
        }
    }
}

/// The sequence number at the end of a sequential node's name or path: the seed's `extract-id`.
///
/// Reads the last ten characters as a decimal `i32`, as the seed does, so a full path works as
/// well as a bare name, and `n--000000001` reads as -1. Unlike the seed it also reads `i32::MIN`
/// (`n--2147483648`): ten digits above `i32::MAX` after a `-` can mean nothing else. Other
/// eleven-character suffixes read as positive; see the module docs, and
/// [`extract_id_with_prefix`] for the exact reading.
pub fn extract_id(name: &str) -> Result<i32, SequenceError> {
    let start = name.len().checked_sub(SEQUENCE_DIGITS).ok_or_else(|| SequenceError::TooShort { name: name.into() })?;
    let not_a_number = || SequenceError::NotANumber { name: name.into() };
    // A non-ASCII character among the last ten bytes is no char boundary, and no digit either.
    let tail = name.get(start..).ok_or_else(not_a_number)?;
    match tail.parse::<i32>() {
        Ok(id) => Ok(id),
        Err(_) if tail == "2147483648" && name.as_bytes()[..start].ends_with(b"-") => Ok(i32::MIN),
        Err(_) => Err(not_a_number()),
    }
}

/// The sequence number of `name`, created as `prefix` + suffix: exact for every value, including
/// the eleven-character negatives [`extract_id`] cannot tell apart (`prefix` may be a bare name
/// prefix such as `"n-"` or a whole path prefix such as `"/election/n-"`, matching `name`).
pub fn extract_id_with_prefix(prefix: &str, name: &str) -> Result<i32, SequenceError> {
    let suffix = name
        .strip_prefix(prefix)
        .ok_or_else(|| SequenceError::PrefixMismatch { name: name.into(), prefix: prefix.into() })?;
    let well_formed =
        suffix.len() == SEQUENCE_DIGITS || (suffix.len() == SEQUENCE_DIGITS + 1 && suffix.starts_with('-'));
    match suffix.parse::<i32>() {
        Ok(id) if well_formed => Ok(id),
        _ if suffix.len() < SEQUENCE_DIGITS => Err(SequenceError::TooShort { name: name.into() }),
        _ => Err(SequenceError::NotANumber { name: name.into() }),
    }
}

/// Orders two sequence numbers by creation: non-negative ones first, ascending, then the
/// wrapped negative ones, ascending (see the module docs for why).
pub fn compare_sequence_ids(a: i32, b: i32) -> Ordering {
    creation_rank(a).cmp(&creation_rank(b))
}

/// The counter's value read as unsigned: its position in the order of creation.
fn creation_rank(id: i32) -> u32 {
    // Reinterpreting the bits is the point: -2147483648 comes right after 2147483647.
    id as u32
}

/// Each name with its sequence number, in input order: the seed's `index-sequential-nodes`.
///
/// Fails on the first name without a suffix, as the seed does.
pub fn index_sequential_nodes<S: AsRef<str>>(
    names: impl IntoIterator<Item = S>,
) -> Result<Vec<(i32, S)>, SequenceError> {
    names.into_iter().map(|name| Ok((extract_id(name.as_ref())?, name))).collect()
}

/// The names in order of creation (see the module docs): the seed's `sort-sequential-nodes`.
///
/// Only the suffix counts, not the prefix; the sort is stable, so names with the same suffix
/// (possible when lists from different parents are mixed) keep their input order. Fails on the
/// first name without a suffix.
pub fn sort_sequential_nodes<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Result<Vec<S>, SequenceError> {
    Ok(sort_indexed(index_sequential_nodes(names)?, compare_sequence_ids))
}

/// The names newest first: the seed's `(sort-sequential-nodes > nodes)`.
///
/// Also stable: names with the same suffix keep their input order, as in the seed (so this is
/// not the same as reversing [`sort_sequential_nodes`]).
pub fn sort_sequential_nodes_desc<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Result<Vec<S>, SequenceError> {
    Ok(sort_indexed(index_sequential_nodes(names)?, |a, b| compare_sequence_ids(b, a)))
}

/// The names, all created as `prefix` + suffix, in order of creation, reading each suffix with
/// [`extract_id_with_prefix`]: exact even after the counter wraps. Stable; fails on the first
/// name that does not start with `prefix` or lacks a suffix.
pub fn sort_sequential_nodes_with_prefix<S: AsRef<str>>(
    prefix: &str,
    names: impl IntoIterator<Item = S>,
) -> Result<Vec<S>, SequenceError> {
    let indexed = names
        .into_iter()
        .map(|name| Ok((extract_id_with_prefix(prefix, name.as_ref())?, name)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(sort_indexed(indexed, compare_sequence_ids))
}

fn sort_indexed<S>(mut indexed: Vec<(i32, S)>, mut cmp: impl FnMut(i32, i32) -> Ordering) -> Vec<S> {
    // `sort_by` is stable.
    indexed.sort_by(|(a, _), (b, _)| cmp(*a, *b));
    indexed.into_iter().map(|(_, name)| name).collect()
}

/// The names that start with `prefix`, taken literally: the seed's `filter-nodes-by-prefix`.
///
/// The seed builds a regex from the prefix without escaping it, so `"a."` also matches `"ab"`;
/// here `"a."` matches only names that begin with `a.`.
pub fn filter_nodes_by_prefix<S: AsRef<str>>(prefix: &str, names: impl IntoIterator<Item = S>) -> Vec<S> {
    filter_nodes_by(names, |name| name.starts_with(prefix))
}

/// The names that end with `suffix`, taken literally (the seed's unescaped `suffix$`, fixed).
pub fn filter_nodes_by_suffix<S: AsRef<str>>(suffix: &str, names: impl IntoIterator<Item = S>) -> Vec<S> {
    filter_nodes_by(names, |name| name.ends_with(suffix))
}

/// The names in which `pattern` matches anywhere: the seed's `filter-nodes-by-pattern`
/// (`re-find`). Anchor the pattern with `^`/`$` to match whole names.
#[cfg(feature = "regex")]
pub fn filter_nodes_by_pattern<S: AsRef<str>>(pattern: &regex::Regex, names: impl IntoIterator<Item = S>) -> Vec<S> {
    filter_nodes_by(names, |name| pattern.is_match(name))
}

/// The names for which `keep` is true, in input order. Needs no regex engine; the other filters
/// are this with a fixed predicate.
pub fn filter_nodes_by<S: AsRef<str>>(
    names: impl IntoIterator<Item = S>,
    mut keep: impl FnMut(&str) -> bool,
) -> Vec<S> {
    names.into_iter().filter(|name| keep(name.as_ref())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extract_id_reads_the_last_ten_characters() {
        assert_eq!(extract_id("child-0000000002"), Ok(2));
        assert_eq!(extract_id("/a/b/n-0000000042"), Ok(42));
        assert_eq!(extract_id("0000000007"), Ok(7));
        assert_eq!(extract_id("n2147483647"), Ok(i32::MAX));
    }

    #[test]
    fn extract_id_reads_wrapped_negative_suffixes() {
        assert_eq!(extract_id("n--000000001"), Ok(-1));
        assert_eq!(extract_id("n--999999999"), Ok(-999_999_999));
        assert_eq!(extract_id("n--2147483648"), Ok(i32::MIN));
        // Ten digits above i32::MAX without a sign before them are not a sequence number.
        assert!(extract_id("n2147483648").is_err());
        // The documented ambiguity: -1500000000 under prefix "n-" reads as 1500000000.
        assert_eq!(extract_id("n--1500000000"), Ok(1_500_000_000));
    }

    #[test]
    fn extract_id_with_prefix_is_exact() {
        assert_eq!(extract_id_with_prefix("n-", "n--1500000000"), Ok(-1_500_000_000));
        assert_eq!(extract_id_with_prefix("n-", "n-1500000000"), Ok(1_500_000_000));
        assert_eq!(extract_id_with_prefix("n", "n-1500000000"), Ok(-1_500_000_000));
        assert_eq!(extract_id_with_prefix("n-", "n--2147483648"), Ok(i32::MIN));
        assert_eq!(extract_id_with_prefix("n-", "n--000000001"), Ok(-1));
        assert_eq!(extract_id_with_prefix("/e/n-", "/e/n-0000000042"), Ok(42));
        assert_eq!(
            extract_id_with_prefix("m-", "n-0000000001"),
            Err(SequenceError::PrefixMismatch { name: "n-0000000001".into(), prefix: "m-".into() })
        );
        assert!(matches!(extract_id_with_prefix("n-", "n-42"), Err(SequenceError::TooShort { .. })));
        // Positive values are always ten characters; an eleventh digit is not ZooKeeper's.
        assert!(extract_id_with_prefix("n-", "n-01500000000").is_err());
        assert!(extract_id_with_prefix("n-", "n-000000001x").is_err());
    }

    #[test]
    fn extract_id_errors() {
        assert_eq!(extract_id("short"), Err(SequenceError::TooShort { name: "short".into() }));
        assert_eq!(extract_id("child-00000000x2"), Err(SequenceError::NotANumber { name: "child-00000000x2".into() }));
        // A multi-byte character inside the tail is not a char boundary: an error, not a panic.
        assert!(extract_id("aéééééé").is_err());
        assert!(extract_id("ééééééé").is_err());
    }

    #[test]
    fn creation_order_puts_wrapped_ids_last() {
        assert_eq!(compare_sequence_ids(i32::MAX, i32::MIN), Ordering::Less);
        assert_eq!(compare_sequence_ids(-1, 0), Ordering::Greater);
        assert_eq!(compare_sequence_ids(3, 4), Ordering::Less);
        assert_eq!(compare_sequence_ids(-5, -4), Ordering::Less);
    }

    #[test]
    fn sequence_error_maps_to_invalid_argument() {
        let e: Error = extract_id("x").unwrap_err().into();
        assert!(matches!(e, Error::InvalidArgument { op: None, path: None, .. }));
    }
}
