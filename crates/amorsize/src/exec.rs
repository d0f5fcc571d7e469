//! One call that plans and runs: [`par_map`], [`par_map_with`] and [`Plan::execute`].
//!
//! This module owns the glue between a [`Plan`] and the [`pool`]: it runs the
//! items the sample did not run (every item exactly once: the sampled items keep their results),
//! on a warm pool lent by the [`global_pool_manager`](crate::global_pool_manager), in input
//! order, and it remembers per call site what it learned.
//!
//! ## What par_map remembers
//! Every call starts as the plain loop: the first item runs alone, then batches sized from the
//! rate seen so far (at most 32× the items done), timed with the wall clock alone, until they
//! have taken 20 µs (the prefix probe). When the input
//! is done by then, or its projected total is below 10 fan-out costs, the plain loop simply
//! goes on: a job too small to pay costs a handful of clock reads more than the loop.
//!
//! ## Long first items: helped while they run
//! The first item of a call runs alone, and when items are long every other core idles for
//! it: on `c` cores a job of `n` equal items then takes `1 + (c − 1) / n` times the ideal (1.25×
//! for 8 items on 2 cores, 1.44× for 16 on 8). Once this process has run a parallel job, a call
//! offers its first item to helper threads ([`pool::early`](crate::pool) — heartbeat
//! scheduling): should the item still run after 10 wake-ups (at least 200 µs), a monitor that
//! looks once a millisecond hands the items after it, one at a time, to up to `cores − 1`
//! helpers. When the first item ends, the helpers stop taking items; the ones they ran
//! (`1..k`) keep their results, and the items from `k` on are planned from the first item's
//! time and run while the helpers finish: as compute-bound work at once when the first item
//! kept the CPU busy while helped; as wide as the first item's and the helpers' CPU shares ask
//! for when both waited (each share over the time its thread could run, its wait for a CPU
//! left out); otherwise watched as below. The offer costs the caller a few atomic operations and no
//! system call — still 0.1–0.2 µs of a 6 µs call here — so only calls of at most 100 items
//! per helper make one (past that the first item alone is under 1% of the job); neither does
//! a call with a progress callback (the helpers' items would not reach it) nor a site
//! remembered with items far shorter than the wait. The monitor costs about 19 µs of CPU
//! a beat here while offers keep coming, and parks 5 ms after the last one. [`cache_stats`]
//! counts the calls helped.
//!
//! ```
//! // 40 items whose first one runs until another has started: with helpers the call
//! // finishes at once; without them (one core) the first item gives up after a second.
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::time::{Duration, Instant};
//! let warm: Vec<u64> = (0..64).collect(); // a parallel job starts the monitor
//! amorsize::par_map(&warm, |x| (0..200_000u64).fold(*x, |a, b| a.wrapping_mul(31) ^ b))?;
//! let other = AtomicBool::new(false);
//! let items: Vec<u32> = (0..40).collect();
//! let out = amorsize::par_map(&items, |&i| {
//!     if i == 0 {
//!         let t = Instant::now();
//!         while !other.load(Ordering::Acquire) && t.elapsed() < Duration::from_secs(1) {
//!             std::thread::yield_now();
//!         }
//!     } else {
//!         other.store(true, Ordering::Release);
//!     }
//!     i * 2
//! })?;
//! assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
//! # Ok::<(), amorsize::Error>(())
//! ```
//!
//! ## Items that hold each other up
//! A sample runs items one at a time, so it cannot see items that queue side by side for one
//! lock or one device. Two things catch them. Within a job: a parallel job of items that
//! computed alone checks itself once, after two of its chunks (and at least 20 wake-ups);
//! when its calling thread blocked meanwhile, its items still burned at least half their
//! sampled time in CPU, and the job ran its items no faster than `min_speedup` times their
//! time alone, the other workers take no new chunk and the caller
//! finishes the job alone ([`pool::Solo`]; every item still runs once; [`cache_stats`] counts
//! these jobs). Across calls: a call site judges each parallel run against the items' time
//! alone: after two losing runs in a row one call runs the plain loop and measures it, and
//! when that confirms the loss the next 8 calls run the loop before the plan is tried again
//! (a job finished alone counts as a losing run).
//!
//! ## Calibration
//! The planner needs the costs of parallelism on this machine ([`costs`]: a spawn, a wake-up,
//! a chunk), and measuring them takes a few milliseconds — far more than a short job. So
//! par_map plans with [`UNCALIBRATED`] figures (above what the 2-core VM measures, so a job too
//! small to share is never made parallel) until the work it has seen over the process adds up
//! to [`CALIBRATE_AFTER`]; the call that reaches it calibrates first, at about 1% of the work
//! before it. A job counts as its projected sequential time (when it is sampled, from the
//! lesser of its sample's median and mean item, so that one slow measurement does not make a
//! short job look long enough to calibrate), except a job of long items
//! watched from its start (below), which counts as the time it took: such items may wait, and
//! then run tens of times faster than their projection (a program's first call of 500 sleeps
//! of 1 ms took 12 ms when it calibrated first, 9 ms now); a watched job that brings the work
//! seen to [`CALIBRATE_AFTER`] calibrates after it. [`is_calibrated`] tells which
//! figures are in force.
//!
//! ## Long items: measured inside the job
//! When the prefix's first item alone took so long that the plan runs items one at a time
//! (chunk size 1), and the job is long enough that a short watch costs the caller at most a
//! twentieth of its share, par_map does not run a second item alone to learn whether items
//! compute or wait. It starts the job at once on the cores, with a [`pool::Growth`]: the
//! caller watches the first workers' CPU clocks for 4 wake-ups (≥ 100 µs), and the planner,
//! given what they burned, says how many workers the job should have. Items that wait (a
//! sleep, I/O) grow the job to that many; items that compute leave it at the cores. A worker
//! that waits while the rest of the process computes waits either for threads the item started
//! (a nested parallel loop) or beside busy threads of the program; while the items run that
//! cannot be told, and the job grows as for waiting work (for a nested loop the extra workers
//! only queue work for its threads, at about the same speed; the other mistake would run
//! waiting items on the cores alone). A worker waiting for a CPU (the kernel's run delay, from
//! its `schedstat`, and all its time off a CPU when it was ready to run throughout: see
//! [`pool::Observed::run_delay`]) is not waiting for its item: on a loaded machine computing
//! items still read as computing. Items on the CPU part of their time (under the planner's
//! [`COMPUTE_BOUND`](crate::plan::COMPUTE_BOUND)) grow the job to about cores / share, the share
//! read less the calibrated billing for each time a worker blocked
//! ([`pool::Observed::cpu_per_worker_billed`]: see the sampled start below; one worker of 2
//! sleeping 100 µs at a time read 11–23 % as read, and its job grew to 18–45 workers at its
//! first look, where 128 side by side read 1–3 %; billed, the first look reads the floor below
//! and asks for the most the planner gives such work, 256 on 2 cores).
//!
//! The window sees a moment of one item, and an item that computes first and waits after
//! (prepares a request, then waits for the answer) reads as computing when the moment falls on
//! its computing part. So unless the job already has all the workers it may, the caller looks
//! again two items' time after the window started, between its own items, at the same workers
//! over that whole time ([`pool::Growth::second_look`]), and the job grows if the planner then
//! wants more. A look that grew the job is followed by another, two items' time later over
//! that span, for as long as the growth paid (the job claimed its items at least 1.2× as fast
//! after it): a sleeper's share reads lower the wider the job (fewer idle cores to wake), and
//! a job of 2,000 sleeps of 100 µs started on 2 workers went 2 → 22 → 51 → 97 → 256 where it
//! stopped at 22–51 before (both traced before the watch left out the billing above). The
//! whole job sees every item: the workers' median CPU share over the job, less their wait for
//! a CPU, is what the call site remembers. Measured on the 2-core VM, 400 items
//! that compute 500 µs and sleep 500 µs (medians of 6 rounds): the best fixed setting took
//! 101 ms (8–24 workers); a fresh call took 219 ms before (it stayed on the 2 cores) and
//! 105 ms now, a remembered one 219 ms before and 101 ms now (with the [`crate::model`]'s
//! queue for workers that compute and wait by turns; 114 and 105 ms without it).
//!
//! Once the job is done, two measurements tell whether the items ran threads of their own,
//! and the call site remembers the answer: what the process burns while no item runs
//! ([`crate::system::BusyThreads`]), and what the threads other than the job's participants
//! burned over the whole job (each participant reads its own CPU clock on entering and
//! leaving a job that may grow). The items run threads of their own only if those kept most
//! of the cores the program leaves free busy throughout a job of at least 40 ms: threads busy
//! for a moment only (a rayon pool's idle threads spin for a while after their job) fill the
//! window but not the job. A shorter job counts as waiting, and nothing is measured after it
//! (the look costs a window and a read of every thread's state: 1.7 ms after a first call of
//! 500 sleeps of 1 ms that had grown to 256 workers).
//!
//! Items a full sample found waiting run watched as well, and start as wide as the planner
//! makes them for their CPU share side by side. The share alone is higher: a thread that
//! blocks while the cores idle is billed for a core's wake-up, 15–18 µs of CPU a sleep on the
//! 2-core VM whether the sleep lasts 20 µs or 1 ms, and 2–6 µs with 16–128 threads sleeping
//! side by side (sleeps of 100 µs read 9–18% alone and about 3% in a job). Calibration
//! measures both (ten sleeps of 20 µs alone, and five on each of 8 threads per core sleeping
//! together: 4–5 µs a sleep at stop 32, when one alone cost 9–15 µs); each sampled run's CPU
//! less the difference for each time it blocked gives the start (never under the watch's
//! floor, never over the share alone), and the job grows from there as above. When the job
//! starts with every worker it may have or the planner could give it (`widest_watched`), or
//! ends before its window, nothing is watched, and the call site remembers the
//! workers' share over the job, never above the share the job started with (the first worker
//! wakes the others while the cores are still idle, and reads that as its items' CPU). Such a
//! sample stops at two runs (see [`sample`]): more would only refine a start the watch
//! corrects. [`Optimizer::optimize`] makes the same start for such items, and its plan says
//! which share it used.
//!
//! Per call site — the type of the closure, with the item and result types and the settings —
//! par_map keeps the sample's statistics, in a bounded, thread-safe table ([`CACHE_CAPACITY`]
//! entries, least recently used evicted; [`clear_cache`] empties it). A later call at the same
//! site with a similar input size (within 2×), whose prefix cost per item is within 2× of the
//! remembered mean, plans from the remembered statistics without sampling; otherwise it
//! samples afresh, going on from the prefix. (Two closures in one function share a type name;
//! the cost check keeps one from passing for the other.) A remembered site whose items are long
//! (≥ 20 µs) and whose plan was parallel skips even the prefix — one long item run alone would be
//! a large share of the parallel run — and checks the cost afterwards from the pool's
//! measurements instead: off by more than 2× from what the plan predicts an item takes in the
//! job (its time alone, stretched where more workers wait than progress at once), the site is
//! forgotten and the next call samples.
//!
//! A sample runs items alone, so it cannot see items that slow each other down side by side:
//! that hold one lock while they work, or thrash one cache. Their parallel run can be slower
//! than the plain loop (10,000 items that hold a mutex for 1 µs: 12.1–13.2 ms in parallel,
//! 10.8–11.1 ms on the loop, 2-core VM). So a call site found by a sample remembers the items'
//! time alone, and each parallel run there is judged against it. A sample of a few items can
//! read low (items that grow dearer along the input), and one run can meet a stall: only the
//! [`SLOWER_RUNS`]-th run in a row that took at least as long as the sample says the items
//! would one after another (its mean plus two standard errors) sends the next call to the
//! plain loop, which measures them alone over the whole input. When that measure finds the
//! last run no faster, or a later run is slower than it, the next [`RETRY_AFTER`] calls run
//! the loop (each measuring again), after which the plan is tried again. Those calls count as
//! `plain` in [`cache_stats`]. The items above, 20 calls beside the loop: the first samples,
//! the second runs in parallel, the third measures, and from then on one call in nine runs in
//! parallel; a median of 10.70 ms a call against 10.68 ms on the loop.
//!
//! ```
//! let items: Vec<u64> = (0..100_000).collect();
//! let out = amorsize::par_map(&items, |x| x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7)?;
//! assert_eq!(out.len(), items.len());
//! assert_eq!(out[3], 3u64.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7);
//! # Ok::<(), amorsize::Error>(())
//! ```

use crate::model::Costs;
use crate::plan::{Executor, Optimizer, Plan};
use crate::pool::{self, ChunkPolicy, ControllerConfig, RunOptions};
use crate::sample::{self, SampleStats};
use crate::{Error, Result};
use rustc_hash::FxHashMap as HashMap;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Call sites par_map remembers at most.
///
/// ```
/// let items: Vec<u64> = (0..50_000).collect();
/// amorsize::par_map(&items, |x| x.count_ones())?;
/// amorsize::par_map(&items, |x| x.leading_zeros())?;
/// assert!(amorsize::exec::cache_len() <= amorsize::exec::CACHE_CAPACITY);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const CACHE_CAPACITY: usize = 256;

/// The measured costs of parallelism on this machine, calibrated once per process (the first
/// call takes a few milliseconds: see [`is_calibrated`]).
///
/// ```
/// let c = amorsize::exec::costs();
/// assert!(c.wake >= 0.0 && c.dispatch >= 0.0);
/// assert!(amorsize::exec::is_calibrated());
/// ```
pub fn costs() -> Costs {
    *COSTS.get_or_init(calibrate)
}

static COSTS: OnceLock<Costs> = OnceLock::new();

/// Whether this process has calibrated its costs yet.
///
/// Calibrating takes 3–8 ms on the 2-core VM (spawning and waking threads, timing a few
/// thousand chunks), and about 1 ms more to measure what the kernel bills a sleeping thread
/// for waking (0.95–1.12 ms in five runs). [`par_map`] does not make a short job pay for it: until the work it has
/// seen adds up to [`CALIBRATE_AFTER`] (each job's projected sequential time, or for a job of
/// long items watched from its start the time it took), it plans with [`UNCALIBRATED`] costs,
/// so calibration costs at most a few per cent of the work run before it. A first call of 100
/// items of 0.3 µs took 4–8 ms before (the plain loop: 0.03 ms). [`costs`] and
/// [`Optimizer::optimize`] calibrate at once.
///
/// ```
/// let _ = amorsize::exec::costs();
/// assert!(amorsize::exec::is_calibrated());
/// ```
pub fn is_calibrated() -> bool {
    COSTS.get().is_some()
}

/// The costs planned with before calibration: conservative figures for a shared virtual
/// machine (the 2-core VM measures 55 µs per spawn, 12–40 µs per wake and 0.1–0.3 µs per
/// chunk). Too high a figure only keeps a borderline job sequential; too low a one could
/// make a job too small to share parallel, so each is above what was measured.
///
/// ```
/// use amorsize::exec::{is_calibrated, UNCALIBRATED};
/// // A short first job runs before calibration, planned with these figures.
/// amorsize::par_map(&[1u32, 2, 3], |x| x * 2)?;
/// assert!(!is_calibrated());
/// // Tiny jobs stay sequential with them: 10,000 items of 10 ns (100 µs) do not pay for
/// // waking a worker.
/// let stats = amorsize::sample::SampleStats { count: 5, mean: 10e-9, cpu_fraction: 1.0,
///     run_length: 1, ..Default::default() };
/// let machine = amorsize::plan::MachineFacts::new(8, 1 << 30);
/// let plan = amorsize::plan::decide(&amorsize::Optimizer::new(), &stats, 10_000, &machine,
///     &UNCALIBRATED);
/// assert_eq!(plan.executor(), amorsize::Executor::Sequential);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const UNCALIBRATED: Costs = Costs {
    spawn: 100e-6,
    wake: 50e-6,
    dispatch: 0.5e-6,
};

/// Work (seconds) par_map runs with [`UNCALIBRATED`] costs before it calibrates: calibrating
/// then costs about 1% of it. Each job counts as its sequential time projected by the prefix
/// probe (by the lesser of its sample's median and mean item when it is sampled), or, for a
/// job of long items watched from its start, as the time it took.
///
/// ```
/// use amorsize::exec::{is_calibrated, CALIBRATE_AFTER};
/// // 1,000 items of ~1 µs add up to far less than CALIBRATE_AFTER seconds: no calibration.
/// let items: Vec<u64> = (0..1_000).collect();
/// amorsize::par_map(&items, |x| (0..200u64).fold(*x, |a, b| a.wrapping_mul(31) ^ b))?;
/// assert!(CALIBRATE_AFTER > 0.01 && !is_calibrated());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub const CALIBRATE_AFTER: f64 = 0.5;

/// The work par_map has seen in this process (nanoseconds), toward [`CALIBRATE_AFTER`].
static SEEN_NS: AtomicU64 = AtomicU64::new(0);

/// Adds `secs` of work to what par_map has seen; returns the total (seconds). Once calibrated
/// nothing is counted (a short call then pays no atomic operation for it).
fn count_seen(secs: f64) -> f64 {
    if is_calibrated() {
        return CALIBRATE_AFTER;
    }
    let ns = (secs.max(0.0) * 1e9).min(1e18) as u64;
    SEEN_NS.fetch_add(ns, Ordering::Relaxed).saturating_add(ns) as f64 * 1e-9
}

/// The costs to plan a job of `projected` seconds of sequential work with: the calibrated
/// ones once the work seen (this job included) reaches [`CALIBRATE_AFTER`], else
/// [`UNCALIBRATED`].
fn costs_for(projected: f64) -> Costs {
    if let Some(c) = COSTS.get() {
        return *c;
    }
    if count_seen(projected) >= CALIBRATE_AFTER {
        costs()
    } else {
        UNCALIBRATED
    }
}

/// The costs to plan with before this job is counted: the calibrated ones once the work seen
/// by earlier calls reaches [`CALIBRATE_AFTER`], else [`UNCALIBRATED`].
fn costs_so_far() -> Costs {
    costs_for(0.0)
}

/// The costs in force now, without calibrating: the calibrated ones or [`UNCALIBRATED`].
pub(crate) fn current_costs() -> Costs {
    COSTS.get().copied().unwrap_or(UNCALIBRATED)
}

fn calibrate() -> Costs {
    WAKE_BILLED.get_or_init(|| {
        let threads = (SIDE_BY_SIDE_PER_CORE * crate::system::info().cores.effective.max(1))
            .min(SIDE_BY_SIDE_MOST);
        billing_gone(wake_billed(), wake_billed_side_by_side(threads))
    });
    let c = pool::calibrate::costs();
    // The job start measured on the warm pool is the hot case (workers still spinning); a pool
    // idle for more than ~100 µs has parked its workers, and waking one costs far more on a
    // virtual machine. The planner charges the larger, so a short job never goes parallel on
    // the strength of a hot-pool figure.
    let extra = c.workers.saturating_sub(1).max(1) as f64;
    let hot = c.warm_job_start.as_secs_f64() / extra;
    Costs {
        spawn: c.spawn_worker.as_secs_f64(),
        wake: hot.max(parked_wake_latency().as_secs_f64()),
        dispatch: c.chunk_overhead.as_secs_f64(),
    }
}

