//! [`Ensemble`]: a real ZooKeeper quorum of 2–9 members on loopback, like Curator's `TestingCluster`.
//!
//! Members are numbered from 0 in this API; founding member `i` has ZooKeeper `myid` `i + 1`.
//!
//! With [`EnsembleBuilder::reconfig_enabled`] the members list each other in a dynamic
//! configuration file (`zoo.cfg.dynamic`) and accept ZooKeeper's `reconfig`:
//! [`Ensemble::add_member`] starts a server that joins, [`Ensemble::remove_member`] stops one
//! the ensemble no longer lists. Tests change the membership itself with a client's
//! `reconfig`, authenticated with [`Ensemble::super_auth`].

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::config::{Peer, QuorumSettings, ServerSettings};
use super::error::HarnessError;
use super::four_letter::session_ids_from_cons;
use super::install::Installation;
use super::jvm::{JvmSettings, QUORUM_MAIN};
use super::log;
use super::mode::Mode;
use super::node::{Node, NodeSpec};
use super::ports::free_ports;
use super::server::with_secure_port;
use super::server::ZkServerBuilder;
use super::timeouts::{scaled, BASE_TIMEOUT};

/// Whole-ensemble attempts when another process steals one of the ports.
const START_ATTEMPTS: usize = 3;
/// Pause between quorum probes.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Lines of each member's log in a quorum timeout error.
const MEMBER_TAIL_LINES: usize = 15;
/// The supported ensemble sizes.
const SIZES: std::ops::RangeInclusive<usize> = 2..=9;
/// The super user of reconfigurable ensembles (ZooKeeper 3.5.3+ lets only it reconfigure).
const SUPER_USER: &str = "super";
/// Its password: a test ensemble's, not a secret.
const SUPER_PASSWORD: &str = "zk-dsl-test-super";
/// The dynamic configuration file in each member's directory.
const DYNAMIC_FILE: &str = "zoo.cfg.dynamic";

/// Options for an [`Ensemble`].
#[derive(Debug, Clone)]
#[must_use]
pub struct EnsembleBuilder {
    size: usize,
    template: ZkServerBuilder,
    init_limit: u32,
    sync_limit: u32,
    quorum_timeout: Option<Duration>,
    reconfig: bool,
}

impl Default for EnsembleBuilder {
    fn default() -> Self {
        EnsembleBuilder {
            size: 3,
            template: ZkServerBuilder::default(),
            init_limit: 10,
            sync_limit: 5,
            quorum_timeout: None,
            reconfig: false,
        }
    }
}

impl EnsembleBuilder {
    /// The number of members, 2 to 9 (default 3).
    pub fn size(mut self, size: usize) -> Self {
        self.size = size;
        self
    }

    /// Server options applied to every member (tick time, session timeouts, JVM, extra `zoo.cfg`
    /// lines, ...). A fixed port set on it is ignored: each member gets its own.
    pub fn member_options(mut self, template: ZkServerBuilder) -> Self {
        self.template = template;
        self
    }

    /// Ticks a follower may take to connect and sync to a leader (`initLimit`, default 10).
    pub fn init_limit(mut self, ticks: u32) -> Self {
        self.init_limit = ticks;
        self
    }

    /// Ticks a follower may lag behind the leader (`syncLimit`, default 5).
    pub fn sync_limit(mut self, ticks: u32) -> Self {
        self.sync_limit = ticks;
        self
    }

    /// How long to wait for a quorum; default three times [`BASE_TIMEOUT`], scaled.
    pub fn quorum_timeout(mut self, timeout: Duration) -> Self {
        self.quorum_timeout = Some(timeout);
        self
    }

    /// Dynamic reconfiguration (default off): `reconfigEnabled=true`, `standaloneEnabled=false`,
    /// the members listed with their client addresses in a dynamic configuration file
    /// (`zoo.cfg.dynamic`), and a super user ([`Ensemble::super_auth`]; ZooKeeper 3.5.3+
    /// refuses `reconfig` to everyone else) through the digest provider's `superDigest`.
    pub fn reconfig_enabled(mut self, on: bool) -> Self {
        self.reconfig = on;
        self
    }

