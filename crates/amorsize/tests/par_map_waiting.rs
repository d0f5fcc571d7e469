//! par_map over items that wait: at a fresh call site it finds out that they wait (by a
//! sample, or by watching the job's first workers) and runs them on more threads than there
//! are cores. Alone in its test binary, and its tests one at a time ([`one_at_a_time`]), so
//! no other test's threads burn CPU meanwhile.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

/// Holds the other test of this binary off while one runs (its threads would burn CPU
/// during the other's sample and watch).
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn waiting_items_run_on_more_threads_than_cores() {
    let _serial = one_at_a_time();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let n = 40 + 4 * cores as u64;
    let items: Vec<u64> = (0..n).collect();
    let threads = Mutex::new(HashSet::new());
    let out = amorsize::par_map(&items, |x| {
        threads.lock().unwrap().insert(std::thread::current().id());
        // The workload under test: an item that waits (like I/O), not a way to order threads.
        std::thread::sleep(Duration::from_millis(3));
        x * 2
    })
    .unwrap();
    assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
    let used = threads.into_inner().unwrap().len();
    assert!(used > cores, "{used} threads on {cores} cores");
}

#[test]
fn short_waiting_items_run_once_each_in_order_on_more_threads_than_cores() {
    let _serial = one_at_a_time();
    // Sleeps of 100 µs: too short for the job to start at once (a full sample runs first,
    // items spread over the input), then a watched job that grows around the sampled runs.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let n = 600;
    let items: Vec<usize> = (0..n).collect();
    for call in 0..2 {
        let runs: Vec<std::sync::atomic::AtomicUsize> = (0..n)
            .map(|_| std::sync::atomic::AtomicUsize::new(0))
            .collect();
        let threads = Mutex::new(HashSet::new());
        let out = amorsize::par_map(&items, |&i| {
            threads.lock().unwrap().insert(std::thread::current().id());
            runs[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::thread::sleep(Duration::from_micros(100));
            i * 3
        })
        .unwrap();
        assert_eq!(out, items.iter().map(|i| i * 3).collect::<Vec<_>>());
        for (i, r) in runs.iter().enumerate() {
            assert_eq!(
                r.load(std::sync::atomic::Ordering::Relaxed),
                1,
                "call {call}: item {i}"
            );
        }
        let used = threads.into_inner().unwrap().len();
        assert!(used > cores, "call {call}: {used} threads on {cores} cores");
    }
}
