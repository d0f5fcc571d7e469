//! `amorsize run`: parses the command line, reads the items, prints outputs, progress and the
//! summary. Everything else (spawning, measuring, concurrency, batching, ordering) is
//! `amorsize::process`.

use amorsize::process::{
    read_os_items, split_command_and_args, BatchPolicy, HaltPolicy, JobOutput, JobResult, Jobs,
    Progress, Runner, Separator, Sink, StopFlag, DEFAULT_REORDER_CAPACITY,
};
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::output;

/// Arguments of `amorsize run`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Placeholders: {} item, {.} without extension, {/} basename, {//} dirname, \
{/.} basename without extension, {#} job number; with none of the item's (all but {#}), the item is appended.\n\
Items come from stdin (one per line, or NUL-separated with -0), from --arg-file, or after :::.\n\
Exit status: 0 all jobs succeeded; 1-100 the number of failed jobs; 101 more than 100 failed; \
130/143/129 interrupted by SIGINT/SIGTERM/SIGHUP (forwarded to the running jobs); 141 the reader \
of stdout went away; 255 an error of amorsize itself."
)]
pub struct Args {
    /// Concurrency: `auto` (start at the effective cores, adapt by measurement) or a number.
    #[arg(
        short = 'j',
        long = "jobs",
        default_value = "auto",
        value_name = "auto|N",
        allow_negative_numbers = true
    )]
    jobs: String,
    /// Several items per invocation: `auto` (two probe jobs, of 1 and 16 items, measure the
    /// command's start-up per job and its work per item; batches then keep the start-up under 2%
    /// of the work) or at most N. Refused for a `sh -c` script that holds the item: pass the
    /// items as the script's arguments (`sh -c 'for f; do ...; done' sh {}`).
    #[arg(long, value_name = "auto|N", allow_negative_numbers = true)]
    batch: Option<String>,
    /// Print outputs in input order (holds at most 1024 finished jobs; no new job starts while
    /// that buffer is full).
    #[arg(short = 'k', long = "keep-order")]
    keep_order: bool,
    /// The job output held in memory at most, in all (e.g. 64M, 1G; 0 spools everything);
    /// past it, a job's output goes to an unlinked temporary file until it is printed.
    #[arg(long, default_value = "64M", value_name = "SIZE")]
    output_memory: String,
    /// The directory for those temporary files (default: $TMPDIR, else /tmp).
    #[arg(long, value_name = "DIR")]
    tmpdir: Option<PathBuf>,
    /// Items are NUL-separated (as `find -print0` writes them).
    #[arg(short = '0', long = "null")]
    null: bool,
    /// Read items from FILE instead of stdin (`-` is stdin).
    #[arg(short = 'a', long = "arg-file", value_name = "FILE")]
    arg_file: Option<PathBuf>,
    /// Write one tab-separated line per job (GNU parallel's columns) to FILE.
    #[arg(long, value_name = "FILE")]
    joblog: Option<PathBuf>,
    /// Stop after failures: `now,fail=N` kills running jobs, `soon,fail=N` lets them finish.
    #[arg(long, value_name = "now|soon,fail=N")]
    halt: Option<String>,
    /// Kill a job that runs longer than DUR (e.g. 500ms, 2s, 1m); it counts as failed.
    #[arg(long, value_name = "DUR")]
    timeout: Option<String>,
    /// Rerun a failed job up to N more times.
    #[arg(
        long,
        default_value_t = 0,
        value_name = "N",
        allow_negative_numbers = true
    )]
    retries: u32,
    /// The highest concurrency `-j auto` may reach (default 64 × cores, at most 512).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    max_jobs: Option<usize>,
    /// Print the plan (measurements and decisions) and run nothing.
    #[arg(long)]
    explain: bool,
    /// With --explain: print the plan as JSON. Otherwise: print the run summary as JSON on stderr.
    #[arg(long)]
    json: bool,
    /// Show the progress bar even when stderr is not a terminal (as plain lines).
    #[arg(long)]
    progress: bool,
    /// Print nothing but the jobs' output (no progress, warnings or summary).
    #[arg(short, long, conflicts_with = "progress")]
    quiet: bool,
    /// The command and its arguments, optionally followed by `:::` and the items (bytes: what
    /// is not UTF-8 reaches the command unchanged).
    #[arg(
        trailing_var_arg = true,
        value_name = "COMMAND",
        value_parser = clap::value_parser!(OsString)
    )]
    command: Vec<OsString>,
}

