//! The concurrency controller of `-j auto`: a pure state machine fed observations (finished
//! jobs' CPU and wall time, memory facts) with the time they were made; it answers the next
//! concurrency and why. No clock and no I/O here, so every rule is tested on synthetic input.
//!
//! Rules, evaluated once per *window* (at least `min_window_jobs` and `concurrency` finished
//! jobs, and `min_window` of time):
//! 1. memory pressure (PSI `some avg10` ≥ `pressure_limit` %, or available memory below
//!    `min_available_fraction` of the total) → halve (not below `min`);
//! 2. the CPU load of our own jobs (their CPU seconds per second) above the cores, with more
//!    jobs than cores → step down towards the cores;
//! 3. jobs mostly compute (CPU fraction ≥ `io_bound_below`) → never above cores + cores/2
//!    (lowered to that at once), climbing there one job at a time only while throughput rises
//!    (a little above the cores hides the gap between one job's exit and the next start);
//! 4. jobs mostly wait → hill-climb: raise (doubling while throughput grows by more than
//!    `gain`, else by half) while throughput rises; when it falls, or stays flat after a
//!    raise, return to the best level seen, cap at the level that did not pay, and from then
//!    on climb one job at a time.
//!
//! ```
//! use amorsize::process::{Controller, ControllerConfig, MemorySample, Observation, Reason};
//! use std::time::Duration;
//! let ms = Duration::from_millis;
//! let busy = Observation { wall: ms(10), cpu: ms(10) };
//! // Rule 3: jobs that compute all the time never run above 4 + 4/2 at once.
//! let mut c = Controller::auto(ControllerConfig::for_cores(4));
//! for i in 1..=100 {
//!     assert!(c.observe(ms(10 * i), busy) <= 6);
//! }
//! // Rule 1: under memory pressure, the first full window halves the concurrency.
//! let mut c = Controller::auto(ControllerConfig::for_cores(4));
//! c.observe_memory(MemorySample { pressure_some_avg10: Some(60.0), available: 0, total: 0 });
//! for i in 1..=4 {
//!     c.observe(ms(10 * i), busy);
//! }
//! assert_eq!((c.concurrency(), c.reason()), (2, Reason::MemoryPressure));
//! ```

use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// Tuning of the controller.
///
/// ```
/// use amorsize::process::ControllerConfig;
/// let c = ControllerConfig::for_cores(4);
/// assert_eq!(c.cores, 4);
/// assert!(c.max >= 4);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControllerConfig {
    /// Effective cores of the machine.
    pub cores: usize,
    /// Lowest concurrency (≥ 1; a `min` above `max` counts as `max`).
    pub min: usize,
    /// Highest concurrency (≥ 1).
    pub max: usize,
    /// Below this CPU fraction (CPU time / wall time) a job counts as mostly waiting.
    pub io_bound_below: f64,
    /// Relative throughput change that counts as a rise or a fall.
    pub gain: f64,
    /// Finished jobs a window needs at least.
    pub min_window_jobs: usize,
    /// Time a window lasts at least.
    pub min_window: Duration,
    /// Memory PSI `some avg10` (percent) at which concurrency is halved.
    pub pressure_limit: f64,
    /// Share of total memory that must stay available.
    pub min_available_fraction: f64,
}

impl ControllerConfig {
    /// Defaults for a machine with `cores` effective cores: `max` is
    /// [`WAITING_WORKERS_PER_CORE`](crate::plan::WAITING_WORKERS_PER_CORE) (64) per core, at
    /// most [`DEFAULT_MAX_WORKERS_LIMIT`](crate::plan::DEFAULT_MAX_WORKERS_LIMIT) (512) and never
    /// below `cores`: par_map's threads may reach 512 on any machine, but a process holds far
    /// more memory than a waiting thread.
    ///
    /// ```
    /// let c = amorsize::process::ControllerConfig::for_cores(2);
    /// assert_eq!(c.max, 128);
    /// ```
    pub fn for_cores(cores: usize) -> Self {
        let cores = cores.max(1);
        ControllerConfig {
            cores,
            min: 1,
            max: cores
                .saturating_mul(crate::plan::WAITING_WORKERS_PER_CORE)
                .min(crate::plan::DEFAULT_MAX_WORKERS_LIMIT)
                .max(cores),
            io_bound_below: 0.5,
            gain: 0.05,
            min_window_jobs: 4,
            min_window: Duration::from_millis(20),
            pressure_limit: 10.0,
            min_available_fraction: 0.05,
        }
    }
}

