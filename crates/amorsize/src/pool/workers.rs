//! The warm thread pool: worker threads that spin briefly and then park, the job latch that
//! lets a job borrow the caller's stack, and fan-out (the caller runs as participant 0 while a
//! binary tree of wake-ups brings the other workers in).
//!
//! # The job latch
//! One `AtomicU64` holds the whole protocol: `epoch (31 bits) | open (1) | entered (16) |
//! active (16)`. A job is published by writing the job slot and then storing a new epoch with
//! `open` set (Release). A worker *enters* with a CAS that increments `active` and `entered`,
//! which succeeds only while the job is open, not yet entered by this worker, and below the
//! participant cap; only after entering does it read the job slot. It *leaves* with a
//! `fetch_sub` of `active`. The caller ends a job by clearing `open` and waiting until
//! `active == 0`: from then on no worker holds or can obtain a reference to the job, so the
//! borrowed closure may go out of scope. Workers that were asleep and wake after the job
//! closed simply never enter, so the caller never waits for a slow wake-up it does not need.
//!
//! ```
//! use amorsize::pool::{ChunkPolicy, RunOptions, ThreadPool};
//! use std::{sync::Mutex, thread};
//! let pool = ThreadPool::new(3)?;
//! // Fan-out: every participant runs once, the caller as participant 0.
//! let (caller, seen) = (thread::current().id(), Mutex::new(Vec::new()));
//! pool.broadcast(|p| seen.lock().unwrap().push((p, thread::current().id() == caller)))?;
//! let mut seen = seen.into_inner().unwrap();
//! seen.sort();
//! assert_eq!(seen, vec![(0, true), (1, false), (2, false)]);
//! // A job started from inside a job runs inline on that thread.
//! let opts = RunOptions::new(3, ChunkPolicy::Fixed(1));
//! let out = pool.map_range(3, &opts, |_| pool.map_range(4, &opts, |i| i).unwrap().stats.inline)?;
//! assert_eq!(out.results, vec![true; 3]);
//! # Ok::<(), amorsize::Error>(())
//! ```

use super::scheduler::{guided_chunk, Job};
#[cfg(test)]
use super::ChunkPolicy;
use super::{CancelToken, Growth, Observed, RunOptions, RunOutput};
use crate::{Error, Result};
use crossbeam_utils::CachePadded;
use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

/// The largest pool size (the job latch counts participants in 16 bits).
///
/// ```
/// assert!(amorsize::pool::ThreadPool::new(amorsize::pool::MAX_WORKERS + 1).is_err());
/// ```
pub const MAX_WORKERS: usize = 4096;

/// How long a waiting thread keeps checking (spin, then `yield_now`) before it parks.
/// Waking a parked thread costs ~50 µs on a shared VM, so a worker that just finished a job
/// stays ready for about that long, and a caller waiting for a worker to wake does not add
/// a second wake-up of its own. After that the thread parks: an idle pool uses no CPU.
const SPIN_BUDGET: Duration = Duration::from_micros(100);

/// How long a broadcast's caller, done with its own part, yields before it parks while
/// waiting for the other participants: not at all, its core is better given to the workers
/// still waking up (measured: halves the interleaved fan-out time on a loaded 2-core VM).
/// A `map_range` caller waits for workers that are already running their last chunk, so it
/// yields for [`SPIN_BUDGET`] first (parking would add a wake-up to the end of every run).
const BROADCAST_CALLER_BUDGET: Duration = Duration::ZERO;

/// Pure spin rounds before a waiting thread starts yielding.
const SPIN_ROUNDS: u32 = 64;

/// Waits until `ready()`: spins briefly, yields until `budget` has passed, then parks
/// (`thread::park`; whoever makes `ready()` true unparks this thread).
fn wait_until(ready: impl Fn() -> bool, budget: Duration) {
    if !spin_until(&ready, budget) {
        park_until(ready);
    }
}

/// The first part of [`wait_until`]: a very short pure spin (the other side is often just a
/// few instructions away), then `yield_now` (on a loaded machine the thread we wait for may
/// need this very core) until `budget` has passed. True when `ready()` came true meanwhile.
fn spin_until(ready: &impl Fn() -> bool, budget: Duration) -> bool {
    for _ in 0..SPIN_ROUNDS {
        if ready() {
            return true;
        }
        std::hint::spin_loop();
    }
    let start = Instant::now();
    while start.elapsed() < budget {
        if ready() {
            return true;
        }
        thread::yield_now();
    }
    ready()
}

/// The second part of [`wait_until`]: parks until `ready()`.
fn park_until(ready: impl Fn() -> bool) {
    while !ready() {
        thread::park();
    }
}

const ACTIVE_ONE: u64 = 1;
const ENTERED_SHIFT: u32 = 16;
const ENTERED_ONE: u64 = 1 << ENTERED_SHIFT;
const OPEN: u64 = 1 << 32;
const EPOCH_SHIFT: u32 = 33;
const EPOCH_MASK: u64 = (1 << 31) - 1;

fn active(s: u64) -> u64 {
    s & 0xFFFF
}
fn entered(s: u64) -> u64 {
    (s >> ENTERED_SHIFT) & 0xFFFF
}
fn is_open(s: u64) -> bool {
    s & OPEN != 0
}
fn epoch(s: u64) -> u64 {
    s >> EPOCH_SHIFT
}

/// A lifetime-erased pointer to the participant function of the current job.
#[derive(Clone)]
struct JobRef {
    run: *const (dyn Fn(usize) + Sync + 'static),
    caller: Thread,
}

struct Shared {
    state: CachePadded<AtomicU64>,
    /// Participants allowed besides the caller (entry cap) for the current job.
    cap: AtomicUsize,
    /// Threads to wake (by tree) for the current job.
    wake: AtomicUsize,
    job: UnsafeCell<Option<JobRef>>,
    shutdown: AtomicBool,
    /// The worker threads (for wake-ups): `threads[t]` is set once thread `t` is spawned.
    /// Threads are spawned in order, as jobs first need them (all at once for a pool made by
    /// [`ThreadPool::new`]).
    threads: Box<[OnceLock<Thread>]>,
    /// Threads spawned so far (`threads[..spawned]`, each set just before this counts it).
    spawned: AtomicUsize,
    /// Each worker's CPU clock (set by the worker when it starts; -1: none), read by a growing
    /// job's watch.
    clocks: Box<[AtomicI64]>,
    /// Each worker's kernel thread id (set by the worker when it starts; 0: unknown), for the
    /// watch to read how long it waited for a CPU (its `schedstat`).
    tids: Box<[AtomicI64]>,
    /// The epoch of the job each worker entered last.
    entered_epoch: Box<[AtomicU64]>,
    /// Workers that have started (reached their wait loop).
    started: AtomicUsize,
    /// Workers spinning (yielding) after a job, and how many may: one per core. The rest park
    /// at once: 256 workers each yielding for the spin budget after every job would keep a
    /// 2-core machine saturated for a millisecond or more, slowing whatever runs next.
    spinning: AtomicUsize,
    spin_limit: usize,
    /// The most workers ever spinning at once (for the tests).
    #[cfg(test)]
    spin_peak: AtomicUsize,
    /// Workers that have ended (after a shutdown), and which.
    exited: AtomicUsize,
    gone: Box<[AtomicBool]>,
}

// SAFETY: `job` is written only by the caller that holds the pool's job lock, while the latch
// is closed and `active == 0` (no worker can read it then); workers read it only after a
// successful entry CAS (Acquire) that follows the publishing store (Release). The raw
// pointer inside points to a `Sync` closure that outlives every entered participant.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

impl Shared {
    fn id(self: &Arc<Self>) -> usize {
        Arc::as_ptr(self) as usize
    }

