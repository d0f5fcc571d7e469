//! Execution under a budget with exact measurement: the measured working peak of a run stays
//! under its budget, and blocks larger than the budget run alone. One test per binary, because
//! the run's peak is measured process-wide.

use amorsize::alloc::TrackingAllocator;
use amorsize::array::ChunkedArray;
use ndarray::Array2;

#[global_allocator]
static ALLOC: TrackingAllocator = TrackingAllocator::new();

fn k4(b: ndarray::ArrayView2<'_, f64>) -> Array2<f64> {
    let t1 = b.to_owned();
    let t2 = &t1 * 2.0;
    let t3 = &t2 + &t1;
    &t3 - &t2 // four block-sized arrays at the peak
}

#[test]
fn measured_peak_stays_under_the_budget_and_oversized_blocks_run_alone() {
    let a = Array2::from_shape_fn((256, 256), |(i, j)| (i + j) as f64); // 512 KiB
                                                                        // 64 KiB blocks with k = 4: 256 KiB each; a 600 KiB budget admits two at a time.
    let budget = 600 << 10;
    let c = ChunkedArray::with_chunks(a.view(), &[32, 256])
        .unwrap()
        .workers(4)
        .budget_bytes(budget);
    for _ in 0..2 {
        let out = c.map_blocks(k4).unwrap();
        assert_eq!(out, a);
        let run = c.profile().last_run.unwrap();
        assert!(run.measured_peak <= budget, "{run}");
        assert!(run.projected_peak <= budget, "{run}");
        assert!(run.max_concurrent <= 2, "{run}");
        assert_eq!(run.oversized_blocks, 0, "{run}");
        assert!(run.measured_peak >= 4 * (64 << 10), "{run}");
    }
    // A budget below one block's peak: every block runs alone, none is lost.
    let c = c.budget_bytes(100 << 10);
    assert_eq!(c.map_blocks(k4).unwrap(), a);
    let run = c.profile().last_run.unwrap();
    assert_eq!(run.max_concurrent, 1, "{run}");
    assert_eq!(run.oversized_blocks, 8, "{run}");
}
