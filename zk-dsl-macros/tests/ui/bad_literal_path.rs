use zk_dsl::{zk, Client};

fn paths(client: &Client) {
    let _ = zk!(client, create "/a//b" persistent);
    let _ = zk!(client, get_data "/a/.");
    let _ = zk!(client, delete "relative");
    let _ = zk!(client, create "/queue/" persistent);
    let _ = zk!(client, exists "/bad\u{1}char");
}

fn main() {}
