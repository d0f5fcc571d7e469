//! The strategies compared on every workload, and the run of one workload under all of them.
//!
//! [`Runner`] is a [`Visitor`]: it receives a workload's items and function and
//! 1. runs the plain loop once for the reference checksum (and a sequential time estimate);
//! 2. screens the amorsize pool grid ([`crate::grid::pool_grid`]), each setting run once or
//!    twice, and keeps the fastest few settings;
//! 3. measures, interleaved, with a warm-up round: sequential, rayon (default and each
//!    `with_min_len` of [`crate::grid::rayon_min_lens`]), the kept pool settings (the best of
//!    them is the oracle), auto (`amorsize::par_map`), auto-planned (a plan made once outside
//!    the timer, then `Plan::execute`) and the planner alone (`amorsize::optimize`, whose time
//!    over auto's is the overhead share).
//!
//! ```
//! use amorsize_bench::{report::Kind, strategies::{Runner, Settings}, workloads::*};
//! let w = by_name("tiny-n")?;
//! let runner = Runner { workload: &w, settings: Settings::quick(2) };
//! let r = visit(&w, Size::Tiny, &Calibration::fixed(1.0), 2, runner)?;
//! let kinds: Vec<Kind> = r.strategies.iter().map(|s| s.kind).collect();
//! for k in [Kind::Sequential, Kind::Rayon, Kind::RayonMinLen, Kind::Pool, Kind::Auto,
//!           Kind::AutoRemembered, Kind::AutoPlanned, Kind::Planner] {
//!     assert!(kinds.contains(&k), "{k:?} not measured");
//! }
//! // Every setting of the grid was screened; at most `keep` + 1 of them were measured.
//! assert_eq!(r.screened.len(), amorsize_bench::grid::pool_grid(100, 2, false, 4).len());
//! assert!(kinds.iter().filter(|&&k| k == Kind::Pool).count() <= 2 + 1);
//! # Ok::<(), amorsize::Error>(())
//! ```

use crate::grid::{pool_grid, rayon_min_lens, PoolConfig};
use crate::measure::{measure, runs_for, screen, top_k, Arm};
use crate::report::{Kind, ParMapCache, PlanSummary, Screened, StrategyResult, WorkloadResult};
use crate::workloads::{Checksum, Visitor, Workload};
use amorsize::pool::{ChunkPolicy, RunOptions};
use rayon::prelude::*;
use std::time::{Duration, Instant};

/// How thoroughly a workload is measured.
///
/// ```
/// use amorsize_bench::{grid::pool_grid, strategies::Settings};
/// let (full, quick) = (Settings::full(2), Settings::quick(2));
/// // `--quick` searches a coarser grid and keeps fewer settings after screening.
/// let grid = |s: Settings| pool_grid(10_000, s.cores, false, s.chunk_base).len();
/// assert!(grid(quick) < grid(full));
/// assert!(quick.keep < full.keep && quick.screen_rounds <= full.screen_rounds);
/// assert!(quick.runs >= 5 && full.runs >= 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Effective cores of the machine (sizes the grids).
    pub cores: usize,
    /// Base of the chunk-size grid: 2 (full suite) or 4 (`--quick`).
    pub chunk_base: usize,
    /// Screening rounds per pool setting.
    pub screen_rounds: usize,
    /// Pool settings kept after screening for the interleaved measurement.
    pub keep: usize,
    /// Measured rounds (at least 5; more for very short workloads, see
    /// [`crate::measure::runs_for`]).
    pub runs: usize,
    /// Warm-up rounds before measuring.
    pub warmup: usize,
}

impl Settings {
    /// The full suite's settings.
    ///
    /// ```
    /// let s = amorsize_bench::strategies::Settings::full(2);
    /// assert!(s.runs >= 5 && s.chunk_base == 2);
    /// ```
    pub fn full(cores: usize) -> Self {
        Settings {
            cores,
            chunk_base: 2,
            screen_rounds: 2,
            keep: 4,
            runs: 7,
            warmup: 1,
        }
    }

