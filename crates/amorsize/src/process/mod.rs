//! Running external commands over many inputs (`amorsize run`): spawning, measuring, batching,
//! ordering.
//!
//! This module owns the process executor: a [`Runner`] takes a command [`Template`] and a
//! stream of items, starts one job per item (or per batch of items), each in its own process
//! group with stdout and stderr collected together, and measures each finished job's CPU time
//! (`wait4`'s rusage) against its wall time. With `-j auto` a pure [`Controller`] turns those
//! measurements into the concurrency; with `--batch auto` the pure fit and sizing in [`batch`]
//! keep each job's start-up (fitted from the jobs' wall times against their item counts) under a
//! few percent of its work. Output is printed whole per job, in input order through a bounded
//! [`Reorder`] buffer when asked; the output held meanwhile stays in memory up to a budget and is
//! spooled to temporary files past it ([`JobOutput`]). The halt policy, the job log and the exit status follow GNU
//! parallel. One thread runs the jobs: it `poll`s every job's output pipe and pidfd and
//! refills a slot as soon as a job has been reaped, with `wait4` on that job's own pid only
//! (never `waitpid(-1)`), so the runner can live inside a larger program. A job ends when its
//! process exits, not when its output pipe closes: a background child that keeps the pipe
//! open (`sh -c 'server & echo started'`) holds the slot for at most [`OUTPUT_LINGER`] more
//! (what it writes meanwhile is kept), and a job that has exited never times out. While that
//! thread waits for the [`Sink`] to take an output (a stdout nobody reads yet), a second thread
//! keeps the jobs' deadlines and notes their exits (`watchdog.rs`), in a run where a signal
//! is due (a `--timeout`, a kill under way).
//!
//! ```
//! use amorsize::process::{Runner, WriteSink};
//! let runner = Runner::builder(["echo", "item", "{}"]).jobs(2).keep_order(true).build()?;
//! let mut out = Vec::new();
//! let summary = runner.run(["a", "b", "c"].map(String::from), &mut WriteSink::new(&mut out))?;
//! assert_eq!(String::from_utf8(out).unwrap(), "item a\nitem b\nitem c\n");
//! assert_eq!((summary.succeeded, summary.failed, summary.exit_code()), (3, 0, 0));
//! # Ok::<(), amorsize::Error>(())
//! ```

pub mod batch;
mod controller;
mod halt;
mod input;
mod joblog;
mod reorder;
mod spawn;
mod spool;
pub mod template;
mod watchdog;

pub use batch::BatchPolicy;
pub use controller::{Controller, ControllerConfig, MemorySample, Observation, Reason};
pub use halt::{exit_code, HaltAction, HaltPolicy, HaltWhen};
pub use input::{read_items, read_os_items, split_command_and_args, Separator};
pub use joblog::{JoblogEntry, JOBLOG_HEADER};
pub use reorder::{Reorder, DEFAULT_REORDER_CAPACITY};
pub use spawn::{measure_spawn_cost, resolve_program, signal_is_ignored};
pub use spool::{max_spool_files, JobOutput, DEFAULT_OUTPUT_MEMORY};
pub use template::Template;

use crate::{Error, Result};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, TryRecvError};
use serde::Serialize;
use spawn::{Finished, Spawned};
use std::collections::{HashMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long jobs get to exit after SIGTERM (timeout, halt, forwarded signal) before SIGKILL.
///
/// A job that exits on SIGTERM within the grace is ended by SIGTERM, not SIGKILL:
///
/// ```
/// use amorsize::process::{JobOutput, JobResult, Runner, Sink};
/// use std::time::Duration;
/// struct Signals(Vec<i32>);
/// impl Sink for Signals {
///     fn output(&mut self, job: &JobResult, _: &JobOutput) -> std::io::Result<()> {
///         self.0.push(job.signal);
///         Ok(())
///     }
/// }
/// // A job that prints until `--timeout` stops it: SIGTERM ends it long before KILL_GRACE.
/// let r = Runner::builder(["sh", "-c", "while :; do echo; done"]).jobs(1);
/// let mut sink = Signals(Vec::new());
/// let s = r.timeout(Duration::from_millis(5)).build()?.run(["x".to_string()], &mut sink)?;
/// assert_eq!((s.timed_out, sink.0), (1, vec![libc::SIGTERM]));
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// How long a job that has exited keeps its slot while a child it left in the background
/// still holds its output open: what the child writes meanwhile is kept; then the job ends and
/// its pipe is closed (later writes get EPIPE). Timeouts no longer apply once it has exited.
///
/// ```
/// use amorsize::process::{Runner, WriteSink};
/// // The job's shell exits at once; the child it leaves behind writes later (within
/// // OUTPUT_LINGER), and what it writes is kept.
/// let r = Runner::builder(["sh", "-c", "sh -c 'echo late' & echo started"]).build()?;
/// let mut out = Vec::new();
/// let s = r.run(["x".to_string()], &mut WriteSink::new(&mut out))?;
/// let mut lines: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
/// lines.sort();
/// assert_eq!((lines, s.succeeded), (vec!["late", "started"], 1));
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const OUTPUT_LINGER: Duration = Duration::from_secs(1);

/// How long `--batch auto` runs its two probe jobs alone, while neither has finished, before it
/// starts one-item jobs beside them (the other slots should not wait longer for items that may
/// take that long each).
const PROBE_WAIT: Duration = Duration::from_millis(100);

/// Items read ahead of the running jobs (the bound on input memory).
const INPUT_QUEUE: usize = 1024;

/// A request to stop, shared with a signal handler: holds the signal number to forward to the
/// running jobs (0 = none). Register it with e.g. `signal_hook::flag::register_usize(SIGTERM,
/// flag.atomic(), SIGTERM as usize)`.
///
/// ```
/// let flag = amorsize::process::StopFlag::new();
/// assert_eq!(flag.requested(), None);
/// flag.request(15);
/// assert_eq!(flag.requested(), Some(15));
/// ```
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicUsize>);

impl StopFlag {
    /// A flag with no request.
    ///
    /// ```
    /// assert!(amorsize::process::StopFlag::new().requested().is_none());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the run to stop and forward `signal` to its jobs.
    ///
    /// ```
    /// let f = amorsize::process::StopFlag::new();
    /// f.request(2);
    /// assert_eq!(f.requested(), Some(2));
    /// ```
    pub fn request(&self, signal: i32) {
        self.0.store(signal.max(1) as usize, Ordering::SeqCst);
    }

    /// The signal requested, if any.
    ///
    /// ```
    /// assert_eq!(amorsize::process::StopFlag::new().requested(), None);
    /// ```
    pub fn requested(&self) -> Option<i32> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s as i32),
        }
    }

    /// The shared atomic, for signal-handler registration.
    ///
    /// ```
    /// let f = amorsize::process::StopFlag::new();
    /// f.atomic().store(15, std::sync::atomic::Ordering::SeqCst);
    /// assert_eq!(f.requested(), Some(15));
    /// ```
    pub fn atomic(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.0)
    }
}

/// How many jobs run at once.
///
/// ```
/// use amorsize::process::Jobs;
/// assert_eq!("auto".parse::<Jobs>()?, Jobs::Auto);
/// assert_eq!("4".parse::<Jobs>()?, Jobs::Fixed(4));
/// assert!("0".parse::<Jobs>().is_err());
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Jobs {
    /// Measured and adapted ([`Controller`]).
    #[default]
    Auto,
    /// Exactly this many.
    Fixed(usize),
}

impl std::str::FromStr for Jobs {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s == "auto" {
            return Ok(Jobs::Auto);
        }
        match s.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Jobs::Fixed(n)),
            _ => Err(Error::invalid_config(
                "jobs",
                format!("`{s}`: expected auto or a whole number of at least 1"),
            )),
        }
    }
}

impl std::str::FromStr for BatchPolicy {
    type Err = Error;
    /// Parses `auto` or a whole number of at least 1.
    fn from_str(s: &str) -> Result<Self> {
        if s == "auto" {
            return Ok(BatchPolicy::Auto);
        }
        match s.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(BatchPolicy::Fixed(n)),
            _ => Err(Error::invalid_config(
                "batch",
                format!("`{s}`: expected auto or a whole number of at least 1"),
            )),
        }
    }
}

/// Splits `12.5ms` into the number and what follows it (`ms`); None when it does not start
/// with a number. Surrounding white space is ignored.
fn number_and_unit(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    Some((num.parse().ok()?, unit))
}

/// Parses a size in bytes such as `64M`, `512K`, `1.5G`, `4096` (K, M, G, T are powers of 1024;
/// a trailing `B` or `iB` is allowed: `64MiB`, `64MB`).
///
/// ```
/// use amorsize::process::parse_size;
/// assert_eq!(parse_size("64M")?, 64 << 20);
/// assert_eq!(parse_size("1.5KiB")?, 1536);
/// assert_eq!(parse_size("0")?, 0);
/// assert!(parse_size("lots").is_err());
/// assert!(parse_size("-1K").is_err());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn parse_size(s: &str) -> Result<usize> {
    let bad = || {
        Error::invalid_config(
            "size",
            format!("`{s}`: expected a size such as 4096, 512K, 64M or 1G"),
        )
    };
    let (n, unit) = number_and_unit(s).ok_or_else(bad)?;
    let unit = unit.trim_start();
    let unit = unit
        .strip_suffix("iB")
        .or_else(|| unit.strip_suffix('B'))
        .unwrap_or(unit);
    let scale = match unit.to_ascii_uppercase().as_str() {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        "T" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let bytes = (n * scale).round();
    if !bytes.is_finite() || bytes < 0.0 || bytes > usize::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as usize)
}

