//! `zoo.cfg` for a test server: the settings a builder collects, rendered as a Java properties file.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use super::error::HarnessError;

/// Four-letter words the harness uses to watch its servers; always allowed.
pub(crate) const HARNESS_COMMANDS: &[&str] = &["ruok", "srvr", "cons"];

/// Server-side settings shared by standalone servers and ensemble members.
#[derive(Debug, Clone)]
pub(crate) struct ServerSettings {
    pub(crate) tick_time: Duration,
    pub(crate) min_session_timeout: Option<Duration>,
    pub(crate) max_session_timeout: Option<Duration>,
    pub(crate) force_sync: bool,
    pub(crate) four_letter_whitelist: String,
    pub(crate) snap_count: u64,
    /// Extra `key=value` lines, written last so they override the defaults above.
    pub(crate) extra: Vec<(String, String)>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            // ZooKeeper's default is 2 s; 500 ms gives a 1 s minimum session timeout, so expiry tests are quick.
            tick_time: Duration::from_millis(500),
            min_session_timeout: None,
            max_session_timeout: None,
            force_sync: false,
            four_letter_whitelist: "*".to_string(),
            snap_count: 10_000_000,
            extra: Vec::new(),
        }
    }
}

/// One ensemble member as every member's config lists it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer {
    pub(crate) id: u32,
    pub(crate) quorum_port: u16,
    pub(crate) election_port: u16,
    pub(crate) client_port: u16,
}

impl Peer {
    /// The member's line in a dynamic configuration, as `reconfig` takes it too.
    pub(crate) fn config_line(&self) -> String {
        format!(
            "server.{}=127.0.0.1:{}:{}:participant;127.0.0.1:{}",
            self.id, self.quorum_port, self.election_port, self.client_port
        )
    }
}

/// What only ensemble members need.
#[derive(Debug, Clone)]
pub(crate) struct QuorumSettings {
    pub(crate) init_limit: u32,
    pub(crate) sync_limit: u32,
    pub(crate) peers: Vec<Peer>,
    /// With dynamic reconfiguration: the file the members are listed in (`zoo.cfg.dynamic`)
    /// instead of `zoo.cfg`, with their client addresses.
    pub(crate) dynamic_file: Option<std::path::PathBuf>,
}

impl QuorumSettings {
    /// The text of the dynamic configuration file: one line per member, no version (the
    /// server starts from the one its data directory or the leader has).
    pub(crate) fn dynamic_config(&self) -> String {
        self.peers.iter().map(|p| p.config_line() + "\n").collect()
    }
}

fn millis(what: &str, d: Duration) -> Result<u64, HarnessError> {
    let ms = d.as_millis();
    if ms == 0 || ms > i32::MAX as u128 {
        return Err(HarnessError::InvalidConfig(format!("{what} must be between 1 ms and {} ms, got {d:?}", i32::MAX)));
    }
    // Just checked to be at most i32::MAX.
    Ok(ms as u64)
}

fn check_key(key: &str) -> Result<(), HarnessError> {
    let bad = key.is_empty()
        || key.starts_with('#')
        || key.starts_with('!')
        || key.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '=' | ':' | '\\'));
    if bad {
        return Err(HarnessError::InvalidConfig(format!("{key:?} is not a usable zoo.cfg key")));
    }
    Ok(())
}

/// A value as Java's `Properties.load` will read it back: no line breaks, backslashes escaped.
fn escape_value(key: &str, value: &str) -> Result<String, HarnessError> {
    if value.chars().any(|c| c.is_control()) {
        return Err(HarnessError::InvalidConfig(format!("the zoo.cfg value for {key} contains a control character")));
    }
    let escaped = value.replace('\\', "\\\\");
    // Leading whitespace would be dropped by the parser; escape it so it survives.
    Ok(match escaped.strip_prefix(' ') {
        Some(rest) => format!("\\ {rest}"),
        None => escaped,
    })
}

