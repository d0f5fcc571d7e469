//! Pool reuse: a [`PoolManager`] hands out warm pools by size and takes them back on drop.
//!
//! This module owns the lifetime of pools between jobs (the Amorsize `PoolManager`, for
//! threads). Starting threads costs tens of microseconds each, so pools are kept warm:
//!
//! - pools are keyed by their size (workers); [`PoolManager::get`] reuses an idle pool of that
//!   size when one exists (the most recently returned one) and creates one otherwise;
//!   [`PoolManager::get_new`] always creates one;
//! - a [`PoolHandle`] lends its pool to one user at a time and gives it back on drop, so
//!   concurrent users never share a pool; an `imap` iterator made on a handle counts as a user
//!   until it is dropped, even when the handle is gone first (`m.get(2)?.imap(..)`): its pool
//!   is neither lent again nor shut down under it — a pool the manager lets go of meanwhile
//!   (expired, cleared, shut down) ends when that iterator does;
//! - a pool idle for at least the idle timeout (default 300 s) is shut down lazily, on the next
//!   `get`, `get_new`, `stats` or `clear_idle` call; no background thread is needed
//!   ([`is_expired`] is the pure rule);
//! - a pool that is no longer alive is shut down and replaced, never handed out;
//! - its pools spawn their threads on demand ([`crate::pool::ThreadPool::on_demand`]): a pool
//!   of 128 lent to a job that computes on 2 of them has 2 threads (par_map asks for pools
//!   as large as a job of waiting items may grow to);
//! - [`PoolManager::shutdown`] shuts every idle pool down (joining its threads); later `get`
//!   calls fail with [`Error::PoolShutDown`], and pools still lent out are shut down when their
//!   handles are dropped. Dropping a manager shuts it down the same way.
//!
//! The manager is safe to use from many threads at once. Pools are created and shut down
//! outside its lock, so one slow thread start does not block other callers.
//!
//! ```
//! use amorsize::pool::{ChunkPolicy, RunOptions};
//! let m = amorsize::PoolManager::new();
//! let a = m.get(2)?; // lent out: a second user of size 2 gets another pool
//! let b = m.get(2)?;
//! assert_ne!(a.id(), b.id());
//! let out = a.map_range(100, &RunOptions::new(2, ChunkPolicy::Fixed(10)), |i| i * i)?;
//! assert_eq!(out.results[9], 81);
//! drop((a, b));
//! assert_eq!((m.stats().idle, m.stats().active), (2, 0)); // both kept warm
//! assert_eq!(m.clear_idle(), 2);
//! # Ok::<(), amorsize::Error>(())
//! ```

use crate::pool::AdaptivePool;
use crate::{Error, Result};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Default idle timeout: pools unused for 300 s are shut down.
///
/// ```
/// assert_eq!(amorsize::PoolManager::new().idle_timeout(), amorsize::manager::DEFAULT_IDLE_TIMEOUT);
/// ```
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// True when a pool last returned at `last_used` has been idle for at least `timeout` at `now`.
/// A `now` before `last_used` counts as no time elapsed; a zero timeout expires every idle pool.
///
/// ```
/// use amorsize::manager::is_expired;
/// use std::time::{Duration, Instant};
/// let t = Instant::now();
/// assert!(!is_expired(t, t + Duration::from_secs(299), Duration::from_secs(300)));
/// assert!(is_expired(t, t + Duration::from_secs(300), Duration::from_secs(300)));
/// assert!(is_expired(t, t, Duration::ZERO));
/// ```
pub fn is_expired(last_used: Instant, now: Instant, timeout: Duration) -> bool {
    now.saturating_duration_since(last_used) >= timeout
}

/// What a [`PoolManager`] needs of a pool (lets the core be tested with a fake pool).
trait ManagedPool: Send + 'static {
    fn create(workers: usize) -> Result<Self>
    where
        Self: Sized;
    fn alive(&self) -> bool;
    fn stop(&self);
    /// Still used by something the lease did not cover (an imap iterator made on the handle,
    /// which outlives it): not to be lent again, and not to be stopped under its user.
    fn busy(&self) -> bool;
}

