//! The results: per-strategy samples, the per-workload row of ratios, the suite summary, the
//! printed table and the JSON document (`--json`).
//!
//! Everything here is pure: it turns measured durations into ratios, marks and text, so it is
//! unit-tested with made-up numbers.
//!
//! ```
//! use amorsize_bench::{grid::PoolConfig, report::*};
//! let pool = Some(PoolConfig { workers: 2, chunk: 4 });
//! let ms = |k, t: u64| StrategyResult::new(format!("{k:?}"), k, pool, None, vec![t * 1_000_000; 5]);
//! let results = [ms(Kind::Sequential, 100), ms(Kind::Rayon, 60), ms(Kind::Pool, 50),
//!                ms(Kind::Auto, 55), ms(Kind::AutoPlanned, 52), ms(Kind::Planner, 1)];
//! let r = row("medium", 500, &results, &serde_json::Value::Null).unwrap();
//! let summary = summarize(std::slice::from_ref(&r));
//! assert!(summary.rayon_ok && summary.sequential_ok && summary.oracle_worst_ok);
//! let table = render(&[r], &summary);
//! let line = table.lines().find(|l| l.starts_with("medium")).unwrap();
//! assert!(line.contains("55.0 ms") && line.contains("1.10✓"));
//! ```

use crate::grid::PoolConfig;
use crate::stats::{geomean, median, ratio, worst};
use serde::Serialize;
use std::fmt::Write as _;

/// Version of the JSON document's layout; bumped when a field changes meaning.
///
/// ```
/// use amorsize_bench::{cli::run_suite, report::SCHEMA_VERSION, strategies::Settings};
/// use amorsize_bench::workloads::{Calibration, Size};
/// let report = run_suite(&[], Size::Tiny, Calibration::fixed(1.0), Settings::quick(2), |_, _| {})?;
/// let json = serde_json::to_value(&report).unwrap();
/// assert_eq!(json["schema_version"], SCHEMA_VERSION);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const SCHEMA_VERSION: u32 = 1;