/// Prints a one-line error and returns amorsize's own error status. A setting the library
/// rejects is named by the option that set it.
fn fail(e: amorsize::Error) -> u8 {
    let msg = match &e {
        amorsize::Error::InvalidConfig { setting, reason } => match option_of(setting) {
            Some(option) => format!("{option}: {reason}"),
            None => e.to_string(),
        },
        _ => e.to_string(),
    };
    output::eprint_line(&format!("amorsize run: error: {msg}"));
    output::ERROR
}

/// The command-line option behind a setting of `amorsize::process` (the builder's name).
fn option_of(setting: &str) -> Option<&'static str> {
    Some(match setting {
        "jobs" => "-j/--jobs",
        "batch" => "--batch",
        "max_jobs" => "--max-jobs",
        "spool_dir" => "--tmpdir",
        "timeout" => "--timeout",
        "halt" => "--halt",
        "size" => "--output-memory",
        _ => return None,
    })
}

/// Runs the subcommand; returns the exit status.
pub fn main(args: Args) -> u8 {
    match run(args) {
        Ok(code) => code,
        // The reader of the output went away (`amorsize run ... | head -1`): the runner has
        // stopped the jobs; end quietly as a program killed by SIGPIPE would (128 + 13), as
        // GNU parallel does.
        Err(amorsize::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            output::BROKEN_PIPE
        }
        Err(e) => fail(e),
    }
}

