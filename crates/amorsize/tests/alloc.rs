//! The tracking allocator's per-thread counters, with the allocator installed for this test binary.

use amorsize::alloc::{
    global_stats, is_active, reset_thread_peak, thread_stats, TrackingAllocator,
};
use std::sync::Barrier;

#[global_allocator]
static ALLOC: TrackingAllocator = TrackingAllocator::new();

#[test]
fn installed_allocator_is_active() {
    let v = vec![1u8; 10];
    assert!(is_active());
    drop(v);
}

#[test]
fn a_known_vec_raises_the_threads_peak_by_its_size() {
    let size = 3 << 20;
    let delta = std::thread::spawn(move || {
        reset_thread_peak();
        let before = thread_stats();
        let v = vec![7u8; size];
        std::hint::black_box(&v);
        drop(v);
        let after = thread_stats();
        (after.peak - before.current, after.current - before.current)
    })
    .join()
    .unwrap();
    assert!(delta.0 >= size as i64, "peak grew by {} < {size}", delta.0);
    assert!(
        delta.0 < size as i64 + (64 << 10),
        "peak grew by {}",
        delta.0
    );
    assert_eq!(delta.1, 0, "the vec was freed on the same thread");
}

#[test]
fn each_threads_peak_is_its_own() {
    // Thread B holds 16 MiB while thread A measures a 1 MiB allocation: A's peak must not see B's.
    let barrier = Barrier::new(2);
    let (a_peak, b_peak) = std::thread::scope(|s| {
        let b = s.spawn(|| {
            reset_thread_peak();
            let base = thread_stats().current;
            let big = vec![1u8; 16 << 20];
            barrier.wait(); // B holds it now
            barrier.wait(); // A has measured
            let p = thread_stats().peak - base;
            drop(big);
            p
        });
        let a = s.spawn(|| {
            barrier.wait();
            reset_thread_peak();
            let base = thread_stats().current;
            let small = vec![1u8; 1 << 20];
            std::hint::black_box(&small);
            let p = thread_stats().peak - base;
            drop(small);
            barrier.wait();
            p
        });
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!((1 << 20..2 << 20).contains(&a_peak), "A peak {a_peak}");
    assert!(b_peak >= 16 << 20, "B's peak {b_peak}");
}

#[test]
fn global_counters_follow_allocations() {
    let g0 = global_stats();
    let v = vec![0u64; 1 << 18];
    let g1 = global_stats();
    assert!(g1.allocations > g0.allocations);
    assert!(g1.peak >= g1.current);
    drop(v);
}

#[test]
fn realloc_is_counted_once() {
    let h = std::thread::spawn(|| {
        let before = thread_stats().current;
        let mut v: Vec<u8> = Vec::with_capacity(1024);
        v.reserve_exact(1 << 20);
        let during = thread_stats().current - before;
        drop(v);
        (during, thread_stats().current - before)
    });
    let (during, after) = h.join().unwrap();
    assert!((1 << 20..(1 << 20) + 4096).contains(&during), "{during}");
    assert_eq!(after, 0);
}