    /// Enters the open job if this worker has not entered it and the cap allows.
    fn try_enter(&self, last_epoch: &mut u64) -> Option<(usize, JobRef)> {
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            if !is_open(s) || epoch(s) == *last_epoch {
                return None;
            }
            // At the cap: not entered, but not marked as seen either (the job may grow and
            // let this worker in); the worker parks until then.
            let cap = self.cap.load(Ordering::Acquire) as u64;
            if entered(s) >= cap {
                return None;
            }
            match self.state.compare_exchange_weak(
                s,
                s + ACTIVE_ONE + ENTERED_ONE,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    *last_epoch = epoch(s);
                    // SAFETY: we are entered, so the slot holds the current job (see `Shared`).
                    let job = unsafe { (*self.job.get()).clone() }?;
                    return Some((entered(s) as usize + 1, job));
                }
                Err(now) => s = now,
            }
        }
    }

    /// Thread `t`, if it has been spawned.
    fn thread(&self, t: usize) -> Option<&Thread> {
        self.threads.get(t)?.get()
    }

    /// The threads spawned so far.
    fn spawned_threads(&self) -> impl Iterator<Item = &Thread> {
        self.threads.iter().map_while(|t| t.get())
    }

    /// Whether every worker thread has entered the job of state `s` or has ended.
    fn all_entered_or_gone(&self, s: u64) -> bool {
        let n = self.spawned.load(Ordering::Acquire);
        (0..n).all(|t| {
            self.gone.get(t).is_some_and(|g| g.load(Ordering::Acquire))
                || self
                    .entered_epoch
                    .get(t)
                    .is_some_and(|e| e.load(Ordering::Acquire) == epoch(s))
        })
    }

    /// Leaves the job; wakes the caller when it may be waiting for us.
    fn leave(&self, caller: &Thread) {
        let cap = self.cap.load(Ordering::Relaxed) as u64;
        let prev = self.state.fetch_sub(ACTIVE_ONE, Ordering::AcqRel);
        if active(prev) == 1 && (!is_open(prev) || entered(prev) >= cap) {
            caller.unpark();
        }
    }

    /// Wakes the tree children of thread `t` (0-based) for the current job.
    fn wake_children(&self, t: usize) {
        let wake = self.wake.load(Ordering::Relaxed);
        for c in [2 * t + 2, 2 * t + 3] {
            if c < wake {
                if let Some(t) = self.thread(c) {
                    t.unpark();
                }
            }
        }
    }
}

/// The caller's handle on its running job: how many workers are in, and letting more in.
pub(crate) struct Widen<'a> {
    shared: &'a Shared,
    pool: &'a ThreadPool,
}

impl Widen<'_> {
    /// Workers (besides the caller) that entered the job.
    pub(crate) fn entered(&self) -> usize {
        entered(self.shared.state.load(Ordering::Acquire)) as usize
    }

    /// The CPU clocks of the workers that entered the current job (as far as known), each
    /// with the worker's kernel thread id (0 when unknown).
    pub(crate) fn entered_clocks(&self) -> Vec<(libc::clockid_t, i64)> {
        let sh = self.shared;
        let now = epoch(sh.state.load(Ordering::Acquire));
        sh.entered_epoch
            .iter()
            .zip(sh.clocks.iter().zip(sh.tids.iter()))
            .filter(|(e, _)| e.load(Ordering::Acquire) == now)
            .filter_map(|(_, (c, t))| {
                let c = libc::clockid_t::try_from(c.load(Ordering::Relaxed)).ok()?;
                (c != -1).then(|| (c, t.load(Ordering::Relaxed)))
            })
            .collect()
    }

    /// Lets up to `cap` workers besides the caller in, and wakes up to `wake` of them: the
    /// new ones whose parent in the wake tree will not wake them (it entered before they were
    /// wanted) are woken here; the others by their parents as usual.
    ///
    /// Threads not spawned yet are spawned here, after the cap is raised: a new thread looks
    /// for a job as it starts, and enters this one.
    pub(crate) fn grow(&self, cap: usize, wake: usize) {
        let sh = self.shared;
        let old_wake = sh.wake.load(Ordering::Relaxed);
        let had = sh.spawned.load(Ordering::Acquire);
        sh.cap.fetch_max(cap, Ordering::AcqRel);
        sh.wake.fetch_max(wake, Ordering::AcqRel);
        self.pool.ensure_threads(wake);
        let new = sh
            .spawned_threads()
            .enumerate()
            .take(wake.min(had))
            .skip(old_wake);
        for (t, thread) in new {
            if t < 2 || (t - 2) / 2 < old_wake {
                thread.unpark();
            }
        }
    }
}

thread_local! {
    /// The pool whose job this thread is running (0: none).
    static CURRENT_POOL: Cell<usize> = const { Cell::new(0) };
}

/// True when the current thread is running a job of some amorsize pool (a worker thread, or
/// the calling thread while it takes part in its job); calls made from there run inline.
///
/// ```
/// assert!(!amorsize::pool::in_worker());
/// let p = amorsize::pool::ThreadPool::new(2).unwrap();
/// let opts = amorsize::pool::RunOptions::new(2, amorsize::pool::ChunkPolicy::Fixed(1));
/// let out = p.map_range(4, &opts, |_| amorsize::pool::in_worker()).unwrap();
/// assert!(out.results.iter().all(|w| *w));
/// ```
pub fn in_worker() -> bool {
    CURRENT_POOL.with(|c| c.get() != 0)
}

/// Marks the current thread, for good, as one that runs items for a call (a helper of
/// [`super::early`]): calls made from it run inline, as from a pool worker.
pub(crate) fn mark_helper_thread() {
    CURRENT_POOL.with(|c| c.set(usize::MAX));
}

/// Runs `f` with the current thread marked as a helper (calls made from it run inline), as
/// a caller that joins its helpers does while it runs their items.
pub(crate) fn as_helper<R>(f: impl FnOnce() -> R) -> R {
    let _mark = Mark::set(usize::MAX);
    f()
}

/// Marks the current thread as running a job of pool `id` until dropped.
struct Mark(usize);
impl Mark {
    fn set(id: usize) -> Self {
        Mark(CURRENT_POOL.with(|c| c.replace(id)))
    }
}
impl Drop for Mark {
    fn drop(&mut self) {
        CURRENT_POOL.with(|c| c.set(self.0));
    }
}

fn worker_main(shared: Arc<Shared>, t: usize) {
    CURRENT_POOL.with(|c| c.set(shared.id()));
    if let (Some(id), Some(slot)) = (crate::sample::own_thread_clock(), shared.clocks.get(t)) {
        slot.store(i64::from(id), Ordering::Relaxed);
    }
    if let Some(slot) = shared.tids.get(t) {
        slot.store(crate::sample::own_tid(), Ordering::Relaxed);
    }
    shared.started.fetch_add(1, Ordering::Release);
    let mut last_epoch = 0u64;
    // A thread just spawned has no job to expect soon: it parks at once instead of spinning
    // (a pool of many threads created for a job would otherwise burn every core for the spin
    // budget, and a growing job's watch would count that as the items' threads).
    let mut budget = Duration::ZERO;
    loop {
        let ready = || {
            let s = shared.state.load(Ordering::Acquire);
            shared.shutdown.load(Ordering::Acquire)
                || (is_open(s)
                    && epoch(s) != last_epoch
                    && entered(s) < shared.cap.load(Ordering::Acquire) as u64)
        };
        // At most one spinning worker per core (any of them enters the next job, woken or
        // not); the others park at once.
        let spins = budget > Duration::ZERO
            && shared
                .spinning
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < shared.spin_limit).then_some(n + 1)
                })
                .is_ok();
        #[cfg(test)]
        shared
            .spin_peak
            .fetch_max(shared.spinning.load(Ordering::Acquire), Ordering::AcqRel);
        let done = spin_until(&ready, if spins { budget } else { Duration::ZERO });
        if spins {
            shared.spinning.fetch_sub(1, Ordering::AcqRel);
        }
        if !done {
            park_until(ready);
        }
        budget = SPIN_BUDGET;
        let shutting_down = shared.shutdown.load(Ordering::Acquire);
        // After a shutdown a job still open for this worker is run first: a broadcast waits
        // for every worker, and the shutdown may have come from inside it.
        if let Some((slot, job)) = shared.try_enter(&mut last_epoch) {
            if let Some(e) = shared.entered_epoch.get(t) {
                e.store(last_epoch, Ordering::Release);
            }
            shared.wake_children(t);
            // SAFETY: entered, so the caller waits for our `leave` before the closure behind
            // `job.run` goes out of scope. The closure never unwinds (panics are caught).
            let run = unsafe { &*job.run };
            // `run` catches the user's panics itself; this guard only keeps the latch
            // balanced (and the thread alive) should the bookkeeping ever panic.
            let _ = catch_unwind(AssertUnwindSafe(|| run(slot)));
            shared.leave(&job.caller);
        }
        if shutting_down {
            if let Some(g) = shared.gone.get(t) {
                g.store(true, Ordering::Release);
            }
            shared.exited.fetch_add(1, Ordering::AcqRel);
            return;
        }
    }
}

