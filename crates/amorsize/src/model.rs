//! The cost model: the predicted wall time of running a workload with `workers × chunk_size`.
//!
//! This module owns arithmetic only. It never runs or times anything: every input is a number
//! that [`sample`](crate::sample) and the pool calibration measured, so each formula is
//! unit-tested with made-up numbers. All times are in seconds (`f64`).
//!
//! The prediction for `w` workers and chunks of `c` items over `n` items of mean cost `t`:
//!
//! ```text
//! startup  = fan-out cost of w workers (warm pool: log2(w) levels of a wake tree; cold: w-1 spawns)
//! work     = n·t / p            p ≤ min(w, cores_free / cpu_fraction)   (effective parallelism)
//! dispatch = ceil(n / c) · d / p                                     (d: cost of handing out a chunk)
//! tail     = (1 - 1/w) · ½ · t · (1 + cv)                          (the last chunk's imbalance)
//! total    = max(startup + work + dispatch + tail, startup + ceil(n / w)·t)   (items are whole)
//! ```
//!
//! `cores_free` is the effective core count divided by the parallelism measured inside one
//! call of the function (a BLAS call or a nested parallel loop uses cores of its own).
//! `cpu_fraction` is the share of an item's wall time spent on the CPU: blocking work (I/O,
//! sleeps) has a small one, so more workers than cores still add throughput. Past the cores,
//! `p` is what the finite-source queue gives ([`effective_parallelism`], [`busy_cores`]):
//! workers that compute and wait by turns reach the bound only with some more of them than
//! `cores_free / cpu_fraction`, as several sometimes want a CPU together. The tail does not
//! grow with the chunk size: the pool's guided tail shrinks chunks near the end to at most
//! `remaining / (2·w)`, down to single items, so the expected imbalance is about half an item,
//! more when item costs vary. Within the model, larger chunks are therefore never worse; what
//! bounds them is the planner's target chunk duration, which keeps the run adaptable.
//!
//! ```
//! use amorsize::model::{predict, Costs, Workload};
//! let work = Workload::new(100_000, 1e-6); // 100k items of 1 µs
//! let costs = Costs { spawn: 55e-6, wake: 50e-6, dispatch: 1e-7 };
//! let seq = work.sequential_time();
//! let par = predict(&work, &costs, 2, 2, 1_000, true);
//! assert!(par.total < seq);              // two cores pay on 100 ms of work
//! assert!(par.total > seq / 2.0);        // but never more than perfectly
//! ```

use serde::Serialize;

/// What the sample measured about a workload, as plain numbers.
///
/// ```
/// use amorsize::model::Workload;
/// // 100 items of 1 ms that wait nine tenths of their time.
/// let w = Workload { cpu_fraction: 0.1, ..Workload::new(100, 1e-3) };
/// assert!((w.sequential_time() - 0.1).abs() < 1e-12);
/// assert_eq!(w.inner_parallelism, 1.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Workload {
    /// Items to run.
    pub items: usize,
    /// Mean wall time of one item, in seconds.
    pub mean: f64,
    /// Coefficient of variation of the item time (std / mean).
    pub cv: f64,
    /// Share of an item's wall time spent on its own thread's CPU, in `0..=1`.
    pub cpu_fraction: f64,
    /// Cores one call keeps busy at once (≥ 1; above 1 when the function runs threads of its own).
    pub inner_parallelism: f64,
    /// Bytes one item holds at its peak, where known.
    pub item_memory: Option<f64>,
}

impl Workload {
    /// A steady compute-bound workload: `items` of `mean` seconds, CV 0, CPU fraction 1.
    ///
    /// ```
    /// let w = amorsize::model::Workload::new(10, 0.5);
    /// assert_eq!(w.sequential_time(), 5.0);
    /// ```
    pub fn new(items: usize, mean: f64) -> Self {
        Workload {
            items,
            mean,
            cv: 0.0,
            cpu_fraction: 1.0,
            inner_parallelism: 1.0,
            item_memory: None,
        }
    }

