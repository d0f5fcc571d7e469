//! The runtime chunk controller: a pure state machine from chunk durations to the next chunk size.
//!
//! This module owns the policy that resizes chunks while a job runs; it owns no clock and no
//! threads. The pool measures each finished chunk and feeds `(duration, items)` to
//! [`ChunkController::record`], which answers with the chunk size to hand out next. Because the
//! durations come in as arguments, every rule is unit-tested with synthetic durations.
//!
//! The rules (the Amorsize seed and the improvements on it) are documented on
//! [`ChunkController`].
//!
//! ```
//! use amorsize::pool::{AdjustReason, ChunkController, ControllerConfig};
//! use std::time::Duration;
//! let mut c = ChunkController::new(ControllerConfig::new(10, Duration::from_millis(1)));
//! // Synthetic items of 10 µs each: a chunk of the 1 ms target holds 100 of them.
//! for _ in 0..20 {
//!     let n = c.chunk_size();
//!     c.record(Duration::from_micros(10) * n as u32, n);
//! }
//! assert_eq!(c.chunk_size(), 100);
//! // Three chunks 10× too fast were a new regime: one full correction, then on target.
//! assert_eq!(c.history().len(), 1);
//! assert_eq!((c.history()[0].at_chunk, c.history()[0].reason), (3, AdjustReason::RegimeChange));
//! ```

use crate::{Error, Result};
use serde::Serialize;
use std::collections::VecDeque;
use std::time::Duration;

/// Default target chunk duration for threads: about a millisecond (dispatch of a chunk on a warm
/// thread pool costs microseconds, so this keeps dispatch well under 1% of the work).
///
/// ```
/// assert_eq!(amorsize::pool::ControllerConfig::default().target, std::time::Duration::from_millis(1));
/// ```
pub const DEFAULT_THREAD_TARGET: Duration = Duration::from_millis(1);

/// Smallest target that [`default_target_for_threads`] returns (200 µs).
///
/// ```
/// use amorsize::pool::{ControllerConfig, MIN_THREAD_TARGET};
/// use std::time::Duration;
/// // A dispatch cost too small to measure still gets a target no shorter than this.
/// let cfg = ControllerConfig::for_threads(16, Duration::ZERO);
/// assert_eq!(cfg.target, MIN_THREAD_TARGET);
/// ```
pub const MIN_THREAD_TARGET: Duration = Duration::from_micros(200);

/// Largest target that [`default_target_for_threads`] returns (5 ms).
///
/// ```
/// use amorsize::pool::{ControllerConfig, MAX_THREAD_TARGET};
/// use std::time::Duration;
/// // A dispatch cost measured on a badly overloaded machine does not make chunks run for long.
/// let cfg = ControllerConfig::for_threads(16, Duration::from_secs(1));
/// assert_eq!(cfg.target, MAX_THREAD_TARGET);
/// ```
pub const MAX_THREAD_TARGET: Duration = Duration::from_millis(5);

/// One adjustment never multiplies the chunk size by more than this (guard (c)).
///
/// ```
/// use amorsize::pool::{ChunkController, ControllerConfig, MAX_STEP_GROWTH};
/// use std::time::Duration;
/// let mut c = ChunkController::new(ControllerConfig::new(10, Duration::from_secs(1)));
/// // Chunks a billion times too fast (zero counts as 1 ns) ask for a huge size...
/// for _ in 0..3 { c.record(Duration::ZERO, 10); }
/// // ...but the one adjustment they make grows it by this factor at most.
/// let a = &c.history()[0];
/// assert_eq!((a.from, a.to), (10, 10 * MAX_STEP_GROWTH as usize));
/// assert_eq!(c.chunk_size(), a.to);
/// ```
pub const MAX_STEP_GROWTH: f64 = 64.0;

/// How many of the last measurements the regime-change rule (b) looks at.
const REGIME_SPAN: usize = 3;

/// Fewest measurements before the window rule acts (rule 2).
const MIN_MEASUREMENTS: usize = 3;

