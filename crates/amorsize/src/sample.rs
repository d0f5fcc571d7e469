//! Measuring a workload: run the function on a sample of items spread over the input.
//!
//! This module owns the measurement of the user's function. [`measure`] runs `f` on items at
//! positions spread over the whole input (a golden-ratio sequence: ½, 0.12, 0.74, 0.35, 0.97 …
//! of the way through, since costs often grow with the index), and records for each measurement the wall
//! time ([`Instant`]), the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`) and the process's CPU
//! time (`CLOCK_PROCESS_CPUTIME_ID`). The results of the sampled items are kept, so a caller
//! that goes on to run the rest (as [`par_map`](crate::par_map) does) runs every item exactly
//! once.
//!
//! Items far cheaper than the clock (a few nanoseconds) are timed in short runs of consecutive
//! items, each run lasting at least [`MIN_MEASUREMENT`]; the statistics are then per item,
//! averaged within each run (so the CV of such a sample is the CV of run means, which is what
//! chunks of many items see anyway).
//!
//! The CPU shares ([`SampleStats::cpu_fraction`], [`SampleStats::process_cpu_ratio`]) are
//! medians over the measurements, not ratios of sums: the kernel now and then bills a thread
//! for far more CPU than it used (a sleep right after a burst of work by many threads), and one
//! such measurement must not make waiting items look busy.
//!
//! A call whose thread blocked while other threads of the process burned CPU ([`OTHERS_WORTH_A_LOOK`])
//! may run threads of its own, or wait beside the program's own busy threads; the sample then
//! measures what the rest of the process burns while no item runs
//! ([`crate::system::BusyThreads`], [`BUSY_WINDOW`]) and leaves that out
//! ([`summarize_beside`]).
//!
//! The sample grows while the coefficient of variation is high and the time spent is small: it
//! stops at `sample_size` measurements for a steady workload (CV ≤ 0.5), at [`MAX_SAMPLE`] in any
//! case, and never spends more than the larger of `max_time` and 2% of the predicted sequential
//! time, nor more than 5% of the best parallel run ([`parallel_budget`]). Items that wait and
//! cost alike stop it at two measurements: the job after it is watched and grows to what its
//! workers burn side by side, and each item measured alone on the caller is a large part of a
//! job that runs in a few rounds.
//!
//! ```
//! use amorsize::sample::{measure, SampleSettings};
//! let items: Vec<u64> = (0..1_000).collect();
//! let s = measure(&items, |x| x * 3, &SampleSettings::default()).unwrap();
//! assert!(s.stats.count >= 1);
//! // The sampled items' results are kept:
//! for (start, results) in &s.results {
//!     for (k, r) in results.iter().enumerate() {
//!         assert_eq!(*r, items[start + k] * 3);
//!     }
//! }
//! ```

use crate::{Error, Result};
use serde::Serialize;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// The most measurements one sample takes.
///
/// ```
/// use amorsize::sample::{measure, SampleSettings, MAX_SAMPLE};
/// use std::time::Duration;
/// let items: Vec<u64> = (0..100_000).collect();
/// let settings = SampleSettings { sample_size: 1_000, max_time: Duration::from_secs(1),
///     ..Default::default() };
/// let s = measure(&items, |x| x.count_ones(), &settings)?;
/// assert!(s.measurements.len() <= MAX_SAMPLE);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const MAX_SAMPLE: usize = 64;

/// The shortest a single measurement should last; cheaper items are timed in runs.
///
/// ```
/// use amorsize::sample::{measure, SampleSettings};
/// // Items of a few nanoseconds are timed in runs of many, each meant to last 20 µs.
/// let items: Vec<u64> = (0..100_000).collect();
/// let s = measure(&items, |x| x.count_ones(), &SampleSettings::default())?;
/// assert!(s.stats.run_length > 1);
/// assert!(s.measurements.iter().any(|m| m.len > 1));
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const MIN_MEASUREMENT: Duration = Duration::from_micros(20);

/// CV above which a workload counts as heterogeneous.
///
/// ```
/// use amorsize::sample::{summarize, Measurement, HETEROGENEOUS_CV};
/// use std::time::Duration;
/// let m = |us| Measurement { start: 0, len: 1, wall: Duration::from_micros(us),
///     thread_cpu: Duration::from_micros(us), process_cpu: Duration::from_micros(us),
///     run_delay: Duration::ZERO, peak_bytes: None, voluntary_switches: None,
///     cpu_measured: true };
/// let steady = summarize(&[m(100), m(110), m(90)]);
/// let mixed = summarize(&[m(10), m(10), m(40)]);
/// assert!(steady.cv <= HETEROGENEOUS_CV && !steady.heterogeneous);
/// assert!(mixed.cv > HETEROGENEOUS_CV && mixed.heterogeneous);
/// ```
pub const HETEROGENEOUS_CV: f64 = 0.5;

/// Runs expected to last at least this long also read the scheduler's run delay.
///
/// ```
/// use amorsize::sample::{measure, SampleSettings, RUN_DELAY_WORTHWHILE};
/// // Runs meant to last ~20 µs do not read it: their run delay stays zero.
/// let items: Vec<u64> = (0..100_000).collect();
/// let s = measure(&items, |x| x.count_ones(), &SampleSettings::default())?;
/// assert!(s.measurements.iter().all(|m| m.run_delay.is_zero() || m.wall >= RUN_DELAY_WORTHWHILE));
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const RUN_DELAY_WORTHWHILE: Duration = Duration::from_micros(200);

/// Process CPU / wall ratio above which a call is taken to run threads of its own.
///
/// ```
/// use amorsize::sample::{summarize, Measurement, INNER_PARALLELISM_THRESHOLD};
/// use std::time::Duration;
/// // A call that blocked for 1 ms while the process burned `us` of CPU besides its own 10 µs.
/// let m = |us: u64| Measurement { start: 0, len: 1, wall: Duration::from_millis(1),
///     thread_cpu: Duration::from_micros(10), process_cpu: Duration::from_micros(10 + us),
///     run_delay: Duration::ZERO, peak_bytes: None, voluntary_switches: Some(1),
///     cpu_measured: true };
/// let nested = summarize(&[m(1_990)]); // ~2 cores: threads of its own
/// assert!(nested.process_cpu_ratio >= INNER_PARALLELISM_THRESHOLD);
/// assert!(nested.inner_parallelism > 1.9);
/// assert_eq!(summarize(&[m(990)]).inner_parallelism, 1.0); // ~1 core: below the threshold
/// ```
pub const INNER_PARALLELISM_THRESHOLD: f64 = 1.5;

/// Share of a run's wall time that other threads of the process burned (the median over the
/// runs in which the calling thread blocked) at which the sample looks at what they burn while no
/// item runs ([`crate::system::BusyThreads`]): the program's own busy threads, not the call's.
/// Less than this beside the thread's own share is other threads' noise, left out of
/// [`SampleStats::cpu_fraction`].
///
/// ```
/// use amorsize::sample::{measure, SampleSettings};
/// // In a program with no other thread, no run sees other threads burn CPU: the sample
/// // never looks, and nothing counts as busy elsewhere.
/// let items = [(); 4];
/// let s = measure(&items, |_| std::thread::yield_now(), &SampleSettings::default())?;
/// assert_eq!(s.stats.busy_elsewhere, 0.0);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const OTHERS_WORTH_A_LOOK: f64 = 0.25;

/// How long the sample and the growth watch look for the program's busy threads: long enough
/// that a pool worker spinning after its job (100 µs) or rayon's idle rounds stay below half of
/// it (a third at most), and so are not counted.
///
/// ```
/// use amorsize::{sample::BUSY_WINDOW, system::BusyThreads};
/// let busy = BusyThreads::measure(BUSY_WINDOW); // ~0.3 ms
/// assert_eq!(busy.threads(), 0); // this program has no other thread
/// ```
pub const BUSY_WINDOW: Duration = Duration::from_micros(300);

/// How much a sample may measure.
///
/// ```
/// use amorsize::sample::{measure, SampleSettings};
/// use std::time::Duration;
/// let settings = SampleSettings { sample_size: 3, max_time: Duration::from_millis(10),
///     ..Default::default() };
/// let items: Vec<u64> = (0..10_000).collect();
/// let s = measure(&items, |x| x * 2, &settings)?;
/// assert!(s.stats.count >= 1 && s.measurements.len() >= s.stats.count);
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleSettings {
    /// Measurements for a steady workload (≥ 1).
    pub sample_size: usize,
    /// Time the sample may always spend; it may spend up to 2% of the predicted sequential time
    /// when that is larger.
    pub max_time: Duration,
    /// Effective cores of the machine the run will use (with `max_workers`, bounds how
    /// parallel the run can be; 1 and 1, the defaults, turn [`parallel_budget`] off).
    pub cores: usize,
    /// The most workers a plan may use.
    pub max_workers: usize,
}

impl Default for SampleSettings {
    /// Five measurements, 50 ms.
    ///
    /// ```
    /// let s = amorsize::sample::SampleSettings::default();
    /// assert_eq!(s.sample_size, 5);
    /// ```
    fn default() -> Self {
        SampleSettings {
            sample_size: 5,
            max_time: Duration::from_millis(50),
            cores: 1,
            max_workers: 1,
        }
    }
}

/// One timed run of consecutive items.
///
/// ```
/// use amorsize::sample::{measure, SampleSettings};
/// let items: Vec<u64> = (0..10_000).collect();
/// let s = measure(&items, |x| x.count_ones(), &SampleSettings::default())?;
/// for m in &s.measurements {
///     assert!(m.len >= 1 && m.start + m.len <= items.len());
/// }
/// // The runs cover disjoint items.
/// let mut runs: Vec<_> = s.measurements.iter().map(|m| (m.start, m.len)).collect();
/// runs.sort();
/// assert!(runs.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0));
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Measurement {
    /// Index of the first item.
    pub start: usize,
    /// Items in the run.
    pub len: usize,
    /// Wall time of the run.
    pub wall: Duration,
    /// CPU time of the measuring thread over the run.
    pub thread_cpu: Duration,
    /// CPU time of the whole process over the run: the measuring thread's, and what the rest
    /// of the process burned over the run. The process clock's own reads are not counted as
    /// the rest's (one walks every thread of the process: tens of microseconds among hundreds),
    /// and a measuring thread kept off its CPU just before the run sees the rest burn over the
    /// run's time only, at the rate it burned over both.
    pub process_cpu: Duration,
    /// Time the measuring thread was ready to run but waited for a CPU (the scheduler's run
    /// delay from `/proc/thread-self/schedstat`; zero where unavailable). Other processes on
    /// a shared machine cause it; it is not the function waiting.
    pub run_delay: Duration,
    /// Bytes the run held at its peak beyond what the thread held before it (its results
    /// included), when the [`TrackingAllocator`](crate::alloc::TrackingAllocator) is installed.
    pub peak_bytes: Option<u64>,
    /// Voluntary context switches of the measuring thread over the run (it blocked: a sleep,
    /// I/O, a lock); `None` where not read. With none, any time off the CPU was preemption.
    pub voluntary_switches: Option<u64>,
    /// Whether the CPU clocks were read for this run (a run timed by the wall clock alone,
    /// such as par_map's prefix probe, counts for the times but not for the CPU ratios).
    pub cpu_measured: bool,
}

