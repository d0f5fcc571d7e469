//! What the machine offers: cores (cgroup-aware), memory (cgroup-aware) and memory pressure,
//! and the cores this program's own threads keep busy ([`BusyThreads`]).
//!
//! This module owns the facts about the machine that a plan depends on. It reads them from
//! Linux's text interfaces (`/proc/cpuinfo`, `/proc/meminfo`, `/proc/pressure/memory`, the cgroup
//! v1 and v2 files, `sched_getaffinity`) once, caches them for the process, and refreshes them on
//! request with [`refresh`]. Every file is parsed by a pure function over `&str` (see [`parse`]),
//! so the parsers are tested on fixture text, not on the machine the tests happen to run on,
//! and the whole detection runs on any directory tree with [`detect_from`] (a fake `/proc` +
//! `/sys` in the tests). Hot paths that must not trust the cache re-read only what they need
//! with [`memory_now`] and [`pressure_now`].
//!
//! ```
//! let info = amorsize::system::info();
//! assert!(info.cores.effective >= 1);
//! println!("{}", info); // a short report
//! ```

use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

pub mod busy;
pub mod parse;

pub use busy::{BusyLooks, BusyThreads};

/// Why the effective core count has the value it has: which limit was the smallest.
///
/// ```
/// use amorsize::system::CoreLimit;
/// let why = amorsize::system::info().cores.limited_by;
/// println!("cores limited by {why}"); // e.g. "the cgroup CPU quota"
/// assert_eq!(CoreLimit::CgroupQuota.to_string(), "the cgroup CPU quota");
/// ```
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
///
/// ```
/// let cores = &amorsize::system::info().cores;
/// assert!(cores.effective >= 1 && cores.effective <= cores.logical);
/// println!("{cores}"); // "2 effective, limited by ... (logical 2, physical 2, ...)"
/// ```
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
///
/// ```
/// let memory = amorsize::system::memory_now();
/// if let Some(limit) = memory.cgroup_limit {
///     assert!(memory.available <= limit);
/// }
/// println!("{memory}"); // "22.4 GiB available of 23.5 GiB total; no cgroup limit, ..."
/// ```
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
///
/// ```
/// match amorsize::system::pressure_now() {
///     Some(p) if p.some_avg10 > 10.0 => println!("memory is tight: {p}"),
///     Some(p) => println!("memory pressure: {p}"),
///     None => println!("no PSI on this kernel"),
/// }
/// ```
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
///
/// ```
/// let info = amorsize::system::info();
/// println!("{info}"); // cores, memory, pressure: three lines
/// let json = serde_json::to_value(&*info).unwrap();
/// assert!(json["cores"]["effective"].as_u64().unwrap() >= 1);
/// ```
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
/// Reads the real `/proc` and `/sys` (see [`detect_from`]) and the affinity mask of the calling
/// thread (see [`affinity_now`]). Never fails: a fact that cannot be read is left out (`None`)
/// or falls back to a safe value (logical cores from the standard library, memory 0).
///
/// ```
/// let now = amorsize::system::detect();
/// assert!(now.cores.logical >= now.cores.effective);
/// ```
pub fn detect() -> SystemInfo {
    detect_from(Path::new("/"), affinity_now())
}

/// Detects the machine from the files under `root` (`/` for the real machine, a fake `/proc` +
/// `/sys` tree in tests).
///
/// Every path — `/proc/self/cgroup`, `/proc/self/mountinfo`, the cgroup mount points named in
/// it, `/proc/meminfo`, `/proc/cpuinfo`, `/proc/pressure/memory`,
/// `/sys/devices/system/cpu/online` — is read relative to `root`. The affinity mask is a
/// property of the calling thread, not of a file, so the caller passes it: `detect` passes
/// [`affinity_now()`]; a test passes what it wants. When `affinity` is `None`, the cgroup's
/// `cpuset` (if any) stands in for it. A missing or malformed file never fails detection; the
/// fact it holds is treated as unknown.
///
/// ```
/// use std::path::Path;
/// // An empty tree: nothing is known, yet the result is usable.
/// let dir = std::env::temp_dir().join("amorsize-doc-detect-from-empty");
/// let _ = std::fs::create_dir_all(&dir);
/// let info = amorsize::system::detect_from(&dir, Some(1));
/// assert_eq!(info.cores.effective, 1);
/// assert_eq!(info.memory.total, 0);
/// assert!(info.pressure.is_none());
/// ```
pub fn detect_from(root: &Path, affinity: Option<usize>) -> SystemInfo {
    let cgroups = Cgroups::read(root);
    SystemInfo {
        cores: cores_with(root, &cgroups, affinity),
        memory: memory_with(root, &cgroups),
        pressure: pressure_from(root),
    }
}

