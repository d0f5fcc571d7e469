//! An opt-in counting global allocator: per-thread current and peak bytes.
//!
//! This module owns exact memory measurement. [`TrackingAllocator`] wraps the system allocator
//! and counts, for every thread, the bytes it currently holds and the highest value since the
//! last [`reset_thread_peak`]; it also keeps process-wide counters. Because the counters are
//! per thread, a block of work measured on one worker has its own peak even while other workers
//! allocate at the same time. Memory freed by a different thread than the one that allocated it
//! lowers the freeing thread's counter, so a thread's `current` can go below zero; peaks are
//! measured relative to the value at the reset, which keeps them exact for work that frees what
//! it allocates on the same thread.
//!
//! The allocator is opt-in: a program installs it with
//!
//! ```
//! #[global_allocator]
//! static ALLOC: amorsize::alloc::TrackingAllocator = amorsize::alloc::TrackingAllocator::new();
//!
//! fn main() {
//!     assert!(amorsize::alloc::is_active());
//!     amorsize::alloc::reset_thread_peak();
//!     let before = amorsize::alloc::thread_stats();
//!     let v = vec![0u8; 1 << 20];
//!     let after = amorsize::alloc::thread_stats();
//!     assert!(after.peak - before.current >= (1 << 20));
//!     drop(v);
//! }
//! ```
//!
//! and the array module ([`crate::array`]) then reports exact per-chunk peaks; without it,
//! [`is_active`] is false and the array module falls back to resident memory.

use serde::Serialize;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

static ACTIVE: AtomicBool = AtomicBool::new(false);
static GLOBAL_CURRENT: AtomicI64 = AtomicI64::new(0);
static GLOBAL_PEAK: AtomicI64 = AtomicI64::new(0);
static GLOBAL_ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static CURRENT: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
}

/// A global allocator that counts bytes per thread and per process, then defers to
/// [`std::alloc::System`].
///
/// ```
/// #[global_allocator]
/// static A: amorsize::alloc::TrackingAllocator = amorsize::alloc::TrackingAllocator::new();
/// fn main() { assert!(amorsize::alloc::is_active()); }
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct TrackingAllocator;

impl TrackingAllocator {
    /// The allocator, for a `static` item.
    ///
    /// ```
    /// static A: amorsize::alloc::TrackingAllocator = amorsize::alloc::TrackingAllocator::new();
    /// let _ = &A;
    /// ```
    pub const fn new() -> Self {
        TrackingAllocator
    }
}

#[inline]
fn on_alloc(size: usize) {
    let size = size as i64;
    ACTIVE.store(true, Ordering::Relaxed);
    let _ = CURRENT.try_with(|c| {
        let now = c.get() + size;
        c.set(now);
        let _ = PEAK.try_with(|p| {
            if now > p.get() {
                p.set(now)
            }
        });
    });
    let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
    let _ = ALLOCATED.try_with(|a| a.set(a.get() + size as u64));
    GLOBAL_ALLOCS.fetch_add(1, Ordering::Relaxed);
    let now = GLOBAL_CURRENT.fetch_add(size, Ordering::Relaxed) + size;
    GLOBAL_PEAK.fetch_max(now, Ordering::Relaxed);
}

#[inline]
fn on_dealloc(size: usize) {
    let size = size as i64;
    let _ = CURRENT.try_with(|c| c.set(c.get() - size));
    GLOBAL_CURRENT.fetch_sub(size, Ordering::Relaxed);
}

// SAFETY: every method defers to `System` with the caller's arguments unchanged; the counting
// touches only atomics and const-initialised thread-locals without destructors, which never
// allocate.
unsafe impl GlobalAlloc for TrackingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            on_alloc(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            on_alloc(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        on_dealloc(layout.size());
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            on_dealloc(layout.size());
            on_alloc(new_size);
        }
        p
    }
}

/// What the allocator counted for one thread (or for the process).
///
/// ```
/// #[global_allocator]
/// static ALLOC: amorsize::alloc::TrackingAllocator = amorsize::alloc::TrackingAllocator::new();
///
/// fn main() {
///     amorsize::alloc::reset_thread_peak();
///     let before = amorsize::alloc::thread_stats();
///     drop(std::hint::black_box(vec![0u8; 1 << 20]));
///     let after = amorsize::alloc::thread_stats();
///     assert!(after.peak - before.current >= 1 << 20);
///     assert!(after.allocations > before.allocations);
///     assert!(after.allocated_bytes - before.allocated_bytes >= 1 << 20);
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AllocStats {
    /// Bytes held now (allocated minus freed by this thread; may be negative, see the module doc).
    pub current: i64,
    /// Highest `current` since the last reset.
    pub peak: i64,
    /// Allocations made.
    pub allocations: u64,
    /// Bytes allocated in total (never decreases).
    pub allocated_bytes: u64,
}

/// True once a [`TrackingAllocator`] installed as the global allocator has served an allocation.
///
/// ```
/// // In a program without the allocator installed this is false.
/// let _active: bool = amorsize::alloc::is_active();
/// ```
pub fn is_active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// The calling thread's counters (all zero when the allocator is not installed).
///
/// ```
/// let s = amorsize::alloc::thread_stats();
/// assert!(s.peak >= s.current || !amorsize::alloc::is_active());
/// ```
pub fn thread_stats() -> AllocStats {
    AllocStats {
        current: CURRENT.try_with(Cell::get).unwrap_or(0),
        peak: PEAK.try_with(Cell::get).unwrap_or(0),
        allocations: ALLOCS.try_with(Cell::get).unwrap_or(0),
        allocated_bytes: ALLOCATED.try_with(Cell::get).unwrap_or(0),
    }
}

/// Sets the calling thread's peak to its current value; the next peak is measured from here.
///
/// ```
/// amorsize::alloc::reset_thread_peak();
/// let s = amorsize::alloc::thread_stats();
/// assert_eq!(s.peak, s.current);
/// ```
pub fn reset_thread_peak() {
    let now = CURRENT.try_with(Cell::get).unwrap_or(0);
    let _ = PEAK.try_with(|p| p.set(now));
}

/// The process-wide counters (`allocated_bytes` is not tracked process-wide and is 0).
///
/// ```
/// let g = amorsize::alloc::global_stats();
/// assert!(g.peak >= g.current);
/// ```
pub fn global_stats() -> AllocStats {
    let current = GLOBAL_CURRENT.load(Ordering::Relaxed);
    AllocStats {
        current,
        peak: GLOBAL_PEAK.load(Ordering::Relaxed).max(current),
        allocations: GLOBAL_ALLOCS.load(Ordering::Relaxed),
        allocated_bytes: 0,
    }
}

/// Sets the process-wide peak to the current value (another thread's concurrent peak may be lost).
///
/// ```
/// amorsize::alloc::reset_global_peak();
/// let g = amorsize::alloc::global_stats();
/// assert!(g.peak >= g.current);
/// ```
pub fn reset_global_peak() {
    GLOBAL_PEAK.store(GLOBAL_CURRENT.load(Ordering::Relaxed), Ordering::Relaxed);
}
