//! Extreme but type-valid inputs to public APIs: `usize::MAX`, `Duration::MAX`, huge shapes,
//! infinite costs. The project's rule is that every bad input gives an `Err(amorsize::Error)` or
//! a documented safe behaviour, never a panic (debug builds check integer overflow), an abort or
//! a hang. Each test here asserts what a user should get; each one failed (most with a panic)
//! before the fix it came with.

use amorsize::array::budget::Admission;
use amorsize::array::{
    AggregateStats, ChunkGrid, ChunkMemoryMetric, ChunkSizeRecommender, MemorySource,
};
use amorsize::model::{self, Costs, Workload};
use amorsize::plan::{decide, MachineFacts};
use amorsize::pool::{Growth, MAX_WORKERS};
use amorsize::process::{batch, Controller, ControllerConfig, Observation, Runner, WriteSink};
use amorsize::sample::{self, Measurement, Sample, SampleSettings, SampleStats};
use amorsize::{AdaptivePool, Error, Executor, Optimizer, Plan};
use std::time::Duration;

const COSTS: Costs = Costs {
    spawn: 55e-6,
    wake: 50e-6,
    dispatch: 1e-7,
};

fn stats(mean: f64, cpu_fraction: f64) -> SampleStats {
    SampleStats {
        count: 5,
        items: 5,
        mean,
        median: mean,
        p95: mean,
        cpu_fraction,
        process_cpu_ratio: cpu_fraction,
        inner_parallelism: 1.0,
        run_length: 1,
        ..Default::default()
    }
}

// ---- model / plan / exec

#[test]
fn predict_with_usize_max_workers_does_not_panic() {
    // `predict` is documented to never panic; zero workers count as one, so a huge count
    // should simply be a huge count.
    let w = Workload::new(1_000, 1e-3);
    let p = model::predict(&w, &COSTS, 4, usize::MAX, 1, true);
    assert!(p.total.is_finite() && p.total >= 0.0, "{p:?}");
}

#[test]
fn predict_with_an_overflowing_fan_out_is_not_free() {
    // A wake cost of f64::MAX per tree level makes the start-up infinite; `predict` turns the
    // infinite total into 0 s, i.e. "the parallel run takes no time at all".
    let w = Workload::new(1_000, 1e-3);
    let costs = Costs {
        spawn: f64::MAX,
        wake: f64::MAX,
        dispatch: 1e-7,
    };
    let p = model::predict(&w, &costs, 4, 4, 250, true);
    assert!(
        p.total > w.sequential_time(),
        "a run whose start-up alone is {} s is predicted to take {} s",
        p.startup,
        p.total
    );
}

#[test]
fn decide_with_infinite_costs_runs_sequentially() {
    // Costs::fan_out maps an infinite cost to 0 (finite_or_zero), so waking a worker that
    // costs forever is planned as free: 100 items of 1 µs go parallel.
    let costs = Costs {
        spawn: f64::INFINITY,
        wake: f64::INFINITY,
        dispatch: 1e-7,
    };
    let plan = decide(
        &Optimizer::new(),
        &stats(1e-6, 1.0),
        100,
        &MachineFacts::new(8, 1 << 30),
        &costs,
    );
    assert_eq!(plan.executor(), Executor::Sequential, "{plan}");
}

#[test]
fn decide_with_usize_max_cores_does_not_panic() {
    // decide is documented "Never panics"; MachineFacts::new is for planning for another machine.
    let plan = decide(
        &Optimizer::new(),
        &stats(1e-3, 1.0),
        1_000,
        &MachineFacts::new(usize::MAX, 1 << 30),
        &COSTS,
    );
    assert!(plan.workers() >= 1 && plan.workers() <= 1_000, "{plan}");
}

#[test]
fn decide_with_a_huge_worker_cap_does_not_panic() {
    // Blocking work on a (made-up) machine of 2^61 cores over usize::MAX items with free
    // fan-out: nothing bounds the workers, and the candidate list doubles past usize::MAX.
    let zero = Costs {
        spawn: 0.0,
        wake: 0.0,
        dispatch: 0.0,
    };
    let plan = decide(
        &Optimizer::new().max_workers(usize::MAX),
        &stats(1e-3, 0.01),
        usize::MAX,
        &MachineFacts::new(1 << 61, 0),
        &zero,
    );
    assert!(plan.workers() >= 1, "{plan}");
}

