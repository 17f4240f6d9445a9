//! Finding a Java runtime and the ZooKeeper class path.
//!
//! Order, first match wins:
//! 1. `ZOOKEEPER_CLASSPATH`: a complete Java class path, used as is.
//! 2. `ZOOKEEPER_HOME`: an unpacked Apache release; `conf/` (for its logback.xml) plus every jar in
//!    `lib/` and at the top level.
//! 3. The Debian/Ubuntu package `zookeeper` (`/usr/share/java/zookeeper.jar`, whose manifest lists its
//!    dependencies), plus `slf4j-simple.jar` when present so the server's log is not silently lost.
//!
//! Java: `$JAVA_HOME/bin/java`, else `java` on `PATH`, else `/usr/bin/java`.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};

use super::error::HarnessError;

/// Environment variable holding a complete Java class path for ZooKeeper.
pub const CLASSPATH_ENV: &str = "ZOOKEEPER_CLASSPATH";
/// Environment variable naming an unpacked Apache ZooKeeper release.
pub const HOME_ENV: &str = "ZOOKEEPER_HOME";

const DEBIAN_JAVA_DIR: &str = "/usr/share/java";

/// Where ZooKeeper is listed as coming from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstallSource {
    /// `ZOOKEEPER_CLASSPATH`.
    ClassPathEnv,
    /// `ZOOKEEPER_HOME`, at this path.
    Home(PathBuf),
    /// The Debian package, under this directory.
    Debian(PathBuf),
}

/// A Java runtime plus a class path that contains ZooKeeper: everything needed to launch a server.
#[derive(Debug, Clone)]
pub struct Installation {
    java: PathBuf,
    classpath: OsString,
    source: InstallSource,
}

impl Installation {
    /// Finds Java and ZooKeeper: the class path from `ZOOKEEPER_CLASSPATH`, else `ZOOKEEPER_HOME`,
    /// else the Debian package; Java from `JAVA_HOME`, else `PATH`. Tests that should be
    /// skipped (rather than fail) where ZooKeeper is absent can check `Installation::locate().is_ok()`.
    pub fn locate() -> Result<Installation, HarnessError> {
        locate_in(&|key| std::env::var_os(key), Path::new(DEBIAN_JAVA_DIR))
    }

    /// The `java` executable.
    pub fn java(&self) -> &Path {
        &self.java
    }

    /// The class path passed to `java -cp`.
    pub fn classpath(&self) -> &OsStr {
        &self.classpath
    }

    /// Where the class path came from.
    pub fn source(&self) -> &InstallSource {
        &self.source
    }
}

type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

fn non_empty(env: Env<'_>, key: &str) -> Option<OsString> {
    env(key).filter(|v| !v.is_empty())
}

fn locate_in(env: Env<'_>, debian_dir: &Path) -> Result<Installation, HarnessError> {
    // ZooKeeper first: its absence is the likelier problem and the more useful message.
    let (classpath, source) = if let Some(cp) = non_empty(env, CLASSPATH_ENV) {
        (cp, InstallSource::ClassPathEnv)
    } else if let Some(home) = non_empty(env, HOME_ENV) {
        let home = PathBuf::from(home);
        (home_classpath(&home)?, InstallSource::Home(home))
    } else {
        (debian_classpath(debian_dir)?, InstallSource::Debian(debian_dir.to_path_buf()))
    };
    let java = find_java(env)?;
    tracing::debug!(java = %java.display(), ?source, "located ZooKeeper");
    Ok(Installation { java, classpath, source })
}

fn jars_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut jars: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|ext| ext == "jar"))
        .collect();
    jars.sort();
    jars
}

fn join(paths: &[PathBuf]) -> Result<OsString, HarnessError> {
    std::env::join_paths(paths)
        .map_err(|e| HarnessError::ZooKeeperNotFound { reason: format!("cannot build a class path: {e}") })
}

fn home_classpath(home: &Path) -> Result<OsString, HarnessError> {
    if !home.is_dir() {
        return Err(HarnessError::ZooKeeperNotFound {
            reason: format!("{HOME_ENV}={} is not a directory", home.display()),
        });
    }
    let mut entries = Vec::new();
    let conf = home.join("conf");
    if conf.is_dir() {
        entries.push(conf);
    }
    let jars: Vec<PathBuf> = jars_in(&home.join("lib")).into_iter().chain(jars_in(home)).collect();
    let has_zookeeper = jars.iter().any(|j| {
        j.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("zookeeper") && !n.contains("jute"))
    });
    if !has_zookeeper {
        return Err(HarnessError::ZooKeeperNotFound {
            reason: format!("no zookeeper-*.jar in {} or {}/lib", home.display(), home.display()),
        });
    }
    entries.extend(jars);
    join(&entries)
}

fn debian_classpath(dir: &Path) -> Result<OsString, HarnessError> {
    let jar = dir.join("zookeeper.jar");
    if !jar.is_file() {
        return Err(HarnessError::ZooKeeperNotFound {
            reason: format!("{CLASSPATH_ENV} and {HOME_ENV} are unset and {} does not exist", jar.display()),
        });
    }
    let mut entries = vec![jar];
    // The package's jar depends on slf4j-api but ships no binding; without one the server's log
    // is empty. And its manifest leaves out netty's codec (and what it needs), which the Netty
    // connection factory — TLS on `secureClientPort` — cannot run without.
    for extra in ["slf4j-simple.jar", "netty-codec.jar", "netty-resolver.jar", "netty-transport-native-unix-common.jar"]
    {
        let extra = dir.join(extra);
        if extra.is_file() {
            entries.push(extra);
        }
    }
    join(&entries)
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = fs::metadata(path) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

fn java_name() -> &'static str {
    if cfg!(windows) {
        "java.exe"
    } else {
        "java"
    }
}

