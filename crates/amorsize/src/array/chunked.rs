//! Chunk grids and chunked arrays: blockwise `map_blocks`, `map_blocks_mut` and `reduce_blocks`
//! on the warm pools, under a working-memory budget, profiled per chunk.
//!
//! Every block is one item of a run on a pool of [`crate::global_pool_manager`], so blocks are
//! scheduled dynamically. Before a block starts it is admitted by [`Admission`]: its projected
//! peak `a + k·b` (the peak model of this array's previous run, `k = 1` at first) must fit in the
//! budget next to the blocks already running, and memory must not be under pressure. The chunk
//! shape never changes during a run; with [`ChunkedArray::auto_rechunk`] the engine's
//! recommendation applies to the next run of the same key.
//!
//! ```
//! use amorsize::array::{ChunkedArray, ChunkedArrayMut};
//! let a = ndarray::Array1::<f64>::ones(1000);
//! // Blocks of 100 f64 project 800 bytes each (k = 1): an 800-byte budget runs one at a time.
//! let c = ChunkedArray::with_chunks(a.view(), &[100])?.workers(2).budget_bytes(800);
//! assert_eq!(c.map_blocks(|b| b.mapv(|x| x + 1.0))?.sum(), 2000.0);
//! let run = c.profile().last_run.unwrap();
//! assert_eq!((run.chunks, run.max_concurrent, run.oversized_blocks), (10, 1, 0));
//! assert!(run.projected_peak <= run.budget_bytes);
//! let mut m = a.clone();
//! ChunkedArrayMut::with_chunks(m.view_mut(), &[300])?.map_blocks_mut(|mut b| b *= 3.0)?;
//! assert_eq!(m.sum(), 3000.0);
//! # Ok::<(), amorsize::Error>(())
//! ```

use super::budget::Admission;
use super::engine::{check_pressure_threshold, global_engine, AdaptiveChunkingEngine};
use super::fit::PeakModel;
use super::metrics::{
    AggregateStats, ChunkMemoryMetric, MemorySource, Probe, ProfileReport, RunReport,
};
use super::recommend::ChunkSizeRecommender;
use super::MemoryPressure;
use crate::pool::{ChunkPolicy, RunOptions};
use crate::{Error, Result};
use ndarray::{Array, ArrayView, ArrayViewMut, Axis, Dimension, Slice};
use serde::Serialize;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A regular grid of chunks over an array: every chunk has the chunk shape except the last
/// along each axis, which is clipped to the array. Chunks are numbered in row-major order.
/// An array with a zero-length axis has no chunks along that axis, so its grid is empty.
///
/// ```
/// let g = amorsize::array::ChunkGrid::new(&[10, 7], &[4, 7]).unwrap();
/// assert_eq!(g.len(), 3);
/// assert_eq!(g.block_shape(2), vec![2, 7]);
/// assert_eq!(g.block_ranges(1), vec![4..8, 0..7]);
/// let empty = amorsize::array::ChunkGrid::new(&[10, 0], &[4, 7]).unwrap();
/// assert_eq!((empty.len(), empty.counts()), (0, &[3, 0][..]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChunkGrid {
    shape: Vec<usize>,
    chunks: Vec<usize>,
    counts: Vec<usize>,
}

impl ChunkGrid {
    /// A grid of `chunks` over `shape`. Errors ([`Error::InvalidInput`]): rank 0, more
    /// elements than `usize` holds (counting a zero-length axis as 1), a chunk shape of another
    /// rank or with a zero. Chunks larger than the array are clipped to it, but never below 1:
    /// along a zero-length axis the chunk length is 1 and there are 0 chunks.
    ///
    /// ```
    /// use amorsize::array::ChunkGrid;
    /// assert!(ChunkGrid::new(&[10, 10], &[5]).is_err());
    /// assert!(ChunkGrid::new(&[10, 10], &[5, 0]).is_err());
    /// assert!(ChunkGrid::new(&[10, 0], &[5, 0]).is_err()); // a zero chunk, whatever the shape
    /// assert!(ChunkGrid::new(&[usize::MAX, 2], &[5, 5]).is_err()); // more elements than usize holds
    /// assert_eq!(ChunkGrid::new(&[10], &[50]).unwrap().chunks(), &[10]);
    /// let empty = ChunkGrid::new(&[10, 0], &[5, 5]).unwrap(); // no elements, no chunks
    /// assert_eq!((empty.chunks(), empty.len()), (&[5, 1][..], 0));
    /// ```
    pub fn new(shape: &[usize], chunks: &[usize]) -> Result<ChunkGrid> {
        super::check_shape(shape)?;
        if chunks.len() != shape.len() {
            return Err(Error::invalid_input(
                "chunk shape",
                format!(
                    "rank {} ({chunks:?}) for an array of rank {} ({shape:?})",
                    chunks.len(),
                    shape.len()
                ),
            ));
        }
        if chunks.contains(&0) {
            return Err(Error::invalid_input(
                "chunk shape",
                format!("{chunks:?} has a zero"),
            ));
        }
        // Clipped to the axis, but at least 1: a zero-length axis keeps chunks of 1 (and has
        // none of them).
        let chunks: Vec<usize> = chunks
            .iter()
            .zip(shape)
            .map(|(&c, &s)| c.min(s.max(1)))
            .collect();
        let counts = shape
            .iter()
            .zip(&chunks)
            .map(|(&s, &c)| s.div_ceil(c))
            .collect();
        Ok(ChunkGrid {
            shape: shape.to_vec(),
            chunks,
            counts,
        })
    }

