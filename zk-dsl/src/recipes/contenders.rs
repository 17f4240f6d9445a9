//! Reading the contenders of a lock, latch or lease directory, whoever created them.
//!
//! Every client family names its sequential contender nodes differently (curator-kazoo.md §2):
//!
//! | family | node name | kind |
//! |---|---|---|
//! | Curator mutex, LeaderSelector, semaphore admission; go-zookeeper | `_c_<uuid>-lock-<seq>`, `_c_<hex>-lock-<seq>` | exclusive |
//! | Curator read/write lock | `_c_<uuid>-__WRIT__<seq>`, `_c_<uuid>-__READ__<seq>` | writer, reader |
//! | kazoo `Lock`/`WriteLock`, `ReadLock` | `<hex>__lock__<seq>`, `<hex>__rlock__<seq>` | writer, reader |
//! | Curator LeaderLatch | `_c_<uuid>-latch-<seq>` | exclusive |
//! | Curator semaphore lease | `_c_<uuid>-lease-<seq>` | lease |
//!
//! `<seq>` is ZooKeeper's sequence suffix: the parent's counter printed with `%010d`, a signed
//! 32-bit number that wraps from 2147483647 to -2147483648 (so `-000000005` and `-2147483648`
//! are valid suffixes). Curator and kazoo compare suffixes as strings, which breaks at the
//! wrap (kazoo #606, #730); here they are parsed as numbers and ordered as a window that may
//! straddle the wrap. Children that match no known layout are not contenders: they are left
//! alone and reported once per listing at debug level, so a stray node never blocks a lock.

/// What a contender node asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContenderKind {
    /// Exclusive: a mutex contender, a writer, a latch participant.
    Exclusive,
    /// Shared with other readers; blocked only by exclusive contenders before it.
    Reader,
    /// A semaphore lease.
    Lease,
}

/// The markers that end a contender name, before the sequence suffix. Longest first, so that
/// `__rlock__` is not read as `lock`-something.
const MARKERS: &[(&str, ContenderKind)] = &[
    ("__rlock__", ContenderKind::Reader),
    ("__lock__", ContenderKind::Exclusive),
    ("__WRIT__", ContenderKind::Exclusive),
    ("__READ__", ContenderKind::Reader),
    ("latch-", ContenderKind::Exclusive),
    ("lease-", ContenderKind::Lease),
    ("lock-", ContenderKind::Exclusive),
];

/// One contender: a child node whose name ends in a known marker and a sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contender {
    /// The child's name (not its path).
    pub name: String,
    /// The sequence number, parsed.
    pub sequence: i32,
    /// Which recipe family's node it is.
    pub kind: ContenderKind,
}

impl Contender {
    /// Reads a child name; `None` if it is not a contender of any known family.
    pub fn parse(name: &str) -> Option<Contender> {
        MARKERS.iter().find_map(|(marker, kind)| {
            let at = name.rfind(marker)?;
            // `rfind` returned a char boundary and the marker is ASCII, so this cannot split a char.
            let suffix = name.get(at + marker.len()..)?;
            let digits = suffix.strip_prefix('-').unwrap_or(suffix);
            // `%010d`: at least ten characters, all digits after an optional sign.
            if suffix.len() < 10 || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let sequence = suffix.parse::<i32>().ok()?;
            Some(Contender { name: name.to_owned(), sequence, kind: *kind })
        })
    }

    /// The protected-mode id (`_c_<uuid>-`) the name starts with, if any.
    pub fn protected_id(&self) -> Option<&str> {
        protected_id(&self.name)
    }
}

/// The `_c_<uuid>-` prefix of a protected node's name (Curator's `ProtectedUtils`), if any.
pub fn protected_id(name: &str) -> Option<&str> {
    const PREFIX_LEN: usize = 3 + 36 + 1;
    let prefix = name.get(..PREFIX_LEN)?;
    (prefix.starts_with("_c_") && prefix.ends_with('-')).then_some(prefix)
}

