//! Chunk scheduling: the guided-tail policy (a pure function), the claimable ranges, and the
//! per-job state every participant runs (`Job::participate`): claim a chunk, run it into the
//! preallocated result buffer, time it when needed, feed the controller, report progress.
//!
//! ```
//! use amorsize::pool::guided_chunk;
//! // One participant of 4 walking 1000 items in chunks of 100: the tail shrinks to 1.
//! let (mut left, mut sizes) = (1000, Vec::new());
//! while left > 0 {
//!     let c = guided_chunk(100, left, 4);
//!     sizes.push(c);
//!     left -= c;
//! }
//! assert_eq!(sizes.iter().sum::<usize>(), 1000);
//! assert_eq!(&sizes[..3], &[100, 100, 100]);
//! assert!(sizes.windows(2).all(|w| w[1] <= w[0]));
//! assert_eq!(sizes.last(), Some(&1));
//! ```

use super::{CancelToken, ChunkController, ChunkPolicy, Progress, ProgressFn};
use super::{RunOptions, RunOutput, RunStats};
use crate::{Error, Result};
use crossbeam_utils::CachePadded;
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Progress callbacks are at least this far apart.
pub(crate) const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// The size of the next chunk: the current size, but at most `remaining / (2 × participants)`
/// once that is smaller (the guided tail), never below 1 and never above `remaining`.
/// Returns 0 only when nothing remains.
///
/// ```
/// use amorsize::pool::guided_chunk;
/// assert_eq!(guided_chunk(100, 10_000, 4), 100); // far from the end: the current size
/// assert_eq!(guided_chunk(100, 400, 4), 50);     // tail: 400 / (2 × 4)
/// assert_eq!(guided_chunk(100, 3, 4), 1);        // never below 1
/// assert_eq!(guided_chunk(100, 0, 4), 0);        // nothing left
/// ```
pub fn guided_chunk(current: usize, remaining: usize, participants: usize) -> usize {
    if remaining == 0 {
        return 0;
    }
    let tail = remaining / participants.max(1).saturating_mul(2);
    let size = if tail < current { tail } else { current };
    size.clamp(1, remaining)
}

/// How participants claim chunks of `0..len`: one contiguous range each, stolen from when
/// a participant runs out (see `README.md`, "Claiming chunks").
///
/// `0..len` starts split into `parts` equal contiguous ranges, one per participant expected
/// to enter (slot `p` owns range `p`). A participant claims chunks from the front of its own
/// range; the size is [`guided_chunk`] over what is left in it (so at most half of it, and the
/// last chunks of every range are small). One whose range is empty steals the back half of the
/// largest other range and goes on from there. Every participant therefore walks contiguous
/// indices, as under rayon's splitting (neighbouring items often share memory), and nobody
/// idles while any range has work. Each range is one `AtomicU64` (`front << 32 | back`, in
/// units of `unit` items, 1 unless `len` exceeds `u32::MAX`) on its own cache line: an owner's
/// claim never touches another participant's line.
///
/// Items at or past `limit` are no longer handed out. A panic lowers it to the panicking
/// index, so the items before that index still run and the smallest panicking index is
/// exact, as in the sequential loop.
///
/// Once `solo` is set, only participant 0 (the caller) claims: the others find nothing, and
/// the caller steals their ranges as they are.
#[derive(Debug)]
pub(crate) struct Claims {
    ranges: Box<[CachePadded<AtomicU64>]>,
    unit: usize,
    len: usize,
    limit: CachePadded<AtomicUsize>,
    solo: AtomicBool,
}

/// Ranges a thief looks at before it steals from the largest it saw. A job of up to this many
/// participants compares them all; with thousands, a full scan per steal would cost more than
/// the chunk it finds (see [`Claims::steal`]).
const STEAL_SCAN: usize = 64;

fn pack(front: u64, back: u64) -> u64 {
    (front << 32) | back
}

fn unpack(x: u64) -> (u64, u64) {
    (x >> 32, x & 0xffff_ffff)
}

