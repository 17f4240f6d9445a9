//! A `zk!` invocation as the parser understood it.

use proc_macro2::Span;
use syn::{Expr, Ident, Pat, Type};

use super::acl::AclList;
use super::duration::DurationLit;
use super::path::PathArg;
use super::spec::{Opt, VerbSpec};

/// `zk!(client, command)` or `zk! { client => statements }`.
pub enum Invocation {
    Single { client: Expr, command: Command },
    Block { client: Expr, stmts: Vec<Stmt> },
}

/// One statement of a block.
pub enum Stmt {
    /// `[let PAT [: TYPE] =] command [;]`
    Command { binding: Option<Binding>, command: Command, semi: bool },
    /// Plain Rust, run in order with the commands.
    Rust(syn::Stmt),
    /// A final Rust expression without `;`: the block's value.
    Tail(Expr),
}

pub struct Binding {
    pub pat: Pat,
    pub ty: Option<Type>,
}

/// A verb or option name as written; `set-data` is read as `set_data`.
#[derive(Clone)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

/// One operation: a verb, its arguments and its options.
pub struct Command {
    pub name: Name,
    pub spec: &'static VerbSpec,
    pub args: Vec<Arg>,
    pub options: Vec<OptUse>,
    /// `as TYPE` (a typed read: `get_data PATH as i64`), with the span of `as`.
    pub as_type: Option<(Span, Box<Type>)>,
}

/// A positional argument (see [`super::spec::ArgKind`]).
pub enum Arg {
    Path(PathArg),
    Value(Expr),
    Acl(AclValue),
    WatcherKind(WatcherKindArg),
    Entries(Vec<Command>),
    /// `[a, b]` (empty when not written): each must be a variable's name (checked later).
    Clones(Vec<Expr>),
    /// The closure as written (anything else is reported by the checker).
    Closure(Expr),
}

pub enum AclValue {
    Inline(AclList),
    Expr(Expr),
}

pub enum WatcherKindArg {
    /// `data`, `children`, …: the `WatcherType` variant's name.
    Named {
        variant: &'static str,
        ident: Ident,
    },
    Expr(Expr),
}

/// An option as written. `opt` is `None` for a name that is no option at all.
pub struct OptUse {
    pub name: Name,
    pub opt: Option<Opt>,
    pub value: OptValue,
    /// Already reported by the parser (the seed's `watch?` spelling): not checked again.
    pub reported: bool,
}

pub enum OptValue {
    None,
    Expr(Expr),
    Acl(AclList),
    /// A numeric literal given to a duration option (`timeout = 5s`).
    Duration(DurationLit),
}

impl Command {
    /// The first use of `opt`, if any.
    pub fn option(&self, opt: Opt) -> Option<&OptUse> {
        self.options.iter().find(|o| o.opt == Some(opt))
    }

    pub fn has(&self, opt: Opt) -> bool {
        self.option(opt).is_some()
    }

    /// Whether the path is a sequential prefix (`sequential`), or may be one (`mode = …`,
    /// which is only known at run time): then the path is checked as ZooKeeper checks a
    /// sequential create, which allows a trailing `/`.
    pub fn sequential(&self) -> bool {
        self.spec.creates() && (self.has(Opt::Sequential) || self.has(Opt::Mode))
    }
}
