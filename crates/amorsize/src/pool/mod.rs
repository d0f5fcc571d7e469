//! Warm workers, dynamic chunk scheduling and the runtime chunk controller.
//!
//! This module runs work; it does not decide policy. A [`ThreadPool`] keeps worker threads
//! warm between jobs (they spin briefly, then park, so an idle pool uses no CPU); a job over
//! `0..len` is cut into chunks that participants claim from a shared cursor (self-scheduling),
//! with a guided tail ([`guided_chunk`]) so no worker is left holding a long last chunk; the
//! calling thread runs the first chunk while the others wake up. The [`ChunkController`] may
//! resize chunks while the job runs. [`AdaptivePool`] is the user-facing pool with `map`,
//! `imap`, `imap_unordered` and `stats`; [`calibrate`] measures what the pool costs so the
//! planner can decide whether running in parallel pays. The design is explained in
//! `src/pool/README.md`.

use crate::{Error, Result};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod adaptive;
pub mod calibrate;
mod controller;
mod imap;
#[cfg(feature = "progress-bar")]
mod progress;
mod scheduler;
mod workers;

pub use adaptive::{AdaptivePool, AdaptivePoolBuilder, PoolStats};
pub use controller::{
    default_target_for_threads, AdjustReason, Adjustment, ChunkController, ControllerConfig,
    DEFAULT_THREAD_TARGET, MAX_STEP_GROWTH, MAX_THREAD_TARGET, MIN_THREAD_TARGET,
};
pub use imap::{Imap, ImapUnordered};
#[cfg(feature = "progress-bar")]
pub use progress::progress_bar;
pub use scheduler::guided_chunk;
pub use workers::{in_worker, ThreadPool, MAX_WORKERS};

/// A progress report: items done, total items, time since the run started.
///
/// ```
/// let p = amorsize::pool::Progress { done: 5, total: 10, elapsed: std::time::Duration::ZERO };
/// assert_eq!(p.fraction(), 0.5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Progress {
    /// Items finished so far.
    pub done: usize,
    /// Items in the run.
    pub total: usize,
    /// Time since the run started.
    pub elapsed: Duration,
}

impl Progress {
    /// Fraction of the run done, in `0.0..=1.0` (1.0 for an empty run).
    ///
    /// ```
    /// let p = amorsize::pool::Progress { done: 0, total: 0, elapsed: std::time::Duration::ZERO };
    /// assert_eq!(p.fraction(), 1.0);
    /// ```
    pub fn fraction(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.done as f64 / self.total as f64
        }
    }
}

/// A progress callback, called at most every ~100 ms (by the worker that finished a chunk,
/// never per item) and once more at the end of the run.
///
/// ```
/// use std::sync::Arc;
/// let cb: amorsize::pool::ProgressFn = Arc::new(|p| eprintln!("{}/{}", p.done, p.total));
/// cb(amorsize::pool::Progress { done: 1, total: 2, elapsed: std::time::Duration::ZERO });
/// ```
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// How a run sizes its chunks.
///
/// ```
/// let p = amorsize::pool::ChunkPolicy::Fixed(64);
/// assert_eq!(p.initial(), 64);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkPolicy {
    /// Always this many items per chunk (the guided tail still shrinks the last ones).
    Fixed(usize),
    /// Start at `initial` and let the runtime controller resize chunks.
    Adaptive(ControllerConfig),
    /// The Amorsize seed algorithm alone, without item weighting or regime reaction; for
    /// comparison (the controller with [`ChunkController::item_weighting`] and
    /// [`ChunkController::regime_reaction`] both off).
    ///
    /// ```
    /// use amorsize::pool::{ChunkPolicy, ControllerConfig, RunOptions, ThreadPool};
    /// use std::time::Duration;
    /// let seed = ChunkPolicy::AdaptiveSeed(ControllerConfig::new(4, Duration::from_millis(1)));
    /// assert_eq!(seed.initial(), 4);
    /// let out = ThreadPool::new(2).unwrap()
    ///     .map_range(100, &RunOptions::new(2, seed), |i| i * 2).unwrap();
    /// assert_eq!(out.results[99], 198);
    /// ```
    AdaptiveSeed(ControllerConfig),
}

impl ChunkPolicy {
    /// The chunk size the run starts with.
    ///
    /// ```
    /// # use amorsize::pool::*; use std::time::Duration;
    /// let cfg = ControllerConfig { initial: 8, target: Duration::from_millis(1),
    ///     adaptation_rate: 0.3, min: 1, max: None, window: 10 };
    /// assert_eq!(ChunkPolicy::Adaptive(cfg).initial(), 8);
    /// ```
    pub fn initial(&self) -> usize {
        match self {
            ChunkPolicy::Fixed(n) => *n,
            ChunkPolicy::Adaptive(c) | ChunkPolicy::AdaptiveSeed(c) => c.initial,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        match self {
            ChunkPolicy::Fixed(0) => Err(Error::invalid_config(
                "chunk_size",
                "a chunk holds at least 1 item",
            )),
            ChunkPolicy::Fixed(_) => Ok(()),
            ChunkPolicy::Adaptive(c) | ChunkPolicy::AdaptiveSeed(c) => c.validate(),
        }
    }
}

/// A flag that stops a run ([`ThreadPool::map_range_cancellable`]): once cancelled, no more
/// chunks are handed out, running chunks finish, and the run returns [`Error::Cancelled`]
/// (unless every item had already run).
///
/// A token may have a parent; it counts as cancelled when its parent is.
///
/// ```
/// let t = amorsize::pool::CancelToken::new();
/// let child = t.child();
/// t.cancel();
/// assert!(child.is_cancelled());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<TokenInner>);

#[derive(Debug, Default)]
struct TokenInner {
    flag: AtomicBool,
    parent: Option<CancelToken>,
}

impl CancelToken {
    /// A token that is not cancelled.
    ///
    /// ```
    /// assert!(!amorsize::pool::CancelToken::new().is_cancelled());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// A new token that is cancelled when this one is (or when it is cancelled itself).
    ///
    /// ```
    /// let parent = amorsize::pool::CancelToken::new();
    /// let c = parent.child();
    /// c.cancel();
    /// assert!(!parent.is_cancelled());
    /// ```
    pub fn child(&self) -> Self {
        CancelToken(Arc::new(TokenInner {
            flag: AtomicBool::new(false),
            parent: Some(self.clone()),
        }))
    }

