//! Batching: how many items one invocation gets (pure sizing and fitting, no clock).
//!
//! A job's wall time is a start-up part (spawning the process and whatever the command does
//! before it reads its arguments: a dynamic loader, an interpreter, a JVM) plus a part per item.
//! With `--batch auto` the runner starts two probe jobs at once, one with 1 item and one with
//! [`PROBE_ITEMS`], and [`StartupFit`] draws a line through every finished job's wall time
//! against its item count: the intercept is the start-up per job, the slope the work per item.
//! [`auto_batch_size`] then gives a job enough items that the start-up stays under
//! [`TARGET_OVERHEAD`] of the work, and [`fit_to_arg_limit`] keeps the command line under the
//! system's argument-length limit.
//!
//! ```
//! use amorsize::process::batch::{auto_batch_size, fit_to_arg_limit, StartupFit};
//! use amorsize::process::batch::{MAX_AUTO_BATCH, TARGET_OVERHEAD};
//! use std::time::Duration;
//! let us = Duration::from_micros;
//! // The two probe jobs: 1 item in 1.25 ms, 16 items in 2 ms.
//! let mut fit = StartupFit::default();
//! fit.observe(1, us(1250));
//! fit.observe(16, us(2000));
//! let cost = fit.estimate().unwrap();
//! assert_eq!((cost.startup, cost.per_item), (us(1200), us(50)));
//! // 1.2 ms of start-up is 2 % of 60 ms of work: 1200 items of 50 µs.
//! let n = auto_batch_size(cost.startup, cost.per_item, TARGET_OVERHEAD, MAX_AUTO_BATCH);
//! assert_eq!(n, 1200);
//! // Unless the command line cannot hold them: 1000 bytes, 100 fixed, 10 per item.
//! assert_eq!(fit_to_arg_limit(1000, 100, std::iter::repeat(10).take(n)), 90);
//! ```

use std::time::Duration;

/// The share of a job's time that spawning may take under `--batch auto` (2 %).
///
/// ```
/// use amorsize::process::batch::{auto_batch_size, TARGET_OVERHEAD};
/// use std::time::Duration;
/// let (spawn, work) = (Duration::from_millis(3), Duration::from_millis(7));
/// let n = auto_batch_size(spawn, work, TARGET_OVERHEAD, usize::MAX);
/// // The smallest batch whose work makes the start-up at most 2 % of it.
/// let share = |n: u32| spawn.as_secs_f64() / (work * n).as_secs_f64();
/// assert!(share(n as u32) <= TARGET_OVERHEAD);
/// assert!(share(n as u32 - 1) > TARGET_OVERHEAD);
/// ```
pub const TARGET_OVERHEAD: f64 = 0.02;

/// The most items a batch gets when the work per item is too small to measure.
///
/// ```
/// use amorsize::process::batch::{auto_batch_size, MAX_AUTO_BATCH, TARGET_OVERHEAD};
/// use std::time::Duration;
/// let spawn = Duration::from_millis(1);
/// // No measurable work per item, or 1 ns (50 million items would be needed): the cap.
/// for work in [Duration::ZERO, Duration::from_nanos(1)] {
///     assert_eq!(auto_batch_size(spawn, work, TARGET_OVERHEAD, MAX_AUTO_BATCH), MAX_AUTO_BATCH);
/// }
/// ```
pub const MAX_AUTO_BATCH: usize = 100_000;

/// How the batch size is chosen.
///
/// ```
/// use amorsize::process::BatchPolicy;
/// assert_eq!(BatchPolicy::default(), BatchPolicy::Fixed(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchPolicy {
    /// At most this many items per job (still cut at the argument-length limit).
    Fixed(usize),
    /// Sized from the measured spawn cost and work per item.
    Auto,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        BatchPolicy::Fixed(1)
    }
}

