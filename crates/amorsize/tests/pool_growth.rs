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

/// A policy that asks for 4, 8, then 16 participants on its first, second and later calls,
/// counting the calls.
fn doubling(calls: &Arc<AtomicUsize>) -> Growth {
    let c = Arc::clone(calls);
    Growth::new(16, Duration::from_millis(1), move |_| {
        [4, 8, 16][c.fetch_add(1, Ordering::Relaxed).min(2)]
    })
    .patience(Duration::from_secs(10))
    .second_look(Duration::from_millis(30))
}

#[test]
fn a_look_that_grew_the_job_is_followed_by_another_while_growing_pays() {
    // Items that sleep side by side: each growth runs them about as many times faster, so
    // the look after the second one asks the policy again.
    let pool = ThreadPool::new(16).unwrap();
    let runs = counters(400);
    let calls = Arc::new(AtomicUsize::new(0));
    let opts = RunOptions::new(2, ChunkPolicy::Fixed(1)).with_growth(doubling(&calls));
    let out = pool
        .map_range(400, &opts, |i| {
            runs[i].fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(5));
            i * 3
        })
        .unwrap();
    assert_once_in_order(&out.results, &runs);
    let seen = out.stats.observed.expect("the job was watched");
    assert_eq!(calls.load(Ordering::Relaxed), 3, "{seen:?}");
    assert_eq!(seen.grew_to, Some(16));
    assert!(out.stats.participants > 8, "{:?}", out.stats);
}

/// One device that serves one request at a time, in order, each for `service`: a request
/// waits for the ones before it, so callers side by side finish no faster than one.
struct Device {
    free_at: Mutex<std::time::Instant>,
    service: Duration,
}

impl Device {
    fn new(service: Duration) -> Self {
        Device {
            free_at: Mutex::new(std::time::Instant::now()),
            service,
        }
    }

    fn request(&self) {
        let done = {
            let mut free = self.free_at.lock().unwrap();
            *free = (*free).max(std::time::Instant::now()) + self.service;
            *free
        };
        let now = std::time::Instant::now();
        if done > now {
            std::thread::sleep(done - now);
        }
    }
}

#[test]
fn a_growth_that_did_not_pay_is_the_last() {
    // Items that queue for one device: every worker reads as waiting, however wide the job,
    // and the policy keeps asking for more; the job claims its items no faster after the
    // second look's growth, so the third look does not grow it again.
    let pool = ThreadPool::new(16).unwrap();
    let runs = counters(200);
    let device = Device::new(Duration::from_millis(1));
    let calls = Arc::new(AtomicUsize::new(0));
    let opts = RunOptions::new(2, ChunkPolicy::Fixed(1)).with_growth(doubling(&calls));
    let out = pool
        .map_range(200, &opts, |i| {
            runs[i].fetch_add(1, Ordering::Relaxed);
            device.request();
            i * 3
        })
        .unwrap();
    assert_once_in_order(&out.results, &runs);
    let seen = out.stats.observed.expect("the job was watched");
    // The window and the second look grew it (the second look does not ask whether the
    // window's growth paid); the job ran 200 ms, long enough for a third look at 60 ms.
    assert!(
        out.stats.wall > Duration::from_millis(100),
        "{:?}",
        out.stats
    );
    assert_eq!(calls.load(Ordering::Relaxed), 2, "{seen:?}");
    assert_eq!(seen.grew_to, Some(8));
    assert!(out.stats.participants <= 8, "{:?}", out.stats);
}
