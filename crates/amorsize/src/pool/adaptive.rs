//! [`AdaptivePool`]: the user-facing pool — warm workers plus the runtime chunk controller,
//! with `map`, `imap`, `imap_unordered`, `stats`, `close`, `terminate` — and its builder.
//!
//! ```
//! use amorsize::{AdaptivePool, Error};
//! use std::time::Duration;
//! let pool = AdaptivePool::builder().workers(2).initial_chunk_size(4)
//!     .target_chunk_duration(Duration::from_millis(1)).build()?;
//! let squares = pool.map(&(0..100u64).collect::<Vec<_>>(), |x| x * x)?;
//! assert_eq!(squares[7], 49);
//! let lazy: Vec<u64> = pool.imap(0..5u64, |x| x + 1).collect::<Result<_, _>>()?;
//! assert_eq!(lazy, vec![1, 2, 3, 4, 5]);
//! assert_eq!(pool.stats().items, 105);
//! pool.close();
//! assert!(matches!(pool.map(&[1], |x| *x), Err(Error::PoolClosed)));
//! # Ok::<(), amorsize::Error>(())
//! ```

use super::imap::{self, Imap, ImapUnordered};
use super::{calibrate, Adjustment, CancelToken, ChunkPolicy, ControllerConfig};
use super::{ProgressFn, RunOptions, ThreadPool};
use crate::{Error, Result};
use serde::Serialize;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// At most this many adjustments are kept in [`PoolStats::adjustments`] (the newest).
const MAX_HISTORY: usize = 1000;

/// Builder of an [`AdaptivePool`]; every setting is validated by [`build`](Self::build).
///
/// ```
/// use std::time::Duration;
/// let pool = amorsize::AdaptivePool::builder()
///     .workers(2).initial_chunk_size(20)
///     .target_chunk_duration(Duration::from_millis(2))
///     .adaptation_rate(0.3).min_chunk_size(1).max_chunk_size(Some(512))
///     .window(10).adaptation(true)
///     .build()?;
/// assert_eq!(pool.workers(), 2);
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Clone)]
pub struct AdaptivePoolBuilder {
    workers: Option<usize>,
    initial_chunk_size: usize,
    target: Option<Duration>,
    adaptation_rate: f64,
    min: usize,
    max: Option<usize>,
    window: usize,
    adaptation: bool,
    progress: Option<ProgressFn>,
    imap_batch: Option<usize>,
    on_demand: bool,
}

impl fmt::Debug for AdaptivePoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptivePoolBuilder")
            .field("workers", &self.workers)
            .field("initial_chunk_size", &self.initial_chunk_size)
            .field("target", &self.target)
            .field("adaptation_rate", &self.adaptation_rate)
            .field("min", &self.min)
            .field("max", &self.max)
            .field("window", &self.window)
            .field("adaptation", &self.adaptation)
            .field("progress", &self.progress.is_some())
            .field("imap_batch", &self.imap_batch)
            .field("on_demand", &self.on_demand)
            .finish()
    }
}

impl Default for AdaptivePoolBuilder {
    fn default() -> Self {
        AdaptivePoolBuilder {
            workers: None,
            initial_chunk_size: 16,
            target: None,
            adaptation_rate: 0.3,
            min: 1,
            max: None,
            window: 10,
            adaptation: true,
            progress: None,
            imap_batch: None,
            on_demand: false,
        }
    }
}

