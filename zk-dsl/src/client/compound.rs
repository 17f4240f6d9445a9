//! The seed's operations that take several requests: `create-all`, `delete-all`,
//! `delete-children`, `compare-and-set-data` and the child filters. Each is race-safe against
//! other clients doing the same thing at the same time, and pipelines its requests where the
//! order allows.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use bytes::Bytes;

use super::ops::create::{create_options, CreateSpec};
use super::Client;
use crate::client::ops::multi::ReadResult;
use crate::codec::ToZNodeBytes;
use crate::error::Error;
use crate::proto::{OpCode, Stat};
use crate::util;

/// `create_all`: creates every missing ancestor as a persistent node, then the node itself with
/// the builder's options (ephemeral by default, as in the seed). Resolves to the created path,
/// with its suffix for a sequential node. Holds a client handle (a clone), so it can move into a
/// spawned task.
#[must_use = "nothing is created until the builder is awaited"]
pub struct CreateAll {
    client: Client,
    spec: CreateSpec,
}

impl std::fmt::Debug for CreateAll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateAll").field("spec", &self.spec).finish()
    }
}

create_options!(CreateAll, spec);

impl CreateAll {
    pub(crate) fn new(client: &Client, path: String) -> Self {
        CreateAll { client: client.clone(), spec: CreateSpec::new(path) }
    }

    /// Creates the node and any missing ancestors.
    pub async fn run(self) -> Result<String, Error> {
        create_all(&self.client, self.spec).await
    }
}

impl IntoFuture for CreateAll {
    type Output = Result<String, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<String, Error>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// A verb that is more than one request, or that waits on the session: the seed's compound
/// operations (`delete_all`, `delete_children`, `compare_and_set_data`, the child filters),
/// `close` and `wait_connected`. `.await` it, or `.wait()` it on a blocking client; nothing
/// happens before. It exists so that every verb, single request or not, is finished the same
/// way in both styles (`Call`, `CreateAll`, `Pending` and this all have `.wait()`).
#[must_use = "nothing happens until it is awaited (or `.wait()`ed)"]
pub struct Compound<'c, T> {
    future: Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'c>>,
}

impl<'c, T> Compound<'c, T> {
    pub(crate) fn new(future: impl Future<Output = Result<T, Error>> + Send + 'c) -> Self {
        Compound { future: Box::pin(future) }
    }
}

impl<T> std::fmt::Debug for Compound<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Compound")
    }
}

impl<T> Future for Compound<'_, T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        self.get_mut().future.as_mut().poll(cx)
    }
}

