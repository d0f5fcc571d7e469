//! What each chunk cost: [`ChunkMemoryMetric`], the [`AggregateStats`] over a run, the
//! [`RunReport`] (measured peak against projected) and the [`ProfileReport`] of an array.
//!
//! Memory is measured exactly when [`crate::alloc::TrackingAllocator`] is the global allocator
//! ([`MemorySource::Exact`]: per-thread current and peak bytes), otherwise from the process's
//! resident memory in `/proc/self/statm` ([`MemorySource::Rss`]: process-wide, no per-chunk peak).
//!
//! ```
//! use amorsize::array::{AggregateStats, ChunkMemoryMetric, MemorySource};
//! use std::time::Duration;
//! // Chunks of 1000 and 2000 f64 whose exact peaks are twice their input bytes.
//! let ms: Vec<_> = [1000usize, 2000].iter().enumerate()
//!     .map(|(i, &n)| ChunkMemoryMetric::new(i, vec![n], 8, Duration::from_millis(1), (0, 0),
//!         Some(16 * n as u64), MemorySource::Exact))
//!     .collect();
//! assert_eq!(ms[1].estimated_bytes, 16_000);
//! let s = AggregateStats::from_metrics(&ms);
//! assert_eq!((s.total_chunks, s.peak_memory, s.source), (2, 32_000, MemorySource::Exact));
//! assert!((s.peak_model.k - 2.0).abs() < 1e-9 && (s.amplification - 2.0).abs() < 1e-9);
//! ```

use super::fit::{PeakModel, TimeModel};
use serde::Serialize;
use std::fmt;
use std::time::{Duration, Instant};

/// How memory figures were measured.
///
/// ```
/// use amorsize::array::MemorySource;
/// assert_eq!(MemorySource::current() == MemorySource::Exact, amorsize::alloc::is_active());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemorySource {
    /// Counted by the tracking allocator, per thread (each chunk's peak is its own).
    Exact,
    /// Resident set size of the whole process from `/proc/self/statm` (approximate).
    Rss,
}

impl MemorySource {
    /// `Exact` when the tracking allocator is installed, else `Rss`.
    ///
    /// ```
    /// let _ = amorsize::array::MemorySource::current();
    /// ```
    pub fn current() -> MemorySource {
        if crate::alloc::is_active() {
            MemorySource::Exact
        } else {
            MemorySource::Rss
        }
    }
}

impl fmt::Display for MemorySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemorySource::Exact => "exact (tracking allocator)",
            MemorySource::Rss => "RSS (/proc/self/statm)",
        })
    }
}

/// Resident bytes of this process from `/proc/self/statm` (0 when it cannot be read).
///
/// ```
/// let _rss = amorsize::array::metrics::rss_bytes();
/// ```
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|t| parse_statm_resident(&t))
        .map_or(0, |pages| pages * page_size())
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// Resident pages (second field) of `/proc/self/statm` text.
///
/// ```
/// assert_eq!(amorsize::array::metrics::parse_statm_resident("100 42 7 1 0 30 0"), Some(42));
/// ```
pub fn parse_statm_resident(text: &str) -> Option<u64> {
    text.split_whitespace().nth(1)?.parse().ok()
}

/// What one chunk cost.
///
/// ```
/// use amorsize::array::{ChunkMemoryMetric, MemorySource};
/// let m = ChunkMemoryMetric::new(0, vec![10, 10], 8, std::time::Duration::from_millis(1),
///     (0, 1600), Some(1600), MemorySource::Exact);
/// assert_eq!((m.elements, m.estimated_bytes, m.delta_bytes), (100, 800, 1600));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChunkMemoryMetric {
    /// Chunk index in row-major order of the chunk grid.
    pub index: usize,
    /// The chunk's shape.
    pub shape: Vec<usize>,
    /// Elements in the chunk.
    pub elements: usize,
    /// Bytes per element.
    pub element_size: usize,
    /// Input bytes of the chunk (`elements × element_size`).
    pub estimated_bytes: u64,
    /// Time the block function took.
    pub compute_time: Duration,
    /// Memory before the block (thread's allocator bytes when exact, process RSS otherwise).
    pub memory_before: i64,
    /// Memory after the block.
    pub memory_after: i64,
    /// `memory_after − memory_before` (saturating at the `i64` range).
    pub delta_bytes: i64,
    /// Highest bytes held by the block above `memory_before` (exact mode only).
    pub peak_bytes: Option<u64>,
    /// Input megabytes (10⁶ bytes) per second of compute time.
    pub throughput_mb_s: f64,
    /// How memory was measured.
    pub source: MemorySource,
}