/// The CPU time the kernel bills a thread for blocking once and being woken while the cores
/// idle, beyond what it bills one of many side by side, measured with [`calibrate`] (none
/// before it): see [`billing_gone`].
static WAKE_BILLED: OnceLock<f64> = OnceLock::new();

/// What a block costs a thread on idle cores more than side by side ([`WAKE_BILLED`]) once
/// calibrated; 0 before, so that shares are taken as read.
fn wake_billed_now() -> f64 {
    WAKE_BILLED.get().copied().unwrap_or(0.0)
}

/// The CPU time (seconds) the kernel bills the calling thread for one short sleep, per time it
/// blocked: the lower median of 5 runs of 2 sleeps of 20 µs, each timed as the sample times a
/// run (0 when it cannot be read). On
/// the 2-core VM a sleep alone costs its thread 15–18 µs of CPU whether it lasts 20 µs or 1 ms
/// (a core leaving its idle state, billed to the sleeper), and 2–6 µs a sleep with 16–128
/// threads sleeping side by side ([`wake_billed_side_by_side`]); items that wait, sampled one
/// at a time on the caller, carry that difference in their CPU share ([`share_side_by_side`]).
fn wake_billed() -> f64 {
    let per_block = (0..5).filter_map(|_| sleeps_cost_per_block(2)).collect();
    sample::lower_median(per_block).unwrap_or(0.0)
}

/// The calling thread's CPU time (seconds) per time it blocked over `sleeps` sleeps of 20 µs,
/// timed as the sample times a run; `None` when it did not block or the count cannot be read.
fn sleeps_cost_per_block(sleeps: usize) -> Option<f64> {
    let sleep = |_: &()| std::thread::sleep(Duration::from_micros(20));
    let items = vec![(); sleeps];
    let (m, _) = sample::timed_run(&items, &sleep, 0, sleeps, Duration::ZERO).ok()?;
    let blocks = m.voluntary_switches.filter(|&v| v > 0)?;
    Some(m.thread_cpu.as_secs_f64() / blocks as f64)
}

/// Threads per effective core that sleep together when calibration measures what a block
/// costs side by side ([`wake_billed_side_by_side`]): enough that the cores seldom idle while
/// one of them sleeps. On the 2-core VM 8, 16 and 32 threads read alike (4.3–5.0 µs a sleep of
/// 20 µs, medians of 5 rounds), 4 read 5.8–6.5 µs and 64 read 6.0–6.9 µs.
const SIDE_BY_SIDE_PER_CORE: usize = 8;

/// The most threads that calibration starts to measure a block side by side: past that the
/// cores are busy anyway, and each thread costs a spawn (~55 µs here).
const SIDE_BY_SIDE_MOST: usize = 64;

/// The CPU time (seconds) the kernel bills one of `threads` threads sleeping side by side for
/// each time it blocks: each thread, once all are started, sleeps 20 µs 5 times and divides
/// its CPU time by the times it blocked; the lower median over the threads. `None` when no
/// thread could be started or read.
fn wake_billed_side_by_side(threads: usize) -> Option<f64> {
    // Held by the caller while it starts the threads: each waits for it before measuring, so
    // that they sleep together. A thread that fails to start leaves the others waiting on
    // nothing but this lock.
    let start = std::sync::RwLock::new(());
    let started = start.write().unwrap_or_else(|e| e.into_inner());
    let per_block: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.max(1))
            .filter_map(|_| {
                std::thread::Builder::new()
                    .spawn_scoped(s, || {
                        drop(start.read().unwrap_or_else(|e| e.into_inner()));
                        sleeps_cost_per_block(5)
                    })
                    .ok()
            })
            .collect();
        drop(started);
        handles
            .into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .collect()
    });
    sample::lower_median(per_block)
}

/// The part of a block's CPU cost (`alone`, seconds, see [`wake_billed`]) that items side by
/// side do not pay (`side`, see [`wake_billed_side_by_side`]): what a sampled item's share
/// carries that a job's workers' shares do not. Nothing when the side-by-side figure is
/// unknown (the shares are then taken as read), and never below 0.
///
/// Subtracting all of `alone` took a share as if a block cost nothing side by side: sleeps of
/// 100 µs sampled at 6–9 % of their time read 1–2 % less 9–14 µs a sleep, and 500 of them ran
/// on the floor's 256 workers in 3.2–4.3 ms where 64 took 2.3–2.8 ms (their process burned
/// 15 µs of CPU an item at 256 workers, 10 µs at 64, 9.6 µs run one at a time).
fn billing_gone(alone: f64, side: Option<f64>) -> f64 {
    side.map_or(0.0, |side| (alone - side).max(0.0))
}

/// The CPU share that items sampled one at a time (`ms`) would have side by side: each run's
/// CPU time less `billed` seconds for each time it blocked, over its wall time less its run
/// delay, and the lower median of those. Only runs whose CPU ratios the sample itself would
/// count (long enough for the clocks) and that blocked count; `None` when there are none (the
/// items never waited, and nothing is billed for waking).
///
/// A thread that blocks with the machine's cores idle is billed for the core's wake-up (see
/// [`wake_billed`]); side by side with other workers the cores are busy and that cost is
/// mostly gone. Sleeps of 100 µs measured 9–12% of their time alone and about 3% on 128
/// workers: the job started on 28–38 workers and grew to 128 only after its watch.
fn share_side_by_side(ms: &[sample::Measurement], billed: f64) -> Option<f64> {
    let shares = ms
        .iter()
        .filter(|m| sample::cpu_readable(m) && m.voluntary_switches.is_some_and(|v| v > 0))
        .filter_map(|m| {
            let wall = m.wall.saturating_sub(m.run_delay).as_secs_f64();
            let blocks = m.voluntary_switches.unwrap_or(0) as f64;
            let cpu = (m.thread_cpu.as_secs_f64() - blocks * billed.max(0.0)).max(0.0);
            (wall > 0.0).then(|| (cpu / wall).min(1.0))
        })
        .collect();
    sample::lower_median(shares)
}

/// The time from waking a thread blocked in the kernel until it runs: median of 5 rounds (a
/// neighbour's threads spinning through one or two of them do not set the figure).
/// Each round lets the thread block (0.3 ms), wakes it and spins until it answers.
fn parked_wake_latency() -> Duration {
    use std::sync::atomic::AtomicUsize;
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::time::Instant;
    let answered = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<bool>();
    let a = Arc::clone(&answered);
    let Ok(t) = std::thread::Builder::new().spawn(move || {
        while let Ok(true) = rx.recv() {
            a.fetch_add(1, Ordering::Release);
        }
    }) else {
        return Duration::ZERO;
    };
    let mut v = Vec::new();
    for round in 1..=5 {
        std::thread::sleep(Duration::from_micros(300));
        let t0 = Instant::now();
        if tx.send(true).is_err() {
            break;
        }
        while answered.load(Ordering::Acquire) < round {
            if t0.elapsed() > Duration::from_millis(50) {
                break;
            }
            std::hint::spin_loop();
        }
        v.push(t0.elapsed());
    }
    let _ = tx.send(false);
    let _ = t.join();
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Plans and runs `f` over `items` on a warm pool; results in input order.
///
/// Every item runs exactly once (the sampled items keep their results). A panic in `f` gives
/// `Err(Error::TaskPanicked { index, .. })` with the first failing item's index. A call made
/// from inside a pool worker runs inline, sequentially, on that worker.
///
/// ```
/// let words = vec!["a", "bb", "ccc"];
/// let lens = amorsize::par_map(&words, |w| w.len())?;
/// assert_eq!(lens, vec![1, 2, 3]);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn par_map<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(items: &[T], f: F) -> Result<Vec<R>> {
    par_map_with(&Optimizer::new(), items, f)
}

/// [`par_map`] with settings (and an optional progress callback, see [`Optimizer::progress`]).
///
/// ```
/// use amorsize::Optimizer;
/// let items: Vec<u32> = (0..1000).collect();
/// let out = amorsize::par_map_with(&Optimizer::new().min_speedup(1.5), &items, |x| x + 1)?;
/// assert_eq!(out[999], 1000);
/// assert!(amorsize::par_map_with(&Optimizer::new().sample_size(0), &items, |x| *x).is_err());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn par_map_with<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(
    opt: &Optimizer,
    items: &[T],
    f: F,
) -> Result<Vec<R>> {
    opt.validate()?;
    let n = items.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    if pool::in_worker() {
        return run_plain(items, &f);
    }
    // 0. A remembered site whose items are long (the prefix would be a whole item, a large
    //    share of a short parallel run) and whose plan was parallel: run the plan at once and
    //    check the cost afterwards from the pool's own measurements; a cost off by more than 2×
    //    from the plan's (another closure of the same type name, or the work changed) forgets
    //    the site (`cost_changed`).
    let key = site_key::<T, R, F>(opt);
    let known = cache_get(key);
    if let Some(e) = &known {
        let similar = n >= e.items / 2 && n <= 2 * e.items;
        if similar && e.parallel && e.stats.mean >= sample::MIN_MEASUREMENT.as_secs_f64() {
            let plan = opt.plan_from(n, &e.stats);
            if plan.executor() == Executor::Threads {
                if plain_now(key) {
                    // Its last parallel run took longer than the plain loop (`judge_run`).
                    HITS_PLAIN.fetch_add(1, Ordering::Relaxed);
                    let t0 = std::time::Instant::now();
                    let out = run_plain(items, &f)?;
                    record_alone(key, t0.elapsed(), n);
                    return Ok(out);
                }
                HITS_PROBE.fetch_add(1, Ordering::Relaxed);
                let (out, run) = run_measured(&plan, items, &f, Vec::new(), Some(&e.stats), None)?;
                // A run slower than its items alone took each item longer than the sample
                // said (they serialize, or the machine stalled, or they became dearer): the
                // next call's plain loop tells which, and the site is kept for it.
                let slower = judge_run(key, run.as_ref());
                if let Some(per_item) = run.as_ref().and_then(busy_per_item) {
                    if !slower && cost_changed(per_item, &plan, e.stats.mean) {
                        cache_forget(key);
                    }
                }
                return Ok(out);
            }
        }
    }
    // 1. The prefix probe: the plain loop's first items, timed in growing batches with the
    //    wall clock alone, until they have run long enough to time (or the input is done).
    //    Helpers may take the items after the first while it runs long.
    let t0 = std::time::Instant::now();
    match early_help(opt, n, known.as_ref()) {
        Some((helpers, after)) => run_helped(opt, key, items, &f, helpers, after, t0),
        None => {
            let mut out = Vec::with_capacity(n);
            extend_from(&mut out, &items[..1], 0, &f)?;
            after_first(opt, key, items, &f, out, t0)
        }
    }
}

/// Goes on from the first item's result (`out`, from `t0`): the rest of the prefix probe, then
/// the decision.
fn after_first<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(
    opt: &Optimizer,
    key: u64,
    items: &[T],
    f: &F,
    out: Vec<R>,
    t0: std::time::Instant,
) -> Result<Vec<R>> {
    let (prefix, elapsed) = prefix_probe(items, f, out, t0)?;
    let m = prefix.len();
    decide_and_run(opt, key, items, f, prefix, elapsed, m)
}

/// The first item offered to helpers ([`pool::early::run_first`]). Without help, the call goes
/// on as usual. With help, items `1..k` are the helpers', and the items from `k` on are a job
/// of their own, planned from the first item's time while the helpers finish their last items.
#[allow(clippy::too_many_arguments)]
fn run_helped<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(
    opt: &Optimizer,
    key: u64,
    items: &[T],
    f: &F,
    helpers: usize,
    after: Duration,
    t0: std::time::Instant,
) -> Result<Vec<R>> {
    enum Went<R> {
        /// No help came: the whole call's results.
        Alone(Result<Vec<R>>),
        /// Help came: the first item's result, and the results from `k` on.
        Helped(Vec<R>, usize, Result<Vec<R>>),
    }
    let n = items.len();
    let first = |_offered: bool| {
        let mut out = Vec::with_capacity(n);
        extend_from(&mut out, &items[..1], 0, f).map(|()| out)
    };
    // The first item's time, read once it is taken back (help came only for a first item
    // that ran long): what the items after the helpers' are planned from.
    let first_took: std::cell::Cell<Option<Duration>> = std::cell::Cell::new(None);
    let took = || *first_took.get().get_or_insert_with(|| t0.elapsed());
    // Items that compute, with a helper on every other core the plan would use: that is the
    // plan's job already running, and the caller joins it (see `pool::early::run_first`).
    let join = |first: &Result<Vec<R>>, h: &pool::early::Handoff| {
        let took = took();
        first.is_ok() && after_help(h) == AfterHelp::Computes && {
            let guess = sample::summarize(&[sample::Measurement::wall_only(0, 1, took)]);
            let plan = opt.plan_from(n - h.k, &guess);
            plan.executor() == Executor::Threads
                && plan.chunk_size() == 1
                && plan.workers() == h.helpers + 1
        }
    };
    let rest = |first: Result<Vec<R>>, h: pool::early::Handoff| {
        let k = h.k;
        let took = if k > 1 { took() } else { Duration::ZERO };
        match first {
            Err(e) => Went::Alone(Err(e)),
            Ok(out) if k <= 1 => Went::Alone(after_first(opt, key, items, f, out, t0)),
            Ok(out) if h.joined => {
                // Every item ran (or one panicked, which the helpers' results report): the
                // site is remembered as compute-bound work of the first item's cost.
                MISSES.fetch_add(1, Ordering::Relaxed);
                let guess = sample::summarize(&[sample::Measurement::wall_only(0, 1, took)]);
                cache_put(key, n, &guess, true, false);
                Went::Helped(out, k, Ok(Vec::new()))
            }
            Ok(out) => {
                let tail = &items[k..];
                let r = if tail.is_empty() {
                    Ok(Vec::new())
                } else {
                    match after_help(&h) {
                        AfterHelp::Computes => run_computing(opt, key, n, tail, f, took),
                        AfterHelp::Waits(share) => run_waited(opt, key, tail, f, took, share),
                        AfterHelp::Watch => decide_and_run(opt, key, tail, f, Vec::new(), took, 1),
                    }
                }
                .map_err(|e| e.offset_index(k));
                Went::Helped(out, k, r)
            }
        }
    };
    let (went, helped) = pool::early::run_first(items, f, helpers, after, t0, first, join, rest);
    match went {
        Went::Alone(r) => r,
        Went::Helped(mut out, k, tail) => {
            // The helpers' items come before the tail's: their panic is reported first.
            let helped = helped.map_err(|(i, p)| Error::from_panic(i, p))?;
            debug_assert_eq!(helped.len(), k - 1);
            let tail = tail?;
            out.reserve_exact(n - out.len());
            out.extend(helped);
            out.extend(tail);
            Ok(out)
        }
    }
}

/// How the items after a helped first item run, from how it and the helpers used the CPU.
#[derive(Debug, Clone, Copy, PartialEq)]
enum AfterHelp {
    /// The first item computed while helped: the rest is planned as compute-bound work. (A
    /// watch now would see the workers share the cores with the helpers' last items, and take
    /// them for waiting.)
    Computes,
    /// The first item waited while helped, and so did the helpers' items: the rest starts as
    /// wide as the busier of the two shares asks for, not on the cores.
    Waits(f64),
    /// Nothing measured, or the helpers' items computed while the first item waited (a
    /// one-time set-up that waits, ahead of items that compute; or items that compute first
    /// and wait after, which look like computing for a moment): the rest starts on the cores
    /// and is watched, as a call without help.
    Watch,
}

fn after_help(h: &pool::early::Handoff) -> AfterHelp {
    match (h.first_cpu_share, h.helpers_cpu_share) {
        (Some(c), _) if c >= WATCHED_COMPUTES => AfterHelp::Computes,
        (Some(c), None) => AfterHelp::Waits(c),
        (Some(c), Some(o)) if o < WATCHED_COMPUTES => AfterHelp::Waits(c.max(o)),
        _ => AfterHelp::Watch,
    }
}

/// Runs `items` (the rest of a call of `n` items whose first item took `took` and computed) as
/// compute-bound work planned from that item, and remembers the call site with the mean the
/// run measured.
fn run_computing<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(
    opt: &Optimizer,
    key: u64,
    n: usize,
    items: &[T],
    f: &F,
    took: Duration,
) -> Result<Vec<R>> {
    MISSES.fetch_add(1, Ordering::Relaxed);
    let guess = sample::summarize(&[sample::Measurement::wall_only(0, 1, took)]);
    let plan = opt.plan_from(items.len(), &guess);
    let (out, run) = run_measured(&plan, items, f, Vec::new(), Some(&guess), None)?;
    remember_run(opt, key, n, guess, run.as_ref());
    Ok(out)
}

/// Runs `items` (the rest of a call whose first item took `took` and was on the CPU `share` of
/// the time it could run, under [`WATCHED_COMPUTES`]) as a watched job that starts with the
/// workers the planner gives that share, rather than on the cores: the first item was measured
/// whole from the moment its helpers came, so the job need not wait for a window to learn that
/// items wait. It still grows should the window or the second look ask for more, and the call
/// site remembers the whole job's share ([`run_watched`]). A plan that stays sequential goes on
/// as an unhelped call would.
fn run_waited<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(
    opt: &Optimizer,
    key: u64,
    items: &[T],
    f: &F,
    took: Duration,
    share: f64,
) -> Result<Vec<R>> {
    let guess = sample::summarize(&[sample::Measurement::wall_only(0, 1, took)]);
    let mut waited = guess.clone();
    waited.cpu_fraction = share.max(waiting_floor(opt, &opt.sample_settings_for()));
    let plan = opt.plan_from(items.len(), &waited);
    if plan.executor() != Executor::Threads || crate::alloc::is_active() {
        return decide_and_run(opt, key, items, f, Vec::new(), took, 1);
    }
    MISSES.fetch_add(1, Ordering::Relaxed);
    let window = watch_window(&costs_so_far());
    let started = std::time::Instant::now();
    let r = run_watched(
        opt,
        Some(key),
        &plan,
        guess,
        window,
        items,
        f,
        Vec::new(),
        Some(share),
    );
    count_seen((took + started.elapsed()).as_secs_f64());
    r
}

/// The sampled results as the pool takes them: none for an empty prefix.
fn segments<R>(prefix: Vec<R>) -> Vec<(usize, Vec<R>)> {
    if prefix.is_empty() {
        Vec::new()
    } else {
        vec![(0, prefix)]
    }
}

