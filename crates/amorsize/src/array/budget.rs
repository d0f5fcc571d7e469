//! Admission control: a block starts only while the projected peak bytes in flight stay under
//! the budget and memory pressure is below its threshold.
//!
//! [`Admission`] is a byte semaphore (a `Mutex` and a `Condvar`): [`Admission::acquire`] waits
//! until `in_flight + bytes ≤ budget` and the pressure probe says no, then adds `bytes`; the
//! returned [`Permit`] gives them back on drop. Two rules keep it from ever deadlocking: a block
//! is always admitted when nothing else runs (so a block larger than the whole budget runs
//! alone, and is counted in [`AdmissionStats::oversized`]), and pressure never holds back the only
//! block. Concurrency therefore drops, down to one block, before anything else changes.
//!
//! ```
//! use amorsize::array::budget::Admission;
//! let adm = Admission::new(1000);
//! let a = adm.acquire(600);
//! assert!(adm.try_acquire(600).is_none()); // 600 + 600 > 1000 while `a` runs
//! drop(a); // the permit gives its bytes back
//! let big = adm.acquire(5000); // larger than the budget, admitted because nothing else runs
//! assert!(adm.try_acquire(1).is_none()); // so it runs alone
//! drop(big);
//! let s = adm.stats();
//! assert_eq!((s.admitted, s.max_running, s.oversized), (2, 1, 1));
//! ```

use serde::Serialize;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// A probe that answers "is memory under pressure now?".
///
/// ```
/// use amorsize::array::budget::{Admission, PressureProbe};
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// let high = Arc::new(AtomicBool::new(true));
/// let flag = Arc::clone(&high);
/// let probe: PressureProbe = Box::new(move || flag.load(Ordering::SeqCst));
/// let adm = Admission::new(1 << 20).with_pressure_probe(probe);
/// let first = adm.acquire(1); // the only block always starts
/// assert!(adm.try_acquire(1).is_none()); // a second one waits while the probe says yes
/// high.store(false, Ordering::SeqCst);
/// assert!(adm.try_acquire(1).is_some());
/// drop(first);
/// ```
pub type PressureProbe = Box<dyn Fn() -> bool + Send + Sync>;

/// What an [`Admission`] observed.
///
/// ```
/// use amorsize::array::budget::{Admission, AdmissionStats};
/// let adm = Admission::new(100);
/// assert_eq!(adm.stats(), AdmissionStats::default());
/// let (a, b) = (adm.acquire(40), adm.acquire(50));
/// drop((a, b));
/// drop(adm.acquire(300)); // oversized: runs alone
/// let s = adm.stats();
/// assert_eq!((s.admitted, s.max_running, s.max_in_flight), (3, 2, 300));
/// assert_eq!((s.oversized, s.waits, s.pressure_waits), (1, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AdmissionStats {
    /// Blocks admitted.
    pub admitted: usize,
    /// Highest bytes in flight at once (the counter itself, measured under its lock).
    pub max_in_flight: u64,
    /// Most blocks running at once.
    pub max_running: usize,
    /// Blocks that had to wait before admission.
    pub waits: usize,
    /// Of those, the waits caused by memory pressure.
    pub pressure_waits: usize,
    /// Blocks larger than the whole budget (each ran alone).
    pub oversized: usize,
}

#[derive(Debug, Default)]
struct State {
    in_flight: u64,
    running: usize,
    stats: AdmissionStats,
}

/// A byte semaphore with a memory-pressure gate.
///
/// ```
/// use amorsize::array::budget::Admission;
/// let adm = Admission::new(100);
/// let a = adm.acquire(60);
/// assert!(adm.try_acquire(50).is_none()); // 110 > 100
/// drop(a);
/// assert!(adm.try_acquire(50).is_some());
/// assert_eq!(adm.stats().max_in_flight, 60);
/// ```
pub struct Admission {
    budget: u64,
    state: Mutex<State>,
    cv: Condvar,
    probe: Option<PressureProbe>,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("budget", &self.budget)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Bytes admitted by [`Admission::acquire`]; released on drop.
///
/// ```
/// use amorsize::array::budget::{Admission, Permit};
/// let adm = Admission::new(100);
/// let p: Permit<'_> = adm.acquire(70);
/// assert!(adm.try_acquire(40).is_none()); // 70 + 40 > 100 while `p` is held
/// drop(p); // gives the 70 bytes back
/// let q = adm.try_acquire(40).unwrap();
/// assert_eq!(adm.stats().max_in_flight, 70);
/// drop(q);
/// ```
#[derive(Debug)]
pub struct Permit<'a> {
    adm: &'a Admission,
    bytes: u64,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut st = self.adm.lock();
        st.in_flight -= self.bytes;
        st.running -= 1;
        drop(st);
        self.adm.cv.notify_all();
    }
}

impl Admission {
    /// A semaphore of `budget` bytes without a pressure gate.
    ///
    /// ```
    /// let adm = amorsize::array::budget::Admission::new(1 << 20);
    /// assert_eq!(adm.budget(), 1 << 20);
    /// ```
    pub fn new(budget: u64) -> Admission {
        Admission {
            budget,
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            probe: None,
        }
    }