/// Parses a duration such as `2s`, `500ms`, `1.5m`, `1h` or a bare number of seconds.
///
/// ```
/// use amorsize::process::parse_duration;
/// use std::time::Duration;
/// assert_eq!(parse_duration("500ms")?, Duration::from_millis(500));
/// assert_eq!(parse_duration("2")?, Duration::from_secs(2));
/// assert!(parse_duration("soon").is_err());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn parse_duration(s: &str) -> Result<Duration> {
    let bad = || {
        Error::invalid_config(
            "timeout",
            format!("`{s}`: expected a positive duration such as 500ms, 2s, 1.5m or 1h"),
        )
    };
    let (n, unit) = number_and_unit(s).ok_or_else(bad)?;
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad()),
    };
    let secs = n * scale;
    if !secs.is_finite() || secs <= 0.0 || secs > 1e9 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// One finished job, as the [`Sink`] sees it.
///
/// ```
/// use amorsize::process::{JobOutput, JobResult, Runner, Sink};
/// struct Count(usize);
/// impl Sink for Count {
///     fn output(&mut self, job: &JobResult, _out: &JobOutput) -> std::io::Result<()> {
///         assert!(job.succeeded());
///         self.0 += 1;
///         Ok(())
///     }
/// }
/// let mut c = Count(0);
/// Runner::builder(["true"]).build()?.run(["x".to_string()], &mut c)?;
/// assert_eq!(c.0, 1);
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct JobResult {
    /// Job number (1-based, in input order).
    pub seq: u64,
    /// The command line as run.
    pub command: Vec<String>,
    /// Exit code (-1 when ended by a signal or not started).
    pub exit: i32,
    /// The signal that ended it, 0 if none.
    pub signal: i32,
    /// Whether `--timeout` killed it.
    pub timed_out: bool,
    /// Tries it took (1 + reruns).
    pub tries: u32,
    /// Wall time of the last try, in seconds.
    pub wall_secs: f64,
    /// CPU time (user + system) of the last try, in seconds.
    pub cpu_secs: f64,
}

impl JobResult {
    /// Whether it exited with 0 and was not killed.
    ///
    /// ```
    /// let j = amorsize::process::JobResult { seq: 1, command: vec![], exit: 0, signal: 0,
    ///     timed_out: false, tries: 1, wall_secs: 0.0, cpu_secs: 0.0 };
    /// assert!(j.succeeded());
    /// ```
    pub fn succeeded(&self) -> bool {
        self.exit == 0 && self.signal == 0 && !self.timed_out
    }
}

/// Progress of a run, given to [`Sink::progress`] after every finished job.
///
/// ```
/// let p = amorsize::process::Progress { done: 1, failed: 0, items_done: 1, running: 2, concurrency: 2,
///     total: Some(10), elapsed_secs: 0.5 };
/// assert_eq!(p.done, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Progress {
    /// Jobs finished (including failed ones).
    pub done: u64,
    /// Jobs failed.
    pub failed: u64,
    /// Items processed by the finished jobs (differs from `done` with batching).
    pub items_done: u64,
    /// Jobs running now.
    pub running: usize,
    /// The concurrency now.
    pub concurrency: usize,
    /// Items in total, when known (`:::` items).
    pub total: Option<u64>,
    /// Seconds since the run started.
    pub elapsed_secs: f64,
}

/// Where a run's output, warnings and progress go. Outputs arrive whole, one job at a time
/// (in input order with `keep_order`); a large one may come back from its spool file
/// ([`JobOutput::write_to`] streams it either way).
///
/// ```
/// use amorsize::process::{JobOutput, JobResult, Sink};
/// struct Quiet;
/// impl Sink for Quiet {
///     fn output(&mut self, _job: &JobResult, _out: &JobOutput) -> std::io::Result<()> { Ok(()) }
/// }
/// let s: &mut dyn Sink = &mut Quiet;
/// s.warning("ignored");
/// ```
pub trait Sink {
    /// A job's complete output (stdout and stderr together). An error (e.g. a closed pipe)
    /// stops the run: running jobs are killed and `run` returns the error.
    fn output(&mut self, job: &JobResult, output: &JobOutput) -> std::io::Result<()>;
    /// A warning for a person (e.g. an empty item was skipped). Default: ignored.
    fn warning(&mut self, _message: &str) {}
    /// Progress after every finished job. Default: ignored.
    fn progress(&mut self, _progress: &Progress) {}
}

/// A [`Sink`] that writes outputs to a writer and warnings to stderr.
///
/// ```
/// use amorsize::process::{Runner, WriteSink};
/// let mut buf = Vec::new();
/// Runner::builder(["echo"]).build()?.run(vec!["hi".to_string()], &mut WriteSink::new(&mut buf))?;
/// assert_eq!(buf, b"hi\n");
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug)]
pub struct WriteSink<W: Write> {
    out: W,
}

impl<W: Write> WriteSink<W> {
    /// Wraps a writer.
    ///
    /// ```
    /// let _s = amorsize::process::WriteSink::new(std::io::sink());
    /// ```
    pub fn new(out: W) -> Self {
        WriteSink { out }
    }
}

impl<W: Write> Sink for WriteSink<W> {
    fn output(&mut self, _job: &JobResult, output: &JobOutput) -> std::io::Result<()> {
        output.write_to(&mut self.out)?;
        self.out.flush()
    }
    fn warning(&mut self, message: &str) {
        // A warning that cannot be written (stderr closed or full) is dropped: the run goes on.
        let _ = writeln!(std::io::stderr(), "amorsize run: warning: {message}");
    }
}

/// The outcome of a run: counts, how it ended, and what the controller did.
///
/// ```
/// use amorsize::process::{Runner, WriteSink};
/// let s = Runner::builder(["sh", "-c", "exit {}"]).jobs(1).build()?
///     .run(["0", "1", "2"].map(String::from), &mut WriteSink::new(std::io::sink()))?;
/// assert_eq!((s.succeeded, s.failed, s.exit_code()), (1, 2, 2));
/// println!("{s}");
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    /// Jobs that exited with 0.
    pub succeeded: u64,
    /// Jobs that failed (non-zero exit, killed, timed out, could not start), after retries.
    pub failed: u64,
    /// Of the failed jobs, those killed by `--timeout`.
    pub timed_out: u64,
    /// Jobs that `--halt now` killed once the failure limit was reached (not counted as
    /// failed: they did not fail on their own).
    pub killed_by_halt: u64,
    /// Jobs that were running when a signal stopped the run and did not succeed after it (the
    /// signal was forwarded to them; not counted as failed, as [`killed_by_halt`]). A job that
    /// handles the signal and exits with 0 counts as succeeded.
    ///
    /// [`killed_by_halt`]: RunSummary::killed_by_halt
    pub interrupted: u64,
    /// Reruns made by `--retries`.
    pub retried: u64,
    /// Items processed (a batch job counts all its items).
    pub items: u64,
    /// Zero-length items skipped.
    pub skipped_empty: u64,
    /// Whether the halt policy stopped the run early.
    pub halted: bool,
    /// The signal that interrupted the run (forwarded to the jobs), if any.
    pub interrupted_by: Option<i32>,
    /// Wall time of the run in seconds.
    pub wall_secs: f64,
    /// Concurrency at the start.
    pub start_concurrency: usize,
    /// Concurrency at the end.
    pub final_concurrency: usize,
    /// Most jobs that ran at once.
    pub max_concurrency: usize,
    /// The controller's last reason.
    pub reason: Option<Reason>,
    /// CPU fraction (CPU time / wall time) over all jobs.
    pub cpu_fraction: f64,
    /// Largest batch (items in one job).
    pub max_batch: usize,
    /// Start-up per job in seconds (spawning plus the command's own start), fitted from the
    /// jobs' wall times against their item counts; only with `--batch auto`, once jobs of two
    /// sizes have finished.
    pub startup_secs: Option<f64>,
    /// Work per item in seconds, from the same fit.
    pub work_per_item_secs: Option<f64>,
    /// Jobs whose output was spooled to a temporary file (the run's held output passed its
    /// memory budget).
    pub spooled_jobs: u64,
    /// The most job output held in memory at once, in bytes (within the budget plus one read
    /// of a pipe, unless spooling failed).
    pub output_memory_peak: u64,
    /// Whether a job had to wait for file descriptors (the open-file limit bounded how many
    /// jobs ran at once).
    pub fd_limited: bool,
}

impl RunSummary {
    /// Jobs finished (succeeded + failed + killed by `--halt now` + interrupted).
    ///
    /// ```
    /// let s = amorsize::process::RunSummary { succeeded: 2, failed: 1, killed_by_halt: 1,
    ///     interrupted: 2, ..Default::default() };
    /// assert_eq!(s.jobs(), 6);
    /// ```
    pub fn jobs(&self) -> u64 {
        self.succeeded + self.failed + self.killed_by_halt + self.interrupted
    }

