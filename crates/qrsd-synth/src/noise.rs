//! Additive noise: band-limited EMG, respiratory baseline wander and mains interference.
//!
//! Every sample draws the same number of random numbers whatever the noise levels, so the realisation for a
//! seed is the same at any level (a noisier run is the same noise scaled) and the stream does not depend on
//! how it is pulled. Sinusoids are evaluated from the absolute sample index, not accumulated.

use std::f64::consts::TAU;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::NoiseConfig;

/// A standard normal deviate (Box–Muller, cosine branch).
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    normal_pair(rng).0
}

/// Two independent standard normal deviates (Box–Muller).
pub(crate) fn normal_pair(rng: &mut ChaCha8Rng) -> (f64, f64) {
    // 1 - u ∈ (0, 1], so the logarithm is finite.
    let u1: f64 = 1.0 - rng.gen::<f64>();
    let u2: f64 = rng.gen::<f64>();
    let r = (-2.0 * u1.ln()).sqrt();
    let (s, c) = (TAU * u2).sin_cos();
    (r * c, r * s)
}

/// EMG band edges, Hz.
const EMG_HP_HZ: f64 = 20.0;
const EMG_LP_HZ: f64 = 150.0;

/// Noise generator state for the 8 acquired leads.
#[derive(Debug, Clone)]
pub(crate) struct Noise {
    fs_hz: f64,
    rng: ChaCha8Rng,
    hp_a: f64,
    lp_b: f64,
    /// 1 / RMS of the filter's response to unit white noise.
    emg_norm: f64,
    /// Per lead: high-pass output, previous input, low-pass output.
    emg_state: [[f64; 3]; 8],
    /// Per lead (sin, cos) coefficients of the mains phasor, max amplitude over leads 1.
    mains: [[f64; 2]; 8],
    /// Respiratory frequencies, Hz.
    wander_hz: [f64; 2],
    /// Per lead and frequency (sin, cos) coefficients; per lead the two together peak at ≤ 1.
    wander: [[[f64; 2]; 2]; 8],
}

impl Noise {
    /// A noise source for sampling rate `fs_hz`; `params` draws the fixed per-recording parameters (phases,
    /// frequencies, lead factors), `rng` then feeds the per-sample noise.
    pub fn new(fs_hz: f64, params: &mut ChaCha8Rng, rng: ChaCha8Rng) -> Self {
        let hp_a = 1.0 / (1.0 + TAU * EMG_HP_HZ / fs_hz);
        let lp_b = 1.0 - (-TAU * EMG_LP_HZ.min(0.4 * fs_hz) / fs_hz).exp();
        // Energy of the impulse response (1 s is ≥ 100 time constants of either stage).
        let (mut y, mut xp, mut z, mut energy) = (0.0_f64, 0.0_f64, 0.0_f64, 0.0_f64);
        for k in 0..(fs_hz as usize).max(1) {
            let x = if k == 0 { 1.0 } else { 0.0 };
            y = hp_a * (y + x - xp);
            xp = x;
            z += lp_b * (y - z);
            energy += z * z;
        }
        let emg_norm = if energy > 0.0 {
            1.0 / energy.sqrt()
        } else {
            0.0
        };

        let mut mains = [[0.0; 2]; 8];
        for m in &mut mains {
            let amp = 0.5 + 0.5 * params.gen::<f64>();
            let phase = TAU * params.gen::<f64>();
            *m = [amp * phase.cos(), amp * phase.sin()];
        }
        let top = mains.iter().fold(0.0_f64, |a, m| a.max(m[0].hypot(m[1])));
        if top > 0.0 {
            mains.iter_mut().for_each(|m| {
                m[0] /= top;
                m[1] /= top;
            });
        }
        let wander_hz = [
            0.15 + 0.2 * params.gen::<f64>(),
            0.35 + 0.15 * params.gen::<f64>(),
        ];
        let mut wander = [[[0.0; 2]; 2]; 8];
        for lead in &mut wander {
            let amp = 0.6 + 0.4 * params.gen::<f64>();
            for (coef, share) in lead.iter_mut().zip([0.75, 0.25]) {
                let phase = TAU * params.gen::<f64>();
                *coef = [amp * share * phase.cos(), amp * share * phase.sin()];
            }
        }
        Self {
            fs_hz,
            rng,
            hp_a,
            lp_b,
            emg_norm,
            emg_state: [[0.0; 3]; 8],
            mains,
            wander_hz,
            wander,
        }
    }

