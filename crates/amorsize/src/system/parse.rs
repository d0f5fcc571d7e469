//! Pure parsers of the kernel's text files, tested on fixtures.
//!
//! Each function takes the text of one file (or two, for the cgroup v1 CPU quota) and returns
//! the facts amorsize needs, or [`Error::Parse`] naming the file and what was wrong with it. None
//! of them touches the file system, and none of them panics on any input: the detection in
//! [`crate::system`] reads the files and hands their text here.
//!
//! ```
//! use amorsize::system::parse;
//! assert_eq!(parse::cpu_max("150000 100000\n")?, Some(1.5));
//! assert_eq!(parse::cpu_list("0-3,8,10-11")?, 7);
//! # Ok::<(), amorsize::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::system::Pressure;
use serde::Serialize;
use std::path::{Component, Path, PathBuf};

/// A cgroup v1 limit at or above this value means "no limit": the kernel reports "unlimited" as
/// `LONG_MAX` rounded down to a page (9223372036854771712 with 4 KiB pages).
///
/// ```
/// use amorsize::system::parse::UNLIMITED_THRESHOLD;
/// assert!(9223372036854771712 >= UNLIMITED_THRESHOLD);
/// assert!(1u64 << 50 < UNLIMITED_THRESHOLD); // a petabyte is still a real limit
/// ```
pub const UNLIMITED_THRESHOLD: u64 = 1 << 62;

/// The period the kernel uses when `cpu.max` gives only a quota (microseconds).
const DEFAULT_PERIOD_US: u64 = 100_000;

fn err(what: &str, reason: impl Into<String>) -> Error {
    Error::Parse {
        what: what.to_string(),
        reason: reason.into(),
    }
}

/// Shortens a token for an error message so that a huge malformed input does not become a huge
/// message.
fn show(token: &str) -> String {
    const MAX: usize = 40;
    if token.chars().count() <= MAX {
        format!("{token:?}")
    } else {
        let head: String = token.chars().take(MAX).collect();
        format!("{head:?}...")
    }
}

fn parse_u64(what: &str, token: &str) -> Result<u64> {
    token.parse::<u64>().map_err(|_| {
        err(
            what,
            format!("{} is not a non-negative integer", show(token)),
        )
    })
}

/// Parses cgroup v2 `cpu.max` (`"$QUOTA $PERIOD"` in microseconds, `$QUOTA` may be `max`) into
/// the quota in cores, or `None` when there is no quota.
///
/// ```
/// use amorsize::system::parse::cpu_max;
/// assert_eq!(cpu_max("max 100000\n")?, None);
/// assert_eq!(cpu_max("150000 100000")?, Some(1.5));
/// assert!(cpu_max("150000 0").is_err());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn cpu_max(text: &str) -> Result<Option<f64>> {
    const WHAT: &str = "cpu.max";
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let (quota, period) = match tokens.as_slice() {
        [q] => (*q, None),
        [q, p] => (*q, Some(*p)),
        [] => return Err(err(WHAT, "empty")),
        _ => return Err(err(WHAT, "expected \"$QUOTA $PERIOD\"")),
    };
    let period = match period {
        Some(p) => parse_u64(WHAT, p)?,
        None => DEFAULT_PERIOD_US,
    };
    if period == 0 {
        return Err(err(WHAT, "the period is zero"));
    }
    if quota == "max" {
        return Ok(None);
    }
    let quota = parse_u64(WHAT, quota)?;
    if quota == 0 {
        return Err(err(WHAT, "the quota is zero"));
    }
    Ok(Some(quota as f64 / period as f64))
}

/// Parses cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` into the quota in cores, or
/// `None` when the quota is `-1` (no quota).
///
/// ```
/// use amorsize::system::parse::cfs_quota;
/// assert_eq!(cfs_quota("-1\n", "100000\n")?, None);
/// assert_eq!(cfs_quota("50000", "100000")?, Some(0.5));
/// assert!(cfs_quota("abc", "100000").is_err());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn cfs_quota(quota_text: &str, period_text: &str) -> Result<Option<f64>> {
    let quota = quota_text.trim();
    let quota: i64 = quota.parse().map_err(|_| {
        err(
            "cpu.cfs_quota_us",
            format!("{} is not an integer", show(quota)),
        )
    })?;
    if quota < 0 {
        return Ok(None);
    }
    if quota == 0 {
        return Err(err("cpu.cfs_quota_us", "the quota is zero"));
    }
    let period = parse_u64("cpu.cfs_period_us", period_text.trim())?;
    if period == 0 {
        return Err(err("cpu.cfs_period_us", "the period is zero"));
    }
    Ok(Some(quota as f64 / period as f64))
}

/// Counts the CPUs in a kernel CPU list such as `/sys/devices/system/cpu/online` or
/// `cpuset.cpus` (`"0-3,8,10-11"`). Overlapping ranges are counted once. An empty list is an
/// error (the caller decides what an empty `cpuset.cpus` means).
///
/// ```
/// use amorsize::system::parse::cpu_list;
/// assert_eq!(cpu_list("0-3,8,10-11\n")?, 7);
/// assert_eq!(cpu_list("0")?, 1);
/// assert!(cpu_list("3-1").is_err());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn cpu_list(text: &str) -> Result<usize> {
    const WHAT: &str = "CPU list";
    let text = text.trim();
    if text.is_empty() {
        return Err(err(WHAT, "empty"));
    }
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (parse_u64(WHAT, a.trim())?, parse_u64(WHAT, b.trim())?),
            None => {
                let a = parse_u64(WHAT, part)?;
                (a, a)
            }
        };
        if lo > hi {
            return Err(err(WHAT, format!("range {} is reversed", show(part))));
        }
        ranges.push((lo, hi));
    }
    ranges.sort_unstable();
    let mut count: u64 = 0;
    let mut covered_to: Option<u64> = None; // highest CPU already counted
    for (lo, hi) in ranges {
        let start = match covered_to {
            Some(c) if c >= hi => continue,
            Some(c) if c >= lo => c + 1,
            _ => lo,
        };
        count = count.saturating_add((hi - start).saturating_add(1));
        covered_to = Some(hi);
    }
    Ok(usize::try_from(count).unwrap_or(usize::MAX))
}