impl AdaptivePoolBuilder {
    /// Participants (the calling thread counts as one). Default: the effective core count.
    ///
    /// ```
    /// assert!(amorsize::AdaptivePool::builder().workers(0).build().is_err());
    /// ```
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n);
        self
    }
    /// First chunk size (default 16). Must lie within `min..=max`.
    ///
    /// ```
    /// let p = amorsize::AdaptivePool::builder().workers(1).initial_chunk_size(4).build().unwrap();
    /// assert_eq!(p.stats().initial_chunk_size, 4);
    /// ```
    pub fn initial_chunk_size(mut self, n: usize) -> Self {
        self.initial_chunk_size = n;
        self
    }
    /// The duration the controller aims for per chunk. Default: derived from the measured
    /// per-chunk cost so dispatch stays under 1% of the work ([`calibrate::default_target`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = amorsize::AdaptivePool::builder().workers(1)
    ///     .target_chunk_duration(Duration::from_millis(3)).build().unwrap();
    /// assert_eq!(p.stats().target_chunk_duration, Duration::from_millis(3));
    /// ```
    pub fn target_chunk_duration(mut self, d: Duration) -> Self {
        self.target = Some(d);
        self
    }
    /// How far one adjustment moves toward the target, in `0..=1` (default 0.3).
    ///
    /// ```
    /// assert!(amorsize::AdaptivePool::builder().adaptation_rate(1.5).build().is_err());
    /// ```
    pub fn adaptation_rate(mut self, r: f64) -> Self {
        self.adaptation_rate = r;
        self
    }
    /// Smallest chunk size (default 1).
    ///
    /// ```
    /// assert!(amorsize::AdaptivePool::builder().min_chunk_size(0).build().is_err());
    /// ```
    pub fn min_chunk_size(mut self, n: usize) -> Self {
        self.min = n;
        self
    }
    /// Largest chunk size, `None` for no bound (default).
    ///
    /// ```
    /// assert!(amorsize::AdaptivePool::builder().min_chunk_size(8).max_chunk_size(Some(4)).build().is_err());
    /// ```
    pub fn max_chunk_size(mut self, n: Option<usize>) -> Self {
        self.max = n;
        self
    }
    /// Chunk durations in the controller's moving window (default 10).
    ///
    /// ```
    /// assert!(amorsize::AdaptivePool::builder().window(0).build().is_err());
    /// ```
    pub fn window(mut self, n: usize) -> Self {
        self.window = n;
        self
    }
    /// Whether the controller resizes chunks (default true); with `false` the size stays fixed.
    ///
    /// ```
    /// let p = amorsize::AdaptivePool::builder().workers(1).adaptation(false).build().unwrap();
    /// assert!(!p.stats().adaptation);
    /// ```
    pub fn adaptation(mut self, on: bool) -> Self {
        self.adaptation = on;
        self
    }
    /// A progress callback for `map` runs (at most every ~100 ms, plus a final call).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let p = amorsize::AdaptivePool::builder().workers(1).progress(Arc::new(|_p| {})).build();
    /// assert!(p.is_ok());
    /// ```
    pub fn progress(mut self, f: ProgressFn) -> Self {
        self.progress = Some(f);
        self
    }
    /// Items `imap`/`imap_unordered` pull from the input per batch (default
    /// `4 × workers × initial_chunk_size`, at most 65,536); this sets their memory bound.
    ///
    /// ```
    /// let p = amorsize::AdaptivePool::builder().workers(2).imap_batch(100).build().unwrap();
    /// assert_eq!(p.imap_batch(), 100);
    /// ```
    pub fn imap_batch(mut self, n: usize) -> Self {
        self.imap_batch = Some(n);
        self
    }

    /// Spawns the pool's threads as its jobs first need them instead of all in `build` (see
    /// [`ThreadPool::on_demand`]). The pool manager's pools do: a pool sized for work that
    /// waits costs a job that computes on a few of its threads no more than those.
    ///
    /// ```
    /// let p = amorsize::AdaptivePool::builder().workers(8).threads_on_demand(true).build()?;
    /// assert_eq!(p.workers(), 8);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn threads_on_demand(mut self, yes: bool) -> Self {
        self.on_demand = yes;
        self
    }

    /// Validates the settings and starts the pool's threads (unless they are spawned on
    /// demand).
    ///
    /// ```
    /// let err = amorsize::AdaptivePool::builder().adaptation_rate(f64::NAN).build().unwrap_err();
    /// assert!(matches!(err, amorsize::Error::InvalidConfig { ref setting, .. } if setting == "adaptation_rate"));
    /// ```
    pub fn build(self) -> Result<AdaptivePool> {
        let workers = match self.workers {
            Some(0) => return Err(Error::invalid_config("workers", "must be at least 1")),
            Some(n) => n,
            None => crate::system::info().cores.effective.max(1),
        };
        if self.imap_batch == Some(0) {
            return Err(Error::invalid_config(
                "imap_batch",
                "a batch holds at least 1 item",
            ));
        }
        if let Some(t) = self.target {
            if t.is_zero() {
                return Err(Error::invalid_config(
                    "target_chunk_duration",
                    "must be greater than zero",
                ));
            }
        }
        let cfg = ControllerConfig {
            initial: self.initial_chunk_size,
            target: self.target.unwrap_or(Duration::from_millis(1)),
            adaptation_rate: self.adaptation_rate,
            min: self.min,
            max: self.max,
            window: self.window,
        };
        cfg.validate()?;
        if cfg.initial < cfg.min || cfg.max.is_some_and(|m| cfg.initial > m) {
            return Err(Error::invalid_config(
                "initial_chunk_size",
                format!(
                    "{} lies outside min_chunk_size..=max_chunk_size ({}..={})",
                    cfg.initial,
                    cfg.min,
                    cfg.max.map_or("unbounded".to_string(), |m| m.to_string())
                ),
            ));
        }
        // Without a target, the calibrated default is looked up when a run first needs it
        // (`Inner::config`): calibrating takes a few milliseconds, and the pool manager builds
        // pools for par_map, whose runs bring chunk policies of their own.
        let pool = if self.on_demand {
            ThreadPool::on_demand(workers)?
        } else {
            ThreadPool::new(workers)?
        };
        let batch = self.imap_batch.unwrap_or_else(|| {
            (4 * pool.workers())
                .saturating_mul(cfg.initial)
                .clamp(1, 65_536)
        });
        Ok(AdaptivePool {
            inner: Arc::new(Inner {
                stats: Mutex::new(Acc {
                    current: cfg.initial,
                    ..Acc::default()
                }),
                pool,
                cfg,
                calibrated_target: self.target.is_none(),
                adaptation: self.adaptation,
                progress: self.progress,
                imap_batch: batch,
                closed: AtomicBool::new(false),
                terminate: CancelToken::new(),
            }),
        })
    }
}