/// Reads the core facts under `root` (see [`detect_from`]) and combines them with
/// [`effective_cores`].
///
/// ```
/// let dir = std::env::temp_dir().join("amorsize-doc-cores-from-empty");
/// let _ = std::fs::create_dir_all(&dir);
/// let cores = amorsize::system::cores_from(&dir, Some(3));
/// assert_eq!(cores.affinity, Some(3));
/// assert!(cores.effective >= 1 && cores.effective <= 3);
/// ```
pub fn cores_from(root: &Path, affinity: Option<usize>) -> CoreInfo {
    cores_with(root, &Cgroups::read(root), affinity)
}

/// Reads the memory facts under `root` (see [`detect_from`]).
///
/// ```
/// let dir = std::env::temp_dir().join("amorsize-doc-memory-from-empty");
/// let _ = std::fs::create_dir_all(&dir);
/// let memory = amorsize::system::memory_from(&dir);
/// assert_eq!((memory.total, memory.available, memory.cgroup_limit), (0, 0, None));
/// ```
pub fn memory_from(root: &Path) -> MemoryInfo {
    memory_with(root, &Cgroups::read(root))
}

/// Reads `/proc/pressure/memory` under `root`; `None` when the file is absent (kernels without
/// PSI) or malformed.
///
/// ```
/// let dir = std::env::temp_dir().join("amorsize-doc-pressure-from-empty");
/// let _ = std::fs::create_dir_all(&dir);
/// assert!(amorsize::system::pressure_from(&dir).is_none());
/// ```
pub fn pressure_from(root: &Path) -> Option<Pressure> {
    read_parsed(root, "/proc/pressure/memory", parse::pressure)
}

/// The memory of the machine and the cgroup right now, for hot paths (arrays, the process
/// runner) that must not trust a cached value. Reads only `/proc/meminfo`, `/proc/self/cgroup`,
/// `/proc/self/mountinfo` and the cgroup's memory files; nothing is cached.
///
/// ```
/// let m = amorsize::system::memory_now();
/// assert!(m.available <= m.total || m.total == 0);
/// ```
pub fn memory_now() -> MemoryInfo {
    memory_from(Path::new("/"))
}

/// The core facts of the machine right now, for callers that need nothing else (the process
/// runner's start): the cgroup files, `/proc/cpuinfo`, `/sys/devices/system/cpu/online` and
/// the calling thread's affinity mask, without the memory and pressure files that
/// [`detect`] also reads. Nothing is cached.
///
/// ```
/// let c = amorsize::system::cores_now();
/// assert!(c.effective >= 1 && c.effective <= c.logical.max(1));
/// ```
pub fn cores_now() -> CoreInfo {
    cores_from(Path::new("/"), affinity_now())
}

/// Memory pressure right now (`/proc/pressure/memory`), or `None` where the kernel has no PSI.
/// Reads that one file; nothing is cached.
///
/// ```
/// if let Some(p) = amorsize::system::pressure_now() {
///     assert!(p.some_avg10 >= 0.0 && p.some_avg10 <= 100.0);
/// }
/// ```
pub fn pressure_now() -> Option<Pressure> {
    pressure_from(Path::new("/"))
}

