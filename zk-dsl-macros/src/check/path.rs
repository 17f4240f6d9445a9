//! ZooKeeper's path rules at compile time.
//!
//! The rules are not restated here: they are `zk-dsl-proto`'s `path` module, the code the
//! client checks every path with at run time. One source, so the compile-time and run-time
//! checks cannot drift.

use crate::ctxt::Ctxt;
use crate::model::path::{PathArg, Template};

pub use zk_dsl_proto::path::{validate_path, PathError};

/// What a path names, which decides whether it may end with `/` and what the messages suggest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// A node, named as is (reads, writes, the recipes' directories, typed nodes).
    Node,
    /// A create's path, which `sequential` would turn into a prefix.
    Create,
    /// A sequential create's prefix: it may end with `/`.
    SequentialPrefix,
}

impl PathKind {
    fn sequential(self) -> bool {
        self == PathKind::SequentialPrefix
    }
}

pub fn check(path: &PathArg, kind: PathKind, cx: &Ctxt) {
    match path {
        PathArg::Literal(lit) => {
            let value = lit.value();
            if let Err(e) = validate_path(&value, kind.sequential()) {
                cx.error(lit.span(), literal_message(&value, &e, kind));
            }
        }
        PathArg::Template(template) => check_template(template, kind, cx),
        PathArg::Expr(_) => {}
    }
}

pub fn check_template(template: &Template, kind: PathKind, cx: &Ctxt) {
    let stand_in = template.with_stand_ins();
    if let Err(e) = validate_path(&stand_in, kind.sequential()) {
        cx.error(
            template.lit.span(),
            format!(
                "invalid ZooKeeper path template {:?}: {} (checked as {stand_in:?}, each placeholder standing for \
                 part of a node name, or for an absolute path at the start){}",
                template.lit.value(),
                e.rule(),
                sequential_hint(&e, kind),
            ),
        );
    }
}

/// The message for a bad literal, with a caret under the offending character.
pub fn literal_message(path: &str, error: &PathError, kind: PathKind) -> String {
    let mut message = format!("invalid ZooKeeper path {path:?}: {error}{}", sequential_hint(error, kind));
    let at = match error {
        PathError::NullCharacter { at }
        | PathError::EmptySegment { at }
        | PathError::RelativeSegment { at }
        | PathError::InvalidCharacter { at, .. } => Some(*at),
        _ => None,
    };
    if let Some(at) = at {
        // `at` counts UTF-16 units, as the server does; the caret needs characters.
        let mut units = 0;
        let column = path.chars().take_while(|c| {
            units += c.len_utf16();
            units <= at
        });
        let column = column.count();
        let shown: String = path.escape_debug().collect();
        if shown.chars().count() == path.chars().count() {
            message.push_str(&format!("\n    {shown}\n    {}^", " ".repeat(column)));
        }
    }
    message
}

fn sequential_hint(error: &PathError, kind: PathKind) -> &'static str {
    match (error, kind) {
        (PathError::TrailingSlash, PathKind::Create) => {
            " (a path may end with `/` only as the prefix of a sequential create: add `sequential`)"
        }
        _ => "",
    }
}