/// Total and available memory from `/proc/meminfo`, in bytes.
///
/// ```
/// let m = amorsize::system::parse::meminfo("MemTotal: 2048 kB\nMemAvailable: 1024 kB\n")?;
/// assert_eq!(m, amorsize::system::parse::Meminfo { total: 2 << 20, available: 1 << 20 });
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Meminfo {
    /// `MemTotal`.
    pub total: u64,
    /// `MemAvailable`, or `MemFree + Buffers + Cached` on kernels older than 3.14.
    pub available: u64,
}

/// Parses `/proc/meminfo` into [`Meminfo`]. `MemTotal` is required; `MemAvailable` is used when
/// present, else `MemFree + Buffers + Cached`.
///
/// ```
/// use amorsize::system::parse::meminfo;
/// let m = meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 600 kB\n")?;
/// assert_eq!((m.total, m.available), (1000 * 1024, 600 * 1024));
/// let old = meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\nCached: 200 kB\n")?;
/// assert_eq!(old.available, 310 * 1024);
/// assert!(meminfo("MemFree: 100 kB\n").is_err());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn meminfo(text: &str) -> Result<Meminfo> {
    const WHAT: &str = "/proc/meminfo";
    let (mut total, mut available, mut free, mut buffers, mut cached) =
        (None, None, None, None, None);
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| err(WHAT, format!("line {} has no ':'", show(line))))?;
        let slot = match key.trim() {
            "MemTotal" => &mut total,
            "MemAvailable" => &mut available,
            "MemFree" => &mut free,
            "Buffers" => &mut buffers,
            "Cached" => &mut cached,
            _ => continue,
        };
        let mut tokens = value.split_whitespace();
        let number = tokens
            .next()
            .ok_or_else(|| err(WHAT, format!("{} has no value", key.trim())))?;
        let number = parse_u64(WHAT, number)?;
        let bytes = match (tokens.next(), tokens.next()) {
            (None, None) => number,
            (Some("kB"), None) => number.saturating_mul(1024),
            _ => {
                return Err(err(
                    WHAT,
                    format!("{} has an unknown unit", show(line.trim())),
                ))
            }
        };
        *slot = Some(bytes);
    }
    let total = total.ok_or_else(|| err(WHAT, "no MemTotal line"))?;
    let available = match (available, free) {
        (Some(a), _) => a,
        (None, Some(f)) => f
            .saturating_add(buffers.unwrap_or(0))
            .saturating_add(cached.unwrap_or(0)),
        (None, None) => return Err(err(WHAT, "neither MemAvailable nor MemFree")),
    };
    Ok(Meminfo { total, available })
}

/// Parses a cgroup memory limit: v2 `memory.max` (`max` means none) or v1
/// `memory.limit_in_bytes` (a value at or above [`UNLIMITED_THRESHOLD`], such as
/// 9223372036854771712, means none).
///
/// ```
/// use amorsize::system::parse::memory_limit;
/// assert_eq!(memory_limit("max\n")?, None);
/// assert_eq!(memory_limit("9223372036854771712\n")?, None);
/// assert_eq!(memory_limit("536870912")?, Some(512 << 20));
/// assert!(memory_limit("lots").is_err());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn memory_limit(text: &str) -> Result<Option<u64>> {
    let text = text.trim();
    if text == "max" || text == "-1" {
        return Ok(None);
    }
    let limit = parse_u64("cgroup memory limit", text)?;
    Ok((limit < UNLIMITED_THRESHOLD).then_some(limit))
}

/// Parses the cgroup's current memory use: v2 `memory.current` or v1 `memory.usage_in_bytes`.
///
/// ```
/// use amorsize::system::parse::memory_usage;
/// assert_eq!(memory_usage("8138752\n")?, 8138752);
/// assert!(memory_usage("").is_err());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn memory_usage(text: &str) -> Result<u64> {
    parse_u64("cgroup memory usage", text.trim())
}

/// Parses `memory.stat` for the file cache the kernel can reclaim before it would hit the limit:
/// `total_inactive_file` (v1, hierarchical) or `inactive_file` (v1 and v2), else `file` (v2, all
/// file cache). `None` when none of these keys is present.
///
/// ```
/// use amorsize::system::parse::memory_stat_reclaimable;
/// assert_eq!(memory_stat_reclaimable("anon 10\nfile 300\ninactive_file 200\n")?, Some(200));
/// assert_eq!(memory_stat_reclaimable("anon 10\nfile 300\n")?, Some(300));
/// assert_eq!(memory_stat_reclaimable("anon 10\n")?, None);
/// assert!(memory_stat_reclaimable("inactive_file x\n").is_err());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn memory_stat_reclaimable(text: &str) -> Result<Option<u64>> {
    const WHAT: &str = "memory.stat";
    // Lower rank wins.
    let mut best: Option<(u8, u64)> = None;
    for line in text.lines() {
        let mut tokens = line.split_whitespace();
        let (key, value) = match (tokens.next(), tokens.next(), tokens.next()) {
            (None, _, _) => continue,
            (Some(k), Some(v), None) => (k, v),
            _ => {
                return Err(err(
                    WHAT,
                    format!("line {} is not \"key value\"", show(line)),
                ))
            }
        };
        let rank = match key {
            "total_inactive_file" => 0,
            "inactive_file" => 1,
            "file" => 2,
            _ => continue,
        };
        let value = parse_u64(WHAT, value)?;
        if best.is_none_or(|(r, _)| rank < r) {
            best = Some((rank, value));
        }
    }
    Ok(best.map(|(_, v)| v))
}

