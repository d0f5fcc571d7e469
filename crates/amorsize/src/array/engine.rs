//! The adaptive chunking engine: tracks arrays by key, keeps their profiles and run history,
//! and applies recommended chunk shapes to the next run.
//!
//! Configuration comes from [`EngineConfig`] (a validating builder) or from the environment,
//! read once by [`global_engine`] with [`EngineConfig::from_env_map`] (see the variables in the
//! [module documentation of `array`](crate::array)).
//!
//! ```
//! use amorsize::array::{engine::EngineConfig, AdaptiveChunkingEngine, ChunkedArray};
//! use std::collections::HashMap;
//! let vars: HashMap<String, String> = [("AMORSIZE_ARRAY_WORKERS", "2"),
//!     ("AMORSIZE_ARRAY_BUDGET_BYTES", "64K")].map(|(k, v)| (k.into(), v.into())).into();
//! let config = EngineConfig::from_env_map(&vars)?;
//! assert_eq!((config.workers, config.budget_bytes), (Some(2), Some(64 << 10)));
//! let engine = AdaptiveChunkingEngine::new(config)?;
//! let a = ndarray::Array1::<f64>::ones(4096);
//! let c = ChunkedArray::with_chunks_and_engine(a.view(), &[512], &engine)?.key("doc");
//! c.map_blocks(|b| b.mapv(|x| x * 2.0))?;
//! let t = engine.telemetry();
//! assert_eq!((t.arrays_tracked, t.history[0].budget_bytes), (1, 64 << 10));
//! # Ok::<(), amorsize::Error>(())
//! ```

use super::chunked::ChunkedArray;
use super::metrics::{AggregateStats, ProfileReport, RunReport};
use super::MemoryPressure;
use crate::{Error, Result};
use ndarray::Dimension;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Settings of an [`AdaptiveChunkingEngine`] and the defaults of the arrays it tracks.
///
/// ```
/// use amorsize::array::EngineConfig;
/// let c = EngineConfig::new().workers(4).budget_bytes(1 << 30).auto_rechunk(true);
/// assert!(c.validate().is_ok());
/// assert!(EngineConfig::new().memory_fraction(2.0).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineConfig {
    /// Whether the engine records runs and applies recommendations (`AMORSIZE_ARRAY_ENABLED`).
    pub enabled: bool,
    /// Workers per run; `None`: the effective cores (`AMORSIZE_ARRAY_WORKERS`).
    pub workers: Option<usize>,
    /// Working-memory budget per run in bytes; `None`: from the machine (`AMORSIZE_ARRAY_BUDGET_BYTES`).
    pub budget_bytes: Option<u64>,
    /// Share of available memory for the machine budget (`AMORSIZE_ARRAY_MEMORY_FRACTION`).
    pub memory_fraction: f64,
    /// Safety factor on the machine budget (`AMORSIZE_ARRAY_SAFETY_FACTOR`).
    pub safety_factor: f64,
    /// Smallest recommended chunk in bytes (`AMORSIZE_ARRAY_MIN_CHUNK_BYTES`).
    pub min_chunk_bytes: u64,
    /// Memory pressure threshold in percent (`AMORSIZE_ARRAY_PRESSURE_THRESHOLD`).
    pub pressure_threshold: f64,
    /// Apply each recommendation to the next run of the same key (`AMORSIZE_ARRAY_AUTO_RECHUNK`).
    pub auto_rechunk: bool,
    /// Run records kept in the history (`AMORSIZE_ARRAY_HISTORY`).
    pub history_len: usize,
    /// Working set a chunk aims at, input plus peak, 0 for off (`AMORSIZE_ARRAY_WORKING_SET_BYTES`).
    pub working_set_bytes: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self::new()
    }
}

fn parse_bool(name: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Error::invalid_config(
            name,
            format!("`{v}` is not a boolean (1/0, true/false, yes/no, on/off)"),
        )),
    }
}

fn parse_num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T> {
    v.trim()
        .parse()
        .map_err(|_| Error::invalid_config(name, format!("`{v}` is not a valid number")))
}

