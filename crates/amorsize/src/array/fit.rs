//! Least-squares line fits of the per-chunk models: peak memory `peak(b) = a + k·b` and time
//! `t(b) = t0 + c·b`, where `b` is a chunk's input bytes.
//!
//! Pure arithmetic over measured points, so it is tested without a clock or an allocator.
//!
//! ```
//! use amorsize::array::fit::{PeakModel, TimeModel};
//! // Chunks of 1, 2 and 4 MB: peaks of 4 KiB + 3 bytes per input byte, 20 µs + 1 ns per byte.
//! let sizes = [1e6, 2e6, 4e6];
//! let peak = PeakModel::fit(&sizes.map(|b| (b, 4096.0 + 3.0 * b)));
//! assert!((peak.k - 3.0).abs() < 1e-9 && (peak.a - 4096.0).abs() < 1e-3);
//! assert!(peak.peak(1000).abs_diff(4096 + 3000) <= 1);
//! let time = TimeModel::fit(&sizes.map(|b| (b, 20e-6 + 1e-9 * b)));
//! assert!((time.t0 - 20e-6).abs() < 1e-9 && (time.c - 1e-9).abs() < 1e-15);
//! assert_eq!((peak.measured, time.measured), (3, 3));
//! ```

use serde::Serialize;

/// A fitted line `y = intercept + slope·x` and how many points it came from.
///
/// ```
/// use amorsize::array::fit::fit_line;
/// let f = fit_line(&[(1.0, 3.0), (2.0, 5.0), (3.0, 7.0)]).unwrap();
/// assert!((f.slope - 2.0).abs() < 1e-9 && (f.intercept - 1.0).abs() < 1e-9);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LinearFit {
    /// `y` at `x = 0`.
    pub intercept: f64,
    /// `dy/dx`.
    pub slope: f64,
    /// Points used.
    pub points: usize,
}

/// Ordinary least squares over `(x, y)` points; `None` without a finite point.
///
/// When all `x` are equal, or within 25% of each other (chunks of about one size), the
/// intercept cannot be told apart from the slope; the fit then goes through the origin (`intercept = 0`, `slope = mean(y)/mean(x)`),
/// the conservative choice for a peak model. Non-finite points are ignored.
///
/// ```
/// use amorsize::array::fit::fit_line;
/// let f = fit_line(&[(4.0, 8.0), (4.0, 8.0)]).unwrap();
/// assert_eq!((f.intercept, f.slope), (0.0, 2.0));
/// assert!(fit_line(&[]).is_none());
/// ```
pub fn fit_line(points: &[(f64, f64)]) -> Option<LinearFit> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if pts.is_empty() {
        return None;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let (lo, hi) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
            (l.min(p.0), h.max(p.0))
        });
    // Sizes within 25% of each other cannot separate an intercept from a slope: the
    // intercept would be noise amplified by the tiny spread.
    let narrow = lo > 0.0 && hi < lo * 1.25;
    if narrow || sxx <= 1e-12 * (mx * mx).max(1.0) * n {
        let slope = if mx.abs() > 0.0 { my / mx } else { 0.0 };
        return Some(LinearFit {
            intercept: 0.0,
            slope,
            points: pts.len(),
        });
    }
    let slope = sxy / sxx;
    Some(LinearFit {
        intercept: my - slope * mx,
        slope,
        points: pts.len(),
    })
}

/// Peak working bytes of one chunk as a function of its input bytes: `peak(b) = a + k·b`.
///
/// ```
/// use amorsize::array::fit::PeakModel;
/// let m = PeakModel::default();
/// assert_eq!(m.k, 1.0);
/// assert_eq!(m.peak(1000), 1000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PeakModel {
    /// Fixed bytes per chunk.
    pub a: f64,
    /// Amplification: peak bytes per input byte (1 until measured).
    pub k: f64,
    /// Chunks the model was fitted on (0: the default).
    pub measured: usize,
}

impl Default for PeakModel {
    fn default() -> Self {
        PeakModel {
            a: 0.0,
            k: 1.0,
            measured: 0,
        }
    }
}

