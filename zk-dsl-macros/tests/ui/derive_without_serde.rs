use zk_dsl::ZNodeData;

// The codec needs serde: the error says so at the derive.
#[derive(ZNodeData)]
#[znode(codec = bincode)]
struct NotSerde {
    a: u32,
}

fn main() {}