/// Parses a byte count: a plain integer or one with a `K`, `M`, `G` or `T` suffix (powers of
/// 1024; an optional `iB`/`B` after it).
///
/// ```
/// use amorsize::array::engine::parse_bytes;
/// assert_eq!(parse_bytes("budget", "1GiB").unwrap(), 1 << 30);
/// assert_eq!(parse_bytes("budget", "512m").unwrap(), 512 << 20);
/// assert_eq!(parse_bytes("budget", "4096").unwrap(), 4096);
/// assert!(parse_bytes("budget", "lots").is_err());
/// ```
pub fn parse_bytes(name: &str, v: &str) -> Result<u64> {
    let t = v.trim().to_ascii_lowercase();
    let t = t
        .strip_suffix("ib")
        .or_else(|| t.strip_suffix('b'))
        .unwrap_or(&t);
    let (num, shift) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 10),
        Some('m') => (&t[..t.len() - 1], 20),
        Some('g') => (&t[..t.len() - 1], 30),
        Some('t') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let n: u64 = parse_num(name, num)?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| Error::invalid_config(name, format!("`{v}` overflows")))
}

/// A memory pressure threshold must be a percentage in `[0, 100]` (NaN would compare as "no
/// pressure" for ever). Shared by [`EngineConfig::validate`] and a chunked array's own setting.
pub(crate) fn check_pressure_threshold(percent: f64) -> Result<()> {
    if percent.is_finite() && (0.0..=100.0).contains(&percent) {
        return Ok(());
    }
    Err(Error::invalid_config(
        "pressure_threshold",
        format!("{percent} is not a percentage in [0, 100]"),
    ))
}

impl EngineConfig {
    /// Defaults: enabled, workers and budget from the machine, fraction 0.5, safety 0.8, min chunk
    /// 1 MiB, pressure threshold 10%, no auto-rechunk, history of 64 runs.
    ///
    /// ```
    /// assert!(amorsize::array::EngineConfig::new().enabled);
    /// ```
    pub fn new() -> Self {
        EngineConfig {
            enabled: true,
            workers: None,
            budget_bytes: None,
            memory_fraction: 0.5,
            safety_factor: 0.8,
            min_chunk_bytes: 1 << 20,
            pressure_threshold: 10.0,
            auto_rechunk: false,
            history_len: 64,
            working_set_bytes: super::recommend::DEFAULT_WORKING_SET_BYTES,
        }
    }

    /// Sets [`Self::enabled`].
    ///
    /// ```
    /// assert!(!amorsize::array::EngineConfig::new().enabled(false).enabled);
    /// ```
    pub fn enabled(mut self, on: bool) -> Self {
        self.enabled = on;
        self
    }

