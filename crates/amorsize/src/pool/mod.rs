//! Warm workers, dynamic chunk scheduling and the runtime chunk controller.
//!
//! This module runs work; it does not decide policy. A [`ThreadPool`] keeps worker threads
//! warm between jobs (they spin briefly, then park, so an idle pool uses no CPU); a job over
//! `0..len` is split into one contiguous range per participant, each claims chunks from the
//! front of its own range and steals the back half of the largest other range when its own is
//! empty (so every core walks contiguous memory and none idles while work is left), with a
//! guided tail ([`guided_chunk`]) so no worker is left holding a long last chunk; the calling
//! thread runs its first chunk while the others wake up. The [`ChunkController`] may
//! resize chunks while the job runs; a job may grow ([`Growth`]), or leave its rest to the
//! caller alone when its items hold each other up ([`Solo`]). [`AdaptivePool`] is the user-facing pool with `map`,
//! `imap`, `imap_unordered` and `stats`; [`calibrate`] measures what the pool costs so the
//! planner can decide whether running in parallel pays. The design is explained in
//! `src/pool/README.md`.
//!
//! ```
//! use amorsize::pool::{AdaptivePool, ChunkPolicy, ControllerConfig, RunOptions, ThreadPool};
//! use std::time::Duration;
//! // The warm pool runs a job over 0..len, results in index order, every item once.
//! let pool = ThreadPool::new(2)?;
//! let policy = ChunkPolicy::Adaptive(ControllerConfig::new(8, Duration::from_millis(1)));
//! let out = pool.map_range(1000, &RunOptions::new(2, policy), |i| i * 3)?;
//! assert!(out.results.iter().enumerate().all(|(i, r)| *r == i * 3));
//! assert_eq!(out.stats.items, 1000);
//! // The user-facing pool maps a slice and keeps what its controller learned.
//! let pool = AdaptivePool::builder().workers(2)
//!     .target_chunk_duration(Duration::from_millis(1)).build()?;
//! assert_eq!(pool.map(&[1, 2, 3], |x| x * 10)?, vec![10, 20, 30]);
//! assert_eq!(pool.stats().items, 3);
//! # Ok::<(), amorsize::Error>(())
//! ```

use crate::{Error, Result};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod adaptive;
pub mod calibrate;
mod controller;
pub(crate) mod early;
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
    /// Optional growth: the job may take more workers than `workers` once it has watched how
    /// much CPU its first items use (see [`Growth`]).
    pub grow: Option<Growth>,
    /// Optional check whether the caller should finish the job alone (see [`Solo`]).
    pub solo: Option<Solo>,
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
            grow: None,
            solo: None,
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

    /// Lets the job grow (see [`Growth`]).
    ///
    /// ```
    /// use amorsize::pool::{ChunkPolicy, Growth, RunOptions};
    /// use std::time::Duration;
    /// let o = RunOptions::new(2, ChunkPolicy::Fixed(1))
    ///     .with_growth(Growth::new(8, Duration::from_micros(200), |_seen| 8));
    /// assert_eq!(o.grow.unwrap().max_workers, 8);
    /// ```
    pub fn with_growth(mut self, grow: Growth) -> Self {
        self.grow = Some(grow);
        self
    }

    /// Lets the caller take the job over alone (see [`Solo`]).
    ///
    /// ```
    /// use amorsize::pool::{ChunkPolicy, RunOptions, Solo};
    /// use std::time::Duration;
    /// let o = RunOptions::new(2, ChunkPolicy::Fixed(100))
    ///     .with_solo(Solo::new(Duration::from_millis(1), |seen| seen.cpu_share() < 0.5));
    /// assert_eq!(o.solo.unwrap().after, Duration::from_millis(1));
    /// ```
    pub fn with_solo(mut self, solo: Solo) -> Self {
        self.solo = Some(solo);
        self
    }
}

/// Which decides, from what the caller saw of its own first chunks ([`CallerSeen`]), whether
/// the caller should finish the job alone.
pub type SoloFn = Arc<dyn Fn(&CallerSeen) -> bool + Send + Sync>;