    /// Adds a pressure gate: while `probe()` is true, a block waits unless nothing else runs.
    ///
    /// ```
    /// use amorsize::array::budget::Admission;
    /// let adm = Admission::new(100).with_pressure_probe(Box::new(|| true));
    /// let only = adm.acquire(10);            // admitted: nothing else runs
    /// assert!(adm.try_acquire(10).is_none()); // held back by pressure
    /// drop(only);
    /// ```
    pub fn with_pressure_probe(mut self, probe: PressureProbe) -> Admission {
        self.probe = Some(probe);
        self
    }

    /// The budget in bytes.
    ///
    /// ```
    /// assert_eq!(amorsize::array::budget::Admission::new(7).budget(), 7);
    /// ```
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// What it observed so far.
    ///
    /// ```
    /// let adm = amorsize::array::budget::Admission::new(10);
    /// drop(adm.acquire(20)); // larger than the budget: runs alone
    /// assert_eq!(adm.stats().oversized, 1);
    /// ```
    pub fn stats(&self) -> AdmissionStats {
        self.lock().stats
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Why `bytes` cannot start now: `None` if it can, `Some(true)` for pressure.
    fn blocked(&self, st: &State, bytes: u64) -> Option<bool> {
        if st.running == 0 {
            return None;
        }
        // An in-flight total past u64::MAX is more than any budget.
        if st
            .in_flight
            .checked_add(bytes)
            .is_none_or(|total| total > self.budget)
        {
            return Some(false);
        }
        if self.probe.as_ref().is_some_and(|p| p()) {
            return Some(true);
        }
        None
    }

    fn admit(&self, st: &mut State, bytes: u64) {
        st.in_flight += bytes;
        st.running += 1;
        st.stats.admitted += 1;
        st.stats.max_in_flight = st.stats.max_in_flight.max(st.in_flight);
        st.stats.max_running = st.stats.max_running.max(st.running);
        if bytes > self.budget {
            st.stats.oversized += 1;
        }
    }

    /// Waits until `bytes` may start, then holds them until the permit drops.
    ///
    /// ```
    /// let adm = amorsize::array::budget::Admission::new(100);
    /// let p = adm.acquire(100);
    /// drop(p);
    /// assert_eq!(adm.stats().admitted, 1);
    /// ```
    pub fn acquire(&self, bytes: u64) -> Permit<'_> {
        let mut st = self.lock();
        let mut waited = false;
        while let Some(pressure) = self.blocked(&st, bytes) {
            if !waited {
                waited = true;
                st.stats.waits += 1;
                if pressure {
                    st.stats.pressure_waits += 1;
                }
            }
            st = if pressure {
                // Pressure can clear without a release; look again soon.
                self.cv
                    .wait_timeout(st, Duration::from_millis(20))
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            } else {
                self.cv.wait(st).unwrap_or_else(|e| e.into_inner())
            };
        }
        self.admit(&mut st, bytes);
        Permit { adm: self, bytes }
    }

    /// Admits `bytes` now if allowed, without waiting.
    ///
    /// ```
    /// let adm = amorsize::array::budget::Admission::new(10);
    /// let a = adm.try_acquire(10).unwrap();
    /// assert!(adm.try_acquire(1).is_none());
    /// ```
    pub fn try_acquire(&self, bytes: u64) -> Option<Permit<'_>> {
        let mut st = self.lock();
        if self.blocked(&st, bytes).is_some() {
            return None;
        }
        self.admit(&mut st, bytes);
        Some(Permit { adm: self, bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn bytes_in_flight_never_exceed_the_budget() {
        let budget = 1000u64;
        let adm = Admission::new(budget);
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let adm = &adm;
                s.spawn(move || {
                    for i in 0..200u64 {
                        let bytes = 1 + (t * 97 + i * 31) % 600;
                        let p = adm.acquire(bytes);
                        std::hint::black_box(&p);
                        drop(p);
                    }
                });
            }
        });
        let st = adm.stats();
        assert_eq!(st.admitted, 800);
        assert_eq!(st.oversized, 0);
        assert!(st.max_in_flight <= budget, "{st:?}");
        assert!(st.max_in_flight > 0);
    }

    #[test]
    fn oversized_blocks_run_alone() {
        let adm = Admission::new(100);
        let big = adm.acquire(500);
        assert!(adm.try_acquire(1).is_none());
        drop(big);
        let small = adm.acquire(10);
        assert!(adm.try_acquire(500).is_none()); // would exceed; others are running
        drop(small);
        assert_eq!(adm.stats().oversized, 1);
    }

    #[test]
    fn pressure_holds_back_all_but_one_and_clears() {
        let high = AtomicBool::new(true);
        let adm = Admission::new(1 << 20);
        let high_ref: &'static AtomicBool = Box::leak(Box::new(high));
        let adm = Admission {
            probe: Some(Box::new(move || high_ref.load(Ordering::SeqCst))),
            ..adm
        };
        let first = adm.acquire(1);
        assert!(adm.try_acquire(1).is_none());
        high_ref.store(false, Ordering::SeqCst);
        let second = adm.try_acquire(1);
        assert!(second.is_some());
        drop((first, second));
        assert_eq!(adm.stats().max_running, 2);
    }

    #[test]
    fn a_waiting_block_is_admitted_after_release() {
        let adm = Admission::new(10);
        let held = adm.acquire(10);
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                let p = adm.acquire(10);
                drop(p);
            });
            drop(held);
            h.join().unwrap();
        });
        let st = adm.stats();
        assert_eq!(st.admitted, 2);
        assert!(st.max_in_flight <= 10);
    }
}
