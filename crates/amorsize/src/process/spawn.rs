//! Spawning and measuring one job: its own process group, stdout and stderr into one pipe,
//! stdin from `/dev/null`, and `wait4` for the exit status and the CPU time it used; plus the
//! pieces of the runner's event loop (`poll`, `pidfd_open`, the input thread's eventfd wake-up).
//!
//! ```
//! use amorsize::process::{Runner, WriteSink};
//! // Both streams into one pipe; stdin is /dev/null (`cat` ends at once); the job leads its
//! // own process group (field 5 of /proc/PID/stat).
//! let script = "echo out; echo err >&2; cat; read -r _ _ _ _ g _ < /proc/$$/stat; test $g = $$";
//! let r = Runner::builder(["sh", "-c", script]).build()?;
//! let mut out = Vec::new();
//! let s = r.run(["x".to_string()], &mut WriteSink::new(&mut out))?;
//! assert_eq!((out.as_slice(), s.succeeded), (&b"out\nerr\n"[..], 1));
//! # Ok::<(), amorsize::Error>(())
//! ```

use crate::{Error, Result};
use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Finds `program` as `execvp` would: a name with a `/` is taken as a path, any other name is
/// looked up in `PATH`. The result must be an executable regular file.
///
/// The name is bytes (`&str`, `OsStr`, …): it need not be UTF-8.
///
/// ```
/// use amorsize::process::resolve_program;
/// assert!(resolve_program("sh").is_ok());
/// let err = resolve_program("surely-no-such-program-xyz").unwrap_err();
/// assert!(err.to_string().contains("surely-no-such-program-xyz"));
/// ```
pub fn resolve_program<S: AsRef<OsStr> + ?Sized>(program: &S) -> Result<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let program = program.as_ref();
    let not_found = |why: &str| {
        Error::invalid_input(
            format!("command `{}`", program.to_string_lossy()),
            why.to_string(),
        )
    };
    if program.is_empty() {
        return Err(not_found("the program name is empty"));
    }
    if program.as_bytes().contains(&b'/') {
        let p = Path::new(program);
        return if is_executable(p) {
            Ok(p.to_path_buf())
        } else if p.exists() {
            Err(not_found("it is not an executable file"))
        } else {
            Err(not_found("no such file"))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let candidate = dir.join(program);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(not_found("not found in PATH"))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(meta) = std::fs::metadata(p) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
}

/// A started job.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub pid: i32,
    pub started: Instant,
    pub started_at: SystemTime,
    pub output: File,
}

/// How a finished job ended.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    /// Exit code, or -1 when killed by a signal.
    pub exit: i32,
    /// The signal that ended it, 0 if none.
    pub signal: i32,
    pub wall: Duration,
    pub cpu: Duration,
}

fn pipe() -> std::io::Result<(File, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    unsafe { Ok((File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))) }
}

/// Starts `program` (resolved path; `argv0` is what the job sees as its name) in a new process
/// group, with stdout and stderr into one pipe. An executable the kernel cannot run itself
/// (`ENOEXEC`: a script without a `#!` line) runs with `/bin/sh`, as `execvp`, xargs and GNU
/// parallel do.
pub(crate) fn spawn(
    program: &Path,
    argv0: &OsStr,
    args: &[std::ffi::OsString],
) -> std::io::Result<Spawned> {
    match spawn_direct(program, argv0, args) {
        Err(e) if e.raw_os_error() == Some(libc::ENOEXEC) => {
            let mut sh_args = Vec::with_capacity(args.len() + 1);
            sh_args.push(program.as_os_str().to_os_string());
            sh_args.extend(args.iter().cloned());
            spawn_direct(Path::new("/bin/sh"), OsStr::new("sh"), &sh_args)
        }
        r => r,
    }
}

fn spawn_direct(
    program: &Path,
    argv0: &OsStr,
    args: &[std::ffi::OsString],
) -> std::io::Result<Spawned> {
    let (read, write) = pipe()?;
    let write2 = write.try_clone()?;
    let started_at = SystemTime::now();
    let started = Instant::now();
    let child = {
        let mut cmd = Command::new(program);
        cmd.arg0(argv0)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(write))
            .stderr(Stdio::from(write2))
            .process_group(0);
        cmd.spawn()?
        // `cmd` (and with it the parent's copies of the write ends) is dropped here.
    };
    let pid = child.id() as i32;
    // The child is reaped with wait4 (for its rusage), not through `Child`.
    drop(child);
    Ok(Spawned {
        pid,
        started,
        started_at,
        output: read,
    })
}

