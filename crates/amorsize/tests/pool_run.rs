//! Behaviour of `ThreadPool::map_range` and `AdaptivePool`: ordering, exactly-once, panics,
//! nesting, concurrency, close/terminate/shutdown, invalid settings, stats, progress.

use amorsize::pool::{
    in_worker, CancelToken, ChunkPolicy, ControllerConfig, Progress, ProgressFn, RunOptions,
    ThreadPool,
};
use amorsize::{AdaptivePool, Error};
use proptest::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn adaptive(initial: usize) -> ChunkPolicy {
    ChunkPolicy::Adaptive(ControllerConfig {
        initial,
        target: Duration::from_micros(200),
        adaptation_rate: 0.5,
        min: 1,
        max: Some(4096),
        window: 4,
    })
}

fn check_once(pool: &ThreadPool, len: usize, workers: usize, policy: ChunkPolicy) {
    let counts: Vec<AtomicUsize> = (0..len).map(|_| AtomicUsize::new(0)).collect();
    let opts = RunOptions::new(workers, policy.clone());
    let out = pool
        .map_range(len, &opts, |i| {
            counts[i].fetch_add(1, Ordering::Relaxed);
            i * 3
        })
        .unwrap();
    assert_eq!(
        out.results.len(),
        len,
        "len {len} workers {workers} {policy:?}"
    );
    for (i, r) in out.results.iter().enumerate() {
        assert_eq!(*r, i * 3);
    }
    for (i, c) in counts.iter().enumerate() {
        assert_eq!(
            c.load(Ordering::Relaxed),
            1,
            "item {i} of {len}, {policy:?}"
        );
    }
    assert_eq!(out.stats.items, len);
    assert!(out.stats.participants <= workers.min(pool.workers()));
}