impl Measurement {
    /// A run timed by the wall clock alone: counts for the item times, not the CPU ratios.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = amorsize::sample::Measurement::wall_only(0, 10, Duration::from_micros(30));
    /// assert!(!m.cpu_measured);
    /// ```
    pub fn wall_only(start: usize, len: usize, wall: Duration) -> Self {
        Measurement {
            start,
            len,
            wall,
            thread_cpu: Duration::ZERO,
            process_cpu: Duration::ZERO,
            run_delay: Duration::ZERO,
            peak_bytes: None,
            voluntary_switches: None,
            cpu_measured: false,
        }
    }
}

/// Statistics of a sample, per item, in seconds.
///
/// ```
/// use amorsize::sample::{measure, SampleSettings};
/// let items: Vec<u64> = (0..10_000).collect();
/// let s = measure(&items, |x| x.count_ones(), &SampleSettings::default())?.stats;
/// assert!(s.count >= 1 && s.items >= s.count);
/// assert!(s.mean > 0.0 && s.p95 >= s.median);
/// assert!((0.0..=1.0).contains(&s.cpu_fraction));
/// println!("{s}"); // "5 measurements (… items): mean …, CPU 100%"
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct SampleStats {
    /// Measurements used for the statistics.
    pub count: usize,
    /// Items run by the sample in total (including any warm-up).
    pub items: usize,
    /// Mean item time.
    pub mean: f64,
    /// Median item time.
    pub median: f64,
    /// 95th percentile item time.
    pub p95: f64,
    /// Standard deviation of the item time.
    pub std_dev: f64,
    /// Coefficient of variation, std / mean (0 when the mean is 0).
    pub cv: f64,
    /// Share of an item's wall time it keeps a CPU busy, within `0..=1`: the thread's CPU time
    /// over the wall time less the scheduler's run delay, the median over the measurements (the
    /// lower middle of an even count); 1 for runs in which the thread never blocked, and 1 when
    /// the function runs threads of its own. When the rest of the process burned at least
    /// [`OTHERS_WORTH_A_LOOK`] more than that (threads the call started, working while it
    /// waits), the process's share (`process_cpu_ratio`, at most 1) instead.
    pub cpu_fraction: f64,
    /// Process CPU time / wall time, the median over measurements (≥ 1.5 when the function
    /// runs threads of its own).
    pub process_cpu_ratio: f64,
    /// Cores one call keeps busy (1 unless `process_cpu_ratio` passed the threshold).
    pub inner_parallelism: f64,
    /// Cores that other threads of the process kept busy on their own account while no item
    /// ran, when the sample looked (see [`OTHERS_WORTH_A_LOOK`]); 0 otherwise. Left out of
    /// `process_cpu_ratio`: it is not the call's.
    pub busy_elsewhere: f64,
    /// CV above [`HETEROGENEOUS_CV`].
    pub heterogeneous: bool,
    /// Items per measurement (1 unless items are cheaper than the clock).
    pub run_length: usize,
    /// The most bytes one measurement held at its peak (an upper bound for one item), when
    /// the tracking allocator is installed.
    pub item_memory: Option<u64>,
    /// Wall time the sample took.
    #[serde(serialize_with = "crate::plan::ser_secs")]
    pub elapsed: Duration,
}

/// A measured sample: the measurements, their statistics and the sampled items' results.
///
/// ```
/// use amorsize::sample::{measure, SampleSettings};
/// let items: Vec<u32> = (0..10_000).collect();
/// let s = measure(&items, |x| x + 1, &SampleSettings::default())?;
/// // Each sampled run keeps its results, in input order.
/// for (start, results) in &s.results {
///     assert_eq!(results[0], items[*start] + 1);
/// }
/// assert_eq!(s.sampled_items(), s.results.iter().map(|(_, r)| r.len()).sum::<usize>());
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug)]
pub struct Sample<R> {
    /// Every measurement, in the order taken.
    pub measurements: Vec<Measurement>,
    /// Per-item statistics.
    pub stats: SampleStats,
    /// Results of the sampled items: `(start, results)` for each run, sorted by `start`, disjoint.
    pub results: Vec<(usize, Vec<R>)>,
}

impl<R> Sample<R> {
    /// Items whose results the sample holds.
    ///
    /// ```
    /// let s = amorsize::sample::measure(&[1, 2, 3], |x| *x, &Default::default()).unwrap();
    /// assert_eq!(s.sampled_items(), 3); // a tiny input is sampled whole
    /// ```
    pub fn sampled_items(&self) -> usize {
        self.results.iter().map(|(_, r)| r.len()).sum()
    }
}

impl fmt::Display for SampleStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} measurements ({} items): mean {}, median {}, p95 {}, CV {:.2}{}, CPU {:.0}%",
            self.count,
            self.items,
            fmt_secs(self.mean),
            fmt_secs(self.median),
            fmt_secs(self.p95),
            self.cv,
            if self.heterogeneous {
                " (heterogeneous)"
            } else {
                ""
            },
            self.cpu_fraction * 100.0
        )?;
        if self.inner_parallelism > 1.0 {
            write!(f, ", ~{:.1} cores per call", self.inner_parallelism)?;
        }
        if self.busy_elsewhere > 0.0 {
            write!(
                f,
                ", {:.1} cores busy elsewhere in the process",
                self.busy_elsewhere
            )?;
        }
        Ok(())
    }
}

/// Formats seconds with a unit a person reads at a glance (ns, µs, ms, s).
///
/// ```
/// assert_eq!(amorsize::sample::fmt_secs(0.0000205), "20.5 µs");
/// assert_eq!(amorsize::sample::fmt_secs(2.5), "2.50 s");
/// assert_eq!(amorsize::sample::fmt_secs(f64::MAX), "1.80e308 s");
/// ```
pub fn fmt_secs(s: f64) -> String {
    if !s.is_finite() {
        return "?".into();
    }
    let a = s.abs();
    if a >= 1e9 {
        format!("{s:.2e} s")
    } else if a >= 1.0 {
        format!("{s:.2} s")
    } else if a >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else if a >= 1e-6 {
        format!("{:.1} µs", s * 1e6)
    } else {
        format!("{:.0} ns", s * 1e9)
    }
}

/// The `k`-th sample position over `0..n`: the golden-ratio sequence `frac(½ + k·0.618…)`
/// (½, 0.12, 0.74, 0.35, 0.97, 0.59, …), which spreads any number of points evenly and reaches
/// both ends of the input within the first five.
///
/// ```
/// use amorsize::sample::spread_position;
/// let p: Vec<usize> = (0..5).map(|k| spread_position(k, 100)).collect();
/// assert_eq!(p, vec![50, 11, 73, 35, 97]);
/// ```
pub fn spread_position(k: usize, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    const PHI_INV: f64 = 0.618_033_988_749_894_9;
    let x = (0.5 + (k as f64) * PHI_INV).fract();
    ((x * n as f64) as usize).min(n - 1)
}

/// Summarises measurements into per-item statistics. Pure: no clock.
///
/// ```
/// use amorsize::sample::{summarize, Measurement};
/// use std::time::Duration;
/// let m = |us| Measurement { start: 0, len: 1, wall: Duration::from_micros(us),
///     thread_cpu: Duration::from_micros(us), process_cpu: Duration::from_micros(us),
///     run_delay: Duration::ZERO, peak_bytes: None, voluntary_switches: None,
///     cpu_measured: true };
/// let s = summarize(&[m(10), m(10), m(40)]);
/// assert!((s.mean - 20e-6).abs() < 1e-12);
/// assert!(s.cv > 0.5 && s.heterogeneous);
/// assert_eq!(s.cpu_fraction, 1.0);
/// ```
pub fn summarize(ms: &[Measurement]) -> SampleStats {
    summarize_beside(ms, 0.0)
}

/// [`summarize`] in a process whose other threads kept `busy` cores busy on their own account
/// (measured while no item ran, see [`crate::system::BusyThreads`]): that much of each run's
/// process CPU time was not the call's. Pure: no clock.
///
/// ```
/// use amorsize::sample::{summarize, summarize_beside, Measurement};
/// use std::time::Duration;
/// // An item that sleeps 1 ms while two threads of the program compute on both cores.
/// let m = Measurement { start: 0, len: 1, wall: Duration::from_millis(1),
///     thread_cpu: Duration::from_micros(10), process_cpu: Duration::from_micros(2010),
///     run_delay: Duration::ZERO, peak_bytes: None, voluntary_switches: Some(1),
///     cpu_measured: true };
/// assert!(summarize(&[m]).inner_parallelism > 2.0); // looks like threads of its own
/// let s = summarize_beside(&[m], 2.0);
/// assert_eq!(s.inner_parallelism, 1.0);
/// assert!(s.cpu_fraction < 0.02); // it waits
/// assert_eq!(s.busy_elsewhere, 2.0);
/// ```
pub fn summarize_beside(ms: &[Measurement], busy: f64) -> SampleStats {
    summarize_with(ms, busy, true)
}

/// [`summarize_beside`], counting none of what the rest of the process burned as the call's:
/// for a sample whose runs saw other threads burn CPU that a later run no longer saw
/// ([`summarize_confirmed`]).
fn summarize_own(ms: &[Measurement], busy: f64) -> SampleStats {
    summarize_with(ms, busy, false)
}