/// The number of CPUs in the calling thread's affinity mask (`sched_getaffinity`), or `None`
/// when the kernel refuses to tell (e.g. more CPUs than `cpu_set_t` holds).
///
/// ```
/// if let Some(n) = amorsize::system::affinity_now() {
///     assert!(n >= 1);
/// }
/// ```
pub fn affinity_now() -> Option<usize> {
    // SAFETY: cpu_set_t is plain data (a bit array), for which all-zero is a valid value;
    // sched_getaffinity writes at most size_of::<cpu_set_t>() bytes into it, and CPU_COUNT only
    // reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return None;
        }
        let n = libc::CPU_COUNT(&set);
        usize::try_from(n).ok().filter(|&n| n >= 1)
    }
}

/// The effective core count and which limit gave it: `max(1, min(logical, physical,
/// ceil(quota), affinity))`. On a tie the more specific limit is named: the cgroup quota, then
/// the affinity mask, then physical cores, then logical CPUs. A quota that is not a positive
/// finite number is ignored.
///
/// ```
/// use amorsize::system::{effective_cores, CoreLimit};
/// assert_eq!(effective_cores(8, 4, Some(1.5), None), (2, CoreLimit::CgroupQuota));
/// assert_eq!(effective_cores(8, 4, None, Some(4)), (4, CoreLimit::Affinity));
/// assert_eq!(effective_cores(8, 4, None, None), (4, CoreLimit::Physical));
/// assert_eq!(effective_cores(8, 8, None, None), (8, CoreLimit::Physical)); // tie: the more specific
/// assert_eq!(effective_cores(4, 8, None, None), (4, CoreLimit::Logical));
/// assert_eq!(effective_cores(0, 0, Some(0.2), None).0, 1); // never below 1
/// ```
pub fn effective_cores(
    logical: usize,
    physical: usize,
    quota: Option<f64>,
    affinity: Option<usize>,
) -> (usize, CoreLimit) {
    let quota_cores = quota.filter(|q| q.is_finite() && *q > 0.0).map(|q| {
        let c = q.ceil();
        if c >= usize::MAX as f64 {
            usize::MAX
        } else {
            c as usize
        }
    });
    // Most specific first, so that `min_by_key` (which keeps the first minimum) names it on ties.
    let candidates = [
        (CoreLimit::CgroupQuota, quota_cores),
        (CoreLimit::Affinity, affinity),
        (CoreLimit::Physical, Some(physical)),
        (CoreLimit::Logical, Some(logical)),
    ];
    let (limit, n) = candidates
        .iter()
        .filter_map(|(l, n)| n.map(|n| (*l, n)))
        .min_by_key(|(_, n)| *n)
        .unwrap_or((CoreLimit::Logical, logical));
    (n.max(1), limit)
}

/// Memory the process can still use: `min(mem_available, limit − (current − reclaimable))`,
/// with saturating arithmetic (usage above the limit gives 0, never an underflow). Without a
/// limit it is `mem_available`; without a known usage the whole limit counts as headroom.
///
/// ```
/// use amorsize::system::available_memory;
/// let gib = 1u64 << 30;
/// assert_eq!(available_memory(20 * gib, Some(4 * gib), Some(3 * gib), Some(gib)), 2 * gib);
/// assert_eq!(available_memory(gib, Some(4 * gib), Some(0), None), gib);
/// assert_eq!(available_memory(gib, Some(gib), Some(2 * gib), None), 0);
/// assert_eq!(available_memory(gib, None, Some(2 * gib), None), gib);
/// ```
pub fn available_memory(
    mem_available: u64,
    limit: Option<u64>,
    current: Option<u64>,
    reclaimable: Option<u64>,
) -> u64 {
    match limit {
        None => mem_available,
        Some(limit) => {
            let used = current
                .unwrap_or(0)
                .saturating_sub(reclaimable.unwrap_or(0));
            mem_available.min(limit.saturating_sub(used))
        }
    }
}