    /// Number of chunks: 0 when an axis has length 0.
    ///
    /// ```
    /// assert_eq!(amorsize::array::ChunkGrid::new(&[9, 9], &[3, 3]).unwrap().len(), 9);
    /// assert_eq!(amorsize::array::ChunkGrid::new(&[9, 0, 9], &[3, 3, 3]).unwrap().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        if self.counts.contains(&0) {
            return 0;
        }
        self.counts.iter().product()
    }

    /// Whether the grid has no chunk, which is when the array has a zero-length axis.
    ///
    /// ```
    /// use amorsize::array::ChunkGrid;
    /// assert!(!ChunkGrid::new(&[1], &[1]).unwrap().is_empty());
    /// assert!(ChunkGrid::new(&[0], &[1]).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The array's shape.
    ///
    /// ```
    /// assert_eq!(amorsize::array::ChunkGrid::new(&[4, 2], &[1, 1]).unwrap().shape(), &[4, 2]);
    /// ```
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The chunk shape (clipped to the array, and at least 1 on every axis).
    ///
    /// ```
    /// assert_eq!(amorsize::array::ChunkGrid::new(&[4, 2], &[3, 3]).unwrap().chunks(), &[3, 2]);
    /// assert_eq!(amorsize::array::ChunkGrid::new(&[4, 0], &[3, 3]).unwrap().chunks(), &[3, 1]);
    /// ```
    pub fn chunks(&self) -> &[usize] {
        &self.chunks
    }

    /// Chunks along each axis (0 along a zero-length axis).
    ///
    /// ```
    /// assert_eq!(amorsize::array::ChunkGrid::new(&[4, 2], &[3, 1]).unwrap().counts(), &[2, 2]);
    /// assert_eq!(amorsize::array::ChunkGrid::new(&[0, 2], &[3, 1]).unwrap().counts(), &[0, 2]);
    /// ```
    pub fn counts(&self) -> &[usize] {
        &self.counts
    }

    /// Index ranges of chunk `i` along each axis (row-major numbering).
    ///
    /// # Panics
    /// When `i >= self.len()`, as indexing a slice out of bounds does (it used to wrap around
    /// to another chunk's ranges); so for every `i` on an empty grid.
    ///
    /// ```
    /// let g = amorsize::array::ChunkGrid::new(&[5, 5], &[2, 5]).unwrap();
    /// assert_eq!(g.block_ranges(2), vec![4..5, 0..5]);
    /// assert!(std::panic::catch_unwind(|| g.block_ranges(3)).is_err());
    /// let empty = amorsize::array::ChunkGrid::new(&[5, 0], &[2, 5]).unwrap();
    /// assert!(std::panic::catch_unwind(|| empty.block_ranges(0)).is_err());
    /// ```
    pub fn block_ranges(&self, i: usize) -> Vec<Range<usize>> {
        assert!(
            i < self.len(),
            "chunk index {i} out of range for a grid of {} chunks",
            self.len()
        );
        let mut rest = i;
        let mut ranges = vec![0..0; self.shape.len()];
        for ax in (0..self.shape.len()).rev() {
            let j = rest % self.counts[ax];
            rest /= self.counts[ax];
            let start = j * self.chunks[ax];
            ranges[ax] = start..start.saturating_add(self.chunks[ax]).min(self.shape[ax]);
        }
        ranges
    }

    /// Shape of chunk `i` (at least 1 on every axis).
    ///
    /// # Panics
    /// When `i >= self.len()` (every `i` on an empty grid).
    ///
    /// ```
    /// let g = amorsize::array::ChunkGrid::new(&[5], &[2]).unwrap();
    /// assert_eq!(g.block_shape(2), vec![1]);
    /// ```
    pub fn block_shape(&self, i: usize) -> Vec<usize> {
        self.block_ranges(i).iter().map(|r| r.len()).collect()
    }
}

/// One slot per block; each block's worker takes its view out once.
type Slots<'b, T, D> = Vec<Mutex<Option<ArrayViewMut<'b, T, D>>>>;

/// Splits a mutable view into the grid's blocks, in row-major chunk order. A view with a
/// zero-length axis has no block (as its grid has none).
fn split_blocks<'b, T, D: Dimension>(
    v: ArrayViewMut<'b, T, D>,
    axis: usize,
    chunks: &[usize],
    out: &mut Vec<ArrayViewMut<'b, T, D>>,
) {
    if v.is_empty() {
        return;
    }
    if axis == chunks.len() {
        out.push(v);
        return;
    }
    let mut rest = v;
    while rest.len_of(Axis(axis)) > chunks[axis] {
        let (a, b) = rest.split_at(Axis(axis), chunks[axis]);
        split_blocks(a, axis + 1, chunks, out);
        rest = b;
    }
    split_blocks(rest, axis + 1, chunks, out);
}

/// The error of a reduction over an array with no blocks (a zero-length axis).
fn no_blocks_to_reduce(shape: &[usize]) -> Error {
    Error::invalid_input(
        "array",
        format!(
            "{shape:?} has a zero-length axis, so it has no blocks to reduce (a reduction has \
             no identity value to return for an empty array)"
        ),
    )
}

fn block_view<'a, A, D: Dimension>(
    view: &ArrayView<'a, A, D>,
    ranges: &[Range<usize>],
) -> ArrayView<'a, A, D> {
    let mut v = view.clone();
    v.slice_each_axis_inplace(|ad| Slice::from(ranges[ad.axis.index()].clone()));
    v
}

/// Execution settings shared by [`ChunkedArray`] and [`ChunkedArrayMut`].
#[derive(Debug, Clone)]
struct ExecOptions {
    workers: Option<usize>,
    budget_bytes: Option<u64>,
    pressure_threshold: f64,
    auto_rechunk: bool,
    key: Option<String>,
    amplification: Option<f64>,
}

struct LastRun {
    metrics: Vec<ChunkMemoryMetric>,
    report: RunReport,
}

/// The part of a chunked array that runs blocks and remembers what they cost.
struct Runner<'e> {
    shape: Vec<usize>,
    element_size: usize,
    dtype: &'static str,
    grid: Mutex<ChunkGrid>,
    opts: ExecOptions,
    engine: &'e AdaptiveChunkingEngine,
    last: Mutex<Option<LastRun>>,
}

/// A pressure probe that reads the machine at most every 100 ms.
fn pressure_probe(threshold: f64) -> Box<dyn Fn() -> bool + Send + Sync> {
    let cache: Mutex<Option<(Instant, bool)>> = Mutex::new(None);
    Box::new(move || {
        let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, v)) = *c {
            if at.elapsed() < Duration::from_millis(100) {
                return v;
            }
        }
        let v = MemoryPressure::snapshot().is_ok_and(|p| p.is_pressure(threshold));
        *c = Some((Instant::now(), v));
        v
    })
}

impl<'e> Runner<'e> {
    fn new<A>(
        shape: Vec<usize>,
        chunks: &[usize],
        engine: &'e AdaptiveChunkingEngine,
    ) -> Result<Self> {
        let grid = ChunkGrid::new(&shape, chunks)?;
        let cfg = engine.config();
        Ok(Runner {
            shape,
            element_size: std::mem::size_of::<A>(),
            dtype: std::any::type_name::<A>(),
            grid: Mutex::new(grid),
            opts: ExecOptions {
                workers: cfg.workers,
                budget_bytes: cfg.budget_bytes,
                pressure_threshold: cfg.pressure_threshold,
                auto_rechunk: cfg.auto_rechunk,
                key: None,
                amplification: None,
            },
            engine,
            last: Mutex::new(None),
        })
    }

