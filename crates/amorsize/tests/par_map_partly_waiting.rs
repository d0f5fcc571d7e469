//! par_map over items that compute for a while and then wait, as half the items' time: more
//! workers than cores keep the cores busy. Alone in its test binary, so no other test's
//! threads burn CPU meanwhile.

use amorsize::sample::thread_cpu_time;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Computes for 1 ms of this thread's CPU time, then sleeps for 1 ms: on the CPU at most
/// half of its time, whatever the machine's speed or load.
fn compute_then_wait(x: &u64) -> u64 {
    let c0 = thread_cpu_time();
    let t0 = Instant::now();
    let mut a = *x;
    while thread_cpu_time() - c0 < Duration::from_millis(1) && t0.elapsed() < Duration::from_secs(1)
    {
        a = a.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
    std::thread::sleep(Duration::from_millis(1));
    std::hint::black_box(a);
    x * 2
}

#[test]
fn items_on_the_cpu_half_their_time_run_on_more_threads_than_cores_once_seen() {
    let cores = amorsize::system::info().cores.effective.max(1);
    if cores < 2 {
        return; // one core: a call never goes parallel before it has measured the items
    }
    // Past the help for a first item (at most 100 items per helper, `cores - 1` helpers): the
    // first call starts on the cores at once and watches its first worker for a moment. That
    // moment falls on the item's computing millisecond, so the call stays on the cores; the
    // job, watched over every item, shows the items wait half the time.
    let n = 100 * cores as u64 + 20;
    let items: Vec<u64> = (0..n).collect();
    let run = || {
        let threads = Mutex::new(HashSet::new());
        let out = amorsize::par_map(&items, |x| {
            threads.lock().unwrap().insert(std::thread::current().id());
            compute_then_wait(x)
        })
        .unwrap();
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        threads.into_inner().unwrap().len()
    };
    run();
    // The call site is remembered with the share the whole job measured (about a half): the
    // planner gives such work about cores / share workers.
    let used = run();
    assert!(used > cores, "{used} threads on {cores} cores");
}