/// One finished job.
///
/// ```
/// use amorsize::process::Observation;
/// use std::time::Duration;
/// let o = Observation { wall: Duration::from_millis(20), cpu: Duration::from_millis(1) };
/// assert!(o.cpu_fraction() < 0.1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Observation {
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// User + system CPU time (from `wait4`'s rusage).
    pub cpu: Duration,
}

impl Observation {
    /// CPU time over wall time (0 for a zero wall time).
    ///
    /// ```
    /// # use amorsize::process::Observation;
    /// # use std::time::Duration;
    /// let o = Observation { wall: Duration::from_millis(10), cpu: Duration::from_millis(10) };
    /// assert_eq!(o.cpu_fraction(), 1.0);
    /// ```
    pub fn cpu_fraction(&self) -> f64 {
        let w = self.wall.as_secs_f64();
        if w <= 0.0 {
            0.0
        } else {
            self.cpu.as_secs_f64() / w
        }
    }
}

/// Memory facts of the machine at one moment.
///
/// ```
/// let m = amorsize::process::MemorySample { pressure_some_avg10: Some(0.0), available: 8 << 30, total: 16 << 30 };
/// assert!(!m.under_pressure(&amorsize::process::ControllerConfig::for_cores(2)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MemorySample {
    /// PSI memory `some avg10` in percent, when the kernel reports it.
    pub pressure_some_avg10: Option<f64>,
    /// Available bytes (0 when unknown).
    pub available: u64,
    /// Total bytes (0 when unknown).
    pub total: u64,
}

impl MemorySample {
    /// Whether this sample shows memory pressure under `cfg`'s limits.
    ///
    /// ```
    /// use amorsize::process::{ControllerConfig, MemorySample};
    /// let m = MemorySample { pressure_some_avg10: None, available: 1 << 20, total: 16 << 30 };
    /// assert!(m.under_pressure(&ControllerConfig::for_cores(2)));
    /// ```
    pub fn under_pressure(&self, cfg: &ControllerConfig) -> bool {
        let psi = self
            .pressure_some_avg10
            .is_some_and(|p| p >= cfg.pressure_limit);
        let low = self.total > 0
            && (self.available as f64) < cfg.min_available_fraction * self.total as f64;
        psi || low
    }
}

/// Why the controller chose its current concurrency.
///
/// ```
/// use amorsize::process::Reason;
/// assert_eq!(Reason::Start.to_string(), "start at the effective core count");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The initial value.
    Start,
    /// Fixed by the user (`-j N`).
    Fixed,
    /// Not enough observations yet in this window.
    Measuring,
    /// Memory pressure: halved.
    MemoryPressure,
    /// Our jobs' CPU load is above the cores: lowered.
    LoadAboveCores,
    /// Jobs mostly compute: held near the cores (at most cores + cores/2).
    CpuBound,
    /// Jobs mostly wait and throughput rose: raised.
    Raised,
    /// Throughput fell after a raise: back to the best level.
    ThroughputFell,
    /// Throughput flat, or the ceiling reached: held.
    Plateau,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Start => "start at the effective core count",
            Reason::Fixed => "fixed by -j",
            Reason::Measuring => "measuring",
            Reason::MemoryPressure => "memory pressure: halved",
            Reason::LoadAboveCores => "our jobs' CPU load is above the cores: lowered",
            Reason::CpuBound => "jobs mostly compute: held near the cores",
            Reason::Raised => "jobs mostly wait and throughput rose: raised",
            Reason::ThroughputFell => "throughput fell: back to the best level",
            Reason::Plateau => "throughput flat or at the ceiling: held",
        })
    }
}