/// The targets the suite checks (issue 4).
pub mod targets {
    /// auto / sequential on every workload.
    ///
    /// ```
    /// # use amorsize_bench::{grid::PoolConfig, report::*};
    /// # // A row from made-up medians in nanoseconds (the best pool setting is 2 workers × 4).
    /// # fn made_up(name: &str, seq: u64, rayon: u64, oracle: u64, auto: u64, planner: u64) -> Row {
    /// #     let r = |k: Kind, ns: u64| StrategyResult::new(format!("{k:?}"), k,
    /// #         (k == Kind::Pool).then_some(PoolConfig { workers: 2, chunk: 4 }), None, vec![ns; 5]);
    /// #     let v = [r(Kind::Sequential, seq), r(Kind::Rayon, rayon), r(Kind::Pool, oracle),
    /// #              r(Kind::Auto, auto), r(Kind::AutoPlanned, auto), r(Kind::Planner, planner)];
    /// #     row(name, 10, &v, &serde_json::Value::Null).unwrap()
    /// # }
    /// use amorsize_bench::report::targets::AUTO_SEQUENTIAL;
    /// // auto at 1.02× and 1.04× the plain loop's 1000 ns (rayon, oracle 1000 ns, planner 10 ns).
    /// let close = made_up("w", 1000, 1000, 1000, 1020, 10);
    /// let slower = made_up("w", 1000, 1000, 1000, 1040, 10);
    /// assert!(close.auto_sequential <= AUTO_SEQUENTIAL && close.marks.sequential);
    /// assert!(slower.auto_sequential > AUTO_SEQUENTIAL && !slower.marks.sequential);
    /// ```
    pub const AUTO_SEQUENTIAL: f64 = 1.03;
    /// auto / rayon (default) on every workload.
    ///
    /// ```
    /// # use amorsize_bench::{grid::PoolConfig, report::*};
    /// # // A row from made-up medians in nanoseconds (the best pool setting is 2 workers × 4).
    /// # fn made_up(name: &str, seq: u64, rayon: u64, oracle: u64, auto: u64, planner: u64) -> Row {
    /// #     let r = |k: Kind, ns: u64| StrategyResult::new(format!("{k:?}"), k,
    /// #         (k == Kind::Pool).then_some(PoolConfig { workers: 2, chunk: 4 }), None, vec![ns; 5]);
    /// #     let v = [r(Kind::Sequential, seq), r(Kind::Rayon, rayon), r(Kind::Pool, oracle),
    /// #              r(Kind::Auto, auto), r(Kind::AutoPlanned, auto), r(Kind::Planner, planner)];
    /// #     row(name, 10, &v, &serde_json::Value::Null).unwrap()
    /// # }
    /// use amorsize_bench::report::targets::AUTO_RAYON;
    /// // auto at 990 ns and 1010 ns against rayon's 1000 ns (made-up medians).
    /// let faster = made_up("w", 2000, 1000, 900, 990, 10);
    /// let slower = made_up("w", 2000, 1000, 900, 1010, 10);
    /// assert!(faster.auto_rayon <= AUTO_RAYON && faster.marks.rayon);
    /// assert!(slower.auto_rayon > AUTO_RAYON && !slower.marks.rayon);
    /// ```
    pub const AUTO_RAYON: f64 = 1.0;
    /// auto / oracle, geometric mean over the suite.
    ///
    /// ```
    /// # use amorsize_bench::{grid::PoolConfig, report::*};
    /// # // A row from made-up medians in nanoseconds (the best pool setting is 2 workers × 4).
    /// # fn made_up(name: &str, seq: u64, rayon: u64, oracle: u64, auto: u64, planner: u64) -> Row {
    /// #     let r = |k: Kind, ns: u64| StrategyResult::new(format!("{k:?}"), k,
    /// #         (k == Kind::Pool).then_some(PoolConfig { workers: 2, chunk: 4 }), None, vec![ns; 5]);
    /// #     let v = [r(Kind::Sequential, seq), r(Kind::Rayon, rayon), r(Kind::Pool, oracle),
    /// #              r(Kind::Auto, auto), r(Kind::AutoPlanned, auto), r(Kind::Planner, planner)];
    /// #     row(name, 10, &v, &serde_json::Value::Null).unwrap()
    /// # }
    /// use amorsize_bench::report::{summarize, targets::AUTO_ORACLE_GEOMEAN};
    /// // Two workloads at auto/oracle 1.0, and a third at 1.2 or at 1.24 (made-up medians).
    /// let at = |x| made_up("w", 2000, 2000, 1000, x, 10);
    /// let ok = summarize(&[at(1000), at(1000), at(1200)]);
    /// assert!(ok.auto_oracle.geomean.unwrap() <= AUTO_ORACLE_GEOMEAN && ok.oracle_geomean_ok);
    /// let miss = summarize(&[at(1000), at(1240)]); // geomean √1.24 ≈ 1.11
    /// assert!(miss.auto_oracle.geomean.unwrap() > AUTO_ORACLE_GEOMEAN && !miss.oracle_geomean_ok);
    /// assert!(miss.oracle_worst_ok); // each workload is still within the per-workload bound
    /// ```
    pub const AUTO_ORACLE_GEOMEAN: f64 = 1.10;
    /// auto / oracle, worst workload.
    ///
    /// ```
    /// # use amorsize_bench::{grid::PoolConfig, report::*};
    /// # // A row from made-up medians in nanoseconds (the best pool setting is 2 workers × 4).
    /// # fn made_up(name: &str, seq: u64, rayon: u64, oracle: u64, auto: u64, planner: u64) -> Row {
    /// #     let r = |k: Kind, ns: u64| StrategyResult::new(format!("{k:?}"), k,
    /// #         (k == Kind::Pool).then_some(PoolConfig { workers: 2, chunk: 4 }), None, vec![ns; 5]);
    /// #     let v = [r(Kind::Sequential, seq), r(Kind::Rayon, rayon), r(Kind::Pool, oracle),
    /// #              r(Kind::Auto, auto), r(Kind::AutoPlanned, auto), r(Kind::Planner, planner)];
    /// #     row(name, 10, &v, &serde_json::Value::Null).unwrap()
    /// # }
    /// use amorsize_bench::report::{summarize, targets::AUTO_ORACLE_WORST};
    /// // auto/oracle 1.2 on one workload, 1.3 on another (made-up medians).
    /// let a = made_up("a", 2000, 2000, 1000, 1200, 10);
    /// let b = made_up("b", 2000, 2000, 1000, 1300, 10);
    /// assert!(a.auto_oracle <= AUTO_ORACLE_WORST && a.marks.oracle);
    /// assert!(b.auto_oracle > AUTO_ORACLE_WORST && !b.marks.oracle);
    /// assert!(summarize(&[a.clone()]).oracle_worst_ok);
    /// assert!(!summarize(&[a, b]).oracle_worst_ok);
    /// ```
    pub const AUTO_ORACLE_WORST: f64 = 1.25;
    /// Sampling and planning as a share of auto's time…
    ///
    /// ```
    /// # use amorsize_bench::{grid::PoolConfig, report::*};
    /// # // A row from made-up medians in nanoseconds (the best pool setting is 2 workers × 4).
    /// # fn made_up(name: &str, seq: u64, rayon: u64, oracle: u64, auto: u64, planner: u64) -> Row {
    /// #     let r = |k: Kind, ns: u64| StrategyResult::new(format!("{k:?}"), k,
    /// #         (k == Kind::Pool).then_some(PoolConfig { workers: 2, chunk: 4 }), None, vec![ns; 5]);
    /// #     let v = [r(Kind::Sequential, seq), r(Kind::Rayon, rayon), r(Kind::Pool, oracle),
    /// #              r(Kind::Auto, auto), r(Kind::AutoPlanned, auto), r(Kind::Planner, planner)];
    /// #     row(name, 10, &v, &serde_json::Value::Null).unwrap()
    /// # }
    /// use amorsize_bench::report::targets::OVERHEAD;
    /// // auto runs 200 ms; the planner alone takes 2 ms (1%) or 6 ms (3%).
    /// let ms = 1_000_000;
    /// let cheap = made_up("w", 400 * ms, 300 * ms, 200 * ms, 200 * ms, 2 * ms);
    /// let dear = made_up("w", 400 * ms, 300 * ms, 200 * ms, 200 * ms, 6 * ms);
    /// assert!(cheap.judged_overhead() <= OVERHEAD && cheap.marks.overhead == Some(true));
    /// assert!(dear.judged_overhead() > OVERHEAD && dear.marks.overhead == Some(false));
    /// ```
    pub const OVERHEAD: f64 = 0.02;
    /// …on workloads whose auto run takes at least this long (seconds).
    ///
    /// ```
    /// # use amorsize_bench::{grid::PoolConfig, report::*};
    /// # // A row from made-up medians in nanoseconds (the best pool setting is 2 workers × 4).
    /// # fn made_up(name: &str, seq: u64, rayon: u64, oracle: u64, auto: u64, planner: u64) -> Row {
    /// #     let r = |k: Kind, ns: u64| StrategyResult::new(format!("{k:?}"), k,
    /// #         (k == Kind::Pool).then_some(PoolConfig { workers: 2, chunk: 4 }), None, vec![ns; 5]);
    /// #     let v = [r(Kind::Sequential, seq), r(Kind::Rayon, rayon), r(Kind::Pool, oracle),
    /// #              r(Kind::Auto, auto), r(Kind::AutoPlanned, auto), r(Kind::Planner, planner)];
    /// #     row(name, 10, &v, &serde_json::Value::Null).unwrap()
    /// # }
    /// use amorsize_bench::report::targets::OVERHEAD_MIN_SECS;
    /// // auto runs 50 ms or 200 ms, the planner 10% of it either way.
    /// let ms = 1_000_000;
    /// let short = made_up("w", 100 * ms, 100 * ms, 50 * ms, 50 * ms, 5 * ms);
    /// let long = made_up("w", 400 * ms, 400 * ms, 200 * ms, 200 * ms, 20 * ms);
    /// assert!(short.auto_s < OVERHEAD_MIN_SECS && short.marks.overhead.is_none()); // not judged
    /// assert!(long.auto_s >= OVERHEAD_MIN_SECS && long.marks.overhead == Some(false));
    /// ```
    pub const OVERHEAD_MIN_SECS: f64 = 0.1;
}

/// What kind of strategy a measured arm is.
///
/// ```
/// use amorsize_bench::report::{row, Kind, StrategyResult};
/// // Named in snake_case in the JSON report.
/// assert_eq!(serde_json::to_value(Kind::AutoPlanned).unwrap(), "auto_planned");
/// let r = StrategyResult::new("rayon min_len 16", Kind::RayonMinLen, None, Some(16), vec![5; 5]);
/// assert_eq!(r.kind, Kind::RayonMinLen);
/// // A row needs a sequential result, among others.
/// assert!(row("w", 10, &[r], &serde_json::Value::Null).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `iter().map().collect()`.
    Sequential,
    /// `par_iter().map().collect()` on rayon's default pool.
    Rayon,
    /// rayon with `with_min_len(min_len)`.
    RayonMinLen,
    /// amorsize's pool with a fixed (workers, chunk) from the grid.
    Pool,
    /// `amorsize::par_map` with its call-site memory cleared before each run (outside the
    /// timer), so sampling and planning are included.
    Auto,
    /// `amorsize::par_map` at a call site it remembers (its memory kept between runs).
    AutoRemembered,
    /// A plan made once outside the timer, then `Plan::execute`.
    AutoPlanned,
    /// `amorsize::optimize` alone (sampling and planning, no execution): auto's overhead.
    Planner,
    /// Each `optimize` run's time less the useful work of the items its own sample ran
    /// (`sample.items × sample.mean` from that run's plan): auto's net overhead. Derived from
    /// the planner's runs, not run separately.
    PlannerNet,
}

