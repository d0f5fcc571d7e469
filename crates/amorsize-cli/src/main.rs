//! The `amorsize` command: parsing and printing only; all logic lives in the library.
//!
//! Subcommands: `demo` (plan and run the built-in workloads), `sysinfo` (what the machine
//! offers), `run` (a command over many inputs, tuned), `chunks` (an array chunk-shape
//! recommendation).

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod chunks;
mod demo;
mod run;
mod sysinfo;

/// Parallel execution that tunes itself.
#[derive(Debug, Parser)]
#[command(name = "amorsize", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Plan and run the built-in workloads; print each plan and the measured speedup.
    Demo(demo::Args),
    /// Print what the machine offers: cores, memory, pressure, measured costs.
    Sysinfo(sysinfo::Args),
    /// Run a command over many inputs with the concurrency (and batching) picked by measurement.
    Run(run::Args),
    /// Recommend a chunk shape for an n-dimensional array.
    Chunks(chunks::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 255 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let code = match cli.command {
        Command::Demo(a) => demo::main(a),
        Command::Sysinfo(a) => sysinfo::main(a),
        Command::Run(a) => run::main(a),
        Command::Chunks(a) => chunks::main(a),
    };
    ExitCode::from(code)
}
