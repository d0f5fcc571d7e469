//! `amorsize chunks`.

/// Arguments of `amorsize chunks`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the subcommand; returns the exit status.
pub fn main(_args: Args) -> u8 {
    eprintln!("amorsize chunks: not implemented yet");
    255
}
