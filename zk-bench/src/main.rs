//! zk-bench: zk-dsl against the single-session ceiling (raw `zk_dsl_proto` over a socket) and
//! the peer clients (kezhuw's `zookeeper-client`, the Java client, kazoo), side by side against
//! one server, clients alternating round after round. See `cli::USAGE`; the published run is
//! `zk-bench/results/` (results.md, results.json, the plots).

mod budget;
mod cli;
mod clients;
mod contend;
mod drivers;
mod heap;
mod measure;
mod orchestrate;
mod peers;
mod plan;
mod plot;
mod procfs;
mod report;
mod spec;
mod worker;
mod workers;

use std::process::ExitCode;

#[global_allocator]
static ALLOC: heap::CountingAlloc = heap::CountingAlloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("worker") {
        return worker::main(&args[1..]);
    }
    let opts = match cli::parse(&args) {
        Ok(cli::Parsed::Run(opts)) => opts,
        Ok(cli::Parsed::Help) => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("zk-bench: {e}");
            return ExitCode::from(2);
        }
    };
    // Quoted where a shell would split it (`--only 'get 100B n=1'`), so the line reruns the run.
    let quote = |a: &String| if a.contains(char::is_whitespace) { format!("'{a}'") } else { a.clone() };
    let command_line = std::iter::once("cargo run -p zk-bench --release --".to_string())
        .chain(args.iter().map(quote))
        .collect::<Vec<_>>()
        .join(" ");
    match orchestrate::main(*opts, command_line) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zk-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
