//! A real Apache ZooKeeper for tests: standalone servers, ensembles and a fault-injecting proxy.
//!
//! Like Curator's `TestingServer` and `TestingCluster`, this runs the actual Java server, so tests
//! exercise the real protocol, real session expiry and real leader elections, not a mock.
//!
//! Enable it for your own tests with the `testing` feature:
//!
//! ```toml
//! [dev-dependencies]
//! zk-dsl = { version = "0.1", features = ["testing"] }
//! ```
//!
//! ```no_run
//! use zk_dsl::testing::{four_letter, FaultProxy, ZkServer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = ZkServer::start()?; // a free port on 127.0.0.1, a temp data dir
//! assert_eq!(four_letter(server.address(), "ruok")?, "imok");
//!
//! // Put a proxy between client and server to cut or stall the connection.
//! let proxy = FaultProxy::start(server.address())?;
//! let connect_string = proxy.connect_string(); // give this to the client
//! proxy.blackhole(true); // ... the session expires on the server ...
//! proxy.blackhole(false);
//!
//! server.restart()?; // same port and data: sessions may resume
//! # drop(connect_string);
//! # Ok(())
//! # }
//! // Dropping `server` kills the JVM and deletes its directory.
//! ```
//!
//! # Finding ZooKeeper and Java
//!
//! The class path comes from, in order: `ZOOKEEPER_CLASSPATH` (a complete Java class path),
//! `ZOOKEEPER_HOME` (an unpacked Apache release: `conf/`, `lib/*.jar` and `*.jar`), or the Debian and
//! Ubuntu package (`apt-get install zookeeper`, which puts `/usr/share/java/zookeeper.jar` in place).
//! Java is `$JAVA_HOME/bin/java`, else `java` on `PATH`. When something is missing the error says
//! what to install; [`Installation::locate`] lets a test check beforehand and skip.
//!
//! # Timeouts
//!
//! Every wait is scaled by `ZK_TEST_TIMEOUT_SCALE` (default 1.0) through [`scaled`]; use it for the
//! timeouts in your own tests too, so a slow CI machine needs one variable, not code changes.
//!
//! # Processes
//!
//! Each server is a JVM in its own process group with its log in its directory
//! ([`ZkServer::log_path`], [`ZkServer::log_tail`]). Dropping a server or ensemble kills its JVMs and
//! waits for them. A small watchdog process kills a JVM even if the test process dies without running
//! destructors (a signal, an abort, a server kept in a `static`), so no JVM outlives the tests.
//! Servers never use port 2181, so a ZooKeeper already running on the machine is never touched.
//!
//! The server, ensemble and four-letter-word APIs block; [`four_letter_async`] is the async variant.
//! [`FaultProxy`] runs its own runtime thread and works from sync and async tests alike.

mod certs;
mod config;
mod ensemble;
mod error;
mod four_letter;
mod install;
mod jvm;
mod log;
mod mode;
mod node;
mod ports;
mod proxy;
mod security;
mod server;
mod timeouts;
mod watchdog;

pub use certs::{IssuedCert, TestCa};
pub use ensemble::{Ensemble, EnsembleBuilder, Member};
pub use error::HarnessError;
pub use four_letter::{four_letter, four_letter_async, four_letter_with_timeout, session_ids_from_cons};
pub use install::{InstallSource, Installation, CLASSPATH_ENV, HOME_ENV};
pub use mode::Mode;
pub use proxy::FaultProxy;
pub use security::ClientAuth;
pub use server::{ZkServer, ZkServerBuilder};
pub use timeouts::{scaled, timeout_scale, BASE_TIMEOUT, TIMEOUT_SCALE_ENV};
