//! The streaming generator.

use std::collections::VecDeque;
use std::f64::consts::TAU;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::morphology::{morph, LeadModel, Morph, MorphKind, MAX_LOBES, P_LOBES, T_SHAPE};
use crate::noise::{normal, Noise};
use crate::{
    derive_limb_leads, BeatClass, BeatTruth, LeadWindow, Rhythm, Sample, SynthConfig, SynthError,
    N_ACQUIRED,
};

/// P onset to QRS onset of conducted beats, ms.
const PR_MS: f64 = 160.0;
/// P-wave duration, ms.
const P_MS: f64 = 100.0;
/// Minimum gap between one QRS offset and the next QRS onset, ms (later beats are pushed back).
const MIN_GAP_MS: f64 = 120.0;
/// Time of the first P onset, s (the stream starts with baseline).
const FIRST_P_S: f64 = 0.2;
/// Per-lead truth threshold: `max(LEAD_THRESHOLD_REL · peak, LEAD_THRESHOLD_UV)`.
pub(crate) const LEAD_THRESHOLD_UV: f64 = 10.0;
/// See [`LEAD_THRESHOLD_UV`].
pub(crate) const LEAD_THRESHOLD_REL: f64 = 0.01;
/// Rate-corrected J-T interval, ms at RR = 1 s (JT = JTc·√RR, Bazett-style).
const JTC_MS: f64 = 320.0;
/// Respiratory modulation of QRS amplitude: frequency (Hz) and depth.
const RESP_HZ: f64 = 0.25;
const RESP_DEPTH: f64 = 0.05;
/// Beat-to-beat jitter (SD, relative) of each QRS lobe and of the T wave.
const LOBE_JITTER: f64 = 0.03;
/// The recharge tail is cut where it falls below this, µV.
const TAIL_FLOOR_UV: f64 = 0.05;

/// The next beat's timing, fixed when the previous beat starts.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Nominal sinus P onset (continuous sample time); for an ectopic slot the hidden P that sets the
    /// following beat's timing (compensatory pause).
    p0: f64,
    /// Continuous QRS start of a premature ventricular complex in this slot.
    ectopic_start: Option<f64>,
    /// Sample at which the beat is built (its first template sample).
    trigger: i64,
}

/// A beat being played out: its precomputed template and its truth.
#[derive(Debug)]
struct ActiveBeat {
    start: u64,
    buf: Vec<[f64; N_ACQUIRED]>,
    pace: [(u64, u64); 2],
    n_pace: usize,
    truth: BeatTruth,
}

impl ActiveBeat {
    /// One past the last template sample.
    fn end(&self) -> u64 {
        self.start + self.buf.len() as u64
    }
}

/// The random numbers one beat consumes (always all of them, so timing does not depend on class).
struct Draws {
    class: f64,
    fusion_w: f64,
    lobes: [f64; MAX_LOBES],
    t: f64,
    rr: f64,
    ectopic: f64,
    coupling: f64,
}

impl Draws {
    fn draw(rng: &mut ChaCha8Rng) -> Self {
        let class = rng.gen::<f64>();
        let fusion_w = rng.gen::<f64>();
        let mut lobes = [0.0; MAX_LOBES];
        lobes
            .iter_mut()
            .for_each(|x| *x = normal(rng).clamp(-3.0, 3.0));
        let t = normal(rng).clamp(-3.0, 3.0);
        let rr = normal(rng).clamp(-3.0, 3.0);
        let ectopic = rng.gen::<f64>();
        let coupling = rng.gen::<f64>();
        Self {
            class,
            fusion_w,
            lobes,
            t,
            rr,
            ectopic,
            coupling,
        }
    }
}

/// One stimulus: continuous start time (samples) and per-lead amplitude (µV).
struct Pulse {
    ts: f64,
    amp: [f64; N_ACQUIRED],
}

/// First sample whose averaging interval `[k − ½, k + ½)` overlaps something starting at `t`.
fn first_overlap(t: f64) -> i64 {
    (t - 0.5).floor() as i64 + 1
}

