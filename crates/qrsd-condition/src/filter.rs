//! Per-lead band-limiting: first-order 0.5 Hz high-pass, optional mains notch, second-order low-pass.

use crate::{check_fs, ConditionError};
use biquad::{Biquad, Coefficients, DirectForm2Transposed, ToHertz, Type, Q_BUTTERWORTH_F64};
use serde::{Deserialize, Serialize};

/// Frequency at which group delays are stated: the centre of QRS energy (5-25 Hz).
pub const DELAY_REFERENCE_HZ: f64 = 10.0;

/// Which conditioning stages run, and their corners. `None` switches a stage off (e.g. when the amplifier
/// already filters).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FilterConfig {
    /// High-pass corner in Hz (default 0.5).
    pub highpass_hz: Option<f64>,
    /// Low-pass corner in Hz (default 150); capped at 0.4 × fs so it always stays below Nyquist.
    pub lowpass_hz: Option<f64>,
    /// Mains frequency to notch: 50 or 60 Hz (default 50).
    pub notch_hz: Option<f64>,
}

impl Default for FilterConfig {
    fn default() -> Self {
        Self {
            highpass_hz: Some(0.5),
            lowpass_hz: Some(150.0),
            notch_hz: Some(50.0),
        }
    }
}

impl FilterConfig {
    /// No filtering at all (signal passes unchanged).
    pub fn off() -> Self {
        Self {
            highpass_hz: None,
            lowpass_hz: None,
            notch_hz: None,
        }
    }

    /// The low-pass corner actually used at `fs_hz` (150 Hz capped at 0.4 × fs).
    pub fn effective_lowpass_hz(&self, fs_hz: f64) -> Option<f64> {
        self.lowpass_hz.map(|f| f.min(0.4 * fs_hz))
    }
}

/// Quality factor of the mains notch: −3 dB band ≈ ±1 Hz at 50 Hz, narrow enough to leave QRS energy alone.
const NOTCH_Q: f64 = 25.0;

/// First-order high-pass `y = x − lp(x)` with the one-pole bilinear low-pass; starts settled on the first
/// sample so that a DC offset does not produce a start-up transient.
#[derive(Debug, Clone)]
struct HighPass1 {
    /// Low-pass coefficient pair (bilinear): lp[n] = b·(x[n] + x[n−1]) − a·lp[n−1].
    b: f64,
    a: f64,
    x1: f64,
    lp1: f64,
    primed: bool,
}

impl HighPass1 {
    fn new(fs_hz: f64, fc_hz: f64) -> Self {
        let k = (std::f64::consts::PI * fc_hz / fs_hz).tan();
        Self {
            b: k / (1.0 + k),
            a: (k - 1.0) / (1.0 + k),
            x1: 0.0,
            lp1: 0.0,
            primed: false,
        }
    }

    #[inline]
    fn run(&mut self, x: f64) -> f64 {
        if !self.primed {
            self.x1 = x;
            self.lp1 = x;
            self.primed = true;
        }
        let lp = self.b * (x + self.x1) - self.a * self.lp1;
        self.x1 = x;
        self.lp1 = lp;
        x - lp
    }

    /// Complex response at normalised angular frequency `w` (rad/sample).
    fn response(&self, w: f64) -> (f64, f64) {
        // LP(z) = b(1 + z⁻¹)/(1 + a z⁻¹); HP = 1 − LP.
        let (num_re, num_im) = (self.b * (1.0 + w.cos()), -self.b * w.sin());
        let (den_re, den_im) = (1.0 + self.a * w.cos(), -self.a * w.sin());
        let (lr, li) = cdiv(num_re, num_im, den_re, den_im);
        (1.0 - lr, -li)
    }
}

fn cdiv(ar: f64, ai: f64, br: f64, bi: f64) -> (f64, f64) {
    let d = br * br + bi * bi;
    ((ar * br + ai * bi) / d, (ai * br - ar * bi) / d)
}

fn biquad_response(c: &Coefficients<f64>, w: f64) -> (f64, f64) {
    let (c1, s1, c2, s2) = (w.cos(), w.sin(), (2.0 * w).cos(), (2.0 * w).sin());
    let (nr, ni) = (c.b0 + c.b1 * c1 + c.b2 * c2, -(c.b1 * s1 + c.b2 * s2));
    let (dr, di) = (1.0 + c.a1 * c1 + c.a2 * c2, -(c.a1 * s1 + c.a2 * s2));
    cdiv(nr, ni, dr, di)
}

/// The conditioning filter of one lead. Construct once per lead; `process` is allocation-free.
#[derive(Debug, Clone)]
pub struct LeadFilter {
    hp: Option<HighPass1>,
    notch: Option<(Coefficients<f64>, DirectForm2Transposed<f64>)>,
    lp: Option<(Coefficients<f64>, DirectForm2Transposed<f64>)>,
    fs_hz: f64,
}

