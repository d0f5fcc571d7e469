//! `ChunkPolicy::AdaptiveSeed`: the pool runs the Amorsize seed controller alone (no item
//! weighting, no regime reaction), returns ordered results and records its adjustments.

use amorsize::pool::{AdjustReason, ChunkPolicy, ControllerConfig, RunOptions, ThreadPool};
use std::hint::black_box;
use std::time::Duration;

/// A target no real chunk can meet (1 ns): every measured window is far too slow, so the
/// controller must shrink the chunk size. No timing is asserted, only the direction.
fn unreachable_target(initial: usize) -> ControllerConfig {
    ControllerConfig {
        initial,
        target: Duration::from_nanos(1),
        adaptation_rate: 0.3,
        min: 1,
        max: None,
        window: 10,
    }
}

fn work(i: usize) -> u64 {
    let mut x = i as u64;
    for _ in 0..50 {
        x = black_box(
            x.wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407),
        );
    }
    black_box(x);
    (i as u64) * 7
}

#[test]
fn seed_policy_returns_ordered_results_and_records_window_adjustments() {
    let pool = ThreadPool::new(2).unwrap();
    let len = 20_000;
    let opts = RunOptions::new(2, ChunkPolicy::AdaptiveSeed(unreachable_target(64)));
    let out = pool.map_range(len, &opts, work).unwrap();
    let expected: Vec<u64> = (0..len as u64).map(|i| i * 7).collect();
    assert_eq!(out.results, expected);
    let adj = &out.stats.adjustments;
    assert!(!adj.is_empty(), "the seed controller made no adjustment");
    assert_eq!(adj[0].from, 64);
    // The seed never uses the regime-change rule; every change shrinks toward the target.
    assert!(
        adj.iter().all(|a| a.reason == AdjustReason::Window),
        "{adj:?}"
    );
    assert!(adj.iter().all(|a| a.to < a.from), "{adj:?}");
    assert!(adj.windows(2).all(|w| w[0].to == w[1].from), "{adj:?}");
    assert!(out.stats.final_chunk_size < 64);
    // The seed's first step is the rate-0.3 one: 64 × (1 + (1/ratio − 1) × 0.3) ≥ 64 × 0.7.
    assert!(adj[0].to >= 44, "{adj:?}");
}

#[test]
fn improved_policy_differs_from_seed_by_reacting_to_the_regime() {
    // Same config under `Adaptive`: the first change is the regime rule's full correction,
    // which the seed never makes.
    let pool = ThreadPool::new(2).unwrap();
    let opts = RunOptions::new(2, ChunkPolicy::Adaptive(unreachable_target(64)));
    let out = pool.map_range(20_000, &opts, work).unwrap();
    assert_eq!(out.results[19_999], 19_999 * 7);
    let adj = &out.stats.adjustments;
    assert!(!adj.is_empty());
    assert!(
        adj.iter().any(|a| a.reason == AdjustReason::RegimeChange),
        "{adj:?}"
    );
}

#[test]
fn seed_policy_validates_like_adaptive() {
    let pool = ThreadPool::new(2).unwrap();
    let bad = ControllerConfig {
        window: 0,
        ..unreachable_target(4)
    };
    let err = pool
        .map_range(
            10,
            &RunOptions::new(2, ChunkPolicy::AdaptiveSeed(bad)),
            |i| i,
        )
        .unwrap_err();
    assert!(
        matches!(err, amorsize::Error::InvalidConfig { ref setting, .. } if setting == "window"),
        "{err}"
    );
}

#[test]
fn seed_policy_with_one_participant_and_tiny_jobs_is_correct() {
    let pool = ThreadPool::new(2).unwrap();
    for len in [0usize, 1, 2, 3, 17] {
        for workers in [1usize, 2] {
            let opts = RunOptions::new(workers, ChunkPolicy::AdaptiveSeed(unreachable_target(1)));
            let out = pool.map_range(len, &opts, |i| i + 1).unwrap();
            assert_eq!(out.results, (1..=len).collect::<Vec<_>>());
        }
    }
}