impl ServerSettings {
    /// Checks everything that can be checked before a JVM is spent on it.
    pub(crate) fn validate(&self) -> Result<(), HarnessError> {
        let tick = millis("tick time", self.tick_time)?;
        let min = self.min_session_timeout.map(|d| millis("min session timeout", d)).transpose()?;
        let max = self.max_session_timeout.map(|d| millis("max session timeout", d)).transpose()?;
        let effective_min = min.unwrap_or(2 * tick);
        let effective_max = max.unwrap_or(20 * tick);
        if effective_min > effective_max {
            return Err(HarnessError::InvalidConfig(format!(
                "min session timeout ({effective_min} ms) exceeds max session timeout ({effective_max} ms)"
            )));
        }
        for (key, value) in &self.extra {
            check_key(key)?;
            escape_value(key, value)?;
        }
        escape_value("4lw.commands.whitelist", &self.four_letter_whitelist)?;
        Ok(())
    }

    /// The configured whitelist plus the words the harness itself relies on.
    fn whitelist_with_harness_commands(&self) -> String {
        let list = self.four_letter_whitelist.trim();
        let words: Vec<&str> = list.split(',').map(str::trim).filter(|w| !w.is_empty()).collect();
        if words.contains(&"*") {
            return "*".to_string();
        }
        let mut all: Vec<&str> = words;
        for needed in HARNESS_COMMANDS {
            if !all.contains(needed) {
                all.push(needed);
            }
        }
        all.join(",")
    }