impl LeadFilter {
    /// Design the chain for `fs_hz`. Errors if a corner is not below Nyquist or the rate is unsupported.
    pub fn new(cfg: &FilterConfig, fs_hz: f64) -> Result<Self, ConditionError> {
        check_fs(fs_hz)?;
        let nyquist_hz = fs_hz / 2.0;
        let hp = match cfg.highpass_hz {
            Some(f) if !(f > 0.0 && f < 5.0) => {
                return Err(ConditionError::Parameter {
                    what: "highpass_hz",
                    value: f,
                })
            }
            Some(f) => Some(HighPass1::new(fs_hz, f)),
            None => None,
        };
        let section = |ty: Type<f64>, what: &'static str, hz: f64, q: f64| {
            if !(hz > 0.0 && hz < nyquist_hz) {
                return Err(ConditionError::AboveNyquist {
                    what,
                    hz,
                    nyquist_hz,
                });
            }
            let c = Coefficients::<f64>::from_params(ty, fs_hz.hz(), hz.hz(), q)
                .map_err(|_| ConditionError::Parameter { what, value: hz })?;
            Ok((c, DirectForm2Transposed::<f64>::new(c)))
        };
        let notch = match cfg.notch_hz {
            Some(f) if !(40.0..=70.0).contains(&f) => {
                return Err(ConditionError::Parameter {
                    what: "notch_hz",
                    value: f,
                })
            }
            Some(f) => Some(section(Type::Notch, "notch", f, NOTCH_Q)?),
            None => None,
        };
        let lp = match cfg.effective_lowpass_hz(fs_hz) {
            Some(f) if f < 20.0 => {
                return Err(ConditionError::Parameter {
                    what: "lowpass_hz",
                    value: f,
                })
            }
            Some(f) => Some(section(Type::LowPass, "lowpass", f, Q_BUTTERWORTH_F64)?),
            None => None,
        };
        Ok(Self {
            hp,
            notch,
            lp,
            fs_hz,
        })
    }

    /// Filter one sample (µV in, µV out).
    #[inline]
    pub fn process(&mut self, x_uv: f64) -> f64 {
        let mut y = x_uv;
        if let Some(hp) = &mut self.hp {
            y = hp.run(y);
        }
        if let Some((_, f)) = &mut self.notch {
            y = f.run(y);
        }
        if let Some((_, f)) = &mut self.lp {
            y = f.run(y);
        }
        y
    }

    /// Forget all state (e.g. after a gap in acquisition).
    pub fn reset(&mut self) {
        if let Some(hp) = &mut self.hp {
            hp.primed = false;
        }
        for (_, f) in [&mut self.notch, &mut self.lp].into_iter().flatten() {
            f.reset_state();
        }
    }

    /// Complex frequency response at `f_hz`.
    pub fn response(&self, f_hz: f64) -> (f64, f64) {
        let w = 2.0 * std::f64::consts::PI * f_hz / self.fs_hz;
        let mut acc = (1.0, 0.0);
        let mut mul = |(r, i): (f64, f64)| acc = (acc.0 * r - acc.1 * i, acc.0 * i + acc.1 * r);
        if let Some(hp) = &self.hp {
            mul(hp.response(w));
        }
        for (c, _) in [&self.notch, &self.lp].into_iter().flatten() {
            mul(biquad_response(c, w));
        }
        acc
    }

    /// Group delay in samples at [`DELAY_REFERENCE_HZ`] (−dφ/dω, numerically).
    pub fn group_delay_samples(&self) -> f64 {
        let df = 0.01;
        let phase = |f: f64| {
            let (r, i) = self.response(f);
            i.atan2(r)
        };
        let dphi = phase(DELAY_REFERENCE_HZ + df) - phase(DELAY_REFERENCE_HZ - df);
        let dw = 2.0 * std::f64::consts::PI * (2.0 * df) / self.fs_hz;
        -dphi / dw
    }
}

