//! Robust summary statistics used by every measurement: median, IQR and SD.
//!
//! Conventions (stated so that every number can be recomputed by hand):
//! - **median**: middle value; mean of the two middle values for an even count.
//! - **quartiles**: linear interpolation between order statistics at position `p·(n−1)`
//!   (Hyndman–Fan type 7, the default of R, NumPy and Excel `QUARTILE.INC`); **IQR** = Q3 − Q1.
//! - **SD**: sample standard deviation (divisor `n − 1`); 0 for a single value.

use serde::{Deserialize, Serialize};

/// Median, spread and count of a set of values (ms).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Median.
    pub median_ms: f64,
    /// Interquartile range (type-7 quartiles).
    pub iqr_ms: f64,
    /// Sample standard deviation (n − 1).
    pub sd_ms: f64,
    /// Number of values.
    pub n: usize,
}

impl Spread {
    /// Summary of `values`; `None` when empty or when a value is not finite.
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        Some(Spread {
            median_ms: quantile_sorted(&v, 0.5),
            iqr_ms: quantile_sorted(&v, 0.75) - quantile_sorted(&v, 0.25),
            sd_ms: sd(&v),
            n: v.len(),
        })
    }
}

/// Circular mean of angles in degrees, in (−180, 180] (`None` when empty or when they cancel):
/// axes near ±180° must not average to 0°.
pub fn circular_mean_deg(values: &[f64]) -> Option<f64> {
    let (mut s, mut c, mut n) = (0.0f64, 0.0f64, 0usize);
    for v in values.iter().filter(|v| v.is_finite()) {
        let r = v.to_radians();
        s += r.sin();
        c += r.cos();
        n += 1;
    }
    (n > 0 && s.hypot(c) > 1e-9 * n as f64).then(|| s.atan2(c).to_degrees())
}

/// Median of `values` (`None` when empty). Non-finite values are ignored.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(quantile_sorted(&v, 0.5))
}

/// Type-7 quantile of an ascending, non-empty slice.
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let h = p.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Sample standard deviation (n − 1); 0 for fewer than two values.
pub fn sd(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 2 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    (ss / (n - 1) as f64).sqrt()
}

/// Pearson correlation of two equally long series; `None` if either is flat or lengths differ.
pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.len() < 3 {
        return None;
    }
    let n = a.len() as f64;
    let ma = a.iter().sum::<f64>() / n;
    let mb = b.iter().sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa <= f64::EPSILON || sbb <= f64::EPSILON {
        return None;
    }
    Some(sab / (saa.sqrt() * sbb.sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_exact_values() {
        // 1..=10 → median 5.5, Q1 = 3.25, Q3 = 7.75, IQR 4.5, SD = sqrt(55/6)
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        let s = Spread::of(&v).unwrap();
        assert_eq!(s.median_ms, 5.5);
        assert!((s.iqr_ms - 4.5).abs() < 1e-12);
        assert!((s.sd_ms - (55.0f64 / 6.0).sqrt()).abs() < 1e-12);
        assert_eq!(s.n, 10);
    }

    #[test]
    fn odd_count_and_single() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        let s = Spread::of(&[7.0]).unwrap();
        assert_eq!((s.median_ms, s.iqr_ms, s.sd_ms), (7.0, 0.0, 0.0));
        assert!(Spread::of(&[]).is_none());
        assert!(Spread::of(&[1.0, f64::NAN]).is_none());
    }

    #[test]
    fn circular_mean_wraps_at_180() {
        let m = circular_mean_deg(&[170.0, -170.0, 180.0]).unwrap();
        assert!((m.abs() - 180.0).abs() < 1e-9, "{m}");
        let m = circular_mean_deg(&[-80.0, -100.0]).unwrap();
        assert!((m + 90.0).abs() < 1e-9, "{m}");
        assert!(circular_mean_deg(&[0.0, 180.0]).is_none());
        assert!(circular_mean_deg(&[]).is_none());
    }

    #[test]
    fn pearson_basic() {
        let a = [1.0, 2.0, 3.0, 4.0];
        assert!((pearson(&a, &[2.0, 4.0, 6.0, 8.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((pearson(&a, &[8.0, 6.0, 4.0, 2.0]).unwrap() + 1.0).abs() < 1e-12);
        assert!(pearson(&a, &[1.0, 1.0, 1.0, 1.0]).is_none());
    }
}
