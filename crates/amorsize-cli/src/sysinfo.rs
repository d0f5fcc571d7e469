//! `amorsize sysinfo`.

/// Arguments of `amorsize sysinfo`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the subcommand; returns the exit status.
pub fn main(_args: Args) -> u8 {
    eprintln!("amorsize sysinfo: not implemented yet");
    255
}