/// One measured strategy of one workload.
///
/// ```
/// use amorsize_bench::{grid::PoolConfig, report::{Kind, StrategyResult}};
/// let pool = PoolConfig { workers: 2, chunk: 64 };
/// let r = StrategyResult::new("pool w2 c64", Kind::Pool, Some(pool), None, vec![4_000, 2_000, 3_000]);
/// assert_eq!(r.samples_ns, [4_000, 2_000, 3_000]); // in the order they ran
/// assert!((r.median_s - 3e-6).abs() < 1e-15);
/// assert!((r.min_s - 2e-6).abs() < 1e-15 && (r.max_s - 4e-6).abs() < 1e-15);
/// assert_eq!(r.pool, Some(pool));
/// assert!(StrategyResult::new("none", Kind::Pool, None, None, vec![]).median_s.is_nan());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategyResult {
    /// Label as printed (e.g. `pool w2 c64`).
    pub label: String,
    /// What it is.
    pub kind: Kind,
    /// The pool setting, for [`Kind::Pool`].
    pub pool: Option<PoolConfig>,
    /// The `with_min_len`, for [`Kind::RayonMinLen`].
    pub min_len: Option<usize>,
    /// Every measured run, in nanoseconds, in the order they ran.
    pub samples_ns: Vec<u64>,
    /// Median of the samples, in seconds.
    pub median_s: f64,
    /// Fastest sample, in seconds.
    pub min_s: f64,
    /// Slowest sample, in seconds.
    pub max_s: f64,
}

impl StrategyResult {
    /// A result from its samples (the median is computed here).
    ///
    /// ```
    /// use amorsize_bench::report::{Kind, StrategyResult};
    /// let r = StrategyResult::new("sequential", Kind::Sequential, None, None, vec![3, 1, 2]);
    /// assert_eq!(r.median_s, 2e-9);
    /// assert!(r.min_s < r.median_s && r.median_s < r.max_s);
    /// ```
    pub fn new(
        label: impl Into<String>,
        kind: Kind,
        pool: Option<PoolConfig>,
        min_len: Option<usize>,
        samples_ns: Vec<u64>,
    ) -> Self {
        let secs: Vec<f64> = samples_ns.iter().map(|&n| n as f64 * 1e-9).collect();
        StrategyResult {
            label: label.into(),
            kind,
            pool,
            min_len,
            median_s: median(&secs).unwrap_or(f64::NAN),
            min_s: secs.iter().copied().reduce(f64::min).unwrap_or(f64::NAN),
            max_s: secs.iter().copied().reduce(f64::max).unwrap_or(f64::NAN),
            samples_ns,
        }
    }
}

/// The plan auto-planned used (made once by `amorsize::optimize`).
///
/// ```
/// use amorsize_bench::{cli::run_workload, strategies::Settings, workloads::*};
/// let r = run_workload(&by_name("tiny-n")?, Size::Tiny, &Calibration::fixed(1.0), Settings::quick(2))?;
/// let plan = &r.plan;
/// assert!(plan.executor == "Sequential" || plan.executor == "Threads");
/// assert!(plan.workers >= 1 && plan.chunk_size >= 1);
/// assert!(!plan.text.is_empty() && plan.diagnostics.is_object());
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanSummary {
    /// `Sequential` or `Threads`.
    pub executor: String,
    /// Workers.
    pub workers: usize,
    /// Items per chunk.
    pub chunk_size: usize,
    /// The planner's predicted speedup.
    pub predicted_speedup: f64,
    /// The plan as the library prints it (`Display`).
    pub text: String,
    /// The plan's diagnostics as the library serialises them.
    pub diagnostics: serde_json::Value,
}

/// A pool setting tried while screening the grid, with its fastest screening time.
///
/// ```
/// use amorsize_bench::{cli::run_workload, grid::pool_grid, strategies::Settings, workloads::*};
/// let r = run_workload(&by_name("tiny-n")?, Size::Tiny, &Calibration::fixed(1.0), Settings::quick(2))?;
/// // Every setting of the quick grid for 100 items on 2 cores, in grid order.
/// let pools: Vec<_> = r.screened.iter().map(|s| s.pool).collect();
/// assert_eq!(pools, pool_grid(100, 2, false, 4));
/// assert!(r.screened.iter().all(|s| s.best_s.is_finite() && s.best_s >= 0.0));
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Screened {
    /// The setting.
    pub pool: PoolConfig,
    /// Its fastest screening run, in seconds.
    pub best_s: f64,
}

/// Per-row pass/fail of the targets.
///
/// ```
/// # use amorsize_bench::{grid::PoolConfig, report::*};
/// # // A row from made-up medians in nanoseconds (the best pool setting is 2 workers × 4).
/// # fn made_up(name: &str, seq: u64, rayon: u64, oracle: u64, auto: u64, planner: u64) -> Row {
/// #     let r = |k: Kind, ns: u64| StrategyResult::new(format!("{k:?}"), k,
/// #         (k == Kind::Pool).then_some(PoolConfig { workers: 2, chunk: 4 }), None, vec![ns; 5]);
/// #     let v = [r(Kind::Sequential, seq), r(Kind::Rayon, rayon), r(Kind::Pool, oracle),
/// #              r(Kind::Auto, auto), r(Kind::AutoPlanned, auto), r(Kind::Planner, planner)];
/// #     row(name, 10, &v, &serde_json::Value::Null).unwrap()
/// # }
/// use amorsize_bench::report::Marks;
/// // auto 900 ns: faster than sequential (1000), slower than rayon (800), 1.2× the oracle (750).
/// let r = made_up("w", 1000, 800, 750, 900, 10);
/// let want = Marks { sequential: true, rayon: false, oracle: true, overhead: None };
/// assert_eq!(r.marks, want); // overhead: auto ran under 100 ms
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Marks {
    /// auto/sequential ≤ 1.03.
    pub sequential: bool,
    /// auto/rayon ≤ 1.0.
    pub rayon: bool,
    /// auto/oracle ≤ 1.25 (the per-workload bound).
    pub oracle: bool,
    /// overhead ≤ 2% (the net overhead where known, else the gross one), or `None` when auto
    /// ran under 100 ms (the target does not apply).
    pub overhead: Option<bool>,
}

