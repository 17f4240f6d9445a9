//! [`ServiceDiscovery`]: registering this process's instances, and the handle queries and
//! providers start from.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::instance::{ServiceInstance, ServiceType};
use crate::client::call::check_path;
use crate::client::{Client, SessionSource};
use crate::error::Error;
use crate::proto::{CreateMode, OpCode};
use crate::recipes::cache::{PersistentNode, PersistentNodeHandle};
use crate::recipes::lock::driver::make_containers;
use crate::recipes::protected::{child_path, split_path};
use crate::recipes::retry::RetryPolicy;

/// Service registration and discovery in curator-x-discovery's layout: each instance of a
/// service is the node `<base>/<name>/<id>` holding the instance's JSON, so zk-dsl services
/// and Java services using Curator's `ServiceDiscovery` register side by side and find each
/// other. See the [module docs](super) for the layout and the JSON.
///
/// * [`register`](Self::register) makes an instance's node and keeps it: a
///   [`Dynamic`](ServiceType::Dynamic) instance is an ephemeral node re-created whenever it
///   goes missing while this session lives (someone deleted it, or it went during a
///   disconnection), so a live process stays registered, and a dead one disappears with its
///   session.
/// * [`query_names`](Self::query_names), [`query`](Self::query) and
///   [`query_one`](Self::query_one) read the registry once, pipelined; a
///   [`provider`](Self::provider) keeps a service's instances cached for picking one per
///   request.
///
/// The handle is cheap to clone; clones share the registrations. [`close`](Self::close)
/// unregisters them; dropping the last clone only stops keeping them (their nodes stay until
/// the session ends). `P` is the payload type of the instances (see [`ServiceInstance`]).
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use zk_dsl::recipes::discovery::{ServiceDiscovery, ServiceInstance};
///
/// let discovery: ServiceDiscovery = ServiceDiscovery::new(client, "/services");
/// let me = ServiceInstance::builder("api").address("10.0.0.7").port(8080).build();
/// discovery.register(&me).await?;
/// for api in discovery.query("api").await?.iter() {
///     println!("{}:{:?}", api.address.as_deref().unwrap_or("?"), api.port);
/// }
/// discovery.close().await?; // unregisters (and so does the session's end)
/// # Ok(()) }
/// ```
pub struct ServiceDiscovery<P = serde_json::Value> {
    pub(super) source: SessionSource,
    pub(super) base: String,
    pub(super) retry: RetryPolicy,
    /// Our registrations by instance id. An async lock: registering, updating and
    /// unregistering one id must not interleave (each is several requests).
    registered: Arc<tokio::sync::Mutex<HashMap<String, Registration>>>,
    _payload: PhantomData<fn() -> P>,
}

impl<P> Clone for ServiceDiscovery<P> {
    fn clone(&self) -> Self {
        ServiceDiscovery {
            source: self.source.clone(),
            base: self.base.clone(),
            retry: self.retry,
            registered: self.registered.clone(),
            _payload: PhantomData,
        }
    }
}

impl<P> std::fmt::Debug for ServiceDiscovery<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceDiscovery").field("base", &self.base).field("retry", &self.retry).finish()
    }
}

/// How one of our instances is kept.
#[derive(Debug)]
enum Registration {
    /// A dynamic instance: an ephemeral node kept present.
    Kept(PersistentNodeHandle),
    /// A persistent (static, permanent) or sequential node, made once, at this path.
    Made(String),
}

impl Registration {
    fn path(&self) -> &str {
        match self {
            Registration::Kept(node) => node.path(),
            Registration::Made(path) => path,
        }
    }

    /// Deletes the node (gone already is fine).
    async fn remove(self, client: &Client) -> Result<(), Error> {
        match self {
            Registration::Kept(node) => node.close().await,
            Registration::Made(path) => match client.delete(path.as_str()).await {
                Ok(()) | Err(Error::NoNode { .. }) => Ok(()),
                Err(e) => Err(e),
            },
        }
    }
}

impl<P> ServiceDiscovery<P> {
    /// Discovery under `base` (Curator's `basePath`; created, as containers, on the first
    /// registration). The payload type comes from the annotation or from use.
    ///
    /// `source` is a `&Client` (registrations end with its session) or
    /// [`&Sessions`](crate::client::Sessions) (dynamic registrations are made again in each new
    /// session after an expiry, as Curator's do).
    pub fn new(source: impl Into<SessionSource>, base: impl Into<String>) -> ServiceDiscovery<P> {
        ServiceDiscovery {
            source: source.into(),
            base: base.into(),
            retry: RetryPolicy::default(),
            registered: Arc::default(),
            _payload: PhantomData,
        }
    }

    /// How reads are retried through connection loss (default [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The base path.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The client of the current session.
    pub fn client(&self) -> Client {
        self.source.client()
    }

    /// `<base>/<name>`, the service's node; `name` must be one path segment.
    pub(super) fn service_path(&self, op: OpCode, name: &str) -> Result<String, Error> {
        segment(op, &self.base, "service name", name)?;
        let path = child_path(&self.base, name);
        check_path(&path, false)?;
        Ok(path)
    }

    /// `<base>/<name>/<id>`, an instance's node.
    pub(super) fn instance_path(&self, op: OpCode, name: &str, id: &str) -> Result<String, Error> {
        let service = self.service_path(op, name)?;
        segment(op, &service, "instance id", id)?;
        let path = child_path(&service, id);
        check_path(&path, false)?;
        Ok(path)
    }
}

