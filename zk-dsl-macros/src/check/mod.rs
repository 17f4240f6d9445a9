//! The rules, applied to a parsed invocation; every violation is reported to the [`Ctxt`]
//! with the span of the token at fault.
//!
//! [`Ctxt`]: crate::ctxt::Ctxt

pub mod acl;
pub mod closure;
pub mod command;
pub mod derive;
pub mod path;
pub mod suggest;
