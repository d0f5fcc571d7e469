//! Library-level tests of `process::Runner` with real processes: ordering, back-pressure,
//! streaming, halt, retries and the summary. Bounded waits only turn hangs into failures.

use amorsize::process::{
    BatchPolicy, HaltPolicy, HaltWhen, JobOutput, JobResult, Runner, Sink, WriteSink,
};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Record {
    jobs: Vec<JobResult>,
    outputs: Vec<String>,
    warnings: Vec<String>,
}

impl Sink for Record {
    fn output(&mut self, job: &JobResult, output: &JobOutput) -> std::io::Result<()> {
        self.jobs.push(job.clone());
        self.outputs
            .push(String::from_utf8_lossy(&output.to_vec()?).into_owned());
        Ok(())
    }
    fn warning(&mut self, message: &str) {
        self.warnings.push(message.to_string());
    }
}

fn items(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn keep_order_delivers_jobs_in_sequence() {
    let r = Runner::builder(["sh", "-c", "sleep 0.0{}; echo {}"])
        .jobs(4)
        .keep_order(true)
        .build()
        .unwrap();
    let mut rec = Record::default();
    let s = r
        .run(items(&["5", "1", "4", "2", "3", "0"]), &mut rec)
        .unwrap();
    assert_eq!(rec.outputs, vec!["5\n", "1\n", "4\n", "2\n", "3\n", "0\n"]);
    assert_eq!(
        rec.jobs.iter().map(|j| j.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5, 6]
    );
    assert_eq!((s.succeeded, s.failed, s.exit_code()), (6, 0, 0));
}

#[test]
fn full_reorder_buffer_holds_back_new_jobs() {
    // Capacity 2: while job 1 runs, only job 2 may start. Job 1 waits until job 2 has run,
    // then ends; job 3 must start after job 1 ended, although 4 jobs could run at once.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let script = format!(
        "echo start {{}} >> {d}/log; \
         if [ {{}} = 1 ]; then while [ ! -e {d}/2.done ]; do sleep 0.01; done; fi; \
         echo end {{}} >> {d}/log; touch {d}/{{}}.done"
    );
    let r = Runner::builder(["sh", "-c", script.as_str()])
        .jobs(4)
        .keep_order(true)
        .reorder_capacity(2)
        .build()
        .unwrap();
    let mut rec = Record::default();
    r.run(items(&["1", "2", "3", "4"]), &mut rec).unwrap();
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    let pos = |l: &str| lines.iter().position(|x| *x == l).unwrap();
    assert!(pos("end 1") < pos("start 3"), "{log}");
    assert!(pos("end 2") < pos("start 4"), "{log}");
    assert_eq!(rec.jobs.len(), 4);
}

#[test]
fn input_is_streamed_not_read_first() {
    // An endless input: the run can only end because items are read as needed and the
    // halt policy stops it.
    let r = Runner::builder(["false"])
        .jobs(2)
        .halt("soon,fail=3".parse().unwrap())
        .build()
        .unwrap();
    let endless = (0u64..).map(|i| i.to_string());
    let s = r
        .run(endless, &mut WriteSink::new(std::io::sink()))
        .unwrap();
    assert!(s.halted);
    assert!((3..=4).contains(&s.failed), "{s}");
}

#[test]
fn empty_items_are_skipped_with_a_warning_and_do_not_use_a_job_number() {
    let r = Runner::builder(["echo", "{#}"]).jobs(1).build().unwrap();
    let mut rec = Record::default();
    let s = r.run(items(&["", "a", "", "b"]), &mut rec).unwrap();
    assert_eq!(rec.outputs, vec!["1 a\n", "2 b\n"]);
    assert_eq!(s.skipped_empty, 2);
    assert_eq!(rec.warnings.len(), 2);
}

#[test]
fn retries_count_reruns_and_final_failures() {
    let r = Runner::builder(["false"])
        .retries(2)
        .jobs(2)
        .build()
        .unwrap();
    let mut rec = Record::default();
    let s = r.run(items(&["a", "b"]), &mut rec).unwrap();
    assert_eq!((s.failed, s.retried), (2, 4));
    assert!(rec.jobs.iter().all(|j| j.tries == 3 && !j.succeeded()));
}