/// Closes the job and waits until every entered participant has left; runs on drop so the
/// caller never leaves `run_parallel` (not even by unwinding) while a worker holds the job.
struct CloseGuard<'a> {
    shared: &'a Shared,
    /// Broadcast: wait until `cap` workers entered before closing.
    all: bool,
    cap: u64,
}

impl Drop for CloseGuard<'_> {
    fn drop(&mut self) {
        let sh = self.shared;
        if !self.all {
            sh.state.fetch_and(!OPEN, Ordering::AcqRel);
        }
        wait_until(
            || {
                let s = sh.state.load(Ordering::Acquire);
                // A worker that ended without entering (a shutdown just before the job
                // opened) never will: a broadcast stops waiting for it once every worker has
                // entered or ended (and fails, see `run_parallel`).
                active(s) == 0
                    && (!self.all
                        || entered(s) >= self.cap
                        || (sh.exited.load(Ordering::Acquire) > 0 && sh.all_entered_or_gone(s)))
            },
            if self.all {
                BROADCAST_CALLER_BUDGET
            } else {
                SPIN_BUDGET
            },
        );
        if self.all {
            sh.state.fetch_and(!OPEN, Ordering::AcqRel);
        }
        // SAFETY: closed and `active == 0`: no worker reads the slot any more.
        unsafe { *sh.job.get() = None };
    }
}

/// Warm worker threads that run jobs over `0..len` in dynamically claimed chunks.
///
/// A pool of `workers` participants has `workers - 1` background threads; the calling thread
/// is participant 0 of its own job. Idle threads spin briefly, then park (no CPU use).
/// Jobs from several threads are serialized; a call from inside a job runs inline.
///
/// ```
/// use amorsize::pool::{ChunkPolicy, RunOptions, ThreadPool};
/// let pool = ThreadPool::new(2)?;
/// let data = vec![1u64, 2, 3, 4, 5];
/// // The closure borrows `data`: map_range returns only after every worker left the job.
/// let out = pool.map_range(data.len(), &RunOptions::new(2, ChunkPolicy::Fixed(2)), |i| data[i] * 10)?;
/// assert_eq!(out.results, vec![10, 20, 30, 40, 50]);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub struct ThreadPool {
    shared: Arc<Shared>,
    spawner: Mutex<Spawner>,
    job_lock: Mutex<()>,
    requested: usize,
    /// Threads the pool may have: `requested - 1` until the OS refuses one, then those it got.
    limit: AtomicUsize,
    spawn_error: OnceLock<String>,
}

/// What spawns a pool's threads, and their handles.
struct Spawner {
    spawn: Box<SpawnFn>,
    handles: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPool")
            .field("requested", &self.requested)
            .field("threads", &self.threads_spawned())
            .field("spawn_error", &self.spawn_error.get())
            .field("shut_down", &self.shared.shutdown.load(Ordering::Relaxed))
            .finish()
    }
}

type SpawnFn =
    dyn FnMut(String, Box<dyn FnOnce() + Send>) -> std::io::Result<JoinHandle<()>> + Send;

impl ThreadPool {
    /// A pool of `workers` participants (the caller plus `workers - 1` threads).
    ///
    /// If the OS refuses a thread, the pool keeps the threads it got (see
    /// [`ThreadPool::spawn_error`]); it can always run, the caller being a participant.
    ///
    /// ```
    /// let p = amorsize::pool::ThreadPool::new(2).unwrap();
    /// assert_eq!(p.workers(), 2);
    /// assert!(amorsize::pool::ThreadPool::new(0).is_err());
    /// ```
    pub fn new(workers: usize) -> Result<Self> {
        let p = Self::on_demand(workers)?;
        p.ensure_threads(workers - 1);
        Ok(p)
    }