/// Parses pressure stall information (`/proc/pressure/memory`): the `some` line is required,
/// the `full` line is optional (its `avg10` is 0 when absent).
///
/// ```
/// use amorsize::system::parse::pressure;
/// let p = pressure("some avg10=1.50 avg60=0.20 avg300=0.00 total=123\n\
///                   full avg10=0.50 avg60=0.00 avg300=0.00 total=45\n")?;
/// assert_eq!((p.some_avg10, p.some_avg60, p.full_avg10), (1.5, 0.2, 0.5));
/// assert!(pressure("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n").is_err());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn pressure(text: &str) -> Result<Pressure> {
    const WHAT: &str = "pressure stall information";
    let mut some: Option<[f64; 3]> = None;
    let mut full: Option<[f64; 3]> = None;
    for line in text.lines() {
        let mut tokens = line.split_whitespace();
        let slot = match tokens.next() {
            None => continue,
            Some("some") => &mut some,
            Some("full") => &mut full,
            Some(other) => return Err(err(WHAT, format!("unknown line kind {}", show(other)))),
        };
        let mut avgs: [Option<f64>; 3] = [None; 3];
        for token in tokens {
            let (key, value) = token
                .split_once('=')
                .ok_or_else(|| err(WHAT, format!("{} is not key=value", show(token))))?;
            let index = match key {
                "avg10" => 0,
                "avg60" => 1,
                "avg300" => 2,
                "total" => {
                    parse_u64(WHAT, value)?;
                    continue;
                }
                _ => continue,
            };
            let v: f64 = value
                .parse()
                .map_err(|_| err(WHAT, format!("{} is not a number", show(value))))?;
            if !v.is_finite() || !(0.0..=100.0).contains(&v) {
                return Err(err(WHAT, format!("{key}={v} is not a percentage")));
            }
            avgs[index] = Some(v);
        }
        match avgs {
            [Some(a), Some(b), Some(c)] => *slot = Some([a, b, c]),
            _ => return Err(err(WHAT, "a line lacks avg10, avg60 or avg300")),
        }
    }
    let some = some.ok_or_else(|| err(WHAT, "no \"some\" line"))?;
    Ok(Pressure {
        some_avg10: some[0],
        some_avg60: some[1],
        some_avg300: some[2],
        full_avg10: full.map_or(0.0, |f| f[0]),
    })
}

/// Processor and core counts from `/proc/cpuinfo`.
///
/// ```
/// let c = amorsize::system::parse::cpuinfo("processor : 0\ncore id : 0\n")?;
/// assert_eq!((c.processors, c.physical), (1, Some(1)));
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CpuinfoCores {
    /// The number of `processor` entries (logical CPUs online).
    pub processors: usize,
    /// Distinct `(physical id, core id)` pairs, or `None` when the file has no `core id` lines
    /// (many ARM kernels), in which case the caller falls back to the logical count.
    pub physical: Option<usize>,
}

/// Parses `/proc/cpuinfo`: counts processors and distinct `(physical id, core id)` pairs
/// (a missing `physical id` counts as socket 0).
///
/// ```
/// use amorsize::system::parse::cpuinfo;
/// let text = "processor : 0\nphysical id : 0\ncore id : 0\n\n\
///             processor : 1\nphysical id : 0\ncore id : 0\n\n";
/// let c = cpuinfo(text)?;
/// assert_eq!((c.processors, c.physical), (2, Some(1))); // two hyper-threads of one core
/// assert!(cpuinfo("processor : 0\ncore id : x\n").is_err());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn cpuinfo(text: &str) -> Result<CpuinfoCores> {
    const WHAT: &str = "/proc/cpuinfo";
    let mut processors = 0usize;
    let mut pairs: Vec<(u64, u64)> = Vec::new();
    let (mut socket, mut core): (Option<u64>, Option<u64>) = (None, None);
    let mut flush = |socket: &mut Option<u64>, core: &mut Option<u64>| {
        if let Some(c) = core.take() {
            pairs.push((socket.unwrap_or(0), c));
        }
        *socket = None;
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            flush(&mut socket, &mut core);
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            // Some architectures print free-form lines; they carry nothing we need.
            continue;
        };
        match key.trim() {
            "processor" => {
                // A new entry may start without a blank line in between.
                flush(&mut socket, &mut core);
                processors += 1;
            }
            "physical id" => socket = Some(parse_u64(WHAT, value.trim())?),
            "core id" => core = Some(parse_u64(WHAT, value.trim())?),
            _ => {}
        }
    }
    flush(&mut socket, &mut core);
    pairs.sort_unstable();
    pairs.dedup();
    Ok(CpuinfoCores {
        processors,
        physical: (!pairs.is_empty()).then_some(pairs.len()),
    })
}

/// One line of `/proc/self/cgroup`: `hierarchy-ID:controller-list:cgroup-path`.
///
/// ```
/// let lines = amorsize::system::parse::proc_self_cgroup("4:memory:/docker/abc\n")?;
/// assert_eq!((lines[0].hierarchy, lines[0].path.as_str()), (4, "/docker/abc"));
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupLine {
    /// The hierarchy ID (0 for the cgroup v2 unified hierarchy).
    pub hierarchy: u32,
    /// The v1 controllers bound to the hierarchy (`["cpu", "cpuacct"]`); empty for v2.
    pub controllers: Vec<String>,
    /// The process's cgroup path inside the hierarchy (`/` in a cgroup namespace's root).
    pub path: String,
}

