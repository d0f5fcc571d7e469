//! Batching: how many items one invocation gets (pure sizing, no clock).
//!
//! The spawn cost of a process (measured on this machine by
//! [`measure_spawn_cost`](super::measure_spawn_cost)) is pure overhead. With `--batch auto` a
//! job gets enough items that this overhead stays under [`TARGET_OVERHEAD`] of the work the
//! items take, and never more bytes than the system's argument-length limit allows.

use std::time::Duration;

/// The share of a job's time that spawning may take under `--batch auto` (2 %).
pub const TARGET_OVERHEAD: f64 = 0.02;

/// The most items a batch gets when the work per item is too small to measure.
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
/// `arg_limit` bytes when the fixed part takes `fixed_bytes`. Always at least 1: a single item
/// that is too long is the kernel's to refuse (E2BIG), reported as that job's failure.
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
        if n > 0 && used + b > arg_limit {
            break;
        }
        used += b;
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

/// Estimates the work per item from one finished job: its wall time less the spawn cost,
/// divided by its item count.
///
/// ```
/// use amorsize::process::batch::work_per_item;
/// use std::time::Duration;
/// let ms = Duration::from_millis;
/// assert_eq!(work_per_item(ms(21), ms(1), 4), ms(5));
/// assert_eq!(work_per_item(ms(1), ms(2), 4), Duration::ZERO);
/// ```
pub fn work_per_item(job_wall: Duration, spawn_cost: Duration, items: usize) -> Duration {
    job_wall.saturating_sub(spawn_cost) / (items.max(1) as u32)
}

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