    /// The settings the builder methods take as they are, checked when the array runs.
    fn check_settings(&self) -> Result<()> {
        if self.opts.workers == Some(0) {
            return Err(Error::invalid_config("workers", "must be at least 1"));
        }
        match self.opts.amplification {
            Some(k) if self.amplification().is_none() => Err(Error::invalid_config(
                "amplification",
                format!("{k} is not a finite number above 0"),
            )),
            _ => Ok(()),
        }
    }

    /// The caller's lower bound on `k`, when it is valid (a finite number above 0).
    fn amplification(&self) -> Option<f64> {
        self.opts
            .amplification
            .filter(|k| k.is_finite() && *k > 0.0)
    }

    fn workers(&self) -> usize {
        self.opts
            .workers
            .unwrap_or_else(|| crate::system::info().cores.effective)
            .max(1)
    }

    fn recommender(&self) -> ChunkSizeRecommender {
        let cfg = self.engine.config();
        let mut r = ChunkSizeRecommender::new()
            .workers(self.workers())
            .target_memory_fraction(cfg.memory_fraction)
            .safety_factor(cfg.safety_factor)
            .min_chunk_bytes(cfg.min_chunk_bytes)
            .working_set_bytes(cfg.working_set_bytes);
        if let Some(b) = self.opts.budget_bytes {
            r = r.budget_bytes(b);
        }
        r
    }

    fn key(&self) -> Option<String> {
        match &self.opts.key {
            Some(k) => Some(k.clone()),
            None if self.opts.auto_rechunk => Some(format!("{}{:?}", self.dtype, self.shape)),
            None => None,
        }
    }

    fn grid(&self) -> ChunkGrid {
        self.grid.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_grid(&self, g: ChunkGrid) {
        *self.grid.lock().unwrap_or_else(|e| e.into_inner()) = g;
    }

    fn prior_stats(&self) -> Option<AggregateStats> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = last.as_ref() {
            return Some(AggregateStats::from_metrics(&l.metrics));
        }
        drop(last);
        let key = self.key()?;
        self.engine.stats_for_key(&key)
    }

    /// The grid for the next run: the engine's applied recommendation for this key, if any.
    fn grid_for_run(&self) -> ChunkGrid {
        if let Some(key) = self.key() {
            if let Some(ch) = self.engine.next_chunks(&key, &self.shape) {
                if let Ok(g) = ChunkGrid::new(&self.shape, &ch) {
                    self.set_grid(g);
                }
            }
        }
        self.grid()
    }

    fn budget(&self) -> Result<u64> {
        self.recommender().total_budget()
    }

    /// Checks what every run checks before it starts (the settings, the budget, the pressure
    /// threshold); returns the run's workers and budget.
    fn check_run(&self) -> Result<(usize, u64)> {
        self.check_settings()?;
        let workers = self.workers();
        let budget = self.budget()?;
        check_pressure_threshold(self.opts.pressure_threshold)?;
        Ok((workers, budget))
    }