/// Formats a byte count for a person: `512 B`, `12.0 KiB`, `7.8 MiB`, `23.2 GiB`.
///
/// ```
/// assert_eq!(amorsize::system::format_bytes(512), "512 B");
/// assert_eq!(amorsize::system::format_bytes(3 << 29), "1.5 GiB");
/// ```
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Joins an absolute path (as the kernel names it) onto `root`.
fn under(root: &Path, path: impl AsRef<Path>) -> PathBuf {
    let path = path.as_ref();
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// Reads a small text file under `root`; `None` when it cannot be read.
fn read(root: &Path, path: impl AsRef<Path>) -> Option<String> {
    std::fs::read_to_string(under(root, path)).ok()
}

/// Reads and parses a file under `root`; `None` when it cannot be read or parsed.
fn read_parsed<T>(
    root: &Path,
    path: impl AsRef<Path>,
    parser: impl FnOnce(&str) -> crate::Result<T>,
) -> Option<T> {
    read(root, path).and_then(|text| parser(&text).ok())
}

/// Where this process's cpu, cpuset and memory controllers live (absolute paths as the kernel
/// names them; join them onto the root to read).
#[derive(Debug, Default)]
struct Cgroups {
    cpu: Option<parse::ControllerDir>,
    cpuset: Option<parse::ControllerDir>,
    memory: Option<parse::ControllerDir>,
}

impl Cgroups {
    fn read(root: &Path) -> Cgroups {
        let lines = read_parsed(root, "/proc/self/cgroup", parse::proc_self_cgroup);
        let mounts = read_parsed(root, "/proc/self/mountinfo", parse::mountinfo);
        let (Some(lines), Some(mounts)) = (lines, mounts) else {
            return Cgroups::default();
        };
        Cgroups {
            cpu: parse::controller_dir(&lines, &mounts, "cpu"),
            cpuset: parse::controller_dir(&lines, &mounts, "cpuset"),
            memory: parse::controller_dir(&lines, &mounts, "memory"),
        }
    }
}

/// The CPU quota in cores: the smallest over the cgroup and its ancestors.
fn cgroup_quota(root: &Path, dir: &parse::ControllerDir) -> Option<f64> {
    dir.ancestors()
        .filter_map(|d| match dir.version {
            parse::CgroupVersion::V2 => read_parsed(root, d.join("cpu.max"), parse::cpu_max)?,
            parse::CgroupVersion::V1 => {
                let quota = read(root, d.join("cpu.cfs_quota_us"))?;
                let period = read(root, d.join("cpu.cfs_period_us"))?;
                parse::cfs_quota(&quota, &period).ok()?
            }
        })
        .min_by(f64::total_cmp)
}

/// CPUs in the cgroup's cpuset (the effective set where the kernel reports it).
fn cgroup_cpuset(root: &Path, dir: &parse::ControllerDir) -> Option<usize> {
    let files: &[&str] = match dir.version {
        parse::CgroupVersion::V2 => &["cpuset.cpus.effective"],
        parse::CgroupVersion::V1 => &["cpuset.effective_cpus", "cpuset.cpus"],
    };
    files
        .iter()
        .find_map(|f| read_parsed(root, dir.dir.join(f), parse::cpu_list))
}

fn cores_with(root: &Path, cgroups: &Cgroups, affinity: Option<usize>) -> CoreInfo {
    let cpuinfo = read_parsed(root, "/proc/cpuinfo", parse::cpuinfo);
    let logical = read_parsed(root, "/sys/devices/system/cpu/online", parse::cpu_list)
        .or_else(|| cpuinfo.map(|c| c.processors).filter(|&n| n > 0))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let physical = cpuinfo
        .and_then(|c| c.physical)
        .map_or(logical, |p| p.min(logical));
    let cgroup_quota = cgroups.cpu.as_ref().and_then(|d| cgroup_quota(root, d));
    let affinity =
        affinity.or_else(|| cgroups.cpuset.as_ref().and_then(|d| cgroup_cpuset(root, d)));
    let (effective, limited_by) = effective_cores(logical, physical, cgroup_quota, affinity);
    CoreInfo {
        logical,
        physical,
        cgroup_quota,
        affinity,
        effective,
        limited_by,
    }
}

fn memory_with(root: &Path, cgroups: &Cgroups) -> MemoryInfo {
    let meminfo = read_parsed(root, "/proc/meminfo", parse::meminfo);
    let (total, mem_available) = meminfo.map_or((0, 0), |m| (m.total, m.available));
    let Some(dir) = cgroups.memory.as_ref() else {
        return MemoryInfo {
            total,
            available: mem_available,
            cgroup_limit: None,
            cgroup_current: None,
            cgroup_reclaimable: None,
        };
    };
    let (limit_file, usage_file) = match dir.version {
        parse::CgroupVersion::V2 => ("memory.max", "memory.current"),
        parse::CgroupVersion::V1 => ("memory.limit_in_bytes", "memory.usage_in_bytes"),
    };
    let limit_at = |d: &Path| read_parsed(root, d.join(limit_file), parse::memory_limit).flatten();
    // Usage and cache are read only where they matter (the innermost cgroup, and a parent that
    // has a limit): `memory.stat` is the most expensive file to read.
    let usage_at = |d: &Path| {
        (
            read_parsed(root, d.join(usage_file), parse::memory_usage),
            read_parsed(root, d.join("memory.stat"), parse::memory_stat_reclaimable).flatten(),
        )
    };
    // The innermost cgroup's usage is reported unless a parent's limit leaves less headroom: then
    // that parent's limit, usage and cache describe what binds the process.
    let (current, reclaimable) = usage_at(&dir.dir);
    let mut reported = (limit_at(&dir.dir), current, reclaimable);
    let mut headroom = reported
        .0
        .map(|_| available_memory(u64::MAX, reported.0, reported.1, reported.2));
    for ancestor in dir.ancestors().skip(1) {
        let Some(limit) = limit_at(&ancestor) else {
            continue;
        };
        let (current, reclaimable) = usage_at(&ancestor);
        let room = available_memory(u64::MAX, Some(limit), current, reclaimable);
        if headroom.is_none_or(|h| room < h) {
            headroom = Some(room);
            reported = (Some(limit), current, reclaimable);
        }
    }
    let (cgroup_limit, cgroup_current, cgroup_reclaimable) = reported;
    let available = if meminfo.is_some() {
        available_memory(
            mem_available,
            cgroup_limit,
            cgroup_current,
            cgroup_reclaimable,
        )
    } else {
        // No /proc/meminfo: the cgroup headroom is all we know.
        headroom.unwrap_or(0)
    };
    MemoryInfo {
        total: if meminfo.is_some() {
            total
        } else {
            cgroup_limit.unwrap_or(0)
        },
        available,
        cgroup_limit,
        cgroup_current,
        cgroup_reclaimable,
    }
}

impl fmt::Display for CoreLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CoreLimit::Logical => "logical CPUs",
            CoreLimit::Physical => "physical cores",
            CoreLimit::CgroupQuota => "the cgroup CPU quota",
            CoreLimit::Affinity => "the CPU affinity mask",
        })
    }
}