/// Last sample whose averaging interval overlaps something ending at `t`.
fn last_overlap(t: f64) -> i64 {
    (t + 0.5).ceil() as i64 - 1
}

/// Deterministic, seeded, streaming 12-lead ECG generator. See the crate documentation.
#[derive(Debug)]
pub struct Synth {
    cfg: SynthConfig,
    fs: f64,
    leads: LeadModel,
    beat_rng: ChaCha8Rng,
    noise: Noise,
    resp_phase: f64,
    /// Next sample index to generate.
    n: u64,
    next_slot: Slot,
    prev_offset: i64,
    beat_index: u64,
    active: VecDeque<ActiveBeat>,
    pool: Vec<Vec<[f64; N_ACQUIRED]>>,
    qrs_scratch: Vec<[f64; N_ACQUIRED]>,
    truth: VecDeque<BeatTruth>,
    lead_off_manual: u8,
    lead_off_windows: Vec<(usize, u64, u64)>,
    /// Test hook: every beat's QRS component (onset sample, 8 leads).
    #[cfg(test)]
    pub(crate) qrs_log: Vec<(u64, Vec<[f64; N_ACQUIRED]>)>,
}

impl Synth {
    /// A generator for `cfg` (validated first). The stream starts at sample 0 with 0.2 s of baseline before
    /// the first P wave.
    pub fn new(cfg: SynthConfig) -> Result<Self, SynthError> {
        cfg.validate()?;
        let stream = |k: u64| {
            let mut r = ChaCha8Rng::seed_from_u64(cfg.seed);
            r.set_stream(k);
            r
        };
        let mut params = stream(3);
        let mut angle = || (params.gen::<f64>() - 0.5) * 0.24;
        let (rx, ry, rz) = (angle(), angle(), angle());
        let leads = LeadModel::new(rx, ry, rz);
        let resp_phase = TAU * params.gen::<f64>();
        let fs = cfg.fs_hz;
        let noise = Noise::new(fs, &mut params, stream(2));
        let p0 = FIRST_P_S * fs;
        let mut s = Self {
            fs,
            leads,
            beat_rng: stream(1),
            noise,
            resp_phase,
            n: 0,
            next_slot: Slot {
                p0,
                ectopic_start: None,
                trigger: p0.floor() as i64,
            },
            prev_offset: i64::MIN / 4,
            beat_index: 0,
            active: VecDeque::with_capacity(8),
            pool: Vec::new(),
            qrs_scratch: Vec::new(),
            truth: VecDeque::with_capacity(16),
            lead_off_manual: 0,
            lead_off_windows: Vec::new(),
            #[cfg(test)]
            qrs_log: Vec::new(),
            cfg,
        };
        s.lead_off_windows = s.windows_in_samples();
        Ok(s)
    }

    /// Generates the next `out.len()` samples into `out` and returns how many were written (all of them:
    /// the stream is endless). Output does not depend on how the stream is cut into calls.
    pub fn fill(&mut self, out: &mut [Sample]) -> usize {
        for s in out.iter_mut() {
            *s = self.next_sample();
        }
        out.len()
    }