    /// The predicted time of the plain sequential loop: `items × mean`.
    ///
    /// ```
    /// let w = amorsize::model::Workload::new(1_000, 2e-6);
    /// assert!((w.sequential_time() - 2e-3).abs() < 1e-12);
    /// ```
    pub fn sequential_time(&self) -> f64 {
        finite_or_zero(self.items as f64 * self.mean)
    }

    /// The same workload with every number forced into its valid range (NaN → 0, negative → 0,
    /// CPU fraction within `0..=1`, inner parallelism ≥ 1), so the model never sees nonsense.
    ///
    /// ```
    /// let mut w = amorsize::model::Workload::new(3, f64::NAN);
    /// w.cpu_fraction = 7.0;
    /// let s = w.sanitized();
    /// assert_eq!(s.mean, 0.0);
    /// assert_eq!(s.cpu_fraction, 1.0);
    /// ```
    pub fn sanitized(&self) -> Self {
        Workload {
            items: self.items,
            mean: finite_or_zero(self.mean).max(0.0),
            cv: finite_or_zero(self.cv).max(0.0),
            cpu_fraction: if self.cpu_fraction.is_finite() {
                self.cpu_fraction.clamp(0.0, 1.0)
            } else {
                1.0
            },
            inner_parallelism: if self.inner_parallelism.is_finite() {
                self.inner_parallelism.max(1.0)
            } else {
                1.0
            },
            item_memory: self.item_memory.filter(|m| m.is_finite() && *m >= 0.0),
        }
    }
}

/// The measured costs of parallelism on this machine, in seconds.
///
/// ```
/// use amorsize::model::Costs;
/// let c = Costs { spawn: 55e-6, wake: 50e-6, dispatch: 1e-7 };
/// // Four workers: a warm pool wakes them in two levels of its tree, a cold one spawns three.
/// assert!((c.fan_out(4, true) - 2.0 * c.wake).abs() < 1e-12);
/// assert!((c.fan_out(4, false) - 3.0 * c.spawn).abs() < 1e-12);
/// // This machine's figures, measured once per process:
/// assert!(amorsize::exec::costs().dispatch >= 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Costs {
    /// Starting one worker thread (spawn + join), paid per worker on a cold pool.
    pub spawn: f64,
    /// Starting a job on a warm pool of two (waking one sleeping worker), paid per extra worker.
    pub wake: f64,
    /// Handing out one chunk.
    pub dispatch: f64,
}

impl Costs {
    /// The fan-out cost of `workers` participants: nothing for one. A warm pool wakes its
    /// workers as a binary tree (the caller wakes two, each woken worker two more), so the last
    /// one starts after `ceil(log2(workers))` wake latencies; a cold pool spawns the extra
    /// workers one after another, one spawn each.
    ///
    /// ```
    /// use amorsize::model::Costs;
    /// let c = Costs { spawn: 60e-6, wake: 50e-6, dispatch: 1e-7 };
    /// assert_eq!(c.fan_out(1, true), 0.0);
    /// assert!((c.fan_out(2, true) - 50e-6).abs() < 1e-12);
    /// assert!((c.fan_out(3, true) - 100e-6).abs() < 1e-12);   // two levels of the tree
    /// assert!((c.fan_out(64, true) - 300e-6).abs() < 1e-12);  // six levels
    /// assert!((c.fan_out(3, false) - 120e-6).abs() < 1e-12);  // two spawns
    /// ```
    ///
    /// Never NaN: a NaN or negative cost counts as zero, and an infinite cost (or a product too
    /// large for an `f64`) saturates at `f64::MAX`, i.e. "too expensive", never free.
    ///
    /// ```
    /// use amorsize::model::Costs;
    /// let c = Costs { spawn: f64::INFINITY, wake: f64::INFINITY, dispatch: 1e-7 };
    /// assert_eq!(c.fan_out(2, true), f64::MAX);
    /// assert_eq!(c.fan_out(1, true), 0.0);
    /// ```
    pub fn fan_out(&self, workers: usize, warm: bool) -> f64 {
        if workers <= 1 {
            return 0.0;
        }
        let (cost, steps) = if warm {
            // ceil(log2(workers)); 64 levels above 2^63 workers, where the next power of two
            // does not fit a usize.
            let depth = workers
                .checked_next_power_of_two()
                .map_or(usize::BITS, |p| p.trailing_zeros());
            (self.wake, depth as f64)
        } else {
            (self.spawn, (workers - 1) as f64)
        };
        let cost = if cost.is_nan() { 0.0 } else { cost.max(0.0) };
        (cost * steps).min(f64::MAX)
    }
}

