//! Tests of `zk_dsl::testing` against the real ZooKeeper: standalone server, ensemble, fault proxy.
//!
//! They use only the harness and a hand-written session handshake, so they do not depend on the client.
//! Linux only: they check processes through `/proc`.
#![cfg(all(feature = "testing", target_os = "linux"))]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use zk_dsl::testing::{
    four_letter, four_letter_with_timeout, scaled, Ensemble, FaultProxy, HarnessError, Mode, ZkServer,
};

/// The reply to a session handshake.
#[derive(Debug)]
struct Handshake {
    session_id: i64,
    timeout_ms: i32,
    password: Vec<u8>,
}

/// Opens a ZooKeeper session by hand (a jute `ConnectRequest`), or resumes one. The session stays
/// connected while the returned stream is open (no pings are sent, so only for short checks).
fn open_session(addr: SocketAddr, timeout_ms: i32, resume: Option<&Handshake>) -> io::Result<(TcpStream, Handshake)> {
    let mut body = Vec::new();
    body.extend_from_slice(&0i32.to_be_bytes()); // protocolVersion
    body.extend_from_slice(&0i64.to_be_bytes()); // lastZxidSeen
    body.extend_from_slice(&timeout_ms.to_be_bytes());
    body.extend_from_slice(&resume.map_or(0, |h| h.session_id).to_be_bytes());
    let password = resume.map_or(vec![0u8; 16], |h| h.password.clone());
    body.extend_from_slice(&(password.len() as i32).to_be_bytes());
    body.extend_from_slice(&password);
    body.push(0); // readOnly = false
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(scaled(Duration::from_secs(10))))?;
    stream.write_all(&(body.len() as i32).to_be_bytes())?;
    stream.write_all(&body)?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let mut reply = vec![0u8; i32::from_be_bytes(len).max(0) as usize];
    stream.read_exact(&mut reply)?;
    if reply.len() < 20 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("short ConnectResponse: {reply:?}")));
    }
    let int = |at: usize| i32::from_be_bytes(reply[at..at + 4].try_into().unwrap());
    let session_id = i64::from_be_bytes(reply[8..16].try_into().unwrap());
    let password_len = int(16).max(0) as usize;
    let password = reply.get(20..20 + password_len).unwrap_or_default().to_vec();
    Ok((stream, Handshake { session_id, timeout_ms: int(4), password }))
}

/// Polls `check` until it holds or the (scaled) `timeout` passes.
fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + scaled(timeout);
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether a process is alive (a zombie counts as dead). Linux only.
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name: "123 (java) S ...".
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
}