/// The statistics of `ms` beside `busy` cores burned elsewhere; with `others`, what the rest
/// of the process burned beyond `busy` while the calling thread blocked may count as the
/// call's (its own threads, or part of its CPU share).
fn summarize_with(ms: &[Measurement], busy: f64, others: bool) -> SampleStats {
    let elsewhere = if busy.is_finite() { busy.max(0.0) } else { 0.0 };
    let per_item: Vec<f64> = ms
        .iter()
        .map(|m| m.wall.as_secs_f64() / m.len.max(1) as f64)
        .collect();
    let count = per_item.len();
    if count == 0 {
        return SampleStats {
            cpu_fraction: 1.0,
            process_cpu_ratio: 1.0,
            inner_parallelism: 1.0,
            run_length: 1,
            ..SampleStats::default()
        };
    }
    // Each run weighs by its items, so the mean is total time / total items (counted in f64:
    // the runs' lengths may add up past usize::MAX; the `items` field saturates).
    let items = ms
        .iter()
        .fold(0usize, |n, m| n.saturating_add(m.len.max(1)));
    let items_f: f64 = ms.iter().map(|m| m.len.max(1) as f64).sum();
    let wall: f64 = ms.iter().map(|m| m.wall.as_secs_f64()).sum();
    let mean = wall / items_f;
    let var = per_item.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / count as f64;
    let std_dev = var.sqrt();
    let cv = if mean > 0.0 { std_dev / mean } else { 0.0 };
    let mut sorted = per_item.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let median = if count % 2 == 1 {
        sorted[count / 2]
    } else {
        (sorted[count / 2 - 1] + sorted[count / 2]) / 2.0
    };
    let p95 = sorted[((count as f64 * 0.95).ceil() as usize).clamp(1, count) - 1];
    // CPU ratios come only from measurements long enough that reading the CPU clocks (a system
    // call each, ~0.3 µs) does not distort them; with none, the items are too short to block or
    // to start threads of their own, and count as compute-bound. A run in which the thread
    // never blocked (no voluntary context switch) was on the CPU all the time it was not
    // preempted, whatever the CPU clock says on a loaded or virtual machine; time spent waiting
    // for a CPU (the run delay) is never the function waiting either.
    //
    // Each run's share counts alike, and the share is their median (the lower middle of an even
    // count), as for the process's ratio below: the kernel sometimes bills a thread that only
    // slept for far more CPU than the sleep took (0.1–0.5 ms of a 1 ms sleep measured on the
    // 2-core VM, in the first run after a burst of work by hundreds of pool threads, against
    // 0.01–0.05 ms otherwise), and one such run in a sample of two made sleeping items look
    // 6–25% busy, to be run on a tenth of the workers they needed. The two mistakes are not
    // alike either: a share read too low runs items that compute on more workers than cores,
    // at about the same speed (with more items in memory at once); one read too high runs
    // waiting items on too few, tens of times slower.
    let long: Vec<&Measurement> = ms.iter().filter(|m| cpu_readable(m)).collect();
    let mut shares: Vec<f64> = Vec::new();
    let mut ratios: Vec<f64> = Vec::new();
    for m in &long {
        let w = m.wall.saturating_sub(m.run_delay).as_secs_f64();
        if w > 0.0 {
            let busy = match m.voluntary_switches {
                Some(0) => w,
                _ => m.thread_cpu.as_secs_f64().min(w),
            };
            shares.push(busy / w);
        }
        // A call that runs threads of its own waits for them: its thread blocks. One that never
        // blocked computed all along, and whatever else the process burned meanwhile was other
        // threads' (a pool or rayon finishing earlier work, a program's own busy threads; the
        // kernel also credits running threads' CPU in lumps at its ticks, so a 20 µs run can
        // see milliseconds of it).
        if blocked(m) {
            let wall = m.wall.as_secs_f64();
            let own = m.thread_cpu.as_secs_f64() / wall;
            let process = m.process_cpu.as_secs_f64() / wall - elsewhere;
            ratios.push(if others { process.max(own) } else { own });
        }
    }
    // The median ratio (the lower middle of an even count), so a moment when other threads of
    // the process were busy (a pool's workers finishing a previous job) does not pass for
    // threads of the function's own: those run during every call, the noise only during some.
    let process_cpu_ratio = lower_median(ratios).map_or(1.0, |r| r.max(0.0));
    let inner_parallelism = if process_cpu_ratio >= INNER_PARALLELISM_THRESHOLD {
        process_cpu_ratio
    } else {
        1.0
    };
    // The calling thread may wait inside the call while threads the call started do the work
    // (a nested parallel loop from outside its pool): what the whole process burned counts —
    // once the rest of the process burned at least `OTHERS_WORTH_A_LOOK` beside the thread's
    // own share. Below that it is the noise of other threads (a pool's workers parking after
    // their job: 2–4% of a 1 ms sleep measured on the 2-core VM), and for items that mostly
    // wait, a few percent more is fewer workers by as much (3.6% instead of 2% was 53 workers
    // instead of ~100 for 1 ms sleeps).
    let cpu_fraction = match lower_median(shares) {
        Some(share) if inner_parallelism <= 1.0 => {
            let process = process_cpu_ratio.min(1.0);
            let whole = if process - share >= OTHERS_WORTH_A_LOOK {
                process
            } else {
                share
            };
            whole.clamp(0.0, 1.0)
        }
        _ => 1.0,
    };
    SampleStats {
        count,
        items,
        mean,
        median,
        p95,
        std_dev,
        cv,
        cpu_fraction,
        process_cpu_ratio,
        inner_parallelism,
        busy_elsewhere: elsewhere,
        heterogeneous: cv > HETEROGENEOUS_CV,
        run_length: ms.iter().map(|m| m.len).max().unwrap_or(1).max(1),
        item_memory: ms.iter().filter_map(|m| m.peak_bytes).max(),
        elapsed: Duration::ZERO,
    }
}

/// The median share of a run's wall time that threads other than the calling one burned, over
/// the runs long enough to read the CPU clocks in which the calling thread blocked (0 with none).
fn others_share(ms: &[Measurement]) -> f64 {
    let shares: Vec<f64> = ms
        .iter()
        .filter(|m| cpu_readable(m) && blocked(m))
        .map(|m| m.process_cpu.saturating_sub(m.thread_cpu).as_secs_f64() / m.wall.as_secs_f64())
        .collect();
    lower_median(shares).unwrap_or(0.0)
}

/// A measurement long enough (and taken with the CPU clocks) for its CPU times to mean
/// something: reading the clocks costs a system call each, ~0.3 µs.
pub(crate) fn cpu_readable(m: &Measurement) -> bool {
    m.cpu_measured && m.wall >= MIN_MEASUREMENT
}

/// Whether `stats` describe items that wait and cost about alike: on the CPU less than
/// [`COMPUTE_BOUND`](crate::plan::COMPUTE_BOUND) of their time, without threads of their own,
/// not heterogeneous, and their memory not being measured. A parallel job of such items runs
/// watched and grows to what its workers burn side by side (see [`crate::exec`]).
pub(crate) fn wait_and_cost_alike(stats: &SampleStats) -> bool {
    stats.cpu_fraction < crate::plan::COMPUTE_BOUND
        && stats.inner_parallelism <= 1.0
        && !stats.heterogeneous
        && !crate::alloc::is_active()
}

/// Whether runs `ms` (whose statistics are `stats`) found items that wait and cost about
/// alike ([`wait_and_cost_alike`]), with at least one run's CPU read. Such a sample stops at
/// two runs: the job after it starts wider than the cores and is watched, so more runs would
/// refine only a start the watch corrects, and each one costs the job an item's time alone
/// on the caller, a large part of a job that runs in a few rounds. (2,000 sleeps of 100 µs
/// sampled 5 runs under the parallel budget, 11–16% of par_map's time; 2 runs took 5–8%, and
/// par_map 7.5–11.5 ms against 7.9–10.6, 6 suite runs each, alternated.)
pub(crate) fn waits_alike(ms: &[Measurement], stats: &SampleStats) -> bool {
    ms.iter().any(cpu_readable) && wait_and_cost_alike(stats)
}

/// A run in which the calling thread blocked (or whose context switches are unknown).
fn blocked(m: &Measurement) -> bool {
    m.voluntary_switches != Some(0)
}

/// The median of `v`, the lower middle of an even count; `None` when `v` is empty.
pub(crate) fn lower_median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len().checked_sub(1)? / 2).copied()
}

/// The time a sample may spend: the larger of `max_time` and 2% of the predicted sequential
/// time of `items` at `mean` seconds each.
///
/// ```
/// use std::time::Duration;
/// let b = amorsize::sample::time_budget(Duration::from_millis(50), 1_000, 1e-3);
/// assert_eq!(b, Duration::from_millis(50));          // 2% of 1 s is 20 ms < 50 ms
/// let b = amorsize::sample::time_budget(Duration::from_millis(50), 100_000, 1e-3);
/// assert_eq!(b, Duration::from_secs(2));             // 2% of 100 s
/// ```
pub fn time_budget(max_time: Duration, items: usize, mean: f64) -> Duration {
    let seq = items as f64 * mean;
    let two_percent = if seq.is_finite() && seq > 0.0 {
        Duration::from_secs_f64((seq * 0.02).min(1e6))
    } else {
        Duration::ZERO
    };
    max_time.max(two_percent)
}