/// The target chunk duration for a thread pool whose dispatch of one chunk costs
/// `dispatch_cost`: 100 × the dispatch cost, so that dispatch stays under 1% of the work,
/// clamped to [[`MIN_THREAD_TARGET`], [`MAX_THREAD_TARGET`]] (200 µs – 5 ms).
///
/// The lower clamp keeps the controller away from chunks so short that timer noise dominates;
/// the upper one keeps chunks short enough for the guided tail and progress reports to work even
/// when the dispatch cost was measured on a very loaded machine.
///
/// ```
/// use amorsize::pool::ControllerConfig;
/// use std::time::Duration;
/// // The free function `pool::controller::default_target_for_threads` behind this constructor:
/// let cfg = ControllerConfig::for_threads(16, Duration::from_micros(10));
/// assert_eq!(cfg.target, Duration::from_millis(1)); // 100 × 10 µs
/// let tiny = ControllerConfig::for_threads(16, Duration::from_nanos(50));
/// assert_eq!(tiny.target, Duration::from_micros(200)); // clamped up
/// ```
pub fn default_target_for_threads(dispatch_cost: Duration) -> Duration {
    dispatch_cost
        .saturating_mul(100)
        .clamp(MIN_THREAD_TARGET, MAX_THREAD_TARGET)
}

/// Settings of the runtime chunk controller.
///
/// ```
/// use amorsize::pool::ControllerConfig;
/// use std::time::Duration;
/// let cfg = ControllerConfig { max: Some(512), ..ControllerConfig::new(20, Duration::from_millis(2)) };
/// assert!(cfg.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControllerConfig {
    /// First chunk size.
    pub initial: usize,
    /// Target duration of one chunk.
    pub target: Duration,
    /// How far one adjustment moves toward the target, 0..=1.
    pub adaptation_rate: f64,
    /// Smallest chunk size.
    pub min: usize,
    /// Largest chunk size, if bounded.
    pub max: Option<usize>,
    /// Number of chunk durations in the moving window.
    pub window: usize,
}

impl Default for ControllerConfig {
    /// Initial size 1, target `DEFAULT_THREAD_TARGET` (1 ms), adaptation rate 0.3, min 1,
    /// no max, window 10.
    ///
    /// ```
    /// let cfg = amorsize::pool::ControllerConfig::default();
    /// assert_eq!((cfg.initial, cfg.min, cfg.max, cfg.window), (1, 1, None, 10));
    /// assert_eq!(cfg.adaptation_rate, 0.3);
    /// ```
    fn default() -> Self {
        ControllerConfig {
            initial: 1,
            target: DEFAULT_THREAD_TARGET,
            adaptation_rate: 0.3,
            min: 1,
            max: None,
            window: 10,
        }
    }
}

impl ControllerConfig {
    /// Defaults (rate 0.3, min 1, no max, window 10) with this initial size and target.
    ///
    /// ```
    /// use amorsize::pool::ControllerConfig;
    /// use std::time::Duration;
    /// let cfg = ControllerConfig::new(20, Duration::from_millis(2));
    /// assert_eq!(cfg.initial, 20);
    /// assert_eq!(cfg.window, 10);
    /// ```
    pub fn new(initial: usize, target: Duration) -> Self {
        ControllerConfig {
            initial,
            target,
            ..ControllerConfig::default()
        }
    }

    /// Defaults for a thread pool whose dispatch of one chunk costs `dispatch_cost`: the target
    /// is `default_target_for_threads(dispatch_cost)`: 100 × the dispatch cost (dispatch under
    /// 1% of the work), clamped to 200 µs – 5 ms.
    ///
    /// ```
    /// use amorsize::pool::ControllerConfig;
    /// use std::time::Duration;
    /// let cfg = ControllerConfig::for_threads(8, Duration::from_micros(20));
    /// assert_eq!(cfg.target, Duration::from_millis(2));
    /// let slow = ControllerConfig::for_threads(8, Duration::from_millis(1));
    /// assert_eq!(slow.target, Duration::from_millis(5)); // clamped down
    /// ```
    pub fn for_threads(initial: usize, dispatch_cost: Duration) -> Self {
        ControllerConfig::new(initial, default_target_for_threads(dispatch_cost))
    }