    /// `--quick`: powers of 4 for chunks, one screening round, fewer settings kept.
    ///
    /// ```
    /// let s = amorsize_bench::strategies::Settings::quick(2);
    /// assert!(s.runs >= 5 && s.chunk_base == 4);
    /// ```
    pub fn quick(cores: usize) -> Self {
        Settings {
            cores,
            chunk_base: 4,
            screen_rounds: 1,
            keep: 2,
            runs: 5,
            warmup: 1,
        }
    }
}

/// Runs one workload under every strategy (see the module documentation).
///
/// ```
/// use amorsize_bench::{strategies::{Runner, Settings}, workloads::*};
/// let w = by_name("light")?;
/// let runner = Runner { workload: &w, settings: Settings::quick(2) };
/// let result = visit(&w, Size::Tiny, &Calibration::fixed(1.0), 2, runner)?;
/// assert_eq!(result.name, "light");
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Runner<'w> {
    /// The workload (for names and the blocking flag).
    pub workload: &'w Workload,
    /// How thoroughly.
    pub settings: Settings,
}

fn timed<R>(
    run: impl FnOnce() -> amorsize::Result<Vec<R>>,
) -> amorsize::Result<(Duration, Vec<R>)> {
    let t = Instant::now();
    let out = run()?;
    let d = t.elapsed();
    Ok((d, out))
}

/// The options of a fixed-setting run on amorsize's pool: `cfg.workers` workers, chunks of
/// `cfg.chunk`, no progress callback. (The one place the bench builds `RunOptions`.)
///
/// ```
/// use amorsize_bench::{grid::PoolConfig, strategies::fixed_options};
/// let o = fixed_options(PoolConfig { workers: 3, chunk: 8 });
/// assert_eq!(o.workers, 3);
/// assert_eq!(o.chunks, amorsize::pool::ChunkPolicy::Fixed(8));
/// ```
pub fn fixed_options(cfg: PoolConfig) -> RunOptions {
    RunOptions::new(cfg.workers, ChunkPolicy::Fixed(cfg.chunk))
}

/// Runs one tiny job on a pool of each size, so the global manager holds warm pools of those
/// sizes before anything is timed.
///
/// ```
/// amorsize_bench::strategies::warm_pools(&[1, 2, 3])?;
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn warm_pools(sizes: &[usize]) -> amorsize::Result<()> {
    for &w in sizes {
        let pool = amorsize::global_pool_manager().get(w)?;
        let out = pool.map_range(
            w * 4,
            &fixed_options(PoolConfig {
                workers: w,
                chunk: 1,
            }),
            |i| i,
        )?;
        if out.results.len() != w * 4 {
            return Err(amorsize::Error::invalid_input(
                format!("pool of {w} workers"),
                "returned the wrong number of results while warming up",
            ));
        }
    }
    Ok(())
}

/// The pool settings measured after screening: the `keep` fastest, plus the one-worker setting
/// when it screened within 1.5× of the fastest (so that on work too small to share, the oracle
/// is not a noisy parallel setting that happened to screen well).
///
/// ```
/// use amorsize_bench::{grid::PoolConfig, strategies::keep_settings};
/// use std::time::Duration;
/// let grid = [PoolConfig { workers: 1, chunk: 8 }, PoolConfig { workers: 2, chunk: 4 },
///             PoolConfig { workers: 2, chunk: 1 }];
/// let ms = |v: [u64; 3]| v.map(Duration::from_millis);
/// assert_eq!(keep_settings(&grid, &ms([12, 10, 11]), 1), vec![grid[1], grid[0]]);
/// assert_eq!(keep_settings(&grid, &ms([20, 10, 11]), 1), vec![grid[1]]);
/// assert_eq!(keep_settings(&grid, &ms([9, 10, 11]), 2), vec![grid[0], grid[1]]);
/// ```
pub fn keep_settings(grid: &[PoolConfig], times: &[Duration], keep: usize) -> Vec<PoolConfig> {
    let order = top_k(times, keep);
    let mut kept: Vec<PoolConfig> = order.iter().map(|&i| grid[i]).collect();
    let best = order.first().map(|&i| times[i].as_secs_f64());
    if let (Some(best), Some(one)) = (best, grid.iter().position(|c| c.workers == 1)) {
        if !kept.contains(&grid[one]) && times[one].as_secs_f64() <= 1.5 * best {
            kept.push(grid[one]);
        }
    }
    kept
}

