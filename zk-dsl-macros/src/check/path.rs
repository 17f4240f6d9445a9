//! ZooKeeper's path rules at compile time.
//!
//! The rules are not restated here: `zk-dsl/src/proto/path.rs`, the file the client checks
//! every path with at run time, is compiled into this crate as well (it uses nothing but
//! `std` for that reason). One file, so the compile-time and run-time checks cannot drift.

#[path = "../../../zk-dsl/src/proto/path.rs"]
#[allow(dead_code)]
mod rules;

use crate::ctxt::Ctxt;
use crate::model::path::{PathArg, Template};

pub use rules::{validate_path, PathError};

pub fn check(path: &PathArg, sequential: bool, cx: &Ctxt) {
    match path {
        PathArg::Literal(lit) => {
            let value = lit.value();
            if let Err(e) = validate_path(&value, sequential) {
                cx.error(lit.span(), literal_message(&value, &e, sequential));
            }
        }
        PathArg::Template(template) => check_template(template, sequential, cx),
        PathArg::Expr(_) => {}
    }
}

pub fn check_template(template: &Template, sequential: bool, cx: &Ctxt) {
    let stand_in = template.with_stand_ins();
    if let Err(e) = validate_path(&stand_in, sequential) {
        cx.error(
            template.lit.span(),
            format!(
                "invalid ZooKeeper path template {:?}: {} (checked as {stand_in:?}, each placeholder standing for \
                 part of a node name, or for an absolute path at the start){}",
                template.lit.value(),
                e.rule(),
                sequential_hint(&e, sequential),
            ),
        );
    }
}

/// The message for a bad literal, with a caret under the offending character.
pub fn literal_message(path: &str, error: &PathError, sequential: bool) -> String {
    let mut message = format!("invalid ZooKeeper path {path:?}: {error}{}", sequential_hint(error, sequential));
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

fn sequential_hint(error: &PathError, sequential: bool) -> &'static str {
    match (error, sequential) {
        (PathError::TrailingSlash, false) => {
            " (a path may end with `/` only as the prefix of a sequential create: add `sequential`)"
        }
        _ => "",
    }
}
