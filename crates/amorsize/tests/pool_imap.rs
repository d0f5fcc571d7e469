//! `imap` / `imap_unordered`: ordered and complete, errors, and bounded memory with a slow reader.

use amorsize::{AdaptivePool, Error};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn imap_is_ordered_and_complete() {
    let p = AdaptivePool::builder()
        .workers(3)
        .initial_chunk_size(2)
        .imap_batch(50)
        .build()
        .unwrap();
    let v: Vec<u64> = p.imap(0..1234u64, |x| x * 3).map(|r| r.unwrap()).collect();
    assert_eq!(v, (0..1234u64).map(|x| x * 3).collect::<Vec<_>>());
    let mut u: Vec<u64> = p
        .imap_unordered(0..1234u64, |x| x * 3)
        .map(|r| r.unwrap())
        .collect();
    u.sort();
    assert_eq!(u, v);
    assert_eq!(p.imap(Vec::<u8>::new(), |x| *x).count(), 0);
}

#[test]
fn imap_panic_yields_the_global_index_then_ends() {
    let p = AdaptivePool::builder()
        .workers(2)
        .initial_chunk_size(1)
        .imap_batch(10)
        .build()
        .unwrap();
    let out: Vec<_> = p
        .imap(0..100u32, |x| if *x == 57 { panic!("57") } else { *x })
        .collect();
    assert_eq!(out.len(), 51); // 50 results from the first five batches, then the error
    assert!(out[..50].iter().all(|r| r.is_ok()));
    assert!(matches!(
        out[50],
        Err(Error::TaskPanicked { index: 57, .. })
    ));
    let un: Vec<_> = p
        .imap_unordered(0..100u32, |x| if *x == 57 { panic!("57") } else { *x })
        .collect();
    assert!(matches!(
        un.last(),
        Some(Err(Error::TaskPanicked { index: 57, .. }))
    ));
    // The pool still works.
    assert_eq!(p.map(&[1, 2], |x| x + 1).unwrap(), vec![2, 3]);
}

/// A million-item input read slowly: the results produced but not yet read stay under the
/// documented bound at every step, and dropping the iterator stops the work.
#[test]
fn imap_memory_is_bounded_with_a_slow_reader() {
    let batch = 64;
    let p = AdaptivePool::builder()
        .workers(2)
        .initial_chunk_size(4)
        .imap_batch(batch)
        .build()
        .unwrap();
    let produced = Arc::new(AtomicUsize::new(0));
    let pr = produced.clone();
    let mut it = p.imap(0..1_000_000u64, move |x| {
        pr.fetch_add(1, Ordering::SeqCst);
        *x
    });
    let mut consumed = 0usize;
    let mut max_ahead = 0usize;
    for expect in 0..5_000u64 {
        let v = it.next().unwrap().unwrap();
        assert_eq!(v, expect);
        consumed += 1;
        // The reader is slow: it does some work per item.
        let mut h = v;
        for _ in 0..2_000 {
            h = h.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(h);
        let ahead = produced.load(Ordering::SeqCst) - consumed;
        max_ahead = max_ahead.max(ahead);
        assert!(
            ahead <= 3 * batch,
            "{ahead} results buffered, bound {}",
            3 * batch
        );
    }
    drop(it);
    let total = produced.load(Ordering::SeqCst);
    assert!(
        total <= consumed + 3 * batch,
        "work went on after drop: {total}"
    );

    let produced = Arc::new(AtomicUsize::new(0));
    let pr = produced.clone();
    let mut un = p.imap_unordered(0..1_000_000u64, move |x| {
        pr.fetch_add(1, Ordering::SeqCst);
        *x
    });
    let bound = 2 * batch;
    for n in 1..=5_000usize {
        un.next().unwrap().unwrap();
        let ahead = produced.load(Ordering::SeqCst) - n;
        assert!(ahead <= bound, "{ahead} results buffered, bound {bound}");
    }
    drop(un);
    assert!(produced.load(Ordering::SeqCst) <= 5_000 + bound);
    assert!(max_ahead <= 3 * batch);
}

/// The reader may use the same pool inside its loop (no deadlock with the driver's jobs).
#[test]
fn reader_can_use_the_same_pool() {
    let p = std::sync::Arc::new(
        AdaptivePool::builder()
            .workers(2)
            .initial_chunk_size(1)
            .imap_batch(8)
            .build()
            .unwrap(),
    );
    let mut sum = 0u64;
    for r in p.imap_unordered(0..200u64, |x| *x) {
        let v = r.unwrap();
        // Four items: big enough to fan out on the pool (takes its job lock).
        sum += p.map(&[v, v, v, v], |y| y * 2).unwrap()[3];
    }
    assert_eq!(sum, 2 * (0..200u64).sum::<u64>());
    let mut sum = 0u64;
    for r in p.imap(0..200u64, |x| *x) {
        let v = r.unwrap();
        // Four items: big enough to fan out on the pool (takes its job lock).
        sum += p.map(&[v, v, v, v], |y| y * 2).unwrap()[3];
    }
    assert_eq!(sum, 2 * (0..200u64).sum::<u64>());
}

/// An imap created inside one of the pool's own jobs runs its batches sequentially instead
/// of waiting for the job that is reading it.
#[test]
fn imap_inside_a_job_of_the_same_pool() {
    let p = std::sync::Arc::new(
        AdaptivePool::builder()
            .workers(2)
            .imap_batch(4)
            .build()
            .unwrap(),
    );
    let q = p.clone();
    let sums = p
        .map(&[10u64, 20, 30, 40], move |n| {
            let a: u64 = q.imap(0..*n, |x| *x).map(|r| r.unwrap()).sum();
            let b: u64 = q.imap_unordered(0..*n, |x| *x).map(|r| r.unwrap()).sum();
            assert_eq!(a, b);
            a
        })
        .unwrap();
    assert_eq!(sums, vec![45, 190, 435, 780]);
}
