//! The decision and its explanation.
//!
//! This module owns the policy: given what the [`sample`] measured, what the
//! [`system`] offers and what the pool's calibration costs, it chooses between
//! the plain loop and a warm thread pool, the number of workers and the chunk size, and says
//! why in a [`Diagnostics`] report. [`decide`] is the pure core (numbers in, plan out), unit
//! tested without a clock; [`Optimizer::optimize`] measures and then calls it.
//!
//! The rules, on top of the [`model`]'s minimum over `workers × chunk_size`:
//! - sequential when there are fewer than 2 items, when the whole job is predicted shorter than
//!   [`MIN_JOB_FAN_OUTS`] times the cost of waking one worker, or when the best predicted
//!   speedup is below `min_speedup`;
//! - no more workers than items, than `max_workers`, than a pool can hold
//!   ([`pool::MAX_WORKERS`](crate::pool::MAX_WORKERS)), nor than the work can feed (one per
//!   [`FAN_OUTS_PER_WORKER`] fan-out costs of work);
//! - compute-bound work (CPU fraction ≥ 0.8): at most the effective cores, divided by the
//!   cores one call uses by itself; blocking work: up to twice `cores / CPU fraction` (about
//!   that many progress at once, and the [`model`] says how much each one more adds);
//! - workers × memory per item stays under `memory_fraction` of the available memory;
//! - heterogeneous work (CV > 0.5): the chunk shrinks by `max(0.25, 1 − 0.5·CV)`; every chunk is
//!   bounded to last about `target_chunk_duration`.
//!
//! ```
//! let items = vec![41u64];
//! let plan = amorsize::optimize(&items, |x| x + 1)?;   // one item: nothing to share
//! assert_eq!(plan.executor(), amorsize::Executor::Sequential);
//! assert!(plan.to_string().contains("fewer than 2 items"));
//! println!("{plan}");
//! # Ok::<(), amorsize::Error>(())
//! ```

use crate::model::{self, Costs, Prediction, Workload};
use crate::pool::{ProgressFn, MAX_WORKERS};
use crate::sample::{self, fmt_secs, SampleSettings, SampleStats};
use crate::system::{self, CoreLimit};
use crate::{Error, Result};
use serde::{Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A job predicted shorter than this many fan-out costs runs sequentially.
///
/// ```
/// use amorsize::model::Costs;
/// use amorsize::plan::{decide, MachineFacts};
/// use amorsize::sample::SampleStats;
/// use amorsize::{Executor, Optimizer};
/// let costs = Costs { spawn: 55e-6, wake: 50e-6, dispatch: 1e-7 };
/// let opt = Optimizer::new().warm_pool(true);
/// let stats = SampleStats { count: 5, mean: 1e-6, cpu_fraction: 1.0, run_length: 1,
///     ..Default::default() };
/// // Items of 1 µs: the job must last 10 wake-ups (500 µs here) to be shared.
/// let items = (amorsize::plan::MIN_JOB_FAN_OUTS * costs.fan_out(2, true) / 1e-6) as usize;
/// let run = |n| decide(&opt, &stats, n, &MachineFacts::new(2, 1 << 30), &costs).executor();
/// assert_eq!(run(items * 9 / 10), Executor::Sequential);
/// assert_eq!(run(items * 10), Executor::Threads);
/// ```
pub const MIN_JOB_FAN_OUTS: f64 = 10.0;

/// Each worker must have at least this many fan-out costs of work to be worth waking.
///
/// ```
/// use amorsize::model::Costs;
/// use amorsize::plan::{decide, MachineFacts};
/// use amorsize::sample::SampleStats;
/// use amorsize::{Executor, Optimizer};
/// let costs = Costs { spawn: 55e-6, wake: 50e-6, dispatch: 1e-7 };
/// let stats = SampleStats { count: 5, mean: 1e-6, cpu_fraction: 1.0, run_length: 1,
///     ..Default::default() };
/// // 1.2 ms of work on 64 cores: each worker needs 4 wake-ups' worth (200 µs), so at most 6.
/// let opt = Optimizer::new().warm_pool(true);
/// let plan = decide(&opt, &stats, 1_200, &MachineFacts::new(64, 1 << 30), &costs);
/// let per_worker = amorsize::plan::FAN_OUTS_PER_WORKER * costs.fan_out(2, true);
/// assert_eq!(plan.executor(), Executor::Threads);
/// assert!(plan.workers() > 1 && plan.workers() as f64 <= 1.2e-3 / per_worker);
/// ```
pub const FAN_OUTS_PER_WORKER: f64 = 4.0;

/// CPU fraction at or above which work counts as compute-bound.
///
/// ```
/// use amorsize::model::Costs;
/// use amorsize::plan::{decide, MachineFacts};
/// use amorsize::sample::SampleStats;
/// use amorsize::{Executor, Optimizer};
/// let costs = Costs { spawn: 55e-6, wake: 50e-6, dispatch: 1e-7 };
/// use amorsize::plan::COMPUTE_BOUND;
/// let workers = |cpu_fraction| {
///     let stats = SampleStats { count: 5, mean: 1e-3, cpu_fraction, run_length: 1,
///         ..Default::default() };
///     decide(&Optimizer::new(), &stats, 10_000, &MachineFacts::new(4, 1 << 30), &costs).workers()
/// };
/// assert_eq!(workers(COMPUTE_BOUND), 4); // held to the cores
/// assert!(workers(COMPUTE_BOUND - 0.1) > 4); // partly waits: more workers than cores
/// ```
pub const COMPUTE_BOUND: f64 = 0.8;

/// Compute-bound work of at most this many items per effective core (and no threads of its
/// own) may run one worker per item, the operating system sharing the cores between them: a
/// last round of fewer items than cores would leave cores idle. 3 items of 30 ms on 2 cores
/// take two items' time on 2 workers and one and a half on 3; measured on the 2-core VM, on
/// rayon pools of each size, medians of 7: 3 × 30 ms 58.2 → 49.0 ms, 5 × 30 ms 87.9 → 75.5 ms,
/// 7 × 20 ms 76.6 → 70.2 ms, items of 10, 20 and 30 ms 40.1 → 38.8 ms. The model chooses
/// among the worker counts this allows (for an even count of equal items, the cores). Past a
/// few items per core the last round is a small part of the job, and the model's tail term
/// keeps the workers at the cores.
///
/// ```
/// use amorsize::model::Costs;
/// use amorsize::plan::{decide, MachineFacts, ALL_AT_ONCE_PER_CORE};
/// use amorsize::sample::SampleStats;
/// use amorsize::Optimizer;
/// let costs = Costs { spawn: 55e-6, wake: 50e-6, dispatch: 1e-7 };
/// let stats = SampleStats { count: 3, mean: 30e-3, cpu_fraction: 1.0, run_length: 1,
///     ..Default::default() };
/// let workers = |n| decide(&Optimizer::new(), &stats, n, &MachineFacts::new(2, 1 << 30), &costs).workers();
/// assert_eq!(workers(3), 3); // all at once: a round and a half
/// assert_eq!(workers(4), 2); // two full rounds on the cores
/// assert_eq!(workers(100 * ALL_AT_ONCE_PER_CORE), 2);
/// ```
pub const ALL_AT_ONCE_PER_CORE: usize = 4;

/// CPU fraction below which work counts as blocking.
///
/// ```
/// use amorsize::model::Costs;
/// use amorsize::plan::{decide, MachineFacts};
/// use amorsize::sample::SampleStats;
/// use amorsize::{Executor, Optimizer};
/// let costs = Costs { spawn: 55e-6, wake: 50e-6, dispatch: 1e-7 };
/// use amorsize::plan::BLOCKING;
/// let advice = |cpu_fraction| {
///     let stats = SampleStats { count: 5, mean: 1e-3, cpu_fraction, run_length: 1,
///         ..Default::default() };
///     let plan = decide(&Optimizer::new(), &stats, 1_000, &MachineFacts::new(2, 1 << 30), &costs);
///     plan.diagnostics().recommendations.join(" ")
/// };
/// assert!(advice(BLOCKING / 2.0).contains("mostly waits"));
/// assert!(!advice(BLOCKING).contains("mostly waits")); // partly blocking
/// ```
pub const BLOCKING: f64 = 0.5;

pub(crate) fn ser_secs<S: Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// How a plan runs the work.
///
/// ```
/// use amorsize::Executor;
/// let e = Executor::Threads;
/// assert_ne!(e, Executor::Sequential);
/// assert_eq!(serde_json::to_string(&e).unwrap(), "\"Threads\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Executor {
    /// The plain loop on the calling thread.
    Sequential,
    /// A warm thread pool.
    Threads,
}