#[test]
fn ordered_and_exactly_once_for_many_shapes() {
    for size in [1, 2, 4] {
        let pool = ThreadPool::new(size).unwrap();
        for len in [0usize, 1, 2, 3, 7, 64, 1000, 4097] {
            for workers in [1usize, 2, 3, 8] {
                for chunk in [1usize, 2, 5, 64, 10_000] {
                    check_once(&pool, len, workers, ChunkPolicy::Fixed(chunk));
                }
                check_once(&pool, len, workers, adaptive(3));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn prop_exactly_once(len in 0usize..3000, workers in 1usize..5, chunk in 1usize..200) {
        static POOL: std::sync::OnceLock<ThreadPool> = std::sync::OnceLock::new();
        let pool = POOL.get_or_init(|| ThreadPool::new(3).unwrap());
        check_once(pool, len, workers, ChunkPolicy::Fixed(chunk));
    }
}

/// Counts live values so tests can see that nothing leaks or is dropped twice.
#[derive(Debug)]
struct Tracked(Arc<AtomicUsize>);
impl Tracked {
    fn new(live: &Arc<AtomicUsize>) -> Self {
        live.fetch_add(1, Ordering::SeqCst);
        Tracked(live.clone())
    }
}
impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn panic_reports_smallest_index_and_pool_survives() {
    let pool = ThreadPool::new(3).unwrap();
    let live = Arc::new(AtomicUsize::new(0));
    for chunk in [1usize, 7, 100] {
        let opts = RunOptions::new(3, ChunkPolicy::Fixed(chunk));
        let err = pool
            .map_range(2000, &opts, |i| {
                if i == 1500 || i == 333 || i == 1999 {
                    panic!("bad item {i}");
                }
                Tracked::new(&live)
            })
            .unwrap_err();
        match err {
            Error::TaskPanicked { index, message } => {
                assert_eq!(index, 333);
                assert_eq!(message, "bad item 333");
            }
            other => panic!("unexpected {other:?}"),
        }
        // Every result computed before the panic was dropped exactly once.
        assert_eq!(live.load(Ordering::SeqCst), 0);
        // The same pool serves the next call.
        let out = pool.map_range(500, &opts, |i| i + 1).unwrap();
        assert_eq!(out.results[499], 500);
    }
    let out = pool
        .map_range(1000, &RunOptions::new(3, ChunkPolicy::Fixed(3)), |_| {
            Tracked::new(&live)
        })
        .unwrap();
    assert_eq!(live.load(Ordering::SeqCst), 1000);
    drop(out);
    assert_eq!(live.load(Ordering::SeqCst), 0);
}

#[test]
fn every_item_before_the_first_panic_runs_once_whatever_fails_sooner() {
    // The participants start on thirds of 0..3000. Every item from 1000 on panics, and item
    // 0 waits until one has, so later items fail first; the error must still name item 990,
    // as the plain loop would, which means the items before it all ran.
    let pool = ThreadPool::new(3).unwrap();
    for chunk in [1usize, 16] {
        let runs: Vec<AtomicUsize> = (0..3000).map(|_| AtomicUsize::new(0)).collect();
        let late_failed = AtomicBool::new(false);
        let opts = RunOptions::new(3, ChunkPolicy::Fixed(chunk));
        let err = pool
            .map_range(3000, &opts, |i| {
                runs[i].fetch_add(1, Ordering::SeqCst);
                if i == 0 {
                    // Bounded, so a scheduler that never runs a later item cannot hang here.
                    let t = std::time::Instant::now();
                    while !late_failed.load(Ordering::SeqCst) && t.elapsed().as_secs() < 20 {
                        std::thread::yield_now();
                    }
                }
                if i >= 1000 {
                    late_failed.store(true, Ordering::SeqCst);
                }
                if i == 990 || i >= 1000 {
                    panic!("bad item {i}");
                }
                i
            })
            .unwrap_err();
        assert!(
            matches!(err, Error::TaskPanicked { index: 990, .. }),
            "{err:?}"
        );
        let runs: Vec<usize> = runs.iter().map(|r| r.load(Ordering::SeqCst)).collect();
        assert!(runs[..=990].iter().all(|&r| r == 1), "chunk {chunk}");
        assert!(runs.iter().all(|&r| r <= 1), "an item ran twice");
    }
}

#[test]
fn panic_on_first_item_inline_and_parallel() {
    let pool = ThreadPool::new(2).unwrap();
    for workers in [1, 2] {
        let err = pool
            .map_range(10, &RunOptions::new(workers, ChunkPolicy::Fixed(1)), |i| {
                if i == 0 {
                    panic!("zero")
                }
                i
            })
            .unwrap_err();
        assert!(matches!(err, Error::TaskPanicked { index: 0, .. }));
    }
}

#[test]
fn nested_calls_run_inline_without_deadlock() {
    let pool = ThreadPool::new(2).unwrap();
    let opts = RunOptions::new(2, ChunkPolicy::Fixed(1));
    let outer_threads = Mutex::new(std::collections::HashSet::new());
    let out = pool
        .map_range(8, &opts, |i| {
            assert!(in_worker());
            let me = std::thread::current().id();
            outer_threads.lock().unwrap().insert(me);
            let inner = pool
                .map_range(50, &opts, |j| {
                    // Nested work stays on the thread that started it: no oversubscription.
                    assert_eq!(std::thread::current().id(), me);
                    i * 100 + j
                })
                .unwrap();
            assert!(inner.stats.inline);
            inner.results.iter().sum::<usize>()
        })
        .unwrap();
    for (i, s) in out.results.iter().enumerate() {
        assert_eq!(*s, i * 100 * 50 + (0..50).sum::<usize>());
    }
    // Nested map on an AdaptivePool inside another pool's job.
    let ap = AdaptivePool::builder()
        .workers(2)
        .initial_chunk_size(1)
        .build()
        .unwrap();
    let v = ap
        .map(&[1u32, 2, 3, 4], |x| {
            ap.map(&[*x, *x], |y| y * 2).unwrap().iter().sum::<u32>()
        })
        .unwrap();
    assert_eq!(v, vec![4, 8, 12, 16]);
    assert!(!in_worker());
}

#[test]
fn concurrent_callers_on_one_pool() {
    let pool = ThreadPool::new(3).unwrap();
    std::thread::scope(|s| {
        for t in 0..4usize {
            let pool = &pool;
            s.spawn(move || {
                for round in 0..25usize {
                    let len = 100 + round * 37 + t;
                    let opts = RunOptions::new(3, ChunkPolicy::Fixed(1 + round % 5));
                    let out = pool.map_range(len, &opts, |i| i * t + round).unwrap();
                    assert!(out
                        .results
                        .iter()
                        .enumerate()
                        .all(|(i, r)| *r == i * t + round));
                }
            });
        }
    });
    let ap = AdaptivePool::builder()
        .workers(2)
        .initial_chunk_size(4)
        .build()
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..3u64 {
            let ap = &ap;
            s.spawn(move || {
                let items: Vec<u64> = (0..2000).collect();
                for _ in 0..10 {
                    assert_eq!(ap.map(&items, |x| x + t).unwrap()[1999], 1999 + t);
                }
            });
        }
    });
    assert_eq!(ap.stats().items, 3 * 10 * 2000);
}

#[test]
fn fewer_participants_than_pool_size() {
    let pool = ThreadPool::new(4).unwrap();
    let threads = Mutex::new(std::collections::HashSet::new());
    let out = pool
        .map_range(2000, &RunOptions::new(2, ChunkPolicy::Fixed(1)), |i| {
            threads.lock().unwrap().insert(std::thread::current().id());
            i
        })
        .unwrap();
    assert!(threads.lock().unwrap().len() <= 2);
    assert!(out.stats.participants <= 2);
}

#[test]
fn terminate_from_another_thread_cancels_the_running_map() {
    let pool = AdaptivePool::builder()
        .workers(2)
        .initial_chunk_size(1)
        .adaptation(false)
        .build()
        .unwrap();
    let started = AtomicUsize::new(0);
    let release = AtomicBool::new(false);
    let ran = AtomicUsize::new(0);
    let items: Vec<u32> = (0..1000).collect();
    let res = std::thread::scope(|s| {
        s.spawn(|| {
            while started.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
            pool.terminate();
            release.store(true, Ordering::SeqCst);
        });
        pool.map(&items, |x| {
            started.fetch_add(1, Ordering::SeqCst);
            while !release.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            ran.fetch_add(1, Ordering::SeqCst);
            *x
        })
    });
    assert!(matches!(res, Err(Error::Cancelled)), "{res:?}");
    // Only the chunks running when terminate came finished (one item each, two workers).
    assert!(ran.load(Ordering::SeqCst) <= 2);
    assert!(matches!(pool.map(&items, |x| *x), Err(Error::PoolClosed)));
}

#[test]
fn cancel_token_on_thread_pool() {
    let pool = ThreadPool::new(2).unwrap();
    let token = CancelToken::new();
    token.cancel();
    let opts = RunOptions::new(2, ChunkPolicy::Fixed(1));
    let err = pool
        .map_range_cancellable(100, &opts, &token, |i| i)
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled));
    // An empty run has nothing to cancel.
    let empty = pool.map_range_cancellable(0, &opts, &token, |i| i).unwrap();
    assert!(empty.results.is_empty());
}