/// The state machine. Feed it [`Controller::observe`] for every finished job (with the time
/// since the run started) and [`Controller::observe_memory`] now and then; read
/// [`Controller::concurrency`].
///
/// ```
/// use amorsize::process::{Controller, ControllerConfig, Observation};
/// use std::time::Duration;
/// let ms = Duration::from_millis;
/// let mut c = Controller::auto(ControllerConfig::for_cores(2));
/// assert_eq!(c.concurrency(), 2);
/// // Jobs that sleep 20 ms and use no CPU: after a window the controller raises.
/// for i in 1..=4 {
///     c.observe(ms(10 * i), Observation { wall: ms(20), cpu: Duration::ZERO });
/// }
/// assert!(c.concurrency() > 2);
/// ```
#[derive(Debug, Clone)]
pub struct Controller {
    cfg: ControllerConfig,
    fixed: bool,
    current: usize,
    reason: Reason,
    window_start: Duration,
    window_jobs: usize,
    window_cpu: f64,
    window_wall: f64,
    memory: Option<MemorySample>,
    /// (concurrency, throughput) of the previous window, for the hill climb.
    previous: Option<(usize, f64)>,
    best: Option<(usize, f64)>,
    ceiling: usize,
    careful: bool,
    last_cpu_fraction: Option<f64>,
    last_throughput: Option<f64>,
}

impl Controller {
    /// An adaptive controller starting at the cores (clamped to `min..=max`; a `min` above
    /// `max` counts as `max`).
    ///
    /// ```
    /// let c = amorsize::process::Controller::auto(amorsize::process::ControllerConfig::for_cores(3));
    /// assert_eq!(c.concurrency(), 3);
    /// ```
    pub fn auto(cfg: ControllerConfig) -> Self {
        let (lo, hi) = bounds(&cfg);
        let start = cfg.cores.clamp(lo, hi);
        Self::with(cfg, start, false, Reason::Start)
    }

    /// A controller that always answers `n` (`-j N`), at least 1.
    ///
    /// ```
    /// use amorsize::process::{Controller, ControllerConfig};
    /// let c = Controller::fixed(ControllerConfig::for_cores(2), 7);
    /// assert_eq!(c.concurrency(), 7);
    /// ```
    pub fn fixed(cfg: ControllerConfig, n: usize) -> Self {
        Self::with(cfg, n.max(1), true, Reason::Fixed)
    }

    fn with(cfg: ControllerConfig, current: usize, fixed: bool, reason: Reason) -> Self {
        let ceiling = cfg.max.max(1);
        Controller {
            cfg,
            fixed,
            current,
            reason,
            window_start: Duration::ZERO,
            window_jobs: 0,
            window_cpu: 0.0,
            window_wall: 0.0,
            memory: None,
            previous: None,
            best: None,
            ceiling,
            careful: false,
            last_cpu_fraction: None,
            last_throughput: None,
        }
    }

    /// The concurrency to run at now.
    ///
    /// ```
    /// # use amorsize::process::{Controller, ControllerConfig};
    /// assert!(Controller::auto(ControllerConfig::for_cores(1)).concurrency() >= 1);
    /// ```
    pub fn concurrency(&self) -> usize {
        self.current
    }

    /// Why it is what it is.
    ///
    /// ```
    /// # use amorsize::process::{Controller, ControllerConfig, Reason};
    /// assert_eq!(Controller::fixed(ControllerConfig::for_cores(1), 2).reason(), Reason::Fixed);
    /// ```
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// CPU fraction of the last full window, if any.
    ///
    /// ```
    /// # use amorsize::process::{Controller, ControllerConfig};
    /// assert_eq!(Controller::auto(ControllerConfig::for_cores(1)).last_cpu_fraction(), None);
    /// ```
    pub fn last_cpu_fraction(&self) -> Option<f64> {
        self.last_cpu_fraction
    }

    /// Throughput (jobs per second) of the last full window, if any.
    ///
    /// ```
    /// # use amorsize::process::{Controller, ControllerConfig};
    /// assert_eq!(Controller::auto(ControllerConfig::for_cores(1)).last_throughput(), None);
    /// ```
    pub fn last_throughput(&self) -> Option<f64> {
        self.last_throughput
    }

    /// Records the latest memory facts; pressure takes effect at the end of the window.
    ///
    /// ```
    /// use amorsize::process::{Controller, ControllerConfig, MemorySample};
    /// let mut c = Controller::auto(ControllerConfig::for_cores(2));
    /// c.observe_memory(MemorySample { pressure_some_avg10: Some(50.0), available: 0, total: 0 });
    /// ```
    pub fn observe_memory(&mut self, sample: MemorySample) {
        self.memory = Some(sample);
    }