/// The predicted wall time of one `workers × chunk` configuration, term by term (seconds).
///
/// ```
/// use amorsize::model::{predict, Costs, Workload};
/// let costs = Costs { spawn: 55e-6, wake: 50e-6, dispatch: 1e-7 };
/// let p = predict(&Workload::new(10_000, 100e-6), &costs, 2, 2, 100, true);
/// assert_eq!((p.workers, p.chunk_size), (2, 100));
/// assert_eq!(p.parallelism, 2.0); // compute-bound on 2 cores
/// assert!((p.work - 0.5).abs() < 1e-9); // 1 s of work over 2
/// assert!(p.total >= p.startup + p.work + p.dispatch + p.tail - 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prediction {
    /// Participants.
    pub workers: usize,
    /// Items per chunk.
    pub chunk_size: usize,
    /// Effective parallelism `p` (at most `workers`).
    pub parallelism: f64,
    /// Fan-out cost.
    pub startup: f64,
    /// The work divided over the effective parallelism.
    pub work: f64,
    /// Chunk hand-out cost.
    pub dispatch: f64,
    /// The last chunk's imbalance.
    pub tail: f64,
    /// The sum: predicted wall time.
    pub total: f64,
}

/// Effective parallelism: how many workers' worth of items complete per unit of time.
///
/// Compute-bound work is limited by the free cores. Work that waits part of the time
/// (`cpu_fraction` below 1) lets more workers than cores make progress, up to
/// `cores_free / cpu_fraction` — a bound reached only with some more workers than that:
/// workers that compute and wait by turns sometimes want the CPU together and sometimes all
/// wait, and the cores idle then. Past the cores the figure is the finite-source queue (the
/// machine-repairman model, exponential times): `workers` each computing then waiting, on
/// `cores_free` cores, keep [`busy_cores`] of them busy on average, and items complete at that
/// over `cpu_fraction` workers' worth. Measured on the 2-core VM (400 items, 6 interleaved
/// rounds, `workers` × 1): items on the CPU half the time ran 0.90 of the bound at 4 workers
/// (this model: 0.85), 0.98 at 6 (0.98) and 0.99 at 8 (1.00); at 20% CPU, 0.86 at 10 workers
/// (0.85), 0.97 at 12 (0.93) and 1.00 at 16 (0.99); at 70%, 0.81 at 3 (0.90) and 0.96 at 4
/// (0.97). Items that run threads of their own (`inner_parallelism` > 1) keep the bound.
///
/// ```
/// use amorsize::model::effective_parallelism;
/// assert_eq!(effective_parallelism(8, 2, 1.0, 1.0), 2.0);    // compute-bound: the cores
/// assert_eq!(effective_parallelism(2, 2, 0.5, 1.0), 2.0);    // no more workers than cores
/// let p = effective_parallelism(8, 2, 0.1, 1.0);             // mostly waiting: most of 8
/// assert!(p > 7.5 && p < 8.0, "{p}");
/// // On the CPU half the time: 4 workers are the bound (2 cores / ½), but reach 85% of it.
/// let at = |w| effective_parallelism(w, 2, 0.5, 1.0);
/// assert!((at(4) - 3.4).abs() < 0.01 && at(8) > 3.98 && at(8) <= 4.0);
/// assert_eq!(effective_parallelism(8, 4, 1.0, 2.0), 2.0);    // f uses 2 cores per call
/// assert_eq!(effective_parallelism(1, 4, 1.0, 1.0), 1.0);
/// ```
pub fn effective_parallelism(
    workers: usize,
    cores: usize,
    cpu_fraction: f64,
    inner_parallelism: f64,
) -> f64 {
    let w = workers.max(1) as f64;
    let cores_free = (cores.max(1) as f64 / inner_parallelism.max(1.0)).max(1.0);
    let cpu = if cpu_fraction.is_finite() {
        cpu_fraction.clamp(1e-6, 1.0)
    } else {
        1.0
    };
    let bound = w.min(cores_free / cpu).max(1.0);
    if inner_parallelism > 1.0 || workers <= cores || cpu >= 1.0 {
        return bound;
    }
    (busy_cores(workers, cores, cpu) / cpu).clamp(1.0, bound)
}

