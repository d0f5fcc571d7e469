//! Behaviour of the pool manager through its public API.

use amorsize::manager::{is_expired, ManagerStats, DEFAULT_IDLE_TIMEOUT};
use amorsize::pool::{AdaptivePool, ChunkPolicy, RunOptions};
use amorsize::{global_pool_manager, Error, PoolManager};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn ptr(p: &AdaptivePool) -> usize {
    p as *const AdaptivePool as usize
}

fn run_on(p: &AdaptivePool, n: usize) -> Vec<usize> {
    let opts = RunOptions::new(p.workers(), ChunkPolicy::Fixed(4));
    p.map_range(n, &opts, |i| i * 3).unwrap().results
}

fn counts(s: &ManagerStats) -> (u64, u64, usize, usize) {
    (s.created, s.reused, s.idle, s.active)
}

#[test]
fn same_pool_is_reused_after_drop() {
    let m = PoolManager::new();
    let h = m.get(2).unwrap();
    let (id, addr) = (h.id(), ptr(&h));
    assert_eq!(run_on(&h, 10)[9], 27);
    drop(h);
    let h = m.get(2).unwrap();
    assert_eq!(h.id(), id);
    assert_eq!(ptr(&h), addr);
    assert!(h.is_alive());
    assert_eq!(h.workers(), 2);
    assert_eq!(counts(&m.stats()), (1, 1, 0, 1));
}

#[test]
fn held_pools_are_never_shared_and_sizes_do_not_mix() {
    let m = PoolManager::new();
    let a = m.get(2).unwrap();
    let b = m.get(2).unwrap();
    assert_ne!(a.id(), b.id());
    assert_ne!(ptr(&a), ptr(&b));
    let (a_id, b_id) = (a.id(), b.id());
    drop(a);
    drop(b);
    let c = m.get(1).unwrap(); // no idle pool of size 1
    assert!(c.id() != a_id && c.id() != b_id);
    assert_eq!(c.workers(), 1);
    assert_eq!(counts(&m.stats()), (3, 0, 2, 1));
}

#[test]
fn get_new_forces_a_new_pool_that_is_then_kept() {
    let m = PoolManager::new();
    let first = m.get(1).unwrap().id();
    let fresh = m.get_new(1).unwrap();
    assert_ne!(fresh.id(), first);
    let fresh_id = fresh.id();
    drop(fresh);
    assert_eq!(counts(&m.stats()), (2, 0, 2, 0));
    // both are idle now; get reuses the most recently returned one
    assert_eq!(m.get(1).unwrap().id(), fresh_id);
}

#[test]
fn expiry_rule_is_at_least_the_timeout() {
    let t = Instant::now();
    let s = Duration::from_secs(1);
    assert!(!is_expired(t, t, s));
    assert!(!is_expired(t, t + Duration::from_millis(999), s));
    assert!(is_expired(t, t + s, s));
    assert!(is_expired(t, t + 2 * s, s));
    // a clock reading before the return does not underflow
    assert!(!is_expired(t + s, t, s));
    assert!(is_expired(t + s, t, Duration::ZERO));
    assert!(!is_expired(t, t + s, Duration::MAX));
}

#[test]
fn zero_idle_timeout_never_reuses() {
    let m = PoolManager::with_idle_timeout(Duration::ZERO);
    let first = m.get(1).unwrap().id();
    let second = m.get(1).unwrap();
    assert_ne!(second.id(), first);
    let s = m.stats();
    assert_eq!((s.created, s.reused, s.expired), (2, 0, 1));
    drop(second);
    assert_eq!(m.stats().idle, 0);
    assert_eq!(m.stats().expired, 2);
}

#[test]
fn idle_pools_expire_lazily_by_the_given_clock() {
    let m = PoolManager::new();
    assert_eq!(m.idle_timeout(), DEFAULT_IDLE_TIMEOUT);
    let id = m.get(1).unwrap().id();
    // well inside the timeout: kept and reused
    assert_eq!(m.expire_idle(Instant::now() + Duration::from_secs(10)), 0);
    let h = m.get(1).unwrap();
    assert_eq!(h.id(), id);
    drop(h);
    // past the timeout: shut down
    assert_eq!(m.expire_idle(Instant::now() + DEFAULT_IDLE_TIMEOUT), 1);
    let s = m.stats();
    assert_eq!((s.idle, s.expired), (0, 1));
    assert_ne!(m.get(1).unwrap().id(), id);
}

#[test]
fn clear_idle_leaves_lent_pools_alone() {
    let m = PoolManager::new();
    let held = m.get(2).unwrap();
    drop(m.get(1).unwrap());
    drop(m.get(3).unwrap());
    assert_eq!(m.clear_idle(), 2);
    assert_eq!(m.stats().idle, 0);
    assert!(held.is_alive());
    assert_eq!(run_on(&held, 5), vec![0, 3, 6, 9, 12]);
    drop(held);
    assert_eq!(m.stats().idle, 1);
}

