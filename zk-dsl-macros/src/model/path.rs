//! Paths: literals, templates and expressions.
//!
//! A string literal with `{…}` in it is a template: each `{expr}` is interpolated with
//! `format!` (so `{name}` is the variable `name` in scope), `{{` and `}}` are literal braces.
//! Everything else about the literal is checked against ZooKeeper's path rules at compile
//! time (see [`crate::check::path`]).

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use syn::{Expr, LitStr};

use crate::ctxt::Ctxt;

pub enum PathArg {
    /// A path with no placeholders.
    Literal(LitStr),
    /// A path with placeholders.
    Template(Template),
    /// Any other expression: checked by the client at run time, like a builder argument.
    Expr(Expr),
}

pub struct Template {
    pub lit: LitStr,
    pub pieces: Vec<Piece>,
}

pub enum Piece {
    Text(String),
    /// A placeholder: its source text and the expression it parsed as.
    Hole {
        source: String,
        expr: Expr,
    },
}

impl PathArg {
    /// Classifies a literal; a malformed template is reported and read as a plain literal.
    pub fn from_lit(lit: LitStr, cx: &Ctxt) -> PathArg {
        match split_template(&lit, cx) {
            Some(pieces) if pieces.iter().any(|p| matches!(p, Piece::Hole { .. })) => {
                PathArg::Template(Template { lit, pieces })
            }
            _ => PathArg::Literal(lit),
        }
    }
}

impl Template {
    /// The path with every placeholder replaced by a stand-in, for checking the static parts:
    /// a placeholder at the very start stands for an absolute path (`"{root}/config"`), any
    /// other for part of a node name (`"/jobs/job-{n}"`).
    pub fn with_stand_ins(&self) -> String {
        let mut out = String::new();
        for (i, piece) in self.pieces.iter().enumerate() {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Hole { .. } if i == 0 => out.push_str("/x"),
                Piece::Hole { .. } => out.push('x'),
            }
        }
        out
    }

    /// The `format!` string: text with braces doubled, `{}` for each placeholder.
    pub fn format_string(&self) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(&text.replace('{', "{{").replace('}', "}}")),
                Piece::Hole { .. } => out.push_str("{}"),
            }
        }
        out
    }

    pub fn holes(&self) -> impl Iterator<Item = (&str, &Expr)> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Hole { source, expr } => Some((source.as_str(), expr)),
            Piece::Text(_) => None,
        })
    }
}

/// Splits a literal into text and placeholders. `None` (with errors reported) when the braces
/// do not match up.
pub fn split_template(lit: &LitStr, cx: &Ctxt) -> Option<Vec<Piece>> {
    let value = lit.value();
    if !value.contains(['{', '}']) {
        return Some(vec![Piece::Text(value)]);
    }
    let span = lit.span();
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = value.chars().peekable();
    let mut ok = true;
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '}' => {
                cx.error(span, "unmatched `}` in path template (write `}}` for a literal brace)");
                ok = false;
            }
            '{' => {
                let mut source = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    source.push(c);
                }
                if !closed {
                    cx.error(span, "unclosed `{` in path template (write `{{` for a literal brace)");
                    ok = false;
                    break;
                }
                match parse_hole(&source, span) {
                    Ok(expr) => {
                        if !text.is_empty() {
                            pieces.push(Piece::Text(std::mem::take(&mut text)));
                        }
                        pieces.push(Piece::Hole { source: source.trim().to_owned(), expr });
                    }
                    Err(message) => {
                        cx.error(span, message);
                        ok = false;
                    }
                }
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    ok.then_some(pieces)
}

/// A placeholder's expression, with the literal's span so errors in it (an unknown variable)
/// point at the path.
fn parse_hole(source: &str, span: Span) -> Result<Expr, String> {
    if source.trim().is_empty() {
        return Err("empty `{}` in path template: name a value in scope, as in \"/services/{name}\"".to_owned());
    }
    let tokens: TokenStream =
        source.parse().map_err(|_| format!("`{{{source}}}` in path template is not a Rust expression"))?;
    syn::parse2::<Expr>(respan(tokens, span))
        .map_err(|_| format!("`{{{source}}}` in path template is not a Rust expression (format specs are not allowed)"))
}

/// `tokens` with every span set to `span`.
pub fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let TokenTree::Group(group) = &tree {
                let mut inner = Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                tree = TokenTree::Group(inner);
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(source: &str) -> Template {
        let lit = LitStr::new(source, Span::call_site());
        let cx = Ctxt::new();
        let pieces = split_template(&lit, &cx).unwrap_or_default();
        assert!(cx.finish().is_ok(), "{source}");
        Template { lit, pieces }
    }

    #[test]
    fn templates_split_into_text_and_holes() {
        let t = template("/services/{name}/job-{n + 1}/{{x}}");
        assert_eq!(t.format_string(), "/services/{}/job-{}/{{x}}");
        assert_eq!(t.with_stand_ins(), "/services/x/job-x/{x}");
        assert_eq!(t.holes().map(|(source, _)| source).collect::<Vec<_>>(), ["name", "n + 1"]);
        // At the start, a placeholder stands for an absolute path.
        assert_eq!(template("{root}/config").with_stand_ins(), "/x/config");
    }

    #[test]
    fn malformed_templates_are_reported() {
        for bad in ["/a/{}", "/a/{b", "/a/}", "/a/{b c}"] {
            let cx = Ctxt::new();
            assert!(split_template(&LitStr::new(bad, Span::call_site()), &cx).is_none(), "{bad}");
            assert!(cx.finish().is_err(), "{bad}");
        }
    }
}