impl Claims {
    /// `len` items in `parts` ranges (at least 1), with room for `slots` participants
    /// (slots past `parts` start empty and steal).
    pub(crate) fn new(len: usize, parts: usize, slots: usize) -> Self {
        Self::with_max_units(len, parts, slots, u32::MAX as usize)
    }

    fn with_max_units(len: usize, parts: usize, slots: usize, max_units: usize) -> Self {
        let unit = len.div_ceil(max_units.max(1)).max(1);
        let units = len.div_ceil(unit) as u64;
        let slots = slots.max(parts).max(1);
        let parts = parts.max(1) as u64;
        let ranges = (0..slots as u64)
            .map(|p| {
                let r = if p < parts {
                    pack(p * units / parts, (p + 1) * units / parts)
                } else {
                    0
                };
                CachePadded::new(AtomicU64::new(r))
            })
            .collect();
        Claims {
            ranges,
            unit,
            len,
            limit: CachePadded::new(AtomicUsize::new(usize::MAX)),
            solo: AtomicBool::new(false),
        }
    }

    /// From now on only participant 0 claims (see [`Claims`]).
    pub(crate) fn go_solo(&self) {
        self.solo.store(true, Ordering::Relaxed);
    }

    /// Units whose first item is below the limit.
    #[inline]
    fn limit_units(&self) -> u64 {
        let limit = self.limit.load(Ordering::Relaxed).min(self.len);
        limit.div_ceil(self.unit) as u64
    }

    /// Claims the next chunk for participant `slot`: at most `current` items (rounded up to
    /// whole units), guided tail applied. `None` when no range below the limit has work.
    #[inline]
    pub(crate) fn claim(&self, slot: usize, current: usize) -> Option<(usize, usize)> {
        if slot != 0 && self.solo.load(Ordering::Relaxed) {
            return None;
        }
        let slot = slot % self.ranges.len();
        let current = current.div_ceil(self.unit).max(1) as u64;
        loop {
            let limit = self.limit_units();
            if let Some((a, b)) = self.claim_own(slot, current, limit) {
                let start = a as usize * self.unit;
                let end = (b as usize)
                    .saturating_mul(self.unit)
                    .min(self.len)
                    .min(self.limit.load(Ordering::Relaxed));
                if start < end {
                    return Some((start, end));
                }
                // The limit fell below this chunk meanwhile: its items are not run.
                continue;
            }
            if !self.steal(slot, limit) {
                return None;
            }
        }
    }

    fn claim_own(&self, slot: usize, current: u64, limit: u64) -> Option<(u64, u64)> {
        let own = &self.ranges[slot];
        let mut cur = own.load(Ordering::Relaxed);
        loop {
            let (front, back) = unpack(cur);
            let end = back.min(limit);
            if front >= end {
                return None;
            }
            let size = guided_chunk(current as usize, (end - front) as usize, 1) as u64;
            match own.compare_exchange_weak(
                cur,
                pack(front + size, back),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some((front, front + size)),
                Err(now) => cur = now,
            }
        }
    }

    /// Moves the back half of the largest other range (below `limit`) into `slot`'s range,
    /// which is empty. `false` when every range is empty.
    ///
    /// The thief looks at the [`STEAL_SCAN`] ranges after its own (all of them in a smaller
    /// job) and takes from the largest it saw; only when those are all empty does it look at
    /// every range before it gives up.
    fn steal(&self, slot: usize, limit: u64) -> bool {
        let n = self.ranges.len();
        loop {
            let mut best = self.largest(slot, n.min(STEAL_SCAN), limit);
            if best.is_none() && n > STEAL_SCAN {
                best = self.largest(slot, n, limit);
            }
            let Some((q, cur, left)) = best else {
                return false;
            };
            let (front, back) = unpack(cur);
            let end = back.min(limit);
            let mid = end - (left - left / 2);
            // No ABA: a range's value only shrinks until its owner empties it, and a range
            // refilled by a steal holds items that were never handed out, so a stale value
            // never reappears.
            if self.ranges[q]
                .compare_exchange(cur, pack(front, mid), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                // Nobody writes an empty range but its owner: thieves skip it.
                self.ranges[slot].store(pack(mid, end), Ordering::Relaxed);
                return true;
            }
        }
    }

