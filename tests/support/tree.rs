//! A subtree as the server has it, and the check that a cache mirrors it exactly.

use std::collections::BTreeMap;

use zk_dsl::recipes::{CacheHandle, CachedNode};
use zk_dsl::{Client, Error};

/// Every node of the subtree at `root` as the server has it now (after a `sync`), read level by
/// level: what a cache of `root` must equal once the writes have stopped.
pub async fn full_read(client: &Client, root: &str) -> BTreeMap<String, CachedNode> {
    client.sync(root).await.expect("sync before a full read");
    let mut tree = BTreeMap::new();
    let mut level = vec![root.to_owned()];
    while !level.is_empty() {
        let mut next = Vec::new();
        for path in level {
            let node = match client.get_data(path.as_str()).await {
                Ok(node) => node,
                Err(Error::NoNode { .. }) => continue,
                Err(e) => panic!("read {path}: {e}"),
            };
            tree.insert(path.clone(), CachedNode { data: node.data, stat: node.stat });
            let parent = if path == "/" { "" } else { path.as_str() };
            for name in client.children(path.as_str()).await.unwrap_or_default() {
                next.push(format!("{parent}/{name}"));
            }
        }
        level = next;
    }
    tree
}

/// Asserts the cache holds exactly `expected`'s paths, data, versions and zxids.
pub fn assert_mirrors(cache: &CacheHandle, expected: &BTreeMap<String, CachedNode>) {
    let cached = cache.snapshot();
    let key = |m: &BTreeMap<String, CachedNode>| -> Vec<(String, Option<bytes::Bytes>, i32, i64, i64)> {
        m.iter().map(|(p, n)| (p.clone(), n.data.clone(), n.stat.version, n.stat.czxid, n.stat.mzxid)).collect()
    };
    let (a, b) = (key(&cached), key(expected));
    let diverging: Vec<_> = a.iter().filter(|x| !b.contains(x)).chain(b.iter().filter(|x| !a.contains(x))).collect();
    assert!(
        diverging.is_empty(),
        "{} divergent entries, e.g. {:?}",
        diverging.len(),
        &diverging[..diverging.len().min(5)]
    );
}
