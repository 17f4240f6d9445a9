//! The closure verbs' arguments (`dosync [a, b] |tx| { … }`): the list names variables, the
//! body is a plain closure of one parameter, which the expansion makes the attempt's
//! `async move` block.

use quote::quote;
use syn::{Expr, ReturnType};

use crate::ctxt::Ctxt;
use crate::model::spec::VerbSpec;

/// Each entry of `[…]` is a variable's name, listed once.
pub fn check_clones(names: &[Expr], spec: &VerbSpec, cx: &Ctxt) {
    let mut seen: Vec<String> = Vec::new();
    for expr in names {
        let Some(ident) = variable(expr) else {
            // `&alice` and `alice.clone()` mean the variable.
            let meant = match expr {
                Expr::Reference(r) => variable(&r.expr),
                Expr::MethodCall(m) if m.method == "clone" && m.args.is_empty() => variable(&m.receiver),
                _ => None,
            };
            let hint = match meant {
                Some(name) => format!("write `{name}`: each attempt gets `Clone::clone(&{name})`"),
                None => "bind the value to a name first (`let name = …;`) and list the name".to_owned(),
            };
            cx.error_spanned_by(
                expr,
                format!(
                    "`{} [...]` lists the variables each attempt gets a clone of, so each entry is a name; {hint}",
                    spec.name
                ),
            );
            continue;
        };
        let name = ident.to_string();
        if seen.contains(&name) {
            cx.error(ident.span(), format!("`{name}` is listed twice"));
        } else {
            seen.push(name);
        }
    }
}

/// The variable an entry names, if it is a bare name.
fn variable(expr: &Expr) -> Option<&syn::Ident> {
    match expr {
        Expr::Path(p) if p.attrs.is_empty() && p.qself.is_none() => p.path.get_ident(),
        _ => None,
    }
}

/// The body is `|param| …`: one parameter, not `async`, no return type.
pub fn check_closure(body: &Expr, spec: &VerbSpec, cx: &Ctxt) {
    let verb = spec.name;
    let closure = match body {
        Expr::Closure(closure) => closure,
        Expr::Async(block) => {
            cx.error(
                block.async_token.span,
                format!(
                    "`{verb}` takes a closure, called once per attempt: write `|tx| {{ … }}`, and its body becomes \
                     the attempt's `async move` block\nusage: {}",
                    spec.usage
                ),
            );
            return;
        }
        other => {
            cx.error_spanned_by(
                other,
                format!(
                    "`{verb}` takes the transaction's body as a closure, `|tx| {{ … }}`, called once per attempt \
                     with the attempt's `Txn`\nusage: {}",
                    spec.usage
                ),
            );
            return;
        }
    };
    if let Some(token) = &closure.asyncness {
        cx.error(
            token.span,
            format!("the expansion makes `{verb}`'s body async: write `|tx| {{ … }}` without `async`"),
        );
    }
    if let ReturnType::Type(arrow, ty) = &closure.output {
        cx.error_spanned_by(
            quote!(#arrow #ty),
            format!(
                "`{verb}`'s closure returns the attempt's future, which the expansion makes: leave the return type \
                 out (to name the result's type, write `Ok::<T, zk_dsl::Error>(…)`)"
            ),
        );
    }
    if let Some(lifetimes) = &closure.lifetimes {
        cx.error_spanned_by(lifetimes, format!("`{verb}`'s closure takes no `for<…>`"));
    }
    if let Some(token) = &closure.constness {
        cx.error(token.span, format!("`{verb}`'s closure cannot be `const`"));
    }
    if let Some(token) = &closure.movability {
        cx.error(token.span, format!("`{verb}`'s closure cannot be `static`"));
    }
    let one = "takes exactly one parameter: the attempt (`|tx| …`, a `zk_dsl::recipes::Txn`)";
    match closure.inputs.len() {
        1 => {}
        0 => {
            let (or1, or2) = (&closure.or1_token, &closure.or2_token);
            cx.error_spanned_by(quote!(#or1 #or2), format!("`{verb}`'s closure {one}"));
        }
        n => {
            let extra = closure.inputs.iter().skip(1);
            cx.error_spanned_by(quote!(#(#extra),*), format!("`{verb}`'s closure {one}; this one has {n}"));
        }
    }
}