    /// Checks every setting; the error names the bad one with the builder's name for it:
    /// `initial_chunk_size` (zero), `target_chunk_duration` (zero), `adaptation_rate` (outside
    /// 0..=1 or NaN), `min_chunk_size` (zero, or greater than the max), `max_chunk_size`
    /// (zero), `window` (zero).
    ///
    /// ```
    /// use amorsize::{pool::ControllerConfig, Error};
    /// use std::time::Duration;
    /// let bad = ControllerConfig { adaptation_rate: 1.5, ..ControllerConfig::default() };
    /// let err = bad.validate().unwrap_err();
    /// assert!(matches!(err, Error::InvalidConfig { ref setting, .. } if setting == "adaptation_rate"));
    /// assert!(ControllerConfig::new(4, Duration::from_millis(1)).validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.initial == 0 {
            return Err(Error::invalid_config(
                "initial_chunk_size",
                "must be at least 1",
            ));
        }
        if self.target.is_zero() {
            return Err(Error::invalid_config(
                "target_chunk_duration",
                "must be greater than zero",
            ));
        }
        if !(0.0..=1.0).contains(&self.adaptation_rate) {
            return Err(Error::invalid_config(
                "adaptation_rate",
                format!("must be within 0..=1, got {}", self.adaptation_rate),
            ));
        }
        if self.min == 0 {
            return Err(Error::invalid_config(
                "min_chunk_size",
                "must be at least 1",
            ));
        }
        if let Some(max) = self.max {
            if max == 0 {
                return Err(Error::invalid_config(
                    "max_chunk_size",
                    "must be at least 1",
                ));
            }
            if self.min > max {
                return Err(Error::invalid_config(
                    "min_chunk_size",
                    format!("{} exceeds max_chunk_size {max}", self.min),
                ));
            }
        }
        if self.window == 0 {
            return Err(Error::invalid_config("window", "must be at least 1"));
        }
        Ok(())
    }
}

/// Which rule made an [`Adjustment`].
///
/// ```
/// use amorsize::pool::{ChunkController, ControllerConfig};
/// use std::time::Duration;
/// let mut c = ChunkController::new(ControllerConfig::new(100, Duration::from_millis(1)));
/// for _ in 0..3 { c.record(Duration::from_millis(10), 100); }
/// let json = serde_json::to_value(&c.history()[0]).unwrap();
/// assert_eq!(json["reason"], "regime_change");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustReason {
    /// The window mean deviated more than 20% from the target (seed rule 3).
    Window,
    /// The last 3 chunks each deviated more than 2× in the same direction (rule (b)).
    RegimeChange,
}

/// One change of the chunk size.
///
/// ```
/// use amorsize::pool::{ChunkController, ControllerConfig};
/// use std::time::Duration;
/// let mut c = ChunkController::new(ControllerConfig::new(100, Duration::from_millis(1)));
/// for _ in 0..3 { c.record(Duration::from_micros(1500), 100); }
/// let a = &c.history()[0];
/// assert_eq!((a.from, a.at_chunk), (100, 3));
/// assert_eq!(a.at, Duration::from_micros(4500));
/// assert_eq!(a.to, c.chunk_size());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Adjustment {
    /// Chunk size before.
    pub from: usize,
    /// Chunk size after.
    pub to: usize,
    /// The (normalised) mean chunk duration that caused the change.
    pub mean: Duration,
    /// Chunks recorded so far, including the one that triggered the change.
    pub at_chunk: usize,
    /// Sum of the chunk durations recorded so far (time since the first record, as fed in).
    pub at: Duration,
    /// Which rule made the change.
    pub reason: AdjustReason,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    nanos: f64,
    items: usize,
}