    /// Starts every member and waits until they form a quorum with one leader.
    pub fn start(self) -> Result<Ensemble, HarnessError> {
        if !SIZES.contains(&self.size) {
            return Err(HarnessError::InvalidConfig(format!(
                "an ensemble has {} to {} members, not {}",
                SIZES.start(),
                SIZES.end(),
                self.size
            )));
        }
        self.template.validate()?;
        let install = self.template.installation_or_locate()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_start(&install) {
                Err(e) if e.is_port_in_use() && attempt < START_ATTEMPTS => {
                    tracing::debug!(
                        attempt,
                        "a port was taken before ZooKeeper could bind it; retrying with new ports"
                    );
                }
                result => return result,
            }
        }
    }

    fn try_start(&self, install: &Installation) -> Result<Ensemble, HarnessError> {
        let dir = tempfile::Builder::new()
            .prefix("zk-dsl-ensemble-")
            .tempdir()
            .map_err(|e| HarnessError::io("creating a temporary directory for a ZooKeeper ensemble", e))?;
        let n = self.size;
        let tls = self.template.security.tls.is_some();
        let ports = free_ports(if tls { 4 * n } else { 3 * n })?;
        let peers: Vec<Peer> = (0..n)
            .map(|i| Peer {
                id: myid(i),
                quorum_port: ports[n + i],
                election_port: ports[2 * n + i],
                client_port: ports[i],
            })
            .collect();
        let template = &self.template;
        let mut jvm = template.jvm.clone();
        if self.reconfig {
            let digest = crate::acl::digest_id(SUPER_USER, SUPER_PASSWORD);
            jvm.system_properties.push(("zookeeper.DigestAuthenticationProvider.superDigest".into(), digest));
        }
        let (settings, jvm) = template.security.apply(dir.path(), &template.settings, &jvm)?;
        let mut ensemble = Ensemble {
            members: Vec::with_capacity(n),
            start_timeout: self.template.start_timeout_or_default(),
            quorum_timeout: self.quorum_timeout.unwrap_or_else(|| scaled(BASE_TIMEOUT * 3)),
            growth: Growth {
                install: install.clone(),
                settings,
                jvm,
                init_limit: self.init_limit,
                sync_limit: self.sync_limit,
                reconfig: self.reconfig,
                next_id: myid(n),
            },
            _dir: dir,
        };
        for (index, peer) in peers.iter().enumerate() {
            let secure_port = tls.then(|| ports[3 * n + index]);
            let member = ensemble.create_member(index, *peer, &peers, secure_port)?;
            ensemble.members.push(member);
        }
        for member in &ensemble.members {
            member.node.spawn()?;
        }
        let leader = ensemble.await_quorum(true)?;
        tracing::info!(connect = %ensemble.connect_string(), leader, "ZooKeeper test ensemble ready");
        Ok(ensemble)
    }
}

fn myid(index: usize) -> u32 {
    // Sizes are capped at 9, so this cannot truncate.
    index as u32 + 1
}

/// One member of an [`Ensemble`]: its addresses, files and four-letter words. Lifecycle
/// (stop, kill, restart) goes through the ensemble, which knows whether a quorum can form.
#[derive(Debug)]
pub struct Member {
    index: usize,
    peer: Peer,
    node: Node,
    secure_port: Option<u16>,
}

impl Member {
    /// The member's index in the ensemble (0-based).
    pub fn index(&self) -> usize {
        self.index
    }

    /// ZooKeeper's server id (`myid`): `index + 1` for the members the ensemble started with;
    /// an [added](Ensemble::add_member) member gets one more than any before.
    pub fn myid(&self) -> u32 {
        self.peer.id
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.node.address().port()
    }

    /// The client address.
    pub fn address(&self) -> SocketAddr {
        self.node.address()
    }

    /// The connect string for this member alone.
    pub fn connect_string(&self) -> String {
        self.node.address().to_string()
    }

    /// This member's TLS port (for an ensemble built from a template with TLS).
    pub fn secure_address(&self) -> Option<SocketAddr> {
        self.secure_port.map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// The port followers use to talk to the leader.
    pub fn quorum_port(&self) -> u16 {
        self.peer.quorum_port
    }

    /// The leader-election port.
    pub fn election_port(&self) -> u16 {
        self.peer.election_port
    }

    /// The member's directory (`zoo.cfg`, `data/`, the log).
    pub fn dir(&self) -> &Path {
        self.node.dir()
    }

    /// The data directory (with `myid`).
    pub fn data_dir(&self) -> &Path {
        self.node.data_dir()
    }

    /// The member's log file.
    pub fn log_path(&self) -> &Path {
        self.node.log_path()
    }

    /// The last `lines` lines of the member's log.
    pub fn log_tail(&self, lines: usize) -> String {
        self.node.log_tail(lines)
    }

    /// Sends a four-letter word to this member.
    pub fn four_letter(&self, cmd: &str) -> io::Result<String> {
        self.node.four_letter(cmd, scaled(BASE_TIMEOUT))
    }

    /// The member's role from `srvr`, or `None` when it is down or without a quorum.
    pub fn mode(&self) -> Option<Mode> {
        self.node.mode()
    }

    /// Whether the member's JVM is alive.
    pub fn is_running(&self) -> bool {
        self.node.is_running()
    }

    /// The JVM's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.node.pid()
    }