#[test]
fn standalone_server_starts_stops_and_restarts_on_the_same_port() {
    let server = ZkServer::start().unwrap();
    let port = server.port();
    assert_ne!(port, 2181);
    assert_eq!(server.connect_string(), format!("127.0.0.1:{port}"));
    assert_eq!(server.address().to_string(), server.connect_string());
    assert!(server.is_running());

    assert_eq!(four_letter(server.address(), "ruok").unwrap(), "imok");
    let srvr = server.four_letter("srvr").unwrap();
    assert!(srvr.contains("Mode: standalone"), "{srvr}");
    assert_eq!(server.mode(), Some(Mode::Standalone));
    assert!(server.log_path().is_file());
    assert!(server.log_tail(500).contains(&port.to_string()), "{}", server.log_tail(500));

    // A session opened before the restart can be resumed after it: same port, same data.
    let (stream, session) = open_session(server.address(), 10_000, None).unwrap();
    assert!(session.timeout_ms > 0 && session.session_id != 0, "{session:?}");
    assert_eq!(server.connected_sessions().unwrap(), vec![session.session_id]);
    drop(stream);

    server.stop();
    assert!(!server.is_running());
    assert_eq!(server.pid(), None);
    assert_eq!(server.mode(), None);
    let err = four_letter_with_timeout(server.address(), "ruok", Duration::from_secs(2)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");

    server.restart().unwrap();
    assert_eq!(server.port(), port);
    assert_eq!(server.four_letter("ruok").unwrap(), "imok");
    let (_stream, resumed) = open_session(server.address(), 10_000, Some(&session)).unwrap();
    assert_eq!(resumed.session_id, session.session_id, "the session did not survive the restart");
    assert!(resumed.timeout_ms > 0, "the session expired across the restart: {resumed:?}");

    // kill -9, then restart again.
    let pid = server.pid().unwrap();
    server.kill();
    assert!(!server.is_running());
    assert!(!process_alive(pid));
    server.restart().unwrap();
    assert_eq!(server.four_letter("ruok").unwrap(), "imok");

    // Drop kills the JVM and removes the directory.
    let pid = server.pid().unwrap();
    let dir = server.dir().to_path_buf();
    assert!(dir.is_dir());
    drop(server);
    assert!(!process_alive(pid), "the JVM outlived its ZkServer");
    assert!(!dir.exists(), "{} was not removed", dir.display());
}

#[test]
fn builder_options_reach_the_server() {
    let server = ZkServer::builder()
        .tick_time(Duration::from_millis(200))
        .min_session_timeout(Duration::from_millis(1_000))
        .max_session_timeout(Duration::from_millis(30_000))
        .extended_types(true)
        .cfg("globalOutstandingLimit", "500")
        .heap_mib(32, 256)
        .start()
        .unwrap();
    let conf = server.four_letter("conf").unwrap();
    for line in ["tickTime=200", "minSessionTimeout=1000", "maxSessionTimeout=30000"] {
        assert!(conf.lines().any(|l| l == line), "missing {line} in\n{conf}");
    }
    // The server clamps a session timeout to the configured bounds.
    let (_long, long) = open_session(server.address(), 60_000, None).unwrap();
    assert_eq!(long.timeout_ms, 30_000);
    let (_short, short) = open_session(server.address(), 10, None).unwrap();
    assert_eq!(short.timeout_ms, 1_000);

    let pid = server.pid().unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let args: Vec<String> = cmdline.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    for arg in ["-Dzookeeper.extendedTypesEnabled=true", "-Xms32m", "-Xmx256m"] {
        assert!(args.iter().any(|a| a == arg), "missing {arg} in {args:?}");
    }
}

#[test]
fn bad_configurations_fail_with_clear_errors() {
    let err = ZkServer::builder().tick_time(Duration::ZERO).start().unwrap_err();
    assert!(matches!(err, HarnessError::InvalidConfig(_)), "{err}");
    let err = ZkServer::builder().cfg("two words", "x").start().unwrap_err();
    assert!(matches!(err, HarnessError::InvalidConfig(_)), "{err}");
    let err = Ensemble::start(1).unwrap_err();
    assert!(matches!(err, HarnessError::InvalidConfig(_)), "{err}");

    // A JVM that cannot start: the error says so and carries its output.
    let err = ZkServer::builder().jvm_arg("-XX:+NoSuchOptionForZkDslTests").start().unwrap_err();
    assert!(matches!(err, HarnessError::Exited { .. }), "{err}");
    assert!(err.to_string().contains("NoSuchOptionForZkDslTests"), "{err}");

    // A fixed port that is taken is reported as such, not as a timeout.
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = squatter.local_addr().unwrap().port();
    let err = ZkServer::builder().port(port).start().unwrap_err();
    assert!(err.is_port_in_use(), "{err}");
}

#[test]
fn ensemble_elects_a_new_leader_and_loses_and_regains_quorum() {
    let ensemble = Ensemble::start(3).unwrap();
    let leader = ensemble.wait_for_quorum().unwrap();
    let modes = ensemble.modes();
    assert_eq!(modes.iter().filter(|m| **m == Some(Mode::Leader)).count(), 1, "{modes:?}");
    assert_eq!(modes.iter().filter(|m| **m == Some(Mode::Follower)).count(), 2, "{modes:?}");
    assert_eq!(ensemble.leader(), Some(leader));
    let members: Vec<String> = ensemble.members().iter().map(|m| m.connect_string()).collect();
    assert_eq!(ensemble.connect_string(), members.join(","));
    assert_eq!(ensemble.member(0).unwrap().myid(), 1);
    assert!(ensemble.member(3).is_none());
    assert!(matches!(ensemble.kill(3), Err(HarnessError::NoSuchMember { index: 3, size: 3 })));

    // Which member holds a session.
    let follower = (0..3).find(|&i| i != leader).unwrap();
    let (stream, session) = open_session(ensemble.member(follower).unwrap().address(), 10_000, None).unwrap();
    assert_eq!(ensemble.find_member_by_session(session.session_id), Some(follower));
    assert_eq!(ensemble.find_member_by_session(session.session_id.wrapping_add(1)), None);
    drop(stream);

    // Killing the leader elects a new one among the other two.
    ensemble.kill(leader).unwrap();
    assert!(!ensemble.is_running(leader));
    let new_leader = ensemble.wait_for_quorum().unwrap();
    assert_ne!(new_leader, leader);
    assert!(ensemble.is_running(new_leader));
    assert_eq!(ensemble.leader(), Some(new_leader));

    // The old leader comes back as a follower.
    ensemble.restart(leader).unwrap();
    assert_eq!(ensemble.member(leader).unwrap().mode(), Some(Mode::Follower));
    assert_eq!(ensemble.wait_for_quorum().unwrap(), new_leader);

    // Losing a majority: the survivor stops serving; waiting for a quorum fails fast.
    let stopped = ensemble.stop_majority().unwrap();
    assert_eq!(stopped.len(), 2, "{stopped:?}");
    assert_eq!(stopped[0], new_leader, "the leader goes first");
    let survivor = (0..3).find(|i| !stopped.contains(i)).unwrap();
    assert_eq!(ensemble.running(), vec![survivor]);
    assert!(eventually(Duration::from_secs(10), || ensemble.member(survivor).unwrap().mode().is_none()));
    assert!(matches!(ensemble.wait_for_quorum(), Err(HarnessError::NoQuorum { running: 1, size: 3 })));

    ensemble.start_stopped().unwrap();
    assert_eq!(ensemble.running(), vec![0, 1, 2]);
    assert!(ensemble.modes().iter().all(|m| m.is_some_and(Mode::in_quorum)));

    let pids: Vec<u32> = ensemble.members().iter().filter_map(|m| m.pid()).collect();
    assert_eq!(pids.len(), 3);
    drop(ensemble);
    assert!(pids.iter().all(|&pid| !process_alive(pid)), "a member JVM outlived the ensemble");
}

#[test]
fn fault_proxy_forwards_drops_blackholes_delays_and_redirects() {
    let server = ZkServer::start().unwrap();
    let proxy = FaultProxy::start(server.address()).unwrap();
    assert_eq!(proxy.target(), server.address());
    assert_eq!(proxy.connect_string(), format!("127.0.0.1:{}", proxy.port()));

    // Pass-through.
    assert_eq!(four_letter(proxy.address(), "ruok").unwrap(), "imok");
    assert!(four_letter(proxy.address(), "srvr").unwrap().contains("Mode: standalone"));
    assert_eq!(proxy.connections_accepted(), 2);

    // drop_connections closes an open session's connection.
    let (mut stream, session) = open_session(proxy.address(), 10_000, None).unwrap();
    assert_eq!(server.connected_sessions().unwrap(), vec![session.session_id]);
    // The two four-letter-word connections close asynchronously in the proxy.
    assert!(eventually(Duration::from_secs(5), || proxy.active_connections() == 1), "{}", proxy.active_connections());
    proxy.drop_connections();
    assert_eq!(proxy.active_connections(), 0);
    let mut buf = [0u8; 16];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("read {n} bytes from a dropped connection"),
        Err(e) => assert!(!is_timeout(&e), "the connection was not closed: {e}"),
    }
    assert!(eventually(Duration::from_secs(5), || server.connected_sessions().is_ok_and(|s| s.is_empty())));
    // New connections are still accepted.
    assert_eq!(four_letter(proxy.address(), "ruok").unwrap(), "imok");

    // Blackhole: connections are accepted but nothing moves; turning it off restores traffic.
    proxy.blackhole(true);
    assert!(proxy.is_blackholed());
    let accepted = proxy.connections_accepted();
    let started = Instant::now();
    let err = four_letter_with_timeout(proxy.address(), "ruok", Duration::from_millis(500)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    assert!(started.elapsed() >= Duration::from_millis(450));
    assert_eq!(proxy.connections_accepted(), accepted + 1, "the stalled connection was accepted");
    proxy.blackhole(false);
    assert_eq!(four_letter(proxy.address(), "ruok").unwrap(), "imok");

    // Delay: the request and the reply are each held back.
    proxy.delay(Duration::from_millis(150));
    let started = Instant::now();
    assert_eq!(four_letter(proxy.address(), "ruok").unwrap(), "imok");
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    proxy.reset();

    // set_target sends new connections elsewhere.
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_target(other.local_addr().unwrap());
    let mut client = TcpStream::connect(proxy.address()).unwrap();
    client.write_all(b"ruok").unwrap();
    other.set_nonblocking(false).unwrap();
    let (mut upstream, _) = other.accept().unwrap();
    upstream.set_read_timeout(Some(scaled(Duration::from_secs(5)))).unwrap();
    let mut cmd = [0u8; 4];
    upstream.read_exact(&mut cmd).unwrap();
    assert_eq!(&cmd, b"ruok");
}

/// Runs only as a child of `watchdog_kills_the_jvm_when_the_test_process_dies`: starts a server,
/// prints its pid and aborts, so no destructor runs.
#[test]
fn watchdog_child() {
    if std::env::var_os("ZK_DSL_WATCHDOG_CHILD").is_none() {
        return;
    }
    let server = ZkServer::start().unwrap();
    println!("JVM_PID={}", server.pid().unwrap());
    io::stdout().flush().unwrap();
    std::process::abort();
}

#[test]
fn watchdog_kills_the_jvm_when_the_test_process_dies() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "watchdog_child", "--nocapture", "--test-threads=1"])
        .env("ZK_DSL_WATCHDOG_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let pid: u32 = stdout
        .lines()
        .find_map(|l| l.split("JVM_PID=").nth(1))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid from the child: {stdout}\n{}", String::from_utf8_lossy(&output.stderr)));
    assert!(!output.status.success(), "the child was meant to abort");
    assert!(eventually(Duration::from_secs(10), || !process_alive(pid)), "JVM {pid} outlived its aborted test");
}
