//! `amorsize run` against `xargs -P 2` and GNU `parallel -j 2` on four workloads:
//! 3,000 × `true`; 300 × `sleep 0.02`; 200 × gzip of 1 MB files; 3,000 × `true` with batching;
//! and, when `python3` is on the PATH, a fifth: 300 items batched into a command that starts
//! slowly (a Python interpreter, ~20–40 ms before it reads its arguments), where the batch size
//! depends on telling the command's start-up from its work per item. A sixth is the other side
//! of batching: 200 items batched into a shell loop that works a few milliseconds per item, where
//! putting every item into one command line (as `xargs` without `-n` does) uses one core.
//!
//! Runs are interleaved in the suite's order ([`interleave_order`]: amorsize, xargs, parallel,
//! then parallel, xargs, amorsize, then xargs, parallel, amorsize, …) so that the machine's
//! load drifts over all tools alike and no tool always runs first or after the same one; each
//! tool's time is the median of `--rounds` runs (≥ 5).
//! Ratios are the other tool's median over amorsize's: above 1 means amorsize is faster.
//!
//! ```sh
//! crates/amorsize-bench/scripts/install-peers.sh      # GNU parallel (skipped when absent)
//! cargo build --release -p amorsize-cli
//! cargo run --release -p amorsize-bench --bin vs_xargs
//! ```

use amorsize_bench::measure::interleave_order;
use clap::Parser;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Compare `amorsize run` with xargs -P 2 and GNU parallel -j 2.
#[derive(Debug, Parser)]
struct Args {
    /// Runs per tool and workload (at least 5).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// The amorsize binary (default: next to this benchmark's binary).
    #[arg(long)]
    amorsize: Option<PathBuf>,
    /// Only the workloads whose name contains this text.
    #[arg(long)]
    only: Option<String>,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Row {
    workload: String,
    amorsize_secs: f64,
    xargs_secs: f64,
    parallel_secs: Option<f64>,
    /// xargs median / amorsize median (> 1: amorsize faster).
    vs_xargs: f64,
    /// parallel median / amorsize median.
    vs_parallel: Option<f64>,
}

struct Tool {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
}

struct Workload {
    name: &'static str,
    stdin: Vec<u8>,
    tools: Vec<Tool>,
    /// GNU parallel's arguments for the same job.
    parallel: Vec<&'static str>,
}

fn time_once(tool: &Tool, stdin: &[u8], dir: &Path) -> Result<f64, String> {
    let start = Instant::now();
    let mut child = Command::new(&tool.program)
        .args(&tool.args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", tool.name))?;
    let mut input = child.stdin.take().ok_or("no stdin")?;
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    // A watchdog kills a run that hangs; the timing itself is a blocking wait.
    let pid = child.id() as i32;
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(Duration::from_secs(300)).is_err() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    });
    let status = child.wait().map_err(|e| e.to_string())?;
    let secs = start.elapsed().as_secs_f64();
    let _ = done_tx.send(());
    let _ = watchdog.join();
    let _ = writer.join();
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        return Err(format!("{} exited with {status}: {err}", tool.name));
    }
    Ok(secs)
}

fn on_path(name: &str) -> Option<PathBuf> {
    amorsize::process::resolve_program(name).ok()
}

fn tool(name: &'static str, program: &Path, args: &[&str]) -> Tool {
    Tool {
        name,
        program: program.to_path_buf(),
        args: args.iter().map(|s| s.to_string()).collect(),
    }
}

/// 200 files of 1 MB of text-like data (compressible about 3:1, so gzip does real work).
fn make_gzip_inputs(dir: &Path) -> std::io::Result<Vec<u8>> {
    let words = [
        "amorsize ",
        "parallel ",
        "chunk ",
        "worker ",
        "spawn ",
        "measure ",
        "the ",
        "of ",
        "throughput ",
        "latency ",
        "\n",
    ];
    let mut list = Vec::new();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..200 {
        let path = dir.join(format!("f{i:03}.txt"));
        let mut buf = Vec::with_capacity(1 << 20);
        while buf.len() < 1 << 20 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let w = words[(state % words.len() as u64) as usize];
            buf.extend_from_slice(w.as_bytes());
            if state % 7 == 0 {
                buf.extend_from_slice(format!("{} ", state % 100_000).as_bytes());
            }
        }
        buf.truncate(1 << 20);
        std::fs::write(&path, &buf)?;
        list.extend_from_slice(path.display().to_string().as_bytes());
        list.push(b'\n');
    }
    Ok(list)
}