/// The runtime chunk controller: fed `(duration, items)` per finished chunk, it returns the next
/// chunk size. It owns no clock: durations come in as arguments.
///
/// # The rules
///
/// The seed is the Amorsize `AdaptiveChunkingPool` algorithm:
///
/// 1. keep a moving window of the last `window` (default 10) chunk durations;
/// 2. act only with at least 3 measurements in the window (or `window` of them when the window
///    is smaller than 3), and not when the job has fewer than 2 × chunk items left
///    ([`ChunkController::set_remaining`]);
/// 3. if the window's mean deviates more than 20% from the target: `ratio = mean / target`,
///    `adjustment = 1 + (1/ratio − 1) × adaptation_rate`, `new = current × adjustment`, clamped
///    to `[min, max]` and at least 1, and the window resets for the new regime;
/// 4. record every change as an `Adjustment` (from, to, the mean that caused it, when).
///
/// On top of the seed, each rule documented and tested:
///
/// - **(a) item weighting.** Chunks in the window may have had different sizes (chunks claimed
///   before a change finish after it; the guided tail shrinks the last ones). The window's
///   "mean" is therefore the *item-weighted* per-item cost times the current chunk size,
///   `Σ duration / Σ items × current`: the duration a chunk of the current size would take.
///   With all chunks at the current size this equals the plain mean. Switch off with
///   [`ChunkController::item_weighting`] to get the seed's plain mean.
/// - **(b) regime change.** When the last 3 chunks' normalised durations (per-item cost ×
///   current size) *each* deviate by more than 2× from the target in the same direction, the
///   controller acts at once on those 3 alone, without waiting for a diluted window mean, and
///   applies the full correction (`new = current / ratio`, i.e. adaptation rate 1): three
///   consecutive chunks that far off are a new regime, not noise. These last 3 measurements
///   survive a window reset (normalising by per-item cost keeps them comparable across sizes),
///   so the controller reacts within 3 chunks of a regime change. Switch off with
///   [`ChunkController::regime_reaction`].
/// - **(c) guards.** A chunk of zero items carries no per-item cost and is counted but not
///   used; a zero duration is treated as 1 ns; one adjustment never multiplies the size by more
///   than `MAX_STEP_GROWTH` (64) (a single absurd measurement cannot blow the size up to the
///   maximum); the size always stays within `[min, max]` and ≥ 1; invalid settings passed to
///   [`ChunkController::new`] are made safe (see there) instead of panicking.
/// - **(d) rounding never stalls.** The new size is `current × adjustment` *rounded* (the seed
///   truncates, so a size of 3 asked to grow by 1.3× stays 3 forever); when rounding gives
///   back the current size although the rule says move, the size moves by one item.
///
/// Rule 2 (enough measurements, enough items left) gates every rule; an adaptation rate of 0
/// or [`ChunkController::adaptation`]`(false)` turns all of them off.
///
/// # Example
///
/// ```
/// use amorsize::pool::{ChunkController, ControllerConfig};
/// use std::time::Duration;
/// let mut c = ChunkController::new(ControllerConfig::new(100, Duration::from_millis(1)));
/// // Chunks of 100 items take 2 ms: twice the target, so the size shrinks.
/// let mut next = c.chunk_size();
/// for _ in 0..3 { next = c.record(Duration::from_millis(2), 100); }
/// assert!(next < 100);
/// ```
#[derive(Debug, Clone)]
pub struct ChunkController {
    cfg: ControllerConfig,
    size: usize,
    adapt: bool,
    weighting: bool,
    regime: bool,
    window: VecDeque<Sample>,
    recent: VecDeque<Sample>,
    remaining: Option<usize>,
    chunks: usize,
    elapsed: Duration,
    history: Vec<Adjustment>,
}