/// Items per job so that `spawn_cost` is at most `target` of the work:
/// `ceil(spawn_cost / (target × work_per_item))`, clamped to `1..=max_items`.
/// Zero work per item (too small to measure) gives `max_items`.
///
/// ```
/// use amorsize::process::batch::auto_batch_size;
/// use std::time::Duration;
/// let ms = Duration::from_millis;
/// // 1 ms to spawn, 10 ms of work per item: 1 item keeps the overhead at 10%, 5 items at 2%.
/// assert_eq!(auto_batch_size(ms(1), ms(10), 0.02, 1000), 5);
/// // Long items need no batching.
/// assert_eq!(auto_batch_size(ms(1), ms(1000), 0.02, 1000), 1);
/// ```
pub fn auto_batch_size(
    spawn_cost: Duration,
    work_per_item: Duration,
    target: f64,
    max_items: usize,
) -> usize {
    let max_items = max_items.max(1);
    let work = work_per_item.as_secs_f64() * target;
    if work <= 0.0 || !work.is_finite() {
        return max_items;
    }
    let n = (spawn_cost.as_secs_f64() / work).ceil();
    if !n.is_finite() || n >= max_items as f64 {
        max_items
    } else {
        (n as usize).max(1)
    }
}

/// How many items (of `item_bytes` each, in order) fit in one command line of at most
/// `arg_limit` bytes when the fixed part takes `fixed_bytes` (byte counts add up saturating at
/// `usize::MAX`). Always at least 1: a single item that is too long is the kernel's to refuse
/// (E2BIG), reported as that job's failure.
///
/// ```
/// use amorsize::process::batch::fit_to_arg_limit;
/// assert_eq!(fit_to_arg_limit(100, 10, [30, 30, 30, 30]), 3);
/// assert_eq!(fit_to_arg_limit(100, 10, [500]), 1);
/// ```
pub fn fit_to_arg_limit(
    arg_limit: usize,
    fixed_bytes: usize,
    item_bytes: impl IntoIterator<Item = usize>,
) -> usize {
    let mut used = fixed_bytes;
    let mut n = 0;
    for b in item_bytes {
        let next = used.saturating_add(b);
        if n > 0 && next > arg_limit {
            break;
        }
        used = next;
        n += 1;
    }
    n.max(1)
}

/// Caps a batch so that `known_items` (when the input size is known) still spread over
/// `concurrency` jobs: `min(size, ceil(known / concurrency))`, at least 1.
///
/// ```
/// use amorsize::process::batch::spread_cap;
/// assert_eq!(spread_cap(1000, Some(3000), 2), 1000);
/// assert_eq!(spread_cap(100_000, Some(3000), 2), 1500);
/// assert_eq!(spread_cap(100_000, None, 2), 100_000);
/// ```
pub fn spread_cap(size: usize, known_items: Option<usize>, concurrency: usize) -> usize {
    match known_items {
        Some(n) => size.min(n.div_ceil(concurrency.max(1))).max(1),
        None => size.max(1),
    }
}

/// Items in the second probe job of `--batch auto` (the first has one). Sixteen items turn a
/// wall-time noise of ±0.3 ms into ±20 µs on the work per item, and a command whose items take
/// long gives the probe nothing worse than one coarse job.
///
/// ```
/// use amorsize::process::{batch::PROBE_ITEMS, BatchPolicy, Runner, WriteSink};
/// let r = Runner::builder(["echo"]).jobs(2).batch(BatchPolicy::Auto).keep_order(true).build()?;
/// let mut out = Vec::new();
/// r.run((1..=1000).map(|i| i.to_string()), &mut WriteSink::new(&mut out))?;
/// let text = String::from_utf8(out).unwrap();
/// let sizes: Vec<usize> = text.lines().map(|l| l.split(' ').count()).collect();
/// assert_eq!(sizes[..2], [1, PROBE_ITEMS]); // the two probe jobs
/// assert_eq!(sizes.iter().sum::<usize>(), 1000);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const PROBE_ITEMS: usize = 16;

