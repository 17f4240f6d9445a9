//! `zk!` to builder calls: the verb's method on the client, then one method per option, as a
//! person would write them. Nothing else is generated, except that a block is an `async`
//! block awaiting each command with `?` and ending in `Ok(value)`.
//!
//! An inline ACL (`acl = [world(read)]`) is `.try_acl(<the acl! expression>)`: the builder
//! method that takes the helpers' `Result` and reports a refused entry when the call is made,
//! so the chain never needs a `?` (for `set_acl PATH [...]`, the list goes to `.try_acl` too).

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{Ident, LitStr};

use super::acl;
use crate::model::command::{AclValue, Arg, Command, Invocation, OptUse, OptValue, Stmt, WatcherKindArg};
use crate::model::duration::DurationLit;
use crate::model::path::PathArg;
use crate::model::spec::{Opt, Verb};

pub fn invocation(invocation: &Invocation) -> TokenStream {
    match invocation {
        Invocation::Single { client, command } => call(command, &quote!((#client)), &quote!(&(#client))),
        Invocation::Block { client, stmts } => block(client, stmts),
    }
}

fn block(client: &syn::Expr, stmts: &[Stmt]) -> TokenStream {
    let handle = Ident::new("__zk_client", Span::mixed_site());
    let mut body = Vec::new();
    let mut value = quote!(());
    let last = stmts.len().saturating_sub(1);
    for (i, stmt) in stmts.iter().enumerate() {
        match stmt {
            Stmt::Rust(stmt) => body.push(quote!(#stmt)),
            Stmt::Tail(expr) => value = quote!(#expr),
            Stmt::Command { binding, command, semi } => {
                let chain = call(command, &quote!(#handle), &quote!(#handle));
                let span = command.name.span;
                let expr = if command.has(Opt::Send) || command.has(Opt::Callback) {
                    chain
                } else if let Some(optional) = command.option(Opt::Optional) {
                    // What a person writes to take the expected refusal as a value.
                    let method = if command.spec.refused_when_present() { "exists_ok" } else { "absent_ok" };
                    let method = Ident::new(method, optional.name.span);
                    quote_spanned!(span=> ::zk_dsl::ResultExt::#method(#chain.await)?)
                } else {
                    quote_spanned!(span=> #chain.await?)
                };
                match binding {
                    _ if i == last && !semi => value = expr,
                    Some(binding) => {
                        let pat = &binding.pat;
                        let ty = binding.ty.as_ref().map(|ty| quote!(: #ty));
                        body.push(quote!(let #pat #ty = #expr;));
                    }
                    None => body.push(quote!(#expr;)),
                }
            }
        }
    }
    quote! {
        async {
            let #handle = &(#client);
            #(#body)*
            ::core::result::Result::Ok::<_, ::zk_dsl::Error>(#value)
        }
    }
}

/// The builder chain of one command on `client` (`client_ref`: the same client as a reference,
/// for the recipes' constructors).
fn call(command: &Command, client: &TokenStream, client_ref: &TokenStream) -> TokenStream {
    let span = command.name.span;
    let spec = command.spec;
    if let Some((recipe_type, start)) = spec.recipe() {
        return recipe(command, recipe_type, start, client_ref);
    }
    if spec.verb == Verb::Dosync {
        return dosync(command, client_ref);
    }
    let head = match spec.verb {
        Verb::Txn => {
            let transaction = Ident::new("transaction", span);
            let entries: Vec<_> = entries(command).iter().map(txn_entry).collect();
            quote!(#client.#transaction() #(#entries)*)
        }
        Verb::MultiRead => {
            let method = Ident::new(spec.name, span);
            let entries: Vec<_> = entries(command).iter().map(read_entry).collect();
            quote!(#client.#method() #(#entries)*)
        }
        _ => {
            let method = Ident::new(spec.name, span);
            let mut args: Vec<TokenStream> = command.args.iter().filter_map(argument).collect();
            // `sort` and `retries` are the compound operations' trailing arguments.
            if spec.verb == Verb::DeleteChildren {
                let sort = command.has(Opt::Sort);
                args.push(quote!(#sort));
            }
            if let Some(OptValue::Expr(retries)) = command.option(Opt::Retries).map(|o| &o.value) {
                args.push(quote!(#retries));
            }
            let try_acl = command.args.iter().find_map(|a| match a {
                Arg::Acl(AclValue::Inline(list)) => Some(try_acl(list)),
                _ => None,
            });
            quote!(#client.#method(#(#args),*) #try_acl)
        }
    };
    // `as TYPE`: the typed read, before the watch options (which it keeps).
    let decode = command.as_type.as_ref().map(|(span, ty)| {
        let method = Ident::new("decode", *span);
        quote!(.#method::<#ty>())
    });
    let options = options(command, false);
    quote!(#head #decode #options)
}

/// A recipe's acquisition, as a person writes it: the recipe's constructor (a lease's `max` is
/// its third argument), the recipe's options (`id`, `loss_policy`, `retry`, in the order
/// written), the method that starts the acquisition, then the acquisition's `timeout`:
///
/// * `lock P` → `Mutex::new(&client, P).acquire()`, `.timeout(d)` after it;
/// * `read_lock P` / `write_lock P` → `ReadWriteLock::new(&client, P).read()` / `.write()`;
/// * `lease P max = N` → `Semaphore::new(&client, P, N).acquire()`, or `.acquire_timeout(d)`;
/// * `latch P` → `LeaderLatch::new(&client, P).start()`.
///
/// The paths are spanned at the verb, so without zk-dsl's `recipes` feature the compiler's
/// "could not find `recipes` in `zk_dsl`" (with its note naming the feature) points at it.
fn recipe(command: &Command, recipe_type: &str, start: &str, client: &TokenStream) -> TokenStream {
    let span = command.name.span;
    let ty = Ident::new(recipe_type, span);
    let new = Ident::new("new", span);
    let p = command.args.iter().find_map(|a| match a {
        Arg::Path(p) => Some(path(p)),
        _ => None,
    });
    let max = match command.option(Opt::Max).map(|o| &o.value) {
        Some(OptValue::Expr(max)) => Some(quote!(, #max)),
        _ => None,
    };
    let setup = command.options.iter().filter(|o| matches!(o.opt, Some(Opt::Id | Opt::LossPolicy | Opt::Retry)));
    let setup = setup.filter_map(|use_| {
        let method = Ident::new(use_.opt?.name(), use_.name.span);
        match &use_.value {
            OptValue::Expr(e) => Some(quote!(.#method(#e))),
            _ => None,
        }
    });
    let timeout = command.option(Opt::Timeout).and_then(|o| value(&o.value).map(|d| (o.name.span, d)));
    let (start, start_arg, after) = match timeout {
        Some((at, d)) if command.spec.verb == Verb::Lease => (Ident::new("acquire_timeout", at), Some(d), None),
        Some((at, d)) => {
            let method = Ident::new("timeout", at);
            (Ident::new(start, span), None, Some(quote!(.#method(#d))))
        }
        None => (Ident::new(start, span), None, None),
    };
    quote_spanned!(span=> ::zk_dsl::recipes::#ty::#new(#client, #p #max) #(#setup)* .#start(#start_arg) #after)
}

/// A transaction over refs, as a person writes it: `Transaction::new(&client)`, its options
/// (`retry`, `markers`, in the order written), and `.run(closure)`, where the closure hands
/// each attempt a clone of every listed variable and runs the body as its `async move` block:
///
/// ```text
/// dosync [a, b] |tx| { BODY } retry = R
/// → ::zk_dsl::recipes::Transaction::new(&client).retry(R).run(|tx| {
///       let a = ::core::clone::Clone::clone(&a);
///       let b = ::core::clone::Clone::clone(&b);
///       async move { BODY }
///   })
/// ```
///
/// Spanned at the verb, like the recipes (the same `recipes` feature).
fn dosync(command: &Command, client: &TokenStream) -> TokenStream {
    let span = command.name.span;
    let ty = Ident::new("Transaction", span);
    let new = Ident::new("new", span);
    let run = Ident::new("run", span);
    let setup = command.options.iter().filter(|o| matches!(o.opt, Some(Opt::Retry | Opt::Markers)));
    let setup = setup.filter_map(|use_| {
        let method = Ident::new(use_.opt?.name(), use_.name.span);
        let v = value(&use_.value)?;
        Some(quote!(.#method(#v)))
    });
    let clones = command.args.iter().filter_map(|a| match a {
        Arg::Clones(names) => Some(names.iter()),
        _ => None,
    });
    let clones = clones.flatten().map(|name| {
        let span = syn::spanned::Spanned::span(name);
        quote_spanned!(span=> let #name = ::core::clone::Clone::clone(&#name);)
    });
    let body = command.args.iter().find_map(|a| match a {
        Arg::Closure(body) => Some(body),
        _ => None,
    });
    let closure = match body {
        Some(syn::Expr::Closure(c)) => {
            let (attrs, capture, or1, inputs, or2) = (&c.attrs, &c.capture, &c.or1_token, &c.inputs, &c.or2_token);
            let block = match &*c.body {
                syn::Expr::Block(b) if b.attrs.is_empty() && b.label.is_none() => {
                    let block = &b.block;
                    quote!(#block)
                }
                syn::Expr::Async(a) if a.attrs.is_empty() => {
                    let block = &a.block;
                    quote!(#block)
                }
                other => quote!({ #other }),
            };
            quote!(#(#attrs)* #capture #or1 #inputs #or2 { #(#clones)* async move #block })
        }
        // The checker has refused anything but a closure.
        other => quote!(#other),
    };
    quote_spanned!(span=> ::zk_dsl::recipes::#ty::#new(#client) #(#setup)* .#run(#closure))
}

/// An option's value as the builder takes it (`None` for a flag or an inline ACL).
fn value(value: &OptValue) -> Option<TokenStream> {
    match value {
        OptValue::Expr(e) => Some(quote!(#e)),
        OptValue::Duration(d) => Some(duration(d)),
        OptValue::None | OptValue::Acl(_) => None,
    }
}

/// `5s` → `::std::time::Duration::from_secs(5)`, spanned at the literal. The checker has
/// refused the literals with no value, so the fallback (the literal as written) is not reached.
fn duration(d: &DurationLit) -> TokenStream {
    let span = d.span();
    match d.value() {
        Ok((constructor, n)) => {
            let method = Ident::new(constructor.method(), span);
            let n = proc_macro2::Literal::u64_unsuffixed(n);
            quote_spanned!(span=> ::std::time::Duration::#method(#n))
        }
        Err(_) => {
            let lit = &d.lit;
            quote!(#lit)
        }
    }
}

/// A positional argument as the builder takes it.
fn argument(arg: &Arg) -> Option<TokenStream> {
    Some(match arg {
        Arg::Path(p) => path(p),
        Arg::Value(v) => quote!(#v),
        Arg::Acl(AclValue::Inline(list)) => quote_spanned!(list.span=> ::std::vec::Vec::new()),
        Arg::Acl(AclValue::Expr(e)) => quote!(#e),
        Arg::WatcherKind(WatcherKindArg::Named { variant, ident }) => {
            let variant = Ident::new(variant, ident.span());
            quote!(::zk_dsl::WatcherType::#variant)
        }
        Arg::WatcherKind(WatcherKindArg::Expr(e)) => quote!(#e),
        Arg::Entries(_) | Arg::Clones(_) | Arg::Closure(_) => return None,
    })
}

fn entries(command: &Command) -> &[Command] {
    command
        .args
        .iter()
        .find_map(|a| match a {
            Arg::Entries(entries) => Some(entries.as_slice()),
            _ => None,
        })
        .unwrap_or_default()
}

/// One operation of a transaction, as a method of the transaction's builder.
fn txn_entry(entry: &Command) -> TokenStream {
    let span = entry.name.span;
    let p = entry.args.iter().find_map(|a| match a {
        Arg::Path(p) => Some(path(p)),
        _ => None,
    });
    let version = match entry.option(Opt::Version).map(|o| &o.value) {
        Some(OptValue::Expr(v)) => quote!(#v),
        _ => quote_spanned!(span=> -1),
    };
    match entry.spec.verb {
        Verb::TxnCreate => {
            let builder = Ident::new("__zk_create", Span::mixed_site());
            let options = options(entry, true);
            let create_with = Ident::new("create_with", span);
            quote!(.#create_with(#p, |#builder| #builder #options))
        }
        Verb::TxnSetData => {
            let value = entry.args.iter().find_map(|a| match a {
                Arg::Value(v) => Some(v),
                _ => None,
            });
            let method = Ident::new("set_data", span);
            quote!(.#method(#p, #value, #version))
        }
        Verb::TxnDelete | Verb::TxnCheck => {
            let method = Ident::new(entry.spec.name, span);
            quote!(.#method(#p, #version))
        }
        _ => quote!(),
    }
}

fn read_entry(entry: &Command) -> TokenStream {
    let method =
        Ident::new(if entry.spec.verb == Verb::ReadData { "get_data" } else { "get_children" }, entry.name.span);
    let p = entry.args.iter().find_map(|a| match a {
        Arg::Path(p) => Some(path(p)),
        _ => None,
    });
    quote!(.#method(#p))
}

/// The option methods, in the order written, except that the ones changing the call's type
/// (`with_stat`, `with_watch`) and dispatching it (`send`, `callback`) come last.
fn options(command: &Command, in_txn: bool) -> TokenStream {
    let mut uses: Vec<&OptUse> = command.options.iter().filter(|o| o.opt.is_some()).collect();
    uses.sort_by_key(|o| o.opt.map(Opt::stage));
    let calls = uses.into_iter().filter_map(|use_| {
        let opt = use_.opt?;
        // Arguments, not methods.
        if matches!(opt, Opt::Sort | Opt::Retries | Opt::Optional) || (in_txn && opt == Opt::Version) {
            return None;
        }
        let method = Ident::new(opt.name(), use_.name.span);
        Some(match &use_.value {
            OptValue::None => quote!(.#method()),
            OptValue::Acl(list) => try_acl(list),
            v => {
                let v = value(v);
                quote!(.#method(#v))
            }
        })
    });
    quote!(#(#calls)*)
}

/// `.try_acl(<Result<Vec<Acl>, AclError>>)`, spanned at the list.
fn try_acl(list: &crate::model::acl::AclList) -> TokenStream {
    let method = Ident::new("try_acl", list.span);
    let value = acl::list(list);
    quote_spanned!(list.span=> .#method(#value))
}

/// A path argument: the literal, `format!` for a template, or the expression.
pub fn path(path: &PathArg) -> TokenStream {
    match path {
        PathArg::Literal(lit) => quote!(#lit),
        PathArg::Expr(e) => quote!(#e),
        PathArg::Template(t) => {
            let format = LitStr::new(&t.format_string(), t.lit.span());
            let args = t.holes().map(|(_, e)| e);
            quote_spanned!(t.lit.span()=> ::std::format!(#format, #(#args),*))
        }
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use crate::ctxt::Ctxt;

    fn expand(tokens: TokenStream) -> String {
        let cx = Ctxt::new();
        let invocation = crate::parse::invocation(tokens, &cx);
        if let Some(invocation) = &invocation {
            crate::check::command::check_invocation(invocation, &cx);
        }
        assert!(cx.finish().is_ok(), "refused");
        invocation.as_ref().map(super::invocation).unwrap_or_default().to_string()
    }

    /// `dosync` is the `Transaction::run` a person writes: a clone of each listed variable per
    /// attempt, the body as the attempt's `async move` block, the options before `run`.
    #[test]
    fn dosync_is_the_transaction_a_person_writes() {
        let expanded = expand(quote! {
            client, dosync [alice, bob] |tx| {
                let from = tx.get(&alice).await?;
                tx.alter(&bob, |b| b + from).await?;
                Ok(true)
            } retry = policy markers = "/m"
        });
        let written = quote! {
            ::zk_dsl::recipes::Transaction::new(&(client)).retry(policy).markers("/m").run(|tx| {
                let alice = ::core::clone::Clone::clone(&alice);
                let bob = ::core::clone::Clone::clone(&bob);
                async move {
                    let from = tx.get(&alice).await?;
                    tx.alter(&bob, |b| b + from).await?;
                    Ok(true)
                }
            })
        };
        assert_eq!(expanded, written.to_string());
        // No list; a one-expression body; `move` kept.
        let expanded = expand(quote!(client, dosync move |tx| tx.alter(r, f).await));
        let written = quote!(
            ::zk_dsl::recipes::Transaction::new(&(client)).run(move |tx| { async move { tx.alter(r, f).await } })
        );
        assert_eq!(expanded, written.to_string());
    }
}
