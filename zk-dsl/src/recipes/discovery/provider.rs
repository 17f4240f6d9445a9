//! [`ServiceProvider`]: a service's instances kept cached, one picked per request.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::instance::ServiceInstance;
use super::registry::ServiceDiscovery;
use super::strategy::{DownInstancePolicy, DownInstances, Picker, Strategy};
use crate::error::Error;
use crate::proto::OpCode;
use crate::recipes::cache::{Cache, CacheEvent, CacheHandle};
use crate::recipes::protected::child_path;

/// Configures a [`ServiceProvider`]; from [`ServiceDiscovery::provider`].
#[derive(Debug)]
#[must_use = "start() it"]
pub struct ProviderBuilder<P> {
    discovery: ServiceDiscovery<P>,
    name: String,
    strategy: Strategy,
    down: DownInstancePolicy,
    events: bool,
}

impl<P: Serialize + DeserializeOwned> ServiceDiscovery<P> {
    /// A provider of the service `name`'s instances (see [`ServiceProvider`]).
    pub fn provider(&self, name: impl Into<String>) -> ProviderBuilder<P> {
        ProviderBuilder {
            discovery: self.clone(),
            name: name.into(),
            strategy: Strategy::default(),
            down: DownInstancePolicy::default(),
            events: false,
        }
    }
}

impl<P: Serialize + DeserializeOwned + Clone> ProviderBuilder<P> {
    /// How instances are picked (default [`Strategy::RoundRobin`]).
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// When instances noted with [`ServiceProvider::note_error`] are left out.
    pub fn down_instance_policy(mut self, policy: DownInstancePolicy) -> Self {
        self.down = policy;
        self
    }

    /// Whether to follow changes for [`ServiceProvider::changed`] (default no: the cache's
    /// events would queue up unread in a provider used only to pick instances).
    pub fn track_changes(mut self, on: bool) -> Self {
        self.events = on;
        self
    }

    /// Starts caching the service's instances; resolves once the current ones are loaded.
    pub async fn start(self) -> Result<ServiceProvider<P>, Error> {
        let dir = self.discovery.service_path(OpCode::AddWatch, &self.name)?;
        let cache = Cache::new(&self.discovery.source, dir.as_str()).depth(1).events(self.events).start().await?;
        Ok(ServiceProvider {
            name: self.name,
            dir,
            cache,
            strategy: self.strategy,
            down: self.down,
            loaded: false,
            state: Mutex::default(),
        })
    }
}

/// A service's instances from a [`Cache`] of `<base>/<name>` (its children only), so picking an
/// instance per request costs no round trip and follows registrations as the server reports
/// them (curator-x-discovery's `ServiceProvider` on a `ServiceCache`). Instances that are
/// disabled, or down after errors you [noted](Self::note_error), are not handed out.
///
/// Nodes that are not readable instances are skipped and reported by
/// [`unreadable`](Self::unreadable), never handed out and never an error for the others.
///
/// The cache lives with the discovery's sessions, like every [`Cache`]: on one `Client` it ends
/// with the session; on [`Sessions`](crate::client::Sessions) it reloads in each new one.
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use zk_dsl::recipes::discovery::{ServiceDiscovery, Strategy};
///
/// let discovery: ServiceDiscovery = ServiceDiscovery::new(client, "/services");
/// let apis = discovery.provider("api").strategy(Strategy::RoundRobin).start().await?;
/// if let Some(api) = apis.get_instance() {
///     // ... call it; if that fails:
///     apis.note_error(&api);
/// }
/// # Ok(()) }
/// ```
pub struct ServiceProvider<P = serde_json::Value> {
    name: String,
    dir: String,
    cache: CacheHandle,
    strategy: Strategy,
    down: DownInstancePolicy,
    /// The cache's initial load has been taken off its event stream.
    loaded: bool,
    state: Mutex<State<P>>,
}

impl<P> std::fmt::Debug for ServiceProvider<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceProvider")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .field("strategy", &self.strategy)
            .field("down", &self.down)
            .finish_non_exhaustive()
    }
}

/// What the provider remembers between calls.
struct State<P> {
    /// Each node's instance as last read, by node name, with the zxids it was read at (so a
    /// node is parsed once per change, not once per pick).
    parsed: BTreeMap<String, Parsed<P>>,
    picker: Picker,
    down: DownInstances,
}