/// The machine facts a plan used.
///
/// ```
/// use amorsize::plan::MachineFacts;
/// // A plan records the facts it used: here, a plan made for a 16-core machine on this one.
/// let facts = MachineFacts::new(16, 64 << 30);
/// let stats = amorsize::sample::SampleStats { count: 5, mean: 1e-3, cpu_fraction: 1.0,
///     run_length: 1, ..Default::default() };
/// let costs = amorsize::model::Costs { spawn: 55e-6, wake: 50e-6, dispatch: 1e-7 };
/// let plan = amorsize::plan::decide(&amorsize::Optimizer::new(), &stats, 10_000, &facts, &costs);
/// assert_eq!(plan.diagnostics().machine, facts);
/// assert_eq!(plan.workers(), 16);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MachineFacts {
    /// Effective cores.
    pub effective_cores: usize,
    /// Which limit gave the effective core count.
    pub limited_by: CoreLimit,
    /// Available memory in bytes (0 when unknown).
    pub available_memory: u64,
}

impl MachineFacts {
    /// The facts of this machine, from [`system::info`].
    ///
    /// ```
    /// let m = amorsize::plan::MachineFacts::detect();
    /// assert!(m.effective_cores >= 1);
    /// ```
    pub fn detect() -> Self {
        let i = system::info();
        MachineFacts {
            effective_cores: i.cores.effective.max(1),
            limited_by: i.cores.limited_by,
            available_memory: i.memory.available,
        }
    }

    /// Made-up facts, for tests and for planning for another machine.
    ///
    /// ```
    /// let m = amorsize::plan::MachineFacts::new(8, 16 << 30);
    /// assert_eq!(m.effective_cores, 8);
    /// ```
    pub fn new(effective_cores: usize, available_memory: u64) -> Self {
        MachineFacts {
            effective_cores: effective_cores.max(1),
            limited_by: CoreLimit::Logical,
            available_memory,
        }
    }
}

/// Everything a plan's decision was based on, and why it came out as it did.
///
/// ```
/// let items: Vec<u64> = (0..200_000).collect();
/// let plan = amorsize::optimize(&items, |x| x.wrapping_mul(0x9E37_79B9).count_ones())?;
/// let d = plan.diagnostics();
/// assert_eq!(d.items, items.len());
/// assert!(d.sample.count >= 1 && !d.reason.is_empty());
/// // A parallel plan carries the model's terms; a sequential one predicts the plain loop.
/// match &d.prediction {
///     Some(p) => assert_eq!(p.workers, plan.workers()),
///     None => assert_eq!(d.predicted_parallel, d.predicted_sequential),
/// }
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostics {
    /// Items in the input.
    pub items: usize,
    /// What the sample measured.
    pub sample: SampleStats,
    /// The machine.
    pub machine: MachineFacts,
    /// The measured costs of parallelism (seconds).
    pub costs: Costs,
    /// Whether the plan assumed a warm pool (no thread start-up).
    pub warm_pool: bool,
    /// Predicted time of the plain loop over the whole input.
    #[serde(serialize_with = "ser_secs")]
    pub predicted_sequential: Duration,
    /// Predicted time of the chosen plan.
    #[serde(serialize_with = "ser_secs")]
    pub predicted_parallel: Duration,
    /// The model's terms for the chosen plan (absent for a sequential plan).
    pub prediction: Option<Prediction>,
    /// The one-sentence reason for the decision.
    pub reason: String,
    /// Each constraint that bound the decision, as a sentence.
    pub constraints: Vec<String>,
    /// Advice to the user, as sentences.
    pub recommendations: Vec<String>,
}

/// The decision: how to run a workload, and why.
///
/// ```
/// let items: Vec<f64> = (0..50_000).map(|i| i as f64).collect();
/// let plan = amorsize::optimize(&items, |x| (0..50).fold(*x, |a, _| a.sqrt() + 1.0))?;
/// assert!(plan.workers() >= 1 && plan.chunk_size() >= 1);
/// assert!(plan.predicted_speedup() > 0.0);
/// let json = serde_json::to_string(&plan).unwrap();
/// assert!(json.contains("\"executor\""));
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    executor: Executor,
    workers: usize,
    chunk_size: usize,
    predicted_speedup: f64,
    diagnostics: Diagnostics,
    #[serde(skip)]
    pub(crate) settings: Optimizer,
}

impl Plan {
    /// This plan, with `why` first among the constraints that bound it (an adjustment made
    /// to the sample's figures before deciding, which the decision itself cannot tell).
    pub(crate) fn explained_first(mut self, why: String) -> Plan {
        self.diagnostics.constraints.insert(0, why);
        self
    }

