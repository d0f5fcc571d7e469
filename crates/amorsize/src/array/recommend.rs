//! The chunk-shape recommender: from a memory budget, a peak model and a time model to a chunk
//! shape, with the reasons.
//!
//! The core, [`ChunkSizeRecommender::recommend_with_budget`], is pure: it takes the budget as a
//! number. [`ChunkSizeRecommender::recommend`] takes it from the machine with
//! [`machine_budget`]: `min(MemAvailable, memory.max − (memory.current − reclaimable))
//! × target fraction × safety factor`, divided among the chunks in flight (workers + queued).
//!
//! The rules, in order:
//! 1. peak bytes of a chunk are `a + k·b` (fitted from measured chunks, `k = 1` until measured),
//!    so a chunk may have at most `(budget / in_flight − a) / k` input bytes;
//! 2. at least `4 × workers` chunks when the array is large enough to run in parallel; and a
//!    chunk's working set, input plus peak `(1 + k)·b + a`, aims at
//!    [`ChunkSizeRecommender::working_set_bytes`] (8 MiB by default): measured on this
//!    executor (`amorsize-bench --bin arrays`), 1–8 MiB chunks ran 1.5–4.7× faster than
//!    128 MiB chunks, because large temporaries fault in fresh pages for every chunk and fall
//!    out of cache, so "as large as the budget allows" is not the fastest choice here;
//! 3. never below `min_chunk_bytes`, nor below the size where the per-chunk overhead `t0` of the
//!    time model `t(b) = t0 + c·b` exceeds 1% of a chunk's time (unless the array is smaller,
//!    or the budget forbids it: the budget always wins); rule 4's equal split may then take a
//!    chunk up to a quarter below these, and the reasons say so;
//! 4. near-cubic, but the last (contiguous) axis is kept long: whole when at least
//!    [`ROW_BAND_MIN_ROWS`] of its rows fit in a chunk and there are no storage chunks (bands
//!    of contiguous rows), else at least
//!    16 KiB long, and it takes whatever the other axes leave; every axis clipped to the array
//!    and, where that shrinks it by at most a quarter, split into equal parts (no thin
//!    remainder chunk);
//! 5. storage alignment is a hard rule: with `previous_chunks`, each axis is a multiple of the
//!    storage chunk when growing and a divisor of it when shrinking (or the whole axis); the
//!    recommendation reports how far this moved the chunk from its target.
//!
//! An array with a zero-length axis has no elements and no chunks; its chunk shape is what these
//! rules give one slice of it (the shape with 1 for each zero-length axis), so every chunk
//! length is still at least 1.
//!
//! ```
//! use amorsize::array::ChunkSizeRecommender;
//! // 64 MiB of f64 on 4 workers, 1 GiB budget, k = 1 (nothing measured yet).
//! let r = ChunkSizeRecommender::new().workers(4)
//!     .recommend_with_budget(1 << 30, &[4096, 2048], 8, None)?;
//! assert_eq!((r.in_flight, r.per_chunk_budget), (4, 256 << 20)); // rule 1
//! assert_eq!(r.chunk_bytes + r.projected_peak, 8 << 20); // rule 2: working set (1 + k)·b
//! assert!(r.n_chunks >= 4 * 4); // rule 2: every worker has work
//! assert_eq!(r.chunks, vec![256, 2048]); // rule 4: bands of whole rows
//! // A 1 MiB budget cannot hold four 1 MiB chunks: the budget wins over min_chunk_bytes.
//! let small = ChunkSizeRecommender::new().workers(4)
//!     .recommend_with_budget(1 << 20, &[4096, 2048], 8, None)?;
//! assert!(small.projected_peak <= small.per_chunk_budget && small.chunk_bytes < 1 << 20);
//! # Ok::<(), amorsize::Error>(())
//! ```

use super::fit::{PeakModel, TimeModel};
use super::metrics::AggregateStats;
use crate::system::MemoryInfo;
use crate::{Error, Result};
use serde::Serialize;
use std::fmt;

/// The last axis of a chunk is kept at least this many bytes long (when the array allows).
///
/// ```
/// use amorsize::array::{recommend::CONTIGUOUS_MIN_BYTES, ChunkSizeRecommender};
/// // 4 MiB chunks of f64 rows too long for row bands: near-cubic would be 724 × 724.
/// let r = ChunkSizeRecommender::new().workers(1)
///     .recommend_with_budget(1 << 30, &[1024, 1 << 17], 8, None)?;
/// assert_eq!(r.chunks[1] as u64 * 8, CONTIGUOUS_MIN_BYTES);
/// assert_eq!(r.chunks, vec![256, 2048]);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const CONTIGUOUS_MIN_BYTES: u64 = 16 << 10;
/// The last axis is taken whole when at least this many of its rows fit in a chunk.
///
/// ```
/// use amorsize::array::{recommend::ROW_BAND_MIN_ROWS, ChunkSizeRecommender};
/// let rec = ChunkSizeRecommender::new().workers(1); // chunks of 4 MiB: 524288 f64
/// let eight = rec.recommend_with_budget(1 << 30, &[64, 1 << 16], 8, None)?;
/// assert_eq!(eight.chunks, vec![ROW_BAND_MIN_ROWS as usize, 1 << 16]); // 8 whole rows
/// let four = rec.recommend_with_budget(1 << 30, &[64, 1 << 17], 8, None)?;
/// assert!(four.chunks[1] < 1 << 17); // only 4 rows would fit: rows are cut
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const ROW_BAND_MIN_ROWS: u64 = 8;
/// Share of a chunk's time the per-chunk overhead `t0` may take.
///
/// ```
/// use amorsize::array::{fit::TimeModel, recommend::OVERHEAD_SHARE};
/// use amorsize::array::{AggregateStats, ChunkSizeRecommender};
/// let mut stats = AggregateStats::from_metrics(&[]);
/// stats.time_model = TimeModel { t0: 1e-4, c: 1e-9, measured: 8 }; // 100 µs + 1 ns/B
/// let r = ChunkSizeRecommender::new().workers(1).min_chunk_bytes(1)
///     .recommend_with_budget(1 << 30, &[99_000_000], 1, Some(&stats))?;
/// assert_eq!(r.chunk_bytes, stats.time_model.min_bytes(OVERHEAD_SHARE)); // 9.9 MB
/// let t = stats.time_model; // the overhead is then OVERHEAD_SHARE of a chunk's time
/// assert!(t.t0 <= OVERHEAD_SHARE * (t.t0 + t.c * r.chunk_bytes as f64) * (1.0 + 1e-9));
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const OVERHEAD_SHARE: f64 = 0.01;
/// Default working set per chunk, input plus peak bytes: 8 MiB.
///
/// ```
/// use amorsize::array::{recommend::DEFAULT_WORKING_SET_BYTES, ChunkSizeRecommender, EngineConfig};
/// assert_eq!(EngineConfig::new().working_set_bytes, DEFAULT_WORKING_SET_BYTES);
/// let r = ChunkSizeRecommender::new().workers(1) // 1 GiB of bytes, k = 1
///     .recommend_with_budget(1 << 30, &[1 << 30], 1, None)?;
/// assert_eq!(r.chunk_bytes + r.projected_peak, DEFAULT_WORKING_SET_BYTES); // input + peak
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const DEFAULT_WORKING_SET_BYTES: u64 = 8 << 20;

