//! One command: `verb positional-args… options…`, and the entries of `txn { }` and
//! `multi_read { }`.

use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::{braced, bracketed, token, Expr, Ident, LitStr, Token};

use super::acl::parse_bracketed;
use super::term::parse_term;
use crate::check::suggest::did_you_mean;
use crate::ctxt::Ctxt;
use crate::model::command::{AclValue, Arg, Command, Name, OptUse, OptValue, WatcherKindArg};
use crate::model::duration::DurationLit;
use crate::model::path::PathArg;
use crate::model::spec::{seed_option, ArgKind, Block, Opt, Takes, VerbSpec, WATCHER_KINDS};

/// A verb's name: an identifier, or the seed's hyphenated spelling (`set-data`), read as
/// `set_data`. Hyphens are only joined while the result is still a verb of `block`, so
/// `data - 1` stays arithmetic.
pub fn parse_verb_name(input: ParseStream, block: Block) -> syn::Result<Name> {
    let first = Ident::parse_any(input)?;
    let mut text = first.to_string();
    loop {
        let fork = input.fork();
        if fork.parse::<Token![-]>().is_err() {
            break;
        }
        let Ok(next) = Ident::parse_any(&fork) else { break };
        let joined = format!("{text}_{next}");
        let is_prefix = block.verbs().iter().any(|v| {
            std::iter::once(v.name)
                .chain(v.aliases.iter().copied())
                .any(|n| n == joined || n.starts_with(&(joined.clone() + "_")))
        });
        if !is_prefix {
            break;
        }
        input.parse::<Token![-]>()?;
        Ident::parse_any(input)?;
        text = joined;
    }
    Ok(Name { text, span: first.span() })
}

/// Whether `input` starts with a command of `block` rather than Rust: a verb name followed by
/// something an argument can start with (or nothing). A name followed directly by a string
/// literal is taken as a command too, so a misspelt verb gets a "did you mean" instead of a
/// Rust syntax error.
pub fn starts_command(input: ParseStream, block: Block) -> bool {
    let fork = input.fork();
    let Ok(name) = parse_verb_name(&fork, block) else { return false };
    let Some(spec) = block.find(&name.text) else {
        return fork.peek(LitStr);
    };
    // `dosync [a, b] |tx| …`: a bracket or a closure after this name is the command's, not an
    // index or a bitwise or of a variable with the verb's name.
    let takes_closure = matches!(spec.args.first(), Some(ArgKind::Clones | ArgKind::Closure(_)));
    if takes_closure && (fork.peek(token::Bracket) || fork.peek(Token![|]) || fork.peek(Token![||])) {
        return true;
    }
    fork.is_empty()
        || fork.peek(Token![;])
        || fork.peek(syn::Lit)
        || (fork.peek(Ident::peek_any) && !fork.peek(Token![as]))
        || fork.peek(token::Paren)
        || fork.peek(token::Brace)
        || (fork.peek(Token![&]) && !fork.peek(Token![&&]) && !fork.peek(Token![&=]))
}

pub fn parse_command(input: ParseStream, block: Block, cx: &Ctxt) -> syn::Result<Command> {
    let name = parse_verb_name(input, block)?;
    let Some(spec) = block.find(&name.text) else {
        return Err(syn::Error::new(name.span, unknown_verb(&name.text, block)));
    };
    let mut args = Vec::with_capacity(spec.args.len());
    for kind in spec.args {
        args.push(parse_arg(input, *kind, spec, cx)?);
    }
    let mut options = Vec::new();
    let mut as_type = None;
    while !input.is_empty() && !input.peek(Token![;]) {
        if input.peek(Token![as]) {
            // `get_data PATH as TYPE`; whether the verb takes it is the checker's business.
            let as_token = input.parse::<Token![as]>()?;
            let ty = Box::new(input.parse::<syn::Type>()?);
            if as_type.is_some() {
                cx.error(as_token.span, "duplicate `as TYPE`");
            }
            as_type = Some((as_token.span, ty));
            continue;
        }
        options.push(parse_option(input, spec, cx)?);
    }
    Ok(Command { name, spec, args, options, as_type })
}

fn unknown_verb(name: &str, block: Block) -> String {
    let names = block.names();
    let mut message = format!("unknown verb `{name}` in {}", block.describe());
    if let Some(close) = did_you_mean(name, &names) {
        message.push_str(&format!("; did you mean `{close}`?"));
    }
    message.push_str(&format!("\nverbs: {}", names.join(", ")));
    message
}