    /// The ids of the sessions connected to this member (from `cons`).
    pub fn connected_sessions(&self) -> io::Result<Vec<i64>> {
        self.four_letter("cons").map(|reply| session_ids_from_cons(&reply))
    }

    /// The member's line in a dynamic configuration,
    /// `server.<myid>=127.0.0.1:<quorum>:<election>:participant;127.0.0.1:<client port>`: what
    /// a client's `reconfig().add(..)` takes to let an [added](Ensemble::add_member) member in.
    pub fn config_line(&self) -> String {
        self.peer.config_line()
    }
}

/// What an ensemble needs to start more members later.
#[derive(Debug)]
struct Growth {
    install: Installation,
    /// The members' settings, security applied.
    settings: ServerSettings,
    jvm: JvmSettings,
    init_limit: u32,
    sync_limit: u32,
    reconfig: bool,
    /// The `myid` of the next member added (ids are never reused).
    next_id: u32,
}

/// A real ZooKeeper ensemble on loopback. Every member has its own ports, directory and JVM;
/// dropping the ensemble kills them all and deletes the directories. Methods block and take `&self`.
#[derive(Debug)]
pub struct Ensemble {
    // Field order matters: the JVMs must die before their directories are deleted.
    members: Vec<Member>,
    start_timeout: Duration,
    quorum_timeout: Duration,
    growth: Growth,
    _dir: tempfile::TempDir,
}

impl Ensemble {
    /// Starts `size` members (2 to 9) with default options and waits for a quorum.
    pub fn start(size: usize) -> Result<Ensemble, HarnessError> {
        Ensemble::builder().size(size).start()
    }

    /// A builder (3 members unless told otherwise).
    pub fn builder() -> EnsembleBuilder {
        EnsembleBuilder::default()
    }

    /// The number of members.
    pub fn size(&self) -> usize {
        self.members.len()
    }

    /// All members, by index.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Member `index`, if there is one.
    pub fn member(&self, index: usize) -> Option<&Member> {
        self.members.get(index)
    }

    fn get(&self, index: usize) -> Result<&Member, HarnessError> {
        self.members.get(index).ok_or(HarnessError::NoSuchMember { index, size: self.members.len() })
    }