    /// Sets [`Self::workers`].
    ///
    /// ```
    /// assert!(amorsize::array::EngineConfig::new().workers(0).validate().is_err());
    /// ```
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n);
        self
    }

    /// Sets [`Self::budget_bytes`].
    ///
    /// ```
    /// assert_eq!(amorsize::array::EngineConfig::new().budget_bytes(7).budget_bytes, Some(7));
    /// ```
    pub fn budget_bytes(mut self, b: u64) -> Self {
        self.budget_bytes = Some(b);
        self
    }

    /// Sets [`Self::memory_fraction`].
    ///
    /// ```
    /// assert!(amorsize::array::EngineConfig::new().memory_fraction(0.3).validate().is_ok());
    /// ```
    pub fn memory_fraction(mut self, f: f64) -> Self {
        self.memory_fraction = f;
        self
    }

    /// Sets [`Self::safety_factor`].
    ///
    /// ```
    /// assert!(amorsize::array::EngineConfig::new().safety_factor(0.0).validate().is_err());
    /// ```
    pub fn safety_factor(mut self, s: f64) -> Self {
        self.safety_factor = s;
        self
    }

    /// Sets [`Self::min_chunk_bytes`].
    ///
    /// ```
    /// assert_eq!(amorsize::array::EngineConfig::new().min_chunk_bytes(1).min_chunk_bytes, 1);
    /// ```
    pub fn min_chunk_bytes(mut self, b: u64) -> Self {
        self.min_chunk_bytes = b;
        self
    }

    /// Sets [`Self::pressure_threshold`].
    ///
    /// ```
    /// assert!(amorsize::array::EngineConfig::new().pressure_threshold(-1.0).validate().is_err());
    /// ```
    pub fn pressure_threshold(mut self, p: f64) -> Self {
        self.pressure_threshold = p;
        self
    }

    /// Sets [`Self::auto_rechunk`].
    ///
    /// ```
    /// assert!(amorsize::array::EngineConfig::new().auto_rechunk(true).auto_rechunk);
    /// ```
    pub fn auto_rechunk(mut self, on: bool) -> Self {
        self.auto_rechunk = on;
        self
    }

    /// Sets [`Self::working_set_bytes`].
    ///
    /// ```
    /// assert_eq!(amorsize::array::EngineConfig::new().working_set_bytes(0).working_set_bytes, 0);
    /// ```
    pub fn working_set_bytes(mut self, b: u64) -> Self {
        self.working_set_bytes = b;
        self
    }

    /// Sets [`Self::history_len`].
    ///
    /// ```
    /// assert_eq!(amorsize::array::EngineConfig::new().history_len(3).history_len, 3);
    /// ```
    pub fn history_len(mut self, n: usize) -> Self {
        self.history_len = n;
        self
    }

    /// Checks every setting; the error names the bad one.
    ///
    /// ```
    /// use amorsize::{Error, array::EngineConfig};
    /// let e = EngineConfig::new().budget_bytes(0).validate().unwrap_err();
    /// assert!(matches!(e, Error::InvalidConfig { ref setting, .. } if setting == "budget_bytes"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.workers == Some(0) {
            return Err(Error::invalid_config("workers", "must be at least 1"));
        }
        if self.budget_bytes == Some(0) {
            return Err(Error::invalid_config("budget_bytes", "must be above 0"));
        }
        let unit = |v: f64| v.is_finite() && v > 0.0 && v <= 1.0;
        if !unit(self.memory_fraction) {
            return Err(Error::invalid_config(
                "memory_fraction",
                format!("{} is not in (0, 1]", self.memory_fraction),
            ));
        }
        if !unit(self.safety_factor) {
            return Err(Error::invalid_config(
                "safety_factor",
                format!("{} is not in (0, 1]", self.safety_factor),
            ));
        }
        check_pressure_threshold(self.pressure_threshold)
    }

    /// The configuration from `AMORSIZE_ARRAY_*` variables in `vars` (pure; other variables are
    /// ignored, an unknown `AMORSIZE_ARRAY_*` name or a bad value is an error naming it).
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let vars: HashMap<String, String> = [("AMORSIZE_ARRAY_BUDGET_BYTES", "1G"),
    ///     ("AMORSIZE_ARRAY_AUTO_RECHUNK", "yes"), ("PATH", "/bin")]
    ///     .into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    /// let c = amorsize::array::EngineConfig::from_env_map(&vars).unwrap();
    /// assert_eq!(c.budget_bytes, Some(1 << 30));
    /// assert!(c.auto_rechunk);
    /// ```
    pub fn from_env_map(vars: &HashMap<String, String>) -> Result<EngineConfig> {
        let mut c = EngineConfig::new();
        let mut keys: Vec<&String> = vars.keys().collect();
        keys.sort();
        for name in keys {
            let Some(setting) = name.strip_prefix("AMORSIZE_ARRAY_") else {
                continue;
            };
            let v = &vars[name];
            match setting {
                "ENABLED" => c.enabled = parse_bool(name, v)?,
                "WORKERS" => c.workers = Some(parse_num(name, v)?),
                "BUDGET_BYTES" => c.budget_bytes = Some(parse_bytes(name, v)?),
                "MEMORY_FRACTION" => c.memory_fraction = parse_num(name, v)?,
                "SAFETY_FACTOR" => c.safety_factor = parse_num(name, v)?,
                "MIN_CHUNK_BYTES" => c.min_chunk_bytes = parse_bytes(name, v)?,
                "PRESSURE_THRESHOLD" => c.pressure_threshold = parse_num(name, v)?,
                "AUTO_RECHUNK" => c.auto_rechunk = parse_bool(name, v)?,
                "HISTORY" => c.history_len = parse_num(name, v)?,
                "WORKING_SET_BYTES" => c.working_set_bytes = parse_bytes(name, v)?,
                _ => {
                    return Err(Error::invalid_config(
                        name.as_str(),
                        "unknown variable (see the amorsize::array module documentation)",
                    ))
                }
            }
        }
        c.validate().map_err(|e| match e {
            Error::InvalidConfig { setting, reason } => Error::invalid_config(
                format!("AMORSIZE_ARRAY_{}", setting.to_ascii_uppercase()),
                reason,
            ),
            other => other,
        })?;
        Ok(c)
    }

    /// [`Self::from_env_map`] over the process's environment.
    ///
    /// ```
    /// let _ = amorsize::array::EngineConfig::from_env();
    /// ```
    pub fn from_env() -> Result<EngineConfig> {
        Self::from_env_map(&std::env::vars().collect())
    }
}

