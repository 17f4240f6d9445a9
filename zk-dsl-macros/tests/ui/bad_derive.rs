use zk_dsl::ZNodeData;

#[derive(ZNodeData)]
struct NoCodec {
    a: u32,
}

#[derive(ZNodeData)]
#[znode(codec = yaml)]
struct UnknownCodec;

#[derive(ZNodeData)]
#[znode(codec = json, format = "x")]
struct UnknownKey;

#[derive(ZNodeData)]
#[znode(codec = postcard, codec = json)]
struct DuplicateCodec;

#[derive(ZNodeData)]
#[znode(codec = postcard, path = "/config//{service}")]
struct BadPath;

#[derive(ZNodeData)]
#[znode(codec = postcard, path = "/config/{self.name}")]
struct ExpressionPlaceholder;

#[derive(ZNodeData)]
#[znode(codec = postcard)]
struct FieldAttribute {
    #[znode(codec = json)]
    a: u32,
}

fn main() {}
