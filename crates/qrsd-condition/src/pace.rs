//! Pacing-stimulus detection on the unfiltered signal, and blanking.
//!
//! A pacing pulse is 0.1–2 ms wide (IEC 60601-2-27). Sampled at 250–2000 Hz through the amplifier's
//! anti-alias filter it shows as a run of at most `max_width` samples that stands out from *both*
//! neighbours in the same direction (a "protrusion"); a QRS, however steep, keeps going in one direction
//! for many samples. The hardware pace flag, when the amplifier sends one, is the primary source; the
//! software detector is the fallback and is deliberately conservative, because at 500 Hz many stimuli are
//! aliased away and muscle spikes can look alike.
//!
//! A pacing stimulus is a field across the whole torso: it stands out in many leads at once, while a
//! muscle or motion spike stands out only in the leads of the electrode it moves. A candidate that
//! stands out only in leads the quality stage calls noisy (or worse), and in no more than half of
//! the leads, is that noise: neither reported nor blanked, once the pipeline says which leads are
//! noisy ([`PaceBlanker::set_noisy_leads`]).
//!
//! Blanking replaces the stimulus and its recharge tail by a straight line from the last clean sample to
//! the first clean sample after it, so the band filters never see the step and cannot ring into a fake
//! QRS. That needs a short look-ahead: the stage delays every sample by [`PaceBlanker::delay_samples`].

use crate::{check_fs, ConditionError};
use serde::{Deserialize, Serialize};

/// The bit of lead 63 in a lead mask, which leads past it share.
const FAR_LEAD: u64 = 1 << 63;
/// Steps before a candidate run that must each be under half of the step into it: a stimulus leaves a
/// baseline or a slow wave, while electrode noise and a QRS's ramp step as steeply just before. One
/// step was not enough at 250 Hz: MIT-BIH resampled to 250 Hz had 36 beats of unpaced records classed
/// paced (20 with three steps), on spikes of V1's electrode noise whose step before happened to be
/// small.
const QUIET_STEPS: usize = 3;

/// Pace detection and blanking settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PaceConfig {
    /// Look for stimuli in the signal itself (the fallback when there is no hardware flag).
    pub software_detection: bool,
    /// Minimum protrusion of a stimulus above both neighbours, in µV (any lead).
    pub threshold_uv: f64,
    /// Widest stimulus pulse considered, in ms; the detector allows one sample more (anti-alias or
    /// recorder smear).
    pub max_width_ms: f64,
    /// Samples blanked after the stimulus (recharge tail), in ms.
    pub blank_ms: f64,
    /// A run of the same shape standing at least this far out (µV) but less than `threshold_uv` is a
    /// *weak* candidate: reported (`PaceEvent::weak`), not blanked. Alone it could be muscle noise; the
    /// pipeline takes it as the beat's stimulus only where the QRS onset was delineated on it. 0 = off.
    #[serde(default = "default_weak_threshold_uv")]
    pub weak_threshold_uv: f64,
}

fn default_weak_threshold_uv() -> f64 {
    200.0
}

impl Default for PaceConfig {
    fn default() -> Self {
        // 400 µV sits above the largest muscle/noise protrusions seen in 191 unpaced LUDB records (≈ 310 µV).
        Self {
            software_detection: true,
            threshold_uv: 400.0,
            max_width_ms: 2.0,
            blank_ms: 6.0,
            weak_threshold_uv: default_weak_threshold_uv(),
        }
    }
}

/// One detected pacing stimulus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaceEvent {
    /// First sample of the stimulus, in the input's sample count.
    pub sample: u64,
    /// Whether the amplifier flagged it (else the software detector found it).
    pub hardware: bool,
    /// A weak candidate (`PaceConfig::weak_threshold_uv`): not blanked, and a stimulus only if the
    /// QRS onset lies on it.
    #[serde(default)]
    pub weak: bool,
}

