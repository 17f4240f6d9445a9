//! The error collector every stage reports to, as serde_derive's `Ctxt`: a stage never stops at
//! its first problem, so one compile shows every mistake of an invocation, each at its own
//! token.

use std::cell::RefCell;
use std::fmt::Display;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;

/// Collects errors; [`Ctxt::finish`] hands them over (or nothing, if there were none).
#[derive(Default)]
pub struct Ctxt {
    errors: RefCell<Vec<syn::Error>>,
}

impl Ctxt {
    pub fn new() -> Ctxt {
        Ctxt::default()
    }

    /// An error at `span`.
    pub fn error(&self, span: Span, message: impl Display) {
        self.errors.borrow_mut().push(syn::Error::new(span, message));
    }

    /// An error covering the tokens of `node` (first to last token, where the compiler can).
    pub fn error_spanned_by(&self, node: impl ToTokens, message: impl Display) {
        self.errors.borrow_mut().push(syn::Error::new_spanned(node.into_token_stream(), message));
    }

    /// An error from syn's own parsers.
    pub fn syn_error(&self, error: syn::Error) {
        self.errors.borrow_mut().push(error);
    }

    /// `Ok(())` if nothing was reported, else every error combined into one.
    pub fn finish(self) -> Result<(), syn::Error> {
        let mut errors = self.errors.into_inner().into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            combined.combine(error);
        }
        Err(combined)
    }
}

/// Where a macro's output goes, which decides how several `compile_error!`s are emitted.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// `zk!`, `acl!`: the errors go in one block, so the whole is still one expression.
    Expr,
    /// A derive: the errors are items.
    Items,
}

/// The macro's output: the expansion, or one `compile_error!` per collected error.
pub fn output(result: Result<TokenStream, syn::Error>, position: Position) -> proc_macro::TokenStream {
    match result {
        Ok(tokens) => tokens.into(),
        Err(error) if position == Position::Expr => {
            let errors = error.to_compile_error();
            quote::quote!({ #errors }).into()
        }
        Err(error) => error.to_compile_error().into(),
    }
}