/// Refuses a name that is not exactly one path segment (it would land elsewhere in the tree).
fn segment(op: OpCode, parent: &str, what: &str, name: &str) -> Result<(), Error> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Error::invalid_argument(
            Some(op),
            Some(parent),
            format!("the {what} {name:?} is not one path segment"),
        ));
    }
    Ok(())
}

impl<P: Serialize + DeserializeOwned> ServiceDiscovery<P> {
    /// Registers `instance` at `<base>/<name>/<id>` and keeps it registered (see the type's
    /// docs); resolves once the node exists. Registering an id this handle registered before
    /// replaces that registration. A node already at the path that belongs to another session
    /// (a stale registration of the same id) is deleted first, as Curator does, so the
    /// instance is this session's.
    pub async fn register(&self, instance: &ServiceInstance<P>) -> Result<(), Error> {
        let path = self.instance_path(OpCode::Create, &instance.name, &instance.id)?;
        let bytes = instance.encode(&path)?;
        let mut registered = self.registered.lock().await;
        if let Some(old) = registered.remove(&instance.id) {
            old.remove(&self.client()).await?;
        }
        let registration = match instance.service_type {
            ServiceType::Dynamic => {
                self.take_over(&path).await?;
                Registration::Kept(PersistentNode::new(&self.source, path).data(&bytes[..]).start().await?)
            }
            ServiceType::Static | ServiceType::Permanent => {
                Registration::Made(self.make(&path, CreateMode::Persistent, &bytes).await?)
            }
            ServiceType::DynamicSequential => {
                Registration::Made(self.make(&path, CreateMode::EphemeralSequential, &bytes).await?)
            }
        };
        registered.insert(instance.id.clone(), registration);
        Ok(())
    }

    /// Replaces the data of an instance this handle registered (same id and name), now and for
    /// every re-creation of its node. An instance it did not register is refused with
    /// `InvalidArgument` (as Curator's `updateService` refuses it).
    pub async fn update(&self, instance: &ServiceInstance<P>) -> Result<(), Error> {
        let path = self.instance_path(OpCode::SetData, &instance.name, &instance.id)?;
        let bytes = instance.encode(&path)?;
        let registered = self.registered.lock().await;
        let refuse = |reason: &str| Error::invalid_argument(Some(OpCode::SetData), Some(&path), reason);
        let Some(registration) = registered.get(&instance.id) else {
            return Err(refuse("this instance is not registered by this ServiceDiscovery"));
        };
        // A sequential node's name is the instance's path followed by its sequence number.
        let made = registration.path();
        let same_node = made == path
            || made
                .strip_prefix(path.as_str())
                .is_some_and(|seq| !seq.is_empty() && seq.bytes().all(|b| b.is_ascii_digit()));
        if !same_node {
            return Err(refuse("a registered instance's name cannot change: unregister it and register it again"));
        }
        match registration {
            Registration::Kept(node) => node.set_data(&bytes[..]).await,
            Registration::Made(made) => self.client().set_data(made.as_str(), &bytes[..]).await.map(drop),
        }
    }

    /// Unregisters the instance `id` this handle registered: stops keeping its node and
    /// deletes it. An id it did not register is left alone (`Ok`).
    pub async fn unregister(&self, id: &str) -> Result<(), Error> {
        let mut registered = self.registered.lock().await;
        match registered.remove(id) {
            Some(registration) => registration.remove(&self.client()).await,
            None => Ok(()),
        }
    }

    /// The ids this handle has registered.
    pub async fn registered_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.registered.lock().await.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Unregisters every instance this handle registered (the first failure is returned after
    /// trying them all). The client stays open.
    pub async fn close(&self) -> Result<(), Error> {
        let mut registered = self.registered.lock().await;
        let mut first = None;
        for (_, registration) in registered.drain() {
            let path = registration.path().to_owned();
            if let Err(e) = registration.remove(&self.client()).await {
                tracing::debug!(path = %path, error = %e, "unregistering failed");
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Deletes a node at `path` that another session owns (or that is persistent), so ours
    /// replaces it; a node of our own session is kept (the persistent node adopts it).
    async fn take_over(&self, path: &str) -> Result<(), Error> {
        let node = match self.client().get_data(path).retry(self.retry).await {
            Ok(node) => node,
            Err(Error::NoNode { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        if node.stat.ephemeral_owner == self.client().session_id() {
            return Ok(());
        }
        match self.client().delete(path).version(node.stat.version).await {
            // Gone or changed meanwhile: its owner is active; the persistent node waits for it.
            Ok(()) | Err(Error::NoNode { .. }) | Err(Error::BadVersion { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Creates the node (parents as containers); one already there is deleted and created
    /// again (Curator's register does the same, so watchers hear the change). Returns the
    /// created path (with its sequence, for a sequential mode).
    async fn make(&self, path: &str, mode: CreateMode, bytes: &[u8]) -> Result<String, Error> {
        let mut last = None;
        for _ in 0..3 {
            match self.client().create(path).mode(mode).data(bytes).await {
                Ok(created) => return Ok(created),
                Err(Error::NoNode { .. }) => {
                    let (parent, _) = split_path(path)?;
                    make_containers(&self.client(), parent).await?;
                }
                Err(e @ Error::NodeExists { .. }) => {
                    match self.client().delete(path).await {
                        Ok(()) | Err(Error::NoNode { .. }) => {}
                        Err(e) => return Err(e),
                    }
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::NodeExists { op: OpCode::Create, path: path.to_owned() }))
    }
}