/// The size of the second probe job: [`PROBE_ITEMS`], but at most a quarter of each job slot's
/// share of `known_items` (when the input size is known), so that a short input still spreads
/// over the slots; at least 2 (it must differ from the first probe's 1).
///
/// ```
/// use amorsize::process::batch::probe_size;
/// assert_eq!(probe_size(None, 2), 16);
/// assert_eq!(probe_size(Some(3000), 2), 16);
/// assert_eq!(probe_size(Some(40), 2), 5);
/// assert_eq!(probe_size(Some(3), 2), 2);
/// ```
pub fn probe_size(known_items: Option<usize>, concurrency: usize) -> usize {
    let cap = known_items.map_or(PROBE_ITEMS, |n| n / concurrency.max(1).saturating_mul(4));
    PROBE_ITEMS.min(cap).max(2)
}

/// What a job costs, from [`StartupFit::estimate`]: a fixed start-up per job and work per item.
///
/// ```
/// use amorsize::process::batch::StartupFit;
/// use std::time::Duration;
/// let ms = Duration::from_millis;
/// let mut fit = StartupFit::default();
/// fit.observe(1, ms(7));
/// fit.observe(4, ms(10));
/// let cost = fit.estimate().unwrap();
/// // A job of n items is expected to take startup + n × per_item.
/// assert_eq!(cost.startup + cost.per_item * 10, ms(16));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct JobCost {
    /// Start-up per job: spawning and the command's own start before its items.
    pub startup: Duration,
    /// Work per item.
    pub per_item: Duration,
}

/// A least-squares line through finished jobs' wall times against their item counts,
/// updated one job at a time (Welford's method, stable for any number of jobs).
///
/// ```
/// use amorsize::process::batch::StartupFit;
/// use std::time::Duration;
/// let ms = Duration::from_millis;
/// let mut fit = StartupFit::default();
/// fit.observe(1, ms(11));
/// assert_eq!(fit.estimate(), None); // one item count says nothing about the split
/// fit.observe(16, ms(26));
/// let cost = fit.estimate().unwrap();
/// assert_eq!((cost.startup, cost.per_item), (ms(10), ms(1)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StartupFit {
    jobs: u64,
    mean_items: f64,
    mean_secs: f64,
    /// Sum of squared deviations of the item counts.
    m2_items: f64,
    /// Sum of products of the deviations.
    co: f64,
    min_items: usize,
    max_items: usize,
}

impl StartupFit {
    /// Adds one finished job: `items` in it, `wall` from its start to its exit.
    ///
    /// ```
    /// let mut fit = amorsize::process::batch::StartupFit::default();
    /// fit.observe(3, std::time::Duration::from_millis(5));
    /// assert_eq!(fit.jobs(), 1);
    /// ```
    pub fn observe(&mut self, items: usize, wall: Duration) {
        let x = items as f64;
        let y = wall.as_secs_f64();
        if self.jobs == 0 {
            self.min_items = items;
            self.max_items = items;
        }
        self.min_items = self.min_items.min(items);
        self.max_items = self.max_items.max(items);
        self.jobs += 1;
        let n = self.jobs as f64;
        let dx = x - self.mean_items;
        self.mean_items += dx / n;
        self.mean_secs += (y - self.mean_secs) / n;
        self.m2_items += dx * (x - self.mean_items);
        self.co += dx * (y - self.mean_secs);
    }

    /// Jobs observed.
    ///
    /// ```
    /// assert_eq!(amorsize::process::batch::StartupFit::default().jobs(), 0);
    /// ```
    pub fn jobs(&self) -> u64 {
        self.jobs
    }

