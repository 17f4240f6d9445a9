//! The JSON of an instance node, exactly as curator-x-discovery's `JsonInstanceSerializer`
//! (Jackson) writes and reads it; the [module docs](super) describe the format.

use serde::de::{DeserializeOwned, Error as _};
use serde::ser::{Error as _, SerializeStruct};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::instance::{ServiceInstance, ServiceType};
use super::uri::{UriPart, UriSpec};
use crate::error::Error;

/// The property Jackson's `@JsonTypeInfo(use = CLASS)` puts the payload's Java class in.
const CLASS_PROPERTY: &str = "@class";
/// The class Jackson names for a list, used when a payload array has no class of its own.
const JAVA_LIST: &str = "java.util.ArrayList";

impl<P: Serialize> ServiceInstance<P> {
    /// The instance as its node holds it. A failure (a payload serde cannot turn into JSON) is
    /// [`Error::Codec`].
    pub fn to_json(&self) -> Result<Vec<u8>, Error> {
        self.encode("")
    }

    /// [`to_json`](Self::to_json) for the node at `path` (named in the error).
    pub(crate) fn encode(&self, path: &str) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(self).map_err(|e| codec_error::<P>(path, e.to_string()))
    }
}

impl<P: DeserializeOwned> ServiceInstance<P> {
    /// Reads an instance node's data; `path` only names the node in the error, an
    /// [`Error::Codec`] saying what is wrong (not JSON, not an object, a field of the wrong
    /// type, a payload that is not a `P`).
    pub fn from_json(bytes: &[u8], path: &str) -> Result<ServiceInstance<P>, Error> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| codec_error::<P>(path, format!("not JSON: {e}")))?;
        from_value(value).map_err(|reason| codec_error::<P>(path, reason))
    }
}

fn codec_error<P>(path: &str, reason: String) -> Error {
    crate::codec::CodecError::new(std::any::type_name::<ServiceInstance<P>>(), reason).with_path(path)
}

impl<P: Serialize> Serialize for ServiceInstance<P> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("ServiceInstance", 10)?;
        s.serialize_field("name", &self.name)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("address", &self.address)?;
        s.serialize_field("port", &self.port)?;
        s.serialize_field("sslPort", &self.ssl_port)?;
        let payload = match &self.payload {
            Some(p) => {
                let value = serde_json::to_value(p).map_err(|e| S::Error::custom(format!("payload: {e}")))?;
                wrap_payload(value, self.payload_class.as_deref())
            }
            None => Value::Null,
        };
        s.serialize_field("payload", &payload)?;
        s.serialize_field("registrationTimeUTC", &self.registration_time_utc)?;
        s.serialize_field("serviceType", self.service_type.as_str())?;
        s.serialize_field("uriSpec", &self.uri_spec.as_ref().map(uri_spec_value))?;
        // Curator's default serializer (compatibleSerializationMode) leaves `enabled` out, for
        // readers older than the field; readers take a missing one as true. So it is written
        // only when it says something: false.
        if !self.enabled {
            s.serialize_field("enabled", &false)?;
        } else {
            s.skip_field("enabled")?;
        }
        s.end()
    }
}