impl ChunkController {
    /// A controller starting at the configured initial size.
    ///
    /// It never panics on a bad config; it makes it safe instead (call
    /// [`ControllerConfig::validate`] first to reject it): `min` 0 becomes 1, a `max` below
    /// `min` becomes `min`, `window` 0 becomes 1, a NaN adaptation rate becomes 0 (no
    /// adaptation) and one outside 0..=1 is clamped, the initial size is clamped into
    /// `[min, max]`, and a zero target disables adaptation.
    ///
    /// ```
    /// # use amorsize::pool::*; use std::time::Duration;
    /// let c = ChunkController::new(ControllerConfig { initial: 8, target: Duration::from_millis(1),
    ///     adaptation_rate: 0.3, min: 1, max: None, window: 10 });
    /// assert_eq!(c.chunk_size(), 8);
    /// ```
    pub fn new(cfg: ControllerConfig) -> Self {
        let mut cfg = cfg;
        cfg.min = cfg.min.max(1);
        cfg.max = cfg.max.map(|m| m.max(cfg.min));
        cfg.window = cfg.window.max(1);
        cfg.adaptation_rate = if cfg.adaptation_rate.is_nan() {
            0.0
        } else {
            cfg.adaptation_rate.clamp(0.0, 1.0)
        };
        let size = clamp_size(cfg.initial, cfg.min, cfg.max);
        cfg.initial = size;
        ChunkController {
            // Room for a usual window up front; a huge one grows as chunks finish (reserving
            // `usize::MAX` slots would abort).
            window: VecDeque::with_capacity(cfg.window.min(64)),
            recent: VecDeque::with_capacity(REGIME_SPAN),
            cfg,
            size,
            adapt: true,
            weighting: true,
            regime: true,
            remaining: None,
            chunks: 0,
            elapsed: Duration::ZERO,
            history: Vec::new(),
        }
    }

    /// Like [`ChunkController::new`], but rejects an invalid config with
    /// [`Error::InvalidConfig`] naming the setting.
    ///
    /// ```
    /// use amorsize::pool::{ChunkController, ControllerConfig};
    /// let bad = ControllerConfig { window: 0, ..ControllerConfig::default() };
    /// assert!(ChunkController::try_new(bad).is_err());
    /// assert!(ChunkController::try_new(ControllerConfig::default()).is_ok());
    /// ```
    pub fn try_new(cfg: ControllerConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(ChunkController::new(cfg))
    }

    /// Turns adaptation on (the default) or off; off, the chunk size never changes.
    ///
    /// ```
    /// use amorsize::pool::{ChunkController, ControllerConfig};
    /// use std::time::Duration;
    /// let mut c = ChunkController::new(ControllerConfig::new(50, Duration::from_millis(1)))
    ///     .adaptation(false);
    /// for _ in 0..20 { c.record(Duration::from_millis(9), 50); }
    /// assert_eq!(c.chunk_size(), 50);
    /// ```
    pub fn adaptation(mut self, enabled: bool) -> Self {
        self.adapt = enabled;
        self
    }

    /// Turns rule (a), item weighting, on (the default) or off (the seed's plain mean).
    ///
    /// ```
    /// use amorsize::pool::{ChunkController, ControllerConfig};
    /// use std::time::Duration;
    /// let c = ChunkController::new(ControllerConfig::default()).item_weighting(false);
    /// assert_eq!(c.chunk_size(), 1);
    /// ```
    pub fn item_weighting(mut self, enabled: bool) -> Self {
        self.weighting = enabled;
        self
    }

    /// Turns rule (b), the fast reaction to a regime change, on (the default) or off.
    /// With both (a) and (b) off the controller is the seed algorithm (plus the guards).
    ///
    /// ```
    /// use amorsize::pool::{ChunkController, ControllerConfig};
    /// let seed = ChunkController::new(ControllerConfig::default())
    ///     .item_weighting(false)
    ///     .regime_reaction(false);
    /// assert!(seed.history().is_empty());
    /// ```
    pub fn regime_reaction(mut self, enabled: bool) -> Self {
        self.regime = enabled;
        self
    }