    /// Records a finished job at time `now` (since the run started) and returns the
    /// concurrency to run at from now on.
    ///
    /// ```
    /// use amorsize::process::{Controller, ControllerConfig, Observation};
    /// use std::time::Duration;
    /// let mut c = Controller::fixed(ControllerConfig::for_cores(2), 3);
    /// let o = Observation { wall: Duration::from_millis(5), cpu: Duration::ZERO };
    /// assert_eq!(c.observe(Duration::from_secs(1), o), 3);
    /// ```
    pub fn observe(&mut self, now: Duration, obs: Observation) -> usize {
        if self.fixed {
            return self.current;
        }
        self.window_jobs += 1;
        self.window_cpu += obs.cpu.as_secs_f64();
        self.window_wall += obs.wall.as_secs_f64();
        let elapsed = now.saturating_sub(self.window_start);
        if self.window_jobs < self.cfg.min_window_jobs.max(self.current).max(1)
            || elapsed < self.cfg.min_window
            || elapsed.is_zero()
        {
            return self.current;
        }
        let secs = elapsed.as_secs_f64();
        let throughput = self.window_jobs as f64 / secs;
        let cpu_fraction = if self.window_wall > 0.0 {
            self.window_cpu / self.window_wall
        } else {
            0.0
        };
        let own_load = self.window_cpu / secs;
        self.last_cpu_fraction = Some(cpu_fraction);
        self.last_throughput = Some(throughput);
        self.window_start = now;
        self.window_jobs = 0;
        self.window_cpu = 0.0;
        self.window_wall = 0.0;
        self.decide(throughput, cpu_fraction, own_load);
        self.current
    }

    fn set(&mut self, n: usize, reason: Reason) {
        let (lo, hi) = bounds(&self.cfg);
        self.current = n.clamp(lo, hi);
        self.reason = reason;
    }

    fn decide(&mut self, throughput: f64, cpu_fraction: f64, own_load: f64) {
        let cores = self.cfg.cores.max(1);
        let cur = self.current;
        if self.memory.is_some_and(|m| m.under_pressure(&self.cfg)) {
            self.ceiling = (cur / 2).max(1);
            self.previous = None;
            self.best = None;
            self.set(cur / 2, Reason::MemoryPressure);
            return;
        }
        if own_load > cores as f64 * 1.1 && cur > cores {
            let step = ((cur - cores) / 2).max(1);
            self.previous = None;
            self.best = None;
            self.ceiling = cur - step;
            self.set(cur - step, Reason::LoadAboveCores);
            return;
        }
        // Jobs that mostly compute may run a little above the cores (to hide the gap between
        // one job's exit and the next one's start), never more than cores + cores/2.
        let cpu_bound = cpu_fraction >= self.cfg.io_bound_below;
        let limit = if cpu_bound {
            cores.saturating_add((cores / 2).max(1))
        } else {
            self.cfg.max.max(1)
        };
        if cur > limit {
            self.previous = None;
            self.best = None;
            self.set(limit, Reason::CpuBound);
            return;
        }
        let ceiling = self.ceiling.min(limit);
        // Hill-climb on throughput.
        let gain = self.cfg.gain;
        // The best level: a higher concurrency counts as better only when it pays clearly.
        let better = match self.best {
            None => true,
            Some((bc, bt)) if cur > bc => throughput > bt * (1.0 + gain),
            Some((_, bt)) => throughput >= bt * (1.0 - gain),
        };
        if better {
            self.best = Some((cur, throughput));
        }
        let next = match self.previous {
            Some((pc, pt)) if throughput < pt * (1.0 - gain) && pc != cur => {
                // Fell: back to the best level, and never above the level that fell.
                let (bc, bt) = self.best.unwrap_or((pc, pt));
                self.ceiling = self.ceiling.min(cur.saturating_sub(1)).max(1);
                let back = bc.min(self.ceiling);
                // Compare the next window with the best seen; from now on climb one at a time.
                self.previous = Some((back, bt));
                self.careful = true;
                self.set(back, Reason::ThroughputFell);
                return;
            }
            Some((pc, pt)) if throughput <= pt * (1.0 + gain) => {
                // Flat. After a raise it did not pay: back to the best level, and no higher
                // than the level that did not pay. Otherwise hold.
                if pc < cur {
                    let (bc, bt) = self.best.unwrap_or((pc, pt));
                    self.ceiling = self.ceiling.min(cur.saturating_sub(1)).max(1);
                    let back = bc.min(self.ceiling);
                    self.previous = Some((back, bt));
                    self.careful = true;
                    self.set(back, Reason::Plateau);
                    return;
                }
                None
            }
            _ if self.careful || cpu_bound => Some(cur.saturating_add(1)),
            Some((_, pt)) if throughput > pt * 1.5 => Some(cur.saturating_mul(2)),
            Some(_) => Some(cur.saturating_add((cur / 2).max(1))),
            None => Some(cur.saturating_mul(2)),
        };
        self.previous = Some((cur, throughput));
        match next {
            Some(n) if n.min(ceiling) > cur => {
                self.set(n.min(ceiling), Reason::Raised);
            }
            _ if cpu_bound => self.reason = Reason::CpuBound,
            _ => self.reason = Reason::Plateau,
        }
    }
}

