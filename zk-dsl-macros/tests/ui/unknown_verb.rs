use zk_dsl::{zk, Client};

fn verbs(client: &Client) {
    let _ = zk!(client, crate_node "/p");
    let _ = zk!(client, creat "/p" persistent);
    let _ = zk! { client =>
        exist "/p";
        delete "/p";
    };
}

fn main() {}