/// Identifies an array tracked by an engine.
///
/// ```
/// let id = amorsize::array::ArrayId(3);
/// assert_eq!(id.to_string(), "array#3");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ArrayId(pub u64);

impl fmt::Display for ArrayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "array#{}", self.0)
    }
}

/// The profiler's figures for one array.
///
/// ```
/// let s = amorsize::array::ProfilerStats::from(&amorsize::array::AggregateStats::from_metrics(&[]));
/// assert_eq!(s.total_chunks, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfilerStats {
    /// Chunks measured in the last run.
    pub total_chunks: usize,
    /// Mean chunk size in MiB.
    pub avg_chunk_mb: f64,
    /// Highest per-chunk working peak in bytes.
    pub peak_memory: u64,
    /// Average throughput in MB/s.
    pub avg_throughput_mb_s: f64,
    /// Fitted amplification `k` of `peak(b) = a + k·b`.
    pub amplification: f64,
}

impl From<&AggregateStats> for ProfilerStats {
    fn from(s: &AggregateStats) -> Self {
        ProfilerStats {
            total_chunks: s.total_chunks,
            avg_chunk_mb: s.avg_chunk_mb,
            peak_memory: s.peak_memory,
            avg_throughput_mb_s: s.avg_throughput_mb_s,
            amplification: s.peak_model.k,
        }
    }
}

/// What the engine knows about one array.
///
/// ```
/// use amorsize::array::{AdaptiveChunkingEngine, ChunkedArray, EngineConfig};
/// let engine = AdaptiveChunkingEngine::new(EngineConfig::new()).unwrap();
/// let a = ndarray::Array2::<f64>::ones((20, 20));
/// let c = ChunkedArray::with_chunks_and_engine(a.view(), &[10, 10], &engine).unwrap();
/// c.map_blocks(|b| b.to_owned()).unwrap();
/// let id = engine.profile_array(&c).unwrap();
/// let p = engine.get_profile(id).unwrap();
/// assert_eq!((p.shape.clone(), p.current_chunks.clone()), (vec![20, 20], vec![10, 10]));
/// println!("{p}");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArrayProfile {
    /// Its id.
    pub id: ArrayId,
    /// Its key.
    pub key: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Element type name.
    pub dtype: String,
    /// Bytes per element.
    pub element_size: usize,
    /// Chunks of the last recorded run.
    pub current_chunks: Vec<usize>,
    /// Wall time of the last recorded run.
    pub execution_time: Duration,
    /// Profiler figures of the last recorded run.
    pub stats: ProfilerStats,
    /// The recommended chunks for the next run.
    pub recommended_chunks: Vec<usize>,
    /// Why.
    pub reasons: Vec<String>,
    /// Runs recorded (a run of an array with a zero-length axis ran no block and is not one).
    pub runs: usize,
    /// Chunks the next run of this key will use, once a recommendation has been applied.
    pub applied_chunks: Option<Vec<usize>>,
    #[serde(skip)]
    aggregate: AggregateStats,
    /// The run last counted in `runs`: the same run reported again (a `profile_array` after
    /// the run's own record) is not counted twice.
    #[serde(skip)]
    counted: Option<RunReport>,
}

impl fmt::Display for ArrayProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} `{}`: {:?} of {} ({} B), chunks {:?}, {} runs, last {:.3} s",
            self.id,
            self.key,
            self.shape,
            self.dtype,
            self.element_size,
            self.current_chunks,
            self.runs,
            self.execution_time.as_secs_f64()
        )?;
        writeln!(
            f,
            "  {} chunks, avg {:.2} MiB, peak {:.2} MiB, {:.0} MB/s, amplification {:.2}",
            self.stats.total_chunks,
            self.stats.avg_chunk_mb,
            self.stats.peak_memory as f64 / (1u64 << 20) as f64,
            self.stats.avg_throughput_mb_s,
            self.stats.amplification
        )?;
        write!(f, "  recommended chunks {:?}", self.recommended_chunks)?;
        if let Some(a) = &self.applied_chunks {
            write!(f, " (applied: next run uses {a:?})")?;
        }
        Ok(())
    }
}

