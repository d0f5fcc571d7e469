//! Items that wait, watched while other threads of the program compute for a moment (a rayon
//! pool's idle threads spin for a while after their job; another pool winds down): in the
//! watch's window that CPU looks like threads the items started, but it stops long before the
//! job does. `par_map` must not remember the call site as one whose items run threads of
//! their own (it would then run them on one worker per spare core): the next call still runs
//! them on more threads than there are cores.
//! Alone in its test binary, so no other test's threads come and go meanwhile.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

#[test]
fn threads_busy_only_while_the_job_starts_are_not_taken_for_the_items_threads() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let n = 300;
    let items: Vec<usize> = (0..n).collect();
    let done = AtomicUsize::new(0);
    let threads = Mutex::new(HashSet::new());
    // The workload under test: an item that waits (like I/O), and counts itself.
    let f = |x: &usize| {
        threads.lock().unwrap().insert(std::thread::current().id());
        std::thread::sleep(Duration::from_millis(3));
        done.fetch_add(1, Ordering::Relaxed);
        x * 2
    };
    amorsize::exec::clear_cache();
    let spinning = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        // One computing thread per core, busy from before the call until a tenth of its items
        // are done: through the first item (run alone) and the watch that follows it.
        for _ in 0..cores {
            s.spawn(|| {
                spinning.fetch_add(1, Ordering::Relaxed);
                while done.load(Ordering::Relaxed) < n / 10 && !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            });
        }
        while spinning.load(Ordering::Relaxed) < cores {
            std::thread::yield_now();
        }
        let out = amorsize::par_map(&items, f);
        stop.store(true, Ordering::Relaxed);
        assert_eq!(
            out.unwrap(),
            items.iter().map(|x| x * 2).collect::<Vec<_>>()
        );
    });
    // The same call site again, nothing else running: what it remembered decides.
    threads.lock().unwrap().clear();
    let out = amorsize::par_map(&items, f).unwrap();
    assert_eq!(out.len(), n);
    let used = threads.lock().unwrap().len();
    assert!(
        used > cores,
        "the second call ran its waiting items on {used} threads ({cores} cores)"
    );
}