/// Ends a pool the manager lets go of: stopped now, or — when an iterator still uses it —
/// only dropped, so that its threads end when that iterator's driver lets go of it.
fn retire<P: ManagedPool>(entry: Entry<P>) {
    if !entry.pool.busy() {
        entry.pool.stop();
    }
}

impl ManagedPool for AdaptivePool {
    fn create(workers: usize) -> Result<Self> {
        // Threads on demand: par_map asks for a pool as large as a job may grow to, and a job
        // that computes uses only a few of them.
        AdaptivePool::builder()
            .workers(workers)
            .threads_on_demand(true)
            .build()
    }
    fn alive(&self) -> bool {
        self.is_alive()
    }
    fn stop(&self) {
        self.shutdown()
    }
    fn busy(&self) -> bool {
        self.has_iterators()
    }
}

/// A pool with its identity.
struct Entry<P> {
    pool: Box<P>,
    id: u64,
    workers: usize,
}

struct Idle<P> {
    entry: Entry<P>,
    last_used: Instant,
}

struct State<P> {
    shut_down: bool,
    idle: HashMap<usize, Vec<Idle<P>>>,
    created: u64,
    reused: u64,
    expired: u64,
    replaced: u64,
    active: usize,
}

struct Core<P> {
    state: Mutex<State<P>>,
    idle_timeout: Duration,
    next_id: AtomicU64,
}

/// Pools taken out of the manager under the lock, shut down after it is released.
struct Doomed<P>(Vec<Entry<P>>);

impl<P: ManagedPool> Doomed<P> {
    fn finish(self) -> usize {
        let n = self.0.len();
        for e in self.0 {
            retire(e);
        }
        n
    }
}

impl<P: ManagedPool> Core<P> {
    fn new(idle_timeout: Duration) -> Self {
        Core {
            state: Mutex::new(State {
                shut_down: false,
                idle: HashMap::new(),
                created: 0,
                reused: 0,
                expired: 0,
                replaced: 0,
                active: 0,
            }),
            idle_timeout,
            next_id: AtomicU64::new(1),
        }
    }

    /// The lock, recovered if a panic poisoned it (the state stays consistent: every update
    /// under the lock is a few field writes that cannot panic halfway).
    fn lock(&self) -> MutexGuard<'_, State<P>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves expired and dead idle pools into `doomed`.
    fn sweep(&self, st: &mut State<P>, now: Instant, doomed: &mut Vec<Entry<P>>) {
        let timeout = self.idle_timeout;
        let mut expired = 0;
        let mut dead = 0;
        for list in st.idle.values_mut() {
            let mut i = 0;
            while i < list.len() {
                let gone = if is_expired(list[i].last_used, now, timeout) {
                    expired += 1;
                    true
                } else if !list[i].entry.pool.alive() {
                    dead += 1;
                    true
                } else {
                    false
                };
                if gone {
                    doomed.push(list.remove(i).entry);
                } else {
                    i += 1;
                }
            }
        }
        st.idle.retain(|_, l| !l.is_empty());
        st.expired += expired;
        st.replaced += dead;
    }

