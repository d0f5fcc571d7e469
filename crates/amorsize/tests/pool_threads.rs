//! No thread leaks: creating, using and dropping pools leaves the thread count unchanged.
//! (Its own test binary with a single test, so no other test's threads interfere.)

use amorsize::pool::{ChunkPolicy, RunOptions, ThreadPool};
use amorsize::AdaptivePool;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The thread count once it has come down to `want`, or what it is after 5 s. A joined
/// thread has finished, but the kernel may list it in /proc/self/task a moment longer (`join`
/// returns when the thread clears its tid, before the kernel releases the task); a thread that
/// really leaked stays listed, and the assertion that follows fails.
fn threads_settled_at(want: usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let n = threads();
        if n == want || std::time::Instant::now() >= deadline {
            return n;
        }
        std::thread::yield_now();
    }
}

#[test]
fn pools_join_their_threads() {
    let before = threads();
    assert!(before >= 1);
    for size in [1, 2, 5] {
        let p = ThreadPool::new(size).unwrap();
        assert_eq!(threads(), before + size - 1);
        p.map_range(1000, &RunOptions::new(size, ChunkPolicy::Fixed(3)), |i| i)
            .unwrap();
        drop(p);
        assert_eq!(
            threads_settled_at(before),
            before,
            "after dropping a pool of {size}"
        );
    }
    let p = ThreadPool::new(4).unwrap();
    p.shutdown();
    assert_eq!(threads_settled_at(before), before, "shutdown joins");
    drop(p);

    let ap = AdaptivePool::builder()
        .workers(3)
        .imap_batch(16)
        .build()
        .unwrap();
    let before_ap = threads();
    {
        let mut it = ap.imap(0..1_000_000u64, |x| x + 1);
        assert_eq!(it.next().unwrap().unwrap(), 1);
        let mut un = ap.imap_unordered(0..1_000_000u64, |x| x + 1);
        assert!(un.next().unwrap().is_ok());
    } // dropped early: drivers cancelled and joined
    assert_eq!(threads_settled_at(before_ap), before_ap);
    drop(ap);
    assert_eq!(threads_settled_at(before), before);
}
