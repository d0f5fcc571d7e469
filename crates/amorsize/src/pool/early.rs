//! Help for a call's first item: a heartbeat that starts helpers when the first item runs long.
//!
//! A call site par_map has not seen runs its first item alone on the caller, to learn what an
//! item costs. When items are long, every other core idles for that whole item (on `c` cores a
//! job of `n` equal items then takes `1 + (c − 1) / n` times as long as it need). Waking a
//! worker before the item would remove that, but costs the caller a wake-up (2.4–2.6 µs on the
//! 2-core VM) on every call, and a call of a thousand 5 ns items takes 6 µs in all.
//!
//! So the caller only *offers* its job: it writes a pointer to it in a free slot (one of
//! [`SLOTS`]), with the time the offer falls due (a few atomic stores, no system call), runs
//! the item, and takes the offer back (one compare-and-swap). A monitor thread looks at the
//! slots once a [`TICK`] while offers were made in the last [`LINGER`]; it claims an offer
//! that has fallen due and hands it to idle helper threads, which run items 1, 2, … one at a
//! time from a shared counter until the caller, done with its item, closes the counter. Items
//! `1..k` are then the helpers'; the caller runs the rest while they finish their last ones,
//! and waits for them before it returns. This is heartbeat scheduling (Acar, Charguéraud,
//! Rainey and Sieczkowski, 2018): latent parallelism is promoted at the monitor's beat, never
//! at the caller's expense.
//!
//! The monitor parks when no offer was made for [`LINGER`]; the offer that finds it parked
//! wakes it, at most once per [`LINGER`] of the program's time. While it ticks, each beat costs
//! the monitor about 19 µs of CPU on the 2-core VM (2% of one core at one beat a millisecond).
//! Whether to offer, and when an offer falls due, are the caller's decisions ([`run_first`]'s
//! `helpers` and `after`): this module runs work, it does not decide policy. The protocol,
//! step by step, is in `src/pool/README.md`.

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How often the monitor looks at the slot while offers are being made.
pub(crate) const TICK: Duration = Duration::from_millis(1);

/// How long the monitor keeps beating after the last offer before it parks. An offer that
/// finds it parked pays a wake-up (2.4–2.6 µs on the 2-core VM): calls at least this far apart
/// pay at most 0.05% of their time for it, and closer ones keep it beating. (It was 100 ms: a
/// sparse call of long items was followed by 100 beats, 1.9 ms of CPU taken from the job's
/// threads on 2 cores; a fresh call of 20 items of 10 ms ended 1.7–1.9 ms late, on the thread
/// that shared its core with the monitor.)
pub(crate) const LINGER: Duration = Duration::from_millis(5);

/// How stale the time of the last offer may be before an offer writes it again.
const REFRESH_NS: u64 = 1_000_000;

/// How often a caller whose helpers are still running looks again, after a few yields.
const WAIT_POLL: Duration = Duration::from_micros(100);

/// The slot's value while the monitor owns the offer it claimed.
const CLAIMED: *mut Offer = std::ptr::dangling_mut::<Offer>();

/// A panic payload, with the index of the item that panicked.
pub(crate) type Panicked = (usize, Box<dyn Any + Send>);

/// What a caller offers: the type-erased job, and what the helpers report back.
struct Offer {
    /// Runs the helpers' loop over the job `data` points to.
    help: unsafe fn(*const ()),
    data: *const (),
    /// Helpers wanted (the monitor starts at most this many).
    helpers: usize,
    /// Helpers handed the offer that have not finished with it.
    pending: AtomicUsize,
    /// Set once the monitor has handed the offer out (and set `pending`).
    dispatched: AtomicBool,
    /// The caller's CPU clock, read by the monitor when it claims the offer.
    clock: Option<libc::clockid_t>,
    /// The caller's kernel thread id, whose run delay the monitor reads when it claims the offer.
    tid: i64,
    /// When the monitor claimed the offer (ns since [`epoch`]), the caller's CPU time then and
    /// its run delay then (ns; `u64::MAX` when it could not be read); set before `dispatched`.
    claimed_at: AtomicU64,
    claimed_cpu: AtomicU64,
    claimed_delay: AtomicU64,
    /// Helpers the offer was handed to; set before `dispatched`.
    handed: AtomicUsize,
    /// The first [`HELPERS_READ`] helpers' clocks as they took the offer (in the order they
    /// took it), read again by the caller when it takes the offer back.
    started: [HelperStart; HELPERS_READ],
    /// Helpers that took the offer so far.
    taken: AtomicUsize,
}

/// Helpers whose CPU use the caller reads when it takes its offer back (a `schedstat` read,
/// a few microseconds each).
const HELPERS_READ: usize = 4;

/// A helper's clocks as it took an offer: its CPU clock and thread id, and then the time (ns
/// since [`epoch`]), its CPU time and its run delay (ns; `u64::MAX` when unread). `ready` is
/// set once the rest is written.
struct HelperStart {
    /// `i64::MAX` when unread.
    clock: AtomicI64,
    tid: AtomicU64,
    at: AtomicU64,
    cpu: AtomicU64,
    delay: AtomicU64,
    ready: AtomicBool,
}

impl HelperStart {
    const fn new() -> Self {
        HelperStart {
            clock: AtomicI64::new(i64::MAX),
            tid: AtomicU64::new(0),
            at: AtomicU64::new(0),
            cpu: AtomicU64::new(u64::MAX),
            delay: AtomicU64::new(u64::MAX),
            ready: AtomicBool::new(false),
        }
    }
}

/// A duration in nanoseconds, `u64::MAX` for none.
fn nanos(d: Option<Duration>) -> u64 {
    d.map_or(u64::MAX, |d| {
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
    })
}