    /// The current chunk size.
    ///
    /// ```
    /// # use amorsize::pool::*; use std::time::Duration;
    /// # let c = ChunkController::new(ControllerConfig { initial: 8, target: Duration::from_millis(1),
    /// #    adaptation_rate: 0.3, min: 1, max: None, window: 10 });
    /// assert!(c.chunk_size() >= 1);
    /// ```
    pub fn chunk_size(&self) -> usize {
        self.size
    }

    /// The (sanitised) configuration in use.
    ///
    /// ```
    /// use amorsize::pool::{ChunkController, ControllerConfig};
    /// let c = ChunkController::new(ControllerConfig { min: 0, ..ControllerConfig::default() });
    /// assert_eq!(c.config().min, 1);
    /// ```
    pub fn config(&self) -> &ControllerConfig {
        &self.cfg
    }

    /// Tells the controller how many items of the job are not yet handed out. While fewer
    /// than 2 × the chunk size remain, the controller makes no change (rule 2): the guided
    /// tail is shrinking chunks anyway and measurements of tail chunks say little.
    ///
    /// ```
    /// use amorsize::pool::{ChunkController, ControllerConfig};
    /// use std::time::Duration;
    /// let mut c = ChunkController::new(ControllerConfig::new(100, Duration::from_millis(1)));
    /// c.set_remaining(150); // < 2 × 100
    /// for _ in 0..5 { c.record(Duration::from_millis(5), 100); }
    /// assert_eq!(c.chunk_size(), 100);
    /// ```
    pub fn set_remaining(&mut self, items_left: usize) {
        self.remaining = Some(items_left);
    }

    /// Chunks recorded so far (including chunks of zero items).
    ///
    /// ```
    /// use amorsize::pool::{ChunkController, ControllerConfig};
    /// use std::time::Duration;
    /// let mut c = ChunkController::new(ControllerConfig::default());
    /// c.record(Duration::from_millis(1), 1);
    /// assert_eq!(c.chunks_recorded(), 1);
    /// ```
    pub fn chunks_recorded(&self) -> usize {
        self.chunks
    }

    /// Every change of the chunk size so far, oldest first; each entry's `from` is the
    /// previous entry's `to`.
    ///
    /// ```
    /// use amorsize::pool::{ChunkController, ControllerConfig};
    /// use std::time::Duration;
    /// let mut c = ChunkController::new(ControllerConfig::new(10, Duration::from_millis(1)));
    /// for _ in 0..3 { c.record(Duration::from_millis(1), 10); } // on target
    /// assert!(c.history().is_empty());
    /// ```
    pub fn history(&self) -> &[Adjustment] {
        &self.history
    }

    /// Feeds one finished chunk (its wall duration and item count) and returns the chunk size
    /// to hand out next.
    ///
    /// ```
    /// use amorsize::pool::{ChunkController, ControllerConfig};
    /// use std::time::Duration;
    /// let mut c = ChunkController::new(ControllerConfig::new(10, Duration::from_millis(1)));
    /// // 10 items in 0.25 ms: 4× too fast, so after 3 such chunks the size grows.
    /// c.record(Duration::from_micros(250), 10);
    /// c.record(Duration::from_micros(250), 10);
    /// let next = c.record(Duration::from_micros(250), 10);
    /// assert!(next > 10);
    /// ```
    pub fn record(&mut self, duration: Duration, items: usize) -> usize {
        self.chunks = self.chunks.saturating_add(1);
        self.elapsed = self.elapsed.saturating_add(duration);
        if items == 0 {
            // Guard (c): no per-item cost to learn from.
            return self.size;
        }
        let sample = Sample {
            nanos: (duration.as_nanos() as f64).max(1.0),
            items,
        };
        if self.window.len() >= self.cfg.window {
            self.window.pop_front();
        }
        self.window.push_back(sample);
        if self.recent.len() >= REGIME_SPAN {
            self.recent.pop_front();
        }
        self.recent.push_back(sample);

        if !self.adapt || self.cfg.target.is_zero() || self.cfg.adaptation_rate == 0.0 {
            return self.size;
        }
        if let Some(left) = self.remaining {
            if left < self.size.saturating_mul(2) {
                return self.size;
            }
        }
        let target = self.cfg.target.as_nanos() as f64;

        if self.regime && self.recent.len() == REGIME_SPAN {
            let norm: Vec<f64> = self.recent.iter().map(|s| self.normalised(s)).collect();
            let slow = norm.iter().all(|&d| d > 2.0 * target);
            let fast = norm.iter().all(|&d| d < 0.5 * target);
            if slow || fast {
                let mean = self.mean_of(self.recent.iter());
                self.adjust(mean, target, 1.0, AdjustReason::RegimeChange);
                return self.size;
            }
        }

        if self.window.len() >= MIN_MEASUREMENTS.min(self.cfg.window) {
            let mean = self.mean_of(self.window.iter());
            let ratio = mean / target;
            if !(0.8..=1.2).contains(&ratio) {
                self.adjust(mean, target, self.cfg.adaptation_rate, AdjustReason::Window);
            }
        }
        self.size
    }