/// A second bound on the sample's time: 5% of the best parallel run the machine could give
/// (the sequential time over `min(items, max_workers, cores / CPU fraction)`). Sampling runs on
/// the calling thread alone, so for work that parallelises very well (blocking work, many
/// cores) a sample within 2% of the sequential time can still be a large share of the run.
///
/// ```
/// use amorsize::sample::{parallel_budget, SampleSettings, SampleStats};
/// let s = SampleSettings { cores: 2, max_workers: 64, ..Default::default() };
/// let stats = SampleStats { mean: 1e-3, cpu_fraction: 0.01, ..Default::default() };
/// // 500 sleeps of 1 ms: 64 workers could do it in ~7.8 ms; 5% of that.
/// let b = parallel_budget(&s, 500, &stats);
/// assert!(b.as_secs_f64() > 3e-4 && b.as_secs_f64() < 4e-4);
/// // On one core nothing runs in parallel: no such bound.
/// assert_eq!(parallel_budget(&SampleSettings::default(), 500, &stats), std::time::Duration::MAX);
/// // Items that use no CPU at all, with 256 workers allowed: 500 sleeps in two rounds.
/// let idle = SampleStats { mean: 1e-3, cpu_fraction: 0.0, ..Default::default() };
/// let b = parallel_budget(&SampleSettings { max_workers: 256, ..s }, 500, &idle);
/// assert!((b.as_secs_f64() - 0.05 * 0.5 / 256.0).abs() < 1e-9);
/// ```
pub fn parallel_budget(settings: &SampleSettings, items: usize, stats: &SampleStats) -> Duration {
    let seq = items as f64 * stats.mean;
    // No floor but `max_workers` itself: a fixed one (1/64) held this bound to 64 workers per
    // core however high `max_workers` was set.
    let cpu = stats.cpu_fraction.clamp(f64::MIN_POSITIVE, 1.0);
    let p = (items as f64)
        .min(settings.max_workers.max(1) as f64)
        .min(settings.cores.max(1) as f64 / cpu)
        .max(1.0);
    if p <= 1.0 {
        // Nothing can run in parallel: only the 2% rule applies.
        return Duration::MAX;
    }
    let b = 0.05 * seq / p;
    if b.is_finite() && b > 0.0 {
        Duration::from_secs_f64(b.min(1e6))
    } else {
        Duration::MAX
    }
}

/// CPU time of the calling thread.
///
/// ```
/// let a = amorsize::sample::thread_cpu_time();
/// let b = amorsize::sample::thread_cpu_time();
/// assert!(b >= a);
/// ```
pub fn thread_cpu_time() -> Duration {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time of the whole process (all threads).
///
/// ```
/// let thread = amorsize::sample::thread_cpu_time();
/// assert!(amorsize::sample::process_cpu_time() >= thread); // read after: includes it
/// ```
pub fn process_cpu_time() -> Duration {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// The time `Instant::now()` + `elapsed()` take by themselves, measured once per process and
/// subtracted from every measurement.
///
/// ```
/// assert!(amorsize::sample::clock_overhead() < std::time::Duration::from_millis(1));
/// ```
pub fn clock_overhead() -> Duration {
    static O: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *O.get_or_init(|| {
        let mut v: Vec<Duration> = (0..64)
            .map(|_| {
                let t = Instant::now();
                t.elapsed()
            })
            .collect();
        v.sort();
        v[v.len() / 4]
    })
}

/// The calling thread's total run delay (time ready but waiting for a CPU), from
/// `/proc/thread-self/schedstat`; `None` where the kernel does not provide it.
///
/// ```
/// if let Some(d) = amorsize::sample::run_delay() { assert!(d.as_secs() < 1_000_000); }
/// ```
pub fn run_delay() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    parse_schedstat(&text)
}

/// The contents of `/proc/self/task/<tid>/<file>`; `None` for a tid of 0 or where it cannot
/// be read.
fn task_file(tid: i64, file: &str) -> Option<String> {
    (tid > 0)
        .then(|| std::fs::read_to_string(format!("/proc/self/task/{tid}/{file}")).ok())
        .flatten()
}

/// The run delay of thread `tid` of this process (see [`run_delay`]); `None` for a tid of 0
/// or where the kernel does not provide it.
pub(crate) fn run_delay_of(tid: i64) -> Option<Duration> {
    parse_schedstat(&task_file(tid, "schedstat")?)
}

/// What a thread's `status` says of its scheduling: whether it is ready to run (state `R`:
/// on a CPU or waiting for one) and how many times it blocked so far (voluntary context
/// switches: a sleep, I/O, a lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TaskStatus {
    pub(crate) runnable: bool,
    pub(crate) voluntary: u64,
}

/// The status of thread `tid` of this process; `None` where it cannot be read.
pub(crate) fn task_status_of(tid: i64) -> Option<TaskStatus> {
    let text = task_file(tid, "status")?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    Some(TaskStatus {
        runnable: field("State:")?.starts_with('R'),
        voluntary: field("voluntary_ctxt_switches:")?.parse().ok()?,
    })
}

/// The calling thread's kernel thread id (0 where there is none to read); the system call is
/// made once per thread (a call that offers its first item to helpers names its thread).
pub(crate) fn own_tid() -> i64 {
    thread_local! {
        static TID: std::cell::Cell<i64> = const { std::cell::Cell::new(-1) };
    }
    TID.with(|t| {
        if t.get() < 0 {
            #[cfg(target_os = "linux")]
            // SAFETY: gettid takes no arguments and cannot fail.
            t.set((unsafe { libc::syscall(libc::SYS_gettid) }) as i64);
            #[cfg(not(target_os = "linux"))]
            t.set(0);
        }
        t.get()
    })
}

/// Parses a `schedstat` line (`cpu_ns run_delay_ns timeslices`) into the run delay.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(amorsize::sample::parse_schedstat("869652 175591 2\n"), Some(Duration::from_nanos(175591)));
/// assert_eq!(amorsize::sample::parse_schedstat("garbage"), None);
/// ```
pub fn parse_schedstat(text: &str) -> Option<Duration> {
    let ns: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Voluntary context switches of the calling thread so far (`getrusage(RUSAGE_THREAD)`).
///
/// ```
/// let a = amorsize::sample::voluntary_switches();
/// std::thread::sleep(std::time::Duration::from_millis(1));
/// if let (Some(a), Some(b)) = (a, amorsize::sample::voluntary_switches()) { assert!(b > a); }
/// ```
pub fn voluntary_switches() -> Option<u64> {
    // SAFETY: an all-zero rusage is a valid value; getrusage only writes it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    (rc == 0).then(|| ru.ru_nvcsw.max(0) as u64)
}

/// The CPU clock of the calling thread, which other threads can read with [`clock`] (the
/// pool's growth watch reads its workers'); `None` where the system refuses it.
pub(crate) fn own_thread_clock() -> Option<libc::clockid_t> {
    #[cfg(target_os = "linux")]
    {
        let mut id: libc::clockid_t = 0;
        // SAFETY: `pthread_self()` is the calling thread, alive; `id` is a valid place to write.
        let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut id) };
        (rc == 0).then_some(id)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Reads clock `id` (zero when it cannot be read).
pub(crate) fn clock(id: libc::clockid_t) -> Duration {
    try_clock(id).unwrap_or(Duration::ZERO)
}

/// Reads clock `id`; `None` when it cannot be read (e.g. the CPU clock of a thread that ended).
pub(crate) fn try_clock(id: libc::clockid_t) -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes it.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    (rc == 0).then(|| {
        Duration::new(
            ts.tv_sec.max(0) as u64,
            ts.tv_nsec.clamp(0, 999_999_999) as u32,
        )
    })
}

/// What [`Measurement::process_cpu`] holds for a run of `wall` in which the calling thread
/// burned `thread_cpu`: that, and what the rest of the process burned over the run, read
/// between the process clock's two reads (`process` apart).
///
/// The process clock counts the reading thread's own CPU up to the moment each read begins
/// (Linux brings the caller's clock up to date first, then sums every thread), so `caller`
/// is the caller's CPU from just before the first read to just before the second: the first
/// read itself included. That read walks every thread of the process: in the benchmark
/// suite's process, whose pools hold hundreds, one took 10–230 µs of the caller's CPU, which
/// counted as other threads' before (500 parked threads: 8% of each 165 µs sleep, median,
/// against 1% with none).
///
/// `span` is the wall time from just before the first read to the run's end. What of it
/// outside the run the caller spent off its CPU (kept off it between a read and the run, on a
/// loaded machine) is time the rest of the process burned in too, which counted against the
/// run's wall alone before: the others' CPU is taken at their rate over the run and that time.
/// Pure: no clock.
fn process_cpu_of_run(
    wall: Duration,
    span: Duration,
    thread_cpu: Duration,
    process: Duration,
    caller: Duration,
) -> Duration {
    let others = process.saturating_sub(caller);
    let reading = caller.saturating_sub(thread_cpu);
    let off_cpu = span.saturating_sub(wall).saturating_sub(reading);
    let others = if off_cpu.is_zero() {
        others
    } else {
        others.mul_f64(wall.as_secs_f64() / wall.saturating_add(off_cpu).as_secs_f64())
    };
    thread_cpu.saturating_add(others)
}