impl PeakModel {
    /// Fits the model on `(input bytes, peak bytes)` of measured chunks. A slope below 0 or a
    /// negative intercept are clamped to 0 (the model must never promise less than nothing);
    /// a fit with `k` below 1/16 keeps `k = 1/16` so a budget is never divided by ~0.
    ///
    /// ```
    /// use amorsize::array::fit::PeakModel;
    /// let m = PeakModel::fit(&[(1e6, 6e6 + 4096.0), (2e6, 12e6 + 4096.0)]);
    /// assert!((m.k - 6.0).abs() < 1e-6 && (m.a - 4096.0).abs() < 1.0);
    /// ```
    pub fn fit(points: &[(f64, f64)]) -> PeakModel {
        match fit_line(points) {
            None => PeakModel::default(),
            Some(f) => {
                let (mut a, mut k) = (f.intercept, f.slope);
                if k < 0.0 || a < 0.0 {
                    // Fall back to a line through the origin and the mean, over the points
                    // the fit used (a NaN or infinite one would make `k` NaN, which the floor
                    // below turns into 1/16: a model promising almost no memory).
                    let (sx, sy) = points
                        .iter()
                        .filter(|(x, y)| x.is_finite() && y.is_finite())
                        .fold((0.0, 0.0), |s, p| (s.0 + p.0, s.1 + p.1.max(0.0)));
                    a = 0.0;
                    k = if sx > 0.0 { sy / sx } else { 1.0 };
                }
                PeakModel {
                    a,
                    k: k.max(1.0 / 16.0),
                    measured: f.points,
                }
            }
        }
    }

    /// Projected peak bytes of a chunk of `bytes` input bytes (rounded up).
    ///
    /// ```
    /// let m = amorsize::array::fit::PeakModel { a: 10.0, k: 2.0, measured: 3 };
    /// assert_eq!(m.peak(100), 210);
    /// ```
    pub fn peak(&self, bytes: u64) -> u64 {
        (self.a + self.k * bytes as f64).ceil().max(0.0) as u64
    }
}

/// Seconds per chunk as a function of its input bytes: `t(b) = t0 + c·b`.
///
/// ```
/// use amorsize::array::fit::TimeModel;
/// let m = TimeModel::fit(&[(1e6, 0.001 + 1e-3), (2e6, 0.001 + 2e-3)]);
/// assert!((m.t0 - 0.001).abs() < 1e-9 && (m.c - 1e-9).abs() < 1e-15);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimeModel {
    /// Per-chunk overhead in seconds.
    pub t0: f64,
    /// Seconds per input byte.
    pub c: f64,
    /// Chunks the model was fitted on (0: the default).
    pub measured: usize,
}

impl Default for TimeModel {
    /// Unmeasured: 10 µs per chunk (this executor's overhead is microseconds), 1 ns per byte.
    fn default() -> Self {
        TimeModel {
            t0: 10e-6,
            c: 1e-9,
            measured: 0,
        }
    }
}

impl TimeModel {
    /// Fits the model on `(input bytes, seconds)` of measured chunks; `t0` is clamped to at
    /// least 1 µs (there is always some overhead) and `c` to at least 1e-13 s/byte. Chunks of
    /// about one size cannot tell `t0` apart, so it keeps its default (10 µs) then.
    ///
    /// ```
    /// use amorsize::array::fit::TimeModel;
    /// assert_eq!(TimeModel::fit(&[]), TimeModel::default());
    /// ```
    pub fn fit(points: &[(f64, f64)]) -> TimeModel {
        match fit_line(points) {
            None => TimeModel::default(),
            Some(f) if f.intercept == 0.0 => {
                // One chunk size: t0 cannot be measured; keep the default overhead and put the
                // rest of the mean time on the bytes.
                let d = TimeModel::default();
                let n = f.points as f64;
                let (sx, sy) = points
                    .iter()
                    .filter(|p| p.0.is_finite() && p.1.is_finite())
                    .fold((0.0, 0.0), |s, p| (s.0 + p.0, s.1 + p.1));
                let c = if sx > 0.0 {
                    ((sy / n - d.t0) / (sx / n)).max(1e-13)
                } else {
                    d.c
                };
                TimeModel {
                    t0: d.t0,
                    c,
                    measured: f.points,
                }
            }
            Some(f) => TimeModel {
                t0: f.intercept.max(1e-6),
                c: f.slope.max(1e-13),
                measured: f.points,
            },
        }
    }