#[test]
fn halt_now_stops_a_long_job() {
    let r = Runner::builder(["sh", "-c", "if [ {} = x ]; then exit 4; fi; exec sleep 30"])
        .jobs(2)
        .halt(HaltPolicy::Fail {
            when: HaltWhen::Now,
            failures: 1,
        })
        .build()
        .unwrap();
    let start = Instant::now();
    let mut rec = Record::default();
    let s = r.run(items(&["x", "y", "z"]), &mut rec).unwrap();
    assert!(start.elapsed() < Duration::from_secs(25));
    assert!(s.halted);
    let killed = rec
        .jobs
        .iter()
        .find(|j| j.command.last().unwrap().ends_with("exec sleep 30") && j.exit != 4)
        .unwrap();
    assert_eq!(killed.signal, 15);
    assert_eq!(rec.jobs.len(), 2, "job z must not start");
    // The killed job did not fail on its own: the exit status counts the one failure.
    assert_eq!(
        (s.failed, s.killed_by_halt, s.exit_code()),
        (1, 1, 1),
        "{s}"
    );
}

#[test]
fn batches_respect_the_fixed_size_and_cover_every_item() {
    let r = Runner::builder(["echo"])
        .batch(BatchPolicy::Fixed(7))
        .keep_order(true)
        .build()
        .unwrap();
    let mut rec = Record::default();
    let input: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    let s = r.run(input.clone(), &mut rec).unwrap();
    assert!(rec.jobs.iter().all(|j| j.command.len() - 1 <= 7));
    let seen: Vec<String> = rec
        .outputs
        .iter()
        .flat_map(|o| o.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect();
    assert_eq!(seen, input);
    assert_eq!(s.items, 50);
    assert_eq!(s.max_batch, 7);
}

#[test]
fn auto_batching_fits_the_start_up_and_the_work_per_item() {
    let r = Runner::builder(["true"])
        .batch(BatchPolicy::Auto)
        .build()
        .unwrap();
    let s = r
        .run(
            (0..200).map(|i| i.to_string()),
            &mut WriteSink::new(std::io::sink()),
        )
        .unwrap();
    assert_eq!((s.items, s.failed), (200, 0));
    // The fit has seen jobs of 1 and 16 items (the two probes).
    assert!(
        s.startup_secs.is_some() && s.work_per_item_secs.is_some(),
        "{s}"
    );
    assert!(s.max_batch >= 16, "{s}");
}

#[test]
fn auto_batching_sees_a_command_that_starts_slowly() {
    // 50 ms of start-up (an interpreter, a JVM) and nothing per item: the fit puts the time in
    // the start-up, so batches grow far past the probe's 16 items. The spawn cost of a small
    // program would not see this.
    let r = Runner::builder(["sh", "-c", "sleep 0.05", "sh"])
        .batch(BatchPolicy::Auto)
        .build()
        .unwrap();
    let mut rec = Record::default();
    let input: Vec<String> = (0..300).map(|i| i.to_string()).collect();
    let s = r.run(input.clone(), &mut rec).unwrap();
    assert_eq!((s.items, s.failed), (300, 0));
    assert!(s.startup_secs.unwrap() >= 0.04, "{s}");
    assert!(s.max_batch > 100, "{s}");
    // Every item went to exactly one job.
    let mut seen: Vec<String> = rec
        .jobs
        .iter()
        .flat_map(|j| j.command[4..].to_vec())
        .collect();
    seen.sort_by_key(|x| x.parse::<u32>().unwrap());
    assert_eq!(seen, input);
}

#[test]
fn auto_batching_learns_nothing_from_jobs_that_timed_out() {
    // Every job is killed at the timeout, so its wall time is the timeout, whatever its items
    // cost: taken as start-up, it would batch the rest ever larger. No fit forms; after the
    // two probes (1 and 16 items) every job gets one item.
    let r = Runner::builder(["sleep"])
        .batch(BatchPolicy::Auto)
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let s = r
        .run(
            std::iter::repeat_n("5".to_string(), 30),
            &mut WriteSink::new(std::io::sink()),
        )
        .unwrap();
    assert_eq!(s.items, 30);
    assert_eq!(s.timed_out, s.jobs(), "{s}");
    // At most the probe's 16 items in one job, so at least 1 + 1 + 13 jobs.
    assert!(s.max_batch <= 16, "{s}");
    assert!(s.jobs() >= 15, "{s}");
    assert!(s.startup_secs.is_none(), "{s}");
}

#[test]
fn summary_serializes_and_displays() {
    let r = Runner::builder(["sh", "-c", "exit {}"]).build().unwrap();
    let s = r
        .run(items(&["0", "1"]), &mut WriteSink::new(std::io::sink()))
        .unwrap();
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["succeeded"], 1);
    assert_eq!(v["failed"], 1);
    assert!(s.to_string().contains("1 succeeded, 1 failed"));
}