#[derive(Debug, Default)]
struct Acc {
    current: usize,
    adjustments: Vec<Adjustment>,
    runs: usize,
    chunks: usize,
    items: usize,
    chunk_time: Duration,
    busy: Vec<Duration>,
    wall: Duration,
    imbalance: Duration,
}

pub(crate) struct Inner {
    pool: ThreadPool,
    /// The controller's settings; its target is a placeholder when `calibrated_target`.
    cfg: ControllerConfig,
    /// No target was set: use [`calibrate::default_target`] (see [`Inner::config`]).
    calibrated_target: bool,
    adaptation: bool,
    progress: Option<ProgressFn>,
    pub(crate) imap_batch: usize,
    closed: AtomicBool,
    pub(crate) terminate: CancelToken,
    stats: Mutex<Acc>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    /// The controller's settings, with the calibrated default target when none was set
    /// (calibrating on the first call in the process).
    fn config(&self) -> ControllerConfig {
        let mut cfg = self.cfg.clone();
        if self.calibrated_target {
            cfg.target = calibrate::default_target(&calibrate::costs());
        }
        cfg
    }

    /// One run over `0..len` with the pool's chunk policy; updates the stats. `sequential`
    /// runs it on the calling thread (an imap driver serving a reader that is itself inside
    /// one of this pool's jobs: fanning out would wait for the reader's job, a deadlock).
    pub(crate) fn run<R: Send, F: Fn(usize) -> R + Sync>(
        &self,
        len: usize,
        f: F,
        cancel: CancelToken,
        progress: bool,
        sequential: bool,
    ) -> Result<Vec<R>> {
        if self.pool.is_shut_down() {
            return Err(Error::PoolShutDown);
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::PoolClosed);
        }
        let current = lock(&self.stats).current;
        let chunks = if self.adaptation {
            ChunkPolicy::Adaptive(ControllerConfig {
                initial: current,
                ..self.config()
            })
        } else {
            ChunkPolicy::Fixed(current)
        };
        let workers = if sequential { 1 } else { self.pool.workers() };
        let mut opts = RunOptions::new(workers, chunks);
        if progress {
            opts.progress = self.progress.clone();
        }
        let out = self.pool.map_range_cancellable(len, &opts, &cancel, f)?;
        let s = out.stats;
        let mut acc = lock(&self.stats);
        if self.adaptation && s.chunks > 0 {
            let max = self.cfg.max.unwrap_or(usize::MAX);
            acc.current = s.final_chunk_size.clamp(self.cfg.min, max);
        }
        acc.adjustments.extend(s.adjustments.iter().cloned());
        if acc.adjustments.len() > MAX_HISTORY {
            let cut = acc.adjustments.len() - MAX_HISTORY;
            acc.adjustments.drain(..cut);
        }
        acc.runs += 1;
        acc.chunks += s.chunks;
        acc.items += s.items;
        acc.chunk_time += s.chunk_time;
        if acc.busy.len() < s.busy.len() {
            acc.busy.resize(s.busy.len(), Duration::ZERO);
        }
        for (a, b) in acc.busy.iter_mut().zip(&s.busy) {
            *a += *b;
        }
        acc.wall += s.wall;
        acc.imbalance = s.imbalance;
        Ok(out.results)
    }
}