/// What the caller learns when it takes its offer back: the first item of [`run_first`]'s
/// `rest`, and how the first item used the CPU while helped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Handoff {
    /// Items `1..k` are the helpers'; `rest` owns `k..` (1: no help came).
    pub(crate) k: usize,
    /// The caller's CPU time over the time it could run from the claim to the end of the first
    /// item (the wall time less its wait for a CPU, where the kernel reports it): about 1 for an
    /// item that computes, even when preempted on a loaded machine, near 0 for one that waits;
    /// `None` without help, or when that stretch was too short to tell
    /// ([`crate::sample::MIN_MEASUREMENT`]).
    pub(crate) first_cpu_share: Option<f64>,
    /// The same for the helpers over the items they ran until then (the lower median of the
    /// first few helpers'): the items after the first, where the first may differ from the
    /// rest (a one-time set-up that waits, ahead of items that compute).
    pub(crate) helpers_cpu_share: Option<f64>,
    /// Helpers the offer was handed to (0 without help).
    pub(crate) helpers: usize,
    /// The caller joined the helpers on the job's counter ([`run_first`]): every item
    /// is the helpers' or the caller's there, and `k` is the item count.
    pub(crate) joined: bool,
}

/// The job behind an offer, on the caller's stack.
struct Job<'a, T, R, F> {
    items: &'a [T],
    f: &'a F,
    /// The next item to claim; pushed past any index by the caller to close the job.
    next: AtomicUsize,
    done: Mutex<Vec<(usize, std::thread::Result<R>)>>,
}

/// The value `next` is set to when the caller closes a job: past every index, with room for
/// every helper's last `fetch_add`.
const CLOSED: usize = usize::MAX / 2;

/// Offers out at once, at most (a call that finds every slot taken runs without help).
const SLOTS: usize = 8;
static SLOT: [AtomicPtr<Offer>; SLOTS] = [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS];
/// When the offer in each slot falls due, in nanoseconds since [`epoch`].
static DUE_NS: [AtomicU64; SLOTS] = [const { AtomicU64::new(u64::MAX) }; SLOTS];
/// When the last offer was made, in nanoseconds since [`epoch`].
static LAST_OFFER_NS: AtomicU64 = AtomicU64::new(0);
static CLAIMS: AtomicU64 = AtomicU64::new(0);

struct Monitor {
    thread: Thread,
    parked: AtomicBool,
}

static MONITOR: OnceLock<Option<Monitor>> = OnceLock::new();

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Starts the monitor thread, once per process (its spawn is paid by the caller of this, so
/// it is called where a parallel job runs anyway). Later calls cost one atomic load. Returns
/// whether the monitor runs (a failed spawn leaves offers off).
pub(crate) fn start() -> bool {
    MONITOR
        .get_or_init(|| {
            let _ = epoch();
            let h = std::thread::Builder::new()
                .name("amorsize-early".into())
                .spawn(monitor_main)
                .ok()?;
            let cores = crate::system::info().cores.effective.max(1);
            HELPER_CAP.store((cores - 1).min(super::MAX_WORKERS), Ordering::Relaxed);
            Some(Monitor {
                thread: h.thread().clone(),
                parked: AtomicBool::new(false),
            })
        })
        .is_some()
}

/// How many helpers an offer may have: none until the monitor runs, then one fewer than the
/// threads the machine runs at once (the caller is the other).
pub(crate) fn helper_cap() -> usize {
    HELPER_CAP.load(Ordering::Relaxed)
}

static HELPER_CAP: AtomicUsize = AtomicUsize::new(0);

/// Offers the monitor has claimed in this process.
pub(crate) fn claims() -> u64 {
    CLAIMS.load(Ordering::Relaxed)
}

fn monitor() -> Option<&'static Monitor> {
    MONITOR.get().and_then(Option::as_ref)
}

fn monitor_main() {
    let linger = LINGER.as_nanos() as u64;
    let mut helpers: Vec<Helper> = Vec::new();
    let Some(me) = (loop {
        // `start` sets MONITOR once this thread's spawn returned.
        if let Some(m) = MONITOR.get() {
            break m.as_ref();
        }
        std::thread::yield_now();
    }) else {
        return;
    };
    loop {
        // An offer still in its slot (every helper busy when it fell due) keeps the monitor
        // beating however old: parked, it would leave that call without help until another
        // call made an offer (a test's first item waited a minute for it).
        if now_ns().saturating_sub(LAST_OFFER_NS.load(Ordering::SeqCst)) > linger
            && !offers_waiting()
        {
            // Idle: park until an offer wakes us. The offer stores its time before it looks at
            // `parked` and we look at the time again after setting it (both SeqCst), so either
            // it sees us parked and unparks, or we see its offer and do not park.
            me.parked.store(true, Ordering::SeqCst);
            if now_ns().saturating_sub(LAST_OFFER_NS.load(Ordering::SeqCst)) > linger {
                std::thread::park();
            }
            me.parked.store(false, Ordering::SeqCst);
            continue;
        }
        // Claim what has fallen due, then sleep a tick, or less when an offer seen here falls
        // due sooner: an offer that finds the monitor parked (or just after a beat) is
        // claimed when it falls due, not up to a tick later (a tick is about as long as the
        // items worth helping: a 1 ms first item was rarely helped after a pause).
        let tick = TICK.as_nanos() as u64;
        let mut next = now_ns().saturating_add(tick);
        for s in 0..SLOTS {
            claim(s, &mut helpers);
            let p = SLOT[s].load(Ordering::Acquire);
            if !p.is_null() && p != CLAIMED {
                next = next.min(due_after(DUE_NS[s].load(Ordering::Acquire), now_ns(), tick));
            }
        }
        std::thread::park_timeout(Duration::from_nanos(next.saturating_sub(now_ns())));
    }
}