/// Builder of chunk-shape recommendations.
///
/// ```
/// use amorsize::array::ChunkSizeRecommender;
/// let rec = ChunkSizeRecommender::new().workers(4).min_chunk_bytes(1 << 20)
///     .recommend_with_budget(1 << 30, &[50_000, 50_000], 8, None).unwrap();
/// assert!(rec.projected_peak <= rec.per_chunk_budget);
/// assert!(rec.n_chunks >= 16);
/// println!("{rec}");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChunkSizeRecommender {
    target_memory_fraction: f64,
    min_chunk_bytes: u64,
    safety_factor: f64,
    previous_chunks: Option<Vec<usize>>,
    workers: usize,
    queued: usize,
    budget_bytes: Option<u64>,
    working_set_bytes: u64,
}

impl Default for ChunkSizeRecommender {
    fn default() -> Self {
        Self::new()
    }
}

/// Total working-memory budget of the machine: `min(available, limit − (current − reclaimable))
/// × fraction × safety` (pure).
///
/// ```
/// use amorsize::system::MemoryInfo;
/// let m = MemoryInfo { total: 16 << 30, available: 8 << 30, cgroup_limit: Some(4 << 30),
///     cgroup_current: Some(3 << 30), cgroup_reclaimable: Some(1 << 30) };
/// // cgroup headroom: 4 − (3 − 1) = 2 GiB < 8 GiB available; × 0.5 × 0.5
/// assert_eq!(amorsize::array::machine_budget(&m, 0.5, 0.5), 512 << 20);
/// ```
pub fn machine_budget(mem: &MemoryInfo, fraction: f64, safety: f64) -> u64 {
    let mut avail = mem.available;
    if let Some(limit) = mem.cgroup_limit {
        let used = mem
            .cgroup_current
            .unwrap_or(0)
            .saturating_sub(mem.cgroup_reclaimable.unwrap_or(0));
        avail = avail.min(limit.saturating_sub(used));
    }
    (avail as f64 * fraction * safety).floor() as u64
}

/// Number of chunks of shape `chunks` that cover `shape` (`Π ceil(shape_i / chunks_i)`; 0 when
/// an axis has length 0; `usize::MAX` when the count does not fit, rather than overflowing).
///
/// ```
/// use amorsize::array::recommend::grid_count;
/// assert_eq!(grid_count(&[10, 10], &[3, 5]), 8);
/// assert_eq!(grid_count(&[10, 0], &[3, 5]), 0);
/// assert_eq!(grid_count(&[usize::MAX, usize::MAX], &[1, 1]), usize::MAX);
/// assert_eq!(grid_count(&[usize::MAX, usize::MAX, 0], &[1, 1, 1]), 0);
/// ```
pub fn grid_count(shape: &[usize], chunks: &[usize]) -> usize {
    // Saturating: a product past usize::MAX stays there, and a later zero still makes it 0.
    shape
        .iter()
        .zip(chunks)
        .map(|(&s, &c)| s.div_ceil(c.max(1)))
        .fold(1usize, usize::saturating_mul)
}

/// A recommended chunk shape and why.
///
/// ```
/// let r = amorsize::array::ChunkSizeRecommender::new().workers(1)
///     .recommend_with_budget(1 << 20, &[100, 100], 8, None).unwrap();
/// assert_eq!(r.chunks, vec![100, 100]); // 80 kB: the whole array fits
/// assert!(!r.reasons.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// The chunk shape.
    pub chunks: Vec<usize>,
    /// Elements per (full) chunk.
    pub chunk_elements: u64,
    /// Input bytes per (full) chunk.
    pub chunk_bytes: u64,
    /// Chunks in the grid (0 for an array with a zero-length axis).
    pub n_chunks: usize,
    /// Input bytes the rules aimed at before shaping and alignment.
    pub target_bytes: u64,
    /// `chunk_bytes / target_bytes` after alignment (1.0: alignment did not move it).
    pub alignment_ratio: f64,
    /// The storage chunks aligned to, if any.
    pub aligned_to: Option<Vec<usize>>,
    /// Total working-memory budget, bytes.
    pub budget_bytes: u64,
    /// Chunks that may be in flight at once (workers + queued, lowered if the budget demands).
    pub in_flight: usize,
    /// `budget_bytes / in_flight`.
    pub per_chunk_budget: u64,
    /// The peak model used.
    pub peak_model: PeakModel,
    /// The time model used.
    pub time_model: TimeModel,
    /// Projected peak bytes of one chunk (`a + k·chunk_bytes`), at most `per_chunk_budget`.
    pub projected_peak: u64,
    /// Why the shape is what it is, one sentence per rule that acted.
    pub reasons: Vec<String>,
}

impl fmt::Display for Recommendation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
        writeln!(
            f,
            "chunks {:?}: {:.2} MiB per chunk, {} chunks; projected peak {:.2} MiB of {:.2} MiB \
             per chunk ({} in flight, budget {:.1} MiB)",
            self.chunks,
            mib(self.chunk_bytes),
            self.n_chunks,
            mib(self.projected_peak),
            mib(self.per_chunk_budget),
            self.in_flight,
            mib(self.budget_bytes)
        )?;
        for r in &self.reasons {
            writeln!(f, "  - {r}")?;
        }
        Ok(())
    }
}