/// A check, made once, whether a running job's other participants should stop taking chunks
/// and leave the rest to the caller.
///
/// Items that run side by side may hold each other up: one lock that every item takes, one
/// device they all use. Then more participants do not run more items, they only hand the lock
/// over more often. Once the caller has been in the job for `after` (at the end of its first
/// chunk past that), it measures its own thread over that time ([`CallerSeen`]: its CPU time,
/// how often it blocked, the items it ran) and asks `decide`; on `true` the other
/// participants take no new chunk and the caller claims every chunk left (theirs included).
/// Items already started finish where they are; every item still runs exactly once. The pool
/// only measures and obeys: whether what the caller saw means contention is `decide`'s
/// policy. A job run inline, or one that may grow, makes no check.
///
/// ```
/// use amorsize::pool::{ChunkPolicy, RunOptions, Solo, ThreadPool};
/// use std::sync::Mutex;
/// use std::time::Duration;
/// let lock = Mutex::new(0u64);
/// let pool = ThreadPool::new(2)?;
/// // A policy that always says yes: the caller goes on alone at the end of its first chunk
/// // (when it runs one: on a busy machine the worker may take every item before it enters).
/// let opts = RunOptions::new(2, ChunkPolicy::Fixed(10))
///     .with_solo(Solo::new(Duration::ZERO, |_seen| true));
/// let out = pool.map_range(1_000, &opts, |i| { *lock.lock().unwrap() += 1; i })?;
/// assert_eq!(out.results, (0..1_000).collect::<Vec<_>>());
/// assert_eq!(*lock.lock().unwrap(), 1_000); // each item once
/// if let Some(seen) = out.stats.solo {
///     assert!(seen.items >= 1 && seen.job_items >= seen.items);
/// }
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Clone)]
pub struct Solo {
    /// The caller's time in the job after which it checks (at its first chunk end past it).
    pub after: Duration,
    /// Whether the caller goes on alone, given what it saw.
    pub decide: SoloFn,
}

impl Solo {
    /// A check after `after` in the job, asking `decide`.
    ///
    /// ```
    /// let s = amorsize::pool::Solo::new(std::time::Duration::from_millis(2), |_| false);
    /// assert_eq!(s.after.as_millis(), 2);
    /// ```
    pub fn new(
        after: Duration,
        decide: impl Fn(&CallerSeen) -> bool + Send + Sync + 'static,
    ) -> Self {
        Solo {
            after,
            decide: Arc::new(decide),
        }
    }
}

impl std::fmt::Debug for Solo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Solo")
            .field("after", &self.after)
            .finish_non_exhaustive()
    }
}

/// What a job's caller saw of its own time in the job when it made its [`Solo`] check.
///
/// ```
/// use std::time::Duration;
/// let seen = amorsize::pool::CallerSeen { participants: 2, wall: Duration::from_millis(2),
///     cpu: Duration::from_millis(1), blocked: 400, items: 900, job_items: 1_700,
///     job_wall: Duration::from_millis(2) };
/// assert!((seen.cpu_share() - 0.5).abs() < 1e-9);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CallerSeen {
    /// Participants in the job then (the caller included).
    pub participants: usize,
    /// The caller's time in the job so far.
    pub wall: Duration,
    /// CPU time the caller's thread burned over it.
    pub cpu: Duration,
    /// Times the caller's thread blocked over it (voluntary context switches): waits for a
    /// lock, a device, a sleep; never a preemption.
    pub blocked: u64,
    /// Items the caller ran over it.
    pub items: usize,
    /// Items every participant ran (the caller's included) since the job started; the items
    /// of chunks still running are not in it.
    pub job_items: usize,
    /// The job's time since it started (workers may start before the caller enters).
    pub job_wall: Duration,
}

impl CallerSeen {
    /// The caller's CPU time over its time in the job (0 for no time).
    ///
    /// ```
    /// assert_eq!(amorsize::pool::CallerSeen { participants: 1, wall: Default::default(),
    ///     cpu: Default::default(), blocked: 0, items: 0, job_items: 0, job_wall: Default::default() }
    ///     .cpu_share(), 0.0);
    /// ```
    pub fn cpu_share(&self) -> f64 {
        if self.wall.is_zero() {
            0.0
        } else {
            self.cpu.as_secs_f64() / self.wall.as_secs_f64()
        }
    }
}

