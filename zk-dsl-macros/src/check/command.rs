//! The rules of one command: which options it takes, given once, with or without a value,
//! not contradicting each other; its paths and inline ACLs.

use super::path::PathKind;
use super::suggest::did_you_mean;
use crate::ctxt::Ctxt;
use crate::model::command::{AclValue, Arg, Command, Invocation, OptUse, OptValue, Stmt};
use crate::model::path::PathArg;
use crate::model::spec::{seed_option, verbs_with, Block, Opt, Takes, VerbSpec, CONFLICTS};

pub fn check_invocation(invocation: &Invocation, cx: &Ctxt) {
    match invocation {
        Invocation::Single { command, .. } => {
            check_command(command, cx);
            if let Some(optional) = command.option(Opt::Optional) {
                let outcome = if command.spec.refused_when_present() { "exists_ok" } else { "absent_ok" };
                cx.error(
                    optional.name.span,
                    format!(
                        "`optional` works in a block (`zk! {{ client => … }}`), where commands are awaited; \
                         for one command write `zk!(…).await.{outcome}()` (`zk_dsl::ResultExt`)"
                    ),
                );
            }
        }
        Invocation::Block { stmts, .. } => {
            for stmt in stmts {
                if let Stmt::Command { command, .. } = stmt {
                    check_command(command, cx);
                }
            }
        }
    }
}

pub fn check_command(command: &Command, cx: &Ctxt) {
    let spec = command.spec;
    if let Some((span, _)) = &command.as_type {
        if !spec.decodes() {
            cx.error(
                *span,
                format!("`as TYPE` does not apply to `{}` (typed reads: `get_data PATH as TYPE`)", spec.name),
            );
        }
    }
    for (i, use_) in command.options.iter().enumerate() {
        if use_.reported {
            continue;
        }
        let Some(opt) = use_.opt else {
            cx.error(use_.name.span, unknown_option(&use_.name.text, spec));
            continue;
        };
        if !spec.allows(opt) {
            cx.error(use_.name.span, inapplicable(opt, spec));
            continue;
        }
        if command.options[..i].iter().any(|earlier| earlier.opt == Some(opt)) {
            cx.error(use_.name.span, format!("duplicate option `{}`", opt.name()));
            continue;
        }
        check_value(use_, opt, cx);
    }
    for (a, b) in CONFLICTS {
        let position = |opt: Opt| command.options.iter().position(|o| o.opt == Some(opt));
        let (Some(i), Some(j)) = (position(*a), position(*b)) else { continue };
        if !spec.allows(*a) || !spec.allows(*b) {
            continue;
        }
        let (later, other) =
            if i > j { (&command.options[i], &command.options[j]) } else { (&command.options[j], &command.options[i]) };
        cx.error(
            later.name.span,
            format!("`{}` conflicts with `{}`: {}", later.name.text, other.name.text, conflict_reason(*a, *b)),
        );
    }
    for required in spec.required {
        if !command.has(*required) {
            cx.error(command.name.span, format!("`{}` needs `{}`: {}", spec.name, required.usage(), spec.usage));
        }
    }
    let kind = match (spec.creates(), command.sequential()) {
        (_, true) => PathKind::SequentialPrefix,
        (true, false) => PathKind::Create,
        (false, false) => PathKind::Node,
    };
    for arg in &command.args {
        match arg {
            Arg::Path(path) => super::path::check(path, kind, cx),
            Arg::Acl(AclValue::Inline(list)) => super::acl::check(list, cx),
            Arg::Entries(entries) => entries.iter().for_each(|e| check_command(e, cx)),
            Arg::Clones(names) => super::closure::check_clones(names, spec, cx),
            Arg::Closure(body) => super::closure::check_closure(body, spec, cx),
            Arg::Acl(AclValue::Expr(_)) | Arg::Value(_) | Arg::WatcherKind(_) => {}
        }
    }
    // `markers = "/txn"`: a literal directory is checked as a path.
    if let Some(OptValue::Expr(syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(lit), .. }))) =
        command.option(Opt::Markers).map(|o| &o.value)
    {
        super::path::check(&PathArg::Literal(lit.clone()), PathKind::Node, cx);
    }
}

