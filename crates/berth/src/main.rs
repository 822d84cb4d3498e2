#![recursion_limit = "256"]
//! `berth`: the CLI, and (as `berth daemon`) the daemon serving the Docker
//! Engine API. One binary plays every part; each part lives in its own crate.

mod cli;
mod daemon;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // The shim must start before any thread exists (it forks containers), so
    // it is dispatched before argument parsing sets anything up.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("shim") {
        std::process::exit(shim::main(&args[2..]));
    }
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let usage = e.use_stderr();
            let _ = e.print();
            // Like docker: a bad flag or argument is the engine's error, 125.
            return if usage { ExitCode::from(125) } else { ExitCode::SUCCESS };
        }
    };
    match args.command {
        cli::Command::Daemon(opts) => daemon::run(opts),
        command => cli::run(args.host, command),
    }
}
