//! The program's own busy threads: cores that other threads of this process keep busy on their
//! own account, measured over a short window in which the caller runs nothing.
//!
//! Why it is needed: the sampler and the pool's growth watch judge whether an item starts
//! threads of its own (a nested parallel loop) from the process's CPU clock — the process burns
//! more CPU than the threads running items. A program whose other threads compute meanwhile (a
//! render loop, a server's request threads, another pool) looks the same, and waiting items
//! would then run on as few workers as there are cores. What tells the two apart is what the
//! process burns while no item runs.
//!
//! How it is measured: every thread of the process but the caller is listed from
//! `/proc/self/task` and its CPU clock read (`clock_gettime` on the thread's clock, which also
//! brings the kernel's account of a thread running on another CPU up to date — the process
//! clock alone is updated for those only at the scheduler's tick, a few milliseconds, so a
//! short window would see a busy thread's time in lumps or not at all). After the window the
//! clocks are read again. A thread that ran for at least half the window is busy on its own
//! account; the others (a pool's worker spinning briefly after a job, a timer thread) are not
//! counted. About 100 µs plus the window with 70 threads on the 2-core VM.
//!
//! ```
//! use std::time::Duration;
//! let busy = amorsize::system::BusyThreads::measure(Duration::from_micros(300));
//! assert!(busy.cores() >= 0.0);
//! println!("{busy}"); // "no other thread of the process busy" (or "1.0 cores busy in 1 thread")
//! ```

use crate::sample::try_clock;
use std::fmt;
use std::time::{Duration, Instant};

/// A thread counts as busy when it ran for at least this share of the window.
///
/// ```
/// use amorsize::system::busy::{busy_threads, BUSY_SHARE};
/// use std::time::Duration;
/// let window = Duration::from_micros(400);
/// let before = [Some(Duration::ZERO)];
/// let busy = |share: f64| {
///     busy_threads(&before, &[Some(window.mul_f64(share))], window, |_| false).1
/// };
/// assert_eq!(busy(BUSY_SHARE), vec![0]);
/// assert!(busy(BUSY_SHARE * 0.9).is_empty());
/// ```
pub const BUSY_SHARE: f64 = 0.5;

/// A thread that ran for at least this share of the window, and still wants a CPU at its end
/// (it is runnable), counts as busy too: a computing thread of the program that other
/// programs' threads keep off the CPU part of the time (4 spinning threads on 2 cores each get
/// about half).
///
/// ```
/// use amorsize::system::busy::{busy_threads, STARVED_SHARE};
/// use std::time::Duration;
/// let window = Duration::from_micros(400);
/// let before = [Some(Duration::ZERO)];
/// let busy = |share: f64, runnable: bool| {
///     busy_threads(&before, &[Some(window.mul_f64(share))], window, |_| runnable).1.len()
/// };
/// assert_eq!(busy(STARVED_SHARE, true), 1); // ran a tenth and still wants a CPU
/// assert_eq!(busy(STARVED_SHARE, false), 0); // ran a tenth and went to sleep
/// assert_eq!(busy(STARVED_SHARE * 0.5, true), 0);
/// ```
pub const STARVED_SHARE: f64 = 0.1;

/// The threads of the process (besides the caller) that kept a CPU busy through a window, and
/// how many cores they kept busy.
///
/// ```
/// use amorsize::system::BusyThreads;
/// use std::time::Duration;
/// let busy = BusyThreads::measure(Duration::from_micros(300));
/// assert_eq!((busy.threads(), busy.cores()), (0, 0.0)); // no other thread here
/// assert_eq!(busy.to_string(), "no other thread of the process busy");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BusyThreads {
    cores: f64,
    clocks: Vec<libc::clockid_t>,
    /// Cores every other thread kept busy, the briefly busy included.
    all: f64,
}