/// Reads the job's output to the end, then reaps it with `wait4`.
pub(crate) fn collect(mut job: Spawned) -> (Vec<u8>, Finished) {
    let mut output = Vec::new();
    // A read error (should not happen on a pipe) just ends the output.
    let _ = job.output.read_to_end(&mut output);
    drop(job.output);
    let (status, usage) = wait4(job.pid);
    (output, finished(status, &usage, job.started.elapsed()))
}

/// Decodes a `wait4` status and rusage into a [`Finished`].
pub(crate) fn finished(status: i32, usage: &libc::rusage, wall: Duration) -> Finished {
    let (exit, signal) = if libc::WIFEXITED(status) {
        (libc::WEXITSTATUS(status), 0)
    } else if libc::WIFSIGNALED(status) {
        (-1, libc::WTERMSIG(status))
    } else {
        (-1, 0)
    };
    let tv =
        |t: libc::timeval| Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.max(0) as u32) * 1000);
    let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
    Finished {
        exit,
        signal,
        wall,
        cpu,
    }
}

/// Reaps `pid` if it has exited, without blocking.
pub(crate) fn try_wait4(pid: i32) -> Option<(i32, libc::rusage)> {
    let mut status = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals; pid is our own child, reaped only here.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            return Some((status, usage));
        }
        if r == 0 {
            return None; // still running
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        // ECHILD (someone else reaped it): report an unknown failure.
        return Some((0x7f00, usage));
    }
}

