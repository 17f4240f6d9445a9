use zk_dsl::{zk, Client};

// The seed's keyword options, as a newcomer from zookeeper-clj writes them: each gets a
// "did you mean" naming this grammar's option, as misspelt verbs do.
fn seed_spellings(client: &Client) {
    let _ = zk!(client, get_data "/p" async);
    let _ = zk!(client, exists "/p" watch?);
    let _ = zk!(client, create "/p" persistent? sequential?);
    let _ = zk!(client, delete_children "/q" sort?);
}

// `optional` needs a block (it applies to the awaited result); `as TYPE` is for reads.
fn misplaced(client: &Client) {
    let _ = zk!(client, get_data "/p" optional);
    let _ = zk!(client, children "/p" as Vec<String>);
    let _ = zk! { client => delete "/p" send optional; };
}

fn main() {}
