//! A call site whose items run slower side by side than alone (they serialize, thrash a shared
//! resource) goes to the plain loop, and tries its parallel plan again later. Call-site memory
//! and its counters are process-wide, so this file holds one test and runs in a process of
//! its own.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Items running now, in any thread.
static INSIDE: AtomicUsize = AtomicUsize::new(0);

/// Computes for 50 µs alone, and for 1 ms when another item is running as it starts: side by
/// side the items run at a tenth of their speed, so no parallel run of them can pay.
fn thrashing(x: &u64) -> u64 {
    let others = INSIDE.fetch_add(1, Ordering::SeqCst) > 0;
    let cost = Duration::from_micros(if others { 1_000 } else { 50 });
    let t0 = Instant::now();
    let mut h = *x;
    while t0.elapsed() < cost {
        h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(7);
    }
    INSIDE.fetch_sub(1, Ordering::SeqCst);
    std::hint::black_box(h);
    x * 3
}

/// One call at the call site below: its results, and whether any item ran off the caller.
fn call(items: &[u64]) -> (Vec<u64>, bool) {
    let caller = std::thread::current().id();
    let elsewhere = AtomicBool::new(false);
    let out = amorsize::par_map(items, |x| {
        if std::thread::current().id() != caller {
            elsewhere.store(true, Ordering::Relaxed);
        }
        thrashing(x)
    })
    .unwrap();
    (out, elsewhere.into_inner())
}

#[test]
fn a_site_whose_parallel_runs_do_not_pay_runs_the_plain_loop_and_retries_later() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        eprintln!("one core: nothing runs in parallel, nothing to learn");
        return;
    }
    let items: Vec<u64> = (0..400).collect();
    let expected: Vec<u64> = items.iter().map(thrashing).collect();
    let stats = amorsize::exec::cache_stats;

    // The first call samples (items alone, 50 µs each: 20 ms of work, worth sharing) and runs
    // in parallel, where the items crawl.
    let s0 = stats();
    let (out, parallel) = call(&items);
    assert_eq!(out, expected);
    assert_eq!(stats().sampled, s0.sampled + 1, "the first call samples");
    assert!(parallel, "the first call runs on the plan's workers");

    // Two runs slower than the sample's time alone, then one plain call that measures the
    // items alone over the whole input; the run after it is slower by that measure, and the
    // next calls are plain. The first plain call comes within a few calls (a run that
    // happened to pay would only delay it).
    let mut runs = Vec::new();
    let first_plain = (0..6).find(|_| {
        let (out, parallel) = call(&items);
        assert_eq!(out, expected);
        runs.push(parallel);
        !parallel
    });
    assert!(first_plain.is_some(), "six calls, all parallel: {runs:?}");
    let mut after = Vec::new();
    for _ in 0..12 {
        let (out, parallel) = call(&items);
        assert_eq!(out, expected);
        after.push(parallel);
    }
    // The run after the measuring plain call is slower by its measure: the site stays on the
    // plain loop for 8 calls, then tries its plan once more (slower again): 12 calls hold at
    // least 8 plain ones in a row, and a parallel one.
    let longest_plain = after.split(|&p| p).map(<[bool]>::len).max().unwrap_or(0);
    assert!(
        longest_plain >= 8,
        "calls after the first plain one (true = parallel): {after:?}"
    );
    assert!(after.contains(&true), "no retry in 12 calls: {after:?}");
}