#[test]
fn a_job_that_closes_its_output_early_is_still_reaped_with_its_status() {
    // The output ends long before the job exits: the runner must wait for the exit (not
    // take the end of output as the end of the job) and report the real status.
    let r = Runner::builder(["sh", "-c", "echo {}; exec >&- 2>&-; sleep 0.1; exit 3"])
        .jobs(2)
        .build()
        .unwrap();
    let mut rec = Record::default();
    let s = r.run(items(&["a", "b", "c"]), &mut rec).unwrap();
    assert_eq!((s.succeeded, s.failed), (0, 3));
    assert!(rec.jobs.iter().all(|j| j.exit == 3 && j.signal == 0));
    let mut outs = rec.outputs.clone();
    outs.sort();
    assert_eq!(outs, ["a\n", "b\n", "c\n"]);
}

#[test]
fn output_written_after_the_job_exits_by_its_children_is_kept_whole() {
    // A background child keeps the output open after the job itself has exited: the job
    // ends when its output ends, and all of it arrives in one piece.
    let r = Runner::builder(["sh", "-c", "echo {}-1; (sleep 0.1; echo {}-2) & exit 0"])
        .jobs(2)
        .keep_order(true)
        .build()
        .unwrap();
    let mut rec = Record::default();
    let s = r.run(items(&["a", "b", "c"]), &mut rec).unwrap();
    assert_eq!((s.succeeded, s.failed), (3, 0));
    assert_eq!(rec.outputs, ["a-1\na-2\n", "b-1\nb-2\n", "c-1\nc-2\n"]);
}

#[test]
fn large_outputs_of_concurrent_jobs_arrive_complete() {
    // More than the pipe holds, on both streams, from jobs running at once.
    let r = Runner::builder([
        "sh",
        "-c",
        "head -c 300000 /dev/zero; printf {}; head -c 200000 /dev/zero >&2",
    ])
    .jobs(3)
    .build()
    .unwrap();
    let mut rec = Record::default();
    let s = r.run(items(&["x", "y", "z"]), &mut rec).unwrap();
    assert_eq!((s.succeeded, s.failed), (3, 0));
    let mut marks: Vec<char> = rec
        .outputs
        .iter()
        .map(|o| {
            assert_eq!(o.len(), 500_001);
            o.chars().find(|&c| c != '\0').unwrap()
        })
        .collect();
    marks.sort();
    assert_eq!(marks, ['x', 'y', 'z']);
}

#[test]
fn a_job_ends_when_its_process_exits_though_a_background_child_holds_its_output() {
    // Each job starts a child in the background, which inherits the output pipe and keeps it
    // open for 10 s, then prints and exits at once. The job is done when `sh` exits: it must
    // not wait for the pipe to close, nor time out after 5 s.
    let r = Runner::builder(["sh", "-c", "sleep 10 & echo started {}"])
        .jobs(2)
        .keep_order(true)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut rec = Record::default();
    let s = r.run(items(&["a", "b", "c"]), &mut rec).unwrap();
    assert_eq!((s.succeeded, s.failed, s.timed_out), (3, 0, 0), "{s}");
    assert_eq!(
        rec.outputs,
        vec!["started a\n", "started b\n", "started c\n"]
    );
}

