//! par_map calibrates its costs only once the work it has seen makes calibration cheap.
//!
//! One test in its own binary (its own process): no other test may calibrate first.

use std::time::{Duration, Instant};

#[test]
fn short_jobs_do_not_calibrate_and_long_work_does() {
    assert!(!amorsize::exec::is_calibrated());
    // A job of a few microseconds: planned with the uncalibrated costs (the plain loop).
    let items: Vec<u64> = (0..1_000).collect();
    let out = amorsize::par_map(&items, |x| x * 3).unwrap();
    assert_eq!(out[999], 2_997);
    assert!(!amorsize::exec::is_calibrated());
    // A job that goes past the prefix probe but is far below CALIBRATE_AFTER (~1 ms of
    // spinning at most here): still uncalibrated, and every item runs once, in order.
    let items: Vec<u64> = (0..20_000).collect();
    let spin = |x: &u64| (0..50u64).fold(*x, |a, i| a.wrapping_mul(31).wrapping_add(i));
    let out = amorsize::par_map(&items, spin).unwrap();
    assert_eq!(out, items.iter().map(spin).collect::<Vec<_>>());
    assert!(!amorsize::exec::is_calibrated());
    // 600 items that each sleep 1 ms: 0.6 s of sequential work, past CALIBRATE_AFTER, but
    // long items are watched from the job's start and counted as the time the job took (a
    // few milliseconds on two cores or more): calibrating first would be a large part of it.
    const { assert!(amorsize::exec::CALIBRATE_AFTER <= 0.6) };
    let items: Vec<u64> = (0..600).collect();
    let out = amorsize::par_map(&items, |x| {
        std::thread::sleep(Duration::from_millis(1));
        x + 1
    })
    .unwrap();
    assert_eq!(out, (1..=600).collect::<Vec<u64>>());
    if amorsize::system::info().cores.effective >= 2 {
        assert!(!amorsize::exec::is_calibrated());
    }
    // Short items adding up to 0.6 s of sequential work (each waits 5 µs on the clock, so
    // whatever the machine's speed): this job's projection reaches CALIBRATE_AFTER, and it
    // calibrates before it is planned.
    let items: Vec<u64> = (0..120_000).collect();
    let spin = |x: &u64| {
        let t = Instant::now();
        while t.elapsed() < Duration::from_micros(5) {
            std::hint::spin_loop();
        }
        x + 1
    };
    let out = amorsize::par_map(&items, spin).unwrap();
    assert_eq!(out, (1..=120_000).collect::<Vec<u64>>());
    assert!(amorsize::exec::is_calibrated());
}