/// Parses `/proc/self/cgroup` (v1 lines `4:memory:/docker/abc`, v2 line `0::/user.slice`).
///
/// ```
/// use amorsize::system::parse::proc_self_cgroup;
/// let lines = proc_self_cgroup("4:cpu,cpuacct:/docker/abc\n0::/\n")?;
/// assert_eq!(lines[0].controllers, ["cpu", "cpuacct"]);
/// assert_eq!(lines[1].hierarchy, 0);
/// assert!(proc_self_cgroup("garbage\n").is_err());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn proc_self_cgroup(text: &str) -> Result<Vec<CgroupLine>> {
    const WHAT: &str = "/proc/self/cgroup";
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(err(
                WHAT,
                format!("line {} is not ID:CONTROLLERS:PATH", show(line)),
            ));
        };
        let hierarchy = id
            .parse::<u32>()
            .map_err(|_| err(WHAT, format!("hierarchy ID {} is not a number", show(id))))?;
        if !path.starts_with('/') {
            return Err(err(WHAT, format!("path {} is not absolute", show(path))));
        }
        out.push(CgroupLine {
            hierarchy,
            controllers: controllers
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
            path: path.to_string(),
        });
    }
    if out.is_empty() {
        return Err(err(WHAT, "no lines"));
    }
    Ok(out)
}

/// One mount from `/proc/self/mountinfo` (only the fields amorsize needs).
///
/// ```
/// let m = amorsize::system::parse::mountinfo("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")?;
/// assert_eq!((m[0].root.as_str(), m[0].fs_type.as_str()), ("/", "cgroup2"));
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountEntry {
    /// The root of the mount inside its file system (field 4; for a cgroup mount, the cgroup
    /// that appears at the mount point).
    pub root: String,
    /// Where it is mounted (field 5).
    pub mount_point: String,
    /// The file system type (`cgroup`, `cgroup2`, `proc`, ...).
    pub fs_type: String,
    /// The super-block options (for a cgroup v1 mount they name the controllers).
    pub super_options: Vec<String>,
}

/// Undoes the octal escapes (`\040` for a space) the kernel writes into mountinfo paths.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(b) = u8::try_from(v) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `/proc/self/mountinfo`.
///
/// ```
/// use amorsize::system::parse::mountinfo;
/// let m = mountinfo("35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n")?;
/// assert_eq!(m[0].mount_point, "/sys/fs/cgroup/memory");
/// assert_eq!(m[0].fs_type, "cgroup");
/// assert!(m[0].super_options.iter().any(|o| o == "memory"));
/// assert!(mountinfo("35 31 0:32 /\n").is_err());
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn mountinfo(text: &str) -> Result<Vec<MountEntry>> {
    const WHAT: &str = "/proc/self/mountinfo";
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let separator = fields
            .iter()
            .skip(6)
            .position(|f| *f == "-")
            .map(|p| p + 6)
            .ok_or_else(|| err(WHAT, format!("line {} has no ' - ' separator", show(line))))?;
        let (Some(fs_type), Some(_source)) = (fields.get(separator + 1), fields.get(separator + 2))
        else {
            return Err(err(WHAT, format!("line {} ends after ' - '", show(line))));
        };
        let super_options = fields
            .get(separator + 3)
            .map(|o| o.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        out.push(MountEntry {
            root: unescape(fields[3]),
            mount_point: unescape(fields[4]),
            fs_type: (*fs_type).to_string(),
            super_options,
        });
    }
    Ok(out)
}

/// Which cgroup version a controller is mounted with.
///
/// ```
/// use amorsize::system::parse::{controller_dir, mountinfo, proc_self_cgroup, CgroupVersion};
/// let cg = proc_self_cgroup("1:cpu:/\n")?;
/// let m = mountinfo("32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n")?;
/// assert_eq!(controller_dir(&cg, &m, "cpu").unwrap().version, CgroupVersion::V1);
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CgroupVersion {
    /// cgroup v1: one hierarchy per controller group (`/sys/fs/cgroup/memory`).
    V1,
    /// cgroup v2: the unified hierarchy (`/sys/fs/cgroup`).
    V2,
}

/// Where a controller of this process's cgroup lives.
///
/// ```
/// use amorsize::system::parse::{controller_dir, mountinfo, proc_self_cgroup};
/// use std::path::Path;
/// let cg = proc_self_cgroup("4:memory:/process_api/9b55\n")?;
/// let m = mountinfo("35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")?;
/// let d = controller_dir(&cg, &m, "memory").unwrap();
/// assert_eq!(d.dir, Path::new("/sys/fs/cgroup/memory/process_api/9b55"));
/// assert_eq!(d.mount_point, Path::new("/sys/fs/cgroup/memory"));
/// # Ok::<(), amorsize::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControllerDir {
    /// The cgroup version of the hierarchy.
    pub version: CgroupVersion,
    /// The mount point of the hierarchy (absolute, as in mountinfo). Limits are searched from
    /// [`dir`](Self::dir) up to here.
    pub mount_point: PathBuf,
    /// The process's cgroup directory (absolute, as in mountinfo), inside `mount_point`.
    pub dir: PathBuf,
}

