//! One-off reads of the registry: service names, a service's instances, one instance.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::instance::ServiceInstance;
use super::registry::ServiceDiscovery;
use crate::error::Error;
use crate::proto::OpCode;
use crate::recipes::protected::child_path;

/// A service's instances as one query found them: those that could be read, in id order, and
/// an [`Error::Codec`] (naming the node) for each node that could not.
///
/// Why not fail the query: the nodes under a service are written by every process that
/// registers one, in whatever version of the format (or by mistake); one unreadable node must
/// not hide the healthy instances from every client. Curator's `queryForInstances` fails as a
/// whole in that case; here the readable ones are returned and the others reported, so the
/// caller can log them (or treat them as fatal: [`into_result`](Self::into_result)).
#[derive(Debug, Clone)]
pub struct Instances<P = serde_json::Value> {
    /// The instances read, sorted by id.
    pub instances: Vec<ServiceInstance<P>>,
    /// One error per node that is not a readable instance.
    pub unreadable: Vec<Error>,
}

impl<P> Instances<P> {
    /// The instances, or the first unreadable node's error if there was one.
    pub fn into_result(self) -> Result<Vec<ServiceInstance<P>>, Error> {
        match self.unreadable.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(self.instances),
        }
    }
}

impl<P> std::ops::Deref for Instances<P> {
    type Target = [ServiceInstance<P>];

    fn deref(&self) -> &Self::Target {
        &self.instances
    }
}

impl<P> IntoIterator for Instances<P> {
    type Item = ServiceInstance<P>;
    type IntoIter = std::vec::IntoIter<ServiceInstance<P>>;

    fn into_iter(self) -> Self::IntoIter {
        self.instances.into_iter()
    }
}

impl<P: Serialize + DeserializeOwned> ServiceDiscovery<P> {
    /// The names of the registered services (the base's children), sorted; none when the base
    /// does not exist yet.
    pub async fn query_names(&self) -> Result<Vec<String>, Error> {
        match self.client().children(self.base.as_str()).retry(self.retry).await {
            Ok(mut names) => {
                names.sort();
                Ok(names)
            }
            Err(Error::NoNode { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Every instance of the service `name`: one listing, then every node read at once
    /// (pipelined). Unreadable nodes are reported beside the others, not as a failure (see
    /// [`Instances`]); a service nobody registered has none.
    pub async fn query(&self, name: &str) -> Result<Instances<P>, Error> {
        let dir = self.service_path(OpCode::GetChildren, name)?;
        self.retry.run(|| read_instances(self, &dir)).await
    }

    /// The instance `id` of the service `name`; `None` if it is not registered, an
    /// [`Error::Codec`] naming the node if its data is not an instance.
    pub async fn query_one(&self, name: &str, id: &str) -> Result<Option<ServiceInstance<P>>, Error> {
        let path = self.instance_path(OpCode::GetData, name, id)?;
        match self.client().get_data(path.as_str()).retry(self.retry).await {
            Ok(node) => ServiceInstance::from_json(node.bytes(), &path).map(Some),
            Err(Error::NoNode { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

async fn read_instances<P: Serialize + DeserializeOwned>(
    discovery: &ServiceDiscovery<P>,
    dir: &str,
) -> Result<Instances<P>, Error> {
    let client = &discovery.client();
    let mut ids = match client.children(dir).await {
        Ok(ids) => ids,
        Err(Error::NoNode { .. }) => Vec::new(),
        Err(e) => return Err(e),
    };
    ids.sort();
    let reads: Vec<_> = ids
        .iter()
        .map(|id| {
            let path = child_path(dir, id);
            let read = client.get_data(path.as_str()).send();
            (path, read)
        })
        .collect();
    let mut found = Instances { instances: Vec::with_capacity(ids.len()), unreadable: Vec::new() };
    for (path, read) in reads {
        match read.await {
            Ok(node) => match ServiceInstance::from_json(node.bytes(), &path) {
                Ok(instance) => found.instances.push(instance),
                Err(e) => found.unreadable.push(e),
            },
            // Unregistered between the listing and the read.
            Err(Error::NoNode { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}
