use zk_dsl::{zk, Client};

fn paths(client: &Client) {
    let _ = zk!(client, lock "/locks//reports");
    let _ = zk!(client, lease "/limits/" max = 2);
    let name = "x";
    let _ = zk!(client, latch "/services/{name}/");
}

fn options(client: &Client) {
    let _ = zk!(client, lock "/l" timeuot = 5s);
    let _ = zk!(client, write_lock "/l" policy = LossPolicy::Session loss_policy = LossPolicy::Standard);
    let _ = zk!(client, lease "/sem");
    let _ = zk!(client, lease "/sem" max = 2 mx = 3);
    let _ = zk!(client, latch "/l" timeout = 5s);
    let _ = zk!(client, lock "/l" max = 2 send);
}

fn durations(client: &Client) {
    let _ = zk!(client, lock "/l" timeout = 5);
    let _ = zk!(client, read_lock "/l" timeout = 5sec);
    let _ = zk!(client, lease "/l" max = 1 timeout = 1.5s);
    let _ = zk!(client, create "/t" ttl = 60u64);
}

fn main() {}