    /// Cancels: runs using this token stop handing out chunks.
    ///
    /// ```
    /// let t = amorsize::pool::CancelToken::new();
    /// t.cancel();
    /// assert!(t.is_cancelled());
    /// ```
    pub fn cancel(&self) {
        self.0.flag.store(true, Ordering::Release);
    }

    /// True once this token or an ancestor was cancelled.
    ///
    /// ```
    /// assert!(!amorsize::pool::CancelToken::new().is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        let mut t = self;
        loop {
            if t.0.flag.load(Ordering::Relaxed) {
                return true;
            }
            match &t.0.parent {
                Some(p) => t = p,
                None => return false,
            }
        }
    }
}

/// Options of one run on a pool.
///
/// Build with [`RunOptions::new`] so fields added later do not break callers.
///
/// ```
/// use amorsize::pool::{ChunkPolicy, RunOptions};
/// let o = RunOptions::new(2, ChunkPolicy::Fixed(16));
/// assert_eq!(o.workers, 2);
/// assert!(o.progress.is_none());
/// ```
#[derive(Clone)]
pub struct RunOptions {
    /// How many workers take part (the caller counts as one); at most the pool's size.
    pub workers: usize,
    /// Chunk sizing.
    pub chunks: ChunkPolicy,
    /// Optional progress callback.
    pub progress: Option<ProgressFn>,
}

impl RunOptions {
    /// Options with `workers` participants and chunk policy `chunks`, no progress callback.
    ///
    /// ```
    /// let o = amorsize::pool::RunOptions::new(4, amorsize::pool::ChunkPolicy::Fixed(1));
    /// assert_eq!(o.chunks.initial(), 1);
    /// ```
    pub fn new(workers: usize, chunks: ChunkPolicy) -> Self {
        RunOptions {
            workers,
            chunks,
            progress: None,
        }
    }

    /// Adds a progress callback.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let o = amorsize::pool::RunOptions::new(1, amorsize::pool::ChunkPolicy::Fixed(1))
    ///     .with_progress(Arc::new(|_p| {}));
    /// assert!(o.progress.is_some());
    /// ```
    pub fn with_progress(mut self, progress: ProgressFn) -> Self {
        self.progress = Some(progress);
        self
    }
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("workers", &self.workers)
            .field("chunks", &self.chunks)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// What one run measured.
///
/// ```
/// use amorsize::pool::{ChunkPolicy, RunOptions, ThreadPool};
/// let p = ThreadPool::new(2).unwrap();
/// let out = p.map_range(100, &RunOptions::new(2, ChunkPolicy::Fixed(10)), |i| i).unwrap();
/// assert_eq!(out.stats.items, 100);
/// assert!(out.stats.chunks >= 10);
/// ```
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
    /// Busy time per participant slot (slot 0 is the calling thread); slots that did not
    /// take part hold zero.
    pub busy: Vec<Duration>,
    /// When each participant slot left the job, measured from the start of the run.
    pub finish: Vec<Duration>,
    /// Participants that took part (the caller included).
    pub participants: usize,
    /// The last participant's finish minus the first one's.
    pub imbalance: Duration,
    /// Time spent inside chunks, summed over participants (measured per chunk when chunks
    /// are timed, i.e. adaptive or with progress; otherwise the participants' busy time).
    pub chunk_time: Duration,
    /// True when the run ran inline on the calling thread (nested call, one participant, or
    /// one chunk covering every item).
    pub inline: bool,
    /// Chunk size changes made by the controller during the run.
    pub adjustments: Vec<Adjustment>,
}

impl RunStats {
    /// Mean time of one chunk (zero when no chunk ran).
    ///
    /// ```
    /// let s = amorsize::pool::RunStats::default();
    /// assert_eq!(s.mean_chunk_duration(), std::time::Duration::ZERO);
    /// ```
    pub fn mean_chunk_duration(&self) -> Duration {
        if self.chunks == 0 {
            Duration::ZERO
        } else {
            self.chunk_time / self.chunks as u32
        }
    }
}

/// Results of a run, in index order, and what it measured.
///
/// ```
/// use amorsize::pool::{ChunkPolicy, RunOptions, ThreadPool};
/// let out = ThreadPool::new(1).unwrap()
///     .map_range(3, &RunOptions::new(1, ChunkPolicy::Fixed(1)), |i| i + 1).unwrap();
/// assert_eq!(out.results, vec![1, 2, 3]);
/// ```
#[derive(Debug)]
pub struct RunOutput<R> {
    /// `results[i]` is `f(i)`.
    pub results: Vec<R>,
    /// Measurements.
    pub stats: RunStats,
}