/// Streaming stimulus detector + blanker for all leads of a frame. Allocation-free after `new`.
#[derive(Debug, Clone)]
pub struct PaceBlanker {
    cfg: PaceConfig,
    n_leads: usize,
    max_width: usize,
    blank: usize,
    delay: usize,
    /// Ring of the last `ring_len` raw frames (lead-major inside a frame).
    ring: Vec<f64>,
    ring_len: usize,
    /// Number of frames pushed so far.
    n_in: u64,
    /// Next input sample to output (the look-ahead holds back `n_in − next_out` of them).
    next_out: u64,
    /// Last output value per lead (interpolation anchor).
    last_out: Vec<f64>,
    /// Blanking covers input samples `[blank_start, blank_end)`; the value at `blank_end` is the target.
    blank_start: u64,
    blank_end: u64,
    /// Last detected stimulus start (to report each stimulus once).
    last_event: Option<u64>,
    /// Last weak candidate's start (likewise).
    last_weak: Option<u64>,
    /// The frame output last was written by the blanker (line or held value), not taken from the input.
    out_blanked: bool,
    /// Leads (bit per lead, the first 64) currently labelled noisy or worse by the quality stage.
    noisy: u64,
    /// Leads whose noise made a candidate of stimulus size (not credible) until `spiky_until`,
    /// `spiky_len` samples (1 s) after the last one.
    spiky: u64,
    spiky_until: u64,
    spiky_len: u64,
    /// The source has a pace flag channel ([`PaceBlanker::set_flag_channel`]), and the last flagged
    /// stimulus's start.
    flag_channel: bool,
    last_hw_event: Option<u64>,
}

impl PaceBlanker {
    /// A blanker for `n_leads` leads at `fs_hz`.
    pub fn new(cfg: PaceConfig, fs_hz: f64, n_leads: usize) -> Result<Self, ConditionError> {
        check_fs(fs_hz)?;
        if cfg.weak_threshold_uv.is_nan() || cfg.weak_threshold_uv < 0.0 {
            return Err(ConditionError::Parameter {
                what: "weak_threshold_uv",
                value: cfg.weak_threshold_uv,
            });
        }
        if cfg.threshold_uv.is_nan() || cfg.threshold_uv <= 0.0 {
            return Err(ConditionError::Parameter {
                what: "threshold_uv",
                value: cfg.threshold_uv,
            });
        }
        if !(0.0..=10.0).contains(&cfg.max_width_ms) || !(0.0..=50.0).contains(&cfg.blank_ms) {
            return Err(ConditionError::Parameter {
                what: "max_width_ms/blank_ms",
                value: cfg.max_width_ms,
            });
        }
        // Plus one sample: a pulse shorter than a sample still straddles two when it starts late in
        // one, and a recorder's low-pass smears it over the next (ambulatory records at 250–500 Hz).
        let max_width = ((cfg.max_width_ms * fs_hz / 1000.0).ceil() as usize).max(1) + 1;
        let blank = (cfg.blank_ms * fs_hz / 1000.0).ceil() as usize;
        let delay = max_width + blank + 1;
        // A power of two: the slot of a sample is a mask, not a division (several per sample). It
        // holds the longest run, the sample before it and the `QUIET_STEPS` steps before that.
        let ring_len = (delay + 2)
            .max(max_width + QUIET_STEPS + 2)
            .next_power_of_two();
        Ok(Self {
            cfg,
            n_leads,
            max_width,
            blank,
            delay,
            ring: vec![0.0; ring_len * n_leads],
            ring_len,
            n_in: 0,
            next_out: 0,
            last_out: vec![0.0; n_leads],
            blank_start: 0,
            blank_end: 0,
            last_event: None,
            last_weak: None,
            out_blanked: false,
            noisy: 0,
            spiky: 0,
            spiky_until: 0,
            spiky_len: fs_hz.round() as u64,
            flag_channel: false,
            last_hw_event: None,
        })
    }

    /// Fixed delay of the output behind the input, in samples.
    pub fn delay_samples(&self) -> usize {
        self.delay
    }