    /// The exit status ([`exit_code`]): 0, failures up to 100, 101, or 128 + signal.
    ///
    /// ```
    /// let s = amorsize::process::RunSummary { failed: 250, ..Default::default() };
    /// assert_eq!(s.exit_code(), 101);
    /// ```
    pub fn exit_code(&self) -> u8 {
        exit_code(self.failed, self.interrupted_by)
    }
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} jobs ({} items): {} succeeded, {} failed",
            self.jobs(),
            self.items,
            self.succeeded,
            self.failed
        )?;
        if self.timed_out > 0 {
            write!(f, " ({} timed out)", self.timed_out)?;
        }
        if self.killed_by_halt > 0 {
            write!(f, ", {} killed by --halt", self.killed_by_halt)?;
        }
        if self.interrupted > 0 {
            write!(f, ", {} stopped by the signal", self.interrupted)?;
        }
        if self.retried > 0 {
            write!(f, ", {} reruns", self.retried)?;
        }
        if self.skipped_empty > 0 {
            write!(f, ", {} empty items skipped", self.skipped_empty)?;
        }
        write!(
            f,
            "; {:.2} s; concurrency {} -> {} (at most {} jobs at once), CPU {:.0}% of wall",
            self.wall_secs,
            self.start_concurrency,
            self.final_concurrency,
            self.max_concurrency,
            self.cpu_fraction * 100.0
        )?;
        if self.max_batch > 1 {
            write!(f, "; up to {} items per job", self.max_batch)?;
        }
        if let (Some(s), Some(w)) = (self.startup_secs, self.work_per_item_secs) {
            write!(
                f,
                " (fitted: {:.2} ms start-up per job, {:.1} µs per item)",
                s * 1e3,
                w * 1e6
            )?;
        }
        if self.spooled_jobs > 0 {
            write!(
                f,
                "; output of {} jobs spooled to disk (at most {:.1} MiB held in memory)",
                self.spooled_jobs,
                self.output_memory_peak as f64 / (1u64 << 20) as f64
            )?;
        }
        if self.halted {
            write!(f, "; halted by --halt")?;
        }
        if let Some(s) = self.interrupted_by {
            write!(f, "; interrupted by signal {s}")?;
        }
        Ok(())
    }
}

/// Builds a [`Runner`]; [`RunnerBuilder::build`] validates and names any bad setting.
///
/// ```
/// use amorsize::process::Runner;
/// let err = Runner::builder(["echo"]).reorder_capacity(0).build().unwrap_err();
/// assert!(err.to_string().contains("reorder_capacity"));
/// ```
#[derive(Debug, Clone)]
pub struct RunnerBuilder {
    command: Vec<OsString>,
    jobs: Jobs,
    batch: BatchPolicy,
    keep_order: bool,
    reorder_capacity: usize,
    joblog: Option<PathBuf>,
    halt: HaltPolicy,
    timeout: Option<Duration>,
    retries: u32,
    stop: StopFlag,
    total: Option<u64>,
    max_jobs: Option<usize>,
    output_memory: usize,
    spool_dir: Option<PathBuf>,
}

impl RunnerBuilder {
    /// `-j N` (fixed; 0 is rejected by `build`).
    ///
    /// ```
    /// assert!(amorsize::process::Runner::builder(["true"]).jobs(0).build().is_err());
    /// ```
    pub fn jobs(mut self, n: usize) -> Self {
        self.jobs = Jobs::Fixed(n);
        self
    }

    /// `-j auto|N`.
    ///
    /// ```
    /// use amorsize::process::{Jobs, Runner};
    /// let r = Runner::builder(["true"]).concurrency(Jobs::Auto).build()?;
    /// assert!(r.explain(&[]).start_concurrency >= 1);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn concurrency(mut self, jobs: Jobs) -> Self {
        self.jobs = jobs;
        self
    }

    /// The highest concurrency `-j auto` may reach (default: 64 × cores, at most 512). With a
    /// fixed number of [`jobs`](Self::jobs), `build` rejects it (it would change nothing).
    ///
    /// ```
    /// use amorsize::process::Runner;
    /// assert!(Runner::builder(["true"]).max_jobs(0).build().is_err());
    /// assert!(Runner::builder(["true"]).max_jobs(8).build().is_ok());
    /// assert!(Runner::builder(["true"]).jobs(4).max_jobs(8).build().is_err());
    /// ```
    pub fn max_jobs(mut self, n: usize) -> Self {
        self.max_jobs = Some(n);
        self
    }

    /// `--batch auto|N`.
    ///
    /// ```
    /// use amorsize::process::{BatchPolicy, Runner};
    /// assert!(Runner::builder(["true"]).batch(BatchPolicy::Fixed(0)).build().is_err());
    /// ```
    pub fn batch(mut self, batch: BatchPolicy) -> Self {
        self.batch = batch;
        self
    }

    /// `-k`: print outputs in input order.
    ///
    /// ```
    /// let _ = amorsize::process::Runner::builder(["true"]).keep_order(true).build()?;
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn keep_order(mut self, yes: bool) -> Self {
        self.keep_order = yes;
        self
    }

    /// Finished jobs `-k` may hold while an earlier one runs (default
    /// [`DEFAULT_REORDER_CAPACITY`]); when full, no new job starts.
    ///
    /// ```
    /// let _ = amorsize::process::Runner::builder(["true"]).reorder_capacity(8).build()?;
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn reorder_capacity(mut self, jobs: usize) -> Self {
        self.reorder_capacity = jobs;
        self
    }

    /// The job output the run may hold in memory, in bytes (default
    /// [`DEFAULT_OUTPUT_MEMORY`]): the output of running jobs, and under `-k` of finished jobs
    /// waiting for an earlier one. Past it, a job's output is spooled to a temporary file. 0
    /// spools every job's output.
    ///
    /// ```
    /// use amorsize::process::{Runner, WriteSink};
    /// let r = Runner::builder(["seq", "{}"]).keep_order(true).output_memory(0).build()?;
    /// let mut out = Vec::new();
    /// let s = r.run(["3", "2"].map(String::from), &mut WriteSink::new(&mut out))?;
    /// assert_eq!(out, b"1\n2\n3\n1\n2\n");
    /// assert_eq!(s.spooled_jobs, 2);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn output_memory(mut self, bytes: usize) -> Self {
        self.output_memory = bytes;
        self
    }

    /// The directory for spool files (`--tmpdir`; default: `$TMPDIR`, else `/tmp`). The files
    /// are unlinked as they are made.
    ///
    /// ```
    /// let _ = amorsize::process::Runner::builder(["true"]).spool_dir(std::env::temp_dir()).build()?;
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spool_dir = Some(dir.into());
        self
    }

    /// `--joblog FILE`: one line per job, written as the job ends.
    ///
    /// ```
    /// let _ = amorsize::process::Runner::builder(["true"]).joblog("/tmp/jobs.tsv").build()?;
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn joblog(mut self, path: impl Into<PathBuf>) -> Self {
        self.joblog = Some(path.into());
        self
    }

    /// `--halt`.
    ///
    /// ```
    /// let _ = amorsize::process::Runner::builder(["true"]).halt("soon,fail=1".parse()?).build()?;
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn halt(mut self, policy: HaltPolicy) -> Self {
        self.halt = policy;
        self
    }

    /// `--timeout`: a job running longer is killed (SIGTERM, then SIGKILL after
    /// [`KILL_GRACE`]) and counts as failed. Deadlines hold while the run waits for its
    /// [`Sink`] to take an output (a stdout nobody reads yet): a thread of the run keeps
    /// them meanwhile.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert!(amorsize::process::Runner::builder(["true"]).timeout(Duration::ZERO).build().is_err());
    /// ```
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// `--retries N`: rerun a failed job up to `n` more times.
    ///
    /// ```
    /// let _ = amorsize::process::Runner::builder(["true"]).retries(2).build()?;
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }

    /// A flag that, once set, makes the run forward the signal to its jobs and stop.
    ///
    /// ```
    /// let flag = amorsize::process::StopFlag::new();
    /// let _ = amorsize::process::Runner::builder(["true"]).stop_flag(flag.clone()).build()?;
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn stop_flag(mut self, flag: StopFlag) -> Self {
        self.stop = flag;
        self
    }

    /// The number of items, when known in advance (for progress ETA and batch spreading).
    ///
    /// ```
    /// let _ = amorsize::process::Runner::builder(["true"]).total_items(3).build()?;
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn total_items(mut self, n: u64) -> Self {
        self.total = Some(n);
        self
    }

    /// Validates the settings and checks that the program exists (on `PATH` or as a path).
    ///
    /// ```
    /// use amorsize::process::Runner;
    /// let e = Runner::builder(["no-such-cmd-amorsize"]).build().unwrap_err();
    /// assert!(e.to_string().contains("no-such-cmd-amorsize"));
    /// ```
    pub fn build(self) -> Result<Runner> {
        let template = Template::parse(&self.command)?;
        if let Jobs::Fixed(0) = self.jobs {
            return Err(Error::invalid_config("jobs", "must be at least 1"));
        }
        if let BatchPolicy::Fixed(0) = self.batch {
            return Err(Error::invalid_config("batch", "must be at least 1"));
        }
        if self.reorder_capacity == 0 {
            return Err(Error::invalid_config(
                "reorder_capacity",
                "must be at least 1",
            ));
        }
        if self.max_jobs == Some(0) {
            return Err(Error::invalid_config("max_jobs", "must be at least 1"));
        }
        if let (Jobs::Fixed(n), Some(_)) = (self.jobs, self.max_jobs) {
            return Err(Error::invalid_config(
                "max_jobs",
                format!(
                    "only bounds an auto concurrency: a fixed number of jobs ({n}) never changes"
                ),
            ));
        }
        if let Some(d) = &self.spool_dir {
            if !d.is_dir() {
                return Err(Error::invalid_config(
                    "spool_dir",
                    format!("{} is not a directory", d.display()),
                ));
            }
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::invalid_config(
                "timeout",
                "must be greater than zero",
            ));
        }
        let batching = match self.batch {
            BatchPolicy::Fixed(n) => n > 1,
            BatchPolicy::Auto => true,
        };
        if batching && template.shell_script_uses_item() {
            return Err(Error::invalid_config(
                "batch",
                format!(
                    "the item is inside the script of `{} -c`: with several items per job the \
                     shell would run the script for the first item only and skip the others; \
                     pass the items as the script's arguments instead, as in \
                     sh -c 'for f; do gzip \"$f\"; done' sh {{}}",
                    template.program()
                ),
            ));
        }
        let argv0 = self.command[0].clone();
        let program = if argv0.as_bytes().contains(&b'{')
            && Template::parse(&[&argv0])?.expand_os(&["x"], 1)[0] != argv0
        {
            None // the program name itself has a placeholder: resolved per job
        } else {
            Some(resolve_program(&argv0)?)
        };
        // Only the cores are needed here: the memory and pressure files are read while the
        // run goes (`sample_memory`), and reading them now would delay the first job.
        let cores = crate::system::cores_now();
        let mut cfg = ControllerConfig::for_cores(cores.effective);
        if let Some(m) = self.max_jobs {
            cfg.max = m;
            cfg.cores = cfg.cores.min(m);
        }
        let spool_dir = self.spool_dir.clone().unwrap_or_else(std::env::temp_dir);
        Ok(Runner {
            template,
            program,
            cfg,
            spool_dir,
            b: self,
        })
    }
}