/// Decides from the prefix (its results, and `elapsed` for the first `m` of them) and runs the
/// rest: the plain loop, a remembered plan, a watched job or a full sample.
fn decide_and_run<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(
    opt: &Optimizer,
    key: u64,
    items: &[T],
    f: &F,
    prefix: Vec<R>,
    elapsed: Duration,
    m: usize,
) -> Result<Vec<R>> {
    let n = items.len();
    if prefix.len() == n {
        HITS_PLAIN.fetch_add(1, Ordering::Relaxed);
        return Ok(prefix);
    }
    let per_item = elapsed.as_secs_f64() / m.max(1) as f64;
    let projected = per_item * n as f64;
    // This job's work is counted toward calibration below, by the path it takes.
    let costs = costs_so_far();
    if projected < crate::plan::MIN_JOB_FAN_OUTS * costs.fan_out(2, opt.warm()) {
        // Far too small to pay for waking a worker: finish the plain loop.
        count_seen(projected);
        HITS_PLAIN.fetch_add(1, Ordering::Relaxed);
        let mut out = prefix;
        let done = out.len();
        extend_from(&mut out, &items[done..], done, f)?;
        return Ok(out);
    }
    // 2. A call site seen before, with a similar input size and a prefix cost consistent with
    //    what was learned: reuse it instead of sampling. Two closures of one function share a
    //    type name; the cost check keeps one from passing for the other.
    if let Some(e) = cache_get(key) {
        let similar = n >= e.items / 2 && n <= 2 * e.items;
        if similar && same_cost(per_item, e.stats.mean) {
            let plan = opt.plan_from(n, &e.stats);
            let threads = plan.executor() == Executor::Threads;
            cache_put(key, n, &e.stats, threads, false);
            if threads && plain_now(key) {
                // Its last parallel run took longer than the plain loop (`judge_run`): finish
                // the loop, and time it.
                count_seen(projected);
                HITS_PLAIN.fetch_add(1, Ordering::Relaxed);
                let t0 = std::time::Instant::now();
                let mut out = prefix;
                let done = out.len();
                extend_from(&mut out, &items[done..], done, f)?;
                record_alone(key, elapsed + t0.elapsed(), n);
                return Ok(out);
            }
            HITS_PROBE.fetch_add(1, Ordering::Relaxed);
            costs_for(projected);
            let (out, run) = run_measured(&plan, items, f, segments(prefix), Some(&e.stats), None)?;
            judge_run(key, run.as_ref());
            return Ok(out);
        }
        // The site learned other work: an input of another size, or items of another cost
        // (another closure of the same type, or the work changed). What it learned of its
        // parallel runs is not this work's: forgotten, so that a job watched below is not
        // judged against the other work's time alone. (The CLI demo's one closure ran
        // 10,000 items of 100 µs, then 100 items of 10 ms: the long items' first run, judged
        // by what the site had learned before, was found slower than the loop, and the next
        // two calls ran the plain loop: 1.0× where the first call had 1.9×.)
        cache_forget(key);
    }
    // 3. Items so long that the plan runs them one at a time, in a job long enough to afford
    //    a short watch: go parallel at once on the cores, and learn whether the items compute
    //    or wait from the job's first moments, growing it if they wait (see `run_watched`).
    //    The sequential sample would run another whole item on the caller alone first.
    MISSES.fetch_add(1, Ordering::Relaxed);
    let first = sample::Measurement::wall_only(0, m, elapsed);
    let guess = sample::summarize(&[first]);
    let plan = opt.plan_from(n, &guess);
    let window = watch_window(&costs);
    let affordable = projected >= WATCH_SHARE * (window + costs.wake) * plan.workers() as f64;
    if plan.executor() == Executor::Threads
        && plan.chunk_size() == 1
        && affordable
        && !crate::alloc::is_active()
    {
        // Counted as the time the job takes, not as its sequential projection: items that
        // wait run tens of times faster than that, and calibrating first (3–8 ms here) would
        // add a third to such a job (a first call of 500 sleeps of 1 ms: 12 ms, 9 ms without).
        let started = std::time::Instant::now();
        let r = run_watched(
            opt,
            Some(key),
            &plan,
            guess,
            window,
            items,
            f,
            segments(prefix),
            None,
        );
        // A job that brings the work seen to CALIBRATE_AFTER calibrates after it (its time is
        // known only then), so the next call plans with measured costs.
        costs_for((elapsed + started.elapsed()).as_secs_f64());
        return r;
    }
    // 4. A full sample, going on from the prefix (its items are not run again). The job is
    //    counted toward calibration after the sample (see `sample_and_run`), not from the
    //    prefix alone.
    let prior = sample::Sample {
        measurements: vec![first],
        stats: SampleStats::default(),
        results: segments(prefix),
    };
    sample_and_run(opt, key, items, f, Some(prior))
}

/// Help for the first item: how many helpers, and how long the first item must run before
/// they start ([`pool::early`]). `None` when the monitor has not started (no parallel job has
/// run in this process yet), when the tracking allocator measures the sample's memory, when a
/// progress callback counts the items (the helpers' items would not reach it), when the call
/// site is remembered with items far shorter than that, or when the input is so long that the
/// first item alone is a small part of the job (see [`ITEMS_PER_HELPER`]).
fn early_help(opt: &Optimizer, n: usize, known: Option<&Entry>) -> Option<(usize, Duration)> {
    let cap = pool::early::helper_cap();
    if cap == 0
        || n > ITEMS_PER_HELPER.saturating_mul(cap)
        || crate::alloc::is_active()
        || opt.progress.is_some()
    {
        return None;
    }
    let after = early_help_after(&current_costs());
    if known.is_some_and(|e| e.stats.mean < after / 2.0) {
        return None;
    }
    // A few items (at most `plan::ALL_AT_ONCE_PER_CORE` per core) may all run at once, as the
    // planner would run them if they compute, and as many as the monitor's helpers allow if
    // they wait: every item after the first is offered a helper of its own. (3 items of 30 ms
    // on 2 cores: with one helper the first two ran together and the third alone after them.)
    let few = n <= crate::plan::ALL_AT_ONCE_PER_CORE.saturating_mul(cap + 1);
    let wanted = if few { n - 1 } else { cap.min(n - 1) };
    let helpers = wanted.min(
        opt.max_workers_set()
            .map_or(usize::MAX, |w| w.saturating_sub(1)),
    );
    (helpers > 0).then(|| (helpers, Duration::from_secs_f64(after)))
}

/// Items per helper above which a call makes no offer. With `h` helpers (one fewer than the
/// cores) and `n` items of equal cost, the first item run alone costs `h / n` of the ideal
/// parallel time: under 1% past 100 items per helper, less than the offer costs a call of
/// very short items (0.1–0.2 µs of a 6 µs call measured on the 2-core VM).
const ITEMS_PER_HELPER: usize = 100;

/// How long the first item of a call runs alone before helpers take the next ones: 10
/// wake-ups, at least 200 µs. A helper's wake-up is then at most a tenth of the time it saves
/// the job, and a first item that ends sooner costs nothing more than the offer.
fn early_help_after(costs: &Costs) -> f64 {
    (10.0 * costs.wake).max(200e-6)
}

/// Goes on with the plain loop after its first item (`out`, run from `t0`) in growing batches
/// (sized from the rate so far, at most 32× the items done) until they have taken
/// [`sample::MIN_MEASUREMENT`] or the input is done; reads only the wall clock, once a batch
/// (not after the batch that finished the input: the time is then not used).
fn prefix_probe<T, R, F: Fn(&T) -> R>(
    items: &[T],
    f: &F,
    mut out: Vec<R>,
    t0: std::time::Instant,
) -> Result<(Vec<R>, Duration)> {
    let n = items.len();
    let mut elapsed = Duration::ZERO;
    while out.len() < n {
        elapsed = t0.elapsed();
        if elapsed >= sample::MIN_MEASUREMENT {
            break;
        }
        // The next batch aims at the rest of the measurement at the rate seen so far (a tenth
        // more, so one more batch usually ends it), and at most 32× the items done, so a fast
        // start cannot make the loop run far past the measurement before the decision (an
        // unusually cheap first item costs at most 32 items' time). Each batch costs a clock
        // read and some arithmetic (~70 ns here): a 1,000-item job of 4 µs takes 3 batches,
        // 0.2 µs over the plain loop; with at most 8× it took 5 and 0.38 µs.
        let done = out.len();
        let per = elapsed.as_secs_f64() / done as f64;
        let left = (sample::MIN_MEASUREMENT - elapsed).as_secs_f64();
        let want = (1.1 * left / per.max(1e-12)).ceil().min(1e12) as usize;
        let batch = want.clamp(1, done.saturating_mul(32));
        let end = (done + batch).min(n);
        extend_from(&mut out, &items[done..end], done, f)?;
    }
    Ok((out, elapsed))
}

/// The watch may cost the caller at most 1 / `WATCH_SHARE` of its share of the work.
const WATCH_SHARE: f64 = 20.0;

/// How long a growing job's caller watches the workers' CPU use: 4 wake-ups, at least 100 µs
/// (long enough that a worker's wake-up and the clocks' cost are small parts of it).
fn watch_window(costs: &Costs) -> f64 {
    (4.0 * costs.wake).max(100e-6)
}

/// What the watch saw, as sample statistics: `guess` (the prefix's, compute-bound by
/// assumption) with the CPU use the workers showed, and, once the job is done, what the rest
/// of the process burned ([`AfterJob`]). Waiting workers' share is at least `floor` (see
/// [`waiting_floor`]): a window in which they burned nothing at all reads that, not zero.
/// Their share is read less `billed` seconds for each time one blocked
/// ([`pool::Observed::cpu_per_worker_billed`]: a core's wake-up, billed to a thread that blocks
/// while cores idle, which the items side by side on busy cores mostly do not pay); whether
/// they compute is judged from the share as read.
///
/// A worker on the CPU for at least [`WATCHED_COMPUTES`] of the window it could run (the
/// window less its wait for a CPU, so a worker preempted on a loaded machine still reads
/// about 1) computes: the guess stands. (Whether it also runs threads of its own is not
/// judged from one window: other threads of the process — another pool still spinning after
/// its job, say — look the same, and calling compute-bound work inner-parallel would run it on
/// fewer workers than cores.) A worker off the CPU part of the time waits: for I/O, a sleep, a
/// lock — or for threads the items started (a nested parallel loop: measured on the 2-core VM, 1.1–1.2
/// CPUs per worker burned elsewhere in the process, against ≤ 0.4 of idle noise), where more
/// workers would only queue more work for those threads. Two other things look the same in
/// the window: the program's own busy threads (see [`crate::system::BusyThreads`]), and
/// threads busy for a moment only (a rayon pool's idle threads spin for a while after their
/// job). So the rest of the process counts as the items' threads only when `after` says so:
/// what it burned beyond the busy threads, over a whole job long enough to measure, is as much
/// as the items' threads would burn. Otherwise (`None` while the items run) the work waits,
/// and its CPU share is the item's: the other mistake runs waiting items on the spare cores
/// alone, tens of times slower.
fn stats_seen(
    guess: &SampleStats,
    seen: &pool::Observed,
    after: Option<AfterJob>,
    floor: f64,
    billed: f64,
) -> SampleStats {
    let r = seen.cpu_per_worker();
    let mut s = guess.clone();
    if r >= WATCHED_COMPUTES {
        // Computes: as guessed.
        s.process_cpu_ratio = r + seen.others_per_worker();
        return s;
    }
    let elsewhere = after.map_or(0.0, |a| a.busy.max(0.0));
    let others = (seen.others_per_worker() - elsewhere / seen.workers.max(1) as f64).max(0.0);
    s.process_cpu_ratio = r + others;
    s.busy_elsewhere = elsewhere;
    let throughout = after.is_some_and(|a| a.items_threads_throughout());
    if throughout && others >= WATCHED_INNER_THREADS {
        s.inner_parallelism = (r + others).max(sample::INNER_PARALLELISM_THRESHOLD);
    } else {
        s.cpu_fraction = seen.cpu_per_worker_billed(billed).max(floor);
    }
    s
}

/// The most workers the policy of a watched job (see [`run_watched`]) can ask for, `plan`
/// making its plans: the plan for `guess` (which a watch of computing workers keeps) or for
/// `guess` at the `floor` share (the least a watch of waiting workers reads, see
/// [`stats_seen`]), whichever is wider; 1 when neither runs on threads. The planner gives
/// no fewer workers for a lower share, so no watch asks for more. A job started that wide
/// has nothing to watch for: 500 sleeps of 100 µs planned at the floor's 256 workers, run
/// by `Plan::execute`, took 3.3–4.2 ms with the watch (the caller waiting for its workers to
/// enter, then a window, before it took part) against 2.4–2.7 ms for the same setting on a
/// fixed pool.
fn widest_watched(guess: &SampleStats, floor: f64, plan: impl Fn(&SampleStats) -> Plan) -> usize {
    let mut waiting = guess.clone();
    waiting.cpu_fraction = floor.min(guess.cpu_fraction);
    [guess, &waiting]
        .into_iter()
        .map(plan)
        .filter(|p| p.executor() == Executor::Threads)
        .map(|p| p.workers())
        .max()
        .unwrap_or(1)
}

/// The least CPU share a watch gives waiting workers: 1 / [`crate::plan::WAITING_WORKERS_PER_CORE`]
/// (1/64: a worker watched for a few hundred microseconds while it sleeps reads next to
/// nothing, and a sleep of a millisecond burns 1–3 % of it), or less where `max_workers`,
/// set by the caller, asks for more workers than that per core (the share at which the
/// planner's `cores / CPU fraction` reaches it). A fixed 1/64 held a job to 64 workers per core
/// however high `Optimizer::max_workers` was set: 128 on 2 cores with `max_workers(256)` (256
/// since the planner allows twice that bound, still short of `max_workers(512)`). The default
/// `max_workers` (512 on any machine) does not lower it: a program's first call of 500 sleeps
/// of 1 ms then grew to all 500 workers on 2 cores, spawning them one by one (15–18 ms against
/// 9–10 ms with 128; the whole job's share, remembered, asks for ~240).
fn waiting_floor(opt: &Optimizer, settings: &sample::SampleSettings) -> f64 {
    let per_core = 1.0 / crate::plan::WAITING_WORKERS_PER_CORE as f64;
    match opt.max_workers_set() {
        Some(_) => {
            (settings.cores.max(1) as f64 / settings.max_workers.max(1) as f64).min(per_core)
        }
        None => per_core,
    }
}

/// What a watched job showed once it was done, when its window raised the question whether
/// the items run threads of their own ([`others_look_like_inner_threads`]) and the job ran at
/// least [`JUDGED_OVER`] (a shorter one is taken to wait, and nothing is measured after it).
#[derive(Debug, Clone, Copy, PartialEq)]
struct AfterJob {
    /// Cores the program's own threads kept busy while no item ran.
    busy: f64,
    /// Cores the rest of the process (every thread but the job's participants) burned over the
    /// whole job, the busy ones included (a job at least [`JUDGED_OVER`] long).
    others: f64,
    /// The machine's effective cores.
    cores: usize,
}

impl AfterJob {
    /// Whether the rest of the process, its busy threads left out, kept at least
    /// [`WATCHED_INNER_THREADS`] of the other cores busy over the whole job, as the items'
    /// threads would (a nested loop whose items all wait for it keeps every core it can get
    /// busy: 1.96–1.99 of 2 measured). Threads busy for a moment only (a pool spinning down
    /// while the job started) burn a part of that; a machine loaded by other programs leaves
    /// the items' threads less, and the work then counts as waiting (the cheaper mistake).
    fn items_threads_throughout(&self) -> bool {
        let busy = self.busy.max(0.0);
        let free = (self.cores as f64 - busy).max(1.0);
        self.others - busy >= WATCHED_INNER_THREADS * free
    }
}

/// The shortest job over which what the rest of the process burned is judged. The process's
/// CPU clock counts threads running on other CPUs at the scheduler's tick (4 ms here): over
/// 40 ms that is off by at most a tenth of a core per thread. Shorter jobs are taken to wait
/// (see [`stats_seen`]).
const JUDGED_OVER: Duration = Duration::from_millis(40);

/// Cores the rest of the process burned while `own` was the CPU of the job's own threads (the
/// caller and the workers that took part), out of the process's CPU over `wall`, which
/// `process_cpu` reads; `None`, without reading it, for a job shorter than [`JUDGED_OVER`] or
/// when the workers' CPU was not measured. The read sums every thread's clock: with hundreds
/// of threads it took 10–230 µs in the bench's process, against jobs of a few milliseconds.
fn others_over_job(
    process_cpu: impl FnOnce() -> Duration,
    own: Option<Duration>,
    wall: Duration,
) -> Option<f64> {
    let own = own?;
    (wall >= JUDGED_OVER)
        .then(|| process_cpu().saturating_sub(own).as_secs_f64() / wall.as_secs_f64())
}

/// A watched worker on the CPU for at least this share of the window it could run (less its
/// wait for a CPU: [`pool::Observed::cpu_per_worker`]) computes: the planner's own line
/// between compute-bound and partly blocking work. (It was half the window, for a worker
/// preempted on a loaded machine, before the run delay was taken out; items on the CPU
/// half the time then ran on the cores alone, at half the speed of 4 or more workers on 2
/// cores.)
const WATCHED_COMPUTES: f64 = crate::plan::COMPUTE_BOUND;

/// CPU per watched worker that the rest of the process burns when the items started threads
/// of their own (1.1–1.2 measured, against ≤ 0.4 of idle noise); over a whole job, the share
/// of the cores (see [`AfterJob::items_threads_throughout`]).
const WATCHED_INNER_THREADS: f64 = 0.75;

/// The workers waited while the rest of the process burned as much as threads started by the
/// items would ([`stats_seen`]'s rule before busy threads are known): whether that is the
/// items' doing is then worth a look at what it burns while no item runs.
fn others_look_like_inner_threads(seen: &pool::Observed) -> bool {
    seen.cpu_per_worker() < WATCHED_COMPUTES && seen.others_per_worker() >= WATCHED_INNER_THREADS
}