    /// Sequential or threads.
    ///
    /// ```
    /// let plan = amorsize::optimize(&[1], |x| x * 2)?; // one item: nothing to share
    /// assert_eq!(plan.executor(), amorsize::Executor::Sequential);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn executor(&self) -> Executor {
        self.executor
    }

    /// Workers (1 for sequential).
    ///
    /// ```
    /// let plan = amorsize::optimize(&[1], |x| x * 2)?; // one item: sequential, whatever it costs
    /// assert_eq!(plan.workers(), 1);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Items per chunk (≥ 1).
    ///
    /// ```
    /// let plan = amorsize::optimize(&[1], |x| x * 2)?; // one item: sequential, whatever it costs
    /// assert!(plan.chunk_size() >= 1);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// Predicted speedup over the plain loop (1 for a sequential plan).
    ///
    /// ```
    /// let plan = amorsize::optimize(&[1], |x| x * 2)?; // one item: sequential, whatever it costs
    /// assert_eq!(plan.predicted_speedup(), 1.0);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn predicted_speedup(&self) -> f64 {
        self.predicted_speedup
    }

    /// The measurements and reasons behind the decision.
    ///
    /// ```
    /// let plan = amorsize::optimize(&Vec::<u8>::new(), |x| *x)?;
    /// assert!(plan.diagnostics().reason.contains("empty"));
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn diagnostics(&self) -> &Diagnostics {
        &self.diagnostics
    }

    /// A sequential plan with `reason`, for code that wants to bypass planning.
    ///
    /// ```
    /// let p = amorsize::Plan::sequential("chosen by the caller");
    /// assert_eq!(p.workers(), 1);
    /// ```
    pub fn sequential(reason: &str) -> Plan {
        let settings = Optimizer::new();
        let machine = MachineFacts::new(1, 0);
        let stats = sample::summarize(&[]);
        let mut p = decide(&settings, &stats, 0, &machine, &ZERO_COSTS);
        p.diagnostics.reason = reason.to_string();
        p
    }

    /// A threads plan with a fixed `workers × chunk_size`, for code that knows better.
    ///
    /// Errors with [`Error::InvalidConfig`] for 0 workers, a chunk size of 0, or more workers
    /// than a pool can hold ([`pool::MAX_WORKERS`](crate::pool::MAX_WORKERS)).
    ///
    /// ```
    /// let p = amorsize::Plan::threads(2, 64).unwrap();
    /// assert_eq!(p.executor(), amorsize::Executor::Threads);
    /// let out = p.execute(&[1, 2, 3], |x| x + 1).unwrap();
    /// assert_eq!(out, vec![2, 3, 4]);
    /// assert!(amorsize::Plan::threads(0, 1).is_err());
    /// assert!(amorsize::Plan::threads(amorsize::pool::MAX_WORKERS + 1, 1).is_err());
    /// ```
    pub fn threads(workers: usize, chunk_size: usize) -> Result<Plan> {
        if workers == 0 {
            return Err(Error::invalid_config("workers", "must be at least 1"));
        }
        if workers > MAX_WORKERS {
            return Err(Error::invalid_config(
                "workers",
                format!("{workers} is more than a pool holds (at most {MAX_WORKERS})"),
            ));
        }
        if chunk_size == 0 {
            return Err(Error::invalid_config("chunk_size", "must be at least 1"));
        }
        let mut p = Plan::sequential("fixed by the caller");
        p.executor = if workers > 1 {
            Executor::Threads
        } else {
            Executor::Sequential
        };
        p.workers = workers;
        p.chunk_size = chunk_size;
        Ok(p)
    }
}

const ZERO_COSTS: Costs = Costs {
    spawn: 0.0,
    wake: 0.0,
    dispatch: 0.0,
};

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.diagnostics;
        match self.executor {
            Executor::Sequential => writeln!(f, "plan: run sequentially — {}", d.reason)?,
            Executor::Threads => writeln!(
                f,
                "plan: {} threads, chunks of {} items, predicted speedup {:.2}× — {}",
                self.workers, self.chunk_size, self.predicted_speedup, d.reason
            )?,
        }
        if d.sample.count > 0 {
            writeln!(f, "  sample:    {}", d.sample)?;
        }
        writeln!(
            f,
            "  machine:   {} effective cores (limited by {}), {} available",
            d.machine.effective_cores,
            limit_name(d.machine.limited_by),
            fmt_bytes(d.machine.available_memory)
        )?;
        write!(
            f,
            "  predicted: {} items, sequential {}",
            d.items,
            fmt_secs(d.predicted_sequential.as_secs_f64())
        )?;
        if let Some(p) = &d.prediction {
            write!(
                f,
                ", parallel {} (start-up {}, work {}, dispatch {}, tail {})",
                fmt_secs(p.total),
                fmt_secs(p.startup),
                fmt_secs(p.work),
                fmt_secs(p.dispatch),
                fmt_secs(p.tail)
            )?;
        }
        writeln!(f)?;
        for c in &d.constraints {
            writeln!(f, "  - {c}")?;
        }
        for r in &d.recommendations {
            writeln!(f, "  advice: {r}")?;
        }
        Ok(())
    }
}

fn limit_name(l: CoreLimit) -> &'static str {
    match l {
        CoreLimit::Logical => "the logical CPUs",
        CoreLimit::Physical => "the physical cores",
        CoreLimit::CgroupQuota => "the cgroup CPU quota",
        CoreLimit::Affinity => "the affinity mask",
    }
}

/// Formats bytes as KiB/MiB/GiB.
///
/// ```
/// assert_eq!(amorsize::plan::fmt_bytes(3 << 30), "3.0 GiB");
/// assert_eq!(amorsize::plan::fmt_bytes(0), "unknown memory");
/// ```
pub fn fmt_bytes(b: u64) -> String {
    match b {
        0 => "unknown memory".into(),
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b => format!("{:.1} KiB", b as f64 / 1024.0),
    }
}

/// The planner's settings. Every setting has a default a user rarely changes.
///
/// ```
/// use std::time::Duration;
/// let opt = amorsize::Optimizer::new()
///     .sample_size(8)
///     .min_speedup(1.2)
///     .max_workers(16)
///     .target_chunk_duration(Duration::from_millis(2))
///     .memory_fraction(0.5)
///     .warm_pool(true);
/// opt.validate()?;
/// let plan = opt.optimize(&[1u8], |x| *x)?; // one item: nothing to share
/// assert_eq!(plan.workers(), 1);
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Clone)]
pub struct Optimizer {
    sample_size: usize,
    max_sample_time: Duration,
    min_speedup: f64,
    max_workers: Option<usize>,
    target_chunk_duration: Option<Duration>,
    memory_fraction: f64,
    warm_pool: bool,
    item_memory: Option<u64>,
    pub(crate) progress: Option<ProgressFn>,
}