    fn get(self: &Arc<Self>, workers: usize, reuse: bool) -> Result<Lease<P>> {
        if workers == 0 {
            return Err(Error::invalid_config("workers", "must be at least 1"));
        }
        let mut doomed = Vec::new();
        let found = {
            let mut guard = self.lock();
            let st = &mut *guard;
            if st.shut_down {
                return Err(Error::PoolShutDown);
            }
            self.sweep(st, Instant::now(), &mut doomed);
            let mut found = None;
            if reuse {
                if let Some(list) = st.idle.get_mut(&workers) {
                    // Most recently returned first: the warmest pool, and the older ones expire.
                    // One an iterator still uses is passed over (it stays idle).
                    let mut i = list.len();
                    while i > 0 {
                        i -= 1;
                        if list[i].entry.pool.busy() {
                            continue;
                        }
                        let idle = list.remove(i);
                        if idle.entry.pool.alive() {
                            found = Some(idle.entry);
                            break;
                        }
                        doomed.push(idle.entry);
                        st.replaced += 1;
                    }
                    if list.is_empty() {
                        st.idle.remove(&workers);
                    }
                }
            }
            if found.is_some() {
                st.reused += 1;
                st.active += 1;
            }
            found
        };
        Doomed(doomed).finish();
        if let Some(entry) = found {
            return Ok(Lease {
                entry: Some(entry),
                core: Arc::clone(self),
            });
        }
        // Create outside the lock: starting threads must not block other callers.
        let pool = P::create(workers)?;
        let entry = Entry {
            pool: Box::new(pool),
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            workers,
        };
        let mut st = self.lock();
        if st.shut_down {
            drop(st);
            entry.pool.stop();
            return Err(Error::PoolShutDown);
        }
        st.created += 1;
        st.active += 1;
        drop(st);
        Ok(Lease {
            entry: Some(entry),
            core: Arc::clone(self),
        })
    }

    fn give_back(&self, entry: Entry<P>) {
        let keep = entry.pool.alive();
        let mut st = self.lock();
        st.active = st.active.saturating_sub(1);
        if st.shut_down || !keep {
            drop(st);
            retire(entry);
            return;
        }
        st.idle.entry(entry.workers).or_default().push(Idle {
            entry,
            last_used: Instant::now(),
        });
    }

    fn stats(&self, now: Instant) -> ManagerStats {
        let mut doomed = Vec::new();
        let stats = {
            let mut st = self.lock();
            if !st.shut_down {
                self.sweep(&mut st, now, &mut doomed);
            }
            ManagerStats {
                created: st.created,
                reused: st.reused,
                idle: st.idle.values().map(Vec::len).sum(),
                active: st.active,
                expired: st.expired,
                replaced: st.replaced,
                shut_down: st.shut_down,
            }
        };
        Doomed(doomed).finish();
        stats
    }

    fn expire(&self, now: Instant) -> usize {
        let mut doomed = Vec::new();
        {
            let mut st = self.lock();
            self.sweep(&mut st, now, &mut doomed);
        }
        Doomed(doomed).finish()
    }

    fn clear_idle(&self) -> usize {
        let doomed: Vec<Entry<P>> = {
            let mut st = self.lock();
            st.idle
                .drain()
                .flat_map(|(_, l)| l.into_iter().map(|i| i.entry))
                .collect()
        };
        Doomed(doomed).finish()
    }

    fn shutdown(&self) {
        self.lock().shut_down = true;
        self.clear_idle();
    }
}

/// A pool lent to one user; given back to its manager when dropped.
struct Lease<P: ManagedPool> {
    entry: Option<Entry<P>>,
    core: Arc<Core<P>>,
}

impl<P: ManagedPool> Lease<P> {
    fn entry(&self) -> &Entry<P> {
        // Present from creation until drop.
        self.entry
            .as_ref()
            .expect("lease holds its pool until dropped")
    }
}

impl<P: ManagedPool> Drop for Lease<P> {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            self.core.give_back(entry);
        }
    }
}

/// Counts of a [`PoolManager`]'s pools. `created + reused` is the number of successful
/// `get`/`get_new` calls.
///
/// ```
/// let m = amorsize::PoolManager::new();
/// drop(m.get(1).unwrap());
/// drop(m.get(1).unwrap());
/// let s = m.stats();
/// assert_eq!((s.created, s.reused, s.idle, s.active), (1, 1, 1, 0));
/// println!("{s}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManagerStats {
    /// Pools created.
    pub created: u64,
    /// Requests served by an idle pool.
    pub reused: u64,
    /// Pools idle in the manager now.
    pub idle: usize,
    /// Pools lent out now (handles alive).
    pub active: usize,
    /// Idle pools shut down because they outlived the idle timeout.
    pub expired: u64,
    /// Idle pools found dead (workers gone) and shut down instead of being handed out.
    pub replaced: u64,
    /// Whether [`PoolManager::shutdown`] has been called.
    pub shut_down: bool,
}