    /// Truth of the beats completed (template fully played out, T wave included) since the last call, in
    /// beat order. The queue is unbounded: drain it regularly on long streams.
    pub fn drain_truth(&mut self) -> impl Iterator<Item = BeatTruth> + '_ {
        self.truth.drain(..)
    }

    /// Replaces the configuration (validated first; the sampling rate must not change and the seed is kept).
    ///
    /// Beat parameters (rhythm, durations, pacing, class probabilities) apply from the next beat that starts;
    /// the start time of that beat and whether it is ectopic were fixed when the previous beat started, so a
    /// rate change shows one beat later. Noise, lead-off windows and clipping apply from the next sample.
    pub fn set_config(&mut self, mut cfg: SynthConfig) -> Result<(), SynthError> {
        cfg.validate()?;
        if cfg.fs_hz != self.cfg.fs_hz {
            return Err(SynthError::SamplingRateChange {
                from: self.cfg.fs_hz,
                to: cfg.fs_hz,
            });
        }
        cfg.seed = self.cfg.seed;
        self.cfg = cfg;
        self.lead_off_windows = self.windows_in_samples();
        Ok(())
    }

    /// Switches the rhythm from the next beat that starts (see [`Synth::set_config`]).
    pub fn set_rhythm(&mut self, rhythm: Rhythm) {
        self.cfg.rhythm = rhythm;
    }

    /// Flags acquired channel `lead` (index into [`LEAD_NAMES`](crate::LEAD_NAMES)) off or on from the next
    /// sample, in addition to the configured windows. An off channel reads `+clip_uv`.
    pub fn set_lead_off(&mut self, lead: usize, off: bool) -> Result<(), SynthError> {
        if lead >= N_ACQUIRED {
            return Err(SynthError::NoSuchLead(lead));
        }
        if off {
            self.lead_off_manual |= 1 << lead;
        } else {
            self.lead_off_manual &= !(1 << lead);
        }
        Ok(())
    }

    /// The configuration in force.
    pub fn config(&self) -> &SynthConfig {
        &self.cfg
    }

    /// Sampling rate, Hz.
    pub fn fs_hz(&self) -> f64 {
        self.fs
    }

    /// Number of samples generated so far (the index of the next sample).
    pub fn position(&self) -> u64 {
        self.n
    }

    /// True while a beat that started before sample `n` is still being played out.
    pub(crate) fn has_beat_started_before(&self, n: u64) -> bool {
        self.active.iter().any(|b| b.start < n)
    }

    fn windows_in_samples(&self) -> Vec<(usize, u64, u64)> {
        self.cfg
            .lead_off
            .iter()
            .map(|w| {
                (
                    w.lead,
                    (w.start_s * self.fs).ceil() as u64,
                    (w.end_s * self.fs).ceil() as u64,
                )
            })
            .collect()
    }

    #[inline]
    fn next_sample(&mut self) -> Sample {
        while self.n as i64 >= self.next_slot.trigger {
            self.plan_beat();
        }
        let n = self.n;
        let mut v = [0.0; N_ACQUIRED];
        let mut pace = false;
        for b in &self.active {
            if n < b.start {
                continue;
            }
            if let Some(x) = b.buf.get((n - b.start) as usize) {
                for (o, y) in v.iter_mut().zip(x) {
                    *o += y;
                }
            }
            pace |= b.pace[..b.n_pace]
                .iter()
                .any(|&(lo, hi)| lo <= n && n <= hi);
        }
        self.noise.add(&self.cfg.noise, n, &mut v);
        let mut off = self.lead_off_manual;
        for &(lead, lo, hi) in &self.lead_off_windows {
            if lo <= n && n < hi {
                off |= 1 << lead;
            }
        }
        let clip = self.cfg.clip_uv;
        for (l, x) in v.iter_mut().enumerate() {
            *x = if off & (1 << l) != 0 {
                clip
            } else {
                x.clamp(-clip, clip)
            };
        }
        self.n += 1;
        while self.active.front().is_some_and(|b| b.end() <= self.n) {
            if let Some(b) = self.active.pop_front() {
                self.truth.push_back(b.truth);
                self.pool.push(b.buf);
            }
        }
        Sample {
            leads: v,
            pace,
            lead_off: off,
        }
    }

    /// Builds the beat of `next_slot` (template and truth) and times the slot after it.
    fn plan_beat(&mut self) {
        let slot = self.next_slot;
        let cfg = &self.cfg;
        let d = Draws::draw(&mut self.beat_rng);
        let ms = self.fs / 1000.0;

        // Class and morphology.
        let class = if slot.ectopic_start.is_some() {
            BeatClass::Ectopic
        } else if cfg.rhythm == Rhythm::Intrinsic {
            BeatClass::Intrinsic
        } else if cfg.rhythm == Rhythm::Rv {
            BeatClass::LossOfCapture
        } else if d.class < cfg.fusion_probability {
            BeatClass::Fusion
        } else if d.class < cfg.fusion_probability + cfg.loss_of_capture_probability {
            BeatClass::LossOfCapture
        } else {
            BeatClass::Paced
        };
        let conducted = morph(if cfg.lbbb {
            MorphKind::Lbbb
        } else {
            MorphKind::Normal
        });
        let conducted_qrsd = match cfg.rhythm {
            Rhythm::Intrinsic => cfg.qrsd_ms,
            Rhythm::Biv | Rhythm::Rv => cfg.intrinsic_qrsd_ms,
        };
        let (m, qrsd_ms): (Morph, f64) = match class {
            BeatClass::Intrinsic => (conducted, cfg.qrsd_ms),
            BeatClass::Paced => (morph(MorphKind::Biv), cfg.qrsd_ms),
            BeatClass::Fusion => {
                // The paced wavefront starts the complex; conducted activation joins a quarter of the way in.
                let w = 0.4 + 0.4 * d.fusion_w;
                (
                    Morph::blend(&morph(MorphKind::Biv), w, &conducted, 1.0 - w, 0.25),
                    w * cfg.qrsd_ms + (1.0 - w) * conducted_qrsd,
                )
            }
            // RV-only pacing as the rhythm: its own configured width; an occasional loss of
            // capture during BiV pacing: wider than the BiV complex.
            BeatClass::LossOfCapture if cfg.rhythm == Rhythm::Rv => {
                (morph(MorphKind::RvOnly), cfg.qrsd_ms)
            }
            BeatClass::LossOfCapture => (
                morph(MorphKind::RvOnly),
                cfg.qrsd_ms + cfg.loc_extra_qrsd_ms,
            ),
            BeatClass::Ectopic => (
                morph(MorphKind::Pvc),
                (conducted_qrsd.max(120.0) + 30.0).min(280.0),
            ),
        };
        let m = if cfg.realistic_edges {
            m.with_feet(qrsd_ms)
        } else {
            m
        };
        let paced = matches!(
            class,
            BeatClass::Paced | BeatClass::Fusion | BeatClass::LossOfCapture
        );
        let has_p = class != BeatClass::Ectopic;

        // Timing (continuous sample times), before any shift.
        let mut p0 = slot.p0;
        let first = p0 + cfg.pace.av_delay_ms * ms;
        let vv = cfg.pace.vv_offset_ms * ms;
        let (mut t_lv, mut t_rv) = if vv >= 0.0 {
            (first, first + vv)
        } else {
            (first - vv, first)
        };
        let latency = cfg.pace.capture_latency_ms * ms;
        let q = match class {
            BeatClass::Intrinsic => p0 + PR_MS * ms,
            BeatClass::Paced | BeatClass::Fusion => first + latency,
            BeatClass::LossOfCapture => t_rv + latency,
            BeatClass::Ectopic => slot.ectopic_start.unwrap_or(p0),
        };
        let n_q = ((qrsd_ms * ms).round() as i64).max(2);
        let mut onset = (q + 0.5).floor() as i64;
        let mut s0 = onset - 1;
        if has_p {
            s0 = s0.min(p0.floor() as i64);
        }
        if paced {
            s0 = s0.min(first_overlap(t_lv.min(t_rv)));
        }
        let gap = (MIN_GAP_MS * ms).round() as i64;
        let shift = 0
            .max(self.prev_offset.saturating_add(gap) - onset)
            .max(self.n as i64 - s0);
        let shift_f = shift as f64;
        p0 += shift_f;
        t_lv += shift_f;
        t_rv += shift_f;
        onset += shift;
        let offset = onset + n_q;

        // T wave: J-T interval from the mean RR, short ST segment for wide complexes.
        let rr_mean_ms = 60_000.0 / cfg.rate_bpm;
        let jt_ms = JTC_MS * (rr_mean_ms / 1000.0).sqrt();
        let st_ms = if m.wide { 0.1 } else { 0.25 } * jt_ms;
        let t_start = offset as f64 + 0.5 + st_ms * ms;
        let t_end = t_start + (jt_ms - st_ms) * ms;

        // Stimuli.
        let pw = cfg.pace.pulse_width_ms * ms;
        let tau = cfg.pace.recharge_tau_ms * ms;
        let frac = cfg.pace.recharge_fraction;
        let tail_peak = frac * cfg.pace.amplitude_uv;
        let tail_len = if tail_peak > TAIL_FLOOR_UV {
            tau * (tail_peak / TAIL_FLOOR_UV).ln()
        } else {
            0.0
        };
        let amp = cfg.pace.amplitude_uv;
        let pulses = [
            Pulse {
                ts: t_lv,
                amp: self.leads.pace_lv.map(|p| p * amp),
            },
            Pulse {
                ts: t_rv,
                amp: self.leads.pace_rv.map(|p| p * amp),
            },
        ];
        let pulses: &[Pulse] = if paced { &pulses } else { &[] };

        // Template span.
        let mut start = onset - 1;
        let mut end = offset + 1;
        if has_p {
            start = start.min(p0.floor() as i64);
        }
        end = end.max(t_end.ceil() as i64);
        for p in pulses {
            start = start.min(first_overlap(p.ts));
            end = end.max(last_overlap(p.ts + pw + tail_len));
        }
        let start_u = start.max(0) as u64;
        let len = (end - start + 1).max(1) as usize;
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        buf.resize(len, [0.0; N_ACQUIRED]);
        let idx = |k: i64| (k - start) as usize;

        // P wave.
        let p_len = P_MS * ms;
        if has_p {
            for k in (p0.floor() as i64 + 1)..=((p0 + p_len).ceil() as i64 - 1) {
                let u = (k as f64 - p0) / p_len;
                let mut v = [0.0; 3];
                for l in &P_LOBES {
                    let s = l.shape(u);
                    for (o, c) in v.iter_mut().zip(&l.v) {
                        *o += c * s;
                    }
                }
                add(&mut buf[idx(k)], &self.leads.project(&v));
            }
        }

        // QRS: continuous support [onset − ½, offset + ½], so exactly onset..=offset are nonzero.
        let resp =
            1.0 + RESP_DEPTH * (TAU * RESP_HZ * onset as f64 / self.fs + self.resp_phase).sin();
        let gains = d.lobes.map(|z| resp * (1.0 + LOBE_JITTER * z));
        self.qrs_scratch.clear();
        for k in onset..=offset {
            let u = (k - onset) as f64 + 0.5;
            let leads = self.leads.project(&m.vector(u / (n_q + 1) as f64, &gains));
            add(&mut buf[idx(k)], &leads);
            self.qrs_scratch.push(leads);
        }

        // T wave.
        let t_gain = 1.0 + LOBE_JITTER * d.t;
        for k in (t_start.floor() as i64 + 1)..=(t_end.ceil() as i64 - 1) {
            let s = T_SHAPE.shape((k as f64 - t_start) / (t_end - t_start)) * t_gain;
            add(
                &mut buf[idx(k)],
                &self.leads.project(&m.t_vec.map(|c| c * s)),
            );
        }

        // Stimuli, averaged over each sample's interval like an anti-aliased amplifier.
        let mut pace = [(0u64, 0u64); 2];
        for (p, range) in pulses.iter().zip(pace.iter_mut()) {
            let te = p.ts + pw;
            let tail_end = te + tail_len;
            for k in first_overlap(p.ts)..=last_overlap(tail_end) {
                let (a, b) = (k as f64 - 0.5, k as f64 + 0.5);
                let rect = (b.min(te) - a.max(p.ts)).max(0.0);
                let (lo, hi) = (a.max(te), b.min(tail_end));
                let tail = if hi > lo && tau > 0.0 {
                    -frac * tau * ((-(lo - te) / tau).exp() - (-(hi - te) / tau).exp())
                } else {
                    0.0
                };
                let w = rect + tail;
                let cell = &mut buf[idx(k)];
                for (o, a) in cell.iter_mut().zip(&p.amp) {
                    *o += a * w;
                }
            }
            *range = (
                first_overlap(p.ts).max(0) as u64,
                last_overlap(te).max(0) as u64,
            );
        }

        // Truth.
        let (per_lead, r_off) = lead_windows(&self.qrs_scratch, onset.max(0) as u64);
        let truth = BeatTruth {
            index: self.beat_index,
            class,
            qrsd_ms: n_q as f64 * 1000.0 / self.fs,
            onset_sample: onset as u64,
            offset_sample: offset as u64,
            stimulus_sample: paced.then(|| first_overlap(t_lv.min(t_rv)).max(0) as u64),
            r_sample: onset as u64 + r_off,
            p_onset_sample: has_p.then(|| (p0.floor() as i64 + 1) as u64),
            t_offset_sample: (t_end.ceil() as i64 - 1).max(0) as u64,
            per_lead,
        };
        #[cfg(test)]
        self.qrs_log.push((onset as u64, self.qrs_scratch.clone()));
        self.active.push_back(ActiveBeat {
            start: start_u,
            buf,
            pace,
            n_pace: pulses.len(),
            truth,
        });
        self.beat_index += 1;
        self.prev_offset = offset;

        // Next slot: RR from the (possibly new) rate, clipped jitter; maybe a premature complex.
        let rr_mean = rr_mean_ms * ms;
        let rr = (rr_mean + cfg.hrv_ms * ms * d.rr).clamp(0.6 * rr_mean, 1.4 * rr_mean);
        let next_p0 = p0 + rr;
        self.next_slot = if d.ectopic < cfg.ectopic_probability {
            let e = onset as f64 - 0.5 + (0.55 + 0.15 * d.coupling) * rr_mean;
            Slot {
                p0: next_p0,
                ectopic_start: Some(e),
                trigger: (e + 0.5).floor() as i64 - 1,
            }
        } else {
            Slot {
                p0: next_p0,
                ectopic_start: None,
                trigger: next_p0.floor() as i64,
            }
        };
    }
}

