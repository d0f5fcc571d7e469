//! An idle warm pool parks its workers: over a second it uses almost no CPU.
//! (Its own test binary, so no other test's work is counted.)

use amorsize::pool::{ChunkPolicy, RunOptions, ThreadPool};
use std::time::Duration;

fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[test]
fn idle_pool_uses_no_cpu() {
    let pool = ThreadPool::new(4).unwrap();
    let out = pool
        .map_range(10_000, &RunOptions::new(4, ChunkPolicy::Fixed(10)), |i| {
            i * 2
        })
        .unwrap();
    assert_eq!(out.results[9_999], 19_998);
    // Let the workers finish their short spin and park, then measure a second of idleness.
    std::thread::sleep(Duration::from_millis(100));
    let c0 = process_cpu();
    std::thread::sleep(Duration::from_secs(1));
    let used = process_cpu() - c0;
    assert!(
        used < Duration::from_millis(50),
        "idle pool used {used:?} of CPU in 1 s"
    );
    // And it is still warm: the next job runs.
    let out = pool
        .map_range(100, &RunOptions::new(4, ChunkPolicy::Fixed(1)), |i| i)
        .unwrap();
    assert_eq!(out.results.len(), 100);
}