/// One recorded run.
///
/// ```
/// use amorsize::array::{AdaptiveChunkingEngine, ChunkedArray, EngineConfig, RunRecord};
/// let engine = AdaptiveChunkingEngine::new(EngineConfig::new().workers(1).budget_bytes(1 << 20))?;
/// let a = ndarray::Array2::<f32>::ones((8, 8));
/// let c = ChunkedArray::with_chunks_and_engine(a.view(), &[4, 8], &engine)?.key("rec");
/// assert_eq!(c.reduce_blocks(|b| b.sum(), |x, y| x + y)?, 64.0);
/// let r: RunRecord = engine.telemetry().history.pop().unwrap();
/// assert_eq!((r.key.as_str(), r.operation.as_str()), ("rec", "reduce_blocks"));
/// assert_eq!((r.chunks, r.budget_bytes), (vec![4, 8], 1 << 20));
/// assert!(r.projected_peak <= r.budget_bytes);
/// assert_eq!(engine.get_profile(r.id).unwrap().key, "rec");
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// The array.
    pub id: ArrayId,
    /// Its key.
    pub key: String,
    /// Operation run.
    pub operation: String,
    /// Chunk shape used.
    pub chunks: Vec<usize>,
    /// Wall time.
    pub wall: Duration,
    /// Budget in bytes.
    pub budget_bytes: u64,
    /// Projected peak in bytes.
    pub projected_peak: u64,
    /// Measured peak in bytes.
    pub measured_peak: u64,
}

/// The engine's state at a glance.
///
/// ```
/// let t = amorsize::array::global_engine().telemetry();
/// println!("{t}");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Telemetry {
    /// Whether the engine is enabled.
    pub enabled: bool,
    /// Arrays tracked.
    pub arrays_tracked: usize,
    /// Memory now (if it could be read).
    pub memory_pressure: Option<MemoryPressure>,
    /// The most recent runs, oldest first.
    pub history: Vec<RunRecord>,
    /// The error in the environment configuration, if the global engine fell back to defaults.
    pub config_error: Option<String>,
}

