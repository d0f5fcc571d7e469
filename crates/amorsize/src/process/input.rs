//! Reading items: one per line (or NUL-separated) from a reader, streamed, never read whole.
//!
//! ```
//! use amorsize::process::{read_items, Separator};
//! use std::io::Read;
//! // Two items, then an endless stream: the first two come without reading the rest.
//! let input = std::io::BufReader::new((&b"a b\nc\n"[..]).chain(std::io::repeat(b'z')));
//! let items: Vec<String> = read_items(input, Separator::Newline).take(2).collect::<Result<_, _>>()?;
//! assert_eq!(items, ["a b", "c"]);
//! // NUL-separated items may hold newlines.
//! let items: Vec<String> = read_items(&b"x\ny\0z\0"[..], Separator::Nul).collect::<Result<_, _>>()?;
//! assert_eq!(items, ["x\ny", "z"]);
//! # Ok::<(), amorsize::Error>(())
//! ```

use crate::{Error, Result};
use std::io::BufRead;

/// What separates items in the input.
///
/// ```
/// use amorsize::process::Separator;
/// assert_eq!(Separator::Newline.byte(), b'\n');
/// assert_eq!(Separator::Nul.byte(), 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Separator {
    /// One item per line; a trailing `\r` is kept as part of the item.
    Newline,
    /// NUL-separated items (`find -print0`, `-0`).
    Nul,
}

impl Separator {
    /// The separating byte.
    ///
    /// ```
    /// assert_eq!(amorsize::process::Separator::Nul.byte(), b'\0');
    /// ```
    pub fn byte(self) -> u8 {
        match self {
            Separator::Newline => b'\n',
            Separator::Nul => 0,
        }
    }
}

/// Streams items from a reader. Each item is one `Result`: a read error or an item that is not
/// UTF-8 ends up as an `Err` naming the item number. Empty items are yielded as empty strings
/// (the runner skips them with a warning). Memory is bounded by the longest item.
///
/// ```
/// use amorsize::process::{read_items, Separator};
/// let items: Vec<String> = read_items(&b"a\nb c\n\nd"[..], Separator::Newline)
///     .collect::<Result<_, _>>()?;
/// assert_eq!(items, vec!["a", "b c", "", "d"]);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn read_items<R: BufRead>(reader: R, sep: Separator) -> impl Iterator<Item = Result<String>> {
    read_os_items(reader, sep).enumerate().map(|(i, r)| {
        r?.into_string().map_err(|_| {
            Error::invalid_input(format!("input item {}", i + 1), "it is not valid UTF-8")
        })
    })
}

/// [`read_items`] for items of any bytes (file names need not be UTF-8 on Linux): each item
/// as an `OsString`; only a read error is an `Err`. This is what `amorsize run` reads.
///
/// ```
/// use amorsize::process::{read_os_items, Separator};
/// use std::os::unix::ffi::OsStrExt;
/// let items: Vec<_> = read_os_items(&b"a\n\xff.txt\n"[..], Separator::Newline)
///     .collect::<Result<_, _>>()?;
/// assert_eq!(items[0], "a");
/// assert_eq!(items[1].as_bytes(), b"\xff.txt");
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn read_os_items<R: BufRead>(
    reader: R,
    sep: Separator,
) -> impl Iterator<Item = Result<std::ffi::OsString>> {
    use std::os::unix::ffi::OsStringExt;
    reader.split(sep.byte()).enumerate().map(|(i, r)| match r {
        Ok(bytes) => Ok(std::ffi::OsString::from_vec(bytes)),
        Err(e) => Err(Error::io(format!("reading input item {}", i + 1), e)),
    })
}

/// Splits the words after the program into the command and the `:::` items: returns
/// `(command, Some(items))` when `:::` is present. A second `:::` is rejected (combinations of
/// input sources are not supported).
///
/// The words are `String`s or any bytes (`OsString`: an item after `:::` need not be UTF-8).
///
/// ```
/// use amorsize::process::split_command_and_args;
/// use std::ffi::OsString;
/// use std::os::unix::ffi::OsStringExt;
/// let words: Vec<String> = ["gzip", "{}", ":::", "a", "b"].iter().map(|s| s.to_string()).collect();
/// let (cmd, items) = split_command_and_args(&words)?;
/// assert_eq!(cmd, &["gzip", "{}"]);
/// assert_eq!(items.unwrap(), &["a", "b"]);
/// let words = ["echo", ":::"].map(OsString::from).into_iter()
///     .chain([OsString::from_vec(b"\xff".to_vec())]).collect::<Vec<_>>();
/// let (_, items) = split_command_and_args(&words)?;
/// assert_eq!(items.unwrap(), &[OsString::from_vec(b"\xff".to_vec())]);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn split_command_and_args<S: AsRef<std::ffi::OsStr>>(
    words: &[S],
) -> Result<(&[S], Option<&[S]>)> {
    let is_sep = |w: &S| w.as_ref() == ":::";
    match words.iter().position(is_sep) {
        None => Ok((words, None)),
        Some(p) => {
            let (cmd, rest) = (&words[..p], &words[p + 1..]);
            if rest.iter().any(is_sep) {
                return Err(Error::invalid_input(
                    "command line",
                    "only one `:::` input source is supported",
                ));
            }
            Ok((cmd, Some(rest)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8], sep: Separator) -> Vec<String> {
        read_items(input, sep).map(|r| r.unwrap()).collect()
    }

    #[test]
    fn newline_split_keeps_spaces_and_empty_items() {
        assert_eq!(
            collect(b" a \n\nb\n", Separator::Newline),
            vec![" a ", "", "b"]
        );
    }

    #[test]
    fn no_trailing_separator_still_yields_last_item() {
        assert_eq!(collect(b"x\ny", Separator::Newline), vec!["x", "y"]);
        assert!(collect(b"", Separator::Newline).is_empty());
    }

    #[test]
    fn nul_split_keeps_newlines_inside_items() {
        assert_eq!(collect(b"a\nb\0c\0", Separator::Nul), vec!["a\nb", "c"]);
    }

    #[test]
    fn invalid_utf8_is_an_error_naming_the_item() {
        let r: Vec<_> = read_items(&b"ok\n\xff\xfe\n"[..], Separator::Newline).collect();
        assert!(r[0].is_ok());
        let e = r[1].as_ref().unwrap_err().to_string();
        assert!(e.contains("item 2"), "{e}");
    }

    #[test]
    fn streams_without_reading_ahead() {
        // An endless reader: taking three items must terminate.
        let endless = std::io::BufReader::new(std::io::repeat(b'\n'));
        assert_eq!(read_items(endless, Separator::Newline).take(3).count(), 3);
    }

    #[test]
    fn triple_colon_splits_once() {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let words = w(&["echo", ":::"]);
        let (c, i) = split_command_and_args(&words).unwrap();
        assert_eq!(c, &["echo"]);
        assert!(i.unwrap().is_empty());
        assert!(split_command_and_args(&w(&["a", ":::", "b", ":::", "c"])).is_err());
        assert!(split_command_and_args(&w(&["a", "b"])).unwrap().1.is_none());
    }
}
