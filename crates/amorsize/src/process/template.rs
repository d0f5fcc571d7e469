//! The command template: parsing `{}`-style placeholders and expanding them for a job.
//!
//! Placeholders (as in GNU parallel): `{}` the item, `{.}` the item without its extension,
//! `{/}` its basename, `{//}` its dirname, `{/.}` the basename without extension, `{#}` the
//! job number (1-based). Any other brace text is literal. When no argument refers to the
//! item, the item (or, with batching, every item of the batch) is appended as last argument.
//! With several items per job, an argument that refers to the item is repeated once per item
//! (GNU parallel's `-X` "context replace").
//!
//! ```
//! use amorsize::process::Template;
//! let t = Template::parse(&["convert", "{}", "{//}/{/.}.{#}.png", "{x}"])?;
//! let argv = t.expand(&["img/cat.jpg"], 3);
//! assert_eq!(argv, ["convert", "img/cat.jpg", "img/cat.3.png", "{x}"]);
//! // No placeholder: every item of the batch is appended.
//! assert_eq!(Template::parse(&["rm", "-f"])?.expand(&["a", "b"], 1), ["rm", "-f", "a", "b"]);
//! // An argument with the item is repeated once per item.
//! let t = Template::parse(&["zip", "x.zip", "{.}.txt"])?;
//! assert_eq!(t.expand(&["a.c", "b.c"], 1), ["zip", "x.zip", "a.txt", "b.txt"]);
//! # Ok::<(), amorsize::Error>(())
//! ```

use crate::{Error, Result};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// One piece of an argument.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Literal bytes (a command-line argument need not be UTF-8).
    Lit(Vec<u8>),
    Item,
    NoExt,
    Base,
    Dir,
    BaseNoExt,
    Seq,
}

impl Piece {
    fn uses_item(&self) -> bool {
        !matches!(self, Piece::Lit(_) | Piece::Seq)
    }
}

/// A parsed command line: the program and its arguments with placeholders.
///
/// ```
/// use amorsize::process::Template;
/// let t = Template::parse(&["gzip", "-k", "{}"])?;
/// assert_eq!(t.expand(&["a.log"], 1), vec!["gzip", "-k", "a.log"]);
/// let t = Template::parse(&["echo"])?; // no placeholder: the item is appended
/// assert_eq!(t.expand(&["x", "y"], 3), vec!["echo", "x", "y"]);
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    args: Vec<Vec<Piece>>,
    uses_item: bool,
}

/// Splits a template argument into pieces (on bytes: the placeholders are ASCII, and the rest
/// is kept as it is, UTF-8 or not).
fn parse_arg(arg: &[u8]) -> Vec<Piece> {
    const TOKENS: [(&[u8], Piece); 6] = [
        (b"{}", Piece::Item),
        (b"{.}", Piece::NoExt),
        (b"{//}", Piece::Dir),
        (b"{/.}", Piece::BaseNoExt),
        (b"{/}", Piece::Base),
        (b"{#}", Piece::Seq),
    ];
    let mut out = Vec::new();
    let mut lit = Vec::new();
    let mut rest = arg;
    'outer: while let Some((&byte, after)) = rest.split_first() {
        if byte == b'{' {
            for (tok, piece) in TOKENS.iter() {
                if let Some(after) = rest.strip_prefix(*tok) {
                    if !lit.is_empty() {
                        out.push(Piece::Lit(std::mem::take(&mut lit)));
                    }
                    out.push(piece.clone());
                    rest = after;
                    continue 'outer;
                }
            }
        }
        lit.push(byte);
        rest = after;
    }
    if !lit.is_empty() || out.is_empty() {
        out.push(Piece::Lit(lit));
    }
    out
}

impl Template {
    /// Parses a command line (program first). Fails on an empty command or an empty program name.
    /// The words are bytes (`&str`, `String`, `OsString`, …): an argument that is not UTF-8
    /// reaches the command as it is.
    ///
    /// ```
    /// use amorsize::process::Template;
    /// use std::ffi::OsString;
    /// use std::os::unix::ffi::OsStringExt;
    /// assert!(Template::parse::<&str>(&[]).is_err());
    /// assert!(Template::parse(&["convert", "{}", "{.}.png"])?.uses_item());
    /// let latin1 = OsString::from_vec(b"caf\xe9/{}".to_vec());
    /// let t = Template::parse(&[OsString::from("cp"), latin1])?;
    /// assert_eq!(t.expand_os(&["x"], 1)[1], OsString::from_vec(b"caf\xe9/x".to_vec()));
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn parse<S: AsRef<OsStr>>(command: &[S]) -> Result<Template> {
        let Some(first) = command.first() else {
            return Err(Error::invalid_input("command", "the command is empty"));
        };
        if first.as_ref().is_empty() {
            return Err(Error::invalid_input("command", "the program name is empty"));
        }
        let args: Vec<Vec<Piece>> = command
            .iter()
            .map(|a| parse_arg(a.as_ref().as_bytes()))
            .collect();
        let uses_item = args.iter().flatten().any(Piece::uses_item);
        Ok(Template { args, uses_item })
    }

