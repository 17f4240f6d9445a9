use zk_dsl::recipes::Ref;
use zk_dsl::{zk, Client};

fn bodies(client: &Client, alice: Ref<i64>) {
    let _ = zk!(client, dosync [alice] || { Ok(()) });
    let _ = zk!(client, dosync [alice] |tx, extra| { Ok(()) });
    let _ = zk!(client, dosync [alice] async move { Ok(()) });
    let _ = zk!(client, dosync [alice] transfer);
    let _ = zk!(client, dosync [alice] async |tx| { Ok(()) });
    let _ = zk!(client, dosync [alice] |tx| -> zk_dsl::Result<()> { Ok(()) });
    let _ = zk!(client, dosync [alice]);
}

fn lists(client: &Client, accounts: Vec<Ref<i64>>, alice: Ref<i64>) {
    let _ = zk!(client, dosync [accounts[0], &alice, alice, alice] |tx| { Ok(()) });
}

fn options(client: &Client, alice: Ref<i64>) {
    let _ = zk!(client, dosync [alice] |tx| { Ok(()) } retries = 3 marker = "/m");
    let _ = zk!(client, dosync [alice] |tx| { Ok(()) } markers = "/txn//markers");
    let _ = zk!(client, dosync [alice] |tx| { Ok(()) } timeout = 5s);
    let _ = zk!(client, dosinc [alice] |tx| { Ok(()) });
}

fn in_a_block(client: &Client, alice: Ref<i64>) {
    let _ = zk! { client =>
        let n = dosync [alice.clone()] |tx| { tx.get(&alice).await };
        dosync [alice] |tx| { Ok(()) } markers;
    };
}

fn transfer(_tx: zk_dsl::recipes::Txn) {}

fn main() {}