    /// A pool of `workers` participants whose threads are spawned as jobs first need them:
    /// a job of `w` participants spawns those of the first `w - 1` that do not exist yet (before
    /// it starts), and a job that grows spawns the ones it grows to. A pool made for work that
    /// may wait (and grow to many threads) then costs a job that computes on a few of them
    /// no more than those few. [`ThreadPool::workers`] counts the threads it may have;
    /// [`ThreadPool::threads_spawned`] those it has.
    ///
    /// ```
    /// use amorsize::pool::{ChunkPolicy, RunOptions, ThreadPool};
    /// let p = ThreadPool::on_demand(64)?;
    /// assert_eq!((p.workers(), p.threads_spawned()), (64, 0));
    /// let out = p.map_range(100, &RunOptions::new(3, ChunkPolicy::Fixed(10)), |i| i)?;
    /// assert_eq!(out.results.len(), 100);
    /// assert_eq!(p.threads_spawned(), 2);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn on_demand(workers: usize) -> Result<Self> {
        Self::with_spawner(
            workers,
            Box::new(|name, f| thread::Builder::new().name(name).spawn(f)),
        )
    }

    fn with_spawner(workers: usize, spawn: Box<SpawnFn>) -> Result<Self> {
        if workers == 0 {
            return Err(Error::invalid_config("workers", "must be at least 1"));
        }
        if workers > MAX_WORKERS {
            return Err(Error::invalid_config(
                "workers",
                format!("at most {MAX_WORKERS}, got {workers}"),
            ));
        }
        let shared = Arc::new(Shared {
            state: CachePadded::new(AtomicU64::new(0)),
            cap: AtomicUsize::new(0),
            wake: AtomicUsize::new(0),
            job: UnsafeCell::new(None),
            shutdown: AtomicBool::new(false),
            threads: (1..workers).map(|_| OnceLock::new()).collect(),
            spawned: AtomicUsize::new(0),
            clocks: (1..workers).map(|_| AtomicI64::new(-1)).collect(),
            tids: (1..workers).map(|_| AtomicI64::new(0)).collect(),
            entered_epoch: (1..workers).map(|_| AtomicU64::new(0)).collect(),
            started: AtomicUsize::new(0),
            spinning: AtomicUsize::new(0),
            spin_limit: crate::system::info().cores.effective.max(1),
            #[cfg(test)]
            spin_peak: AtomicUsize::new(0),
            exited: AtomicUsize::new(0),
            gone: (1..workers).map(|_| AtomicBool::new(false)).collect(),
        });
        Ok(ThreadPool {
            shared,
            spawner: Mutex::new(Spawner {
                spawn,
                handles: Vec::new(),
            }),
            job_lock: Mutex::new(()),
            requested: workers,
            limit: AtomicUsize::new(workers - 1),
            spawn_error: OnceLock::new(),
        })
    }

    /// Spawns threads until `threads` exist (at most the pool's limit; fewer if the OS refuses
    /// one, which then lowers the limit) and returns how many exist. Spawned outside a job, the
    /// new threads have started (reached their wait loop) when it returns: each one's start-up
    /// (stack, signal stack, TLS) burns CPU, and a job started meanwhile would share the cores
    /// with it (and a growing job's watch would count it as the items' threads). Spawned into
    /// a running job (one that grows), they are not waited for: they enter as they start.
    fn ensure_threads(&self, threads: usize) -> usize {
        let sh = &*self.shared;
        let want = threads.min(self.limit.load(Ordering::Acquire));
        let had = sh.spawned.load(Ordering::Acquire);
        if had >= want {
            return had;
        }
        let mut sp = lock(&self.spawner);
        while sh.spawned.load(Ordering::Relaxed) < want.min(self.limit.load(Ordering::Relaxed)) {
            if sh.shutdown.load(Ordering::Acquire) {
                break;
            }
            let t = sh.spawned.load(Ordering::Relaxed);
            let shared = self.shared.clone();
            match (sp.spawn)(
                format!("amorsize-worker-{}", t + 1),
                Box::new(move || worker_main(shared, t)),
            ) {
                Ok(h) => {
                    let _ = sh.threads[t].set(h.thread().clone());
                    sp.handles.push(h);
                    sh.spawned.store(t + 1, Ordering::Release);
                }
                Err(e) => {
                    let _ = self.spawn_error.set(e.to_string());
                    self.limit.store(t, Ordering::Release);
                    break;
                }
            }
        }
        let now = sh.spawned.load(Ordering::Acquire);
        if !in_job(sh) {
            while sh.started.load(Ordering::Acquire) < now
                && sp.handles.iter().all(|h| !h.is_finished())
            {
                thread::yield_now();
            }
        }
        now
    }

    /// Participants in a job on this pool (threads obtained + the caller).
    ///
    /// ```
    /// assert_eq!(amorsize::pool::ThreadPool::new(3).unwrap().workers(), 3);
    /// ```
    pub fn workers(&self) -> usize {
        self.limit.load(Ordering::Acquire) + 1
    }

    /// The number of participants asked for in [`ThreadPool::new`].
    ///
    /// ```
    /// assert_eq!(amorsize::pool::ThreadPool::new(3).unwrap().requested_workers(), 3);
    /// ```
    pub fn requested_workers(&self) -> usize {
        self.requested
    }

    /// Background threads the pool has so far (`workers() - 1` once every one was needed, or
    /// from the start for a pool made by [`ThreadPool::new`]).
    ///
    /// ```
    /// assert_eq!(amorsize::pool::ThreadPool::new(3).unwrap().threads_spawned(), 2);
    /// assert_eq!(amorsize::pool::ThreadPool::on_demand(3).unwrap().threads_spawned(), 0);
    /// ```
    pub fn threads_spawned(&self) -> usize {
        self.shared.spawned.load(Ordering::Acquire)
    }

    /// Why the pool has fewer threads than asked for, if the OS refused one.
    ///
    /// ```
    /// assert!(amorsize::pool::ThreadPool::new(2).unwrap().spawn_error().is_none());
    /// ```
    pub fn spawn_error(&self) -> Option<&str> {
        self.spawn_error.get().map(String::as_str)
    }

    /// True while the pool accepts work and all its threads are running.
    ///
    /// ```
    /// let p = amorsize::pool::ThreadPool::new(2).unwrap();
    /// assert!(p.is_alive());
    /// p.shutdown();
    /// assert!(!p.is_alive());
    /// ```
    pub fn is_alive(&self) -> bool {
        !self.shared.shutdown.load(Ordering::Acquire)
            && lock(&self.spawner).handles.iter().all(|h| !h.is_finished())
    }

    /// Stops the threads and joins them (after a running job finishes); later calls fail with
    /// [`Error::PoolShutDown`]. Called from inside one of this pool's jobs it only marks the
    /// pool shut down; the threads are joined when the pool is dropped.
    ///
    /// ```
    /// use amorsize::pool::{ChunkPolicy, RunOptions, ThreadPool};
    /// let p = ThreadPool::new(2).unwrap();
    /// p.shutdown();
    /// let err = p.map_range(10, &RunOptions::new(2, ChunkPolicy::Fixed(1)), |i| i).unwrap_err();
    /// assert!(matches!(err, amorsize::Error::PoolShutDown));
    /// ```
    pub fn shutdown(&self) {
        self.shared.shutdown.store(true, Ordering::Release);
        if CURRENT_POOL.with(|c| c.get()) == self.shared.id() {
            return;
        }
        let _job = lock(&self.job_lock);
        for t in self.shared.spawned_threads() {
            t.unpark();
        }
        let handles = std::mem::take(&mut lock(&self.spawner).handles);
        for h in handles {
            let _ = h.join();
        }
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.shared.shutdown.load(Ordering::Acquire)
    }

    fn check_open(&self) -> Result<()> {
        if self.shared.shutdown.load(Ordering::Acquire) {
            Err(Error::PoolShutDown)
        } else {
            Ok(())
        }
    }

    /// Runs `f(i)` for every `i` in `0..len`, results in index order.
    ///
    /// `0..len` is split into one contiguous range for each of at most `opts.workers`
    /// participants (the caller is one and starts on its range while the others wake); each
    /// claims chunks from its own range and, when that is empty, steals the back half of the
    /// largest other one; the guided tail shrinks the last chunks. `f` may borrow: the call
    /// returns only after every worker has left the job. A panic in `f` returns
    /// [`Error::TaskPanicked`] with the smallest panicking index, as the plain loop would: no
    /// item past it is started any more, the items before it still run. The pool stays usable.
    /// Called from inside a job (nested), with one participant, or when one chunk (after the
    /// guided tail) covers everything, it runs inline on the calling thread.
    ///
    /// ```
    /// use amorsize::pool::{ChunkPolicy, RunOptions, ThreadPool};
    /// let p = ThreadPool::new(2).unwrap();
    /// let opts = RunOptions::new(2, ChunkPolicy::Fixed(4));
    /// let out = p.map_range(10, &opts, |i| i * i).unwrap();
    /// assert_eq!(out.results[3], 9);
    /// let err = p.map_range(10, &opts, |i| if i == 7 { panic!("seven") } else { i }).unwrap_err();
    /// assert!(matches!(err, amorsize::Error::TaskPanicked { index: 7, .. }));
    /// ```
    pub fn map_range<R: Send, F: Fn(usize) -> R + Sync>(
        &self,
        len: usize,
        opts: &RunOptions,
        f: F,
    ) -> Result<RunOutput<R>> {
        self.run_map(len, opts, None, f)
    }

    /// [`map_range`](Self::map_range) that stops when `cancel` is cancelled: no more chunks
    /// are handed out, running chunks finish, and the call returns [`Error::Cancelled`]
    /// (unless every item had already run).
    ///
    /// ```
    /// use amorsize::pool::{CancelToken, ChunkPolicy, RunOptions, ThreadPool};
    /// let p = ThreadPool::new(2).unwrap();
    /// let t = CancelToken::new();
    /// let opts = RunOptions::new(2, ChunkPolicy::Fixed(1));
    /// assert_eq!(p.map_range_cancellable(3, &opts, &t, |i| i).unwrap().results, vec![0, 1, 2]);
    /// t.cancel(); // e.g. from another thread while a run is going on
    /// let err = p.map_range_cancellable(100, &opts, &t, |i| i);
    /// assert!(matches!(err, Err(amorsize::Error::Cancelled)));
    /// ```
    pub fn map_range_cancellable<R: Send, F: Fn(usize) -> R + Sync>(
        &self,
        len: usize,
        opts: &RunOptions,
        cancel: &CancelToken,
        f: F,
    ) -> Result<RunOutput<R>> {
        self.run_map(len, opts, Some(cancel), f)
    }

    /// [`map_range`](Self::map_range) over the indices not covered by `filled`: each
    /// `(start, results)` gives the results of `start..start + results.len()`, moved into place
    /// as they are; `f` runs for every other index. The ranges must be sorted, disjoint and
    /// within `0..len` (else `Err(Error::InvalidInput)`, and nothing runs). The check for the
    /// filled ranges costs once a chunk, not once an item — this is how `par_map` keeps the
    /// results of the items its sample ran.
    ///
    /// ```
    /// use amorsize::pool::{ChunkPolicy, RunOptions, ThreadPool};
    /// let p = ThreadPool::new(2).unwrap();
    /// let opts = RunOptions::new(2, ChunkPolicy::Fixed(3));
    /// let out = p.map_range_filled(10, &opts, vec![(2, vec![-1, -1]), (7, vec![-2])], |i| i as i32)
    ///     .unwrap();
    /// assert_eq!(out.results, vec![0, 1, -1, -1, 4, 5, 6, -2, 8, 9]);
    /// assert!(p.map_range_filled(3, &opts, vec![(2, vec![0, 0])], |i| i).is_err());
    /// ```
    pub fn map_range_filled<R: Send, F: Fn(usize) -> R + Sync>(
        &self,
        len: usize,
        opts: &RunOptions,
        filled: Vec<(usize, Vec<R>)>,
        f: F,
    ) -> Result<RunOutput<R>> {
        let mut end = 0usize;
        for (start, rs) in &filled {
            let stop = start.checked_add(rs.len()).unwrap_or(usize::MAX);
            if *start < end || stop > len {
                return Err(Error::invalid_input(
                    "filled ranges",
                    format!(
                        "range {start}..{stop} overlaps another, is out of order or lies \
                         outside 0..{len}"
                    ),
                ));
            }
            end = stop;
        }
        self.run_map_filled(len, opts, None, filled, f)
    }

    fn run_map<R: Send, F: Fn(usize) -> R + Sync>(
        &self,
        len: usize,
        opts: &RunOptions,
        cancel: Option<&CancelToken>,
        f: F,
    ) -> Result<RunOutput<R>> {
        self.run_map_filled(len, opts, cancel, Vec::new(), f)
    }

    /// `filled` must be sorted, disjoint and within `0..len` (checked by the callers).
    fn run_map_filled<R: Send, F: Fn(usize) -> R + Sync>(
        &self,
        len: usize,
        opts: &RunOptions,
        cancel: Option<&CancelToken>,
        filled: Vec<(usize, Vec<R>)>,
        f: F,
    ) -> Result<RunOutput<R>> {
        if opts.workers == 0 {
            return Err(Error::invalid_config("workers", "must be at least 1"));
        }
        opts.chunks.validate()?;
        self.check_open()?;
        let initial = opts.chunks.initial();
        let participants = opts.workers.min(self.workers());
        let mut holes: Vec<(usize, usize)> = Vec::with_capacity(filled.len());
        let mut filled = filled.into_iter().peekable();
        // A filled range at 0 whose vector can already hold every result becomes the output
        // buffer itself (par_map's prefix is allocated so): no second buffer, no copy.
        let mut out: Vec<R> = match filled.next_if(|(s, rs)| *s == 0 && rs.capacity() >= len) {
            Some((_, mut rs)) => {
                let n = rs.len();
                // SAFETY: the first `n` slots stay initialised; from here on `Job` owns their
                // dropping through the `written` range pushed below, exactly as for results
                // moved into place.
                unsafe { rs.set_len(0) };
                if n > 0 {
                    holes.push((0, n));
                }
                rs
            }
            None => {
                let mut out = Vec::new();
                out.try_reserve_exact(len).map_err(|e| {
                    Error::invalid_input("len", format!("cannot hold {len} results: {e}"))
                })?;
                out
            }
        };
        // One chunk covers everything (after the guided tail): no fan-out.
        let first = guided_chunk(initial, len, participants);
        let inline = in_worker() || participants == 1 || first >= len;
        // Move the filled results into their slots; from here on `Job` owns their dropping
        // (with the rest of the buffer) through its `written` ranges.
        for (start, rs) in filled {
            let n = rs.len();
            for (k, r) in rs.into_iter().enumerate() {
                // SAFETY: `start + k < len <= capacity` (checked by the caller), and the
                // filled ranges are disjoint, so each slot is written once.
                unsafe { out.as_mut_ptr().add(start + k).write(r) };
            }
            if n > 0 {
                holes.push((start, start + n));
            }
        }
        let grow = opts
            .grow
            .as_ref()
            .filter(|g| !inline && g.window > Duration::ZERO);
        let max_participants = grow.map_or(participants, |g| {
            g.max_workers.clamp(participants, self.workers())
        });
        // Only as many workers as there are chunks are woken; `0..len` is split among them
        // (and only those are spawned, on a pool that spawns on demand).
        let est_chunks = len.div_ceil(first.max(1));
        let mut wake = (participants - 1).min(est_chunks.saturating_sub(1));
        if !inline {
            wake = wake.min(self.ensure_threads(wake));
        }
        let job = Job::new(
            &f,
            len,
            if inline { 1 } else { wake + 1 },
            opts,
            cancel,
            &mut out,
            &holes,
            max_participants,
        );
        // Whether the job makes a solo check (see `Solo`): not inline, not growing.
        let solo = opts.solo.as_ref().filter(|_| !inline && grow.is_none());
        if solo.is_some() {
            job.count_items();
        }
        let seen: Cell<Option<Observed>> = Cell::new(None);
        // A second look the caller owes the job (see `Growth::second_look`), taken between its
        // chunks once due.
        let look: Cell<Option<Look>> = Cell::new(None);
        if inline {
            job.participate(0, None);
        } else {
            let run = |slot: usize| job.participate(slot, None);
            let (job, seen, look) = (&job, &seen, &look);
            let watch = grow.filter(|_| max_participants > participants).map(|g| {
                move |w: &Widen<'_>| {
                    let (observed, again) =
                        watch_and_grow(w, g, job, wake, max_participants, initial);
                    seen.set(observed);
                    look.set(again);
                }
            });
            let watch = watch.as_ref().map(|w| w as &dyn Fn(&Widen<'_>));
            let widen = Widen {
                shared: &self.shared,
                pool: self,
            };
            // The caller's own clocks as it enters the job, for its solo check.
            let entry: Cell<Option<CallerClocks>> = Cell::new(None);
            let check = |items: usize| {
                let (Some(s), Some(at)) = (solo, entry.get()) else {
                    return;
                };
                let wall = at.start.elapsed();
                if wall < s.after {
                    return;
                }
                entry.set(None); // checked: once a job
                job.stop_counting();
                let seen = at.seen(
                    wall,
                    widen.entered() + 1,
                    items,
                    job.counted(),
                    job.elapsed(),
                );
                // The policy is the caller's: a panic there only means no change.
                if catch_unwind(AssertUnwindSafe(|| (s.decide)(&seen))).unwrap_or(false) {
                    job.go_solo(seen);
                }
            };
            let again = |items: usize| {
                check(items);
                let Some(l) = look.take() else { return };
                if Instant::now() < l.due {
                    look.set(Some(l));
                } else if let Some(g) = grow {
                    // The policy is the caller's (it may call user code): a panic there only
                    // means no growth.
                    let again = catch_unwind(AssertUnwindSafe(|| {
                        look_again(&widen, g, job, l, max_participants, initial)
                    }));
                    if let Ok((mut again, next)) = again {
                        // Not grown now: the last growth, if any, is what the job had.
                        again.grew_to = again.grew_to.or(seen.get().and_then(|s| s.grew_to));
                        seen.set(Some(again));
                        look.set(next);
                    }
                }
            };
            let caller = || {
                if solo.is_some() {
                    entry.set(Some(CallerClocks::now()));
                }
                job.participate(0, Some(&again))
            };
            self.run_parallel(participants - 1, wake, &run, false, watch, Some(&caller))?;
        }
        let mut o = job.finish(out, inline)?;
        o.stats.initial_chunk_size = initial;
        o.stats.observed = seen.get();
        Ok(o)
    }

    /// Runs `f(p)` exactly once on every participant `p` in `0..workers()` (the caller is 0),
    /// like `rayon::ThreadPool::broadcast`. A nested call runs every `p` inline.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// let p = amorsize::pool::ThreadPool::new(3).unwrap();
    /// let n = AtomicUsize::new(0);
    /// p.broadcast(|_| { n.fetch_add(1, Ordering::Relaxed); }).unwrap();
    /// assert_eq!(n.into_inner(), 3);
    /// ```
    pub fn broadcast<F: Fn(usize) + Sync>(&self, f: F) -> Result<()> {
        self.check_open()?;
        self.ensure_threads(self.workers() - 1);
        let n = self.workers();
        let failure: Mutex<Option<(usize, Box<dyn Any + Send>)>> = Mutex::new(None);
        let call = |p: usize| {
            if let Err(e) = catch_unwind(AssertUnwindSafe(|| f(p))) {
                let mut g = lock(&failure);
                match &*g {
                    Some((i, _)) if *i <= p => {}
                    _ => *g = Some((p, e)),
                }
            }
        };
        if in_worker() || n == 1 {
            (0..n).for_each(call);
        } else {
            self.run_parallel(n - 1, n - 1, &call, true, None, None)?;
        }
        match failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some((i, payload)) => Err(Error::from_panic(i, payload)),
            None => Ok(()),
        }
    }

    /// Publishes `run` as the current job for up to `cap` workers besides the caller, wakes
    /// `wake` of them, runs `run(0)` (or `caller`, when given) on the caller and returns once
    /// every entered worker left. Neither may unwind.
    fn run_parallel(
        &self,
        cap: usize,
        wake: usize,
        run: &(dyn Fn(usize) + Sync),
        all: bool,
        watch: Option<&dyn Fn(&Widen<'_>)>,
        caller: Option<&dyn Fn()>,
    ) -> Result<()> {
        let _job = lock(&self.job_lock);
        self.check_open()?;
        let sh = &*self.shared;
        let ptr: *const (dyn Fn(usize) + Sync + '_) = run;
        // SAFETY: only the lifetime is erased. Workers dereference the pointer only between
        // entering and leaving the job, and `CloseGuard` (dropped before this function returns,
        // also on unwind) waits until no worker is entered and none can enter any more, so the
        // pointer is never used after `run`'s borrow ends — the same argument as rayon's scope.
        let ptr: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(ptr) };
        // SAFETY: the latch is closed with `active == 0` (previous job's guard), and we hold
        // the job lock: nobody reads the slot now.
        unsafe {
            *sh.job.get() = Some(JobRef {
                run: ptr,
                caller: thread::current(),
            })
        };
        sh.cap.store(cap, Ordering::Relaxed);
        sh.wake.store(wake, Ordering::Relaxed);
        let s = sh.state.load(Ordering::Relaxed);
        let mut next_epoch = (epoch(s) + 1) & EPOCH_MASK;
        if next_epoch == 0 {
            next_epoch = 1;
        }
        sh.state
            .store((next_epoch << EPOCH_SHIFT) | OPEN, Ordering::Release);
        let guard = CloseGuard {
            shared: sh,
            all,
            cap: cap as u64,
        };
        // The caller wakes the roots of the wake tree; each worker wakes its children.
        for t in sh.spawned_threads().take(wake.min(2)) {
            t.unpark();
        }
        if let Some(watch) = watch {
            // The watch is the caller's policy (it may call user code): a panic there only
            // means the job does not grow.
            let widen = Widen {
                shared: sh,
                pool: self,
            };
            let _ = catch_unwind(AssertUnwindSafe(|| watch(&widen)));
        }
        {
            let _mark = Mark::set(self.shared.id());
            match caller {
                Some(c) => c(),
                None => run(0),
            }
        }
        drop(guard);
        // A broadcast that some worker never entered (it ended in a shutdown that raced with
        // the job's start) did not run everywhere.
        if all && entered(sh.state.load(Ordering::Acquire)) < cap as u64 {
            return Err(Error::PoolShutDown);
        }
        Ok(())
    }
}