    /// The leads (bit `l` for lead `l`; past 64 leads, lead 63 and on are never noisy) the quality
    /// stage now labels noisy or worse (none until set). A software candidate that stands out only
    /// in these, and in at most half of the leads, is their noise, not a stimulus: it is neither
    /// reported nor blanked. (With 400 µV RMS of muscle noise on V1 alone, nearly every intrinsic
    /// beat of the simulator had such a spike within 100 ms before its onset and was classed paced.)
    pub fn set_noisy_leads(&mut self, mask: u64) {
        // Lead 63's bit stands for every lead past it too: those are never noisy.
        self.noisy = if self.n_leads > 64 {
            mask & !FAR_LEAD
        } else {
            mask
        };
    }

    /// The source has a hardware pace flag channel, so the flag decides what is a stimulus: a flagged
    /// stimulus is reported even right after a software detection (which the pipeline then takes
    /// for an artefact only), instead of being merged into it as one pulse.
    pub fn set_flag_channel(&mut self, on: bool) {
        self.flag_channel = on;
    }

    /// Whether a candidate standing out in the leads of `mask` can be a stimulus.
    #[inline]
    fn credible(&self, mask: u64) -> bool {
        mask & !self.noisy != 0 || 2 * mask.count_ones() as usize > self.n_leads
    }

    /// Whether a weak candidate standing out in the leads of `mask` can be a stimulus: as
    /// [`PaceBlanker::credible`], but a noisy lead only explains it away when its noise made a
    /// spike of stimulus size in the last second. A lead can be labelled noisy for a small QRS or a
    /// wandering baseline, and a weak spike there is the stimulus (LUDB 93: a stimulus seen in lead
    /// I alone, labelled unreadable).
    #[inline]
    fn credible_weak(&self, mask: u64) -> bool {
        mask & !(self.noisy & self.spiky) != 0 || 2 * mask.count_ones() as usize > self.n_leads
    }

    /// Whether the frame output last ([`PaceBlanker::process`] returning `true`, or
    /// [`PaceBlanker::drain`]) was blanked: the blanker's line or held value over a stimulus, not a
    /// measured sample (the quality stage does not take a value held there for a rail).
    pub fn output_blanked(&self) -> bool {
        self.out_blanked
    }

    /// The raw frame of input sample `sample` (still in the ring).
    #[inline]
    fn frame(&self, sample: u64) -> &[f64] {
        let base = self.slot(sample);
        &self.ring[base..base + self.n_leads]
    }

    /// Index in the ring of the frame of input sample `sample`.
    #[inline]
    fn slot(&self, sample: u64) -> usize {
        (sample as usize & (self.ring_len - 1)) * self.n_leads
    }