    /// One sample's duration as a chunk of the current size would have taken.
    fn normalised(&self, s: &Sample) -> f64 {
        if self.weighting {
            s.nanos / s.items as f64 * self.size as f64
        } else {
            s.nanos
        }
    }

    /// The mean chunk duration of `samples`: item-weighted and normalised to the current size
    /// (rule (a)), or the plain mean (seed).
    fn mean_of<'a>(&self, samples: impl Iterator<Item = &'a Sample>) -> f64 {
        let (mut nanos, mut items, mut n) = (0.0f64, 0.0f64, 0usize);
        for s in samples {
            nanos += s.nanos;
            items += s.items as f64;
            n += 1;
        }
        if n == 0 {
            return 0.0;
        }
        if self.weighting {
            nanos / items * self.size as f64
        } else {
            nanos / n as f64
        }
    }

    fn adjust(&mut self, mean: f64, target: f64, rate: f64, reason: AdjustReason) {
        let mean = mean.max(1.0);
        let ratio = mean / target;
        let factor = next_size_factor(ratio, rate);
        if !factor.is_finite() {
            return;
        }
        let new = next_size(self.size, factor, self.cfg.min, self.cfg.max);
        if new != self.size {
            self.history.push(Adjustment {
                from: self.size,
                to: new,
                mean: Duration::from_nanos(mean.min(u64::MAX as f64) as u64),
                at_chunk: self.chunks,
                at: self.elapsed,
                reason,
            });
            self.size = new;
            self.window.clear();
        }
    }
}

/// The seed's adjustment factor `1 + (1/ratio − 1) × rate`, capped at [`MAX_STEP_GROWTH`].
fn next_size_factor(ratio: f64, rate: f64) -> f64 {
    (1.0 + (1.0 / ratio - 1.0) * rate).clamp(0.0, MAX_STEP_GROWTH)
}

/// `current × factor` rounded, moved by at least one item in the factor's direction (rule
/// (d)), clamped to `[min, max]` and ≥ 1.
fn next_size(current: usize, factor: f64, min: usize, max: Option<usize>) -> usize {
    let raw = (current as f64 * factor).round();
    let mut new = if raw >= usize::MAX as f64 {
        usize::MAX
    } else {
        raw as usize
    };
    if new == current {
        if factor > 1.0 {
            new = current.saturating_add(1);
        } else if factor < 1.0 {
            new = current.saturating_sub(1);
        }
    }
    clamp_size(new, min, max)
}

