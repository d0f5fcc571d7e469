//! Audit of the public API under realistic-but-adversarial use. Every test here failed on the
//! code as audited (stop 12), for the reason given in its comment, and passes since its fix. Each body runs on its own thread and
//! is waited for with a bounded `recv_timeout`, so a hang fails the test instead of the run.

use amorsize::pool::ThreadPool;
use amorsize::{AdaptivePool, Error, PoolManager};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Runs `f` on a thread of its own and waits at most `secs` for it; a timeout is a hang.
fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("audit: {what}"))
        .spawn(move || {
            let _ = tx.send(f());
        })
        .unwrap();
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("hang: {what} did not return within {secs} s")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: the test body panicked"),
    }
}

/// Busy work of about `us` microseconds (wall clock), so items cost something to sample.
fn spin(us: u64) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_micros(us) {
        std::hint::spin_loop();
    }
}

/// par_map documents "A panic in `f` gives `Err(Error::TaskPanicked { index, .. })` with the
/// first failing item's index" (and the pool README: "the smallest panicking index is kept").
/// Here every item from 3000 on panics (a bad region of the input), so the first failing item
/// is 3000. par_map's sample runs items spread over the input, the middle one (5000) first,
/// and returns that panic as is: the error names item 5000.
#[test]
fn par_map_panic_reports_the_first_failing_item() {
    let err = within(120, "par_map over a failing region", || {
        let items: Vec<usize> = (0..10_000).collect();
        amorsize::par_map(&items, |&i| {
            spin(3);
            if i >= 3000 {
                panic!("item {i} is bad");
            }
            i
        })
        .unwrap_err()
    });
    match err {
        Error::TaskPanicked { index, .. } => assert_eq!(
            index, 3000,
            "items 3000.. all panic; par_map named item {index} instead of the first failing one"
        ),
        other => panic!("expected TaskPanicked, got {other:?}"),
    }
}

/// A panic in the *input iterator* of `imap` / `imap_unordered` (it is pulled on the driver
/// thread) kills the driver thread; the reader sees the channel close and the iterator simply
/// ends, as if the input had been exhausted. No `Err` is yielded and nothing propagates: the
/// caller silently receives a truncated result (here 50 of 100 items, or none at all with the
/// default batch size).
#[test]
fn imap_input_panic_is_not_silently_swallowed() {
    let (ordered, unordered) = within(60, "imap over a panicking input", || {
        let p = AdaptivePool::builder()
            .workers(2)
            .imap_batch(10)
            .build()
            .unwrap();
        let input = || (0..100u32).map(|x| if x == 55 { panic!("input {x}") } else { x });
        let ordered = catch_unwind(AssertUnwindSafe(|| {
            p.imap(input(), |x| *x).collect::<Vec<_>>()
        }));
        let unordered = catch_unwind(AssertUnwindSafe(|| {
            p.imap_unordered(input(), |x| *x).collect::<Vec<_>>()
        }));
        // Ok(v): the iterator ended normally; Err: the panic reached the reader (acceptable).
        let summary = |r: std::thread::Result<Vec<amorsize::Result<u32>>>| {
            r.map(|v| (v.len(), v.iter().filter(|r| r.is_err()).count()))
        };
        (summary(ordered), summary(unordered))
    });
    for (name, r) in [("imap", ordered), ("imap_unordered", unordered)] {
        if let Ok((len, errors)) = r {
            assert!(
                errors > 0,
                "{name}: the input panicked at item 55, yet the iterator ended normally after \
                 {len} Ok items and no Err"
            );
        }
    }
}

/// `Imap` documents "dropping the iterator cancels the work and joins the driver". When the
/// input is a blocking iterator (a channel receiver, a socket reader...), the driver is parked
/// inside `next()` on the input and `Drop` joins it forever: dropping the iterator hangs
/// (here the sender, dropped only after the iterator, can never be dropped).
#[test]
fn dropping_imap_early_does_not_hang_on_a_blocking_input() {
    let first = within(20, "drop of an imap over a channel", || {
        let p = AdaptivePool::builder()
            .workers(2)
            .imap_batch(4)
            .build()
            .unwrap();
        let (tx, rx) = mpsc::channel::<u32>();
        let mut it = p.imap(rx, |x| x + 1);
        for i in 0..4 {
            tx.send(i).unwrap();
        }
        let first = it.next().map(|r| r.ok());
        drop(it); // the reader is done: this should cancel, not wait for more input
        drop(tx);
        first
    });
    assert_eq!(first, Some(Some(1)));
}

/// `ThreadPool::shutdown` documents: "Called from inside one of this pool's jobs it only marks
/// the pool shut down". Inside a `broadcast`, the workers that have not entered the job yet see
/// the mark and exit, while the broadcast's caller waits until *every* worker has entered:
/// the broadcast never returns. (The same happens when another thread calls `shutdown` while a
/// broadcast is waking its workers; that `shutdown` then waits for the job lock forever too.)
#[test]
fn shutdown_inside_a_broadcast_does_not_hang() {
    let (ran, result) = within(20, "broadcast that shuts its pool down", || {
        let pool = Arc::new(ThreadPool::new(16).unwrap());
        let ran = AtomicUsize::new(0);
        let r = pool.broadcast(|p| {
            if p == 0 {
                pool.shutdown();
            }
            ran.fetch_add(1, Ordering::Relaxed);
        });
        (ran.into_inner(), r.is_ok())
    });
    assert!(ran >= 1 && result, "ran {ran}, ok {result}");
}

/// `PoolManager` documents "a `PoolHandle` lends its pool to one user at a time and gives it
/// back on drop, so concurrent users never share a pool". An `imap`/`imap_unordered` made on a
/// handle keeps using the pool after the handle is dropped (the natural
/// `m.get(2)?.imap_unordered(..)` drops it at once), so the manager treats the busy pool as
/// idle: the next `get` lends the very same pool to another user, and `clear_idle` (or the idle
/// timeout, or the manager's shutdown) shuts it down under the running iterator, whose
/// remaining items then fail with `PoolShutDown`.
#[test]
fn pool_lent_for_imap_is_not_relent_or_shut_down_while_in_use() {
    let (imap_pool, relent, results) = within(60, "imap on a lent pool", || {
        let m = PoolManager::new();
        let h = m.get(2).unwrap();
        let imap_pool = h.id();
        let mut it = h.imap_unordered(0..200u32, |x| {
            std::thread::sleep(Duration::from_micros(300));
            *x
        });
        drop(h);
        let mut results = vec![it.next().unwrap()];
        let relent = m.get(2).unwrap().id();
        m.clear_idle();
        results.extend(it);
        (imap_pool, relent, results)
    });
    let failed: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| format!("{e:?}")))
        .collect();
    assert!(
        failed.is_empty() && results.len() == 200,
        "the imap's pool was shut down under it: {} results, errors {:?}",
        results.len(),
        failed
    );
    assert_ne!(
        relent, imap_pool,
        "the pool still running the imap was lent to another user"
    );
}