/// Whether a job is open on the pool.
fn in_job(sh: &Shared) -> bool {
    is_open(sh.state.load(Ordering::Acquire))
}

/// A look at a job's watched workers over a span (the window, then each later look: see
/// [`Growth::second_look`]): what was read at the span's start, and when to look.
struct Look {
    clocks: Vec<libc::clockid_t>,
    tids: Vec<i64>,
    /// At the span's start: each worker's CPU, the accounts of the first [`DELAYS_READ`] of
    /// them (if read), the process's CPU, the caller's own CPU, and the time.
    cpus: Vec<Duration>,
    accounts: Option<Vec<Account>>,
    process: Duration,
    own: Duration,
    start: Instant,
    due: Instant,
    /// The participants the job has been let grow to so far.
    grown: usize,
    /// The job's items not yet claimed at the span's start.
    left: usize,
    /// Items the growth that began the span put in flight at once (a chunk for each
    /// participant let in): their claims say nothing of how fast the job runs.
    added: usize,
    /// Items claimed per second over the span before this one, when that span ended in a
    /// growth (a later look then tells whether the growth paid).
    before: Option<f64>,
}

/// How much faster a job must claim its items after a later look grew it, for the next look
/// to grow it again: a fifth. Items that wait for a sleep or I/O side by side run about as
/// many times faster as the job grew; items that queue for one resource (threads the items
/// started, a lock, one device) run no faster, however low each worker's share reads.
const GROWTH_PAID: f64 = 1.2;