impl BusyThreads {
    /// No thread busy (what a process without other threads, or a system without per-thread
    /// clocks, gives).
    ///
    /// ```
    /// let none = amorsize::system::BusyThreads::none();
    /// assert_eq!((none.cores(), none.threads()), (0.0, 0));
    /// ```
    pub fn none() -> Self {
        Self::default()
    }

    /// Measures over `window` (the caller sleeps through it, so it should run nothing else
    /// meanwhile: a window in which the caller's own work runs elsewhere would count that
    /// work's threads too). Linux only; elsewhere, or when `/proc/self/task` cannot be read,
    /// [`BusyThreads::none`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use amorsize::system::BusyThreads;
    /// // This program has no other thread: nothing is busy.
    /// assert_eq!(BusyThreads::measure(Duration::from_micros(300)).threads(), 0);
    /// ```
    pub fn measure(window: Duration) -> Self {
        BusyLooks::start().next(window)
    }

    /// Cores the busy threads kept busy in the window (the sum of their CPU time over its
    /// length).
    ///
    /// ```
    /// assert_eq!(amorsize::system::BusyThreads::none().cores(), 0.0);
    /// ```
    pub fn cores(&self) -> f64 {
        self.cores
    }

    /// Cores all the other threads kept busy in the window, those busy only for a moment
    /// included (a pool's workers spinning down after a job: 64 rayon threads yielding to
    /// each other kept the 2-core VM's both cores busy for a millisecond or two, none of them
    /// a fortieth of the time). At least [`BusyThreads::cores`].
    ///
    /// ```
    /// use amorsize::system::BusyThreads;
    /// let busy = BusyThreads::measure(std::time::Duration::from_micros(300));
    /// assert!(busy.all_cores() >= busy.cores());
    /// assert_eq!(BusyThreads::none().all_cores(), 0.0);
    /// ```
    pub fn all_cores(&self) -> f64 {
        self.all.max(self.cores)
    }

    /// How many threads were busy.
    ///
    /// ```
    /// assert_eq!(amorsize::system::BusyThreads::none().threads(), 0);
    /// ```
    pub fn threads(&self) -> usize {
        self.clocks.len()
    }
}

/// Looks at the program's busy threads one after another, each look's window starting where
/// the last one's ended: the thread list is read once, at the start, and each look reads every
/// clock once (one [`BusyThreads::measure`] reads the list and every clock twice). With 505
/// threads on the 2-core VM, listing them took about 0.3 ms and reading their clocks 0.2 ms,
/// so a look after the first costs its window and 0.2 ms, where a fresh measure cost about
/// 1.05 ms for a window of 0.3 ms. Threads started after [`BusyLooks::start`] are not seen;
/// those that end count nothing from then on.
///
/// ```
/// use amorsize::system::BusyLooks;
/// use std::time::Duration;
/// let mut looks = BusyLooks::start();
/// for _ in 0..3 {
///     let busy = looks.next(Duration::from_micros(300));
///     assert_eq!(busy.threads(), 0); // no other thread here
/// }
/// ```
#[derive(Debug)]
pub struct BusyLooks {
    tids: Vec<libc::pid_t>,
    /// Their clocks as last read, and when.
    last: Vec<Option<Duration>>,
    at: Instant,
}

impl BusyLooks {
    /// Lists the threads of the process but the caller and reads their clocks: the first
    /// look's window starts now. Linux only; elsewhere, or when `/proc/self/task` cannot be
    /// read, every look is [`BusyThreads::none`].
    ///
    /// ```
    /// let mut looks = amorsize::system::BusyLooks::start();
    /// assert_eq!(looks.next(std::time::Duration::ZERO).threads(), 0);
    /// ```
    pub fn start() -> Self {
        let tids = other_threads();
        let last = read_clocks(&tids);
        Self {
            tids,
            last,
            at: Instant::now(),
        }
    }