/// The cores kept busy on average by `workers` that each compute (a share `cpu_fraction` of
/// their time, when they never wait for a CPU) and wait by turns, on `cores` cores: the
/// finite-source queue with exponential computing and waiting times, whose state is how many
/// workers want a CPU (`k` of them, with weight `workers! / (workers − k)! · r^k / (k! below
/// the cores, cores! · cores^(k − cores) above)`, `r` the ratio of computing to waiting time).
/// `O(workers)`, a multiplication and an addition per worker past the cores (the planner asks
/// it of every worker count it weighs: 64 of them and more, a quarter of a plan's time when
/// each step also divided).
///
/// ```
/// use amorsize::model::busy_cores;
/// assert_eq!(busy_cores(2, 2, 0.5), 1.0);        // never more wanted than cores: 2 × ½
/// // 4 workers at ½ on 2 cores: weights 1, 4, 6, 6, 3 for 0..=4 wanting a CPU.
/// assert!((busy_cores(4, 2, 0.5) - 34.0 / 20.0).abs() < 1e-12);
/// assert_eq!(busy_cores(3, 2, 1.0), 2.0);        // all compute: every core
/// assert!(busy_cores(512, 2, 0.02) > 1.99);       // far past the bound: the cores stay busy
/// ```
pub fn busy_cores(workers: usize, cores: usize, cpu_fraction: f64) -> f64 {
    let (n, c) = (workers, cores.max(1));
    let f = if cpu_fraction.is_finite() {
        cpu_fraction.clamp(0.0, 1.0)
    } else {
        1.0
    };
    if n <= c || f <= 0.0 {
        return n as f64 * f;
    }
    if f >= 1.0 {
        return c as f64;
    }
    let r = f / (1.0 - f);
    busy_cores_by_tail(n, c, r).unwrap_or_else(|| busy_cores_by_terms(n, c, r))
}

/// [`busy_cores`] for `n > c` workers whose ratio of computing to waiting is `r`, its weights
/// past the cores summed in closed form: the weight of `c + j` wanting a CPU is the weight of
/// `c` times `(n − c)! / (n − c − j)! · (r / c)^j`, and with `m = n − c` those add up to
/// `S(m) = 1 + m·x·(1 + (m − 1)·x·(1 + … (1 + x)))`, `x = r / c`, one multiplication and
/// addition a step (Horner's rule), no division. `None` where a sum leaves what an `f64` holds
/// well (past 1e250, or a weight of 0): [`busy_cores_by_terms`] then sums term by term.
fn busy_cores_by_tail(n: usize, c: usize, r: f64) -> Option<f64> {
    // The weights of 0..=c wanting a CPU (c ≤ n): w.t ends as the weight of c.
    let mut w = Weights::new();
    for k in 1..=c {
        w.next((n - k + 1) as f64 * r / k as f64, k);
    }
    let x = r / c as f64;
    let mut s = 1.0f64;
    for i in 1..=n - c {
        s = 1.0 + i as f64 * x * s;
        if s > 1e250 {
            return None;
        }
    }
    // The weights past c, in units of t's: all of them keep every core busy.
    let tail = s - 1.0;
    let (sum, busy) = (w.sum / w.t, w.busy / w.t);
    let p = (busy + c as f64 * tail) / (sum + tail);
    (p.is_finite() && w.t > 0.0).then_some(p.min(c as f64))
}

