//! Protected creates: a create that can be retried after `ConnectionLoss` without leaving a
//! second node behind (Curator's `withProtection()`, kazoo's `create_tried`).
//!
//! When the connection drops after the server applied a create but before its reply arrived,
//! the client cannot tell whether the node exists, and a sequential node's name is unknown. A
//! protected create puts `_c_<uuid>-` in front of the node's name; after a lost reply it lists
//! the parent and adopts the child carrying its own prefix instead of creating another one.
//! CURATOR-498: a found ephemeral node owned by another session (one that is ending) is
//! deleted, not adopted, and the create is made again.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Instant;

use super::retry::RetryPolicy;
use crate::client::call::Call;
use crate::client::ops::create::CreateSpec;
use crate::client::{Client, CreateOp};
use crate::error::Error;
use crate::proto::Stat;

impl<'c> Call<'c, CreateOp> {
    /// Protects the create (Curator's protected mode): the node's name gets a `_c_<uuid>-`
    /// prefix, and a create whose reply was lost with the connection is resolved by finding the
    /// node by that prefix rather than by creating a second one. Retried by the default
    /// [`RetryPolicy`] unless [`retry`](ProtectedCreate::retry) says otherwise. Give the other
    /// options first: `create("/jobs/job-").sequential().data(d).protected()`.
    pub fn protected(self) -> ProtectedCreate<'c> {
        ProtectedCreate { client: self.client, spec: self.op.spec, policy: RetryPolicy::default() }
    }
}

/// A create in protected mode; await it for the created path, or use
/// [`with_stat`](Self::with_stat).
#[must_use = "nothing is created until it is awaited"]
#[derive(Debug)]
pub struct ProtectedCreate<'c> {
    client: &'c Client,
    spec: CreateSpec,
    policy: RetryPolicy,
}

impl<'c> ProtectedCreate<'c> {
    /// How long and how often to retry after `ConnectionLoss`.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Creates the node; resolves to its path and Stat.
    pub async fn with_stat(self) -> Result<(String, Stat), Error> {
        let ProtectedCreate { client, spec, policy } = self;
        create_protected(client, spec, &new_protected_id(), &policy).await
    }
}

impl<'c> IntoFuture for ProtectedCreate<'c> {
    type Output = Result<String, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<String, Error>> + Send + 'c>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.with_stat().await.map(|(path, _)| path) })
    }
}

/// A fresh `_c_<uuid>-` prefix, Curator's format (the canonical UUID with dashes).
pub(crate) fn new_protected_id() -> String {
    format!("_c_{}-", uuid::Uuid::new_v4())
}

/// `path`'s parent and last segment; refuses the root, which has neither.
pub(crate) fn split_path(path: &str) -> Result<(&str, &str), Error> {
    crate::client::call::check_path(path, true)?;
    match path.rfind('/') {
        Some(0) if path.len() > 1 => Ok(("/", &path[1..])),
        // `rfind` found an ASCII '/', so both slices fall on char boundaries.
        Some(i) if i > 0 => Ok((&path[..i], &path[i + 1..])),
        _ => Err(Error::invalid_argument(
            Some(crate::proto::OpCode::Create),
            Some(path),
            "a protected node needs a parent; the root has none",
        )),
    }
}

/// `parent` joined with a child `name`.
pub(crate) fn child_path(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// Creates `spec` with `id` in front of its name, retrying by `policy`; after a lost reply,
/// finds the node by `id` before creating again.
pub(crate) async fn create_protected(
    client: &Client,
    mut spec: CreateSpec,
    id: &str,
    policy: &RetryPolicy,
) -> Result<(String, Stat), Error> {
    let (parent, name) = split_path(&spec.path)?;
    let parent = parent.to_owned();
    spec.path = child_path(&parent, &format!("{id}{name}"));
    let ephemeral = spec.mode.is_ephemeral();
    let started = Instant::now();
    let mut attempt = 1;
    loop {
        let lost = match Call::new(client, CreateOp { spec: spec.clone() }).with_stat().await {
            Err(e) if e.is_retryable() => e,
            done => return done,
        };
        // The create may have been applied: find it before making another.
        loop {
            let Some(pause) = policy.pause(attempt, started) else { return Err(lost) };
            tokio::time::sleep(pause).await;
            attempt += 1;
            match find_own(client, &parent, id, ephemeral).await {
                Ok(Some(found)) => return Ok(found),
                Ok(None) => break,
                Err(e) if e.is_retryable() => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// The child of `parent` whose name starts with `id`, with its Stat. An ephemeral node owned by
/// another session is deleted and reported as not found (CURATOR-498).
pub(crate) async fn find_own(
    client: &Client,
    parent: &str,
    id: &str,
    ephemeral: bool,
) -> Result<Option<(String, Stat)>, Error> {
    let children = match client.children(parent).await {
        Ok(children) => children,
        Err(Error::NoNode { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(name) = children.into_iter().find(|c| c.starts_with(id)) else { return Ok(None) };
    let path = child_path(parent, &name);
    let Some(stat) = client.exists(path.as_str()).await? else { return Ok(None) };
    if ephemeral && stat.ephemeral_owner != client.session_id() {
        tracing::warn!(%path, owner = format_args!("{:#x}", stat.ephemeral_owner), "a protected node of another session: deleting it");
        match client.delete(path.as_str()).await {
            Ok(()) | Err(Error::NoNode { .. }) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Ok(Some((path, stat)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_curators_shape() {
        let id = new_protected_id();
        assert_eq!(id.len(), 40);
        assert_eq!(crate::recipes::contenders::protected_id(&format!("{id}lock-0000000001")), Some(id.as_str()));
    }

    #[test]
    fn paths_split_and_join() {
        assert_eq!(split_path("/a/b").unwrap(), ("/a", "b"));
        assert_eq!(split_path("/a").unwrap(), ("/", "a"));
        assert!(split_path("/").is_err());
        assert!(split_path("a").is_err());
        assert_eq!(child_path("/", "x"), "/x");
        assert_eq!(child_path("/a", "x"), "/a/x");
    }
}