    /// The threads busy from the end of the last look (or the start) until at least `window`
    /// after it: the caller sleeps for what is left of the window (it should run nothing else
    /// meanwhile, see [`BusyThreads::measure`]), then reads the clocks again. With no other
    /// thread to look at, [`BusyThreads::none`] at once.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut looks = amorsize::system::BusyLooks::start();
    /// let first = looks.next(Duration::from_micros(300));
    /// let second = looks.next(Duration::from_micros(300));
    /// assert_eq!((first.threads(), second.threads()), (0, 0)); // no other thread here
    /// ```
    pub fn next(&mut self, window: Duration) -> BusyThreads {
        if self.tids.is_empty() {
            return BusyThreads::none();
        }
        if let Some(rest) = window.checked_sub(self.at.elapsed()) {
            std::thread::sleep(rest);
        }
        let after = read_clocks(&self.tids);
        let wall = self.at.elapsed();
        self.at = Instant::now();
        let before = std::mem::replace(&mut self.last, after);
        let after = &self.last;
        let tids = &self.tids;
        let (cores, busy) = busy_threads(&before, after, wall, |i| runnable(tids[i]));
        BusyThreads {
            cores,
            clocks: busy.into_iter().map(|i| thread_clock(tids[i])).collect(),
            all: all_threads(&before, after, wall),
        }
    }
}

/// The CPU clocks of threads `tids` of this process (`None` for one that cannot be read).
fn read_clocks(tids: &[libc::pid_t]) -> Vec<Option<Duration>> {
    tids.iter().map(|&t| try_clock(thread_clock(t))).collect()
}

impl fmt::Display for BusyThreads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.clocks.len() {
            0 => write!(f, "no other thread of the process busy"),
            1 => write!(f, "{:.1} cores busy in 1 thread", self.cores),
            n => write!(f, "{:.1} cores busy in {n} threads", self.cores),
        }
    }
}

/// Of the threads read `before` and `after` a window of `wall` (`None`: the clock could not
/// be read, e.g. the thread ended), those that ran for at least [`BUSY_SHARE`] of it, or for
/// at least [`STARVED_SHARE`] and `still_runnable(index)` says so (asked of those only): the
/// cores they kept busy and their indices.
///
/// ```
/// use std::time::Duration;
/// let us = Duration::from_micros;
/// let before = [Some(us(0)), Some(us(50)), Some(us(10)), None, Some(us(0))];
/// let after = [Some(us(390)), Some(us(150)), None, Some(us(400)), Some(us(160))];
/// // Thread 0 ran 390 of 400 us; thread 1 ran 100 (a pool worker's spin after a job, parked
/// // since); 2 ended; 4 ran 160 and still waits for a CPU.
/// let (cores, busy) =
///     amorsize::system::busy::busy_threads(&before, &after, us(400), |i| i == 4);
/// assert_eq!(busy, vec![0, 4]);
/// assert!((cores - 1.375).abs() < 1e-9);
/// ```
pub fn busy_threads(
    before: &[Option<Duration>],
    after: &[Option<Duration>],
    wall: Duration,
    still_runnable: impl Fn(usize) -> bool,
) -> (f64, Vec<usize>) {
    let w = wall.as_secs_f64();
    if w <= 0.0 {
        return (0.0, Vec::new());
    }
    let mut cores = 0.0;
    let mut busy = Vec::new();
    for (i, (b, a)) in before.iter().zip(after).enumerate() {
        if let (Some(b), Some(a)) = (b, a) {
            let share = a.saturating_sub(*b).as_secs_f64() / w;
            if share >= BUSY_SHARE || (share >= STARVED_SHARE && still_runnable(i)) {
                cores += share.min(1.0);
                busy.push(i);
            }
        }
    }
    (cores, busy)
}