impl ChunkSizeRecommender {
    /// Defaults: fraction 0.5, safety 0.8, min chunk 1 MiB, workers = effective cores, 0 queued,
    /// budget from the machine.
    ///
    /// ```
    /// assert!(amorsize::array::ChunkSizeRecommender::new().validate().is_ok());
    /// ```
    pub fn new() -> Self {
        ChunkSizeRecommender {
            target_memory_fraction: 0.5,
            min_chunk_bytes: 1 << 20,
            safety_factor: 0.8,
            previous_chunks: None,
            workers: crate::system::info().cores.effective.max(1),
            queued: 0,
            budget_bytes: None,
            working_set_bytes: DEFAULT_WORKING_SET_BYTES,
        }
    }

    /// Share of available memory the array work may use, in (0, 1].
    ///
    /// ```
    /// let r = amorsize::array::ChunkSizeRecommender::new().target_memory_fraction(0.2);
    /// assert!(r.validate().is_ok());
    /// ```
    pub fn target_memory_fraction(mut self, f: f64) -> Self {
        self.target_memory_fraction = f;
        self
    }

    /// Smallest chunk in input bytes (unless the array is smaller or the budget forbids it).
    /// Splitting an axis into equal parts (rule 4 of the [module docs](self)) may shrink a
    /// chunk by up to a quarter below it; the recommendation's reasons then say so.
    ///
    /// ```
    /// let r = amorsize::array::ChunkSizeRecommender::new().min_chunk_bytes(4096);
    /// assert!(r.validate().is_ok());
    /// ```
    pub fn min_chunk_bytes(mut self, b: u64) -> Self {
        self.min_chunk_bytes = b;
        self
    }

    /// Multiplier in (0, 1] for the uncertainty of the measurements.
    ///
    /// ```
    /// let e = amorsize::array::ChunkSizeRecommender::new().safety_factor(1.5).validate();
    /// assert!(e.is_err());
    /// ```
    pub fn safety_factor(mut self, s: f64) -> Self {
        self.safety_factor = s;
        self
    }

    /// The storage chunks to align with (same rank as the array, no zeros).
    ///
    /// ```
    /// let r = amorsize::array::ChunkSizeRecommender::new().previous_chunks(&[64, 64])
    ///     .recommend_with_budget(64 << 20, &[1000, 1000], 8, None).unwrap();
    /// assert!(r.chunks.iter().all(|&c| c % 64 == 0 || 64 % c == 0 || c == 1000));
    /// ```
    pub fn previous_chunks(mut self, chunks: &[usize]) -> Self {
        self.previous_chunks = Some(chunks.to_vec());
        self
    }

    /// Workers that run chunks at once (at least 1).
    ///
    /// ```
    /// assert!(amorsize::array::ChunkSizeRecommender::new().workers(0).validate().is_err());
    /// ```
    pub fn workers(mut self, w: usize) -> Self {
        self.workers = w;
        self
    }

    /// Chunks queued beyond the workers' (they count against the budget too).
    ///
    /// ```
    /// let r = amorsize::array::ChunkSizeRecommender::new().workers(2).queued(2)
    ///     .recommend_with_budget(4 << 20, &[1 << 20], 1, None).unwrap();
    /// assert_eq!(r.in_flight, 4);
    /// ```
    pub fn queued(mut self, q: usize) -> Self {
        self.queued = q;
        self
    }

    /// The working set a chunk aims at: input plus peak, `(1 + k)·b + a` bytes (default 8 MiB;
    /// 0 turns the rule off, so chunks are as large as the budget allows). Chunks whose
    /// temporaries stay in cache and reuse the allocator's memory run faster than chunks that
    /// fault in fresh pages for every temporary (see the rule list in the module doc).
    ///
    /// ```
    /// use amorsize::array::ChunkSizeRecommender;
    /// let r = ChunkSizeRecommender::new().workers(1).min_chunk_bytes(1).working_set_bytes(0)
    ///     .recommend_with_budget(64 << 20, &[1 << 30], 1, None).unwrap();
    /// assert_eq!(r.chunk_bytes, 64 << 20); // as large as the budget allows
    /// ```
    pub fn working_set_bytes(mut self, b: u64) -> Self {
        self.working_set_bytes = b;
        self
    }

    /// An explicit total working-memory budget in bytes, used as is instead of the machine's
    /// (fraction and safety factor do not apply to it).
    ///
    /// ```
    /// let r = amorsize::array::ChunkSizeRecommender::new().workers(1).budget_bytes(1 << 20)
    ///     .recommend(&[1 << 20], 8, None).unwrap();
    /// assert!(r.projected_peak <= 1 << 20);
    /// ```
    pub fn budget_bytes(mut self, b: u64) -> Self {
        self.budget_bytes = Some(b);
        self
    }

