//! The `amorsize` command: parsing and printing only; all logic lives in the library.
//!
//! Subcommands: `demo` (plan and run the built-in workloads), `sysinfo` (what the machine
//! offers), `run` (a command over many inputs, tuned), `chunks` (an array chunk-shape
//! recommendation).

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod chunks;
mod demo;
mod output;
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
    Run(Box<run::Args>),
    /// Recommend a chunk shape for an n-dimensional array.
    Chunks(chunks::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if e.use_stderr() => {
            output::eprint_line(&format!("amorsize: {}", one_line(&e.to_string())));
            return ExitCode::from(output::ERROR);
        }
        Err(e) => {
            // --help, --version: clap's own text on stdout.
            let _ = e.print();
            return ExitCode::from(0);
        }
    };
    let code = match cli.command {
        Command::Demo(a) => demo::main(a),
        Command::Sysinfo(a) => sysinfo::main(a),
        Command::Run(a) => run::main(*a),
        Command::Chunks(a) => chunks::main(a),
    };
    ExitCode::from(code)
}

/// clap's error as one line: the message and its tip, without the usage block and the pointer
/// to `--help` (a bad argument is reported in one line, like every other error).
fn one_line(rendered: &str) -> String {
    let parts: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more"))
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .map(|l| l.strip_prefix("tip: ").unwrap_or(l))
        .collect();
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn clap_errors_become_one_line() {
        let rendered = "error: unexpected argument '-1' found\n\n  tip: to pass '-1' as a value, \
                        use '-- -1'\n\nUsage: amorsize run [OPTIONS] [COMMAND]...\n\nFor more \
                        information, try '--help'.\n";
        assert_eq!(
            one_line(rendered),
            "unexpected argument '-1' found; to pass '-1' as a value, use '-- -1'"
        );
    }
}