    /// Runs `work(i)` for every block of `grid` under admission control and records the run.
    fn execute<R: Send>(
        &self,
        op: &str,
        grid: &ChunkGrid,
        work: &(dyn Fn(usize) -> Result<R> + Sync),
    ) -> Result<Vec<R>> {
        let start = Instant::now();
        let (workers, budget) = self.check_run()?;
        if grid.is_empty() {
            return Ok(self.execute_empty(op, grid, workers, budget, start));
        }
        let mut model = self.prior_stats().map(|s| s.peak_model).unwrap_or_default();
        if let Some(k) = self.amplification() {
            model.k = model.k.max(k);
            model.measured = model.measured.max(1);
        }
        let es = self.element_size as u64;
        let n = grid.len();
        let source = MemorySource::current();
        // Largest peak/input ratio measured in this run (exact mode only). Until the first block
        // of an unmeasured array has finished, blocks claim the whole budget (they run alone):
        // the first block calibrates k before any block runs next to another.
        let learned: Mutex<Option<f64>> = Mutex::new(None);
        let block_bytes = |i: usize| -> u64 {
            grid.block_shape(i)
                .iter()
                .map(|&s| s as u64)
                .product::<u64>()
                * es
        };
        let projected = |i: usize| -> u64 {
            let b = block_bytes(i);
            let seen = *learned.lock().unwrap_or_else(|e| e.into_inner());
            match (source, seen) {
                (MemorySource::Exact, Some(k)) => {
                    let m = if model.measured > 0 {
                        PeakModel {
                            k: model.k.max(k),
                            ..model
                        }
                    } else {
                        PeakModel {
                            k,
                            a: 0.0,
                            measured: 1,
                        }
                    };
                    m.peak(b)
                }
                (MemorySource::Exact, None) if model.measured == 0 => model.peak(b).max(budget),
                _ => model.peak(b),
            }
        };
        let projected_block_peak = model.peak(block_bytes(0));
        let admission = Admission::new(budget)
            .with_pressure_probe(pressure_probe(self.opts.pressure_threshold));
        let (base, rss_max) = match source {
            MemorySource::Exact => {
                crate::alloc::reset_global_peak();
                (crate::alloc::global_stats().current, AtomicU64::new(0))
            }
            MemorySource::Rss => {
                let r = super::metrics::rss_bytes();
                (r as i64, AtomicU64::new(r))
            }
        };
        let abort = AtomicBool::new(false);
        let pool = crate::global_pool_manager().get(workers)?;
        let opts = RunOptions::new(workers, ChunkPolicy::Fixed(1));
        let out = pool.map_range(n, &opts, |i| -> Option<Result<(R, ChunkMemoryMetric)>> {
            if abort.load(Ordering::Relaxed) {
                return None;
            }
            let permit = admission.acquire(projected(i));
            let probe = Probe::start();
            let r = catch_unwind(AssertUnwindSafe(|| work(i)));
            let metric = probe.finish(i, grid.block_shape(i), self.element_size);
            drop(permit);
            if let (Some(p), true) = (metric.peak_bytes, metric.estimated_bytes > 0) {
                let ratio = p as f64 / metric.estimated_bytes as f64;
                let mut l = learned.lock().unwrap_or_else(|e| e.into_inner());
                *l = Some(l.map_or(ratio, |k: f64| k.max(ratio)));
            }
            if source == MemorySource::Rss {
                rss_max.fetch_max(super::metrics::rss_bytes(), Ordering::Relaxed);
            }
            match r {
                Ok(Ok(v)) => Some(Ok((v, metric))),
                Ok(Err(e)) => {
                    abort.store(true, Ordering::Relaxed);
                    Some(Err(e))
                }
                Err(p) => {
                    abort.store(true, Ordering::Relaxed);
                    Some(Err(Error::from_panic(i, p)))
                }
            }
        })?;
        let measured_peak = match source {
            MemorySource::Exact => (crate::alloc::global_stats().peak - base).max(0) as u64,
            MemorySource::Rss => rss_max.load(Ordering::Relaxed).saturating_sub(base as u64),
        };
        let mut results = Vec::with_capacity(n);
        let mut metrics = Vec::with_capacity(n);
        let mut first_err = None;
        for r in out.results.into_iter().flatten() {
            match r {
                Ok((v, m)) => {
                    results.push(v);
                    metrics.push(m);
                }
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(e);
                    }
                }
            }
        }
        let st = admission.stats();
        let report = RunReport {
            operation: op.to_string(),
            chunk_shape: grid.chunks().to_vec(),
            chunks: n,
            workers,
            budget_bytes: budget,
            projected_block_peak,
            projected_peak: st.max_in_flight,
            measured_peak,
            source,
            max_concurrent: st.max_running,
            admission_waits: st.waits,
            pressure_waits: st.pressure_waits,
            oversized_blocks: st.oversized,
            wall: start.elapsed(),
        };
        if let Some(e) = first_err {
            return Err(e);
        }
        if results.len() != n {
            return Err(Error::Cancelled);
        }
        if let Some(key) = self.key() {
            let profile = self.build_profile(grid, &metrics, Some(report.clone()));
            self.engine
                .record_run(&key, self.dtype, &profile, self.opts.auto_rechunk);
        }
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(LastRun { metrics, report });
        Ok(results)
    }

    /// A run over a grid with no chunk (an array with a zero-length axis): nothing is called,
    /// admitted or measured. The array remembers the run (its report says 0 chunks), but the
    /// engine does not record it: a record is a measurement of the key (its history entry and
    /// the aggregate that the next run's model and recommendation start from), and a run with
    /// no block would replace the key's measurements with none.
    fn execute_empty<R>(
        &self,
        op: &str,
        grid: &ChunkGrid,
        workers: usize,
        budget: u64,
        start: Instant,
    ) -> Vec<R> {
        let report = RunReport {
            operation: op.to_string(),
            chunk_shape: grid.chunks().to_vec(),
            chunks: 0,
            workers,
            budget_bytes: budget,
            projected_block_peak: 0,
            projected_peak: 0,
            measured_peak: 0,
            source: MemorySource::current(),
            max_concurrent: 0,
            admission_waits: 0,
            pressure_waits: 0,
            oversized_blocks: 0,
            wall: start.elapsed(),
        };
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(LastRun {
            metrics: Vec::new(),
            report,
        });
        Vec::new()
    }

    fn build_profile(
        &self,
        grid: &ChunkGrid,
        metrics: &[ChunkMemoryMetric],
        last_run: Option<RunReport>,
    ) -> ProfileReport {
        let stats = AggregateStats::from_metrics(metrics);
        let budget = last_run
            .as_ref()
            .map(|r| Ok(r.budget_bytes))
            .unwrap_or_else(|| self.budget());
        // The recommendation plans with the same model admission uses: the measured one, with
        // the caller's lower bound on `k` (without it, chunks recommended from RSS readings,
        // where k stays 1, would not fit the budget the next run admits against).
        let mut model_stats = stats.clone();
        // (An invalid amplification is an error when the array runs; a profile leaves it out.)
        if let Some(k) = self.amplification() {
            model_stats.peak_model.k = model_stats.peak_model.k.max(k);
            model_stats.peak_model.measured = model_stats.peak_model.measured.max(1);
        }
        let rec = budget.and_then(|b| {
            self.recommender().recommend_with_budget(
                b,
                &self.shape,
                self.element_size,
                Some(&model_stats),
            )
        });
        let (recommended_chunks, reasons) = match rec {
            Ok(r) => (r.chunks, r.reasons),
            Err(e) => (
                grid.chunks().to_vec(),
                vec![format!(
                    "no recommendation ({e}); keeping the current chunks"
                )],
            ),
        };
        ProfileReport {
            shape: self.shape.clone(),
            element_size: self.element_size,
            chunks: grid.chunks().to_vec(),
            memory_source: if metrics.is_empty() {
                MemorySource::current()
            } else {
                stats.source
            },
            metrics: metrics.to_vec(),
            stats,
            recommended_chunks,
            reasons,
            last_run,
        }
    }

    fn profile(&self) -> ProfileReport {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let grid = self.grid();
        match last.as_ref() {
            Some(l) => {
                let (m, r) = (l.metrics.clone(), l.report.clone());
                drop(last);
                self.build_profile(&grid, &m, Some(r))
            }
            None => {
                drop(last);
                self.build_profile(&grid, &[], None)
            }
        }
    }
}