impl ControllerDir {
    /// The cgroup directory and its ancestors up to and including the mount point, innermost
    /// first: a limit set on a parent cgroup binds its children too.
    ///
    /// ```
    /// use amorsize::system::parse::{CgroupVersion, ControllerDir};
    /// use std::path::PathBuf;
    /// let d = ControllerDir {
    ///     version: CgroupVersion::V2,
    ///     mount_point: PathBuf::from("/sys/fs/cgroup"),
    ///     dir: PathBuf::from("/sys/fs/cgroup/a/b"),
    /// };
    /// let chain: Vec<_> = d.ancestors().collect();
    /// assert_eq!(chain.len(), 3);
    /// assert_eq!(chain[2], PathBuf::from("/sys/fs/cgroup"));
    /// ```
    pub fn ancestors(&self) -> impl Iterator<Item = PathBuf> + '_ {
        let inside = self.dir.starts_with(&self.mount_point);
        let mut done = false;
        self.dir
            .ancestors()
            .take_while(move |p| {
                if done {
                    return false;
                }
                if !inside || *p == self.mount_point.as_path() {
                    done = true;
                }
                true
            })
            .map(Path::to_path_buf)
    }
}

/// The path of `cgroup_path` relative to the mount's `root`, or `None` when the cgroup is not
/// below the mount's root (then the mount point itself is the closest visible directory).
fn relative_to_root(cgroup_path: &str, root: &str) -> Option<PathBuf> {
    let path = Path::new(cgroup_path);
    if path
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return None;
    }
    let rel = path.strip_prefix(root).ok()?;
    Some(rel.to_path_buf())
}

/// Finds the directory of `controller` (`"cpu"`, `"memory"`, `"cpuset"`) for this process from
/// the parsed `/proc/self/cgroup` and `/proc/self/mountinfo`. A v1 hierarchy that carries the
/// controller wins over the v2 unified hierarchy (on hybrid systems the v2 hierarchy then holds
/// no such controller). The cgroup path is taken relative to the mount's root, which handles
/// both a container that sees its cgroup as `/` and one that sees the host's full path.
///
/// ```
/// use amorsize::system::parse::{controller_dir, mountinfo, proc_self_cgroup, CgroupVersion};
/// use std::path::Path;
/// let cgroups = proc_self_cgroup("0::/user.slice/app\n")?;
/// let mounts = mountinfo("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")?;
/// let d = controller_dir(&cgroups, &mounts, "memory").unwrap();
/// assert_eq!(d.version, CgroupVersion::V2);
/// assert_eq!(d.dir, Path::new("/sys/fs/cgroup/user.slice/app"));
/// # Ok::<(), amorsize::Error>(())
/// ```
pub fn controller_dir(
    cgroups: &[CgroupLine],
    mounts: &[MountEntry],
    controller: &str,
) -> Option<ControllerDir> {
    let v1_line = cgroups
        .iter()
        .find(|l| l.hierarchy != 0 && l.controllers.iter().any(|c| c == controller));
    if let Some(line) = v1_line {
        let candidates: Vec<&MountEntry> = mounts
            .iter()
            .filter(|m| m.fs_type == "cgroup" && m.super_options.iter().any(|o| o == controller))
            .collect();
        if let Some(found) = locate(&candidates, &line.path, CgroupVersion::V1) {
            return Some(found);
        }
    }
    let v2_line = cgroups
        .iter()
        .find(|l| l.hierarchy == 0 && l.controllers.is_empty())?;
    let candidates: Vec<&MountEntry> = mounts.iter().filter(|m| m.fs_type == "cgroup2").collect();
    locate(&candidates, &v2_line.path, CgroupVersion::V2)
}