impl fmt::Display for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "engine {}: {} arrays tracked, {} runs in history",
            if self.enabled { "enabled" } else { "disabled" },
            self.arrays_tracked,
            self.history.len()
        )?;
        if let Some(p) = &self.memory_pressure {
            writeln!(f, "  {p}")?;
        }
        if let Some(e) = &self.config_error {
            writeln!(f, "  environment ignored: {e}")?;
        }
        for r in &self.history {
            writeln!(
                f,
                "  {} {} chunks {:?}: {:.3} s, peak {:.1} MiB measured / {:.1} MiB projected / {:.1} MiB budget",
                r.key,
                r.operation,
                r.chunks,
                r.wall.as_secs_f64(),
                r.measured_peak as f64 / (1u64 << 20) as f64,
                r.projected_peak as f64 / (1u64 << 20) as f64,
                r.budget_bytes as f64 / (1u64 << 20) as f64
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct State {
    by_key: HashMap<String, ArrayId>,
    profiles: HashMap<ArrayId, ArrayProfile>,
    history: VecDeque<RunRecord>,
}

/// Tracks arrays, their profiles and runs; applies recommendations to the next run.
///
/// ```
/// use amorsize::array::{AdaptiveChunkingEngine, ChunkedArray, EngineConfig};
/// let engine = AdaptiveChunkingEngine::new(EngineConfig::new().workers(1)).unwrap();
/// let a = ndarray::Array1::<f64>::ones(1 << 12);
/// let c = ChunkedArray::with_chunks_and_engine(a.view(), &[256], &engine).unwrap().key("v");
/// c.map_blocks(|b| b.to_owned()).unwrap();
/// let id = engine.profile_array(&c).unwrap();
/// let applied = engine.apply_recommendation(id).unwrap();
/// c.map_blocks(|b| b.to_owned()).unwrap();      // the next run uses the recommendation
/// assert_eq!(c.chunks(), applied);
/// assert_eq!(engine.telemetry().history.len(), 2);
/// ```
#[derive(Debug)]
pub struct AdaptiveChunkingEngine {
    config: EngineConfig,
    enabled: AtomicBool,
    next_id: AtomicU64,
    state: Mutex<State>,
    config_error: Option<String>,
}

impl AdaptiveChunkingEngine {
    /// An engine with `config` (validated).
    ///
    /// ```
    /// use amorsize::array::{AdaptiveChunkingEngine, EngineConfig};
    /// assert!(AdaptiveChunkingEngine::new(EngineConfig::new().workers(0)).is_err());
    /// ```
    pub fn new(config: EngineConfig) -> Result<Self> {
        config.validate()?;
        Ok(AdaptiveChunkingEngine {
            enabled: AtomicBool::new(config.enabled),
            config,
            next_id: AtomicU64::new(1),
            state: Mutex::new(State::default()),
            config_error: None,
        })
    }

    /// The configuration.
    ///
    /// ```
    /// assert!(amorsize::array::global_engine().config().validate().is_ok());
    /// ```
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Turns recording and automatic rechunking on.
    ///
    /// ```
    /// let e = amorsize::array::AdaptiveChunkingEngine::new(Default::default()).unwrap();
    /// e.disable();
    /// e.enable();
    /// assert!(e.is_enabled());
    /// ```
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::SeqCst);
    }

    /// Turns recording and automatic rechunking off (explicit calls still work).
    ///
    /// ```
    /// let e = amorsize::array::AdaptiveChunkingEngine::new(Default::default()).unwrap();
    /// e.disable();
    /// assert!(!e.is_enabled());
    /// ```
    pub fn disable(&self) {
        self.enabled.store(false, Ordering::SeqCst);
    }

    /// Whether it is enabled.
    ///
    /// ```
    /// assert!(amorsize::array::AdaptiveChunkingEngine::new(Default::default()).unwrap().is_enabled());
    /// ```
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn upsert(&self, key: &str, dtype: &str, p: &ProfileReport) -> ArrayId {
        let mut st = self.lock();
        let id = match st.by_key.get(key) {
            Some(&id) => id,
            None => {
                let id = ArrayId(self.next_id.fetch_add(1, Ordering::Relaxed));
                st.by_key.insert(key.to_string(), id);
                id
            }
        };
        let prev = st.profiles.remove(&id);
        let same_shape = prev.as_ref().is_some_and(|q| q.shape == p.shape);
        let counted = prev.as_ref().and_then(|q| q.counted.clone());
        let new_run = ran_a_block(p) && counted.as_ref() != p.last_run.as_ref();
        let profile = ArrayProfile {
            id,
            key: key.to_string(),
            shape: p.shape.clone(),
            dtype: dtype.to_string(),
            element_size: p.element_size,
            current_chunks: p.chunks.clone(),
            execution_time: p.last_run.as_ref().map_or(Duration::ZERO, |r| r.wall),
            stats: ProfilerStats::from(&p.stats),
            recommended_chunks: p.recommended_chunks.clone(),
            reasons: p.reasons.clone(),
            runs: prev.as_ref().map_or(0, |q| q.runs) + usize::from(new_run),
            applied_chunks: prev.and_then(|q| q.applied_chunks).filter(|_| same_shape),
            aggregate: p.stats.clone(),
            counted: if new_run { p.last_run.clone() } else { counted },
        };
        st.profiles.insert(id, profile);
        id
    }

    /// Records `array`'s current profile (its last run, if any) and returns its id. The key is
    /// the array's ([`ChunkedArray::key`]) or, without one, its dtype and shape.
    ///
    /// ```
    /// let e = amorsize::array::AdaptiveChunkingEngine::new(Default::default()).unwrap();
    /// let a = ndarray::Array1::<f64>::ones(10);
    /// let c = amorsize::array::ChunkedArray::with_chunks(a.view(), &[5]).unwrap();
    /// let id = e.profile_array(&c).unwrap();
    /// assert_eq!(e.get_profile(id).unwrap().runs, 0);
    /// // A run is counted once, however often its profile is recorded.
    /// let c = amorsize::array::ChunkedArray::with_chunks_and_engine(a.view(), &[5], &e).unwrap();
    /// c.map_blocks(|b| b.to_owned()).unwrap(); // recorded by the run itself
    /// let id = e.profile_array(&c).unwrap();
    /// e.profile_array(&c).unwrap();
    /// assert_eq!(e.get_profile(id).unwrap().runs, 1);
    /// c.map_blocks(|b| b.to_owned()).unwrap();
    /// assert_eq!(e.get_profile(e.profile_array(&c).unwrap()).unwrap().runs, 2);
    /// ```
    pub fn profile_array<A, D: Dimension>(
        &self,
        array: &ChunkedArray<'_, A, D>,
    ) -> Result<ArrayId> {
        let p = array.profile();
        let dtype = std::any::type_name::<A>();
        let key = array
            .array_key()
            .unwrap_or_else(|| format!("{dtype}{:?}", p.shape));
        Ok(self.upsert(&key, dtype, &p))
    }

    /// Records a finished run (called by the chunked arrays). A run that ran no block (an
    /// array with a zero-length axis) is not recorded: it measured nothing, and recording it
    /// would replace the key's measured aggregate (which the next run's peak model and
    /// recommendation start from) with an empty one and add a history entry with no peak.
    pub(crate) fn record_run(&self, key: &str, dtype: &str, p: &ProfileReport, auto_rechunk: bool) {
        if !self.is_enabled() || !ran_a_block(p) {
            return;
        }
        let id = self.upsert(key, dtype, p);
        let mut st = self.lock();
        if auto_rechunk {
            if let Some(prof) = st.profiles.get_mut(&id) {
                prof.applied_chunks = Some(prof.recommended_chunks.clone());
            }
        }
        if let Some(r) = &p.last_run {
            st.history.push_back(RunRecord {
                id,
                key: key.to_string(),
                operation: r.operation.clone(),
                chunks: r.chunk_shape.clone(),
                wall: r.wall,
                budget_bytes: r.budget_bytes,
                projected_peak: r.projected_peak,
                measured_peak: r.measured_peak,
            });
            while st.history.len() > self.config.history_len {
                st.history.pop_front();
            }
        }
    }

    /// The chunks to use for the next run of `key`, once a recommendation has been applied.
    pub(crate) fn next_chunks(&self, key: &str, shape: &[usize]) -> Option<Vec<usize>> {
        if !self.is_enabled() {
            return None;
        }
        let st = self.lock();
        let id = st.by_key.get(key)?;
        let p = st.profiles.get(id)?;
        if p.shape != shape {
            return None;
        }
        p.applied_chunks.clone()
    }

    /// Measured aggregates of `key`'s last run.
    pub(crate) fn stats_for_key(&self, key: &str) -> Option<AggregateStats> {
        let st = self.lock();
        let id = st.by_key.get(key)?;
        st.profiles
            .get(id)
            .filter(|p| p.aggregate.total_chunks > 0)
            .map(|p| p.aggregate.clone())
    }

    /// What the engine knows about array `id`.
    ///
    /// ```
    /// let e = amorsize::array::AdaptiveChunkingEngine::new(Default::default()).unwrap();
    /// assert!(e.get_profile(amorsize::array::ArrayId(99)).is_none());
    /// ```
    pub fn get_profile(&self, id: ArrayId) -> Option<ArrayProfile> {
        self.lock().profiles.get(&id).cloned()
    }

    /// Makes the next run of array `id`'s key use its recommended chunks; returns them.
    /// Errors: an unknown id ([`Error::InvalidInput`]).
    ///
    /// ```
    /// let e = amorsize::array::AdaptiveChunkingEngine::new(Default::default()).unwrap();
    /// assert!(e.apply_recommendation(amorsize::array::ArrayId(42)).is_err());
    /// ```
    pub fn apply_recommendation(&self, id: ArrayId) -> Result<Vec<usize>> {
        let mut st = self.lock();
        let p = st
            .profiles
            .get_mut(&id)
            .ok_or_else(|| Error::invalid_input("array id", format!("{id} is not tracked")))?;
        p.applied_chunks = Some(p.recommended_chunks.clone());
        Ok(p.recommended_chunks.clone())
    }

    /// Arrays tracked, memory now and the run history.
    ///
    /// ```
    /// let e = amorsize::array::AdaptiveChunkingEngine::new(Default::default()).unwrap();
    /// let t = e.telemetry();
    /// assert_eq!((t.arrays_tracked, t.history.len()), (0, 0));
    /// ```
    pub fn telemetry(&self) -> Telemetry {
        let st = self.lock();
        Telemetry {
            enabled: self.is_enabled(),
            arrays_tracked: st.profiles.len(),
            memory_pressure: MemoryPressure::snapshot().ok(),
            history: st.history.iter().cloned().collect(),
            config_error: self.config_error.clone(),
        }
    }
}