    /// The largest range (slot, value, units left below `limit`) among the `count` ranges
    /// after `slot`'s own, wrapping around; `None` if they are all empty.
    fn largest(&self, slot: usize, count: usize, limit: u64) -> Option<(usize, u64, u64)> {
        let n = self.ranges.len();
        let mut best: Option<(usize, u64, u64)> = None;
        for k in 1..=count.min(n) {
            let q = (slot + k) % n;
            if q == slot {
                continue;
            }
            let cur = self.ranges[q].load(Ordering::Relaxed);
            let (front, back) = unpack(cur);
            let left = back.min(limit).saturating_sub(front);
            if left > best.map_or(0, |b| b.2) {
                best = Some((q, cur, left));
            }
        }
        best
    }

    /// Items not yet handed out (below the limit).
    pub(crate) fn remaining(&self) -> usize {
        let limit = self.limit_units();
        let units: u64 = self
            .ranges
            .iter()
            .map(|r| {
                let (front, back) = unpack(r.load(Ordering::Relaxed));
                back.min(limit).saturating_sub(front)
            })
            .sum();
        (units as usize).saturating_mul(self.unit).min(self.len)
    }

    /// Stops handing out items at or past `index` (a panic there).
    pub(crate) fn limit_to(&self, index: usize) {
        self.limit.fetch_min(index, Ordering::Relaxed);
    }
}

enum Sizing {
    Fixed(usize),
    Adaptive {
        current: CachePadded<AtomicUsize>,
        ctl: Box<Mutex<ChunkController>>,
    },
}

struct ProgressState {
    callback: ProgressFn,
    done: AtomicUsize,
    last_ns: AtomicU64,
    broken: AtomicBool,
}

#[derive(Debug, Clone, Copy, Default)]
struct PartStats {
    busy: Duration,
    finish: Duration,
    chunks: usize,
    items: usize,
    chunk_time: Duration,
    timed: bool,
    /// CPU time the participant's thread burned in the job (measured when the job grows).
    cpu: Duration,
    /// Time the participant's thread waited for a CPU in the job (measured for the first
    /// participants of a job that may grow, where the kernel tells).
    run_delay: Duration,
}

/// A raw pointer to the result buffer, shared by the participants.
struct OutPtr<R>(*mut R);

/// The state of one `map_range` job. It lives on the calling thread's stack; participants
/// reach it through a lifetime-erased reference that `ThreadPool` guarantees is dropped
/// before the call returns (see `workers.rs`).
pub(crate) struct Job<'a, R, F> {
    f: &'a F,
    len: usize,
    claims: Claims,
    sizing: Sizing,
    out: OutPtr<R>,
    cancel: Option<&'a CancelToken>,
    failure: Mutex<Option<(usize, Box<dyn Any + Send>)>>,
    written: Mutex<Vec<(usize, usize)>>,
    /// Ranges of `out` the caller filled before the job (sorted, disjoint): skipped by the
    /// participants, dropped with the rest on failure.
    holes: &'a [(usize, usize)],
    hole_items: usize,
    parts: Mutex<Vec<PartStats>>,
    progress: Option<ProgressState>,
    /// Whether each participant reads its thread's CPU clock on entering and leaving (a job
    /// that may grow: its caller tells waiting items from computing ones with it).
    cpu_clocks: bool,
    /// Participant slots (below this) that also read their run delay then: the job's first
    /// participants, up to the effective cores, whose verdict is "computes" on a busy machine
    /// too. (A `schedstat` read costs ~2 µs; the tens of workers a job of waiting items grows
    /// to skip it, and so do the participants past the cores of a job that starts that wide:
    /// their reads would queue for the cores before their first items.)
    delay_slots: usize,
    start: Instant,
    /// What the caller saw when it took the job over alone (see [`super::Solo`]).
    solo: Mutex<Option<super::CallerSeen>>,
    /// Whether participants count the items they run in `counted` (a job with a solo check,
    /// from [`Job::count_items`] until the check is made: one shared atomic add a chunk, for
    /// that long only).
    counting: AtomicBool,
    counted: AtomicUsize,
}