/// A descriptor that becomes readable when `pid` exits (`pidfd_open`, Linux ≥ 5.3); None
/// where the kernel (or a seccomp filter, or the descriptor limit) refuses it.
pub(crate) fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd >= 0 {
            // SAFETY: the kernel just returned this descriptor; nobody else owns it.
            return Some(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        }
        None
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

/// Makes a job's output pipe (the read end, which the job does not share) non-blocking, so
/// the event loop can drain it without the risk of sleeping in `read`.
pub(crate) fn set_nonblocking(output: &File) -> std::io::Result<()> {
    // The pipe's read end has no other status flag (pipe2 was given only O_CLOEXEC, a
    // descriptor flag), so O_NONBLOCK can be set without reading the flags first.
    // SAFETY: fcntl on a descriptor we own, with plain integer arguments.
    if unsafe { libc::fcntl(output.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Grows a job's output pipe to 1 MiB (once it shows it writes a lot), so that it and the
/// event loop trade fewer, larger chunks. Failure (a lower system limit) changes nothing.
pub(crate) fn grow_pipe(output: &File) {
    #[cfg(target_os = "linux")]
    // SAFETY: fcntl on a descriptor we own, with plain integer arguments.
    unsafe {
        libc::fcntl(output.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = output;
}

/// Most bytes one call of [`read_some`] takes from one job (so that one chatty job cannot
/// keep the loop from the others).
const READ_BUDGET: usize = 1 << 20;

/// Reads what a ready output pipe holds (up to [`READ_BUDGET`]) straight into `buf`; false at
/// the end of the output. Without `nonblocking` (the pipe is blocking) it reads only once.
pub(crate) fn read_some(output: &mut File, buf: &mut Vec<u8>, nonblocking: bool) -> bool {
    let mut taken = 0;
    while taken < READ_BUDGET {
        buf.reserve(64 * 1024);
        let spare = buf.spare_capacity_mut();
        // No more than the budget's rest: `reserve` may have doubled the vector, and one read
        // into all of its spare room could take another pipeful past the budget (the run's
        // output memory then passed its budget plus one read: 2.4 MB with a 1 MiB budget).
        let want = spare.len().min(READ_BUDGET - taken);
        // SAFETY: reads at most `want <= spare.len()` bytes into the vector's unused capacity.
        let n = unsafe { libc::read(output.as_raw_fd(), spare.as_mut_ptr().cast(), want) };
        if n > 0 {
            let n = n as usize;
            // SAFETY: the kernel initialised the first `n` bytes of the spare capacity.
            unsafe { buf.set_len(buf.len() + n) };
            taken += n;
            if !nonblocking {
                return true;
            }
            continue;
        }
        if n == 0 {
            return false;
        }
        match std::io::Error::last_os_error().kind() {
            std::io::ErrorKind::Interrupted => continue,
            std::io::ErrorKind::WouldBlock => return true,
            // A read error (should not happen on a pipe) just ends the output.
            _ => return false,
        }
    }
    true
}

/// Reads everything a non-blocking output pipe holds now, until its end or until it is empty
/// (a writer that still holds it open is not waited for).
pub(crate) fn drain(output: &mut File, buf: &mut Vec<u8>) {
    loop {
        let before = buf.len();
        if !read_some(output, buf, true) || buf.len() == before {
            return;
        }
    }
}

/// Lets the input thread wake the main loop's `poll` when an item arrives, but only while
/// the main loop says it is waiting for one (an eventfd; None where eventfd is missing).
#[derive(Debug)]
pub(crate) struct Wake {
    waiting: AtomicBool,
    fd: Option<OwnedFd>,
}

impl Wake {
    pub(crate) fn new() -> Self {
        #[cfg(target_os = "linux")]
        // SAFETY: eventfd takes an initial value and flags and returns a new descriptor or -1.
        let fd = match unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) } {
            -1 => None,
            // SAFETY: the kernel just returned this descriptor; nobody else owns it.
            fd => Some(unsafe { OwnedFd::from_raw_fd(fd) }),
        };
        #[cfg(not(target_os = "linux"))]
        let fd = None;
        Wake {
            waiting: AtomicBool::new(false),
            fd,
        }
    }

    /// The descriptor to poll, if any.
    pub(crate) fn fd(&self) -> Option<i32> {
        self.fd.as_ref().map(|f| f.as_raw_fd())
    }

    /// The main loop is about to wait (true) or is done waiting (false). After `true`, it
    /// must look at the input queue once more before it sleeps.
    pub(crate) fn set_waiting(&self, yes: bool) {
        self.waiting.store(yes, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Called by the input thread after each item it queued (and when the input ends).
    pub(crate) fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) {
            if let Some(fd) = &self.fd {
                let one = 1u64.to_ne_bytes();
                // SAFETY: writes 8 bytes from a local buffer to our own eventfd.
                unsafe { libc::write(fd.as_raw_fd(), one.as_ptr().cast(), 8) };
            }
        }
    }

    /// Resets the eventfd after it was seen readable.
    pub(crate) fn drain(&self) {
        if let Some(fd) = &self.fd {
            let mut v = [0u8; 8];
            // SAFETY: reads 8 bytes into a local buffer from our own non-blocking eventfd.
            unsafe { libc::read(fd.as_raw_fd(), v.as_mut_ptr().cast(), 8) };
        }
    }
}

/// `poll` over `fds` for up to `timeout_ms`; the number ready (0 on timeout or interruption).
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> usize {
    // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd of the given length.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    n.max(0) as usize
}

pub(crate) fn wait4(pid: i32) -> (i32, libc::rusage) {
    let mut status = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals; pid is our own child, reaped only here.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return (status, usage);
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        // ECHILD (someone else reaped it): report an unknown failure.
        return (0x7f00, usage); // WIFEXITED with status 127
    }
}

/// Whether `signal` is ignored in this process (`nohup` ignores SIGHUP; a shell ignores
/// SIGINT for background jobs of a script). A program that forwards signals should leave such
/// a signal ignored, as the user asked (GNU make's convention).
///
/// ```
/// // SAFETY (of the example): setting a signal's disposition in this one-thread example.
/// unsafe { libc::signal(libc::SIGUSR1, libc::SIG_IGN) };
/// assert!(amorsize::process::signal_is_ignored(libc::SIGUSR1));
/// unsafe { libc::signal(libc::SIGUSR1, libc::SIG_DFL) };
/// assert!(!amorsize::process::signal_is_ignored(libc::SIGUSR1));
/// ```
pub fn signal_is_ignored(signal: i32) -> bool {
    // SAFETY: sigaction with a null new action only reads the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Sets SIGCHLD back to its default when the process inherited it ignored (a parent may pass
/// SIG_IGN on through exec): while ignored, the kernel reaps children itself, `wait4` finds
/// none, and every job would look failed. Returns whether it changed anything.
pub(crate) fn reset_ignored_sigchld() -> bool {
    if !signal_is_ignored(libc::SIGCHLD) {
        return false;
    }
    // SAFETY: a zeroed sigaction with SIG_DFL and an empty mask is a valid new action.
    unsafe {
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut dfl.sa_mask);
        libc::sigaction(libc::SIGCHLD, &dfl, std::ptr::null_mut()) == 0
    }
}

/// Why `program` could not start, for a person: the error, and when the program exists but the
/// kernel said "No such file or directory", the script's interpreter (its `#!` line) that is
/// missing — the error alone names the script, which is there.
pub(crate) fn why_not_started(program: &Path, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound && program.is_file() {
        if let Some(interpreter) = shebang_interpreter(program) {
            return format!("{e}: its interpreter {interpreter} (the #! line) was not found");
        }
    }
    e.to_string()
}

/// The interpreter named by the `#!` line that starts `path`, if it starts with one.
fn shebang_interpreter(path: &Path) -> Option<String> {
    let mut head = [0u8; 256];
    let n = File::open(path).and_then(|mut f| f.read(&mut head)).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let interpreter = String::from_utf8_lossy(line);
    interpreter
        .split_ascii_whitespace()
        .next()
        .map(str::to_string)
}

/// Whether any process of the group `pgid` is still alive, zombies aside.
///
/// `kill(-pgid, 0)` counts zombies too: a job's child that died with it is reparented to
/// process 1, and where process 1 does not reap (a container's or a VM's own init: on the
/// project's machine, a job `sh -c 'sleep 5'` stopped by SIGTERM left its `sleep` a zombie for
/// 1.1–1.5 s) the group looked alive until the grace period ran out. So when `kill` finds the
/// group, `/proc` is asked whether any member is not a zombie; without `/proc`, `kill`'s
/// answer stands.
pub(crate) fn group_alive(pgid: i32) -> bool {
    group_found(pgid) && live_member_in_proc(pgid).unwrap_or(true)
}

/// Whether the group `pgid` has any process, zombies included (one `kill(-pgid, 0)`).
pub(crate) fn group_found(pgid: i32) -> bool {
    if pgid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks; a negative pid names a group.
    let r = unsafe { libc::kill(-pgid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Whether `/proc` lists a process of group `pgid` that is not a zombie (or dead); `None`
/// when `/proc` cannot be read.
fn live_member_in_proc(pgid: i32) -> Option<bool> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let mut seen = false;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        // A process that exits between the listing and the read is simply not counted.
        let Some(stat) = read_stat(pid) else {
            continue;
        };
        seen = true;
        if let Some((state, group)) = stat_state_and_group(&stat) {
            if group == pgid && !matches!(state, 'Z' | 'X' | 'x') {
                return Some(true);
            }
        }
    }
    // A /proc that lists no process at all (not procfs) cannot answer.
    seen.then_some(false)
}

/// `/proc/<pid>/stat`, its command name made UTF-8 if it was not (the fields after it are
/// ASCII); `None` when it cannot be read.
fn read_stat(pid: impl std::fmt::Display) -> Option<String> {
    let bytes = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The state (field 3) and process group (field 5) of a `/proc/PID/stat` line
/// ([`stat_fields`](crate::system::busy::stat_fields) reads past the command name).
fn stat_state_and_group(stat: &str) -> Option<(char, i32)> {
    let mut fields = crate::system::busy::stat_fields(stat)?;
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let group = fields.next()?.parse().ok()?;
    Some((state, group))
}

/// Whether the child `pid` has exited, without reaping it (`waitid` with `WNOWAIT`: it stays
/// for `wait4`); false for a pid that is no child of this process.
pub(crate) fn exited_unreaped(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: siginfo_t is plain data, valid zeroed; waitid writes it only on success.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid siginfo_t to write; WNOHANG makes the call return at once.
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: after a successful waitid, si_pid is the field it filled (0: not exited yet).
    r == 0 && unsafe { info.si_pid() } != 0
}

/// Sends a job's process group `pid` the `signal` it is due, as the runner's loop and its
/// watchdog both do: a SIGTERM (a `--timeout`) only while the job's leader has not exited (a
/// job that ended in time, not reaped yet, is not timed out), any other signal always (the
/// SIGKILL at the end of a grace period is for the rest of the group). Whether it was sent.
pub(crate) fn send_due(pid: i32, signal: i32) -> bool {
    if signal == libc::SIGTERM && exited_unreaped(pid) {
        return false;
    }
    signal_group(pid, signal);
    true
}

/// Sends `signal` to the process group `pgid` (the job and everything it started).
pub(crate) fn signal_group(pgid: i32, signal: i32) {
    if pgid > 0 {
        // SAFETY: kill has no memory-safety preconditions; a negative pid names a group.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

/// The cost of starting one process on this machine: the median wall time of five runs of
/// `true` (spawned as jobs are: own process group, output pipe, reaped with `wait4`).
///
/// ```
/// let cost = amorsize::process::measure_spawn_cost()?;
/// assert!(cost > std::time::Duration::ZERO);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn measure_spawn_cost() -> Result<Duration> {
    const RUNS: usize = 5;
    let program = resolve_program("true")?;
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let job = spawn(&program, OsStr::new("true"), &[])
            .map_err(|e| Error::io("spawning `true`", e))?;
        let (_, f) = collect(job);
        times.push(f.wall);
    }
    times.sort();
    Ok(times[times.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[String]) -> Vec<std::ffi::OsString> {
        args.iter().map(Into::into).collect()
    }

    #[test]
    fn output_of_both_streams_is_collected_and_status_decoded() {
        let sh = resolve_program("sh").unwrap();
        let args = vec![
            "-c".to_string(),
            "echo out; echo err >&2; exit 3".to_string(),
        ];
        let (output, f) = collect(spawn(&sh, OsStr::new("sh"), &os(&args)).unwrap());
        assert_eq!(String::from_utf8_lossy(&output), "out\nerr\n");
        assert_eq!((f.exit, f.signal), (3, 0));
    }

    /// A group whose only member is a zombie (exited, not reaped) is not alive; a group with
    /// a running member is, and once that member is killed and reaped, no group is left.
    #[test]
    fn a_group_of_zombies_is_not_alive() {
        let mut sleeper = Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let sleeping = sleeper.id() as i32;
        assert!(group_alive(sleeping));

        let mut done = Command::new("true").process_group(0).spawn().unwrap();
        let zombie = done.id() as i32;
        // `true` exits at once; until this test reaps it, it is a zombie of group `zombie`.
        let deadline = Instant::now() + Duration::from_secs(30);
        let state = |pid: i32| read_stat(pid).and_then(|s| stat_state_and_group(&s));
        while state(zombie).map(|(s, _)| s) != Some('Z') {
            assert!(Instant::now() < deadline, "`true` never exited");
            std::thread::yield_now();
        }
        assert_eq!(state(zombie), Some(('Z', zombie)));
        assert!(!group_alive(zombie));
        assert!(group_found(zombie), "kill(-pgid, 0) counts the zombie");
        assert!(group_alive(sleeping));

        done.wait().unwrap();
        sleeper.kill().unwrap();
        sleeper.wait().unwrap();
        assert!(!group_alive(zombie));
        assert!(!group_alive(sleeping));
    }

    /// A script whose `#!` interpreter is missing is said so; other errors are as they are.
    #[test]
    fn a_missing_interpreter_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("s.sh");
        std::fs::write(&script, "#!/no/such/interpreter -x\necho hi\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let Err(e) = spawn(&script, OsStr::new("s.sh"), &[]) else {
            panic!("a script with a missing interpreter started");
        };
        let why = why_not_started(&script, &e);
        assert!(
            why.contains("its interpreter /no/such/interpreter (the #! line) was not found"),
            "{why}"
        );
        let plain = std::io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(why_not_started(&script, &plain), plain.to_string());
        let gone = dir.path().join("gone");
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(why_not_started(&gone, &e), e.to_string());
    }

    #[test]
    fn a_stat_line_is_read_after_the_command_name() {
        let line = "4242 (a) b (c)) S 1 4240 4240 0 -1 4194560";
        assert_eq!(stat_state_and_group(line), Some(('S', 4240)));
        assert_eq!(stat_state_and_group("7 (sh) Z 1 7 7"), Some(('Z', 7)));
        assert_eq!(stat_state_and_group("7 (sh) Z 1"), None);
        assert_eq!(stat_state_and_group("no parenthesis"), None);
    }

    #[test]
    fn killed_job_reports_its_signal() {
        let sh = resolve_program("sh").unwrap();
        let args = vec!["-c".to_string(), "kill -9 $$".to_string()];
        let (_, f) = collect(spawn(&sh, OsStr::new("sh"), &os(&args)).unwrap());
        assert_eq!((f.exit, f.signal), (-1, 9));
    }

    #[test]
    fn job_runs_in_its_own_process_group() {
        let sh = resolve_program("sh").unwrap();
        let args = vec![
            "-c".to_string(),
            "ps -o pgid= -p $$ 2>/dev/null || cut -d' ' -f5 /proc/$$/stat".to_string(),
        ];
        let job = spawn(&sh, OsStr::new("sh"), &os(&args)).unwrap();
        let pid = job.pid;
        let (output, _) = collect(job);
        assert_eq!(String::from_utf8_lossy(&output).trim(), pid.to_string());
    }

    #[test]
    fn directories_and_missing_files_are_not_programs() {
        assert!(resolve_program("/").is_err());
        assert!(resolve_program("./no/such/prog").is_err());
        assert!(resolve_program("").is_err());
    }
}
