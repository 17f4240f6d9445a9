//! Placeholder while the harness is written.