fn find_java(env: Env<'_>) -> Result<PathBuf, HarnessError> {
    let mut candidates = Vec::new();
    if let Some(home) = non_empty(env, "JAVA_HOME") {
        candidates.push(PathBuf::from(home).join("bin").join(java_name()));
    }
    if let Some(path) = env("PATH") {
        candidates.extend(std::env::split_paths(&path).filter(|d| d.is_absolute()).map(|d| d.join(java_name())));
    }
    candidates.push(PathBuf::from("/usr/bin/java"));
    match candidates.iter().find(|c| is_executable(c)) {
        Some(java) => Ok(java.clone()),
        None => {
            candidates.dedup();
            Err(HarnessError::JavaNotFound { searched: candidates })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn touch(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, b"").unwrap();
    }

    fn fake_java(dir: &Path) -> PathBuf {
        let java = dir.join("jdk/bin/java");
        touch(&java);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&java, fs::Permissions::from_mode(0o755)).unwrap();
        }
        java
    }

    fn env_of(vars: &[(&str, OsString)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = vars.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn classpath_env_wins() {
        let dir = tempfile::tempdir().unwrap();
        let java = fake_java(dir.path());
        let env = env_of(&[
            (CLASSPATH_ENV, "/x/a.jar:/x/b.jar".into()),
            (HOME_ENV, "/nonexistent".into()),
            ("JAVA_HOME", dir.path().join("jdk").into()),
        ]);
        let install = locate_in(&env, Path::new("/nonexistent")).unwrap();
        assert_eq!(install.classpath(), "/x/a.jar:/x/b.jar");
        assert_eq!(install.java(), java);
        assert_eq!(install.source(), &InstallSource::ClassPathEnv);
    }

    #[test]
    fn home_lists_conf_and_jars() {
        let dir = tempfile::tempdir().unwrap();
        fake_java(dir.path());
        let home = dir.path().join("zk");
        fs::create_dir_all(home.join("conf")).unwrap();
        touch(&home.join("lib/zookeeper-3.9.1.jar"));
        touch(&home.join("lib/netty.jar"));
        touch(&home.join("lib/README.txt"));
        touch(&home.join("extra.jar"));
        let env = env_of(&[(HOME_ENV, home.clone().into()), ("PATH", dir.path().join("jdk/bin").into())]);
        let install = locate_in(&env, Path::new("/nonexistent")).unwrap();
        let parts: Vec<PathBuf> = std::env::split_paths(install.classpath()).collect();
        assert_eq!(
            parts,
            vec![
                home.join("conf"),
                home.join("lib/netty.jar"),
                home.join("lib/zookeeper-3.9.1.jar"),
                home.join("extra.jar")
            ]
        );
    }

    #[test]
    fn home_without_zookeeper_jar_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("lib/netty.jar"));
        let env = env_of(&[(HOME_ENV, dir.path().into())]);
        let err = locate_in(&env, Path::new("/nonexistent")).unwrap_err();
        assert!(matches!(err, HarnessError::ZooKeeperNotFound { .. }), "{err}");
        assert!(err.to_string().contains("apt-get install zookeeper"), "{err}");
    }

    #[test]
    fn debian_layout_adds_slf4j_simple() {
        let dir = tempfile::tempdir().unwrap();
        let java = fake_java(dir.path());
        touch(&dir.path().join("share/zookeeper.jar"));
        touch(&dir.path().join("share/slf4j-simple.jar"));
        let env = env_of(&[("JAVA_HOME", dir.path().join("jdk").into())]);
        let install = locate_in(&env, &dir.path().join("share")).unwrap();
        let parts: Vec<PathBuf> = std::env::split_paths(install.classpath()).collect();
        assert_eq!(parts, vec![dir.path().join("share/zookeeper.jar"), dir.path().join("share/slf4j-simple.jar")]);
        assert_eq!(install.java(), java);
    }

    #[test]
    fn nothing_installed_names_the_package() {
        let env = env_of(&[]);
        let err = locate_in(&env, Path::new("/nonexistent")).unwrap_err();
        assert!(err.to_string().contains("apt-get install zookeeper"), "{err}");
    }

    #[test]
    fn missing_java_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let env = env_of(&[
            (CLASSPATH_ENV, "/x/zookeeper.jar".into()),
            ("JAVA_HOME", dir.path().into()),
            ("PATH", dir.path().into()),
        ]);
        match locate_in(&env, Path::new("/nonexistent")) {
            // A real /usr/bin/java (the last resort) is allowed to satisfy this.
            Ok(install) => assert_eq!(install.java(), Path::new("/usr/bin/java")),
            Err(err) => {
                assert!(matches!(err, HarnessError::JavaNotFound { .. }), "{err}");
                assert!(err.to_string().contains(&dir.path().join("bin/java").display().to_string()), "{err}");
            }
        }
    }
}
