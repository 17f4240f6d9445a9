//! The chroot: applied to every path a request sends, stripped from every path the server
//! sends back (created names, sync, ephemerals, watch events).

use std::sync::Arc;

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

    /// The server's path for a client path.
    pub fn to_server<'a>(&self, path: &'a str) -> std::borrow::Cow<'a, str> {
        match &self.0 {
            None => path.into(),
            Some(root) if path == "/" => root.to_string().into(),
            Some(root) => format!("{root}{path}").into(),
        }
    }

    /// The client's path for a server path. A path outside the chroot (which the server does
    /// not send for chrooted requests) is returned unchanged rather than mangled.
    pub fn to_client(&self, path: &str) -> String {
        match &self.0 {
            None => path.to_owned(),
            Some(root) => match path.strip_prefix(&**root) {
                Some("") => "/".to_owned(),
                Some(rest) if rest.starts_with('/') => rest.to_owned(),
                _ => path.to_owned(),
            },
        }
    }
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
}
