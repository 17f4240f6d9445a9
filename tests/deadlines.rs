//! Deadlines (issue 10): `.timeout(d)` on a call and `Connect::request_timeout` for every call,
//! against the shared server behind a blackholing fault proxy. A call fails with `Timeout`
//! (naming its op and path) at its deadline, within 10 %; a request still queued then is
//! dropped unsent; a late reply is discarded; the timers end with their calls.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use suite::{connect, connect_through, patience, server, unique, within};
use zk_dsl::proto::OpCode;
use zk_dsl::testing::{scaled, FaultProxy};
use zk_dsl::{Client, Connect, Error, SessionEvent};

/// Long enough that scheduling noise on a shared machine is well inside 10 % of it.
fn deadline() -> Duration {
    scaled(Duration::from_secs(2))
}

/// Fails unless `took` is within 10 % of `deadline`.
fn at_deadline(what: &str, took: Duration, deadline: Duration) {
    let (low, high) = (deadline.mul_f64(0.9), deadline.mul_f64(1.1));
    assert!(low <= took && took <= high, "{what}: failed after {took:?}, the deadline was {deadline:?}");
}

fn is_timeout(err: &Error, op: OpCode, path: &str) -> bool {
    matches!(err, Error::Timeout { op: o, path: p } if *o == op && p == path)
}

/// A fresh persistent root on the shared server (the client below is chrooted into it).
async fn fresh_root(prefix: &str) -> String {
    let root = format!("/{}", unique(prefix));
    connect(&server().connect_string()).await.create(root.as_str()).persistent().await.unwrap();
    root
}

/// The session timeout of the clients below: long, so a blackholed connection is not declared
/// lost (two thirds of it) before the deadlines under test.
const SESSION: Duration = Duration::from_secs(30);

/// A client on `root` through `proxy`, to be given the options under test.
fn through(proxy: &FaultProxy, root: &str) -> Connect {
    Client::connect(format!("{}{root}", proxy.connect_string())).session_timeout(SESSION).connect_timeout(patience())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_fails_at_its_deadline_on_a_blackholed_server_and_the_session_carries_on() {
    let proxy = FaultProxy::start(server().address()).expect("start a proxy");
    let root = fresh_root("deadline").await;
    let client = connect_through(&proxy, &root, SESSION).await;
    client.create("/n").persistent().data("v").await.unwrap();
    let tasks = tokio::runtime::Handle::current().metrics().num_alive_tasks();

    proxy.blackhole(true);
    // Awaited.
    let started = Instant::now();
    let err = client.get_data("/n").timeout(deadline()).await.unwrap_err();
    at_deadline("get_data", started.elapsed(), deadline());
    assert!(is_timeout(&err, OpCode::GetData, "/n"), "{err:?}");
    assert!(err.is_retryable());

    // Sent, and a callback: both told at the deadline; the callback once.
    let started = Instant::now();
    let sent = client.set_data("/n", "w").timeout(deadline()).send();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let called = client.exists("/n").timeout(deadline()).callback(move |r| log.lock().unwrap().push(r.clone()));
    let err = sent.await.unwrap_err();
    at_deadline("set_data", started.elapsed(), deadline());
    assert!(is_timeout(&err, OpCode::SetData, "/n"), "{err:?}");
    let err = called.await.unwrap_err();
    at_deadline("exists (callback)", started.elapsed(), deadline());
    assert!(is_timeout(&err, OpCode::Exists, "/n"), "{err:?}");
    assert!(matches!(seen.lock().unwrap().as_slice(), [Err(Error::Timeout { .. })]));

    // Once the network heals, the late replies are discarded (the callback is not called again)
    // and the session goes on with the same connection.
    proxy.blackhole(false);
    let node = within("the data after the partition", client.get_data("/n")).await.unwrap();
    // The write that timed out had been sent: it was applied, as after a connection loss.
    assert_eq!(node.bytes(), b"w");
    assert_eq!(seen.lock().unwrap().len(), 1, "a late reply reached the callback");
    // The callback's timer task ended at its deadline: nothing lingers.
    assert!(tokio::runtime::Handle::current().metrics().num_alive_tasks() <= tasks, "a timer task outlived its call");
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_default_applies_to_every_call_and_a_call_may_override_it() {
    let proxy = FaultProxy::start(server().address()).expect("start a proxy");
    let root = fresh_root("deadline-default").await;
    let client = through(&proxy, &root).request_timeout(deadline()).await.unwrap();
    client.exists("/").await.unwrap();
    proxy.blackhole(true);
    let started = Instant::now();
    let err = client.children("/").await.unwrap_err();
    at_deadline("children (client default)", started.elapsed(), deadline());
    assert!(is_timeout(&err, OpCode::GetChildren2, "/"), "{err:?}");
    let longer = deadline() * 2;
    let started = Instant::now();
    let err = client.children("/").timeout(longer).await.unwrap_err();
    at_deadline("children (its own deadline)", started.elapsed(), longer);
    assert!(err.is_retryable());
    proxy.blackhole(false);
    client.close().await.unwrap();
}

/// A request made while no connection is up waits in the queue; at its deadline the caller is
/// told and the request is dropped unsent, so the node is never created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_still_queued_at_its_deadline_is_never_sent() {
    let proxy = FaultProxy::start(server().address()).expect("start a proxy");
    let root = fresh_root("deadline-queued").await;
    // Attempts on the blackholed proxy last longer than the deadline, so the request is still
    // queued (not failed by a round of failed attempts) when its deadline comes.
    let client = through(&proxy, &root).attempt_timeout(deadline() * 2).await.unwrap();
    let mut events = client.session_events();
    proxy.blackhole(true);
    proxy.drop_connections();
    // Made before the client has read the end of its connection, the create would go out on
    // the dead socket and fail with the connection at once instead of waiting in the queue.
    let seen = within("the client seeing its connection dropped", events.next()).await;
    assert_eq!(seen, Some(SessionEvent::Disconnected));
    let started = Instant::now();
    let err = client.create("/late").persistent().timeout(deadline()).await.unwrap_err();
    at_deadline("create while disconnected", started.elapsed(), deadline());
    assert!(is_timeout(&err, OpCode::Create2, "/late"), "{err:?}");
    proxy.blackhole(false);
    within("reconnecting", client.wait_connected()).await.unwrap();
    // Requests sent after reconnecting are answered after anything the dropped one could have
    // been, so this read sees the create had it been sent.
    assert_eq!(client.exists("/late").await.unwrap(), None, "the timed-out create was sent");
    client.close().await.unwrap();
}