    /// The program as written (the first word, unexpanded).
    ///
    /// ```
    /// let t = amorsize::process::Template::parse(&["sh", "-c", "echo {}"])?;
    /// assert_eq!(t.program(), "sh");
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn program(&self) -> String {
        String::from_utf8_lossy(&render(&self.args[0], b"", 0)).into_owned()
    }

    /// Whether the program is a shell run with `-c` (or a flag group holding `c`, such as
    /// `-ec`) whose script refers to the item. Several items per job cannot work then: the
    /// script argument would be repeated once per item, and the shell runs only the first
    /// (the others become `$0`, `$1`, …), so batching refuses such a command.
    ///
    /// ```
    /// use amorsize::process::Template;
    /// assert!(Template::parse(&["sh", "-c", "gzip {}"])?.shell_script_uses_item());
    /// assert!(Template::parse(&["/bin/bash", "-ec", "echo {.}"])?.shell_script_uses_item());
    /// // The items as the script's arguments: fine.
    /// assert!(!Template::parse(&["sh", "-c", r#"gzip "$@""#, "sh", "{}"])?.shell_script_uses_item());
    /// assert!(!Template::parse(&["sh", "script.sh", "{}"])?.shell_script_uses_item());
    /// assert!(!Template::parse(&["gzip", "-c", "{}"])?.shell_script_uses_item());
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn shell_script_uses_item(&self) -> bool {
        const SHELLS: [&str; 10] = [
            "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "fish",
        ];
        let program = self.program();
        if !SHELLS.contains(&basename(&program)) {
            return false;
        }
        for (i, arg) in self.args.iter().enumerate().skip(1) {
            let [Piece::Lit(flag)] = arg.as_slice() else {
                return false;
            };
            if !flag.starts_with(b"-") || flag == b"-" || flag.starts_with(b"--") {
                return false;
            }
            if flag[1..].contains(&b'c') {
                return self
                    .args
                    .get(i + 1)
                    .is_some_and(|script| script.iter().any(Piece::uses_item));
            }
        }
        false
    }

    /// Whether any argument refers to the item (`{}`, `{.}`, `{/}`, `{//}`, `{/.}`).
    ///
    /// ```
    /// use amorsize::process::Template;
    /// assert!(!Template::parse(&["echo", "{#}"])?.uses_item());
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn uses_item(&self) -> bool {
        self.uses_item
    }

