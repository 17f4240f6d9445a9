//! Tokens to [`crate::model`]. Syntax errors end the statement they are in, not the
//! invocation: the parser skips to the next `;` and goes on, so every broken statement of a
//! block is reported at once.

pub mod acl;
pub mod command;
pub mod derive;
pub mod term;

use syn::parse::{ParseStream, Parser};
use syn::{Expr, Pat, Token, Type};

use crate::ctxt::Ctxt;
use crate::model::command::{Binding, Invocation, Stmt};
use crate::model::spec::Block;

const FORMS: &str = "expected `zk!(client, verb …)` or `zk! { client => statement; … }`";

/// Parses a whole `zk!` invocation, reporting what it can to `cx`.
pub fn invocation(tokens: proc_macro2::TokenStream, cx: &Ctxt) -> Option<Invocation> {
    let parser = |input: ParseStream| parse_invocation(input, cx);
    match parser.parse2(tokens) {
        Ok(invocation) => Some(invocation),
        Err(e) => {
            cx.syn_error(e);
            None
        }
    }
}

fn parse_invocation(input: ParseStream, cx: &Ctxt) -> syn::Result<Invocation> {
    if input.is_empty() {
        return Err(input.error(FORMS));
    }
    let client: Expr = input.parse()?;
    if input.peek(Token![,]) {
        input.parse::<Token![,]>()?;
        let command = command::parse_command(input, Block::Top, cx)?;
        if input.peek(Token![;]) {
            input.parse::<Token![;]>()?;
        }
        if !input.is_empty() {
            return Err(input.error(
                "unexpected tokens after the command; `zk!(client, …)` takes one command, \
                 `zk! { client => …; …; }` several",
            ));
        }
        return Ok(Invocation::Single { client, command });
    }
    if input.peek(Token![=>]) {
        input.parse::<Token![=>]>()?;
        let mut stmts = Vec::new();
        while !input.is_empty() {
            if input.peek(Token![;]) {
                input.parse::<Token![;]>()?;
                continue;
            }
            match parse_stmt(input, cx) {
                Ok(stmt) => stmts.push(stmt),
                Err(e) => {
                    cx.syn_error(e);
                    skip_statement(input)?;
                }
            }
        }
        return Ok(Invocation::Block { client, stmts });
    }
    Err(input.error(format!("{FORMS}: after the client comes `,` (one command) or `=>` (a block)")))
}

fn parse_stmt(input: ParseStream, cx: &Ctxt) -> syn::Result<Stmt> {
    let mut binding = None;
    if input.peek(Token![let]) {
        let fork = input.fork();
        if let Some(found) = command_binding(&fork) {
            use syn::parse::discouraged::Speculative;
            input.advance_to(&fork);
            binding = Some(found);
        }
    }
    if binding.is_some() || command::starts_command(input, Block::Top) {
        let command = command::parse_command(input, Block::Top, cx)?;
        let semi = if input.peek(Token![;]) {
            input.parse::<Token![;]>()?;
            true
        } else if input.is_empty() {
            false
        } else {
            return Err(input.error("expected `;` after the command"));
        };
        return Ok(Stmt::Command { binding, command, semi });
    }
    rust_stmt(input)
}

/// `let PAT [: TYPE] =` followed by a command: the binding (`input` is a fork).
fn command_binding(input: ParseStream) -> Option<Binding> {
    input.parse::<Token![let]>().ok()?;
    let pat = Pat::parse_single(input).ok()?;
    let ty = if input.peek(Token![:]) {
        input.parse::<Token![:]>().ok()?;
        Some(input.parse::<Type>().ok()?)
    } else {
        None
    };
    input.parse::<Token![=]>().ok()?;
    command::starts_command(input, Block::Top).then_some(Binding { pat, ty })
}

/// A Rust statement, or the final expression of the block.
fn rust_stmt(input: ParseStream) -> syn::Result<Stmt> {
    use syn::parse::discouraged::Speculative;
    let fork = input.fork();
    match fork.parse::<syn::Stmt>() {
        Ok(stmt) => {
            input.advance_to(&fork);
            Ok(Stmt::Rust(stmt))
        }
        Err(e) => {
            let tail = input.fork();
            match tail.parse::<Expr>() {
                Ok(expr) if tail.is_empty() => {
                    input.advance_to(&tail);
                    Ok(Stmt::Tail(expr))
                }
                _ => Err(e),
            }
        }
    }
}

/// Skips to just after the next `;` at this nesting level (or to the end).
pub fn skip_statement(input: ParseStream) -> syn::Result<()> {
    input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tree, next)) = rest.token_tree() {
            rest = next;
            if matches!(&tree, proc_macro2::TokenTree::Punct(p) if p.as_char() == ';') {
                break;
            }
        }
        Ok(((), rest))
    })
}

/// Consumes the rest of a nested buffer, so an error inside brackets does not also leave
/// syn an "unexpected token" to report.
pub fn drain(input: ParseStream) {
    let _ = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((_, next)) = rest.token_tree() {
            rest = next;
        }
        Ok(((), rest))
    });
}