impl Look {
    /// Starts a span now: reads the watched workers' accounts, then their clocks, the
    /// process's and the caller's (in this order: see `watch_and_grow`).
    fn begin(
        clocks: Vec<libc::clockid_t>,
        tids: Vec<i64>,
        after: Duration,
        grown: usize,
        left: usize,
        added: usize,
        before: Option<f64>,
    ) -> Look {
        use crate::sample::{process_cpu_time, thread_cpu_time};
        // Time the watched workers spent ready to run but without a CPU (another process, or
        // the program's own threads, on the cores) is not waiting of the items' own.
        let accounts = workers_accounts(&tids);
        // The workers' clocks first: reading a thread's clock brings the kernel's account of
        // it up to date, which the process clock (read next) otherwise gets only at the
        // scheduler's tick for threads running on other CPUs; read in this order at both
        // ends, `others` is not off by whole ticks of the workers' time.
        let cpus = workers_cpu(&clocks);
        let (process, own, start) = (process_cpu_time(), thread_cpu_time(), Instant::now());
        Look {
            clocks,
            tids,
            cpus,
            accounts,
            process,
            own,
            start,
            due: start + after,
            grown,
            left,
            added,
            before,
        }
    }

    /// Items claimed per second since the span's start, `left` being unclaimed now.
    fn rate(&self, left: usize) -> f64 {
        let secs = self.start.elapsed().as_secs_f64().max(1e-9);
        let claimed = self.left.saturating_sub(left).saturating_sub(self.added);
        claimed as f64 / secs
    }

    /// What the watched workers did from the span's start until now.
    fn observe(&self) -> Observed {
        use crate::sample::{process_cpu_time, thread_cpu_time};
        // The workers' clocks first (see `watch_and_grow`), and their accounts (file reads)
        // after the clocks that end the window, so that they do not lengthen it.
        let cpus = workers_cpu(&self.clocks);
        let cpu = cpus
            .iter()
            .sum::<Duration>()
            .saturating_sub(self.cpus.iter().sum());
        let process = process_cpu_time();
        let own = thread_cpu_time().saturating_sub(self.own);
        let wall = self.start.elapsed();
        let others = process
            .saturating_sub(self.process)
            .saturating_sub(own)
            .saturating_sub(cpu);
        let waited = self
            .accounts
            .as_ref()
            .and_then(|a0| workers_waited(&self.tids, a0, &self.cpus, &cpus, wall));
        Observed {
            workers: self.clocks.len(),
            wall,
            cpu,
            others,
            run_delay: waited.map_or(Duration::ZERO, |(delay, _)| delay),
            grew_to: None,
            blocks: waited.and_then(|(_, blocks)| blocks),
        }
    }
}

/// The CPU time each of the threads of `clocks` burned so far.
fn workers_cpu(clocks: &[libc::clockid_t]) -> Vec<Duration> {
    clocks.iter().map(|&id| crate::sample::clock(id)).collect()
}

/// Workers whose scheduler accounts a look reads at most (the rest count at their mean): a
/// `schedstat` and a `status` read cost ~8 µs a worker here, twice a look, and a window is
/// 100–200 µs.
const DELAYS_READ: usize = 4;

/// What a watched worker's accounts said at the start of a span: the kernel's run delay and
/// its status (ready to run, times it blocked).
#[derive(Debug, Clone, Copy)]
struct Account {
    delay: Duration,
    status: Option<crate::sample::TaskStatus>,
}

/// The accounts of the first [`DELAYS_READ`] of the workers `tids`; `None` unless every
/// scheduler account could be read.
fn workers_accounts(tids: &[i64]) -> Option<Vec<Account>> {
    tids.iter()
        .take(DELAYS_READ)
        .map(|&tid| {
            Some(Account {
                delay: crate::sample::run_delay_of(tid)?,
                status: crate::sample::task_status_of(tid),
            })
        })
        .collect()
}

/// How long the workers `tids` waited for a CPU over a span of `wall` that began with the
/// accounts `before` (of the first of them: see [`workers_accounts`]) and their CPU clocks at
/// `cpus0` (`cpus1` at the span's end), counted for all at the mean of those read (time ready
/// to run but without a CPU: not waiting of the items' own), and how many times they blocked
/// (counted the same way; `None` where a status was not read); `None` unless every one could
/// be read again.
fn workers_waited(
    tids: &[i64],
    before: &[Account],
    cpus0: &[Duration],
    cpus1: &[Duration],
    wall: Duration,
) -> Option<(Duration, Option<u64>)> {
    let mut sum = Duration::ZERO;
    let mut blocks = Some(0u64);
    for (((&tid, a), c0), c1) in tids.iter().zip(before).zip(cpus0).zip(cpus1) {
        let delay = crate::sample::run_delay_of(tid)?.saturating_sub(a.delay);
        let status = a.status.zip(crate::sample::task_status_of(tid));
        sum += waited(delay, status, wall, c1.saturating_sub(*c0));
        blocks = blocks
            .zip(status)
            .map(|(b, (x, y))| b + y.voluntary.saturating_sub(x.voluntary));
    }
    let read = before.len().max(1) as u64;
    let per = sum.checked_div(read as u32)?;
    // The blocks of the workers read, for all of them at their mean (rounded up: a worker
    // that blocked once in the window is billed once).
    let blocks = blocks.map(|b| (b * tids.len() as u64).div_ceil(read));
    Some((per.saturating_mul(tids.len() as u32), blocks))
}