fn clamp_size(size: usize, min: usize, max: Option<usize>) -> usize {
    let mut s = size.max(min).max(1);
    if let Some(max) = max {
        s = s.min(max.max(1));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn cfg(initial: usize) -> ControllerConfig {
        ControllerConfig::new(initial, MS)
    }

    #[test]
    fn thread_target_is_100x_dispatch_clamped() {
        assert_eq!(
            default_target_for_threads(Duration::from_micros(7)),
            Duration::from_micros(700)
        );
        assert_eq!(
            default_target_for_threads(Duration::from_micros(30)),
            Duration::from_millis(3)
        );
        assert_eq!(
            default_target_for_threads(Duration::ZERO),
            MIN_THREAD_TARGET
        );
        assert_eq!(
            default_target_for_threads(Duration::from_micros(1)),
            MIN_THREAD_TARGET
        );
        assert_eq!(
            default_target_for_threads(Duration::from_millis(50)),
            MAX_THREAD_TARGET
        );
        assert_eq!(default_target_for_threads(Duration::MAX), MAX_THREAD_TARGET);
    }

    #[test]
    fn factor_follows_seed_formula() {
        // ratio 2, rate 0.3: 1 + (0.5 - 1) * 0.3 = 0.85
        assert!((next_size_factor(2.0, 0.3) - 0.85).abs() < 1e-12);
        // ratio 0.5, rate 0.3: 1 + (2 - 1) * 0.3 = 1.3
        assert!((next_size_factor(0.5, 0.3) - 1.3).abs() < 1e-12);
        // absurdly fast: capped
        assert_eq!(next_size_factor(1e-9, 1.0), MAX_STEP_GROWTH);
    }

    #[test]
    fn rounding_never_stalls() {
        // seed truncation: 3 * 1.3 = 3.9 -> 3; we round to 4
        assert_eq!(next_size(3, 1.3, 1, None), 4);
        // 1 * 1.3 = 1.3 rounds to 1, but the rule says grow: one step
        assert_eq!(next_size(1, 1.3, 1, None), 2);
        assert_eq!(next_size(10, 0.97, 1, None), 9);
        assert_eq!(next_size(1, 0.5, 1, None), 1);
        assert_eq!(next_size(10, 1.0, 1, None), 10);
    }

    #[test]
    fn regime_reason_and_window_reason_recorded() {
        let mut c = ChunkController::new(cfg(100));
        for _ in 0..3 {
            c.record(MS * 10, 100);
        }
        assert_eq!(c.history()[0].reason, AdjustReason::RegimeChange);
        // full correction: 100 / 10 = 10
        assert_eq!(c.chunk_size(), 10);

        let mut c = ChunkController::new(cfg(100));
        for _ in 0..3 {
            c.record(Duration::from_micros(1500), 100);
        }
        assert_eq!(c.history()[0].reason, AdjustReason::Window);
    }

    #[test]
    fn zero_items_are_counted_not_used() {
        let mut c = ChunkController::new(cfg(10));
        for _ in 0..10 {
            c.record(Duration::ZERO, 0);
        }
        assert_eq!(c.chunk_size(), 10);
        assert_eq!(c.chunks_recorded(), 10);
        assert!(c.window.is_empty());
    }

    #[test]
    fn zero_duration_growth_is_capped() {
        let mut c = ChunkController::new(cfg(10));
        for _ in 0..3 {
            c.record(Duration::ZERO, 10);
        }
        assert_eq!(c.chunk_size(), 10 * MAX_STEP_GROWTH as usize);
    }

    #[test]
    fn sanitises_bad_config() {
        let c = ChunkController::new(ControllerConfig {
            initial: 0,
            target: Duration::ZERO,
            adaptation_rate: f64::NAN,
            min: 0,
            max: Some(0),
            window: 0,
        });
        assert_eq!(c.chunk_size(), 1);
        assert_eq!(c.config().window, 1);
        assert_eq!(c.config().adaptation_rate, 0.0);
    }

    #[test]
    fn a_huge_window_is_not_reserved_up_front() {
        // Reserving usize::MAX slots aborted the process; the window now grows as it fills.
        let mut c = ChunkController::new(ControllerConfig {
            window: usize::MAX,
            ..ControllerConfig::new(8, Duration::from_millis(1))
        });
        for _ in 0..100 {
            c.record(Duration::from_millis(4), 8);
        }
        // 4× the target: the rules still act on the (partly filled) window.
        assert!(c.chunk_size() < 8, "{}", c.chunk_size());
    }
}