/// Runs a job of long items at `plan` at once (compute-bound, or as wide as the `first_share`
/// an item was measured to use asks for), with a [`pool::Growth`]: the caller watches the first
/// workers for `window` seconds, and the planner, given the CPU they used, says how many
/// workers the job should have; waiting work grows the job to that many. The call site `key`
/// (none for [`Plan::execute`]) remembers the statistics the watch gave, or, when the plan
/// already had every worker the job may or the policy could ask for ([`widest_watched`]:
/// nothing to watch for), the workers' share over the job or `first_share`, whichever is
/// less, at most `guess`'s.
#[allow(clippy::too_many_arguments)]
fn run_watched<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(
    opt: &Optimizer,
    key: Option<u64>,
    plan: &Plan,
    guess: SampleStats,
    window: f64,
    items: &[T],
    f: &F,
    sampled: Vec<(usize, Vec<R>)>,
    first_share: Option<f64>,
) -> Result<Vec<R>> {
    let n = items.len();
    let settings = opt.sample_settings_for();
    let floor = waiting_floor(opt, &settings);
    let billed = wake_billed_now();
    let left = n - sampled.iter().map(|(_, rs)| rs.len()).sum::<usize>();
    // The job grows no wider than the policy below can ask for: a plan already that wide has
    // nothing to watch for, and the watch would only cost it the caller's part at its start.
    let most = settings.max_workers.min(n).max(1);
    let max = if plan.workers() >= most {
        most
    } else {
        most.min(widest_watched(&guess, floor, |s| opt.plan_from(left, s)).max(plan.workers()))
    };
    let decide = {
        let (opt, guess) = (opt.clone(), guess.clone());
        // Whether the rest of the process burns on its own account cannot be seen while the
        // items run: until it is known, a worker off the CPU waits. (Taken for waiting, items
        // that wait for threads of their own run on more workers that queue more work for
        // those threads, at about the same speed; taken for inner parallelism, items that wait
        // beside a busy program run on as few workers as there are cores, tens of times slower.)
        move |seen: &pool::Observed| {
            let p = opt.plan_from(left, &stats_seen(&guess, seen, None, floor, billed));
            if p.executor() == Executor::Threads {
                p.workers()
            } else {
                0
            }
        }
    };
    // Waiting for the first workers may cost up to one item's time (the caller's share of the
    // work is many items): on a loaded machine a wake-up can take milliseconds.
    let window = Duration::from_secs_f64(window);
    let patience = (window * 20).max(Duration::from_secs_f64(guess.mean.min(1.0)));
    // The window sees a moment of one item: when it does not grow the job, the caller looks
    // again after two items' time, over both (an item that computes first and waits after
    // reads as computing when the moment falls on its computing part).
    let again = Duration::from_secs_f64((2.0 * guess.mean).min(1.0));
    let grow = pool::Growth::new(max, window, decide)
        .patience(patience)
        .second_look(again);
    // The clocks around the job, read only for a call site to remember (the process's CPU
    // clock sums every thread's: ~9 µs with 845 threads read in a loop, 10–230 µs a read in
    // the bench's process, whose threads' accounts are rarely in cache).
    let before = key.map(|key| {
        let clocks = (sample::process_cpu_time(), sample::thread_cpu_time());
        (key, clocks, std::time::Instant::now())
    });
    let (out, run) = run_measured(plan, items, f, sampled, None, Some(grow))?;
    let Some((key, (p0, c0), t0)) = before else {
        return Ok(out);
    };
    judge_run(key, run.as_ref());
    let wall = t0.elapsed();
    // The caller's whole CPU time, not only its part in the job: it also spawns the threads a
    // growing job grows to (tens of microseconds each), which no other thread burns.
    let caller = sample::thread_cpu_time().saturating_sub(c0);
    // Nothing watched: with a share measured before the job, the job's own share or that one
    // is remembered; otherwise (no worker came in time) nothing was learned about CPU use, and
    // the site is not remembered, so the next call looks again.
    let Some(seen) = run.as_ref().and_then(|r| r.observed) else {
        if let Some(first) = first_share {
            // Never more than the share the job started with (`first`), nor the one the
            // items were measured with before the job (alone on the caller, a core's
            // wake-ups billed to them): a job too short to watch taught nothing against
            // them. The workers read are those the job started with up to the cores, and
            // the first of them wakes the others and runs its items while the cores are
            // still idle: it reads the fan-out and the wake-ups' billing as its items' CPU.
            // Sleeps of 100 µs started at the floor's 256 workers read 5-10% there; the site
            // remembered that, and its later calls of 500 of them ran on 32-64 workers in
            // 3.0-4.3 ms, where calls at the start's 256 took 1.4-1.5 ms. And side by side a
            // worker reads more when its wait for a CPU was not counted yet (the kernel adds
            // a wait when it ends): one read of a job 256 wide on 2 cores said 0.9995, and
            // the site ran its later calls of 2,000 such sleeps on 2 workers, 40× slower.
            let mut stats = guess;
            let read = run.as_ref().and_then(|r| workers_share(r, true));
            stats.cpu_fraction = share_unwatched(read, first, stats.cpu_fraction, floor);
            remember_run(opt, key, n, stats, run.as_ref());
        }
        return Ok(out);
    };
    // Now that no item runs, the rest of the process's CPU can be told apart: the program's
    // busy threads, and what the rest burned over the whole job. Only over a job long enough
    // to judge: a shorter one counts as waiting whatever the busy threads are, and measuring
    // them costs a window and a scan of every thread (1.7 ms after a first call of 500 sleeps
    // of 1 ms that had grown to 256 workers, whose CPU the second look counts as the rest's).
    // The process's clock is read again only when what the rest burned is judged.
    let process_cpu = || sample::process_cpu_time().saturating_sub(p0);
    let after = others_look_like_inner_threads(&seen)
        .then(|| others_over_job(process_cpu, job_threads_cpu(run.as_ref(), caller), wall))
        .flatten()
        .map(|others| AfterJob {
            busy: crate::system::BusyThreads::measure(sample::BUSY_WINDOW).cores(),
            others,
            cores: crate::system::info().cores.effective.max(1),
        });
    let mut stats = stats_seen(&guess, &seen, after, floor, billed);
    // The window watched one or a few workers for a moment, and a moment can mislead: a
    // worker billed for CPU it did not use (as the kernel bills a thread waking among hundreds
    // of others, see the sample's `summarize_beside`) reads as work that computes a fifth of
    // the time, and an item that computes for a while and then waits reads as computing when
    // the window falls on its computing part (200 µs then 800 µs asleep: one call in six here;
    // half and half: two in three). The whole job watched every worker over every item: unless
    // the items were found to run threads of their own, the site is remembered with the
    // workers' median share, so one unlucky window is not repeated by every later call.
    if stats.inner_parallelism <= 1.0 {
        if let Some(share) = run.as_ref().and_then(|r| workers_share(r, false)) {
            stats.cpu_fraction = share.max(floor);
        }
    }
    remember_run(opt, key, n, stats, run.as_ref());
    Ok(out)
}

/// The share a call site is remembered with after a job too short to watch: the workers'
/// share as `read` (see [`workers_share`]), at most the share the job started with (`first`)
/// and the one sampled before it (`sampled`), and at least `floor`.
fn share_unwatched(read: Option<f64>, first: f64, sampled: f64, floor: f64) -> f64 {
    read.map_or(first, |read| read.min(first))
        .min(sampled)
        .max(floor)
}

/// The median CPU share of a job's workers (slots 1 and up that could run for at least
/// [`sample::MIN_MEASUREMENT`]): each one's CPU time over its time in the job less its wait
/// for a CPU (the lower middle of an even count); `None` when the workers' CPU was not
/// measured or none took part. With `read_only`, only the workers whose wait for a CPU was
/// read count: in a job that started wider than the cores, the others' share is their items'
/// only if those wait (computing items there queue for the cores, and their CPU over their
/// time reads like waiting).
fn workers_share(run: &pool::RunStats, read_only: bool) -> Option<f64> {
    let delay = |slot: usize| run.run_delay.get(slot).copied().unwrap_or_default();
    let counted = if read_only {
        run.run_delay.len()
    } else {
        usize::MAX
    };
    let shares: Vec<f64> = run
        .cpu
        .iter()
        .zip(&run.busy)
        .take(counted)
        .enumerate()
        .skip(1)
        .map(|(slot, (cpu, busy))| (cpu, busy.saturating_sub(delay(slot))))
        .filter(|(_, could)| *could >= sample::MIN_MEASUREMENT)
        .map(|(cpu, could)| (cpu.as_secs_f64() / could.as_secs_f64()).min(1.0))
        .collect();
    sample::lower_median(shares)
}

/// Remembers a call site of `n` items from `stats`, with the mean the pool's run measured in
/// place of the first item's alone: the run timed every item it ran (each participant's time
/// in the job), and it is the measure a remembered site is checked with.
fn remember_run(
    opt: &Optimizer,
    key: u64,
    n: usize,
    mut stats: SampleStats,
    run: Option<&pool::RunStats>,
) {
    if let Some(mean) = run.and_then(busy_per_item) {
        stats.mean = mean;
        stats.median = mean;
        stats.p95 = stats.p95.max(mean);
    }
    let parallel = opt.plan_from(n, &stats).executor() == Executor::Threads;
    cache_put(key, n, &stats, parallel, false);
}

/// The CPU of a watched job's own threads: `caller`'s (measured around the whole run) and the
/// workers' in the job (slots 1 and up); `None` when the workers' CPU was not measured.
fn job_threads_cpu(run: Option<&pool::RunStats>, caller: Duration) -> Option<Duration> {
    let workers = run.map(|r| &r.cpu).filter(|cpu| !cpu.is_empty())?;
    Some(caller + workers.iter().skip(1).sum::<Duration>())
}

/// Whether a run of `plan` whose participants spent `per_item` seconds in the job per item
/// ([`busy_per_item`]) ran items of another cost than the `mean` seconds each took alone: its
/// time per item is off by more than 2× from [`busy_per_item_expected`].
///
/// Compared with the items' time alone instead, waiting items on many workers passed for other
/// work: `amorsize demo`'s 500 sleeps of 1 ms (1.17–1.31 ms alone) on 256 workers spent 1.2–2.1
/// ms each in the job, and a site read past 2× was forgotten, so the next call sampled again
/// and grew a job from 2 workers (8.9–24 ms against 6–8 ms remembered).
fn cost_changed(per_item: f64, plan: &Plan, mean: f64) -> bool {
    !same_cost(per_item, busy_per_item_expected(plan, mean))
}

/// Whether a time per item `measured` is the cost `expected` (positive) within 2× either way:
/// the band in which a call site's remembered statistics still describe its items.
fn same_cost(measured: f64, expected: f64) -> bool {
    expected > 0.0 && (0.5..=2.0).contains(&(measured / expected))
}

/// The time per item a job of `plan` should keep its participants in it, for items of `mean`
/// seconds alone: `mean` stretched by the workers over the parallelism the model predicts for
/// them (more workers than the items' CPU lets progress at once share what does: 256 workers
/// of sleeps on the CPU 1.4 % of their time, on 2 cores, about 147 at once, each item 1.74
/// times as long in the job as alone). `mean` itself for a plan without a prediction.
fn busy_per_item_expected(plan: &Plan, mean: f64) -> f64 {
    let stretch = plan
        .diagnostics()
        .prediction
        .as_ref()
        .filter(|p| p.parallelism > 0.0)
        .map_or(1.0, |p| (p.workers as f64 / p.parallelism).max(1.0));
    mean * stretch
}

/// Seconds per item the pool's participants spent in a run (their time in the job over the
/// items they ran); `None` when the run ran no item.
fn busy_per_item(run: &pool::RunStats) -> Option<f64> {
    let busy: f64 = run.busy.iter().map(Duration::as_secs_f64).sum();
    (run.items > 0).then(|| busy / run.items as f64)
}

fn sample_and_run<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(
    opt: &Optimizer,
    key: u64,
    items: &[T],
    f: &F,
    probe: Option<sample::Sample<R>>,
) -> Result<Vec<R>> {
    let n = items.len();
    let settings = opt.sample_settings_for();
    let s = match probe {
        None => sample::measure(items, f, &settings)?,
        Some(p) => sample::resume(items, f, &settings, p)?,
    };
    // The job counts toward calibration as the lesser of its sample's median and mean item
    // times its length, not as the prefix's projection: the prefix stops once it has run
    // ~20 µs, so a slow first item (cold, or preempted) is the whole of it. A first item of
    // 96 µs projected a job of 20,000 items of ~1 µs at 1.9 s, and made it pay for
    // calibrating. The median leaves out one slow run among many, the mean one slow run
    // among few (that sample had 2: the prefix, and 78 items in 1.07 µs); items of unequal
    // cost count for less than their mean, which only calibrates later.
    costs_for(s.stats.median.min(s.stats.mean) * n as f64);
    let plan = opt.plan_from(n, &s.stats);
    cache_put(key, n, &s.stats, plan.executor() == Executor::Threads, true);
    if runs_watched(&plan, &s.stats) {
        // Items that wait, measured one at a time on the caller: the share of the CPU they use
        // there is not the share they use side by side. Sleeps of 100 µs burned 11% of their
        // time alone, a third of that on 128 workers (an idle core's wake-ups, billed to the
        // sleeper, are gone on a busy one): 31 workers, 6.0 ms for 500 of them, where 128 took
        // 1.9 ms. The job starts as wide as the share without that billing asks for
        // ([`share_side_by_side`]), is watched as it starts and grows to what its workers
        // burn, and the call site remembers the share the whole job measured.
        let window = watch_window(&costs_so_far());
        let billed = wake_billed_now();
        let (start, share) = start_side_by_side(opt, n, plan, &s, billed);
        return run_watched(
            opt,
            Some(key),
            &start,
            s.stats,
            window,
            items,
            f,
            s.results,
            Some(share),
        );
    }
    let (out, run) = run_measured(&plan, items, f, s.results, Some(&s.stats), None)?;
    judge_run(key, run.as_ref());
    Ok(out)
}

/// The plan a job of `n` items whose sample `s` found them waiting starts with (`plan`, made
/// from the sample as it is, when the items were not found to wait), and the CPU share it was
/// made for: the sample's, less `billed` seconds for each time an item blocked (what the
/// kernel bills a thread that blocks while the caller's cores idle beyond what it bills one of
/// many side by side, see [`billing_gone`] and [`share_side_by_side`]), at least the
/// [`waiting_floor`]. Sleeps of 100 µs sampled at 6–13% of their time plan 28–63 workers on 2
/// cores; less the billing, up to 256 (the floor), which ran 500 of them in 1.7 ms where 32
/// took 3.0–4.3 (stop 19); at stop 32, when a sleep side by side cost 4–5 µs of its 9–15 µs
/// alone, 256 took 3.2–4.3 ms and 64 2.3–2.8, and less what side by side still costs the
/// sleeps plan 60–115 workers.
fn start_side_by_side<R>(
    opt: &Optimizer,
    n: usize,
    plan: Plan,
    s: &sample::Sample<R>,
    billed: f64,
) -> (Plan, f64) {
    let sampled = s.stats.cpu_fraction;
    if !runs_watched(&plan, &s.stats) {
        return (plan, sampled);
    }
    let floor = waiting_floor(opt, &opt.sample_settings_for());
    let share = share_side_by_side(&s.measurements, billed)
        .map_or(sampled, |b| b.clamp(floor, 1.0))
        .min(sampled);
    if share < sampled {
        let mut side = s.stats.clone();
        side.cpu_fraction = share;
        let why = format!(
            "CPU {:.1}% of the items' time side by side, not the {:.1}% sampled one at a time: \
             {:.1} µs of CPU for each time an item blocked is what the kernel bills a thread \
             that blocks while the cores idle beyond what it bills one of many side by side",
            share * 100.0,
            sampled * 100.0,
            billed * 1e6
        );
        (opt.plan_from(n, &side).explained_first(why), share)
    } else {
        (plan, share)
    }
}

/// The plan [`Optimizer::optimize`] gives for a sample `s` of `n` items: the plan from its
/// statistics, or, for items that wait, the plan their share side by side asks for (see
/// [`start_side_by_side`]), as [`par_map`] starts them.
pub(crate) fn plan_sampled<R>(opt: &Optimizer, n: usize, s: &sample::Sample<R>) -> Plan {
    let billed = wake_billed_now();
    start_side_by_side(opt, n, opt.plan_from(n, &s.stats), s, billed).0
}

/// Whether `plan`, made from a sample that found `stats`, runs watched ([`run_watched`]) so
/// that it grows to the share its workers burn side by side: a plan for threads whose items
/// wait and cost about alike ([`sample::wait_and_cost_alike`]: on the CPU less than
/// [`WATCHED_COMPUTES`] of their time, the same line, without threads of their own), while
/// the tracking allocator does not measure memory; the sample of such items stops at two
/// runs ([`sample::waits_alike`]). Items of very unequal cost keep the chunk controller of a
/// plain run.
fn runs_watched(plan: &Plan, stats: &SampleStats) -> bool {
    plan.executor() == Executor::Threads && sample::wait_and_cost_alike(stats)
}

impl Plan {
    /// Runs `f` over `items` under this plan (the plan-once, run-many pattern); results in
    /// input order. The plan's workers and chunk size are used as they are, with two
    /// exceptions that follow the job as it runs:
    /// - when the planned workload was heterogeneous, a chunk controller adapts the chunk size;
    /// - when the planned items wait (on the CPU less than [`COMPUTE_BOUND`] of their time,
    ///   about alike), the job starts at the plan's workers and grows past them when its
    ///   workers, side by side, burn a smaller share of the CPU than the sample measured with
    ///   each item alone (500 sleeps of 100 µs: 11% alone, about a third of that side by side;
    ///   31 planned workers grew to 128, 3.4 ms → 2.7 ms here). It never shrinks, and never
    ///   exceeds the optimizer's `max_workers` nor the most workers the planner gives for any
    ///   share a watch can read (a plan already that wide runs without a watch).
    ///
    /// [`COMPUTE_BOUND`]: crate::plan::COMPUTE_BOUND
    ///
    /// ```
    /// let first: Vec<u64> = (0..10_000).collect();
    /// let work = |x: &u64| x.count_ones();
    /// let plan = amorsize::optimize(&first, work)?;
    /// for ds in [vec![1u64, 2, 3], (0..5_000).collect()] {
    ///     let out = plan.execute(&ds, work)?;
    ///     assert_eq!(out.len(), ds.len());
    /// }
    /// # Ok::<(), amorsize::Error>(())
    /// ```
    pub fn execute<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(
        &self,
        items: &[T],
        f: F,
    ) -> Result<Vec<R>> {
        if pool::in_worker() {
            return run_plain(items, &f);
        }
        let d = self.diagnostics();
        if runs_watched(self, &d.sample) {
            // Items that wait, planned from their share of the CPU side by side as the sample
            // estimated it (`optimize`, see `start_side_by_side`): the job is watched, and
            // grows to what they burn there.
            let (window, share) = (watch_window(&d.costs), Some(d.sample.cpu_fraction));
            let guess = d.sample.clone();
            return run_watched(
                &self.settings,
                None,
                self,
                guess,
                window,
                items,
                &f,
                Vec::new(),
                share,
            );
        }
        run_with_sample(self, items, &f, Vec::new(), None)
    }
}

/// The plain loop, with a panic turned into `Err(TaskPanicked)`.
fn run_plain<T, R, F: Fn(&T) -> R>(items: &[T], f: &F) -> Result<Vec<R>> {
    let mut out = Vec::with_capacity(items.len());
    extend_from(&mut out, items, 0, f)?;
    Ok(out)
}