#[test]
fn decide_never_plans_more_workers_than_a_pool_can_have() {
    // max_workers(10_000) passes validate(); 1e6 blocking items of 10 ms on 64 cores then get a
    // plan of 10_000 workers, and executing it asks the manager for a pool of 16_384 threads,
    // which ThreadPool::new refuses (at most 4096): par_map_with fails on valid settings.
    let plan = decide(
        &Optimizer::new().max_workers(10_000),
        &stats(10e-3, 0.001),
        1_000_000,
        &MachineFacts::new(64, 1 << 34),
        &COSTS,
    );
    assert_eq!(plan.executor(), Executor::Threads, "{plan}");
    assert!(
        plan.workers() <= MAX_WORKERS,
        "planned {} workers, a pool holds at most {MAX_WORKERS}",
        plan.workers()
    );
}

#[test]
fn plan_threads_with_usize_max_workers_gives_an_error() {
    // Plan::threads rejects 0 workers but takes usize::MAX; execute then calls
    // usize::MAX.next_power_of_two() (exec::pool_size), which overflows.
    let r = Plan::threads(usize::MAX, 1).and_then(|p| p.execute(&[1u32, 2, 3], |x| x + 1));
    assert!(
        matches!(r, Err(Error::InvalidConfig { .. })),
        "expected an InvalidConfig error, got {r:?}"
    );
}

// ---- sample

#[test]
fn summarize_with_huge_run_lengths_does_not_panic() {
    let m = Measurement::wall_only(0, usize::MAX, Duration::from_secs(1));
    let s = sample::summarize(&[m, m]);
    assert!(s.mean.is_finite() && s.mean >= 0.0, "{s:?}");
}

#[test]
fn resume_after_a_duration_max_measurement_does_not_panic() {
    let items: Vec<u32> = (0..100).collect();
    let prior = Sample {
        measurements: vec![Measurement::wall_only(0, 1, Duration::MAX)],
        stats: SampleStats::default(),
        results: vec![(0, vec![items[0] + 1])],
    };
    let s = sample::resume(&items, |x| x + 1, &SampleSettings::default(), prior).unwrap();
    assert!(s.sampled_items() >= 1);
}

// ---- pool

#[test]
fn growth_with_duration_max_window_does_not_panic() {
    let g = Growth::new(4, Duration::MAX, |_| 4);
    assert_eq!(g.window, Duration::MAX);
    assert!(g.patience >= Duration::from_secs(1));
}

#[test]
fn imap_unordered_with_usize_max_batch_does_not_panic() {
    let pool = AdaptivePool::builder()
        .workers(1)
        .imap_batch(usize::MAX)
        .build()
        .unwrap();
    let mut v: Vec<u32> = pool
        .imap_unordered(0..10u32, |x| x + 1)
        .map(|r| r.unwrap())
        .collect();
    v.sort_unstable();
    assert_eq!(v, (1..=10).collect::<Vec<_>>());
}

// ---- process

/// Runs `true` once under the runner `b` builds, which must succeed.
fn runs_true_once(b: amorsize::process::RunnerBuilder) {
    let s = b
        .build()
        .unwrap()
        .run(vec!["a".to_string()], &mut WriteSink::new(std::io::sink()))
        .unwrap();
    assert_eq!((s.succeeded, s.failed), (1, 0));
}

#[test]
fn runner_with_duration_max_timeout_runs() {
    runs_true_once(Runner::builder(["true"]).jobs(1).timeout(Duration::MAX));
}

#[test]
fn runner_with_usize_max_reorder_capacity_runs() {
    runs_true_once(
        Runner::builder(["true"])
            .jobs(1)
            .keep_order(true)
            .reorder_capacity(usize::MAX),
    );
}