/// Tries the leaf first (the common case: the parents exist); on NoNode creates the ancestors,
/// pipelined, tolerating NodeExists from concurrent creators, and tries again. Another client
/// deleting a parent in between makes it go round again, a bounded number of times.
async fn create_all(client: &Client, spec: CreateSpec) -> Result<String, Error> {
    spec.validate()?;
    let ancestors = ancestors(&spec.path);
    for _ in 0..8 {
        match client.create_from_spec(spec.clone()).await {
            Err(Error::NoNode { .. }) => {}
            other => return other,
        }
        let pending: Vec<_> =
            ancestors.iter().map(|p| client.create(p.as_str()).persistent().bytes(Bytes::new()).send()).collect();
        for result in pending {
            match result.await {
                Ok(_) | Err(Error::NodeExists { .. }) => {}
                // An ancestor above failed too; the retry of the leaf reports the real cause.
                Err(Error::NoNode { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Err(Error::NoNode { op: spec.effective_mode().opcode(), path: spec.path })
}

/// `/a/b/c` → `["/a", "/a/b"]` (the root is never created). For a sequential prefix ending in
/// `/`, the parent is the path without it. Built from `/`-separated names without slicing by
/// position, so any input (`/`, `""`, `//`) gives a list rather than a panic; the path rules
/// were checked before this is called.
fn ancestors(path: &str) -> Vec<String> {
    let mut names: Vec<&str> = path.split('/').filter(|name| !name.is_empty()).collect();
    if !path.ends_with('/') {
        // The last name is the node itself (or its sequential prefix).
        names.pop();
    }
    let mut out = Vec::with_capacity(names.len());
    let mut at = String::with_capacity(path.len());
    for name in names {
        at.push('/');
        at.push_str(name);
        out.push(at.clone());
    }
    out
}

impl Client {
    /// Creates a node and every missing ancestor (the seed's `create-all`): ancestors are
    /// persistent; the options apply to the node itself (ephemeral by default). Concurrent
    /// `create_all`s of overlapping paths do not fail each other.
    pub fn create_all(&self, path: impl Into<String>) -> CreateAll {
        CreateAll::new(self, path.into())
    }

    pub(crate) fn create_from_spec(&self, spec: CreateSpec) -> super::Pending<String> {
        super::Call::new(self, super::CreateOp { spec }).send()
    }

    /// Deletes a node and everything below it (the seed's `delete-all`). `NoNode` if the node
    /// does not exist. Nodes are found level by level and deleted deepest first, each level's
    /// requests in flight together; a child created concurrently makes it go round again.
    pub fn delete_all(&self, path: impl Into<String>) -> Compound<'_, ()> {
        let path = path.into();
        Compound::new(self.delete_all_at(path))
    }

    async fn delete_all_at(&self, path: String) -> Result<(), Error> {
        crate::proto::validate_path(&path, false)
            .map_err(|reason| Error::InvalidPath { path: path.clone(), reason })?;
        if path == "/" {
            return Err(Error::invalid_argument(
                Some(OpCode::Delete),
                Some(&path),
                "refusing to delete the whole tree; delete the root's children instead",
            ));
        }
        self.delete_trees(vec![path], false).await
    }

    /// Deletes `roots` and everything below them, all trees at once: one level of every tree
    /// listed per round trip, then the levels deleted deepest first, each level pipelined in
    /// the order of `roots` (requests leave in order and ZooKeeper applies one session's
    /// requests in order, so `roots` are deleted in that order). A child created meanwhile
    /// (`NotEmpty`) makes it go round again, a bounded number of times. A missing root is an
    /// error unless `missing_roots_ok`.
    async fn delete_trees(&self, roots: Vec<String>, missing_roots_ok: bool) -> Result<(), Error> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.delete_trees_once(&roots, missing_roots_ok || attempts > 1).await {
                Err(Error::NotEmpty { .. }) if attempts < 8 => continue,
                other => return other,
            }
        }
    }

    async fn delete_trees_once(&self, roots: &[String], missing_roots_ok: bool) -> Result<(), Error> {
        // Every level of the trees, roots first. Each level's listings go out together, batched
        // into multiReads, so a wide tree costs a few round trips and requests, not one per node.
        let mut levels: Vec<Vec<String>> = vec![roots.to_vec()];
        loop {
            let last = levels.last().map(Vec::as_slice).unwrap_or_default();
            let pending: Vec<_> = batches(last, self.inner.max_write_packet)
                .map(|batch| {
                    let read = batch.iter().fold(self.multi_read(), |r, p| r.get_children(p.as_str())).send();
                    (batch, read)
                })
                .collect();
            let mut next = Vec::new();
            for (batch, read) in pending {
                match read.await {
                    Ok(results) => {
                        for (parent, result) in batch.iter().zip(results) {
                            match result {
                                ReadResult::Children(names) => next.extend(names.iter().map(|n| join(parent, n))),
                                // Gone meanwhile; if it was a root, its delete below says so.
                                ReadResult::Error(Error::NoNode { .. }) => {}
                                ReadResult::Error(e) => return Err(e),
                                ReadResult::Data(_) => {}
                            }
                        }
                    }
                    // Too many grandchildren for one reply: list this batch one by one.
                    Err(Error::ReplyTooLarge { .. }) => {
                        let listings: Vec<_> = batch.iter().map(|p| self.children(p.as_str()).send()).collect();
                        for (parent, listing) in batch.iter().zip(listings) {
                            match listing.await {
                                Ok(names) => next.extend(names.iter().map(|n| join(parent, n))),
                                Err(Error::NoNode { .. }) => {}
                                Err(e) => return Err(e),
                            }
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            if next.is_empty() {
                break;
            }
            levels.push(next);
        }
        for (depth, level) in levels.iter().enumerate().rev() {
            // Only a root's absence can be the caller's business.
            let absent_ok = depth > 0 || missing_roots_ok;
            // Each batch of deletes is one transaction, in the level's order; a batch that fails as
            // a whole (a node deleted or given a child by someone else meanwhile) is redone one by
            // one, so the outcome is the same as deleting each node on its own.
            let pending: Vec<_> = batches(level, self.inner.max_write_packet)
                .map(|batch| {
                    let txn = batch.iter().fold(self.transaction(), |t, p| t.delete(p.as_str(), -1)).send();
                    (batch, txn)
                })
                .collect();
            for (batch, txn) in pending {
                if txn.await.is_ok() {
                    continue;
                }
                let deletes: Vec<_> = batch.iter().map(|p| self.delete(p.as_str()).send()).collect();
                for delete in deletes {
                    match delete.await {
                        Ok(()) => {}
                        Err(Error::NoNode { .. }) if absent_ok => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(())
    }

    /// Deletes every child of `path` and everything below them, keeping `path` (the seed's
    /// `delete-children`), all at once: every child's subtree is listed and deleted together,
    /// level by level, with each level's requests pipelined. With `in_sequence_order`, the
    /// children themselves are deleted in the order of their sequence numbers (for queues
    /// whose consumers watch the head): their deletes still leave in one batch, but in that
    /// order, and ZooKeeper applies a session's requests in the order they arrive.
    pub fn delete_children(&self, path: impl Into<String>, in_sequence_order: bool) -> Compound<'_, ()> {
        let path = path.into();
        Compound::new(self.delete_children_of(path, in_sequence_order))
    }

    async fn delete_children_of(&self, path: String, in_sequence_order: bool) -> Result<(), Error> {
        let mut names = self.children(path.as_str()).await?;
        if in_sequence_order {
            names = util::sort_sequential_nodes(names).map_err(|e| {
                Error::invalid_argument(
                    Some(OpCode::GetChildren2),
                    Some(&path),
                    format!("children are not all sequential nodes: {e}"),
                )
            })?;
        }
        if names.is_empty() {
            return Ok(());
        }
        let roots = names.iter().map(|n| join(&path, n)).collect();
        self.delete_trees(roots, true).await
    }

    /// Sets `path`'s data to `new` only if it currently equals `expected` (the seed's
    /// `compare-and-set-data`): `Some(stat)` when it was set, `None` when the data differed.
    /// Both values are anything `.data(…)` takes (bytes, strings, numbers in the seed's
    /// encodings, `#[derive(ZNodeData)]` types), compared as their encoded bytes. A concurrent
    /// writer between the read and the write makes it read again, at most `max_retries` times;
    /// after that it fails with `BadVersion`.
    pub fn compare_and_set_data<E, N>(
        &self,
        path: impl Into<String>,
        expected: &E,
        new: &N,
        max_retries: usize,
    ) -> Compound<'_, Option<Stat>>
    where
        E: ToZNodeBytes + ?Sized,
        N: ToZNodeBytes + ?Sized,
    {
        let path = path.into();
        // Encoded now, so the future owns its data and a bad value fails naming the node.
        let values = expected
            .to_node_bytes()
            .and_then(|expected| Ok((expected, new.to_node_bytes()?)))
            .map_err(|e| e.with_path(path.as_str()));
        Compound::new(async move {
            let (expected, new) = values?;
            self.compare_and_set_bytes(path, &expected, &new, max_retries).await
        })
    }

    async fn compare_and_set_bytes(
        &self,
        path: String,
        expected: &[u8],
        new: &[u8],
        max_retries: usize,
    ) -> Result<Option<Stat>, Error> {
        let mut retries = 0;
        loop {
            let current = self.get_data(path.as_str()).await?;
            if current.bytes() != expected {
                return Ok(None);
            }
            match self.set_data(path.as_str(), new).version(current.stat.version).await {
                Ok(stat) => return Ok(Some(stat)),
                Err(Error::BadVersion { .. }) if retries < max_retries => retries += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// The children of `dir` whose names start with `prefix`, taken literally.
    pub fn filter_children_by_prefix(&self, dir: impl Into<String>, prefix: &str) -> Compound<'_, Vec<String>> {
        let (children, prefix) = (self.children(dir), prefix.to_owned());
        Compound::new(async move { Ok(util::filter_nodes_by_prefix(&prefix, children.await?)) })
    }

    /// The children of `dir` whose names end with `suffix`, taken literally.
    pub fn filter_children_by_suffix(&self, dir: impl Into<String>, suffix: &str) -> Compound<'_, Vec<String>> {
        let (children, suffix) = (self.children(dir), suffix.to_owned());
        Compound::new(async move { Ok(util::filter_nodes_by_suffix(&suffix, children.await?)) })
    }

    /// The children of `dir` whose names match `pattern` anywhere (as the seed's `re-find`).
    #[cfg(feature = "regex")]
    pub fn filter_children_by_pattern(
        &self,
        dir: impl Into<String>,
        pattern: &regex::Regex,
    ) -> Compound<'_, Vec<String>> {
        let (children, pattern) = (self.children(dir), pattern.clone());
        Compound::new(async move { Ok(util::filter_nodes_by_pattern(&pattern, children.await?)) })
    }

    /// The children of `dir` for which `keep` is true.
    pub fn filter_children<'c>(
        &'c self,
        dir: impl Into<String>,
        keep: impl FnMut(&str) -> bool + Send + 'c,
    ) -> Compound<'c, Vec<String>> {
        let children = self.children(dir);
        Compound::new(async move { Ok(util::filter_nodes_by(children.await?, keep)) })
    }
}

/// Splits `paths` into batches for one multiRead or transaction each: at most 1,000 paths, and
/// path bytes well within the write limit (a listing reply per path must also fit the read
/// limit; a batch whose reply does not is listed path by path).
fn batches(paths: &[String], max_write_packet: usize) -> impl Iterator<Item = &[String]> {
    const MAX_OPS: usize = 1000;
    let budget = (max_write_packet / 4).max(1);
    let mut rest = paths;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let mut n = 0;
        while n < rest.len() && n < MAX_OPS {
            // A multi op costs its header (9 bytes) and the path (4 + length) plus a flag or version.
            let cost = rest[n].len() + 17;
            if n > 0 && bytes + cost > budget {
                break;
            }
            bytes += cost;
            n += 1;
        }
        let (batch, tail) = rest.split_at(n);
        rest = tail;
        Some(batch)
    })
}

/// `parent` + `/` + `name`, minding the root.
pub(crate) fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// Turns the seed's "missing" and "exists" outcomes into `Option`s where a caller wants them
/// as values rather than errors:
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use zk_dsl::ResultExt;
/// // The seed's (delete client "/x") returning false when /x does not exist:
/// let deleted: Option<()> = client.delete("/x").await.absent_ok()?;
/// // The seed's (create client "/x") returning false when /x exists:
/// let created: Option<String> = client.create("/x").await.exists_ok()?;
/// # Ok(()) }
/// ```
pub trait ResultExt<T> {
    /// `NoNode` becomes `Ok(None)`.
    fn absent_ok(self) -> Result<Option<T>, Error>;
    /// `NodeExists` becomes `Ok(None)`.
    fn exists_ok(self) -> Result<Option<T>, Error>;
}

impl<T> ResultExt<T> for Result<T, Error> {
    fn absent_ok(self) -> Result<Option<T>, Error> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NoNode { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn exists_ok(self) -> Result<Option<T>, Error> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NodeExists { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_of_paths() {
        assert_eq!(ancestors("/a"), Vec::<String>::new());
        assert_eq!(ancestors("/a/b/c"), vec!["/a", "/a/b"]);
        assert_eq!(ancestors("/q/"), vec!["/q"]);
        assert_eq!(ancestors("/a/q/"), vec!["/a", "/a/q"]);
        // Used to slice an empty string and panic (issue 9 #8).
        assert_eq!(ancestors("/"), Vec::<String>::new());
        assert_eq!(ancestors(""), Vec::<String>::new());
        assert_eq!(ancestors("//"), Vec::<String>::new());
        assert_eq!(ancestors("/é/ü/x"), vec!["/é", "/é/ü"]);
        assert_eq!(join("/", "x"), "/x");
        assert_eq!(join("/a", "x"), "/a/x");
    }
}