fn parse_arg(input: ParseStream, kind: ArgKind, spec: &VerbSpec, cx: &Ctxt) -> syn::Result<Arg> {
    if kind == ArgKind::Clones {
        return parse_clones(input);
    }
    if input.is_empty() || input.peek(Token![;]) {
        let what = match kind {
            ArgKind::Path => "a path",
            ArgKind::Value(what) => what,
            ArgKind::Acl => "an ACL",
            ArgKind::WatcherKind => "the kind of watches",
            ArgKind::Entries(_) => "its operations in `{ … }`",
            ArgKind::Closure(what) => what,
            ArgKind::Clones => "",
        };
        return Err(input.error(format!("`{}` needs {what}: {}", spec.name, spec.usage)));
    }
    Ok(match kind {
        ArgKind::Path if input.peek(LitStr) => Arg::Path(PathArg::from_lit(input.parse()?, cx)),
        ArgKind::Path => Arg::Path(PathArg::Expr(parse_term(input, "a path")?)),
        ArgKind::Value(what) => {
            if looks_like_option(input, spec) {
                return Err(input.error(format!("`{}` needs {what} before its options: {}", spec.name, spec.usage)));
            }
            Arg::Value(parse_term(input, what)?)
        }
        ArgKind::Acl if input.peek(token::Bracket) => Arg::Acl(AclValue::Inline(parse_bracketed(input)?)),
        ArgKind::Acl => Arg::Acl(AclValue::Expr(parse_term(input, "an ACL list")?)),
        ArgKind::WatcherKind => {
            let fork = input.fork();
            match fork.parse::<Ident>().ok().and_then(|i| named_kind(&i).map(|v| (i, v))) {
                Some((ident, variant)) => {
                    input.parse::<Ident>()?;
                    Arg::WatcherKind(WatcherKindArg::Named { variant, ident })
                }
                None => Arg::WatcherKind(WatcherKindArg::Expr(parse_term(input, "the kind of watches")?)),
            }
        }
        ArgKind::Entries(block) => Arg::Entries(parse_entries(input, block, cx)?),
        ArgKind::Closure(what) => {
            if looks_like_option(input, spec) {
                return Err(input.error(format!("`{}` needs {what} before its options: {}", spec.name, spec.usage)));
            }
            // `async |tx| …` and `async move { … }` are read whole, for the checker to explain.
            if input.peek(Token![async]) {
                Arg::Closure(input.parse()?)
            } else {
                Arg::Closure(parse_term(input, what)?)
            }
        }
        ArgKind::Clones => parse_clones(input)?,
    })
}

/// `[a, b, …]` if there is a bracket, else no clones. Any expressions parse; the checker
/// reports those that are not a variable's name.
fn parse_clones(input: ParseStream) -> syn::Result<Arg> {
    if !input.peek(token::Bracket) {
        return Ok(Arg::Clones(Vec::new()));
    }
    let content;
    bracketed!(content in input);
    let parsed = Punctuated::<Expr, Token![,]>::parse_terminated(&content).inspect_err(|_| super::drain(&content));
    Ok(Arg::Clones(parsed?.into_iter().collect()))
}

fn named_kind(ident: &Ident) -> Option<&'static str> {
    let name = ident.to_string();
    WATCHER_KINDS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// An option of this verb where a value should be: `set_data "/p" version = 3`.
fn looks_like_option(input: ParseStream, spec: &VerbSpec) -> bool {
    let fork = input.fork();
    let Ok(ident) = fork.parse::<Ident>() else { return false };
    let Some(opt) = Opt::from_name(&ident.to_string()) else { return false };
    spec.allows(opt)
        && (fork.peek(Token![=]) || opt.takes() == Takes::Flag && (fork.is_empty() || fork.peek(Token![;])))
}

/// `{ entry; entry; … }`. A broken entry is reported and skipped, so the others are still
/// checked.
fn parse_entries(input: ParseStream, block: Block, cx: &Ctxt) -> syn::Result<Vec<Command>> {
    let content;
    braced!(content in input);
    let mut entries = Vec::new();
    while !content.is_empty() {
        if content.peek(Token![;]) {
            content.parse::<Token![;]>()?;
            continue;
        }
        let parsed = parse_command(&content, block, cx).and_then(|entry| {
            if !content.is_empty() {
                content.parse::<Token![;]>()?;
            }
            Ok(entry)
        });
        match parsed {
            Ok(entry) => entries.push(entry),
            Err(e) => {
                cx.syn_error(e);
                super::skip_statement(&content)?;
            }
        }
    }
    Ok(entries)
}

fn parse_option(input: ParseStream, spec: &VerbSpec, cx: &Ctxt) -> syn::Result<OptUse> {
    if !input.peek(Ident::peek_any) {
        let names: Vec<String> = spec.options.iter().map(|o| o.usage()).collect();
        let mut expected = if names.is_empty() {
            format!("`{}` takes no options", spec.name)
        } else {
            format!("expected an option of `{}`: {}", spec.name, names.join(", "))
        };
        // Most likely an argument that goes on (`a + b`, `Type { … }`, `v[0]`).
        expected
            .push_str("\n(an argument that is more than a name, literal, call or method chain goes in parentheses)");
        return Err(input.error(expected));
    }
    let ident = Ident::parse_any(input)?;
    let name = Name { text: ident.to_string(), span: ident.span() };
    let opt = Opt::from_name(&name.text);
    // The seed's `:watch? true` written as `watch?`: say what it is here (and nothing more
    // about it later), and read on, so the rest of the command is still checked.
    if input.peek(Token![?]) {
        input.parse::<Token![?]>()?;
        let written = format!("{}?", name.text);
        let message = match seed_option(&written, spec).or(opt.filter(|o| spec.allows(*o))) {
            Some(ours) => format!(
                "unknown option `{written}`; did you mean `{0}`? (the seed's `:{written} true` is `{0}` in `zk!`)",
                ours.name()
            ),
            None => format!("unknown option `{written}` for `{}`", spec.name),
        };
        cx.error(name.span, message);
        return Ok(OptUse { name, opt: None, value: OptValue::None, reported: true });
    }
    let value = if input.peek(Token![=]) && !input.peek(Token![==]) && !input.peek(Token![=>]) {
        input.parse::<Token![=]>()?;
        if opt == Some(Opt::Acl) && input.peek(token::Bracket) {
            OptValue::Acl(parse_bracketed(input)?)
        } else {
            let expr = input.parse::<Expr>()?;
            // `timeout = 5s`: a literal with a unit, checked later; any other value as is.
            match DurationLit::from_expr(&expr).filter(|_| opt.map(Opt::takes) == Some(Takes::Duration)) {
                Some(duration) => OptValue::Duration(duration),
                None => OptValue::Expr(expr),
            }
        }
    } else {
        OptValue::None
    };
    Ok(OptUse { name, opt, value, reported: false })
}
