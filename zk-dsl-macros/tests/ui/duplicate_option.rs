use zk_dsl::{zk, Client};

fn duplicates(client: &Client) {
    let _ = zk!(client, create "/p" persistent data = "a" persistent);
    let _ = zk!(client, set_data "/p" "x" version = 1 version = 2);
}

fn main() {}