/// [`busy_cores`] summed term by term, for `n > c` workers whose ratio of computing to waiting
/// is `r` (what [`busy_cores_by_tail`] gives in closed form where an `f64` holds its sums).
fn busy_cores_by_terms(n: usize, c: usize, r: f64) -> f64 {
    // The weights of 0..=n workers wanting a CPU.
    let mut w = Weights::new();
    for k in 1..=n {
        let step = (n - k + 1) as f64 * r / k.min(c) as f64;
        w.next(step, k.min(c));
        // Past the cores the steps only shrink: once one is below 1, the weights left add up
        // to less than t · step / (1 − step); stop when that cannot show in the result.
        if k >= c && step < 1.0 && w.t * step / (1.0 - step) < 1e-13 * w.sum {
            break;
        }
    }
    if w.sum.is_finite() && w.sum > 0.0 {
        (w.busy / w.sum).min(c as f64)
    } else {
        c as f64
    }
}

/// The queue's unnormalised weights summed state by state (how many workers want a CPU),
/// rescaled together as they grow: `t` the last state's weight, `sum` all of them, `busy`
/// each times the cores its state keeps busy. Shared by [`busy_cores_by_tail`] (the states up
/// to the cores) and [`busy_cores_by_terms`] (all of them).
struct Weights {
    t: f64,
    sum: f64,
    busy: f64,
}

impl Weights {
    /// State 0: no worker wants a CPU, weight 1, no core busy.
    fn new() -> Self {
        Weights {
            t: 1.0,
            sum: 1.0,
            busy: 0.0,
        }
    }

    /// The next state, whose weight is the last one's times `step`, keeping `cores` busy.
    fn next(&mut self, step: f64, cores: usize) {
        self.t *= step;
        self.sum += self.t;
        self.busy += self.t * cores as f64;
        if self.sum > 1e200 {
            self.t /= 1e200;
            self.sum /= 1e200;
            self.busy /= 1e200;
        }
    }
}

/// Predicts the wall time of `work` with `workers` participants and chunks of `chunk` items.
///
/// Never panics and never returns NaN: nonsense inputs are sanitized first (see
/// [`Workload::sanitized`]), zero workers and zero chunk sizes count as one. A total too large
/// for an `f64` (an infinite fan-out cost) saturates at `f64::MAX` rather than counting as free.
///
/// ```
/// use amorsize::model::{predict, Costs, Workload};
/// let costs = Costs { spawn: 55e-6, wake: 50e-6, dispatch: 1e-7 };
/// let one = predict(&Workload::new(1_000, 20e-9), &costs, 2, 2, 500, true);
/// // 20 µs of work: the fan-out alone costs more than the loop.
/// assert!(one.total > Workload::new(1_000, 20e-9).sequential_time());
/// ```
pub fn predict(
    work: &Workload,
    costs: &Costs,
    cores: usize,
    workers: usize,
    chunk: usize,
    warm: bool,
) -> Prediction {
    let s = work.sanitized();
    let p = effective_parallelism(workers, cores, s.cpu_fraction, s.inner_parallelism);
    predict_at(work, costs, workers, chunk, warm, p)
}