/// Which decides how many participants a job wants, from what its [`Observed`] window saw.
///
/// ```
/// use amorsize::pool::{GrowFn, Growth, Observed};
/// use std::{sync::Arc, time::Duration};
/// // Workers that mostly wait (under half a core each): ask for twice as many.
/// let decide: GrowFn = Arc::new(|seen: &Observed| {
///     if seen.cpu_per_worker() < 0.5 { 2 * seen.workers } else { seen.workers }
/// });
/// let window = Duration::from_micros(200);
/// let g = Growth { max_workers: 8, window, patience: window * 20, decide, second_look: None };
/// let waiting = Observed { workers: 2, wall: window, cpu: Duration::from_micros(40),
///     others: Duration::ZERO, run_delay: Duration::ZERO, grew_to: None, blocks: None };
/// assert_eq!((g.decide)(&waiting), 4);
/// assert_eq!((g.decide)(&Observed { cpu: window * 2, ..waiting }), 2);
/// ```
pub type GrowFn = Arc<dyn Fn(&Observed) -> usize + Send + Sync>;

/// Lets a running job take more workers than it started with.
///
/// The pool only measures and obeys; the caller's `decide` function (the planner's policy)
/// says how many participants the job should have. The job starts with
/// [`RunOptions::workers`]; the calling thread waits until the workers it woke have entered
/// (at most `patience`), then watches them for `window`, reading the process's CPU clock
/// and its own, and calls `decide` with what the other threads burned ([`Observed`]). If the
/// answer is larger than the participants the job has (and at most `max_workers` and the
/// pool's size), more workers are let in and woken; then the caller takes part as usual.
/// Growth never removes a participant. A job run inline (nested, one chunk, one participant)
/// never grows.
///
/// ```
/// use amorsize::pool::{ChunkPolicy, Growth, RunOptions, ThreadPool};
/// use std::time::Duration;
/// let p = ThreadPool::new(8)?;
/// // Items that wait (a sleep) use almost no CPU: the job asks for all 8 participants.
/// let opts = RunOptions::new(2, ChunkPolicy::Fixed(1)).with_growth(Growth::new(
///     8,
///     Duration::from_micros(300),
///     |seen| if seen.cpu_per_worker() < 0.5 { 8 } else { seen.workers + 1 },
/// ));
/// let out = p.map_range(32, &opts, |i| { std::thread::sleep(Duration::from_millis(2)); i })?;
/// assert_eq!(out.results.len(), 32);
/// let seen = out.stats.observed.expect("the job was watched");
/// assert!(seen.workers >= 1 && seen.wall > Duration::ZERO);
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Clone)]
pub struct Growth {
    /// The most participants (the caller included) the job may grow to.
    pub max_workers: usize,
    /// How long the caller watches the workers' CPU use.
    pub window: Duration,
    /// How long the caller waits for the first workers to enter before it gives up watching
    /// (20 windows unless set, saturating at `Duration::MAX`; on a loaded machine a wake-up can
    /// take milliseconds).
    pub patience: Duration,
    /// The participants wanted, given what the window saw.
    pub decide: GrowFn,
    /// Unless the window gave the job all `max_workers`: how long after the window's start
    /// the caller looks again at the same workers (between its own chunks, so at the first
    /// chunk end past it), over the whole time since the window started, and asks `decide`
    /// again. A moment can mislead: an item that computes first and waits after reads as
    /// computing when the window falls on its computing part. A look that grows the job is
    /// followed by another as long after it, over the time since, which asks `decide` only if
    /// the job claimed its items at least 1.2× as fast after the growth as before it (a
    /// worker's share reads lower as the job widens; items queued for one resource run no
    /// faster however wide). `None` (the default): no second look.
    pub second_look: Option<Duration>,
}

impl Growth {
    /// Growth up to `max_workers` participants, watching for `window`, asking `decide`.
    ///
    /// ```
    /// let g = amorsize::pool::Growth::new(4, std::time::Duration::from_micros(100), |_| 4);
    /// assert_eq!(g.max_workers, 4);
    /// ```
    pub fn new(
        max_workers: usize,
        window: Duration,
        decide: impl Fn(&Observed) -> usize + Send + Sync + 'static,
    ) -> Self {
        Growth {
            max_workers,
            window,
            patience: window.saturating_mul(20),
            decide: Arc::new(decide),
            second_look: None,
        }
    }