/// Runs a command over items; see the [module docs](self).
///
/// ```
/// use amorsize::process::{Runner, WriteSink};
/// let r = Runner::builder(["sh", "-c", "test {} -lt 3"]).build()?;
/// let s = r.run((1..=5).map(|i| i.to_string()), &mut WriteSink::new(std::io::sink()))?;
/// assert_eq!((s.succeeded, s.failed), (2, 3));
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Runner {
    template: Template,
    program: Option<PathBuf>,
    cfg: ControllerConfig,
    spool_dir: PathBuf,
    b: RunnerBuilder,
}

/// What `--explain` prints: the measurements and the decision, before anything runs.
///
/// ```
/// let r = amorsize::process::Runner::builder(["gzip", "-k", "{}"]).build()?;
/// let e = r.explain(&["a.log".to_string()]);
/// assert_eq!(e.first_command.as_deref(), Some(&["gzip".to_string(), "-k".into(), "a.log".into()][..]));
/// println!("{e}");
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Explain {
    /// The command template as given.
    pub command: Vec<String>,
    /// The program as resolved on `PATH` (None when its name has a placeholder).
    pub program: Option<String>,
    /// Effective cores.
    pub cores: usize,
    /// What limits the cores.
    pub cores_limited_by: crate::system::CoreLimit,
    /// Available memory in bytes (0 when unknown).
    pub memory_available: u64,
    /// Total memory in bytes (0 when unknown).
    pub memory_total: u64,
    /// PSI memory `some avg10`, when known.
    pub memory_pressure: Option<f64>,
    /// 1-minute load average, when known.
    pub load_average: Option<f64>,
    /// `auto` or fixed.
    pub jobs: Jobs,
    /// The concurrency the run starts at.
    pub start_concurrency: usize,
    /// The highest concurrency `auto` may reach.
    pub max_concurrency: usize,
    /// The controller's settings.
    pub controller: ControllerConfig,
    /// The batch policy.
    pub batch: BatchPolicy,
    /// The argument-length limit in bytes (ARG_MAX less the environment).
    pub arg_limit: usize,
    /// The most of the given items that fit in one command line.
    pub items_per_command_line: Option<usize>,
    /// Items known in advance.
    pub items: Option<u64>,
    /// Whether output keeps input order (`-k`).
    pub keep_order: bool,
    /// Reorder buffer capacity (jobs).
    pub reorder_capacity: usize,
    /// The job output held in memory at most (bytes) before it is spooled.
    pub output_memory: usize,
    /// Where spool files go.
    pub spool_dir: String,
    /// The halt policy.
    pub halt: HaltPolicy,
    /// The per-job time limit in seconds.
    pub timeout_secs: Option<f64>,
    /// Reruns of a failed job.
    pub retries: u32,
    /// The command line of the first job, when items are known.
    pub first_command: Option<Vec<String>>,
}

impl fmt::Display for Explain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "amorsize run plan (nothing was run)")?;
        writeln!(f, "  command:      {}", self.command.join(" "))?;
        if let Some(p) = &self.program {
            writeln!(f, "  program:      {p}")?;
        }
        if let Some(c) = &self.first_command {
            writeln!(f, "  first job:    {}", c.join(" "))?;
        }
        writeln!(f, "measurements")?;
        writeln!(
            f,
            "  cores:        {} effective (limited by {:?})",
            self.cores, self.cores_limited_by
        )?;
        if self.memory_total > 0 {
            writeln!(
                f,
                "  memory:       {} MiB available of {} MiB",
                self.memory_available >> 20,
                self.memory_total >> 20
            )?;
        } else {
            writeln!(f, "  memory:       unknown")?;
        }
        match self.memory_pressure {
            Some(p) => writeln!(f, "  pressure:     {p:.1}% (some avg10)")?,
            None => writeln!(f, "  pressure:     not reported")?,
        }
        if let Some(l) = self.load_average {
            writeln!(f, "  load:         {l:.2} (1 min)")?;
        }
        writeln!(
            f,
            "  arg limit:    {} bytes (ARG_MAX less the environment)",
            self.arg_limit
        )?;
        if let Some(n) = self.items {
            writeln!(f, "  items:        {n}")?;
        }
        writeln!(f, "decision")?;
        match self.jobs {
            Jobs::Fixed(n) => writeln!(f, "  concurrency:  {n} (fixed by -j)")?,
            Jobs::Auto => {
                writeln!(
                    f,
                    "  concurrency:  auto, start at {} (the effective cores), range {}..={}",
                    self.start_concurrency, self.controller.min, self.max_concurrency
                )?;
                writeln!(
                    f,
                    "                raise while jobs use < {:.0}% CPU and throughput rises by > {:.0}%;",
                    self.controller.io_bound_below * 100.0,
                    self.controller.gain * 100.0
                )?;
                writeln!(
                    f,
                    "                lower on memory pressure (PSI >= {:.0}% or < {:.0}% available),",
                    self.controller.pressure_limit,
                    self.controller.min_available_fraction * 100.0
                )?;
                writeln!(f, "                when throughput falls, or when our jobs' CPU load exceeds the cores")?;
            }
        }
        match self.batch {
            BatchPolicy::Fixed(1) => writeln!(f, "  batching:     one item per job")?,
            BatchPolicy::Fixed(n) => writeln!(f, "  batching:     up to {n} items per job")?,
            BatchPolicy::Auto => writeln!(
                f,
                "  batching:     auto: probe jobs of 1 and {} items fit the start-up per job and the\n                work per item; batches keep the start-up under {:.0}% of the work",
                batch::PROBE_ITEMS,
                batch::TARGET_OVERHEAD * 100.0
            )?,
        }
        if let Some(n) = self.items_per_command_line {
            writeln!(
                f,
                "                at most {n} of these items fit in one command line"
            )?;
        }
        if self.keep_order {
            writeln!(
                f,
                "  output:       input order (-k), reorder buffer of {} jobs",
                self.reorder_capacity
            )?;
        } else {
            writeln!(f, "  output:       each job whole, as it finishes")?;
        }
        writeln!(
            f,
            "                held in memory up to {:.1} MiB in all, spooled to {} past it",
            self.output_memory as f64 / (1u64 << 20) as f64,
            self.spool_dir
        )?;
        writeln!(f, "  halt:         {}", self.halt)?;
        if let Some(t) = self.timeout_secs {
            writeln!(f, "  timeout:      {t} s per job")?;
        }
        write!(f, "  retries:      {}", self.retries)
    }
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A job that is queued (for a rerun) or running.
#[derive(Debug)]
struct Job {
    seq: u64,
    items: Vec<OsString>,
    tries: u32,
}

struct Running {
    job: Job,
    argv: Vec<String>,
    started_at: std::time::SystemTime,
    deadline: Option<Instant>,
    timed_out: bool,
    kill_at: Option<Instant>,
    /// When it started (for its wall time).
    started: Instant,
    /// The read end of its output pipe; None once the output has ended.
    output: Option<std::fs::File>,
    /// Its output so far.
    out: JobOutput,
    /// Readable once it has exited (None where pidfds are not available).
    pidfd: Option<std::os::fd::OwnedFd>,
    /// Reaped while its output was still open: when, and its status and usage.
    exited: Option<(Instant, i32, libc::rusage)>,
    /// When its exit was seen while the loop was blocked writing output ([`watchdog`]).
    seen_exit: Option<Instant>,
    /// Signalled by `--halt now` after another job's failure.
    halted: bool,
    /// Running when a signal stopped the run (the signal was forwarded to it).
    interrupted: bool,
    /// Whether `output` is non-blocking (then a wake-up drains it).
    nonblocking: bool,
}

