//! `amorsize demo`.

/// Arguments of `amorsize demo`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the subcommand; returns the exit status.
pub fn main(_args: Args) -> u8 {
    eprintln!("amorsize demo: not implemented yet");
    255
}