/// Whether a slot holds an offer the monitor has not claimed.
fn offers_waiting() -> bool {
    SLOT.iter().any(|s| {
        let p = s.load(Ordering::Acquire);
        !p.is_null() && p != CLAIMED
    })
}

/// When the monitor should look again for an offer that falls due at `due` (ns), seen at
/// `now`: then, if that is in the future; an offer already due but left unclaimed (no idle
/// helper) waits a `tick`.
fn due_after(due: u64, now: u64, tick: u64) -> u64 {
    if due > now {
        due
    } else {
        now.saturating_add(tick)
    }
}

/// A pointer to an offer, sent to a helper.
struct SendPtr(*const Offer);
// SAFETY: the offer outlives every helper it is handed to (its caller waits for `pending` to
// reach zero before its stack frame ends), and every field a helper touches is Sync.
unsafe impl Send for SendPtr {}

/// A helper thread, as the monitor sees it.
struct Helper {
    tx: mpsc::Sender<SendPtr>,
    /// Set by the monitor when it hands the helper an offer, cleared by the helper when done:
    /// an offer only goes to idle helpers, so no call waits behind another call's items.
    busy: std::sync::Arc<AtomicBool>,
}

/// Helper threads at most, over all offers: twice [`helper_cap`]. An offer that falls due
/// while every helper is busy waits in its slot for a later beat, and may get fewer than it
/// asked for.
fn helper_limit() -> usize {
    helper_cap().saturating_mul(2).max(1)
}

/// Claims the offer in slot `s` if it has fallen due, and hands it to idle helpers.
fn claim(s: usize, helpers: &mut Vec<Helper>) {
    let p = SLOT[s].load(Ordering::Acquire);
    if p.is_null() || p == CLAIMED {
        return;
    }
    // (A stale `p` whose address a newer offer reuses may make the newer one be claimed
    // before it falls due: harmless, the help just comes early.)
    if now_ns() < DUE_NS[s].load(Ordering::Acquire) {
        return;
    }
    // No helper to give: leave the offer for a later beat.
    let idle: Vec<usize> = (0..helpers.len())
        .filter(|&h| !helpers[h].busy.load(Ordering::Acquire))
        .collect();
    if idle.is_empty() && helpers.len() >= helper_limit() {
        return;
    }
    if SLOT[s]
        .compare_exchange(p, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return; // withdrawn meanwhile
    }
    CLAIMS.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the slot held `p` until our compare-and-swap: its caller had not taken it back,
    // and it now waits for `dispatched` and then for `pending` before its frame ends.
    let offer = unsafe { &*p };
    let cpu = offer.clock.and_then(crate::sample::try_clock);
    offer.claimed_at.store(now_ns(), Ordering::Relaxed);
    offer.claimed_cpu.store(nanos(cpu), Ordering::Relaxed);
    // A file read (a few microseconds): the caller's wait for a CPU is taken out of the time
    // its share is measured over, so a computing first item preempted on a loaded machine
    // does not read as one that waits.
    offer.claimed_delay.store(
        nanos(crate::sample::run_delay_of(offer.tid)),
        Ordering::Relaxed,
    );
    // Only the monitor marks a helper busy, so the idle ones found above are idle still.
    let mut chosen: Vec<usize> = idle.into_iter().take(offer.helpers).collect();
    while chosen.len() < offer.helpers && helpers.len() < helper_limit() {
        let (tx, rx) = mpsc::channel::<SendPtr>();
        let busy = std::sync::Arc::new(AtomicBool::new(false));
        let b = std::sync::Arc::clone(&busy);
        let spawned = std::thread::Builder::new()
            .name(format!("amorsize-helper-{}", helpers.len()))
            .spawn(move || helper_main(rx, b));
        if spawned.is_err() {
            break;
        }
        chosen.push(helpers.len());
        helpers.push(Helper { tx, busy });
    }
    offer.pending.store(chosen.len(), Ordering::Release);
    // Sends before `dispatched`: once the caller sees `dispatched`, `pending` counts exactly
    // the helpers that will run (a failed send is taken off first).
    let mut handed = 0;
    for &h in &chosen {
        helpers[h].busy.store(true, Ordering::Release);
        if helpers[h].tx.send(SendPtr(p)).is_err() {
            helpers[h].busy.store(false, Ordering::Release);
            offer.pending.fetch_sub(1, Ordering::AcqRel);
        } else {
            handed += 1;
        }
    }
    offer.handed.store(handed, Ordering::Relaxed);
    offer.dispatched.store(true, Ordering::Release);
}

fn helper_main(rx: mpsc::Receiver<SendPtr>, busy: std::sync::Arc<AtomicBool>) {
    super::workers::mark_helper_thread();
    while let Ok(SendPtr(p)) = rx.recv() {
        // SAFETY: see `SendPtr`.
        let offer = unsafe { &*p };
        let i = offer.taken.fetch_add(1, Ordering::Relaxed);
        if let Some(st) = offer.started.get(i) {
            let clock = crate::sample::own_thread_clock();
            st.clock
                .store(clock.map_or(i64::MAX, i64::from), Ordering::Relaxed);
            st.tid.store(
                u64::try_from(crate::sample::own_tid()).unwrap_or(0),
                Ordering::Relaxed,
            );
            // The file read first: its cost is not the items'.
            st.delay
                .store(nanos(crate::sample::run_delay()), Ordering::Relaxed);
            st.cpu.store(
                nanos(Some(crate::sample::thread_cpu_time())),
                Ordering::Relaxed,
            );
            st.at.store(now_ns(), Ordering::Relaxed);
            st.ready.store(true, Ordering::Release);
        }
        // SAFETY: `help` was made for the type `data` points to (see `run_first`).
        unsafe { (offer.help)(offer.data) };
        // After this, the offer may be gone.
        offer.pending.fetch_sub(1, Ordering::AcqRel);
        busy.store(false, Ordering::Release);
    }
}