    /// Sets when the caller looks again at a job the window left short of `max_workers` (see
    /// [`Growth::second_look`](struct@Growth#structfield.second_look)).
    ///
    /// ```
    /// use amorsize::pool::{ChunkPolicy, Growth, RunOptions, ThreadPool};
    /// use amorsize::sample::thread_cpu_time;
    /// use std::time::Duration;
    /// // Items that compute for 20 ms of their thread's CPU, then sleep for 60: the window
    /// // falls on the computing part of the first item (the policy wants 4 participants for
    /// // work on the CPU under half the time), the second look sees the sleeps too.
    /// let grow = Growth::new(4, Duration::from_micros(200), |seen| {
    ///     if seen.cpu_per_worker() < 0.5 { 4 } else { 0 }
    /// })
    /// .patience(Duration::from_secs(60))
    /// .second_look(Duration::from_millis(120));
    /// let pool = ThreadPool::new(4)?;
    /// let opts = RunOptions { grow: Some(grow), ..RunOptions::new(2, ChunkPolicy::Fixed(1)) };
    /// let out = pool.map_range(12, &opts, |i| {
    ///     let c = thread_cpu_time();
    ///     while thread_cpu_time() - c < Duration::from_millis(20) {
    ///         std::hint::spin_loop();
    ///     }
    ///     std::thread::sleep(Duration::from_millis(60));
    ///     i
    /// })?;
    /// assert_eq!(out.results, (0..12).collect::<Vec<_>>());
    /// let seen = out.stats.observed.expect("watched");
    /// assert!(seen.wall >= Duration::from_millis(120)); // the second look's, from the window's start
    /// assert_eq!(seen.grew_to, Some(4));
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn second_look(mut self, after: Duration) -> Self {
        self.second_look = Some(after);
        self
    }

    /// Sets how long the caller waits for the first workers to enter.
    ///
    /// ```
    /// use std::time::Duration;
    /// let g = amorsize::pool::Growth::new(4, Duration::from_micros(100), |_| 4)
    ///     .patience(Duration::from_millis(5));
    /// assert_eq!(g.patience, Duration::from_millis(5));
    /// ```
    pub fn patience(mut self, patience: Duration) -> Self {
        self.patience = patience;
        self
    }
}

impl std::fmt::Debug for Growth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Growth")
            .field("max_workers", &self.max_workers)
            .field("window", &self.window)
            .field("patience", &self.patience)
            .field("second_look", &self.second_look)
            .finish_non_exhaustive()
    }
}

/// What a growing job's caller saw while it watched the first workers (see [`Growth`]).
///
/// ```
/// use std::time::Duration;
/// let o = amorsize::pool::Observed { workers: 2, wall: Duration::from_micros(200),
///     cpu: Duration::from_micros(40), others: Duration::ZERO, run_delay: Duration::ZERO,
///     grew_to: None, blocks: None };
/// assert!((o.cpu_per_worker() - 0.1).abs() < 1e-9);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Observed {
    /// Workers (besides the caller) inside the job throughout the window.
    pub workers: usize,
    /// The window's length.
    pub wall: Duration,
    /// CPU time those workers' threads burned in the window.
    pub cpu: Duration,
    /// CPU time the rest of the process (neither the caller nor those workers) burned in the
    /// window: threads the items started (a nested parallel loop), idle workers still
    /// spinning, the program's other threads; in a second look
    /// ([`Growth::second_look`]) at a job that grew, also the workers it grew by, whose
    /// clocks were not read when the window started.
    pub others: Duration,
    /// Time those workers spent in the window ready to run but without a CPU (zero where it
    /// cannot be read): a worker preempted by other threads or processes is not waiting for
    /// its item. From each thread's `schedstat` (the kernel's run delay), and its `status`:
    /// the kernel adds a wait to the run delay only when the wait ends, so a worker ready to
    /// run at the window's start that never blocked in it counts all its time off a CPU.
    pub run_delay: Duration,
    /// The participants the job grew to, if it grew.
    pub grew_to: Option<usize>,
    /// Times those workers blocked in the window (voluntary context switches, from the
    /// `status` of the workers whose run delay was read, counted for all of them at their
    /// mean); `None` where it cannot be read.
    pub blocks: Option<u64>,
}