impl fmt::Debug for Optimizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Optimizer")
            .field("sample_size", &self.sample_size)
            .field("max_sample_time", &self.max_sample_time)
            .field("min_speedup", &self.min_speedup)
            .field("max_workers", &self.max_workers)
            .field("target_chunk_duration", &self.target_chunk_duration)
            .field("memory_fraction", &self.memory_fraction)
            .field("warm_pool", &self.warm_pool)
            .field("item_memory", &self.item_memory)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Default for Optimizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Optimizer {
    /// The defaults: sample 5 items (up to 64 when costs vary), spend at most 50 ms or 2% of
    /// the predicted run sampling, require a 1.2× speedup, at most [`default_max_workers`]
    /// (512) workers, chunks of about 1 ms (or 100 × the dispatch cost), half the available memory,
    /// and a warm pool.
    ///
    /// ```
    /// assert!(amorsize::Optimizer::new().validate().is_ok());
    /// ```
    pub fn new() -> Self {
        Optimizer {
            sample_size: 5,
            max_sample_time: Duration::from_millis(50),
            min_speedup: 1.2,
            max_workers: None,
            target_chunk_duration: None,
            memory_fraction: 0.5,
            warm_pool: true,
            item_memory: None,
            progress: None,
        }
    }

    /// Measurements for a steady workload (1..=64).
    ///
    /// ```
    /// assert!(amorsize::Optimizer::new().sample_size(0).validate().is_err());
    /// ```
    pub fn sample_size(mut self, n: usize) -> Self {
        self.sample_size = n;
        self
    }

    /// The time sampling may always spend (it may spend 2% of the predicted run when larger).
    ///
    /// ```
    /// use std::time::Duration;
    /// let o = amorsize::Optimizer::new().max_sample_time(Duration::from_millis(10));
    /// assert!(o.validate().is_ok());
    /// assert!(amorsize::Optimizer::new().max_sample_time(Duration::ZERO).validate().is_err());
    /// ```
    pub fn max_sample_time(mut self, d: Duration) -> Self {
        self.max_sample_time = d;
        self
    }

    /// The smallest predicted speedup worth going parallel for (≥ 1).
    ///
    /// ```
    /// assert!(amorsize::Optimizer::new().min_speedup(0.5).validate().is_err());
    /// assert!(amorsize::Optimizer::new().min_speedup(f64::NAN).validate().is_err());
    /// ```
    pub fn min_speedup(mut self, s: f64) -> Self {
        self.min_speedup = s;
        self
    }

    /// The most workers a plan may use (≥ 1). Unset, [`default_max_workers`] of the effective
    /// cores (512, or the cores where more): only work that waits comes near it. Plans never use more than a
    /// pool can hold ([`pool::MAX_WORKERS`](crate::pool::MAX_WORKERS)), whatever this says.
    ///
    /// ```
    /// assert!(amorsize::Optimizer::new().max_workers(0).validate().is_err());
    /// ```
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = Some(n);
        self
    }

    /// How long one chunk should last (> 0).
    ///
    /// ```
    /// use std::time::Duration;
    /// assert!(amorsize::Optimizer::new().target_chunk_duration(Duration::ZERO).validate().is_err());
    /// ```
    pub fn target_chunk_duration(mut self, d: Duration) -> Self {
        self.target_chunk_duration = Some(d);
        self
    }

    /// Share of the available memory the workers may hold at once (in `(0, 1]`).
    ///
    /// ```
    /// assert!(amorsize::Optimizer::new().memory_fraction(1.5).validate().is_err());
    /// ```
    pub fn memory_fraction(mut self, f: f64) -> Self {
        self.memory_fraction = f;
        self
    }

    /// Assume a warm pool (no thread start-up cost), as `par_map`'s pool manager provides.
    ///
    /// ```
    /// let o = amorsize::Optimizer::new().warm_pool(false);
    /// assert!(o.validate().is_ok());
    /// ```
    pub fn warm_pool(mut self, warm: bool) -> Self {
        self.warm_pool = warm;
        self
    }

    /// Bytes one item holds at its peak, when the caller knows it (bounds the workers by memory).
    /// Without it, the sample measures it where the
    /// [`TrackingAllocator`](crate::alloc::TrackingAllocator) is installed.
    ///
    /// ```
    /// let items = vec![0u8; 64];
    /// let plan = amorsize::Optimizer::new().item_memory(1 << 40).optimize(&items, |x| *x)?;
    /// assert_eq!(plan.workers(), 1);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn item_memory(mut self, bytes: u64) -> Self {
        self.item_memory = Some(bytes);
        self
    }

    /// A progress callback for runs made with these settings (`par_map_with`, `Plan::execute`):
    /// called with items done, total and elapsed time, at most every ~100 ms.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// let last = Arc::new(AtomicUsize::new(0));
    /// let l = last.clone();
    /// let opt = amorsize::Optimizer::new().progress(move |p| l.store(p.done, Ordering::Relaxed));
    /// let out = amorsize::par_map_with(&opt, &[1, 2, 3], |x| x * 2)?;
    /// assert_eq!(out, vec![2, 4, 6]);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn progress(mut self, f: impl Fn(crate::pool::Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(std::sync::Arc::new(f));
        self
    }

    /// Checks every setting; the error names the first bad one.
    ///
    /// ```
    /// let e = amorsize::Optimizer::new().max_workers(0).validate().unwrap_err();
    /// assert!(e.to_string().contains("max_workers"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.sample_size == 0 || self.sample_size > sample::MAX_SAMPLE {
            return Err(Error::invalid_config(
                "sample_size",
                format!("{} is outside 1..={}", self.sample_size, sample::MAX_SAMPLE),
            ));
        }
        if self.max_sample_time.is_zero() {
            return Err(Error::invalid_config(
                "max_sample_time",
                "must be longer than zero",
            ));
        }
        if !self.min_speedup.is_finite() || self.min_speedup < 1.0 {
            return Err(Error::invalid_config(
                "min_speedup",
                format!("{} is not a finite number ≥ 1", self.min_speedup),
            ));
        }
        if self.max_workers == Some(0) {
            return Err(Error::invalid_config("max_workers", "must be at least 1"));
        }
        if self.target_chunk_duration.is_some_and(|d| d.is_zero()) {
            return Err(Error::invalid_config(
                "target_chunk_duration",
                "must be longer than zero",
            ));
        }
        if !self.memory_fraction.is_finite()
            || self.memory_fraction <= 0.0
            || self.memory_fraction > 1.0
        {
            return Err(Error::invalid_config(
                "memory_fraction",
                format!("{} is outside (0, 1]", self.memory_fraction),
            ));
        }
        Ok(())
    }

    /// Feeds every setting that changes a decision into `h` (the call-site memory's key).
    pub(crate) fn fingerprint<H: std::hash::Hasher>(&self, h: &mut H) {
        use std::hash::Hash;
        self.sample_size.hash(h);
        self.max_sample_time.hash(h);
        self.min_speedup.to_bits().hash(h);
        self.max_workers.hash(h);
        self.target_chunk_duration.hash(h);
        self.memory_fraction.to_bits().hash(h);
        self.warm_pool.hash(h);
        self.item_memory.hash(h);
    }

    pub(crate) fn sample_settings(&self) -> SampleSettings {
        SampleSettings {
            sample_size: self.sample_size,
            max_time: self.max_sample_time,
            ..SampleSettings::default()
        }
    }

    /// Sample settings that also know how parallel the run could be on this machine, so the
    /// sample stops early when it would cost a large share of a short parallel run.
    pub(crate) fn sample_settings_for(&self) -> SampleSettings {
        let cores = system::info().cores.effective.max(1);
        SampleSettings {
            cores,
            max_workers: self
                .max_workers
                .unwrap_or(default_max_workers(cores))
                .min(MAX_WORKERS),
            ..self.sample_settings()
        }
    }

    /// The `min_speedup` setting in force.
    pub(crate) fn min_speedup_set(&self) -> f64 {
        self.min_speedup
    }

    /// The `max_workers` setting as given (`None`: the default, at least the cores).
    pub(crate) fn max_workers_set(&self) -> Option<usize> {
        self.max_workers
    }

    pub(crate) fn warm(&self) -> bool {
        self.warm_pool
    }

    /// The target chunk duration in force: the setting, or the default derived from `costs`
    /// (100 × the dispatch cost, so dispatch stays under 1% of the work, within 0.5–5 ms).
    ///
    /// ```
    /// use amorsize::model::Costs;
    /// let c = Costs { spawn: 5e-5, wake: 5e-5, dispatch: 1e-7 };
    /// assert_eq!(amorsize::Optimizer::new().target_for(&c).as_micros(), 500);
    /// ```
    pub fn target_for(&self, costs: &Costs) -> Duration {
        self.target_chunk_duration.unwrap_or_else(|| {
            let d = if costs.dispatch.is_finite() {
                costs.dispatch.max(0.0) * 100.0
            } else {
                0.0
            };
            Duration::from_secs_f64(d.clamp(0.5e-3, 5e-3))
        })
    }

    /// Measures `f` on a sample of `items` and decides how to run it.
    ///
    /// Runs `f` on a few items (their results are discarded here; [`par_map`](crate::par_map)
    /// keeps them). An empty input gives a sequential plan; a panic in `f` gives
    /// `Err(Error::TaskPanicked)`.
    ///
    /// Items found to wait (on the CPU a small part of their time) are planned, as `par_map`
    /// starts them, from their share less what the kernel billed them for blocking while the
    /// machine's cores idled: run alone on the caller, a sleep of 100 µs is billed 15–18 µs
    /// of CPU on the 2-core VM for waking a core, side by side 2–4 µs. The plan's
    /// [`diagnostics`](Plan::diagnostics) show that share (500 such sleeps: 256 workers
    /// instead of 28–50, 2.2–2.7 ms a run of the plan instead of 2.2–3.8).
    ///
    /// ```
    /// let items: Vec<u64> = (0..1_000).collect();
    /// let plan = amorsize::Optimizer::new().sample_size(8).optimize(&items, |x| x * x)?;
    /// assert!(plan.diagnostics().sample.count >= 1);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn optimize<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(
        &self,
        items: &[T],
        f: F,
    ) -> Result<Plan> {
        self.validate()?;
        // Calibrate now (a few ms), so that the plan below uses the measured costs.
        let _ = crate::exec::costs();
        let s = sample::measure(items, &f, &self.sample_settings_for())?;
        Ok(crate::exec::plan_sampled(self, items.len(), &s))
    }

    /// Decides from a sample already taken, on this machine with the costs in force: the
    /// calibrated ones, or before calibration [`UNCALIBRATED`](crate::exec::UNCALIBRATED)
    /// (see [`is_calibrated`](crate::exec::is_calibrated)).
    pub(crate) fn plan_from(&self, items: usize, stats: &SampleStats) -> Plan {
        let machine = MachineFacts::detect();
        let costs = crate::exec::current_costs();
        decide(self, stats, items, &machine, &costs)
    }
}

