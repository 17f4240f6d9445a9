//! [`UriSpec`]: curator-x-discovery's URI template, `{scheme}://{address}:{port}/api`.

use super::instance::ServiceInstance;

/// One piece of a [`UriSpec`]: literal text, or the name of a variable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UriPart {
    /// The text, or the variable's name.
    pub value: String,
    /// Whether `value` names a variable.
    pub variable: bool,
}

/// A URI template as curator-x-discovery's `UriSpec`: literal text and `{variable}`s, stored as
/// its parts (`{"parts":[{"value":"scheme","variable":true}, …]}` in the JSON) so every reader
/// builds the same URI. [`build`](Self::build) fills in `scheme` (`https` when the instance
/// has an SSL port, else `http`), `name`, `id`, `address`, `port`, `ssl-port`,
/// `registration-time-utc`, `service-type`, and `[`/`]` for literal braces; unknown variables
/// become empty, as in Curator.
///
/// ```
/// use zk_dsl::recipes::discovery::{ServiceInstance, UriSpec};
///
/// let spec = UriSpec::new("{scheme}://{address}:{port}/v1")?;
/// let api = ServiceInstance::builder("api").address("10.0.0.7").port(8080).uri_spec(spec).build();
/// assert_eq!(api.uri(), "http://10.0.0.7:8080/v1");
/// # Ok::<(), zk_dsl::recipes::discovery::UriSpecError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UriSpec {
    /// The pieces, in order.
    pub parts: Vec<UriPart>,
}

/// A template whose braces do not pair up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriSpecError {
    /// What is wrong (Curator's wording).
    pub reason: &'static str,
}

impl std::fmt::Display for UriSpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid URI spec: {}", self.reason)
    }
}

impl std::error::Error for UriSpecError {}

impl UriSpec {
    /// Parses a template: `{name}` is a variable (its name trimmed), everything else literal.
    pub fn new(template: &str) -> Result<UriSpec, UriSpecError> {
        let mut parts = Vec::new();
        let mut inside = false;
        let mut rest = template;
        while !rest.is_empty() {
            let (token, after) = match rest.find(['{', '}']) {
                Some(0) => rest.split_at(1),
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            rest = after;
            match token {
                "{" if inside => {
                    return Err(UriSpecError { reason: "{ is not allowed inside of a variable specification" })
                }
                "{" => inside = true,
                "}" if !inside => return Err(UriSpecError { reason: "} must be preceded by {" }),
                "}" => inside = false,
                text => parts.push(UriPart {
                    value: if inside { text.trim().to_owned() } else { text.to_owned() },
                    variable: inside,
                }),
            }
        }
        if inside {
            return Err(UriSpecError { reason: "Final variable not closed - expected }" });
        }
        Ok(UriSpec { parts })
    }

    /// The URI for `instance`.
    pub fn build<P>(&self, instance: &ServiceInstance<P>) -> String {
        let port = |p: Option<u16>| p.map(|p| p.to_string()).unwrap_or_default();
        let mut uri = String::new();
        for part in &self.parts {
            if !part.variable {
                uri.push_str(&part.value);
                continue;
            }
            let value = match part.value.as_str() {
                "[" => "{".to_owned(),
                "]" => "}".to_owned(),
                "scheme" if instance.ssl_port.is_some() => "https".to_owned(),
                "scheme" => "http".to_owned(),
                "name" => instance.name.clone(),
                "id" => instance.id.clone(),
                "address" => instance.address.clone().unwrap_or_default(),
                "port" => port(instance.port),
                "ssl-port" => port(instance.ssl_port),
                "registration-time-utc" => instance.registration_time_utc.to_string(),
                "service-type" => instance.service_type.as_str().to_lowercase(),
                _ => String::new(),
            };
            uri.push_str(&value);
        }
        uri
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_and_build_like_curators() {
        let spec = UriSpec::new("{scheme}://{ address }:{ssl-port}/{[}x{]}").unwrap();
        let names: Vec<(&str, bool)> = spec.parts.iter().map(|p| (p.value.as_str(), p.variable)).collect();
        assert_eq!(
            names,
            [
                ("scheme", true),
                ("://", false),
                ("address", true),
                (":", false),
                ("ssl-port", true),
                ("/", false),
                ("[", true),
                ("x", false),
                ("]", true)
            ]
        );
        let i = ServiceInstance::builder("s").address("h").ssl_port(443).build();
        assert_eq!(spec.build(&i), "https://h:443/{x}");
        assert!(UriSpec::new("{a{b}}").is_err());
        assert!(UriSpec::new("a}").is_err());
        assert!(UriSpec::new("{a").is_err());
        assert_eq!(UriSpec::new("").unwrap().parts, []);
    }
}