fn run(args: Args) -> Result<u8, amorsize::Error> {
    let (command, inline_items) = split_command_and_args(&args.command)?;
    if command.is_empty() {
        return Err(amorsize::Error::invalid_input(
            "command",
            "the command is empty",
        ));
    }
    let jobs: Jobs = args.jobs.parse()?;
    let batch: BatchPolicy = match &args.batch {
        None => BatchPolicy::Fixed(1),
        Some(b) => b.parse()?,
    };
    let halt: HaltPolicy = match &args.halt {
        None => HaltPolicy::Never,
        Some(h) => h.parse()?,
    };
    if inline_items.is_some() && args.arg_file.is_some() {
        return Err(amorsize::Error::invalid_input(
            "input",
            "give the items either after ::: or with --arg-file, not both",
        ));
    }
    let stop = StopFlag::new();
    let mut builder = Runner::builder(command.iter().cloned())
        .concurrency(jobs)
        .batch(batch)
        .keep_order(args.keep_order)
        .reorder_capacity(DEFAULT_REORDER_CAPACITY)
        .output_memory(amorsize::process::parse_size(&args.output_memory)?)
        .halt(halt)
        .retries(args.retries)
        .stop_flag(stop.clone());
    if let Some(t) = &args.timeout {
        builder = builder.timeout(amorsize::process::parse_duration(t)?);
    }
    if let Some(m) = args.max_jobs {
        builder = builder.max_jobs(m);
    }
    if let Some(j) = &args.joblog {
        builder = builder.joblog(j);
    }
    if let Some(d) = &args.tmpdir {
        builder = builder.spool_dir(d);
    }
    if let Some(items) = inline_items {
        builder = builder.total_items(items.len() as u64);
    }
    let runner = builder.build()?;

    // The argument file is opened before anything else happens (--explain included), so that
    // an unreadable one is an error before any job runs; `-` is stdin, as in GNU parallel.
    let arg_file = match &args.arg_file {
        Some(path) if path.as_os_str() != "-" => Some(
            std::fs::File::open(path)
                .map_err(|e| amorsize::Error::io(format!("cannot read {}", path.display()), e))?,
        ),
        _ => None,
    };

    if args.explain {
        let plan = runner.explain_os(inline_items.unwrap_or(&[]));
        let text = if args.json {
            serde_json::to_string_pretty(&plan)
                .map_err(|e| amorsize::Error::invalid_input("explain", e.to_string()))?
        } else {
            plan.to_string()
        };
        return Ok(output::status(output::println(
            "writing the plan to stdout",
            &text,
        )));
    }

    // Input: ::: items, --arg-file, or stdin; opened now so that an unreadable file stops
    // everything before any job runs.
    let sep = if args.null {
        Separator::Nul
    } else {
        Separator::Newline
    };
    let input_error: Arc<Mutex<Option<amorsize::Error>>> = Arc::default();
    // Items are bytes (file names need not be UTF-8), after `:::` as on stdin.
    let items: Box<dyn Iterator<Item = OsString> + Send> = match (inline_items, arg_file) {
        (Some(items), _) => {
            // Owned: the runner reads the items on a thread of its own.
            let owned: Vec<OsString> = items.to_vec();
            Box::new(owned.into_iter())
        }
        (None, file) => {
            let source: Box<dyn std::io::Read + Send> = match file {
                Some(f) => Box::new(f),
                None => {
                    if !args.quiet && std::io::stdin().is_terminal() {
                        output::eprint_line(
                            "amorsize run: reading items from the terminal, one per line; end \
                             with Ctrl-D",
                        );
                    }
                    Box::new(std::io::stdin())
                }
            };
            Box::new(checked(
                read_os_items(std::io::BufReader::new(source), sep),
                input_error.clone(),
            ))
        }
    };

    // SIGHUP too: the jobs run in process groups of their own, so a closed terminal reaches
    // them only through amorsize. A signal ignored when amorsize started (`nohup`, a script's
    // background job) stays ignored, as the user asked.
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        if amorsize::process::signal_is_ignored(sig) {
            continue;
        }
        signal_hook::flag::register_usize(sig, stop.atomic(), sig as usize)
            .map_err(|e| amorsize::Error::io("installing the signal handler", e))?;
    }

    let show_bar = !args.quiet && std::io::stderr().is_terminal();
    let mut sink = CliSink::new(
        stop.clone(),
        args.quiet,
        show_bar,
        args.progress && !show_bar,
        inline_items.map(|i| i.len() as u64),
    );
    let result = runner.run(items, &mut sink);
    sink.finish();
    if let (Err(_), Some(sig)) = (&result, stop.requested()) {
        // A signal stopped a write to stdout that nobody read (see `StopAwareStdout`): the run
        // ended as interrupted (its jobs stopped), without its counts.
        if !args.quiet {
            output::eprint_line(&format!(
                "amorsize run: interrupted by signal {sig} while stdout was not read; the \
                 running jobs were stopped"
            ));
        }
        return Ok(amorsize::process::exit_code(0, Some(sig)));
    }
    let summary = result?;
    if let Some(e) = input_error.lock().ok().and_then(|mut g| g.take()) {
        if !args.quiet {
            output::eprint_line(&format!("amorsize run: {summary}"));
        }
        return Err(e);
    }
    if !args.quiet {
        if args.json {
            if let Ok(s) = serde_json::to_string(&summary) {
                output::eprint_line(&s);
            }
        } else if summary.failed > 0
            || summary.interrupted_by.is_some()
            || summary.halted
            || show_bar
            || args.progress
        {
            output::eprint_line(&format!("amorsize run: {summary}"));
        }
    }
    Ok(summary.exit_code())
}

/// Passes items through until the first read error, which it records and stops at.
fn checked(
    items: impl Iterator<Item = amorsize::Result<OsString>> + Send,
    error: Arc<Mutex<Option<amorsize::Error>>>,
) -> impl Iterator<Item = OsString> + Send {
    items.map_while(move |r| match r {
        Ok(s) => Some(s),
        Err(e) => {
            if let Ok(mut g) = error.lock() {
                *g = Some(e);
            }
            None
        }
    })
}

/// Job output to stdout; warnings, progress bar or progress lines to stderr.
struct CliSink {
    out: StopAwareStdout,
    quiet: bool,
    bar: Option<indicatif::ProgressBar>,
    lines: bool,
    last_line: Instant,
    total: Option<u64>,
}