impl Observed {
    /// CPU time per worker per second of the window that the worker could have run (the
    /// window less its [`run_delay`](Observed::run_delay)): about 1 for work that computes,
    /// also while other threads take turns on the cores with it, near 0 for work that waits
    /// (or waits for threads of its own: see [`Observed::others_per_worker`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// let none = amorsize::pool::Observed { workers: 0, wall: Duration::ZERO, cpu: Duration::ZERO,
    ///     others: Duration::ZERO, run_delay: Duration::ZERO, grew_to: None, blocks: None };
    /// assert_eq!(none.cpu_per_worker(), 1.0); // nothing seen: assume it computes
    /// // One worker on the CPU for half the window, waiting for a CPU the other half: computes.
    /// let shared = amorsize::pool::Observed { workers: 1, wall: Duration::from_micros(200),
    ///     cpu: Duration::from_micros(100), run_delay: Duration::from_micros(100), ..none };
    /// assert!((shared.cpu_per_worker() - 1.0).abs() < 1e-9);
    /// // The same half on the CPU, the other half asleep: it waits half the time.
    /// let waits = amorsize::pool::Observed { run_delay: Duration::ZERO, ..shared };
    /// assert!((waits.cpu_per_worker() - 0.5).abs() < 1e-9);
    /// ```
    pub fn cpu_per_worker(&self) -> f64 {
        // Nothing watched, or preempted the whole window: nothing to tell.
        self.could_run()
            .map_or(1.0, |could| (self.cpu.as_secs_f64() / could).min(1.0))
    }

    /// [`cpu_per_worker`](Observed::cpu_per_worker) less `billed` seconds of CPU for each time
    /// a worker blocked ([`blocks`](Observed::blocks)), never below 0: the share the items
    /// would use on busy cores. A thread that blocks while cores idle is billed for a core's
    /// wake-up (15–18 µs a sleep on the 2-core VM, 2–6 µs with tens of threads sleeping side
    /// by side), so a narrow job of short sleeps reads busier than it is: one worker of 2
    /// sleeping 100 µs at a time read 11–23 % where 128 side by side read 1–3 %. A window
    /// that did not read the blocks, or saw nothing, reads as `cpu_per_worker`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let o = amorsize::pool::Observed { workers: 1, wall: Duration::from_micros(200),
    ///     cpu: Duration::from_micros(40), others: Duration::ZERO, run_delay: Duration::ZERO,
    ///     grew_to: None, blocks: Some(2) };
    /// assert!((o.cpu_per_worker() - 0.2).abs() < 1e-9);
    /// // 15 µs billed for each of the 2 blocks: 10 µs of the 200.
    /// assert!((o.cpu_per_worker_billed(15e-6) - 0.05).abs() < 1e-9);
    /// assert_eq!(o.cpu_per_worker_billed(1e-3), 0.0);
    /// let unread = amorsize::pool::Observed { blocks: None, ..o };
    /// assert_eq!(unread.cpu_per_worker_billed(15e-6), unread.cpu_per_worker());
    /// ```
    pub fn cpu_per_worker_billed(&self, billed: f64) -> f64 {
        let (Some(could), Some(blocks)) = (self.could_run(), self.blocks) else {
            return self.cpu_per_worker();
        };
        let cpu = self.cpu.as_secs_f64() - blocks as f64 * billed.max(0.0);
        (cpu.max(0.0) / could).min(1.0)
    }

    /// The workers' time in the window less their wait for a CPU (seconds, all of them), or
    /// `None` when that is nothing to tell by ([`saw_nothing`](Observed::saw_nothing)).
    fn could_run(&self) -> Option<f64> {
        let w = self.wall.as_secs_f64() * self.workers as f64;
        let could = w - self.run_delay.as_secs_f64().min(w);
        (w > 0.0 && could > 0.01 * w).then_some(could)
    }