impl ChunkMemoryMetric {
    /// Builds a metric; `memory` is `(before, after)`.
    ///
    /// ```
    /// use amorsize::array::{ChunkMemoryMetric, MemorySource};
    /// let m = ChunkMemoryMetric::new(3, vec![4], 4, std::time::Duration::from_secs(1),
    ///     (100, 90), None, MemorySource::Rss);
    /// assert_eq!(m.delta_bytes, -10);
    /// ```
    pub fn new(
        index: usize,
        shape: Vec<usize>,
        element_size: usize,
        compute_time: Duration,
        memory: (i64, i64),
        peak_bytes: Option<u64>,
        source: MemorySource,
    ) -> Self {
        let elements = shape.iter().fold(1usize, |n, &d| n.saturating_mul(d));
        let estimated_bytes = (elements as u64).saturating_mul(element_size as u64);
        let secs = compute_time.as_secs_f64();
        let throughput_mb_s = if secs > 0.0 {
            estimated_bytes as f64 / 1e6 / secs
        } else {
            0.0
        };
        ChunkMemoryMetric {
            index,
            shape,
            elements,
            element_size,
            estimated_bytes,
            compute_time,
            memory_before: memory.0,
            memory_after: memory.1,
            delta_bytes: memory.1.saturating_sub(memory.0),
            peak_bytes,
            throughput_mb_s,
            source,
        }
    }

    /// The chunk's working peak: the exact peak, or (RSS) the positive delta.
    ///
    /// ```
    /// use amorsize::array::{ChunkMemoryMetric, MemorySource};
    /// let m = ChunkMemoryMetric::new(0, vec![2], 8, Default::default(), (0, 5), None, MemorySource::Rss);
    /// assert_eq!(m.working_peak(), 5);
    /// ```
    pub fn working_peak(&self) -> u64 {
        self.peak_bytes
            .unwrap_or_else(|| self.delta_bytes.max(0) as u64)
    }
}

/// Measures one block: call [`Probe::start`] before it and [`Probe::finish`] after.
#[derive(Debug)]
pub(crate) struct Probe {
    start: Instant,
    before: i64,
    source: MemorySource,
}

impl Probe {
    pub(crate) fn start() -> Probe {
        let source = MemorySource::current();
        let before = match source {
            MemorySource::Exact => {
                crate::alloc::reset_thread_peak();
                crate::alloc::thread_stats().current
            }
            MemorySource::Rss => rss_bytes() as i64,
        };
        Probe {
            start: Instant::now(),
            before,
            source,
        }
    }

    pub(crate) fn finish(
        self,
        index: usize,
        shape: Vec<usize>,
        element_size: usize,
    ) -> ChunkMemoryMetric {
        let compute = self.start.elapsed();
        let (after, peak) = match self.source {
            MemorySource::Exact => {
                let s = crate::alloc::thread_stats();
                (s.current, Some((s.peak - self.before).max(0) as u64))
            }
            MemorySource::Rss => (rss_bytes() as i64, None),
        };
        ChunkMemoryMetric::new(
            index,
            shape,
            element_size,
            compute,
            (self.before, after),
            peak,
            self.source,
        )
    }
}

/// Aggregates over the measured chunks, with the fitted peak and time models.
///
/// ```
/// use amorsize::array::{AggregateStats, ChunkMemoryMetric, MemorySource};
/// let ms: Vec<_> = (1..=3).map(|i| ChunkMemoryMetric::new(i, vec![i * 100], 8,
///     std::time::Duration::from_micros(10 * i as u64), (0, 0), Some(2 * 800 * i as u64),
///     MemorySource::Exact)).collect();
/// let s = AggregateStats::from_metrics(&ms);
/// assert_eq!(s.total_chunks, 3);
/// assert!((s.peak_model.k - 2.0).abs() < 1e-9);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregateStats {
    /// Chunks measured.
    pub total_chunks: usize,
    /// Mean input megabytes (2²⁰ bytes) per chunk.
    pub avg_chunk_mb: f64,
    /// Highest working peak of one chunk, in bytes.
    pub peak_memory: u64,
    /// Total input megabytes (10⁶) over total compute seconds.
    pub avg_throughput_mb_s: f64,
    /// Mean working peak over mean input bytes (the `k` a person would quote).
    pub amplification: f64,
    /// Fitted `peak(b) = a + k·b` (k = 1 when nothing was measured).
    pub peak_model: PeakModel,
    /// Fitted `t(b) = t0 + c·b`.
    pub time_model: TimeModel,
    /// Sum of compute times (saturating at `Duration::MAX`).
    pub total_compute: Duration,
    /// How memory was measured.
    pub source: MemorySource,
}