    /// The fitted cost, once jobs with two different item counts have finished. Neither part
    /// is negative: a falling line (noise on items that cost nothing) means all of the time is
    /// start-up, and a line through a negative start-up means all of it is work.
    ///
    /// ```
    /// use amorsize::process::batch::StartupFit;
    /// use std::time::Duration;
    /// let ms = Duration::from_millis;
    /// let mut fit = StartupFit::default();
    /// fit.observe(1, ms(2));
    /// fit.observe(16, ms(1)); // the bigger job was faster: noise
    /// let cost = fit.estimate().unwrap();
    /// assert_eq!(cost.per_item, Duration::ZERO);
    /// assert_eq!(cost.startup, Duration::from_micros(1500));
    /// ```
    pub fn estimate(&self) -> Option<JobCost> {
        if self.jobs < 2 || self.min_items == self.max_items || self.m2_items <= 0.0 {
            return None;
        }
        let slope = self.co / self.m2_items;
        let secs = |s: f64| Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::MAX);
        if !slope.is_finite() || slope <= 0.0 {
            return Some(JobCost {
                startup: secs(self.mean_secs),
                per_item: Duration::ZERO,
            });
        }
        let intercept = self.mean_secs - slope * self.mean_items;
        if intercept <= 0.0 {
            return Some(JobCost {
                startup: Duration::ZERO,
                per_item: secs(self.mean_secs / self.mean_items),
            });
        }
        Some(JobCost {
            startup: secs(intercept),
            per_item: secs(slope),
        })
    }
}

/// The longest single argument Linux passes to a new process (`MAX_ARG_STRLEN`, 32 pages of
/// 4 KiB, the terminating NUL included). An item whose argument would be at least this long
/// (the item with the template's text around it, see
/// [`Template::longest_arg`](crate::process::Template::longest_arg)) cannot be passed at all;
/// a batch puts it in a job of its own, so that its failure does not take the items batched
/// with it along.
///
/// ```
/// use amorsize::process::{batch::MAX_ARG_STRLEN, BatchPolicy, Runner, WriteSink};
/// let r = Runner::builder(["echo"]).jobs(1).batch(BatchPolicy::Fixed(10)).build()?;
/// let long = "x".repeat(MAX_ARG_STRLEN);
/// let items = vec!["a".to_string(), "b".into(), long, "c".into()];
/// let s = r.run(items, &mut WriteSink::new(std::io::sink()))?;
/// // Jobs [a b], [long] (refused by the kernel), [c]: only the long item fails.
/// assert_eq!((s.succeeded, s.failed, s.max_batch), (2, 1, 2));
/// // The same with an item just short of the limit that the template makes too long.
/// let r = Runner::builder(["echo", "--add={}"]).jobs(1).batch(BatchPolicy::Fixed(10)).build()?;
/// let long = "x".repeat(MAX_ARG_STRLEN - 3);
/// let items = vec!["a".to_string(), "b".into(), long, "c".into()];
/// let s = r.run(items, &mut WriteSink::new(std::io::sink()))?;
/// assert_eq!((s.succeeded, s.failed, s.max_batch), (2, 1, 2));
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const MAX_ARG_STRLEN: usize = 32 * 4096;