    /// Checks every setting; the error names the bad one.
    ///
    /// ```
    /// use amorsize::{Error, array::ChunkSizeRecommender};
    /// let e = ChunkSizeRecommender::new().target_memory_fraction(0.0).validate().unwrap_err();
    /// assert!(matches!(e, Error::InvalidConfig { ref setting, .. } if setting == "target_memory_fraction"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        let unit = |v: f64| v.is_finite() && v > 0.0 && v <= 1.0;
        if !unit(self.target_memory_fraction) {
            return Err(Error::invalid_config(
                "target_memory_fraction",
                format!("{} is not in (0, 1]", self.target_memory_fraction),
            ));
        }
        if !unit(self.safety_factor) {
            return Err(Error::invalid_config(
                "safety_factor",
                format!("{} is not in (0, 1]", self.safety_factor),
            ));
        }
        if self.workers == 0 {
            return Err(Error::invalid_config("workers", "must be at least 1"));
        }
        if let Some(p) = &self.previous_chunks {
            if p.is_empty() || p.contains(&0) {
                return Err(Error::invalid_config(
                    "previous_chunks",
                    format!("{p:?} must be non-empty with no zero"),
                ));
            }
        }
        if self.budget_bytes == Some(0) {
            return Err(Error::invalid_config("budget_bytes", "must be above 0"));
        }
        Ok(())
    }

    /// The total budget this recommender uses: the explicit one, else [`machine_budget`] of the
    /// machine now.
    ///
    /// ```
    /// let b = amorsize::array::ChunkSizeRecommender::new().budget_bytes(123).total_budget().unwrap();
    /// assert_eq!(b, 123);
    /// ```
    pub fn total_budget(&self) -> Result<u64> {
        self.validate()?;
        if let Some(b) = self.budget_bytes {
            return Ok(b);
        }
        let p = super::MemoryPressure::snapshot()?;
        let info = crate::system::info();
        let mem = MemoryInfo {
            available: p.available,
            total: p.total,
            ..info.memory.clone()
        };
        Ok(machine_budget(
            &mem,
            self.target_memory_fraction,
            self.safety_factor,
        ))
    }

    /// Recommends a chunk shape for an array of `shape` with `element_size`-byte elements,
    /// budget from [`Self::total_budget`], models from `stats` when given.
    ///
    /// ```
    /// let r = amorsize::array::ChunkSizeRecommender::new().recommend(&[2000, 2000], 8, None).unwrap();
    /// assert_eq!(r.chunks.len(), 2);
    /// ```
    pub fn recommend(
        &self,
        shape: &[usize],
        element_size: usize,
        stats: Option<&AggregateStats>,
    ) -> Result<Recommendation> {
        let budget = self.total_budget()?;
        self.recommend_with_budget(budget, shape, element_size, stats)
    }

    /// The pure core: recommends with a total working-memory budget of `budget` bytes.
    ///
    /// Errors: invalid settings ([`Error::InvalidConfig`]); an empty shape (rank 0), a zero
    /// element size, or `previous_chunks` of the wrong rank ([`Error::InvalidInput`]); a budget
    /// that cannot hold the peak of one element ([`Error::MemoryBudget`]).
    ///
    /// A shape with a zero-length axis has no elements and no chunks (`n_chunks` is 0), but still
    /// gets a valid chunk shape, at least 1 on every axis: the one recommended for a single
    /// slice of the array (the shape with 1 for each zero-length axis), so 1 along each
    /// zero-length axis. The other figures (`chunk_bytes`, `projected_peak`, …) describe a chunk
    /// of that slice, and the first reason says so.
    ///
    /// ```
    /// use amorsize::{Error, array::ChunkSizeRecommender};
    /// let e = ChunkSizeRecommender::new().recommend_with_budget(4, &[10], 8, None).unwrap_err();
    /// assert!(matches!(e, Error::MemoryBudget { needed: 8, budget: 4 }));
    /// let r = ChunkSizeRecommender::new().workers(1)
    ///     .recommend_with_budget(1 << 20, &[0, 500], 8, None)?;
    /// assert_eq!((r.chunks, r.n_chunks), (vec![1, 500], 0));
    /// assert!(r.reasons[0].contains("no elements"));
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn recommend_with_budget(
        &self,
        budget: u64,
        shape: &[usize],
        element_size: usize,
        stats: Option<&AggregateStats>,
    ) -> Result<Recommendation> {
        self.validate()?;
        super::check_shape(shape)?;
        if element_size == 0 {
            return Err(Error::invalid_input(
                "element size",
                "zero-sized elements take no memory to chunk",
            ));
        }
        if let Some(p) = &self.previous_chunks {
            if p.len() != shape.len() {
                return Err(Error::invalid_input(
                    "previous_chunks",
                    format!("rank {} for an array of rank {}", p.len(), shape.len()),
                ));
            }
        }
        let empty_axes: Vec<usize> = (0..shape.len()).filter(|&i| shape[i] == 0).collect();
        if empty_axes.is_empty() {
            return self.plan(budget, shape, element_size, stats, "array");
        }
        // No elements: plan the chunks of one slice (1 along every zero-length axis; check_shape
        // made sure its element count fits), which gives every axis a chunk of at least 1.
        let slice: Vec<usize> = shape.iter().map(|&s| s.max(1)).collect();
        let mut r = self.plan(budget, &slice, element_size, stats, "slice")?;
        r.n_chunks = grid_count(shape, &r.chunks);
        let axes = match empty_axes.as_slice() {
            [one] => format!("axis {one} has length 0"),
            many => format!("axes {many:?} have length 0"),
        };
        r.reasons.insert(
            0,
            format!(
                "the array {shape:?} has no elements ({axes}), so no chunk will run; the chunks \
                 are those of one slice {slice:?} of it, 1 along each zero-length axis"
            ),
        );
        Ok(r)
    }

    /// The rules on a shape with no zero-length axis (`noun` names it in the reasons: the
    /// array, or the slice an empty array is planned on).
    fn plan(
        &self,
        budget: u64,
        shape: &[usize],
        element_size: usize,
        stats: Option<&AggregateStats>,
        noun: &str,
    ) -> Result<Recommendation> {
        let es = element_size as u64;
        let peak_model = stats.map(|s| s.peak_model).unwrap_or_default();
        let time_model = stats
            .map(|s| s.time_model)
            .filter(|t| t.measured > 0)
            .unwrap_or_default();
        let mut reasons = Vec::new();
        let mib = |b: u64| b as f64 / (1u64 << 20) as f64;

        // 1. the budget per chunk in flight, through the peak model.
        let one = peak_model.peak(es);
        if budget < one {
            return Err(Error::MemoryBudget {
                needed: one,
                budget,
            });
        }
        let mut in_flight = self.workers.saturating_add(self.queued).max(1);
        if budget / (in_flight as u64) < one {
            let fit = (budget / one).max(1) as usize;
            reasons.push(format!(
                "the budget holds only {fit} single-element chunks at once, so at most {fit} \
                 of the {in_flight} chunks may be in flight"
            ));
            in_flight = fit;
        }
        let per_chunk = budget / in_flight as u64;
        let cap = (((per_chunk as f64 - peak_model.a) / peak_model.k)
            .floor()
            .max(0.0) as u64)
            .max(es)
            .min(per_chunk);
        let cap = cap - cap % es;
        reasons.push(format!(
            "budget {:.1} MiB / {} in flight = {:.2} MiB per chunk; peak model {:.0} B + {:.2}·b{} \
             allows {:.2} MiB of input per chunk",
            mib(budget),
            in_flight,
            mib(per_chunk),
            peak_model.a,
            peak_model.k,
            if peak_model.measured > 0 {
                format!(" (fitted on {} chunks)", peak_model.measured)
            } else {
                " (k = 1: not measured yet)".to_string()
            },
            mib(cap)
        ));

        let total: u128 = shape.iter().map(|&s| s as u128).product::<u128>() * es as u128;
        let total_u64 = total.min(u64::MAX as u128) as u64;
        let mut target = cap;

        // 3 (bounds needed by 2). lower bounds.
        let time_lo = time_model.min_bytes(OVERHEAD_SHARE);
        let lo = self.min_chunk_bytes.max(time_lo);

        // 2b. working-set rule.
        if self.working_set_bytes > 0 {
            let ws = ((self.working_set_bytes as f64 - peak_model.a) / (1.0 + peak_model.k))
                .floor()
                .max(es as f64) as u64;
            if ws < target {
                target = ws;
                reasons.push(format!(
                    "working set (1 + k)·b = {:.2} MiB per chunk: temporaries stay in cache and \
                     reuse allocator memory instead of faulting in fresh pages; {:.2} MiB of input",
                    mib(self.working_set_bytes),
                    mib(target)
                ));
            }
        }
        // 2. parallel rule.
        let par = (self.workers as u64).saturating_mul(4);
        if self.workers > 1 && total_u64 / par >= lo && total_u64 / par < target {
            target = total_u64 / par;
            reasons.push(format!(
                "at least 4 × {} workers = {} chunks so every worker has work: {:.2} MiB per chunk",
                self.workers,
                par,
                mib(target)
            ));
        }
        if target < lo && total_u64 > target {
            if lo <= cap {
                target = lo.min(total_u64);
                reasons.push(format!(
                    "raised to the minimum chunk of {:.2} MiB ({})",
                    mib(target),
                    if time_lo > self.min_chunk_bytes {
                        format!(
                            "per-chunk overhead t0 = {:.1} µs stays under 1% of a chunk's time",
                            time_model.t0 * 1e6
                        )
                    } else {
                        "min_chunk_bytes".to_string()
                    }
                ));
            } else {
                reasons.push(format!(
                    "the minimum chunk of {:.2} MiB does not fit the budget; the budget wins",
                    mib(lo)
                ));
            }
        }
        if target >= total_u64 {
            target = total_u64;
            reasons.push(format!("the whole {noun} fits in one chunk"));
        }
        let n = (target / es).max(1);

        // 4. shape.
        // Storage chunks mean the data is not one row-major block: no row bands then.
        let mut chunks = shape_for(n, shape, es, self.previous_chunks.is_none());
        // grow back to the lower bound where flooring lost it.
        let lo_eff = lo.min(total_u64).min(cap);
        grow_to(&mut chunks, shape, es, lo_eff, cap);
        // equal chunks along each axis, so no thin remainder chunk, where that costs at most a
        // quarter of the axis (never grows an axis).
        for (c, &s) in chunks.iter_mut().zip(shape) {
            let even = s.div_ceil(s.div_ceil(*c));
            if even * 4 >= *c * 3 {
                *c = even;
            }
        }
        let unaligned_bytes = bytes_of(&chunks, es);

        // 5. alignment.
        let mut alignment_ratio = 1.0;
        if let Some(prev) = &self.previous_chunks {
            let aligned = align(&chunks, shape, prev);
            let ab = bytes_of(&aligned, es);
            alignment_ratio = ab as f64 / unaligned_bytes.max(1) as f64;
            if aligned != chunks {
                reasons.push(format!(
                    "aligned to storage chunks {:?} (multiples when growing, divisors when \
                     shrinking): {:?} → {:?}, {:.0}% of the target",
                    prev,
                    chunks,
                    aligned,
                    alignment_ratio * 100.0
                ));
            } else {
                reasons.push(format!("already aligned to storage chunks {prev:?}"));
            }
            chunks = aligned;
        }
        let chunk_bytes = bytes_of(&chunks, es);
        if chunk_bytes < lo && chunk_bytes < total_u64 && lo <= cap {
            reasons.push(format!(
                "{:.2} MiB is below the minimum chunk of {:.2} MiB because of {}",
                mib(chunk_bytes),
                mib(lo),
                if self.previous_chunks.is_some() {
                    "storage alignment (a hard rule)".to_string()
                } else {
                    format!("the {noun}'s shape")
                }
            ));
        }
        let n_chunks = grid_count(shape, &chunks);
        Ok(Recommendation {
            chunk_elements: chunks.iter().map(|&c| c as u64).product(),
            chunk_bytes,
            n_chunks,
            target_bytes: target,
            alignment_ratio,
            aligned_to: self.previous_chunks.clone(),
            budget_bytes: budget,
            in_flight,
            per_chunk_budget: per_chunk,
            peak_model,
            time_model,
            projected_peak: peak_model.peak(chunk_bytes),
            reasons,
            chunks,
        })
    }
}