#[test]
fn close_and_shutdown() {
    let p = AdaptivePool::new(2).unwrap();
    assert!(p.is_alive());
    p.close();
    assert!(!p.is_alive());
    assert!(matches!(p.map(&[1], |x| *x), Err(Error::PoolClosed)));
    let v: Vec<_> = p.imap(0..10, |x| *x).collect();
    assert_eq!(v.len(), 1);
    assert!(matches!(v[0], Err(Error::PoolClosed)));

    let p = AdaptivePool::new(2).unwrap();
    p.shutdown();
    assert!(!p.is_alive());
    assert!(matches!(p.map(&[1], |x| *x), Err(Error::PoolShutDown)));
    let tp = ThreadPool::new(3).unwrap();
    tp.shutdown();
    tp.shutdown(); // idempotent
    assert!(matches!(
        tp.map_range(5, &RunOptions::new(3, ChunkPolicy::Fixed(1)), |i| i),
        Err(Error::PoolShutDown)
    ));
    assert!(matches!(tp.broadcast(|_| ()), Err(Error::PoolShutDown)));
}

#[test]
fn shutdown_from_inside_a_job_does_not_deadlock() {
    let tp = ThreadPool::new(2).unwrap();
    let out = tp
        .map_range(10, &RunOptions::new(2, ChunkPolicy::Fixed(1)), |i| {
            if i == 5 {
                tp.shutdown();
            }
            i
        })
        .unwrap();
    assert_eq!(out.results.len(), 10);
    assert!(!tp.is_alive());
}

