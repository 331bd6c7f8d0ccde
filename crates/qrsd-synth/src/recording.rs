//! Whole-recording convenience for tests and scripts.

use crate::{derive_limb_leads, BeatTruth, Sample, Synth, SynthConfig, SynthError, LEAD_NAMES_12};

/// A generated recording: all 12 leads, the pace flag and the truth of every beat whose QRS lies inside it.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthRecording {
    /// Sampling rate, Hz.
    pub fs_hz: f64,
    /// `(name, samples in µV)` in [`LEAD_NAMES_12`] order: `I, II, III, AVR, AVL, AVF, V1..V6`; the four
    /// limb leads are derived from the (clipped) I and II with [`derive_limb_leads`].
    pub leads: Vec<(String, Vec<f64>)>,
    /// Hardware pace flag per sample.
    pub pace_flags: Vec<bool>,
    /// Truth of every beat whose QRS offset is inside the recording, in beat order.
    pub truth: Vec<BeatTruth>,
}

impl SynthRecording {
    /// Samples of the named lead (case-insensitive).
    pub fn lead(&self, name: &str) -> Option<&[f64]> {
        self.leads
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Number of samples per lead.
    pub fn len_samples(&self) -> usize {
        self.pace_flags.len()
    }

    /// The lead names, in order.
    pub fn lead_names(&self) -> Vec<String> {
        self.leads.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The recording as an ambulatory recorder stores it: every lead through a `lowpass_hz` low-pass
    /// (two one-pole sections, which smear a pacing stimulus over several samples with a decaying
    /// tail) and rounded to `lsb_uv` steps (5 µV: 11 bits at 200 adu/mV, as MIT-BIH and QTDB).
    pub fn through_recorder(&mut self, lowpass_hz: f64, lsb_uv: f64) {
        let a = (-2.0 * std::f64::consts::PI * lowpass_hz / self.fs_hz).exp();
        for (_, x) in self.leads.iter_mut() {
            for _ in 0..2 {
                let mut y = x.first().copied().unwrap_or(0.0);
                for v in x.iter_mut() {
                    y = a * y + (1.0 - a) * *v;
                    *v = y;
                }
            }
            if lsb_uv > 0.0 {
                for v in x.iter_mut() {
                    *v = (*v / lsb_uv).round() * lsb_uv;
                }
            }
        }
    }

    /// The leads as f32 µV, in order (what an amplifier or a file reader delivers to the pipeline).
    pub fn leads_f32(&self) -> Vec<Vec<f32>> {
        self.leads
            .iter()
            .map(|(_, v)| v.iter().map(|x| *x as f32).collect())
            .collect()
    }
}

/// Generates `seconds` of signal for `cfg` in one go (same samples as streaming [`Synth::fill`]).
///
/// Errors: an invalid config, or a duration that is negative, not finite or longer than 24 h.
pub fn generate(cfg: &SynthConfig, seconds: f64) -> Result<SynthRecording, SynthError> {
    if !(0.0..=86_400.0).contains(&seconds) {
        return Err(SynthError::InvalidDuration(seconds));
    }
    let mut synth = Synth::new(cfg.clone())?;
    let total = (seconds * cfg.fs_hz).round() as usize;
    let mut leads: Vec<Vec<f64>> = (0..LEAD_NAMES_12.len())
        .map(|_| Vec::with_capacity(total))
        .collect();
    let mut pace_flags = Vec::with_capacity(total);
    let mut truth = Vec::new();
    let mut chunk = vec![Sample::default(); 4096];
    while pace_flags.len() < total {
        let want = (total - pace_flags.len()).min(chunk.len());
        let n = synth.fill(&mut chunk[..want]);
        for s in &chunk[..n] {
            let x = &s.leads;
            let [iii, avr, avl, avf] = derive_limb_leads(x[0], x[1]);
            let row = [
                x[0], x[1], iii, avr, avl, avf, x[2], x[3], x[4], x[5], x[6], x[7],
            ];
            for (lead, v) in leads.iter_mut().zip(row) {
                lead.push(v);
            }
            pace_flags.push(s.pace);
        }
        truth.extend(synth.drain_truth());
    }
    // Play out the beats that started inside the recording so that their truth is complete.
    let end = total as u64;
    while synth.has_beat_started_before(end) {
        synth.fill(&mut chunk[..256]);
        truth.extend(synth.drain_truth());
    }
    truth.retain(|t| t.offset_sample < end);
    Ok(SynthRecording {
        fs_hz: cfg.fs_hz,
        leads: LEAD_NAMES_12
            .iter()
            .map(|n| n.to_string())
            .zip(leads)
            .collect(),
        pace_flags,
        truth,
    })
}