impl<'de, P: DeserializeOwned> Deserialize<'de> for ServiceInstance<P> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_value(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

/// Jackson's type information for the payload: an object carries its class as `"@class"`;
/// anything else with a class (and every array, which Jackson never writes bare) is wrapped as
/// `[class, value]`. Strings, numbers, booleans and null without a class go bare, as Jackson
/// writes its "natural" types.
fn wrap_payload(value: Value, class: Option<&str>) -> Value {
    match (value, class) {
        (Value::Object(mut fields), Some(class)) => {
            fields.insert(CLASS_PROPERTY.to_owned(), Value::String(class.to_owned()));
            Value::Object(fields)
        }
        (Value::Array(items), class) => {
            Value::Array(vec![Value::String(class.unwrap_or(JAVA_LIST).to_owned()), Value::Array(items)])
        }
        (value, Some(class)) if !value.is_null() && !value.is_object() => {
            Value::Array(vec![Value::String(class.to_owned()), value])
        }
        (value, _) => value,
    }
}

/// The inverse of [`wrap_payload`]: the payload's value and its Java class, if it names one.
fn unwrap_payload(value: Value) -> (Value, Option<String>) {
    match value {
        Value::Object(mut fields) => match fields.remove(CLASS_PROPERTY) {
            Some(Value::String(class)) => (Value::Object(fields), Some(class)),
            Some(other) => {
                fields.insert(CLASS_PROPERTY.to_owned(), other);
                (Value::Object(fields), None)
            }
            None => (Value::Object(fields), None),
        },
        Value::Array(mut items) if items.len() == 2 && items[0].is_string() => {
            let value = items.pop().unwrap_or(Value::Null);
            match items.pop() {
                Some(Value::String(class)) => (value, Some(class)),
                _ => (value, None),
            }
        }
        other => (other, None),
    }
}

fn uri_spec_value(spec: &UriSpec) -> Value {
    let parts = spec
        .parts
        .iter()
        .map(|p| {
            let mut part = Map::new();
            part.insert("value".into(), Value::String(p.value.clone()));
            part.insert("variable".into(), Value::Bool(p.variable));
            Value::Object(part)
        })
        .collect();
    let mut spec = Map::new();
    spec.insert("parts".into(), Value::Array(parts));
    Value::Object(spec)
}

/// What a JSON value is, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong(field: &str, expected: &str, found: &Value) -> String {
    format!("{field}: expected {expected}, found {}", kind(found))
}

/// A field that may be missing or null (then `None`), else must be what `read` accepts.
fn optional<T>(
    fields: &mut Map<String, Value>,
    field: &str,
    expected: &str,
    read: impl FnOnce(&Value) -> Option<T>,
) -> Result<Option<T>, String> {
    match fields.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => read(&value).map(Some).ok_or_else(|| wrong(field, expected, &value)),
    }
}