    /// The text of `zoo.cfg` for a server with this data directory and client port.
    pub(crate) fn render(
        &self,
        data_dir: &Path,
        client_port: u16,
        quorum: Option<&QuorumSettings>,
    ) -> Result<String, HarnessError> {
        self.validate()?;
        let data_dir = data_dir
            .to_str()
            .ok_or_else(|| HarnessError::InvalidConfig(format!("data dir {} is not UTF-8", data_dir.display())))?;
        let mut lines: Vec<(String, String)> = vec![
            ("tickTime".into(), millis("tick time", self.tick_time)?.to_string()),
            ("dataDir".into(), data_dir.to_string()),
        ];
        let dynamic_file = quorum.and_then(|q| q.dynamic_file.as_deref());
        if dynamic_file.is_none() {
            // With a dynamic file, each member's client address is in its line there.
            lines.push(("clientPort".into(), client_port.to_string()));
            lines.push(("clientPortAddress".into(), "127.0.0.1".into()));
        }
        lines.extend([
            ("forceSync".into(), if self.force_sync { "yes" } else { "no" }.into()),
            ("snapCount".into(), self.snap_count.to_string()),
            ("admin.enableServer".into(), "false".into()),
            ("4lw.commands.whitelist".into(), self.whitelist_with_harness_commands()),
            ("maxClientCnxns".into(), "0".into()),
        ]);
        if let Some(min) = self.min_session_timeout {
            lines.push(("minSessionTimeout".into(), millis("min session timeout", min)?.to_string()));
        }
        if let Some(max) = self.max_session_timeout {
            lines.push(("maxSessionTimeout".into(), millis("max session timeout", max)?.to_string()));
        }
        if let Some(q) = quorum {
            lines.push(("initLimit".into(), q.init_limit.max(1).to_string()));
            lines.push(("syncLimit".into(), q.sync_limit.max(1).to_string()));
            if let Some(file) = dynamic_file {
                let file = file.to_str().ok_or_else(|| {
                    HarnessError::InvalidConfig(format!("dynamic config file {} is not UTF-8", file.display()))
                })?;
                lines.push(("reconfigEnabled".into(), "true".into()));
                lines.push(("standaloneEnabled".into(), "false".into()));
                lines.push(("dynamicConfigFile".into(), file.to_owned()));
            }
            for peer in q.peers.iter().filter(|_| dynamic_file.is_none()) {
                lines.push((
                    format!("server.{}", peer.id),
                    format!("127.0.0.1:{}:{}", peer.quorum_port, peer.election_port),
                ));
            }
        }
        lines.extend(self.extra.iter().cloned());

        let mut text = String::from("# Written by zk_dsl::testing for a throw-away test server.\n");
        for (key, value) in &lines {
            check_key(key)?;
            // Writing to a String cannot fail.
            let _ = writeln!(text, "{key}={}", escape_value(key, value)?);
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standalone_config_has_the_test_defaults() {
        let cfg = ServerSettings::default().render(Path::new("/tmp/zk/data"), 40123, None).unwrap();
        for line in [
            "tickTime=500",
            "dataDir=/tmp/zk/data",
            "clientPort=40123",
            "clientPortAddress=127.0.0.1",
            "forceSync=no",
            "admin.enableServer=false",
            "4lw.commands.whitelist=*",
            "maxClientCnxns=0",
            "snapCount=10000000",
        ] {
            assert!(cfg.lines().any(|l| l == line), "missing {line} in\n{cfg}");
        }
        assert!(!cfg.contains("server.1"));
    }

    #[test]
    fn quorum_lines_and_overrides() {
        let settings = ServerSettings {
            max_session_timeout: Some(Duration::from_secs(30)),
            extra: vec![("extendedTypesEnabled".into(), "true".into())],
            ..ServerSettings::default()
        };
        let quorum = QuorumSettings {
            init_limit: 10,
            sync_limit: 5,
            peers: vec![
                Peer { id: 1, quorum_port: 1001, election_port: 1002, client_port: 1003 },
                Peer { id: 2, quorum_port: 2001, election_port: 2002, client_port: 2003 },
            ],
            dynamic_file: None,
        };
        let cfg = settings.render(Path::new("/d"), 1, Some(&quorum)).unwrap();
        assert!(cfg.contains("\nserver.1=127.0.0.1:1001:1002\n"), "{cfg}");
        assert!(cfg.contains("\nserver.2=127.0.0.1:2001:2002\n"), "{cfg}");
        assert!(cfg.contains("\ninitLimit=10\nsyncLimit=5\n"), "{cfg}");
        assert!(cfg.contains("\nmaxSessionTimeout=30000\n"), "{cfg}");
        assert!(cfg.ends_with("extendedTypesEnabled=true\n"), "{cfg}");
    }

    #[test]
    fn dynamic_reconfiguration_lists_members_in_their_own_file() {
        let quorum = QuorumSettings {
            init_limit: 10,
            sync_limit: 5,
            peers: vec![Peer { id: 1, quorum_port: 1001, election_port: 1002, client_port: 1003 }],
            dynamic_file: Some("/d/zoo.cfg.dynamic".into()),
        };
        let cfg = ServerSettings::default().render(Path::new("/d"), 1003, Some(&quorum)).unwrap();
        for line in ["reconfigEnabled=true", "standaloneEnabled=false", "dynamicConfigFile=/d/zoo.cfg.dynamic"] {
            assert!(cfg.lines().any(|l| l == line), "missing {line} in\n{cfg}");
        }
        assert!(!cfg.contains("server.1") && !cfg.contains("clientPort"), "{cfg}");
        assert_eq!(quorum.dynamic_config(), "server.1=127.0.0.1:1001:1002:participant;127.0.0.1:1003\n");
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let bad_key = ServerSettings { extra: vec![("a b".into(), "1".into())], ..ServerSettings::default() };
        assert!(bad_key.validate().is_err());
        let bad_value = ServerSettings { extra: vec![("a".into(), "1\nb=2".into())], ..ServerSettings::default() };
        assert!(bad_value.validate().is_err());
        let zero_tick = ServerSettings { tick_time: Duration::ZERO, ..ServerSettings::default() };
        assert!(zero_tick.validate().is_err());
        let inverted = ServerSettings {
            min_session_timeout: Some(Duration::from_secs(20)),
            max_session_timeout: Some(Duration::from_secs(10)),
            ..ServerSettings::default()
        };
        assert!(inverted.validate().is_err());
        let huge = ServerSettings { max_session_timeout: Some(Duration::MAX), ..ServerSettings::default() };
        assert!(huge.validate().is_err());
    }

    #[test]
    fn whitelist_keeps_the_harness_commands() {
        let restricted = ServerSettings { four_letter_whitelist: "stat, mntr".into(), ..ServerSettings::default() };
        assert_eq!(restricted.whitelist_with_harness_commands(), "stat,mntr,ruok,srvr,cons");
        let all = ServerSettings { four_letter_whitelist: "srvr,*".into(), ..ServerSettings::default() };
        assert_eq!(all.whitelist_with_harness_commands(), "*");
        let empty = ServerSettings { four_letter_whitelist: String::new(), ..ServerSettings::default() };
        assert_eq!(empty.whitelist_with_harness_commands(), "ruok,srvr,cons");
    }

    #[test]
    fn backslashes_survive() {
        assert_eq!(escape_value("k", r"a\b").unwrap(), r"a\\b");
        assert_eq!(escape_value("k", " x").unwrap(), r"\ x");
    }
}