    /// Push one frame (`frame_uv.len()` = leads; non-finite values must already be replaced) with the
    /// amplifier's pace flag. Writes the delayed, blanked frame into `out_uv` and returns `true` when the
    /// output is valid (after the first `delay_samples` frames). A detected stimulus is returned in `event`.
    pub fn process(
        &mut self,
        frame_uv: &[f64],
        hw_pace_flag: bool,
        out_uv: &mut [f64],
        event: &mut Option<PaceEvent>,
    ) -> bool {
        *event = None;
        let now = self.n_in;
        let slot = self.slot(now);
        self.ring[slot..slot + self.n_leads].copy_from_slice(&frame_uv[..self.n_leads]);
        self.n_in += 1;

        if now > self.spiky_until {
            self.spiky = 0;
        }
        if hw_pace_flag {
            self.mark(now, now + 1, true, event);
        } else if self.cfg.software_detection && now > (self.max_width + QUIET_STEPS) as u64 {
            // A run of w samples [k, k+w) standing out from x[k−1] and x[k+w] = the newest sample,
            // entered by a step at least twice each of the `QUIET_STEPS` before it: a stimulus leaves
            // a baseline (or a slow wave), while the peak of a tall narrow R at 250 Hz is reached by
            // a ramp whose steps can exceed the threshold too, and electrode noise jumps about.
            let n = self.n_leads;
            let thr = self.cfg.threshold_uv;
            // Off when 0 or not below the threshold.
            let weak_thr = if self.cfg.weak_threshold_uv > 0.0 {
                self.cfg.weak_threshold_uv.min(thr)
            } else {
                thr
            };
            let mut weak_at = None;
            let newest = &self.ring[slot..slot + n];
            // Every run ends with the step into the newest sample: where no lead steps by the weaker
            // threshold, no run stands out (most samples; skips the run tests).
            let prev = self.frame(now - 1);
            let step = newest
                .iter()
                .zip(prev)
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            let runs = if step >= weak_thr {
                self.max_width as u64
            } else {
                0
            };
            for w in 1..=runs {
                let k = now - w;
                // Frame slices once per run length, not a ring lookup per lead.
                let first = self.frame(k);
                let before = self.frame(k - 1);
                let last = self.frame(k + w - 1);
                // Right after a stimulus (the other chamber's, or the flagged one's own trailing
                // samples) the step before is that stimulus's: no ramp to tell from. (Leaving out
                // only the steps that touch a blanked stretch instead let V1's muscle noise right
                // after a flagged stimulus through.)
                let after_stimulus = (self.blank_start..self.blank_end).contains(&(k - 1));
                let earlier: [(&[f64], &[f64]); QUIET_STEPS] = std::array::from_fn(|j| {
                    let a = k - 1 - j as u64;
                    (self.frame(a), self.frame(a - 1))
                });
                // Both steps ≥ thr in the same direction: the leads where they are (bit per lead),
                // without a branch per lead (vectorises).
                // (Leads from 64 on share lead 63's bit, which is then never noisy.)
                let (hit, weak) = (0..n).fold((0u64, 0u64), |(hit, weak), l| {
                    let left = first[l] - before[l];
                    let right = last[l] - newest[l];
                    let prior = earlier
                        .iter()
                        .fold(0.0f64, |m, e| m.max((e.0[l] - e.1[l]).abs()));
                    let sudden = after_stimulus | (left.abs() >= 2.0 * prior);
                    let stands =
                        |t: f64| ((left >= t) & (right >= t)) | ((left <= -t) & (right <= -t));
                    let bit = if l < 64 { 1u64 << l } else { FAR_LEAD };
                    (
                        hit | (u64::from(sudden & stands(thr)) * bit),
                        weak | (u64::from(sudden & stands(weak_thr)) * bit),
                    )
                });
                // Only in noisy leads: their noise (see `set_noisy_leads`).
                if hit != 0 && !self.credible(hit) {
                    self.spiky |= hit;
                    self.spiky_until = now + self.spiky_len;
                }
                let hit = hit != 0 && self.credible(hit);
                let weak = weak != 0 && self.credible_weak(weak);
                if weak && weak_at.is_none() {
                    weak_at = Some(k);
                }
                if hit {
                    self.mark(k, now, false, event);
                    // The sample before the run may hold the anti-aliased leading edge of the pulse (a
                    // pulse starting late in a sample's interval): blank it too. It is not output yet
                    // (the delay is ≥ max_width + 1 samples).
                    if self.blank_start == k && k > 1 {
                        self.blank_start = k - 1;
                    }
                    weak_at = None;
                    break;
                }
            }
            if let Some(k) = weak_at {
                let blanked = (self.blank_start..self.blank_end).contains(&k);
                let fresh = self
                    .last_weak
                    .is_none_or(|e| k > e + self.max_width as u64 + self.blank as u64);
                if fresh && !blanked && thr > weak_thr {
                    self.last_weak = Some(k);
                    *event = Some(PaceEvent {
                        sample: k,
                        hardware: false,
                        weak: true,
                    });
                }
            }
        }

        // (After a drain, the frames it output are not output again.)
        if now < self.delay as u64 || now - (self.delay as u64) < self.next_out {
            return false;
        }
        self.output(now - self.delay as u64, now, out_uv);
        true
    }