/// Durations in nanoseconds (saturating).
fn to_ns(ds: &[Duration]) -> Vec<u64> {
    ds.iter()
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .collect()
}

/// One arm on amorsize's pool with a fixed setting. The pool is borrowed from the global
/// manager before the timer starts (warm after the first run) and returned after it stops.
fn pool_arm<'a, T, R, F>(
    items: &'a [T],
    f: &'a F,
    checksum: fn(&[R]) -> Checksum,
    cfg: PoolConfig,
) -> Arm<'a>
where
    T: Sync,
    R: Send + 'static,
    F: Fn(&T) -> R + Sync,
{
    Arm::new(format!("pool w{} c{}", cfg.workers, cfg.chunk), move || {
        let opts = fixed_options(cfg);
        // The handle goes back to the manager at the end of this block, after the timer.
        let (d, out) = {
            let pool = amorsize::global_pool_manager().get(cfg.workers)?;
            timed(|| {
                pool.map_range(items.len(), &opts, |i| f(&items[i]))
                    .map(|o| o.results)
            })?
        };
        Ok((d, Some(checksum(&out))))
    })
}

impl Visitor for Runner<'_> {
    type Output = amorsize::Result<WorkloadResult>;

    fn visit<T, R, F>(self, items: &[T], f: F, checksum: fn(&[R]) -> Checksum) -> Self::Output
    where
        T: Sync,
        R: Send + 'static,
        F: Fn(&T) -> R + Sync,
    {
        let s = self.settings;
        let f = &f;
        let n = items.len();

        // 1. Reference result and a first sequential time.
        let (seq_time, reference) = timed(|| Ok(items.iter().map(f).collect::<Vec<R>>()))?;
        let expected = checksum(&reference);
        drop(reference);

        // 2. Screen the pool grid, after one tiny job on each pool size so that no setting is
        //    screened on threads that are still starting.
        let grid = pool_grid(n, s.cores, self.workload.blocking, s.chunk_base);
        let mut sizes: Vec<usize> = grid.iter().map(|c| c.workers).collect();
        sizes.dedup();
        warm_pools(&sizes)?;
        let mut arms: Vec<Arm<'_>> = grid
            .iter()
            .map(|&c| pool_arm(items, f, checksum, c))
            .collect();
        // Short workloads get more screening rounds, as they get more measured rounds.
        let short_factor = runs_for(seq_time.as_secs_f64(), 5) / 5;
        let times = screen(&mut arms, s.screen_rounds * short_factor, expected)?;
        drop(arms);
        let screened: Vec<Screened> = grid
            .iter()
            .zip(&times)
            .map(|(&pool, t)| Screened {
                pool,
                best_s: t.as_secs_f64(),
            })
            .collect();
        let kept: Vec<PoolConfig> = keep_settings(&grid, &times, s.keep);

        // 3. The plan for auto-planned, made once, outside any timer.
        let plan = amorsize::optimize(items, f)?;
        let plan_summary = PlanSummary {
            executor: format!("{:?}", plan.executor()),
            workers: plan.workers(),
            chunk_size: plan.chunk_size(),
            predicted_speedup: plan.predicted_speedup(),
            text: plan.to_string(),
            diagnostics: serde_json::to_value(plan.diagnostics())
                .unwrap_or(serde_json::Value::Null),
        };

        // 4. The interleaved measurement.
        let net_runs: std::cell::RefCell<Vec<Duration>> = Default::default();
        let mut meta: Vec<(Kind, Option<PoolConfig>, Option<usize>)> = vec![];
        let mut arms: Vec<Arm<'_>> = vec![];
        meta.push((Kind::Sequential, None, None));
        arms.push(Arm::new("sequential", move || {
            let (d, out) = timed(|| Ok(items.iter().map(f).collect::<Vec<R>>()))?;
            Ok((d, Some(checksum(&out))))
        }));
        meta.push((Kind::Rayon, None, None));
        arms.push(Arm::new("rayon", move || {
            let (d, out) = timed(|| Ok(items.par_iter().map(f).collect::<Vec<R>>()))?;
            Ok((d, Some(checksum(&out))))
        }));
        for m in rayon_min_lens(n) {
            meta.push((Kind::RayonMinLen, None, Some(m)));
            arms.push(Arm::new(format!("rayon min_len {m}"), move || {
                let (d, out) =
                    timed(|| Ok(items.par_iter().with_min_len(m).map(f).collect::<Vec<R>>()))?;
                Ok((d, Some(checksum(&out))))
            }));
        }
        for &c in &kept {
            meta.push((Kind::Pool, Some(c), None));
            arms.push(pool_arm(items, f, checksum, c));
        }
        meta.push((Kind::Auto, None, None));
        arms.push(Arm::new("auto (par_map)", move || {
            // A fresh call site: par_map samples and plans inside the timer.
            amorsize::exec::forget_site(&amorsize::Optimizer::new(), &f);
            let (d, out) = timed(|| amorsize::par_map(items, f))?;
            Ok((d, Some(checksum(&out))))
        }));
        meta.push((Kind::AutoRemembered, None, None));
        // A call site of its own (another closure type), never forgotten: every call after the
        // warm-up's is a repeat call at a site par_map has learned, as in a program's hot loop.
        let remembered = move |x: &T| f(x);
        // Its type name is the same for every workload of these item and result types: what
        // an earlier workload taught it goes (outside any timer).
        amorsize::exec::forget_site(&amorsize::Optimizer::new(), &remembered);
        arms.push(Arm::new("auto remembered (par_map)", move || {
            let (d, out) = timed(|| amorsize::par_map(items, remembered))?;
            Ok((d, Some(checksum(&out))))
        }));
        meta.push((Kind::AutoPlanned, None, None));
        let plan = &plan;
        arms.push(Arm::new("auto-planned (Plan::execute)", move || {
            let (d, out) = timed(|| plan.execute(items, f))?;
            Ok((d, Some(checksum(&out))))
        }));
        meta.push((Kind::Planner, None, None));
        // Each run's time less the useful work of the items its own sample ran: the sample's
        // size varies between runs (a borderline CV extends it), so one plan's figure does
        // not fit them all.
        let net_runs_ref = &net_runs;
        arms.push(Arm::new("planner (optimize)", move || {
            let t = Instant::now();
            let plan = amorsize::optimize(items, f)?;
            let d = t.elapsed(); // before the plan is dropped
            let s = &plan.diagnostics().sample;
            let useful = Duration::from_secs_f64(s.items as f64 * s.mean);
            net_runs_ref.borrow_mut().push(d.saturating_sub(useful));
            Ok((d, None))
        }));

        let runs = runs_for(seq_time.as_secs_f64(), s.runs);
        let cache_before = amorsize::exec::cache_stats();
        let samples = measure(&mut arms, s.warmup, runs, expected)?;
        let cache_after = amorsize::exec::cache_stats();
        // The arms borrow `net_runs`; the labels outlive them.
        let labels: Vec<String> = arms.iter().map(|a| a.label.clone()).collect();
        drop(arms);
        let mut strategies: Vec<StrategyResult> = labels
            .into_iter()
            .zip(meta)
            .zip(samples)
            .map(|((label, (kind, pool, min_len)), ds)| {
                StrategyResult::new(label, kind, pool, min_len, to_ns(&ds))
            })
            .collect();
        // The warm-up runs come first; the measured ones are the last `runs`.
        let net = net_runs.into_inner();
        let measured = &net[net.len().saturating_sub(runs)..];
        if !measured.is_empty() {
            strategies.push(StrategyResult::new(
                "planner net (optimize less its sampled items' work)",
                Kind::PlannerNet,
                None,
                None,
                to_ns(measured),
            ));
        }
        let row = crate::report::row(
            self.workload.name,
            n,
            &strategies,
            &plan_summary.diagnostics,
        );
        Ok(WorkloadResult {
            name: self.workload.name.to_string(),
            description: self.workload.description.to_string(),
            items: n,
            runs,
            plan: plan_summary,
            par_map_cache: ParMapCache {
                plain: cache_after.plain.saturating_sub(cache_before.plain),
                probed: cache_after.probed.saturating_sub(cache_before.probed),
                sampled: cache_after.sampled.saturating_sub(cache_before.sampled),
                helped: cache_after.helped.saturating_sub(cache_before.helped),
                solo: cache_after.solo.saturating_sub(cache_before.solo),
            },
            screened,
            strategies,
            row,
        })
    }
}
