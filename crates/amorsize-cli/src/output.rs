//! Writing to stdout and stderr without panicking: `println!` and `eprintln!` panic when the
//! stream cannot be written (a closed pipe, a full disk), so the command writes through these.
//!
//! Conventions (the same for every subcommand): stdout whose reader went away ends the command
//! quietly with [`BROKEN_PIPE`] (128 + SIGPIPE, what a program killed by SIGPIPE reports); any
//! other error writing stdout prints one line `amorsize: <what>: <error>` on stderr and ends with
//! [`ERROR`]; a failed write to stderr is ignored (there is nowhere left to report it).

use std::io::Write;

/// The exit status when stdout's reader went away: 128 + SIGPIPE.
pub const BROKEN_PIPE: u8 = 141;

/// The exit status of an error of amorsize itself.
pub const ERROR: u8 = 255;

/// The exit status of a subcommand that printed `result`: 0, or the status [`print`] or
/// [`println`] returned (the error already reported).
pub fn status(result: Result<(), u8>) -> u8 {
    result.err().unwrap_or(0)
}

/// Writes `text` to stdout and flushes it. On failure returns the exit status, after reporting
/// the error as `amorsize: <what>: <error>` (but not a closed pipe, which ends quietly).
pub fn print(what: &str, text: &str) -> Result<(), u8> {
    write_stdout(what, &[text.as_bytes()])
}

/// [`print`] with a newline after `text`.
pub fn println(what: &str, text: &str) -> Result<(), u8> {
    write_stdout(what, &[text.as_bytes(), b"\n"])
}

/// Writes `parts` to stdout one after another and flushes it (see [`print`]).
fn write_stdout(what: &str, parts: &[&[u8]]) -> Result<(), u8> {
    let mut out = std::io::stdout().lock();
    parts
        .iter()
        .try_for_each(|part| out.write_all(part))
        .and_then(|()| out.flush())
        .map_err(|e| write_failed(what, &e))
}

/// The exit status for a failed write to stdout, after reporting it (see the module docs).
pub fn write_failed(what: &str, e: &std::io::Error) -> u8 {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        BROKEN_PIPE
    } else {
        eprint_line(&format!("amorsize: {what}: {e}"));
        ERROR
    }
}

/// Writes `line` and a newline to stderr; an error is ignored.
pub fn eprint_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err
        .write_all(line.as_bytes())
        .and_then(|()| err.write_all(b"\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_is_141_and_anything_else_255() {
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert_eq!(write_failed("writing", &pipe), BROKEN_PIPE);
        let full = std::io::Error::from_raw_os_error(28); // ENOSPC
        assert_eq!(write_failed("writing", &full), ERROR);
    }
}