fn string(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

fn port(value: &Value) -> Option<u16> {
    value.as_u64().and_then(|p| u16::try_from(p).ok())
}

/// Reads an instance as Curator's Jackson does: unknown fields are ignored, missing optional
/// ones take `ServiceInstance`'s defaults (`DYNAMIC`, enabled); `name` and `id` are required
/// (Curator never writes an instance without them), and a field of the wrong type is an error.
fn from_value<P: DeserializeOwned>(value: Value) -> Result<ServiceInstance<P>, String> {
    let Value::Object(mut fields) = value else {
        return Err(format!("expected a JSON object, found {}", kind(&value)));
    };
    let name = optional(&mut fields, "name", "a string", string)?.ok_or("name: missing")?;
    let id = optional(&mut fields, "id", "a string", string)?.ok_or("id: missing")?;
    let address = optional(&mut fields, "address", "a string", string)?;
    let port_ = optional(&mut fields, "port", "a port number (0-65535)", port)?;
    let ssl_port = optional(&mut fields, "sslPort", "a port number (0-65535)", port)?;
    let registration_time_utc =
        optional(&mut fields, "registrationTimeUTC", "milliseconds since the epoch", Value::as_i64)?.unwrap_or(0);
    let service_type = optional(&mut fields, "serviceType", "DYNAMIC, STATIC, PERMANENT or DYNAMIC_SEQUENTIAL", |v| {
        v.as_str().and_then(ServiceType::from_name)
    })?
    .unwrap_or_default();
    let uri_spec = optional(&mut fields, "uriSpec", "an object with parts", read_uri_spec)?;
    let enabled = optional(&mut fields, "enabled", "a boolean", Value::as_bool)?.unwrap_or(true);
    let (payload, payload_class) = match fields.remove("payload") {
        None | Some(Value::Null) => (None, None),
        Some(value) => {
            let (value, class) = unwrap_payload(value);
            let payload = P::deserialize(value).map_err(|e| format!("payload: {e}"))?;
            (Some(payload), class)
        }
    };
    Ok(ServiceInstance {
        name,
        id,
        address,
        port: port_,
        ssl_port,
        payload,
        payload_class,
        registration_time_utc,
        service_type,
        uri_spec,
        enabled,
    })
}

/// `{"parts":[{"value":…,"variable":…}]}`; a part's missing value is empty and missing flag
/// false, as Jackson leaves `UriSpec.Part`'s defaults.
fn read_uri_spec(value: &Value) -> Option<UriSpec> {
    let parts = match value.get("parts") {
        None | Some(Value::Null) => return value.is_object().then(UriSpec::default),
        Some(parts) => parts.as_array()?,
    };
    let parts = parts
        .iter()
        .map(|part| {
            let value = match part.get("value") {
                None | Some(Value::Null) => String::new(),
                Some(v) => v.as_str()?.to_owned(),
            };
            let variable = match part.get("variable") {
                None | Some(Value::Null) => false,
                Some(v) => v.as_bool()?,
            };
            Some(UriPart { value, variable })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(UriSpec { parts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn curators_json_reads_with_its_payload_class() {
        // As Curator 5.4's JsonInstanceSerializer writes an instance with a POJO payload.
        let java = br#"{"name":"api","id":"6f1c","address":"10.0.0.7","port":8080,"sslPort":null,
            "payload":{"@class":"com.example.Details","zone":"eu-1"},"registrationTimeUTC":1700000000000,
            "serviceType":"DYNAMIC","uriSpec":{"parts":[{"value":"scheme","variable":true},{"value":"://","variable":false}]}}"#;
        let i: ServiceInstance = ServiceInstance::from_json(java, "/s/api/6f1c").unwrap();
        assert_eq!((i.name.as_str(), i.id.as_str(), i.port, i.ssl_port), ("api", "6f1c", Some(8080), None));
        assert_eq!(i.payload, Some(json!({"zone": "eu-1"})));
        assert_eq!(i.payload_class.as_deref(), Some("com.example.Details"));
        assert!(i.enabled, "a missing `enabled` is true");
        assert_eq!(i.uri_spec.as_ref().map(|u| u.parts.len()), Some(2));
        // Written back: the same class, so Java reads its own type again.
        let back: Value = serde_json::from_slice(&i.to_json().unwrap()).unwrap();
        assert_eq!(back["payload"], json!({"@class": "com.example.Details", "zone": "eu-1"}));
        assert_eq!(back["sslPort"], Value::Null);
        assert!(back.get("enabled").is_none(), "Curator's default leaves `enabled` out");
    }

    #[test]
    fn payload_wrapping_round_trips() {
        for (payload, class, wire) in [
            (json!([1, 2]), None, json!(["java.util.ArrayList", [1, 2]])),
            (json!(5), Some("java.lang.Long"), json!(["java.lang.Long", 5])),
            (json!("text"), None, json!("text")),
            (json!({"a": 1}), None, json!({"a": 1})),
        ] {
            let wrapped = wrap_payload(payload.clone(), class);
            assert_eq!(wrapped, wire);
            let (value, _) = unwrap_payload(wrapped);
            assert_eq!(value, payload);
        }
    }

    #[test]
    fn garbage_is_a_codec_error_naming_the_node() {
        for (bytes, says) in [
            (&b"not json"[..], "not JSON"),
            (b"[1]", "expected a JSON object"),
            (br#"{"id":"x"}"#, "name: missing"),
            (br#"{"name":"a","id":"x","port":70000}"#, "port: expected a port number"),
            (br#"{"name":"a","id":"x","serviceType":"SOMETIMES"}"#, "serviceType"),
        ] {
            match ServiceInstance::<Value>::from_json(bytes, "/s/a/x") {
                Err(Error::Codec { path, source }) => {
                    assert_eq!(path.as_deref(), Some("/s/a/x"));
                    let reason = source.to_string();
                    assert!(reason.contains(says), "{reason:?} should say {says:?}");
                }
                other => panic!("{other:?}"),
            }
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Typed {
            weight: u32,
        }
        let wrong_payload = br#"{"name":"a","id":"x","payload":{"weight":"heavy"}}"#;
        assert!(matches!(ServiceInstance::<Typed>::from_json(wrong_payload, "/p"), Err(Error::Codec { .. })));
    }

    #[test]
    fn a_disabled_instance_says_so() {
        let i = ServiceInstance::builder("a").enabled(false).build();
        let back: Value = serde_json::from_slice(&i.to_json().unwrap()).unwrap();
        assert_eq!(back["enabled"], json!(false));
        let read: ServiceInstance = serde_json::from_value(back).unwrap();
        assert!(!read.enabled);
        // Curator with compatibleSerializationMode off writes it always.
        let full = br#"{"name":"a","id":"x","enabled":true,"payload":"text"}"#;
        let read: ServiceInstance<String> = ServiceInstance::from_json(full, "/p").unwrap();
        assert!(read.enabled);
        assert_eq!(read.payload.as_deref(), Some("text"));
    }
}