/// The user-facing pool: warm workers plus adaptive chunking, `map`, `imap`, `stats`.
///
/// The chunk size a run ends with is where the next run starts, so the pool keeps what it
/// learned. It is `Sync`: [`terminate`](AdaptivePool::terminate) may be called from another
/// thread while a `map` runs.
///
/// ```
/// let pool = amorsize::AdaptivePool::builder().workers(2).initial_chunk_size(8).build()?;
/// let items: Vec<u32> = (0..1000).collect();
/// let v = pool.map(&items, |x| x * 2)?;
/// assert_eq!(v[999], 1998);
/// println!("{}", pool.stats());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub struct AdaptivePool {
    inner: Arc<Inner>,
}

impl fmt::Debug for AdaptivePool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptivePool")
            .field("pool", &self.inner.pool)
            .field("config", &self.inner.cfg)
            .field("calibrated_target", &self.inner.calibrated_target)
            .field("adaptation", &self.inner.adaptation)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl AdaptivePool {
    /// A pool of `workers` with default settings.
    ///
    /// ```
    /// let p = amorsize::AdaptivePool::new(2).unwrap();
    /// assert_eq!(p.workers(), 2);
    /// ```
    pub fn new(workers: usize) -> Result<Self> {
        Self::builder().workers(workers).build()
    }

    /// A builder with the default settings.
    ///
    /// ```
    /// let p = amorsize::AdaptivePool::builder().workers(1).build().unwrap();
    /// assert!(p.is_alive());
    /// ```
    pub fn builder() -> AdaptivePoolBuilder {
        AdaptivePoolBuilder::default()
    }

    /// True while the pool's workers are alive and it accepts work.
    ///
    /// ```
    /// let p = amorsize::AdaptivePool::new(1).unwrap();
    /// assert!(p.is_alive());
    /// p.close();
    /// assert!(!p.is_alive());
    /// ```
    pub fn is_alive(&self) -> bool {
        !self.is_closed() && self.inner.pool.is_alive()
    }

    /// True after [`close`](Self::close) or [`terminate`](Self::terminate).
    ///
    /// ```
    /// let p = amorsize::AdaptivePool::new(1).unwrap();
    /// assert!(!p.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Stops the workers and joins them; later calls fail with [`Error::PoolShutDown`].
    ///
    /// ```
    /// let p = amorsize::AdaptivePool::new(2).unwrap();
    /// p.shutdown();
    /// assert!(matches!(p.map(&[1], |x| *x), Err(amorsize::Error::PoolShutDown)));
    /// ```
    pub fn shutdown(&self) {
        self.inner.pool.shutdown();
    }

    /// Whether an [`imap`](Self::imap) or [`imap_unordered`](Self::imap_unordered) iterator
    /// made on this pool still runs (its driver shares the pool).
    ///
    /// ```
    /// let p = amorsize::AdaptivePool::new(2).unwrap();
    /// let it = p.imap(0..10, |x| x + 1);
    /// assert!(p.has_iterators());
    /// drop(it);
    /// assert!(!p.has_iterators());
    /// ```
    pub fn has_iterators(&self) -> bool {
        Arc::strong_count(&self.inner) > 1
    }

    /// Accepts no more work: later calls fail with [`Error::PoolClosed`]; a running call
    /// finishes normally. The threads are joined when the pool is dropped or shut down.
    ///
    /// ```
    /// let p = amorsize::AdaptivePool::new(2).unwrap();
    /// p.close();
    /// assert!(matches!(p.map(&[1], |x| *x), Err(amorsize::Error::PoolClosed)));
    /// ```
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
    }

    /// Closes the pool and stops running calls at once: no more chunks are handed out,
    /// running chunks finish, and the call returns [`Error::Cancelled`].
    ///
    /// ```
    /// let p = amorsize::AdaptivePool::new(2).unwrap();
    /// p.terminate();
    /// assert!(p.map(&[1, 2, 3], |x| *x).is_err());
    /// ```
    pub fn terminate(&self) {
        self.close();
        self.inner.terminate.cancel();
    }

    /// Runs `f` on every item; results in input order.
    ///
    /// ```
    /// let p = amorsize::AdaptivePool::new(2).unwrap();
    /// assert_eq!(p.map(&["a", "bb"], |s| s.len()).unwrap(), vec![1, 2]);
    /// ```
    pub fn map<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(
        &self,
        items: &[T],
        f: F,
    ) -> Result<Vec<R>> {
        self.inner.run(
            items.len(),
            |i| f(&items[i]),
            self.inner.terminate.clone(),
            true,
            false,
        )
    }

    /// An ordered, lazy iterator of `f(item)` over `iter`, computed on the pool in batches
    /// of [`imap_batch`](Self::imap_batch) items by a driver thread.
    ///
    /// Memory bound: at most `3 × imap_batch` results exist at once (one batch being
    /// computed, one queued, one being handed out) plus one batch of inputs, however slowly
    /// the reader reads. A panic of `f` yields one `Err(TaskPanicked)` (index in the whole
    /// input) and ends the iterator; a panic of the input iterator `iter` (pulled on the driver)
    /// is raised again in the reader, after the results of the items before it. Dropping the
    /// iterator cancels the work and joins the driver, unless the driver is waiting in `iter`'s
    /// `next` (a channel, a socket): then it is left to end as soon as `iter` yields, and the
    /// drop returns at once.
    ///
    /// ```
    /// let p = amorsize::AdaptivePool::new(2).unwrap();
    /// let v: Vec<u64> = p.imap(0..100u64, |x| x * x).map(|r| r.unwrap()).collect();
    /// assert_eq!(v[9], 81);
    /// ```
    pub fn imap<I, T, R, F>(&self, iter: I, f: F) -> Imap<R>
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
        T: Send + Sync + 'static,
        R: Send + 'static,
        F: Fn(&T) -> R + Send + Sync + 'static,
    {
        imap::ordered(self.inner.clone(), iter.into_iter(), f)
    }

    /// Like [`imap`](Self::imap) but yields results as they finish (any order).
    ///
    /// Memory bound: at most `2 × imap_batch` results exist at once (the driver takes a
    /// credit per input before a batch starts; reading a result returns one). Workers never
    /// block inside a job, so the reader may use the same pool inside its loop.
    ///
    /// ```
    /// let p = amorsize::AdaptivePool::new(2).unwrap();
    /// let mut v: Vec<u64> = p.imap_unordered(0..100u64, |x| x + 1).map(|r| r.unwrap()).collect();
    /// v.sort();
    /// assert_eq!(v, (1..=100).collect::<Vec<_>>());
    /// ```
    pub fn imap_unordered<I, T, R, F>(&self, iter: I, f: F) -> ImapUnordered<R>
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
        T: Send + Sync + 'static,
        R: Send + 'static,
        F: Fn(&T) -> R + Send + Sync + 'static,
    {
        imap::unordered(self.inner.clone(), iter.into_iter(), f)
    }

    /// Items `imap` pulls from its input per batch (its memory bound is 3 × this).
    ///
    /// ```
    /// assert!(amorsize::AdaptivePool::new(2).unwrap().imap_batch() >= 1);
    /// ```
    pub fn imap_batch(&self) -> usize {
        self.inner.imap_batch
    }

    /// What the pool measured over all its runs so far.
    ///
    /// ```
    /// let p = amorsize::AdaptivePool::builder().workers(2).adaptation(false).initial_chunk_size(10).build().unwrap();
    /// p.map(&vec![0u8; 1000], |x| *x).unwrap();
    /// let s = p.stats();
    /// assert_eq!(s.items, 1000);
    /// assert_eq!(s.current_chunk_size, 10);
    /// let json = serde_json::to_string(&s).unwrap();
    /// assert!(json.contains("\"items\":1000"));
    /// ```
    pub fn stats(&self) -> PoolStats {
        let acc = lock(&self.inner.stats);
        let wall = acc.wall;
        PoolStats {
            workers: self.inner.pool.workers(),
            requested_workers: self.inner.pool.requested_workers(),
            spawn_error: self.inner.pool.spawn_error().map(str::to_string),
            adaptation: self.inner.adaptation,
            target_chunk_duration: self.inner.config().target,
            initial_chunk_size: self.inner.cfg.initial,
            current_chunk_size: acc.current,
            adjustments: acc.adjustments.clone(),
            runs: acc.runs,
            chunks: acc.chunks,
            items: acc.items,
            mean_chunk_duration: super::mean_duration(acc.chunk_time, acc.chunks as u128),
            busy: acc.busy.clone(),
            utilization: acc
                .busy
                .iter()
                .map(|b| {
                    if wall.is_zero() {
                        0.0
                    } else {
                        (b.as_secs_f64() / wall.as_secs_f64()).min(1.0)
                    }
                })
                .collect(),
            wall,
            imbalance: acc.imbalance,
        }
    }
}

