//! What the runnable examples share: positional arguments with defaults, the connection string,
//! the exit code, and the way to stop (end of standard input or Ctrl-C).
//!
//! Each example uses the part it needs, so unused items are expected here.
#![allow(dead_code)]

use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

/// The `n`th command-line argument, unless missing, empty or `-`.
pub fn arg(n: usize) -> Option<String> {
    std::env::args().nth(n).filter(|a| !a.is_empty() && a != "-")
}

/// The connection string: argument `n`, else `$ZK_CONNECT`, else `127.0.0.1:2181`.
pub fn connect_string(n: usize) -> String {
    arg(n).or_else(|| std::env::var("ZK_CONNECT").ok()).unwrap_or_else(|| "127.0.0.1:2181".into())
}

/// The process's exit code for `result`, printing the error as `name: error`.
pub fn exit(name: &str, result: Result<(), Box<dyn Error>>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves at the end of standard input or on Ctrl-C. Standard input is read on a plain
/// thread: tokio's would keep the runtime from shutting down while it reads.
pub fn stdin_closed() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    let (eof_tx, eof) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = eof_tx.send(());
    });
    Box::pin(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = eof => {}
        }
    })
}