/// Runs `f` on `items[start..start + len]`, timing the run; a panic becomes
/// [`Error::TaskPanicked`] with the index of the item that panicked.
pub(crate) fn timed_run<T, R, F: Fn(&T) -> R>(
    items: &[T],
    f: &F,
    start: usize,
    len: usize,
    expected: Duration,
) -> Result<(Measurement, Vec<R>)> {
    let mut out = Vec::with_capacity(len);
    let mut current = start;
    // Reading the run delay costs a few microseconds (a file read): only for runs long enough
    // to be preempted.
    let tracking = crate::alloc::is_active();
    let mem0 = if tracking {
        crate::alloc::reset_thread_peak();
        Some(crate::alloc::thread_stats().current)
    } else {
        None
    };
    let d0 = if expected >= RUN_DELAY_WORTHWHILE {
        run_delay()
    } else {
        None
    };
    let v0 = voluntary_switches();
    // The process clock is read inside a span of its own (see `process_cpu_of_run`): the
    // caller's clock just before each of its reads, the wall clock around both.
    let around = Instant::now();
    let before_read = thread_cpu_time();
    let p0 = process_cpu_time();
    let t0 = thread_cpu_time();
    let w0 = Instant::now();
    let res = catch_unwind(AssertUnwindSafe(|| {
        for (k, item) in items[start..start + len].iter().enumerate() {
            current = start + k;
            out.push(f(item));
        }
    }));
    let end = Instant::now();
    let wall = end
        .saturating_duration_since(w0)
        .saturating_sub(clock_overhead());
    let t1 = thread_cpu_time();
    let process = process_cpu_time().saturating_sub(p0);
    let thread_cpu = t1.saturating_sub(t0);
    let process_cpu = process_cpu_of_run(
        wall,
        end.saturating_duration_since(around),
        thread_cpu,
        process,
        t1.saturating_sub(before_read),
    );
    let voluntary_switches = match (v0, voluntary_switches()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let peak_bytes = mem0.map(|c0| (crate::alloc::thread_stats().peak - c0).max(0) as u64);
    let run_delay = match d0.and_then(|a| Some((a, run_delay()?))) {
        Some((a, b)) => b.saturating_sub(a).min(wall),
        None => Duration::ZERO,
    };
    if let Err(payload) = res {
        return Err(Error::from_panic(current, payload));
    }
    Ok((
        Measurement {
            start,
            len,
            wall,
            thread_cpu,
            process_cpu,
            run_delay,
            peak_bytes,
            voluntary_switches,
            cpu_measured: true,
        },
        out,
    ))
}

/// Measures `f` on a sample of `items` spread over the input; keeps the sampled results.
///
/// An empty input gives an empty sample. A panic in `f` gives
/// `Err(Error::TaskPanicked { index, .. })`; nothing aborts.
///
/// ```
/// use amorsize::sample::{measure, SampleSettings};
/// let items: Vec<u32> = (0..100).collect();
/// let err = measure(&items, |x| if *x == 0 { panic!("zero") } else { *x },
///                   &SampleSettings::default()).unwrap_err();
/// assert!(matches!(err, amorsize::Error::TaskPanicked { index: 0, .. }));
/// ```
pub fn measure<T, R, F: Fn(&T) -> R>(
    items: &[T],
    f: F,
    settings: &SampleSettings,
) -> Result<Sample<R>> {
    measure_after(items, f, settings, None)
}

/// Goes on measuring after an earlier sample of the same input (e.g. a short probe): the items
/// `prior` ran are not run again, its measurements count, and its results are kept.
///
/// ```
/// use amorsize::sample::{measure, resume, SampleSettings};
/// let items: Vec<u64> = (0..10_000).collect();
/// let probe = measure(&items, |x| x + 1, &SampleSettings { sample_size: 1, ..Default::default() })?;
/// let ran_before = probe.sampled_items();
/// let full = resume(&items, |x| x + 1, &SampleSettings::default(), probe)?;
/// assert!(full.sampled_items() >= ran_before);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn resume<T, R, F: Fn(&T) -> R>(
    items: &[T],
    f: F,
    settings: &SampleSettings,
    prior: Sample<R>,
) -> Result<Sample<R>> {
    measure_after(items, f, settings, Some(prior))
}

fn measure_after<T, R, F: Fn(&T) -> R>(
    items: &[T],
    f: F,
    settings: &SampleSettings,
    prior: Option<Sample<R>>,
) -> Result<Sample<R>> {
    let started = Instant::now();
    let n = items.len();
    let (mut measurements, mut results) = match prior {
        Some(p) => (p.measurements, p.results),
        None => (Vec::new(), Vec::new()),
    };
    if n == 0 {
        let mut stats = summarize(&[]);
        stats.elapsed = started.elapsed();
        return Ok(Sample {
            measurements,
            stats,
            results,
        });
    }
    let want = settings.sample_size.clamp(1, MAX_SAMPLE);
    // Taken: sorted disjoint (start, end) ranges already run.
    let mut taken: Vec<(usize, usize)> = results.iter().map(|(s, r)| (*s, s + r.len())).collect();
    // Runs of cheap items never exceed 1/256 of the input, so even 64 of them take a quarter.
    let run_cap = (n / 256).max(1);
    let mut run_len = measurements
        .iter()
        .map(|m| m.len)
        .max()
        .unwrap_or(1)
        .min(run_cap);
    let mut warmups: Vec<Measurement> = Vec::new();
    let mut k = 0usize;
    let mut misses = 0usize;
    loop {
        let sampled: usize = taken.iter().map(|(s, e)| e - s).sum();
        if sampled >= n {
            break;
        }
        // Next position: the spread sequence, skipping positions already run; should it keep
        // hitting runs already taken (small inputs), the first gap.
        let mut pos = spread_position(k, n);
        k += 1;
        let slot = taken.partition_point(|&(s, _)| s <= pos);
        if slot > 0 && taken[slot - 1].1 > pos {
            misses += 1;
            if misses <= 4 * MAX_SAMPLE {
                continue;
            }
            pos = first_gap(&taken, n);
        }
        let len = run_len_at(&taken, n, pos, run_len);
        let last = measurements.last().or(warmups.last());
        let m = take_run(items, &f, &mut taken, &mut results, pos, len, last)?;
        // A run shorter than the clock can time well sets a longer run length; while the run
        // length can still grow, such a run is a warm-up, left out of the statistics (its
        // results are kept). At most three warm-ups.
        let short = m.wall < MIN_MEASUREMENT;
        if short {
            let per = (m.wall.as_secs_f64() / m.len.max(1) as f64).max(1e-9);
            let wanted = ((MIN_MEASUREMENT.as_secs_f64() / per).ceil() as usize).max(1);
            let next = wanted.min(run_cap);
            if next > run_len && warmups.len() < 3 {
                run_len = next;
                warmups.push(m);
                continue;
            }
        }
        measurements.push(m);
        let stats = summarize(&measurements);
        let spent = started.elapsed();
        let budget = time_budget(settings.max_time, n, stats.mean);
        let next_cost = Duration::from_secs_f64((stats.mean * run_len as f64).min(1e6));
        if measurements.len() >= MAX_SAMPLE
            || spent + next_cost > budget
            || (measurements.len() >= 2 && spent + next_cost > parallel_budget(settings, n, &stats))
            || (measurements.len() >= want && !stats.heterogeneous)
            || (measurements.len() >= 2 && waits_alike(&measurements, &stats))
        {
            break;
        }
    }
    if measurements.is_empty() {
        // Only warm-ups ran (the whole input was a few short runs): use them.
        measurements.append(&mut warmups);
    }
    let mut stats = summarize(&measurements);
    // Threads besides the caller burned CPU while it blocked: threads the call started, or the
    // program's own threads busy with something else (they would make waiting items look as if
    // they ran threads of their own, and run on too few workers). Look at what the rest of the
    // process burns while no item runs, and leave that out.
    if others_share(&measurements) >= OTHERS_WORTH_A_LOOK {
        // Threads busy for a moment each are not the program's busy threads, but many of them
        // burn as much (a pool spinning down after a job just before the sample: 64 rayon
        // threads yielding to each other kept both cores of the 2-core VM busy for a
        // millisecond or two, and made 2,000 sleeps of 100 µs look as if each ran two cores'
        // worth of threads: sequential, 46× slower than they could run). While they burn more
        // than a quarter core beside the busy threads, look again (at most `QUIET_LOOKS`
        // times), so that one more run after the looks can tell threads of the call's own,
        // which burn again, from such a burst, which has passed or burns as much without items.
        let mut looks = crate::system::BusyLooks::start();
        let mut look = looks.next(BUSY_WINDOW);
        for _ in 1..QUIET_LOOKS {
            let busy = look.cores();
            if !others_counted(&measurements, busy)
                || burned_idle(&measurements, look.all_cores())
                || look.all_cores() - busy < OTHERS_WORTH_A_LOOK
            {
                break;
            }
            look = looks.next(BUSY_WINDOW);
        }
        let (busy, quiet) = (look.cores(), look.all_cores());
        stats = summarize_beside(&measurements, busy);
        if others_counted(&measurements, busy) {
            if burned_idle(&measurements, quiet) {
                stats = summarize_own(&measurements, busy);
            } else if let Some((pos, len)) = next_gap_run(&taken, n, run_len) {
                let last = measurements.last();
                let m = take_run(items, &f, &mut taken, &mut results, pos, len, last)?;
                measurements.push(m);
                stats = summarize_confirmed(&measurements, busy, quiet);
            }
        }
    }
    stats.items = results.iter().map(|(_, r)| r.len()).sum();
    stats.elapsed = started.elapsed();
    Ok(Sample {
        measurements,
        stats,
        results,
    })
}

/// The sample met a panic at item `k` (`e`) in a run that started at `run_start`; it runs items
/// spread over the input, so an item before `k` that it has not run may fail too. Runs those
/// (and only those: no item runs twice) in order, as the plain loop would have, and returns the
/// first failure: the error names the first failing item.
fn first_panic<T, R, F: Fn(&T) -> R>(
    items: &[T],
    f: &F,
    taken: &[(usize, usize)],
    run_start: usize,
    e: Error,
) -> Error {
    let Error::TaskPanicked { index: k, .. } = e else {
        return e;
    };
    // What ran: the runs taken, and the failing run up to the panic.
    let mut ran = taken.to_vec();
    ran.push((run_start, k));
    ran.sort_unstable();
    // The gaps before k between them.
    let mut gaps = Vec::new();
    let mut cursor = 0;
    for &(s, end) in &ran {
        if s >= k {
            break;
        }
        gaps.push((cursor, s));
        cursor = cursor.max(end);
    }
    gaps.push((cursor, k));
    for (start, end) in gaps.into_iter().filter(|(s, e)| s < e) {
        for (j, item) in items[start..end].iter().enumerate() {
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| drop(f(item)))) {
                return Error::from_panic(start + j, p);
            }
        }
    }
    e
}

fn first_gap(taken: &[(usize, usize)], n: usize) -> usize {
    let mut cursor = 0;
    for &(s, e) in taken {
        if s > cursor {
            return cursor;
        }
        cursor = cursor.max(e);
    }
    cursor.min(n.saturating_sub(1))
}

/// Looks at the rest of the process a sample may take while it burns CPU on threads each busy
/// for a moment only ([`crate::system::BusyThreads::all_cores`]): with the look's window and
/// the reading of ~70 threads' clocks, about 3 ms at most on the 2-core VM, taken only by a
/// sample whose runs saw others burn CPU that they do not burn now. The looks are
/// [`crate::system::BusyLooks`]: the thread list is read once, and each look's window starts
/// where the last ended (3 looks among 505 threads: 2.5 ms, against 3.9 ms for 3 separate
/// [`crate::system::BusyThreads::measure`]).
const QUIET_LOOKS: usize = 8;

/// Whether the rest of the process burned about as much (less than [`OTHERS_WORTH_A_LOOK`]
/// more) in the runs of `ms` in which the calling thread blocked as the `quiet` cores it burned
/// while no item ran: none of it is then the call's.
fn burned_idle(ms: &[Measurement], quiet: f64) -> bool {
    others_share(ms) < quiet.max(0.0) + OTHERS_WORTH_A_LOOK
}

