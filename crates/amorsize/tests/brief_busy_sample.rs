//! Items that wait, sampled while many threads of the program each burn a little CPU (64
//! threads yielding to each other, as a large rayon pool does for a while after its job): none
//! of them is busy for long, so none counts among the program's busy threads, but together
//! they keep every core busy while the sampled items sleep. That CPU looks like threads the
//! items started; what tells it apart is that the same threads burn as much while no item
//! runs. The sample must not take the items for ones that run threads of their own (the plan
//! would then run them on one worker per spare core, or sequentially: 46× slower measured).
//! Alone in its test binary, so no other test's threads come and go meanwhile.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

const YIELDERS: usize = 64;

/// Runs `f` while `YIELDERS` threads yield in a loop.
fn beside_yielders<R>(f: impl FnOnce() -> R) -> R {
    let started = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..YIELDERS {
            s.spawn(|| {
                started.fetch_add(1, Ordering::Relaxed);
                while !stop.load(Ordering::Relaxed) {
                    std::thread::yield_now();
                }
            });
        }
        while started.load(Ordering::Relaxed) < YIELDERS {
            std::thread::yield_now();
        }
        let r = f();
        stop.store(true, Ordering::Relaxed);
        r
    })
}

#[test]
fn many_briefly_busy_threads_are_not_taken_for_the_items_threads() {
    let items: Vec<u64> = (0..2_000).collect();
    let sleep = |x: &u64| {
        std::thread::sleep(Duration::from_micros(200));
        x + 1
    };
    let s = beside_yielders(|| {
        amorsize::sample::measure(&items, sleep, &amorsize::sample::SampleSettings::default())
    })
    .unwrap();
    assert_eq!(s.stats.inner_parallelism, 1.0, "{}", s.stats);
    assert!(s.stats.cpu_fraction < 0.5, "{}", s.stats);
    // Every sampled result is the item's.
    for (start, rs) in &s.results {
        for (k, r) in rs.iter().enumerate() {
            assert_eq!(*r, items[start + k] + 1);
        }
    }

    // The plan made from such a sample runs them on more threads than cores, and `Plan::execute`
    // runs every item once, in order.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let plan = beside_yielders(|| amorsize::optimize(&items, sleep)).unwrap();
    assert_eq!(plan.executor(), amorsize::Executor::Threads, "{plan}");
    assert!(plan.workers() > cores, "{plan}");
    let threads = Mutex::new(HashSet::new());
    let out = plan
        .execute(&items, |x| {
            threads.lock().unwrap().insert(std::thread::current().id());
            sleep(x)
        })
        .unwrap();
    assert_eq!(out, items.iter().map(|x| x + 1).collect::<Vec<_>>());
    assert!(threads.lock().unwrap().len() > cores);
}