/// The figures of one workload: medians and the ratios the issue asks for.
///
/// ```
/// use amorsize_bench::{grid::PoolConfig, report::{row, Kind, StrategyResult}};
/// let pool = Some(PoolConfig { workers: 2, chunk: 8 });
/// let us = |k, t: u64, min_len| StrategyResult::new("", k, pool, min_len, vec![t * 1_000; 5]);
/// let v = [us(Kind::Sequential, 100, None), us(Kind::Rayon, 80, None), us(Kind::RayonMinLen, 40, Some(16)),
///          us(Kind::Pool, 50, None), us(Kind::Auto, 60, None), us(Kind::AutoPlanned, 55, None),
///          us(Kind::Planner, 3, None)];
/// let r = row("w", 1000, &v, &serde_json::Value::Null).unwrap();
/// assert_eq!((r.rayon_best_min_len, r.oracle), (16, pool.unwrap()));
/// assert!((r.auto_rayon - 0.75).abs() < 1e-9 && (r.auto_rayon_best - 1.5).abs() < 1e-9);
/// assert!((r.overhead - 0.05).abs() < 1e-9);
/// assert!(r.auto_remembered_s.is_nan() && r.overhead_net.is_nan()); // not measured, not known
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Workload name.
    pub workload: String,
    /// Items.
    pub items: usize,
    /// Median of the plain loop, seconds.
    pub sequential_s: f64,
    /// Median of rayon's default `par_iter`, seconds.
    pub rayon_s: f64,
    /// Best median over the `with_min_len` grid, seconds.
    pub rayon_best_s: f64,
    /// The `with_min_len` that gave it.
    pub rayon_best_min_len: usize,
    /// Best median over the pool grid (the oracle), seconds.
    pub oracle_s: f64,
    /// The pool setting that gave it.
    pub oracle: PoolConfig,
    /// Median of `par_map`, seconds.
    pub auto_s: f64,
    /// Median of `Plan::execute` with a plan made once, seconds.
    pub auto_planned_s: f64,
    /// Median of `par_map` at a remembered call site, seconds (NaN if not measured).
    pub auto_remembered_s: f64,
    /// Median of `amorsize::optimize` alone, seconds.
    pub planner_s: f64,
    /// auto / oracle.
    pub auto_oracle: f64,
    /// auto / rayon (default).
    pub auto_rayon: f64,
    /// auto / rayon at its best `with_min_len`.
    pub auto_rayon_best: f64,
    /// auto / sequential.
    pub auto_sequential: f64,
    /// auto-planned / oracle.
    pub planned_oracle: f64,
    /// auto-remembered / oracle (NaN if not measured).
    pub remembered_oracle: f64,
    /// planner / auto: the share of auto's time spent sampling and planning (an upper bound,
    /// see [`net_overhead`]).
    pub overhead: f64,
    /// The same without the sampled items' own work, which par_map keeps and does not repeat
    /// (NaN when the plan's diagnostics do not say how much the sample ran).
    pub overhead_net: f64,
    /// Targets met on this row.
    pub marks: Marks,
}

impl Row {
    /// The overhead share the target is judged on: the net one where the plan's diagnostics
    /// allow it, else the gross one.
    ///
    /// ```
    /// # use amorsize_bench::{grid::PoolConfig, report::*};
    /// # let v = |k, t: u64| StrategyResult::new("", k, Some(PoolConfig { workers: 1, chunk: 1 }), None, vec![t; 5]);
    /// # let all = [Kind::Sequential, Kind::Rayon, Kind::Pool, Kind::Auto, Kind::AutoPlanned];
    /// # let mut res: Vec<_> = all.into_iter().map(|k| v(k, 1000)).collect();
    /// # res.push(v(Kind::Planner, 100));
    /// let gross = row("w", 1, &res, &serde_json::Value::Null).unwrap();
    /// assert_eq!(gross.judged_overhead(), gross.overhead);
    /// let diag = serde_json::json!({ "sample": { "items": 1, "mean": 5e-8 } });
    /// let net = row("w", 1, &res, &diag).unwrap();
    /// assert!(net.judged_overhead() < net.overhead);
    /// ```
    pub fn judged_overhead(&self) -> f64 {
        if self.overhead_net.is_finite() {
            self.overhead_net
        } else {
            self.overhead
        }
    }
}

fn best_of(results: &[StrategyResult], kind: Kind) -> Option<&StrategyResult> {
    results
        .iter()
        .filter(|r| r.kind == kind && r.median_s.is_finite())
        .min_by(|a, b| a.median_s.total_cmp(&b.median_s))
}

/// Time spent by `optimize` beyond the useful work of the sampled items, as a share of
/// `auto_s`: `(planner_s − sample.items × sample.mean) / auto_s`, at least 0. `sample` is the
/// plan's diagnostics as JSON; `None` when it lacks `sample.items` or `sample.mean` (seconds).
///
/// ```
/// let d = serde_json::json!({ "sample": { "items": 10, "mean": 0.001 } });
/// let net = amorsize_bench::report::net_overhead(0.012, 1.0, &d).unwrap();
/// assert!((net - 0.002).abs() < 1e-12);
/// assert_eq!(amorsize_bench::report::net_overhead(0.012, 1.0, &serde_json::json!({})), None);
/// ```
pub fn net_overhead(planner_s: f64, auto_s: f64, diagnostics: &serde_json::Value) -> Option<f64> {
    let items = diagnostics.pointer("/sample/items")?.as_f64()?;
    let mean = diagnostics.pointer("/sample/mean")?.as_f64()?;
    let net = (planner_s - items * mean).max(0.0);
    ratio(net, auto_s)
}