/// [`predict`] with the effective parallelism of `workers` already known (`parallelism`, from
/// [`effective_parallelism`] of the sanitized work): the planner computes it once per worker
/// count, not once per chunk size (past the cores it costs `O(workers)`).
pub(crate) fn predict_at(
    work: &Workload,
    costs: &Costs,
    workers: usize,
    chunk: usize,
    warm: bool,
    parallelism: f64,
) -> Prediction {
    let w = work.sanitized();
    let workers = workers.max(1);
    let chunk = chunk.max(1);
    if workers == 1 {
        let total = w.sequential_time();
        return Prediction {
            workers,
            chunk_size: chunk,
            parallelism: 1.0,
            startup: 0.0,
            work: total,
            dispatch: 0.0,
            tail: 0.0,
            total,
        };
    }
    let p = parallelism;
    let n = w.items as f64;
    let startup = costs.fan_out(workers, warm);
    let work_t = w.sequential_time() / p;
    let chunks = (n / chunk as f64).ceil();
    let dispatch = chunks * finite_or_zero(costs.dispatch).max(0.0) / p;
    let tail = (1.0 - 1.0 / workers as f64) * 0.5 * w.mean * (1.0 + w.cv);
    // Granularity: items are whole, so the busiest of `w` workers runs at least ceil(n / w) of
    // them (100 sleeps of 1 ms on 36 workers take 3 rounds, not 2.8).
    let per_worker_items = (n / workers as f64).ceil().max(1.0);
    let floor = w.mean * per_worker_items;
    // Every term is ≥ 0 and never NaN; only a sum past f64::MAX (an enormous start-up) is
    // infinite, and it saturates: a run that costs more than anything is never free.
    let total = saturate((startup + work_t + dispatch + tail).max(startup + floor));
    Prediction {
        workers,
        chunk_size: chunk,
        parallelism: p,
        startup,
        work: work_t,
        dispatch: saturate(dispatch),
        tail: finite_or_zero(tail),
        total,
    }
}

/// Predicted speedup of `prediction` over the sequential loop (`0` when either time is zero).
///
/// ```
/// use amorsize::model::{predict, speedup, Costs, Workload};
/// let w = Workload::new(10_000, 100e-6);
/// let c = Costs { spawn: 55e-6, wake: 50e-6, dispatch: 1e-7 };
/// let s = speedup(&w, &predict(&w, &c, 2, 2, 100, true));
/// assert!(s > 1.8 && s <= 2.0);
/// ```
pub fn speedup(work: &Workload, prediction: &Prediction) -> f64 {
    let seq = work.sanitized().sequential_time();
    if seq <= 0.0 || prediction.total <= 0.0 {
        return if seq <= 0.0 { 1.0 } else { 0.0 };
    }
    finite_or_zero(seq / prediction.total)
}

/// Chunk sizes worth evaluating for `items` over `workers`: powers of two up to an even split,
/// the even split itself, and `extra` (e.g. the size that lasts the target chunk duration).
/// Sorted, unique, each within `1..=max(1, items)`.
///
/// ```
/// let c = amorsize::model::chunk_candidates(100, 2, &[7]);
/// assert_eq!(c, vec![1, 2, 4, 7, 8, 16, 32, 50]);
/// assert_eq!(amorsize::model::chunk_candidates(0, 4, &[]), vec![1]);
/// ```
pub fn chunk_candidates(items: usize, workers: usize, extra: &[usize]) -> Vec<usize> {
    let split = items.div_ceil(workers.max(1)).max(1);
    let mut out = Vec::new();
    let mut c = 1usize;
    while c < split {
        out.push(c);
        c = c.saturating_mul(2);
    }
    out.push(split);
    for &e in extra {
        out.push(e.clamp(1, split));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// `x` within `0..=f64::MAX`: NaN → 0, +∞ → `f64::MAX`.
fn saturate(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, f64::MAX)
    }
}

