//! `#[znode(…)]`: a codec is chosen, and the path is a valid ZooKeeper path whose
//! placeholders can be parameter names.

use super::path::PathKind;
use crate::ctxt::Ctxt;
use crate::model::derive::{Codec, Container};
use crate::model::path::Piece;

pub fn check(container: &Container, cx: &Ctxt) {
    if container.codec.is_none() && !container.codec_given {
        cx.error(
            container.ident.span(),
            format!(
                "`#[derive(ZNodeData)]` needs `#[znode(codec = …)]` with one of: {} \
                 (postcard is the recommendation for new data; json for nodes other languages read)",
                Codec::ALL.map(Codec::name).join(", ")
            ),
        );
    }
    let Some(path) = &container.path else { return };
    match &path.template {
        None => {
            let value = path.lit.value();
            if let Err(e) = super::path::validate_path(&value, false) {
                cx.error(path.lit.span(), super::path::literal_message(&value, &e, PathKind::Node));
            }
        }
        Some(template) => {
            super::path::check_template(template, PathKind::Node, cx);
            for piece in &template.pieces {
                let Piece::Hole { source, .. } = piece else { continue };
                if syn::parse_str::<syn::Ident>(source).is_err() {
                    cx.error(
                        path.lit.span(),
                        format!(
                            "`{{{source}}}` in a typed node's path must be a name: it becomes a parameter of `{}::node`",
                            container.ident
                        ),
                    );
                }
            }
        }
    }
}