/// The cores all the threads read `before` and `after` a window of `wall` kept busy (the sum of
/// their CPU time over its length; a thread whose clock could not be read counts nothing).
///
/// ```
/// use std::time::Duration;
/// let us = Duration::from_micros;
/// let before = [Some(us(0)), Some(us(50)), None];
/// let after = [Some(us(100)), Some(us(150)), Some(us(400))];
/// let cores = amorsize::system::busy::all_threads(&before, &after, us(400));
/// assert!((cores - 0.5).abs() < 1e-9);
/// ```
pub fn all_threads(before: &[Option<Duration>], after: &[Option<Duration>], wall: Duration) -> f64 {
    let w = wall.as_secs_f64();
    if w <= 0.0 {
        return 0.0;
    }
    before
        .iter()
        .zip(after)
        .filter_map(|(b, a)| Some(a.as_ref()?.saturating_sub(*b.as_ref()?).as_secs_f64() / w))
        .sum()
}

/// The CPU clock of thread `tid` of this process (Linux's encoding of a per-thread clock, as
/// `pthread_getcpuclockid` builds it).
///
/// ```
/// let id = amorsize::system::busy::thread_clock(12345);
/// assert!(id < 0); // per-thread and per-process CPU clocks are negative ids
/// ```
pub fn thread_clock(tid: libc::pid_t) -> libc::clockid_t {
    // MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED): (~tid << 3) | CPUCLOCK_PERTHREAD_MASK | SCHED.
    ((!tid) << 3) | 4 | 2
}

/// Whether thread `tid` of this process is running or waiting for a CPU now (state `R` in
/// `/proc/self/task/<tid>/stat`); false when that cannot be read.
fn runnable(tid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))
        .is_ok_and(|s| stat_state(&s) == Some('R'))
}

/// The state letter of a `/proc/<pid>/stat` line: the first field after the command name in
/// parentheses (which may itself hold spaces and parentheses).
///
/// ```
/// use amorsize::system::busy::stat_state;
/// assert_eq!(stat_state("42 (a (b) c) R 1 2 3"), Some('R'));
/// assert_eq!(stat_state("42 (worker) S 1"), Some('S'));
/// assert_eq!(stat_state("garbage"), None);
/// ```
pub fn stat_state(stat: &str) -> Option<char> {
    stat_fields(stat)?.next()?.chars().next()
}

/// The fields of a `/proc/<pid>/stat` line from the state (field 3) on: those after the
/// command name in parentheses (which may itself hold spaces and parentheses).
///
/// ```
/// use amorsize::system::busy::stat_fields;
/// let f: Vec<&str> = stat_fields("42 (a (b) c) S 1 40 40").unwrap().collect();
/// assert_eq!(f, ["S", "1", "40", "40"]);
/// assert!(stat_fields("garbage").is_none());
/// ```
pub fn stat_fields(stat: &str) -> Option<std::str::SplitAsciiWhitespace<'_>> {
    Some(stat[stat.rfind(')')? + 1..].split_ascii_whitespace())
}

