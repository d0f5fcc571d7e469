//! What the machine offers: cores (cgroup-aware), memory (cgroup-aware) and memory pressure.
//!
//! This module owns the facts about the machine that a plan depends on. It reads them from
//! Linux's text interfaces (`/proc/cpuinfo`, `/proc/meminfo`, `/proc/pressure/memory`, the cgroup
//! v1 and v2 files, `sched_getaffinity`) once, caches them for the process, and refreshes them on
//! request with [`refresh`]. Every file is parsed by a pure function over `&str` (see [`parse`]),
//! so the parsers are tested on fixture text, not on the machine the tests happen to run on.
//!
//! ```
//! let info = amorsize::system::info();
//! assert!(info.cores.effective >= 1);
//! println!("{}", info); // a short report
//! ```

use serde::Serialize;
use std::fmt;
use std::sync::{Arc, RwLock};

/// Why the effective core count has the value it has: which limit was the smallest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CoreLimit {
    /// The number of logical CPUs the kernel reports.
    Logical,
    /// The number of physical cores (hyper-threads share a core).
    Physical,
    /// The cgroup CPU quota (`cpu.max` or `cpu.cfs_quota_us` / `cpu.cfs_period_us`).
    CgroupQuota,
    /// The process's CPU affinity mask.
    Affinity,
}

/// Core counts and which of them limits the effective count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoreInfo {
    /// Logical CPUs online.
    pub logical: usize,
    /// Physical cores (equal to `logical` when it cannot be told).
    pub physical: usize,
    /// The cgroup CPU quota in cores (`quota / period`), if one is set.
    pub cgroup_quota: Option<f64>,
    /// CPUs in the affinity mask, if it could be read.
    pub affinity: Option<usize>,
    /// The smallest of the above (the quota rounded up), at least 1.
    pub effective: usize,
    /// Which limit gave `effective`.
    pub limited_by: CoreLimit,
}

/// Memory in bytes, lowered by the cgroup limit where one is set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryInfo {
    /// `MemTotal`.
    pub total: u64,
    /// `MemAvailable` (or free + cached on old kernels), lowered by the cgroup headroom.
    pub available: u64,
    /// The cgroup's memory limit (`memory.max` / `memory.limit_in_bytes`), if one is set.
    pub cgroup_limit: Option<u64>,
    /// The cgroup's current usage (`memory.current` / `memory.usage_in_bytes`), if known.
    pub cgroup_current: Option<u64>,
    /// Reclaimable file cache inside the cgroup (`file` / `inactive_file` of `memory.stat`), if known.
    pub cgroup_reclaimable: Option<u64>,
}

/// Pressure stall information for memory (`/proc/pressure/memory`, the `some` line).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pressure {
    /// Share of the last 10 s in which some task stalled on memory, in percent.
    pub some_avg10: f64,
    /// Same over 60 s.
    pub some_avg60: f64,
    /// Same over 300 s.
    pub some_avg300: f64,
    /// Share of the last 10 s in which all tasks stalled, in percent (0 when absent).
    pub full_avg10: f64,
}

/// Everything [`info`] knows about the machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SystemInfo {
    /// Cores.
    pub cores: CoreInfo,
    /// Memory.
    pub memory: MemoryInfo,
    /// Memory pressure, where the kernel provides it.
    pub pressure: Option<Pressure>,
}

static CACHE: RwLock<Option<Arc<SystemInfo>>> = RwLock::new(None);

/// The machine, detected on first use and cached for the process.
///
/// ```
/// let a = amorsize::system::info();
/// let b = amorsize::system::info();
/// assert!(std::sync::Arc::ptr_eq(&a, &b)); // cached
/// ```
pub fn info() -> Arc<SystemInfo> {
    if let Some(i) = CACHE.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return Arc::clone(i);
    }
    refresh()
}

/// Detects the machine again (memory and pressure change; cores rarely do) and caches the result.
///
/// ```
/// let fresh = amorsize::system::refresh();
/// assert!(fresh.memory.total >= fresh.memory.available);
/// ```
pub fn refresh() -> Arc<SystemInfo> {
    let info = Arc::new(detect());
    *CACHE.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&info));
    info
}

/// Detects the machine now, without touching the cache.
///
/// ```
/// let now = amorsize::system::detect();
/// assert!(now.cores.logical >= now.cores.effective);
/// ```
pub fn detect() -> SystemInfo {
    // Placeholder until the parsers land: std's view of the cores, no memory facts.
    let logical = std::thread::available_parallelism().map_or(1, |n| n.get());
    SystemInfo {
        cores: CoreInfo {
            logical,
            physical: logical,
            cgroup_quota: None,
            affinity: None,
            effective: logical,
            limited_by: CoreLimit::Logical,
        },
        memory: MemoryInfo {
            total: 0,
            available: 0,
            cgroup_limit: None,
            cgroup_current: None,
            cgroup_reclaimable: None,
        },
        pressure: None,
    }
}

impl fmt::Display for SystemInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "cores: {} effective (limited by {:?}; logical {}, physical {})",
            self.cores.effective, self.cores.limited_by, self.cores.logical, self.cores.physical
        )?;
        write!(
            f,
            "memory: {} MiB available of {} MiB",
            self.memory.available >> 20,
            self.memory.total >> 20
        )
    }
}

/// Pure parsers of the kernel's text files, tested on fixtures.
pub mod parse {}
