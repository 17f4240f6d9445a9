//! One module per family of operations. Each defines the op (request + reply decoding) and
//! its options as methods on [`Call`](super::call::Call).

pub mod config;
pub mod create;
pub mod misc;
pub mod multi;
pub mod read;
pub mod watches;
pub mod write;

use std::borrow::Cow;

use crate::session::chroot::Chroot;

/// The server path for a client path, borrowed when there is no chroot.
pub(crate) fn server_path<'a>(chroot: &Chroot, path: &'a str) -> Cow<'a, str> {
    chroot.to_server(path)
}
