//! Chunked n-dimensional arrays: profiling, memory pressure, chunk-shape recommendation and
//! blockwise execution under a memory budget.
//!
//! This module owns everything about arrays (the `ndarray` crate): the chunk grid and blockwise
//! execution ([`ChunkedArray`], [`ChunkedArrayMut`]), what each chunk cost
//! ([`ChunkMemoryMetric`], [`ProfileReport`]), the pure chunk-shape recommender
//! ([`ChunkSizeRecommender`]), admission control ([`budget::Admission`]), memory pressure
//! ([`MemoryPressure`]), the least-squares fits of the peak and time models ([`fit`]) and the
//! [`AdaptiveChunkingEngine`] that remembers arrays between runs.
//!
//! ```
//! use amorsize::array::{ChunkedArray, ChunkSizeRecommender, MemoryPressure};
//! let a = ndarray::Array2::<f64>::from_elem((300, 200), 1.5);
//! let c = ChunkedArray::with_chunks(a.view(), &[100, 100])?;
//! let out = c.map_blocks(|block| block.mapv(|x| x * 2.0 + 1.0))?;   // parallel, profiled
//! assert_eq!(out[[299, 199]], 4.0);
//! let total = c.reduce_blocks(|b| b.sum(), |x, y| x + y)?;
//! assert_eq!(total, 1.5 * 300.0 * 200.0);
//! let report = c.profile();          // per-chunk metrics, aggregate stats, recommended chunks
//! let better = c.rechunk(&report.recommended_chunks)?;
//! let p = MemoryPressure::snapshot()?;
//! let rec = ChunkSizeRecommender::new().target_memory_fraction(0.5)
//!     .min_chunk_bytes(1 << 20).safety_factor(0.8);
//! let shape = rec.recommend(&[50_000, 50_000], 8, Some(&report.stats))?;
//! println!("{report}\n{p}\n{shape}");
//! # let _ = better;
//! # Ok::<(), amorsize::Error>(())
//! ```
//!
//! # Empty arrays
//! An array with a zero-length axis (a filter that kept no rows) is chunked like any other: its
//! grid has no chunks, every chunk length is still at least 1, and a run has no block to call
//! the function on. [`ChunkedArray::map_blocks`] then returns an empty array of the same shape
//! and [`ChunkedArrayMut::map_blocks_mut`] does nothing; [`ChunkedArray::reduce_blocks`], which
//! has no identity value to return, is an [`Error::InvalidInput`](crate::Error::InvalidInput).
//! The recommender plans such an array's chunks on one slice of it (1 along each zero-length
//! axis), and a run with no block is not recorded by the [`AdaptiveChunkingEngine`] (it
//! measured nothing). Only rank 0 is refused.
//!
//! ```
//! use amorsize::array::ChunkedArray;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! let rows = ndarray::Array2::<f64>::zeros((0, 5)); // a filter kept no row
//! let c = ChunkedArray::with_chunks(rows.view(), &[100, 5])?;
//! assert_eq!((c.grid().len(), c.chunks()), (0, vec![1, 5]));
//! let calls = AtomicUsize::new(0);
//! let out = c.map_blocks(|b| {
//!     calls.fetch_add(1, Ordering::Relaxed);
//!     b.mapv(|x| x * 2.0)
//! })?;
//! assert_eq!(out.shape(), &[0, 5]); // an empty array of the input's shape
//! assert_eq!(calls.load(Ordering::Relaxed), 0); // the function never ran
//! assert!(c.reduce_blocks(|b| b.sum(), |x, y| x + y).is_err()); // nothing to reduce
//! assert_eq!(c.profile().last_run.unwrap().chunks, 0);
//! # Ok::<(), amorsize::Error>(())
//! ```
//!
//! # Memory
//! A run never admits more projected working memory (beyond its input and output arrays) than
//! its budget, except that a single block larger than the whole budget runs alone (reported in
//! [`RunReport::oversized_blocks`]). Per-chunk memory is exact when the program installs
//! [`crate::alloc::TrackingAllocator`] as its global allocator, otherwise it is read from
//! `/proc/self/statm`; every report says which ([`MemorySource`]). With the allocator, the first
//! block of an array that was never measured runs alone and calibrates `k` for the blocks after
//! it; without it, per-chunk peaks cannot be told apart from other threads' memory, so `k` stays
//! 1 unless a caller gives a lower bound with [`ChunkedArray::amplification`].
//!
//! # Environment
//! [`global_engine`] reads these variables once (an unknown `AMORSIZE_ARRAY_*` name or a bad
//! value makes it fall back to the defaults and report the error in its telemetry):
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `AMORSIZE_ARRAY_ENABLED` | record runs, apply recommendations (`1`/`0`, `true`/`false`, `on`/`off`) | on |
//! | `AMORSIZE_ARRAY_WORKERS` | workers per run | effective cores |
//! | `AMORSIZE_ARRAY_BUDGET_BYTES` | working-memory budget per run (`1G`, `512MiB`, bytes) | from the machine |
//! | `AMORSIZE_ARRAY_MEMORY_FRACTION` | share of available memory, (0, 1] | 0.5 |
//! | `AMORSIZE_ARRAY_SAFETY_FACTOR` | safety factor, (0, 1] | 0.8 |
//! | `AMORSIZE_ARRAY_MIN_CHUNK_BYTES` | smallest recommended chunk | 1 MiB |
//! | `AMORSIZE_ARRAY_PRESSURE_THRESHOLD` | PSI `some avg10` (or % available) threshold | 10 |
//! | `AMORSIZE_ARRAY_AUTO_RECHUNK` | apply recommendations to the next run automatically | off |
//! | `AMORSIZE_ARRAY_HISTORY` | runs kept in the telemetry history | 64 |
//! | `AMORSIZE_ARRAY_WORKING_SET_BYTES` | working set (input + peak) a chunk aims at, `0` = as large as the budget allows | 8 MiB |

