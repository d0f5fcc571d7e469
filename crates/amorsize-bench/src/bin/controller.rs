//! The runtime chunk controller: the Amorsize seed algorithm against the improved controller
//! (item weighting + regime reaction) and a fixed chunk size, on a 2-worker pool.
//!
//! Five workloads of calibrated spin items, each run under three strategies with the same
//! start: `Fixed(initial)`, `AdaptiveSeed(cfg)` (the seed alone) and `Adaptive(cfg)` (the
//! improved controller), where `cfg` has the workload's initial chunk and target, adaptation
//! rate 0.3 and window 10. Runs are interleaved (the order rotates every round so each
//! strategy takes each position equally often) after one warm-up round; each strategy's time
//! is the median of the measured rounds. Every run's results are checked against the others'
//! (an order-sensitive checksum).
//!
//! ```sh
//! cargo run --release -p amorsize-bench --bin controller -- --quick
//! cargo run --release -p amorsize-bench --bin controller              # more items and rounds
//! ```

use amorsize::pool::{ChunkPolicy, ControllerConfig, RunOptions, ThreadPool};
use amorsize_bench::measure::interleave_order;
use amorsize_bench::stats::median;
use amorsize_bench::workloads::{checksum_u64, spin, Calibration, SplitMix64};
use clap::Parser;
use std::time::{Duration, Instant};

/// Seed vs improved runtime chunk controller on a 2-worker pool.
#[derive(Debug, Parser)]
struct Args {
    /// Fewer items per workload (per-item costs unchanged) and 7 measured rounds.
    #[arg(long)]
    quick: bool,
    /// Measured rounds after the warm-up (default 7 with --quick, 11 otherwise; at least 7).
    #[arg(long)]
    runs: Option<usize>,
    /// Only the workloads whose name contains this text.
    #[arg(long)]
    only: Option<String>,
}

/// One workload: per-item spin iterations and the controller's start.
struct Workload {
    name: &'static str,
    what: &'static str,
    iters: Vec<u64>,
    initial: usize,
    target: Duration,
}

const WORKERS: usize = 2;

fn workloads(calib: &Calibration, quick: bool) -> Vec<Workload> {
    let scale = |full: usize, q: usize| if quick { q } else { full };
    let us = |x: f64| calib.iters_for_ns(x * 1_000.0);
    let mut out = Vec::new();

    // (a) regime change: the first 80 % ~20 µs, the last 20 % ~500 µs.
    let n = scale(5_000, 2_000);
    let switch = n - n / 5;
    out.push(Workload {
        name: "regime-change",
        what: "80% ~20us then 20% ~500us",
        iters: (0..n)
            .map(|i| if i < switch { us(20.0) } else { us(500.0) })
            .collect(),
        initial: 50, // 1 ms / 20 µs: right for the first regime
        target: Duration::from_millis(1),
    });

    // (b) ascending: cost ∝ index, mean ~250 µs.
    let n = scale(2_000, 800);
    out.push(Workload {
        name: "ascending",
        what: "cost ~ index, mean ~250us",
        iters: (0..n)
            .map(|i| us(2.0 * 250.0 * (i as f64 + 0.5) / n as f64))
            .collect(),
        initial: 4, // 1 ms / the mean cost
        target: Duration::from_millis(1),
    });

    // (c) lognormal, mean ~100 µs, CV ≈ 2 (σ² = ln 5).
    let n = scale(5_000, 2_000);
    let sigma = 5f64.ln().sqrt();
    let mu = (100.0f64).ln() - sigma * sigma / 2.0;
    let mut rng = SplitMix64::new(0x10C_4012);
    out.push(Workload {
        name: "lognormal",
        what: "mean ~100us, CV ~2",
        iters: (0..n)
            .map(|_| us((mu + sigma * rng.next_normal()).exp()))
            .collect(),
        initial: 10, // 1 ms / the mean cost
        target: Duration::from_millis(1),
    });

    // (d) a start far too small: steady 50 µs, chunk 1, target 2 ms (40 items).
    let n = scale(5_000, 2_000);
    out.push(Workload {
        name: "start-too-small",
        what: "50us items, chunk 1, target 2ms",
        iters: vec![us(50.0); n],
        initial: 1,
        target: Duration::from_millis(2),
    });

    // (e) a start far too big: steady 5 µs, chunk 4096, target 200 µs (40 items).
    let n = scale(100_000, 40_000);
    out.push(Workload {
        name: "start-too-big",
        what: "5us items, chunk 4096, target 200us",
        iters: vec![us(5.0); n],
        initial: 4096,
        target: Duration::from_micros(200),
    });

    // (f, extra) a start far too small on tiny items: steady 2 µs, chunk 1, target 1 ms, where
    // the per-chunk cost of a fixed chunk of 1 shows.
    let n = scale(100_000, 40_000);
    out.push(Workload {
        name: "tiny-items-chunk-1",
        what: "(extra) 2us items, chunk 1, target 1ms",
        iters: vec![us(2.0); n],
        initial: 1,
        target: Duration::from_millis(1),
    });
    out
}

