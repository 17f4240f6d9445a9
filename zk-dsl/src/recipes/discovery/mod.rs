//! Service discovery that interoperates with Apache Curator's `curator-x-discovery`: services
//! register their instances (address, ports, a payload) and clients find them, Java and Rust
//! services on the same base path alike.
//!
//! * [`ServiceDiscovery`]: register, update and unregister this process's instances (kept
//!   present while the session lives), and query the registry.
//! * [`ServiceProvider`]: a service's instances cached (a [`Cache`](crate::recipes::Cache) of
//!   the service's node), one handed out per request by a [`Strategy`] (round-robin, random,
//!   sticky), leaving out instances that are disabled or down after noted errors
//!   ([`DownInstancePolicy`]).
//! * [`ServiceInstance`]: one instance, built with [`ServiceInstance::builder`]; its optional
//!   [`UriSpec`] builds its URI.
//!
//! # Layout
//!
//! `<base>/<service name>/<instance id>`, the instance's node, holding its JSON. The node of a
//! [`Dynamic`](ServiceType::Dynamic) instance (the default) is ephemeral; `Static` and
//! `Permanent` ones are persistent; `DynamicSequential` ones ephemeral-sequential (the id
//! followed by a sequence number). The base and service nodes are containers, created on the
//! first registration (the server removes them once empty).
//!
//! # The JSON
//!
//! What Curator 5.4's `JsonInstanceSerializer` writes by default (Jackson, in its
//! `compatibleSerializationMode`):
//!
//! ```json
//! {"name":"api","id":"0b6f…","address":"10.0.0.7","port":8080,"sslPort":null,
//!  "payload":{"@class":"com.example.Details","zone":"eu-1"},"registrationTimeUTC":1700000000000,
//!  "serviceType":"DYNAMIC","uriSpec":{"parts":[{"value":"scheme","variable":true},…]}}
//! ```
//!
//! * Every field is written, `null` when absent, except `enabled`: Curator's default
//!   serializer leaves it out (readers older than the field would refuse it) and readers take a
//!   missing one as `true`. zk-dsl writes it only when it is `false`, so a disabled instance
//!   stays disabled and an enabled one reads everywhere.
//! * The payload carries Jackson's type information (`@JsonTypeInfo(use = CLASS)` on
//!   `getPayload`): an object payload has its Java class in an `"@class"` property; a list, or a
//!   scalar with a class, is wrapped as `["java.util.ArrayList", […]]`; strings, numbers and
//!   booleans go bare. When reading, the class is taken off into
//!   [`ServiceInstance::payload_class`] and the rest deserialized as `P`, so a Rust payload type
//!   needs no `"@class"` field. When writing, the class is put back: a Java service whose
//!   payload class is its own type (`ServiceDiscoveryBuilder.builder(Details.class)`) reads a
//!   Rust instance only if `payload_class` names that type (Jackson's default without one is a
//!   `LinkedHashMap`, which suits Java readers whose payload class is `Map` or `Object`).
//! * Reading is as lenient as Curator's (unknown fields ignored, missing optional fields take
//!   Curator's defaults) but not lax: `name` and `id` must be there, fields must have their
//!   types, ports must fit in a `u16`. A node that fails is an [`Error::Codec`](crate::Error::Codec)
//!   naming its path.
//!
//! # Unreadable nodes
//!
//! Every process that registers writes under the same service node, so a node in an unexpected
//! format (a newer writer, a bug, a stray `create`) is a fact of life. A query returns the
//! instances it could read and reports the others beside them ([`Instances::unreadable`]); a
//! provider skips them and reports them from [`ServiceProvider::unreadable`]. Curator fails the
//! whole query instead; here one bad node never hides the healthy instances.
//!
//! # Sessions
//!
//! A dynamic instance is a [`PersistentNode`](crate::recipes::PersistentNode): re-created when
//! deleted and checked after every reconnection, for as long as the session lives. Built on a
//! `&Client`, its instances go when that session ends (closed, or expired). Built on
//! [`Sessions`](crate::client::Sessions), they are registered again in each new session after
//! an expiry, and providers reload, as Curator's do on its new session.

mod instance;
mod json;
mod provider;
mod query;
mod registry;
mod strategy;
mod uri;

pub use instance::{InstanceBuilder, ServiceInstance, ServiceType};
pub use provider::{ProviderBuilder, ServiceProvider};
pub use query::Instances;
pub use registry::ServiceDiscovery;
pub use strategy::{DownInstancePolicy, Strategy};
pub use uri::{UriPart, UriSpec, UriSpecError};
