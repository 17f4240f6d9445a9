//! `[scheme(ids…, perms…), …]`: the body of `acl![…]` and of an inline `acl = […]`.

use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::{bracketed, parenthesized, token, Expr, Ident, Token};

use crate::model::acl::{AclEntry, AclList};

/// `[entries]`.
pub fn parse_bracketed(input: ParseStream) -> syn::Result<AclList> {
    let content;
    let bracket = bracketed!(content in input);
    let mut list = parse_entries(&content).inspect_err(|_| super::drain(&content))?;
    list.span = bracket.span.join();
    Ok(list)
}

/// Entries separated by commas (a trailing comma is fine), up to the end of `input`.
pub fn parse_entries(input: ParseStream) -> syn::Result<AclList> {
    let span = input.span();
    let mut entries = Vec::new();
    while !input.is_empty() {
        entries.push(parse_entry(input)?);
        if input.is_empty() {
            break;
        }
        if input.peek(Token![;]) {
            return Err(input.error("ACL entries are separated by `,`"));
        }
        input.parse::<Token![,]>()?;
    }
    Ok(AclList { span, entries })
}

fn parse_entry(input: ParseStream) -> syn::Result<AclEntry> {
    if !input.peek(Ident::peek_any) {
        return Err(input.error("expected an ACL entry such as `world(read)` or `digest(\"user\", password, all)`"));
    }
    let scheme = Ident::parse_any(input)?;
    let mut args = Vec::new();
    if input.peek(token::Paren) {
        let content;
        parenthesized!(content in input);
        let parsed = Punctuated::<Expr, Token![,]>::parse_terminated(&content).inspect_err(|_| super::drain(&content));
        args = parsed?.into_iter().collect();
    }
    Ok(AclEntry { scheme, args })
}
