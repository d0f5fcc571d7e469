//! What the pool costs on this machine, measured: spawning a thread, starting a job on the
//! warm pool, handing out one chunk. The planner uses these to decide whether running in
//! parallel pays; [`default_target`] turns them into the controller's default target.
//!
//! ```
//! use amorsize::pool::{calibrate, ThreadPool, MAX_THREAD_TARGET, MIN_THREAD_TARGET};
//! let pool = ThreadPool::new(2)?;
//! let costs = calibrate::measure(&pool);
//! assert_eq!(costs.workers, 2);
//! // 100 × the adaptive per-chunk overhead (dispatch under 1% of a chunk), clamped.
//! let target = calibrate::default_target(&costs);
//! assert!((MIN_THREAD_TARGET..=MAX_THREAD_TARGET).contains(&target));
//! assert!(target >= costs.adaptive_chunk_overhead * 100 || target == MAX_THREAD_TARGET);
//! # Ok::<(), amorsize::Error>(())
//! ```

use super::scheduler::Claims;
use super::{ChunkPolicy, ControllerConfig, RunOptions, ThreadPool};
use serde::Serialize;
use std::fmt;
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Claims timed per `chunk_dispatch` sample.
const CLAIMS: usize = 4096;
/// Items (chunks of one) per run-overhead sample.
const RUN_ITEMS: usize = 2048;

/// Measured costs of the pool, all per event.
///
/// ```
/// let pool = amorsize::pool::ThreadPool::new(2).unwrap();
/// let c = amorsize::pool::calibrate::measure(&pool);
/// assert!(c.chunk_dispatch > std::time::Duration::ZERO);
/// println!("{c}");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PoolCosts {
    /// Participants of the measured pool.
    pub workers: usize,
    /// One thread spawn + join (median of 3).
    pub spawn_worker: Duration,
    /// Starting and finishing an empty job in which every participant takes part
    /// (`ThreadPool::broadcast` of a no-op on the warm pool; median of 5 after a warm-up).
    pub warm_job_start: Duration,
    /// Handing out one chunk from a participant's own range, uncontended (median of 3 × 4096 claims).
    pub chunk_dispatch: Duration,
    /// Per-chunk cost of a real fixed-chunk run of empty items on all participants
    /// (claim under contention, result write, bookkeeping), per participant (2048 chunks).
    pub chunk_overhead: Duration,
    /// The same with the adaptive policy (adds two clock reads and the controller update).
    pub adaptive_chunk_overhead: Duration,
}

impl fmt::Display for PoolCosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pool costs ({} workers): spawn+join {:?}, warm job start {:?}, chunk dispatch {:?}, \
             per-chunk overhead {:?} fixed / {:?} adaptive",
            self.workers,
            self.spawn_worker,
            self.warm_job_start,
            self.chunk_dispatch,
            self.chunk_overhead,
            self.adaptive_chunk_overhead
        )
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    v[v.len() / 2]
}

/// Measures `pool`'s costs; takes a few milliseconds (well under 10 ms on a quiet machine).
///
/// ```
/// let pool = amorsize::pool::ThreadPool::new(2).unwrap();
/// let c = amorsize::pool::calibrate::measure(&pool);
/// assert_eq!(c.workers, 2);
/// ```
pub fn measure(pool: &ThreadPool) -> PoolCosts {
    let spawn_worker = median(
        (0..3)
            .map(|_| {
                let t = Instant::now();
                let h = std::thread::Builder::new().spawn(|| black_box(0));
                if let Ok(h) = h {
                    let _ = h.join();
                }
                t.elapsed()
            })
            .collect(),
    );
    let _ = pool.broadcast(|p| {
        black_box(p);
    });
    let warm_job_start = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                let _ = pool.broadcast(|p| {
                    black_box(p);
                });
                t.elapsed()
            })
            .collect(),
    );
    let chunk_dispatch = median(
        (0..3)
            .map(|_| {
                let c = Claims::new(CLAIMS, 1, 1);
                let t = Instant::now();
                while let Some(r) = c.claim(0, black_box(1)) {
                    black_box(r);
                }
                t.elapsed() / CLAIMS as u32
            })
            .collect(),
    );
    let w = pool.workers();
    let per_chunk = |policy: ChunkPolicy| {
        let opts = RunOptions::new(w, policy);
        let t = Instant::now();
        let chunks = pool
            .map_range(RUN_ITEMS, &opts, black_box)
            .map(|o| o.stats.chunks)
            .unwrap_or(RUN_ITEMS);
        t.elapsed() * w as u32 / chunks.max(1) as u32
    };
    let chunk_overhead = per_chunk(ChunkPolicy::Fixed(1));
    let adaptive_chunk_overhead = per_chunk(ChunkPolicy::Adaptive(ControllerConfig {
        initial: 1,
        target: Duration::from_millis(1),
        adaptation_rate: 0.3,
        min: 1,
        max: Some(1),
        window: 10,
    }));
    PoolCosts {
        workers: w,
        spawn_worker,
        warm_job_start,
        chunk_dispatch,
        chunk_overhead,
        adaptive_chunk_overhead,
    }
}

/// The costs of a pool of the effective core count, measured once per process.
///
/// ```
/// let a = amorsize::pool::calibrate::costs();
/// assert_eq!(a, amorsize::pool::calibrate::costs()); // cached
/// ```
pub fn costs() -> PoolCosts {
    static COSTS: OnceLock<PoolCosts> = OnceLock::new();
    *COSTS.get_or_init(|| {
        let n = crate::system::info().cores.effective.max(1);
        match ThreadPool::new(n) {
            Ok(p) => measure(&p),
            Err(_) => PoolCosts {
                workers: 1,
                spawn_worker: Duration::ZERO,
                warm_job_start: Duration::ZERO,
                chunk_dispatch: Duration::ZERO,
                chunk_overhead: Duration::ZERO,
                adaptive_chunk_overhead: Duration::ZERO,
            },
        }
    })
}

/// The controller's default target chunk duration for threads:
/// [`default_target_for_threads`](super::default_target_for_threads) of the per-chunk
/// overhead of an adaptive run — 100 × that overhead, so dispatch stays under 1% of the work,
/// clamped to [`MIN_THREAD_TARGET`](super::MIN_THREAD_TARGET)`..=`[`MAX_THREAD_TARGET`](super::MAX_THREAD_TARGET).
///
/// ```
/// use amorsize::pool::calibrate::{default_target, PoolCosts};
/// use amorsize::pool::MIN_THREAD_TARGET;
/// use std::time::Duration;
/// let mut c = PoolCosts { workers: 2, spawn_worker: Duration::from_micros(55),
///     warm_job_start: Duration::from_micros(20), chunk_dispatch: Duration::from_nanos(10),
///     chunk_overhead: Duration::from_nanos(50), adaptive_chunk_overhead: Duration::from_micros(5) };
/// assert_eq!(default_target(&c), Duration::from_micros(500));
/// c.adaptive_chunk_overhead = Duration::from_nanos(100);
/// assert_eq!(default_target(&c), MIN_THREAD_TARGET);
/// ```
pub fn default_target(c: &PoolCosts) -> Duration {
    super::default_target_for_threads(c.adaptive_chunk_overhead)
}