#[inline]
fn add(dst: &mut [f64; N_ACQUIRED], src: &[f64; N_ACQUIRED]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

/// The 12 leads (`LEAD_NAMES_12` order) of one sample of the 8 acquired leads.
#[inline]
pub(crate) fn twelve(x: &[f64; N_ACQUIRED]) -> [f64; 12] {
    let [iii, avr, avl, avf] = derive_limb_leads(x[0], x[1]);
    [
        x[0], x[1], iii, avr, avl, avf, x[2], x[3], x[4], x[5], x[6], x[7],
    ]
}

/// Per-lead truth windows (threshold rule) and the offset of the magnitude peak, for a QRS component
/// starting at sample `onset`.
pub(crate) fn lead_windows(
    qrs: &[[f64; N_ACQUIRED]],
    onset: u64,
) -> ([Option<LeadWindow>; 12], u64) {
    let mut peak = [0.0_f64; 12];
    let mut r = (0usize, -1.0_f64);
    for (k, x) in qrs.iter().enumerate() {
        for (p, y) in peak.iter_mut().zip(twelve(x)) {
            *p = p.max(y.abs());
        }
        let mag: f64 = x.iter().map(|y| y * y).sum();
        if mag > r.1 {
            r = (k, mag);
        }
    }
    let thr = peak.map(|p| (LEAD_THRESHOLD_REL * p).max(LEAD_THRESHOLD_UV));
    let mut win: [Option<LeadWindow>; 12] = [None; 12];
    for (k, x) in qrs.iter().enumerate() {
        let s = onset + k as u64;
        for ((w, y), t) in win.iter_mut().zip(twelve(x)).zip(&thr) {
            if y.abs() > *t {
                match w {
                    Some(w) => w.offset_sample = s,
                    None => {
                        *w = Some(LeadWindow {
                            onset_sample: s,
                            offset_sample: s,
                        })
                    }
                }
            }
        }
    }
    (win, r.0 as u64)
}