/// Appends `f(x)` for `items` (which start at index `base` of the input) to `out`, as fast as
/// `iter().map().collect()` (no per-item bookkeeping). On a panic the results already made
/// stay in `out` (std's `extend` keeps the length of what it wrote), so the failing item's
/// index is `base` plus the number appended.
fn extend_from<T, R, F: Fn(&T) -> R>(
    out: &mut Vec<R>,
    items: &[T],
    base: usize,
    f: &F,
) -> Result<()> {
    let before = out.len();
    let r = catch_unwind(AssertUnwindSafe(|| out.extend(items.iter().map(f))));
    r.map_err(|p| Error::from_panic(base + (out.len() - before), p))
}

/// Runs the plan over `items`, skipping the items whose results `sampled` holds.
fn run_with_sample<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(
    plan: &Plan,
    items: &[T],
    f: &F,
    sampled: Vec<(usize, Vec<R>)>,
    stats: Option<&SampleStats>,
) -> Result<Vec<R>> {
    Ok(run_measured(plan, items, f, sampled, stats, None)?.0)
}

/// [`run_with_sample`], also returning the pool run's measurements (none for the plain loop);
/// with `grow`, the job may take more workers than the plan's (on a pool large enough).
fn run_measured<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(
    plan: &Plan,
    items: &[T],
    f: &F,
    sampled: Vec<(usize, Vec<R>)>,
    stats: Option<&SampleStats>,
    grow: Option<pool::Growth>,
) -> Result<(Vec<R>, Option<pool::RunStats>)> {
    let n = items.len();
    if plan.executor() == Executor::Sequential || plan.workers() <= 1 || n < 2 {
        return Ok((run_sequential(items, f, sampled)?, None));
    }
    let chunks = match stats {
        Some(s) if s.heterogeneous => {
            let target =
                Duration::from_secs_f64((plan.chunk_size() as f64 * s.mean).clamp(50e-6, 50e-3));
            ChunkPolicy::Adaptive(ControllerConfig {
                initial: plan.chunk_size(),
                target,
                adaptation_rate: 0.5,
                min: 1,
                max: None,
                window: 10,
            })
        }
        _ => ChunkPolicy::Fixed(plan.chunk_size()),
    };
    let workers = plan.workers();
    let largest = grow
        .as_ref()
        .map_or(workers, |g| g.max_workers.max(workers));
    let handle = crate::global_pool_manager().get(pool_size(largest))?;
    // A parallel job runs: from now on a call's long first item can be helped (the monitor's
    // spawn, once per process, is paid here rather than by a short call).
    pool::early::start();
    // (A job that may grow makes no solo check: the pool ignores it.)
    let solo = solo_check(plan);
    let opts = RunOptions {
        workers: workers.min(handle.workers()),
        chunks,
        progress: plan.settings.progress.clone(),
        grow,
        solo,
    };
    // The sampled items' results go into place as they are; the pool skips them once a chunk.
    let out = handle.map_range_filled(n, &opts, sampled, |i| f(&items[i]))?;
    if out.stats.solo.is_some() {
        SOLO.fetch_add(1, Ordering::Relaxed);
    }
    Ok((out.results, Some(out.stats)))
}

/// The check a parallel job of `plan` makes once it has run a while, when the plan's sample
/// computed alone ([`pool::Solo`]): whether the items hold each other up (see [`goes_solo`]).
/// `None` for items that did not compute alone (they wait anyway, or run threads of their
/// own).
///
/// The check comes once the caller has been in the job for [`SOLO_CHUNKS`] of the plan's
/// chunks, and at least [`SOLO_WAKES`] wake-ups (every participant has entered and run a few
/// chunks by then): what it measures before that is mostly the workers' start.
fn solo_check(plan: &Plan) -> Option<pool::Solo> {
    let stats = &plan.diagnostics().sample;
    if stats.cpu_fraction < crate::plan::COMPUTE_BOUND || stats.inner_parallelism > 1.0 {
        return None;
    }
    let mean = stats.mean;
    let min_speedup = plan.settings.min_speedup_set();
    let chunk = plan.chunk_size() as f64 * mean;
    let after = (SOLO_CHUNKS * chunk).max(SOLO_WAKES * current_costs().wake);
    let after = Duration::try_from_secs_f64(after).unwrap_or(Duration::MAX);
    Some(pool::Solo::new(after, move |seen: &pool::CallerSeen| {
        goes_solo(seen, mean, min_speedup)
    }))
}

/// Chunks of the plan the caller runs before its solo check. Two: by then a participant that
/// runs beside the caller has finished a chunk of its own unless something holds it up. The
/// quick suite's lock-bound row (10,000 items holding one mutex for 1 µs, 2 workers of 482
/// items a chunk) ran its `Plan::execute` at 1.03–1.11 times the loop with two (median 1.08)
/// against 1.12–1.15 with four (median 1.135), 6 alternated pairs; the rows that compute did
/// not move (two whole quick suites each). (It was two at stop 31, and four again after its
/// test failed in a CI run; that failure was the test's lock, not the check: see
/// `items_that_queue_for_one_lock_leave_the_job_to_the_caller`.)
const SOLO_CHUNKS: f64 = 2.0;

/// Wake-ups' time at least before the solo check.
const SOLO_WAKES: f64 = 20.0;

/// Whether a job of items that computed alone (`mean` seconds each, measured one at a time)
/// should go on with the caller alone, from what the caller saw of its first chunks: its
/// thread blocked (the items now wait for something they did not wait for alone: a lock they
/// all take, a device they share), and the job as a whole ran its items no faster than
/// `min_speedup` times their time alone, the least the planner asks of a parallel plan. More
/// participants then only hand the lock over more often: one item at a time, each waiting
/// for the last. (A job of 10,000 items taking one mutex for 1 µs each ran at 0.6–0.9 times
/// the speed of its items alone on 2 cores, its caller blocking 17–51 times a millisecond;
/// items that compute, whose first items are dearer than the mean, never blocked.)
///
/// The job's speed is judged against `mean` only while the caller's items still burn at
/// least half of it in CPU each: items that queue for each other still do the work they were
/// sampled doing. Items that now burn far less and wait instead are not the items sampled
/// (a plan executed on other inputs, or a sample misread on a loaded machine): they may wait
/// for something outside the job, which more participants overlap, so the job goes on as
/// planned. (A plan made from items of 337 µs ran items that each waited up to a second on a
/// condition variable: taken for contention, the caller ran them all alone, at half the
/// speed of the 2 planned participants.)
fn goes_solo(seen: &pool::CallerSeen, mean: f64, min_speedup: f64) -> bool {
    let wall = seen.job_wall.as_secs_f64();
    if seen.participants < 2 || seen.blocked == 0 || wall <= 0.0 || seen.items == 0 {
        return false;
    }
    let cpu_per_item = seen.cpu.as_secs_f64() / seen.items as f64;
    cpu_per_item >= mean / 2.0 && seen.job_items as f64 * mean / wall < min_speedup
}

/// The pool size to ask the manager for: the workers themselves up to 64, then 128, 512,
/// 2048 (each four times the last), so that plans differing by a few workers share warm
/// pools; never more than [`pool::MAX_WORKERS`] (a job of more workers runs on a pool of that
/// many). A pool spawns its threads as jobs first need them, so a job of 241 threads on a pool
/// of 512 makes 241. (With powers of two, a fresh call of 500 waiting items asked for 512 to
/// grow in, and the remembered plan of 241 then ran on a pool of 256: two sets of threads.)
fn pool_size(workers: usize) -> usize {
    if workers <= 64 {
        return workers;
    }
    let p = workers
        .checked_next_power_of_two()
        .unwrap_or(pool::MAX_WORKERS);
    // 64 · 2^(odd): 128, 512, 2048, …
    let p = if p.trailing_zeros() % 2 == 0 {
        p.saturating_mul(2)
    } else {
        p
    };
    p.min(pool::MAX_WORKERS)
}

fn run_sequential<T, R, F: Fn(&T) -> R>(
    items: &[T],
    f: &F,
    sampled: Vec<(usize, Vec<R>)>,
) -> Result<Vec<R>> {
    let n = items.len();
    let mut sampled = sampled.into_iter().peekable();
    // The prefix probe's vector was made to hold every result: go on in it.
    let mut out = match sampled.next_if(|(s, rs)| *s == 0 && rs.capacity() >= n) {
        Some((_, rs)) => rs,
        None => Vec::with_capacity(n),
    };
    let mut cursor = out.len();
    for (start, rs) in sampled {
        extend_from(&mut out, &items[cursor..start], cursor, f)?;
        cursor = start + rs.len();
        out.extend(rs);
    }
    extend_from(&mut out, &items[cursor..n], cursor, f)?;
    Ok(out)
}

// ---- The call-site memory.

#[derive(Clone)]
struct Entry {
    items: usize,
    stats: SampleStats,
    parallel: bool,
    used: u64,
    /// Seconds per item with each item run alone, one after another: the mean of the sample
    /// that found the site (a few items spread over its input), or the time of its last plain
    /// loop over a whole input (`measured`); `None` when the site was learned from a first
    /// item only (no parallel run is judged then).
    alone: Option<f64>,
    /// Whether `alone` was measured by a plain loop over a whole input.
    measured: bool,
    /// Parallel runs in a row that took longer than their items take alone ([`judge_run`]).
    slower: u8,
    /// Calls left to run on the plain loop before the next parallel run.
    plain_left: u8,
    /// Seconds per item of the last parallel run judged slower (wall / items), for the plain
    /// loop that measures next to compare with ([`record_alone`]).
    last_slower: Option<f64>,
}

/// Calls a call site runs on the plain loop once a parallel run there took at least as long as
/// its items take alone, one after another, by the plain loop's own measure (see
/// [`SLOWER_RUNS`]), before it tries its parallel plan again (the lock may be gone, the
/// machine less loaded): if nothing changed, one call in `RETRY_AFTER + 1` pays the parallel
/// run's loss again.
///
/// Items that serialize — on a lock they hold while they work, say — only add the lock's
/// hand-offs in parallel: 10,000 items that hold one mutex for 1 µs took 12.1–13.2 ms in
/// parallel against 10.8–11.1 ms on the plain loop (2-core VM), and 200 that sleep 100 µs
/// holding it 39–48 ms against 34–38 ms. A sample cannot see it: it runs the items alone.
///
/// ```
/// use amorsize::exec::{RETRY_AFTER, SLOWER_RUNS};
/// // Items that never pay in parallel: after the first SLOWER_RUNS + 1 calls (the runs
/// // judged against the sample, then the plain loop that measures them), RETRY_AFTER of
/// // every RETRY_AFTER + 1 calls are plain.
/// assert!(RETRY_AFTER > 2 * (SLOWER_RUNS + 1));
/// ```
pub const RETRY_AFTER: u8 = 8;

/// Parallel runs in a row, each slower than its items alone by the sample's measure, after
/// which a call site runs the plain loop once to measure them over a whole input. A sample of
/// a few items can read a mean far from the input's (items that grow dearer along the input:
/// 2 items read 155 µs where the whole input's mean was 250 µs), and one slow run can be a
/// stall of the machine: neither sends a call to the plain loop. When that loop finds the
/// last run no faster than itself, or a later run is slower than its measure, the next
/// [`RETRY_AFTER`] calls run there.
///
/// ```
/// // One slow run (a stall of the machine, a sample that read low) costs no call.
/// assert!(amorsize::exec::SLOWER_RUNS >= 2);
/// ```
pub const SLOWER_RUNS: u8 = 2;

fn cache() -> &'static Mutex<HashMap<u64, Entry>> {
    static C: OnceLock<Mutex<HashMap<u64, Entry>>> = OnceLock::new();
    C.get_or_init(|| Mutex::new(HashMap::default()))
}

static TICK: AtomicU64 = AtomicU64::new(0);
static HITS_PLAIN: AtomicU64 = AtomicU64::new(0);
static HITS_PROBE: AtomicU64 = AtomicU64::new(0);
static MISSES: AtomicU64 = AtomicU64::new(0);
static SOLO: AtomicU64 = AtomicU64::new(0);

/// How par_map's call-site memory has served calls since the process started.
///
/// ```
/// let before = amorsize::exec::cache_stats();
/// amorsize::par_map(&[1u8, 2, 3], |x| x + 1)?; // three items: the plain loop
/// let after = amorsize::exec::cache_stats();
/// assert_eq!(after.plain, before.plain + 1);
/// assert!(serde_json::to_string(&after).unwrap().contains("\"plain\""));
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Calls that ran the plain loop after the prefix probe (too small to pay), or because the
    /// call site's last parallel run was slower than its items alone (see the module docs).
    pub plain: u64,
    /// Calls that reused a call site's remembered statistics instead of sampling.
    pub probed: u64,
    /// Calls that sampled in full (nothing remembered, or the cost changed).
    pub sampled: u64,
    /// Calls whose first item ran so long that helper threads started on the items after it
    /// (see "Long first items" in the module docs); counted as well under one of the above.
    pub helped: u64,
    /// Parallel jobs (of `par_map` or `Plan::execute`) that their caller finished alone, their
    /// items holding each other up (see [`pool::Solo`]); counted as well under one of the
    /// above (par_map's).
    pub solo: u64,
}

/// Counts of how calls were served by the call-site memory (process-wide, all threads).
///
/// ```
/// let before = amorsize::exec::cache_stats();
/// amorsize::par_map(&[1u8, 2, 3], |x| *x)?;
/// let after = amorsize::exec::cache_stats();
/// assert!(after.plain + after.probed + after.sampled > before.plain + before.probed + before.sampled);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn cache_stats() -> CacheStats {
    CacheStats {
        plain: HITS_PLAIN.load(Ordering::Relaxed),
        probed: HITS_PROBE.load(Ordering::Relaxed),
        sampled: MISSES.load(Ordering::Relaxed),
        helped: pool::early::claims(),
        solo: SOLO.load(Ordering::Relaxed),
    }
}

/// The call site's key: the three types and the settings. Computed on every call, so it hashes
/// where each type name lives and how long it is (one constant per type in the binary), not
/// the text, with FxHash: tens of nanoseconds instead of half a microsecond.
fn site_key<T, R, F>(opt: &Optimizer) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    for name in [
        std::any::type_name::<F>(),
        std::any::type_name::<T>(),
        std::any::type_name::<R>(),
    ] {
        (name.as_ptr() as usize).hash(&mut h);
        name.len().hash(&mut h);
    }
    opt.fingerprint(&mut h);
    h.finish()
}

fn cache_get(key: u64) -> Option<Entry> {
    let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
    let e = c.get_mut(&key)?;
    e.used = TICK.fetch_add(1, Ordering::Relaxed);
    Some(e.clone())
}

/// Remembers a call site. `sampled`: `stats` come from a sample spread over the input, whose
/// mean is the items' time alone (what [`judge_run`] measures parallel runs against), and
/// whatever was learned of the site's parallel runs starts over; otherwise both are kept.
fn cache_put(key: u64, items: usize, stats: &SampleStats, parallel: bool, sampled: bool) {
    let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
    if c.len() >= CACHE_CAPACITY && !c.contains_key(&key) {
        if let Some(oldest) = c.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| *k) {
            c.remove(&oldest);
        }
    }
    let (alone, measured, slower, plain_left, last_slower) = match c.get(&key) {
        _ if sampled => (Some(alone_at_most(stats)), false, 0, 0, None),
        Some(e) => (e.alone, e.measured, e.slower, e.plain_left, e.last_slower),
        None => (None, false, 0, 0, None),
    };
    c.insert(
        key,
        Entry {
            items,
            stats: stats.clone(),
            parallel,
            used: TICK.fetch_add(1, Ordering::Relaxed),
            alone,
            measured,
            slower,
            plain_left,
            last_slower,
        },
    );
}

/// The most a sample says its items take alone, each: the sample's mean plus two standard
/// errors of it. A sample of a few items reads the input's mean only roughly (items that grow
/// dearer along the input: two items read 155 µs where the input's mean was 250 µs), so a
/// parallel run is judged slower against this bound, not the mean: items as even as those
/// that wait on one lock get a bound close to their mean, spread items a looser one.
///
/// Two standard errors because a parallel run of 2 cores that pays at all is faster than the
/// loop by well more than the sample's error then, and a run judged slower only costs one
/// plain call that measures the items over a whole input ([`SLOWER_RUNS`]).
fn alone_at_most(stats: &SampleStats) -> f64 {
    let se = stats.std_dev / (stats.count.max(1) as f64).sqrt();
    stats.mean + 2.0 * if se.is_finite() { se } else { 0.0 }
}

/// Whether a parallel run of `items` that took `wall` took at least as long as they take
/// alone, one after another (`alone` seconds each).
fn ran_slower(items: usize, wall: Duration, alone: f64) -> bool {
    let wall = wall.as_secs_f64();
    wall > 0.0 && items as f64 * alone <= wall
}

/// Records whether the parallel `run` at call site `key` paid, and returns whether it was
/// slower than its items alone ([`ran_slower`]). Against the plain loop's measure, one such
/// run sends the next [`RETRY_AFTER`] calls to the plain loop; against the sample's, the
/// [`SLOWER_RUNS`]-th in a row sends the next call there, to measure. A run whose caller
/// finished it alone ([`goes_solo`]) counts as slower. A run that paid clears the count. A run
/// on one participant, or at a site without a time alone, is not judged.
fn judge_run(key: u64, run: Option<&pool::RunStats>) -> bool {
    let Some(run) = run.filter(|r| r.participants >= 2 && !r.inline && r.items >= 2) else {
        return false;
    };
    let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
    let Some(e) = c.get_mut(&key) else {
        return false;
    };
    let Some(alone) = e.alone else { return false };
    // A job its caller finished alone ran slower in parallel than alone ([`goes_solo`]).
    let slower = run.solo.is_some() || ran_slower(run.items, run.wall, alone);
    if slower {
        e.slower = e.slower.saturating_add(1);
        e.last_slower = Some(run.wall.as_secs_f64() / run.items as f64);
        e.plain_left = if e.measured {
            RETRY_AFTER
        } else {
            u8::from(e.slower >= SLOWER_RUNS)
        };
    } else {
        e.slower = 0;
        e.plain_left = 0;
        e.last_slower = None;
    }
    slower
}

/// Whether this call at site `key` runs the plain loop because its last parallel run did not
/// pay (see [`judge_run`]), counting it.
fn plain_now(key: u64) -> bool {
    let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
    match c.get_mut(&key) {
        Some(e) if e.plain_left > 0 => {
            e.plain_left -= 1;
            true
        }
        _ => false,
    }
}

