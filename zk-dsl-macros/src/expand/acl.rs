//! ACL entries to calls of `zk_dsl::acl`'s helpers. Each entry is a `Result<Acl, AclError>`
//! (the helpers check ids at run time: a digest user with `:`, a malformed IP); a list collects
//! them into `Result<Vec<Acl>, AclError>`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::Ident;

use crate::model::acl::{as_name, perm_const, AclEntry, AclList, Scheme};

/// `Result<Vec<Acl>, AclError>` for the whole list.
pub fn list(list: &AclList) -> TokenStream {
    let entries = list.entries.iter().filter_map(entry);
    quote_spanned! {list.span=>
        ::core::iter::Iterator::collect::<
            ::core::result::Result<::std::vec::Vec<::zk_dsl::Acl>, ::zk_dsl::acl::AclError>
        >(::core::iter::IntoIterator::into_iter([#(#entries),*]))
    }
}

/// `Result<Acl, AclError>` for one entry (`None` only for an entry the checker refused).
fn entry(entry: &AclEntry) -> Option<TokenStream> {
    let scheme = Scheme::from_name(&entry.scheme.to_string())?;
    let span = entry.scheme.span();
    let n = scheme.ids().len();
    let ids = entry.args.get(..n)?;
    let perms = perms(entry.args.get(n..)?, span);
    let as_str = |e: &syn::Expr| quote!(::core::convert::AsRef::<str>::as_ref(&(#e)));
    let helper = |name: &str| Ident::new(name, span);
    Some(match scheme {
        Scheme::World | Scheme::Auth => {
            let f = helper(if scheme == Scheme::World { "world_acl" } else { "auth_acl" });
            quote!(::zk_dsl::acl::#f(#perms))
        }
        Scheme::Digest => {
            let (user, password) = (as_str(&ids[0]), as_str(&ids[1]));
            let f = helper("digest_acl");
            quote!(::zk_dsl::acl::#f(#user, #password, #perms))
        }
        Scheme::Ip | Scheme::Host => {
            let f = helper(if scheme == Scheme::Ip { "ip_acl" } else { "host_acl" });
            let id = as_str(&ids[0]);
            quote!(::zk_dsl::acl::#f(#id, #perms))
        }
        Scheme::X509 | Scheme::Sasl => {
            let name = scheme.name();
            let id = &ids[0];
            let f = helper("acl");
            quote!(::zk_dsl::acl::#f(#name, #id, #perms))
        }
    })
}

/// `Perms::READ | Perms::WRITE`, or the seed's default (read, write, create, delete) when
/// none are named.
fn perms(names: &[syn::Expr], span: Span) -> TokenStream {
    let consts: Vec<TokenStream> = names
        .iter()
        .filter_map(as_name)
        .filter_map(|ident| {
            let constant = Ident::new(perm_const(&ident.to_string())?, ident.span());
            Some(quote!(::zk_dsl::Perms::#constant))
        })
        .collect();
    if consts.is_empty() {
        return quote_spanned!(span=> ::zk_dsl::acl::DEFAULT_PERMS);
    }
    quote!(#(#consts)|*)
}