/// Whether `p`'s last run ran at least one block.
fn ran_a_block(p: &ProfileReport) -> bool {
    p.last_run.as_ref().is_some_and(|r| r.chunks > 0)
}

/// The process-wide engine, configured from `AMORSIZE_ARRAY_*` on first use (an invalid
/// environment falls back to the defaults and is reported in [`Telemetry::config_error`]).
///
/// ```
/// let e = amorsize::array::global_engine();
/// assert!(std::ptr::eq(e, amorsize::array::global_engine()));
/// ```
pub fn global_engine() -> &'static AdaptiveChunkingEngine {
    static ENGINE: OnceLock<AdaptiveChunkingEngine> = OnceLock::new();
    ENGINE.get_or_init(|| match EngineConfig::from_env() {
        Ok(c) => AdaptiveChunkingEngine::new(c).unwrap_or_else(|_| default_engine(None)),
        Err(e) => default_engine(Some(e.to_string())),
    })
}

fn default_engine(err: Option<String>) -> AdaptiveChunkingEngine {
    let config = EngineConfig::new();
    AdaptiveChunkingEngine {
        enabled: AtomicBool::new(config.enabled),
        config,
        next_id: AtomicU64::new(1),
        state: Mutex::new(State::default()),
        config_error: err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn env_map_sets_every_variable() {
        let c = EngineConfig::from_env_map(&map(&[
            ("AMORSIZE_ARRAY_ENABLED", "off"),
            ("AMORSIZE_ARRAY_WORKERS", "3"),
            ("AMORSIZE_ARRAY_BUDGET_BYTES", "256MiB"),
            ("AMORSIZE_ARRAY_MEMORY_FRACTION", "0.25"),
            ("AMORSIZE_ARRAY_SAFETY_FACTOR", "0.9"),
            ("AMORSIZE_ARRAY_MIN_CHUNK_BYTES", "64k"),
            ("AMORSIZE_ARRAY_PRESSURE_THRESHOLD", "5"),
            ("AMORSIZE_ARRAY_AUTO_RECHUNK", "1"),
            ("AMORSIZE_ARRAY_HISTORY", "7"),
            ("AMORSIZE_ARRAY_WORKING_SET_BYTES", "2M"),
            ("HOME", "/root"),
        ]))
        .unwrap();
        assert!(!c.enabled);
        assert_eq!(c.workers, Some(3));
        assert_eq!(c.budget_bytes, Some(256 << 20));
        assert_eq!(c.memory_fraction, 0.25);
        assert_eq!(c.safety_factor, 0.9);
        assert_eq!(c.min_chunk_bytes, 64 << 10);
        assert_eq!(c.pressure_threshold, 5.0);
        assert!(c.auto_rechunk);
        assert_eq!(c.history_len, 7);
        assert_eq!(c.working_set_bytes, 2 << 20);
    }

    #[test]
    fn env_map_errors_name_the_variable() {
        for (k, v) in [
            ("AMORSIZE_ARRAY_WORKERS", "many"),
            ("AMORSIZE_ARRAY_ENABLED", "maybe"),
            ("AMORSIZE_ARRAY_TYPO", "1"),
            ("AMORSIZE_ARRAY_MEMORY_FRACTION", "1.5"),
            ("AMORSIZE_ARRAY_WORKERS", "0"),
        ] {
            match EngineConfig::from_env_map(&map(&[(k, v)])) {
                Err(Error::InvalidConfig { setting, .. }) => {
                    assert!(setting.eq_ignore_ascii_case(k), "{k}={v}: named {setting}")
                }
                other => panic!("{k}={v}: {other:?}"),
            }
        }
        assert_eq!(
            EngineConfig::from_env_map(&HashMap::new()).unwrap(),
            EngineConfig::new()
        );
    }

    #[test]
    fn history_is_bounded_and_disabled_engine_records_nothing() {
        let e = AdaptiveChunkingEngine::new(EngineConfig::new().history_len(2).workers(1)).unwrap();
        let a = ndarray::Array1::<f64>::ones(64);
        let c = ChunkedArray::with_chunks_and_engine(a.view(), &[16], &e)
            .unwrap()
            .key("h");
        for _ in 0..3 {
            c.map_blocks(|b| b.to_owned()).unwrap();
        }
        assert_eq!(e.telemetry().history.len(), 2);
        e.disable();
        c.map_blocks(|b| b.to_owned()).unwrap();
        let t = e.telemetry();
        assert!(!t.enabled);
        assert_eq!(t.history.len(), 2);
        assert_eq!(t.arrays_tracked, 1);
        let id = e.lock().by_key["h"];
        assert_eq!(e.get_profile(id).unwrap().runs, 3);
    }
}