/// Whether the statistics of `ms` beside `busy` count some of what the rest of the process
/// burned as the call's: as threads of its own, or in its CPU share.
fn others_counted(ms: &[Measurement], busy: f64) -> bool {
    let with = summarize_beside(ms, busy);
    with.inner_parallelism > 1.0 || with.cpu_fraction > summarize_own(ms, busy).cpu_fraction
}

/// The statistics of a sample whose runs saw the rest of the process burn CPU while the calling
/// thread blocked, and whose last run was taken after a look at it, which found `busy` cores
/// kept busy by the program's busy threads and `quiet` by all its other threads. Threads of
/// the call's own burn during that run too; when it blocked and the others burned less than
/// [`OTHERS_WORTH_A_LOOK`] beyond what they burned in the look, the earlier CPU was a burst of
/// the program's that has passed, and none of it is the call's. A last run that did not block
/// or was too short to read tells nothing, and the earlier runs stand. Pure: no clock.
///
/// Misjudging threads of the call's own for a passed burst is the cheaper mistake: such items
/// then run on more workers, which queue more work for those threads, at about the same speed;
/// the other mistake runs waiting items on one or two workers, tens of times slower.
fn summarize_confirmed(ms: &[Measurement], busy: f64, quiet: f64) -> SampleStats {
    let passed = ms.last().is_some_and(|last| {
        cpu_readable(last)
            && blocked(last)
            && burned_idle(std::slice::from_ref(last), busy.max(quiet))
    });
    if passed {
        summarize_own(ms, busy)
    } else {
        summarize_beside(ms, busy)
    }
}

/// The first run not yet taken: where it starts and its length (at most `run_len`, up to the
/// next run taken); `None` once every item ran.
fn next_gap_run(taken: &[(usize, usize)], n: usize, run_len: usize) -> Option<(usize, usize)> {
    let sampled: usize = taken.iter().map(|(s, e)| e - s).sum();
    if sampled >= n {
        return None;
    }
    let pos = first_gap(taken, n);
    Some((pos, run_len_at(taken, n, pos, run_len)))
}

/// The length of a run starting at `pos` (not yet taken): at most `run_len`, up to the next run
/// taken or the end of the input, at least 1.
fn run_len_at(taken: &[(usize, usize)], n: usize, pos: usize, run_len: usize) -> usize {
    let next_start = taken
        .get(taken.partition_point(|&(s, _)| s <= pos))
        .map_or(n, |&(s, _)| s);
    run_len.min(next_start - pos).max(1)
}

/// Runs and times items `pos..pos + len`, keeping their results in `taken` and `results`; the
/// run is expected to take as long per item as `last`. A panic names the first failing item
/// (see [`first_panic`]).
fn take_run<T, R, F: Fn(&T) -> R>(
    items: &[T],
    f: &F,
    taken: &mut Vec<(usize, usize)>,
    results: &mut Vec<(usize, Vec<R>)>,
    pos: usize,
    len: usize,
    last: Option<&Measurement>,
) -> Result<Measurement> {
    let expected = last.map_or(Duration::ZERO, |last| {
        Duration::try_from_secs_f64(last.wall.as_secs_f64() * (len as f64 / last.len.max(1) as f64))
            .unwrap_or(Duration::MAX)
    });
    let (m, out) = match timed_run(items, f, pos, len, expected) {
        Ok(r) => r,
        Err(e) => return Err(first_panic(items, f, taken, pos, e)),
    };
    insert_run(taken, results, pos, out);
    Ok(m)
}

