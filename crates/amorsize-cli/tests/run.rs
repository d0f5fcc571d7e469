//! Integration tests of `amorsize run` with real processes (echo, sh -c, false, sleep, true).
//! No test depends on speed: waits are bounded only to turn a hang into a failure.

mod common;

use assert_cmd::Command;
use common::alive;
use predicates::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};

fn run() -> Command {
    let mut c = Command::cargo_bin("amorsize").unwrap();
    c.arg("run").timeout(Duration::from_secs(60));
    c
}

fn stdout_lines(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn keep_order_prints_in_input_order_whatever_finishes_first() {
    // Earlier items sleep longer, so they finish last.
    let out = run()
        .args([
            "-k",
            "-j",
            "4",
            "sh",
            "-c",
            "sleep 0.{}; echo {}",
            ":::",
            "4",
            "3",
            "2",
            "1",
            "0",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(stdout_lines(&out), vec!["4", "3", "2", "1", "0"]);
}

#[test]
fn reads_items_from_stdin_and_nul_separated() {
    let out = run()
        .args(["-k", "echo", "<{}>"])
        .write_stdin("a b\nc\n")
        .assert()
        .success();
    assert_eq!(stdout_lines(&out.get_output().stdout), vec!["<a b>", "<c>"]);
    let out = run()
        .args(["-k", "-0", "echo", "[{}]"])
        .write_stdin("x\ny\0z\0")
        .assert()
        .success();
    assert_eq!(
        stdout_lines(&out.get_output().stdout),
        vec!["[x", "y]", "[z]"]
    );
}

#[test]
fn placeholders_expand() {
    let out = run()
        .args([
            "-k",
            "echo",
            "{}",
            "{.}",
            "{/}",
            "{//}",
            "{/.}",
            "{#}",
            ":::",
            "d/a.tar.gz",
            "b",
        ])
        .assert()
        .success();
    assert_eq!(
        stdout_lines(&out.get_output().stdout),
        vec!["d/a.tar.gz d/a.tar a.tar.gz d a.tar 1", "b b b . b 2"]
    );
}

#[test]
fn item_is_appended_without_placeholder_and_runs_without_a_shell() {
    // `$HOME` and `;` reach echo literally: no shell is involved.
    let out = run()
        .args(["echo", "$HOME;", ":::", "x"])
        .assert()
        .success();
    assert_eq!(stdout_lines(&out.get_output().stdout), vec!["$HOME; x"]);
}

#[test]
fn a_jobs_stdout_and_stderr_stay_together() {
    let out = run()
        .args([
            "-j",
            "4",
            "sh",
            "-c",
            "echo {}-1; sleep 0.0{}; echo {}-2 >&2; echo {}-3",
            ":::",
            "1",
            "2",
            "3",
            "4",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 12);
    for chunk in lines.chunks(3) {
        let id = chunk[0].split('-').next().unwrap();
        assert_eq!(
            chunk,
            [format!("{id}-1"), format!("{id}-2"), format!("{id}-3")]
        );
    }
}

#[test]
fn exit_status_counts_failures() {
    run().args(["true", ":::", "a", "b"]).assert().code(0);
    run()
        .args(["sh", "-c", "exit {}", ":::", "0", "1", "3", "0", "7"])
        .assert()
        .code(3);
    let many: Vec<String> = (0..105).map(|i| i.to_string()).collect();
    run()
        .arg("-j")
        .arg("8")
        .arg("false")
        .arg(":::")
        .args(&many)
        .assert()
        .code(101);
}

#[test]
fn zero_length_items_are_skipped_with_a_warning() {
    run()
        .args(["-k", "echo"])
        .write_stdin("a\n\nb\n")
        .assert()
        .success()
        .stdout("a\nb\n")
        .stderr(predicate::str::contains("zero-length"));
}

#[test]
fn quiet_hides_warnings_and_summary() {
    run()
        .args(["-q", "-k", "sh", "-c", "echo {}; exit 1"])
        .write_stdin("a\n\n")
        .assert()
        .code(1)
        .stdout("a\n")
        .stderr("");
}

#[test]
fn halt_now_kills_running_jobs() {
    // Job 1 fails once job 2 has started (it waits for job 2's marker: failing at once, it
    // could end before the runner started job 2, as it did once in CI); job 2 would sleep
    // 30 s; job 3 never starts (-j 2).
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let script = format!(
        "if [ {{}} = f ]; then i=0; while [ ! -e {d}/s ] && [ $i -lt 1000 ]; do \
         sleep 0.01; i=$((i+1)); done; exit 1; fi; touch {d}/{{}}; sleep 30; echo done {{}}"
    );
    let start = Instant::now();
    let out = run()
        .args([
            "-j",
            "2",
            "--halt",
            "now,fail=1",
            "sh",
            "-c",
            &script,
            ":::",
            "f",
            "s",
            "t",
        ])
        .assert()
        .get_output()
        .clone();
    assert!(
        start.elapsed() < Duration::from_secs(25),
        "running job was not killed"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("done"));
    // One job failed; the one --halt killed is reported apart, not counted as failed.
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1 failed, 1 killed by --halt"), "{err}");
}

#[test]
fn halt_soon_lets_running_jobs_finish_and_starts_no_more() {
    let dir = tempfile::tempdir().unwrap();
    // `f` fails at once (after leaving a marker); `s` is already running, waits for that marker,
    // then finishes normally some time later.
    let d = dir.path().display();
    let script = format!(
        "if [ {{}} = f ]; then touch {d}/failed; exit 1; fi; \
         while [ ! -e {d}/failed ]; do sleep 0.01; done; sleep 0.2; touch {d}/{{}}"
    );
    run()
        .args([
            "-j",
            "2",
            "--halt",
            "soon,fail=1",
            "sh",
            "-c",
            &script,
            ":::",
            "f",
            "s",
            "t",
            "u",
        ])
        .assert()
        .code(1);
    // `s` was running when `f` failed, and finished; `t` and `u` never started.
    assert!(dir.path().join("s").exists());
    assert!(!dir.path().join("t").exists() && !dir.path().join("u").exists());
}

#[test]
fn timeout_kills_and_counts_as_failed_with_the_signal_in_the_joblog() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.tsv");
    let start = Instant::now();
    run()
        .args(["--timeout", "500ms", "--joblog"])
        .arg(&log)
        .args(["sleep", ":::", "30", "0"])
        .assert()
        .code(1);
    assert!(start.elapsed() < Duration::from_secs(25));
    let text = std::fs::read_to_string(&log).unwrap();
    let row = text.lines().find(|l| l.ends_with("sleep 30")).unwrap();
    let cols: Vec<&str> = row.split('\t').collect();
    assert_eq!((cols[6], cols[7]), ("-1", "15"), "{row}");
}

#[test]
fn retries_rerun_a_failed_job() {
    let dir = tempfile::tempdir().unwrap();
    // Fails the first time (creates the marker), succeeds the second.
    let script = format!(
        "m={}/{{}}; if [ -e $m ]; then echo ok {{}}; else touch $m; echo first >&2; exit 1; fi",
        dir.path().display()
    );
    run()
        .args(["-k", "--retries", "1", "sh", "-c", &script, ":::", "a", "b"])
        .assert()
        .success()
        .stdout("ok a\nok b\n");
    // Without retries the same kind of job fails.
    let dir2 = tempfile::tempdir().unwrap();
    let script2 = script.replace(
        &dir.path().display().to_string(),
        &dir2.path().display().to_string(),
    );
    run()
        .args(["sh", "-c", &script2, ":::", "a"])
        .assert()
        .code(1);
}

#[test]
fn joblog_has_gnu_parallel_columns() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("jobs.tsv");
    run()
        .arg("--joblog")
        .arg(&log)
        .args(["sh", "-c", "printf 12345; exit {}", ":::", "0", "3"])
        .assert()
        .code(1);
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand"
    );
    let mut rows: Vec<Vec<String>> = lines
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    rows.sort_by_key(|r| r[0].clone());
    assert_eq!(rows.len(), 2);
    for (row, (seq, exit)) in rows.iter().zip([("1", "0"), ("2", "3")]) {
        assert_eq!(row.len(), 9);
        assert_eq!(row[0], seq);
        assert_eq!(row[1], ":");
        assert!(row[2].parse::<f64>().unwrap() > 1e9);
        assert!(row[3].trim().parse::<f64>().unwrap() >= 0.0);
        assert_eq!(row[5], "5");
        assert_eq!(row[6], exit);
        assert_eq!(row[7], "0");
        assert_eq!(row[8], format!("sh -c printf 12345; exit {exit}"));
    }
}

#[test]
fn batching_puts_several_items_in_one_invocation() {
    let out = run()
        .args([
            "-k", "--batch", "3", "-j", "1", "echo", ":::", "a", "b", "c", "d",
        ])
        .assert()
        .success();
    assert_eq!(stdout_lines(&out.get_output().stdout), vec!["a b c", "d"]);
    let out = run()
        .args(["-k", "--batch", "auto", "echo", "x"])
        .write_stdin((0..500).map(|i| format!("{i}\n")).collect::<String>())
        .assert()
        .success();
    // Every item exactly once, in order.
    let words: Vec<String> = String::from_utf8_lossy(&out.get_output().stdout)
        .split_whitespace()
        .filter(|w| *w != "x")
        .map(str::to_string)
        .collect();
    assert_eq!(words, (0..500).map(|i| i.to_string()).collect::<Vec<_>>());
}

#[test]
fn bad_arguments_exit_255_with_one_line_naming_the_problem() {
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--no-such-flag", "echo"], "--no-such-flag"),
        (vec![":::", "a"], "empty"),
        (
            vec!["no-such-program-amorsize", ":::", "a"],
            "no-such-program-amorsize",
        ),
        (vec!["-a", "/no/such/file", "echo"], "/no/such/file"),
        (vec!["-j", "0", "echo", ":::", "a"], "jobs"),
        (vec!["--halt", "sometimes", "echo", ":::", "a"], "halt"),
        (vec!["--timeout", "fast", "echo", ":::", "a"], "timeout"),
        // Errors of the argument parser are one line too (no usage block).
        (vec!["--retries", "x", "echo", ":::", "a"], "--retries"),
        (vec!["--retries", "-1", "echo", ":::", "a"], "--retries"),
        // A negative number is the option's value, refused by its own check.
        (vec!["-j", "-1", "echo", ":::", "a"], "`-1`"),
        // Batched, the script would run for the first item of each job only.
        (
            vec!["--batch", "auto", "sh", "-c", "echo {}", ":::", "a", "b"],
            "script of `sh -c`",
        ),
        (
            vec!["--batch", "2", "bash", "-ec", "echo {.}", ":::", "a", "b"],
            "script of `bash -c`",
        ),
    ];
    for (args, needle) in cases {
        let out = run().args(&args).assert().code(255).get_output().clone();
        assert!(out.stdout.is_empty(), "{args:?} ran something");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
    // The items as the script's arguments batch fine, every item once.
    let out = run()
        .args([
            "--batch",
            "auto",
            "-k",
            "sh",
            "-c",
            r#"for f; do echo "$f"; done"#,
        ])
        .args(["sh", "{}", ":::", "a", "b", "c"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\nb\nc\n");
    // The program check happens before anything runs: no job output at all.
    run()
        .args(["no-such-program-amorsize"])
        .write_stdin("a\n")
        .assert()
        .code(255)
        .stdout("");
}

#[test]
fn explain_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let out = run()
        .args(["--explain", "touch"])
        .arg(&marker)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(!marker.exists());
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("concurrency") && text.contains("cores"),
        "{text}"
    );
    let json = run()
        .args(["--explain", "--json", "-j", "3", "echo", ":::", "a"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["start_concurrency"], 3);
    assert_eq!(v["first_command"][1], "a");
}

fn wait_for_files(paths: &[std::path::PathBuf]) {
    let start = Instant::now();
    while !paths
        .iter()
        .all(|p| p.exists() && std::fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false))
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "jobs did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal_is_forwarded(sig: i32, expected: i32) {
    let dir = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("amorsize");
    // Each job writes its PID, then execs `sleep 30` (same PID).
    let script = format!("echo $$ > {}/{{}}.pid; exec sleep 30", dir.path().display());
    let mut child = std::process::Command::new(bin)
        .args(["run", "-j", "2", "sh", "-c", &script, ":::", "1", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pids: Vec<_> = ["1", "2"]
        .iter()
        .map(|i| dir.path().join(format!("{i}.pid")))
        .collect();
    wait_for_files(&pids);
    let job_pids: Vec<i32> = pids
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap().trim().parse().unwrap())
        .collect();
    assert!(job_pids.iter().all(|&p| alive(p)));
    unsafe { libc_kill(child.id() as i32, sig) };
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "amorsize did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(expected));
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("interrupted"), "no summary: {err}");
    // The two jobs the signal stopped are counted as such, not as failures of their own.
    assert!(
        err.contains("0 succeeded, 0 failed, 2 stopped by the signal"),
        "{err}"
    );
    for p in job_pids {
        assert!(!alive(p), "job {p} survived");
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn sigterm_is_forwarded_and_no_job_survives() {
    signal_is_forwarded(15, 143);
}

#[test]
fn sigint_is_forwarded_and_exits_130() {
    signal_is_forwarded(2, 130);
}

#[test]
fn sighup_is_forwarded_and_exits_129() {
    // The jobs have process groups of their own: a closed terminal reaches them only so.
    signal_is_forwarded(1, 129);
}

#[test]
fn unreadable_arg_file_is_an_error_but_a_readable_one_works() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("items");
    std::fs::write(&f, "p\nq\n").unwrap();
    run()
        .args(["-k", "-a"])
        .arg(&f)
        .arg("echo")
        .assert()
        .success()
        .stdout("p\nq\n");
    assert!(!Path::new("/no/such/items").exists());
    // `-a -` is stdin, as in GNU parallel.
    run()
        .args(["-k", "-a", "-", "echo"])
        .write_stdin("r\ns\n")
        .assert()
        .success()
        .stdout("r\ns\n");
    // --explain checks the file too (it reads no item, but a plan for a missing input would
    // run nothing useful).
    run()
        .args(["--explain", "-a", "/no/such/items", "echo"])
        .assert()
        .code(255)
        .stdout("")
        .stderr(predicate::str::contains("/no/such/items"));
}

#[test]
fn progress_forces_a_report_on_a_non_terminal_and_quiet_default_prints_none() {
    run()
        .args(["--progress", "true", ":::", "a", "b"])
        .assert()
        .success()
        .stderr(predicate::str::contains("2 succeeded"));
    // Without --progress, a successful run on a non-terminal prints nothing on stderr.
    run()
        .args(["true", ":::", "a", "b"])
        .assert()
        .success()
        .stderr("");
}

#[test]
fn a_million_lines_stream_through_batches() {
    let input: String = (0..1_000_000).map(|i| format!("{i}\n")).collect();
    let out = run()
        .args(["--json", "--batch", "20000", "true"])
        .write_stdin(input)
        .assert()
        .success()
        .get_output()
        .clone();
    let summary: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(summary["items"], 1_000_000);
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["max_batch"], 20_000);
}

#[test]
fn a_reader_that_goes_away_ends_the_run_quietly_with_141() {
    use std::io::BufRead;
    let bin = assert_cmd::cargo::cargo_bin("amorsize");
    let items: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
    let mut child = std::process::Command::new(bin)
        .args(["run", "-k", "-j", "2", "echo", ":::"])
        .args(&items)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line (like `| head -1`), then close the pipe.
    let mut first = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut first).unwrap();
    assert_eq!(first, "0\n");
    drop(out);
    let done = child.wait_with_output().unwrap();
    // Killed by SIGPIPE's number, as GNU parallel ends; no error message of amorsize's own.
    assert_eq!(done.status.code(), Some(141));
    assert!(
        done.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
}

#[test]
fn items_that_are_not_utf8_are_passed_as_they_are() {
    // A Latin-1 file name: any bytes but `/` and NUL are a valid name on Linux.
    run()
        .args(["-k", "echo", "{.}"])
        .write_stdin(b"a\ncaf\xe9.txt\n".to_vec())
        .assert()
        .success()
        .stdout(b"a\ncaf\xe9\n".to_vec());
}

#[test]
fn output_past_the_memory_budget_is_spooled_and_printed_in_order() {
    // Four jobs of 0.6–1.2 MB with a 64 KiB budget: most of it goes through spool files.
    let dir = tempfile::tempdir().unwrap();
    let out = run()
        .args(["-k", "-j", "4", "--output-memory", "64K", "--tmpdir"])
        .arg(dir.path())
        .args([
            "--json", "seq", ":::", "100000", "150000", "120000", "180000",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let expected: String = [100_000, 150_000, 120_000, 180_000]
        .iter()
        .flat_map(|&n| (1..=n).map(|i| format!("{i}\n")))
        .collect();
    assert!(out.stdout == expected.as_bytes(), "the output differs");
    let summary: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert!(summary["spooled_jobs"].as_u64().unwrap() >= 1, "{summary}");
    // The spool files were unlinked as they were made.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn bad_output_memory_and_tmpdir_are_one_line_errors() {
    run()
        .args(["--output-memory", "lots", "echo", ":::", "a"])
        .assert()
        .code(255)
        .stdout("")
        .stderr(predicate::str::contains("lots").and(predicate::str::contains("64M")));
    run()
        .args(["--tmpdir", "/no/such/dir", "echo", ":::", "a"])
        .assert()
        .code(255)
        .stdout("")
        .stderr(predicate::str::contains("/no/such/dir is not a directory"));
    let plan = run()
        .args(["--explain", "--output-memory", "8M", "echo"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(
        String::from_utf8_lossy(&plan).contains("held in memory up to 8.0 MiB"),
        "{}",
        String::from_utf8_lossy(&plan)
    );
}

#[test]
fn spool_files_stop_short_of_the_open_file_limit_and_no_job_fails() {
    // Under a hard limit of 100 open files with -j 4, at most 100 - 64 - 16 = 20 spool files
    // may be open. Job 1 waits until job 120 has run, so under -k the 119 others finish and are
    // held: 20 spool, the rest stay in memory, and no job is starved of the descriptors it
    // needs to start (without the cap, 119 spool files would take them all: 31 jobs failed).
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("job-120-ran");
    let script = format!(
        "if [ $1 = 1 ]; then i=0; while [ ! -e {m} ] && [ $i -lt 3000 ]; do sleep 0.01; \
         i=$((i+1)); done; fi; seq $1; if [ $1 = 120 ]; then touch {m}; fi",
        m = marker.display()
    );
    let bin = assert_cmd::cargo::cargo_bin("amorsize");
    let out = Command::new("sh")
        .timeout(Duration::from_secs(60))
        .args([
            "-c",
            "ulimit -n 100 && exec \"$0\" run -k -j 4 --output-memory 0 sh -c \"$1\" sh {} ::: $(seq 120)",
        ])
        .arg(&bin)
        .arg(&script)
        .assert()
        .success()
        .get_output()
        .clone();
    let expected: String = (1..=120)
        .flat_map(|n| (1..=n).map(|i| format!("{i}\n")))
        .collect();
    assert!(out.stdout == expected.as_bytes(), "the output differs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("open-file limit"), "{stderr}");
    assert!(!stderr.contains("cannot"), "{stderr}");
}

#[test]
fn an_item_too_long_for_one_argument_fails_alone_in_a_batch() {
    // Linux refuses any single argument of 128 KiB or more (E2BIG). Such an item gets a job of
    // its own, so the short items around it still run.
    let long = "x".repeat(128 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let items = dir.path().join("items");
    std::fs::write(&items, format!("a\n{long}\nb\nc\n")).unwrap();
    let out = run()
        .args(["-k", "--batch", "10", "-j", "1", "-a"])
        .arg(&items)
        .args(["sh", "-c", "for f; do echo ${#f}; done", "sh"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert_eq!(stdout_lines(&out.stdout), vec!["1", "1", "1"]);
}

/// A rejected option is named as the user typed it (not by the library's setting), on one
/// line, with status 255, and nothing runs; `--max-jobs` beside a fixed `-j` is rejected (it
/// would bound nothing).
#[test]
fn bad_options_are_named_by_their_flags_and_run_nothing() {
    for (args, flag) in [
        (&["-j", "0"][..], "-j/--jobs: "),
        // A negative number is the option's value (not clap's "use -- -1" advice).
        (&["-j", "-1"][..], "-j/--jobs: "),
        (&["--batch", "-2"][..], "--batch: "),
        (&["--max-jobs", "0"][..], "--max-jobs: "),
        (&["-j", "3", "--max-jobs", "2"][..], "--max-jobs: "),
        (&["--batch", "0"][..], "--batch: "),
        (&["--timeout", "0"][..], "--timeout: "),
        (&["--output-memory", "lots"][..], "--output-memory: "),
        (&["--halt", "bogus"][..], "--halt: "),
    ] {
        let out = run()
            .args(args)
            .args(["echo", "ran", ":::", "a"])
            .assert()
            .code(255)
            .get_output()
            .clone();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with(&format!("amorsize run: error: {flag}")) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?} ran something");
    }
    // -j auto with --max-jobs is what it is for.
    run()
        .args(["--max-jobs", "2", "echo", "ran", ":::", "a"])
        .assert()
        .success()
        .stdout("ran a\n");
}
