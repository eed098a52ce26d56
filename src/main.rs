//! The `skillforge` command line: the binary's edge, where errors get their context.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    if let Err(err) = cli::init_tracing(&args) {
        eprintln!("error: {err:#}");
        return cli::exit_usage();
    }
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            cli::exit_usage()
        }
    }
}