/// The system's limit on the bytes of arguments plus environment of a new process
/// (`sysconf(_SC_ARG_MAX)`) less the current environment and 4 KiB of headroom.
///
/// ```
/// let limit = amorsize::process::batch::arg_limit();
/// assert!(limit >= 4096);
/// ```
pub fn arg_limit() -> usize {
    // SAFETY: sysconf has no preconditions.
    let raw = unsafe { libc::sysconf(libc::_SC_ARG_MAX) };
    let max = if raw <= 0 { 128 * 1024 } else { raw as usize };
    let env: usize = std::env::vars_os()
        .map(|(k, v)| k.len() + v.len() + 2 + std::mem::size_of::<usize>())
        .sum();
    max.saturating_sub(env).saturating_sub(4096).max(4096)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero_work_takes_the_maximum() {
        assert_eq!(
            auto_batch_size(Duration::from_millis(1), Duration::ZERO, 0.02, 77),
            77
        );
    }

    #[test]
    fn zero_spawn_cost_means_one_item() {
        assert_eq!(
            auto_batch_size(Duration::ZERO, Duration::from_millis(1), 0.02, 77),
            1
        );
    }

    #[test]
    fn a_fit_needs_two_item_counts() {
        let mut fit = StartupFit::default();
        for _ in 0..5 {
            fit.observe(4, Duration::from_millis(3));
        }
        assert_eq!(fit.estimate(), None);
        fit.observe(5, Duration::from_millis(3));
        assert_eq!(
            fit.estimate().map(|c| c.per_item),
            Some(Duration::ZERO),
            "a flat line is all start-up"
        );
    }

    #[test]
    fn a_line_through_a_negative_start_up_is_all_work() {
        let mut fit = StartupFit::default();
        fit.observe(1, Duration::from_millis(1));
        fit.observe(11, Duration::from_millis(21));
        let cost = fit.estimate().unwrap();
        assert_eq!(cost.startup, Duration::ZERO);
        // The mean job (6 items, 11 ms) taken as all work.
        let per_item_us = cost.per_item.as_secs_f64() * 1e6;
        assert!((per_item_us - 11_000.0 / 6.0).abs() < 0.01, "{cost:?}");
    }

    #[test]
    fn fit_counts_exactly_to_the_limit() {
        assert_eq!(fit_to_arg_limit(40, 10, [10, 10, 10, 10]), 3);
        assert_eq!(fit_to_arg_limit(39, 10, [10, 10, 10, 10]), 2);
        assert_eq!(fit_to_arg_limit(40, 10, std::iter::empty()), 1);
    }

    proptest! {
        #[test]
        fn auto_size_meets_the_overhead_target(spawn_us in 1u64..5_000, work_us in 1u64..1_000_000) {
            let spawn = Duration::from_micros(spawn_us);
            let work = Duration::from_micros(work_us);
            let n = auto_batch_size(spawn, work, TARGET_OVERHEAD, usize::MAX);
            prop_assert!(n >= 1);
            // The overhead target holds ...
            prop_assert!(spawn.as_secs_f64() <= TARGET_OVERHEAD * work.as_secs_f64() * n as f64 * 1.000001);
            // ... and one item fewer would miss it (the size is the smallest that works).
            if n > 1 {
                prop_assert!(spawn.as_secs_f64() > TARGET_OVERHEAD * work.as_secs_f64() * (n - 1) as f64);
            }
        }

        #[test]
        fn the_fit_recovers_an_exact_line(
            startup_us in 0u64..200_000,
            item_us in 1u64..100_000,
            counts in proptest::collection::vec(1usize..5_000, 2..40),
        ) {
            prop_assume!(counts.iter().any(|&c| c != counts[0]));
            let mut fit = StartupFit::default();
            for &c in &counts {
                fit.observe(c, Duration::from_micros(startup_us + item_us * c as u64));
            }
            let cost = fit.estimate().unwrap();
            let close = |a: Duration, b: u64| (a.as_secs_f64() * 1e6 - b as f64).abs() <= 1e-3 * b as f64 + 0.01;
            prop_assert!(close(cost.startup, startup_us), "{cost:?}");
            prop_assert!(close(cost.per_item, item_us), "{cost:?}");
        }

        #[test]
        fn the_fit_answers_once_two_item_counts_are_seen(
            walls in proptest::collection::vec((1usize..1_000, 0u64..10_000_000), 2..40),
        ) {
            let mut fit = StartupFit::default();
            for &(c, ns) in &walls {
                fit.observe(c, Duration::from_nanos(ns));
            }
            // Any line (falling, steep, through a negative start-up) gives an answer, and
            // only two item counts do.
            let distinct = walls.iter().any(|w| w.0 != walls[0].0);
            prop_assert_eq!(fit.estimate().is_some(), distinct);
        }

        #[test]
        fn fitted_batches_stay_under_the_limit(limit in 100usize..10_000, fixed in 0usize..100, sizes in proptest::collection::vec(1usize..200, 1..100)) {
            let n = fit_to_arg_limit(limit, fixed, sizes.iter().copied());
            prop_assert!(n >= 1 && n <= sizes.len());
            let used: usize = fixed + sizes[..n].iter().sum::<usize>();
            prop_assert!(n == 1 || used <= limit);
            if n < sizes.len() {
                prop_assert!(used + sizes[n] > limit);
            }
        }
    }
}