macro_rules! exec_setters {
    () => {
        /// Workers of the pool that runs the blocks (default: the engine's setting, else the
        /// effective cores). 0 is an `InvalidConfig` error when the array runs.
        ///
        /// ```
        /// let a = ndarray::Array1::<u8>::zeros(10);
        /// let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[5]).unwrap().workers(2);
        /// assert_eq!(c.map_blocks(|b| b.to_owned()).unwrap(), a);
        /// let none = amorsize::array::ChunkedArray::with_chunks(a.view(), &[5]).unwrap().workers(0);
        /// assert!(matches!(none.map_blocks(|b| b.to_owned()),
        ///     Err(amorsize::Error::InvalidConfig { ref setting, .. }) if setting == "workers"));
        /// ```
        pub fn workers(mut self, workers: usize) -> Self {
            self.runner.opts.workers = Some(workers);
            self
        }

        /// Working-memory budget of a run in bytes, beyond the input and output arrays
        /// (default: the engine's setting, else the machine's budget, see
        /// [`crate::array::machine_budget`]).
        ///
        /// A budget of 0 is an `InvalidConfig` error when the array runs (it used to become 1
        /// byte silently, and every block ran alone as oversized).
        ///
        /// ```
        /// let a = ndarray::Array1::<f64>::ones(1000);
        /// let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[100]).unwrap()
        ///     .budget_bytes(1600);
        /// c.map_blocks(|b| b.to_owned()).unwrap();
        /// assert_eq!(c.profile().last_run.unwrap().budget_bytes, 1600);
        /// let zero = amorsize::array::ChunkedArray::with_chunks(a.view(), &[100]).unwrap()
        ///     .budget_bytes(0);
        /// assert!(zero.map_blocks(|b| b.to_owned()).is_err());
        /// ```
        pub fn budget_bytes(mut self, bytes: u64) -> Self {
            self.runner.opts.budget_bytes = Some(bytes);
            self
        }

        /// Memory pressure threshold in percent (PSI `some avg10`, or percent of memory still
        /// available where there is no PSI); above it, only one block runs at a time. A value
        /// outside `[0, 100]` (or NaN) is an `InvalidConfig` error when the array runs.
        ///
        /// ```
        /// let a = ndarray::Array1::<f64>::ones(8);
        /// let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[4]).unwrap()
        ///     .pressure_threshold(50.0);
        /// assert!(c.map_blocks(|b| b.to_owned()).is_ok());
        /// for bad in [f64::NAN, -1.0, 101.0] {
        ///     let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[4]).unwrap()
        ///         .pressure_threshold(bad);
        ///     assert!(matches!(c.map_blocks(|b| b.to_owned()),
        ///         Err(amorsize::Error::InvalidConfig { ref setting, .. }) if setting == "pressure_threshold"));
        /// }
        /// ```
        pub fn pressure_threshold(mut self, percent: f64) -> Self {
            self.runner.opts.pressure_threshold = percent;
            self
        }

        /// After each run, let the engine apply its recommended chunks to the next run of the
        /// same key (the key defaults to the dtype and shape).
        ///
        /// ```
        /// let a = ndarray::Array1::<f64>::ones(100);
        /// let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[10]).unwrap()
        ///     .auto_rechunk(true).key("doc-auto-rechunk");
        /// c.map_blocks(|b| b.to_owned()).unwrap();
        /// c.map_blocks(|b| b.to_owned()).unwrap();
        /// assert_eq!(c.chunks(), c.profile().chunks);
        /// ```
        pub fn auto_rechunk(mut self, on: bool) -> Self {
            self.runner.opts.auto_rechunk = on;
            self
        }

        /// A lower bound on the amplification `k` (peak bytes per input byte of a block) for
        /// admission, for when the block function is known to allocate temporaries and the
        /// tracking allocator is not installed to measure them. A value that is not a finite
        /// number above 0 is an `InvalidConfig` error when the array runs.
        ///
        /// ```
        /// let a = ndarray::Array1::<f64>::ones(100);
        /// let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[10]).unwrap()
        ///     .amplification(4.0);
        /// c.map_blocks(|b| b.to_owned()).unwrap();
        /// assert_eq!(c.profile().last_run.unwrap().projected_block_peak, 320);
        /// for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        ///     let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[10]).unwrap()
        ///         .amplification(bad);
        ///     assert!(matches!(c.map_blocks(|b| b.to_owned()),
        ///         Err(amorsize::Error::InvalidConfig { ref setting, .. }) if setting == "amplification"));
        /// }
        /// ```
        pub fn amplification(mut self, k: f64) -> Self {
            self.runner.opts.amplification = Some(k);
            self
        }

        /// The key under which the engine tracks this array.
        ///
        /// ```
        /// let a = ndarray::Array1::<f64>::ones(8);
        /// let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[4]).unwrap().key("x");
        /// assert_eq!(c.array_key().as_deref(), Some("x"));
        /// ```
        pub fn key(mut self, key: impl Into<String>) -> Self {
            self.runner.opts.key = Some(key.into());
            self
        }

        /// The key under which the engine tracks this array, if it is tracked.
        ///
        /// ```
        /// let a = ndarray::Array1::<f64>::ones(8);
        /// let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[4]).unwrap();
        /// assert!(c.array_key().is_none());
        /// ```
        pub fn array_key(&self) -> Option<String> {
            self.runner.key()
        }

        /// The current chunk shape.
        ///
        /// ```
        /// let a = ndarray::Array2::<f64>::ones((8, 8));
        /// let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[4, 20]).unwrap();
        /// assert_eq!(c.chunks(), vec![4, 8]);
        /// ```
        pub fn chunks(&self) -> Vec<usize> {
            self.runner.grid().chunks().to_vec()
        }

        /// The current chunk grid.
        ///
        /// ```
        /// let a = ndarray::Array2::<f64>::ones((8, 8));
        /// let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[4, 4]).unwrap();
        /// assert_eq!(c.grid().len(), 4);
        /// ```
        pub fn grid(&self) -> ChunkGrid {
            self.runner.grid()
        }

        /// The array's shape.
        ///
        /// ```
        /// let a = ndarray::Array2::<f64>::ones((8, 3));
        /// let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[4, 3]).unwrap();
        /// assert_eq!(c.shape(), &[8, 3]);
        /// ```
        pub fn shape(&self) -> &[usize] {
            &self.runner.shape
        }

        /// Per-chunk metrics of the last run, aggregate stats, and the recommended chunks for
        /// the next run (before any run: no metrics, and the recommendation for `k = 1`).
        ///
        /// ```
        /// let a = ndarray::Array1::<f64>::ones(64);
        /// let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[16]).unwrap();
        /// assert!(c.profile().metrics.is_empty());
        /// c.map_blocks(|b| b.to_owned()).unwrap();
        /// assert_eq!(c.profile().metrics.len(), 4);
        /// ```
        pub fn profile(&self) -> ProfileReport {
            self.runner.profile()
        }
    };
}

/// An array view cut into a grid of blocks, run blockwise in parallel under a memory budget.
///
/// ```
/// use amorsize::array::ChunkedArray;
/// let a = ndarray::Array2::<f64>::from_shape_fn((30, 20), |(i, j)| (i * 20 + j) as f64);
/// let c = ChunkedArray::with_chunks(a.view(), &[7, 6]).unwrap();
/// let out = c.map_blocks(|b| b.mapv(|x| x * 2.0 + 1.0)).unwrap();
/// assert_eq!(out, a.mapv(|x| x * 2.0 + 1.0));
/// let total = c.reduce_blocks(|b| b.sum(), |x, y| x + y).unwrap();
/// assert_eq!(total, a.sum());
/// let report = c.profile();
/// let better = c.rechunk(&report.recommended_chunks).unwrap();
/// assert_eq!(better.shape(), &[30, 20]);
/// ```
pub struct ChunkedArray<'a, A, D: Dimension> {
    view: ArrayView<'a, A, D>,
    runner: Runner<'a>,
}