impl AggregateStats {
    /// Aggregates `metrics` and fits the models (RSS deltas are used as peaks when not exact).
    ///
    /// ```
    /// let s = amorsize::array::AggregateStats::from_metrics(&[]);
    /// assert_eq!((s.total_chunks, s.peak_model.k), (0, 1.0));
    /// ```
    pub fn from_metrics(metrics: &[ChunkMemoryMetric]) -> AggregateStats {
        let n = metrics.len();
        // Sums in u128 (no u64 overflow for any slice) and a saturating total compute time.
        let bytes: u128 = metrics.iter().map(|m| m.estimated_bytes as u128).sum();
        let total_compute = metrics
            .iter()
            .fold(Duration::ZERO, |t, m| t.saturating_add(m.compute_time));
        let peak_memory = metrics.iter().map(|m| m.working_peak()).max().unwrap_or(0);
        let peaks: u128 = metrics.iter().map(|m| m.working_peak() as u128).sum();
        let exact = n > 0 && metrics.iter().all(|m| m.source == MemorySource::Exact);
        let peak_model = if exact {
            PeakModel::fit(
                &metrics
                    .iter()
                    .map(|m| (m.estimated_bytes as f64, m.working_peak() as f64))
                    .collect::<Vec<_>>(),
            )
        } else {
            // RSS deltas are not a per-chunk peak; keep k = 1 rather than fit noise.
            PeakModel::default()
        };
        let time_model = TimeModel::fit(
            &metrics
                .iter()
                .map(|m| (m.estimated_bytes as f64, m.compute_time.as_secs_f64()))
                .collect::<Vec<_>>(),
        );
        let secs = total_compute.as_secs_f64();
        AggregateStats {
            total_chunks: n,
            avg_chunk_mb: if n > 0 {
                bytes as f64 / n as f64 / (1u64 << 20) as f64
            } else {
                0.0
            },
            peak_memory,
            avg_throughput_mb_s: if secs > 0.0 {
                bytes as f64 / 1e6 / secs
            } else {
                0.0
            },
            amplification: if bytes > 0 {
                peaks as f64 / bytes as f64
            } else {
                0.0
            },
            peak_model,
            time_model,
            total_compute,
            source: if exact {
                MemorySource::Exact
            } else {
                MemorySource::Rss
            },
        }
    }
}

impl fmt::Display for AggregateStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} chunks, avg {:.2} MiB, peak {:.2} MiB per chunk, {:.0} MB/s, amplification {:.2} \
             (peak model a = {:.0} B, k = {:.2}; time model t0 = {:.1} µs, {:.3} ns/B; memory {})",
            self.total_chunks,
            self.avg_chunk_mb,
            self.peak_memory as f64 / (1u64 << 20) as f64,
            self.avg_throughput_mb_s,
            self.amplification,
            self.peak_model.a,
            self.peak_model.k,
            self.time_model.t0 * 1e6,
            self.time_model.c * 1e9,
            self.source
        )
    }
}

/// One blockwise run under a budget: measured peak against projected.
///
/// ```
/// let a = ndarray::Array1::<f64>::ones(1000);
/// let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[100]).unwrap();
/// c.map_blocks(|b| b.mapv(|x| x + 1.0)).unwrap();
/// let r = c.profile().last_run.unwrap();
/// assert_eq!(r.chunks, 10);
/// println!("{r}");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    /// `map_blocks`, `map_blocks_mut` or `reduce_blocks`.
    pub operation: String,
    /// Chunk shape used.
    pub chunk_shape: Vec<usize>,
    /// Blocks run.
    pub chunks: usize,
    /// Workers of the pool.
    pub workers: usize,
    /// Working-memory budget of the run, in bytes.
    pub budget_bytes: u64,
    /// Projected peak of one block (`a + k·b` of the largest block).
    pub projected_block_peak: u64,
    /// Highest projected bytes in flight admitted at once (the admission counter's maximum).
    pub projected_peak: u64,
    /// Measured working peak beyond input and output (process-wide allocator peak when exact;
    /// RSS growth otherwise).
    pub measured_peak: u64,
    /// How `measured_peak` was measured.
    pub source: MemorySource,
    /// Most blocks that ran at once.
    pub max_concurrent: usize,
    /// Blocks that had to wait for admission (budget or pressure).
    pub admission_waits: usize,
    /// Blocks admitted while memory pressure was above the threshold (they ran alone).
    pub pressure_waits: usize,
    /// Blocks whose projected peak exceeded the whole budget; each ran alone.
    pub oversized_blocks: usize,
    /// Wall time.
    pub wall: Duration,
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
        write!(
            f,
            "{}: {} chunks of {:?} on {} workers in {:.3} s; budget {:.1} MiB, projected peak \
             {:.1} MiB (block {:.1} MiB), measured peak {:.1} MiB [{}]; at most {} blocks at \
             once, {} waited for admission",
            self.operation,
            self.chunks,
            self.chunk_shape,
            self.workers,
            self.wall.as_secs_f64(),
            mib(self.budget_bytes),
            mib(self.projected_peak),
            mib(self.projected_block_peak),
            mib(self.measured_peak),
            self.source,
            self.max_concurrent,
            self.admission_waits
        )?;
        if self.oversized_blocks > 0 {
            write!(
                f,
                "; {} blocks were larger than the whole budget and ran alone",
                self.oversized_blocks
            )?;
        }
        Ok(())
    }
}