#[test]
fn fit_to_arg_limit_with_huge_sizes_does_not_panic() {
    // Documented: always at least 1 (a single item that is too long is the kernel's to refuse).
    assert_eq!(batch::fit_to_arg_limit(100, 10, [usize::MAX, 1]), 1);
    assert_eq!(batch::fit_to_arg_limit(100, usize::MAX, [1, 1]), 1);
}

#[test]
fn probe_size_with_usize_max_concurrency_does_not_panic() {
    // Reached from Runner::run with jobs(usize::MAX), BatchPolicy::Auto and total_items.
    assert_eq!(batch::probe_size(Some(1_000), usize::MAX), 2);
}

#[test]
fn process_controller_config_for_usize_max_cores_does_not_panic() {
    let c = ControllerConfig::for_cores(usize::MAX);
    assert_eq!(c.cores, usize::MAX);
    assert!(c.max >= c.min);
}

#[test]
fn process_controller_with_min_above_max_does_not_panic() {
    let cfg = ControllerConfig {
        min: 8,
        max: 2,
        ..ControllerConfig::for_cores(4)
    };
    let c = Controller::auto(cfg);
    assert!(c.concurrency() >= 1);
}

#[test]
fn process_controller_with_usize_max_cores_does_not_panic() {
    let mut cfg = ControllerConfig::for_cores(4);
    cfg.cores = usize::MAX;
    cfg.max = 2;
    let mut c = Controller::auto(cfg);
    let ms = Duration::from_millis;
    let mut last = 0;
    // Four compute-bound jobs over 40 ms: one full window, then the CPU-bound limit is computed.
    for i in 1..=4u64 {
        last = c.observe(
            ms(10 * i),
            Observation {
                wall: ms(10),
                cpu: ms(10),
            },
        );
    }
    assert!((1..=2).contains(&last), "{last}");
}

// ---- array

#[test]
fn chunk_grid_block_ranges_on_a_huge_axis_does_not_panic() {
    let half = usize::MAX / 2 + 1;
    let g = ChunkGrid::new(&[usize::MAX], &[half]).unwrap();
    assert_eq!(g.len(), 2);
    assert_eq!(g.block_ranges(1), vec![half..usize::MAX]);
    assert_eq!(g.block_shape(1), vec![usize::MAX - half]);
}

#[test]
fn recommender_with_usize_max_workers_does_not_panic() {
    // Also reached by ChunkedArray::workers(usize::MAX).profile(), which returns no Result.
    let r = ChunkSizeRecommender::new()
        .workers(usize::MAX)
        .queued(usize::MAX)
        .recommend_with_budget(1 << 30, &[1_000, 1_000], 8, None)
        .unwrap();
    assert!(r.projected_peak <= r.per_chunk_budget, "{r}");
}

#[test]
fn chunk_memory_metric_with_extreme_memory_readings_does_not_panic() {
    let m = ChunkMemoryMetric::new(
        0,
        vec![4],
        8,
        Duration::from_millis(1),
        (i64::MIN, i64::MAX),
        None,
        MemorySource::Rss,
    );
    assert!(m.delta_bytes > 0, "{m:?}");
}

#[test]
fn aggregate_stats_of_huge_chunks_does_not_panic() {
    // `ChunkMemoryMetric::new` saturates estimated_bytes at u64::MAX; the aggregate then adds
    // two of them (and two Duration::MAX compute times) without saturating.
    let m = ChunkMemoryMetric::new(
        0,
        vec![usize::MAX],
        2,
        Duration::MAX,
        (0, 0),
        Some(u64::MAX),
        MemorySource::Exact,
    );
    let s = AggregateStats::from_metrics(&[m.clone(), m]);
    assert_eq!(s.total_chunks, 2);
    assert!(s.avg_chunk_mb.is_finite(), "{s:?}");
}

#[test]
fn admission_with_u64_max_budget_does_not_overflow() {
    let adm = Admission::new(u64::MAX);
    let all = adm.acquire(u64::MAX);
    // u64::MAX + 1 bytes would be in flight: more than the budget.
    assert!(adm.try_acquire(1).is_none());
    drop(all);
}
