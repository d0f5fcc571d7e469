//! Timing: warm-up, interleaved rounds, result checks, and the screening of the pool grid.
//!
//! A strategy is an [`Arm`]: a closure that runs the workload once, times only the work itself
//! (setup such as borrowing a pool from the manager stays outside the timer) and returns the
//! time and the checksum of its results. [`measure`] runs every arm once to warm up, then
//! `runs` rounds in which each arm runs once, in an order rotated every other round and
//! reversed in between ([`interleave_order`]) so that drift of a shared machine, position and
//! predecessor effects hit all arms alike. Every run's checksum is compared with the sequential
//! one: a wrong result is an error, never a figure.
//!
//! ```
//! use amorsize_bench::measure::{measure, Arm};
//! use std::{cell::RefCell, time::Duration};
//! let log = RefCell::new(String::new());
//! let arm = |name: &'static str| {
//!     let log = &log;
//!     Arm::new(name, move || { log.borrow_mut().push_str(name); Ok((Duration::ZERO, Some(7))) })
//! };
//! let mut arms = vec![arm("A"), arm("B"), arm("C")];
//! let samples = measure(&mut arms, 1, 4, 7)?;
//! assert!(samples.iter().all(|s| s.len() == 4));
//! drop(arms);
//! // The warm-up round, then rounds A B C, C B A, B C A, A C B.
//! assert_eq!(log.into_inner(), "ABC ABC CBA BCA ACB".replace(' ', ""));
//! # Ok::<(), amorsize::Error>(())
//! ```

use crate::workloads::Checksum;
use std::time::Duration;

/// What one timed run returns: its duration and the checksum of its results (`None` for an arm
/// that produces no results, such as timing the planner alone).
///
/// ```
/// use amorsize_bench::{measure::{measure, Arm, RunResult}, workloads::checksum_u64};
/// use std::time::Duration;
/// fn squares() -> RunResult {
///     let out: Vec<u64> = (0..4).map(|x| x * x).collect();
///     Ok((Duration::from_micros(3), Some(checksum_u64(&out))))
/// }
/// let expected = checksum_u64(&[0, 1, 4, 9]);
/// let samples = measure(&mut [Arm::new("squares", squares)], 0, 5, expected)?;
/// assert_eq!(samples[0], vec![Duration::from_micros(3); 5]);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub type RunResult = amorsize::Result<(Duration, Option<Checksum>)>;

/// One strategy, ready to run repeatedly.
///
/// ```
/// use amorsize_bench::measure::Arm;
/// use std::time::Duration;
/// let mut calls = 0;
/// let mut arm = Arm::new("counting", || { calls += 1; Ok((Duration::from_nanos(calls), None)) });
/// assert_eq!((arm.run)()?.0, Duration::from_nanos(1));
/// assert_eq!((arm.run)()?.0, Duration::from_nanos(2));
/// assert_eq!(format!("{arm:?}"), r#"Arm { label: "counting" }"#);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub struct Arm<'a> {
    /// The strategy's label (for errors and reports).
    pub label: String,
    /// Runs the workload once and times it.
    pub run: Box<dyn FnMut() -> RunResult + 'a>,
}

impl<'a> Arm<'a> {
    /// An arm from a label and a closure.
    ///
    /// ```
    /// let mut a = amorsize_bench::measure::Arm::new("noop", || Ok((std::time::Duration::ZERO, None)));
    /// assert_eq!(a.label, "noop");
    /// assert!((a.run)().is_ok());
    /// ```
    pub fn new(label: impl Into<String>, run: impl FnMut() -> RunResult + 'a) -> Self {
        Arm {
            label: label.into(),
            run: Box::new(run),
        }
    }
}

impl std::fmt::Debug for Arm<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arm").field("label", &self.label).finish()
    }
}

/// The order in which `arms` strategies run in round `round`: even rounds run `0..arms`
/// rotated left by `round / 2`, odd rounds the same rotation reversed (A B C, C B A, B C A,
/// A C B, …). Over `2 × arms` rounds each arm takes each position exactly twice, and each arm
/// follows two different arms: a run is not always warmed up (or slowed down) by the same
/// predecessor, which a rotation alone would fix for good (A always after C).
///
/// ```
/// use amorsize_bench::measure::interleave_order;
/// assert_eq!(interleave_order(3, 0), vec![0, 1, 2]);
/// assert_eq!(interleave_order(3, 1), vec![2, 1, 0]);
/// assert_eq!(interleave_order(3, 2), vec![1, 2, 0]);
/// assert_eq!(interleave_order(3, 3), vec![0, 2, 1]);
/// assert!(interleave_order(0, 4).is_empty());
/// ```
pub fn interleave_order(arms: usize, round: usize) -> Vec<usize> {
    if arms == 0 {
        return vec![];
    }
    let shift = round / 2;
    let order = (0..arms).map(|i| (i + shift) % arms);
    if round % 2 == 0 {
        order.collect()
    } else {
        order.rev().collect()
    }
}