impl fmt::Display for ManagerStats {
    /// One line for a person.
    ///
    /// ```
    /// let s = amorsize::PoolManager::new().stats();
    /// assert_eq!(s.to_string(), "pools: 0 created, 0 reused, 0 idle, 0 active (0 expired, 0 dead replaced)");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pools: {} created, {} reused, {} idle, {} active ({} expired, {} dead replaced)",
            self.created, self.reused, self.idle, self.active, self.expired, self.replaced
        )?;
        if self.shut_down {
            write!(f, ", shut down")?;
        }
        Ok(())
    }
}

/// Keeps warm pools keyed by size. See the [module docs](self) for the rules.
///
/// ```
/// let m = amorsize::PoolManager::new();
/// let first = {
///     let p = m.get(2)?;
///     let opts = amorsize::pool::RunOptions::new(2, amorsize::pool::ChunkPolicy::Fixed(4));
///     assert_eq!(p.map_range(8, &opts, |i| i + 1)?.results[7], 8);
///     p.id()
/// }; // the handle is dropped: the pool goes back to the manager
/// assert_eq!(m.get(2)?.id(), first); // and is reused
/// # Ok::<(), amorsize::Error>(())
/// ```
pub struct PoolManager {
    core: Arc<Core<AdaptivePool>>,
}

/// A pool lent by a [`PoolManager`]; returned to it on drop.
///
/// ```
/// let m = amorsize::PoolManager::new();
/// let h = m.get(1)?;
/// assert_eq!(h.workers(), 1);     // derefs to the AdaptivePool
/// assert_eq!(m.stats().active, 1);
/// drop(h);
/// assert_eq!(m.stats().idle, 1);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub struct PoolHandle {
    lease: Lease<AdaptivePool>,
}

impl PoolHandle {
    /// The pool's identity within its manager (unique, never reused): the same id after
    /// `drop` and `get` means the same warm pool.
    ///
    /// ```
    /// let m = amorsize::PoolManager::new();
    /// let a = m.get(1)?;
    /// let b = m.get(1)?; // `a` is still held: a different pool
    /// assert_ne!(a.id(), b.id());
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn id(&self) -> u64 {
        self.lease.entry().id
    }
}

impl std::ops::Deref for PoolHandle {
    type Target = AdaptivePool;
    fn deref(&self) -> &AdaptivePool {
        &self.lease.entry().pool
    }
}

impl fmt::Debug for PoolHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.lease.entry();
        f.debug_struct("PoolHandle")
            .field("id", &e.id)
            .field("workers", &e.workers)
            .finish()
    }
}

impl fmt::Debug for PoolManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolManager")
            .field("idle_timeout", &self.core.idle_timeout)
            .field("shut_down", &self.is_shut_down())
            .finish()
    }
}

impl Default for PoolManager {
    /// Same as [`PoolManager::new`].
    ///
    /// ```
    /// let m = amorsize::PoolManager::default();
    /// assert_eq!(m.idle_timeout(), std::time::Duration::from_secs(300));
    /// ```
    fn default() -> Self {
        PoolManager::new()
    }
}

impl Drop for PoolManager {
    fn drop(&mut self) {
        self.core.shutdown();
    }
}

impl PoolManager {
    /// A manager with the default idle timeout (300 s).
    ///
    /// ```
    /// let m = amorsize::PoolManager::new();
    /// let p = m.get(2).unwrap();
    /// assert_eq!(p.workers(), 2);
    /// ```
    pub fn new() -> Self {
        PoolManager::with_idle_timeout(DEFAULT_IDLE_TIMEOUT)
    }