/// Bytes of a chunk, saturating at `u64::MAX`.
fn bytes_of(chunks: &[usize], es: u64) -> u64 {
    chunks.iter().fold(es, |b, &c| b.saturating_mul(c as u64))
}

/// Integer `floor(m^(1/r))`.
fn iroot(m: u64, r: u32) -> u64 {
    if r <= 1 {
        return m;
    }
    let mut x = (m as f64).powf(1.0 / r as f64).floor() as u64;
    while x > 1 && x.checked_pow(r).is_none_or(|p| p > m) {
        x -= 1;
    }
    while (x + 1).checked_pow(r).is_some_and(|p| p <= m) {
        x += 1;
    }
    x.max(1)
}

/// A chunk shape of at most `n` elements: near-cubic, the last axis at least
/// [`CONTIGUOUS_MIN_BYTES`] long and taking what the others leave, clipped to `shape`.
fn shape_for(n: u64, shape: &[usize], es: u64, row_bands: bool) -> Vec<usize> {
    let d = shape.len();
    let last = d - 1;
    let mut c = vec![1usize; d];
    if d == 1 {
        c[0] = (n.min(shape[0] as u64)) as usize;
        return c;
    }
    let side = iroot(n, d as u32);
    let contiguous = (CONTIGUOUS_MIN_BYTES / es).max(1);
    let l = if row_bands && shape[last] as u64 * ROW_BAND_MIN_ROWS <= n {
        // The whole contiguous axis fits with rows to spare: bands of whole rows.
        shape[last] as u64
    } else {
        side.max(contiguous.min(n)).min(shape[last] as u64).max(1)
    };
    let mut m = n / l;
    let mut order: Vec<usize> = (0..last).collect();
    order.sort_by_key(|&i| shape[i]);
    for (done, &i) in order.iter().enumerate() {
        let r = (order.len() - done) as u32;
        let s = iroot(m.max(1), r).min(shape[i] as u64).max(1);
        c[i] = s as usize;
        m = (m / s).max(1);
    }
    let others: u64 = (0..last).map(|i| c[i] as u64).product();
    c[last] = ((n / others).max(1)).min(shape[last] as u64) as usize;
    c
}

