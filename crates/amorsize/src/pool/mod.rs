//! Warm workers, dynamic chunk scheduling and the runtime chunk controller.
//!
//! This module runs work; it does not decide policy. A [`ThreadPool`] keeps worker threads
//! warm between jobs; a job over `0..len` is cut into chunks that workers claim from a shared
//! cursor (self-scheduling), with a guided tail so no worker is left holding a long last chunk;
//! the [`ChunkController`] may resize chunks while the job runs. [`AdaptivePool`] is the
//! user-facing pool with `map`, `imap`, `imap_unordered` and `stats`.
//!
//! PLACEHOLDER: a sequential stand-in with the final signatures, replaced by the real pool.

use crate::{Error, Result};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// A progress report: items done, total items, time since the run started.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Progress {
    /// Items finished so far.
    pub done: usize,
    /// Items in the run.
    pub total: usize,
    /// Time since the run started.
    pub elapsed: Duration,
}

/// A progress callback, called at most every ~100 ms from a non-hot path.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// How a run sizes its chunks.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkPolicy {
    /// Always this many items per chunk (the guided tail still shrinks the last ones).
    Fixed(usize),
    /// Start at `initial` and let the runtime controller resize chunks.
    Adaptive(ControllerConfig),
}

/// Settings of the runtime chunk controller.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControllerConfig {
    /// First chunk size.
    pub initial: usize,
    /// Target duration of one chunk.
    pub target: Duration,
    /// How far one adjustment moves toward the target, 0..=1.
    pub adaptation_rate: f64,
    /// Smallest chunk size.
    pub min: usize,
    /// Largest chunk size, if bounded.
    pub max: Option<usize>,
    /// Number of chunk durations in the moving window.
    pub window: usize,
}

/// Options of one run on a pool.
#[derive(Clone)]
pub struct RunOptions {
    /// How many workers take part (the caller counts as one); at most the pool's size.
    pub workers: usize,
    /// Chunk sizing.
    pub chunks: ChunkPolicy,
    /// Optional progress callback.
    pub progress: Option<ProgressFn>,
}

/// What one run measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunStats {
    /// Chunks handed out.
    pub chunks: usize,
    /// Items run.
    pub items: usize,
    /// Chunk size at the start.
    pub initial_chunk_size: usize,
    /// Chunk size at the end.
    pub final_chunk_size: usize,
    /// Wall time of the run.
    pub wall: Duration,
    /// Busy time per worker.
    pub busy: Vec<Duration>,
}

/// Results of a run, in index order, and what it measured.
#[derive(Debug)]
pub struct RunOutput<R> {
    /// `results[i]` is `f(i)`.
    pub results: Vec<R>,
    /// Measurements.
    pub stats: RunStats,
}

/// The runtime chunk controller (placeholder).
#[derive(Debug, Clone)]
pub struct ChunkController {
    size: usize,
}

impl ChunkController {
    /// A controller starting at the configured initial size.
    ///
    /// ```
    /// # use amorsize::pool::*; use std::time::Duration;
    /// let c = ChunkController::new(ControllerConfig { initial: 8, target: Duration::from_millis(1),
    ///     adaptation_rate: 0.3, min: 1, max: None, window: 10 });
    /// assert_eq!(c.chunk_size(), 8);
    /// ```
    pub fn new(cfg: ControllerConfig) -> Self {
        ChunkController { size: cfg.initial }
    }
    /// The current chunk size.
    ///
    /// ```
    /// # use amorsize::pool::*; use std::time::Duration;
    /// # let c = ChunkController::new(ControllerConfig { initial: 8, target: Duration::from_millis(1),
    /// #    adaptation_rate: 0.3, min: 1, max: None, window: 10 });
    /// assert!(c.chunk_size() >= 1);
    /// ```
    pub fn chunk_size(&self) -> usize {
        self.size
    }
}

/// Warm worker threads (placeholder: runs on the caller).
#[derive(Debug)]
pub struct ThreadPool {
    threads: usize,
}

impl ThreadPool {
    /// A pool of `workers` participants (the caller plus `workers - 1` threads).
    ///
    /// ```
    /// let p = amorsize::pool::ThreadPool::new(2).unwrap();
    /// assert_eq!(p.workers(), 2);
    /// ```
    pub fn new(workers: usize) -> Result<Self> {
        if workers == 0 {
            return Err(Error::invalid_config("workers", "must be at least 1"));
        }
        Ok(ThreadPool { threads: workers })
    }

    /// Participants in a job on this pool (threads obtained + the caller).
    ///
    /// ```
    /// assert_eq!(amorsize::pool::ThreadPool::new(3).unwrap().workers(), 3);
    /// ```
    pub fn workers(&self) -> usize {
        self.threads
    }

    /// Runs `f(i)` for every `i` in `0..len`, results in index order.
    ///
    /// ```
    /// use amorsize::pool::{ThreadPool, RunOptions, ChunkPolicy};
    /// let p = ThreadPool::new(2).unwrap();
    /// let opts = RunOptions { workers: 2, chunks: ChunkPolicy::Fixed(4), progress: None };
    /// let out = p.map_range(10, &opts, |i| i * i).unwrap();
    /// assert_eq!(out.results[3], 9);
    /// ```
    pub fn map_range<R: Send, F: Fn(usize) -> R + Sync>(
        &self,
        len: usize,
        _opts: &RunOptions,
        f: F,
    ) -> Result<RunOutput<R>> {
        let start = std::time::Instant::now();
        let mut results = Vec::with_capacity(len);
        for i in 0..len {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(i))) {
                Ok(r) => results.push(r),
                Err(p) => return Err(Error::from_panic(i, p)),
            }
        }
        Ok(RunOutput {
            results,
            stats: RunStats {
                items: len,
                wall: start.elapsed(),
                ..RunStats::default()
            },
        })
    }
}

/// True when the current thread is a worker of some amorsize pool (nested calls run inline).
///
/// ```
/// assert!(!amorsize::pool::in_worker());
/// ```
pub fn in_worker() -> bool {
    false
}
