//! With the tracking allocator installed, the sample measures what one item holds at its peak,
//! and the plan bounds the workers by memory.

use amorsize::model::Costs;
use amorsize::plan::{decide, MachineFacts};
use amorsize::sample::{measure, SampleSettings};

#[global_allocator]
static A: amorsize::alloc::TrackingAllocator = amorsize::alloc::TrackingAllocator::new();

const MIB: u64 = 1 << 20;

#[test]
fn item_memory_is_measured_and_bounds_the_workers() {
    let items: Vec<u64> = (0..64).collect();
    let f = |x: &u64| {
        // Each item holds 16 MiB at once, then frees it.
        let v = vec![*x as u8; (16 * MIB) as usize];
        std::hint::black_box(&v);
        v.iter().map(|b| *b as u64).sum::<u64>()
    };
    let s = measure(&items, f, &SampleSettings::default()).unwrap();
    let held = s
        .stats
        .item_memory
        .expect("measured with the allocator installed");
    assert!(held >= 16 * MIB, "{held}");
    assert!(held < 64 * MIB, "{held}");

    // 8 cores, 64 MiB available, half of it for the workers: 2 items fit at once.
    let costs = Costs {
        spawn: 50e-6,
        wake: 50e-6,
        dispatch: 1e-7,
    };
    let mut stats = s.stats.clone();
    stats.mean = 10e-3; // make the work large enough to go parallel whatever the machine
    stats.cpu_fraction = 1.0;
    let plan = decide(
        &amorsize::Optimizer::new(),
        &stats,
        items.len(),
        &MachineFacts::new(8, 64 * MIB),
        &costs,
    );
    assert!(plan.workers() <= 2, "{plan}");
    assert!(
        plan.diagnostics()
            .constraints
            .iter()
            .any(|c| c.contains("memory")),
        "{plan}"
    );
}