/// The pure decision: from sample statistics, the item count, the machine and the costs.
///
/// No clock, no I/O: the unit tests drive it with made-up numbers. Never panics.
///
/// ```
/// use amorsize::plan::{decide, MachineFacts};
/// use amorsize::model::Costs;
/// use amorsize::sample::SampleStats;
/// let stats = SampleStats { count: 5, mean: 100e-6, cpu_fraction: 1.0, inner_parallelism: 1.0,
///     run_length: 1, ..Default::default() };
/// let costs = Costs { spawn: 55e-6, wake: 50e-6, dispatch: 1e-7 };
/// let plan = decide(&amorsize::Optimizer::new(), &stats, 10_000, &MachineFacts::new(2, 1 << 30), &costs);
/// assert_eq!(plan.executor(), amorsize::Executor::Threads);
/// assert_eq!(plan.workers(), 2);
/// ```
pub fn decide(
    settings: &Optimizer,
    stats: &SampleStats,
    items: usize,
    machine: &MachineFacts,
    costs: &Costs,
) -> Plan {
    let work = Workload {
        items,
        mean: stats.mean,
        cv: stats.cv,
        cpu_fraction: stats.cpu_fraction,
        inner_parallelism: stats.inner_parallelism,
        item_memory: settings.item_memory.or(stats.item_memory).map(|b| b as f64),
    }
    .sanitized();
    let warm = settings.warm_pool;
    let seq = work.sequential_time();
    let mut constraints = Vec::new();
    let mut recommendations = Vec::new();
    let mut diagnostics = Diagnostics {
        items,
        sample: stats.clone(),
        machine: machine.clone(),
        costs: *costs,
        warm_pool: warm,
        predicted_sequential: secs(seq),
        predicted_parallel: secs(seq),
        prediction: None,
        reason: String::new(),
        constraints: Vec::new(),
        recommendations: Vec::new(),
    };
    let sequential = |mut diagnostics: Diagnostics,
                      reason: String,
                      constraints: Vec<String>,
                      recommendations: Vec<String>| {
        diagnostics.reason = reason;
        diagnostics.constraints = constraints;
        diagnostics.recommendations = recommendations;
        Plan {
            executor: Executor::Sequential,
            workers: 1,
            chunk_size: items.max(1),
            predicted_speedup: 1.0,
            diagnostics,
            settings: settings.clone(),
        }
    };
    if items == 0 {
        return sequential(
            diagnostics,
            "the input is empty".into(),
            constraints,
            recommendations,
        );
    }
    if items < 2 {
        return sequential(
            diagnostics,
            "there are fewer than 2 items".into(),
            constraints,
            recommendations,
        );
    }
    let cores = machine.effective_cores.max(1);
    let fan_out = costs.fan_out(2, warm);
    if seq < MIN_JOB_FAN_OUTS * fan_out {
        recommendations.push(
            "the whole job is too short to share: call amorsize on larger batches of work".into(),
        );
        return sequential(
            diagnostics,
            format!(
                "the whole job ({}) is shorter than {}× the cost of starting one worker ({})",
                fmt_secs(seq),
                MIN_JOB_FAN_OUTS,
                fmt_secs(fan_out)
            ),
            constraints,
            recommendations,
        );
    }

    // ---- How many workers may take part.
    let max_workers = settings.max_workers.unwrap_or(default_max_workers(cores));
    let mut cap = max_workers;
    let mut bound = |cap: &mut usize, limit: usize, why: String| {
        let limit = limit.max(1);
        if limit < *cap {
            *cap = limit;
            constraints.push(why);
        }
    };
    bound(
        &mut cap,
        MAX_WORKERS,
        format!("workers capped at {MAX_WORKERS}: the most threads a pool holds"),
    );
    bound(
        &mut cap,
        items,
        format!("workers capped at {items} by the item count"),
    );
    let inner = work.inner_parallelism;
    let mut all_at_once = None;
    let cores_free = ((cores as f64 / inner).floor() as usize).max(1);
    if inner > 1.0 {
        recommendations.push(format!(
            "each call keeps ~{inner:.1} cores busy by itself (its own threads); \
             set its inner thread count to 1 to let amorsize spread the calls instead"
        ));
    }
    if work.cpu_fraction >= COMPUTE_BOUND {
        if inner <= 1.0 && items <= ALL_AT_ONCE_PER_CORE.saturating_mul(cores) {
            // A few items that compute: one worker each may share the cores, so that a last
            // round of fewer items than cores does not leave cores idle (the model says
            // whether it pays).
            all_at_once = Some(format!(
                "compute-bound work (CPU {:.0}%), {items} items on {cores} effective cores: up \
                 to one worker per item, the cores shared between them, where a last round of \
                 fewer items than cores would leave cores idle",
                work.cpu_fraction * 100.0
            ));
        } else {
            let why = if inner > 1.0 {
                format!(
                    "workers capped at {cores_free}: compute-bound work, {cores} effective \
                     cores divided by the ~{inner:.1} cores each call uses itself"
                )
            } else {
                format!(
                    "workers capped at {cores} by the effective core count ({}): \
                     compute-bound work (CPU {:.0}%)",
                    limit_name(machine.limited_by),
                    work.cpu_fraction * 100.0
                )
            };
            bound(&mut cap, cores_free, why);
        }
    } else {
        // About cores / CPU fraction progress at once; twice that covers the moments when
        // several want a CPU together (the model's figure is then within 2% of the bound).
        let at_once = cores_free as f64 / work.cpu_fraction.max(1e-3);
        let limit = (2.0 * at_once).ceil().min(1e9) as usize;
        let kind = if work.cpu_fraction < BLOCKING {
            "blocking"
        } else {
            "partly blocking"
        };
        bound(
            &mut cap,
            limit,
            format!(
                "workers capped at {limit}: {kind} work (CPU {:.0}% of its time) lets about \
                 cores / CPU fraction = {at_once:.1} workers progress at once, and twice that \
                 covers the moments when several want a CPU together",
                work.cpu_fraction * 100.0
            ),
        );
        if work.cpu_fraction < BLOCKING {
            recommendations.push(
                "the work mostly waits (I/O, sleeps, locks): more workers than cores are used"
                    .into(),
            );
        }
    }
    let per_worker = FAN_OUTS_PER_WORKER * costs.fan_out(2, warm);
    if per_worker > 0.0 {
        let feedable = (seq / per_worker).floor().min(1e9) as usize;
        bound(
            &mut cap,
            feedable,
            format!(
                "workers capped at {} by the amount of work ({}: at least {}× the cost of \
                 starting a worker each)",
                feedable.max(1),
                fmt_secs(seq),
                FAN_OUTS_PER_WORKER
            ),
        );
    }
    if let Some(mem) = work.item_memory.filter(|m| *m > 0.0) {
        if machine.available_memory > 0 {
            let allowed = machine.available_memory as f64 * settings.memory_fraction;
            let limit = (allowed / mem).floor().min(1e9) as usize;
            bound(
                &mut cap,
                limit,
                format!(
                    "workers capped at {} by memory: {} per item, {:.0}% of {} available",
                    limit.max(1),
                    fmt_bytes(mem as u64),
                    settings.memory_fraction * 100.0,
                    fmt_bytes(machine.available_memory)
                ),
            );
        }
    }

    constraints.extend(all_at_once);

    // ---- The model's best workers × chunk.
    let target = settings.target_for(costs).as_secs_f64();
    let target_items = if work.mean > 0.0 {
        ((target / work.mean).floor().min(1e12) as usize).max(1)
    } else {
        items
    };
    let mut best: Option<Prediction> = None;
    let sane = work.sanitized();
    for w in worker_candidates(cap) {
        if w < 2 {
            continue;
        }
        let parallelism =
            model::effective_parallelism(w, cores, sane.cpu_fraction, sane.inner_parallelism);
        // Largest chunks first, so that near-ties keep the larger chunk (fewer dispatches).
        for c in model::chunk_candidates(items, w, &[target_items])
            .into_iter()
            .rev()
        {
            let p = model::predict_at(&work, costs, w, c, warm, parallelism);
            if best.is_none_or(|b| p.total < b.total * 0.999) {
                best = Some(p);
            }
        }
    }
    let Some(best) = best else {
        return sequential(
            diagnostics,
            "only one worker is allowed".into(),
            constraints,
            recommendations,
        );
    };

    // A plan at the very cap says what the cap is (at it, no rule above lowered the cap: they
    // say so themselves when they do).
    if best.workers == max_workers {
        constraints.push(match settings.max_workers {
            Some(_) => format!("workers capped at {max_workers} by max_workers"),
            None => format!(
                "workers capped at {max_workers}: the default max_workers ({}, or the cores \
                 where more; Optimizer::max_workers sets it)",
                DEFAULT_MAX_WORKERS_LIMIT
            ),
        });
    }

    // ---- Chunk rules on top of the model.
    let mut chunk = best.chunk_size;
    if chunk > target_items {
        chunk = target_items;
        constraints.push(format!(
            "chunks of {chunk} items so that one lasts about {} (the target chunk duration)",
            fmt_secs(target)
        ));
    }
    if stats.heterogeneous {
        let factor = (1.0 - 0.5 * work.cv).max(0.25);
        let shrunk = ((chunk as f64 * factor).floor() as usize).max(1);
        if shrunk < chunk {
            constraints.push(format!(
                "chunks shrunk ×{factor:.2} to {shrunk} items: item costs vary (CV {:.2})",
                work.cv
            ));
            chunk = shrunk;
        }
        recommendations.push(format!(
            "item costs vary (CV {:.2}): chunks are small and the pool resizes them as it runs",
            work.cv
        ));
    }
    let chosen = model::predict(&work, costs, cores, best.workers, chunk, warm);
    let speedup = model::speedup(&work, &chosen);
    if speedup < settings.min_speedup {
        return sequential(
            diagnostics,
            format!(
                "the best predicted speedup ({speedup:.2}× with {} workers) is below the \
                 minimum of {:.2}×",
                best.workers, settings.min_speedup
            ),
            constraints,
            recommendations,
        );
    }
    diagnostics.predicted_parallel = secs(chosen.total);
    diagnostics.prediction = Some(chosen);
    diagnostics.reason = format!(
        "predicted {} instead of {} sequentially",
        fmt_secs(chosen.total),
        fmt_secs(seq)
    );
    diagnostics.constraints = constraints;
    diagnostics.recommendations = recommendations;
    Plan {
        executor: Executor::Threads,
        workers: chosen.workers,
        chunk_size: chunk,
        predicted_speedup: speedup,
        diagnostics,
        settings: settings.clone(),
    }
}

