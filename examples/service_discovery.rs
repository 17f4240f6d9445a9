//! Service discovery shared with Java services on Apache Curator's `curator-x-discovery`: one
//! process registers an instance of a service; others find the service's instances, and print
//! them whenever they change.
//!
//! ```sh
//! cargo run --example service_discovery -- register [CONNECT [NAME [PORT [ADDRESS]]]]
//! cargo run --example service_discovery -- find [CONNECT [NAME]]
//! ```
//!
//! `CONNECT` defaults to `$ZK_CONNECT`, then `127.0.0.1:2181`; `NAME` to `api`; `PORT` to
//! 8080; `ADDRESS` to `127.0.0.1`. Pass `-` to keep a default. The registry lives under
//! `/example-services` (`$ZK_DISCOVERY_BASE` overrides it), Curator's layout: a Java service
//! with `ServiceDiscoveryBuilder.builder(Map.class).basePath("/example-services")` sees the
//! same instances. Start `find` in one terminal and `register` (with different ports) in
//! others: the finder prints each change; Ctrl-C a registered instance (or close its standard
//! input) and it disappears at once, kill it (`kill -9`) and it disappears when its session
//! times out (5 s).
//!
//! Output: `register` prints `REGISTERED <name> <id> <uri>` and, at the end, `UNREGISTERED
//! <name> <id>`; `find` prints `INSTANCES <name> <uri>,<uri>,...` (sorted; `-` for none) at
//! start and after every change, `PICKED <name> <uri>` (round-robin) after each, and `STOPPED
//! <name>` at the end.

mod common;

use common::{arg, exit, stdin_closed};
use std::process::ExitCode;
use std::time::Duration;

use zk_dsl::recipes::discovery::{ServiceDiscovery, ServiceInstance, ServiceProvider, UriSpec};
use zk_dsl::Client;

const SESSION_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    exit("service_discovery", run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mode = arg(1).unwrap_or_default();
    let connect_string = arg(2).or_else(|| std::env::var("ZK_CONNECT").ok()).unwrap_or_else(|| "127.0.0.1:2181".into());
    let name = arg(3).unwrap_or_else(|| "api".into());
    let base = std::env::var("ZK_DISCOVERY_BASE").unwrap_or_else(|_| "/example-services".into());
    let client = Client::connect(connect_string).session_timeout(SESSION_TIMEOUT).await?;
    let discovery: ServiceDiscovery = ServiceDiscovery::new(&client, base);
    match mode.as_str() {
        "register" => {
            let port: u16 = arg(4).map(|p| p.parse()).transpose()?.unwrap_or(8080);
            let address = arg(5).unwrap_or_else(|| "127.0.0.1".into());
            register(&discovery, &name, port, &address).await?;
        }
        "find" => find(&discovery, &name).await?,
        other => return Err(format!("the first argument is register or find, not {other:?}").into()),
    }
    client.close().await?;
    Ok(())
}

async fn register(discovery: &ServiceDiscovery, name: &str, port: u16, address: &str) -> zk_dsl::Result<()> {
    let me = ServiceInstance::builder(name)
        .address(address)
        .port(port)
        .payload(serde_json::json!({ "pid": std::process::id() }))
        .uri_spec(UriSpec::new("{scheme}://{address}:{port}").expect("a valid template"))
        .build();
    // Kept registered while the session lives, even if someone deletes the node.
    discovery.register(&me).await?;
    println!("REGISTERED {name} {} {}", me.id, me.uri());
    stdin_closed().await;
    discovery.unregister(&me.id).await?;
    println!("UNREGISTERED {name} {}", me.id);
    Ok(())
}

async fn find(discovery: &ServiceDiscovery, name: &str) -> zk_dsl::Result<()> {
    let mut provider = discovery.provider(name).track_changes(true).start().await?;
    let mut stop = stdin_closed();
    loop {
        report(name, &provider);
        tokio::select! {
            changed = provider.changed() => if changed.is_none() { break },
            _ = &mut stop => break,
        }
    }
    println!("STOPPED {name}");
    Ok(())
}

fn report(name: &str, provider: &ServiceProvider) {
    let mut uris: Vec<String> = provider.all_instances().iter().map(ServiceInstance::uri).collect();
    uris.sort();
    println!("INSTANCES {name} {}", if uris.is_empty() { "-".to_owned() } else { uris.join(",") });
    for error in provider.unreadable() {
        eprintln!("skipping a node that is not an instance: {error}");
    }
    if let Some(picked) = provider.get_instance() {
        println!("PICKED {name} {}", picked.uri());
    }
}