pub mod budget;
mod chunked;
pub mod engine;
pub mod fit;
pub mod metrics;
pub mod pressure;
pub mod recommend;

pub use chunked::{ChunkGrid, ChunkedArray, ChunkedArrayMut};
pub use engine::{
    global_engine, AdaptiveChunkingEngine, ArrayId, ArrayProfile, EngineConfig, ProfilerStats,
    RunRecord, Telemetry,
};
pub use metrics::{AggregateStats, ChunkMemoryMetric, MemorySource, ProfileReport, RunReport};
pub use pressure::MemoryPressure;
pub use recommend::{machine_budget, ChunkSizeRecommender, Recommendation};

/// The engine under the name the issue uses.
///
/// ```
/// use amorsize::array::{AdaptiveChunkingEngine, Engine, EngineConfig};
/// let e: Engine = Engine::new(EngineConfig::new().history_len(4))?;
/// let same: &AdaptiveChunkingEngine = &e; // one type, two names
/// assert_eq!(same.config().history_len, 4);
/// assert!(Engine::new(EngineConfig::new().workers(0)).is_err());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub type Engine = AdaptiveChunkingEngine;

/// An array shape amorsize can chunk: rank 1 or more, and lengths that multiply to at most
/// `usize::MAX` when every zero-length axis is counted as 1 (so that every count of elements or
/// chunks fits, and so does the slice a recommendation for an empty array is planned on; ndarray
/// itself asks the same of its non-zero axes). A zero-length axis is legal: the array then has
/// no elements and its grid no chunks.
fn check_shape(shape: &[usize]) -> crate::Result<()> {
    if shape.is_empty() {
        return Err(crate::Error::invalid_input(
            "array shape",
            "rank 0 has no chunks",
        ));
    }
    if shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d.max(1)))
        .is_none()
    {
        let what = if shape.contains(&0) {
            "its non-zero axes span"
        } else {
            "it has"
        };
        return Err(crate::Error::invalid_input(
            "array shape",
            format!("{shape:?}: {what} more than {} elements", usize::MAX),
        ));
    }
    Ok(())
}