    /// A manager whose idle pools are shut down once idle for `timeout` (`Duration::ZERO`:
    /// a returned pool is never reused; `Duration::MAX`: never expires).
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = amorsize::PoolManager::with_idle_timeout(Duration::from_secs(30));
    /// assert_eq!(m.idle_timeout(), Duration::from_secs(30));
    /// ```
    pub fn with_idle_timeout(timeout: Duration) -> Self {
        PoolManager {
            core: Arc::new(Core::new(timeout)),
        }
    }

    /// The idle timeout.
    ///
    /// ```
    /// assert_eq!(amorsize::PoolManager::new().idle_timeout().as_secs(), 300);
    /// ```
    pub fn idle_timeout(&self) -> Duration {
        self.core.idle_timeout
    }

    /// A pool of `workers`, reused when an idle one of that size exists.
    ///
    /// Errors: [`Error::PoolShutDown`] after [`PoolManager::shutdown`];
    /// [`Error::InvalidConfig`] for zero workers; whatever creating the pool returns.
    ///
    /// ```
    /// let p = amorsize::global_pool_manager().get(1).unwrap();
    /// assert_eq!(p.workers(), 1);
    /// ```
    pub fn get(&self, workers: usize) -> Result<PoolHandle> {
        Ok(PoolHandle {
            lease: self.core.get(workers, true)?,
        })
    }

    /// A newly created pool of `workers`, even when an idle one exists; it joins the
    /// manager's idle pools when its handle is dropped.
    ///
    /// ```
    /// let m = amorsize::PoolManager::new();
    /// let a = m.get(1)?.id();
    /// let b = m.get_new(1)?.id();
    /// assert_ne!(a, b);
    /// assert_eq!(m.stats().created, 2);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn get_new(&self, workers: usize) -> Result<PoolHandle> {
        Ok(PoolHandle {
            lease: self.core.get(workers, false)?,
        })
    }

    /// Counts of pools; expired and dead idle pools are shut down first.
    ///
    /// ```
    /// let m = amorsize::PoolManager::new();
    /// let h = m.get(1)?;
    /// let s = m.stats();
    /// assert_eq!((s.created, s.active, s.idle), (1, 1, 0));
    /// assert!(serde_json::to_string(&s).unwrap().contains("\"created\":1"));
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn stats(&self) -> ManagerStats {
        self.core.stats(Instant::now())
    }

    /// Shuts down the idle pools that are expired as of `now` (or dead), returning how many.
    /// `get` and `stats` do this with the current time; passing a later instant shows what
    /// the timeout will do without waiting for it.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let m = amorsize::PoolManager::new(); // 300 s
    /// drop(m.get(1)?);
    /// assert_eq!(m.expire_idle(Instant::now()), 0);
    /// assert_eq!(m.expire_idle(Instant::now() + Duration::from_secs(301)), 1);
    /// assert_eq!(m.stats().idle, 0);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn expire_idle(&self, now: Instant) -> usize {
        self.core.expire(now)
    }

    /// Shuts down every idle pool now (lent-out pools are not affected), returning how many.
    ///
    /// ```
    /// let m = amorsize::PoolManager::new();
    /// drop(m.get(1)?);
    /// drop(m.get(2)?);
    /// assert_eq!(m.clear_idle(), 2);
    /// assert_eq!(m.stats().idle, 0);
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn clear_idle(&self) -> usize {
        self.core.clear_idle()
    }

    /// Shuts down every idle pool (joining its threads); pools lent out are shut down when
    /// their handles are dropped; later `get` calls fail with [`Error::PoolShutDown`].
    /// Calling it again does nothing.
    ///
    /// ```
    /// let m = amorsize::PoolManager::new();
    /// drop(m.get(1)?);
    /// m.shutdown();
    /// assert!(matches!(m.get(1), Err(amorsize::Error::PoolShutDown)));
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn shutdown(&self) {
        self.core.shutdown();
    }

    /// True once [`PoolManager::shutdown`] has been called.
    ///
    /// ```
    /// let m = amorsize::PoolManager::new();
    /// assert!(!m.is_shut_down());
    /// m.shutdown();
    /// assert!(m.is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        self.core.lock().shut_down
    }
}