fn finite_or_zero(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
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

    #[test]
    fn sequential_prediction_is_the_loop() {
        let w = Workload::new(1000, 1e-3);
        let p = predict(&w, &COSTS, 4, 1, 10, true);
        assert_eq!(p.total, w.sequential_time());
        assert_eq!(p.startup, 0.0);
    }

    #[test]
    fn compute_bound_is_limited_by_cores() {
        let w = Workload::new(10_000, 1e-3);
        let p2 = predict(&w, &COSTS, 2, 2, 100, true);
        let p8 = predict(&w, &COSTS, 2, 8, 100, true);
        assert_eq!(p8.parallelism, 2.0);
        assert!(
            p8.total > p2.total,
            "more workers than cores only adds fan-out"
        );
    }

    #[test]
    fn blocking_work_scales_past_the_cores() {
        let mut w = Workload::new(500, 1e-3);
        w.cpu_fraction = 0.01;
        let p2 = predict(&w, &COSTS, 2, 2, 1, true);
        let p64 = predict(&w, &COSTS, 2, 64, 1, true);
        assert!(p64.total * 10.0 < p2.total);
    }

    #[test]
    fn tiny_jobs_are_slower_in_parallel() {
        let w = Workload::new(1000, 20e-9);
        let p = predict(&w, &COSTS, 2, 2, 500, true);
        assert!(speedup(&w, &p) < 1.0);
    }

    #[test]
    fn cold_pool_costs_more_than_warm() {
        let w = Workload::new(1000, 1e-5);
        assert!(
            predict(&w, &COSTS, 8, 8, 10, false).total > predict(&w, &COSTS, 8, 8, 10, true).total
        );
    }

    #[test]
    fn dispatch_grows_with_chunk_count() {
        let w = Workload::new(1_000_000, 5e-9);
        let small = predict(&w, &COSTS, 2, 2, 1, true);
        let big = predict(&w, &COSTS, 2, 2, 10_000, true);
        assert!(small.dispatch > 100.0 * big.dispatch);
        assert!(small.total > big.total);
    }

    #[test]
    fn heterogeneous_tail_grows_with_cv() {
        let mut w = Workload::new(1000, 1e-3);
        let steady = predict(&w, &COSTS, 2, 2, 100, true).tail;
        w.cv = 2.0;
        let het = predict(&w, &COSTS, 2, 2, 100, true).tail;
        assert!(het > steady);
    }

    #[test]
    fn inner_parallelism_divides_the_cores() {
        let mut w = Workload::new(1000, 1e-3);
        w.inner_parallelism = 2.0;
        let p = predict(&w, &COSTS, 2, 2, 10, true);
        assert_eq!(p.parallelism, 1.0);
    }

    #[test]
    fn fewer_items_than_workers_is_bounded_by_one_item() {
        let w = Workload::new(3, 0.1);
        let p = predict(&w, &COSTS, 8, 8, 1, true);
        assert!(p.total >= 0.1);
    }

    #[test]
    fn whole_items_make_rounds() {
        // 100 blocking items of 1 ms: 36 workers need 3 rounds, 50 workers 2.
        let mut w = Workload::new(100, 1e-3);
        w.cpu_fraction = 0.01;
        let p36 = predict(&w, &COSTS, 2, 36, 1, true);
        let p50 = predict(&w, &COSTS, 2, 50, 1, true);
        assert!(p36.total >= 3e-3);
        assert!(p50.total < p36.total);
    }

    #[test]
    fn candidates_cover_the_split() {
        let c = chunk_candidates(1_000_000, 2, &[40_000]);
        assert_eq!(*c.last().unwrap(), 500_000);
        assert!(c.contains(&40_000));
        assert!(c.windows(2).all(|w| w[0] < w[1]));
    }

    fn any_f64() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-1.0),
            Just(0.0),
            0.0f64..10.0,
            1e-9f64..1e-3,
        ]
    }

    /// The closed form answers where the planner asks most (items that wait: 64 workers at
    /// 3 % on 2 cores, 512 at 2 %); where its sum passes what an `f64` holds well (512 workers
    /// at ½ on 2 cores), the terms do.
    #[test]
    fn busy_cores_in_closed_form_where_it_holds() {
        let r = |f: f64| f / (1.0 - f);
        for (n, f) in [(64, 0.03), (512, 0.02), (8, 0.5)] {
            let tail = busy_cores_by_tail(n, 2, r(f)).expect("closed form");
            assert!(
                (tail - busy_cores_by_terms(n, 2, r(f))).abs() < 1e-12,
                "{n} at {f}"
            );
        }
        assert!(busy_cores_by_tail(512, 2, r(0.5)).is_none());
        assert_eq!(busy_cores(512, 2, 0.5), busy_cores_by_terms(512, 2, 1.0));
    }

    proptest! {
        #[test]
        fn prediction_is_finite_and_sane(
            items in 0usize..2_000_000,
            mean in any_f64(), cv in any_f64(), cpu in any_f64(), inner in any_f64(),
            spawn in any_f64(), wake in any_f64(), dispatch in any_f64(),
            cores in 0usize..256, workers in 0usize..512, chunk in 0usize..100_000, warm: bool,
        ) {
            let mut w = Workload::new(items, mean);
            w.cv = cv; w.cpu_fraction = cpu; w.inner_parallelism = inner;
            let c = Costs { spawn, wake, dispatch };
            let p = predict(&w, &c, cores, workers, chunk, warm);
            prop_assert!(p.total.is_finite() && p.total >= 0.0);
            prop_assert!(p.parallelism >= 1.0 && p.parallelism <= workers.max(1) as f64);
            prop_assert!(p.chunk_size >= 1);
            let s = speedup(&w, &p);
            prop_assert!(s.is_finite() && s >= 0.0);
            // No configuration beats perfect scaling over the effective parallelism.
            let seq = w.sanitized().sequential_time();
            prop_assert!(p.total + 1e-12 >= seq / p.parallelism - 1e-9 * seq);
        }

        #[test]
        fn queued_parallelism_stays_under_the_bound_and_grows_with_workers(
            cores in 1usize..64, workers in 1usize..600, cpu in 0.0f64..=1.0,
        ) {
            let p = effective_parallelism(workers, cores, cpu, 1.0);
            let bound = (workers as f64).min(cores as f64 / cpu.max(1e-6)).max(1.0);
            prop_assert!(p.is_finite() && p >= 1.0 && p <= bound + 1e-9, "{p} > {bound}");
            if workers <= cores {
                prop_assert_eq!(p, bound); // nobody ever waits for a CPU
            }
            // One more worker never lowers it; the busy cores never pass the cores.
            prop_assert!(effective_parallelism(workers + 1, cores, cpu, 1.0) + 1e-9 >= p);
            let busy = busy_cores(workers, cores, cpu);
            prop_assert!(busy >= 0.0 && busy <= cores as f64 + 1e-9);
        }

        #[test]
        fn busy_cores_in_closed_form_is_the_sum_term_by_term(
            cores in 1usize..128, extra in 1usize..2_000, cpu in 1e-6f64..0.999_999,
        ) {
            let (n, c) = (cores + extra, cores);
            let r = cpu / (1.0 - cpu);
            let terms = busy_cores_by_terms(n, c, r);
            let got = busy_cores(n, c, cpu);
            prop_assert!((got - terms).abs() <= 1e-9 * terms.max(1.0), "{got} against {terms}");
            if let Some(tail) = busy_cores_by_tail(n, c, r) {
                prop_assert_eq!(tail, got);
            }
        }

        #[test]
        fn candidates_are_valid(items in 0usize..10_000_000, workers in 0usize..300, extra in 0usize..1_000_000) {
            let c = chunk_candidates(items, workers, &[extra]);
            prop_assert!(!c.is_empty());
            prop_assert!(c.iter().all(|&x| x >= 1 && x <= items.max(1)));
        }
    }
}