#[test]
fn a_script_without_a_shebang_line_runs_with_bin_sh() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("amorsize-noshebang-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("greet");
    std::fs::write(&script, "echo hello \"$1\"\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = Runner::builder([script.to_str().unwrap(), "{}"])
        .keep_order(true)
        .build()
        .unwrap();
    let mut rec = Record::default();
    let s = r.run(items(&["a", "b"]), &mut rec).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!((s.succeeded, s.failed), (2, 0), "{:?}", rec.warnings);
    assert_eq!(rec.outputs, ["hello a\n", "hello b\n"]);
}

#[test]
fn items_of_any_bytes_reach_the_command_unchanged() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    // Not UTF-8 (Latin-1 é): a valid Linux file name.
    let item = OsString::from_vec(b"caf\xe9.txt".to_vec());
    let r = Runner::builder(["printf", "%s|", "{}", "{.}"])
        .keep_order(true)
        .build()
        .unwrap();
    let mut out = Vec::new();
    let s = r.run(vec![item], &mut WriteSink::new(&mut out)).unwrap();
    assert_eq!((s.succeeded, s.failed), (1, 0));
    assert_eq!(out, b"caf\xe9.txt|caf\xe9|");
}

/// What `seq n` prints.
fn seq_output(n: usize) -> String {
    (1..=n).map(|i| format!("{i}\n")).collect()
}

/// Job k prints `seq` of 200,000 + k × 100,000 numbers (1.3–2.2 MB); job 1 waits first, so
/// under `-k` the others finish and wait for it.
const BIG_OUTPUT: &str = "[ $1 = 1 ] && sleep 0.3; seq $(( 200000 + $1 * 100000 ))";

#[test]
fn keep_order_output_past_the_memory_budget_is_spooled_and_printed_whole() {
    const BUDGET: usize = 1 << 20;
    let r = Runner::builder(["sh", "-c", BIG_OUTPUT, "sh", "{}"])
        .jobs(4)
        .keep_order(true)
        .output_memory(BUDGET)
        .build()
        .unwrap();
    let ks: Vec<String> = (1..=8).map(|k| k.to_string()).collect();
    let mut out = Vec::new();
    let s = r.run(ks, &mut WriteSink::new(&mut out)).unwrap();
    assert_eq!((s.succeeded, s.failed), (8, 0));
    let expected: String = (1..=8).map(|k| seq_output(200_000 + k * 100_000)).collect();
    assert!(out == expected.as_bytes(), "the output differs");
    // 8 jobs wrote 14 MB; the run held at most the budget plus one read of a pipe (at most
    // 1 MiB, the size a chatty job's pipe is grown to, and the 64 KiB read-ahead).
    assert!(s.spooled_jobs >= 4, "{s:?}");
    assert!(
        s.output_memory_peak <= (BUDGET + (1 << 20) + (64 << 10)) as u64,
        "{s:?}"
    );
    assert!(s.to_string().contains("spooled to disk"), "{s}");
}

#[test]
fn spooled_output_reaches_the_sink_whole_per_job_without_keep_order() {
    let r = Runner::builder(["sh", "-c", BIG_OUTPUT, "sh", "{}"])
        .jobs(4)
        .output_memory(0)
        .build()
        .unwrap();
    let mut rec = Record::default();
    let s = r.run(items(&["1", "2", "3", "4", "5"]), &mut rec).unwrap();
    assert_eq!((s.succeeded, s.failed, s.spooled_jobs), (5, 0, 5));
    assert_eq!(rec.outputs.len(), 5);
    for (job, output) in rec.jobs.iter().zip(&rec.outputs) {
        let k: usize = job.command.last().unwrap().parse().unwrap();
        assert!(*output == seq_output(200_000 + k * 100_000), "job {k}");
    }
}

#[test]
fn a_spool_directory_that_goes_away_loses_no_output_and_warns_once() {
    let dir = tempfile::tempdir().unwrap();
    let r = Runner::builder(["seq", "{}"])
        .jobs(2)
        .keep_order(true)
        .output_memory(0)
        .spool_dir(dir.path())
        .build()
        .unwrap();
    drop(dir); // removed after the check in build
    let mut rec = Record::default();
    let s = r.run(items(&["3", "2", "4"]), &mut rec).unwrap();
    assert_eq!((s.succeeded, s.failed, s.spooled_jobs), (3, 0, 0));
    assert_eq!(rec.outputs, ["1\n2\n3\n", "1\n2\n", "1\n2\n3\n4\n"]);
    let spool_warnings = rec
        .warnings
        .iter()
        .filter(|w| w.contains("cannot spool"))
        .count();
    assert_eq!(spool_warnings, 1, "{:?}", rec.warnings);
    let e = Runner::builder(["true"])
        .spool_dir("/nonexistent-amorsize-dir")
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("not a directory"), "{e}");
}

