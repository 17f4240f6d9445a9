//! `#[derive(ZNodeData)]`: the trait, through the chosen codec, and for `#[znode(path)]` a
//! `node` constructor for the type's typed handle.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{parse_quote, Ident, LitStr};

use crate::model::derive::Container;
use crate::model::path::Piece;

pub fn expand(container: &Container) -> TokenStream {
    let Some((codec, codec_span)) = container.codec else { return TokenStream::new() };
    let ident = &container.ident;
    let codec = Ident::new(codec.type_name(), codec_span);
    let codec = quote_spanned!(codec_span=> ::zk_dsl::codec::#codec);
    let mut generics = container.generics.clone();
    generics.make_where_clause().predicates.push(parse_quote!(#codec: ::zk_dsl::codec::SerdeCodec<Self>));
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let data = quote! {
        #[automatically_derived]
        impl #impl_generics ::zk_dsl::codec::ZNodeData for #ident #ty_generics #where_clause {
            fn to_znode_bytes(&self) -> ::core::result::Result<::std::vec::Vec<u8>, ::zk_dsl::CodecError> {
                <#codec as ::zk_dsl::codec::SerdeCodec<Self>>::encode(self)
            }

            fn from_znode_bytes(bytes: &[u8]) -> ::core::result::Result<Self, ::zk_dsl::CodecError> {
                <#codec as ::zk_dsl::codec::SerdeCodec<Self>>::decode(bytes)
            }
        }
    };
    let node = typed_node(container);
    quote!(#data #node)
}

/// `Type::node(&client, placeholders…)`.
fn typed_node(container: &Container) -> Option<TokenStream> {
    let path = container.path.as_ref()?;
    let ident = &container.ident;
    let vis = &container.vis;
    let (impl_generics, ty_generics, where_clause) = container.generics.split_for_impl();
    let client = Ident::new("client", Span::mixed_site());
    let (params, value) = match &path.template {
        None => {
            let lit = &path.lit;
            (Vec::new(), quote!(#lit))
        }
        Some(template) => {
            let mut params: Vec<Ident> = Vec::new();
            for piece in &template.pieces {
                if let Piece::Hole { source, .. } = piece {
                    let param = Ident::new(source, template.lit.span());
                    if !params.contains(&param) {
                        params.push(param);
                    }
                }
            }
            let mut format = String::new();
            for piece in &template.pieces {
                match piece {
                    Piece::Text(text) => format.push_str(&text.replace('{', "{{").replace('}', "}}")),
                    Piece::Hole { source, .. } => format.push_str(&format!("{{{source}}}")),
                }
            }
            let format = LitStr::new(&format, template.lit.span());
            (params, quote!(::std::format!(#format)))
        }
    };
    let doc = format!(
        "The typed node at `{}` (from `#[znode(path)]`): get, create, set, update, delete and watch it as `{ident}`.",
        path.lit.value()
    );
    Some(quote! {
        #[automatically_derived]
        impl #impl_generics #ident #ty_generics #where_clause {
            #[doc = #doc]
            #vis fn node(
                #client: &::zk_dsl::Client,
                #(#params: impl ::core::fmt::Display),*
            ) -> ::zk_dsl::typed::TypedNode<Self> {
                ::zk_dsl::typed::TypedNode::new(#client, #value)
            }
        }
    })
}
