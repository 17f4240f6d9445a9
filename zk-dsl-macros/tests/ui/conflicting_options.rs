use zk_dsl::{zk, Client};

fn conflicts(client: &Client) {
    let _ = zk!(client, create "/p" persistent ephemeral);
    let _ = zk!(client, create "/p" data = "a" bytes = vec![1u8]);
    let _ = zk!(client, get_data "/p" watch with_watch);
    let _ = zk!(client, create "/p" container sequential);
}

fn main() {}
