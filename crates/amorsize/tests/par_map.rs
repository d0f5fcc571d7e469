//! par_map, par_map_with and Plan::execute: every item exactly once, in order, on both kinds
//! of plan; panics, nesting, empty input, the call-site memory.

use amorsize::{Error, Executor, Optimizer, Plan};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Plans read the CPU the whole process burns while they sample (threads a call starts count
/// as its own): another test computing at the same moment would make sleeping items look
/// compute-bound. The tests of this binary therefore run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn counters(n: usize) -> Vec<AtomicUsize> {
    (0..n).map(|_| AtomicUsize::new(0)).collect()
}

fn assert_each_once(calls: &[AtomicUsize]) {
    for (i, c) in calls.iter().enumerate() {
        assert_eq!(
            c.load(Ordering::Relaxed),
            1,
            "item {i} ran {} times",
            c.load(Ordering::Relaxed)
        );
    }
}

/// Sleeping items: blocking work, which the planner runs on threads on any machine (the CPU
/// fraction of a sleep is near zero whatever the machine's speed).
fn sleepy(calls: &[AtomicUsize], i: usize) -> usize {
    calls[i].fetch_add(1, Ordering::Relaxed);
    std::thread::sleep(Duration::from_micros(500));
    i * 3
}

#[test]
fn parallel_plan_runs_every_item_exactly_once() {
    let _one_at_a_time = serial();
    let items: Vec<usize> = (0..400).collect();
    let probe = counters(items.len());
    let plan = amorsize::optimize(&items, |&i| sleepy(&probe, i)).unwrap();
    assert_eq!(plan.executor(), Executor::Threads, "{plan}");
    assert!(
        plan.workers() > 2,
        "blocking work goes past the cores: {plan}"
    );

    amorsize::exec::clear_cache();
    let calls = counters(items.len());
    let out = amorsize::par_map(&items, |&i| sleepy(&calls, i)).unwrap();
    assert_eq!(out, items.iter().map(|i| i * 3).collect::<Vec<_>>());
    assert_each_once(&calls);
}

#[test]
fn sequential_plan_runs_every_item_exactly_once() {
    let _one_at_a_time = serial();
    let items: Vec<usize> = (0..300).collect();
    let probe = counters(items.len());
    // Sequential whatever the sample reads: no plan reaches a speedup of 1,000 here. (300 items
    // of `i + 1` plan sequential anyway, but on a loaded machine a sample of single items once
    // read them at 3.4 µs each, and planned 2 threads.)
    let opt = Optimizer::new().min_speedup(1000.0);
    let plan = opt
        .optimize(&items, |&i| {
            probe[i].fetch_add(1, Ordering::Relaxed);
            i + 1
        })
        .unwrap();
    assert_eq!(plan.executor(), Executor::Sequential, "{plan}");

    let calls = counters(items.len());
    let out = amorsize::par_map_with(&opt, &items, |&i| {
        calls[i].fetch_add(1, Ordering::Relaxed);
        i + 1
    })
    .unwrap();
    assert_eq!(out, (1..=300).collect::<Vec<_>>());
    assert_each_once(&calls);
}

#[test]
fn remembered_call_site_still_runs_each_item_once() {
    let _one_at_a_time = serial();
    // The same closure type called three times: the later calls use the call-site memory.
    let items: Vec<usize> = (0..300).collect();
    for _ in 0..3 {
        let calls = counters(items.len());
        let out = amorsize::par_map(&items, |&i| sleepy(&calls, i)).unwrap();
        assert_eq!(out.len(), items.len());
        assert_each_once(&calls);
    }
    assert!(amorsize::exec::cache_len() >= 1);
}

#[test]
fn plan_execute_reuses_a_plan_on_other_inputs() {
    let _one_at_a_time = serial();
    let first: Vec<usize> = (0..200).collect();
    let none = counters(1000);
    let plan = amorsize::optimize(&first, |&i| sleepy(&none, i)).unwrap();
    for n in [0usize, 1, 7, 1000] {
        let items: Vec<usize> = (0..n).collect();
        let calls = counters(n);
        let out = plan.execute(&items, |&i| sleepy(&calls, i)).unwrap();
        assert_eq!(out, items.iter().map(|i| i * 3).collect::<Vec<_>>());
        assert_each_once(&calls);
    }
}

#[test]
fn fixed_plans_run_each_item_once_for_many_shapes() {
    let _one_at_a_time = serial();
    for (n, workers, chunk) in [
        (0, 2, 1),
        (1, 2, 1),
        (10, 2, 3),
        (1000, 3, 7),
        (999, 4, 1000),
    ] {
        let plan = Plan::threads(workers, chunk).unwrap();
        let items: Vec<usize> = (0..n).collect();
        let calls = counters(n);
        let out = plan
            .execute(&items, |&i| {
                calls[i].fetch_add(1, Ordering::Relaxed);
                i
            })
            .unwrap();
        assert_eq!(out, items);
        assert_each_once(&calls);
    }
}

#[test]
fn empty_input_is_fine() {
    let _one_at_a_time = serial();
    let items: Vec<u8> = Vec::new();
    assert!(amorsize::par_map(&items, |x| *x).unwrap().is_empty());
    let plan = amorsize::optimize(&items, |x| *x).unwrap();
    assert_eq!(plan.executor(), Executor::Sequential);
    assert_eq!(plan.workers(), 1);
    assert!(plan.diagnostics().reason.contains("empty"));
}