fn main() {
    let args = Args::parse();
    let rounds = args.rounds.max(5);
    let amorsize = args.amorsize.clone().unwrap_or_else(|| {
        let exe = std::env::current_exe().unwrap_or_default();
        exe.with_file_name("amorsize")
    });
    if !amorsize.exists() {
        eprintln!(
            "vs_xargs: {} not found; build it first: cargo build --release -p amorsize-cli",
            amorsize.display()
        );
        std::process::exit(2);
    }
    let Some(xargs) = on_path("xargs") else {
        eprintln!("vs_xargs: xargs not found");
        std::process::exit(2);
    };
    let parallel = on_path("parallel");
    if parallel.is_none() {
        println!("GNU parallel not found: its column is skipped (install it with crates/amorsize-bench/scripts/install-peers.sh)");
    }
    let dir = match tempfile_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("vs_xargs: cannot make a temp dir: {e}");
            std::process::exit(2);
        }
    };
    let lines = |n: usize, s: &str| -> Vec<u8> {
        (0..n).flat_map(|_| format!("{s}\n").into_bytes()).collect()
    };
    let numbers: Vec<u8> = (1..=3000)
        .flat_map(|i| format!("{i}\n").into_bytes())
        .collect();

    let mut workloads = vec![
        Workload {
            name: "3000 x true",
            stdin: numbers.clone(),
            tools: vec![
                tool("amorsize", &amorsize, &["run", "-q", "true"]),
                tool("xargs", &xargs, &["-P", "2", "-n", "1", "true"]),
            ],
            parallel: vec!["-j", "2", "true"],
        },
        Workload {
            name: "300 x sleep 0.02",
            stdin: lines(300, "0.02"),
            tools: vec![
                tool("amorsize", &amorsize, &["run", "-q", "sleep"]),
                tool("xargs", &xargs, &["-P", "2", "-n", "1", "sleep"]),
            ],
            parallel: vec!["-j", "2", "sleep"],
        },
        Workload {
            name: "200 x gzip 1MB",
            stdin: Vec::new(),
            tools: vec![
                tool("amorsize", &amorsize, &["run", "-q", "gzip", "-f", "-k"]),
                tool("xargs", &xargs, &["-P", "2", "-n", "1", "gzip", "-f", "-k"]),
            ],
            parallel: vec!["-j", "2", "gzip", "-f", "-k"],
        },
        Workload {
            name: "3000 x true, batched",
            stdin: numbers,
            tools: vec![
                tool(
                    "amorsize",
                    &amorsize,
                    &["run", "-q", "--batch", "auto", "true"],
                ),
                tool("xargs", &xargs, &["-P", "2", "true"]),
            ],
            parallel: vec!["-j", "2", "-X", "true"],
        },
    ];
    // `n` numbered items batched into `cmd`: amorsize picks the batch size, xargs puts as
    // many items into one command line as fit, GNU parallel -X spreads them over its slots.
    let batched = |name: &'static str, n: usize, cmd: &[&'static str]| {
        let with = |head: &[&'static str]| -> Vec<&'static str> {
            head.iter().chain(cmd).copied().collect()
        };
        Workload {
            name,
            stdin: (1..=n)
                .flat_map(|i| format!("{i}\n").into_bytes())
                .collect(),
            tools: vec![
                tool(
                    "amorsize",
                    &amorsize,
                    &with(&["run", "-q", "--batch", "auto"]),
                ),
                tool("xargs", &xargs, &with(&["-P", "2"])),
            ],
            // -q: parallel runs commands through a shell; quote the script for it.
            parallel: with(&["-j", "2", "-X", "-q"]),
        }
    };
    // A few milliseconds of shell arithmetic per item (5,000 iterations; ~5–10 ms here).
    workloads.push(batched(
        "200 x 5k-step sh loop, batched",
        200,
        &[
            "sh",
            "-c",
            "for f; do i=0; while [ $i -lt 5000 ]; do i=$((i+1)); done; echo $f; done",
            "sh",
        ],
    ));
    if on_path("python3").is_some() {
        workloads.push(batched(
            "300 x python3, batched",
            300,
            &[
                "python3",
                "-c",
                "import json, sys; print(len(json.dumps(sys.argv[1:])))",
            ],
        ));
    } else {
        println!("python3 not found: the slow-start workload is skipped");
    }
    if let Some(p) = &parallel {
        for w in workloads.iter_mut() {
            let a = w.parallel.clone();
            w.tools.push(tool("parallel", p, &a));
        }
    }
    workloads.retain(|w| {
        args.only
            .as_ref()
            .is_none_or(|o| w.name.contains(o.as_str()))
    });
    if workloads.iter().any(|w| w.name.starts_with("200 x gzip")) {
        match make_gzip_inputs(&dir) {
            Ok(list) => {
                for w in workloads
                    .iter_mut()
                    .filter(|w| w.name.starts_with("200 x gzip"))
                {
                    w.stdin = list.clone();
                }
            }
            Err(e) => {
                eprintln!("vs_xargs: cannot write the gzip inputs: {e}");
                std::process::exit(2);
            }
        }
    }

    let mut rows = Vec::new();
    for w in &workloads {
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); w.tools.len()];
        for round in 0..rounds {
            // The suite's order: rotated every other round and reversed in between, so that no
            // tool always runs first or after the same one.
            for i in interleave_order(w.tools.len(), round) {
                let t = &w.tools[i];
                match time_once(t, &w.stdin, &dir) {
                    Ok(s) => times[i].push(s),
                    Err(e) => {
                        eprintln!("vs_xargs: {}: round {round}: {e}", w.name);
                        std::process::exit(1);
                    }
                }
            }
        }
        // Every tool ran `rounds` ≥ 5 times (an error exits above), so each median exists.
        let med: Vec<f64> = times
            .iter()
            .map(|t| amorsize_bench::stats::median(t).unwrap_or(f64::NAN))
            .collect();
        let row = Row {
            workload: w.name.to_string(),
            amorsize_secs: med[0],
            xargs_secs: med[1],
            parallel_secs: med.get(2).copied(),
            vs_xargs: med[1] / med[0],
            vs_parallel: med.get(2).map(|p| p / med[0]),
        };
        if !args.json {
            println!(
                "{:<22} amorsize {:>7.3} s | xargs -P 2 {:>7.3} s ({:>5.2}x) | parallel -j 2 {}",
                row.workload,
                row.amorsize_secs,
                row.xargs_secs,
                row.vs_xargs,
                match (row.parallel_secs, row.vs_parallel) {
                    (Some(p), Some(r)) => format!("{p:>7.3} s ({r:>5.2}x)"),
                    _ => "skipped".to_string(),
                }
            );
        }
        rows.push(row);
    }
    let _ = std::fs::remove_dir_all(&dir);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
    } else {
        println!("(medians of {rounds} interleaved runs; Nx = that tool's time / amorsize's: above 1 means amorsize is faster)");
    }
}

fn tempfile_dir() -> std::io::Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("amorsize-vs-xargs-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
