//! Per-beat ground truth.

use serde::{Deserialize, Serialize};

use crate::LEAD_NAMES_12;

/// What kind of beat was generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BeatClass {
    /// Conducted sinus beat (narrow or LBBB-like).
    Intrinsic,
    /// BiV paced beat with capture of both ventricles.
    Paced,
    /// Fusion of a paced and a conducted activation: duration and morphology in between.
    Fusion,
    /// Stimuli delivered but the LV not captured: RV-only paced morphology, wider QRS.
    LossOfCapture,
    /// Premature ventricular complex: wide, no P wave, no stimulus.
    Ectopic,
}

/// QRS window of one lead, inclusive sample indices counted from the first generated sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadWindow {
    /// First sample whose QRS component exceeds the lead's threshold.
    pub onset_sample: u64,
    /// Last sample whose QRS component exceeds the lead's threshold.
    pub offset_sample: u64,
}

/// Exact truth of one generated beat. Sample indices count from the first generated sample (index 0).
///
/// **Global window** (`onset_sample`..=`offset_sample`): the support of the QRS component, i.e. the first and
/// last sample at which any lead's QRS component is nonzero; `offset_sample - onset_sample` is the configured
/// duration rounded to whole samples and `qrsd_ms` is exactly that difference in ms.
///
/// **Per-lead windows** (`per_lead`, in [`LEAD_NAMES_12`] order, derived leads included): the first and last
/// sample at which the lead's QRS component satisfies `|q| > max(0.01 · peak|q|, 10 µV)`, i.e. where a
/// cardiologist would see the deflection start and end. `None` when the lead's QRS never exceeds 10 µV
/// (isoelectric in that lead). Every per-lead window lies inside the global window; because the QRS lobes rise
/// from zero (steeply, see the `morphology` module), the earliest per-lead onset is typically 0-2 ms after the global onset (see
/// [`BeatTruth::lead_span`] for the "earliest onset to latest offset over the leads" convention).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeatTruth {
    /// Beat number, 0 for the first beat generated.
    pub index: u64,
    /// Beat class.
    pub class: BeatClass,
    /// True global QRS duration, ms: `(offset_sample - onset_sample) / fs * 1000`.
    pub qrsd_ms: f64,
    /// Global QRS onset (first sample where any lead's QRS component is nonzero).
    pub onset_sample: u64,
    /// Global QRS offset (last sample where any lead's QRS component is nonzero).
    pub offset_sample: u64,
    /// First sample of the first pacing stimulus (first sample with the pace flag set), paced classes only.
    pub stimulus_sample: Option<u64>,
    /// Sample of peak QRS magnitude: the maximum over the window of the sum of squares of the 8 acquired
    /// leads' QRS components.
    pub r_sample: u64,
    /// First sample of the P wave, if the beat has one.
    pub p_onset_sample: Option<u64>,
    /// Last nonzero sample of the T wave.
    pub t_offset_sample: u64,
    /// Per-lead QRS windows in [`LEAD_NAMES_12`] order (`I, II, III, AVR, AVL, AVF, V1..V6`).
    pub per_lead: [Option<LeadWindow>; 12],
}

impl BeatTruth {
    /// The window of the named lead (case-insensitive, names as in [`LEAD_NAMES_12`]); `None` for an unknown
    /// name or an isoelectric lead.
    pub fn lead(&self, name: &str) -> Option<LeadWindow> {
        LEAD_NAMES_12
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
            .and_then(|i| self.per_lead[i])
    }

    /// Earliest per-lead onset and latest per-lead offset over all 12 leads: the global QRS as automated
    /// 12-lead measurement standards define it (what a delineator measuring every lead should find).
    pub fn lead_span(&self) -> Option<LeadWindow> {
        let mut it = self.per_lead.iter().flatten();
        let first = *it.next()?;
        Some(it.fold(first, |acc, w| LeadWindow {
            onset_sample: acc.onset_sample.min(w.onset_sample),
            offset_sample: acc.offset_sample.max(w.offset_sample),
        }))
    }

    /// Stimulus-to-QRS-end interval in ms (the CRT-literature paced QRSd), for beats with a stimulus.
    pub fn stimulus_to_offset_ms(&self, fs_hz: f64) -> Option<f64> {
        self.stimulus_sample
            .map(|s| (self.offset_sample as f64 - s as f64) * 1000.0 / fs_hz)
    }
}
