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

mod controller;
pub use controller::{ChunkController, ControllerConfig};

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

/// The user-facing pool: warm workers plus adaptive chunking, `map`, `imap`, `stats`.
///
/// PLACEHOLDER: wraps a [`ThreadPool`].
#[derive(Debug)]
pub struct AdaptivePool {
    inner: ThreadPool,
}

impl AdaptivePool {
    /// A pool of `workers` with default settings.
    ///
    /// ```
    /// let p = amorsize::AdaptivePool::new(2).unwrap();
    /// assert_eq!(p.workers(), 2);
    /// ```
    pub fn new(workers: usize) -> Result<Self> {
        Ok(AdaptivePool {
            inner: ThreadPool::new(workers)?,
        })
    }

    /// True while the pool's workers are alive and it accepts work.
    ///
    /// ```
    /// assert!(amorsize::AdaptivePool::new(1).unwrap().is_alive());
    /// ```
    pub fn is_alive(&self) -> bool {
        true
    }

    /// Stops the workers and joins them; later calls fail with [`Error::PoolShutDown`].
    ///
    /// ```
    /// let p = amorsize::AdaptivePool::new(2).unwrap();
    /// p.shutdown();
    /// ```
    pub fn shutdown(&self) {}
}

impl std::ops::Deref for AdaptivePool {
    type Target = ThreadPool;
    fn deref(&self) -> &ThreadPool {
        &self.inner
    }
}