/// Builds a workload's row from its strategies' results; `None` when one of the strategies
/// the row needs (sequential, rayon, a pool setting, auto, auto-planned, planner) is missing.
///
/// The rayon column is the default `par_iter`; "rayon best" is the best of the default and the
/// `with_min_len` grid.
///
/// ```
/// use amorsize_bench::grid::PoolConfig;
/// use amorsize_bench::report::{row, Kind, StrategyResult};
/// let ms = |k, t: u64| StrategyResult::new(format!("{k:?}"), k, None, None, vec![t * 1_000_000; 5]);
/// let mut v = vec![ms(Kind::Sequential, 100), ms(Kind::Rayon, 60), ms(Kind::Auto, 55),
///                  ms(Kind::AutoPlanned, 52), ms(Kind::Planner, 1)];
/// let diag = serde_json::Value::Null; // the plan's diagnostics, as JSON
/// assert!(row("w", 10, &v, &diag).is_none()); // no pool setting measured yet
/// v.push(StrategyResult::new("pool", Kind::Pool, Some(PoolConfig { workers: 2, chunk: 5 }), None,
///                            vec![50_000_000; 5]));
/// let r = row("w", 10, &v, &diag).unwrap();
/// assert!((r.auto_oracle - 1.1).abs() < 1e-9 && r.marks.oracle);
/// assert!((r.auto_sequential - 0.55).abs() < 1e-9 && r.marks.sequential);
/// ```
pub fn row(
    workload: &str,
    items: usize,
    results: &[StrategyResult],
    diagnostics: &serde_json::Value,
) -> Option<Row> {
    let seq = best_of(results, Kind::Sequential)?.median_s;
    let rayon = best_of(results, Kind::Rayon)?.median_s;
    let rayon_best = [
        best_of(results, Kind::Rayon),
        best_of(results, Kind::RayonMinLen),
    ]
    .into_iter()
    .flatten()
    .min_by(|a, b| a.median_s.total_cmp(&b.median_s))?;
    let oracle = best_of(results, Kind::Pool)?;
    let auto = best_of(results, Kind::Auto)?.median_s;
    let planned = best_of(results, Kind::AutoPlanned)?.median_s;
    let planner = best_of(results, Kind::Planner)?.median_s;
    let remembered = best_of(results, Kind::AutoRemembered).map_or(f64::NAN, |r| r.median_s);
    let r = |a, b| ratio(a, b).unwrap_or(f64::NAN);
    let overhead = r(planner, auto);
    let auto_sequential = r(auto, seq);
    let auto_rayon = r(auto, rayon);
    let auto_oracle = r(auto, oracle.median_s);
    // Each run's own net time where it was recorded (a sample's size varies between runs);
    // else the planner's median less the work of the one plan's sample.
    let overhead_net = match best_of(results, Kind::PlannerNet) {
        Some(n) => r(n.median_s, auto),
        None => net_overhead(planner, auto, diagnostics).unwrap_or(f64::NAN),
    };
    let judged = if overhead_net.is_finite() {
        overhead_net
    } else {
        overhead
    };
    Some(Row {
        workload: workload.to_string(),
        items,
        sequential_s: seq,
        rayon_s: rayon,
        rayon_best_s: rayon_best.median_s,
        rayon_best_min_len: rayon_best.min_len.unwrap_or(1),
        oracle_s: oracle.median_s,
        oracle: oracle.pool?,
        auto_s: auto,
        auto_planned_s: planned,
        auto_remembered_s: remembered,
        planner_s: planner,
        auto_oracle,
        auto_rayon,
        auto_rayon_best: r(auto, rayon_best.median_s),
        auto_sequential,
        planned_oracle: r(planned, oracle.median_s),
        remembered_oracle: r(remembered, oracle.median_s),
        overhead,
        overhead_net,
        marks: Marks {
            sequential: auto_sequential <= targets::AUTO_SEQUENTIAL,
            rayon: auto_rayon <= targets::AUTO_RAYON,
            oracle: auto_oracle <= targets::AUTO_ORACLE_WORST,
            overhead: (auto >= targets::OVERHEAD_MIN_SECS).then_some(judged <= targets::OVERHEAD),
        },
    })
}

/// Geometric mean and worst case of one ratio over the suite.
///
/// ```
/// # use amorsize_bench::{grid::PoolConfig, report::*};
/// # // A row from made-up medians in nanoseconds (the best pool setting is 2 workers × 4).
/// # fn made_up(name: &str, seq: u64, rayon: u64, oracle: u64, auto: u64, planner: u64) -> Row {
/// #     let r = |k: Kind, ns: u64| StrategyResult::new(format!("{k:?}"), k,
/// #         (k == Kind::Pool).then_some(PoolConfig { workers: 2, chunk: 4 }), None, vec![ns; 5]);
/// #     let v = [r(Kind::Sequential, seq), r(Kind::Rayon, rayon), r(Kind::Pool, oracle),
/// #              r(Kind::Auto, auto), r(Kind::AutoPlanned, auto), r(Kind::Planner, planner)];
/// #     row(name, 10, &v, &serde_json::Value::Null).unwrap()
/// # }
/// use amorsize_bench::report::summarize;
/// // auto/oracle 1.0 on "a", 1.21 on "b" (made-up medians).
/// let s = summarize(&[made_up("a", 900, 900, 1000, 1000, 10), made_up("b", 900, 900, 1000, 1210, 10)]);
/// let a = &s.auto_oracle;
/// assert!((a.geomean.unwrap() - 1.1).abs() < 1e-9 && (a.mean.unwrap() - 1.105).abs() < 1e-9);
/// assert!((a.worst.unwrap() - 1.21).abs() < 1e-9 && a.worst_workload.as_deref() == Some("b"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Aggregate {
    /// Geometric mean over the workloads (`None` if a ratio is missing or zero).
    pub geomean: Option<f64>,
    /// Arithmetic mean over the workloads (`None` if a value is missing); the summary prints it
    /// for the overhead share, which can be 0.
    pub mean: Option<f64>,
    /// The largest ratio.
    pub worst: Option<f64>,
    /// The workload that gave it.
    pub worst_workload: Option<String>,
}

fn aggregate(rows: &[Row], pick: impl Fn(&Row) -> f64) -> Aggregate {
    let xs: Vec<f64> = rows.iter().map(&pick).collect();
    let w = worst(&xs);
    let finite = !xs.is_empty() && xs.iter().all(|x| x.is_finite());
    Aggregate {
        geomean: geomean(&xs),
        mean: finite.then(|| xs.iter().sum::<f64>() / xs.len() as f64),
        worst: w.map(|(_, x)| x),
        worst_workload: w.map(|(i, _)| rows[i].workload.clone()),
    }
}

/// The suite summary: each ratio's geometric mean and worst case, and the verdicts.
///
/// ```
/// # use amorsize_bench::{grid::PoolConfig, report::*};
/// # // A row from made-up medians in nanoseconds (the best pool setting is 2 workers × 4).
/// # fn made_up(name: &str, seq: u64, rayon: u64, oracle: u64, auto: u64, planner: u64) -> Row {
/// #     let r = |k: Kind, ns: u64| StrategyResult::new(format!("{k:?}"), k,
/// #         (k == Kind::Pool).then_some(PoolConfig { workers: 2, chunk: 4 }), None, vec![ns; 5]);
/// #     let v = [r(Kind::Sequential, seq), r(Kind::Rayon, rayon), r(Kind::Pool, oracle),
/// #              r(Kind::Auto, auto), r(Kind::AutoPlanned, auto), r(Kind::Planner, planner)];
/// #     row(name, 10, &v, &serde_json::Value::Null).unwrap()
/// # }
/// use amorsize_bench::report::summarize;
/// // "b" is 5% slower than its plain loop; both beat rayon and meet the oracle targets.
/// let rows = [made_up("a", 1000, 1000, 900, 950, 10), made_up("b", 1000, 1100, 950, 1050, 10)];
/// let s = summarize(&rows);
/// assert!(!s.sequential_ok && s.rayon_ok && s.oracle_geomean_ok && s.oracle_worst_ok);
/// assert_eq!(s.auto_sequential.worst_workload.as_deref(), Some("b"));
/// assert!(s.overhead_ok && s.overhead_long.worst.is_none()); // no workload ran 100 ms
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// auto / oracle.
    pub auto_oracle: Aggregate,
    /// auto / rayon (default).
    pub auto_rayon: Aggregate,
    /// auto / sequential.
    pub auto_sequential: Aggregate,
    /// auto-planned / oracle.
    pub planned_oracle: Aggregate,
    /// auto-remembered / oracle.
    pub remembered_oracle: Aggregate,
    /// overhead share ([`Row::judged_overhead`]), over the workloads where auto ran ≥ 100 ms.
    pub overhead_long: Aggregate,
    /// auto/oracle geomean ≤ 1.10.
    pub oracle_geomean_ok: bool,
    /// auto/oracle worst ≤ 1.25.
    pub oracle_worst_ok: bool,
    /// auto/sequential ≤ 1.03 everywhere.
    pub sequential_ok: bool,
    /// auto/rayon ≤ 1.0 everywhere.
    pub rayon_ok: bool,
    /// overhead ≤ 2% on every workload of ≥ 100 ms.
    pub overhead_ok: bool,
}

