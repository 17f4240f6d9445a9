use zk_dsl::{zk, Client};

fn options(client: &Client) {
    let _ = zk!(client, create "/p" persistant);
    let _ = zk!(client, children "/p" recursive_watch);
}

fn main() {}