// SAFETY: participants share a `Job` by reference. The only field that is not `Sync` by
// itself is `out`, a pointer into the result buffer: every index is written by exactly one
// participant (the one whose chunk, claimed from the atomic ranges, contains it), and the
// buffer is read only by the caller after every participant has left the job (the latch in
// `workers.rs` gives the happens-before edge). `R: Send` because results are produced on
// worker threads and handed to the caller; `F: Sync` because every participant calls `f`.
unsafe impl<R: Send, F: Sync> Sync for Job<'_, R, F> {}

/// Appends `r` to `ranges`, merging it with the last range when they touch.
fn push_range(ranges: &mut Vec<(usize, usize)>, r: (usize, usize)) {
    match ranges.last_mut() {
        Some(last) if last.1 == r.0 => last.1 = r.1,
        _ => ranges.push(r),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<'a, R: Send, F: Fn(usize) -> R + Sync> Job<'a, R, F> {
    /// A job over `0..len` writing into `out` (which has capacity for `len` results), except
    /// for the `holes`: sorted, disjoint ranges within `0..len` whose slots the caller has
    /// already written. `0..len` is split among the `expected` participants (slots
    /// `0..expected`); up to `max_participants` may enter (a job that grows).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        f: &'a F,
        len: usize,
        expected: usize,
        opts: &'a RunOptions,
        cancel: Option<&'a CancelToken>,
        out: &mut Vec<R>,
        holes: &'a [(usize, usize)],
        max_participants: usize,
    ) -> Self {
        debug_assert!(out.capacity() >= len && out.is_empty());
        let sizing = match &opts.chunks {
            ChunkPolicy::Fixed(n) => Sizing::Fixed((*n).max(1)),
            ChunkPolicy::Adaptive(cfg) | ChunkPolicy::AdaptiveSeed(cfg) => {
                let seed = matches!(opts.chunks, ChunkPolicy::AdaptiveSeed(_));
                let ctl = ChunkController::new(cfg.clone())
                    .item_weighting(!seed)
                    .regime_reaction(!seed);
                Sizing::Adaptive {
                    current: CachePadded::new(AtomicUsize::new(ctl.chunk_size().max(1))),
                    ctl: Box::new(Mutex::new(ctl)),
                }
            }
        };
        Job {
            f,
            len,
            claims: Claims::new(len, expected, max_participants),
            sizing,
            out: OutPtr(out.as_mut_ptr()),
            cancel,
            failure: Mutex::new(None),
            written: Mutex::new(holes.to_vec()),
            holes,
            hole_items: holes.iter().map(|(a, b)| b - a).sum(),
            parts: Mutex::new(vec![
                PartStats::default();
                expected.max(max_participants).max(1)
            ]),
            progress: opts.progress.as_ref().map(|cb| ProgressState {
                callback: cb.clone(),
                done: AtomicUsize::new(0),
                last_ns: AtomicU64::new(0),
                broken: AtomicBool::new(false),
            }),
            cpu_clocks: opts.grow.is_some(),
            delay_slots: if opts.grow.is_some() {
                expected.min(crate::system::info().cores.effective.max(1))
            } else {
                0
            },
            start: Instant::now(),
            solo: Mutex::new(None),
            counting: AtomicBool::new(false),
            counted: AtomicUsize::new(0),
        }
    }

    /// Items run by every participant since the job started (counted from
    /// [`Job::count_items`] until the solo check stops the count: [`Job::stop_counting`]).
    pub(crate) fn counted(&self) -> usize {
        self.counted.load(Ordering::Relaxed)
    }

    /// Time since the job started.
    pub(crate) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Has the participants count the items they run, for a solo check (before any enters).
    pub(crate) fn count_items(&self) {
        self.counting.store(true, Ordering::Relaxed);
    }

    /// Stops counting items (the solo check is made).
    pub(crate) fn stop_counting(&self) {
        self.counting.store(false, Ordering::Relaxed);
    }

    #[inline]
    fn current_size(&self) -> usize {
        match &self.sizing {
            Sizing::Fixed(n) => *n,
            Sizing::Adaptive { current, .. } => current.load(Ordering::Relaxed),
        }
    }

    /// Items not yet claimed.
    pub(crate) fn remaining(&self) -> usize {
        self.claims.remaining()
    }

    #[inline]
    fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.is_cancelled())
    }

    /// Leaves the rest of the job to participant 0, which saw `seen` (see [`super::Solo`]).
    pub(crate) fn go_solo(&self, seen: super::CallerSeen) {
        *lock(&self.solo) = Some(seen);
        self.claims.go_solo();
    }

    /// Runs chunks as participant `slot` until no range has work left or the job is cancelled,
    /// calling `between` (which must not unwind) after each chunk with the items this
    /// participant has run so far. Never unwinds: panics of `f`
    /// are caught per chunk and recorded.
    pub(crate) fn participate(&self, slot: usize, between: Option<&dyn Fn(usize)>) {
        let entered = Instant::now();
        let cpu0 = self.cpu_clocks.then(crate::sample::thread_cpu_time);
        let delay0 = (self.cpu_clocks && slot < self.delay_slots)
            .then(crate::sample::run_delay)
            .flatten();
        let timed = matches!(self.sizing, Sizing::Adaptive { .. }) || self.progress.is_some();
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        let mut st = PartStats {
            timed,
            ..PartStats::default()
        };
        while !self.cancelled() {
            let Some((s, e)) = self.claims.claim(slot, self.current_size()) else {
                break;
            };
            let c0 = if timed { Some(Instant::now()) } else { None };
            let mut next = s;
            // The chunk's segments between holes, each written and recorded on its own; the
            // hole lookup is once a chunk, never once an item.
            let mut seg_start = s;
            let mut done = 0usize;
            let res = catch_unwind(AssertUnwindSafe(|| {
                let mut h = self.holes.partition_point(|&(_, he)| he <= s);
                let mut i = s;
                while i < e {
                    let seg_end = match self.holes.get(h) {
                        Some(&(hs, _)) if hs < e => hs.max(i),
                        _ => e,
                    };
                    seg_start = i;
                    next = i;
                    for j in i..seg_end {
                        let r = (self.f)(j);
                        // SAFETY: `j < len <= capacity`, and index `j` belongs to this chunk
                        // only (claimed from the ranges) and to no hole, so no other thread
                        // and no earlier write touches it.
                        unsafe { self.out.0.add(j).write(r) };
                        next = j + 1;
                    }
                    if seg_end > i {
                        push_range(&mut ranges, (i, seg_end));
                        done += seg_end - i;
                    }
                    if seg_end >= e {
                        break;
                    }
                    i = self.holes[h].1.min(e);
                    next = i;
                    seg_start = i;
                    h += 1;
                }
            }));
            if res.is_err() && next > seg_start {
                push_range(&mut ranges, (seg_start, next));
                done += next - seg_start;
            }
            st.chunks += 1;
            st.items += done;
            if self.counting.load(Ordering::Relaxed) {
                self.counted.fetch_add(done, Ordering::Relaxed);
            }
            if let Some(between) = between {
                between(st.items);
            }
            if let Err(payload) = res {
                // The items before this one still run (they may panic first); none after it.
                self.record_panic(next, payload);
                continue;
            }
            if let Some(c0) = c0 {
                let d = c0.elapsed();
                st.chunk_time += d;
                if let Sizing::Adaptive { current, ctl } = &self.sizing {
                    // Never wait for the controller: if another participant is feeding it
                    // right now, this chunk's sample is dropped (samples are plentiful; a
                    // convoy behind a preempted lock holder is not).
                    let guard = match ctl.try_lock() {
                        Ok(g) => Some(g),
                        Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
                        Err(std::sync::TryLockError::WouldBlock) => None,
                    };
                    if let Some(mut c) = guard {
                        c.set_remaining(self.claims.remaining());
                        let n = c.record(d, e - s);
                        current.store(n.max(1), Ordering::Relaxed);
                    }
                }
                self.report_progress(e - s);
            }
        }
        st.busy = entered.elapsed();
        st.finish = self.start.elapsed();
        if let Some(c0) = cpu0 {
            st.cpu = crate::sample::thread_cpu_time().saturating_sub(c0);
        }
        if let Some(d0) = delay0 {
            st.run_delay =
                crate::sample::run_delay().map_or(Duration::ZERO, |d| d.saturating_sub(d0));
        }
        if !ranges.is_empty() {
            lock(&self.written).extend(ranges);
        }
        if let Some(p) = lock(&self.parts).get_mut(slot) {
            *p = st;
        }
    }

    fn record_panic(&self, index: usize, payload: Box<dyn Any + Send>) {
        self.claims.limit_to(index);
        let mut f = lock(&self.failure);
        match &*f {
            Some((i, _)) if *i <= index => {}
            _ => *f = Some((index, payload)),
        }
    }

    fn report_progress(&self, items: usize) {
        let Some(p) = &self.progress else { return };
        let done = p.done.fetch_add(items, Ordering::Relaxed) + items;
        let now = self.start.elapsed().as_nanos() as u64;
        let last = p.last_ns.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= PROGRESS_EVERY.as_nanos() as u64
            && p.last_ns
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.call_progress(done);
        }
    }

    fn call_progress(&self, done: usize) {
        let Some(p) = &self.progress else { return };
        if p.broken.load(Ordering::Relaxed) {
            return;
        }
        let report = Progress {
            done,
            total: self.len,
            elapsed: self.start.elapsed(),
        };
        // A panicking progress callback must not take the run down; it is disabled.
        if catch_unwind(AssertUnwindSafe(|| (p.callback)(report))).is_err() {
            p.broken.store(true, Ordering::Relaxed);
        }
    }

    /// After every participant has left: the results (or the error) and the stats.
    /// `out` must be the vector whose buffer was given to [`Job::new`].
    pub(crate) fn finish(self, mut out: Vec<R>, inline: bool) -> Result<RunOutput<R>> {
        let parts = std::mem::take(&mut *lock(&self.parts));
        let written = std::mem::take(&mut *lock(&self.written));
        let failure = lock(&self.failure).take();
        let items: usize = parts.iter().map(|p| p.items).sum();
        let chunks: usize = parts.iter().map(|p| p.chunks).sum();
        let present: Vec<&PartStats> = parts.iter().filter(|p| p.chunks > 0).collect();
        let imbalance = match (
            present.iter().map(|p| p.finish).min(),
            present.iter().map(|p| p.finish).max(),
        ) {
            (Some(a), Some(b)) => b - a,
            _ => Duration::ZERO,
        };
        let (final_size, adjustments) = match &self.sizing {
            Sizing::Fixed(n) => (*n, Vec::new()),
            Sizing::Adaptive { current, ctl } => (
                current.load(Ordering::Relaxed),
                lock(ctl).history().to_vec(),
            ),
        };
        let stats = RunStats {
            chunks,
            items,
            initial_chunk_size: 0,
            final_chunk_size: final_size,
            wall: self.start.elapsed(),
            busy: parts.iter().map(|p| p.busy).collect(),
            finish: parts.iter().map(|p| p.finish).collect(),
            participants: parts
                .iter()
                .filter(|p| p.busy > Duration::ZERO)
                .count()
                .max(1),
            imbalance,
            chunk_time: parts
                .iter()
                .map(|p| if p.timed { p.chunk_time } else { p.busy })
                .sum(),
            inline,
            adjustments,
            observed: None,
            cpu: if self.cpu_clocks {
                parts.iter().map(|p| p.cpu).collect()
            } else {
                Vec::new()
            },
            run_delay: parts
                .iter()
                .take(self.delay_slots)
                .map(|p| p.run_delay)
                .collect(),
            solo: lock(&self.solo).take(),
        };
        let complete = failure.is_none() && items + self.hole_items == self.len;
        if complete {
            if self.progress.is_some() {
                self.call_progress(self.len);
            }
            // SAFETY: every index in 0..len was written exactly once: the holes by the caller,
            // the rest by participants (the claims hand out disjoint ranges covering 0..len,
            // the holes are skipped, and `items + hole_items == len` counts the writes).
            unsafe { out.set_len(self.len) };
            return Ok(RunOutput {
                results: out,
                stats,
            });
        }
        // Drop exactly the results that were written; the buffer itself stays empty.
        for (s, e) in written {
            // SAFETY: `[s, e)` was written by one participant and never read or dropped.
            unsafe {
                std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(
                    out.as_mut_ptr().add(s),
                    e - s,
                ))
            };
        }
        drop(out);
        Err(match failure {
            Some((index, payload)) => Error::from_panic(index, payload),
            None => Error::Cancelled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guided_keeps_current_far_from_end() {
        assert_eq!(guided_chunk(10, 1_000, 2), 10);
        assert_eq!(guided_chunk(10, 40, 2), 10); // 40 / 4 = 10: not smaller
    }

    #[test]
    fn guided_shrinks_in_tail() {
        assert_eq!(guided_chunk(10, 39, 2), 9);
        assert_eq!(guided_chunk(64, 100, 5), 10);
        assert_eq!(guided_chunk(64, 1, 5), 1);
        assert_eq!(guided_chunk(1, 1, 1), 1);
    }

    #[test]
    fn guided_never_exceeds_remaining_or_drops_below_one() {
        for cur in [1usize, 2, 7, 100, usize::MAX] {
            for rem in [1usize, 2, 3, 10, 1000] {
                for p in [1usize, 2, 3, 8] {
                    let g = guided_chunk(cur, rem, p);
                    assert!(g >= 1 && g <= rem && g <= cur, "{cur} {rem} {p} -> {g}");
                    let tail = rem / (2 * p);
                    if tail < cur {
                        assert_eq!(g, tail.max(1));
                    }
                }
            }
        }
        assert_eq!(guided_chunk(5, 0, 3), 0);
        assert_eq!(guided_chunk(5, 100, 0), 5); // zero participants treated as one
    }

    /// Claims everything, round-robin over `slots` participants, and checks that every item
    /// was handed out exactly once (`before`: chunks claimed earlier); returns each slot's
    /// chunks in the order claimed.
    fn drain(
        c: &Claims,
        len: usize,
        slots: usize,
        current: usize,
        before: &[(usize, usize)],
    ) -> Vec<Vec<(usize, usize)>> {
        let mut seen = vec![false; len];
        for &(s, e) in before {
            seen[s..e].iter_mut().for_each(|x| *x = true);
        }
        let mut got = vec![Vec::new(); slots];
        let mut live: Vec<usize> = (0..slots).collect();
        while !live.is_empty() {
            live.retain(|&p| match c.claim(p, current) {
                Some((s, e)) => {
                    assert!(s < e && e <= len, "{s}..{e}");
                    for x in &mut seen[s..e] {
                        assert!(!*x, "item handed out twice");
                        *x = true;
                    }
                    got[p].push((s, e));
                    true
                }
                None => false,
            });
        }
        assert!(seen.iter().all(|x| *x), "an item was never handed out");
        assert_eq!(c.remaining(), 0);
        got
    }

    #[test]
    fn claims_cover_the_range_once() {
        for (len, parts, slots, current) in [
            (1000, 3, 3, 37),
            (1000, 1, 1, 1),
            (7, 4, 4, 100),
            (3, 8, 8, 1),
            (1000, 2, 5, 10),
            (0, 2, 2, 4),
        ] {
            let c = Claims::new(len, parts, slots);
            assert_eq!(c.remaining(), len);
            drain(&c, len, slots, current, &[]);
        }
    }

    /// Once solo, only participant 0 claims: the others get nothing, and 0 takes every item
    /// left, theirs included, each once.
    #[test]
    fn after_go_solo_only_the_caller_claims_and_takes_the_others_ranges() {
        let c = Claims::new(1000, 3, 3);
        let before = vec![c.claim(1, 10).unwrap(), c.claim(0, 10).unwrap()];
        c.go_solo();
        assert_eq!(c.claim(1, 10), None);
        assert_eq!(c.claim(2, 10), None);
        let got = drain(&c, 1000, 3, 10, &before);
        assert!(got[1].is_empty() && got[2].is_empty());
        assert_eq!(got[0].iter().map(|(s, e)| e - s).sum::<usize>(), 1000 - 20);
    }

    #[test]
    fn each_participant_starts_on_its_own_contiguous_range() {
        let c = Claims::new(1000, 2, 2);
        assert_eq!(c.claim(0, 10), Some((0, 10)));
        assert_eq!(c.claim(1, 10), Some((500, 510)));
        assert_eq!(c.claim(0, 10), Some((10, 20)));
        assert_eq!(c.remaining(), 1000 - 30);
    }

    #[test]
    fn the_tail_of_a_range_is_guided_and_an_empty_range_steals_the_back_half() {
        let c = Claims::new(100, 2, 2);
        // Slot 0 has 0..50: chunks of at most half its rest.
        assert_eq!(c.claim(0, 40), Some((0, 25)));
        assert_eq!(c.claim(0, 40), Some((25, 37)));
        // Drain slot 1's range, then it steals the back half of slot 0's 37..50.
        while let Some((s, _)) = c.claim(1, 1000) {
            if s >= 50 {
                continue;
            }
            assert_eq!(s, 43, "slot 1 stole 43..50 (the back half of 37..50)");
            break;
        }
        assert_eq!(c.claim(0, 1000).map(|r| r.0), Some(37));
    }

    #[test]
    fn a_late_participant_steals_from_the_largest_range() {
        let c = Claims::new(1000, 2, 3);
        assert_eq!(c.claim(0, 100), Some((0, 100))); // slot 1 holds 500..1000
        assert_eq!(c.claim(2, 1000), Some((750, 875)));
        let got = drain(&c, 1000, 3, 16, &[(0, 100), (750, 875)]);
        assert!(got.iter().all(|g| !g.is_empty()));
    }

    #[test]
    fn items_past_the_limit_are_not_handed_out() {
        let c = Claims::new(100, 2, 2);
        assert_eq!(c.claim(1, 5), Some((50, 55)));
        c.limit_to(52); // a panic at item 52
        assert_eq!(c.remaining(), 50);
        let mut seen = Vec::new();
        for p in [0, 1, 0, 1] {
            while let Some((s, e)) = c.claim(p, 7) {
                assert!(e <= 52);
                seen.extend(s..e);
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
        c.limit_to(80); // a later panic does not raise it
        assert_eq!(c.claim(1, 5), None);
    }

    #[test]
    fn lengths_past_u32_are_claimed_in_units() {
        // Ranges hold 32-bit indices; a longer job counts in units of several items.
        let c = Claims::with_max_units(1001, 2, 2, 100);
        assert_eq!(c.unit, 11);
        let got = drain(&c, 1001, 2, 1, &[]);
        assert!(got.concat().iter().all(|&(s, _)| s % 11 == 0));
        let c = Claims::with_max_units(1001, 2, 2, 100);
        c.limit_to(500);
        let mut n = 0;
        while let Some((s, e)) = c.claim(0, 30) {
            assert!(e <= 500, "{s}..{e}");
            n += e - s;
        }
        assert_eq!(n, 500);
    }

    #[test]
    fn a_job_of_many_participants_steals_from_a_window_and_still_drains() {
        // More slots than STEAL_SCAN: thieves look at a window first, then at every range.
        let c = Claims::new(10_000, 3, 3 * STEAL_SCAN);
        // The ranges after this slot, as far as its window reaches, are all empty; the full
        // scan finds the work.
        let far = 3 + STEAL_SCAN;
        let first = c
            .claim(far, 10)
            .expect("the full scan finds the ranges of slots 0..3");
        let got = drain(&c, 10_000, 3 * STEAL_SCAN, 7, &[first]);
        assert!(got.iter().filter(|g| !g.is_empty()).count() > 3);
    }

    #[test]
    fn claims_from_many_threads_cover_the_range_once() {
        let len = 100_000;
        let c = Claims::new(len, 3, 4);
        let hits: Vec<AtomicUsize> = (0..len).map(|_| AtomicUsize::new(0)).collect();
        std::thread::scope(|s| {
            for p in 0..4 {
                let (c, hits) = (&c, &hits);
                s.spawn(move || {
                    while let Some((a, b)) = c.claim(p, 1 + p * 3) {
                        for h in &hits[a..b] {
                            h.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
    }
}