/// One worker's wait for a CPU over a span of `wall` in which it was on one for `on_cpu`, from
/// what its run delay grew by (`delay`) and its status at the start and the end (when read).
/// The kernel adds a wait to the run delay only when the wait ends, so `delay` misses the one
/// going on at the end, and all of it for a worker never given a CPU in the span. A worker
/// ready to run at the start that never blocked since was ready the whole span: whenever it
/// was not on a CPU, it waited for one (on a loaded machine, a worker that computes). One that
/// blocked, or slept at the start, waits for its items: `delay` is its wait for a CPU.
fn waited(
    delay: Duration,
    status: Option<(crate::sample::TaskStatus, crate::sample::TaskStatus)>,
    wall: Duration,
    on_cpu: Duration,
) -> Duration {
    let ready_throughout = status.is_some_and(|(x, y)| x.runnable && y.voluntary == x.voluntary);
    let waited = if ready_throughout {
        wall.saturating_sub(on_cpu)
    } else {
        delay
    };
    waited.min(wall)
}

/// The caller's clocks as it entered a job with a solo check (see [`super::Solo`]).
#[derive(Clone, Copy)]
struct CallerClocks {
    start: Instant,
    cpu: Duration,
    switches: Option<u64>,
}

impl CallerClocks {
    fn now() -> Self {
        CallerClocks {
            switches: crate::sample::voluntary_switches(),
            cpu: crate::sample::thread_cpu_time(),
            start: Instant::now(),
        }
    }

    /// What the caller saw over `wall` since these clocks, with `participants` in the job,
    /// `items` run by the caller, and `job_items` by them all over the job's `job_wall`.
    fn seen(
        &self,
        wall: Duration,
        participants: usize,
        items: usize,
        job_items: usize,
        job_wall: Duration,
    ) -> super::CallerSeen {
        let cpu = crate::sample::thread_cpu_time().saturating_sub(self.cpu);
        let blocked = crate::sample::voluntary_switches()
            .zip(self.switches)
            .map_or(0, |(b, a)| b.saturating_sub(a));
        super::CallerSeen {
            participants,
            wall,
            cpu,
            blocked,
            items,
            job_items,
            job_wall,
        }
    }
}

/// A growing job's watch, on the caller before it takes part: waits until the `woken` workers
/// entered (at most `patience`), measures the CPU the process burns besides the caller over one
/// window, asks the policy how many participants it wants and lets them in. When it does not
/// grow the job and `g` asks for a second look, returns the look the caller owes.
fn watch_and_grow<R: Send, F: Fn(usize) -> R + Sync>(
    w: &Widen<'_>,
    g: &Growth,
    job: &Job<'_, R, F>,
    woken: usize,
    max_participants: usize,
    chunk: usize,
) -> (Option<Observed>, Option<Look>) {
    let arrived = Instant::now();
    // Sleep between looks: a caller spinning here would keep a core from the very workers it
    // waits for (on a loaded 2-core machine they then take milliseconds to come).
    while w.entered() < woken && arrived.elapsed() < g.patience && job.remaining() > 0 {
        thread::sleep(Duration::from_micros(20));
    }
    let watched = w.entered_clocks();
    if watched.is_empty() || job.remaining() == 0 {
        return (None, None);
    }
    let clocks: Vec<libc::clockid_t> = watched.iter().map(|(c, _)| *c).collect();
    let tids: Vec<i64> = watched.iter().map(|(_, t)| *t).collect();
    let after = g.second_look.unwrap_or_default();
    let look = Look::begin(clocks, tids, after, 0, job.remaining(), 0, None);
    // Sleep, not spin: the caller must not take a CPU from the threads it watches (on a small
    // machine it would halve what threads started by the items could burn).
    thread::sleep(g.window);
    let mut seen = look.observe();
    // A window in which the watched workers never had a CPU tells nothing (it would read as
    // work that computes, and the job would not grow until a second look): watch on, over
    // the window so far, while the patience lasts. Seen in a call of 2,000 sleeps of 100 µs
    // started on 2 workers: one worker ready to run throughout a 212 µs window.
    while seen.saw_nothing() && arrived.elapsed() < g.patience && job.remaining() > 0 {
        thread::sleep(g.window);
        seen = look.observe();
    }
    let grown = grow_to(w, g, job, &mut seen, 0, max_participants, chunk);
    // Looked at again unless it already has all it may: a job never shrinks, but one grown
    // from a moment that read busier than the items are may grow further.
    let added = seen
        .grew_to
        .map_or(0, |_| in_flight(woken + 1, grown, chunk));
    let again = (g.second_look.is_some() && grown < max_participants).then_some(Look {
        grown,
        added,
        ..look
    });
    (Some(seen), again)
}

/// A later look (see [`Growth::second_look`]), on the caller between its chunks: what the
/// watched workers did over the span `look` began, given to the policy again, and the next
/// look, if any.
///
/// A look that grows the job begins another span, due as long after: a worker's share reads
/// lower as the job widens (a thread that blocks while cores idle is billed for a core's
/// wake-up, on busy cores it is not: sleeps of 100 µs watched on 1 worker of 2 read 11–23 %,
/// on 20–50 workers 3–8 %, on 128 about 1–3 % on the 2-core VM), so one look at a narrow job
/// leaves it narrower than its items ask for. The next look lets the policy grow the job again
/// only if the growth before it paid: the job claimed its items at least [`GROWTH_PAID`] times
/// as fast over the span after it as over the span before. Items that queue for one resource
/// read as waiting more, the wider the job, and would otherwise grow it to its limit.
fn look_again<R: Send, F: Fn(usize) -> R + Sync>(
    w: &Widen<'_>,
    g: &Growth,
    job: &Job<'_, R, F>,
    look: Look,
    max_participants: usize,
    chunk: usize,
) -> (Observed, Option<Look>) {
    let mut seen = look.observe();
    let left = job.remaining();
    let rate = look.rate(left);
    let paid = look
        .before
        .is_none_or(|before| rate >= GROWTH_PAID * before);
    if left == 0 || !paid {
        return (seen, None);
    }
    let grown = grow_to(w, g, job, &mut seen, look.grown, max_participants, chunk);
    let next = (seen.grew_to.is_some() && grown < max_participants).then(|| {
        let after = g.second_look.unwrap_or_default();
        let added = in_flight(look.grown.max(1), grown, chunk);
        Look::begin(
            look.clocks,
            look.tids,
            after,
            grown,
            left,
            added,
            Some(rate),
        )
    });
    (seen, next)
}

/// The items a growth from `from` to `to` participants puts in flight at once: each one let
/// in claims a chunk as it enters.
fn in_flight(from: usize, to: usize, chunk: usize) -> usize {
    to.saturating_sub(from) * chunk.max(1)
}

