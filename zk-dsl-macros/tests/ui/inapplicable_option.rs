use zk_dsl::{zk, Client};

fn inapplicable(client: &Client) {
    let _ = zk!(client, create "/p" version = 3);
    let _ = zk!(client, exists "/p" with_stat);
    let _ = zk!(client, delete_all "/p" send);
    let _ = zk!(client, txn { create "/a" with_stat; check "/b" persistent; });
}

fn main() {}
