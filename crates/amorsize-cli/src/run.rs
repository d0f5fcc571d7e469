//! `amorsize run`.

/// Arguments of `amorsize run`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the subcommand; returns the exit status.
pub fn main(_args: Args) -> u8 {
    eprintln!("amorsize run: not implemented yet");
    255
}