/// The concurrency range `lo..=hi` of `cfg`: both at least 1, and `lo` never above `hi`.
fn bounds(cfg: &ControllerConfig) -> (usize, usize) {
    let hi = cfg.max.max(1);
    (cfg.min.clamp(1, hi), hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    /// Feeds `n` jobs finishing at `rate` per second (each with `cpu_frac` of `wall` in CPU).
    fn feed(
        c: &mut Controller,
        t: &mut Duration,
        n: usize,
        rate: f64,
        wall: Duration,
        cpu_frac: f64,
    ) {
        let step = Duration::from_secs_f64(1.0 / rate);
        for _ in 0..n {
            *t += step;
            c.observe(
                *t,
                Observation {
                    wall,
                    cpu: wall.mul_f64(cpu_frac),
                },
            );
        }
    }

    /// A synthetic sleeping workload whose throughput is min(conc, knee) / wall; one
    /// controller window per round.
    fn sleep_world(knee: usize, rounds: usize) -> (Controller, Duration) {
        let mut cfg = ControllerConfig::for_cores(2);
        cfg.min_window = MS(1);
        let mut c = Controller::auto(cfg);
        let mut t = Duration::ZERO;
        for _ in 0..rounds {
            let conc = c.concurrency();
            let rate = conc.min(knee) as f64 / 0.02;
            // After the knee, more jobs make it slower (contention).
            let rate = if conc > knee {
                rate * knee as f64 / conc as f64
            } else {
                rate
            };
            feed(&mut c, &mut t, conc.max(4), rate, MS(20), 0.01);
        }
        (c, t)
    }

    #[test]
    fn starts_at_the_cores() {
        assert_eq!(
            Controller::auto(ControllerConfig::for_cores(6)).concurrency(),
            6
        );
        assert_eq!(
            Controller::auto(ControllerConfig::for_cores(6)).reason(),
            Reason::Start
        );
    }

    #[test]
    fn fixed_never_moves() {
        let mut c = Controller::fixed(ControllerConfig::for_cores(2), 5);
        let mut t = Duration::ZERO;
        feed(&mut c, &mut t, 100, 1000.0, MS(20), 0.0);
        c.observe_memory(MemorySample {
            pressure_some_avg10: Some(90.0),
            available: 0,
            total: 0,
        });
        feed(&mut c, &mut t, 100, 1000.0, MS(20), 0.0);
        assert_eq!(c.concurrency(), 5);
    }

    #[test]
    fn waits_for_a_full_window() {
        let mut c = Controller::auto(ControllerConfig::for_cores(2));
        let mut t = Duration::ZERO;
        feed(&mut c, &mut t, 3, 100.0, MS(20), 0.0);
        assert_eq!(c.concurrency(), 2);
        assert_eq!(c.last_throughput(), None);
    }

    #[test]
    fn cpu_bound_jobs_stay_at_the_cores() {
        // Throughput does not grow with concurrency: one step above the cores is tried and
        // undone; it never goes beyond cores + cores/2.
        let mut c = Controller::auto(ControllerConfig::for_cores(4));
        let mut t = Duration::ZERO;
        for _ in 0..20 {
            feed(&mut c, &mut t, 8, 40.0, MS(100), 0.95);
            assert!(c.concurrency() <= 6);
        }
        assert_eq!(c.concurrency(), 4);
    }

    #[test]
    fn cpu_bound_jobs_above_the_limit_come_down_at_once() {
        let (mut c, mut t) = sleep_world(40, 10);
        assert!(c.concurrency() > 3);
        // The same jobs now compute (CPU fraction 0.9), at a low enough rate that our load
        // stays under the cores: straight down to cores + cores/2 = 3.
        let n = c.concurrency();
        feed(&mut c, &mut t, n, 50.0, MS(20), 0.9);
        assert_eq!(c.concurrency(), 3);
        assert_eq!(c.reason(), Reason::CpuBound);
    }

    #[test]
    fn cpu_bound_jobs_may_go_a_little_above_the_cores_when_it_pays() {
        let mut cfg = ControllerConfig::for_cores(2);
        cfg.min_window = MS(1);
        let mut c = Controller::auto(cfg);
        let mut t = Duration::ZERO;
        for _ in 0..10 {
            // Throughput grows with concurrency (gaps between jobs get filled); our CPU load
            // (100 × conc jobs/s × 10 ms × 0.6) stays under the cores up to 3 jobs.
            let conc = c.concurrency();
            feed(
                &mut c,
                &mut t,
                conc.max(4),
                100.0 * conc as f64,
                MS(10),
                0.6,
            );
        }
        assert_eq!(c.concurrency(), 3);
    }

    #[test]
    fn waiting_jobs_climb_while_throughput_rises() {
        // Throughput keeps scaling up to 40 concurrent jobs.
        let (c, _) = sleep_world(40, 30);
        assert!(c.concurrency() >= 20, "reached {}", c.concurrency());
        assert!(c.concurrency() <= 64, "overshot to {}", c.concurrency());
    }

    #[test]
    fn climb_stops_and_returns_when_throughput_falls() {
        // Scales to 6, then falls: must settle near 6 and not run away.
        let (c, _) = sleep_world(6, 40);
        assert!(
            (4..=8).contains(&c.concurrency()),
            "settled at {}",
            c.concurrency()
        );
    }

    #[test]
    fn raise_that_does_not_pay_is_undone() {
        // Jobs look like waiting (low CPU fraction, e.g. starved by other load) but throughput
        // does not grow with concurrency: the controller tries more, then comes back.
        let mut cfg = ControllerConfig::for_cores(2);
        cfg.min_window = MS(1);
        let mut c = Controller::auto(cfg);
        let mut t = Duration::ZERO;
        let mut seen = vec![];
        for _ in 0..20 {
            let conc = c.concurrency();
            seen.push(conc);
            feed(&mut c, &mut t, conc.max(4), 500.0, MS(20), 0.1);
        }
        assert!(seen.iter().any(|&c| c > 2), "never explored: {seen:?}");
        assert_eq!(c.concurrency(), 2, "{seen:?}");
        assert!(
            seen[10..].iter().all(|&c| c == 2),
            "kept exploring: {seen:?}"
        );
    }

    #[test]
    fn memory_pressure_halves() {
        let (mut c, mut t) = sleep_world(40, 20);
        let before = c.concurrency();
        c.observe_memory(MemorySample {
            pressure_some_avg10: Some(25.0),
            available: 1 << 30,
            total: 2 << 30,
        });
        feed(&mut c, &mut t, before, 1000.0, MS(20), 0.0);
        assert_eq!(c.concurrency(), before / 2);
        assert_eq!(c.reason(), Reason::MemoryPressure);
    }

    #[test]
    fn low_available_memory_counts_as_pressure() {
        let mut c = Controller::auto(ControllerConfig::for_cores(4));
        c.observe_memory(MemorySample {
            pressure_some_avg10: None,
            available: 10,
            total: 1000,
        });
        let mut t = Duration::ZERO;
        feed(&mut c, &mut t, 4, 100.0, MS(20), 0.0);
        assert_eq!(c.concurrency(), 2);
    }

    #[test]
    fn own_cpu_load_above_cores_lowers() {
        let (mut c, mut t) = sleep_world(40, 8);
        let before = c.concurrency();
        assert!(before > 4);
        // CPU seconds per second = rate × wall × 0.4 = 1000 × 0.02 × 0.4 = 8 > 2 cores.
        feed(&mut c, &mut t, before, 1000.0, MS(20), 0.4);
        assert!(c.concurrency() < before);
        assert_eq!(c.reason(), Reason::LoadAboveCores);
    }

    #[test]
    fn never_leaves_min_max() {
        let mut cfg = ControllerConfig::for_cores(2);
        cfg.max = 5;
        let mut c = Controller::auto(cfg);
        let mut t = Duration::ZERO;
        for k in 0..50 {
            feed(&mut c, &mut t, 6, 100.0 * (k + 1) as f64, MS(20), 0.0);
            assert!((1..=5).contains(&c.concurrency()));
        }
    }
}