/// Grows axes (last first) until the chunk has at least `lo` bytes, never above `cap` bytes.
fn grow_to(c: &mut [usize], shape: &[usize], es: u64, lo: u64, cap: u64) {
    for i in (0..c.len()).rev() {
        let bytes = bytes_of(c, es);
        if bytes >= lo {
            return;
        }
        let other = bytes / c[i] as u64;
        let need = lo.div_ceil(other);
        let max_by_cap = cap / other;
        let new = need.min(max_by_cap).min(shape[i] as u64) as usize;
        if new > c[i] {
            c[i] = new;
        }
    }
}

/// Aligns `c` to storage chunks `prev`: per axis, the whole axis stays; otherwise a multiple of
/// `p` when `c ≥ p`, else the largest divisor of `p` not above `c`. Never grows an axis.
fn align(c: &[usize], shape: &[usize], prev: &[usize]) -> Vec<usize> {
    c.iter()
        .zip(shape)
        .zip(prev)
        .map(|((&c, &s), &p)| {
            if c >= s {
                s
            } else if c >= p {
                c - c % p
            } else {
                (1..=c).rev().find(|d| p % d == 0).unwrap_or(1)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::fit::PeakModel;

    fn rec(workers: usize) -> ChunkSizeRecommender {
        ChunkSizeRecommender::new()
            .workers(workers)
            .working_set_bytes(0)
    }

    fn stats_with_k(k: f64) -> AggregateStats {
        let mut s = AggregateStats::from_metrics(&[]);
        s.peak_model = PeakModel {
            a: 0.0,
            k,
            measured: 8,
        };
        s
    }

    #[test]
    fn machine_budget_takes_the_smaller_limit() {
        let mut m = MemoryInfo {
            total: 100,
            available: 80,
            cgroup_limit: None,
            cgroup_current: None,
            cgroup_reclaimable: None,
        };
        assert_eq!(machine_budget(&m, 0.5, 1.0), 40);
        m.cgroup_limit = Some(100);
        m.cgroup_current = Some(90);
        m.cgroup_reclaimable = Some(30);
        // headroom 100 − (90 − 30) = 40 < 80
        assert_eq!(machine_budget(&m, 1.0, 0.5), 20);
    }

    #[test]
    fn budget_math_divides_by_in_flight_and_k() {
        let budget = 64u64 << 20;
        let r = rec(4)
            .queued(4)
            .min_chunk_bytes(1)
            .recommend_with_budget(budget, &[1 << 30], 1, Some(&stats_with_k(4.0)))
            .unwrap();
        assert_eq!(r.in_flight, 8);
        assert_eq!(r.per_chunk_budget, budget / 8);
        // 8 MiB per chunk / k = 4 → 2 MiB of input
        assert_eq!(r.chunk_bytes, 2 << 20);
        assert!(r.projected_peak <= r.per_chunk_budget);
    }

    #[test]
    fn a_shape_of_more_elements_than_usize_holds_is_an_error() {
        let huge = [usize::MAX, 2];
        let e = rec(1)
            .recommend_with_budget(1 << 30, &huge, 8, None)
            .unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
        assert!(e.to_string().contains("more than"), "{e}");
        // The largest shape that fits is chunked, with a chunk count that fits too.
        let r = rec(1)
            .recommend_with_budget(1 << 30, &[usize::MAX, 1], 8, None)
            .unwrap();
        assert_eq!(r.n_chunks, grid_count(&[usize::MAX, 1], &r.chunks));
        assert!(r.n_chunks > 0);
    }

    #[test]
    fn budget_below_one_element_is_an_error() {
        let e = rec(1)
            .recommend_with_budget(7, &[10, 10], 8, None)
            .unwrap_err();
        assert!(matches!(
            e,
            Error::MemoryBudget {
                needed: 8,
                budget: 7
            }
        ));
        let e = rec(1)
            .recommend_with_budget(31, &[10], 8, Some(&stats_with_k(4.0)))
            .unwrap_err();
        assert!(matches!(e, Error::MemoryBudget { needed: 32, .. }));
    }

    #[test]
    fn concurrency_drops_before_a_chunk_cannot_hold_one_element() {
        let r = rec(8).recommend_with_budget(16, &[100], 8, None).unwrap();
        assert_eq!(r.in_flight, 2);
        assert_eq!(r.chunks, vec![1]);
    }

    #[test]
    fn four_chunks_per_worker_when_large_enough() {
        // 10^4 x 10^4 uint8 = 100 MB: Dask's auto rule gives one chunk; here ≥ 16 for 4 workers.
        let r = rec(4)
            .recommend_with_budget(4 << 30, &[10_000, 10_000], 1, None)
            .unwrap();
        assert!(r.n_chunks >= 16, "{r}");
        assert!(r.reasons.iter().any(|s| s.contains("4 × 4 workers")));
        // one worker: no such rule, the whole array in one chunk.
        let r1 = rec(1)
            .recommend_with_budget(4 << 30, &[10_000, 10_000], 1, None)
            .unwrap();
        assert_eq!(r1.n_chunks, 1);
    }

    #[test]
    fn small_arrays_are_not_split_below_min_bytes() {
        // 80 kB array, min 1 MiB: one chunk even with many workers.
        let r = rec(8)
            .recommend_with_budget(1 << 30, &[100, 100], 8, None)
            .unwrap();
        assert_eq!(r.chunks, vec![100, 100]);
    }

    #[test]
    fn min_chunk_bytes_is_respected() {
        let r = rec(2)
            .min_chunk_bytes(4 << 20)
            .recommend_with_budget(1 << 30, &[4096, 4096], 8, None)
            .unwrap();
        assert!(r.chunk_bytes >= 4 << 20, "{r}");
        // …unless the budget forbids it.
        let r = rec(1)
            .min_chunk_bytes(4 << 20)
            .recommend_with_budget(1 << 20, &[4096, 4096], 8, None)
            .unwrap();
        assert!(r.chunk_bytes <= 1 << 20);
        assert!(r.reasons.iter().any(|s| s.contains("budget wins")));
    }

    #[test]
    fn clipped_to_the_array_and_last_axis_long() {
        let r = rec(1)
            .min_chunk_bytes(1)
            .recommend_with_budget(8 << 20, &[3, 5, 1_000_000], 8, None)
            .unwrap();
        assert!(r.chunks[0] <= 3 && r.chunks[1] <= 5);
        assert!(r.chunks[2] as u64 * 8 >= CONTIGUOUS_MIN_BYTES);
        // whole rows when eight of them fit; near-cubic over the other axes
        let r = rec(1)
            .min_chunk_bytes(1)
            .recommend_with_budget(128 << 20, &[50_000, 50_000], 8, None)
            .unwrap();
        assert_eq!(r.chunks[1], 50_000, "{:?}", r.chunks);
        let r = rec(1)
            .min_chunk_bytes(1)
            .recommend_with_budget(8 << 20, &[2000, 2000, 100], 8, None)
            .unwrap();
        assert_eq!(r.chunks[2], 100, "{:?}", r.chunks);
        let ratio = r.chunks[0] as f64 / r.chunks[1] as f64;
        assert!((0.8..=1.25).contains(&ratio), "{:?}", r.chunks);
        // chunks split each axis into equal parts
        let r = rec(1)
            .min_chunk_bytes(1)
            .recommend_with_budget(1600, &[1000, 3], 8, None)
            .unwrap();
        let g = crate::array::ChunkGrid::new(&[1000, 3], &r.chunks).unwrap();
        let last = g.block_shape(g.len() - 1);
        assert!(last[0] * 2 >= r.chunks[0], "{:?} {:?}", r.chunks, last);
    }

    #[test]
    fn alignment_grows_in_multiples_and_shrinks_to_divisors() {
        let r = rec(1)
            .min_chunk_bytes(1)
            .previous_chunks(&[1000, 1000])
            .recommend_with_budget(512 << 20, &[50_000, 50_000], 8, None)
            .unwrap();
        assert!(r.chunks.iter().all(|&c| c % 1000 == 0), "{:?}", r.chunks);
        assert!(r.projected_peak <= r.per_chunk_budget);
        let r = rec(1)
            .min_chunk_bytes(1)
            .previous_chunks(&[4000, 4000])
            .recommend_with_budget(1 << 20, &[50_000, 50_000], 8, None)
            .unwrap();
        assert!(
            r.chunks.iter().all(|&c| c < 4000 && 4000 % c == 0),
            "{:?}",
            r.chunks
        );
        assert!(r.alignment_ratio <= 1.0);
        assert!(r
            .reasons
            .iter()
            .any(|s| s.contains("aligned to storage chunks")));
    }

    #[test]
    fn storage_chunks_give_near_cubic_aligned_chunks_not_row_bands() {
        let r = ChunkSizeRecommender::new()
            .workers(2)
            .previous_chunks(&[1000, 1000])
            .recommend_with_budget(4 << 30, &[50_000, 50_000], 8, None)
            .unwrap();
        assert!(r.chunks[1] < 50_000, "{:?}", r.chunks);
        assert!(
            r.chunks.iter().all(|&c| c % 1000 == 0 || 1000 % c == 0),
            "{:?}",
            r.chunks
        );
    }

    #[test]
    fn alignment_reports_how_far_it_moved() {
        // 64^3 storage chunks with a 128 MiB target on a 1-byte array: whole-chunk merges.
        let r = rec(1)
            .min_chunk_bytes(1)
            .previous_chunks(&[64, 64, 64])
            .recommend_with_budget(128 << 20, &[4096, 4096, 4096], 1, None)
            .unwrap();
        assert!(r.chunks.iter().all(|&c| c % 64 == 0));
        assert!(r.alignment_ratio > 0.0 && r.alignment_ratio <= 1.0);
    }

    #[test]
    fn bad_inputs_and_settings_are_named() {
        assert!(matches!(
            rec(1).recommend_with_budget(1 << 20, &[], 8, None),
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            rec(1).recommend_with_budget(1 << 20, &[10], 0, None),
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            rec(1)
                .previous_chunks(&[4])
                .recommend_with_budget(1 << 20, &[10, 10], 8, None),
            Err(Error::InvalidInput { .. })
        ));
        for (r, name) in [
            (rec(1).safety_factor(0.0), "safety_factor"),
            (
                rec(1).target_memory_fraction(f64::NAN),
                "target_memory_fraction",
            ),
            (rec(0), "workers"),
            (rec(1).previous_chunks(&[0]), "previous_chunks"),
            (rec(1).budget_bytes(0), "budget_bytes"),
        ] {
            match r.validate() {
                Err(Error::InvalidConfig { setting, .. }) => assert_eq!(setting, name),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn reasons_and_display_and_json() {
        let r = rec(2)
            .recommend_with_budget(256 << 20, &[8000, 8000], 8, None)
            .unwrap();
        let text = r.to_string();
        assert!(text.contains("budget"));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["chunks"].as_array().unwrap().len(), 2);
        assert!(!json["reasons"].as_array().unwrap().is_empty());
    }

    #[test]
    fn working_set_rule_divides_by_one_plus_k() {
        let r = ChunkSizeRecommender::new()
            .workers(1)
            .min_chunk_bytes(1)
            .working_set_bytes(14 << 20)
            .recommend_with_budget(1 << 30, &[1 << 30], 1, Some(&stats_with_k(6.0)))
            .unwrap();
        assert_eq!(r.chunk_bytes, 2 << 20);
        assert!(r.reasons.iter().any(|s| s.contains("working set")));
        // the budget still wins when it is smaller
        let r = ChunkSizeRecommender::new()
            .workers(1)
            .min_chunk_bytes(1)
            .recommend_with_budget(6 << 20, &[1 << 30], 1, Some(&stats_with_k(6.0)))
            .unwrap();
        assert_eq!(r.chunk_bytes, 1 << 20);
    }

    #[test]
    fn a_zero_length_axis_gets_chunks_of_one_slice_and_no_chunk() {
        for (shape, chunks) in [
            (vec![0, 5], vec![1, 5]),
            (vec![5, 0], vec![5, 1]),
            (vec![0], vec![1]),
            (vec![4, 0, 6], vec![4, 1, 6]),
            (vec![0, 0], vec![1, 1]),
        ] {
            let r = rec(4)
                .recommend_with_budget(1 << 20, &shape, 8, None)
                .unwrap();
            assert_eq!(r.chunks, chunks, "{shape:?}");
            assert_eq!(r.n_chunks, 0, "{shape:?}");
            assert!(r.reasons[0].contains("no elements"), "{:?}", r.reasons);
            assert!(r.reasons[0].contains("length 0"), "{:?}", r.reasons);
            assert!(
                r.reasons
                    .iter()
                    .any(|s| s == "the whole slice fits in one chunk"),
                "{:?}",
                r.reasons
            );
            assert!(r.projected_peak <= r.per_chunk_budget);
            assert!(r.alignment_ratio.is_finite());
            let g = crate::array::ChunkGrid::new(&shape, &r.chunks).unwrap();
            assert!(g.is_empty());
            // No NaN or infinity reaches the text or the JSON.
            let text = r.to_string();
            assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
            // (serde_json writes a NaN as null; `aligned_to` is the only field that may be.)
            let mut json = serde_json::to_value(&r).unwrap();
            json.as_object_mut().unwrap().remove("aligned_to");
            assert!(!json.to_string().contains("null"), "{json}");
        }
        let r = rec(1)
            .recommend_with_budget(1 << 20, &[0, 3, 0], 8, None)
            .unwrap();
        assert!(r.reasons[0].contains("axes [0, 2] have length 0"), "{r}");
        // A large slice is cut by the same rules as an array of that shape, and aligned.
        let slice = rec(1)
            .min_chunk_bytes(1)
            .previous_chunks(&[7, 1000])
            .recommend_with_budget(1 << 20, &[1, 1_000_000], 8, None)
            .unwrap();
        let empty = rec(1)
            .min_chunk_bytes(1)
            .previous_chunks(&[7, 1000])
            .recommend_with_budget(1 << 20, &[0, 1_000_000], 8, None)
            .unwrap();
        assert_eq!(empty.chunks, slice.chunks);
        assert!(empty.chunks[1] < 1_000_000 && empty.chunks[1] % 1000 == 0);
        // the budget rule still applies: a budget below one element is an error
        assert!(matches!(
            rec(1).recommend_with_budget(7, &[0, 10], 8, None),
            Err(Error::MemoryBudget {
                needed: 8,
                budget: 7
            })
        ));
        // …and so does the element count, counting the zero-length axis as 1.
        assert!(matches!(
            rec(1).recommend_with_budget(1 << 20, &[usize::MAX, 2, 0], 8, None),
            Err(Error::InvalidInput { .. })
        ));
        assert!(rec(1)
            .recommend_with_budget(1 << 20, &[usize::MAX, 0], 8, None)
            .is_ok());
    }

    #[test]
    fn iroot_is_exact() {
        assert_eq!(iroot(27, 3), 3);
        assert_eq!(iroot(26, 3), 2);
        assert_eq!(iroot(1 << 40, 2), 1 << 20);
        assert_eq!(iroot(0, 2), 1);
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn recommendation_fits_covers_and_has_rank(
            // Mostly non-empty; about one axis in eight has length 0 (an array with no elements).
            shape in proptest::collection::vec(prop_oneof![1 => Just(0usize), 7 => 1usize..300], 1..=4),
            es in prop_oneof![Just(1usize), Just(2), Just(4), Just(8), Just(16)],
            budget in 64u64..(64u64 << 20),
            workers in 1usize..9,
            k in 1.0f64..8.0,
            min in 1u64..(4 << 20),
            prev in proptest::option::of(proptest::collection::vec(1usize..64, 4)),
        ) {
            let mut r = rec(workers).min_chunk_bytes(min);
            if let Some(p) = &prev {
                r = r.previous_chunks(&p[..shape.len()]);
            }
            let stats = stats_with_k(k);
            match r.recommend_with_budget(budget, &shape, es, Some(&stats)) {
                Ok(rec) => {
                    prop_assert_eq!(rec.chunks.len(), shape.len());
                    prop_assert!(rec.projected_peak <= rec.per_chunk_budget);
                    prop_assert!(rec.per_chunk_budget * rec.in_flight as u64 <= budget);
                    for (&c, &s) in rec.chunks.iter().zip(&shape) {
                        // at least 1, and at most the axis (1 along a zero-length axis)
                        prop_assert!(c >= 1 && c <= s.max(1));
                    }
                    prop_assert_eq!(rec.n_chunks == 0, shape.contains(&0));
                    // the grid covers the array exactly: per axis the blocks sum to the shape.
                    let g = crate::array::ChunkGrid::new(&shape, &rec.chunks).unwrap();
                    let covered: usize = (0..g.len()).map(|i| g.block_shape(i).iter().product::<usize>()).sum();
                    prop_assert_eq!(covered, shape.iter().product::<usize>());
                    prop_assert_eq!(g.len(), rec.n_chunks);
                    if let Some(p) = &prev {
                        for ((&c, &s), &p) in rec.chunks.iter().zip(&shape).zip(p) {
                            prop_assert!(c == s || c % p == 0 || p % c == 0);
                        }
                    }
                }
                Err(Error::MemoryBudget { needed, budget: b }) => {
                    prop_assert!(b < needed);
                }
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }
}