    /// Adds the noise of sample `n` to `out`.
    #[inline]
    pub fn add(&mut self, cfg: &NoiseConfig, n: u64, out: &mut [f64; 8]) {
        let t = n as f64 / self.fs_hz;
        for pair in 0..4 {
            let (a, b) = normal_pair(&mut self.rng);
            for (lead, x) in [(2 * pair, a), (2 * pair + 1, b)] {
                let st = &mut self.emg_state[lead];
                st[0] = self.hp_a * (st[0] + x - st[1]);
                st[1] = x;
                st[2] += self.lp_b * (st[0] - st[2]);
                let gain = (cfg.emg_uv_rms + cfg.emg_lead_uv_rms[lead]) * self.emg_norm;
                out[lead] += gain * st[2];
            }
        }
        if cfg.mains_uv != 0.0 {
            let (s, c) = (TAU * cfg.mains_hz * t).sin_cos();
            for (o, m) in out.iter_mut().zip(&self.mains) {
                *o += cfg.mains_uv * (m[0] * s + m[1] * c);
            }
        }
        if cfg.baseline_wander_uv != 0.0 {
            let phasors = self.wander_hz.map(|f| (TAU * f * t).sin_cos());
            for (o, lead) in out.iter_mut().zip(&self.wander) {
                for ((s, c), m) in phasors.iter().zip(lead) {
                    *o += cfg.baseline_wander_uv * (m[0] * s + m[1] * c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn emg_rms_matches_config() {
        let mut p = ChaCha8Rng::seed_from_u64(1);
        let mut noise = Noise::new(1000.0, &mut p, ChaCha8Rng::seed_from_u64(2));
        let cfg = NoiseConfig {
            emg_uv_rms: 30.0,
            ..NoiseConfig::default()
        };
        let mut sum = [0.0; 8];
        let n = 200_000;
        for k in 0..n {
            let mut v = [0.0; 8];
            noise.add(&cfg, k, &mut v);
            for (s, x) in sum.iter_mut().zip(v) {
                *s += x * x;
            }
        }
        for s in sum {
            let rms = (s / n as f64).sqrt();
            assert!((rms - 30.0).abs() < 1.5, "rms {rms}");
        }
    }

    #[test]
    fn per_lead_emg_adds_to_one_lead_only() {
        let mut p = ChaCha8Rng::seed_from_u64(5);
        let mut noise = Noise::new(500.0, &mut p, ChaCha8Rng::seed_from_u64(6));
        let mut extra = [0.0; 8];
        extra[2] = 200.0; // V1
        let cfg = NoiseConfig {
            emg_uv_rms: 10.0,
            emg_lead_uv_rms: extra,
            ..NoiseConfig::default()
        };
        let mut sum = [0.0; 8];
        let n = 100_000;
        for k in 0..n {
            let mut v = [0.0; 8];
            noise.add(&cfg, k, &mut v);
            for (s, x) in sum.iter_mut().zip(v) {
                *s += x * x;
            }
        }
        for (l, s) in sum.iter().enumerate() {
            let rms = (s / n as f64).sqrt();
            let want = 10.0 + extra[l];
            assert!(
                (rms - want).abs() < 0.05 * want,
                "lead {l}: rms {rms}, want {want}"
            );
        }
    }

    #[test]
    fn mains_and_wander_peak_at_configured_amplitude() {
        let mut p = ChaCha8Rng::seed_from_u64(3);
        let mut noise = Noise::new(500.0, &mut p, ChaCha8Rng::seed_from_u64(4));
        for (cfg, secs) in [
            (
                NoiseConfig {
                    mains_uv: 100.0,
                    mains_hz: 60.0,
                    ..NoiseConfig::default()
                },
                1u64,
            ),
            (
                NoiseConfig {
                    baseline_wander_uv: 200.0,
                    ..NoiseConfig::default()
                },
                60,
            ),
        ] {
            let mut peak = 0.0_f64;
            for k in 0..secs * 500 {
                let mut v = [0.0; 8];
                noise.add(&cfg, k, &mut v);
                peak = v.iter().fold(peak, |m, x| m.max(x.abs()));
            }
            let amp = cfg.mains_uv.max(cfg.baseline_wander_uv);
            assert!(peak <= amp * 1.0001 && peak > 0.5 * amp, "{peak}");
        }
    }
}