    /// Bytes the command line takes apart from the items (each argument plus its NUL and
    /// pointer), used to fit batches under the argument-length limit.
    ///
    /// ```
    /// let t = amorsize::process::Template::parse(&["echo"])?;
    /// assert_eq!(t.fixed_bytes(), 4 + 1 + 8);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn fixed_bytes(&self) -> usize {
        self.args
            .iter()
            .filter(|a| !a.iter().any(Piece::uses_item))
            .map(|a| rendered_len(a, b"", 1) + 1 + std::mem::size_of::<usize>())
            .sum()
    }

    /// Bytes one item adds to the command line (for every argument it appears in).
    ///
    /// ```
    /// let t = amorsize::process::Template::parse(&["echo"])?;
    /// assert_eq!(t.item_bytes("abc"), 3 + 1 + 8);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn item_bytes<S: AsRef<OsStr> + ?Sized>(&self, item: &S) -> usize {
        let item = item.as_ref().as_bytes();
        if !self.uses_item {
            return item.len() + 1 + std::mem::size_of::<usize>();
        }
        self.args
            .iter()
            .filter(|a| a.iter().any(Piece::uses_item))
            .map(|a| rendered_len(a, item, 1) + 1 + std::mem::size_of::<usize>())
            .sum()
    }

    /// The length of the longest argument `item` expands to (the item itself when it is
    /// appended), with the job number at its widest: what the kernel's limit on one argument
    /// ([`MAX_ARG_STRLEN`](crate::process::batch::MAX_ARG_STRLEN)) applies to.
    ///
    /// ```
    /// use amorsize::process::Template;
    /// assert_eq!(Template::parse(&["echo"])?.longest_arg("abc"), 3);
    /// assert_eq!(Template::parse(&["tar", "--add={}"])?.longest_arg("abc"), 9);
    /// assert_eq!(Template::parse(&["cp", "{}", "{}.{}"])?.longest_arg("abc"), 7);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn longest_arg<S: AsRef<OsStr> + ?Sized>(&self, item: &S) -> usize {
        let item = item.as_ref().as_bytes();
        if !self.uses_item {
            return item.len();
        }
        self.args
            .iter()
            .filter(|a| a.iter().any(Piece::uses_item))
            .map(|a| rendered_len(a, item, u64::MAX.to_string().len()))
            .max()
            .unwrap_or(0)
    }

    /// The command line (program first) for one job of `items` with job number `seq`.
    ///
    /// ```
    /// use amorsize::process::Template;
    /// let t = Template::parse(&["cp", "{}", "out/{/.}.{#}.bak"])?;
    /// assert_eq!(t.expand(&["src/a.txt"], 7), vec!["cp", "src/a.txt", "out/a.7.bak"]);
    /// let t = Template::parse(&["tar", "-f", "x.tar", "--add={}"])?;
    /// assert_eq!(t.expand(&["a", "b"], 1), vec!["tar", "-f", "x.tar", "--add=a", "--add=b"]);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn expand<S: AsRef<str>>(&self, items: &[S], seq: u64) -> Vec<String> {
        let items: Vec<&OsStr> = items.iter().map(|i| OsStr::new(i.as_ref())).collect();
        // Text in, text out: the placeholders cut items only at ASCII `/` and `.`.
        self.expand_os(&items, seq)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    /// [`expand`](Self::expand) for items of any bytes (file names need not be UTF-8 on
    /// Linux): the placeholders work on bytes, cutting at `/` and `.`.
    ///
    /// ```
    /// use amorsize::process::Template;
    /// use std::ffi::OsString;
    /// use std::os::unix::ffi::OsStringExt;
    /// let t = Template::parse(&["gzip", "{.}"])?;
    /// let item = OsString::from_vec(b"caf\xe9.txt".to_vec()); // Latin-1, not UTF-8
    /// let argv = t.expand_os(&[item], 1);
    /// assert_eq!(argv[1], OsString::from_vec(b"caf\xe9".to_vec()));
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn expand_os<S: AsRef<OsStr>>(&self, items: &[S], seq: u64) -> Vec<OsString> {
        let mut out = Vec::with_capacity(self.args.len() + items.len());
        for arg in &self.args {
            if arg.iter().any(Piece::uses_item) {
                for item in items {
                    out.push(OsString::from_vec(render(
                        arg,
                        item.as_ref().as_bytes(),
                        seq,
                    )));
                }
            } else {
                out.push(OsString::from_vec(render(arg, b"", seq)));
            }
        }
        if !self.uses_item {
            out.extend(items.iter().map(|i| i.as_ref().to_os_string()));
        }
        out
    }
}

fn render(arg: &[Piece], item: &[u8], seq: u64) -> Vec<u8> {
    let mut s = Vec::new();
    for p in arg {
        match text(p, item) {
            Some(t) => s.extend_from_slice(t),
            None => s.extend_from_slice(seq.to_string().as_bytes()),
        }
    }
    s
}

/// The length of `render(arg, item, seq)` for a job number of `seq_digits` digits, without
/// rendering it (the batcher sizes every item it considers).
fn rendered_len(arg: &[Piece], item: &[u8], seq_digits: usize) -> usize {
    arg.iter()
        .map(|p| text(p, item).map_or(seq_digits, <[u8]>::len))
        .sum()
}

/// What piece `p` stands for with `item`; `None` for the job number.
fn text<'a>(p: &'a Piece, item: &'a [u8]) -> Option<&'a [u8]> {
    Some(match p {
        Piece::Lit(l) => l,
        Piece::Item => item,
        Piece::NoExt => without_extension_bytes(item),
        Piece::Base => basename_bytes(item),
        Piece::Dir => dirname_bytes(item),
        Piece::BaseNoExt => without_extension_bytes(basename_bytes(item)),
        Piece::Seq => return None,
    })
}

/// [`without_extension`] on bytes: a prefix of `item`.
fn without_extension_bytes(item: &[u8]) -> &[u8] {
    let base_start = item.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    match item[base_start..].iter().rposition(|&b| b == b'.') {
        Some(0) | None => item,
        Some(dot) => &item[..base_start + dot],
    }
}

/// [`basename`] on bytes: a suffix of `item`.
fn basename_bytes(item: &[u8]) -> &[u8] {
    item.iter()
        .rposition(|&b| b == b'/')
        .map_or(item, |i| &item[i + 1..])
}

/// [`dirname`] on bytes: a prefix of `item`, or `.`, or `/`.
fn dirname_bytes(item: &[u8]) -> &[u8] {
    match item.iter().rposition(|&b| b == b'/') {
        None => b".",
        Some(0) => b"/",
        Some(i) => &item[..i],
    }
}