    /// End of input: writes the next frame still held back by the look-ahead into `out_uv` (blanked as
    /// [`PaceBlanker::process`] would have output it) and returns `true`, or `false` when none is left.
    /// Without it the last `delay_samples` frames of a recording were never conditioned.
    pub fn drain(&mut self, out_uv: &mut [f64]) -> bool {
        if self.next_out >= self.n_in {
            return false;
        }
        self.output(self.next_out, self.n_in - 1, out_uv);
        true
    }

    /// Output input sample `j` (the newest being `now`).
    fn output(&mut self, j: u64, now: u64, out_uv: &mut [f64]) {
        self.next_out = j + 1;
        let n = self.n_leads;
        self.out_blanked = j >= self.blank_start && j < self.blank_end && j > 0;
        if j >= self.blank_start && j < self.blank_end && j > 0 && self.blank_end > now {
            // The first clean sample after the blank is not in yet (two stimuli merged into one
            // window, or the end of input): hold the previous output rather than head for a
            // sample that is still inside the blank (the second stimulus itself).
            out_uv[..n].copy_from_slice(&self.last_out);
        } else if j >= self.blank_start && j < self.blank_end && j > 0 {
            // Straight line from the previous output towards the first clean sample after the blank.
            let base = self.slot(self.blank_end);
            let steps = (self.blank_end - j + 1) as f64;
            for ((out, prev), target) in out_uv[..n]
                .iter_mut()
                .zip(self.last_out.iter_mut())
                .zip(&self.ring[base..base + n])
            {
                *prev += (target - *prev) / steps;
                *out = *prev;
            }
        } else {
            let base = self.slot(j);
            out_uv[..n].copy_from_slice(&self.ring[base..base + n]);
            self.last_out.copy_from_slice(&self.ring[base..base + n]);
        }
    }