impl fmt::Display for CoreInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} effective, limited by {} (logical {}, physical {}, cgroup quota ",
            self.effective, self.limited_by, self.logical, self.physical
        )?;
        match self.cgroup_quota {
            Some(q) => write!(f, "{q:.2}")?,
            None => f.write_str("none")?,
        }
        f.write_str(", affinity ")?;
        match self.affinity {
            Some(a) => write!(f, "{a})"),
            None => f.write_str("unknown)"),
        }
    }
}

impl fmt::Display for MemoryInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} available of {} total",
            format_bytes(self.available),
            format_bytes(self.total)
        )?;
        match self.cgroup_limit {
            Some(l) => write!(f, "; cgroup limit {}", format_bytes(l))?,
            None => f.write_str("; no cgroup limit")?,
        }
        if let Some(c) = self.cgroup_current {
            write!(f, ", cgroup uses {}", format_bytes(c))?;
            if let Some(r) = self.cgroup_reclaimable {
                write!(f, " ({} reclaimable cache)", format_bytes(r))?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pressure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "some {:.2}% / {:.2}% / {:.2}% (10 s / 60 s / 300 s), full {:.2}% (10 s)",
            self.some_avg10, self.some_avg60, self.some_avg300, self.full_avg10
        )
    }
}

impl fmt::Display for SystemInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "cores:    {}", self.cores)?;
        writeln!(f, "memory:   {}", self.memory)?;
        match &self.pressure {
            Some(p) => write!(f, "pressure: {p}"),
            None => write!(f, "pressure: not reported by this kernel"),
        }
    }
}
