//! Audit of `amorsize run`: each test is a defect found by trying realistic shell usage; each
//! failed on the code as audited (stop 12) and passes since its fix. Waits are bounded only to turn a hang into a
//! failure; no test depends on speed.

mod common;

use assert_cmd::Command;
use common::alive;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
    #[link_name = "signal"]
    fn libc_signal(sig: i32, handler: usize) -> usize;
}

const SIGHUP: i32 = 1;
const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;
const SIGCHLD: i32 = 17;
const SIG_IGN: usize = 1;

fn run() -> Command {
    let mut c = Command::cargo_bin("amorsize").unwrap();
    c.arg("run").timeout(Duration::from_secs(60));
    c
}

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("amorsize")
}

/// Waits (bounded) for a file with content, and returns the content.
fn wait_for_file(p: &Path) -> String {
    let start = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(p) {
            if s.ends_with('\n') {
                return s;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{} never appeared",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (bounded) for a child to exit.
fn wait_exit(child: &mut std::process::Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills a stray process when the test ends, whatever the outcome.
struct KillOnDrop(i32);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0 > 0 && alive(self.0) {
            unsafe { libc_kill(self.0, SIGKILL) };
        }
    }
}

/// A job whose background child (same process group, output to /dev/null) ignores SIGTERM
/// and writes its pid to `dir/bg.pid`; the job itself sleeps 30 s.
fn job_with_a_term_ignoring_child(dir: &Path) -> Vec<String> {
    let script = dir.join("bg.sh");
    std::fs::write(
        &script,
        "trap '' TERM\necho $$ > \"$1/bg.tmp\" && mv \"$1/bg.tmp\" \"$1/bg.pid\"\nexec sleep 30\n",
    )
    .unwrap();
    vec![
        "sh".into(),
        "-c".into(),
        format!(
            "sh {} \"$1\" >/dev/null 2>&1 & exec sleep 30",
            script.display()
        ),
        "sh".into(),
        "{}".into(),
        ":::".into(),
        dir.display().to_string(),
    ]
}

/// Waits up to 10 s for `pid` to die.
fn dies_soon(pid: i32) -> bool {
    let start = Instant::now();
    while alive(pid) {
        if start.elapsed() > Duration::from_secs(10) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// The pid of the job's TERM-ignoring background child (written by the job), and a guard
/// that kills it should the test fail.
fn background_child(dir: &Path) -> (i32, KillOnDrop) {
    let bg: i32 = wait_for_file(&dir.join("bg.pid")).trim().parse().unwrap();
    (bg, KillOnDrop(bg))
}

#[test]
fn sigterm_leaves_no_process_of_a_job_behind() {
    // `amorsize run sh -c '(trap "" TERM; sleep 30) & sleep 30' ::: x`, then SIGTERM:
    // the job's leader dies of SIGTERM, but its background child ignores SIGTERM and is
    // never sent SIGKILL: it outlives amorsize (GNU parallel kills it).
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(bin())
        .arg("run")
        .args(["-j", "1"])
        .args(job_with_a_term_ignoring_child(dir.path()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (bg, _guard) = background_child(dir.path());
    assert!(alive(bg));
    unsafe { libc_kill(child.id() as i32, SIGTERM) };
    let status = wait_exit(&mut child, Duration::from_secs(30)).expect("amorsize did not exit");
    assert_eq!(status.code(), Some(143));
    assert!(
        dies_soon(bg),
        "process {bg} of the job survived the SIGTERM that stopped the run"
    );
}

#[test]
fn timeout_leaves_no_process_of_a_job_behind() {
    // The same job with --timeout: the leader dies of SIGTERM at the timeout, the
    // TERM-ignoring child in its process group is never sent SIGKILL and survives the run
    // (GNU parallel --timeout kills it).
    let dir = tempfile::tempdir().unwrap();
    let out = run()
        .args(["--timeout", "500ms"])
        .args(job_with_a_term_ignoring_child(dir.path()))
        .output()
        .unwrap();
    let (bg, _guard) = background_child(dir.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dies_soon(bg),
        "process {bg} of the timed-out job survived the run"
    );
}

#[test]
fn more_jobs_than_the_descriptor_limit_allows_are_not_failed() {
    // `ulimit -n 128; amorsize run -j 100 sleep ::: 1 1 ... (100 times)`: every job needs
    // descriptors (its pipe, its pidfd); past the limit, jobs fail with "Too many open files"
    // (about 40 of 100, exit 40). GNU parallel warns, runs fewer at once, and all succeed.
    let mut items = vec!["1".to_string(); 100];
    items.insert(0, ":::".into());
    let out = Command::new("sh")
        .timeout(Duration::from_secs(120))
        .args(["-c", "ulimit -n 128 && exec \"$0\" run -j 100 sleep \"$@\""])
        .arg(bin())
        .args(&items)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("cannot start"), "{stderr}");
    assert!(stderr.contains("running fewer jobs at once"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn jobs_keep_the_open_file_limit_they_were_given() {
    // amorsize raises its own soft limit on open files to the hard one, and the jobs inherit
    // it: `ulimit -Sn 256; amorsize run sh -c 'ulimit -Sn' ::: x` prints the hard limit (e.g.
    // 1048576: programs that close every descriptor up to it, or use select(), suffer). xargs
    // and GNU parallel print 256.
    let out = Command::new("sh")
        .timeout(Duration::from_secs(60))
        .args([
            "-c",
            "ulimit -Sn 256 && exec \"$0\" run sh -c 'ulimit -Sn' ::: x",
        ])
        .arg(bin())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "256\n");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn an_inherited_ignored_sigchld_does_not_fail_every_job() {
    // Started by a program that ignores SIGCHLD (children are then reaped by the kernel),
    // every job is reported failed: wait4 gets ECHILD and the job is taken as exit 127.
    // `amorsize run -k echo ::: a b` prints a and b but exits 2 ("0 succeeded, 2 failed");
    // GNU parallel and xargs exit 0.
    let mut cmd = std::process::Command::new(bin());
    cmd.args(["run", "-k", "echo", ":::", "a", "b"]);
    unsafe {
        cmd.pre_exec(|| {
            libc_signal(SIGCHLD, SIG_IGN);
            Ok(())
        });
    }
    let out = Command::from_std(cmd)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\nb\n");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn nohup_keeps_the_run_going_after_a_hangup() {
    // `nohup amorsize run ... &` then closing the terminal: SIGHUP was ignored when amorsize
    // started, but it installs its own handler anyway, kills the jobs and exits 129 — the
    // run does not survive the logout nohup was asked for (GNU make and xargs keep a signal
    // that was ignored at start ignored).
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(bin());
    cmd.args([
        "run",
        "sh",
        "-c",
        "echo up > \"$1/started\"; while [ ! -e \"$1/go\" ]; do sleep 0.05; done; echo finished",
        "sh",
        "{}",
        ":::",
    ])
    .arg(dir.path())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    unsafe {
        cmd.pre_exec(|| {
            libc_signal(SIGHUP, SIG_IGN);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    wait_for_file(&dir.path().join("started"));
    unsafe { libc_kill(child.id() as i32, SIGHUP) };
    // Bounded wait for the (wrong) reaction: a run that ignores the hangup is still running.
    if let Some(status) = wait_exit(&mut child, Duration::from_secs(5)) {
        let out = child.wait_with_output().unwrap();
        panic!(
            "a SIGHUP ignored at start stopped the run ({status}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::write(dir.path().join("go"), "").unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(30)).expect("amorsize did not exit");
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "finished\n");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn max_concurrency_reports_the_jobs_that_ran_at_once() {
    // `amorsize run --json -j 8 true ::: a` ran one job, but the summary says 8 ran at once
    // ("max_concurrency":8; the text summary: "at most 8 jobs at once").
    let out = run()
        .args(["--json", "-j", "8", "true", ":::", "a"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let key = "\"max_concurrency\":";
    let at = stderr.find(key).expect("no max_concurrency in the summary") + key.len();
    let n: String = stderr[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(n, "1", "{stderr}");
}
