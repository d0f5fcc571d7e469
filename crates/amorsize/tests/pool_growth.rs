//! A job that grows: the caller watches its first workers, asks the policy how many
//! participants it wants, and lets more in. Whatever the policy says, every item runs exactly
//! once and the results stay in order.

use amorsize::pool::{ChunkPolicy, Growth, Observed, RunOptions, ThreadPool};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Items that wait (the workload under test, not a way to order threads).
fn wait_item(i: usize, runs: &[AtomicUsize]) -> usize {
    runs[i].fetch_add(1, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(2));
    i * 3
}

fn counters(n: usize) -> Vec<AtomicUsize> {
    (0..n).map(|_| AtomicUsize::new(0)).collect()
}

fn assert_once_in_order(results: &[usize], runs: &[AtomicUsize]) {
    assert_eq!(results, (0..runs.len()).map(|i| i * 3).collect::<Vec<_>>());
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(r.load(Ordering::Relaxed), 1, "item {i}");
    }
}

#[test]
fn waiting_items_grow_the_job_and_every_item_runs_once() {
    let pool = ThreadPool::new(8).unwrap();
    let runs = counters(40);
    let opts = RunOptions::new(2, ChunkPolicy::Fixed(1)).with_growth(Growth::new(
        8,
        Duration::from_micros(500),
        |seen| if seen.cpu_per_worker() < 0.5 { 8 } else { 2 },
    ));
    let out = pool.map_range(40, &opts, |i| wait_item(i, &runs)).unwrap();
    assert_once_in_order(&out.results, &runs);
    let seen = out.stats.observed.expect("the job was watched");
    // A sleeping worker burns next to no CPU, however loaded the machine is.
    assert!(seen.cpu_per_worker() < 0.5, "{seen:?}");
    assert_eq!(seen.grew_to, Some(8));
    assert!(out.stats.participants > 2, "{:?}", out.stats);
}

#[test]
fn a_policy_that_wants_no_more_leaves_the_job_as_it_was() {
    let pool = ThreadPool::new(8).unwrap();
    let runs = counters(30);
    let asked = Arc::new(Mutex::new(Vec::<Observed>::new()));
    let log = Arc::clone(&asked);
    let opts = RunOptions::new(2, ChunkPolicy::Fixed(1)).with_growth(Growth::new(
        8,
        Duration::from_micros(500),
        move |seen| {
            log.lock().unwrap().push(*seen);
            2
        },
    ));
    let out = pool.map_range(30, &opts, |i| wait_item(i, &runs)).unwrap();
    assert_once_in_order(&out.results, &runs);
    assert!(out.stats.participants <= 2, "{:?}", out.stats);
    let asked = asked.lock().unwrap();
    assert!(asked.len() <= 1);
    match out.stats.observed {
        Some(seen) => {
            assert_eq!(seen.grew_to, None);
            assert_eq!(asked.as_slice(), &[seen]);
            assert_eq!(seen.workers, 1);
        }
        None => assert!(asked.is_empty()),
    }
}

#[test]
fn a_panicking_policy_only_stops_the_growth() {
    let pool = ThreadPool::new(4).unwrap();
    let runs = counters(20);
    let opts = RunOptions::new(2, ChunkPolicy::Fixed(1)).with_growth(Growth::new(
        4,
        Duration::from_micros(300),
        |_| panic!("the policy failed"),
    ));
    let out = pool.map_range(20, &opts, |i| wait_item(i, &runs)).unwrap();
    assert_once_in_order(&out.results, &runs);
    assert!(out.stats.observed.is_none());
    assert!(out.stats.participants <= 2);
    // The pool serves the next job.
    let again = pool
        .map_range(10, &RunOptions::new(4, ChunkPolicy::Fixed(1)), |i| i)
        .unwrap();
    assert_eq!(again.results, (0..10).collect::<Vec<_>>());
}

#[test]
fn growth_stops_at_the_pool_size() {
    let pool = ThreadPool::new(3).unwrap();
    let runs = counters(30);
    let opts = RunOptions::new(2, ChunkPolicy::Fixed(1)).with_growth(Growth::new(
        64,
        Duration::from_micros(500),
        |_| 64,
    ));
    let out = pool.map_range(30, &opts, |i| wait_item(i, &runs)).unwrap();
    assert_once_in_order(&out.results, &runs);
    if let Some(seen) = out.stats.observed {
        assert_eq!(seen.grew_to, Some(3));
    }
    assert!(out.stats.participants <= 3);
}

#[test]
fn an_inline_job_is_never_watched() {
    let pool = ThreadPool::new(4).unwrap();
    let called = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&called);
    let grow = Growth::new(4, Duration::from_micros(100), move |_| {
        c.fetch_add(1, Ordering::Relaxed);
        4
    });
    // One participant: the job runs on the caller.
    let one = RunOptions::new(1, ChunkPolicy::Fixed(1)).with_growth(grow.clone());
    let out = pool.map_range(5, &one, |i| i + 1).unwrap();
    assert_eq!(out.results, vec![1, 2, 3, 4, 5]);
    assert!(out.stats.inline && out.stats.observed.is_none());
    // A job started from inside another job runs inline on that worker.
    let nested = RunOptions::new(4, ChunkPolicy::Fixed(1)).with_growth(grow);
    let outer = pool
        .map_range(2, &RunOptions::new(2, ChunkPolicy::Fixed(1)), |_| {
            let o = pool.map_range(5, &nested, |i| i + 1).unwrap();
            (o.stats.inline, o.stats.observed.is_none(), o.results)
        })
        .unwrap();
    for (inline, unwatched, results) in outer.results {
        assert!(inline && unwatched);
        assert_eq!(results, vec![1, 2, 3, 4, 5]);
    }
    assert_eq!(called.load(Ordering::Relaxed), 0);
}

#[test]
fn a_growing_job_after_a_capped_one_lets_the_refused_workers_in() {
    // Workers refused by one job's cap must not be lost for the next jobs or for growth.
    let pool = ThreadPool::new(6).unwrap();
    for _ in 0..3 {
        let small = pool
            .map_range(64, &RunOptions::new(2, ChunkPolicy::Fixed(1)), |i| i)
            .unwrap();
        assert_eq!(small.results.len(), 64);
        let runs = counters(24);
        let opts = RunOptions::new(2, ChunkPolicy::Fixed(1)).with_growth(Growth::new(
            6,
            Duration::from_micros(500),
            |_| 6,
        ));
        let out = pool.map_range(24, &opts, |i| wait_item(i, &runs)).unwrap();
        assert_once_in_order(&out.results, &runs);
        assert!(out.stats.participants <= 6);
    }
}