#[test]
fn a_panic_names_the_item_and_the_pool_serves_the_next_call() {
    let _one_at_a_time = serial();
    let items: Vec<usize> = (0..300).collect();
    let err = amorsize::par_map(&items, |&i| {
        std::thread::sleep(Duration::from_micros(200));
        if i == 123 {
            panic!("bad item {i}");
        }
        i
    })
    .unwrap_err();
    match err {
        Error::TaskPanicked { index, message } => {
            assert_eq!(index, 123);
            assert!(message.contains("bad item 123"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let out = amorsize::par_map(&items, |&i| {
        std::thread::sleep(Duration::from_micros(200));
        i
    })
    .unwrap();
    assert_eq!(out, items);
}

#[test]
fn a_panic_in_a_sequential_plan_is_an_error_too() {
    let _one_at_a_time = serial();
    let items: Vec<usize> = (0..50).collect();
    let err = amorsize::par_map(&items, |&i| if i == 49 { panic!("last") } else { i }).unwrap_err();
    assert!(
        matches!(err, Error::TaskPanicked { index: 49, .. }),
        "{err:?}"
    );
}

#[test]
fn nested_par_map_runs_inline_without_deadlock() {
    let _one_at_a_time = serial();
    let outer: Vec<usize> = (0..40).collect();
    let out = amorsize::par_map(&outer, |&i| {
        std::thread::sleep(Duration::from_micros(300));
        let inner: Vec<usize> = (0..50).collect();
        amorsize::par_map(&inner, |&j| {
            std::thread::sleep(Duration::from_micros(20));
            i * 100 + j
        })
        .unwrap()
        .iter()
        .sum::<usize>()
    })
    .unwrap();
    let expected: Vec<usize> = outer
        .iter()
        .map(|&i| (0..50).map(|j| i * 100 + j).sum())
        .collect();
    assert_eq!(out, expected);
}

#[test]
fn invalid_settings_are_errors_not_panics() {
    let _one_at_a_time = serial();
    let items = [1, 2, 3];
    for opt in [
        Optimizer::new().sample_size(0),
        Optimizer::new().min_speedup(0.5),
        Optimizer::new().max_workers(0),
        Optimizer::new().memory_fraction(2.0),
    ] {
        assert!(matches!(
            amorsize::par_map_with(&opt, &items, |x| *x),
            Err(Error::InvalidConfig { .. })
        ));
    }
    assert!(Plan::threads(0, 4).is_err());
    assert!(Plan::threads(2, 0).is_err());
}

#[test]
fn progress_reports_reach_the_total() {
    let _one_at_a_time = serial();
    use std::sync::Arc;
    let done = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicUsize::new(0));
    let (d, t) = (done.clone(), total.clone());
    let opt = Optimizer::new().progress(move |p| {
        d.fetch_max(p.done, Ordering::Relaxed);
        t.store(p.total, Ordering::Relaxed);
        assert!(p.done <= p.total);
    });
    let items: Vec<usize> = (0..200).collect();
    let plan = opt.optimize(&items, |&i| {
        std::thread::sleep(Duration::from_micros(500));
        i
    });
    assert_eq!(plan.unwrap().executor(), Executor::Threads);
    let out = amorsize::par_map_with(&opt, &items, |&i| {
        std::thread::sleep(Duration::from_micros(500));
        i
    })
    .unwrap();
    assert_eq!(out.len(), 200);
    assert_eq!(total.load(Ordering::Relaxed), 200);
    assert_eq!(done.load(Ordering::Relaxed), 200);
}

/// Spins `d` of the calling thread's CPU time: an item that computes on any machine.
fn compute_for(d: Duration) {
    let t0 = amorsize::sample::thread_cpu_time();
    while amorsize::sample::thread_cpu_time() - t0 < d {
        std::hint::spin_loop();
    }
}

#[test]
fn long_computing_items_run_once_in_order_and_a_panic_names_its_item() {
    // Fresh call sites of items long enough that the first one is offered to helpers (once a
    // parallel job has run): whether the caller then joins its helpers, starts a job of its
    // own or runs alone, every item runs once, in order, and a panic names its item.
    let _one_at_a_time = serial();
    let warm: Vec<u64> = (0..64).collect();
    amorsize::par_map(&warm, |x| {
        (0..200_000u64).fold(*x, |a, b| a.wrapping_mul(31) ^ b)
    })
    .unwrap();
    let items: Vec<usize> = (0..40).collect();
    for _ in 0..3 {
        amorsize::exec::clear_cache();
        let calls = counters(items.len());
        let out = amorsize::par_map(&items, |&i| {
            calls[i].fetch_add(1, Ordering::Relaxed);
            compute_for(Duration::from_millis(1));
            // A nested call from an item runs (inline on a helper or a worker) and completes.
            let inner: Vec<usize> = (0..8).collect();
            i * 3 + amorsize::par_map(&inner, |&j| j).unwrap().len()
        })
        .unwrap();
        assert_eq!(out, items.iter().map(|i| i * 3 + 8).collect::<Vec<_>>());
        assert_each_once(&calls);

        amorsize::exec::clear_cache();
        let calls = counters(items.len());
        let err = amorsize::par_map(&items, |&i| {
            calls[i].fetch_add(1, Ordering::Relaxed);
            compute_for(Duration::from_millis(1));
            assert!(i != 27, "item {i} fails");
            i
        })
        .unwrap_err();
        assert!(
            matches!(err, Error::TaskPanicked { index: 27, .. }),
            "{err:?}"
        );
        for (i, c) in calls.iter().enumerate() {
            assert!(c.load(Ordering::Relaxed) <= 1, "item {i} ran twice");
        }
    }
}