    /// Every member's client address.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.members.iter().map(Member::address).collect()
    }

    /// The connect string listing every member, `"127.0.0.1:p1,127.0.0.1:p2,..."`.
    pub fn connect_string(&self) -> String {
        self.members.iter().map(Member::connect_string).collect::<Vec<_>>().join(",")
    }

    /// The connect string of every member's TLS port (for a template with TLS).
    pub fn secure_connect_string(&self) -> Option<String> {
        let addresses: Option<Vec<String>> =
            self.members.iter().map(|m| m.secure_address().map(|a| a.to_string())).collect();
        addresses.map(|a| a.join(","))
    }

    /// Whether member `index`'s JVM is alive (false for an index out of range).
    pub fn is_running(&self, index: usize) -> bool {
        self.members.get(index).is_some_and(Member::is_running)
    }

    /// The indices of the members whose JVM is alive.
    pub fn running(&self) -> Vec<usize> {
        self.members.iter().filter(|m| m.is_running()).map(Member::index).collect()
    }

    /// The credentials of the super user of an ensemble built with
    /// [`reconfig_enabled`](EnsembleBuilder::reconfig_enabled), for a client's `add_auth`:
    /// `("digest", b"super:<password>")`. Only a super user may `reconfig` (ZooKeeper 3.5.3+).
    pub fn super_auth() -> (&'static str, Vec<u8>) {
        ("digest", format!("{SUPER_USER}:{SUPER_PASSWORD}").into_bytes())
    }

    /// Creates member `index`'s directory and configuration (listing `peers`), starting nothing.
    fn create_member(
        &self,
        index: usize,
        peer: Peer,
        peers: &[Peer],
        secure_port: Option<u16>,
    ) -> Result<Member, HarnessError> {
        let g = &self.growth;
        // Named by myid, which is never reused (indices are, after a removal).
        let node_dir = self._dir.path().join(format!("member-myid-{}", peer.id));
        let dynamic_file = g.reconfig.then(|| node_dir.join(DYNAMIC_FILE));
        let quorum = QuorumSettings {
            init_limit: g.init_limit,
            sync_limit: g.sync_limit,
            peers: peers.to_vec(),
            dynamic_file: dynamic_file.clone(),
        };
        let port = peer.client_port;
        let config =
            with_secure_port(&g.settings, secure_port).render(&Node::data_dir_for(&node_dir), port, Some(&quorum))?;
        let node = Node::create(NodeSpec {
            label: format!("ensemble member {index} (myid {}, 127.0.0.1:{port})", peer.id),
            dir: node_dir,
            port,
            install: &g.install,
            jvm: &g.jvm,
            main_class: QUORUM_MAIN,
            config,
            myid: Some(peer.id),
        })?;
        if let Some(file) = dynamic_file {
            std::fs::write(&file, quorum.dynamic_config())
                .map_err(|e| HarnessError::io(format!("writing {}", file.display()), e))?;
        }
        Ok(Member { index, peer, node, secure_port })
    }

    /// Starts a new server that joins this ensemble (built with
    /// [`reconfig_enabled`](EnsembleBuilder::reconfig_enabled)), as ZooKeeper's dynamic
    /// reconfiguration has servers join: its configuration lists the current members and
    /// itself, so it finds the leader and syncs with it without a vote. Returns its index once
    /// it serves. It is not a member of the quorum until a client runs
    /// `reconfig().add(member.config_line())`; until then the ensemble's configuration (and a
    /// client following it) does not list it. Its `myid` is one more than any before.
    pub fn add_member(&mut self) -> Result<usize, HarnessError> {
        if !self.growth.reconfig {
            return Err(HarnessError::InvalidConfig(
                "members join only ensembles built with reconfig_enabled(true)".into(),
            ));
        }
        let tls = self.members.iter().any(|m| m.secure_port.is_some());
        let ports = free_ports(if tls { 4 } else { 3 })?;
        let id = self.growth.next_id;
        let peer = Peer { id, client_port: ports[0], quorum_port: ports[1], election_port: ports[2] };
        let mut peers: Vec<Peer> = self.members.iter().map(|m| m.peer).collect();
        peers.push(peer);
        let index = self.members.len();
        let member = self.create_member(index, peer, &peers, tls.then(|| ports[3]))?;
        self.growth.next_id += 1;
        member.node.spawn()?;
        // Stopped on any failure below: dropping the member kills its JVM.
        self.wait_in_quorum(&member, "the new member to sync with the leader")?;
        tracing::info!(index, myid = id, address = %member.address(), "ZooKeeper test ensemble member added");
        self.members.push(member);
        Ok(index)
    }

    /// Stops member `index` and forgets it: for a member the ensemble no longer lists (after a
    /// client's `reconfig().remove(myid)`). Members after it move down one index; their
    /// `myid`s stay. Removing one still listed makes the ensemble a member short, like a crash.
    pub fn remove_member(&mut self, index: usize) -> Result<(), HarnessError> {
        self.get(index)?;
        let member = self.members.remove(index);
        member.node.stop();
        for (i, m) in self.members.iter_mut().enumerate() {
            m.index = i;
        }
        tracing::info!(index, myid = member.myid(), "ZooKeeper test ensemble member removed");
        Ok(())
    }

    /// Stops member `index` (SIGTERM, then SIGKILL after a grace period).
    pub fn stop(&self, index: usize) -> Result<(), HarnessError> {
        self.get(index)?.node.stop();
        Ok(())
    }

    /// Kills member `index` with SIGKILL (a crash).
    pub fn kill(&self, index: usize) -> Result<(), HarnessError> {
        self.get(index)?.node.kill();
        Ok(())
    }

    /// Restarts member `index` with its ports and data, and waits until it listens; when enough
    /// members run for a quorum, also until it has joined it (as leader or follower).
    pub fn restart(&self, index: usize) -> Result<(), HarnessError> {
        let member = self.get(index)?;
        member.node.restart(Instant::now() + self.start_timeout)?;
        if self.has_majority_running() {
            self.wait_in_quorum(member, "the member to join the quorum")?;
        }
        Ok(())
    }

    /// Waits until `member` serves as leader, follower or observer (`what` names the wait).
    fn wait_in_quorum(&self, member: &Member, what: &str) -> Result<(), HarnessError> {
        let in_quorum = |r: &str| Mode::from_srvr(r).is_some_and(Mode::in_quorum);
        member.node.wait_for(what, "srvr", Instant::now() + self.quorum_timeout, in_quorum).map(drop)
    }

    fn has_majority_running(&self) -> bool {
        self.running().len() * 2 > self.members.len()
    }

    /// Each member's role (`None` for members down or without a quorum).
    pub fn modes(&self) -> Vec<Option<Mode>> {
        self.members.iter().map(|m| if m.is_running() { m.mode() } else { None }).collect()
    }

    /// The index of the member that reports itself leader right now.
    pub fn leader(&self) -> Option<usize> {
        self.modes().iter().position(|m| *m == Some(Mode::Leader))
    }

    /// Waits until every running member serves, exactly one of them as leader, and they are a
    /// majority. Returns the leader's index. Fails at once with [`HarnessError::NoQuorum`] when too
    /// few members run.
    pub fn wait_for_quorum(&self) -> Result<usize, HarnessError> {
        self.await_quorum(false)
    }

    /// `strict`: every member must be running (used at start, where an exit is a failure).
    fn await_quorum(&self, strict: bool) -> Result<usize, HarnessError> {
        let started = Instant::now();
        let deadline = started + self.quorum_timeout;
        loop {
            if strict {
                for member in &self.members {
                    member.node.check_alive()?;
                }
            }
            let running = self.running();
            if running.len() * 2 <= self.members.len() {
                return Err(HarnessError::NoQuorum { running: running.len(), size: self.members.len() });
            }
            let modes: Vec<(usize, Option<Mode>)> = running.iter().map(|&i| (i, self.members[i].mode())).collect();
            let leaders: Vec<usize> = modes.iter().filter(|(_, m)| *m == Some(Mode::Leader)).map(|(i, _)| *i).collect();
            let all_serving = modes.iter().all(|(_, m)| m.is_some_and(Mode::in_quorum));
            if let ([leader], true) = (leaders.as_slice(), all_serving) {
                return Ok(*leader);
            }
            if Instant::now() >= deadline {
                return Err(self.quorum_timeout_error(started.elapsed(), &modes));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    fn quorum_timeout_error(&self, waited: Duration, modes: &[(usize, Option<Mode>)]) -> HarnessError {
        let port_in_use = self.members.iter().any(|m| log::shows_port_in_use(m.log_path(), 0));
        let mut log_tail = String::new();
        for member in &self.members {
            let mode = modes.iter().find(|(i, _)| *i == member.index).and_then(|(_, m)| *m);
            let state = match (member.is_running(), mode) {
                (false, _) => "not running".to_string(),
                (true, None) => "running, not serving".to_string(),
                (true, Some(mode)) => mode.to_string(),
            };
            log_tail.push_str(&format!("=== member {} ({state}) ===\n", member.index));
            log_tail.push_str(&member.log_tail(MEMBER_TAIL_LINES));
            log_tail.push('\n');
        }
        if port_in_use {
            HarnessError::PortInUse { what: "a ZooKeeper ensemble member".into(), log_tail }
        } else {
            HarnessError::Timeout { what: "the ensemble to form a quorum".into(), waited, log_tail }
        }
    }

    /// The member that the client session `session_id` is connected to (from each member's `cons`).
    pub fn find_member_by_session(&self, session_id: i64) -> Option<usize> {
        self.members
            .iter()
            .filter(|m| m.is_running())
            .find(|m| m.connected_sessions().is_ok_and(|ids| ids.contains(&session_id)))
            .map(Member::index)
    }

    /// Stops running members, the leader first, until fewer than a majority run: the quorum is lost
    /// and the survivors stop serving. Returns the indices stopped.
    pub fn stop_majority(&self) -> Result<Vec<usize>, HarnessError> {
        let mut order: Vec<usize> = self.running();
        if let Some(leader) = self.leader() {
            order.retain(|&i| i != leader);
            order.insert(0, leader);
        }
        let mut stopped = Vec::new();
        for index in order {
            if !self.has_majority_running() {
                break;
            }
            self.stop(index)?;
            stopped.push(index);
        }
        Ok(stopped)
    }

    /// Starts every member that is not running, then waits for the quorum. Returns the leader's index.
    pub fn start_stopped(&self) -> Result<usize, HarnessError> {
        let deadline = Instant::now() + self.start_timeout;
        let stopped: Vec<&Member> = self.members.iter().filter(|m| !m.is_running()).collect();
        for member in &stopped {
            member.node.spawn()?;
        }
        for member in &stopped {
            member.node.wait_listening(deadline)?;
        }
        self.wait_for_quorum()
    }
}