impl<A, D: Dimension> std::fmt::Debug for ChunkedArray<'_, A, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkedArray")
            .field("shape", &self.runner.shape)
            .field("chunks", &self.chunks())
            .field("dtype", &self.runner.dtype)
            .finish()
    }
}

impl<'a, A, D: Dimension> ChunkedArray<'a, A, D> {
    /// Chunks chosen by the recommender (settings of the global engine; `k = 1` before any
    /// measurement). Errors: rank 0, a budget that cannot hold one element. An array with a
    /// zero-length axis gets the chunks of one slice of it, 1 along that axis (see
    /// [`ChunkSizeRecommender::recommend_with_budget`]); its grid is empty.
    ///
    /// ```
    /// let a = ndarray::Array2::<f64>::zeros((200, 300));
    /// let c = amorsize::array::ChunkedArray::auto(a.view()).unwrap();
    /// assert_eq!(c.chunks().len(), 2);
    /// let empty = ndarray::Array2::<f64>::zeros((0, 300));
    /// let e = amorsize::array::ChunkedArray::auto(empty.view()).unwrap();
    /// assert_eq!((e.chunks()[0], e.grid().len()), (1, 0));
    /// ```
    pub fn auto(view: ArrayView<'a, A, D>) -> Result<Self> {
        Self::auto_with_engine(view, global_engine())
    }

    /// [`Self::auto`] with the settings of `engine`, which also records this array's runs.
    ///
    /// ```
    /// use amorsize::array::{AdaptiveChunkingEngine, ChunkedArray, EngineConfig};
    /// let engine = AdaptiveChunkingEngine::new(EngineConfig::new().budget_bytes(64 << 10)).unwrap();
    /// let a = ndarray::Array1::<f64>::zeros(100_000);
    /// let c = ChunkedArray::auto_with_engine(a.view(), &engine).unwrap();
    /// assert!(c.chunks()[0] * 8 <= 64 << 10);
    /// ```
    pub fn auto_with_engine(
        view: ArrayView<'a, A, D>,
        engine: &'a AdaptiveChunkingEngine,
    ) -> Result<Self> {
        let shape = view.shape().to_vec();
        ChunkGrid::new(&shape, &vec![1; shape.len()])?;
        let runner = Runner::new::<A>(shape.clone(), &vec![1; shape.len()], engine)?;
        let es = std::mem::size_of::<A>().max(1);
        let rec = runner.recommender().recommend(&shape, es, None)?;
        runner.set_grid(ChunkGrid::new(&shape, &rec.chunks)?);
        Ok(ChunkedArray { view, runner })
    }

    /// Chunks of the given shape (clipped to the array, at least 1; see [`ChunkGrid::new`]).
    /// Errors ([`Error::InvalidInput`]): a chunk shape of the wrong rank or with a zero. An
    /// array with a zero-length axis is accepted: it has no blocks.
    ///
    /// ```
    /// let a = ndarray::Array2::<f64>::zeros((10, 10));
    /// assert!(amorsize::array::ChunkedArray::with_chunks(a.view(), &[5]).is_err());
    /// assert!(amorsize::array::ChunkedArray::with_chunks(a.view(), &[5, 5]).is_ok());
    /// let empty = ndarray::Array2::<f64>::zeros((10, 0));
    /// let e = amorsize::array::ChunkedArray::with_chunks(empty.view(), &[5, 5]).unwrap();
    /// assert!(e.grid().is_empty());
    /// ```
    pub fn with_chunks(view: ArrayView<'a, A, D>, chunks: &[usize]) -> Result<Self> {
        Self::with_chunks_and_engine(view, chunks, global_engine())
    }

    /// [`Self::with_chunks`] tracked by `engine`.
    ///
    /// ```
    /// use amorsize::array::{AdaptiveChunkingEngine, ChunkedArray, EngineConfig};
    /// let engine = AdaptiveChunkingEngine::new(EngineConfig::new()).unwrap();
    /// let a = ndarray::Array1::<f64>::zeros(10);
    /// let c = ChunkedArray::with_chunks_and_engine(a.view(), &[5], &engine).unwrap().key("a");
    /// c.map_blocks(|b| b.to_owned()).unwrap();
    /// assert_eq!(engine.telemetry().arrays_tracked, 1);
    /// ```
    pub fn with_chunks_and_engine(
        view: ArrayView<'a, A, D>,
        chunks: &[usize],
        engine: &'a AdaptiveChunkingEngine,
    ) -> Result<Self> {
        let runner = Runner::new::<A>(view.shape().to_vec(), chunks, engine)?;
        Ok(ChunkedArray { view, runner })
    }

    exec_setters!();

