use zk_dsl::{acl, zk, Client};

fn acls(client: &Client, password: &str) {
    let _ = acl![wrld(read)];
    let _ = acl![world(raed, write)];
    let _ = acl![digest(read, all)];
    let _ = acl![super(all)];
    let _ = acl![ip("10.0.0.1", read, read)];
    let _ = acl![];
    let _ = zk!(client, create "/p" acl = [world(read), digest("u", password, everything)]);
    let _ = zk!(client, set_acl "/p" [wrld(all)]);
}

fn main() {}