/// The helpers' loop: items one at a time from the shared counter until the caller closes it.
unsafe fn help<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(data: *const ()) {
    // SAFETY: `data` points to the `Job<T, R, F>` of a live offer.
    let job = unsafe { &*(data as *const Job<'_, T, R, F>) };
    loop {
        let i = job.next.fetch_add(1, Ordering::AcqRel);
        if i >= job.items.len() {
            return;
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (job.f)(&job.items[i])));
        let failed = r.is_err();
        job.done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((i, r));
        if failed {
            return;
        }
    }
}

/// Runs `first` (the caller's run of item 0) while offering items `1..` to at most `helpers`
/// helper threads should it still run `after` from `now` (the time of the call: the caller
/// reads the clock anyway); `first` is told whether the offer is out. Then runs `rest` with
/// `first`'s output and the [`Handoff`]: items `1..k` are the helpers' (`k` is 1 when no help
/// came), and `rest` owns the items from `k` on. Helpers may still be finishing their last items while
/// `rest` runs; they are all done when this returns, with their results for `1..k` in order,
/// or the lowest-indexed panic among them. Every item from 1 to `k − 1` ran exactly once.
///
/// The caller may also join its helpers instead of running the rest apart: once the first item
/// is done and help came, `join` is shown its output and the handoff as it stands (`k` is the
/// count claimed so far, and the helpers are still at work); when it says yes, the
/// caller claims items from the helpers' counter too, one at a time, until none is left, and
/// `rest` gets a handoff with `joined` set and `k` the item count (the helpers' results then
/// hold every item after the first). For items that compute, with a helper on every other
/// core, that is already the job a plan would start: the caller goes on with it rather than
/// starting a pool job beside the helpers' last items (three threads on two cores for a
/// while, the last item ending late).
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_first<T: Sync, R: Send, F: Fn(&T) -> R + Sync, A, B>(
    items: &[T],
    f: &F,
    helpers: usize,
    after: Duration,
    now: Instant,
    first: impl FnOnce(bool) -> A,
    join: impl FnOnce(&A, &Handoff) -> bool,
    rest: impl FnOnce(A, Handoff) -> B,
) -> (B, Result<Vec<R>, Panicked>) {
    // A call made from inside an offered first item makes no offer of its own: the outer
    // call's helpers run its items, and the inner call would wait for them.
    let Some(mon) = monitor().filter(|_| helpers > 0 && items.len() >= 2 && !IN_FIRST.get()) else {
        let alone = Handoff {
            k: 1,
            first_cpu_share: None,
            helpers_cpu_share: None,
            helpers: 0,
            joined: false,
        };
        return (rest(first(false), alone), Ok(Vec::new()));
    };
    let job = Job {
        items,
        f,
        next: AtomicUsize::new(1),
        done: Mutex::new(Vec::new()),
    };
    let offer = Offer {
        help: help::<T, R, F>,
        data: &job as *const Job<'_, T, R, F> as *const (),
        helpers,
        pending: AtomicUsize::new(0),
        dispatched: AtomicBool::new(false),
        clock: crate::sample::own_thread_clock(),
        tid: crate::sample::own_tid(),
        claimed_at: AtomicU64::new(0),
        claimed_cpu: AtomicU64::new(u64::MAX),
        claimed_delay: AtomicU64::new(u64::MAX),
        handed: AtomicUsize::new(0),
        started: [const { HelperStart::new() }; HELPERS_READ],
        taken: AtomicUsize::new(0),
    };
    let p = &offer as *const Offer as *mut Offer;
    let now = u64::try_from(now.saturating_duration_since(epoch()).as_nanos()).unwrap_or(u64::MAX);
    // The time of the last offer keeps the monitor beating; refreshed once a millisecond at
    // most (a time that recent cannot have let the monitor park).
    if now.saturating_sub(LAST_OFFER_NS.load(Ordering::Relaxed)) > REFRESH_NS {
        LAST_OFFER_NS.store(now, Ordering::SeqCst);
    }
    let due = now.saturating_add(u64::try_from(after.as_nanos()).unwrap_or(u64::MAX));
    // A free slot: its due time first, then the pointer (two callers racing for one slot may
    // leave the winner with the loser's due time, a few nanoseconds apart).
    let slot = (0..SLOTS).find(|&s| {
        SLOT[s].load(Ordering::Relaxed).is_null() && {
            DUE_NS[s].store(due, Ordering::Release);
            SLOT[s]
                .compare_exchange(std::ptr::null_mut(), p, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        }
    });
    if slot.is_some() && mon.parked.load(Ordering::SeqCst) {
        mon.thread.unpark();
    }
    // On every way out, a panic included, the offer is taken back and the helpers waited for
    // (the job lives on this frame).
    let mut guard = Withdraw {
        offer: &offer,
        next: &job.next,
        slot,
        claimed: false,
    };
    let a = {
        IN_FIRST.set(true);
        let _reset = ResetInFirst;
        first(slot.is_some())
    };
    let handoff = match guard.take_back() {
        false => Handoff {
            k: 1,
            first_cpu_share: None,
            helpers_cpu_share: None,
            helpers: 0,
            joined: false,
        },
        true => {
            let mut h = Handoff {
                k: job.next.load(Ordering::Acquire).min(items.len()),
                first_cpu_share: cpu_share_since_claim(&offer),
                helpers_cpu_share: helpers_share(&offer),
                helpers: offer.handed.load(Ordering::Relaxed),
                joined: false,
            };
            if h.k < items.len() && join(&a, &h) {
                h.joined = true;
                // Calls made from its items run inline, as from the helpers' (and a pool's).
                let data = &job as *const Job<'_, T, R, F> as *const ();
                // SAFETY: `data` is the `Job<T, R, F>` `help` was made for, alive on this frame.
                super::workers::as_helper(|| unsafe { help::<T, R, F>(data) });
            }
            h.k = job.next.swap(CLOSED, Ordering::AcqRel).min(items.len());
            h
        }
    };
    let k = handoff.k;
    let b = rest(a, handoff);
    if !guard.wait() {
        return (b, Ok(Vec::new()));
    }
    let mut done = std::mem::take(&mut *job.done.lock().unwrap_or_else(|e| e.into_inner()));
    done.sort_unstable_by_key(|(i, _)| *i);
    debug_assert_eq!(done.len(), k - 1);
    (b, collect(done))
}

thread_local! {
    /// This thread is running the first item of a call it offered.
    static IN_FIRST: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Clears [`IN_FIRST`] on every way out of the first item.
struct ResetInFirst;
impl Drop for ResetInFirst {
    fn drop(&mut self) {
        IN_FIRST.set(false);
    }
}

/// The caller's CPU share from the claim of its offer until now (the end of its first item),
/// over the time it could run: the wall time less its wait for a CPU meanwhile.
fn cpu_share_since_claim(offer: &Offer) -> Option<f64> {
    share_since(
        offer.claimed_at.load(Ordering::Relaxed),
        offer.claimed_cpu.load(Ordering::Relaxed),
        offer.claimed_delay.load(Ordering::Relaxed),
        offer.tid,
        || Some(nanos(Some(crate::sample::thread_cpu_time()))),
    )
}

/// The helpers' CPU share from taking the offer until now (the lower median of the first
/// [`HELPERS_READ`] that took it and have run long enough to tell), each over the time it
/// could run.
fn helpers_share(offer: &Offer) -> Option<f64> {
    let shares: Vec<f64> = offer
        .started
        .iter()
        .filter(|st| st.ready.load(Ordering::Acquire))
        .filter_map(|st| {
            let clock = st.clock.load(Ordering::Relaxed);
            let clock = libc::clockid_t::try_from(clock)
                .ok()
                .filter(|_| clock != i64::MAX)?;
            share_since(
                st.at.load(Ordering::Relaxed),
                st.cpu.load(Ordering::Relaxed),
                st.delay.load(Ordering::Relaxed),
                i64::try_from(st.tid.load(Ordering::Relaxed)).unwrap_or(0),
                || Some(nanos(crate::sample::try_clock(clock))).filter(|c| *c != u64::MAX),
            )
        })
        .collect();
    crate::sample::lower_median(shares)
}

/// A thread's CPU share from `at` (ns since [`epoch`]) until now, when its CPU time was `cpu0`
/// and its run delay `delay0` (ns; `u64::MAX` when unread): its CPU time now (`cpu_now`, read
/// first) less `cpu0`, over the time it could run (thread `tid`'s run delay meanwhile left
/// out). `None` when `cpu0` or the CPU time now is unknown, or the stretch is shorter than
/// [`crate::sample::MIN_MEASUREMENT`].
fn share_since(
    at: u64,
    cpu0: u64,
    delay0: u64,
    tid: i64,
    cpu_now: impl FnOnce() -> Option<u64>,
) -> Option<f64> {
    let wall = now_ns().saturating_sub(at);
    if cpu0 == u64::MAX || (wall as u128) < crate::sample::MIN_MEASUREMENT.as_nanos() {
        return None;
    }
    let cpu = cpu_now()?;
    let waited = match (delay0, crate::sample::run_delay_of(tid)) {
        (d0, Some(d)) if d0 != u64::MAX => nanos(Some(d)).saturating_sub(d0),
        _ => 0,
    };
    Some(share_of(cpu.saturating_sub(cpu0), wall, waited))
}

/// CPU time over the part of `wall` not spent waiting for a CPU (`waited`), at most 1; all in
/// nanoseconds.
fn share_of(cpu: u64, wall: u64, waited: u64) -> f64 {
    let could = wall.saturating_sub(waited).max(1);
    (cpu as f64 / could as f64).min(1.0)
}

/// The helpers' results (sorted by index: `1..k`, each once) without their indices; or the
/// lowest-indexed panic.
fn collect<R>(done: Vec<(usize, std::thread::Result<R>)>) -> Result<Vec<R>, Panicked> {
    let mut out = Vec::with_capacity(done.len());
    for (i, r) in done {
        match r {
            Ok(v) => out.push(v),
            Err(p) => return Err((i, p)),
        }
    }
    Ok(out)
}

/// Takes an offer back: withdraws it if still in its slot; if the monitor claimed it, waits
/// until it was handed out, and (in [`Withdraw::wait`], or on drop) until every helper has
/// finished with it.
struct Withdraw<'a> {
    offer: &'a Offer,
    /// The job's counter, closed on drop if the job was still open.
    next: &'a AtomicUsize,
    /// The slot holding the offer (None once taken back, or when no slot was free).
    slot: Option<usize>,
    /// The monitor claimed the offer and the helpers have not all finished.
    claimed: bool,
}

impl Withdraw<'_> {
    /// Returns whether the monitor had claimed the offer: the caller then closes the job.
    fn take_back(&mut self) -> bool {
        let Some(s) = self.slot.take() else {
            return false;
        };
        let p = self.offer as *const Offer as *mut Offer;
        if SLOT[s]
            .compare_exchange(p, std::ptr::null_mut(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return false;
        }
        // Claimed: the monitor is handing it out; once it has, `pending` counts the helpers.
        while !self.offer.dispatched.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        // The monitor no longer looks at the slot's offer: it may take another.
        SLOT[s].store(std::ptr::null_mut(), Ordering::Release);
        self.claimed = true;
        true
    }

    /// Waits for every helper to finish with a claimed offer; returns whether it was claimed.
    fn wait(&mut self) -> bool {
        if !std::mem::take(&mut self.claimed) {
            return false;
        }
        // The helpers are usually done by now (`rest` ran the items after theirs); a helper
        // still running its last item is waited for in short naps (no handle to wake the
        // caller is kept: taking one would cost every offer).
        let mut polls = 0u32;
        while self.offer.pending.load(Ordering::Acquire) != 0 {
            polls += 1;
            if polls < 64 {
                std::thread::yield_now();
            } else {
                std::thread::park_timeout(WAIT_POLL);
            }
        }
        true
    }
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        if self.take_back() {
            // Unwinding out of `first`: close the job (the helpers stop after their item).
            self.next.store(CLOSED, Ordering::Release);
        }
        self.wait();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Serializes the tests that hold helpers while they wait for each other (a test holding a
    /// helper could otherwise make another one wait for a helper until its minute is up).
    pub(crate) static HELPERS: Mutex<()> = Mutex::new(());

    /// [`run_first`] without joining the helpers.
    fn run_first_alone<T: Sync, R: Send, F: Fn(&T) -> R + Sync, A, B>(
        items: &[T],
        f: &F,
        helpers: usize,
        after: Duration,
        now: Instant,
        first: impl FnOnce(bool) -> A,
        rest: impl FnOnce(A, Handoff) -> B,
    ) -> (B, Result<Vec<R>, Panicked>) {
        run_first(items, f, helpers, after, now, first, |_, _| false, rest)
    }

    pub(crate) fn helpers() -> std::sync::MutexGuard<'static, ()> {
        HELPERS.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The monitor runs and an offer may have a helper.
    fn ready() -> bool {
        start() && helper_cap() > 0
    }

    /// Waits (up to a minute) for `cond`; false if it never held.
    fn wait_for(cond: impl Fn() -> bool) -> bool {
        let t0 = Instant::now();
        while !cond() {
            if t0.elapsed() > Duration::from_secs(60) {
                return false;
            }
            std::thread::yield_now();
        }
        true
    }

    /// Runs `attempt` until it made its offer (other tests' offers may hold every slot).
    fn offered<O>(mut attempt: impl FnMut() -> Option<O>) -> O {
        loop {
            if let Some(o) = attempt() {
                return o;
            }
            std::thread::yield_now();
        }
    }

    fn keep<A>(a: A, h: Handoff) -> (A, usize) {
        (a, h.k)
    }

    #[test]
    fn a_first_item_that_waits_for_another_is_helped() {
        let _serial = helpers();
        if !ready() {
            return; // one core: no helper to have
        }
        let items: Vec<usize> = (0..20).collect();
        let calls: Vec<AtomicUsize> = (0..20).map(|_| AtomicUsize::new(0)).collect();
        let other_started = AtomicBool::new(false);
        let f = |&i: &usize| {
            calls[i].fetch_add(1, Ordering::Relaxed);
            if i > 0 {
                other_started.store(true, Ordering::Release);
            }
            i * 2
        };
        let ((first, k), helped) = offered(|| {
            let ((a, k), helped) = run_first_alone(
                &items,
                &f,
                1,
                Duration::ZERO,
                Instant::now(),
                |out| {
                    out.then(|| {
                        let helped = wait_for(|| other_started.load(Ordering::Acquire));
                        (f(&items[0]), helped)
                    })
                },
                keep,
            );
            a.map(|a| ((a, k), helped))
        });
        assert!(first.1, "no helper ran an item while the first one waited");
        assert_eq!(first.0, 0);
        let helped = helped.unwrap();
        assert!(k >= 2);
        assert_eq!(helped.len(), k - 1);
        for (j, v) in helped.iter().enumerate() {
            assert_eq!(*v, (j + 1) * 2);
        }
        // Items 0..k ran once; none after them ran.
        for (i, c) in calls.iter().enumerate() {
            assert_eq!(c.load(Ordering::Relaxed), usize::from(i < k), "item {i}");
        }
    }

    /// A first item that sleeps until a helper has run an item, then 20 ms more, beside
    /// helpers whose items sleep (`compute` false) or spin on their thread's CPU clock: the
    /// handoff of the offer.
    fn handoff_beside(compute: bool) -> Handoff {
        let items: Vec<usize> = (0..8).collect();
        let other_started = AtomicBool::new(false);
        let f = |&i: &usize| {
            if i == 0 {
                while !other_started.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                std::thread::sleep(Duration::from_millis(20));
            } else {
                other_started.store(true, Ordering::Release);
                if compute {
                    let t0 = crate::sample::thread_cpu_time();
                    while crate::sample::thread_cpu_time() - t0 < Duration::from_millis(5) {
                        std::hint::spin_loop();
                    }
                } else {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            i
        };
        offered(|| {
            let (h, _) = run_first_alone(
                &items,
                &f,
                1,
                Duration::ZERO,
                Instant::now(),
                |out| out.then(|| f(&items[0])),
                |a, h| a.map(|_| h),
            );
            h
        })
    }

    #[test]
    fn the_handoff_tells_how_the_first_item_and_the_helpers_used_the_cpu() {
        let _serial = helpers();
        if !ready() {
            return; // one core: no helper to have
        }
        // Everything sleeps: both shares are low (a sleeping thread's share stays low however
        // loaded the machine: it burns next to nothing).
        let waiting = handoff_beside(false);
        assert!(waiting.k >= 2);
        let first = waiting.first_cpu_share.expect("the first item's share");
        let helpers = waiting.helpers_cpu_share.expect("the helpers' share");
        assert!(first < 0.5 && helpers < 0.5, "{waiting:?}");
        // The helpers' items compute while the first item sleeps (a one-time set-up, say):
        // the handoff tells them apart.
        let computing = handoff_beside(true);
        let first = computing.first_cpu_share.expect("the first item's share");
        let helpers = computing.helpers_cpu_share.expect("the helpers' share");
        assert!(first < 0.5 && helpers > first, "{computing:?}");
    }

    /// Runs 30 items whose first waits until a helper has run one, joining the helpers when
    /// help came; item `bad` panics. The helpers' items after their first wait (up to a
    /// minute) until the caller has run one of its own, so the job is open when the caller
    /// asks to join. The handoff, the helpers' results (with the caller's joined ones) and
    /// how many times each item ran.
    fn joined(bad: usize) -> (Handoff, Result<Vec<usize>, Panicked>, Vec<usize>) {
        let items: Vec<usize> = (0..30).collect();
        let calls: Vec<AtomicUsize> = (0..30).map(|_| AtomicUsize::new(0)).collect();
        let other_started = AtomicBool::new(false);
        let caller_ran = AtomicBool::new(false);
        let caller = std::thread::current().id();
        let f = |&i: &usize| {
            calls[i].fetch_add(1, Ordering::Relaxed);
            let on_caller = std::thread::current().id() == caller;
            if i > 0 && on_caller {
                caller_ran.store(true, Ordering::Release);
            } else if i > 0 && other_started.swap(true, Ordering::AcqRel) {
                wait_for(|| caller_ran.load(Ordering::Acquire));
            }
            assert!(i != bad, "item {i} fails");
            i * 3
        };
        let (h, helped) = offered(|| {
            let (h, helped) = run_first(
                &items,
                &f,
                1,
                Duration::ZERO,
                Instant::now(),
                |out| {
                    out.then(|| {
                        wait_for(|| other_started.load(Ordering::Acquire));
                        f(&items[0])
                    })
                },
                |a, h| a.is_some() && h.helpers == 1 && h.k < 30,
                |a, h| a.map(|_| h),
            );
            h.map(|h| (h, helped))
        });
        let calls = calls.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        (h, helped, calls)
    }

    #[test]
    fn a_caller_that_joins_its_helpers_runs_the_rest_with_them() {
        let _serial = helpers();
        if !ready() {
            return; // one core: no helper to have
        }
        let (h, helped, calls) = joined(usize::MAX);
        assert!(h.joined && h.helpers == 1, "{h:?}");
        // Every item ran once, on the caller or the helper, and comes back in order.
        assert_eq!(h.k, 30);
        assert!(calls.iter().all(|&c| c == 1), "{calls:?}");
        assert_eq!(helped.unwrap(), (1..30).map(|i| i * 3).collect::<Vec<_>>());
        // A panic is reported with its index, whoever ran the item.
        let (h, helped, calls) = joined(17);
        assert!(h.joined);
        let (i, _) = helped.unwrap_err();
        assert_eq!(i, 17);
        assert!(calls.iter().all(|&c| c <= 1), "{calls:?}");
    }

    #[test]
    fn the_monitor_looks_again_when_an_offer_falls_due() {
        // Due in 300 µs: looked at then, not a tick later; already due but unclaimed (no idle
        // helper): a tick later.
        assert_eq!(due_after(1_300, 1_000, 1_000_000), 1_300);
        assert_eq!(due_after(900, 1_000, 1_000_000), 1_001_000);
        assert_eq!(due_after(1_000, 1_000, 1_000_000), 1_001_000);
    }

    #[test]
    fn a_share_leaves_out_the_wait_for_a_cpu() {
        // 300 µs of CPU in 1 ms, 400 µs of it waiting for a CPU: half the time it could run.
        assert!((share_of(300, 1_000, 400) - 0.5).abs() < 1e-12);
        assert!((share_of(300, 1_000, 0) - 0.3).abs() < 1e-12);
        // Never above 1, and no division by zero when it waited throughout.
        assert_eq!(share_of(300, 1_000, 1_000), 1.0);
        assert_eq!(share_of(0, 0, 0), 0.0);
    }

    #[test]
    fn the_rest_runs_while_the_helpers_finish() {
        let _serial = helpers();
        if !ready() {
            return; // one core: no helper to have
        }
        let items: Vec<usize> = (0..4).collect();
        let release = AtomicBool::new(false);
        let helper_started = AtomicBool::new(false);
        let f = |&i: &usize| {
            if i > 0 {
                helper_started.store(true, Ordering::Release);
                // Held until `rest` has started: the caller does not wait for it first.
                wait_for(|| release.load(Ordering::Acquire))
            } else {
                true
            }
        };
        let (rest_ran, helped) = offered(|| {
            let (r, helped) = run_first_alone(
                &items,
                &f,
                1,
                Duration::ZERO,
                Instant::now(),
                |out| out && wait_for(|| helper_started.load(Ordering::Acquire)),
                |a, h: Handoff| {
                    release.store(true, Ordering::Release);
                    a.then_some(h.k)
                },
            );
            r.map(|k| (k, helped))
        });
        assert!(rest_ran >= 2);
        let helped = helped.unwrap();
        assert_eq!(helped.len(), rest_ran - 1);
        assert!(helped.iter().all(|released| *released));
    }

    #[test]
    fn an_offer_that_never_falls_due_is_not_claimed() {
        if !ready() {
            return; // one core: no helper to have
        }
        let items = [1u32, 2, 3];
        let calls = AtomicUsize::new(0);
        let f = |x: &u32| {
            calls.fetch_add(1, Ordering::Relaxed);
            *x
        };
        let far = Duration::from_secs(3600);
        let ((a, k), helped) =
            run_first_alone(&items, &f, 4, far, Instant::now(), |_| f(&items[0]), keep);
        assert_eq!((a, k), (1, 1));
        assert!(helped.unwrap().is_empty());
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_helpers_panic_is_reported_with_its_index() {
        let _serial = helpers();
        if !ready() {
            return; // one core: no helper to have
        }
        let items: Vec<usize> = (0..10).collect();
        let reached = AtomicBool::new(false);
        let f = |&i: &usize| {
            if i == 1 {
                reached.store(true, Ordering::Release);
                panic!("item one");
            }
            i
        };
        let helped = offered(|| {
            let ((a, _), helped) = run_first_alone(
                &items,
                &f,
                1,
                Duration::ZERO,
                Instant::now(),
                |out| out.then(|| wait_for(|| reached.load(Ordering::Acquire))),
                keep,
            );
            a.map(|waited| {
                assert!(waited);
                helped
            })
        });
        let (i, _) = helped.map(|v| v.len()).expect_err("the panic of item 1");
        assert_eq!(i, 1);
    }

    #[test]
    fn a_panic_in_the_first_item_still_waits_for_the_helpers() {
        let _serial = helpers();
        if !ready() {
            return; // one core: no helper to have
        }
        let items: Vec<usize> = (0..10).collect();
        let started = AtomicBool::new(false);
        let finished = AtomicUsize::new(0);
        let f = |&i: &usize| {
            if i > 0 {
                started.store(true, Ordering::Release);
                finished.fetch_add(1, Ordering::Relaxed);
            }
            i
        };
        offered(|| {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_first_alone(
                    &items,
                    &f,
                    1,
                    Duration::ZERO,
                    Instant::now(),
                    |out| {
                        if out {
                            wait_for(|| started.load(Ordering::Acquire));
                            panic!("first");
                        }
                    },
                    keep,
                )
            }));
            r.is_err().then_some(())
        });
        // The guard took the offer back and waited for the helper's item.
        assert!(finished.load(Ordering::Relaxed) >= 1);
    }

    #[test]
    fn without_helpers_wanted_nothing_is_offered() {
        if !ready() {
            return; // one core: no helper to have
        }
        let items = [5u8, 6];
        let f = |x: &u8| *x;
        let now = Instant::now();
        let ((offered, k), helped) =
            run_first_alone(&items, &f, 0, Duration::ZERO, now, |o| o, keep);
        assert!(!offered && k == 1 && helped.unwrap().is_empty());
        let ((offered, _), _) =
            run_first_alone(&items[..1], &f, 4, Duration::ZERO, now, |o| o, keep);
        assert!(!offered);
    }

    /// Two calls whose helpers' items wait for the other call to be helped: each gets helpers
    /// of its own (a helper busy with one call's items is not handed another's).
    #[test]
    fn concurrent_offers_do_not_share_busy_helpers() {
        let _serial = helpers();
        if !ready() {
            return; // one core: no helper to have
        }
        let helped = [AtomicBool::new(false), AtomicBool::new(false)];
        let ok = std::thread::scope(|scope| {
            let calls: Vec<_> = (0..2)
                .map(|me| {
                    let helped = &helped;
                    scope.spawn(move || {
                        let items: Vec<usize> = (0..3).collect();
                        let f = |&i: &usize| {
                            if i > 0 {
                                helped[me].store(true, Ordering::Release);
                                // Held until the other call was helped too.
                                wait_for(|| helped[1 - me].load(Ordering::Acquire))
                            } else {
                                true
                            }
                        };
                        offered(|| {
                            let ((a, _), h) = run_first_alone(
                                &items,
                                &f,
                                1,
                                Duration::ZERO,
                                Instant::now(),
                                |out| out.then(|| wait_for(|| helped[me].load(Ordering::Acquire))),
                                keep,
                            );
                            a.map(|a| a && h.is_ok_and(|v| v.iter().all(|b| *b)))
                        })
                    })
                })
                .collect();
            calls
                .into_iter()
                .map(|c| c.join().unwrap())
                .collect::<Vec<_>>()
        });
        assert_eq!(ok, [true, true]);
    }

    #[test]
    fn an_offer_left_waiting_for_a_helper_is_claimed_once_one_is_free() {
        let _serial = helpers();
        if !ready() {
            return; // one core: no helper to have
        }
        // Every helper there may be is held by a call of its own, until `release`.
        let release = AtomicBool::new(false);
        let holding = AtomicUsize::new(0);
        let limit = helper_limit();
        let helped = std::thread::scope(|scope| {
            for _ in 0..limit {
                scope.spawn(|| {
                    let items: Vec<usize> = (0..2).collect();
                    let started = AtomicBool::new(false);
                    let f = |&i: &usize| {
                        if i == 1 {
                            started.store(true, Ordering::Release);
                            wait_for(|| release.load(Ordering::Acquire));
                        }
                    };
                    offered(|| {
                        let (a, _) = run_first_alone(
                            &items,
                            &f,
                            1,
                            Duration::ZERO,
                            Instant::now(),
                            |out| {
                                out.then(|| {
                                    wait_for(|| started.load(Ordering::Acquire));
                                    holding.fetch_add(1, Ordering::AcqRel);
                                    wait_for(|| release.load(Ordering::Acquire));
                                })
                            },
                            |a, _| a,
                        );
                        a
                    })
                });
            }
            assert!(wait_for(|| holding.load(Ordering::Acquire) == limit));
            // An offer that falls due with no helper free, outlasting the monitor's linger
            // with no other offer made: once the helpers are released, it is still claimed.
            let items: Vec<usize> = (0..2).collect();
            let other = AtomicBool::new(false);
            let f = |&i: &usize| {
                if i == 1 {
                    other.store(true, Ordering::Release);
                }
            };
            let (helped, _) = run_first_alone(
                &items,
                &f,
                1,
                Duration::ZERO,
                Instant::now(),
                |_| {
                    // The time that passes without an offer is the case itself, not a wait
                    // for a race to settle.
                    std::thread::sleep(LINGER * 4);
                    release.store(true, Ordering::Release);
                    wait_for(|| other.load(Ordering::Acquire))
                },
                |a, h| a && h.k >= 2,
            );
            helped
        });
        assert!(helped, "the offer was never claimed");
    }
}