    /// The same array with another chunk shape (same settings; measurements start afresh).
    ///
    /// ```
    /// let a = ndarray::Array2::<f64>::zeros((10, 10));
    /// let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[5, 5]).unwrap();
    /// assert_eq!(c.rechunk(&[2, 10]).unwrap().grid().len(), 5);
    /// assert!(c.rechunk(&[0, 10]).is_err());
    /// ```
    pub fn rechunk(&self, chunks: &[usize]) -> Result<ChunkedArray<'a, A, D>> {
        let mut runner = Runner::new::<A>(self.runner.shape.clone(), chunks, self.runner.engine)?;
        runner.opts = self.runner.opts.clone();
        Ok(ChunkedArray {
            view: self.view.clone(),
            runner,
        })
    }

    /// Applies `f` to every block and writes each result into its place in a fresh output
    /// array. Errors: a block returns another shape than its input ([`Error::InvalidInput`]) or
    /// panics ([`Error::TaskPanicked`] with the chunk index); then no output is returned (and the
    /// remaining blocks are skipped; results already written are dropped without running their
    /// destructors, which only leaks for element types that own memory).
    ///
    /// An array with a zero-length axis has no blocks: `f` is never called and the result is an
    /// empty array of the input's shape (the settings are still checked, as for any run).
    ///
    /// ```
    /// let a = ndarray::Array3::<i32>::from_shape_fn((4, 5, 6), |(i, j, k)| (i + j + k) as i32);
    /// let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[3, 2, 4]).unwrap();
    /// let out = c.map_blocks(|b| b.mapv(|x| x as f64 / 2.0)).unwrap();
    /// assert_eq!(out, a.mapv(|x| x as f64 / 2.0));
    /// assert!(c.map_blocks(|b| ndarray::Array3::<f64>::zeros((1, 1, 1))).is_err());
    /// let empty = ndarray::Array3::<i32>::zeros((4, 0, 6));
    /// let e = amorsize::array::ChunkedArray::with_chunks(empty.view(), &[3, 2, 4]).unwrap();
    /// let out = e.map_blocks(|b| -> ndarray::Array3<f64> { unreachable!("no block: {b:?}") });
    /// assert_eq!(out.unwrap().shape(), &[4, 0, 6]);
    /// ```
    pub fn map_blocks<B, F>(&self, f: F) -> Result<Array<B, D>>
    where
        A: Sync,
        B: Send,
        F: Fn(ArrayView<'_, A, D>) -> Array<B, D> + Sync,
    {
        self.map_blocks_indexed(|_, b| f(b))
    }

    /// [`Self::map_blocks`] with each block's index ranges (one per axis) passed to `f`, so that
    /// a block can be combined with the same region of other arrays (elementwise `a·b + c`).
    /// The other arrays are only read through views: their blocks cost no working memory.
    /// As there, an array with a zero-length axis gives an empty array of its shape and `f` is
    /// never called.
    ///
    /// ```
    /// use ndarray::{s, Array2};
    /// let a = Array2::<f64>::from_shape_fn((6, 8), |(i, j)| (i + j) as f64);
    /// let b = Array2::<f64>::from_shape_fn((6, 8), |(i, j)| (i * j) as f64);
    /// let c = Array2::<f64>::from_elem((6, 8), 1.0);
    /// let ca = amorsize::array::ChunkedArray::with_chunks(a.view(), &[4, 3]).unwrap();
    /// let out = ca.map_blocks_indexed(|r, blk| {
    ///     let region = s![r[0].clone(), r[1].clone()];
    ///     &blk * &b.slice(region) + &c.slice(region)
    /// }).unwrap();
    /// assert_eq!(out, &a * &b + &c);
    /// ```
    pub fn map_blocks_indexed<B, F>(&self, f: F) -> Result<Array<B, D>>
    where
        A: Sync,
        B: Send,
        F: Fn(&[Range<usize>], ArrayView<'_, A, D>) -> Array<B, D> + Sync,
    {
        let grid = self.runner.grid_for_run();
        let mut out = Array::<B, D>::uninit(self.view.raw_dim());
        let mut blocks = Vec::with_capacity(grid.len());
        split_blocks(out.view_mut(), 0, grid.chunks(), &mut blocks);
        let slots: Slots<'_, MaybeUninit<B>, D> =
            blocks.into_iter().map(|b| Mutex::new(Some(b))).collect();
        let view = &self.view;
        let work = |i: usize| -> Result<()> {
            let ranges = grid.block_ranges(i);
            let input = block_view(view, &ranges);
            let res = f(&ranges, input);
            let mut slot = slots[i].lock().unwrap_or_else(|e| e.into_inner());
            let dst = slot
                .take()
                .ok_or_else(|| Error::invalid_input("block", format!("block {i} ran twice")))?;
            if res.shape() != dst.shape() {
                return Err(Error::invalid_input(
                    "block result",
                    format!(
                        "block {i} returned shape {:?}, expected {:?}",
                        res.shape(),
                        dst.shape()
                    ),
                ));
            }
            drop(slot);
            let mut dst = dst;
            dst.iter_mut().zip(res).for_each(|(d, v)| {
                d.write(v);
            });
            Ok(())
        };
        self.runner.execute("map_blocks", &grid, &work)?;
        drop(slots);
        // SAFETY: execute returned Ok only if every block ran `work` to completion, and the
        // blocks of the grid cover the output exactly (split_blocks), so every element is written.
        // An empty grid belongs to an array with a zero-length axis: the output has no element.
        Ok(unsafe { out.assume_init() })
    }

    /// Maps every block to a value and folds the values in chunk order with `combine`.
    /// Errors: a panicking block ([`Error::TaskPanicked`]); an array with a zero-length axis,
    /// which has no blocks ([`Error::InvalidInput`]: there is no identity value to return, so
    /// neither `map` nor `combine` is called; fold an empty array's result yourself, e.g. with
    /// `unwrap_or`, when your reduction has one). Settings errors come before that one, as for
    /// any run.
    ///
    /// ```
    /// use amorsize::{array::ChunkedArray, Error};
    /// let a = ndarray::Array2::<u64>::from_shape_fn((10, 10), |(i, j)| (i * 10 + j) as u64);
    /// let c = ChunkedArray::with_chunks(a.view(), &[3, 4]).unwrap();
    /// assert_eq!(c.reduce_blocks(|b| b.sum(), |x, y| x + y).unwrap(), 4950);
    /// let max = c.reduce_blocks(|b| *b.iter().max().unwrap(), |x, y| x.max(y)).unwrap();
    /// assert_eq!(max, 99);
    /// let none = ndarray::Array2::<u64>::zeros((0, 10));
    /// let e = ChunkedArray::with_chunks(none.view(), &[3, 4]).unwrap();
    /// let err = e.reduce_blocks(|b| b.sum(), |x, y| x + y).unwrap_err();
    /// assert!(matches!(err, Error::InvalidInput { ref reason, .. } if reason.contains("no blocks")));
    /// assert_eq!(e.reduce_blocks(|b| b.sum(), |x, y| x + y).unwrap_or(0), 0);
    /// ```
    pub fn reduce_blocks<R, M, C>(&self, map: M, combine: C) -> Result<R>
    where
        A: Sync,
        R: Send,
        M: Fn(ArrayView<'_, A, D>) -> R + Sync,
        C: Fn(R, R) -> R,
    {
        self.reduce_blocks_indexed(|_, b| map(b), combine)
    }

    /// [`Self::reduce_blocks`] with each block's index ranges (one per axis) passed to `map`,
    /// for reductions that must know where a block lies (e.g. a sum along one axis). The same
    /// errors: an array with a zero-length axis has no blocks to reduce ([`Error::InvalidInput`]).
    ///
    /// ```
    /// use ndarray::{Array1, Array2, Axis};
    /// let a = Array2::<f64>::from_shape_fn((6, 8), |(i, j)| (i * 8 + j) as f64);
    /// let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[4, 3]).unwrap();
    /// let parts = c.reduce_blocks_indexed(
    ///     |r, b| vec![(r[1].start, b.sum_axis(Axis(0)))],
    ///     |mut x, mut y| { x.append(&mut y); x }).unwrap();
    /// let mut total = Array1::<f64>::zeros(8);
    /// for (start, p) in parts {
    ///     let mut s = total.slice_mut(ndarray::s![start..start + p.len()]);
    ///     s += &p;
    /// }
    /// assert_eq!(total, a.sum_axis(Axis(0)));
    /// ```
    pub fn reduce_blocks_indexed<R, M, C>(&self, map: M, combine: C) -> Result<R>
    where
        A: Sync,
        R: Send,
        M: Fn(&[Range<usize>], ArrayView<'_, A, D>) -> R + Sync,
        C: Fn(R, R) -> R,
    {
        let grid = self.runner.grid_for_run();
        if grid.is_empty() {
            // No block and no identity value to start from. Settings errors come first, as for
            // any run; the array's last run is left as it was.
            self.runner.check_run()?;
            return Err(no_blocks_to_reduce(self.shape()));
        }
        let view = &self.view;
        let work = |i: usize| -> Result<R> {
            let ranges = grid.block_ranges(i);
            Ok(map(&ranges, block_view(view, &ranges)))
        };
        let parts = self.runner.execute("reduce_blocks", &grid, &work)?;
        parts
            .into_iter()
            .reduce(combine)
            .ok_or_else(|| no_blocks_to_reduce(self.shape()))
    }
}

/// A mutable array view cut into blocks, updated in place blockwise under a memory budget.
///
/// ```
/// let mut a = ndarray::Array2::<f64>::ones((6, 6));
/// let mut c = amorsize::array::ChunkedArrayMut::with_chunks(a.view_mut(), &[4, 4]).unwrap();
/// c.map_blocks_mut(|mut b| b.mapv_inplace(|x| x * 3.0)).unwrap();
/// drop(c);
/// assert!(a.iter().all(|&x| x == 3.0));
/// ```
pub struct ChunkedArrayMut<'a, A, D: Dimension> {
    view: ArrayViewMut<'a, A, D>,
    runner: Runner<'a>,
}

impl<A, D: Dimension> std::fmt::Debug for ChunkedArrayMut<'_, A, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkedArrayMut")
            .field("shape", &self.runner.shape)
            .field("chunks", &self.chunks())
            .finish()
    }
}