/// Inserts a run into the sorted lists, merging nothing (runs never overlap).
fn insert_run<R>(
    taken: &mut Vec<(usize, usize)>,
    results: &mut Vec<(usize, Vec<R>)>,
    start: usize,
    out: Vec<R>,
) {
    let slot = taken.partition_point(|&(s, _)| s < start);
    taken.insert(slot, (start, start + out.len()));
    results.insert(slot, (start, out));
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::HashSet;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The process clock's first read costs the caller CPU (in a process of hundreds of
    /// threads, tens of microseconds), and a caller kept off its CPU between that read and
    /// the run saw the rest of the process burn meanwhile: neither counts as CPU the rest of
    /// the process burned over the run.
    #[test]
    fn a_run_counts_neither_the_process_clocks_read_nor_a_wait_before_it() {
        let us = Duration::from_micros;
        // (wall, span, the caller's CPU in the run, the process clock's difference, the
        // caller's CPU from before the first read): what the run's process CPU is.
        let cases = [
            // A run of 165 µs whose item burned 10 µs; the first read took 50 µs of the
            // caller's CPU (the span: 51 µs of reads, the run), and no other thread ran.
            ((165, 216, 10, 61, 61), 10),
            // The same, with another thread burning a core through the run: its 165 µs.
            ((165, 216, 10, 226, 61), 175),
            // The caller waited 835 µs for a CPU between the read and the run, while a thread
            // of the program burned a core: its 1 ms over those 1,000 µs is 165 µs of the run.
            ((165, 1_001, 10, 1_011, 11), 175),
            // Without that wait the same reading is a core and a half over the run.
            ((165, 166, 10, 261, 11), 260),
            // A process clock behind the caller's (no thread burns less than nothing).
            ((165, 170, 10, 5, 12), 10),
            // A run of no time: nothing of the others' counts, nothing divides by zero.
            ((0, 900, 0, 500, 0), 0),
        ];
        for ((wall, span, own, process, caller), want) in cases {
            let run = process_cpu_of_run(us(wall), us(span), us(own), us(process), us(caller));
            assert!(run.abs_diff(us(want)) < us(1), "{run:?}, not {want} µs");
        }
    }

    /// Runs of 190 µs items: sleeps on the CPU ~20 µs of them stop a sample at two runs;
    /// items that compute, items that vary, or runs whose CPU was not read do not.
    #[test]
    fn a_sample_of_items_that_wait_alike_stops_at_two_runs() {
        let run = |cpu_us: u64, wall_us: u64| Measurement {
            thread_cpu: Duration::from_micros(cpu_us),
            cpu_measured: true,
            voluntary_switches: Some(1),
            ..Measurement::wall_only(0, 1, Duration::from_micros(wall_us))
        };
        let sleeps = [run(20, 190), run(19, 185)];
        assert!(waits_alike(&sleeps, &summarize(&sleeps)));
        let busy = [run(190, 190), run(188, 190)];
        assert!(!waits_alike(&busy, &summarize(&busy)));
        let unequal = [run(20, 190), run(100, 5_000)];
        assert!(!waits_alike(&unequal, &summarize(&unequal)));
        let unread = [Measurement::wall_only(0, 1, Duration::from_micros(190)); 2];
        assert!(!waits_alike(&unread, &summarize(&unread)));
        // The sample itself: 2,000 sleeps of 100 µs, whose parallel budget alone would let it
        // take more runs (their CPU share alone is 5-20%, which holds the budget's
        // parallelism to the cores over it).
        let items = vec![(); 2_000];
        let nap = |_: &()| std::thread::sleep(Duration::from_micros(100));
        // (On a loaded machine one sleep may take ten times the other: the first two runs
        // then vary, and the sample goes on, as it should.)
        let s = measure(&items, nap, &SampleSettings::default()).unwrap();
        assert!(s.measurements.len() >= 2, "{:?}", s.stats);
        let two = &s.measurements[..2];
        let alike = waits_alike(two, &summarize(two));
        assert!(!alike || s.measurements.len() == 2, "{:?}", s.stats);
    }

    #[test]
    fn a_running_thread_is_runnable_and_a_parked_one_is_not() {
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;
        let runnable = |tid| task_status_of(tid).is_some_and(|s| s.runnable);
        if let Some(me) = task_status_of(own_tid()) {
            assert!(me.runnable, "{me:?}");
            std::thread::sleep(Duration::from_millis(1)); // blocks: one voluntary switch
            assert!(task_status_of(own_tid()).unwrap().voluntary > me.voluntary);
        }
        // The thread's own account read by its id is the one `run_delay` reads, later.
        if let (Some(a), Some(b)) = (run_delay(), run_delay_of(own_tid())) {
            assert!(b >= a, "{b:?} < {a:?}");
        }
        let done = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let d = Arc::clone(&done);
        let h = std::thread::spawn(move || {
            tx.send(own_tid()).unwrap();
            while !d.load(Ordering::Acquire) {
                std::thread::park();
            }
        });
        let tid = rx.recv().unwrap();
        // It parks soon after sending (waited for, at most a minute).
        let t = std::time::Instant::now();
        while runnable(tid) && t.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!runnable(tid));
        done.store(true, Ordering::Release);
        h.thread().unpark();
        h.join().unwrap();
    }

    fn m(us: u64, len: usize) -> Measurement {
        Measurement {
            start: 0,
            len,
            wall: Duration::from_micros(us),
            thread_cpu: Duration::from_micros(us),
            process_cpu: Duration::from_micros(us),
            run_delay: Duration::ZERO,
            peak_bytes: None,
            voluntary_switches: Some(1),
            cpu_measured: true,
        }
    }

    #[test]
    fn no_voluntary_switch_means_compute_bound() {
        // 1 ms wall, only 0.3 ms of CPU by the clock, but the thread never blocked: preempted.
        let mut a = m(1000, 1);
        a.thread_cpu = Duration::from_micros(300);
        a.process_cpu = Duration::from_micros(300);
        a.voluntary_switches = Some(0);
        assert_eq!(summarize(&[a]).cpu_fraction, 1.0);
        a.voluntary_switches = Some(3);
        assert!((summarize(&[a]).cpu_fraction - 0.3).abs() < 1e-9);
    }

    #[test]
    fn one_run_billed_for_cpu_it_did_not_use_does_not_make_waiting_items_busy() {
        // Two runs of one item that sleeps 1 ms: the first billed 400 µs of CPU (as the kernel
        // bills a thread after a burst of work by many others), the second 20 µs.
        let mut a = m(1000, 1);
        a.thread_cpu = Duration::from_micros(400);
        a.process_cpu = Duration::from_micros(420);
        let mut b = m(1000, 1);
        b.thread_cpu = Duration::from_micros(20);
        b.process_cpu = Duration::from_micros(25);
        let s = summarize(&[a, b]);
        assert!((s.cpu_fraction - 0.02).abs() < 1e-9, "{}", s.cpu_fraction);
        // Over the two runs' sum it would read 21%: the planner would give such items about
        // a tenth of the workers.
        assert!(s.cpu_fraction < 0.21 / 4.0);
        // Most runs busy: the share is theirs.
        let mut c = m(1000, 1);
        c.thread_cpu = Duration::from_micros(500);
        c.process_cpu = Duration::from_micros(500);
        let s = summarize(&[a, b, c]);
        assert!((s.cpu_fraction - 0.4).abs() < 1e-9, "{}", s.cpu_fraction);
    }

    #[test]
    fn a_little_cpu_burned_by_other_threads_is_not_the_items() {
        // A 1 ms sleep on the calling thread (20 µs of CPU) while other threads of the process
        // burned 20 µs more (a pool's workers parking): the item's share is its own.
        let mut a = m(1000, 1);
        a.thread_cpu = Duration::from_micros(20);
        a.process_cpu = Duration::from_micros(40);
        let s = summarize(&[a, a]);
        assert!((s.cpu_fraction - 0.02).abs() < 1e-9, "{}", s.cpu_fraction);
        assert!((s.process_cpu_ratio - 0.04).abs() < 1e-9);
        // The rest of the process burning a third of a core while the thread waits inside the
        // call: a thread the call started works for it, and its CPU counts.
        a.process_cpu = Duration::from_micros(350);
        let s = summarize(&[a, a]);
        assert!((s.cpu_fraction - 0.35).abs() < 1e-9, "{}", s.cpu_fraction);
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Whatever the runs, the CPU share is a share, does not depend on their order, and
        /// (when neither threads of the call's own nor other threads' CPU past the threshold
        /// come in) lies between the least and the most busy run's own share: one run billed
        /// for any amount of CPU cannot move it past the others.
        #[test]
        fn cpu_share_is_a_median_of_the_runs(
            runs in proptest::collection::vec(
                (100u64..5_000, 0u64..=1_000, 0u64..=400, prop_oneof![Just(Some(0u64)), Just(Some(1)), Just(None)]),
                1..8,
            ),
        ) {
            let ms: Vec<Measurement> = runs
                .iter()
                .map(|&(wall, cpu_permille, others_us, switches)| {
                    let mut a = m(wall, 1);
                    a.thread_cpu = Duration::from_micros(wall * cpu_permille / 1000);
                    a.process_cpu = a.thread_cpu + Duration::from_micros(others_us);
                    a.voluntary_switches = switches;
                    a
                })
                .collect();
            let s = summarize(&ms);
            prop_assert!((0.0..=1.0).contains(&s.cpu_fraction));
            let mut reversed = ms.clone();
            reversed.reverse();
            prop_assert_eq!(summarize(&reversed).cpu_fraction, s.cpu_fraction);
            let own: Vec<f64> = ms
                .iter()
                .map(|a| match a.voluntary_switches {
                    Some(0) => 1.0,
                    _ => a.thread_cpu.as_secs_f64() / a.wall.as_secs_f64(),
                })
                .collect();
            let (lo, hi) = own
                .iter()
                .fold((f64::INFINITY, 0.0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            let own_median = lower_median(own.clone()).expect("one run at least");
            let others_count = s.process_cpu_ratio.min(1.0) - own_median >= OTHERS_WORTH_A_LOOK;
            if s.inner_parallelism == 1.0 && !others_count {
                prop_assert!(s.cpu_fraction >= lo - 1e-9 && s.cpu_fraction <= hi + 1e-9,
                    "{} not in {}..={}", s.cpu_fraction, lo, hi);
            }
            // A run billed for far more CPU than the others, in a sample of three or more,
            // leaves the share where the others put it.
            if ms.len() >= 2 {
                let mut billed = ms.clone();
                let mut extra = billed[0];
                extra.thread_cpu = extra.wall;
                extra.process_cpu = extra.wall;
                extra.voluntary_switches = Some(1);
                billed.push(extra);
                let t = summarize(&billed);
                let mut sorted = own.clone();
                sorted.sort_by(f64::total_cmp);
                // The lower middle of the n + 1 shares, the billed one (1.0) the largest.
                let expected = sorted[billed.len().div_ceil(2) - 1];
                if t.inner_parallelism == 1.0 && t.process_cpu_ratio.min(1.0) - expected < OTHERS_WORTH_A_LOOK {
                    prop_assert!((t.cpu_fraction - expected).abs() < 1e-9,
                        "{} != {} from {:?}", t.cpu_fraction, expected, sorted);
                }
            }
        }
    }

    #[test]
    fn work_done_by_threads_the_call_started_is_not_blocking() {
        // The calling thread waits (0.1 ms of CPU in 1 ms) while 1.2 cores of the process work.
        let mut a = m(1000, 1);
        a.thread_cpu = Duration::from_micros(100);
        a.process_cpu = Duration::from_micros(1200);
        let s = summarize(&[a]);
        assert_eq!(s.cpu_fraction, 1.0);
        assert_eq!(s.inner_parallelism, 1.0);
    }

    #[test]
    fn inner_parallelism_is_the_median_and_makes_work_compute_bound() {
        let mut ms: Vec<Measurement> = (0..5).map(|_| m(1000, 1)).collect();
        // One measurement when other threads were busy: not enough.
        ms[0].process_cpu = Duration::from_micros(3000);
        assert_eq!(summarize(&ms).inner_parallelism, 1.0);
        // Most measurements at 2 cores, the thread itself mostly waiting inside the call.
        for x in ms.iter_mut().take(3) {
            x.process_cpu = Duration::from_micros(2000);
            x.thread_cpu = Duration::from_micros(100);
        }
        let s = summarize(&ms);
        assert!((s.inner_parallelism - 2.0).abs() < 1e-9);
        assert_eq!(s.cpu_fraction, 1.0);
    }

    #[test]
    fn other_threads_busy_while_the_call_never_blocked_are_not_its_own() {
        // Every run: 20 µs on the CPU without blocking, while the process clock moved by 9×
        // that (rayon's threads spinning after a previous job). Not threads of the call's own.
        let ms: Vec<Measurement> = (0..2)
            .map(|_| {
                let mut a = m(20, 1);
                a.process_cpu = Duration::from_micros(180);
                a.voluntary_switches = Some(0);
                a
            })
            .collect();
        let s = summarize(&ms);
        assert_eq!(s.inner_parallelism, 1.0);
        assert_eq!(s.cpu_fraction, 1.0);
        // The same runs with the calling thread blocking inside them: threads of its own.
        let ms: Vec<Measurement> = ms
            .into_iter()
            .map(|mut a| {
                a.voluntary_switches = Some(2);
                a.thread_cpu = Duration::from_micros(2);
                a
            })
            .collect();
        assert!(summarize(&ms).inner_parallelism > 8.0);
    }

    #[test]
    fn run_delay_is_not_blocking() {
        // 1 ms wall, 0.5 ms on the CPU, 0.5 ms waiting for a CPU: compute-bound.
        let mut a = m(1000, 1);
        a.thread_cpu = Duration::from_micros(500);
        a.run_delay = Duration::from_micros(500);
        assert!((summarize(&[a]).cpu_fraction - 1.0).abs() < 1e-9);
    }

    #[test]
    fn spread_positions_cover_both_halves() {
        let p: Vec<usize> = (0..8).map(|k| spread_position(k, 1000)).collect();
        assert_eq!(p, vec![500, 118, 736, 354, 972, 590, 208, 826]);
        // Every fifth of the input is hit within the first five positions.
        let mut fifths: Vec<usize> = p[..5].iter().map(|x| x / 200).collect();
        fifths.sort();
        fifths.dedup();
        assert_eq!(fifths, vec![0, 1, 2, 3, 4]);
        assert_eq!(spread_position(3, 1), 0);
        assert_eq!(spread_position(0, 0), 0);
    }

    #[test]
    fn summary_of_nothing_is_neutral() {
        let s = summarize(&[]);
        assert_eq!(s.count, 0);
        assert_eq!(s.mean, 0.0);
        assert_eq!(s.cv, 0.0);
        assert!(!s.heterogeneous);
    }

    #[test]
    fn summary_weighs_runs_by_items() {
        // 10 items in 100 µs and 1 item in 10 µs: 110 µs over 11 items.
        let s = summarize(&[m(100, 10), m(10, 1)]);
        assert!((s.mean - 10e-6).abs() < 1e-12);
        assert_eq!(s.cv, 0.0);
        assert_eq!(s.run_length, 10);
    }

    #[test]
    fn summary_percentiles() {
        let ms: Vec<Measurement> = (1..=20).map(|i| m(i, 1)).collect();
        let s = summarize(&ms);
        assert!((s.median - 10.5e-6).abs() < 1e-12);
        assert!((s.p95 - 19e-6).abs() < 1e-12);
    }

    #[test]
    fn blocking_and_inner_parallelism_from_cpu_times() {
        let mut a = m(1000, 1);
        a.thread_cpu = Duration::from_micros(100);
        a.process_cpu = Duration::from_micros(100);
        let s = summarize(&[a]);
        assert!((s.cpu_fraction - 0.1).abs() < 1e-9);
        assert_eq!(s.inner_parallelism, 1.0);
        let mut b = m(1000, 1);
        b.process_cpu = Duration::from_micros(3000);
        let s = summarize(&[b]);
        assert!((s.inner_parallelism - 3.0).abs() < 1e-9);
    }

    #[test]
    fn others_share_is_the_median_over_runs_that_blocked() {
        let run = |wall, own, process, switches| Measurement {
            thread_cpu: Duration::from_micros(own),
            process_cpu: Duration::from_micros(process),
            voluntary_switches: switches,
            ..m(wall, 1)
        };
        assert_eq!(others_share(&[]), 0.0);
        // Never blocked: whatever the process burned was not the call's to wait for.
        assert_eq!(others_share(&[run(1000, 1000, 3000, Some(0))]), 0.0);
        let ms = [
            run(1000, 10, 2010, Some(1)),
            run(1000, 10, 10, Some(1)),
            run(1000, 10, 1010, None),
            run(10, 0, 5000, Some(1)), // too short to read the clocks
        ];
        assert!((others_share(&ms) - 1.0).abs() < 1e-9);
    }

    /// A run of one item of `wall` µs that blocked, the calling thread on the CPU `own` µs and
    /// the rest of the process `others` µs meanwhile.
    fn beside(wall: u64, own: u64, others: u64) -> Measurement {
        Measurement {
            thread_cpu: Duration::from_micros(own),
            process_cpu: Duration::from_micros(own + others),
            voluntary_switches: Some(1),
            ..m(wall, 1)
        }
    }

    #[test]
    fn others_burning_as_much_with_no_item_running_are_not_the_calls() {
        // Sleeps of 180 µs (10 µs on the CPU) while the rest of the process kept two cores busy.
        let ms = vec![beside(180, 10, 360); 5];
        // Nothing busy for long in the look: the runs look like items running two cores' worth
        // of threads of their own.
        assert!(others_counted(&ms, 0.0));
        assert!(summarize_beside(&ms, 0.0).inner_parallelism > 1.9);
        // But threads busy for a moment each burned 1.9 cores in the look: as much.
        assert!(burned_idle(&ms, 1.9));
        let own = summarize_own(&ms, 0.0);
        assert_eq!(own.inner_parallelism, 1.0);
        assert!(own.cpu_fraction < 0.1, "{}", own.cpu_fraction);
        // Half as much in the look, a burst dying down: not yet.
        assert!(!burned_idle(&ms, 1.0));
        // The program's busy threads explain them: nothing counts, nothing to confirm.
        assert!(!others_counted(&ms, 2.0));
        // Threads of the call's own, counted only in its CPU share (a fifth of a core beside
        // a tenth of its own at the least), count too.
        let light = vec![beside(1000, 100, 800); 3];
        assert_eq!(summarize_beside(&light, 0.0).inner_parallelism, 1.0);
        assert!(others_counted(&light, 0.0));
        assert!(!others_counted(&light, 0.8));
    }

    #[test]
    fn one_more_run_tells_the_calls_threads_from_a_burst_that_passed() {
        let mut ms = vec![beside(180, 10, 360); 5];
        // The run after the look: the others burned nothing more than in the look.
        ms.push(beside(180, 10, 20));
        let s = summarize_confirmed(&ms, 0.0, 0.0);
        assert_eq!(s.inner_parallelism, 1.0);
        assert!(s.cpu_fraction < 0.1);
        assert_eq!(s.count, 6);
        // A burst still dying down: the run burned about what the look saw (1 core).
        ms.pop();
        ms.push(beside(180, 10, 190));
        assert_eq!(summarize_confirmed(&ms, 0.0, 1.0).inner_parallelism, 1.0);
        assert!(summarize_confirmed(&ms, 0.0, 0.2).inner_parallelism > 1.5);
        // Threads of the call's own burn again: the runs stand.
        ms.pop();
        ms.push(beside(180, 10, 350));
        let s = summarize_confirmed(&ms, 0.0, 0.1);
        assert!(s.inner_parallelism > 1.9);
        assert_eq!(s, summarize_beside(&ms, 0.0));
        // A last run that never blocked, or too short to read, tells nothing.
        for last in [
            Measurement {
                voluntary_switches: Some(0),
                ..beside(180, 170, 0)
            },
            beside(10, 1, 0),
        ] {
            ms.pop();
            ms.push(last);
            assert_eq!(
                summarize_confirmed(&ms, 0.0, 0.0),
                summarize_beside(&ms, 0.0)
            );
        }
    }

    #[test]
    fn the_run_after_the_look_is_the_first_gap() {
        assert_eq!(next_gap_run(&[], 10, 3), Some((0, 3)));
        assert_eq!(next_gap_run(&[(0, 2), (5, 6)], 10, 4), Some((2, 3)));
        assert_eq!(next_gap_run(&[(0, 2), (2, 10)], 10, 4), None);
        assert_eq!(next_gap_run(&[(0, 9)], 10, 4), Some((9, 1)));
        assert_eq!(next_gap_run(&[(1, 10)], 10, 4), Some((0, 1)));
    }

    #[test]
    fn busy_elsewhere_is_left_out_and_never_below_the_calls_own_cpu() {
        let mut a = m(1000, 1);
        a.thread_cpu = Duration::from_micros(400);
        a.process_cpu = Duration::from_micros(2400);
        assert_eq!(summarize(&[a]).inner_parallelism, 2.4);
        // The program's threads explain 2 of the 2.4 cores: the call computes 40% of the time.
        let s = summarize_beside(&[a], 2.0);
        assert_eq!(s.inner_parallelism, 1.0);
        assert!((s.cpu_fraction - 0.4).abs() < 1e-9);
        // More than the process burned: the call's own thread still counts.
        let s = summarize_beside(&[a], 5.0);
        assert!((s.process_cpu_ratio - 0.4).abs() < 1e-9);
        // Threads of its own beside busy ones: what is left still passes the threshold.
        a.process_cpu = Duration::from_micros(4400);
        assert!((summarize_beside(&[a], 2.0).inner_parallelism - 2.4).abs() < 1e-9);
        // Nonsense is no busy thread.
        for bad in [f64::NAN, -1.0, f64::INFINITY] {
            assert_eq!(summarize_beside(&[a], bad), summarize(&[a]));
        }
    }

    #[test]
    fn budget_is_the_larger_of_floor_and_two_percent() {
        assert_eq!(
            time_budget(Duration::from_millis(50), 0, 1.0),
            Duration::from_millis(50)
        );
        assert_eq!(
            time_budget(Duration::from_millis(1), 1000, f64::NAN),
            Duration::from_millis(1)
        );
    }

    #[test]
    fn sampled_results_are_each_items_own_and_disjoint() {
        let items: Vec<usize> = (0..10_000).collect();
        let calls: Vec<AtomicUsize> = (0..items.len()).map(|_| AtomicUsize::new(0)).collect();
        let s = measure(
            &items,
            |&i| {
                calls[i].fetch_add(1, Ordering::Relaxed);
                i * 2
            },
            &SampleSettings::default(),
        )
        .unwrap();
        let mut seen = HashSet::new();
        for (start, rs) in &s.results {
            for (k, r) in rs.iter().enumerate() {
                assert_eq!(*r, (start + k) * 2);
                assert!(seen.insert(start + k));
            }
        }
        let ran: usize = calls.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        assert_eq!(ran, seen.len(), "every sampled call kept its result");
        assert!(calls.iter().all(|c| c.load(Ordering::Relaxed) <= 1));
        assert!(s
            .results
            .windows(2)
            .all(|w| w[0].0 + w[0].1.len() <= w[1].0));
    }

    #[test]
    fn sample_spreads_over_the_input() {
        // Expensive enough that each item is its own measurement.
        let items: Vec<u64> = (0..1000).collect();
        let s = measure(
            &items,
            |x| {
                let t = Instant::now();
                while t.elapsed() < Duration::from_micros(30) {}
                *x
            },
            &SampleSettings::default(),
        )
        .unwrap();
        let starts: Vec<usize> = s.measurements.iter().map(|m| m.start).collect();
        assert!(starts.iter().any(|&x| x >= 500), "{starts:?}");
        assert!(starts.iter().any(|&x| x < 500), "{starts:?}");
    }

    #[test]
    fn tiny_inputs_are_sampled_whole_without_repeats() {
        for n in 1..12 {
            let items: Vec<usize> = (0..n).collect();
            let s = measure(&items, |x| *x, &SampleSettings::default()).unwrap();
            let total: usize = s.results.iter().map(|(_, r)| r.len()).sum();
            assert!(total <= n);
            assert!(s.stats.count >= 1);
        }
    }

    #[test]
    fn panic_reports_the_item() {
        let items: Vec<usize> = (0..100).collect();
        let e = measure(
            &items,
            |&x| {
                if x == 50 {
                    panic!("fifty")
                }
                x
            },
            &SampleSettings::default(),
        )
        .unwrap_err();
        match e {
            Error::TaskPanicked { index, message } => {
                assert_eq!(index, 50);
                assert_eq!(message, "fifty");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_panic_names_the_first_failing_item_and_runs_no_item_twice() {
        // Every item from 300 on fails; the sample starts in the middle (500), in runs of
        // several cheap items. The error must name 300, and the items before it that the
        // sample had not run are run once each to find it, none of them twice.
        let items: Vec<usize> = (0..1000).collect();
        let calls: Vec<AtomicUsize> = (0..items.len()).map(|_| AtomicUsize::new(0)).collect();
        let e = measure(
            &items,
            |&i| {
                calls[i].fetch_add(1, Ordering::Relaxed);
                if i >= 300 {
                    panic!("bad {i}")
                }
                i
            },
            &SampleSettings::default(),
        )
        .unwrap_err();
        assert!(matches!(e, Error::TaskPanicked { index: 300, .. }), "{e:?}");
        assert!(calls.iter().all(|c| c.load(Ordering::Relaxed) <= 1));
        assert!(calls[..300].iter().all(|c| c.load(Ordering::Relaxed) == 1));
    }

    #[test]
    fn the_search_for_an_earlier_failure_skips_what_ran() {
        // Runs 100..110 was taken; the failing run started at 200 and panicked at 205.
        let items: Vec<usize> = (0..300).collect();
        let calls: Vec<AtomicUsize> = (0..items.len()).map(|_| AtomicUsize::new(0)).collect();
        let f = |&i: &usize| {
            calls[i].fetch_add(1, Ordering::Relaxed);
            if i >= 150 {
                panic!("bad")
            }
        };
        let e = first_panic(
            &items,
            &f,
            &[(100, 110)],
            200,
            Error::from_panic(205, Box::new("x")),
        );
        assert!(matches!(e, Error::TaskPanicked { index: 150, .. }), "{e:?}");
        let ran: Vec<usize> = (0..300)
            .filter(|&i| calls[i].load(Ordering::Relaxed) > 0)
            .collect();
        let expected: Vec<usize> = (0..100).chain(110..=150).collect();
        assert_eq!(ran, expected);
        // Nothing fails before the panic: the error stands, and the failing run's items before
        // it (200..205) are not run again.
        let again = AtomicUsize::new(0);
        let ok = |&i: &usize| {
            if (200..205).contains(&i) {
                again.fetch_add(1, Ordering::Relaxed);
            }
        };
        let e = first_panic(&items, &ok, &[], 200, Error::from_panic(205, Box::new("x")));
        assert!(matches!(e, Error::TaskPanicked { index: 205, .. }), "{e:?}");
        assert_eq!(again.load(Ordering::Relaxed), 0);
    }
}