#[test]
fn the_job_log_has_each_job_as_it_ends() {
    // Job "b" waits for a marker that the test makes only once the job log shows job "a":
    // a log written only at the end of the run would leave "b" waiting until its timeout.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("jobs.tsv");
    let marker = dir.path().join("go");
    let script = format!(
        "[ {{}} = a ] && exit 0; i=0; while [ ! -e {} ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; [ -e {} ]",
        marker.display(),
        marker.display()
    );
    let r = Runner::builder(["sh", "-c", script.as_str()])
        .jobs(2)
        .joblog(&log)
        .build()
        .unwrap();
    let run =
        std::thread::spawn(move || r.run(items(&["a", "b"]), &mut WriteSink::new(std::io::sink())));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = false;
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.lines().count() >= 2 {
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::fs::write(&marker, "").unwrap();
    let s = run.join().unwrap().unwrap();
    assert!(seen, "job a's line was not in the log while job b ran");
    assert_eq!((s.succeeded, s.failed), (2, 0));
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 3);
}

/// Whether process `pid` has ended: gone, or a zombie nobody has reaped yet.
fn ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => matches!(amorsize::system::busy::stat_state(&stat), Some('Z' | 'X')),
        Err(_) => true,
    }
}

/// A sink that, given job `a`'s output, blocks until job `b` (whose pid `b` wrote to a file)
/// has ended: the runner's loop is held inside the write meanwhile, as it is by a stdout
/// nobody reads.
struct BlockedUntilBEnds {
    dir: std::path::PathBuf,
    jobs: Vec<JobResult>,
    /// Whether `b` ended while the write was blocked (within a minute).
    b_ended_meanwhile: Option<bool>,
}

impl Sink for BlockedUntilBEnds {
    fn output(&mut self, job: &JobResult, output: &JobOutput) -> std::io::Result<()> {
        self.jobs.push(job.clone());
        if output.to_vec()? == b"a\n" {
            let pid: u32 = std::fs::read_to_string(self.dir.join("pid"))?
                .trim()
                .parse()
                .expect("b's pid");
            let t0 = Instant::now();
            while !ended(pid) && t0.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(5));
            }
            self.b_ended_meanwhile = Some(ended(pid));
        }
        Ok(())
    }
}

#[test]
fn a_timeout_is_kept_while_the_output_is_blocked() {
    // Job b sleeps 120 s with a timeout of 300 ms; job a waits until b has started, then
    // prints. The sink blocks on a's output until b has ended (a minute at most): only a
    // timeout kept during the write can end it (before, the run sat in the write, and b ran
    // until the reader came back).
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let script = format!(
        "case $0 in \
         a) while [ ! -s {d}/pid ]; do sleep 0.01; done; echo a ;; \
         b) echo $$ > {d}/pid.tmp && mv {d}/pid.tmp {d}/pid; exec sleep 120 ;; \
         esac"
    );
    let r = Runner::builder(["sh", "-c", &script, "{}"])
        .jobs(2)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let mut sink = BlockedUntilBEnds {
        dir: dir.path().to_path_buf(),
        jobs: Vec::new(),
        b_ended_meanwhile: None,
    };
    let s = r.run(items(&["a", "b"]), &mut sink).unwrap();
    assert_eq!(sink.b_ended_meanwhile, Some(true), "{s}");
    assert_eq!((s.succeeded, s.failed, s.timed_out), (1, 1, 1), "{s}");
    let b = sink.jobs.iter().find(|j| j.seq == 2).expect("b's result");
    assert!(b.timed_out && b.signal == libc::SIGTERM, "{b:?}");
    assert!(b.wall_secs < 60.0, "{b:?}");
}
