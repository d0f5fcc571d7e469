//! Items that wait, in a program whose other threads keep every core busy: the CPU those
//! threads burn is not the items' (they do not start threads of their own), so `par_map` still
//! runs the items on more threads than there are cores (it learns that they wait by watching
//! its first workers), and `optimize`, which learns it from a sample, plans as many.
//! Alone in its test binary, so no other test's threads come and go meanwhile.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

#[test]
fn waiting_items_beside_busy_threads_of_the_program_still_run_on_many_threads() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        // The program's own work: one computing thread per core, the whole test long.
        for _ in 0..cores {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            });
        }
        let result = std::panic::catch_unwind(|| {
            // Items of a few milliseconds and of a fifth of one.
            for (pause, n) in [
                (Duration::from_millis(3), 40 + 4 * cores),
                (Duration::from_micros(200), 400),
            ] {
                amorsize::exec::clear_cache();
                let items: Vec<usize> = (0..n).collect();
                let threads = Mutex::new(HashSet::new());
                let f = |x: &usize| {
                    threads.lock().unwrap().insert(std::thread::current().id());
                    // The workload under test: an item that waits (like I/O).
                    std::thread::sleep(pause);
                    x * 2
                };
                // With every core busy, the first worker may take longer to wake than the watch
                // waits for it (20 windows: 1.5–2 % of the calls here); the job then runs on
                // the cores, and the call site is not remembered, so the next call watches
                // again. A call whose watch did see the items is remembered, right or wrong,
                // so the next calls repeat its verdict.
                let mut used = 0;
                for _ in 0..3 {
                    threads.lock().unwrap().clear();
                    let out = amorsize::par_map(&items, f).unwrap();
                    assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
                    used = threads.lock().unwrap().len();
                    if used > cores {
                        break;
                    }
                }
                assert!(
                    used > cores,
                    "{pause:?} items: {used} threads on {cores} busy cores"
                );
                let plan = amorsize::optimize(&items, f).unwrap();
                assert!(
                    plan.workers() > cores,
                    "{pause:?} items: {} workers on {cores} busy cores\n{plan}",
                    plan.workers()
                );
                let stats = &plan.diagnostics().sample;
                assert_eq!(stats.inner_parallelism, 1.0, "{stats}");
            }
        });
        stop.store(true, Ordering::Relaxed);
        if let Err(e) = result {
            std::panic::resume_unwind(e);
        }
    });
}