/// Picks the mount under which `path` is visible (preferring one whose root contains it) and
/// joins the path to it.
fn locate(candidates: &[&MountEntry], path: &str, version: CgroupVersion) -> Option<ControllerDir> {
    let best = candidates
        .iter()
        .filter_map(|m| relative_to_root(path, &m.root).map(|rel| (m, rel)))
        // The most specific root (longest) is the closest view of the cgroup.
        .max_by_key(|(m, _)| m.root.len());
    let (mount, rel) = match best {
        Some((m, rel)) => (*m, rel),
        None => (*candidates.first()?, PathBuf::new()),
    };
    let mount_point = PathBuf::from(&mount.mount_point);
    let dir = if rel.as_os_str().is_empty() {
        mount_point.clone()
    } else {
        mount_point.join(rel)
    };
    Some(ControllerDir {
        version,
        mount_point,
        dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn is_parse_err<T: std::fmt::Debug>(r: Result<T>) -> bool {
        matches!(r, Err(Error::Parse { .. }))
    }

    #[test]
    fn cpu_max_quota_and_none() {
        assert_eq!(cpu_max("max 100000\n").unwrap(), None);
        assert_eq!(cpu_max("max").unwrap(), None);
        assert_eq!(cpu_max("150000 100000").unwrap(), Some(1.5));
        assert_eq!(cpu_max("  50000   100000 \n").unwrap(), Some(0.5));
        // Quota alone: the kernel's default period applies.
        assert_eq!(cpu_max("200000").unwrap(), Some(2.0));
    }

    #[test]
    fn cpu_max_malformed() {
        for bad in [
            "",
            "\n",
            "max 0",
            "0 100000",
            "-5 100000",
            "1.5 100000",
            "abc 100000",
            "100000 abc",
            "1 2 3",
            "max max",
        ] {
            assert!(is_parse_err(cpu_max(bad)), "{bad:?}");
        }
        let e = cpu_max("x 1").unwrap_err();
        assert!(e.to_string().contains("cpu.max"), "{e}");
    }

    #[test]
    fn cfs_quota_values() {
        assert_eq!(cfs_quota("-1\n", "100000\n").unwrap(), None);
        assert_eq!(cfs_quota("150000", "100000").unwrap(), Some(1.5));
        assert_eq!(cfs_quota("25000\n", "50000\n").unwrap(), Some(0.5));
        // No quota: the period does not matter.
        assert_eq!(cfs_quota("-1", "garbage").unwrap(), None);
    }

    #[test]
    fn cfs_quota_malformed() {
        for (q, p) in [
            ("", "100000"),
            ("abc", "100000"),
            ("0", "100000"),
            ("100000", "0"),
            ("100000", ""),
            ("100000", "-1"),
            ("1e5", "100000"),
        ] {
            assert!(is_parse_err(cfs_quota(q, p)), "{q:?} {p:?}");
        }
    }

    #[test]
    fn cpu_list_counts() {
        assert_eq!(cpu_list("0-3,8,10-11").unwrap(), 7);
        assert_eq!(cpu_list("0-1\n").unwrap(), 2);
        assert_eq!(cpu_list("5").unwrap(), 1);
        assert_eq!(cpu_list("0-3,2-5").unwrap(), 6); // overlap counted once
        assert_eq!(cpu_list("3,3,3").unwrap(), 1);
        assert_eq!(cpu_list("8-11,0-1").unwrap(), 6); // unsorted
        assert_eq!(cpu_list("0-4294967295").unwrap(), 1 << 32); // no allocation per CPU
                                                                // The widest range saturates instead of overflowing.
        let widest = cpu_list("0-18446744073709551615,5").unwrap();
        assert_eq!(widest, usize::try_from(u64::MAX).unwrap_or(usize::MAX));
    }

    #[test]
    fn cpu_list_malformed() {
        for bad in [
            "", " \n", "3-1", "a", "0-", "-3", "0,,1", "0-3:2", "1.5", "0-1-2",
        ] {
            assert!(is_parse_err(cpu_list(bad)), "{bad:?}");
        }
    }

    #[test]
    fn meminfo_prefers_mem_available() {
        let text = "MemTotal:       24684084 kB\nMemFree:        22485796 kB\n\
                    MemAvailable:   24285444 kB\nBuffers:            3888 kB\n\
                    Cached:          1972228 kB\nHugePages_Total:       0\n";
        let m = meminfo(text).unwrap();
        assert_eq!(m.total, 24684084 * 1024);
        assert_eq!(m.available, 24285444 * 1024);
    }

    #[test]
    fn meminfo_falls_back_without_mem_available() {
        let m = meminfo("MemTotal: 4000 kB\nMemFree: 1000 kB\nBuffers: 100 kB\nCached: 900 kB\n")
            .unwrap();
        assert_eq!(m.available, 2000 * 1024);
        // Buffers and Cached are optional in the fallback.
        let m = meminfo("MemTotal: 4000 kB\nMemFree: 1000 kB\n").unwrap();
        assert_eq!(m.available, 1000 * 1024);
    }

    #[test]
    fn meminfo_malformed() {
        for bad in [
            "",
            "MemFree: 1 kB\n",                       // no total
            "MemTotal: 4000 kB\n",                   // no available nor free
            "MemTotal: lots kB\nMemFree: 1 kB\n",    // not a number
            "MemTotal: 4000 MB\nMemFree: 1 kB\n",    // unknown unit
            "MemTotal:\nMemFree: 1 kB\n",            // no value
            "MemTotal 4000 kB\nMemFree: 1 kB\n",     // no colon
            "MemTotal: -4 kB\nMemFree: 1 kB\n",      // negative
            "MemTotal: 4 kB extra\nMemFree: 1 kB\n", // trailing junk
        ] {
            assert!(is_parse_err(meminfo(bad)), "{bad:?}");
        }
        // Huge values saturate instead of overflowing.
        let m = meminfo("MemTotal: 18446744073709551615 kB\nMemAvailable: 1 kB\n").unwrap();
        assert_eq!(m.total, u64::MAX);
    }

    #[test]
    fn memory_limit_values() {
        assert_eq!(memory_limit("max\n").unwrap(), None);
        assert_eq!(memory_limit("9223372036854771712\n").unwrap(), None);
        assert_eq!(memory_limit("9223372036854775807").unwrap(), None);
        assert_eq!(memory_limit("-1").unwrap(), None);
        assert_eq!(memory_limit("536870912\n").unwrap(), Some(536870912));
        assert_eq!(memory_limit("0").unwrap(), Some(0));
        for bad in ["", "lots", "1.5", "-2", "max max", "18446744073709551616"] {
            assert!(is_parse_err(memory_limit(bad)), "{bad:?}");
        }
    }

    #[test]
    fn memory_usage_values() {
        assert_eq!(memory_usage("8138752\n").unwrap(), 8138752);
        assert_eq!(memory_usage("0").unwrap(), 0);
        for bad in ["", "x", "-1", "1 2"] {
            assert!(is_parse_err(memory_usage(bad)), "{bad:?}");
        }
    }

    #[test]
    fn memory_stat_picks_the_most_specific_key() {
        // v1: hierarchical total wins over the local value, whatever the order.
        let v1 = "cache 5328896\ntotal_inactive_file 40960\ninactive_file 4096\n";
        assert_eq!(memory_stat_reclaimable(v1).unwrap(), Some(40960));
        // v2: inactive_file wins over file.
        let v2 = "anon 1\nfile 300\nactive_file 100\ninactive_file 200\n";
        assert_eq!(memory_stat_reclaimable(v2).unwrap(), Some(200));
        assert_eq!(memory_stat_reclaimable("file 300\n").unwrap(), Some(300));
        assert_eq!(memory_stat_reclaimable("anon 1\n").unwrap(), None);
        assert_eq!(memory_stat_reclaimable("").unwrap(), None);
        // Malformed lines of keys we do not use still make the file malformed.
        for bad in [
            "inactive_file x\n",
            "anon\n",
            "file 1 2\n",
            "inactive_file -5\n",
        ] {
            assert!(is_parse_err(memory_stat_reclaimable(bad)), "{bad:?}");
        }
    }

    #[test]
    fn pressure_some_and_full() {
        let p = pressure(
            "some avg10=1.25 avg60=0.50 avg300=0.10 total=123456\n\
             full avg10=0.75 avg60=0.25 avg300=0.05 total=65432\n",
        )
        .unwrap();
        assert_eq!(p.some_avg10, 1.25);
        assert_eq!(p.some_avg60, 0.5);
        assert_eq!(p.some_avg300, 0.1);
        assert_eq!(p.full_avg10, 0.75);
        // Old kernels print only the "some" line.
        let p = pressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n").unwrap();
        assert_eq!(p.full_avg10, 0.0);
    }

    #[test]
    fn pressure_malformed() {
        for bad in [
            "",
            "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
            "some avg10=0.00 avg60=0.00 total=0\n",
            "some avg10=x avg60=0.00 avg300=0.00 total=0\n",
            "some avg10=NaN avg60=0.00 avg300=0.00 total=0\n",
            "some avg10=101 avg60=0.00 avg300=0.00 total=0\n",
            "some avg10=-1 avg60=0.00 avg300=0.00 total=0\n",
            "some avg10 avg60=0.00 avg300=0.00 total=0\n",
            "some avg10=0 avg60=0 avg300=0 total=x\n",
            "other avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        ] {
            assert!(is_parse_err(pressure(bad)), "{bad:?}");
        }
    }

    #[test]
    fn cpuinfo_counts_distinct_cores() {
        // Two sockets, two cores each, two threads per core.
        let mut text = String::new();
        for cpu in 0..8 {
            text += &format!(
                "processor\t: {cpu}\nphysical id\t: {}\ncore id\t\t: {}\nflags\t\t: fpu\n\n",
                cpu / 4,
                (cpu / 2) % 2
            );
        }
        let c = cpuinfo(&text).unwrap();
        assert_eq!(c.processors, 8);
        assert_eq!(c.physical, Some(4));
    }

    #[test]
    fn cpuinfo_without_core_ids_falls_back() {
        // An ARM-style file: no physical/core ids.
        let text = "processor\t: 0\nBogoMIPS\t: 50.00\n\nprocessor\t: 1\nBogoMIPS\t: 50.00\n\n\
                    Hardware\t: fake\n";
        let c = cpuinfo(text).unwrap();
        assert_eq!(
            c,
            CpuinfoCores {
                processors: 2,
                physical: None
            }
        );
        assert_eq!(
            cpuinfo("").unwrap(),
            CpuinfoCores {
                processors: 0,
                physical: None
            }
        );
        // Entries without blank lines in between; no physical id means socket 0.
        let c = cpuinfo("processor: 0\ncore id: 0\nprocessor: 1\ncore id: 1\n").unwrap();
        assert_eq!(c.physical, Some(2));
    }

    #[test]
    fn cpuinfo_malformed() {
        for bad in [
            "processor : 0\ncore id : x\n",
            "processor : 0\nphysical id : -1\ncore id : 0\n",
            "processor : 0\ncore id :\n",
        ] {
            assert!(is_parse_err(cpuinfo(bad)), "{bad:?}");
        }
    }

    #[test]
    fn proc_self_cgroup_v1_and_v2() {
        let lines = proc_self_cgroup(
            "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/\n0::/\n",
        )
        .unwrap();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].hierarchy, 12);
        assert_eq!(lines[0].controllers, ["memory"]);
        assert_eq!(lines[1].controllers, ["cpu", "cpuacct"]);
        assert_eq!(lines[3].hierarchy, 0);
        assert!(lines[3].controllers.is_empty());
        assert_eq!(lines[3].path, "/");
        // A path may contain ':'.
        let l = proc_self_cgroup("0::/a:b\n").unwrap();
        assert_eq!(l[0].path, "/a:b");
    }

    #[test]
    fn proc_self_cgroup_malformed() {
        for bad in ["", "\n", "garbage", "x::/", "0:cpu", "0::relative", "-1::/"] {
            assert!(is_parse_err(proc_self_cgroup(bad)), "{bad:?}");
        }
    }

    #[test]
    fn mountinfo_fields_and_escapes() {
        let text = "22 27 0:21 / /proc rw,relatime - proc proc rw\n\
                    32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 master:2 - cgroup cgroup rw,cpu,cpuacct\n\
                    41 31 0:38 / /mnt/with\\040space rw - cgroup2 cgroup2 rw\n\
                    42 31 0:39 / /nosuper rw - tmpfs none\n";
        let m = mountinfo(text).unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m[1].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
        assert_eq!(m[1].fs_type, "cgroup");
        assert_eq!(m[1].super_options, ["rw", "cpu", "cpuacct"]);
        assert_eq!(m[2].mount_point, "/mnt/with space");
        assert!(m[3].super_options.is_empty());
        assert!(mountinfo("").unwrap().is_empty());
        // Escapes that are not three octal digits stay as written.
        assert_eq!(unescape("a\\04"), "a\\04");
        assert_eq!(unescape("a\\999b"), "a\\999b");
        assert_eq!(unescape("\\"), "\\");
    }

    #[test]
    fn mountinfo_malformed() {
        for bad in [
            "35 31 0:32 /\n",
            "35 31 0:32 / /x rw\n",
            "35 31 0:32 / /x rw -\n",
            "35 31 0:32 / /x rw - cgroup\n",
            "- a b c d e f\n",
        ] {
            assert!(is_parse_err(mountinfo(bad)), "{bad:?}");
        }
    }

    fn mounts(text: &str) -> Vec<MountEntry> {
        mountinfo(text).unwrap()
    }

    #[test]
    fn controller_dir_v1_nested_path() {
        let cg = proc_self_cgroup("4:memory:/process_api/9b55\n1:cpu:/\n0::/\n").unwrap();
        let m = mounts(
            "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n\
             35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
        );
        let mem = controller_dir(&cg, &m, "memory").unwrap();
        assert_eq!(mem.version, CgroupVersion::V1);
        assert_eq!(mem.dir, Path::new("/sys/fs/cgroup/memory/process_api/9b55"));
        assert_eq!(mem.mount_point, Path::new("/sys/fs/cgroup/memory"));
        let cpu = controller_dir(&cg, &m, "cpu").unwrap();
        assert_eq!(cpu.dir, Path::new("/sys/fs/cgroup/cpu"));
        // "cpuacct" must not match "cpu".
        let cpuacct_only =
            mounts("33 31 0:30 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n");
        let cg2 = proc_self_cgroup("2:cpuacct:/\n").unwrap();
        assert_eq!(controller_dir(&cg2, &cpuacct_only, "cpu"), None);
    }

    #[test]
    fn controller_dir_v1_mount_root_is_the_container() {
        // Docker without a cgroup namespace: the mount's root is the container's cgroup.
        let cg = proc_self_cgroup("4:cpu,cpuacct:/docker/abc\n").unwrap();
        let m = mounts(
            "32 31 0:29 /docker/abc /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n",
        );
        let d = controller_dir(&cg, &m, "cpu").unwrap();
        assert_eq!(d.dir, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        // A cgroup outside the mount's root: the mount point is the closest view.
        let cg = proc_self_cgroup("4:cpu,cpuacct:/other\n").unwrap();
        let d = controller_dir(&cg, &m, "cpu").unwrap();
        assert_eq!(d.dir, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        // A path reaching outside the namespace ("/../..").
        let cg = proc_self_cgroup("4:cpu,cpuacct:/../../x\n").unwrap();
        let d = controller_dir(&cg, &m, "cpu").unwrap();
        assert_eq!(d.dir, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
    }

    #[test]
    fn controller_dir_v2_namespace_root_and_nested() {
        let m = mounts("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        let root = controller_dir(&proc_self_cgroup("0::/\n").unwrap(), &m, "cpu").unwrap();
        assert_eq!(root.version, CgroupVersion::V2);
        assert_eq!(root.dir, Path::new("/sys/fs/cgroup"));
        assert_eq!(root.ancestors().count(), 1);
        let nested = controller_dir(
            &proc_self_cgroup("0::/kubepods/pod1/ctr\n").unwrap(),
            &m,
            "memory",
        )
        .unwrap();
        assert_eq!(nested.dir, Path::new("/sys/fs/cgroup/kubepods/pod1/ctr"));
        let chain: Vec<PathBuf> = nested.ancestors().collect();
        assert_eq!(
            chain,
            [
                "/sys/fs/cgroup/kubepods/pod1/ctr",
                "/sys/fs/cgroup/kubepods/pod1",
                "/sys/fs/cgroup/kubepods",
                "/sys/fs/cgroup"
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn controller_dir_absent() {
        let cg = proc_self_cgroup("0::/\n").unwrap();
        assert_eq!(controller_dir(&cg, &[], "cpu"), None);
        let cg = proc_self_cgroup("4:memory:/x\n").unwrap();
        let m = mounts("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        assert_eq!(controller_dir(&cg, &m, "memory"), None); // no v1 mount, no v2 line
    }

    #[test]
    fn ancestors_of_a_dir_outside_its_mount_is_just_the_dir() {
        let d = ControllerDir {
            version: CgroupVersion::V1,
            mount_point: PathBuf::from("/a"),
            dir: PathBuf::from("/b/c"),
        };
        assert_eq!(d.ancestors().collect::<Vec<_>>(), [PathBuf::from("/b/c")]);
    }

    proptest! {
        #[test]
        fn no_parser_panics(text in any::<String>(), other in any::<String>()) {
            let _ = cpu_max(&text);
            let _ = cfs_quota(&text, &other);
            let _ = cpu_list(&text);
            let _ = meminfo(&text);
            let _ = memory_limit(&text);
            let _ = memory_usage(&text);
            let _ = memory_stat_reclaimable(&text);
            let _ = pressure(&text);
            let _ = cpuinfo(&text);
            let _ = mountinfo(&text);
            if let (Ok(cg), Ok(m)) = (proc_self_cgroup(&text), mountinfo(&other)) {
                if let Some(d) = controller_dir(&cg, &m, "cpu") {
                    let _ = d.ancestors().count();
                }
            }
        }

        #[test]
        fn no_parser_panics_on_plausible_text(
            text in "[0-9a-z_ :,./=\\-\\\\\n]{0,200}",
            other in "[0-9 \n\\-]{0,40}",
        ) {
            let _ = cpu_max(&text);
            let _ = cfs_quota(&other, &text);
            let _ = cpu_list(&other);
            let _ = meminfo(&text);
            let _ = memory_stat_reclaimable(&text);
            let _ = pressure(&text);
            let _ = cpuinfo(&text);
            let _ = mountinfo(&text);
            let _ = proc_self_cgroup(&text);
        }

        #[test]
        fn cpu_list_counts_like_a_set(ranges in proptest::collection::vec((0u64..64, 0u64..8), 1..8)) {
            let text: Vec<String> = ranges.iter().map(|(lo, len)| {
                if *len == 0 { lo.to_string() } else { format!("{}-{}", lo, lo + len) }
            }).collect();
            let mut set = std::collections::BTreeSet::new();
            for (lo, len) in &ranges {
                set.extend(*lo..=lo + len);
            }
            prop_assert_eq!(cpu_list(&text.join(",")).unwrap(), set.len());
        }
    }
}