    /// The smallest chunk (bytes) whose per-chunk overhead is at most `overhead_share` of its time:
    /// `t0 ≤ share·(t0 + c·b)` ⇔ `b ≥ t0·(1 − share)/(share·c)`.
    ///
    /// ```
    /// let m = amorsize::array::fit::TimeModel { t0: 1e-5, c: 1e-9, measured: 5 };
    /// assert_eq!(m.min_bytes(0.01), 990_000);
    /// ```
    pub fn min_bytes(&self, overhead_share: f64) -> u64 {
        let s = overhead_share.clamp(1e-6, 1.0);
        (self.t0 * (1.0 - s) / (s * self.c)).round().max(0.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_line_is_recovered() {
        let pts: Vec<(f64, f64)> = (1..10).map(|i| (i as f64, 3.0 + 0.5 * i as f64)).collect();
        let f = fit_line(&pts).unwrap();
        assert!((f.intercept - 3.0).abs() < 1e-9);
        assert!((f.slope - 0.5).abs() < 1e-9);
        assert_eq!(f.points, 9);
    }

    #[test]
    fn noisy_line_is_close() {
        let pts: Vec<(f64, f64)> = (1..=20)
            .map(|i| {
                let x = i as f64 * 1e6;
                let noise = if i % 2 == 0 { 1e4 } else { -1e4 };
                (x, 2048.0 + 4.0 * x + noise)
            })
            .collect();
        let m = PeakModel::fit(&pts);
        assert!((m.k - 4.0).abs() < 0.01, "{m:?}");
        assert_eq!(m.measured, 20);
    }

    #[test]
    fn negative_fits_are_clamped() {
        // Decreasing peaks would give a negative slope; the model falls back to the mean ratio.
        let m = PeakModel::fit(&[(1.0e6, 3.0e6), (2.0e6, 2.0e6)]);
        assert!(m.k > 0.0 && m.a >= 0.0, "{m:?}");
        let t = TimeModel::fit(&[(1.0e6, 2e-3), (2.0e6, 1e-3)]);
        assert!(t.c > 0.0 && t.t0 >= 1e-6);
    }

    #[test]
    fn non_finite_points_are_ignored() {
        let f = fit_line(&[(f64::NAN, 1.0), (1.0, 2.0), (2.0, 4.0)]).unwrap();
        assert_eq!(f.points, 2);
        assert!(fit_line(&[(f64::INFINITY, 1.0)]).is_none());
    }

    #[test]
    fn the_fallback_ignores_non_finite_points_too() {
        // A negative slope falls back to the mean ratio of the points the fit used: 9/3.
        for bad in [f64::NAN, f64::INFINITY] {
            let m = PeakModel::fit(&[(1.0e6, 5.0e6), (2.0e6, 4.0e6), (1.5e6, bad)]);
            assert!((m.k - 3.0).abs() < 1e-9 && m.a == 0.0, "{bad}: {m:?}");
        }
        let m = PeakModel::fit(&[(1.0e6, 5.0e6), (2.0e6, 4.0e6), (f64::NAN, 1.0)]);
        assert!((m.k - 3.0).abs() < 1e-9, "{m:?}");
    }

    #[test]
    fn nearly_equal_sizes_do_not_invent_an_intercept() {
        // 4 chunks of almost one size with timing noise: no huge t0.
        let pts = [
            (1.00e6, 1.0e-3),
            (1.01e6, 1.2e-3),
            (1.02e6, 0.9e-3),
            (0.99e6, 1.1e-3),
        ];
        let t = TimeModel::fit(&pts);
        assert_eq!(t.t0, TimeModel::default().t0);
        assert!(t.c > 0.0);
        let f = fit_line(&pts).unwrap();
        assert_eq!(f.intercept, 0.0);
    }

    #[test]
    fn min_bytes_grows_with_overhead() {
        let small = TimeModel {
            t0: 1e-6,
            c: 1e-9,
            measured: 1,
        }
        .min_bytes(0.01);
        let big = TimeModel {
            t0: 1e-3,
            c: 1e-9,
            measured: 1,
        }
        .min_bytes(0.01);
        assert!(big > small * 100);
    }
}