impl Running {
    /// The next signal the job's process group is due, and when: SIGKILL at the end of the
    /// grace period of a kill already under way, else SIGTERM at the `--timeout` of a job that
    /// has not exited.
    fn next_signal(&self) -> Option<(Instant, i32)> {
        match (self.kill_at, self.deadline) {
            (Some(k), _) => Some((k, libc::SIGKILL)),
            (None, Some(d)) if self.exited.is_none() && self.seen_exit.is_none() => {
                Some((d, libc::SIGTERM))
            }
            _ => None,
        }
    }
}

/// A command line as text, for the job log, the sink and messages (bytes that are not UTF-8
/// shown as U+FFFD; the job itself got them as they are).
fn shown(argv: &[OsString]) -> Vec<String> {
    argv.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// What a descriptor in the main loop's poll set belongs to.
#[derive(Clone, Copy)]
enum Watch {
    /// A job's output pipe.
    Output(i32),
    /// A job's pidfd (readable once the job has exited).
    Exit(i32),
    /// The input thread's wake-up.
    Input,
}

/// The main loop's longest sleep: signals, deadlines and memory are checked at least this often.
const TICK_MS: i32 = 50;

/// How often a lingering process group is looked at ([`spawn::group_alive`] reads `/proc`:
/// 0.2 ms with 67 processes here, about 3 µs a process, so tens of milliseconds on a host of
/// thousands; the main loop may turn many times a millisecond). A group whose last member
/// ended is dropped within this much, and its SIGKILL comes on time whatever.
const LINGER_LOOK: Duration = Duration::from_millis(20);

impl Runner {
    /// Starts a builder for `command` (program first; placeholders allowed). The words are
    /// bytes (`&str`, `String`, `OsString`): an argument that is not UTF-8 reaches the command
    /// as it is.
    ///
    /// ```
    /// use std::ffi::{OsStr, OsString};
    /// use std::os::unix::ffi::OsStringExt;
    /// let _b = amorsize::process::Runner::builder(["echo", "{}"]);
    /// let _b = amorsize::process::Runner::builder([OsString::from("echo"), OsString::from_vec(b"\xff".to_vec())]);
    /// ```
    pub fn builder<S: Into<OsString>>(command: impl IntoIterator<Item = S>) -> RunnerBuilder {
        RunnerBuilder {
            command: command.into_iter().map(Into::into).collect(),
            jobs: Jobs::Auto,
            batch: BatchPolicy::Fixed(1),
            keep_order: false,
            reorder_capacity: DEFAULT_REORDER_CAPACITY,
            joblog: None,
            halt: HaltPolicy::Never,
            timeout: None,
            retries: 0,
            stop: StopFlag::new(),
            total: None,
            max_jobs: None,
            output_memory: DEFAULT_OUTPUT_MEMORY,
            spool_dir: None,
        }
    }

    /// The plan without running anything: machine facts and the decisions that follow.
    /// `items` are the items known in advance (may be empty).
    ///
    /// ```
    /// let r = amorsize::process::Runner::builder(["echo"]).jobs(3).build()?;
    /// let e = r.explain(&[]);
    /// assert_eq!(e.start_concurrency, 3);
    /// assert!(e.to_string().contains("fixed by -j"));
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn explain(&self, items: &[String]) -> Explain {
        let items: Vec<&OsStr> = items.iter().map(OsStr::new).collect();
        self.explain_os(&items)
    }

    /// [`explain`](Self::explain) for items of any bytes (`OsString`, `&OsStr`, …: a file name
    /// need not be UTF-8); the command lines in the plan show such bytes as U+FFFD.
    ///
    /// ```
    /// use std::ffi::{OsStr, OsString};
    /// use std::os::unix::ffi::OsStringExt;
    /// let r = amorsize::process::Runner::builder(["gzip", "{}"]).build()?;
    /// let e = r.explain_os(&[OsString::from_vec(b"caf\xe9.log".to_vec())]);
    /// assert_eq!(e.first_command, Some(vec!["gzip".to_string(), "caf\u{fffd}.log".into()]));
    /// assert_eq!(e.items, Some(1));
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn explain_os<S: AsRef<OsStr>>(&self, items: &[S]) -> Explain {
        let info = crate::system::info();
        let arg_limit = batch::arg_limit();
        let items_per_command_line = (!items.is_empty()).then(|| {
            batch::fit_to_arg_limit(
                arg_limit,
                self.template.fixed_bytes(),
                items.iter().map(|i| self.template.item_bytes(i)),
            )
        });
        let n = match self.b.batch {
            BatchPolicy::Fixed(n) => n,
            BatchPolicy::Auto => 1,
        };
        let batch: Vec<&OsStr> = items
            .iter()
            .map(AsRef::as_ref)
            .filter(|i| !i.is_empty())
            .take(n)
            .collect();
        let first_command = (!batch.is_empty()).then(|| shown(&self.template.expand_os(&batch, 1)));
        Explain {
            command: shown(&self.b.command),
            program: self.program.as_ref().map(|p| p.display().to_string()),
            cores: info.cores.effective,
            cores_limited_by: info.cores.limited_by,
            memory_available: info.memory.available,
            memory_total: info.memory.total,
            memory_pressure: info.pressure.map(|p| p.some_avg10),
            load_average: load_average(),
            jobs: self.b.jobs,
            start_concurrency: self.start_controller().concurrency(),
            max_concurrency: self.max_concurrency(),
            controller: self.cfg.clone(),
            batch: self.b.batch,
            arg_limit,
            items_per_command_line,
            items: self
                .b
                .total
                .or((!items.is_empty()).then_some(items.len() as u64)),
            keep_order: self.b.keep_order,
            reorder_capacity: self.b.reorder_capacity,
            output_memory: self.b.output_memory,
            spool_dir: self.spool_dir.display().to_string(),
            halt: self.b.halt,
            timeout_secs: self.b.timeout.map(|t| t.as_secs_f64()),
            retries: self.b.retries,
            first_command,
        }
    }

    /// The most jobs the run may have at once: `-j N`, or the highest `-j auto` may reach.
    fn max_concurrency(&self) -> usize {
        match self.b.jobs {
            Jobs::Fixed(n) => n,
            Jobs::Auto => self.cfg.max,
        }
    }

    fn start_controller(&self) -> Controller {
        match self.b.jobs {
            Jobs::Auto => Controller::auto(self.cfg.clone()),
            Jobs::Fixed(n) => Controller::fixed(self.cfg.clone(), n),
        }
    }

    /// Runs the command over `items` (streamed: at most a bounded number are read ahead),
    /// sending each job's output to `sink`. Items are `String`s or any bytes (`OsString`: a
    /// file name need not be UTF-8), passed to the command as they are. Zero-length items are
    /// skipped with a warning.
    /// Returns the summary; `Err` only for amorsize's own failures (the job log cannot be
    /// written, the sink fails, a thread cannot start) — jobs are never left running: a job
    /// told to stop (timeout, halt, a forwarded signal) has its whole process group killed
    /// after [`KILL_GRACE`], even the children that outlive it. A SIGCHLD the process inherited
    /// ignored is set back to its default first (while ignored, no job could be reaped).
    ///
    /// ```
    /// use amorsize::process::{Runner, WriteSink};
    /// let mut out = Vec::new();
    /// let s = Runner::builder(["echo", "{#}:{}"]).jobs(1).build()?
    ///     .run(["a", "", "b"].map(String::from), &mut WriteSink::new(&mut out))?;
    /// assert_eq!(out, b"1:a\n2:b\n");
    /// assert_eq!(s.skipped_empty, 1);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn run<I>(&self, items: I, sink: &mut dyn Sink) -> Result<RunSummary>
    where
        I: IntoIterator,
        I::Item: Into<OsString>,
        I::IntoIter: Send + 'static,
    {
        let joblog = match &self.b.joblog {
            None => None,
            Some(p) => {
                let mut f = std::fs::File::create(p)
                    .map_err(|e| Error::io(format!("creating job log {}", p.display()), e))?;
                writeln!(f, "{JOBLOG_HEADER}")
                    .map_err(|e| Error::io(format!("writing job log {}", p.display()), e))?;
                Some(std::io::BufWriter::new(f))
            }
        };
        spawn::reset_ignored_sigchld();
        let (item_tx, item_rx) = bounded::<OsString>(INPUT_QUEUE);
        let iter = items.into_iter();
        let wake = Arc::new(spawn::Wake::new());
        let input_wake = Arc::clone(&wake);
        std::thread::Builder::new()
            .name("amorsize-input".into())
            .spawn(move || {
                for item in iter {
                    if item_tx.send(item.into()).is_err() {
                        break;
                    }
                    input_wake.notify();
                }
                drop(item_tx);
                input_wake.notify();
            })
            .map_err(|e| Error::Spawn(format!("input reader thread: {e}")))?;
        let mut st = State {
            runner: self,
            sink,
            joblog,
            controller: self.start_controller(),
            reorder: Reorder::new(self.b.reorder_capacity),
            held: spool::Budget::new(
                self.b.output_memory,
                spool::open_file_limit()
                    .map_or(usize::MAX, |l| max_spool_files(l, self.max_concurrency())),
            ),
            scratch: Vec::new(),
            lingering: Vec::new(),
            fd_starved: false,
            watchdog: std::cell::OnceCell::new(),
            running: HashMap::new(),
            retry: VecDeque::new(),
            pending: None,
            input: item_rx,
            input_done: false,
            wake,
            next_seq: 1,
            start: Instant::now(),
            summary: RunSummary::default(),
            stop_starting: false,
            fit: batch::StartupFit::default(),
            probe_hold: Instant::now() + PROBE_WAIT,
            total_cpu: 0.0,
            total_wall: 0.0,
            last_memory: Instant::now(),
            error: None,
        };
        st.summary.start_concurrency = st.controller.concurrency();
        let result = st.main_loop();
        st.end_lingering_groups();
        result?;
        if let Some(j) = st.joblog.as_mut() {
            j.flush().map_err(|e| Error::io("writing the job log", e))?;
        }
        let mut summary = std::mem::take(&mut st.summary);
        summary.wall_secs = st.start.elapsed().as_secs_f64();
        summary.final_concurrency = st.controller.concurrency();
        summary.reason = Some(st.controller.reason());
        summary.cpu_fraction = if st.total_wall > 0.0 {
            st.total_cpu / st.total_wall
        } else {
            0.0
        };
        summary.spooled_jobs = st.held.spooled_jobs;
        summary.output_memory_peak = st.held.peak as u64;
        if let Some(cost) = st.fit.estimate() {
            summary.startup_secs = Some(cost.startup.as_secs_f64());
            summary.work_per_item_secs = Some(cost.per_item.as_secs_f64());
        }
        match st.error {
            Some(e) => Err(e),
            None => Ok(summary),
        }
    }
}

struct State<'a> {
    runner: &'a Runner,
    sink: &'a mut dyn Sink,
    joblog: Option<std::io::BufWriter<std::fs::File>>,
    controller: Controller,
    reorder: Reorder<(JobResult, JobOutput)>,
    /// The job output held in memory, against the budget.
    held: spool::Budget,
    /// Where a job's pipe is read into before its bytes join the job's output.
    scratch: Vec<u8>,
    /// Process groups of signalled jobs whose leader has ended, with when the rest of the group
    /// gets SIGKILL (a child that ignores SIGTERM must not outlive the run) and when to look
    /// next whether anything of it is still alive ([`LINGER_LOOK`]).
    lingering: Vec<(i32, Instant, Instant)>,
    /// A job could not start for want of file descriptors: no job starts until one ends.
    fd_starved: bool,
    /// The thread that keeps the deadlines while a write to the sink blocks, started by the
    /// first write made while a signal is due (`None` inside when it could not start).
    watchdog: std::cell::OnceCell<Option<watchdog::Watchdog>>,
    running: HashMap<i32, Running>,
    retry: VecDeque<Job>,
    pending: Option<OsString>,
    input: Receiver<OsString>,
    input_done: bool,
    wake: Arc<spawn::Wake>,
    next_seq: u64,
    start: Instant,
    summary: RunSummary,
    stop_starting: bool,
    /// `--batch auto`: wall time against items over the finished jobs.
    fit: batch::StartupFit,
    /// `--batch auto`: until when the two probe jobs run alone (see [`State::hold_for_probes`]).
    probe_hold: Instant,
    total_cpu: f64,
    total_wall: f64,
    last_memory: Instant,
    error: Option<Error>,
}