/// The contenders among `children`, in the order the server created them, even across the
/// sequence counter's wrap. Unknown children are dropped (see the module docs).
pub fn sorted(children: impl IntoIterator<Item = String>) -> Vec<Contender> {
    let mut contenders = Vec::new();
    let mut strangers = 0usize;
    for name in children {
        match Contender::parse(&name) {
            Some(c) => contenders.push(c),
            None => strangers += 1,
        }
    }
    if strangers > 0 {
        tracing::debug!(strangers, "children that are not lock contenders were left out");
    }
    // Live contenders span far less than half the counter's range, so if both ends of the range
    // are in use the counter has wrapped: the negative numbers come after the positive ones.
    let min = contenders.iter().map(|c| c.sequence).min().unwrap_or(0);
    let max = contenders.iter().map(|c| c.sequence).max().unwrap_or(0);
    let wrapped = min < -(1 << 30) && max > (1 << 30);
    let key = |c: &Contender| {
        let s = i64::from(c.sequence);
        if wrapped && s < 0 {
            s + (1i64 << 32)
        } else {
            s
        }
    };
    contenders.sort_by(|a, b| key(a).cmp(&key(b)).then_with(|| a.name.cmp(&b.name)));
    contenders
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(children: &[&str]) -> Vec<String> {
        sorted(children.iter().map(|s| s.to_string())).into_iter().map(|c| c.name).collect()
    }

    #[test]
    fn every_family_is_recognised_and_ordered_by_number() {
        let children = [
            "_c_53345f98-9423-4e0c-a7b5-9f819e3ec2e1-lock-0000000007",
            "0f1e2d3c4b5a69788796a5b4c3d2e1f0__lock__0000000003",
            "2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a__rlock__0000000010",
            "_c_8eb6aa11aa11aa11aa11aa11aa11aa11-lock-0000000005",
            "_c_53345f98-9423-4e0c-a7b5-9f819e3ec2e2-__WRIT__0000000001",
            "_c_53345f98-9423-4e0c-a7b5-9f819e3ec2e3-__READ__0000000002",
            "lock-0000000004",
            "config",
            "lock-12",
            "lock-abcdefghij",
        ];
        assert_eq!(
            names(&children),
            vec![
                "_c_53345f98-9423-4e0c-a7b5-9f819e3ec2e2-__WRIT__0000000001",
                "_c_53345f98-9423-4e0c-a7b5-9f819e3ec2e3-__READ__0000000002",
                "0f1e2d3c4b5a69788796a5b4c3d2e1f0__lock__0000000003",
                "lock-0000000004",
                "_c_8eb6aa11aa11aa11aa11aa11aa11aa11-lock-0000000005",
                "_c_53345f98-9423-4e0c-a7b5-9f819e3ec2e1-lock-0000000007",
                "2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a__rlock__0000000010",
            ]
        );
        let kinds: Vec<ContenderKind> = sorted(children.iter().map(|s| s.to_string())).iter().map(|c| c.kind).collect();
        assert_eq!(kinds[1], ContenderKind::Reader);
        assert_eq!(kinds[6], ContenderKind::Reader);
        assert_eq!(kinds[0], ContenderKind::Exclusive);
    }

    #[test]
    fn numbers_beat_string_order() {
        // As strings "-000000005" < "0000000001"; as numbers after a wrap it comes last.
        assert_eq!(names(&["lock-0000000010", "lock-0000000009"]), vec!["lock-0000000009", "lock-0000000010"]);
    }

    #[test]
    fn the_order_survives_the_signed_wrap() {
        let children = ["x-lock--2147483648", "x-lock-2147483646", "x-lock--2147483647", "x-lock-2147483647"];
        assert_eq!(
            names(&children),
            vec!["x-lock-2147483646", "x-lock-2147483647", "x-lock--2147483648", "x-lock--2147483647"]
        );
        // Small negative numbers far from the wrap are just numbers.
        assert_eq!(names(&["a-lock--000000005", "a-lock-0000000003"]), vec!["a-lock--000000005", "a-lock-0000000003"]);
    }

    #[test]
    fn protected_ids_are_read_only_from_protected_names() {
        let c = Contender::parse("_c_53345f98-9423-4e0c-a7b5-9f819e3ec2e1-lock-0000000007").unwrap();
        assert_eq!(c.protected_id(), Some("_c_53345f98-9423-4e0c-a7b5-9f819e3ec2e1-"));
        assert_eq!(protected_id("lock-0000000007"), None);
        assert_eq!(protected_id("_c_short-lock-0000000001"), None);
        assert_eq!(protected_id("é"), None);
    }
}