impl std::ops::Deref for AdaptivePool {
    type Target = ThreadPool;
    fn deref(&self) -> &ThreadPool {
        &self.inner.pool
    }
}

/// What an [`AdaptivePool`] measured over its runs.
///
/// ```
/// let p = amorsize::AdaptivePool::new(1).unwrap();
/// let s = p.stats();
/// assert_eq!(s.runs, 0);
/// assert!(s.to_string().contains("chunk size"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolStats {
    /// Participants per run (the calling thread included).
    pub workers: usize,
    /// Participants asked for; more than `workers` when the OS refused threads.
    pub requested_workers: usize,
    /// Why the OS refused a thread, if it did (the pool runs with the threads it got).
    pub spawn_error: Option<String>,
    /// Whether the controller resizes chunks.
    pub adaptation: bool,
    /// The controller's target chunk duration.
    pub target_chunk_duration: Duration,
    /// The configured initial chunk size.
    pub initial_chunk_size: usize,
    /// The chunk size the next run starts with.
    pub current_chunk_size: usize,
    /// Chunk size changes, oldest first (the newest 1000).
    pub adjustments: Vec<Adjustment>,
    /// Runs finished successfully.
    pub runs: usize,
    /// Chunks run.
    pub chunks: usize,
    /// Items run.
    pub items: usize,
    /// Mean duration of one chunk.
    pub mean_chunk_duration: Duration,
    /// Busy time per participant slot (slot 0 is the calling thread), summed over runs.
    pub busy: Vec<Duration>,
    /// `busy / wall` per participant slot.
    pub utilization: Vec<f64>,
    /// Wall time of all runs.
    pub wall: Duration,
    /// Imbalance at the end of the last run: the last participant's finish minus the first's.
    pub imbalance: Duration,
}

impl fmt::Display for PoolStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "pool: {} workers, adaptation {}, target chunk {:?}",
            self.workers,
            if self.adaptation { "on" } else { "off" },
            self.target_chunk_duration
        )?;
        if let Some(e) = &self.spawn_error {
            writeln!(
                f,
                "  (asked for {} workers; the OS refused a thread: {e})",
                self.requested_workers
            )?;
        }
        writeln!(
            f,
            "chunk size: {} now (initial {}), {} adjustments",
            self.current_chunk_size,
            self.initial_chunk_size,
            self.adjustments.len()
        )?;
        for a in self.adjustments.iter().rev().take(5).rev() {
            writeln!(f, "  {a:?}")?;
        }
        writeln!(
            f,
            "runs {}, chunks {}, items {}, mean chunk {:?}, wall {:?}",
            self.runs, self.chunks, self.items, self.mean_chunk_duration, self.wall
        )?;
        write!(f, "utilization:")?;
        for (i, u) in self.utilization.iter().enumerate() {
            write!(f, " w{i} {:.0}%", u * 100.0)?;
        }
        writeln!(f)?;
        write!(
            f,
            "imbalance at the end of the last run: {:?}",
            self.imbalance
        )
    }
}
