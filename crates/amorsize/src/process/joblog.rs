//! The job log (`--joblog FILE`): one tab-separated line per job with GNU parallel's columns.
//!
//! ```
//! use amorsize::process::{Runner, WriteSink, JOBLOG_HEADER};
//! let dir = std::env::temp_dir().join(format!("amorsize-doc-joblog-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let log = dir.join("jobs.tsv");
//! let r = Runner::builder(["sh", "-c", "exit $1", "sh"]).jobs(1).joblog(&log).build()?;
//! r.run(["0", "3"].map(String::from), &mut WriteSink::new(std::io::sink()))?;
//! let text = std::fs::read_to_string(&log).unwrap();
//! let lines: Vec<&str> = text.lines().collect();
//! assert_eq!(lines[0], JOBLOG_HEADER);
//! let exitvals: Vec<&str> = lines[1..].iter().map(|l| l.split('\t').nth(6).unwrap()).collect();
//! assert_eq!(exitvals, ["0", "3"]);
//! assert!(lines[2].ends_with("\tsh -c exit $1 sh 3"));
//! std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), amorsize::Error>(())
//! ```

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// The header line of the job log (without the newline).
///
/// ```
/// use amorsize::process::{JoblogEntry, JOBLOG_HEADER};
/// use std::time::{Duration, SystemTime};
/// let e = JoblogEntry { seq: 4, start: SystemTime::UNIX_EPOCH, runtime: Duration::ZERO,
///     received: 12, exit: 1, signal: 0, command: vec!["false".into()] };
/// let line = e.line();
/// let row: Vec<(&str, &str)> = JOBLOG_HEADER.split('\t').zip(line.split('\t')).collect();
/// assert_eq!(JOBLOG_HEADER.split('\t').count(), line.split('\t').count()); // a name per column
/// assert_eq!(row[0], ("Seq", "4"));
/// assert_eq!(row[5..], [("Receive", "12"), ("Exitval", "1"), ("Signal", "0"), ("Command", "false")]);
/// ```
pub const JOBLOG_HEADER: &str =
    "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand";

/// One row of the job log.
///
/// ```
/// use amorsize::process::JoblogEntry;
/// use std::time::{Duration, SystemTime};
/// let e = JoblogEntry {
///     seq: 1,
///     start: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_250),
///     runtime: Duration::from_millis(1500),
///     received: 6,
///     exit: 0,
///     signal: 0,
///     command: vec!["echo".into(), "hello".into()],
/// };
/// assert_eq!(e.line(), "1\t:\t1700000000.250\t     1.500\t0\t6\t0\t0\techo hello");
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct JoblogEntry {
    /// Job number (1-based).
    pub seq: u64,
    /// When the (last try of the) job started.
    pub start: SystemTime,
    /// How long it ran.
    pub runtime: Duration,
    /// Bytes of output received from it.
    pub received: u64,
    /// Its exit status (-1 when killed by a signal, as GNU parallel writes it).
    pub exit: i32,
    /// The signal that ended it, 0 if none.
    pub signal: i32,
    /// The command line as run.
    pub command: Vec<String>,
}

impl JoblogEntry {
    /// The log line (no newline): Seq, Host (`:` is the local host), Starttime (Unix seconds,
    /// 3 decimals), JobRuntime (seconds, 3 decimals, width 10), Send (0), Receive, Exitval,
    /// Signal, Command (words joined by spaces; tabs and newlines in words shown as spaces).
    ///
    /// ```
    /// # use amorsize::process::JoblogEntry;
    /// # use std::time::{Duration, SystemTime};
    /// let e = JoblogEntry { seq: 2, start: SystemTime::UNIX_EPOCH, runtime: Duration::ZERO,
    ///     received: 0, exit: -1, signal: 15, command: vec!["sleep".into(), "9".into()] };
    /// assert!(e.line().ends_with("\t-1\t15\tsleep 9"));
    /// ```
    pub fn line(&self) -> String {
        let start = self
            .start
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let mut s = String::with_capacity(64);
        let cmd = self.command.join(" ").replace(['\t', '\n', '\r'], " ");
        let _ = write!(
            s,
            "{}\t:\t{}.{:03}\t{:10.3}\t0\t{}\t{}\t{}\t{}",
            self.seq,
            start.as_secs(),
            start.subsec_millis(),
            self.runtime.as_secs_f64(),
            self.received,
            self.exit,
            self.signal,
            cmd
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_nine_tab_separated_columns() {
        let e = JoblogEntry {
            seq: 12,
            start: SystemTime::UNIX_EPOCH + Duration::from_millis(5_007),
            runtime: Duration::from_micros(2_345_678),
            received: 1024,
            exit: 3,
            signal: 0,
            command: vec!["sh".into(), "-c".into(), "printf 'a\tb'".into()],
        };
        let line = e.line();
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 9, "{line}");
        assert_eq!(JOBLOG_HEADER.split('\t').count(), 9);
        assert_eq!(cols[0], "12");
        assert_eq!(cols[2], "5.007");
        assert_eq!(cols[3].trim(), "2.346");
        assert_eq!(cols[5], "1024");
        assert_eq!(cols[6], "3");
        assert_eq!(cols[8], "sh -c printf 'a b'");
    }
}