impl State<'_> {
    fn main_loop(&mut self) -> Result<()> {
        loop {
            self.check_stop();
            self.check_deadlines();
            self.sample_memory();
            // Start jobs while there is room.
            while !self.stop_starting
                && !self.fd_starved
                && self.running.len() < self.controller.concurrency()
            {
                if self.runner.b.keep_order
                    && !self.reorder.can_start(self.next_seq)
                    && self.retry.is_empty()
                {
                    break; // back-pressure: the reorder buffer is full
                }
                if self.hold_for_probes().is_some() {
                    break;
                }
                let block = self.running.is_empty();
                let Some(job) = self.next_job(block) else {
                    break;
                };
                self.start_job(job);
            }
            if self.running.is_empty()
                && (self.stop_starting
                    || (self.input_done && self.retry.is_empty() && self.pending.is_none()))
            {
                break;
            }
            // Wait for a job's output or exit, or for input when there is room for another
            // job, or a tick to check signals, deadlines and memory.
            let room = !self.stop_starting
                && !self.input_done
                && self.pending.is_none()
                && self.running.len() < self.controller.concurrency();
            let wait = self.hold_for_probes();
            self.wait_events(room, wait);
        }
        // Whatever -k still holds (earlier jobs never ran because the run stopped).
        for (job, out) in self.reorder.drain() {
            self.emit(&job, &out);
        }
        Ok(())
    }

    /// Sleeps in `poll` until a job's output or exit (or, with `room`, a new input item)
    /// needs attention or a tick passes, then handles whatever is ready: reads output,
    /// reaps exited jobs and finishes them.
    /// Also wakes up after `at_most`, when given (the end of the probes' hold).
    fn wait_events(&mut self, room: bool, at_most: Option<Duration>) {
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(self.running.len() + 1);
        let mut watch: Vec<Watch> = Vec::with_capacity(self.running.len() + 1);
        let mut timeout = match at_most {
            Some(d) => TICK_MS.min(d.as_millis() as i32 + 1),
            None => TICK_MS,
        };
        // Wake up for the nearest deadline (a --timeout, the end of a kill's grace), not at
        // the next tick: a quiet job given 5 ms was killed after 50-60 ms.
        let now = Instant::now();
        let until = |due: Instant| {
            let left = due.saturating_duration_since(now);
            i32::try_from(left.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX)
        };
        for &(_, kill_at, _) in &self.lingering {
            timeout = timeout.min(until(kill_at));
        }
        let pollfd = |fd: i32| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        for (&pid, r) in &self.running {
            if let Some((due, _)) = r.next_signal() {
                timeout = timeout.min(until(due));
            }
            if let Some(o) = &r.output {
                fds.push(pollfd(o.as_raw_fd()));
                watch.push(Watch::Output(pid));
            }
            // The exit is watched with the output: a job ends when its process exits, even
            // while a child it left in the background holds the pipe open (for at most
            // OUTPUT_LINGER more).
            if let (Some(p), None) = (&r.pidfd, &r.exited) {
                fds.push(pollfd(p.as_raw_fd()));
                watch.push(Watch::Exit(pid));
            } else if r.output.is_none() {
                timeout = 1; // no pidfd: look again shortly whether it has exited
            }
        }
        if room {
            self.wake.set_waiting(true);
            // Look once more after saying we wait, so that no item is missed.
            match self.input.try_recv() {
                Ok(item) => {
                    self.wake.set_waiting(false);
                    self.accept_item(item);
                    timeout = 0;
                }
                Err(TryRecvError::Disconnected) => {
                    self.wake.set_waiting(false);
                    self.input_done = true;
                    timeout = 0;
                }
                Err(TryRecvError::Empty) => match self.wake.fd() {
                    Some(fd) => {
                        fds.push(pollfd(fd));
                        watch.push(Watch::Input);
                    }
                    None => timeout = timeout.min(5),
                },
            }
        }
        let ready = spawn::poll(&mut fds, timeout);
        if room {
            self.wake.set_waiting(false);
        }
        let mut ended = Vec::new();
        if ready > 0 {
            for (pfd, w) in fds.iter().zip(&watch) {
                if pfd.revents == 0 {
                    continue;
                }
                match *w {
                    Watch::Input => self.wake.drain(),
                    Watch::Output(pid) => {
                        let Some(r) = self.running.get_mut(&pid) else {
                            continue;
                        };
                        let len = r.out.len();
                        self.scratch.clear();
                        let open = match r.output.as_mut() {
                            Some(o) => spawn::read_some(o, &mut self.scratch, r.nonblocking),
                            None => false,
                        };
                        let dir = &self.runner.spool_dir;
                        if let Some(why) = self.held.append(&mut r.out, &self.scratch, dir) {
                            self.sink.warning(&why);
                        }
                        if open && len < 64 * 1024 && r.out.len() >= 64 * 1024 {
                            if let Some(o) = &r.output {
                                spawn::grow_pipe(o);
                            }
                        }
                        if !open {
                            r.output = None;
                            // Most jobs have exited by the time their output ends.
                            if let Some((_, status, usage)) = r.exited {
                                ended.push((pid, status, usage));
                            } else if let Some((status, usage)) = spawn::try_wait4(pid) {
                                ended.push((pid, status, usage));
                            }
                        }
                    }
                    Watch::Exit(pid) => {
                        // Already reaped above, when its output ended in this same round.
                        if ended.iter().any(|e| e.0 == pid) {
                            continue;
                        }
                        let (status, usage) = spawn::wait4(pid);
                        match self.running.get_mut(&pid) {
                            // A child still holds the output open: it may linger a little.
                            Some(r) if r.output.is_some() => {
                                r.exited = Some((Instant::now(), status, usage));
                            }
                            _ => ended.push((pid, status, usage)),
                        }
                    }
                }
            }
        }
        if timeout == 1 {
            // Jobs whose output ended but that have no pidfd: reap them if they exited.
            for (&pid, r) in &self.running {
                if r.output.is_none() && r.pidfd.is_none() && !ended.iter().any(|e| e.0 == pid) {
                    if let Some((status, usage)) = spawn::try_wait4(pid) {
                        ended.push((pid, status, usage));
                    }
                }
            }
        }
        // Jobs that exited and whose output a background child has held open long enough.
        let now = Instant::now();
        for (&pid, r) in &self.running {
            if let Some((at, status, usage)) = r.exited {
                if now >= at + OUTPUT_LINGER && !ended.iter().any(|e| e.0 == pid) {
                    ended.push((pid, status, usage));
                }
            }
        }
        for (pid, status, usage) in ended {
            self.finish(pid, status, &usage);
        }
    }

    /// An item read from the input while waiting.
    fn accept_item(&mut self, item: OsString) {
        if item.is_empty() {
            self.skip_empty();
        } else {
            self.pending = Some(item);
        }
    }

    fn check_stop(&mut self) {
        if self.summary.interrupted_by.is_some() {
            return;
        }
        if let Some(sig) = self.runner.b.stop.requested() {
            self.summary.interrupted_by = Some(sig);
            self.stop_starting = true;
            for r in self.running.values_mut() {
                r.interrupted = true;
            }
            self.kill_all(sig);
        }
    }

    fn kill_all(&mut self, sig: i32) {
        let now = Instant::now();
        for (pid, r) in self.running.iter_mut() {
            spawn::signal_group(*pid, sig);
            if r.kill_at.is_none() {
                r.kill_at = Some(now + KILL_GRACE);
            }
        }
    }

    fn check_deadlines(&mut self) {
        let now = Instant::now();
        self.lingering.retain_mut(|(pgid, kill_at, look_at)| {
            if now >= *kill_at {
                spawn::signal_group(*pgid, libc::SIGKILL);
                return false;
            }
            if now < *look_at {
                return true;
            }
            *look_at = now + LINGER_LOOK;
            spawn::group_alive(*pgid)
        });
        for (pid, r) in self.running.iter_mut() {
            let Some((_, signal)) = r.next_signal().filter(|&(due, _)| now >= due) else {
                continue;
            };
            if !spawn::send_due(*pid, signal) {
                // Exited in time, and not reaped yet (the loop was away, writing output): not
                // timed out; it ended by now.
                r.seen_exit.get_or_insert(now);
                continue;
            }
            if signal == libc::SIGTERM {
                r.timed_out = true;
            }
            r.kill_at = Some(now + KILL_GRACE);
        }
    }

    /// At the end of the run: what is left of signalled jobs' process groups gets the rest of
    /// its grace period (polled), then SIGKILL. Nothing of a job that was told to stop outlives
    /// the run.
    fn end_lingering_groups(&mut self) {
        while !self.lingering.is_empty() {
            self.check_deadlines();
            if self.lingering.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn sample_memory(&mut self) {
        if self.runner.b.jobs != Jobs::Auto || self.last_memory.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last_memory = Instant::now();
        let info = crate::system::refresh();
        self.controller.observe_memory(MemorySample {
            pressure_some_avg10: info.pressure.map(|p| p.some_avg10),
            available: info.memory.available,
            total: info.memory.total,
        });
    }

    /// The next non-empty item, blocking up to `wait` (None: wait until one arrives or the
    /// input ends).
    fn next_item(&mut self, wait: Option<Duration>) -> Option<OsString> {
        if let Some(p) = self.pending.take() {
            return Some(p);
        }
        loop {
            if self.input_done {
                return None;
            }
            let got = match wait {
                Some(w) if w.is_zero() => self
                    .input
                    .try_recv()
                    .map_err(|e| e == TryRecvError::Disconnected),
                // An item already queued needs no deadline (and no clock read).
                Some(w) => self.input.try_recv().or_else(|_| {
                    self.input
                        .recv_timeout(w)
                        .map_err(|e| e == RecvTimeoutError::Disconnected)
                }),
                None => self.input.recv().map_err(|_| true),
            };
            match got {
                Ok(item) if item.is_empty() => self.skip_empty(),
                Ok(item) => return Some(item),
                Err(disconnected) => {
                    self.input_done = disconnected;
                    return None;
                }
            }
        }
    }

    /// With `--batch auto`, while the fit has no estimate yet, the two probe jobs (1 item and
    /// [`batch::probe_size`] items) run alone, so that nothing else competes with them for the
    /// cores: until [`PROBE_WAIT`] has passed while neither has finished (the other slots
    /// should not wait longer for items that may take that long each), and once one probe has
    /// finished, until the other has run twice as long as it did (a command that starts
    /// slowly takes about as long for 16 items as for 1; longer means its items take real
    /// time, and the free slot gets one-item jobs). Returns how much longer the hold lasts.
    fn hold_for_probes(&self) -> Option<Duration> {
        if self.runner.b.batch != BatchPolicy::Auto
            || self.next_seq <= 2
            || !self.retry.is_empty()
            || self.fit.estimate().is_some()
        {
            return None;
        }
        self.probe_hold.checked_duration_since(Instant::now())
    }

    /// After the first job finished while probing: the other probe, if still running, gets
    /// until it has run twice as long as this one did (see [`State::hold_for_probes`]).
    fn set_probe_hold(&mut self, finished_wall: Duration) {
        if self.fit.jobs() != 1 {
            return;
        }
        if let Some(other) = self.running.values().find(|r| r.job.seq <= 2) {
            self.probe_hold = other.started + finished_wall * 2;
        }
    }

    fn skip_empty(&mut self) {
        self.summary.skipped_empty += 1;
        self.sink.warning("skipped a zero-length item");
    }

    fn batch_limit(&self) -> usize {
        let size = match self.runner.b.batch {
            BatchPolicy::Fixed(n) => n,
            BatchPolicy::Auto => match self.fit.estimate() {
                Some(cost) => batch::auto_batch_size(
                    cost.startup,
                    cost.per_item,
                    batch::TARGET_OVERHEAD,
                    batch::MAX_AUTO_BATCH,
                ),
                // Probing: the second job gets a few items, every other job one, until jobs
                // of two sizes have finished.
                None if self.next_seq == 2 => batch::probe_size(
                    self.runner.b.total.map(|t| t as usize),
                    self.controller.concurrency(),
                ),
                None => 1,
            },
        };
        let known = self
            .runner
            .b
            .total
            .map(|t| t.saturating_sub(self.summary.items) as usize);
        match self.runner.b.batch {
            BatchPolicy::Auto => batch::spread_cap(size, known, self.controller.concurrency()),
            BatchPolicy::Fixed(_) => size,
        }
    }

    fn next_job(&mut self, block: bool) -> Option<Job> {
        if let Some(j) = self.retry.pop_front() {
            return Some(j);
        }
        let first = self.next_item(Some(if block {
            Duration::from_millis(20)
        } else {
            Duration::ZERO
        }))?;
        // The kernel's limit applies to each argument: the item with the text around it.
        let template = &self.runner.template;
        let too_long = |item: &OsString| template.longest_arg(item) >= batch::MAX_ARG_STRLEN;
        let limit = if too_long(&first) {
            1
        } else {
            self.batch_limit()
        };
        let mut items = vec![first];
        if limit > 1 {
            let t = &self.runner.template;
            let arg_limit = batch::arg_limit();
            let mut used = t.fixed_bytes() + t.item_bytes(&items[0]);
            while items.len() < limit {
                let Some(next) = self.next_item(Some(Duration::from_millis(5))) else {
                    break;
                };
                let b = t.item_bytes(&next);
                if used + b > arg_limit || too_long(&next) {
                    self.pending = Some(next);
                    break;
                }
                used += b;
                items.push(next);
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        Some(Job {
            seq,
            items,
            tries: 1,
        })
    }

    fn start_job(&mut self, job: Job) {
        let argv = self.runner.template.expand_os(&job.items, job.seq);
        let resolved;
        let program = match &self.runner.program {
            Some(p) => p.as_path(),
            None => match resolve_program(&argv[0]) {
                Ok(p) => {
                    resolved = p;
                    resolved.as_path()
                }
                Err(e) => {
                    self.sink.warning(&format!("job {}: {e}", job.seq));
                    self.failed_to_start(job, argv, 127);
                    return;
                }
            },
        };
        let spawned: Spawned = match spawn::spawn(program, &argv[0], &argv[1..]) {
            Ok(s) => s,
            // Out of file descriptors (the open-file limit, with many jobs running): the job
            // waits for one of them to end instead of failing, as GNU parallel runs fewer jobs.
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
                    && !self.running.is_empty() =>
            {
                if !self.summary.fd_limited {
                    self.summary.fd_limited = true;
                    self.sink.warning(&format!(
                        "job {}: out of file descriptors with {} jobs running ({e}); \
                         running fewer jobs at once",
                        job.seq,
                        self.running.len()
                    ));
                }
                self.fd_starved = true;
                self.retry.push_front(job);
                return;
            }
            Err(e) => {
                self.sink.warning(&format!(
                    "job {}: cannot start {}: {}",
                    job.seq,
                    argv[0].to_string_lossy(),
                    spawn::why_not_started(program, &e)
                ));
                self.failed_to_start(job, argv, 126);
                return;
            }
        };
        let pid = spawned.pid;
        let argv = shown(&argv);
        let pidfd = spawn::pidfd_open(pid);
        // Non-blocking, so that a wake-up drains all the output there is; if that fails, one
        // read per wake-up still works.
        let nonblocking = spawn::set_nonblocking(&spawned.output).is_ok();
        self.running.insert(
            pid,
            Running {
                job,
                argv,
                started_at: spawned.started_at,
                // A timeout too long to add to the clock is no deadline at all.
                deadline: self
                    .runner
                    .b
                    .timeout
                    .and_then(|t| spawned.started.checked_add(t)),
                timed_out: false,
                kill_at: None,
                started: spawned.started,
                output: Some(spawned.output),
                out: JobOutput::default(),
                pidfd,
                exited: None,
                seen_exit: None,
                halted: false,
                interrupted: false,
                nonblocking,
            },
        );
        self.summary.max_concurrency = self.summary.max_concurrency.max(self.running.len());
    }

    fn failed_to_start(&mut self, job: Job, argv: Vec<OsString>, exit: i32) {
        let argv = shown(&argv);
        let f = Finished {
            exit,
            signal: 0,
            wall: Duration::ZERO,
            cpu: Duration::ZERO,
        };
        let r = Running {
            job,
            argv,
            started_at: std::time::SystemTime::now(),
            deadline: None,
            timed_out: false,
            kill_at: None,
            started: Instant::now(),
            output: None,
            out: JobOutput::default(),
            pidfd: None,
            exited: None,
            seen_exit: None,
            halted: false,
            interrupted: false,
            nonblocking: false,
        };
        self.complete(r, f);
    }

    /// A job whose output ended and that `wait4` reaped.
    fn finish(&mut self, pid: i32, status: i32, usage: &libc::rusage) {
        let Some(mut r) = self.running.remove(&pid) else {
            return;
        };
        self.fd_starved = false;
        // Told to stop (timeout, halt, a forwarded signal): the rest of its process group
        // (a child that ignores SIGTERM) gets SIGKILL when the grace period ends.
        if let Some(kill_at) = r.kill_at {
            // Zombies included (cheap): whether anything of it lives is looked at later.
            if spawn::group_found(pid) {
                self.lingering.push((pid, kill_at, Instant::now()));
            }
        }
        // Exited with its pipe still open past OUTPUT_LINGER: take what the pipe holds (all
        // the job wrote before it exited is there) without waiting for the pipe to close, then
        // close it (a background child that still writes gets EPIPE).
        if let Some(mut o) = r.output.take() {
            if r.nonblocking || spawn::set_nonblocking(&o).is_ok() {
                self.scratch.clear();
                spawn::drain(&mut o, &mut self.scratch);
                if let Some(why) =
                    self.held
                        .append(&mut r.out, &self.scratch, &self.runner.spool_dir)
                {
                    self.sink.warning(&why);
                }
            }
        }
        // Its wall time ends when it exited (as reaped, or as seen while the loop was blocked
        // writing), not when its output did.
        let ended = r
            .exited
            .map(|(at, ..)| at)
            .into_iter()
            .chain(r.seen_exit)
            .min();
        let wall = ended.map_or_else(|| r.started.elapsed(), |at| at - r.started);
        let f = spawn::finished(status, usage, wall);
        let now = self.start.elapsed();
        self.controller.observe(
            now,
            Observation {
                wall: f.wall,
                cpu: f.cpu,
            },
        );
        self.total_cpu += f.cpu.as_secs_f64();
        self.total_wall += f.wall.as_secs_f64();
        // A job that timed out or was killed by a signal stopped before its end: its wall time
        // says nothing about its items (a job that exits with a failure status still ran).
        if self.runner.b.batch == BatchPolicy::Auto && !r.timed_out && f.signal == 0 {
            self.fit.observe(r.job.items.len(), f.wall);
            self.set_probe_hold(f.wall);
        }
        self.complete(r, f);
    }

    fn complete(&mut self, r: Running, f: Finished) {
        let ok = f.exit == 0 && f.signal == 0 && !r.timed_out;
        if !ok && r.job.tries <= self.runner.b.retries && !self.stop_starting {
            // The failed try's output is dropped (GNU parallel prints the last try's only).
            self.held.released(&r.out);
            self.summary.retried += 1;
            self.retry.push_back(Job {
                tries: r.job.tries + 1,
                ..r.job
            });
            return;
        }
        let result = JobResult {
            seq: r.job.seq,
            command: r.argv,
            exit: f.exit,
            signal: f.signal,
            timed_out: r.timed_out,
            tries: r.job.tries,
            wall_secs: f.wall.as_secs_f64(),
            cpu_secs: f.cpu.as_secs_f64(),
        };
        self.summary.items += r.job.items.len() as u64;
        self.summary.max_batch = self.summary.max_batch.max(r.job.items.len());
        if ok {
            self.summary.succeeded += 1;
        } else if r.halted {
            self.summary.killed_by_halt += 1;
        } else if r.interrupted {
            self.summary.interrupted += 1;
        } else {
            self.summary.failed += 1;
            if r.timed_out {
                self.summary.timed_out += 1;
            }
        }
        if let Some(log) = self.joblog.as_mut() {
            let entry = JoblogEntry {
                seq: result.seq,
                start: r.started_at,
                runtime: f.wall,
                received: r.out.len(),
                exit: f.exit,
                signal: f.signal,
                command: result.command.clone(),
            };
            // Flushed per job, as GNU parallel writes it: `tail -f` shows each job as it
            // ends, and a write error (a full disk) stops the run at once.
            if let Err(e) = writeln!(log, "{}", entry.line()).and_then(|()| log.flush()) {
                self.abort(Error::io("writing the job log", e));
            }
        }
        if self.runner.b.keep_order {
            for (job, out) in self.reorder.push(result.seq, (result, r.out)) {
                self.emit(&job, &out);
            }
        } else {
            self.emit(&result, &r.out);
        }
        if !ok {
            match self.runner.b.halt.check(self.summary.failed) {
                HaltAction::Continue => {}
                HaltAction::StopStarting => {
                    self.summary.halted = true;
                    self.stop_starting = true;
                }
                HaltAction::KillRunning => {
                    self.summary.halted = true;
                    self.stop_starting = true;
                    for r in self.running.values_mut() {
                        r.halted = true;
                    }
                    self.kill_all(libc::SIGTERM);
                }
            }
        }
        let p = Progress {
            done: self.summary.jobs(),
            failed: self.summary.failed,
            items_done: self.summary.items,
            running: self.running.len(),
            concurrency: self.controller.concurrency(),
            total: self.runner.b.total,
            elapsed_secs: self.start.elapsed().as_secs_f64(),
        };
        self.sink.progress(&p);
    }

    fn emit(&mut self, job: &JobResult, out: &JobOutput) {
        self.held.released(out);
        if self.error.is_some() {
            return;
        }
        // The sink may block (a stdout nobody reads yet): meanwhile the watchdog sends the
        // signals that fall due and notes the exits, which the loop cannot. Only where a
        // signal is to come (a --timeout, a kill under way): a run without one pays nothing
        // for it (its jobs that end meanwhile are timed to when the loop gets back).
        let mut dues: Vec<watchdog::Due> = self
            .running
            .iter()
            .filter_map(|(&pid, r)| {
                let (at, signal) = r.next_signal()?;
                Some(watchdog::Due { pid, at, signal })
            })
            .collect();
        dues.extend(self.lingering.iter().map(|&(pid, at, _)| watchdog::Due {
            pid,
            at,
            signal: libc::SIGKILL,
        }));
        let watchdog = if dues.is_empty() {
            None
        } else {
            self.watchdog
                .get_or_init(|| watchdog::Watchdog::start(KILL_GRACE))
                .as_ref()
        };
        let sink = &mut *self.sink;
        let (written, acts) = match watchdog {
            Some(w) => {
                let running = self
                    .running
                    .iter()
                    .filter(|(_, r)| r.exited.is_none() && r.seen_exit.is_none())
                    .map(|(&pid, _)| pid)
                    .collect();
                w.during(dues, running, || sink.output(job, out))
            }
            None => (sink.output(job, out), Vec::new()),
        };
        for act in acts {
            self.apply(act);
        }
        if let Err(e) = written {
            self.abort(Error::io("writing job output", e));
        }
    }

    /// What the watchdog did during a write, as the loop would have done it: a SIGTERM at a
    /// job's deadline times it out and starts its grace period; an exit seen ends its wall time.
    fn apply(&mut self, act: watchdog::Act) {
        match act {
            watchdog::Act::Signalled { pid, signal, at } => {
                if let Some(r) = self.running.get_mut(&pid) {
                    if signal == libc::SIGTERM {
                        r.timed_out = true;
                    }
                    r.kill_at.get_or_insert(at + KILL_GRACE);
                }
            }
            watchdog::Act::Exited { pid, at } => {
                if let Some(r) = self.running.get_mut(&pid) {
                    r.seen_exit = Some(at);
                }
            }
        }
    }

    fn abort(&mut self, e: Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
        self.stop_starting = true;
        self.kill_all(libc::SIGTERM);
    }
}
