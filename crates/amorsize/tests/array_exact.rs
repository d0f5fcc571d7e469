//! Exact per-chunk memory with the tracking allocator installed: the amplification of a block
//! function is measured, and the engine applies recommendations to the next run.

use amorsize::alloc::TrackingAllocator;
use amorsize::array::{AdaptiveChunkingEngine, ChunkedArray, EngineConfig, MemorySource};
use ndarray::{Array1, Array2};

#[global_allocator]
static ALLOC: TrackingAllocator = TrackingAllocator::new();

/// A run's measured peak is process-wide (the global counters): memory another test frees
/// meanwhile would lower it. The tests of this binary therefore run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn amplification_of_a_block_with_temporaries_is_measured() {
    let _one_at_a_time = serial();
    let a = Array1::from_iter((0..10_000).map(|i| i as f64));
    // Blocks of 3000, 3000, 3000, 1000 elements: the fit sees two sizes.
    let c = ChunkedArray::with_chunks(a.view(), &[3000])
        .unwrap()
        .workers(2);
    let out = c
        .map_blocks(|b| {
            let t1 = b.to_owned();
            let t2 = &t1 * 2.0;
            &t2 + &t1 // three block-sized arrays alive at once
        })
        .unwrap();
    assert_eq!(out, a.mapv(|x| x * 3.0));
    let r = c.profile();
    assert_eq!(r.memory_source, MemorySource::Exact);
    for m in &r.metrics {
        let peak = m.peak_bytes.expect("exact mode has per-chunk peaks");
        assert!(peak >= 3 * m.estimated_bytes, "{m:?}");
        assert!(peak < 3 * m.estimated_bytes + 4096, "{m:?}");
    }
    let k = r.stats.peak_model.k;
    assert!((2.9..3.2).contains(&k), "k = {k}");
    assert!(r.stats.amplification >= 3.0);
    // The recommendation divides the budget by k.
    let rec = amorsize::array::ChunkSizeRecommender::new()
        .workers(1)
        .min_chunk_bytes(1)
        .recommend_with_budget(3 << 20, &[1 << 24], 8, Some(&r.stats))
        .unwrap();
    assert!(rec.chunk_bytes <= 1 << 20, "{rec}");
    assert!(rec.chunk_bytes > 900 << 10, "{rec}");
}

#[test]
fn auto_rechunk_applies_the_recommendation_to_the_next_run() {
    let _one_at_a_time = serial();
    let engine = AdaptiveChunkingEngine::new(
        EngineConfig::new()
            .workers(2)
            .budget_bytes(64 << 10)
            .min_chunk_bytes(1),
    )
    .unwrap();
    let a = Array2::<f64>::ones((64, 128)); // 64 KiB
    let c = ChunkedArray::with_chunks_and_engine(a.view(), &[64, 128], &engine)
        .unwrap()
        .auto_rechunk(true)
        .key("exact-auto");
    // One whole-array block with k ≈ 2 cannot fit a 64 KiB budget. Unmeasured, it runs alone
    // and the report shows the overflow it measured.
    c.map_blocks(|b| {
        let t = b.to_owned();
        &t + &t
    })
    .unwrap();
    let first = c.profile();
    let run = first.last_run.clone().unwrap();
    assert_eq!(run.max_concurrent, 1);
    assert!(run.measured_peak > run.budget_bytes, "{run}");
    assert_ne!(first.recommended_chunks, vec![64, 128]);
    // The next run of the same key uses the recommended chunks, and fits.
    c.map_blocks(|b| {
        let t = b.to_owned();
        &t + &t
    })
    .unwrap();
    assert_eq!(c.chunks(), first.recommended_chunks);
    let second = c.profile().last_run.unwrap();
    assert_eq!(second.oversized_blocks, 0);
    assert!(second.projected_peak <= second.budget_bytes, "{second}");
    let t = engine.telemetry();
    assert_eq!(t.arrays_tracked, 1);
    assert_eq!(t.history.len(), 2);
    let id = t.history[0].id;
    let p = engine.get_profile(id).unwrap();
    assert_eq!(p.runs, 2);
    assert!(p.stats.amplification > 1.5, "{p}");
    assert_eq!(p.shape, vec![64, 128]);
    assert!(p.dtype.contains("f64"));
}
