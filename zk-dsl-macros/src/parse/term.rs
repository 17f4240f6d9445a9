//! Positional arguments sit next to each other with no separator (`set_data "/p" &value`), so
//! each is read as a *term*, not as a whole expression: otherwise `"/p" & value` would be
//! one bitwise and. A term is
//!
//! * `&`, `&mut`, `-`, `!` or `*` in front of a term;
//! * a literal, a path or name (`value`, `Mode::Persistent`), a macro call (`format!(…)`), a
//!   closure (`|name| …`, which takes the rest), or anything in `(…)`, `[…]` or `{…}`;
//! * followed by calls `(…)`, field and method accesses `.x`, `.f::<T>(…)`, `.await` and `?`.
//!
//! Anything else (`a + b`, `v[0]`, `x as i32`) goes in parentheses or braces.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{token, AngleBracketedGenericArguments, Expr, ExprClosure, ExprPath, Ident, Lit, Token};

pub fn parse_term(input: ParseStream, what: &str) -> syn::Result<Expr> {
    let mut tokens = TokenStream::new();
    loop {
        if input.peek(Token![&&]) {
            input.parse::<Token![&&]>()?.to_tokens(&mut tokens);
        } else if input.peek(Token![&]) {
            input.parse::<Token![&]>()?.to_tokens(&mut tokens);
        } else if input.peek(Token![mut]) && !tokens.is_empty() {
            input.parse::<Token![mut]>()?.to_tokens(&mut tokens);
        } else if input.peek(Token![-]) {
            input.parse::<Token![-]>()?.to_tokens(&mut tokens);
        } else if input.peek(Token![!]) {
            input.parse::<Token![!]>()?.to_tokens(&mut tokens);
        } else if input.peek(Token![*]) {
            input.parse::<Token![*]>()?.to_tokens(&mut tokens);
        } else {
            break;
        }
    }
    let mut callable = true;
    if input.peek(Lit) {
        input.parse::<Lit>()?.to_tokens(&mut tokens);
        callable = false;
    } else if input.peek(token::Paren) || input.peek(token::Bracket) || input.peek(token::Brace) {
        input.parse::<proc_macro2::TokenTree>()?.to_tokens(&mut tokens);
    } else if input.peek(Token![|]) || input.peek(Token![||]) || input.peek(Token![move]) {
        input.parse::<ExprClosure>()?.to_tokens(&mut tokens);
        return syn::parse2(tokens);
    } else if input.peek(Ident::peek_any) || input.peek(Token![::]) || input.peek(Token![<]) {
        input.parse::<ExprPath>()?.to_tokens(&mut tokens);
        if input.peek(Token![!]) && !input.peek(Token![!=]) {
            input.parse::<Token![!]>()?.to_tokens(&mut tokens);
            input.parse::<proc_macro2::TokenTree>()?.to_tokens(&mut tokens);
        }
    } else {
        return Err(input.error(format!("expected {what}")));
    }
    loop {
        if input.peek(Token![.]) && !input.peek(Token![..]) {
            input.parse::<Token![.]>()?.to_tokens(&mut tokens);
            if input.peek(Token![await]) {
                input.parse::<Token![await]>()?.to_tokens(&mut tokens);
                continue;
            }
            if input.peek(syn::LitInt) {
                input.parse::<syn::LitInt>()?.to_tokens(&mut tokens);
                continue;
            }
            Ident::parse_any(input)?.to_tokens(&mut tokens);
            if input.peek(Token![::]) {
                AngleBracketedGenericArguments::parse_turbofish(input)?.to_tokens(&mut tokens);
            }
            if input.peek(token::Paren) {
                input.parse::<proc_macro2::TokenTree>()?.to_tokens(&mut tokens);
            }
            callable = true;
        } else if callable && input.peek(token::Paren) {
            input.parse::<proc_macro2::TokenTree>()?.to_tokens(&mut tokens);
        } else if input.peek(Token![?]) {
            input.parse::<Token![?]>()?.to_tokens(&mut tokens);
        } else {
            break;
        }
    }
    syn::parse2(tokens).map(unwrap_group)
}

/// `(expr)` and `{ expr }` as `expr`: the grouping only separates the argument from its
/// neighbours, and kept in the method call it would trip `unused_parens`/`unused_braces`.
fn unwrap_group(expr: Expr) -> Expr {
    match expr {
        Expr::Paren(paren) if paren.attrs.is_empty() => *paren.expr,
        Expr::Block(mut block)
            if block.attrs.is_empty()
                && block.label.is_none()
                && matches!(block.block.stmts.as_slice(), [syn::Stmt::Expr(_, None)]) =>
        {
            match block.block.stmts.pop() {
                Some(syn::Stmt::Expr(inner, None)) => inner,
                other => {
                    block.block.stmts.extend(other);
                    Expr::Block(block)
                }
            }
        }
        other => other,
    }
}