/// Everything measured about a chunked array: per-chunk metrics of its last run, the aggregate,
/// the recommended chunk shape and the last run's report.
///
/// ```
/// let a = ndarray::Array2::<f32>::ones((64, 64));
/// let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[16, 64]).unwrap();
/// c.map_blocks(|b| b.mapv(|x| x * 2.0)).unwrap();
/// let r = c.profile();
/// assert_eq!(r.metrics.len(), 4);
/// assert_eq!(r.recommended_chunks.len(), 2);
/// println!("{r}");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileReport {
    /// The array's shape.
    pub shape: Vec<usize>,
    /// Bytes per element.
    pub element_size: usize,
    /// The chunk shape the metrics were measured with.
    pub chunks: Vec<usize>,
    /// One metric per chunk of the last run, in chunk order.
    pub metrics: Vec<ChunkMemoryMetric>,
    /// Aggregates over `metrics`.
    pub stats: AggregateStats,
    /// The recommender's chunk shape for the next run (the current one if it cannot recommend).
    pub recommended_chunks: Vec<usize>,
    /// Why (the recommendation's reasons).
    pub reasons: Vec<String>,
    /// How memory was measured.
    pub memory_source: MemorySource,
    /// The last run, if there was one.
    pub last_run: Option<RunReport>,
}

impl fmt::Display for ProfileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "array {:?} ({} B/element), chunks {:?}",
            self.shape, self.element_size, self.chunks
        )?;
        writeln!(f, "  measured: {}", self.stats)?;
        if let Some(r) = &self.last_run {
            writeln!(f, "  last run: {r}")?;
        }
        writeln!(f, "  recommended chunks: {:?}", self.recommended_chunks)?;
        for r in &self.reasons {
            writeln!(f, "    - {r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(i: usize, n: usize, peak: u64, micros: u64) -> ChunkMemoryMetric {
        ChunkMemoryMetric::new(
            i,
            vec![n],
            8,
            Duration::from_micros(micros),
            (0, 0),
            Some(peak),
            MemorySource::Exact,
        )
    }

    #[test]
    fn aggregate_fits_amplification_and_intercept() {
        let ms: Vec<_> = (1..=5)
            .map(|i| metric(i, i * 1000, 4096 + 6 * 8000 * i as u64, 100 * i as u64))
            .collect();
        let s = AggregateStats::from_metrics(&ms);
        assert!((s.peak_model.k - 6.0).abs() < 1e-6);
        assert!((s.peak_model.a - 4096.0).abs() < 1e-3);
        assert_eq!(s.peak_memory, 4096 + 6 * 8000 * 5);
        assert!(s.amplification > 6.0);
        assert!((s.time_model.c - 100e-6 / 8000.0).abs() < 1e-12);
    }

    #[test]
    fn rss_metrics_keep_k_one() {
        let m = ChunkMemoryMetric::new(
            0,
            vec![10],
            8,
            Duration::from_micros(5),
            (1000, 9000),
            None,
            MemorySource::Rss,
        );
        let s = AggregateStats::from_metrics(&[m]);
        assert_eq!(s.peak_model.k, 1.0);
        assert_eq!(s.source, MemorySource::Rss);
        assert_eq!(s.peak_memory, 8000);
    }

    #[test]
    fn statm_parse() {
        assert_eq!(parse_statm_resident("1 2"), Some(2));
        assert_eq!(parse_statm_resident("1"), None);
        assert!(rss_bytes() > 0);
    }
}