impl<P> Default for State<P> {
    fn default() -> Self {
        State { parsed: BTreeMap::new(), picker: Picker::default(), down: DownInstances::default() }
    }
}

struct Parsed<P> {
    czxid: i64,
    mzxid: i64,
    instance: Result<ServiceInstance<P>, Error>,
}

impl<P: DeserializeOwned + Clone> ServiceProvider<P> {
    /// The service's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The strategy's pick among the usable instances; `None` when there is none.
    pub fn get_instance(&self) -> Option<ServiceInstance<P>> {
        let mut state = self.lock();
        self.refresh(&mut state);
        let State { parsed, picker, down } = &mut *state;
        let usable = usable(parsed, down, &self.down);
        let ids: Vec<&str> = usable.iter().map(|i| i.id.as_str()).collect();
        let at = picker.pick(self.strategy, &ids)?;
        usable.get(at).map(|i| (*i).clone())
    }

    /// Every usable instance (enabled, not down), sorted by id.
    pub fn all_instances(&self) -> Vec<ServiceInstance<P>> {
        let mut state = self.lock();
        self.refresh(&mut state);
        usable(&state.parsed, &state.down, &self.down).into_iter().cloned().collect()
    }

    /// Notes that `instance` failed a request: after the policy's threshold of errors it is
    /// left out until the policy's timeout has passed (see [`DownInstancePolicy`]).
    pub fn note_error(&self, instance: &ServiceInstance<P>) {
        let mut state = self.lock();
        state.down.note(&self.down, &instance.id);
    }

    /// Waits until the service's instances change (one registered, updated or gone, also
    /// while disconnected, reported once reconnected), after the ones there at
    /// [`start`](ProviderBuilder::start); changes that came together are reported once. `None`
    /// once the session has ended, or at once without
    /// [`track_changes`](ProviderBuilder::track_changes). Curator's `ServiceCacheListener`.
    pub async fn changed(&mut self) -> Option<()> {
        loop {
            match self.cache.next().await? {
                CacheEvent::Initialized => self.loaded = true,
                CacheEvent::Added { path, .. }
                | CacheEvent::Updated { path, .. }
                | CacheEvent::Removed { path, .. }
                    if self.loaded && path != self.dir =>
                {
                    while self.cache.try_next().is_some() {}
                    return Some(());
                }
                _ => {}
            }
        }
    }

    /// An [`Error::Codec`] for each cached node that is not a readable instance, by path.
    pub fn unreadable(&self) -> Vec<Error> {
        let mut state = self.lock();
        self.refresh(&mut state);
        state.parsed.values().filter_map(|p| p.instance.as_ref().err().cloned()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<P>> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Brings the parsed instances up to date with the cache.
    fn refresh(&self, state: &mut State<P>) {
        let names = self.cache.children(&self.dir);
        state.parsed.retain(|name, _| names.binary_search(name).is_ok());
        for name in names {
            let path = child_path(&self.dir, &name);
            let Some(node) = self.cache.get(&path) else { continue };
            let fresh =
                state.parsed.get(&name).is_some_and(|p| p.czxid == node.stat.czxid && p.mzxid == node.stat.mzxid);
            if !fresh {
                let instance = ServiceInstance::from_json(node.bytes(), &path);
                if let Err(e) = &instance {
                    tracing::debug!(error = %e, "skipping an unreadable service instance");
                }
                state.parsed.insert(name, Parsed { czxid: node.stat.czxid, mzxid: node.stat.mzxid, instance });
            }
        }
    }
}

/// The instances a provider may hand out (read, enabled, not down), sorted by id.
fn usable<'s, P>(
    parsed: &'s BTreeMap<String, Parsed<P>>,
    down: &DownInstances,
    policy: &DownInstancePolicy,
) -> Vec<&'s ServiceInstance<P>> {
    let mut usable: Vec<&ServiceInstance<P>> = parsed
        .values()
        .filter_map(|p| p.instance.as_ref().ok())
        .filter(|i| i.enabled && !down.is_down(policy, &i.id))
        .collect();
    usable.sort_by(|a, b| a.id.cmp(&b.id));
    usable
}
