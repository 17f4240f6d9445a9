//! `#[derive(ZNodeData)]` input: the type and its `#[znode(codec = …, path = "…")]`.

use syn::{Data, DeriveInput, Ident, LitStr};

use crate::ctxt::Ctxt;
use crate::model::derive::{Codec, Container, NodePath};
use crate::model::path::{split_template, Piece, Template};

const KEYS: &str = "`codec = bincode|postcard|json` and `path = \"/…\"`";

pub fn parse(input: DeriveInput, cx: &Ctxt) -> Container {
    let mut codec = None;
    let mut codec_given = false;
    let mut path: Option<NodePath> = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("znode")) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("codec") {
                codec_given = true;
                let ident: Ident = meta.value()?.parse()?;
                match Codec::from_name(&ident.to_string()) {
                    Some(_) if codec.is_some() => cx.error(ident.span(), "duplicate `codec`"),
                    Some(c) => codec = Some((c, ident.span())),
                    None => cx.error(
                        ident.span(),
                        format!("unknown codec `{ident}`; expected one of: {}", Codec::ALL.map(Codec::name).join(", ")),
                    ),
                }
                Ok(())
            } else if meta.path.is_ident("path") {
                let lit: LitStr = meta.value()?.parse()?;
                if path.is_some() {
                    cx.error(lit.span(), "duplicate `path`");
                } else {
                    path = Some(node_path(lit, cx));
                }
                Ok(())
            } else {
                let name = meta.path.get_ident().map_or_else(|| "?".to_owned(), Ident::to_string);
                Err(meta.error(format!("unknown znode attribute `{name}`; expected {KEYS}")))
            }
        });
        if let Err(e) = parsed {
            cx.syn_error(e);
        }
    }
    misplaced_attributes(&input, cx);
    Container { ident: input.ident, vis: input.vis, generics: input.generics, codec, codec_given, path }
}

fn node_path(lit: LitStr, cx: &Ctxt) -> NodePath {
    let template = match split_template(&lit, cx) {
        Some(pieces) if pieces.iter().any(|p| matches!(p, Piece::Hole { .. })) => {
            Some(Template { lit: lit.clone(), pieces })
        }
        _ => None,
    };
    NodePath { lit, template }
}

/// `#[znode]` only means something on the type itself.
fn misplaced_attributes(input: &DeriveInput, cx: &Ctxt) {
    let mut field_attrs = Vec::new();
    match &input.data {
        Data::Struct(s) => field_attrs.extend(s.fields.iter().flat_map(|f| &f.attrs)),
        Data::Enum(e) => {
            for variant in &e.variants {
                field_attrs.extend(&variant.attrs);
                field_attrs.extend(variant.fields.iter().flat_map(|f| &f.attrs));
            }
        }
        Data::Union(u) => field_attrs.extend(u.fields.named.iter().flat_map(|f| &f.attrs)),
    }
    for attr in field_attrs.into_iter().filter(|a| a.path().is_ident("znode")) {
        cx.error_spanned_by(attr, "`#[znode(…)]` goes on the type, not on its fields or variants");
    }
}