fn setting_of(e: Error) -> String {
    match e {
        Error::InvalidConfig { setting, .. } => setting,
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn invalid_settings_name_the_setting() {
    let b = || AdaptivePool::builder().workers(1);
    assert_eq!(
        setting_of(AdaptivePool::builder().workers(0).build().unwrap_err()),
        "workers"
    );
    assert_eq!(
        setting_of(b().adaptation_rate(-0.1).build().unwrap_err()),
        "adaptation_rate"
    );
    assert_eq!(
        setting_of(b().adaptation_rate(1.01).build().unwrap_err()),
        "adaptation_rate"
    );
    assert_eq!(
        setting_of(b().adaptation_rate(f64::NAN).build().unwrap_err()),
        "adaptation_rate"
    );
    assert_eq!(
        setting_of(b().min_chunk_size(0).build().unwrap_err()),
        "min_chunk_size"
    );
    assert_eq!(
        setting_of(
            b().min_chunk_size(10)
                .max_chunk_size(Some(5))
                .build()
                .unwrap_err()
        ),
        "min_chunk_size"
    );
    assert_eq!(
        setting_of(b().max_chunk_size(Some(0)).build().unwrap_err()),
        "max_chunk_size"
    );
    assert_eq!(setting_of(b().window(0).build().unwrap_err()), "window");
    assert_eq!(
        setting_of(b().initial_chunk_size(0).build().unwrap_err()),
        "initial_chunk_size"
    );
    assert_eq!(
        setting_of(
            b().initial_chunk_size(1000)
                .max_chunk_size(Some(10))
                .build()
                .unwrap_err()
        ),
        "initial_chunk_size"
    );
    assert_eq!(
        setting_of(
            b().target_chunk_duration(Duration::ZERO)
                .build()
                .unwrap_err()
        ),
        "target_chunk_duration"
    );
    assert_eq!(
        setting_of(b().imap_batch(0).build().unwrap_err()),
        "imap_batch"
    );
    assert!(b().adaptation_rate(0.0).build().is_ok());
    assert!(b().adaptation_rate(1.0).build().is_ok());

    assert_eq!(setting_of(ThreadPool::new(0).unwrap_err()), "workers");
    let tp = ThreadPool::new(1).unwrap();
    let e = tp
        .map_range(3, &RunOptions::new(0, ChunkPolicy::Fixed(1)), |i| i)
        .unwrap_err();
    assert_eq!(setting_of(e), "workers");
    let e = tp
        .map_range(3, &RunOptions::new(1, ChunkPolicy::Fixed(0)), |i| i)
        .unwrap_err();
    assert_eq!(setting_of(e), "chunk_size");
    let mut bad = match adaptive(1) {
        ChunkPolicy::Adaptive(c) => c,
        _ => unreachable!(),
    };
    bad.window = 0;
    let e = tp
        .map_range(3, &RunOptions::new(1, ChunkPolicy::Adaptive(bad)), |i| i)
        .unwrap_err();
    assert_eq!(setting_of(e), "window");
}

#[test]
fn fixed_chunk_stays_fixed_without_adaptation() {
    let p = AdaptivePool::builder()
        .workers(2)
        .initial_chunk_size(7)
        .adaptation(false)
        .build()
        .unwrap();
    let items: Vec<u64> = (0..5000).collect();
    for _ in 0..3 {
        p.map(&items, |x| x * 2).unwrap();
    }
    let s = p.stats();
    assert_eq!(s.current_chunk_size, 7);
    assert!(s.adjustments.is_empty());
    assert_eq!(s.runs, 3);
    assert_eq!(s.items, 15_000);
    // Guided tail: more chunks than items / 7, but each run at least ceil(5000 / 7).
    assert!(s.chunks >= 3 * 5000usize.div_ceil(7));
    assert_eq!(s.busy.len(), 2);
    assert!(s.utilization.iter().all(|u| (0.0..=1.0).contains(u)));
    let text = s.to_string();
    assert!(text.contains("chunk size: 7"));
    let json: serde_json::Value = serde_json::to_value(&s).unwrap();
    assert_eq!(json["current_chunk_size"], 7);
    assert_eq!(json["items"], 15_000);
}

#[test]
fn progress_is_throttled_and_ends_with_a_final_report() {
    let reports: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let r2 = reports.clone();
    let cb: ProgressFn = Arc::new(move |p| r2.lock().unwrap().push(p));
    let p = AdaptivePool::builder()
        .workers(2)
        .initial_chunk_size(1)
        .adaptation(false)
        .progress(cb)
        .build()
        .unwrap();
    let items: Vec<u64> = (0..20_000).collect();
    let t = std::time::Instant::now();
    p.map(&items, |x| x ^ 1).unwrap();
    let wall = t.elapsed();
    let r = reports.lock().unwrap();
    let last = r.last().expect("a final report");
    assert_eq!((last.done, last.total), (20_000, 20_000));
    // At most one report per 100 ms plus the final one: never per item or per chunk.
    assert!(
        r.len() as u128 <= 2 + wall.as_millis() / 100,
        "{} reports",
        r.len()
    );
    assert!(r.windows(2).all(|w| w[0].done <= w[1].done));
}

#[test]
fn broadcast_runs_once_per_participant() {
    let p = ThreadPool::new(3).unwrap();
    for _ in 0..20 {
        let seen: Vec<AtomicUsize> = (0..3).map(|_| AtomicUsize::new(0)).collect();
        p.broadcast(|i| {
            seen[i].fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
        assert!(seen.iter().all(|s| s.load(Ordering::Relaxed) == 1));
    }
    let e = p.broadcast(|i| assert!(i != 2, "two")).unwrap_err();
    assert!(matches!(e, Error::TaskPanicked { index: 2, .. }));
}

#[test]
fn run_stats_describe_the_run() {
    let p = ThreadPool::new(2).unwrap();
    let out = p
        .map_range(10_000, &RunOptions::new(2, ChunkPolicy::Fixed(100)), |i| i)
        .unwrap();
    let s = &out.stats;
    assert_eq!(s.initial_chunk_size, 100);
    assert_eq!(s.final_chunk_size, 100);
    assert!(s.chunks >= 100);
    assert_eq!(s.busy.len(), 2);
    assert!(!s.inline);
    assert!(s.imbalance <= s.wall);
    let one = p
        .map_range(1, &RunOptions::new(2, ChunkPolicy::Fixed(100)), |i| i)
        .unwrap();
    assert!(one.stats.inline); // one chunk covers it: no fan-out
                               // The guided tail splits even a job smaller than one chunk among the participants.
    let split = p
        .map_range(400, &RunOptions::new(2, ChunkPolicy::Fixed(1000)), |i| i)
        .unwrap();
    assert!(!split.stats.inline);
    assert!(split.stats.chunks >= 4);
}

#[test]
fn adaptation_grows_chunks_of_trivial_items() {
    // Items cost nanoseconds; the target is 50 ms, so every window mean is far below target
    // on any machine: the controller must grow the chunk size and record why.
    let p = AdaptivePool::builder()
        .workers(2)
        .initial_chunk_size(1)
        .target_chunk_duration(Duration::from_millis(50))
        .window(3)
        .build()
        .unwrap();
    let items: Vec<u64> = (0..20_000).collect();
    let v = p.map(&items, |x| x + 1).unwrap();
    assert_eq!(v[19_999], 20_000);
    let s = p.stats();
    assert!(s.current_chunk_size > 1, "{s}");
    assert!(!s.adjustments.is_empty());
    assert!(s.adjustments.iter().all(|a| a.to > a.from));
    // The next run starts where this one ended.
    let before = s.current_chunk_size;
    p.map(&items, |x| x + 1).unwrap();
    assert!(p.stats().current_chunk_size >= before);
}

/// Thousands of tiny jobs back to back, from two threads, mixing map_range and broadcast:
/// exercises the latch races (workers waking for a job that has already closed, entering the
/// next one, the cap on participants).
#[test]
fn many_tiny_jobs_stay_exactly_once() {
    let pool = ThreadPool::new(3).unwrap();
    std::thread::scope(|s| {
        for t in 0..2usize {
            let pool = &pool;
            s.spawn(move || {
                for round in 0..1500usize {
                    let len = 2 + (round * 7 + t) % 13;
                    let workers = 1 + round % 3;
                    let counts: Vec<AtomicUsize> = (0..len).map(|_| AtomicUsize::new(0)).collect();
                    let out = pool
                        .map_range(len, &RunOptions::new(workers, ChunkPolicy::Fixed(1)), |i| {
                            counts[i].fetch_add(1, Ordering::Relaxed);
                            i
                        })
                        .unwrap();
                    assert_eq!(out.results, (0..len).collect::<Vec<_>>());
                    assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 1));
                    if round % 10 == 0 {
                        let n = AtomicUsize::new(0);
                        pool.broadcast(|_| {
                            n.fetch_add(1, Ordering::Relaxed);
                        })
                        .unwrap();
                        assert_eq!(n.load(Ordering::Relaxed), 3);
                    }
                }
            });
        }
    });
}

#[test]
fn pools_and_iterators_can_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<ThreadPool>();
    send_sync::<AdaptivePool>();
    send_sync::<CancelToken>();
    send::<amorsize::pool::Imap<String>>();
    send::<amorsize::pool::ImapUnordered<String>>();
    // A pool shared through an Arc, used from another thread.
    let p = Arc::new(AdaptivePool::new(2).unwrap());
    let q = p.clone();
    let h = std::thread::spawn(move || q.map(&[1, 2, 3], |x| x * 2).unwrap());
    assert_eq!(h.join().unwrap(), vec![2, 4, 6]);
}