impl<'a, A, D: Dimension> ChunkedArrayMut<'a, A, D> {
    /// Chunks chosen by the recommender (see [`ChunkedArray::auto`], also for an array with a
    /// zero-length axis).
    ///
    /// ```
    /// let mut a = ndarray::Array1::<f32>::zeros(1000);
    /// let c = amorsize::array::ChunkedArrayMut::auto(a.view_mut()).unwrap();
    /// assert_eq!(c.chunks().len(), 1);
    /// let mut none = ndarray::Array1::<f32>::zeros(0);
    /// let e = amorsize::array::ChunkedArrayMut::auto(none.view_mut()).unwrap();
    /// assert_eq!((e.chunks(), e.grid().len()), (vec![1], 0));
    /// ```
    pub fn auto(view: ArrayViewMut<'a, A, D>) -> Result<Self> {
        let shape = view.shape().to_vec();
        let engine = global_engine();
        let runner = Runner::new::<A>(shape.clone(), &vec![1; shape.len()], engine)?;
        let es = std::mem::size_of::<A>().max(1);
        let rec = runner.recommender().recommend(&shape, es, None)?;
        runner.set_grid(ChunkGrid::new(&shape, &rec.chunks)?);
        Ok(ChunkedArrayMut { view, runner })
    }

    /// Chunks of the given shape (errors as [`ChunkedArray::with_chunks`]; an array with a
    /// zero-length axis is accepted and has no blocks).
    ///
    /// ```
    /// let mut a = ndarray::Array1::<f32>::zeros(10);
    /// assert!(amorsize::array::ChunkedArrayMut::with_chunks(a.view_mut(), &[0]).is_err());
    /// let mut none = ndarray::Array2::<f32>::zeros((3, 0));
    /// let e = amorsize::array::ChunkedArrayMut::with_chunks(none.view_mut(), &[2, 2]).unwrap();
    /// assert!(e.grid().is_empty());
    /// ```
    pub fn with_chunks(view: ArrayViewMut<'a, A, D>, chunks: &[usize]) -> Result<Self> {
        let runner = Runner::new::<A>(view.shape().to_vec(), chunks, global_engine())?;
        Ok(ChunkedArrayMut { view, runner })
    }

    exec_setters!();

    /// Applies `f` to every block in place.
    ///
    /// On `Err` (a block panicked: [`Error::TaskPanicked`] with its chunk index) the array is
    /// left in this state: every block that had finished before the failure holds `f`'s result;
    /// the failing block holds whatever `f` wrote before it panicked (possibly partly updated);
    /// the blocks not yet started when the failure was seen are untouched (they are skipped).
    /// Which blocks had finished depends on scheduling. Run on a copy if that is not acceptable.
    ///
    /// An array with a zero-length axis has no blocks: `f` is never called and the call
    /// returns `Ok(())` (after the settings checks of any run).
    ///
    /// ```
    /// let mut a = ndarray::Array1::<i64>::from_iter(0..10);
    /// let mut c = amorsize::array::ChunkedArrayMut::with_chunks(a.view_mut(), &[3]).unwrap();
    /// c.map_blocks_mut(|mut b| b += 1).unwrap();
    /// drop(c);
    /// assert_eq!(a, ndarray::Array1::from_iter(1..11));
    /// let mut none = ndarray::Array2::<i64>::zeros((0, 4));
    /// let mut e = amorsize::array::ChunkedArrayMut::with_chunks(none.view_mut(), &[3, 3]).unwrap();
    /// e.map_blocks_mut(|_| unreachable!("an empty array has no block")).unwrap();
    /// ```
    pub fn map_blocks_mut<F>(&mut self, f: F) -> Result<()>
    where
        A: Send,
        F: Fn(ArrayViewMut<'_, A, D>) + Sync,
    {
        let grid = self.runner.grid_for_run();
        let mut blocks = Vec::with_capacity(grid.len());
        split_blocks(self.view.view_mut(), 0, grid.chunks(), &mut blocks);
        let slots: Slots<'_, A, D> = blocks.into_iter().map(|b| Mutex::new(Some(b))).collect();
        let work = |i: usize| -> Result<()> {
            let block = slots[i]
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .ok_or_else(|| Error::invalid_input("block", format!("block {i} ran twice")))?;
            f(block);
            Ok(())
        };
        self.runner.execute("map_blocks_mut", &grid, &work)?;
        Ok(())
    }
}
