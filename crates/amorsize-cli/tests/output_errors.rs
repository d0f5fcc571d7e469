//! Output that cannot be written and arguments that are not UTF-8: each test failed before its
//! fix (a panic with exit status 101, or a refused argument) and passes since.
//! Waits are bounded only to turn a hang into a failure; no test depends on speed.

use assert_cmd::Command;
use std::ffi::{OsStr, OsString};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::process::Stdio;
use std::time::Duration;

extern "C" {
    #[link_name = "pipe2"]
    fn libc_pipe2(fds: *mut i32, flags: i32) -> i32;
}

const O_CLOEXEC: i32 = 0o2_000_000;

fn amorsize() -> Command {
    let mut c = Command::cargo_bin("amorsize").unwrap();
    c.timeout(Duration::from_secs(120));
    c
}

/// Runs the binary with `args`, stdin from `stdin` bytes, and stdout and stderr as given (captured
/// when `None`); a run that does not end within two minutes fails the test instead of hanging it.
fn output(
    args: &[&OsStr],
    stdin: &[u8],
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("amorsize"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(stdout.unwrap_or_else(Stdio::piped))
        .stderr(stderr.unwrap_or_else(Stdio::piped))
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // A command that does not read its input may have ended already: that is not an error here.
    let _ = input.write_all(stdin);
    drop(input);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    rx.recv_timeout(Duration::from_secs(120))
        .expect("amorsize did not end within two minutes")
        .unwrap()
}

fn os<'a>(args: &[&'a str]) -> Vec<&'a OsStr> {
    args.iter().map(|a| OsStr::new(*a)).collect()
}

/// The write end of a pipe whose read end is already closed: writing to it fails with EPIPE.
/// Both ends are close-on-exec, so no child spawned meanwhile by another test holds the read end.
fn pipe_without_reader() -> Stdio {
    let mut fds = [-1i32; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    assert_eq!(unsafe { libc_pipe2(fds.as_mut_ptr(), O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just created by pipe2 and are owned by nothing else.
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    Stdio::from(writer)
}

fn dev_full() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap(),
    )
}

/// Every subcommand that prints to stdout, and its `--json` form.
const PRINTING: &[&[&str]] = &[
    &["sysinfo"],
    &["sysinfo", "--json"],
    &["chunks", "--shape", "10,10"],
    &["chunks", "--shape", "10,10", "--json"],
    &["run", "--explain", "echo"],
    &["run", "--explain", "--json", "echo", ":::", "a"],
    &["demo", "--only", "tiny", "--reps", "1"],
    &["demo", "--only", "tiny", "--reps", "1", "--json"],
];

/// Runs every command of [`PRINTING`] with its stdout from `stdout`; each one's arguments,
/// exit status and stderr.
fn printing_into(stdout: fn() -> Stdio) -> Vec<(&'static [&'static str], Option<i32>, String)> {
    PRINTING
        .iter()
        .map(|&args| {
            let out = output(&os(args), b"", Some(stdout()), None);
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            (args, out.status.code(), err)
        })
        .collect()
}

#[test]
fn stdout_on_a_full_disk_is_one_line_and_exit_255() {
    for (args, code, err) in printing_into(dev_full) {
        assert_eq!(code, Some(255), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("amorsize: ") && err.contains("No space left on device"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn stdout_without_a_reader_ends_quietly_with_141() {
    for (args, code, err) in printing_into(pipe_without_reader) {
        assert_eq!(code, Some(141), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}

/// `run` over `a`, an empty line (a warning) and `b` (which fails: a summary), each job
/// touching a file named after its item, with stderr as given.
fn run_with_stderr(stderr: Stdio) -> (Option<i32>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = os(&[
        "run",
        "-j",
        "2",
        "sh",
        "-c",
        r#"touch "$0/$1"; [ "$1" != b ]"#,
    ]);
    args.push(dir.path().as_os_str());
    let out = output(&args, b"a\n\nb\n", Some(Stdio::null()), Some(stderr));
    (out.status.code(), dir)
}

#[test]
fn stderr_that_cannot_be_written_does_not_stop_the_run() {
    for (name, stderr) in [
        ("/dev/full", dev_full()),
        ("a pipe without reader", pipe_without_reader()),
    ] {
        let (code, dir) = run_with_stderr(stderr);
        // One failed job: exit status 1, as documented; every item ran.
        assert_eq!(code, Some(1), "stderr to {name}");
        for item in ["a", "b"] {
            assert!(
                dir.path().join(item).exists(),
                "stderr to {name}: item {item} never ran"
            );
        }
    }
}

#[test]
fn arguments_and_items_that_are_not_utf8_reach_the_command_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("args");
    let arg = OsString::from_vec(b"x\xffy".to_vec());
    let item = OsString::from_vec(b"caf\xe9.txt".to_vec());
    amorsize()
        .args([
            "run",
            "-j",
            "1",
            "sh",
            "-c",
            r#"printf '%s|%s|%s' "$1" "$2" "$3" > "$0""#,
        ])
        .arg(&file)
        .arg(&arg)
        .args(["{.}", "{}"])
        .arg(":::")
        .arg(&item)
        .assert()
        .success();
    let mut expected = arg.as_bytes().to_vec();
    expected.extend_from_slice(b"|caf\xe9|caf\xe9.txt");
    assert_eq!(std::fs::read(&file).unwrap(), expected);
    // The plan shows them (as U+FFFD) instead of refusing them.
    amorsize()
        .args(["run", "--explain", "echo"])
        .arg(&arg)
        .arg(":::")
        .arg(&item)
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "first job:    echo x\u{fffd}y caf\u{fffd}.txt",
        ));
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn sigterm_stops_a_run_blocked_on_a_stdout_nobody_reads() {
    use std::io::Read;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("amorsize"))
        .args([
            "run",
            "-j",
            "1",
            "sh",
            "-c",
            "head -c 1000000 /dev/zero",
            "sh",
        ])
        .args([":::", "1", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut err = child.stderr.take().unwrap();
    // Once the first byte arrives, amorsize is printing a 1 MB output into a pipe that holds
    // far less and that is read no further: it is (or is about to be) blocked on it.
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    out.read_exact(&mut first).unwrap();
    // SAFETY: kill(2) on the child's pid.
    assert_eq!(unsafe { libc_kill(pid, 15) }, 0);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait()));
    let status = rx.recv_timeout(Duration::from_secs(30));
    if status.is_err() {
        // SAFETY: kill(2) on the child's pid, which has not been reaped.
        unsafe { libc_kill(pid, 9) };
        panic!("SIGTERM did not stop a run blocked on its stdout");
    }
    drop(out);
    assert_eq!(status.unwrap().unwrap().code(), Some(143));
    // It says why it ended, in one line.
    let mut said = String::new();
    err.read_to_string(&mut said).unwrap();
    assert!(
        said.contains("interrupted by signal 15 while stdout was not read"),
        "{said}"
    );
}
