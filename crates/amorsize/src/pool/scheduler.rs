//! Chunk scheduling: the guided-tail policy (a pure function), the shared cursor, and the
//! per-job state every participant runs (`Job::participate`): claim a chunk, run it into the
//! preallocated result buffer, time it when needed, feed the controller, report progress.

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

/// The shared cursor over `0..len`; participants claim `[start, end)` ranges from it.
#[derive(Debug)]
pub(crate) struct Cursor {
    next: CachePadded<AtomicUsize>,
    len: usize,
}

impl Cursor {
    pub(crate) fn new(len: usize) -> Self {
        Cursor {
            next: CachePadded::new(AtomicUsize::new(0)),
            len,
        }
    }

    /// Claims the next chunk of (at most) `current` items, guided tail applied.
    #[inline]
    pub(crate) fn claim(&self, current: usize, participants: usize) -> Option<(usize, usize)> {
        let mut start = self.next.load(Ordering::Relaxed);
        loop {
            if start >= self.len {
                return None;
            }
            let size = guided_chunk(current, self.len - start, participants);
            match self.next.compare_exchange_weak(
                start,
                start + size,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some((start, start + size)),
                Err(now) => start = now,
            }
        }
    }

    fn remaining(&self) -> usize {
        self.len.saturating_sub(self.next.load(Ordering::Relaxed))
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
}

/// A raw pointer to the result buffer, shared by the participants.
struct OutPtr<R>(*mut R);

/// The state of one `map_range` job. It lives on the calling thread's stack; participants
/// reach it through a lifetime-erased reference that `ThreadPool` guarantees is dropped
/// before the call returns (see `workers.rs`).
pub(crate) struct Job<'a, R, F> {
    f: &'a F,
    len: usize,
    /// Participants the guided tail divides the rest among (raised when a job grows).
    participants: AtomicUsize,
    cursor: Cursor,
    sizing: Sizing,
    out: OutPtr<R>,
    stop: AtomicBool,
    cancel: Option<&'a CancelToken>,
    failure: Mutex<Option<(usize, Box<dyn Any + Send>)>>,
    written: Mutex<Vec<(usize, usize)>>,
    /// Ranges of `out` the caller filled before the job (sorted, disjoint): skipped by the
    /// participants, dropped with the rest on failure.
    holes: &'a [(usize, usize)],
    hole_items: usize,
    parts: Mutex<Vec<PartStats>>,
    progress: Option<ProgressState>,
    start: Instant,
}

// SAFETY: participants share a `Job` by reference. The only field that is not `Sync` by
// itself is `out`, a pointer into the result buffer: every index is written by exactly one
// participant (the one whose chunk, claimed from the atomic cursor, contains it), and the
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
    /// already written.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        f: &'a F,
        len: usize,
        participants: usize,
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
            participants: AtomicUsize::new(participants.max(1)),
            cursor: Cursor::new(len),
            sizing,
            out: OutPtr(out.as_mut_ptr()),
            stop: AtomicBool::new(false),
            cancel,
            failure: Mutex::new(None),
            written: Mutex::new(holes.to_vec()),
            holes,
            hole_items: holes.iter().map(|(a, b)| b - a).sum(),
            parts: Mutex::new(vec![
                PartStats::default();
                participants.max(max_participants).max(1)
            ]),
            progress: opts.progress.as_ref().map(|cb| ProgressState {
                callback: cb.clone(),
                done: AtomicUsize::new(0),
                last_ns: AtomicU64::new(0),
                broken: AtomicBool::new(false),
            }),
            start: Instant::now(),
        }
    }

    #[inline]
    fn current_size(&self) -> usize {
        match &self.sizing {
            Sizing::Fixed(n) => *n,
            Sizing::Adaptive { current, .. } => current.load(Ordering::Relaxed),
        }
    }

    /// The job now has `participants` (it grew): the guided tail divides the rest among them.
    pub(crate) fn set_participants(&self, participants: usize) {
        self.participants
            .fetch_max(participants.max(1), Ordering::Relaxed);
    }

    /// Items not yet claimed.
    pub(crate) fn remaining(&self) -> usize {
        self.cursor.remaining()
    }

    #[inline]
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.cancel.is_some_and(|c| c.is_cancelled())
    }

    /// Runs chunks as participant `slot` until the cursor is exhausted or the job stops.
    /// Never unwinds: panics of `f` are caught per chunk and recorded.
    pub(crate) fn participate(&self, slot: usize) {
        let entered = Instant::now();
        let timed = matches!(self.sizing, Sizing::Adaptive { .. }) || self.progress.is_some();
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        let mut st = PartStats {
            timed,
            ..PartStats::default()
        };
        while !self.stopped() {
            let participants = self.participants.load(Ordering::Relaxed);
            let Some((s, e)) = self.cursor.claim(self.current_size(), participants) else {
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
                        // only (claimed from the cursor) and to no hole, so no other thread
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
            if let Err(payload) = res {
                self.record_panic(next, payload);
                break;
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
                        c.set_remaining(self.cursor.remaining());
                        let n = c.record(d, e - s);
                        current.store(n.max(1), Ordering::Relaxed);
                    }
                }
                self.report_progress(e - s);
            }
        }
        st.busy = entered.elapsed();
        st.finish = self.start.elapsed();
        if !ranges.is_empty() {
            lock(&self.written).extend(ranges);
        }
        if let Some(p) = lock(&self.parts).get_mut(slot) {
            *p = st;
        }
    }

    fn record_panic(&self, index: usize, payload: Box<dyn Any + Send>) {
        self.stop.store(true, Ordering::Relaxed);
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
        };
        let complete = failure.is_none() && items + self.hole_items == self.len;
        if complete {
            if self.progress.is_some() {
                self.call_progress(self.len);
            }
            // SAFETY: every index in 0..len was written exactly once: the holes by the caller,
            // the rest by participants (the cursor hands out disjoint ranges covering 0..len,
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

    #[test]
    fn cursor_covers_range_once() {
        let c = Cursor::new(1000);
        let mut seen = vec![false; 1000];
        while let Some((s, e)) = c.claim(37, 3) {
            for x in &mut seen[s..e] {
                assert!(!*x);
                *x = true;
            }
        }
        assert!(seen.iter().all(|x| *x));
        assert_eq!(c.claim(37, 3), None);
    }
}