/// Remembers the time alone per item that a plain loop at site `key` measured over a whole
/// input, as the site's mean too: it is a better one than a sample's few items (whose low
/// reading may be what made the runs look slow), and the check of a remembered site's cost
/// after a run then compares it with what the items really cost. When the parallel run that
/// sent the site here took at least as long per item, the next [`RETRY_AFTER`] calls run
/// the loop too (no parallel run is needed to learn that again).
fn record_alone(key: u64, wall: Duration, items: usize) {
    if items == 0 {
        return;
    }
    let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = c.get_mut(&key) {
        let alone = wall.as_secs_f64() / items as f64;
        e.alone = Some(alone);
        e.measured = true;
        e.stats.mean = alone;
        // The last parallel run was no faster than this loop: it is judged again by the plain
        // loop's measure, which sends the next RETRY_AFTER calls to the loop at once.
        if e.last_slower.take().is_some_and(|run| run >= alone) {
            e.plain_left = RETRY_AFTER;
        }
    }
}

/// Forgets call site `key`; returns whether it was remembered.
fn cache_forget(key: u64) -> bool {
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&key)
        .is_some()
}

/// Forgets what [`par_map_with`]`(opt, _, f)` learned at the call site of `f` (its closure
/// type, item and result types, and the settings of `opt`; [`par_map`] uses
/// `Optimizer::new()`): the site's next call samples afresh. Other sites are kept (closures
/// defined in one function share a type name, and so a site). Returns whether the site was
/// remembered.
///
/// ```
/// use amorsize::Optimizer;
/// let items: Vec<u64> = (0..400).collect();
/// let work = |x: &u64| (0..20_000u64).fold(*x, |a, b| a.rotate_left(5) ^ b);
/// let before = amorsize::exec::cache_len();
/// amorsize::par_map(&items, work)?;
/// let learned = amorsize::exec::cache_len() > before;
/// assert_eq!(amorsize::exec::forget_site(&Optimizer::new(), &work), learned);
/// assert!(!amorsize::exec::forget_site(&Optimizer::new(), &work)); // gone already
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn forget_site<T, R, F: Fn(&T) -> R>(opt: &Optimizer, _f: &F) -> bool {
    cache_forget(site_key::<T, R, F>(opt))
}