/// Workers per effective core that work which waits may keep busy when nothing tells its CPU
/// share: an item on the CPU for 1/64 of its time (a sleep of a millisecond or longer, most
/// I/O) leaves a core idle with fewer. The least CPU share par_map's watch reads for waiting
/// workers is 1/64 (or less, where `max_workers` allows more than this per core), and
/// `amorsize run -j auto` runs at most this many commands per core
/// ([`crate::process::ControllerConfig::for_cores`]: a process holds far more memory than a
/// thread).
///
/// ```
/// use amorsize::plan::WAITING_WORKERS_PER_CORE;
/// assert_eq!(amorsize::process::ControllerConfig::for_cores(2).max, 2 * WAITING_WORKERS_PER_CORE);
/// ```
pub const WAITING_WORKERS_PER_CORE: usize = 64;

/// The most threads a plan may use by default, however many cores (the size of tokio's pool
/// for blocking calls; see [`default_max_workers`]).
///
/// ```
/// use amorsize::plan::{default_max_workers, DEFAULT_MAX_WORKERS_LIMIT};
/// assert_eq!(default_max_workers(2), DEFAULT_MAX_WORKERS_LIMIT);
/// assert_eq!(default_max_workers(64), DEFAULT_MAX_WORKERS_LIMIT);
/// ```
pub const DEFAULT_MAX_WORKERS_LIMIT: usize = 512;