/// Zero-phase (forward-backward) filtering of a whole lead, for offline comparison with the causal path.
/// The ends are mirror-padded by up to 2 s so the high-pass has settled where the record starts.
pub fn filtfilt(cfg: &FilterConfig, fs_hz: f64, x_uv: &[f64]) -> Result<Vec<f64>, ConditionError> {
    let n = x_uv.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let pad = ((2.0 * fs_hz) as usize).min(n - 1);
    let mut buf = Vec::with_capacity(n + 2 * pad);
    // Odd mirror around the end samples keeps the padded signal continuous in value and slope.
    buf.extend((1..=pad).rev().map(|i| 2.0 * x_uv[0] - x_uv[i]));
    buf.extend_from_slice(x_uv);
    buf.extend((1..=pad).map(|i| 2.0 * x_uv[n - 1] - x_uv[n - 1 - i]));
    for _ in 0..2 {
        let mut f = LeadFilter::new(cfg, fs_hz)?;
        for v in buf.iter_mut() {
            *v = f.process(*v);
        }
        buf.reverse();
    }
    Ok(buf[pad..pad + n].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gain_db(f: &LeadFilter, hz: f64) -> f64 {
        let (r, i) = f.response(hz);
        20.0 * (r * r + i * i).sqrt().log10()
    }

    #[test]
    fn band_edges_and_notch() {
        for fs in [250.0, 360.0, 500.0, 1000.0, 2000.0] {
            let f = LeadFilter::new(&FilterConfig::default(), fs).unwrap();
            assert!(
                (gain_db(&f, 0.5) + 3.0).abs() < 0.3,
                "fs {fs}: {}",
                gain_db(&f, 0.5)
            );
            assert!(gain_db(&f, 10.0).abs() < 0.1);
            assert!(gain_db(&f, 50.0) < -40.0, "notch at fs {fs}");
            assert!(gain_db(&f, 45.0) > -1.0, "notch too wide at fs {fs}");
            let lp = FilterConfig::default().effective_lowpass_hz(fs).unwrap();
            assert!(
                (gain_db(&f, lp) + 3.0).abs() < 0.5,
                "fs {fs} lp {lp}: {}",
                gain_db(&f, lp)
            );
        }
    }

    #[test]
    fn stated_delay_matches_measured_impulse_centroid_of_a_qrs_like_pulse() {
        // A 40 ms Hann pulse: the filtered pulse's peak must sit `group_delay` samples later (±0.5 sample).
        for fs in [500.0, 1000.0] {
            let cfg = FilterConfig {
                highpass_hz: None,
                ..FilterConfig::default()
            };
            let mut f = LeadFilter::new(&cfg, fs).unwrap();
            let w = (0.04 * fs) as usize;
            let centre = 100 + w / 2;
            let x: Vec<f64> = (0..1000)
                .map(|i| {
                    if i >= 100 && i <= 100 + w {
                        let t = (i - 100) as f64 / w as f64;
                        (std::f64::consts::PI * t).sin().powi(2) * 1000.0
                    } else {
                        0.0
                    }
                })
                .collect();
            let y: Vec<f64> = x.iter().map(|v| f.process(*v)).collect();
            let peak = (0..y.len()).max_by(|a, b| y[*a].total_cmp(&y[*b])).unwrap();
            let d = f.group_delay_samples();
            assert!(
                ((peak as f64) - centre as f64 - d).abs() <= 1.0,
                "fs {fs}: peak {peak} centre {centre} d {d}"
            );
            assert!(
                d / fs * 1000.0 < 2.0,
                "low-pass delay {d} samples is more than 2 ms"
            );
        }
    }

    #[test]
    fn rejects_bad_corners() {
        assert!(LeadFilter::new(
            &FilterConfig {
                notch_hz: Some(60.0),
                ..Default::default()
            },
            100.0
        )
        .is_err());
        assert!(LeadFilter::new(
            &FilterConfig {
                notch_hz: Some(10.0),
                ..Default::default()
            },
            500.0
        )
        .is_err());
        assert!(LeadFilter::new(&FilterConfig::default(), 20.0).is_err());
        assert!(LeadFilter::new(
            &FilterConfig {
                highpass_hz: Some(-1.0),
                ..Default::default()
            },
            500.0
        )
        .is_err());
        assert!(LeadFilter::new(&FilterConfig::default(), f64::NAN).is_err());
    }

    #[test]
    fn stable_on_impulse_and_dc_is_removed() {
        let mut f = LeadFilter::new(&FilterConfig::default(), 500.0).unwrap();
        let mut last = 0.0;
        for i in 0..20_000 {
            last = f.process(if i == 0 { 1e6 } else { 1000.0 });
            assert!(last.is_finite());
        }
        assert!(last.abs() < 1.0, "DC not removed: {last}");
    }

    #[test]
    fn filtfilt_has_no_delay() {
        let fs = 500.0;
        // Symmetric 40 ms Hann pulse centred on sample 1000.
        let x: Vec<f64> = (0..2000)
            .map(|i| {
                let t = (i as f64 - 1000.0) / 10.0;
                if t.abs() < 1.0 {
                    1000.0 * (0.5 + 0.5 * (std::f64::consts::PI * t).cos())
                } else {
                    0.0
                }
            })
            .collect();
        let y = filtfilt(&FilterConfig::default(), fs, &x).unwrap();
        let peak = (0..y.len()).max_by(|a, b| y[*a].total_cmp(&y[*b])).unwrap();
        assert_eq!(peak, 1000);
    }
}