/// The ids of every thread of the process but the caller (empty where the thread list cannot
/// be read).
fn other_threads() -> Vec<libc::pid_t> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions.
        let me = unsafe { libc::gettid() };
        let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<libc::pid_t>().ok())
            .filter(|&tid| tid != me && tid > 0)
            .collect()
    }
    #[cfg(not(target_os = "linux"))]
    {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_of_the_calling_thread_matches_its_own_clock() {
        // SAFETY: gettid has no preconditions.
        let me = unsafe { libc::gettid() };
        let a = try_clock(thread_clock(me)).expect("own thread clock");
        let b = crate::sample::thread_cpu_time();
        let c = try_clock(thread_clock(me)).expect("own thread clock");
        assert!(a <= b && b <= c, "{a:?} {b:?} {c:?}");
    }

    #[test]
    fn a_thread_that_ended_cannot_be_read() {
        let tid = std::thread::spawn(|| unsafe { libc::gettid() })
            .join()
            .unwrap();
        // `join` returns once the thread has released its memory; the kernel unlists it a
        // moment later, so the clock stops reading within a few looks, not necessarily at once.
        let gone = (0..100_000).any(|_| {
            std::thread::yield_now();
            try_clock(thread_clock(tid)).is_none()
        });
        assert!(gone, "the clock of an ended thread still reads");
    }

    #[test]
    fn only_threads_on_a_cpu_for_half_the_window_count() {
        let us = Duration::from_micros;
        let before = [Some(us(0)), Some(us(0)), Some(us(0))];
        let after = [Some(us(200)), Some(us(199)), Some(us(900))];
        let (cores, busy) = busy_threads(&before, &after, us(400), |_| false);
        // 200 of 400 counts, 199 does not, and a clock that ran ahead of the window (read
        // just after) counts one core at most.
        assert_eq!(busy, vec![0, 2]);
        assert!((cores - 1.5).abs() < 1e-9);
        let none = |_| false;
        assert_eq!(
            busy_threads(&before, &after, Duration::ZERO, none),
            (0.0, vec![])
        );
        // Runnable at the end: from a tenth of the window on; less is a thread that just woke.
        let after = [Some(us(40)), Some(us(39)), Some(us(0))];
        let (cores, busy) = busy_threads(&before, &after, us(400), |_| true);
        assert_eq!(busy, vec![0]);
        assert!((cores - 0.1).abs() < 1e-9);
    }

    /// Successive looks see a thread that computes through all of them; a thread started after
    /// the looks began is not in them, and one that ended counts nothing.
    #[test]
    fn looks_follow_the_threads_listed_at_their_start() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = AtomicBool::new(false);
        let window = Duration::from_millis(2);
        let mut spinner = 0;
        let mut looks = std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::channel();
            let stop = &stop;
            let spin = move || {
                // SAFETY: gettid has no preconditions.
                tx.send(unsafe { libc::gettid() }).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            };
            s.spawn(spin.clone());
            let spinner_tid = rx.recv().unwrap();
            spinner = thread_clock(spinner_tid);
            let mut looks = BusyLooks::start();
            assert!(looks.tids.contains(&spinner_tid));
            // A thread started now is not listed, whatever it burns.
            let late = s.spawn(spin);
            let late_tid = rx.recv().unwrap();
            let late_clock = thread_clock(late_tid);
            assert!(!looks.tids.contains(&late_tid));
            // On a loaded machine the spinner may be off a CPU through a window: it gets
            // several, each starting where the last ended.
            let mut seen = 0;
            for _ in 0..50 {
                let b = looks.next(window);
                assert!(!b.clocks.contains(&late_clock));
                if b.clocks.contains(&spinner) {
                    seen += 1;
                    if seen == 2 {
                        break;
                    }
                }
            }
            stop.store(true, Ordering::Relaxed);
            late.join().unwrap();
            assert_eq!(
                seen, 2,
                "a thread spinning throughout was seen busy in {seen} looks"
            );
            looks
        });
        // Both spinners have ended (the scope joined them): the look that spans their end
        // may count what they burned before it; the next one counts nothing for them, whether
        // their clocks still read or not.
        looks.next(Duration::from_micros(100));
        let after = looks.next(Duration::from_micros(100));
        assert!(!after.clocks.contains(&spinner), "{after:?}");
    }

    #[test]
    fn a_thread_that_computes_is_busy_and_the_caller_never_is() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = AtomicBool::new(false);
        // SAFETY: gettid has no preconditions.
        let me = unsafe { libc::gettid() };
        let seen = std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::channel();
            let stop = &stop;
            s.spawn(move || {
                // SAFETY: gettid has no preconditions.
                tx.send(unsafe { libc::gettid() }).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            });
            let spinner = thread_clock(rx.recv().unwrap());
            // Other tests run beside this one: on a loaded machine the spinner may be off a
            // CPU through a window, so it gets several.
            let seen = (0..50).any(|_| {
                let b = BusyThreads::measure(Duration::from_millis(2));
                assert!(!b.clocks.contains(&thread_clock(me)));
                b.clocks.contains(&spinner) && b.cores() >= BUSY_SHARE
            });
            stop.store(true, Ordering::Relaxed);
            seen
        });
        assert!(seen, "a thread spinning throughout was never seen busy");
    }
}