/// The most workers a plan may use when [`Optimizer::max_workers`] is not set:
/// [`DEFAULT_MAX_WORKERS_LIMIT`] (512, tokio's pool for blocking calls), and never fewer than
/// the cores. Only work that waits comes near it, and only as near as its CPU share lets: the
/// planner holds compute-bound work to the cores, and work that waits to twice the cores over
/// its CPU share (about 200 threads on 2 cores for sleeps of 1 ms, which use ~2% of a CPU);
/// the work itself must feed each worker 4 times the cost of starting it. A waiting thread
/// costs a stack of virtual memory and no core, so the limit no longer scales with the cores
/// (it was 64 per core: 128 on 2 cores held 500 sleeps of 1 ms to four rounds where 256
/// workers take two). Services that limit connections, or a low limit of open files, call for
/// [`Optimizer::max_workers`].
///
/// ```
/// use amorsize::plan::default_max_workers;
/// assert_eq!(default_max_workers(2), 512);
/// assert_eq!(default_max_workers(16), 512);
/// assert_eq!(default_max_workers(1024), 1024);
/// assert_eq!(default_max_workers(0), 512);
/// ```
pub fn default_max_workers(cores: usize) -> usize {
    DEFAULT_MAX_WORKERS_LIMIT.max(cores)
}

/// Worker counts worth evaluating up to `cap`: every count up to 64, then powers of two, and
/// `cap` itself.
fn worker_candidates(cap: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (1..=cap.min(64)).collect();
    let mut p = 128usize;
    while p < cap {
        v.push(p);
        match p.checked_mul(2) {
            Some(next) => p = next,
            None => break,
        }
    }
    if cap > 64 {
        v.push(cap);
    }
    v
}

fn secs(s: f64) -> Duration {
    if s.is_finite() && s > 0.0 {
        Duration::from_secs_f64(s.min(1e9))
    } else {
        Duration::ZERO
    }
}