/// Asks the policy how many participants it wants for what `seen` shows, and lets them in
/// if that is more than are in and more than `grown` (those already let in); returns the
/// participants the job may now grow to.
fn grow_to<R: Send, F: Fn(usize) -> R + Sync>(
    w: &Widen<'_>,
    g: &Growth,
    job: &Job<'_, R, F>,
    seen: &mut Observed,
    grown: usize,
    max_participants: usize,
    chunk: usize,
) -> usize {
    let want = (g.decide)(seen).min(max_participants);
    let now = w.entered() + 1;
    let remaining = job.remaining();
    if want > now.max(grown) && remaining > 0 {
        let chunks = remaining.div_ceil(chunk.max(1));
        w.grow(want - 1, (want - 1).min(now - 1 + chunks));
        seen.grew_to = Some(want);
        return want;
    }
    grown.max(now)
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A solo check that says no, or panics, changes nothing; one that says yes sees the
    /// caller's time in the job, and every item still runs once, in order.
    #[test]
    fn a_solo_check_is_made_once_and_obeyed_only_when_it_says_yes() {
        use super::super::{ChunkPolicy, Solo};
        use std::sync::atomic::AtomicUsize;
        let pool = ThreadPool::new(2).unwrap();
        let asked = Arc::new(AtomicUsize::new(0));
        for answer in [Some(false), None, Some(true)] {
            let a = Arc::clone(&asked);
            a.store(0, Ordering::Relaxed);
            let solo = Solo::new(Duration::ZERO, move |seen| {
                a.fetch_add(1, Ordering::Relaxed);
                assert!(seen.items > 0 && seen.job_items >= seen.items);
                answer.expect("a policy that panics")
            });
            let opts = RunOptions::new(2, ChunkPolicy::Fixed(7)).with_solo(solo);
            // The worker's items (from 500 on) wait until the caller has started one of its
            // own, so the caller runs a chunk (and checks) before anyone could take them all.
            let low = AtomicBool::new(false);
            let out = pool
                .map_range(1_000, &opts, |i| {
                    if i < 500 {
                        low.store(true, Ordering::Release);
                    } else {
                        let t0 = Instant::now();
                        while !low.load(Ordering::Acquire) && t0.elapsed() < Duration::from_secs(60)
                        {
                            thread::yield_now();
                        }
                    }
                    i * 2
                })
                .unwrap();
            assert_eq!(out.results, (0..1_000).map(|i| i * 2).collect::<Vec<_>>());
            assert_eq!(out.stats.items, 1_000);
            assert_eq!(asked.load(Ordering::Relaxed), 1, "{answer:?}: one check");
            assert_eq!(out.stats.solo.is_some(), answer == Some(true), "{answer:?}");
        }
    }

    #[test]
    fn a_worker_ready_to_run_all_window_waited_for_a_cpu_whenever_off_it() {
        use crate::sample::TaskStatus;
        let us = Duration::from_micros;
        let st = |runnable, voluntary| {
            Some(TaskStatus {
                runnable,
                voluntary,
            })
        };
        // (what the run delay grew by, status at the start and the end, on a CPU) → waited,
        // over a window of 200 µs.
        let cases = [
            // Ready at the start, never blocked: off a CPU means waiting for one, whatever
            // the run delay grew by (it grows only when a wait ends).
            (us(0), st(true, 9), st(true, 9), us(60), us(140)),
            // Never given a CPU at all: the whole window.
            (us(0), st(true, 9), st(true, 9), us(0), us(200)),
            // Blocked in the window (its items wait): the run delay's growth.
            (us(30), st(true, 9), st(false, 10), us(20), us(30)),
            // Asleep at the start (woken since, not blocked again yet): its items wait.
            (us(10), st(false, 9), st(true, 9), us(15), us(10)),
            // Status unknown: the run delay alone.
            (us(50), None, None, us(60), us(50)),
        ];
        for (delay, start, end, on_cpu, want) in cases {
            assert_eq!(waited(delay, start.zip(end), us(200), on_cpu), want);
        }
    }

    #[test]
    fn latch_fields_round_trip() {
        let s = (5u64 << EPOCH_SHIFT) | OPEN | (3 * ENTERED_ONE) | 2;
        assert_eq!(epoch(s), 5);
        assert!(is_open(s));
        assert_eq!(entered(s), 3);
        assert_eq!(active(s), 2);
    }

    #[test]
    fn after_a_job_at_most_one_worker_per_core_spins_and_the_parked_ones_still_come() {
        let limit = crate::system::info().cores.effective.max(1);
        let p = ThreadPool::new(4 * limit + 1).unwrap();
        let seen = AtomicUsize::new(0);
        for _ in 0..50 {
            // A broadcast runs on every worker: the parked ones must be woken each time.
            p.broadcast(|_| {
                seen.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        }
        assert_eq!(seen.load(Ordering::Relaxed), 50 * p.workers());
        let peak = p.shared.spin_peak.load(Ordering::Acquire);
        assert!(
            peak >= 1 && peak <= limit,
            "{peak} spinning at once, {limit} cores"
        );
    }

    /// A pool spawning with `spawn`, every thread asked for at once (as `ThreadPool::new`).
    fn eager(workers: usize, spawn: Box<SpawnFn>) -> ThreadPool {
        let p = ThreadPool::with_spawner(workers, spawn).unwrap();
        p.ensure_threads(workers - 1);
        p
    }

    /// A spawner the OS grants `k` threads, then refuses.
    fn granting(k: usize) -> Box<SpawnFn> {
        let mut n = 0;
        Box::new(move |name, f| {
            n += 1;
            if n > k {
                Err(std::io::Error::from_raw_os_error(libc::EAGAIN))
            } else {
                thread::Builder::new().name(name).spawn(f)
            }
        })
    }

    #[test]
    fn refused_spawns_leave_a_working_pool() {
        let p = eager(4, granting(1));
        assert_eq!(p.threads_spawned(), 1);
        assert_eq!(p.workers(), 2);
        assert_eq!(p.requested_workers(), 4);
        assert!(p.spawn_error().is_some());
        let out = p
            .map_range(100, &RunOptions::new(4, ChunkPolicy::Fixed(3)), |i| i)
            .unwrap();
        assert_eq!(out.results, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn no_thread_at_all_still_runs_on_the_caller() {
        let p = eager(
            3,
            Box::new(|_, _| Err(std::io::Error::from_raw_os_error(libc::EAGAIN))),
        );
        assert_eq!(p.workers(), 1);
        let out = p
            .map_range(10, &RunOptions::new(3, ChunkPolicy::Fixed(1)), |i| i * 2)
            .unwrap();
        assert_eq!(out.results[9], 18);
        assert!(out.stats.inline);
    }

    #[test]
    fn a_pool_on_demand_spawns_what_its_jobs_use_and_a_refusal_midway_still_runs() {
        let p = ThreadPool::on_demand(8).unwrap();
        let opts = |w| RunOptions::new(w, ChunkPolicy::Fixed(1));
        // One chunk: inline, no thread.
        assert!(p.map_range(1, &opts(8), |i| i).unwrap().stats.inline);
        assert_eq!(p.threads_spawned(), 0);
        // 3 participants: 2 threads; then a broadcast needs every one.
        assert_eq!(p.map_range(50, &opts(3), |i| i).unwrap().results.len(), 50);
        assert_eq!(p.threads_spawned(), 2);
        let ran = AtomicUsize::new(0);
        p.broadcast(|_| {
            ran.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!((ran.into_inner(), p.threads_spawned()), (8, 7));
        // The OS refuses the third thread when a job first asks for 5 participants.
        let q = ThreadPool::with_spawner(6, granting(2)).unwrap();
        assert_eq!(q.workers(), 6);
        let out = q.map_range(200, &opts(5), |i| i * 3).unwrap();
        assert_eq!(out.results, (0..200).map(|i| i * 3).collect::<Vec<_>>());
        assert_eq!((q.workers(), q.threads_spawned()), (3, 2));
        assert!(q.spawn_error().is_some());
    }

    #[test]
    fn a_growing_job_spawns_the_threads_it_grows_to_and_they_take_part() {
        use super::super::Growth;
        use std::collections::HashSet;
        let p = ThreadPool::on_demand(6).unwrap();
        let opts = RunOptions::new(2, ChunkPolicy::Fixed(1)).with_growth(
            // Patient: on a loaded machine the first worker may take long to come.
            Growth::new(6, Duration::from_micros(200), |_| 6).patience(Duration::from_secs(10)),
        );
        let threads = Mutex::new(HashSet::new());
        let out = p
            .map_range(60, &opts, |i| {
                threads.lock().unwrap().insert(thread::current().id());
                thread::sleep(Duration::from_millis(2));
                i
            })
            .unwrap();
        assert_eq!(out.results.len(), 60);
        assert_eq!(out.stats.observed.and_then(|o| o.grew_to), Some(6));
        assert_eq!(p.threads_spawned(), 5);
        // 60 sleeps of 2 ms: the caller and the 5 threads all ran some (not just the first 2).
        let used = threads.into_inner().unwrap().len();
        assert!(used > 2, "{used} threads ran items");
    }
}