/// Summarises rows.
///
/// ```
/// let s = amorsize_bench::report::summarize(&[]);
/// assert_eq!(s.auto_oracle.geomean, None);
/// ```
pub fn summarize(rows: &[Row]) -> Summary {
    let long: Vec<Row> = rows
        .iter()
        .filter(|r| r.marks.overhead.is_some())
        .cloned()
        .collect();
    let auto_oracle = aggregate(rows, |r| r.auto_oracle);
    let le = |x: Option<f64>, t: f64| x.is_some_and(|x| x <= t);
    Summary {
        oracle_geomean_ok: le(auto_oracle.geomean, targets::AUTO_ORACLE_GEOMEAN),
        oracle_worst_ok: le(auto_oracle.worst, targets::AUTO_ORACLE_WORST),
        sequential_ok: !rows.is_empty() && rows.iter().all(|r| r.marks.sequential),
        rayon_ok: !rows.is_empty() && rows.iter().all(|r| r.marks.rayon),
        overhead_ok: long.iter().all(|r| r.marks.overhead == Some(true)),
        auto_oracle,
        auto_rayon: aggregate(rows, |r| r.auto_rayon),
        auto_sequential: aggregate(rows, |r| r.auto_sequential),
        planned_oracle: aggregate(rows, |r| r.planned_oracle),
        remembered_oracle: aggregate(rows, |r| r.remembered_oracle),
        overhead_long: aggregate(&long, Row::judged_overhead),
    }
}

/// How par_map's call-site memory served the calls of one workload's measurement (warm-up
/// included; auto forgets its call site before each of its runs, auto-remembered has a call
/// site of its own that it never forgets).
///
/// ```
/// use amorsize_bench::{cli::run_workload, strategies::Settings, workloads::*};
/// let settings = Settings::quick(2);
/// let r = run_workload(&by_name("tiny-n")?, Size::Tiny, &Calibration::fixed(1.0), settings)?;
/// let c = r.par_map_cache;
/// // Two par_map arms (auto, auto-remembered), each run in the warm-up and every measured round.
/// assert_eq!(c.plain + c.probed + c.sampled, 2 * (settings.warmup + r.runs) as u64);
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ParMapCache {
    /// Calls that ran the plain loop at once (a remembered sequential site).
    pub plain: u64,
    /// Calls that measured a short probe and reused what was remembered.
    pub probed: u64,
    /// Calls that sampled in full.
    pub sampled: u64,
    /// Calls whose long first item had helpers start on the items after it (counted under one
    /// of the above as well).
    pub helped: u64,
    /// Parallel jobs (par_map's and the plan's) that their caller finished alone, their items
    /// holding each other up (`amorsize::pool::Solo`).
    pub solo: u64,
}

/// One workload's complete results.
///
/// ```
/// use amorsize_bench::{cli::run_workload, report::Kind, strategies::Settings, workloads::*};
/// let w = by_name("big-output")?;
/// let r = run_workload(&w, Size::Tiny, &Calibration::fixed(1.0), Settings::quick(2))?;
/// assert_eq!((r.name.as_str(), r.description.as_str()), (w.name, w.description));
/// assert_eq!(r.items, items_for(w.name, Size::Tiny, 2));
/// assert!(r.runs >= 5);
/// let seq = r.strategies.iter().find(|s| s.kind == Kind::Sequential).unwrap();
/// assert_eq!(seq.samples_ns.len(), r.runs);
/// assert!(r.row.is_some());
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadResult {
    /// Name.
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Items.
    pub items: usize,
    /// Measured rounds per strategy (after the warm-up rounds, `Settings::warmup`).
    pub runs: usize,
    /// The plan auto-planned used.
    pub plan: PlanSummary,
    /// How par_map's call-site memory served the measured calls.
    pub par_map_cache: ParMapCache,
    /// Every pool setting screened, with its fastest screening time.
    pub screened: Vec<Screened>,
    /// Every measured strategy.
    pub strategies: Vec<StrategyResult>,
    /// The ratios.
    pub row: Option<Row>,
}

/// The whole run: what `--json` writes.
///
/// ```
/// use amorsize_bench::{cli::run_suite, strategies::Settings, workloads::*};
/// let picked = [by_name("tiny-n")?];
/// let rep = run_suite(&picked, Size::Tiny, Calibration::fixed(1.0), Settings::quick(2), |_, _| {})?;
/// assert_eq!((rep.size, rep.workloads.len()), (Size::Tiny, 1));
/// assert!(rep.elapsed_s > 0.0 && rep.machine.cores.effective >= 1);
/// let json = serde_json::to_value(&rep).unwrap();
/// assert_eq!(json["workloads"][0]["name"], "tiny-n");
/// assert_eq!(json["calibration"]["ns_per_iter"], 1.0);
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `full` or `quick` (`tiny` in the crate's own tests).
    pub size: crate::workloads::Size,
    /// The machine (cores, memory, pressure) as `amorsize::system::info()` sees it.
    pub machine: amorsize::system::SystemInfo,
    /// The spin-loop calibration.
    pub calibration: crate::workloads::Calibration,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix_s: u64,
    /// Wall time of the whole run, seconds.
    pub elapsed_s: f64,
    /// Per workload.
    pub workloads: Vec<WorkloadResult>,
    /// Over the suite.
    pub summary: Summary,
}

/// A duration in seconds, printed with a unit that keeps three significant digits.
///
/// ```
/// use amorsize_bench::report::fmt_secs;
/// assert_eq!(fmt_secs(1.5), "1.50 s");
/// assert_eq!(fmt_secs(0.0123), "12.3 ms");
/// assert_eq!(fmt_secs(4.2e-6), "4.20 µs");
/// assert_eq!(fmt_secs(f64::NAN), "-");
/// ```
pub fn fmt_secs(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "-".into();
    }
    let (v, unit) = if s >= 1.0 {
        (s, "s")
    } else if s >= 1e-3 {
        (s * 1e3, "ms")
    } else if s >= 1e-6 {
        (s * 1e6, "µs")
    } else {
        (s * 1e9, "ns")
    };
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$} {unit}")
}