impl CliSink {
    fn new(stop: StopFlag, quiet: bool, bar: bool, lines: bool, total: Option<u64>) -> Self {
        let bar = bar.then(|| {
            let pb = match total {
                Some(n) => indicatif::ProgressBar::new(n),
                None => indicatif::ProgressBar::new_spinner(),
            };
            let template = if total.is_some() {
                "{bar:30} {pos}/{len} items, {msg} {per_sec} ETA {eta}"
            } else {
                "{spinner} {pos} items, {msg} {per_sec}"
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                pb.set_style(style);
            }
            pb.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(10));
            pb
        });
        CliSink {
            out: StopAwareStdout { stop },
            quiet,
            bar,
            lines,
            last_line: Instant::now(),
            total,
        }
    }

    fn finish(&mut self) {
        if let Some(pb) = self.bar.take() {
            pb.finish_and_clear();
        }
    }
}

impl Sink for CliSink {
    fn output(&mut self, _job: &JobResult, output: &JobOutput) -> std::io::Result<()> {
        if output.is_empty() {
            return Ok(());
        }
        let out = &mut self.out;
        let mut write = || output.write_to(out).map(|_| ());
        match &self.bar {
            Some(pb) => pb.suspend(write),
            None => write(),
        }
    }

    fn warning(&mut self, message: &str) {
        if self.quiet {
            return;
        }
        let line = format!("amorsize run: warning: {message}");
        match &self.bar {
            Some(pb) => pb.suspend(|| output::eprint_line(&line)),
            None => output::eprint_line(&line),
        }
    }

    fn progress(&mut self, p: &Progress) {
        if let Some(pb) = &self.bar {
            pb.set_position(p.items_done);
            pb.set_message(format!(
                "{} jobs, {} failed, {} running",
                p.done, p.failed, p.running
            ));
        } else if self.lines && self.last_line.elapsed() >= Duration::from_secs(1) {
            self.last_line = Instant::now();
            let rate = p.items_done as f64 / p.elapsed_secs.max(1e-9);
            let eta = self
                .total
                .filter(|_| rate > 0.0)
                .map(|t| format!(", ETA {:.0}s", t.saturating_sub(p.items_done) as f64 / rate))
                .unwrap_or_default();
            output::eprint_line(&format!(
                "amorsize run: {} items done, {} failed, {:.1}/s{eta}",
                p.items_done, p.failed, rate
            ));
        }
    }
}

/// Job output's way to stdout (file descriptor 1, unbuffered: each job's output is written
/// whole when it is printed). A reader that stops reading (`amorsize run ... | less`) must not
/// hold off SIGINT/SIGTERM/SIGHUP: a blocking write(2) to a full pipe is restarted after the
/// signal handler (SA_RESTART), so each write first waits for room with poll(2), in steps of
/// 50 ms, checking the stop flag between them, and then writes at most PIPE_BUF bytes, which
/// fit once poll reports room. A write that finds no room after a signal was requested fails,
/// which stops the run.
struct StopAwareStdout {
    stop: StopFlag,
}

impl Write for StopAwareStdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        loop {
            let mut pfd = libc::pollfd {
                fd: libc::STDOUT_FILENO,
                events: libc::POLLOUT,
                revents: 0,
            };
            // SAFETY: one valid pollfd, for the duration of the call.
            let ready = unsafe { libc::poll(&mut pfd, 1, 50) };
            let error = (ready < 0).then(std::io::Error::last_os_error);
            if ready > 0 {
                break;
            }
            if let Some(sig) = self.stop.requested() {
                // Only a write that finds no room fails: output that can still be written
                // (jobs that end in the signal's grace period) is.
                return Err(std::io::Error::other(format!(
                    "stopped by signal {sig} while stdout was not read"
                )));
            }
            if let Some(e) = error.filter(|e| e.kind() != std::io::ErrorKind::Interrupted) {
                return Err(e);
            }
        }
        let len = buf.len().min(libc::PIPE_BUF);
        // SAFETY: `buf` holds at least `len` readable bytes for the duration of the call.
        let n = unsafe { libc::write(libc::STDOUT_FILENO, buf.as_ptr().cast(), len) };
        // A negative count is the error in errno (EINTR: write_all retries; EPIPE: the reader
        // went away, which ends the run with 141).
        usize::try_from(n).map_err(|_| std::io::Error::last_os_error())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
