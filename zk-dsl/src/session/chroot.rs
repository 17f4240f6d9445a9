//! The chroot: applied to every path a request sends, stripped from every path the server
//! sends back (created names, sync, ephemerals, watch events).
//!
//! Two mappings go out, because a path means two things: a *node* (`/` is the chroot node
//! itself, so `/` → `/app`) and, for a sequential create, a *name prefix* the server appends
//! a counter to (`/` → `/app/`, so the node is `/app/0000000001`, which the client sees as
//! `/0000000001`, exactly what `create("/").sequential()` makes without a chroot). Mapping a
//! prefix as a node would make `/app0000000001`, a sibling of the chroot outside it.
//!
//! Coming back, a path outside the chroot is never turned into a client path: it would name a
//! different node (`/apple` is not `/ple`, and left unchanged it would be `/apple` *inside*
//! the chroot). [`Chroot::strip`] says `None` and the caller decides (an error for a created
//! name, dropped for a listing of ephemerals).

use std::sync::Arc;

/// The ensemble's configuration node (ZooKeeper's `ZooDefs.CONFIG_NODE`). It is the
/// ensemble's, not the application's, so no chroot ever applies to it (ZOOKEEPER-4601).
pub const CONFIG_NODE: &str = "/zookeeper/config";

/// The watch registry's key for the watches `get_config` sets. It is not a client path (those
/// start with `/`), so it never meets a node a chrooted client calls `/zookeeper/config`, and
/// it maps to [`CONFIG_NODE`] itself whatever the chroot (ZOOKEEPER-4742: the Java client once
/// mangled this path under chroots such as `/zoo`).
pub const CONFIG_WATCH_KEY: &str = "zookeeper/config";

/// A session's chroot (`None`: the root). Cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chroot(Option<Arc<str>>);

impl Chroot {
    pub fn new(chroot: Option<String>) -> Chroot {
        Chroot(chroot.map(Arc::from))
    }

    pub fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The server's path for a client node path.
    pub fn to_server<'a>(&self, path: &'a str) -> std::borrow::Cow<'a, str> {
        match &self.0 {
            None => path.into(),
            Some(root) if path == "/" => String::from(&**root).into(),
            Some(root) => joined(root, path).into(),
        }
    }

    /// The server's path for a watch registry key: a client path through the chroot, the
    /// configuration watch's key as [`CONFIG_NODE`].
    pub fn watch_to_server<'a>(&self, key: &'a str) -> std::borrow::Cow<'a, str> {
        if key == CONFIG_WATCH_KEY {
            CONFIG_NODE.into()
        } else {
            self.to_server(key)
        }
    }

    /// The server's prefix for a sequential create's client prefix: the chroot is prepended
    /// as text, so `/` stays a directory (`/app/`) and the new node lands inside the chroot.
    pub fn prefix_to_server<'a>(&self, prefix: &'a str) -> std::borrow::Cow<'a, str> {
        match &self.0 {
            None => prefix.into(),
            Some(root) => joined(root, prefix).into(),
        }
    }

    /// The client's path for a server path, or `None` if the path is outside the chroot.
    pub fn strip(&self, path: &str) -> Option<String> {
        match &self.0 {
            None => Some(path.to_owned()),
            Some(root) => match path.strip_prefix(&**root) {
                Some("") => Some("/".to_owned()),
                Some(rest) if rest.starts_with('/') => Some(rest.to_owned()),
                _ => None,
            },
        }
    }

    /// The client's path for a server path the server only sends inside the chroot (watch
    /// events of watches set through it). One outside it is returned unchanged rather than
    /// mangled; code that can act on that case uses [`strip`](Self::strip).
    pub fn to_client(&self, path: &str) -> String {
        self.strip(path).unwrap_or_else(|| path.to_owned())
    }
}

/// `root` then `path`, in one exactly sized allocation (every request of a chrooted client
/// makes one; `format!` grew its buffer twice).
fn joined(root: &str, path: &str) -> String {
    let mut joined = String::with_capacity(root.len() + path.len());
    joined.push_str(root);
    joined.push_str(path);
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_and_strips() {
        let c = Chroot::new(Some("/app".into()));
        assert_eq!(c.to_server("/"), "/app");
        assert_eq!(c.to_server("/a"), "/app/a");
        assert_eq!(c.to_client("/app"), "/");
        assert_eq!(c.to_client("/app/a/b"), "/a/b");
        assert_eq!(c.to_client("/apple"), "/apple");
        let none = Chroot::default();
        assert_eq!(none.to_server("/a"), "/a");
        assert_eq!(none.to_client("/a"), "/a");
    }

    #[test]
    fn the_config_watch_ignores_the_chroot() {
        for chroot in [None, Some("/app"), Some("/zoo"), Some("/zookeeper")] {
            let c = Chroot::new(chroot.map(str::to_owned));
            assert_eq!(c.watch_to_server(CONFIG_WATCH_KEY), CONFIG_NODE, "{chroot:?}");
            assert_eq!(c.watch_to_server("/a"), c.to_server("/a"));
        }
    }

    #[test]
    fn sequential_prefixes_stay_inside() {
        let c = Chroot::new(Some("/app".into()));
        assert_eq!(c.prefix_to_server("/"), "/app/");
        assert_eq!(c.prefix_to_server("/q/"), "/app/q/");
        assert_eq!(c.prefix_to_server("/n-"), "/app/n-");
        assert_eq!(Chroot::default().prefix_to_server("/"), "/");
    }

    #[test]
    fn paths_outside_are_not_client_paths() {
        let c = Chroot::new(Some("/app".into()));
        assert_eq!(c.strip("/app0000000001"), None);
        assert_eq!(c.strip("/apple/x"), None);
        assert_eq!(c.strip("/"), None);
        assert_eq!(c.strip("/app/0000000001").as_deref(), Some("/0000000001"));
        assert_eq!(Chroot::default().strip("/x").as_deref(), Some("/x"));
    }
}
