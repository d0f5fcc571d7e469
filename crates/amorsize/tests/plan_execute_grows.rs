//! `Plan::execute` of a plan for items that wait: the plan's workers come from the share of
//! the CPU its sampled items used alone, and the job grows past them when its items, side by
//! side, use less. Alone in its test binary, and its tests one at a time ([`one_at_a_time`]),
//! so no other test's threads burn CPU meanwhile.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Burns `cpu` of this thread's CPU time, then sleeps `wait`: an item that computes for part
/// of its time and waits for the rest.
fn compute_then_wait(cpu: Duration, wait: Duration) {
    let start = amorsize::sample::thread_cpu_time();
    let mut x = 0u64;
    while amorsize::sample::thread_cpu_time().saturating_sub(start) < cpu {
        for i in 0..200u64 {
            x = std::hint::black_box(x.wrapping_mul(31) ^ i);
        }
    }
    std::hint::black_box(x);
    std::thread::sleep(wait);
}

/// Items that run until `want` of them are inside at once (or `limit` has passed), counting
/// the most that were.
struct Gathering {
    inside: Mutex<(usize, bool)>,
    changed: Condvar,
    most: AtomicUsize,
    want: usize,
    limit: Duration,
}

impl Gathering {
    fn new(want: usize, limit: Duration) -> Self {
        Gathering {
            inside: Mutex::new((0, false)),
            changed: Condvar::new(),
            most: AtomicUsize::new(0),
            want,
            limit,
        }
    }

    fn item(&self) {
        let started = Instant::now();
        let mut g = self.inside.lock().unwrap();
        g.0 += 1;
        self.most.fetch_max(g.0, Ordering::Relaxed);
        if g.0 >= self.want {
            g.1 = true;
            self.changed.notify_all();
        }
        while !g.1 && started.elapsed() < self.limit {
            g = self.changed.wait_timeout(g, self.limit).unwrap().0;
        }
        g.0 -= 1;
    }
}

/// Holds the other tests of this binary off: a sample taken while another test's threads
/// burn both cores read items that compute a quarter of their time as computing throughout
/// (CPU share 1.0, seen once in CI), and the plan then has no waiting to grow for.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn a_plan_for_waiting_items_grows_past_its_workers_when_they_use_less_cpu() {
    let _serial = one_at_a_time();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Planned from items on the CPU a quarter of their time: a few workers per core.
    let sampled: Vec<u32> = (0..400).collect();
    let plan = amorsize::optimize(&sampled, |_| {
        compute_then_wait(Duration::from_micros(60), Duration::from_micros(180))
    })
    .unwrap();
    assert_eq!(plan.executor(), amorsize::Executor::Threads, "{plan}");
    // Run on items that use no CPU at all: each waits until more of them are inside at once
    // than the plan has workers (a job held to the plan's workers never gets there).
    let want = plan.workers() + cores + 2;
    // As many items as were planned for, so that the job is as long as the planned one and
    // no shorter input's cost model decides against more workers.
    let n = sampled.len().max(4 * want);
    let items: Vec<usize> = (0..n).collect();
    let runs: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
    let gathering = Gathering::new(want, Duration::from_secs(1));
    let started = Instant::now();
    let out = plan
        .execute(&items, |&i| {
            runs[i].fetch_add(1, Ordering::Relaxed);
            gathering.item();
            i * 5
        })
        .unwrap();
    assert_eq!(out, items.iter().map(|i| i * 5).collect::<Vec<_>>());
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(r.load(Ordering::Relaxed), 1, "item {i}");
    }
    let most = gathering.most.load(Ordering::Relaxed);
    assert!(
        most >= want,
        "at most {most} items at once, {want} wanted, on a plan of {} workers ({:?}); sampled {:?}",
        plan.workers(),
        started.elapsed(),
        plan.diagnostics().sample
    );
}

#[test]
fn a_plan_for_waiting_items_runs_empty_single_and_failing_inputs() {
    let _serial = one_at_a_time();
    let sampled: Vec<u32> = (0..200).collect();
    let plan = amorsize::optimize(&sampled, |_| {
        compute_then_wait(Duration::from_micros(30), Duration::from_micros(200))
    })
    .unwrap();
    assert_eq!(plan.executor(), amorsize::Executor::Threads, "{plan}");
    let nothing: Vec<u32> = Vec::new();
    assert!(plan.execute(&nothing, |x| x + 1).unwrap().is_empty());
    assert_eq!(plan.execute(&[41u32], |x| x + 1).unwrap(), vec![42]);
    // A failing item is reported by its index, and the plan serves the next call.
    let items: Vec<u32> = (0..300).collect();
    let err = plan
        .execute(&items, |&x| {
            std::thread::sleep(Duration::from_micros(50));
            if x == 217 {
                panic!("item {x} fails");
            }
            x
        })
        .unwrap_err();
    assert!(
        matches!(err, amorsize::Error::TaskPanicked { index: 217, .. }),
        "{err}"
    );
    assert_eq!(plan.execute(&items, |x| x * 2).unwrap()[299], 598);
}
