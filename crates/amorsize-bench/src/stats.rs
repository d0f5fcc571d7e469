//! Pure statistics over measured samples: median, geometric mean, worst case.
//!
//! ```
//! use amorsize_bench::stats::{geomean, median_secs, ratio, worst};
//! use std::time::Duration;
//! let ms = |v: [u64; 3]| v.map(Duration::from_millis);
//! // Two workloads: auto's and the oracle's measured runs.
//! let auto = [median_secs(&ms([12, 10, 11])), median_secs(&ms([40, 44, 42]))];
//! let oracle = [median_secs(&ms([10, 9, 10])), median_secs(&ms([21, 20, 22]))];
//! let ratios: Vec<f64> = (0..2).map(|i| ratio(auto[i].unwrap(), oracle[i].unwrap()).unwrap()).collect();
//! assert!((ratios[0] - 1.1).abs() < 1e-9 && (ratios[1] - 2.0).abs() < 1e-9);
//! assert!((geomean(&ratios).unwrap() - 2.2f64.sqrt()).abs() < 1e-9);
//! assert_eq!(worst(&ratios).map(|(i, _)| i), Some(1));
//! ```

use std::time::Duration;

/// The median of `xs` (the mean of the two middle values for an even count); `None` when
/// empty or when any value is NaN.
///
/// ```
/// use amorsize_bench::stats::median;
/// assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
/// assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
/// assert_eq!(median(&[]), None);
/// ```
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() || xs.iter().any(|x| x.is_nan()) {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// The median of durations, in seconds.
///
/// ```
/// use std::time::Duration;
/// let d = [Duration::from_millis(5), Duration::from_millis(1), Duration::from_millis(3)];
/// assert_eq!(amorsize_bench::stats::median_secs(&d), Some(0.003));
/// ```
pub fn median_secs(ds: &[Duration]) -> Option<f64> {
    let xs: Vec<f64> = ds.iter().map(Duration::as_secs_f64).collect();
    median(&xs)
}

/// The geometric mean of positive finite values; `None` when empty or when any value is not
/// positive and finite (a ratio of zero or infinity has no meaningful geometric mean).
///
/// ```
/// use amorsize_bench::stats::geomean;
/// assert!((geomean(&[1.0, 4.0]).unwrap() - 2.0).abs() < 1e-12);
/// assert_eq!(geomean(&[1.0, 0.0]), None);
/// ```
pub fn geomean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() || xs.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
        return None;
    }
    Some((xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp())
}

/// The largest value and its index (the worst ratio); `None` when empty or any value is NaN.
///
/// ```
/// assert_eq!(amorsize_bench::stats::worst(&[1.0, 3.0, 2.0]), Some((1, 3.0)));
/// ```
pub fn worst(xs: &[f64]) -> Option<(usize, f64)> {
    if xs.iter().any(|x| x.is_nan()) {
        return None;
    }
    xs.iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// `a / b`, or `None` when `a` is negative, `b` is not positive, or either is not finite.
///
/// ```
/// assert_eq!(amorsize_bench::stats::ratio(1.0, 2.0), Some(0.5));
/// assert_eq!(amorsize_bench::stats::ratio(1.0, 0.0), None);
/// ```
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    if a.is_finite() && b.is_finite() && b > 0.0 && a >= 0.0 {
        Some(a / b)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_order_independent() {
        let a = [5.0, 1.0, 9.0, 3.0, 7.0];
        let mut b = a;
        b.reverse();
        assert_eq!(median(&a), median(&b));
        assert_eq!(median(&a), Some(5.0));
    }

    #[test]
    fn median_rejects_nan() {
        assert_eq!(median(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn geomean_of_equal_values_is_that_value() {
        let g = geomean(&[1.7; 9]).unwrap();
        assert!((g - 1.7).abs() < 1e-12);
    }

    #[test]
    fn geomean_lies_between_min_and_max() {
        let xs = [0.5, 1.0, 2.0, 8.0];
        let g = geomean(&xs).unwrap();
        assert!(g > 0.5 && g < 8.0);
        assert!((g - (0.5f64 * 1.0 * 2.0 * 8.0).powf(0.25)).abs() < 1e-12);
    }

    #[test]
    fn geomean_rejects_empty_and_infinite() {
        assert_eq!(geomean(&[]), None);
        assert_eq!(geomean(&[f64::INFINITY]), None);
        assert_eq!(geomean(&[-1.0]), None);
    }

    #[test]
    fn worst_of_empty_is_none() {
        assert_eq!(worst(&[]), None);
        assert_eq!(worst(&[f64::NAN]), None);
    }
}
