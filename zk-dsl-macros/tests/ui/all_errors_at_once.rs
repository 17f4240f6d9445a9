use zk_dsl::{zk, Client};

// One invocation, every mistake reported together, each at its token.
fn block(client: &Client) {
    let _ = zk! { client =>
        create "/a//b" persistant;
        let node = get_data "/p" version = 2;
        set_data "/p";
        compare_and_set_data "/p" b"a" b"b";
        delete "/p" version;
        create "/p" persistent = true;
    };
}

fn main() {}