/// What one run measured.
struct Run {
    wall: Duration,
    adjustments: usize,
    final_chunk: usize,
    checksum: u64,
}

fn run(pool: &ThreadPool, w: &Workload, policy: &ChunkPolicy) -> amorsize::Result<Run> {
    let opts = RunOptions::new(WORKERS, policy.clone());
    let iters = &w.iters;
    let t = Instant::now();
    let out = pool.map_range(iters.len(), &opts, |i| spin(iters[i], i as u64))?;
    let wall = t.elapsed();
    Ok(Run {
        wall,
        adjustments: out.stats.adjustments.len(),
        final_chunk: out.stats.final_chunk_size,
        checksum: checksum_u64(&out.results),
    })
}

fn med(xs: impl Iterator<Item = f64>) -> f64 {
    median(&xs.collect::<Vec<_>>()).unwrap_or(f64::NAN)
}

fn main() {
    let args = Args::parse();
    if let Err(e) = real_main(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn real_main(args: &Args) -> amorsize::Result<()> {
    let runs = args.runs.unwrap_or(if args.quick { 7 } else { 11 }).max(7);
    let calib = Calibration::measure();
    let pool = ThreadPool::new(WORKERS)?;
    let started = Instant::now();
    println!(
        "controller: {WORKERS}-worker pool, spin {:.2} ns/iter, {runs} measured rounds after 1 warm-up, interleaved; \
         rate 0.3, window 10; times are medians in ms",
        calib.ns_per_iter
    );
    println!(
        "{:<18} {:>7} {:>8} {:>8} {:>8} {:>9} {:>10} {:>17} {:>8} {:>10}",
        "workload",
        "initial",
        "fixed",
        "seed",
        "improved",
        "impr/seed",
        "impr/fixed",
        "paired [min-max]",
        "adj s/i",
        "final s/i",
    );
    let mut impr_vs_seed = Vec::new();
    for w in workloads(&calib, args.quick) {
        if let Some(only) = &args.only {
            if !w.name.contains(only.as_str()) {
                continue;
            }
        }
        let cfg = ControllerConfig {
            initial: w.initial,
            target: w.target,
            adaptation_rate: 0.3,
            min: 1,
            max: None,
            window: 10,
        };
        let policies = [
            ChunkPolicy::Fixed(w.initial),
            ChunkPolicy::AdaptiveSeed(cfg.clone()),
            ChunkPolicy::Adaptive(cfg),
        ];
        let mut results: Vec<Vec<Run>> = vec![Vec::new(), Vec::new(), Vec::new()];
        let mut reference: Option<u64> = None;
        for round in 0..=runs {
            for arm in interleave_order(policies.len(), round) {
                let r = run(&pool, &w, &policies[arm])?;
                match reference {
                    None => reference = Some(r.checksum),
                    Some(c) if c != r.checksum => {
                        return Err(amorsize::Error::invalid_input(
                            format!("workload `{}`", w.name),
                            format!("{:?} returned different results", policies[arm]),
                        ))
                    }
                    Some(_) => {}
                }
                if round > 0 {
                    results[arm].push(r);
                }
            }
        }
        let ms = |a: usize| med(results[a].iter().map(|r| r.wall.as_secs_f64() * 1e3));
        let adj = |a: usize| med(results[a].iter().map(|r| r.adjustments as f64));
        let fin = |a: usize| med(results[a].iter().map(|r| r.final_chunk as f64));
        let (fixed, seed, impr) = (ms(0), ms(1), ms(2));
        impr_vs_seed.push(impr / seed);
        // Improved over seed within each round (same load), then the median over rounds.
        let paired: Vec<f64> = results[2]
            .iter()
            .zip(&results[1])
            .map(|(i, s)| i.wall.as_secs_f64() / s.wall.as_secs_f64())
            .collect();
        let lo = paired.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = paired.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        println!(
            "{:<18} {:>7} {:>8.1} {:>8.1} {:>8.1} {:>9.3} {:>10.3} {:>17} {:>8} {:>10}  {}",
            w.name,
            w.initial,
            fixed,
            seed,
            impr,
            impr / seed,
            impr / fixed,
            format!("{:.3} [{:.2}-{:.2}]", med(paired.iter().copied()), lo, hi),
            format!("{}/{}", adj(1), adj(2)),
            format!("{}/{}", fin(1), fin(2)),
            w.what,
        );
    }
    if let Some(g) = amorsize_bench::stats::geomean(&impr_vs_seed) {
        println!("geomean improved/seed: {g:.3} (below 1: the improved controller is faster)");
    }
    println!(
        "paired: median of per-round improved/seed; adj s/i, final s/i: median adjustments and \
         final chunk size, seed/improved; total {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
