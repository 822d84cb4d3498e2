//! `berth`: the CLI, and (as `berth daemon`) the daemon serving the Docker
//! Engine API. One binary plays every part; each part lives in its own crate.

mod cli;
mod daemon;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match args.command {
        cli::Command::Daemon(opts) => daemon::run(opts),
        command => cli::run(args.host, command),
    }
}