#[test]
fn shutdown_refuses_later_gets_and_retires_outstanding_pools() {
    let m = PoolManager::new();
    let held = m.get(2).unwrap();
    drop(m.get(1).unwrap());
    m.shutdown();
    assert!(m.is_shut_down());
    assert!(matches!(m.get(1), Err(Error::PoolShutDown)));
    assert!(matches!(m.get_new(2), Err(Error::PoolShutDown)));
    let s = m.stats();
    assert_eq!((s.idle, s.active, s.shut_down), (0, 1, true));
    assert!(s.to_string().ends_with("shut down"));
    // the lent pool still works until it is given back ...
    assert_eq!(run_on(&held, 3), vec![0, 3, 6]);
    drop(held);
    // ... and is then shut down, not kept
    let s = m.stats();
    assert_eq!((s.idle, s.active), (0, 0));
    m.shutdown(); // idempotent
    assert!(matches!(m.get(1), Err(Error::PoolShutDown)));
}

#[test]
fn handles_outlive_their_manager_safely() {
    let m = PoolManager::new();
    let h = m.get(1).unwrap();
    drop(m);
    assert_eq!(run_on(&h, 2), vec![0, 3]);
    drop(h);
}

#[test]
fn zero_workers_is_invalid() {
    let m = PoolManager::new();
    assert!(matches!(
        m.get(0),
        Err(Error::InvalidConfig { ref setting, .. }) if setting == "workers"
    ));
    assert_eq!(counts(&m.stats()), (0, 0, 0, 0));
}

#[test]
fn stats_are_displayed_and_serialized() {
    let m = PoolManager::new();
    drop(m.get(1).unwrap());
    let h = m.get(1).unwrap();
    let _other = m.get(2).unwrap();
    let s = m.stats();
    assert_eq!(counts(&s), (2, 1, 0, 2));
    assert_eq!(
        s.to_string(),
        "pools: 2 created, 1 reused, 0 idle, 2 active (0 expired, 0 dead replaced)"
    );
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["created"], 2);
    assert_eq!(v["reused"], 1);
    assert_eq!(v["active"], 2);
    assert_eq!(v["shut_down"], false);
    drop(h);
}

#[test]
fn global_manager_is_shared_and_works() {
    let a = global_pool_manager();
    assert!(std::ptr::eq(a, global_pool_manager()));
    let h = a.get(2).unwrap();
    assert_eq!(run_on(&h, 4), vec![0, 3, 6, 9]);
}

#[test]
fn concurrent_callers_get_exclusive_pools() {
    const THREADS: usize = 8;
    const CYCLES: usize = 50;
    let m = Arc::new(PoolManager::new());
    // per-pool in-use flag, keyed by pool id
    let in_use: Arc<Mutex<HashMap<u64, Arc<AtomicBool>>>> = Arc::default();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let m = Arc::clone(&m);
            let in_use = Arc::clone(&in_use);
            std::thread::spawn(move || {
                for i in 0..CYCLES {
                    let size = 1 + (t + i) % 2;
                    let h = if i % 10 == 9 {
                        m.get_new(size).unwrap()
                    } else {
                        m.get(size).unwrap()
                    };
                    assert_eq!(h.workers(), size);
                    let flag = Arc::clone(
                        in_use
                            .lock()
                            .unwrap()
                            .entry(h.id())
                            .or_insert_with(|| Arc::new(AtomicBool::new(false))),
                    );
                    assert!(!flag.swap(true, Ordering::SeqCst), "pool {} shared", h.id());
                    assert_eq!(run_on(&h, 3), vec![0, 3, 6]);
                    if i % 7 == 0 {
                        let _ = m.stats();
                    }
                    flag.store(false, Ordering::SeqCst);
                    drop(h);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let s = m.stats();
    assert_eq!(s.created + s.reused, (THREADS * CYCLES) as u64);
    assert_eq!(s.active, 0);
    // nothing expired (300 s) or died: every pool ever created is idle now
    assert_eq!(s.idle as u64, s.created);
    assert_eq!(in_use.lock().unwrap().len() as u64, s.created);
    assert!(s.reused > 0);
    m.shutdown();
    assert_eq!(m.stats().idle, 0);
}

#[test]
fn handles_can_be_sent_to_other_threads() {
    let m = PoolManager::new();
    let h = m.get(1).unwrap();
    let id = h.id();
    std::thread::spawn(move || drop(h)).join().unwrap();
    assert_eq!(m.get(1).unwrap().id(), id);
}