/// The process-wide manager that `par_map` uses.
///
/// ```
/// let a = amorsize::global_pool_manager() as *const _;
/// let b = amorsize::global_pool_manager() as *const _;
/// assert_eq!(a, b);
/// ```
pub fn global_pool_manager() -> &'static PoolManager {
    static M: OnceLock<PoolManager> = OnceLock::new();
    M.get_or_init(PoolManager::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// A pool whose liveness the test controls and whose shutdowns are counted.
    struct Fake {
        alive: Arc<AtomicBool>,
        stopped: Arc<AtomicBool>,
    }

    thread_local! {
        static LAST: std::cell::RefCell<Option<(Arc<AtomicBool>, Arc<AtomicBool>)>> =
            const { std::cell::RefCell::new(None) };
        static FAIL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    impl ManagedPool for Fake {
        fn create(workers: usize) -> Result<Self> {
            if FAIL.with(|f| f.get()) {
                return Err(Error::Spawn("refused".into()));
            }
            let alive = Arc::new(AtomicBool::new(true));
            let stopped = Arc::new(AtomicBool::new(false));
            if workers == RACE_SIZE {
                RACE_POOLS.lock().unwrap().push(stopped.clone());
            }
            LAST.with(|l| *l.borrow_mut() = Some((alive.clone(), stopped.clone())));
            Ok(Fake { alive, stopped })
        }
        fn alive(&self) -> bool {
            self.alive.load(Ordering::SeqCst) && !self.stopped.load(Ordering::SeqCst)
        }
        fn stop(&self) {
            self.stopped.store(true, Ordering::SeqCst);
        }
        fn busy(&self) -> bool {
            false
        }
    }

    /// Pools of this size are registered for `shutdown_racing_with_callers` only.
    const RACE_SIZE: usize = 77;
    static RACE_POOLS: Mutex<Vec<Arc<AtomicBool>>> = Mutex::new(Vec::new());

    #[test]
    fn shutdown_racing_with_callers_leaves_nothing_running() {
        let c = core(DEFAULT_IDLE_TIMEOUT);
        let start = Arc::new(std::sync::Barrier::new(5));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let c = Arc::clone(&c);
                let start = Arc::clone(&start);
                std::thread::spawn(move || {
                    start.wait();
                    let mut refused = false;
                    for i in 0..200 {
                        match c.get(RACE_SIZE, i % 5 != 0) {
                            Ok(h) => {
                                assert!(!refused, "a get succeeded after one was refused");
                                assert!(h.entry().pool.alive());
                                drop(h);
                            }
                            Err(Error::PoolShutDown) => refused = true,
                            Err(e) => panic!("unexpected {e}"),
                        }
                    }
                })
            })
            .collect();
        start.wait();
        c.shutdown();
        for t in threads {
            t.join().unwrap();
        }
        let s = stats(&c);
        assert_eq!((s.idle, s.active, s.shut_down), (0, 0, true));
        let pools = RACE_POOLS.lock().unwrap();
        // A pool whose creation raced with shutdown is stopped at once and not counted as
        // created, so there may be more pools than `created`; every one must be stopped.
        assert!(
            pools.len() as u64 >= s.created,
            "{} < {}",
            pools.len(),
            s.created
        );
        assert!(
            pools.iter().all(|p| p.load(Ordering::SeqCst)),
            "a pool was left running"
        );
    }

    fn last() -> (Arc<AtomicBool>, Arc<AtomicBool>) {
        LAST.with(|l| l.borrow().clone().unwrap())
    }

    fn core(timeout: Duration) -> Arc<Core<Fake>> {
        Arc::new(Core::new(timeout))
    }

    fn stats(c: &Core<Fake>) -> ManagerStats {
        c.stats(Instant::now())
    }

    #[test]
    fn dead_idle_pool_is_replaced_not_handed_out() {
        let c = core(DEFAULT_IDLE_TIMEOUT);
        let h = c.get(2, true).unwrap();
        let first = h.entry().id;
        let (alive, stopped) = last();
        drop(h);
        assert_eq!(stats(&c).idle, 1);
        alive.store(false, Ordering::SeqCst); // its workers died while idle
        let h = c.get(2, true).unwrap();
        assert_ne!(h.entry().id, first);
        assert!(h.entry().pool.alive());
        assert!(
            stopped.load(Ordering::SeqCst),
            "the dead pool was shut down"
        );
        let s = stats(&c);
        assert_eq!((s.created, s.reused, s.replaced), (2, 0, 1));
    }

    #[test]
    fn pool_dead_on_return_is_not_kept() {
        let c = core(DEFAULT_IDLE_TIMEOUT);
        let h = c.get(1, true).unwrap();
        let (alive, stopped) = last();
        alive.store(false, Ordering::SeqCst);
        drop(h);
        assert!(stopped.load(Ordering::SeqCst));
        assert_eq!(stats(&c).idle, 0);
        assert_eq!(stats(&c).active, 0);
    }

    #[test]
    fn expiry_uses_the_given_instant() {
        let c = core(Duration::from_secs(10));
        drop(c.get(1, true).unwrap());
        let (_, stopped) = last();
        assert_eq!(c.expire(Instant::now()), 0);
        assert!(!stopped.load(Ordering::SeqCst));
        assert_eq!(c.expire(Instant::now() + Duration::from_secs(10)), 1);
        assert!(stopped.load(Ordering::SeqCst));
        let s = stats(&c);
        assert_eq!((s.idle, s.expired), (0, 1));
    }

    #[test]
    fn outstanding_pool_is_stopped_when_returned_after_shutdown() {
        let c = core(DEFAULT_IDLE_TIMEOUT);
        let held = c.get(1, true).unwrap();
        let (_, held_stopped) = last();
        drop(c.get(3, true).unwrap());
        let (_, idle_stopped) = last();
        c.shutdown();
        assert!(
            idle_stopped.load(Ordering::SeqCst),
            "idle pool stopped at shutdown"
        );
        assert!(
            !held_stopped.load(Ordering::SeqCst),
            "lent pool left running"
        );
        assert!(matches!(c.get(1, true), Err(Error::PoolShutDown)));
        drop(held);
        assert!(held_stopped.load(Ordering::SeqCst));
        let s = stats(&c);
        assert_eq!((s.idle, s.active, s.shut_down), (0, 0, true));
    }

    #[test]
    fn creation_failure_leaves_counts_unchanged() {
        let c = core(DEFAULT_IDLE_TIMEOUT);
        FAIL.with(|f| f.set(true));
        let r = c.get(2, true);
        FAIL.with(|f| f.set(false));
        assert!(matches!(r, Err(Error::Spawn(_))));
        let s = stats(&c);
        assert_eq!((s.created, s.active), (0, 0));
        assert!(matches!(c.get(0, true), Err(Error::InvalidConfig { .. })));
    }

    #[test]
    fn reuses_most_recent_pool_of_the_right_size() {
        let c = core(DEFAULT_IDLE_TIMEOUT);
        let a = c.get(2, true).unwrap();
        let b = c.get(2, true).unwrap();
        let other = c.get(3, true).unwrap();
        let (a_id, b_id, o_id) = (a.entry().id, b.entry().id, other.entry().id);
        drop(a);
        drop(other);
        drop(b);
        assert_eq!(c.get(2, true).unwrap().entry().id, b_id);
        let h1 = c.get(2, true).unwrap();
        let h2 = c.get(2, true).unwrap();
        let mut ids = [h1.entry().id, h2.entry().id];
        ids.sort();
        let mut want = [a_id, b_id];
        want.sort();
        assert_eq!(ids, want);
        assert_eq!(c.get(3, true).unwrap().entry().id, o_id);
    }
}