    /// Whether the window told nothing about the items: no worker was watched, or the
    /// watched workers waited for a CPU all but 1 % of it (another process, or the job's own
    /// workers, held the cores). [`cpu_per_worker`](Observed::cpu_per_worker) then reads 1,
    /// and a growing job's watch looks again (within its patience) before it asks the policy.
    ///
    /// ```
    /// use std::time::Duration;
    /// let window = Duration::from_micros(200);
    /// let o = amorsize::pool::Observed { workers: 1, wall: window, cpu: Duration::ZERO,
    ///     others: Duration::ZERO, run_delay: window, grew_to: None, blocks: None };
    /// assert!(o.saw_nothing());
    /// assert_eq!(o.cpu_per_worker(), 1.0);
    /// let asleep = amorsize::pool::Observed { run_delay: Duration::ZERO, ..o };
    /// assert!(!asleep.saw_nothing());
    /// assert_eq!(asleep.cpu_per_worker(), 0.0);
    /// assert!(amorsize::pool::Observed { workers: 0, ..asleep }.saw_nothing());
    /// ```
    pub fn saw_nothing(&self) -> bool {
        self.could_run().is_none()
    }

    /// `d` per worker per second of the window (`None` when nothing was watched).
    fn per_worker(&self, d: Duration) -> Option<f64> {
        let w = self.wall.as_secs_f64() * self.workers as f64;
        (w > 0.0).then(|| d.as_secs_f64() / w)
    }

    /// CPU time the rest of the process burned per worker per second of the window.
    ///
    /// ```
    /// use std::time::Duration;
    /// let o = amorsize::pool::Observed { workers: 1, wall: Duration::from_micros(100),
    ///     cpu: Duration::from_micros(5), others: Duration::from_micros(190),
    ///     run_delay: Duration::ZERO, grew_to: None, blocks: None };
    /// assert!((o.others_per_worker() - 1.9).abs() < 1e-9);
    /// ```
    pub fn others_per_worker(&self) -> f64 {
        self.per_worker(self.others).unwrap_or(0.0)
    }
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("workers", &self.workers)
            .field("chunks", &self.chunks)
            .field("progress", &self.progress.is_some())
            .field("grow", &self.grow)
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
    /// What the caller saw while watching a growing job (see [`Growth`]); `None` otherwise.
    pub observed: Option<Observed>,
    /// CPU time each participant slot's thread burned in the job (slot 0 is the calling
    /// thread; slots that did not take part hold zero): measured for a job that may grow (see
    /// [`Growth`]), empty otherwise. With the process's CPU over the same time it tells the
    /// items' CPU from what other threads burned.
    pub cpu: Vec<Duration>,
    /// Time each participant slot's thread spent in the job ready to run but without a CPU
    /// (from its `schedstat`; zero where the kernel does not tell): measured for the
    /// participants a job that may grow starts with, up to the effective cores (the slots of
    /// the workers it grows to, and of those past the cores, are not in it), empty for other
    /// jobs. A slot's `busy` less this is the time it could have run.
    pub run_delay: Vec<Duration>,
    /// What the caller saw when its [`Solo`] check said to go on alone; `None` when the job
    /// had no check, or the check said no.
    pub solo: Option<CallerSeen>,
}

impl RunStats {
    /// Mean time of one chunk (zero when no chunk ran).
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = amorsize::pool::RunStats::default();
    /// assert_eq!(s.mean_chunk_duration(), Duration::ZERO);
    /// // Exact for any count: 2^32 chunks took 2^33 s.
    /// let s = amorsize::pool::RunStats { chunks: 1 << 32, chunk_time: Duration::from_secs(1 << 33),
    ///     ..Default::default() };
    /// assert_eq!(s.mean_chunk_duration(), Duration::from_secs(2));
    /// ```
    pub fn mean_chunk_duration(&self) -> Duration {
        mean_duration(self.chunk_time, self.chunks as u128)
    }
}

/// `total / count`, zero for no count; exact for any count (dividing a `Duration` by a `u32`
/// would wrap a count of 2^32 or more, and panic at a multiple of it).
pub(crate) fn mean_duration(total: Duration, count: u128) -> Duration {
    match total.as_nanos().checked_div(count) {
        Some(ns) => Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX)),
        None => Duration::ZERO,
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