fn check_value(use_: &OptUse, opt: Opt, cx: &Ctxt) {
    match (opt.takes(), &use_.value) {
        (Takes::Flag, OptValue::None)
        | (Takes::Value | Takes::Acl | Takes::Duration, OptValue::Expr(_))
        | (Takes::Value | Takes::Duration, OptValue::Acl(_)) => {}
        (Takes::Acl, OptValue::Acl(list)) => super::acl::check(list, cx),
        (Takes::Duration, OptValue::Duration(duration)) => {
            if let Err(e) = duration.value() {
                cx.error(duration.span(), format!("`{}`: {e}", opt.name()));
            }
        }
        (Takes::Flag, _) => cx.error(use_.name.span, format!("`{}` takes no value", opt.name())),
        (Takes::Value | Takes::Acl | Takes::Duration, OptValue::None) => {
            cx.error(use_.name.span, format!("`{}` needs a value: `{}`", opt.name(), opt.usage()))
        }
        // The parser reads a duration literal only for a duration option.
        (Takes::Value | Takes::Acl, OptValue::Duration(_)) => {}
    }
}

fn options_of(spec: &VerbSpec) -> String {
    if spec.options.is_empty() {
        format!("`{}` takes no options", spec.name)
    } else {
        let names: Vec<String> = spec.options.iter().map(|o| o.usage()).collect();
        format!("options of `{}`: {}", spec.name, names.join(", "))
    }
}

fn unknown_option(name: &str, spec: &VerbSpec) -> String {
    let names: Vec<&str> = spec.options.iter().map(|o| o.name()).collect();
    let mut message = format!("unknown option `{name}` for `{}`", spec.name);
    if let Some(ours) = seed_option(name, spec) {
        let seed = if name.ends_with('?') { format!(":{name} true") } else { format!(":{name}? true") };
        message.push_str(&format!("; did you mean `{}`? (the seed's `{seed}`)", ours.name()));
    } else if let Some(close) = did_you_mean(name, &names) {
        message.push_str(&format!("; did you mean `{close}`?"));
    }
    message.push('\n');
    message.push_str(&options_of(spec));
    message
}

fn inapplicable(opt: Opt, spec: &VerbSpec) -> String {
    let users = verbs_with(opt);
    let why = if matches!(opt, Opt::Send | Opt::Callback) {
        format!(" (only the single-request verbs have `send` and `callback`: await `{}` instead)", spec.name)
    } else {
        format!(" (it is an option of {})", users.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", "))
    };
    format!("`{}` does not apply to {}{why}\n{}", opt.name(), describe(spec), options_of(spec))
}

/// "`create`", or "`create` in `txn { }`" for a block's entries.
fn describe(spec: &VerbSpec) -> String {
    for block in [Block::Txn, Block::MultiRead] {
        if block.verbs().iter().any(|v| std::ptr::eq(v, spec)) {
            return format!("`{}` in `{}`", spec.name, block.describe());
        }
    }
    format!("`{}`", spec.name)
}

fn conflict_reason(a: Opt, b: Opt) -> &'static str {
    use Opt::*;
    match (a, b) {
        (Persistent, Ephemeral) => "a node is one or the other",
        (Data, Bytes) => "both set the data",
        (Send, Callback) => "`callback` sends the request too",
        (Optional, _) => "`optional` applies to an awaited result, and a sent command is not awaited",
        (Watch | Watcher | WatcherShared | WatcherOnce | WithWatch, _) => "a read leaves one watch",
        (Mode, _) => "`mode` sets the whole create mode",
        (Container, _) => "a container is persistent, not sequential, and has no TTL",
        (Ttl, Ephemeral) => "TTL nodes are persistent",
        (Protected, Timeout) => "a protected create retries by its policy, which bounds how long it takes",
        _ => "they set the same thing",
    }
}
