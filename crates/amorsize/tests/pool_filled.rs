//! `ThreadPool::map_range_filled`: results given for some ranges are moved into place, `f` runs
//! exactly once for every other index, and every result is dropped exactly once on failure.

use amorsize::pool::{ChunkPolicy, ControllerConfig, RunOptions, ThreadPool};
use amorsize::Error;
use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A value that counts its drops.
#[derive(Debug)]
struct Counted(#[allow(dead_code)] usize, Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sorted, disjoint ranges within 0..len from arbitrary (start, len) pairs.
fn holes(len: usize, raw: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut v: Vec<(usize, usize)> = Vec::new();
    let mut sorted: Vec<(usize, usize)> =
        raw.iter().map(|&(s, l)| (s % (len + 1), l % 40)).collect();
    sorted.sort();
    let mut end = 0;
    for (s, l) in sorted {
        let s = s.max(end);
        let e = (s + l).min(len);
        if e > s {
            v.push((s, e));
            end = e;
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_index_once_and_holes_kept(
        len in 0usize..600, raw in proptest::collection::vec((0usize..700, 0usize..60), 0..8),
        workers in 1usize..4, chunk in 1usize..70, adaptive: bool, prefix in 0usize..50,
    ) {
        let pool = ThreadPool::new(workers).unwrap();
        let mut hs = holes(len, &raw);
        // Sometimes a prefix at 0 whose vector can hold every result (the buffer is adopted).
        let prefix = prefix.min(len);
        if prefix > 0 && hs.first().is_none_or(|&(s, _)| s >= prefix) {
            hs.insert(0, (0, prefix));
        }
        let filled: Vec<(usize, Vec<i64>)> = hs
            .iter()
            .map(|&(s, e)| {
                let mut v = Vec::with_capacity(if s == 0 { len } else { e - s });
                v.extend((s..e).map(|i| -(i as i64) - 1));
                (s, v)
            })
            .collect();
        let calls: Vec<AtomicUsize> = (0..len).map(|_| AtomicUsize::new(0)).collect();
        let chunks = if adaptive {
            ChunkPolicy::Adaptive(ControllerConfig::new(chunk, Duration::from_micros(50)))
        } else {
            ChunkPolicy::Fixed(chunk)
        };
        let out = pool
            .map_range_filled(len, &RunOptions::new(workers, chunks), filled, |i| {
                calls[i].fetch_add(1, Ordering::Relaxed);
                i as i64
            })
            .unwrap();
        for (i, (r, c)) in out.results.iter().zip(&calls).enumerate() {
            let in_hole = hs.iter().any(|&(s, e)| s <= i && i < e);
            let expect = if in_hole { -(i as i64) - 1 } else { i as i64 };
            prop_assert_eq!(*r, expect);
            prop_assert_eq!(c.load(Ordering::Relaxed), usize::from(!in_hole));
        }
    }
}

/// Runs 300 items with `f` panicking at `panic_at`, the ranges `(start, len, capacity)` filled
/// with counted values; checks the error's index (when `f` ran there) and that every result made
/// by `f` and every filled result is dropped exactly once.
fn panic_drops_every_result_once(ranges: &[(usize, usize, usize)], panic_at: usize, chunk: usize) {
    let pool = ThreadPool::new(2).unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let made = AtomicUsize::new(0);
    let filled: Vec<(usize, Vec<Counted>)> = ranges
        .iter()
        .map(|&(start, len, capacity)| {
            let mut v = Vec::with_capacity(capacity.max(len));
            v.extend((0..len).map(|i| Counted(i, drops.clone())));
            (start, v)
        })
        .collect();
    let err = pool
        .map_range_filled(
            300,
            &RunOptions::new(2, ChunkPolicy::Fixed(chunk)),
            filled,
            |i| {
                if i == panic_at {
                    panic!("at {i}");
                }
                made.fetch_add(1, Ordering::Relaxed);
                Counted(i, drops.clone())
            },
        )
        .unwrap_err();
    let in_hole = ranges
        .iter()
        .any(|&(s, len, _)| (s..s + len).contains(&panic_at));
    if !in_hole {
        assert!(
            matches!(err, Error::TaskPanicked { index, .. } if index == panic_at),
            "{err:?}"
        );
    }
    let filled_items: usize = ranges.iter().map(|r| r.1).sum();
    assert_eq!(
        drops.load(Ordering::Relaxed),
        made.load(Ordering::Relaxed) + filled_items,
        "panic at {panic_at}"
    );
}

#[test]
fn a_panic_drops_every_result_once_including_the_filled_ones() {
    for panic_at in [0usize, 5, 99, 150, 299] {
        panic_drops_every_result_once(&[(10, 20, 0), (200, 50, 0)], panic_at, 7);
    }
}

#[test]
fn a_prefix_vector_with_room_for_all_becomes_the_output() {
    let pool = ThreadPool::new(2).unwrap();
    let mut prefix: Vec<usize> = Vec::with_capacity(1_000);
    prefix.extend(0..100);
    let buffer = prefix.as_ptr();
    let out = pool
        .map_range_filled(
            1_000,
            &RunOptions::new(2, ChunkPolicy::Fixed(16)),
            vec![(0, prefix)],
            |i| i,
        )
        .unwrap();
    assert_eq!(out.results, (0..1_000).collect::<Vec<_>>());
    assert_eq!(out.results.as_ptr(), buffer, "no second buffer");
}

#[test]
fn a_panic_drops_an_adopted_prefix_once() {
    // The prefix at 0 can hold all 300 results: it becomes the output buffer.
    for panic_at in [40usize, 41, 170, 299] {
        panic_drops_every_result_once(&[(0, 40, 300), (100, 5, 0)], panic_at, 3);
    }
}

#[test]
fn bad_filled_ranges_are_errors_and_nothing_runs() {
    let pool = ThreadPool::new(2).unwrap();
    let opts = RunOptions::new(2, ChunkPolicy::Fixed(4));
    let ran = AtomicUsize::new(0);
    for filled in [
        vec![(5usize, vec![0u8; 10])],              // past the end
        vec![(0, vec![0u8; 3]), (2, vec![0u8; 2])], // overlapping
        vec![(6, vec![0u8; 1]), (1, vec![0u8; 1])], // out of order
    ] {
        let r = pool.map_range_filled(10, &opts, filled, |_| {
            ran.fetch_add(1, Ordering::Relaxed);
            1u8
        });
        assert!(matches!(r, Err(Error::InvalidInput { .. })));
    }
    assert_eq!(ran.load(Ordering::Relaxed), 0);
}