/// The item without its extension (`{.}`): `dir/a.tar.gz` → `dir/a.tar`; a leading dot of the
/// file name (`.bashrc`) is not an extension.
///
/// ```
/// use amorsize::process::template::without_extension;
/// assert_eq!(without_extension("dir.d/a.tar.gz"), "dir.d/a.tar");
/// assert_eq!(without_extension("dir.d/README"), "dir.d/README");
/// ```
pub fn without_extension(item: &str) -> &str {
    // A prefix that ends before an ASCII `.`: a character boundary.
    &item[..without_extension_bytes(item.as_bytes()).len()]
}

/// The basename (`{/}`): the text after the last `/`.
///
/// ```
/// assert_eq!(amorsize::process::template::basename("a/b/c.txt"), "c.txt");
/// ```
pub fn basename(item: &str) -> &str {
    // A suffix that starts after an ASCII `/`: a character boundary.
    &item[item.len() - basename_bytes(item.as_bytes()).len()..]
}

/// The dirname (`{//}`): the text before the last `/`, `/` for a root entry, `.` without a `/`.
///
/// ```
/// use amorsize::process::template::dirname;
/// assert_eq!(dirname("a/b/c.txt"), "a/b");
/// assert_eq!(dirname("c.txt"), ".");
/// assert_eq!(dirname("/c.txt"), "/");
/// ```
pub fn dirname(item: &str) -> String {
    String::from_utf8_lossy(dirname_bytes(item.as_bytes())).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_expands() {
        let t = Template::parse(&["x", "{}", "{.}", "{/}", "{//}", "{/.}", "{#}"]).unwrap();
        assert_eq!(
            t.expand(&["d/e/f.tar.gz"], 12),
            vec![
                "x",
                "d/e/f.tar.gz",
                "d/e/f.tar",
                "f.tar.gz",
                "d/e",
                "f.tar",
                "12"
            ]
        );
    }

    #[test]
    fn item_is_appended_without_placeholder() {
        let t = Template::parse(&["echo", "-n", "{#}"]).unwrap();
        assert!(!t.uses_item());
        assert_eq!(t.expand(&["a b"], 2), vec!["echo", "-n", "2", "a b"]);
    }

    #[test]
    fn unknown_braces_are_literal() {
        let t = Template::parse(&["awk", "{print $1}", "{x}{", "}"]).unwrap();
        assert!(!t.uses_item());
        assert_eq!(
            t.expand(&["f"], 1),
            vec!["awk", "{print $1}", "{x}{", "}", "f"]
        );
    }

    #[test]
    fn placeholders_inside_words_and_multibyte() {
        let t = Template::parse(&["sh", "-c", "échó «{}» {.}.png"]).unwrap();
        assert_eq!(t.expand(&["ä.jpg"], 1)[2], "échó «ä.jpg» ä.png");
    }

    #[test]
    fn batch_repeats_arguments_with_the_item() {
        let t = Template::parse(&["cmd", "-i", "{}", "--end"]).unwrap();
        assert_eq!(
            t.expand(&["a", "b", "c"], 1),
            vec!["cmd", "-i", "a", "b", "c", "--end"]
        );
    }

    #[test]
    fn empty_command_is_rejected() {
        assert!(Template::parse::<String>(&[]).is_err());
        assert!(Template::parse(&[""]).is_err());
    }

    #[test]
    fn byte_counts_match_expansion() {
        let t = Template::parse(&["echo", "pre{}post"]).unwrap();
        let fixed = t.fixed_bytes();
        let items = ["a", "bb"];
        let total: usize = fixed + items.iter().map(|i| t.item_bytes(i)).sum::<usize>();
        let expanded: usize = t.expand(&items, 1).iter().map(|a| a.len() + 1 + 8).sum();
        assert_eq!(total, expanded);
        // Every placeholder, and the job number at its widest: the longest argument is the
        // longest one expanded.
        let t = Template::parse(&["cp", "{}", "x/{//}/{/.}-{#}.{.}", "{/}"]).unwrap();
        for item in ["a", "dir/sub/file.tar.gz", "/abs.d/x"] {
            let argv = t.expand(&[item], u64::MAX);
            let longest = argv[1..].iter().map(String::len).max().unwrap();
            assert_eq!(t.longest_arg(item), longest, "{item}: {argv:?}");
            let fixed = Template::parse(&["cp", "{}", "{/}"]).unwrap();
            let bytes: usize = fixed.expand(&[item], 0)[1..]
                .iter()
                .map(|a| a.len() + 9)
                .sum();
            assert_eq!(fixed.item_bytes(item), bytes);
        }
    }

    #[test]
    fn extension_edge_cases() {
        assert_eq!(without_extension(".bashrc"), ".bashrc");
        assert_eq!(without_extension("a/.b.c"), "a/.b");
        assert_eq!(without_extension("noext"), "noext");
        assert_eq!(basename("noslash"), "noslash");
    }
}
