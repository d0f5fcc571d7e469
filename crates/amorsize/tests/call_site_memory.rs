//! par_map's call-site memory. Its counters are process-wide, so this file holds one test and
//! runs in a process of its own.

use std::time::Duration;

fn sleepy(us: u64) -> impl Fn(&u32) -> u32 {
    move |x| {
        std::thread::sleep(Duration::from_micros(us));
        x * 2
    }
}

/// par_map_with, generic in the closure like par_map (the call site is the closure's type).
fn call<F: Fn(&u32) -> u32 + Sync>(
    opt: &amorsize::Optimizer,
    items: &[u32],
    f: F,
) -> amorsize::Result<Vec<u32>> {
    amorsize::par_map_with(opt, items, f)
}

#[test]
fn call_site_memory_reuses_what_it_learned_and_checks_the_cost() {
    let items: Vec<u32> = (0..120).collect();
    // At most 8 workers: with dozens of threads waking from short sleeps on a 2-core machine,
    // a call's time per item can drift past the 2× band the cost check allows (the site is
    // then forgotten and sampled again, which this test would count as a miss).
    let opt = amorsize::Optimizer::new().max_workers(8);
    let par_map = |items: &[u32], f| call(&opt, items, f);
    let expected: Vec<u32> = items.iter().map(|x| x * 2).collect();
    let stats = amorsize::exec::cache_stats;

    // Too small to pay: the prefix probe runs the whole input on the calling thread, nothing
    // is sampled. (Should the first item be held up for 20 µs or more — a loaded machine
    // preempting it — the probe stops early and samples, or even starts the job on the pool,
    // as it would for a slow first item: that call is right, just not this path. Up to three
    // calls, then, and one of them must be the plain loop.)
    let small: Vec<u32> = (0..100).collect();
    let caller = std::thread::current().id();
    let mut plain_on_caller = false;
    let mut s1 = stats();
    for _ in 0..3 {
        let s0 = stats();
        let elsewhere = std::sync::atomic::AtomicUsize::new(0);
        assert_eq!(
            call(&opt, &small, |x: &u32| {
                if std::thread::current().id() != caller {
                    elsewhere.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                x.wrapping_mul(3)
            })
            .unwrap(),
            small.iter().map(|x| x.wrapping_mul(3)).collect::<Vec<_>>()
        );
        s1 = stats();
        if s1.plain == s0.plain + 1 && s1.sampled == s0.sampled && elsewhere.into_inner() == 0 {
            plain_on_caller = true;
            break;
        }
    }
    assert!(
        plain_on_caller,
        "three tiny calls, none a plain loop: {s1:?}"
    );

    // A call site that pays (blocking work): the first call samples, the next ones reuse.
    // (5 ms sleeps, jobs of ~75 ms: a remembered site is forgotten when a call's time per
    // item is off by 2×, which a stall of the virtual machine can cause in a short job.)
    let f = sleepy(5_000);
    assert_eq!(par_map(&items, &f).unwrap(), expected);
    let s2 = stats();
    assert_eq!(s2.sampled, s1.sampled + 1);
    for _ in 0..2 {
        assert_eq!(par_map(&items, &f).unwrap(), expected);
    }
    let s3 = stats();
    assert_eq!(s3.probed, s2.probed + 2, "{s2:?} -> {s3:?}");
    assert_eq!(s3.sampled, s2.sampled);

    // The same closure type with a cost 10× higher (same function, same type name). The site's
    // items are long and its plan parallel, so the call runs the remembered plan at once; the
    // pool's measurements show the cost is off, and the site is forgotten: the next call samples.
    // (A tiny call above that was preempted and sampled is remembered too: count this site's
    // entry only. CI once failed on `cache_len() == 0` that way.)
    let g = sleepy(50_000);
    let sites = amorsize::exec::cache_len();
    assert!(sites >= 1, "the blocking site is remembered");
    assert_eq!(par_map(&items, &g).unwrap(), expected);
    let s4 = stats();
    assert_eq!(s4.probed, s3.probed + 1, "{s3:?} -> {s4:?}");
    assert_eq!(
        amorsize::exec::cache_len(),
        sites - 1,
        "the mismatched site is forgotten"
    );
    assert_eq!(par_map(&items, &g).unwrap(), expected);
    let s4 = stats();
    assert_eq!(s4.sampled, s3.sampled + 1, "{s3:?} -> {s4:?}");

    // Clearing forgets every site.
    amorsize::exec::clear_cache();
    assert_eq!(amorsize::exec::cache_len(), 0);
    assert_eq!(par_map(&items, &f).unwrap(), expected);
    assert_eq!(stats().sampled, s4.sampled + 1);
}
