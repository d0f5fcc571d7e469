//! Memory pressure now: available, used, total, percent used and PSI `some avg10`.
//!
//! The figures come from [`crate::system`] (cgroup-aware). When the system module cannot tell
//! (it reports a total of 0), this module reads `/proc/meminfo` and `/proc/pressure/memory`
//! itself with the pure parsers [`parse_meminfo`] and [`parse_psi_some_avg10`].
//!
//! ```
//! use amorsize::array::pressure::{parse_meminfo, parse_psi_some_avg10, MemoryPressure};
//! let (total, available) = parse_meminfo("MemTotal: 1000 kB\nMemAvailable: 50 kB\n")?;
//! let psi = parse_psi_some_avg10("some avg10=2.50 avg60=1.00 avg300=0.50 total=12");
//! let p = MemoryPressure::from_parts(total, available, psi);
//! assert_eq!((p.used, p.percent), (950 * 1024, 95.0));
//! assert!(!p.is_pressure(10.0)); // with PSI: stalled 2.5% of the time, below 10
//! let no_psi = MemoryPressure::from_parts(total, available, None);
//! assert!(no_psi.is_pressure(10.0)); // without PSI: only 5% of memory is left
//! # Ok::<(), amorsize::Error>(())
//! ```

use crate::{Error, Result};
use serde::Serialize;
use std::fmt;

/// A snapshot of the machine's memory.
///
/// ```
/// let p = amorsize::array::MemoryPressure::snapshot().unwrap();
/// assert!(p.available <= p.total);
/// println!("{p}");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MemoryPressure {
    /// Bytes available to this process (MemAvailable, lowered by the cgroup's headroom).
    pub available: u64,
    /// Bytes in use (`total − available`).
    pub used: u64,
    /// Total bytes (the cgroup limit when it is lower than MemTotal).
    pub total: u64,
    /// `used / total` in percent.
    pub percent: f64,
    /// PSI `some avg10` of memory in percent, where the kernel provides it.
    pub psi_some_avg10: Option<f64>,
}

impl MemoryPressure {
    /// Reads the machine now.
    ///
    /// ```
    /// let p = amorsize::array::MemoryPressure::snapshot().unwrap();
    /// assert!(p.percent >= 0.0 && p.percent <= 100.0);
    /// ```
    pub fn snapshot() -> Result<MemoryPressure> {
        let info = crate::system::refresh();
        let m = &info.memory;
        let (mut total, mut available) = (m.total, m.available);
        let mut psi = info.pressure.map(|p| p.some_avg10);
        if total == 0 {
            let text = std::fs::read_to_string("/proc/meminfo")
                .map_err(|e| Error::io("reading /proc/meminfo", e))?;
            let (t, a) = parse_meminfo(&text)?;
            total = t;
            available = a;
            if let Some(limit) = m.cgroup_limit {
                total = total.min(limit);
                let used = m
                    .cgroup_current
                    .unwrap_or(0)
                    .saturating_sub(m.cgroup_reclaimable.unwrap_or(0));
                available = available.min(limit.saturating_sub(used));
            }
        }
        if psi.is_none() {
            psi = std::fs::read_to_string("/proc/pressure/memory")
                .ok()
                .and_then(|t| parse_psi_some_avg10(&t));
        }
        Ok(Self::from_parts(total, available, psi))
    }

    /// Builds a snapshot from figures (pure; for tests and for callers with their own source).
    ///
    /// ```
    /// let p = amorsize::array::MemoryPressure::from_parts(100, 25, Some(3.0));
    /// assert_eq!((p.used, p.percent), (75, 75.0));
    /// ```
    pub fn from_parts(total: u64, available: u64, psi_some_avg10: Option<f64>) -> MemoryPressure {
        let available = available.min(total);
        let used = total - available;
        let percent = if total > 0 {
            used as f64 * 100.0 / total as f64
        } else {
            0.0
        };
        MemoryPressure {
            available,
            used,
            total,
            percent,
            psi_some_avg10,
        }
    }

    /// True when memory is under pressure at `threshold` percent: where the kernel provides PSI,
    /// when `some avg10` is above `threshold`; without PSI, when less than `threshold` percent
    /// of memory is still available.
    ///
    /// ```
    /// use amorsize::array::MemoryPressure;
    /// assert!(MemoryPressure::from_parts(100, 50, Some(20.0)).is_pressure(10.0));
    /// assert!(!MemoryPressure::from_parts(100, 50, Some(0.0)).is_pressure(10.0));
    /// assert!(MemoryPressure::from_parts(100, 5, None).is_pressure(10.0));
    /// ```
    pub fn is_pressure(&self, threshold: f64) -> bool {
        match self.psi_some_avg10 {
            Some(psi) => psi > threshold,
            None => self.total > 0 && (100.0 - self.percent) < threshold,
        }
    }
}

impl fmt::Display for MemoryPressure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memory: {} MiB available, {} MiB used of {} MiB ({:.1}%)",
            self.available >> 20,
            self.used >> 20,
            self.total >> 20,
            self.percent
        )?;
        match self.psi_some_avg10 {
            Some(p) => write!(f, ", PSI some avg10 {p:.2}%"),
            None => write!(f, ", no PSI"),
        }
    }
}

/// Parses `MemTotal` and `MemAvailable` (bytes) from `/proc/meminfo` text, with
/// [`crate::system::parse::meminfo`]: old kernels without `MemAvailable` get
/// `MemFree + Buffers + Cached`; the available figure is at most the total.
///
/// ```
/// let (t, a) = amorsize::array::pressure::parse_meminfo(
///     "MemTotal: 1000 kB\nMemFree: 10 kB\nMemAvailable: 500 kB\n").unwrap();
/// assert_eq!((t, a), (1_024_000, 512_000));
/// // A figure too large for bytes saturates instead of overflowing.
/// let (t, _) = amorsize::array::pressure::parse_meminfo(
///     "MemTotal: 18446744073709551615 kB\nMemAvailable: 1 kB\n").unwrap();
/// assert_eq!(t, u64::MAX);
/// ```
pub fn parse_meminfo(text: &str) -> Result<(u64, u64)> {
    let m = crate::system::parse::meminfo(text)?;
    Ok((m.total, m.available.min(m.total)))
}

/// The `some avg10` figure of `/proc/pressure/memory` text, if present.
///
/// ```
/// let t = "some avg10=1.50 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
/// assert_eq!(amorsize::array::pressure::parse_psi_some_avg10(t), Some(1.5));
/// ```
pub fn parse_psi_some_avg10(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("some "))?;
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("avg10="))
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_without_available_uses_free_plus_cached() {
        let (t, a) = parse_meminfo("MemTotal: 100 kB\nMemFree: 10 kB\nCached: 20 kB\n").unwrap();
        assert_eq!((t, a), (102_400, 30_720));
        assert!(parse_meminfo("garbage").is_err());
    }

    #[test]
    fn psi_missing_is_none() {
        assert_eq!(parse_psi_some_avg10("full avg10=1.0"), None);
        assert_eq!(parse_psi_some_avg10("some avg10=x"), None);
    }

    #[test]
    fn snapshot_is_consistent() {
        let p = MemoryPressure::snapshot().unwrap();
        assert_eq!(p.used + p.available, p.total);
    }
}