/// How many measured rounds a workload gets: `base` (at least 5), more for very short
/// workloads whose single runs are noisy (×4 under 1 ms sequential, ×2 under 10 ms).
///
/// ```
/// use amorsize_bench::measure::runs_for;
/// assert_eq!(runs_for(0.5, 5), 5);
/// assert_eq!(runs_for(0.005, 5), 10);
/// assert_eq!(runs_for(0.0001, 5), 20);
/// assert_eq!(runs_for(1.0, 1), 5); // never fewer than five
/// ```
pub fn runs_for(sequential_secs: f64, base: usize) -> usize {
    let base = base.max(5);
    if sequential_secs < 0.001 {
        base * 4
    } else if sequential_secs < 0.01 {
        base * 2
    } else {
        base
    }
}

fn check(label: &str, got: Option<Checksum>, expected: Checksum) -> amorsize::Result<()> {
    match got {
        Some(g) if g != expected => Err(amorsize::Error::invalid_input(
            format!("results of strategy `{label}`"),
            format!("checksum {g:#018x} differs from the sequential loop's {expected:#018x}: the strategy computed a wrong result"),
        )),
        _ => Ok(()),
    }
}

/// Runs each arm `warmup` times (discarded), then `runs` interleaved rounds; returns the
/// measured durations per arm (`result[a][r]`). Fails on the first run whose checksum differs
/// from `expected`, naming the strategy.
///
/// ```
/// use amorsize_bench::measure::{measure, Arm};
/// use std::time::Duration;
/// let mut arms = vec![
///     Arm::new("right", || Ok((Duration::from_micros(5), Some(42)))),
///     Arm::new("planner", || Ok((Duration::from_micros(1), None))), // no results to check
/// ];
/// let samples = measure(&mut arms, 1, 5, 42)?;
/// assert_eq!(samples[0].len(), 5);
/// arms.push(Arm::new("wrong", || Ok((Duration::ZERO, Some(41)))));
/// assert!(measure(&mut arms, 0, 5, 42).unwrap_err().to_string().contains("wrong"));
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn measure(
    arms: &mut [Arm<'_>],
    warmup: usize,
    runs: usize,
    expected: Checksum,
) -> amorsize::Result<Vec<Vec<Duration>>> {
    for _ in 0..warmup {
        for arm in arms.iter_mut() {
            let (_, sum) = (arm.run)()?;
            check(&arm.label, sum, expected)?;
        }
    }
    let mut samples = vec![Vec::with_capacity(runs); arms.len()];
    for round in 0..runs {
        for a in interleave_order(arms.len(), round) {
            let (d, sum) = (arms[a].run)()?;
            check(&arms[a].label, sum, expected)?;
            samples[a].push(d);
        }
    }
    Ok(samples)
}

/// Screening of a large grid: runs every arm `rounds` times (interleaved) and returns each
/// arm's fastest time. Checks results like [`measure`].
///
/// ```
/// use amorsize_bench::measure::{screen, top_k, Arm};
/// use std::time::Duration;
/// let mut arms: Vec<Arm> = [3u64, 1, 2]
///     .into_iter()
///     .map(|ms| Arm::new(format!("{ms} ms"), move || Ok((Duration::from_millis(ms), Some(0)))))
///     .collect();
/// let best = screen(&mut arms, 2, 0)?;
/// assert_eq!(top_k(&best, 1), vec![1]);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn screen(
    arms: &mut [Arm<'_>],
    rounds: usize,
    expected: Checksum,
) -> amorsize::Result<Vec<Duration>> {
    let samples = measure(arms, 0, rounds.max(1), expected)?;
    Ok(samples
        .into_iter()
        .map(|s| s.into_iter().min().unwrap_or(Duration::MAX))
        .collect())
}

/// Indices of the `k` smallest times, fastest first (ties keep grid order).
///
/// ```
/// use std::time::Duration;
/// let t = [5, 1, 4, 2].map(Duration::from_millis);
/// assert_eq!(amorsize_bench::measure::top_k(&t, 2), vec![1, 3]);
/// ```
pub fn top_k(times: &[Duration], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..times.len()).collect();
    idx.sort_by_key(|&i| (times[i], i));
    idx.truncate(k);
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn every_arm_takes_every_position_equally_often() {
        let arms = 4;
        let mut count = vec![vec![0; arms]; arms];
        for round in 0..arms * 2 * 3 {
            let order = interleave_order(arms, round);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..arms).collect::<Vec<_>>());
            for (pos, a) in order.into_iter().enumerate() {
                count[a][pos] += 1;
            }
        }
        assert!(count.iter().flatten().all(|&c| c == 6));
    }

    #[test]
    fn no_arm_always_follows_the_same_arm() {
        let arms = 5;
        let mut before: Vec<std::collections::HashSet<usize>> = vec![Default::default(); arms];
        for round in 0..4 {
            let order = interleave_order(arms, round);
            for w in order.windows(2) {
                before[w[1]].insert(w[0]);
            }
        }
        // In the first four rounds already, every arm that ever had a predecessor had two.
        for (a, b) in before.iter().enumerate() {
            assert!(b.is_empty() || b.len() >= 2, "arm {a} always follows {b:?}");
        }
    }

    #[test]
    fn measure_interleaves_warms_up_and_counts_runs() {
        let log = RefCell::new(vec![]);
        let mk = |id: usize| {
            let log = &log;
            Arm::new(format!("arm{id}"), move || {
                log.borrow_mut().push(id);
                Ok((Duration::from_nanos(id as u64), Some(7)))
            })
        };
        let mut arms = vec![mk(0), mk(1), mk(2)];
        let s = measure(&mut arms, 1, 5, 7).unwrap();
        assert_eq!(s.len(), 3);
        assert!(s.iter().all(|v| v.len() == 5));
        assert_eq!(s[2][0], Duration::from_nanos(2));
        drop(arms);
        let log = log.into_inner();
        assert_eq!(log.len(), 3 + 15);
        assert_eq!(&log[..3], &[0, 1, 2]); // warm-up
        assert_eq!(&log[3..6], &[0, 1, 2]); // round 0
        assert_eq!(&log[6..9], &[2, 1, 0]); // round 1 (reversed)
    }

    #[test]
    fn a_wrong_result_fails_loudly_and_names_the_strategy() {
        let mut arms = vec![
            Arm::new("good", || Ok((Duration::ZERO, Some(1)))),
            Arm::new("broken", || Ok((Duration::ZERO, Some(2)))),
        ];
        let err = measure(&mut arms, 0, 5, 1).unwrap_err().to_string();
        assert!(err.contains("broken"), "{err}");
        assert!(err.contains("wrong result"), "{err}");
    }

    #[test]
    fn a_wrong_result_in_warm_up_also_fails() {
        let mut arms = vec![Arm::new("x", || Ok((Duration::ZERO, Some(9))))];
        assert!(measure(&mut arms, 1, 0, 1).is_err());
    }

    #[test]
    fn arms_without_results_are_not_checked() {
        let mut arms = vec![Arm::new("planner", || Ok((Duration::ZERO, None)))];
        assert!(measure(&mut arms, 1, 5, 1).is_ok());
    }

    #[test]
    fn errors_of_an_arm_propagate() {
        let mut arms = vec![Arm::new("x", || Err(amorsize::Error::Cancelled))];
        assert!(matches!(
            measure(&mut arms, 0, 5, 1),
            Err(amorsize::Error::Cancelled)
        ));
    }

    #[test]
    fn screen_keeps_each_arms_fastest_time_and_top_k_sorts() {
        let n = RefCell::new(0u64);
        let mut arms = vec![
            Arm::new("a", || {
                *n.borrow_mut() += 1;
                Ok((Duration::from_millis(10 - *n.borrow()), Some(0)))
            }),
            Arm::new("b", || Ok((Duration::from_millis(3), Some(0)))),
        ];
        let t = screen(&mut arms, 3, 0).unwrap();
        assert_eq!(t[1], Duration::from_millis(3));
        assert!(t[0] <= Duration::from_millis(9));
        assert_eq!(top_k(&t, 1).len(), 1);
        assert_eq!(top_k(&t, 5).len(), 2);
    }
}