fn mark(ok: bool) -> char {
    if ok {
        '✓'
    } else {
        '✗'
    }
}

fn fmt_ratio(x: f64, ok: Option<bool>) -> String {
    let m = ok.map(mark).map(String::from).unwrap_or_else(|| " ".into());
    if x.is_finite() {
        format!("{x:.2}{m}")
    } else {
        format!("-{m}")
    }
}

/// The per-workload table followed by the summary, as printed.
///
/// Columns: medians of sequential, rayon (default), rayon at its best `with_min_len`, the oracle
/// (best pool setting, `w×c`), auto (`par_map`), auto-planned (`Plan::execute`), then the ratios
/// auto/oracle, auto/rayon, auto/sequential and the overhead share, each marked ✓/✗ against its
/// target (overhead only where auto runs ≥ 100 ms).
///
/// ```
/// use amorsize_bench::report::{render, summarize};
/// let text = render(&[], &summarize(&[]));
/// assert!(text.starts_with("workload"));
/// assert!(text.contains("auto/sequential"));
/// ```
pub fn render(rows: &[Row], summary: &Summary) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<14} {:>7} {:>9} {:>9} {:>16} {:>19} {:>9} {:>9} {:>9} {:>7} {:>7} {:>7} {:>11}",
        "workload",
        "items",
        "seq",
        "rayon",
        "rayon* (min)",
        "oracle (w×c)",
        "auto",
        "planned",
        "remembered",
        "a/orc",
        "a/ray",
        "a/seq",
        "ovh% g/net"
    );
    for r in rows {
        let pc = |x: f64| {
            if x.is_finite() {
                format!("{:.1}", x * 100.0)
            } else {
                "-".into()
            }
        };
        let ovh = format!(
            "{}/{}{}",
            pc(r.overhead),
            pc(r.overhead_net),
            r.marks.overhead.map(mark).unwrap_or(' ')
        );
        let _ = writeln!(
            s,
            "{:<14} {:>7} {:>9} {:>9} {:>16} {:>19} {:>9} {:>9} {:>9} {:>7} {:>7} {:>7} {:>11}",
            r.workload,
            r.items,
            fmt_secs(r.sequential_s),
            fmt_secs(r.rayon_s),
            format!("{} ({})", fmt_secs(r.rayon_best_s), r.rayon_best_min_len),
            format!(
                "{} ({}×{})",
                fmt_secs(r.oracle_s),
                r.oracle.workers,
                r.oracle.chunk
            ),
            fmt_secs(r.auto_s),
            fmt_secs(r.auto_planned_s),
            fmt_secs(r.auto_remembered_s),
            fmt_ratio(r.auto_oracle, Some(r.marks.oracle)),
            fmt_ratio(r.auto_rayon, Some(r.marks.rayon)),
            fmt_ratio(r.auto_sequential, Some(r.marks.sequential)),
            ovh,
        );
    }
    let f = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.3}"));
    let agg = |name: &str, a: &Aggregate, verdict: String| {
        let (which, centre) = if name.contains("ovh") {
            ("mean   ", a.mean)
        } else {
            ("geomean", a.geomean)
        };
        format!(
            "{name:<17} {which} {:>6}   worst {:>6} ({})   {verdict}\n",
            f(centre),
            f(a.worst),
            a.worst_workload.as_deref().unwrap_or("-"),
        )
    };
    let pct = |a: &Aggregate| Aggregate {
        geomean: a.geomean.map(|x| x * 100.0),
        mean: a.mean.map(|x| x * 100.0),
        worst: a.worst.map(|x| x * 100.0),
        worst_workload: a.worst_workload.clone(),
    };
    s.push('\n');
    s += &agg(
        "auto/oracle",
        &summary.auto_oracle,
        format!(
            "target geomean ≤ {} {}, worst ≤ {} {}",
            targets::AUTO_ORACLE_GEOMEAN,
            mark(summary.oracle_geomean_ok),
            targets::AUTO_ORACLE_WORST,
            mark(summary.oracle_worst_ok)
        ),
    );
    s += &agg(
        "auto/rayon",
        &summary.auto_rayon,
        format!(
            "target ≤ {} everywhere {}",
            targets::AUTO_RAYON,
            mark(summary.rayon_ok)
        ),
    );
    s += &agg(
        "auto/sequential",
        &summary.auto_sequential,
        format!(
            "target ≤ {} everywhere {}",
            targets::AUTO_SEQUENTIAL,
            mark(summary.sequential_ok)
        ),
    );
    s += &agg("planned/oracle", &summary.planned_oracle, String::new());
    s += &agg(
        "remembered/oracle",
        &summary.remembered_oracle,
        String::new(),
    );
    s += &agg(
        "net ovh% ≥100ms",
        &pct(&summary.overhead_long),
        format!(
            "target ≤ {}% {}",
            targets::OVERHEAD * 100.0,
            mark(summary.overhead_ok)
        ),
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(
        seq: u64,
        rayon: u64,
        pool: &[(usize, usize, u64)],
        auto: u64,
    ) -> Vec<StrategyResult> {
        let mut v = vec![
            StrategyResult::new("sequential", Kind::Sequential, None, None, vec![seq; 5]),
            StrategyResult::new("rayon", Kind::Rayon, None, None, vec![rayon; 5]),
            StrategyResult::new(
                "rayon min 16",
                Kind::RayonMinLen,
                None,
                Some(16),
                vec![rayon / 2; 5],
            ),
            StrategyResult::new("auto", Kind::Auto, None, None, vec![auto; 5]),
            StrategyResult::new("planned", Kind::AutoPlanned, None, None, vec![auto; 5]),
            StrategyResult::new("planner", Kind::Planner, None, None, vec![auto / 100; 5]),
        ];
        for &(w, c, t) in pool {
            v.push(StrategyResult::new(
                format!("pool w{w} c{c}"),
                Kind::Pool,
                Some(PoolConfig {
                    workers: w,
                    chunk: c,
                }),
                None,
                vec![t; 5],
            ));
        }
        v
    }

    #[test]
    fn row_takes_the_best_pool_setting_as_oracle() {
        let r = row(
            "x",
            10,
            &results(1000, 800, &[(2, 4, 600), (2, 8, 500), (1, 10, 900)], 550),
            &serde_json::json!({ "sample": { "items": 5, "mean": 1e-9 } }),
        )
        .unwrap();
        assert_eq!(
            r.oracle,
            PoolConfig {
                workers: 2,
                chunk: 8
            }
        );
        assert!((r.auto_oracle - 1.1).abs() < 1e-9);
        assert!((r.auto_sequential - 0.55).abs() < 1e-9);
        assert!((r.auto_rayon - 550.0 / 800.0).abs() < 1e-9);
        assert_eq!(r.rayon_best_min_len, 16);
        assert!((r.overhead - 0.01).abs() < 1e-3);
        assert!(r.overhead_net.is_finite() && r.overhead_net >= 0.0 && r.overhead_net < r.overhead);
        assert!(r.auto_remembered_s.is_nan()); // not measured in this made-up set
        assert!(r.marks.sequential && r.marks.rayon && r.marks.oracle);
        assert_eq!(r.marks.overhead, None); // 550 ns is far below 100 ms
    }

    #[test]
    fn row_marks_misses() {
        let r = row(
            "x",
            10,
            &results(1000, 800, &[(2, 4, 500)], 1100),
            &serde_json::Value::Null,
        )
        .unwrap();
        assert!(!r.marks.sequential && !r.marks.rayon && !r.marks.oracle);
    }

    #[test]
    fn overhead_is_judged_only_on_long_workloads() {
        let long = 200_000_000; // 200 ms
        let r = row(
            "x",
            10,
            &results(long, long, &[(2, 4, long)], long),
            &serde_json::Value::Null,
        )
        .unwrap();
        assert_eq!(r.marks.overhead, Some(true)); // planner is 1% of auto
    }

    #[test]
    fn net_overhead_comes_from_each_planner_run_where_recorded() {
        // The one plan's sample ran 5 items of 1 ms, but the timed runs sampled more: their
        // own net time (here 2 ms of 200 ms) is what counts, not 10 ms − 5 ms.
        let mut res = results(
            400_000_000,
            200_000_000,
            &[(2, 4, 200_000_000)],
            200_000_000,
        );
        let five = |label, kind, ns| StrategyResult::new(label, kind, None, None, vec![ns; 5]);
        res.retain(|r| r.kind != Kind::Planner);
        res.push(five("planner", Kind::Planner, 10_000_000));
        let diag = serde_json::json!({ "sample": { "items": 5, "mean": 1e-3 } });
        let without = row("w", 10, &res, &diag).unwrap();
        assert!((without.overhead_net - 0.025).abs() < 1e-9);
        res.push(five("net", Kind::PlannerNet, 2_000_000));
        let with = row("w", 10, &res, &diag).unwrap();
        assert!((with.overhead_net - 0.01).abs() < 1e-9);
        assert!((with.overhead - 0.05).abs() < 1e-9);
    }

    #[test]
    fn row_without_a_needed_strategy_is_none() {
        let mut v = results(1, 1, &[(1, 1, 1)], 1);
        v.retain(|r| r.kind != Kind::Planner);
        assert!(row("x", 1, &v, &serde_json::Value::Null).is_none());
    }

    #[test]
    fn summary_aggregates_and_finds_the_worst() {
        let a = row(
            "a",
            10,
            &results(1000, 1000, &[(2, 4, 1000)], 1000),
            &serde_json::Value::Null,
        )
        .unwrap();
        let b = row(
            "b",
            10,
            &results(1000, 1000, &[(2, 4, 1000)], 1210),
            &serde_json::Value::Null,
        )
        .unwrap();
        let s = summarize(&[a, b]);
        assert!((s.auto_oracle.geomean.unwrap() - 1.1).abs() < 1e-9);
        assert!((s.auto_oracle.mean.unwrap() - 1.105).abs() < 1e-9);
        assert_eq!(s.auto_oracle.worst_workload.as_deref(), Some("b"));
        assert!(s.oracle_worst_ok);
        assert!(!s.sequential_ok);
        let text = render(&[], &s);
        assert!(text.contains("auto/oracle"));
    }

    #[test]
    fn table_lists_every_workload_with_marks() {
        let a = row(
            "alpha",
            10,
            &results(1000, 1000, &[(2, 4, 1000)], 900),
            &serde_json::Value::Null,
        )
        .unwrap();
        let b = row(
            "beta",
            10,
            &results(1000, 1000, &[(2, 4, 100)], 2000),
            &serde_json::Value::Null,
        )
        .unwrap();
        let s = summarize(&[a.clone(), b.clone()]);
        let t = render(&[a, b], &s);
        let alpha = t.lines().find(|l| l.starts_with("alpha")).unwrap();
        let beta = t.lines().find(|l| l.starts_with("beta")).unwrap();
        assert!(alpha.contains('✓') && !alpha.contains('✗'));
        assert!(beta.contains('✗'));
        assert!(t.contains("2×4"));
    }

    #[test]
    fn json_has_the_documented_fields() {
        let a = row(
            "a",
            10,
            &results(1000, 1000, &[(2, 4, 1000)], 1000),
            &serde_json::Value::Null,
        )
        .unwrap();
        let w = WorkloadResult {
            name: "a".into(),
            description: "d".into(),
            items: 10,
            runs: 5,
            plan: PlanSummary {
                executor: "Threads".into(),
                workers: 2,
                chunk_size: 4,
                predicted_speedup: 1.8,
                text: "Threads x2 chunk 4".into(),
                diagnostics: serde_json::json!({}),
            },
            par_map_cache: ParMapCache {
                plain: 0,
                probed: 6,
                sampled: 6,
                helped: 0,
                solo: 0,
            },
            screened: vec![Screened {
                pool: PoolConfig {
                    workers: 2,
                    chunk: 4,
                },
                best_s: 1e-6,
            }],
            strategies: results(1000, 1000, &[(2, 4, 1000)], 1000),
            row: Some(a.clone()),
        };
        let rep = Report {
            schema_version: SCHEMA_VERSION,
            size: crate::workloads::Size::Quick,
            machine: amorsize::system::detect(),
            calibration: crate::workloads::Calibration::fixed(1.0),
            started_unix_s: 0,
            elapsed_s: 1.0,
            summary: summarize(std::slice::from_ref(&a)),
            workloads: vec![w],
        };
        let v: serde_json::Value = serde_json::to_value(&rep).unwrap();
        for p in [
            "/schema_version",
            "/size",
            "/machine/cores/effective",
            "/machine/memory/total",
            "/calibration/ns_per_iter",
            "/workloads/0/strategies/0/samples_ns/4",
            "/workloads/0/strategies/6/pool/workers",
            "/workloads/0/row/auto_oracle",
            "/workloads/0/row/marks/overhead",
            "/workloads/0/plan/chunk_size",
            "/workloads/0/screened/0/best_s",
            "/summary/auto_oracle/geomean",
            "/summary/overhead_ok",
        ] {
            assert!(v.pointer(p).is_some(), "missing {p}");
        }
        assert_eq!(v.pointer("/size").unwrap(), "quick");
        assert_eq!(
            v.pointer("/workloads/0/strategies/0/kind").unwrap(),
            "sequential"
        );
    }
}
