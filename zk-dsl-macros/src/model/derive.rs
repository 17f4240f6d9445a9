//! `#[derive(ZNodeData)]` as the parser understood the type and its `#[znode(…)]` attributes.

use proc_macro2::Span;
use syn::{Generics, Ident, LitStr, Visibility};

use super::path::Template;

/// The codecs `#[znode(codec = …)]` names; each is a type in `zk_dsl::codec` behind the cargo
/// feature of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Bincode,
    Postcard,
    Json,
}

impl Codec {
    pub const ALL: [Codec; 3] = [Codec::Bincode, Codec::Postcard, Codec::Json];

    pub fn name(self) -> &'static str {
        match self {
            Codec::Bincode => "bincode",
            Codec::Postcard => "postcard",
            Codec::Json => "json",
        }
    }

    /// The marker type in `zk_dsl::codec`.
    pub fn type_name(self) -> &'static str {
        match self {
            Codec::Bincode => "Bincode",
            Codec::Postcard => "Postcard",
            Codec::Json => "Json",
        }
    }

    pub fn from_name(name: &str) -> Option<Codec> {
        Codec::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// The type being derived for.
pub struct Container {
    pub ident: Ident,
    pub vis: Visibility,
    pub generics: Generics,
    pub codec: Option<(Codec, Span)>,
    /// Whether a `codec = …` was written at all (so a bad one is not also "missing").
    pub codec_given: bool,
    pub path: Option<NodePath>,
}

/// `#[znode(path = "…")]`.
pub struct NodePath {
    pub lit: LitStr,
    /// `None` when the literal has no placeholders.
    pub template: Option<Template>,
}
