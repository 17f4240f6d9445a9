use zk_dsl::{zk, Client};

fn templates(client: &Client, name: &str) {
    let _ = zk!(client, create "/services/{name}//config");
    let _ = zk!(client, create "/services/{}");
    let _ = zk!(client, create "/services/{name");
    let _ = zk!(client, create "/services/name}");
    let _ = zk!(client, create "/services/{name}/..");
}

fn main() {}