/// Plans `f` over `items` with the default settings: measures a sample, predicts, decides.
///
/// ```
/// let items: Vec<u32> = (0..100).collect();
/// let plan = amorsize::optimize(&items, |x| x.count_ones())?;
/// println!("{plan}");
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn optimize<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(items: &[T], f: F) -> Result<Plan> {
    Optimizer::new().optimize(items, f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const COSTS: Costs = Costs {
        spawn: 55e-6,
        wake: 50e-6,
        dispatch: 100e-9,
    };

    fn stats(mean: f64, cv: f64, cpu: f64) -> SampleStats {
        SampleStats {
            count: 5,
            items: 5,
            mean,
            median: mean,
            p95: mean,
            std_dev: mean * cv,
            cv,
            cpu_fraction: cpu,
            process_cpu_ratio: cpu,
            inner_parallelism: 1.0,
            busy_elsewhere: 0.0,
            heterogeneous: cv > 0.5,
            run_length: 1,
            item_memory: None,
            elapsed: Duration::ZERO,
        }
    }

    fn plan(s: &SampleStats, n: usize, cores: usize) -> Plan {
        decide(
            &Optimizer::new(),
            s,
            n,
            &MachineFacts::new(cores, 16 << 30),
            &COSTS,
        )
    }

    #[test]
    fn empty_and_single_are_sequential() {
        let p = plan(&stats(1e-3, 0.0, 1.0), 0, 4);
        assert_eq!(p.executor(), Executor::Sequential);
        assert!(p.diagnostics().reason.contains("empty"));
        let p = plan(&stats(1e-3, 0.0, 1.0), 1, 4);
        assert_eq!(p.executor(), Executor::Sequential);
        assert!(p.diagnostics().reason.contains("fewer than 2"));
    }

    #[test]
    fn a_few_items_that_compute_may_share_the_cores_one_worker_each() {
        let long = stats(30e-3, 0.0, 1.0);
        // 3 items on 2 cores: all at once, a round and a half instead of two rounds.
        let p = plan(&long, 3, 2);
        assert_eq!((p.workers(), p.chunk_size()), (3, 1), "{p}");
        assert!(p.to_string().contains("one worker per item"), "{p}");
        // An even count: two full rounds on the cores.
        assert_eq!(plan(&long, 4, 2).workers(), 2);
        // 5 and 7: more workers than cores, one item each at most.
        for n in [5, 7] {
            let p = plan(&long, n, 2);
            assert!(p.workers() > 2 && p.workers() <= n, "{n}: {p}");
        }
        // Past a few items per core the cores hold them.
        let p = plan(&long, 4 * ALL_AT_ONCE_PER_CORE * 2, 2);
        assert_eq!(p.workers(), 2, "{p}");
        assert!(!p.to_string().contains("one worker per item"), "{p}");
        // Items that run threads of their own fill the cores themselves.
        let nested = SampleStats {
            inner_parallelism: 2.0,
            ..long.clone()
        };
        assert!(plan(&nested, 3, 4).workers() <= 2);
        // Items that partly wait are planned as before.
        let waiting = stats(30e-3, 0.0, 0.1);
        assert!(plan(&waiting, 3, 2).workers() == 3);
    }

    #[test]
    fn tiny_job_is_sequential() {
        // 1,000 × 20 ns = 20 µs: shorter than 10 wake-ups.
        let p = plan(&stats(20e-9, 0.0, 1.0), 1000, 2);
        assert_eq!(p.executor(), Executor::Sequential);
        assert!(p.diagnostics().reason.contains("shorter than"));
        assert_eq!(p.predicted_speedup(), 1.0);
    }

    #[test]
    fn compute_bound_uses_the_cores() {
        let p = plan(&stats(100e-6, 0.0, 1.0), 10_000, 2);
        assert_eq!(p.executor(), Executor::Threads);
        assert_eq!(p.workers(), 2);
        assert!(p.predicted_speedup() > 1.8);
        let p = plan(&stats(100e-6, 0.0, 1.0), 10_000, 8);
        assert_eq!(p.workers(), 8);
    }

    #[test]
    fn small_jobs_get_few_workers() {
        // 2 ms of work on 64 cores: a handful of workers, not 64.
        let p = plan(&stats(2e-6, 0.0, 1.0), 1000, 64);
        assert!(p.workers() <= 10, "{}", p.workers());
        assert!(p
            .diagnostics()
            .constraints
            .iter()
            .any(|c| c.contains("amount of work")));
    }

    #[test]
    fn blocking_work_goes_past_the_cores() {
        let p = plan(&stats(1e-3, 0.0, 0.02), 500, 2);
        assert_eq!(p.executor(), Executor::Threads);
        assert!(p.workers() > 16, "{}", p.workers());
        // About cores / CPU fraction = 100 of them progress at once, and twice that cover the
        // moments when several want a CPU together; the default cap (128 on 2 cores) binds.
        assert!(p.workers() > 100 && p.workers() <= 128, "{}", p.workers());
    }

    #[test]
    fn work_on_the_cpu_half_the_time_gets_more_workers_than_cores_over_half() {
        // 2 cores / ½ = 4 progress at once, when they never want a CPU together; more workers
        // cover the moments when they do (the plain bound planned exactly 4).
        let p = plan(&stats(1e-3, 0.0, 0.5), 400, 2);
        assert!(p.workers() > 4 && p.workers() <= 8, "{p}");
        assert!(p
            .diagnostics()
            .constraints
            .iter()
            .any(|c| c.contains("workers capped at 8: partly blocking")));
    }

    #[test]
    fn max_workers_and_items_bound_the_workers() {
        let o = Optimizer::new().max_workers(3);
        let p = decide(
            &o,
            &stats(1e-3, 0.0, 0.01),
            500,
            &MachineFacts::new(2, 1 << 30),
            &COSTS,
        );
        assert_eq!(p.workers(), 3);
        let says =
            |p: &Plan, what: &str| p.diagnostics().constraints.iter().any(|c| c.contains(what));
        assert!(says(&p, "workers capped at 3 by max_workers"), "{p}");
        let p = plan(&stats(0.1, 0.0, 0.01), 5, 2);
        assert!(p.workers() <= 5);
        // Waiting work on 8 cores would take up to 1,600 workers: the default cap says why it
        // is 512.
        let p = plan(&stats(1e-3, 0.0, 0.01), 5_000, 8);
        assert_eq!(p.workers(), DEFAULT_MAX_WORKERS_LIMIT);
        assert!(says(&p, "the default max_workers"), "{p}");
        // On 2 cores its CPU share holds it below the cap (past the 128 that the cap was on 2
        // cores until stop 20), and the plan says so.
        let p = plan(&stats(1e-3, 0.0, 0.01), 5_000, 2);
        assert!(p.workers() > 128 && p.workers() <= 400, "{p}");
        assert!(says(&p, "blocking work (CPU 1%"), "{p}");
        assert!(!says(&p, "the default max_workers"), "{p}");
        // Compute-bound work stops at the cores, and the default cap is not mentioned.
        let p = plan(&stats(1e-3, 0.0, 1.0), 5_000, 2);
        assert_eq!(p.workers(), 2);
        assert!(!says(&p, "max_workers"), "{p}");
    }

    #[test]
    fn inner_parallelism_divides_the_workers() {
        let mut s = stats(1e-3, 0.0, 1.0);
        s.inner_parallelism = 4.0;
        let p = plan(&s, 10_000, 8);
        assert_eq!(p.workers(), 2);
        assert!(p
            .diagnostics()
            .constraints
            .iter()
            .any(|c| c.contains("each call uses itself")));
    }

    #[test]
    fn memory_bounds_the_workers() {
        let o = Optimizer::new().item_memory(1 << 30).memory_fraction(0.5);
        let p = decide(
            &o,
            &stats(1e-3, 0.0, 1.0),
            1000,
            &MachineFacts::new(8, 4 << 30),
            &COSTS,
        );
        assert_eq!(p.workers(), 2);
        assert!(p
            .diagnostics()
            .constraints
            .iter()
            .any(|c| c.contains("memory")));
    }

    #[test]
    fn heterogeneous_work_gets_smaller_chunks() {
        let steady = plan(&stats(10e-6, 0.1, 1.0), 100_000, 2);
        let het = plan(&stats(10e-6, 2.0, 1.0), 100_000, 2);
        assert!(het.chunk_size() * 4 <= steady.chunk_size() + 4);
        assert!(het.chunk_size() >= 1);
    }

    #[test]
    fn chunks_last_about_the_target() {
        let p = plan(&stats(1e-6, 0.0, 1.0), 1_000_000, 2);
        // 0.5 ms target at 1 µs per item.
        assert_eq!(p.chunk_size(), 500);
    }

    #[test]
    fn min_speedup_forces_sequential() {
        let o = Optimizer::new().min_speedup(3.0);
        let p = decide(
            &o,
            &stats(100e-6, 0.0, 1.0),
            10_000,
            &MachineFacts::new(2, 1 << 30),
            &COSTS,
        );
        assert_eq!(p.executor(), Executor::Sequential);
        assert!(p.diagnostics().reason.contains("below the minimum"));
    }

    #[test]
    fn invalid_settings_are_named() {
        for (o, name) in [
            (Optimizer::new().sample_size(0), "sample_size"),
            (Optimizer::new().sample_size(65), "sample_size"),
            (Optimizer::new().min_speedup(0.9), "min_speedup"),
            (Optimizer::new().min_speedup(f64::NAN), "min_speedup"),
            (Optimizer::new().max_workers(0), "max_workers"),
            (
                Optimizer::new().target_chunk_duration(Duration::ZERO),
                "target_chunk_duration",
            ),
            (Optimizer::new().memory_fraction(0.0), "memory_fraction"),
            (
                Optimizer::new().memory_fraction(f64::NAN),
                "memory_fraction",
            ),
            (
                Optimizer::new().max_sample_time(Duration::ZERO),
                "max_sample_time",
            ),
        ] {
            match o.validate() {
                Err(Error::InvalidConfig { setting, .. }) => assert_eq!(setting, name),
                other => panic!("{name}: {other:?}"),
            }
            assert!(o.optimize(&[1, 2, 3], |x| *x).is_err());
        }
    }

    #[test]
    fn display_names_the_decision() {
        let p = plan(&stats(100e-6, 0.0, 1.0), 10_000, 2);
        let text = p.to_string();
        assert!(text.contains("2 threads"), "{text}");
        assert!(text.contains("speedup"), "{text}");
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["executor"], "Threads");
        assert_eq!(json["workers"], 2);
        assert!(
            json["diagnostics"]["predicted_sequential"]
                .as_f64()
                .unwrap()
                > 0.9
        );
    }

    fn any_f64() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(0.0),
            Just(-1.0),
            1e-9f64..1.0,
            0.0f64..4.0
        ]
    }

    proptest! {
        #[test]
        fn decisions_are_always_valid(
            mean in any_f64(), cv in any_f64(), cpu in any_f64(), inner in any_f64(),
            n in 0usize..5_000_000, cores in 0usize..300, mem in 0u64..(1 << 40),
            spawn in any_f64(), wake in any_f64(), dispatch in any_f64(),
            max_workers in 1usize..1000, item_mem in proptest::option::of(0u64..(1 << 34)),
        ) {
            let mut s = stats(mean, cv, cpu);
            s.inner_parallelism = inner;
            s.heterogeneous = cv > 0.5;
            let mut o = Optimizer::new().max_workers(max_workers);
            if let Some(m) = item_mem { o = o.item_memory(m); }
            let c = Costs { spawn, wake, dispatch };
            let p = decide(&o, &s, n, &MachineFacts::new(cores, mem), &c);
            prop_assert!(p.chunk_size() >= 1);
            prop_assert!(p.workers() >= 1);
            prop_assert!(p.workers() <= max_workers.max(1));
            prop_assert!(p.workers() <= n.max(1));
            prop_assert!(p.predicted_speedup().is_finite() && p.predicted_speedup() >= 0.0);
            if p.executor() == Executor::Sequential {
                prop_assert_eq!(p.workers(), 1);
            } else {
                prop_assert!(p.predicted_speedup() >= 1.2);
                prop_assert!(p.workers() >= 2);
            }
        }
    }
}