    /// Record a stimulus starting at `start` whose last stimulus sample is before `end`.
    fn mark(&mut self, start: u64, end: u64, hardware: bool, event: &mut Option<PaceEvent>) {
        let new_end = end + self.blank as u64;
        // A new window replaces the old one only once the old one has been output: a second
        // stimulus within the look-ahead (BiV pacing with a V-V offset of up to ~10 ms) would
        // otherwise un-blank the first, which then reached the filters at full amplitude and was
        // delineated as the QRS. Until then the two windows merge (the ≤ 3 ms between them are
        // bridged by the same straight line).
        if start >= self.blank_end && self.next_out >= self.blank_end {
            self.blank_start = start;
        }
        self.blank_end = self.blank_end.max(new_end);
        // One event per stimulus: a flag held for several samples, or a detection re-found, is one pulse.
        let apart = |e: u64| start > e + self.max_width as u64 + self.blank as u64;
        let fresh = if hardware && self.flag_channel {
            self.last_hw_event.is_none_or(apart)
        } else {
            self.last_event.is_none_or(apart)
        };
        if fresh {
            self.last_event = Some(start);
            if hardware {
                self.last_hw_event = Some(start);
            }
            *event = Some(PaceEvent {
                sample: start,
                hardware,
                weak: false,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(fs: f64, x: &[f64], flags: &[bool]) -> (Vec<f64>, Vec<PaceEvent>, usize) {
        let mut p = PaceBlanker::new(PaceConfig::default(), fs, 1).unwrap();
        let (mut out, mut ev) = (Vec::new(), Vec::new());
        let mut y = [0.0];
        let mut e = None;
        for (i, v) in x.iter().enumerate() {
            if p.process(&[*v], flags[i], &mut y, &mut e) {
                out.push(y[0]);
            }
            ev.extend(e);
        }
        (out, ev, p.delay_samples())
    }

    #[test]
    fn finds_and_blanks_a_narrow_spike_but_not_a_steep_qrs() {
        let fs = 1000.0;
        let mut x = vec![0.0; 600];
        // 1 ms stimulus of 5 mV at 100, then a steep QRS-like ramp of 200 µV/sample (far steeper than real).
        x[100] = 5000.0;
        for (i, v) in x.iter_mut().enumerate().take(330).skip(300) {
            *v = (i - 300) as f64 * 200.0;
        }
        let flags = vec![false; x.len()];
        let (out, ev, d) = run(fs, &x, &flags);
        assert_eq!(
            ev,
            vec![PaceEvent {
                sample: 100,
                hardware: false,
                weak: false
            }]
        );
        assert!(
            out.iter().take(200).all(|v| v.abs() < 1e-9),
            "spike leaked through blanking"
        );
        assert_eq!(out[310], x[310], "QRS must pass unchanged");
        assert_eq!(out.len(), x.len() - d);
    }

    #[test]
    fn two_flagged_stimuli_a_few_ms_apart_are_both_blanked() {
        // BiV pacing with a V-V offset: LV and RV stimuli (5 mV, with a recharge tail) flagged
        // 0–20 ms apart, i.e. also within the blanker's look-ahead.
        for fs in [500.0, 1000.0] {
            for vv_ms in [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 16.0, 20.0] {
                let first = 100;
                let second = first + (vv_ms * fs / 1000.0) as usize;
                let mut x = vec![0.0; 400];
                let mut flags = vec![false; x.len()];
                for s in [first, second] {
                    x[s] += 5000.0;
                    flags[s] = true;
                    for k in 1..20 {
                        x[s + k] -= 250.0 * (-(k as f64) * 1000.0 / fs / 1.5).exp();
                    }
                }
                let (out, _, _) = run(fs, &x, &flags);
                let max = out.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                assert!(max < 20.0, "{fs} Hz, V-V {vv_ms} ms: {max:.0} µV leaked");
            }
        }
    }

    #[test]
    fn finds_a_stimulus_smeared_over_two_samples_but_not_a_tall_narrow_r() {
        for fs in [250.0, 360.0, 500.0] {
            // A 0.5 ms, 30 mV pulse starting late in sample 100 (a fifth of it falls in 100, the rest
            // in 101), through a recorder's 100 Hz low-pass (two one-pole sections): its peak straddles
            // two samples with a decaying tail, as on ambulatory records.
            let mut x = vec![0.0; 400];
            x[100] = 0.2 * 30_000.0 * 0.5e-3 * fs;
            x[101] = 0.8 * 30_000.0 * 0.5e-3 * fs;
            let a = (-2.0 * std::f64::consts::PI * 100.0 / fs).exp();
            for _ in 0..2 {
                let mut y = 0.0;
                for v in x.iter_mut() {
                    y = a * y + (1.0 - a) * *v;
                    *v = y;
                }
            }
            let (_, ev, _) = run(fs, &x, &vec![false; x.len()]);
            assert_eq!(ev.len(), 1, "{fs} Hz: {ev:?}");
            assert!((99..=101).contains(&ev[0].sample), "{fs} Hz: {ev:?}");

            // A 3 mV R wave 30 ms wide at its base, with a sharp peak (steeper than most): its peak
            // sample stands 600 µV above both neighbours at 250 Hz, but is reached by a ramp.
            let half = 0.015 * fs;
            let r: Vec<f64> = (0..400)
                .map(|i| 3000.0 * (1.0 - ((i as f64 - 200.0) / half).abs()).max(0.0))
                .collect();
            let (_, ev, _) = run(fs, &r, &vec![false; r.len()]);
            assert!(
                ev.is_empty(),
                "{fs} Hz: R wave taken for a stimulus: {ev:?}"
            );
        }
    }

    #[test]
    fn a_jump_of_electrode_noise_is_not_a_stimulus() {
        // MIT-BIH 200's V1 resampled to 250 Hz, µV: the electrode's rail jump ramps up by ~3.5 mV,
        // dips one sample by 410 µV and jumps on by 820. The dip stands out of both neighbours by
        // the threshold and is entered by a step twice the one just before it (170 µV), but the
        // steps of 880 and 980 µV before that say the signal was not at a baseline.
        let fs = 250.0;
        let jump = [
            0.0, 15.0, 60.0, 85.0, 120.0, 170.0, 315.0, 740.0, 1640.0, 2520.0, 3500.0, 3670.0,
            3260.0, 4080.0, 4685.0, 4735.0, 4765.0, 4740.0,
        ];
        let mut x = vec![0.0; 100];
        x.extend(jump);
        x.extend(vec![4740.0; 100]);
        let (_, ev, _) = run(fs, &x, &vec![false; x.len()]);
        assert!(ev.is_empty(), "noise dip taken for a stimulus: {ev:?}");

        // The same dip from a quiet baseline is one.
        let mut y = vec![0.0; 200];
        y[100] = -410.0;
        let (_, ev, _) = run(fs, &y, &vec![false; y.len()]);
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_eq!(ev[0].sample, 100);
    }

    #[test]
    fn a_weak_candidate_is_reported_but_not_blanked() {
        let fs = 500.0;
        let mut x = vec![0.0; 300];
        x[100] = 250.0; // under the 400 µV threshold, over the 200 µV weak one
        x[200] = 150.0; // under both
        let (out, ev, d) = run(fs, &x, &vec![false; x.len()]);
        assert_eq!(
            ev,
            vec![PaceEvent {
                sample: 100,
                hardware: false,
                weak: true
            }]
        );
        assert_eq!(
            out,
            x[..x.len() - d].to_vec(),
            "a weak candidate must pass unchanged"
        );
        // Off with 0.
        let cfg = PaceConfig {
            weak_threshold_uv: 0.0,
            ..PaceConfig::default()
        };
        let mut p = PaceBlanker::new(cfg, fs, 1).unwrap();
        let (mut y, mut e) = ([0.0], None);
        for v in &x {
            p.process(&[*v], false, &mut y, &mut e);
            assert!(e.is_none());
        }
    }

    #[test]
    fn drain_outputs_every_frame_held_back() {
        for len in [3usize, 50] {
            let x: Vec<f64> = (0..len).map(|i| i as f64).collect();
            let mut p = PaceBlanker::new(PaceConfig::default(), 500.0, 1).unwrap();
            let (mut out, mut y, mut e) = (Vec::new(), [0.0], None);
            for v in &x {
                if p.process(&[*v], false, &mut y, &mut e) {
                    out.push(y[0]);
                }
            }
            while p.drain(&mut y) {
                out.push(y[0]);
            }
            assert_eq!(out, x, "{len} samples in");
            assert!(!p.drain(&mut y));
        }
    }

    #[test]
    fn hardware_flag_is_one_event_and_blanks() {
        let fs = 500.0;
        let mut x: Vec<f64> = (0..300).map(|i| i as f64).collect();
        x[50] = 300.0; // a small aliased stimulus the software detector alone would miss
        let mut flags = vec![false; x.len()];
        flags[50] = true;
        flags[51] = true;
        let (out, ev, _) = run(fs, &x, &flags);
        assert_eq!(
            ev,
            vec![PaceEvent {
                sample: 50,
                hardware: true,
                weak: false
            }]
        );
        // The ramp is restored by the interpolation: the blanked stretch stays on the line.
        for (i, v) in out.iter().enumerate().take(80) {
            assert!((v - i as f64).abs() < 1.0, "sample {i}: {v}");
        }
    }

    #[test]
    fn rejects_bad_config() {
        let bad = PaceConfig {
            threshold_uv: 0.0,
            ..Default::default()
        };
        assert!(PaceBlanker::new(bad, 500.0, 8).is_err());
        assert!(PaceBlanker::new(PaceConfig::default(), 5.0, 8).is_err());
    }
}
