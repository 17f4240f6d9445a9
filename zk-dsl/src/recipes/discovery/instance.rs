//! [`ServiceInstance`]: one registered instance of a service, as curator-x-discovery models it.

use std::time::{SystemTime, UNIX_EPOCH};

use super::uri::UriSpec;

/// How an instance's node is made (curator-x-discovery's `ServiceType`, written by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ServiceType {
    /// An ephemeral node, there while the registering session lives (the default): the
    /// instance disappears when its process dies.
    #[default]
    Dynamic,
    /// A persistent node: stays until unregistered (for instances registered on behalf of
    /// something that has no session of its own).
    Static,
    /// A persistent node, as [`Static`](Self::Static) (Curator makes no difference when
    /// registering; the name says the instance is never expected to go).
    Permanent,
    /// An ephemeral-sequential node (`<id><sequence>`), registered once: a node re-created
    /// after a deletion would get a new name, so it is not kept present.
    DynamicSequential,
}

impl ServiceType {
    /// The name in the JSON (`DYNAMIC`, `STATIC`, `PERMANENT`, `DYNAMIC_SEQUENTIAL`).
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Dynamic => "DYNAMIC",
            ServiceType::Static => "STATIC",
            ServiceType::Permanent => "PERMANENT",
            ServiceType::DynamicSequential => "DYNAMIC_SEQUENTIAL",
        }
    }

    /// The type named `name` in the JSON.
    pub fn from_name(name: &str) -> Option<ServiceType> {
        match name {
            "DYNAMIC" => Some(ServiceType::Dynamic),
            "STATIC" => Some(ServiceType::Static),
            "PERMANENT" => Some(ServiceType::Permanent),
            "DYNAMIC_SEQUENTIAL" => Some(ServiceType::DynamicSequential),
            _ => None,
        }
    }

    /// Whether the instance lives with its session (Curator's `isDynamic`).
    pub fn is_dynamic(self) -> bool {
        matches!(self, ServiceType::Dynamic | ServiceType::DynamicSequential)
    }
}

/// One instance of a service: where it listens and what else it tells its clients. The node
/// `<base>/<name>/<id>` holds it as curator-x-discovery's JSON (see the [module
/// docs](super) for the exact format), so Java services registered with Curator and Rust
/// services registered with [`ServiceDiscovery`](super::ServiceDiscovery) find each other.
///
/// `P` is the payload: any serde type. The default, [`serde_json::Value`], reads whatever a
/// peer wrote.
///
/// ```
/// use zk_dsl::recipes::discovery::ServiceInstance;
///
/// let api = ServiceInstance::builder("api")
///     .address("10.0.0.7")
///     .port(8080)
///     .payload(serde_json::json!({ "zone": "eu-1" }))
///     .build();
/// assert_eq!(api.name, "api");
/// assert_eq!(api.id.len(), 36, "a random UUID unless given");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceInstance<P = serde_json::Value> {
    /// The service's name: the instance's node is under `<base>/<name>`.
    pub name: String,
    /// The instance's id, unique within the service: its node's name.
    pub id: String,
    /// Host name or address clients connect to.
    pub address: Option<String>,
    /// Plain port.
    pub port: Option<u16>,
    /// TLS port.
    pub ssl_port: Option<u16>,
    /// Anything else clients need (`null` in the JSON when `None`).
    pub payload: Option<P>,
    /// The Java class Curator's Jackson reads the payload as (its `"@class"`): set it when Java
    /// services read this instance into a payload class of their own (e.g.
    /// `"com.example.InstanceDetails"`); `None` suits Java readers whose payload class is `Map`,
    /// `Object` or `String`. Filled in when reading a Java service's instance.
    pub payload_class: Option<String>,
    /// When the instance was registered, in milliseconds since the Unix epoch.
    pub registration_time_utc: i64,
    /// How its node is made.
    pub service_type: ServiceType,
    /// A template for the instance's URI (see [`UriSpec`]).
    pub uri_spec: Option<UriSpec>,
    /// Whether providers hand it out (a disabled instance stays registered but unused).
    pub enabled: bool,
}

impl ServiceInstance<serde_json::Value> {
    /// A builder for an instance of the service `name`, with a random UUID as its id, the
    /// current time as its registration time, and no payload (give one with
    /// [`payload`](InstanceBuilder::payload), which also sets the payload type).
    pub fn builder(name: impl Into<String>) -> InstanceBuilder<serde_json::Value> {
        InstanceBuilder {
            instance: ServiceInstance {
                name: name.into(),
                id: uuid::Uuid::new_v4().to_string(),
                address: None,
                port: None,
                ssl_port: None,
                payload: None,
                payload_class: None,
                registration_time_utc: now_millis(),
                service_type: ServiceType::Dynamic,
                uri_spec: None,
                enabled: true,
            },
        }
    }
}

impl<P> ServiceInstance<P> {
    /// The instance's URI from its [`UriSpec`] (empty without one), filled in from its fields.
    pub fn uri(&self) -> String {
        self.uri_spec.as_ref().map(|spec| spec.build(self)).unwrap_or_default()
    }
}

fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Builds a [`ServiceInstance`]; start with [`ServiceInstance::builder`].
#[derive(Debug, Clone)]
#[must_use = "build() it"]
pub struct InstanceBuilder<P> {
    instance: ServiceInstance<P>,
}

impl<P> InstanceBuilder<P> {
    /// The instance id (default: a random UUID, as Curator's builder makes).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.instance.id = id.into();
        self
    }

    /// The address clients connect to. Curator defaults it to the host's first address; there
    /// is no default here (Rust's standard library cannot list interfaces), so say it.
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.instance.address = Some(address.into());
        self
    }

    /// The plain port.
    pub fn port(mut self, port: u16) -> Self {
        self.instance.port = Some(port);
        self
    }

    /// The TLS port.
    pub fn ssl_port(mut self, port: u16) -> Self {
        self.instance.ssl_port = Some(port);
        self
    }

    /// The payload, of any serde type (this sets the instance's payload type).
    pub fn payload<Q>(self, payload: Q) -> InstanceBuilder<Q> {
        let i = self.instance;
        InstanceBuilder {
            instance: ServiceInstance {
                name: i.name,
                id: i.id,
                address: i.address,
                port: i.port,
                ssl_port: i.ssl_port,
                payload: Some(payload),
                payload_class: i.payload_class,
                registration_time_utc: i.registration_time_utc,
                service_type: i.service_type,
                uri_spec: i.uri_spec,
                enabled: i.enabled,
            },
        }
    }

    /// The Java class Curator readers deserialize the payload as (see
    /// [`ServiceInstance::payload_class`]).
    pub fn payload_class(mut self, class: impl Into<String>) -> Self {
        self.instance.payload_class = Some(class.into());
        self
    }

    /// How the node is made (default [`ServiceType::Dynamic`]).
    pub fn service_type(mut self, service_type: ServiceType) -> Self {
        self.instance.service_type = service_type;
        self
    }

    /// The URI template (see [`UriSpec`]).
    pub fn uri_spec(mut self, spec: UriSpec) -> Self {
        self.instance.uri_spec = Some(spec);
        self
    }

    /// Whether providers hand the instance out (default yes).
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.instance.enabled = enabled;
        self
    }

    /// The registration time, in milliseconds since the Unix epoch (default: now).
    pub fn registration_time_utc(mut self, millis: i64) -> Self {
        self.instance.registration_time_utc = millis;
        self
    }

    /// The instance.
    pub fn build(self) -> ServiceInstance<P> {
        self.instance
    }
}