/// Forgets every call site par_map remembers.
///
/// ```
/// amorsize::par_map(&[1, 2, 3], |x| x + 1)?;
/// amorsize::exec::clear_cache();
/// assert_eq!(amorsize::exec::cache_len(), 0);
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn clear_cache() {
    cache().lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// Call sites remembered now (at most [`CACHE_CAPACITY`]).
///
/// ```
/// assert!(amorsize::exec::cache_len() <= amorsize::exec::CACHE_CAPACITY);
/// ```
pub fn cache_len() -> usize {
    cache().lock().unwrap_or_else(|e| e.into_inner()).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The call-site key of `f` (its closure type), as par_map_with computes it.
    fn key_of<T, R, F: Fn(&T) -> R>(opt: &Optimizer, _f: &F) -> u64 {
        site_key::<T, R, F>(opt)
    }

    /// A site that learned other work (another input size) does not pass what it learned of
    /// its parallel runs to this call: a verdict "the plain loop is faster" learned on 100,000
    /// items of 1 µs does not send 40 items of 1 ms to the plain loop, now or on the next call.
    #[test]
    fn a_site_that_learned_other_work_forgets_its_verdict() {
        let opt = Optimizer::new();
        let f = |x: &u64| {
            std::thread::sleep(Duration::from_millis(1));
            x + 1
        };
        let key = key_of(&opt, &f);
        let learned = SampleStats {
            count: 5,
            items: 5,
            mean: 1e-6,
            median: 1e-6,
            cpu_fraction: 1.0,
            process_cpu_ratio: 1.0,
            inner_parallelism: 1.0,
            run_length: 1,
            ..SampleStats::default()
        };
        cache_put(key, 100_000, &learned, true, true);
        {
            let mut c = cache().lock().unwrap();
            let e = c.get_mut(&key).unwrap();
            e.measured = true;
            e.plain_left = RETRY_AFTER;
        }
        let items: Vec<u64> = (0..40).collect();
        let out = par_map_with(&opt, &items, f).unwrap();
        assert_eq!(out, (1..=40).collect::<Vec<u64>>());
        // The call is remembered at this work when its watch saw a worker in time; when none
        // came (a loaded machine: 1 run in 40 of the library's tests), nothing was learned and
        // the site is not remembered at all. Either way the other work's verdict is gone.
        if let Some(e) = cache_get(key) {
            assert_eq!(e.items, 40);
            assert_eq!(e.plain_left, 0, "the other work's verdict was kept");
        }
        assert!(!plain_now(key));
        cache_forget(key);
    }

    #[test]
    fn a_job_too_short_to_watch_is_remembered_at_most_at_the_share_it_started_with() {
        let floor = 1.0 / 64.0;
        // The first worker read the fan-out and the idle cores' billing: the start stands.
        assert_eq!(share_unwatched(Some(0.08), 0.02, 0.10, floor), 0.02);
        // A read not yet charged its wait for a CPU says nearly 1: the start stands.
        assert_eq!(share_unwatched(Some(0.9995), 0.10, 0.12, floor), 0.10);
        // The workers used less than the start assumed: that is remembered.
        assert_eq!(share_unwatched(Some(0.03), 0.05, 0.10, floor), 0.03);
        // Nothing read: the start; never above the sample, never below the floor.
        assert_eq!(share_unwatched(None, 0.05, 0.10, floor), 0.05);
        assert_eq!(share_unwatched(None, 0.30, 0.10, floor), 0.10);
        assert_eq!(share_unwatched(Some(0.001), 0.05, 0.10, floor), floor);
    }

    #[test]
    fn a_sampled_share_side_by_side_leaves_out_what_waking_was_billed() {
        let us = Duration::from_micros;
        let run = |wall: u64, cpu: u64, delay: u64, blocks: Option<u64>| sample::Measurement {
            thread_cpu: us(cpu),
            run_delay: us(delay),
            voluntary_switches: blocks,
            cpu_measured: true,
            ..sample::Measurement::wall_only(0, 1, us(wall))
        };
        // Sleeps of 180 µs billed 18 µs each alone: nothing of theirs is left.
        let sleeps = [run(180, 18, 0, Some(1)), run(185, 19, 0, Some(1))];
        assert_eq!(share_side_by_side(&sleeps, 18e-6), Some(0.0));
        // Without a figure for the billing, the share alone.
        let alone = share_side_by_side(&sleeps, 0.0).unwrap();
        assert!((alone - 0.1).abs() < 1e-9, "{alone}");
        // Items that compute 100 µs and block twice: each block's billing comes off, and the
        // time spent waiting for a CPU is not the item's.
        let mixed = [run(300, 120, 100, Some(2))];
        let s = share_side_by_side(&mixed, 10e-6).unwrap();
        assert!((s - 0.5).abs() < 1e-9, "{s}");
        // The lower median of the runs that blocked: runs that never blocked, or whose CPU
        // was not read, say nothing about waking.
        let some = [
            run(100, 100, 0, Some(0)),
            run(100, 100, 0, None),
            sample::Measurement::wall_only(0, 1, us(100)),
            run(100, 30, 0, Some(1)),
            run(100, 50, 0, Some(1)),
        ];
        let s = share_side_by_side(&some, 10e-6).unwrap();
        assert!((s - 0.2).abs() < 1e-9, "{s}");
        assert_eq!(share_side_by_side(&some[..3], 10e-6), None);
    }

    #[test]
    fn items_that_wait_start_as_wide_as_their_share_without_the_billing_asks() {
        let us = Duration::from_micros;
        let opt = Optimizer::new().max_workers(256);
        // Sleeps of 180 µs on the CPU 18 µs each alone, 12 of them billed for waking.
        let run = |wall: u64| sample::Measurement {
            thread_cpu: us(18),
            voluntary_switches: Some(1),
            cpu_measured: true,
            ..sample::Measurement::wall_only(0, 1, us(wall))
        };
        let measurements = vec![run(180), run(181), run(182)];
        let stats = sample::summarize(&measurements);
        assert!(stats.cpu_fraction > 0.09, "{}", stats.cpu_fraction);
        let s = sample::Sample::<u64> {
            measurements,
            stats,
            results: Vec::new(),
        };
        let plan = opt.plan_from(2_000, &s.stats);
        let (start, share) = start_side_by_side(&opt, 2_000, plan.clone(), &s, 12e-6);
        assert!((share - 6.0 / 180.0).abs() < 1e-3, "{share}");
        // The plan says why it used a share other than the sample's.
        let why = &start.diagnostics().constraints[0];
        assert!(
            why.contains("side by side") && why.contains("12.0 µs"),
            "{why}"
        );
        assert!(
            start.to_string().contains("not the 9.9% sampled"),
            "{start}"
        );
        assert!(
            start.workers() > plan.workers(),
            "{} vs {}",
            start.workers(),
            plan.workers()
        );
        // Without a figure for the billing, the plan from the sample as it is.
        let (same, _) = start_side_by_side(&opt, 2_000, plan.clone(), &s, 0.0);
        assert_eq!(same.workers(), plan.workers());
        // Items that compute are planned as they are, whatever the billing.
        let busy = vec![
            sample::Measurement {
                thread_cpu: us(180),
                ..run(180)
            };
            3
        ];
        let s = sample::Sample::<u64> {
            stats: sample::summarize(&busy),
            measurements: busy,
            results: Vec::new(),
        };
        let plan = opt.plan_from(2_000, &s.stats);
        let (start, share) = start_side_by_side(&opt, 2_000, plan.clone(), &s, 12e-6);
        assert_eq!(
            (start.workers(), share),
            (plan.workers(), s.stats.cpu_fraction)
        );
    }

    #[test]
    fn sleeping_is_billed_some_cpu_per_block() {
        let billed = wake_billed();
        // A sleep blocks the thread, and the kernel bills it for going to sleep and waking:
        // more than nothing, far less than the 20 µs sleep and its wake-up take.
        assert!(billed > 0.0 && billed < 0.01, "{billed}");
        // The same, measured on threads sleeping together (one of them alone too).
        for threads in [1, 4] {
            let side = wake_billed_side_by_side(threads).expect("the threads' clocks read");
            assert!(side > 0.0 && side < 0.01, "{threads}: {side}");
        }
    }

    #[test]
    fn only_what_side_by_side_sleeps_do_not_pay_is_left_out() {
        let us = |x: f64| x * 1e-6;
        // 15 µs a block alone, 4.5 µs side by side: 10.5 µs of each sampled block are the
        // idle cores' (within rounding).
        assert!((billing_gone(us(15.0), Some(us(4.5))) - us(10.5)).abs() < 1e-12);
        // Dearer side by side (a loaded machine): nothing left out, never less than nothing.
        assert_eq!(billing_gone(us(5.0), Some(us(7.0))), 0.0);
        // Not measured side by side: shares are taken as read.
        assert_eq!(billing_gone(us(15.0), None), 0.0);
        // 2,000 sleeps of 100 µs sampled at 9.4 µs of CPU each alone (5.7 %, 1 block each):
        // less all 9 µs of a block alone they read the floor and plan 256 workers; less the
        // 4.5 µs not paid side by side, about half as many.
        let sampled = |cpu_us: f64| sample::Measurement {
            thread_cpu: Duration::from_secs_f64(us(cpu_us)),
            cpu_measured: true,
            voluntary_switches: Some(1),
            ..sample::Measurement::wall_only(0, 1, Duration::from_micros(165))
        };
        let ms = [sampled(9.4), sampled(9.4)];
        let all = share_side_by_side(&ms, us(9.0)).expect("blocked");
        let part = share_side_by_side(&ms, billing_gone(us(9.0), Some(us(4.5)))).expect("blocked");
        let workers = |share: f64| {
            let mut s = guess();
            s.mean = 165e-6;
            s.cpu_fraction = share.max(FLOOR);
            decide_with(&Optimizer::new(), &s, 2_000).workers()
        };
        assert_eq!(workers(all), 256);
        let fewer = workers(part);
        assert!((64..=160).contains(&fewer), "{fewer} workers at {part}");
    }

    /// The solo policy: the caller blocked, its items burned at least half their sampled time
    /// in CPU, and the job ran its items no faster than `min_speedup` times their time alone;
    /// not when any is missing, nor on one participant.
    #[test]
    fn a_job_goes_solo_only_when_its_caller_blocked_and_it_did_not_pay() {
        let ms = Duration::from_millis;
        let seen = pool::CallerSeen {
            participants: 2,
            wall: ms(2),
            cpu: ms(1), // 1.1 µs a caller's item
            blocked: 30,
            items: 900,
            job_items: 1_800, // 1 µs items: 0.9 times as fast as alone
            job_wall: ms(2),
        };
        assert!(goes_solo(&seen, 1e-6, 1.2));
        // Paid: 3,000 items of 1 µs in 2 ms (1.5×).
        assert!(!goes_solo(
            &pool::CallerSeen {
                job_items: 3_000,
                ..seen
            },
            1e-6,
            1.2
        ));
        // A stricter setting asks more of the job.
        assert!(goes_solo(
            &pool::CallerSeen {
                job_items: 3_000,
                ..seen
            },
            1e-6,
            2.0
        ));
        // Never blocked: dear first items, not contention.
        assert!(!goes_solo(
            &pool::CallerSeen { blocked: 0, ..seen },
            1e-6,
            1.2
        ));
        // Items that burn under half their sampled CPU and wait instead are not the items
        // sampled: no judgement from their mean.
        assert!(!goes_solo(
            &pool::CallerSeen {
                cpu: Duration::from_micros(400),
                ..seen
            },
            1e-6,
            1.2
        ));
        assert!(goes_solo(
            &pool::CallerSeen {
                cpu: Duration::from_micros(460),
                ..seen
            },
            1e-6,
            1.2
        ));
        assert!(!goes_solo(
            &pool::CallerSeen {
                participants: 1,
                ..seen
            },
            1e-6,
            1.2
        ));
        assert!(!goes_solo(
            &pool::CallerSeen {
                job_wall: Duration::ZERO,
                ..seen
            },
            1e-6,
            1.2
        ));
    }

    /// A remembered run's cost check: waiting items on more workers than progress at once
    /// take longer each in the job than alone, as the plan predicts, and that is not another
    /// cost; compute-bound items on the cores are held to their time alone.
    #[test]
    fn a_runs_cost_is_checked_against_what_its_plan_predicts_per_item() {
        let costs = Costs {
            spawn: 55e-6,
            wake: 50e-6,
            dispatch: 1e-7,
        };
        let machine = crate::plan::MachineFacts::new(2, 1 << 30);
        let waits = SampleStats {
            count: 2,
            mean: 1e-3,
            cpu_fraction: 0.014,
            run_length: 1,
            ..Default::default()
        };
        let plan = crate::plan::decide(&Optimizer::new(), &waits, 500, &machine, &costs);
        let p = plan.diagnostics().prediction.expect("a parallel plan");
        assert!(p.workers as f64 > 1.5 * p.parallelism, "{p:?}");
        let expected = busy_per_item_expected(&plan, waits.mean);
        assert!((expected - waits.mean * p.workers as f64 / p.parallelism).abs() < 1e-12);
        // 2.3 times the time alone in the job is the same work (the demo's remembered runs
        // read 1.0-1.8 times; past 2 the check against the time alone forgot the site).
        assert!(!cost_changed(2.3 * waits.mean, &plan, waits.mean));
        // Items 5× dearer, or 5× cheaper, than the plan expects are other work.
        assert!(cost_changed(5.0 * expected, &plan, waits.mean));
        assert!(cost_changed(expected / 5.0, &plan, waits.mean));
        // Compute-bound on the 2 cores: no stretch, the old check.
        let computes = computing(100e-6);
        let plan = crate::plan::decide(&Optimizer::new(), &computes, 10_000, &machine, &costs);
        assert_eq!(plan.workers(), 2);
        assert_eq!(busy_per_item_expected(&plan, 100e-6), 100e-6);
        assert!(!cost_changed(190e-6, &plan, 100e-6));
        assert!(cost_changed(210e-6, &plan, 100e-6));
        // A sequential plan has no prediction: its items' time alone.
        let seq = Plan::sequential("test");
        assert_eq!(busy_per_item_expected(&seq, 1e-3), 1e-3);
        assert!(cost_changed(0.0, &seq, 1e-3));
    }

    /// A sample of 10 items of `mean` seconds that computed alone.
    fn computing(mean: f64) -> SampleStats {
        SampleStats {
            count: 10,
            mean,
            cpu_fraction: 1.0,
            run_length: 1,
            ..Default::default()
        }
    }

    /// `n` items, a sample of items of `mean` seconds that computed, and its plan on 2 workers;
    /// `None` on one core.
    fn two_workers(n: usize, mean: f64) -> Option<(Vec<usize>, SampleStats, Plan)> {
        if crate::system::info().cores.effective < 2 {
            return None;
        }
        let stats = computing(mean);
        let plan = Optimizer::new().max_workers(2).plan_from(n, &stats);
        assert_eq!((plan.executor(), plan.workers()), (Executor::Threads, 2));
        Some(((0..n).collect(), stats, plan))
    }

    /// Only items that computed alone are checked, after two of the plan's chunks or 20
    /// wake-ups, whichever is longer.
    #[test]
    fn only_items_that_computed_alone_get_a_solo_check() {
        let computes = computing(1e-3);
        let plan_of = |stats: &SampleStats| Optimizer::new().plan_from(1_000, stats);
        let plan = plan_of(&computes);
        let check = solo_check(&plan).expect("a check");
        let chunk = plan.chunk_size() as f64 * 1e-3;
        let after = check.after.as_secs_f64();
        let (chunks, wakes) = (2.0 * chunk, 20.0 * current_costs().wake);
        assert!(after >= chunks - 1e-9 && after >= wakes - 1e-9, "{after}");
        assert!(after <= chunks.max(wakes) + 1e-9, "{after}");
        let waits = SampleStats {
            cpu_fraction: 0.1,
            ..computes.clone()
        };
        assert!(solo_check(&plan_of(&waits)).is_none());
        let nested = SampleStats {
            inner_parallelism: 2.0,
            ..computes
        };
        assert!(solo_check(&plan_of(&nested)).is_none());
    }

    /// Items that compute alone but queue for one lock side by side: the caller blocks, the
    /// job runs no faster than one item at a time, and the caller finishes it alone; every
    /// item still runs once, in place.
    ///
    /// The lock serves its takers in turn (a ticket lock), as a queue for one resource does.
    /// With `std::sync::Mutex` the caller now and then took the lock back after each of its
    /// items before the worker it had woken could run (the worker starved, the caller never
    /// blocked, and the job stayed two-wide while one item ran at a time): 3 runs in 150 of
    /// this test, which then failed. Such a job goes on as it is; the check does not judge it.
    #[test]
    fn items_that_queue_for_one_lock_leave_the_job_to_the_caller() {
        use crate::sample::thread_cpu_time;
        use std::sync::atomic::{AtomicBool, AtomicUsize};
        let Some((items, stats, plan)) = two_workers(400, 50e-6) else {
            return; // one core: no second participant
        };
        let n = items.len();
        let lock = Turns::default();
        let other = AtomicBool::new(false);
        let calls: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
        let f = |&i: &usize| {
            calls[i].fetch_add(1, Ordering::Relaxed);
            if i == 0 {
                // The caller's first item: the worker is in the job before the contention.
                assert!(within_a_minute(|| other.load(Ordering::Acquire)));
            } else {
                other.store(true, Ordering::Release);
            }
            lock.hold(|| {
                let c0 = thread_cpu_time();
                while thread_cpu_time() - c0 < Duration::from_micros(50) {
                    std::hint::spin_loop();
                }
            });
            i * 2
        };
        let before = cache_stats().solo;
        let (out, run) = run_measured(&plan, &items, &f, Vec::new(), Some(&stats), None).unwrap();
        assert!(cache_stats().solo > before, "counted");
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        for (i, c) in calls.iter().enumerate() {
            assert_eq!(c.load(Ordering::Relaxed), 1, "item {i}");
        }
        let seen = run
            .expect("a parallel run")
            .solo
            .expect("the caller went on alone");
        assert!(seen.blocked > 0 && seen.participants == 2, "{seen:?}");
    }

    /// A lock that its takers hold one at a time in the order they asked for it; a taker
    /// waits for its turn on a condition variable (its thread blocks).
    #[derive(Default)]
    struct Turns {
        next: std::sync::atomic::AtomicUsize,
        serving: Mutex<usize>,
        turn: std::sync::Condvar,
    }

    impl Turns {
        /// Runs `f` holding the lock, once every taker that asked before has run.
        fn hold(&self, f: impl FnOnce()) {
            let ticket = self.next.fetch_add(1, Ordering::Relaxed);
            let serving = self.serving.lock().unwrap();
            drop(self.turn.wait_while(serving, |s| *s != ticket).unwrap());
            f();
            *self.serving.lock().unwrap() += 1;
            self.turn.notify_all();
        }
    }

    /// The test's lock of turns: one taker at a time, every turn taken once.
    #[test]
    fn a_lock_of_turns_holds_one_taker_at_a_time() {
        use std::sync::atomic::AtomicUsize;
        let lock = Turns::default();
        let (inside, most, ran) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..50 {
                        lock.hold(|| {
                            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::hint::spin_loop();
                            ran.fetch_add(1, Ordering::SeqCst);
                            inside.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                });
            }
        });
        assert_eq!(most.into_inner(), 1);
        assert_eq!(ran.into_inner(), 200);
        assert_eq!(*lock.serving.lock().unwrap(), 200);
    }

    /// A plan from items that computed, executed on items that only wait (a sleep): the
    /// caller blocks and the job runs far slower than the sampled mean says, but its items
    /// burn next to no CPU, so they are not taken for items queueing for each other; both
    /// participants stay.
    #[test]
    fn items_that_wait_instead_of_computing_do_not_leave_the_job_to_the_caller() {
        let Some((items, stats, plan)) = two_workers(200, 300e-6) else {
            return; // one core: no second participant
        };
        let f = |&i: &usize| {
            std::thread::sleep(Duration::from_millis(2));
            i + 1
        };
        let (out, run) = run_measured(&plan, &items, &f, Vec::new(), Some(&stats), None).unwrap();
        assert_eq!(out, items.iter().map(|i| i + 1).collect::<Vec<_>>());
        let run = run.expect("a parallel run");
        assert!(run.solo.is_none(), "{:?}", run.solo);
    }

    /// The tests that need helpers run one at a time (see `pool::early::tests::helpers`);
    /// `None` when there is none to have (one core, or the tracking allocator).
    fn helpers_to_have() -> Option<std::sync::MutexGuard<'static, ()>> {
        let serial = pool::early::tests::helpers();
        let ready =
            !crate::alloc::is_active() && pool::early::start() && pool::early::helper_cap() > 0;
        ready.then_some(serial)
    }

    /// Whether `cond` held within a minute (it is met at once when the code is right).
    fn within_a_minute(cond: impl Fn() -> bool) -> bool {
        let t0 = std::time::Instant::now();
        while !cond() {
            if t0.elapsed() > Duration::from_secs(60) {
                return false;
            }
            std::thread::yield_now();
        }
        true
    }

    /// A fresh call site whose first item runs until another item has started: helpers take
    /// the items after it (the plain loop alone would wait the whole minute), and every item
    /// still runs exactly once, its result in place.
    #[test]
    fn a_long_first_item_does_not_hold_up_the_others() {
        let Some(_serial) = helpers_to_have() else {
            return; // one core: no helper to have
        };
        // One call site per size (a generic function's closures differ by its parameter): a
        // site remembered from one size (with its short later items) would make no offer.
        long_first_item::<2>();
        long_first_item::<3>();
        long_first_item::<17>();
        long_first_item::<ITEMS_PER_HELPER>();
    }

    fn long_first_item<const N: usize>() {
        use std::sync::atomic::{AtomicBool, AtomicUsize};
        let items: Vec<usize> = (0..N).collect();
        let calls: Vec<AtomicUsize> = (0..N).map(|_| AtomicUsize::new(0)).collect();
        let other = AtomicBool::new(false);
        let waited = AtomicBool::new(false);
        let out = par_map(&items, |&i| {
            calls[i].fetch_add(1, Ordering::Relaxed);
            if i == 0 {
                waited.store(
                    within_a_minute(|| other.load(Ordering::Acquire)),
                    Ordering::Relaxed,
                );
            } else {
                other.store(true, Ordering::Release);
            }
            i * 3
        })
        .unwrap();
        assert!(
            waited.load(Ordering::Relaxed),
            "n = {N}: no other item started"
        );
        assert_eq!(
            out,
            items.iter().map(|i| i * 3).collect::<Vec<_>>(),
            "n = {N}"
        );
        for (i, c) in calls.iter().enumerate() {
            assert_eq!(c.load(Ordering::Relaxed), 1, "n = {N}: item {i}");
        }
    }

    /// Offers are made for inputs of at most ITEMS_PER_HELPER items per helper, and not for a
    /// site remembered with items far shorter than the wait.
    #[test]
    fn offers_only_where_the_first_item_can_matter() {
        let Some(_serial) = helpers_to_have() else {
            return; // one core: no helper to have
        };
        let cap = pool::early::helper_cap();
        let opt = Optimizer::new();
        let most = ITEMS_PER_HELPER * cap;
        let (helpers, after) = early_help(&opt, most, None).expect("an offer");
        assert_eq!(helpers, cap);
        assert!(after >= Duration::from_micros(200));
        assert_eq!(early_help(&opt, 2, None).map(|h| h.0), Some(1));
        // A few items: a helper for every item after the first.
        let few = crate::plan::ALL_AT_ONCE_PER_CORE * (cap + 1);
        assert_eq!(early_help(&opt, few, None).map(|h| h.0), Some(few - 1));
        assert_eq!(early_help(&opt, few + 1, None).map(|h| h.0), Some(cap));
        assert!(early_help(&opt, most + 1, None).is_none());
        assert!(early_help(&Optimizer::new().max_workers(1), most, None).is_none());
        assert!(early_help(&Optimizer::new().progress(|_| {}), most, None).is_none());
        let short = Entry {
            items: most,
            stats: SampleStats {
                mean: 1e-6,
                ..Default::default()
            },
            parallel: false,
            used: 0,
            alone: None,
            measured: false,
            slower: 0,
            plain_left: 0,
            last_slower: None,
        };
        assert!(early_help(&opt, most, Some(&short)).is_none());
    }

    /// A call made from inside a helped first item (a nested loop) makes no offer of its own
    /// and completes; the outer call's results are all in place.
    #[test]
    fn a_call_inside_a_helped_first_item_completes() {
        let Some(_serial) = helpers_to_have() else {
            return; // one core: no helper to have
        };
        use std::sync::atomic::AtomicBool;
        let items: Vec<u64> = (0..40).collect();
        let other = AtomicBool::new(false);
        let helped = AtomicBool::new(false);
        let out = par_map(&items, |&i| {
            if i == 0 {
                helped.store(
                    within_a_minute(|| other.load(Ordering::Acquire)),
                    Ordering::Relaxed,
                );
                let inner: Vec<u64> = (0..500).collect();
                par_map(&inner, |x| x * 2).unwrap().iter().sum::<u64>()
            } else {
                other.store(true, Ordering::Release);
                i
            }
        })
        .unwrap();
        assert!(helped.load(Ordering::Relaxed));
        assert_eq!(out[0], 2 * (0..500u64).sum::<u64>());
        assert_eq!(&out[1..], &items[1..]);
    }

    /// A helper's panic is the call's error, with the item's index; the first item's own
    /// panic comes first.
    #[test]
    fn a_panic_while_helped_names_the_item() {
        let Some(_serial) = helpers_to_have() else {
            return; // one core: no helper to have
        };
        // A call site each (see `long_first_item`).
        panic_while_helped::<false>();
        panic_while_helped::<true>();
    }

    fn panic_while_helped<const FIRST_PANICS: bool>() {
        use std::sync::atomic::AtomicBool;
        let items: Vec<usize> = (0..50).collect();
        let reached = AtomicBool::new(false);
        let helped = AtomicBool::new(false);
        let r = par_map(&items, |&i| {
            if i == 0 {
                helped.store(
                    within_a_minute(|| reached.load(Ordering::Acquire)),
                    Ordering::Relaxed,
                );
                assert!(!FIRST_PANICS, "first");
            } else if i == 1 {
                reached.store(true, Ordering::Release);
                panic!("second");
            }
            i
        });
        assert!(
            helped.load(Ordering::Relaxed),
            "item 1 never ran beside item 0"
        );
        let Err(Error::TaskPanicked { index, message }) = r else {
            panic!("expected a panic, got {r:?}");
        };
        assert_eq!(index, usize::from(!FIRST_PANICS), "{message}");
    }

    /// A panic past the helpers' items names the input's index, not the tail's.
    #[test]
    fn a_panic_after_the_helped_items_names_the_inputs_index() {
        let Some(_serial) = helpers_to_have() else {
            return; // one core: no helper to have
        };
        use std::sync::atomic::AtomicBool;
        let items: Vec<usize> = (0..ITEMS_PER_HELPER).collect();
        let last = items.len() - 1;
        let other = AtomicBool::new(false);
        let helped = AtomicBool::new(false);
        let r = par_map(&items, |&i| {
            if i == 0 {
                helped.store(
                    within_a_minute(|| other.load(Ordering::Acquire)),
                    Ordering::Relaxed,
                );
            } else {
                other.store(true, Ordering::Release);
            }
            assert!(i != last, "last");
            i
        });
        assert!(helped.load(Ordering::Relaxed));
        assert!(
            matches!(r, Err(Error::TaskPanicked { index, .. }) if index == last),
            "{r:?}"
        );
    }

    fn seen(workers: usize, cpu_us: u64, others_us: u64) -> pool::Observed {
        pool::Observed {
            workers,
            wall: Duration::from_micros(200),
            cpu: Duration::from_micros(cpu_us),
            others: Duration::from_micros(others_us),
            run_delay: Duration::ZERO,
            grew_to: None,
            blocks: None,
        }
    }

    /// What a job showed afterwards: `busy` cores of the program's own, `others` burned by
    /// the rest of the process over the job.
    fn job(busy: f64, others: f64) -> Option<AfterJob> {
        Some(AfterJob {
            busy,
            others,
            cores: 2,
        })
    }

    /// The floor on 2 cores by default (and with `max_workers` up to 128).
    const FLOOR: f64 = 1.0 / 64.0;

    fn guess() -> SampleStats {
        sample::summarize(&[sample::Measurement::wall_only(
            0,
            1,
            Duration::from_millis(1),
        )])
    }

    #[test]
    fn a_watch_leaves_out_what_blocking_on_idle_cores_was_billed() {
        // One worker of 2 sleeping 100 µs at a time: 40 µs of CPU in a 200 µs window, most of
        // it the 2 wake-ups billed to it (15 µs each, as calibrated on idle cores).
        let narrow = pool::Observed {
            blocks: Some(2),
            ..seen(1, 40, 0)
        };
        let s = stats_seen(&guess(), &narrow, None, FLOOR, 15e-6);
        assert!((s.cpu_fraction - 0.05).abs() < 1e-9, "{s:?}");
        assert_eq!(
            stats_seen(&guess(), &narrow, None, FLOOR, 0.0).cpu_fraction,
            0.2
        );
        let wider = decide_for(&s).workers();
        let as_read = decide_for(&stats_seen(&guess(), &narrow, None, FLOOR, 0.0)).workers();
        assert!(
            wider > 2 * as_read,
            "{wider} workers billed, {as_read} as read"
        );
        // Never under the floor, and blocks not read leave the share as read.
        let many = pool::Observed {
            blocks: Some(10),
            ..narrow
        };
        assert_eq!(
            stats_seen(&guess(), &many, None, FLOOR, 15e-6).cpu_fraction,
            FLOOR
        );
        let unread = pool::Observed {
            blocks: None,
            ..narrow
        };
        assert_eq!(
            stats_seen(&guess(), &unread, None, FLOOR, 15e-6).cpu_fraction,
            0.2
        );
        // Work that computes is judged from the share as read: it stays as guessed.
        let computes = pool::Observed {
            blocks: Some(50),
            ..seen(1, 200, 0)
        };
        let s = stats_seen(&guess(), &computes, None, FLOOR, 15e-6);
        assert_eq!(s.cpu_fraction, guess().cpu_fraction);
    }

    #[test]
    fn no_watch_asks_for_more_workers_than_the_widest() {
        // Sleeps of 1 ms, 500 of them, guessed from one item on the CPU 7% of its time.
        let mut sleeps = guess();
        sleeps.cpu_fraction = 0.07;
        let plan = |s: &SampleStats| decide_with(&Optimizer::new(), s, 500);
        let widest = widest_watched(&sleeps, FLOOR, plan);
        // The floor's plan: twice the 2 cores over 1/64.
        assert_eq!(widest, 256);
        assert!(plan(&sleeps).workers() < widest);
        // Whatever a window reads, waiting or computing, the policy asks for no more.
        for (cpu_us, others_us) in [(0, 0), (4, 0), (20, 0), (60, 10), (150, 0), (400, 0)] {
            for blocks in [None, Some(3)] {
                let read = pool::Observed {
                    blocks,
                    ..seen(2, cpu_us, others_us)
                };
                let asked = plan(&stats_seen(&sleeps, &read, None, FLOOR, 15e-6)).workers();
                assert!(asked <= widest, "{asked} > {widest} for {read:?}");
            }
        }
        // Guessed to compute: a watch that finds the workers waiting may still grow the job.
        assert_eq!(widest_watched(&guess(), FLOOR, plan), 256);
        // Work too short to share anywhere: 1.
        let tiny = sample::summarize(&[sample::Measurement::wall_only(
            0,
            1,
            Duration::from_nanos(10),
        )]);
        assert_eq!(widest_watched(&tiny, FLOOR, plan), 1);
    }

    #[test]
    fn a_watch_of_waiting_workers_gives_their_cpu_share() {
        let s = stats_seen(&guess(), &seen(2, 8, 20), None, FLOOR, 0.0);
        assert!((s.cpu_fraction - 0.02).abs() < 1e-9, "{s:?}");
        assert_eq!(s.inner_parallelism, 1.0);
        assert_eq!(s.mean, guess().mean);
        // Idle noise from the rest of the process (≤ 0.4 CPU per worker) is not inner work.
        let s = stats_seen(&guess(), &seen(1, 2, 80), None, FLOOR, 0.0);
        assert!(s.cpu_fraction < 0.05 && s.inner_parallelism == 1.0, "{s:?}");
        // Nothing at all burned: the floor of 1/64, not zero.
        assert_eq!(
            stats_seen(&guess(), &seen(1, 0, 0), None, FLOOR, 0.0).cpu_fraction,
            1.0 / 64.0
        );
    }

    #[test]
    fn a_watch_of_computing_workers_keeps_them_compute_bound() {
        // 60% on the CPU and 40% waiting for one: preempted on a loaded machine, not waiting.
        let preempted = pool::Observed {
            run_delay: Duration::from_micros(160),
            ..seen(2, 240, 30)
        };
        let s = stats_seen(&guess(), &preempted, None, FLOOR, 0.0);
        assert_eq!(s.cpu_fraction, 1.0);
        assert_eq!(s.inner_parallelism, 1.0);
        assert_eq!(decide_for(&s).workers(), 2);
        // Computing while the rest of the process burns more: not judged from one window
        // (another pool spinning looks the same); still compute-bound on every core.
        let s = stats_seen(&guess(), &seen(1, 200, 200), None, FLOOR, 0.0);
        assert_eq!(s.cpu_fraction, 1.0);
        assert_eq!(s.inner_parallelism, 1.0);
        assert_eq!(decide_for(&s).workers(), 2);
    }

    #[test]
    fn a_watch_of_workers_on_the_cpu_part_of_the_time_gives_more_workers_than_cores() {
        // 60% on the CPU and asleep the rest (no wait for a CPU): partly blocking, the
        // planner's line, not half the window (which kept such work on the cores).
        let s = stats_seen(&guess(), &seen(2, 240, 30), None, FLOOR, 0.0);
        assert!((s.cpu_fraction - 0.6).abs() < 1e-9, "{s:?}");
        assert_eq!(s.inner_parallelism, 1.0);
        assert!(decide_for(&s).workers() > 2);
        // Just below the planner's compute-bound line, and just above it.
        let on_cpu = |us| (crate::plan::COMPUTE_BOUND * 200.0 * 2.0 + us) as u64;
        let below = stats_seen(&guess(), &seen(2, on_cpu(-2.0), 0), None, FLOOR, 0.0);
        assert!(below.cpu_fraction < crate::plan::COMPUTE_BOUND);
        let above = stats_seen(&guess(), &seen(2, on_cpu(2.0), 0), None, FLOOR, 0.0);
        assert_eq!(above.cpu_fraction, 1.0);
    }

    #[test]
    fn a_worker_waiting_while_the_process_computes_has_inner_parallelism() {
        // The worker waits for a nested parallel loop whose threads burn ~1 CPU, and the
        // program has no busy thread of its own.
        let s = stats_seen(&guess(), &seen(1, 0, 190), job(0.0, 1.8), FLOOR, 0.0);
        assert_eq!(s.cpu_fraction, 1.0);
        assert!(s.inner_parallelism >= sample::INNER_PARALLELISM_THRESHOLD);
        let plan = decide_for(&s);
        assert!(plan.workers() <= 2, "{plan:?}");
        assert!(others_look_like_inner_threads(&seen(1, 0, 190)));
    }

    #[test]
    fn threads_busy_only_in_the_window_are_not_the_items() {
        // The window looks like a nested loop, but over the whole job the rest of the process
        // burned a tenth of a core (a pool's idle threads spun while the job started).
        let s = stats_seen(&guess(), &seen(1, 0, 190), job(0.0, 0.1), FLOOR, 0.0);
        assert_eq!(s.inner_parallelism, 1.0);
        assert!(decide_for(&s).workers() > 8);
        // A job too short to judge (nothing measured after it): the work waits.
        let s = stats_seen(&guess(), &seen(1, 0, 190), None, FLOOR, 0.0);
        assert_eq!(s.inner_parallelism, 1.0);
        assert!(decide_for(&s).workers() > 8);
        // The rest of the process burned over the job, but it is the program's busy threads.
        let s = stats_seen(&guess(), &seen(1, 0, 190), job(1.0, 1.2), FLOOR, 0.0);
        assert_eq!(s.inner_parallelism, 1.0);
        // Busy for half the job: half the cores' worth is not the items' threads either.
        let s = stats_seen(&guess(), &seen(1, 0, 190), job(0.0, 1.1), FLOOR, 0.0);
        assert_eq!(s.inner_parallelism, 1.0);
    }

    #[test]
    fn the_items_threads_keep_most_of_the_free_cores_busy() {
        let after = |busy, others, cores| AfterJob {
            busy,
            others,
            cores,
        };
        assert!(after(0.0, 1.9, 2).items_threads_throughout());
        assert!(!after(0.0, 1.4, 2).items_threads_throughout());
        // One core busy by the program: the one left over.
        assert!(after(1.0, 1.9, 2).items_threads_throughout());
        assert!(!after(1.0, 1.5, 2).items_threads_throughout());
        // Every core busy by the program: never the items'.
        assert!(!after(2.0, 2.0, 2).items_threads_throughout());
        assert!(after(0.0, 0.8, 1).items_threads_throughout());
        assert!(!after(0.0, 6.0, 16).items_threads_throughout());
    }

    #[test]
    fn what_the_rest_burned_is_judged_over_long_jobs_only() {
        let ms = Duration::from_millis;
        let read = |d: Duration| move || d;
        let o = others_over_job(read(ms(100)), Some(ms(20)), ms(40)).unwrap();
        assert!((o - 2.0).abs() < 1e-9, "{o}");
        assert_eq!(others_over_job(read(ms(100)), Some(ms(20)), ms(39)), None);
        assert_eq!(others_over_job(read(ms(100)), None, ms(400)), None);
        // The participants' clocks ahead of the process's: nothing else burned.
        assert_eq!(
            others_over_job(read(ms(10)), Some(ms(20)), ms(40)),
            Some(0.0)
        );
        // Where nothing is judged, the process's clock is not read.
        let unread = || -> Duration { panic!("the process's clock was read") };
        assert_eq!(others_over_job(unread, Some(ms(20)), ms(39)), None);
        assert_eq!(others_over_job(unread, None, ms(400)), None);
    }

    #[test]
    fn a_jobs_own_threads_are_the_caller_and_the_workers_past_slot_0() {
        let ms = Duration::from_millis;
        let run = |cpu: Vec<Duration>| pool::RunStats {
            cpu,
            ..Default::default()
        };
        // Slot 0's part in the job is inside the caller's whole time: not counted twice.
        assert_eq!(
            job_threads_cpu(Some(&run(vec![ms(3), ms(5), ms(7)])), ms(10)),
            Some(ms(22))
        );
        assert_eq!(job_threads_cpu(Some(&run(Vec::new())), ms(10)), None);
        assert_eq!(job_threads_cpu(None, ms(10)), None);
    }

    #[test]
    fn a_worker_waiting_beside_busy_threads_of_the_program_waits() {
        // The same window, but the program keeps a core busy by itself while no item runs.
        let s = stats_seen(&guess(), &seen(1, 0, 190), job(1.0, 1.9), FLOOR, 0.0);
        assert_eq!(s.inner_parallelism, 1.0);
        assert_eq!(s.busy_elsewhere, 1.0);
        assert!(s.cpu_fraction < 0.05, "{s:?}");
        assert!(decide_for(&s).workers() > 8);
        // Two workers, two busy cores of the program and a nested loop burning 2 more: what
        // is left over is still the items' threads.
        let s = stats_seen(&guess(), &seen(2, 0, 800), job(2.0, 3.9), FLOOR, 0.0);
        assert!(
            s.inner_parallelism >= sample::INNER_PARALLELISM_THRESHOLD,
            "{s:?}"
        );
        // Not yet known (while the items run): the work waits.
        let s = stats_seen(&guess(), &seen(1, 0, 190), None, FLOOR, 0.0);
        assert_eq!(s.inner_parallelism, 1.0);
        assert!(decide_for(&s).workers() > 8);
        // Workers that compute never raise the question.
        assert!(!others_look_like_inner_threads(&seen(1, 200, 400)));
    }

    fn decide_for(s: &SampleStats) -> Plan {
        decide_with(&Optimizer::new(), s, 200)
    }

    /// The plan for `items` on 2 cores with the VM's costs.
    fn decide_with(opt: &Optimizer, s: &SampleStats, items: usize) -> Plan {
        let machine = crate::plan::MachineFacts::new(2, 1 << 30);
        let costs = Costs {
            spawn: 55e-6,
            wake: 50e-6,
            dispatch: 1e-7,
        };
        crate::plan::decide(opt, s, items, &machine, &costs)
    }

    #[test]
    fn a_jobs_workers_share_is_their_median() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&us| Duration::from_micros(us))
                .collect::<Vec<_>>()
        };
        let run = |cpu: &[u64], busy: &[u64]| pool::RunStats {
            cpu: ms(cpu),
            busy: ms(busy),
            ..Default::default()
        };
        // The caller (slot 0) is left out; one worker billed 400 µs of a 1 ms item is too.
        let r = run(&[900, 400, 20, 30, 0], &[1000, 1000, 1000, 1000, 0]);
        assert!((workers_share(&r, false).unwrap() - 0.03).abs() < 1e-9);
        // Workers that barely took part are not read; nor is a job whose CPU was not measured.
        assert_eq!(workers_share(&run(&[0, 5], &[1000, 10]), false), None);
        assert_eq!(workers_share(&run(&[], &[1000, 1000]), false), None);
        // A worker's wait for a CPU is not its items' waiting: on the CPU 500 of the 600 µs it
        // could run is a share of 5/6, where 500 of 1000 would read a half.
        let preempted = pool::RunStats {
            run_delay: ms(&[0, 400]),
            ..run(&[900, 500], &[1000, 1000])
        };
        assert!((workers_share(&preempted, false).unwrap() - 500.0 / 600.0).abs() < 1e-9);
        // Preempted all the time but 10 µs: too little to read.
        let gone = pool::RunStats {
            run_delay: ms(&[0, 990]),
            ..run(&[900, 10], &[1000, 1000])
        };
        assert_eq!(workers_share(&gone, false), None);
        // A job started wider than the 2 cores, of items that compute: the worker whose wait
        // was read computes; the ones past the cores queued, and their share reads like waiting.
        let wide = pool::RunStats {
            run_delay: ms(&[0, 700]),
            ..run(&[900, 300, 300, 300, 300], &[1000; 5])
        };
        assert!((workers_share(&wide, false).unwrap() - 0.3).abs() < 1e-9);
        assert!((workers_share(&wide, true).unwrap() - 1.0).abs() < 1e-9);
        // No worker's wait read (one core: only the caller's slot): nothing to go on.
        let one = pool::RunStats {
            run_delay: ms(&[0]),
            ..run(&[900, 300], &[1000, 1000])
        };
        assert_eq!(workers_share(&one, true), None);
    }

    #[test]
    fn a_helped_first_item_sets_how_the_rest_starts() {
        let h = |first, helpers| pool::early::Handoff {
            k: 2,
            first_cpu_share: first,
            helpers_cpu_share: helpers,
            helpers: 1,
            joined: false,
        };
        assert_eq!(after_help(&h(Some(0.95), None)), AfterHelp::Computes);
        assert_eq!(after_help(&h(Some(0.9), Some(0.01))), AfterHelp::Computes);
        assert_eq!(
            after_help(&h(Some(0.02), Some(0.01))),
            AfterHelp::Waits(0.02)
        );
        assert_eq!(after_help(&h(Some(0.3), Some(0.6))), AfterHelp::Waits(0.6));
        assert_eq!(after_help(&h(Some(0.1), None)), AfterHelp::Waits(0.1));
        // The helpers computed while the first item waited: watched, as without help.
        assert_eq!(after_help(&h(Some(0.02), Some(0.95))), AfterHelp::Watch);
        assert_eq!(after_help(&h(None, Some(0.01))), AfterHelp::Watch);
        assert_eq!(after_help(&h(None, None)), AfterHelp::Watch);
    }

    #[test]
    fn the_watch_floor_follows_max_workers() {
        let settings = |max_workers| sample::SampleSettings {
            cores: 2,
            max_workers,
            ..Default::default()
        };
        let set = |n| Optimizer::new().max_workers(n);
        assert_eq!(waiting_floor(&set(128), &settings(128)), FLOOR);
        // Fewer allowed (the plan caps them): the floor stays; on 16 cores 512 (32 per core)
        // keeps it too.
        assert_eq!(waiting_floor(&set(1), &settings(1)), FLOOR);
        let sixteen = sample::SampleSettings {
            cores: 16,
            max_workers: 512,
            ..Default::default()
        };
        assert_eq!(waiting_floor(&set(512), &sixteen), FLOOR);
        // The default max_workers (512 on 2 cores) keeps it as well: only a caller's own
        // max_workers lowers it.
        let default = settings(crate::plan::default_max_workers(2));
        assert_eq!(waiting_floor(&Optimizer::new(), &default), FLOOR);
        // Workers that burned nothing in the window, with max_workers(512): 512 of them, not
        // the 256 a fixed floor of 1/64 allowed (twice the 128 that progress at once).
        let s = stats_seen(
            &guess(),
            &seen(1, 0, 0),
            None,
            waiting_floor(&set(512), &settings(512)),
            0.0,
        );
        let opt = Optimizer::new().max_workers(512);
        let plan = decide_with(&opt, &s, 1_000);
        assert_eq!(plan.workers(), 512, "{plan}");
        let s = stats_seen(&guess(), &seen(1, 0, 0), None, FLOOR, 0.0);
        assert_eq!(decide_with(&opt, &s, 1_000).workers(), 256);
    }

    #[test]
    fn waiting_items_plan_many_workers_computing_ones_the_cores() {
        assert!(decide_for(&stats_seen(&guess(), &seen(1, 2, 10), None, FLOOR, 0.0)).workers() > 8);
        assert_eq!(
            decide_for(&stats_seen(&guess(), &seen(1, 200, 10), None, FLOOR, 0.0)).workers(),
            2
        );
    }

    #[test]
    fn pool_sizes_snap_above_64() {
        assert_eq!(pool_size(2), 2);
        assert_eq!(pool_size(64), 64);
        assert_eq!(pool_size(65), 128);
        assert_eq!(pool_size(128), 128);
        assert_eq!(pool_size(129), 512);
        assert_eq!(pool_size(241), 512);
        assert_eq!(pool_size(500), 512);
        assert_eq!(pool_size(513), 2048);
        assert_eq!(pool_size(3000), pool::MAX_WORKERS);
        assert_eq!(pool_size(usize::MAX), pool::MAX_WORKERS);
    }

    #[test]
    fn sequential_run_interleaves_sampled_results() {
        let items: Vec<usize> = (0..10).collect();
        let sampled = vec![(0, vec![100]), (5, vec![500, 600])];
        let out = run_sequential(&items, &|x: &usize| *x, sampled).unwrap();
        assert_eq!(out, vec![100, 1, 2, 3, 4, 500, 600, 7, 8, 9]);
    }

    #[test]
    fn sequential_run_goes_on_in_a_prefix_with_room_for_all() {
        let items: Vec<usize> = (0..10).collect();
        let mut prefix = Vec::with_capacity(10);
        prefix.extend([100, 101]);
        let buffer = prefix.as_ptr();
        let out = run_sequential(&items, &|x: &usize| *x, vec![(0, prefix), (6, vec![600])]);
        let out = out.unwrap();
        assert_eq!(out, vec![100, 101, 2, 3, 4, 5, 600, 7, 8, 9]);
        assert_eq!(out.as_ptr(), buffer);
    }

    #[test]
    fn a_run_is_slower_when_it_took_at_least_its_items_alone() {
        let ms = Duration::from_millis;
        // 1,000 items of 10 µs alone: 10 ms one after another.
        assert!(ran_slower(1_000, ms(12), 10e-6));
        assert!(ran_slower(1_000, ms(10), 10e-6));
        assert!(!ran_slower(1_000, ms(6), 10e-6));
        assert!(!ran_slower(1_000, Duration::ZERO, 10e-6));
    }

    /// The bound on a sample's time alone: the mean for even items, two standard errors above
    /// it for spread ones, the mean for a single measurement.
    #[test]
    fn a_sample_bounds_its_items_time_alone_by_its_spread() {
        let sample = |mean: f64, std_dev: f64, count: usize| SampleStats {
            mean,
            std_dev,
            count,
            ..SampleStats::default()
        };
        assert_eq!(alone_at_most(&sample(10e-6, 0.0, 8)), 10e-6);
        // Two items of 60 and 250 µs: mean 155, population std 95, standard error 67.2.
        let spread = alone_at_most(&sample(155e-6, 95e-6, 2));
        assert!(spread > 250e-6 && spread < 300e-6, "{spread}");
        // More measurements of the same spread bound the mean tighter.
        assert!(alone_at_most(&sample(155e-6, 95e-6, 32)) < spread);
        assert_eq!(alone_at_most(&sample(1e-3, 0.0, 0)), 1e-3);
        assert_eq!(alone_at_most(&sample(1e-3, f64::NAN, 4)), 1e-3);
    }

    /// `forget_site` forgets the one site that `par_map` learned for a closure, not another.
    #[test]
    fn forget_site_forgets_that_site_only() {
        let items: Vec<u64> = (0..400).collect();
        let spin = |x: &u64| {
            let t = std::time::Instant::now();
            let mut a = *x;
            while t.elapsed() < Duration::from_micros(50) {
                a = a.rotate_left(5) ^ 0x9e37;
            }
            a
        };
        // A closure of another function: closures of one function share a type name, and so
        // a call site (see `site_key`).
        fn other_site(spin: impl Fn(&u64) -> u64 + Copy) -> impl Fn(&u64) -> u64 + Copy {
            move |x| spin(x) ^ 1
        }
        let other = other_site(spin);
        let opt = Optimizer::new();
        par_map(&items, spin).unwrap();
        par_map(&items, other).unwrap();
        // 400 items of 50 µs: a job long enough to sample, so both sites are remembered.
        assert!(forget_site(&opt, &spin));
        assert!(!forget_site(&opt, &spin));
        assert!(forget_site(&opt, &other));
    }

    /// A parallel run of `items` in `wall` on `participants`.
    fn run_of(items: usize, wall: Duration, participants: usize) -> pool::RunStats {
        pool::RunStats {
            items,
            wall,
            participants,
            ..Default::default()
        }
    }

    /// A call site's way through slower parallel runs, on an entry of its own: against the
    /// sample's time alone, the [`SLOWER_RUNS`]-th slower run in a row buys one plain call
    /// (which measures the time alone), and against that measure one slower run buys
    /// [`RETRY_AFTER`]; a run that pays clears it; runs on one participant and sites without
    /// a time alone are not judged; a fresh sample starts over.
    #[test]
    fn parallel_runs_slower_than_the_plain_loop_send_the_site_to_it() {
        let key = 0x0051_07e5_dead_beef_u64;
        let stats = SampleStats {
            count: 5,
            mean: 10e-6,
            ..Default::default()
        };
        let slow = run_of(1_000, Duration::from_millis(12), 2);
        let fast = run_of(1_000, Duration::from_millis(6), 2);
        let plain_calls = |key| (0..100).take_while(|_| plain_now(key)).count();

        // A site learned from a first item only has no time alone: nothing is judged.
        cache_put(key, 1_000, &stats, true, false);
        assert!(!judge_run(key, Some(&slow)));
        assert_eq!(plain_calls(key), 0);

        // Sampled: slower runs against the sample (which may have read low) buy nothing until
        // the SLOWER_RUNS-th in a row, which buys one plain call.
        cache_put(key, 1_000, &stats, true, true);
        for _ in 1..SLOWER_RUNS {
            assert!(judge_run(key, Some(&slow)));
            assert_eq!(plain_calls(key), 0);
        }
        assert!(judge_run(key, Some(&slow)));
        assert_eq!(plain_calls(key), 1);
        // That plain loop measured 15 µs per item: the runs (12 µs per item) paid after all
        // (the sample read low), and the next call runs the plan again.
        record_alone(key, Duration::from_millis(15), 1_000);
        assert_eq!(plain_calls(key), 0);
        assert!(!judge_run(key, Some(&fast)));
        // Against that measure, one slower run sends the next RETRY_AFTER calls to the loop.
        assert!(judge_run(
            key,
            Some(&run_of(1_000, Duration::from_millis(16), 2))
        ));
        assert_eq!(plain_calls(key), usize::from(RETRY_AFTER));

        // Sampled again: when the plain loop that measures (5 µs per item) confirms that the
        // last run (12 µs per item) lost, the next RETRY_AFTER calls are plain at once.
        cache_put(key, 1_000, &stats, true, true);
        for _ in 0..SLOWER_RUNS {
            assert!(judge_run(key, Some(&slow)));
        }
        assert_eq!(plain_calls(key), 1);
        record_alone(key, Duration::from_millis(5), 1_000);
        assert_eq!(plain_calls(key), usize::from(RETRY_AFTER));
        // A 6 ms run of 1,000 is slower by that measure, and buys RETRY_AFTER again.
        assert!(judge_run(key, Some(&fast)));
        assert_eq!(plain_calls(key), usize::from(RETRY_AFTER));
        // Refreshing the site (a remembered call) keeps what was learned.
        assert!(judge_run(key, Some(&slow)));
        cache_put(key, 1_000, &stats, true, false);
        assert_eq!(plain_calls(key), usize::from(RETRY_AFTER));

        // A run that pays clears it; one on a single participant is not judged.
        assert!(!judge_run(
            key,
            Some(&run_of(1_000, Duration::from_millis(2), 2))
        ));
        assert_eq!(plain_calls(key), 0);
        assert!(!judge_run(
            key,
            Some(&run_of(1_000, Duration::from_millis(50), 1))
        ));
        assert!(!judge_run(key, None));
        assert_eq!(plain_calls(key), 0);

        // A fresh sample starts over: one slower run buys nothing again.
        record_alone(key, Duration::from_millis(10), 1_000);
        cache_put(key, 1_000, &stats, true, true);
        assert!(judge_run(key, Some(&slow)));
        assert_eq!(plain_calls(key), 0);
        cache_forget(key);
        assert!(
            !judge_run(key, Some(&slow)),
            "a forgotten site is not judged"
        );
    }
}
