//! The per-measurement state machine: beats in, a run of consecutive clean beats out.
//!
//! # Definitions
//!
//! **Candidate beat**: a beat of the expected class (intrinsic for a baseline, paced for a site)
//! that passed the per-beat checks — global onset and offset present, a stimulus for paced beats,
//! none of the leads it needs off (see *Leads off*), noise ≤ `max_noise_uv`, QRSd within the
//! plausible range.
//!
//! # Leads off
//!
//! A lead is *off* at a beat when the amplifier flagged its channel off (`BeatInput::lead_off_leads`;
//! a limb channel I or II takes the derived III, aVR, aVL, aVF with it), the quality stage labels it
//! `lead_off` (flat for 2 s), or the pipeline left it out of the beat (`Beat::leads_excluded`, which
//! covers both). The beat is still measured when none of the leads it **needs** is off: the
//! pipeline took its global QRS over the remaining leads, and the record names the leads left out
//! (`BeatRecord::leads_excluded`) and how many were left (`global_leads`). Needed: the reported
//! leads (`report_leads`, II, V1, V6 by default) and lead I ([`NEEDED_LEADS`]: the LV-capture
//! criteria read R/S and Q in I, the Kors VCG reads I, and the other four limb leads are derived
//! from I and II). Otherwise the beat is rejected as `lead_off`. Per electrode (docs/protocol.md
//! §3): RA, LA, LL or RL off spoils I or II and, through Wilson's central terminal, every
//! precordial lead, so every beat is rejected; V1 or V6 off rejects every beat; V2–V5 off leaves
//! 11 leads (fewer with several off) and the beats are measured. The result says which leads were
//! left out in how many of its beats ([`MeasurementResult::leads_excluded`], `global_leads_text`).
//! A run may mix beats with and without a lead: leaving one lead out can only narrow the earliest
//! onset to latest offset (by a few ms when that lead held an extreme), and the result states it;
//! the recommendation warns when the sites it compares, or a site and the baseline, were measured
//! over different leads.
//!
//! **Consensus**: the median QRSd, the median stimulus-to-onset latency and the per-sample median
//! waveform (template) of the last [`CONSENSUS_WINDOW`] candidate beats (accepted or not). It is a
//! majority vote over recent beats: a minority of fused or non-captured beats cannot move it, and a
//! lasting change of rhythm takes it over after about half a window. The consensus needs
//! [`CONSENSUS_MIN`] candidates; earlier candidates are accepted provisionally and checked again
//! against the finished run (see *Run validation*).
//!
//! **Consecutive**: a run is a sequence of accepted beats with no *rhythm* event between them.
//! Rhythm events break the run (it starts again empty): a beat of another class or an ectopic beat,
//! suspected fusion, suspected loss of capture, a morphology change, a beat out of order, a pause
//! longer than `max_rr_s`, and a source gap ([`Measurement::gap`]). *Artefact* rejections — no
//! boundaries, no stimulus, lead-off, noise, implausible width, QRSd outlier — do not break it:
//! the rhythm did not change, only that beat could not be measured; the beat is skipped and counted.
//! With `strict_consecutive` every rejection breaks the run.
//!
//! **Run validation**: when the run reaches `beats_required` (or at the end, `beats_min`), every
//! beat of the run is re-checked against the run's own consensus; a beat that fails is rejected
//! retroactively (its record changes) and the run is cut accordingly, so the first beats accepted
//! before a consensus existed cannot slip through.
//!
//! # Fusion and loss of capture (paced runs)
//!
//! Let `d` = beat QRSd − consensus QRSd, `Δlat` = |stimulus-to-onset − consensus latency|, `r` = the
//! morphology correlation with the template (II, V1, V6 over the QRS window ± 20 ms), when
//! waveforms are given.
//!
//! - **Fusion / pseudo-fusion**: the paced wavefront meets intrinsic conduction (AV delay too
//!   long for the patient's PR). The complex becomes intermediate between the paced and the
//!   conducted one: its shape changes; its width moves toward the conducted width — *narrower*
//!   when conduction over the right bundle pre-excites the septum and RV, somewhat wider when it
//!   blends with a wide LBBB complex; the surface onset may be set by the intrinsic wavefront, so
//!   the stimulus-to-onset interval departs from the paced one (in pseudo-fusion the QRS has
//!   begun at the stimulus). Flagged when `d ≤ −fusion_narrowing_ms` (15 ms) with `Δlat ≥
//!   latency_shift_ms` (20 ms) or `r < min_correlation` (0.90) or no waveform to check; or when
//!   `r < 0.90` and the beat is not markedly wider (`d < loc_widening_ms`); or, for minor
//!   fusion (a complex still mostly paced), when `r < minor_fusion_correlation` (0.97) together
//!   with `|d| ≥ minor_fusion_ms` (3 ms).
//! - **Loss of LV capture**: only the RV lead captures; in an LBBB heart RV-only pacing gives a
//!   LBBB-like, markedly wider QRS (typically 20–50 ms wider than BiV) with a different V1/V6
//!   morphology. Flagged when `d ≥ loc_widening_ms` (20 ms) with `r < 0.90` or no waveform.
//!   (Latency is not used here: with an LV-first V-V offset a non-captured LV stimulus shifts the
//!   onset by the offset, which is not fusion.)
//! - Otherwise `|d| > outlier_ms` (25 ms) is an `outlier` (most likely a delineation error on
//!   that beat, the waveform being unchanged).
//!
//! Baseline (intrinsic) runs use only a morphology rule (`r < 0.90`: `morphology`, e.g. aberrancy)
//! and the outlier rule.
//!
//! Why these numbers: per-beat delineation jitter within one recording is a few ms (the LUDB
//! target is SD ≤ 10 ms *across* records), so 15–25 ms departures from the run's own median are
//! beyond jitter; the physiological effects are larger still — RV-only pacing is typically
//! 20–50 ms wider than BiV pacing in LBBB hearts, and fusion shortens the paced QRS by a similar
//! order. The ECG signs used (narrower, intermediate complexes with a shifted stimulus-to-onset
//! interval in fusion; a reversion to the LBBB-like RV-paced V1/V6 pattern on loss of LV capture)
//! are the ones described for the follow-up of CRT devices, e.g. Barold & Herweg, "Usefulness of
//! the 12-lead electrocardiogram in the follow-up of patients with cardiac resynchronization
//! devices", Cardiol J 2011 (parts I and II). Every threshold is a field of
//! [`MeasurementConfig`], and every beat's values and verdict are kept in the result so that a
//! rejection can be checked by hand.
//!
//! Live verdicts (the [`Progress`] of each push) are provisional; when the measurement completes,
//! every candidate beat outside the result's run is judged again against that run's consensus
//! and the records carry the final verdict (artefact rejections are final from the start).

use crate::capture::{LvCaptureClass, LvCaptureCriteria, VcgLoop};
use crate::config::{MeasurementConfig, MeasurementKind};
use crate::stats::{self, Spread};
use crate::waveform::{self, BeatWaveform, MedianBeat, MedianLead};
use qrsd_pipeline::{Beat, BeatClass, Quality};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Candidate beats the consensus is taken over.
pub const CONSENSUS_WINDOW: usize = 8;
/// Fewest candidates for a consensus.
pub const CONSENSUS_MIN: usize = 3;
/// Margin (ms) around the consensus QRS for the morphology correlation window.
const CORR_MARGIN_MS: f64 = 20.0;
/// Leads every beat needs besides the reported ones (`MeasurementConfig::report_leads`): lead I. The
/// LV-capture criteria read R/S and Q in I, the QRS area (Kors VCG) reads I, and with I off the
/// derived III, aVR, aVL and aVF are off too: five of the six limb leads.
pub const NEEDED_LEADS: [&str; 1] = ["I"];
/// Limb leads derived from I and II by an 8-channel amplifier's host: off when either is.
const DERIVED_LIMB_LEADS: [&str; 4] = ["III", "aVR", "aVL", "aVF"];
/// Samples around a pacing stimulus left out of the correlation: 3 ms before (timing jitter of
/// the flag) to 10 ms after (pulse ≤ 2 ms plus the recharge tail).
const STIM_MASK_BEFORE_MS: f64 = 3.0;
/// See [`STIM_MASK_BEFORE_MS`].
const STIM_MASK_AFTER_MS: f64 = 10.0;

/// One beat handed to [`Measurement::push`].
#[derive(Debug, Clone, PartialEq)]
pub struct BeatInput {
    /// The delineated beat.
    pub beat: Beat,
    /// Sampling rate of the beat's sample numbers.
    pub fs_hz: f64,
    /// Lead-off bits (bit i = acquired lead i) active at any time during the beat; 0 = all on.
    pub lead_off: u16,
    /// Noise estimate for the beat in µV RMS (isoelectric segment or high-frequency residual).
    pub noise_uv: Option<f64>,
    /// Samples around the beat for the median beat and the morphology check.
    pub waveform: Option<BeatWaveform>,
    /// Signal-quality label of each lead at the beat that is not `clean` (the pipeline's
    /// `Pipeline::lead_quality_at`; empty = every lead clean or unknown).
    pub lead_quality: BTreeMap<String, Quality>,
    /// Names of the channels whose lead-off bit is set in `lead_off` (empty when unknown).
    pub lead_off_leads: Vec<String>,
}

impl BeatInput {
    /// A beat without lead-off, noise estimate or waveform.
    pub fn new(beat: Beat, fs_hz: f64) -> Self {
        BeatInput {
            beat,
            fs_hz,
            lead_off: 0,
            noise_uv: None,
            waveform: None,
            lead_quality: BTreeMap::new(),
            lead_off_leads: Vec::new(),
        }
    }
}

/// Why a beat was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Not the expected class (e.g. intrinsic during a paced site measurement).
    WrongClass,
    /// Premature, wide beat (the pipeline's ectopic class).
    Ectopic,
    /// Global onset or offset not found (or the pipeline could not delineate the beat).
    NoBoundaries,
    /// A premature beat the pipeline could not class (`unknown` with boundaries: shaped very unlike
    /// the usual beat, yet narrower or smaller than it).
    Unclassified,
    /// A paced beat without a stimulus position.
    NoStimulus,
    /// A lead the measurement needs was off during the beat (see *Leads off*).
    LeadOff,
    /// Noise estimate above `max_noise_uv`.
    Noise,
    /// Global QRSd outside the plausible range.
    Implausible,
    /// Suspected fusion / pseudo-fusion with intrinsic conduction.
    SuspectedFusion,
    /// Suspected loss of LV capture (RV-only morphology).
    SuspectedLossOfCapture,
    /// Morphology differs from the run's template.
    Morphology,
    /// QRSd far from the run's consensus.
    Outlier,
    /// Beat not after the previous one (duplicate or out of order).
    NotConsecutive,
}

impl RejectReason {
    /// Whether this rejection breaks the run of consecutive beats (a rhythm event) rather than
    /// skipping one unmeasurable beat (an artefact).
    pub fn breaks_run(self) -> bool {
        matches!(
            self,
            RejectReason::WrongClass
                | RejectReason::Ectopic
                | RejectReason::Unclassified
                | RejectReason::SuspectedFusion
                | RejectReason::SuspectedLossOfCapture
                | RejectReason::Morphology
                | RejectReason::NotConsecutive
        )
    }

    /// Stable text form, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::WrongClass => "wrong_class",
            RejectReason::Ectopic => "ectopic",
            RejectReason::NoBoundaries => "no_boundaries",
            RejectReason::Unclassified => "unclassified",
            RejectReason::NoStimulus => "no_stimulus",
            RejectReason::LeadOff => "lead_off",
            RejectReason::Noise => "noise",
            RejectReason::Implausible => "implausible",
            RejectReason::SuspectedFusion => "suspected_fusion",
            RejectReason::SuspectedLossOfCapture => "suspected_loss_of_capture",
            RejectReason::Morphology => "morphology",
            RejectReason::Outlier => "outlier",
            RejectReason::NotConsecutive => "not_consecutive",
        }
    }
}

/// What showed a beat unfit to measure, for the signal-quality rejections (`lead_off`, `noise`):
/// the cause a page or report names together with the leads concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityCause {
    /// The amplifier flagged an electrode off (lead-off bit) during the beat.
    ElectrodeOff,
    /// The quality stage found every lead flat (no signal to read).
    Flat,
    /// No lead readable, the best one sitting on a rail (clipping).
    Saturated,
    /// No lead readable: noise as large as the QRS in every lead.
    Unreadable,
    /// The pipeline classed the detection `noise` (not a QRS to trust).
    NoiseBeat,
    /// The noise estimate before the QRS was above `max_noise_uv`.
    NoiseLevel,
}

impl QualityCause {
    /// Stable text form, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            QualityCause::ElectrodeOff => "electrode_off",
            QualityCause::Flat => "flat",
            QualityCause::Saturated => "saturated",
            QualityCause::Unreadable => "unreadable",
            QualityCause::NoiseBeat => "noise_beat",
            QualityCause::NoiseLevel => "noise_level",
        }
    }

    /// The cause in plain words.
    pub fn words(self) -> &'static str {
        match self {
            QualityCause::ElectrodeOff => "electrode off (amplifier lead-off signal)",
            QualityCause::Flat => "no signal (flat trace)",
            QualityCause::Saturated => "signal clipped at the amplifier's limit",
            QualityCause::Unreadable => "unreadable (noise as large as the QRS)",
            QualityCause::NoiseBeat => "detection taken for noise, not a QRS",
            QualityCause::NoiseLevel => "noise before the QRS above the limit",
        }
    }
}

/// Beats rejected for one signal-quality cause, and the leads that showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityReason {
    /// The rejection reason the beats carry (`lead_off` or `noise`).
    pub reason: RejectReason,
    /// What showed it.
    pub cause: QualityCause,
    /// Beats rejected for it.
    pub beats: usize,
    /// Per lead concerned, the number of those beats it was concerned in (empty when no lead
    /// stood out, e.g. a noise estimate over the limit with every lead labelled clean).
    pub leads: BTreeMap<String, usize>,
    /// One plain sentence, e.g. "V1 electrode off (amplifier lead-off signal): 12 beats not measured".
    pub text: String,
}

/// State of a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Still gathering beats.
    Collecting,
    /// A clean run of at least `beats_min` beats was measured.
    Complete,
    /// Ended without enough clean beats; no QRSd is reported.
    Incomplete,
    /// Ended by a fault (e.g. the source was lost); no QRSd is reported.
    Failed,
}

impl Status {
    /// Stable text form (`collecting`, `complete`, `incomplete`, `failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Collecting => "collecting",
            Status::Complete => "complete",
            Status::Incomplete => "incomplete",
            Status::Failed => "failed",
        }
    }

    /// Whether the measurement has ended.
    pub fn is_final(self) -> bool {
        self != Status::Collecting
    }
}

/// Why a measurement ended other than by collecting `beats_required` beats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// `timeout_s` of signal passed.
    Timeout,
    /// The operator stopped it.
    Stopped,
    /// The service stopped while it was collecting (set by the store on restart).
    Interrupted,
    /// Aborted by a fault.
    Aborted,
}

/// Everything known about one beat the measurement considered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeatRecord {
    /// 0-based order of arrival within the measurement.
    pub seq: usize,
    /// R sample.
    pub r_sample: u64,
    /// Pipeline class.
    pub class: BeatClass,
    /// First pacing stimulus.
    pub pace_sample: Option<u64>,
    /// Global QRS onset.
    pub onset_sample: Option<u64>,
    /// Global QRS offset.
    pub offset_sample: Option<u64>,
    /// Global QRSd (onset to offset).
    pub qrsd_ms: Option<f64>,
    /// First stimulus to global QRS onset.
    pub stim_to_onset_ms: Option<f64>,
    /// First stimulus to global QRS end.
    pub stim_to_end_ms: Option<f64>,
    /// Per lead: onset, offset and QRSd.
    pub leads: BTreeMap<String, LeadBeat>,
    /// Noise estimate given with the beat.
    pub noise_uv: Option<f64>,
    /// Lead-off bits during the beat.
    pub lead_off: u16,
    /// Morphology correlation with the template at the time (when waveforms were given).
    pub correlation: Option<f64>,
    /// QRS area from the vectorcardiogram, µV·s (`qrsd_pipeline::vcg`; `None` without leads I,
    /// II, V1–V6 or boundaries).
    #[serde(default)]
    pub qrs_area_uvs: Option<f64>,
    /// Largest spatial QRS vector magnitude, µV.
    #[serde(default)]
    pub qrs_vector_max_uv: Option<f64>,
    /// Frontal-plane QRS axis, degrees (0° = lead I, +90° = inferior).
    #[serde(default)]
    pub qrs_axis_frontal_deg: Option<f64>,
    /// Passed every check when it was considered.
    pub accepted: bool,
    /// Why it was rejected.
    pub reason: Option<RejectReason>,
    /// Part of the run the result was computed from.
    pub used: bool,
    /// What the signal at the beat was fit for (best lead; the pipeline's quality stage).
    #[serde(default)]
    pub quality: Quality,
    /// Each lead not `clean` at the beat and its label; a channel the amplifier flagged off is
    /// `lead_off`.
    #[serde(default)]
    pub lead_quality: BTreeMap<String, Quality>,
    /// For a signal-quality rejection (`lead_off`, `noise`): what showed it …
    #[serde(default)]
    pub cause: Option<QualityCause>,
    /// … and the leads concerned.
    #[serde(default)]
    pub cause_leads: Vec<String>,
    /// Leads off at the beat (electrode off or flat trace; see *Leads off*), left out of its
    /// global QRS. Empty when every lead was on.
    #[serde(default)]
    pub leads_excluded: Vec<String>,
    /// How many leads the beat's global QRS was taken over (`None`: not known).
    #[serde(default)]
    pub global_leads: Option<usize>,
}

/// One lead of a [`BeatRecord`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LeadBeat {
    /// QRS onset in this lead.
    pub onset_sample: Option<u64>,
    /// QRS offset in this lead.
    pub offset_sample: Option<u64>,
    /// QRSd in this lead.
    pub qrsd_ms: Option<f64>,
    /// First stimulus to this lead's QRS end.
    #[serde(default)]
    pub stim_to_end_ms: Option<f64>,
}

/// A lead left out of the global QRS of some of a result's beats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedLead {
    /// Lead name.
    pub lead: String,
    /// Why: always `lead_off` (a lead not needed by the measurement; see *Leads off*).
    pub reason: RejectReason,
    /// What showed it: `electrode_off` (the amplifier's lead-off signal) or `flat`.
    pub cause: QualityCause,
    /// In how many of the result's beats it was left out.
    pub beats: usize,
}

/// Per-lead statistics of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LeadStats {
    /// Median QRSd in this lead.
    pub qrsd_ms: Option<f64>,
    /// IQR of the lead's per-beat QRSd.
    pub iqr_ms: Option<f64>,
    /// SD of the lead's per-beat QRSd.
    pub sd_ms: Option<f64>,
    /// Beats in which this lead was delineated.
    pub n: usize,
    /// Median first-stimulus-to-QRS-end in this lead (paced runs).
    #[serde(default)]
    pub stim_to_end_ms: Option<f64>,
    /// Spread of the lead's stimulus-to-end.
    #[serde(default)]
    pub stim_to_end: Option<Spread>,
}

/// Rejected beats: total and by reason.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RejectedCounts {
    /// All rejected beats.
    pub total: usize,
    /// Count per reason (only reasons that occurred).
    pub by_reason: BTreeMap<RejectReason, usize>,
    /// Signal-quality rejections (`lead_off`, `noise`) counted by what showed them.
    #[serde(default)]
    pub by_cause: BTreeMap<QualityCause, usize>,
}

impl RejectedCounts {
    /// Counts of `records`' rejections.
    pub fn of(records: &[BeatRecord]) -> Self {
        let mut out = RejectedCounts::default();
        for r in records {
            if let Some(reason) = r.reason {
                out.total += 1;
                *out.by_reason.entry(reason).or_insert(0) += 1;
                if let Some(c) = r.cause.filter(|_| is_quality_reason(reason)) {
                    *out.by_cause.entry(c).or_insert(0) += 1;
                }
            }
        }
        out
    }
}

/// Quality flags: a flag is set when at least one beat of the measurement was rejected for that
/// reason (or a gap occurred); the counts are in `beats_rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Flags {
    /// Beats rejected for noise.
    pub noise: bool,
    /// Beats rejected for lead-off.
    pub lead_off: bool,
    /// Beats suspected of fusion.
    pub suspected_fusion: bool,
    /// Beats suspected of loss of LV capture.
    pub suspected_loss_of_capture: bool,
    /// A source gap occurred during the measurement.
    pub gap: bool,
    /// The result rests on fewer than `beats_required` beats (but at least `beats_min`).
    pub short_run: bool,
}

/// First and last sample of the run a result was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSpan {
    /// Onset (or R when unknown) of the first beat.
    pub first_sample: u64,
    /// Offset (or R) of the last beat.
    pub last_sample: u64,
}

/// The measurement as the API returns it (`GET /api/v1/measurements/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasurementResult {
    /// Baseline or site.
    pub kind: MeasurementKind,
    /// collecting | complete | incomplete | failed.
    pub status: Status,
    /// Machine-readable end reason (incomplete/failed, or a complete short run at timeout).
    pub reason_code: Option<EndReason>,
    /// Plain-language reason when incomplete or failed.
    pub reason: Option<String>,
    /// Beat class collected.
    pub expected_class: BeatClass,
    /// Sampling rate of the beats (once a beat arrived).
    pub fs_hz: Option<f64>,
    /// Global median QRSd (onset to offset); only for `complete`.
    pub qrsd_ms: Option<f64>,
    /// IQR of the global per-beat QRSd.
    pub iqr_ms: Option<f64>,
    /// SD of the global per-beat QRSd.
    pub sd_ms: Option<f64>,
    /// Per reported lead (II, V1, V6 by default).
    pub leads: BTreeMap<String, LeadStats>,
    /// Median first-stimulus-to-global-QRS-end (paced runs).
    pub stim_to_end_ms: Option<f64>,
    /// Spread of stimulus-to-end.
    pub stim_to_end: Option<Spread>,
    /// Median first-stimulus-to-global-QRS-onset (paced runs).
    pub stim_to_onset_ms: Option<f64>,
    /// Median noise estimate (µV RMS) of the beats used, when given.
    #[serde(default)]
    pub noise_uv: Option<f64>,
    /// Median QRS area of the beats used, µV·s (vectorcardiogram, docs/algorithms.md).
    #[serde(default)]
    pub qrs_area_uvs: Option<f64>,
    /// IQR of the beats' QRS area, µV·s.
    #[serde(default)]
    pub qrs_area_iqr_uvs: Option<f64>,
    /// Median of the beats' largest spatial QRS vector, µV.
    #[serde(default)]
    pub qrs_vector_max_uv: Option<f64>,
    /// Mean frontal QRS axis of the beats used (circular mean), degrees.
    #[serde(default)]
    pub qrs_axis_frontal_deg: Option<f64>,
    /// Site QRS area − baseline QRS area, µV·s (negative = a reduction); set by the service
    /// against the procedure's latest complete baseline, `None` here.
    #[serde(default)]
    pub delta_qrs_area_uvs: Option<f64>,
    /// `delta_qrs_area_uvs` as % of the baseline QRS area.
    #[serde(default)]
    pub delta_qrs_area_pct: Option<f64>,
    /// LV capture by ECG criteria on the median paced beat (site measurements; [`crate::capture`]).
    #[serde(default)]
    pub lv_capture: Option<LvCaptureClass>,
    /// The values `lv_capture` was decided from.
    #[serde(default)]
    pub lv_capture_criteria: Option<LvCaptureCriteria>,
    /// The median beat's QRS loop (X, Y, Z), for the VCG picture.
    #[serde(default)]
    pub vcg_loop: Option<VcgLoop>,
    /// Beats in the run (the result's n; during collection: the current run).
    pub beats_used: usize,
    /// Beats asked for.
    pub beats_required: usize,
    /// Fewest beats for a result.
    pub beats_min: usize,
    /// Beats considered.
    pub beats_seen: usize,
    /// Rejected beats.
    pub beats_rejected: RejectedCounts,
    /// Quality flags.
    pub flags: Flags,
    /// Why beats were rejected for signal quality: per cause, the beats and the leads concerned,
    /// with a plain sentence each (most beats first).
    #[serde(default)]
    pub quality_reasons: Vec<QualityReason>,
    /// Leads left out of the global QRS of the result's beats (while collecting: of the current
    /// run's), in lead order; empty when every beat was measured over all leads.
    #[serde(default)]
    pub leads_excluded: Vec<ExcludedLead>,
    /// The fewest leads any of those beats' global QRS was taken over (`None` without beats).
    #[serde(default)]
    pub global_leads: Option<usize>,
    /// One plain sentence when leads were left out ("V3 electrode off: global QRS over 11 leads").
    #[serde(default)]
    pub global_leads_text: Option<String>,
    /// Every beat considered.
    pub beats: Vec<BeatRecord>,
    /// Median beat of the run (when waveforms were given).
    pub median_beat: Option<MedianBeat>,
    /// First/last sample of the run.
    pub run: Option<RunSpan>,
    /// Sample the measurement started at.
    pub start_sample: u64,
    /// Source gaps (sample numbers) during the measurement.
    pub gaps: Vec<u64>,
    /// The configuration used.
    pub config: MeasurementConfig,
}

impl MeasurementResult {
    /// The result of a measurement that ended without a state machine to ask — e.g. the service
    /// was killed while it was collecting: `incomplete` with `reason_code`, the beats that were
    /// saved, no QRSd. Used by the store on restart.
    pub fn ended_without_result(
        config: MeasurementConfig,
        beats: Vec<BeatRecord>,
        start_sample: u64,
        reason_code: EndReason,
        reason: &str,
    ) -> Self {
        let counts = RejectedCounts::of(&beats);
        let has = |r: RejectReason| counts.by_reason.contains_key(&r);
        let flags = Flags {
            noise: has(RejectReason::Noise),
            lead_off: has(RejectReason::LeadOff),
            suspected_fusion: has(RejectReason::SuspectedFusion),
            suspected_loss_of_capture: has(RejectReason::SuspectedLossOfCapture),
            gap: false,
            short_run: false,
        };
        let leads = config
            .report_leads
            .iter()
            .map(|l| {
                (
                    l.clone(),
                    LeadStats {
                        qrsd_ms: None,
                        iqr_ms: None,
                        sd_ms: None,
                        n: 0,
                        stim_to_end_ms: None,
                        stim_to_end: None,
                    },
                )
            })
            .collect();
        MeasurementResult {
            kind: config.kind,
            status: Status::Incomplete,
            reason_code: Some(reason_code),
            reason: Some(reason.to_string()),
            expected_class: config.expected_class(),
            fs_hz: None,
            qrsd_ms: None,
            iqr_ms: None,
            sd_ms: None,
            leads,
            stim_to_end_ms: None,
            stim_to_end: None,
            stim_to_onset_ms: None,
            noise_uv: None,
            qrs_area_uvs: None,
            qrs_area_iqr_uvs: None,
            qrs_vector_max_uv: None,
            qrs_axis_frontal_deg: None,
            delta_qrs_area_uvs: None,
            delta_qrs_area_pct: None,
            lv_capture: None,
            lv_capture_criteria: None,
            vcg_loop: None,
            beats_used: 0,
            beats_required: config.beats_required,
            beats_min: config.beats_min,
            beats_seen: beats.len(),
            beats_rejected: counts,
            flags,
            quality_reasons: quality_reasons(&beats),
            leads_excluded: Vec::new(),
            global_leads: None,
            global_leads_text: None,
            beats,
            median_beat: None,
            run: None,
            start_sample,
            gaps: Vec::new(),
            config,
        }
    }
}

/// What [`Measurement::push`] decided about one beat (for live progress messages).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Sequence number of the beat.
    pub seq: usize,
    /// Accepted into the run.
    pub accepted: bool,
    /// Rejection reason.
    pub reason: Option<RejectReason>,
    /// Global QRSd of the beat.
    pub qrsd_ms: Option<f64>,
    /// Beats in the current run.
    pub beats_collected: usize,
    /// Beats required.
    pub beats_required: usize,
    /// Status after this beat.
    pub status: Status,
}

/// Features of a candidate beat used by the consensus.
#[derive(Debug, Clone, Copy)]
struct Cand {
    seq: usize,
    qrsd: f64,
    latency: Option<f64>,
    onset_rel: Option<f64>,
    offset_rel: Option<f64>,
    stim_rel: Option<f64>,
}

struct Consensus {
    qrsd: f64,
    latency: Option<f64>,
    stim_rel: Option<f64>,
    template: BTreeMap<String, waveform::Aligned>,
    window: Option<(i64, i64)>,
}

/// A measurement in progress: feed beats with [`push`](Self::push), read [`result`](Self::result).
#[derive(Debug, Clone)]
pub struct Measurement {
    cfg: MeasurementConfig,
    start_sample: u64,
    fs_hz: Option<f64>,
    status: Status,
    end: Option<EndReason>,
    reason_text: Option<String>,
    records: Vec<BeatRecord>,
    cand_of: Vec<Option<Cand>>,
    cands: VecDeque<Cand>,
    run: Vec<Cand>,
    best: Vec<Cand>,
    used: Vec<usize>,
    waves: HashMap<usize, BeatWaveform>,
    last_r: Option<u64>,
    gaps: Vec<u64>,
}

impl Measurement {
    /// A new measurement starting at `start_sample` (the signal time its timeout counts from).
    pub fn new(cfg: MeasurementConfig, start_sample: u64) -> Result<Self, crate::ConfigError> {
        cfg.validate()?;
        Ok(Measurement {
            cfg,
            start_sample,
            fs_hz: None,
            status: Status::Collecting,
            end: None,
            reason_text: None,
            records: Vec::new(),
            cand_of: Vec::new(),
            cands: VecDeque::new(),
            run: Vec::new(),
            best: Vec::new(),
            used: Vec::new(),
            waves: HashMap::new(),
            last_r: None,
            gaps: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MeasurementConfig {
        &self.cfg
    }

    /// Current status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Beats in the current run (after completion: beats in the result's run).
    pub fn beats_collected(&self) -> usize {
        if self.status == Status::Complete {
            self.used.len()
        } else {
            self.run.len()
        }
    }

    /// Records of every beat considered so far.
    pub fn records(&self) -> &[BeatRecord] {
        &self.records
    }

    /// Considers one beat. Beats whose R precedes the start sample are ignored (`None`): they
    /// were delivered by the pipeline's delay but belong to the time before *measure* was
    /// pressed. A beat past the timeout first ends the measurement (and is not considered);
    /// beats after the end are ignored (`None`).
    pub fn push(&mut self, input: BeatInput) -> Option<Progress> {
        if self.status.is_final() {
            return None;
        }
        let fs = input.fs_hz;
        if !(fs.is_finite() && fs > 0.0) {
            return None;
        }
        if input.beat.r_sample < self.start_sample {
            // Before the operator pressed *measure* (the pipeline reports beats with a delay):
            // possibly another pacing configuration; not part of this measurement.
            return None;
        }
        self.fs_hz = Some(fs);
        if self.past_timeout(input.beat.r_sample, fs) {
            self.finish(EndReason::Timeout);
            return None;
        }
        let seq = self.records.len();
        let mut rec = record(seq, &input, fs);
        // A long pause breaks the run (beats missed, or the rhythm stopped).
        if let Some(prev) = self.last_r {
            if input.beat.r_sample > prev
                && (input.beat.r_sample - prev) as f64 > self.cfg.max_rr_s * fs
            {
                self.break_run();
            }
        }
        let verdict = self.check(&input, &rec);
        let (cand, reason) = match verdict {
            Check::Reject(r) => (None, Some(r)),
            Check::Candidate(c) => {
                if let Some(w) = input.waveform.clone() {
                    self.waves.insert(seq, w);
                }
                let (reason, corr) = self.against_consensus(&c, &input);
                rec.correlation = corr;
                (Some(c), reason)
            }
        };
        match self.last_r {
            Some(p) if input.beat.r_sample <= p => {}
            _ => self.last_r = Some(input.beat.r_sample),
        }
        rec.accepted = reason.is_none();
        rec.reason = reason;
        if let Some((cause, leads)) = reason.and_then(|r| quality_cause(r, &input, &self.cfg)) {
            rec.cause = Some(cause);
            rec.cause_leads = leads;
        }
        let qrsd = rec.qrsd_ms;
        self.records.push(rec);
        self.cand_of.push(cand);
        if let Some(c) = cand {
            self.cands.push_back(c);
            while self.cands.len() > CONSENSUS_WINDOW {
                self.cands.pop_front();
            }
        }
        match (reason, cand) {
            (None, Some(c)) => self.run.push(c),
            (Some(r), _) if r.breaks_run() || self.cfg.strict_consecutive => self.break_run(),
            _ => {}
        }
        if self.run.len() >= self.cfg.beats_required {
            self.validate_run();
            if self.run.len() >= self.cfg.beats_required {
                let run = std::mem::take(&mut self.run);
                self.complete_with(run);
            }
        }
        self.prune_waves();
        Some(Progress {
            seq,
            accepted: reason.is_none(),
            reason,
            qrsd_ms: qrsd,
            beats_collected: self.beats_collected().min(self.cfg.beats_required),
            beats_required: self.cfg.beats_required,
            status: self.status,
        })
    }

    /// A gap in the source (lost samples) at `sample`: the run of consecutive beats breaks.
    pub fn gap(&mut self, sample: u64) {
        if self.status.is_final() {
            return;
        }
        self.gaps.push(sample);
        self.break_run();
    }

    /// Signal time has reached `sample` with no beat (e.g. asystole or no capture): ends the
    /// measurement when the timeout has passed. Returns the status.
    pub fn advance(&mut self, sample: u64, fs_hz: f64) -> Status {
        if !self.status.is_final() && fs_hz.is_finite() && fs_hz > 0.0 {
            self.fs_hz.get_or_insert(fs_hz);
            if self.past_timeout(sample, fs_hz) {
                self.finish(EndReason::Timeout);
            }
        }
        self.status
    }

    /// The operator ends the measurement now: complete when the best run has `beats_min` clean
    /// beats, otherwise incomplete.
    pub fn stop(&mut self) {
        if !self.status.is_final() {
            self.finish(EndReason::Stopped);
        }
    }

    /// Ends the measurement as failed (e.g. the source was lost), with a plain reason.
    pub fn abort(&mut self, reason: &str) {
        if !self.status.is_final() {
            self.status = Status::Failed;
            self.end = Some(EndReason::Aborted);
            self.reason_text = Some(reason.to_string());
        }
    }

    fn past_timeout(&self, sample: u64, fs: f64) -> bool {
        sample.saturating_sub(self.start_sample) as f64 > self.cfg.timeout_s * fs
    }

    fn break_run(&mut self) {
        if self.run.len() >= self.best.len() && !self.run.is_empty() {
            self.best = std::mem::take(&mut self.run);
        } else {
            self.run.clear();
        }
    }

    fn prune_waves(&mut self) {
        if self.status.is_final() {
            let keep: std::collections::HashSet<usize> = self.used.iter().copied().collect();
            self.waves.retain(|k, _| keep.contains(k));
            return;
        }
        let keep: std::collections::HashSet<usize> = self
            .cands
            .iter()
            .chain(&self.run)
            .chain(&self.best)
            .map(|c| c.seq)
            .collect();
        self.waves.retain(|k, _| keep.contains(k));
    }

    fn finish(&mut self, why: EndReason) {
        self.break_run();
        let mut best = std::mem::take(&mut self.best);
        self.run = std::mem::take(&mut best);
        self.validate_run();
        let run = std::mem::take(&mut self.run);
        if run.len() >= self.cfg.beats_min {
            self.complete_with(run);
            self.end = Some(why);
        } else {
            self.status = Status::Incomplete;
            self.end = Some(why);
            let what = match why {
                EndReason::Timeout => format!("timeout after {} s", self.cfg.timeout_s),
                EndReason::Stopped => "stopped by the operator".to_string(),
                EndReason::Interrupted => "interrupted".to_string(),
                EndReason::Aborted => "aborted".to_string(),
            };
            let rejected = self.records.iter().filter(|r| !r.accepted).count();
            let mut text = format!(
                "{what}: only {} consecutive clean {} beats of {} needed (at least {}); {} beats seen, {} rejected",
                run.len(),
                class_word(self.cfg.expected_class()),
                self.cfg.beats_required,
                self.cfg.beats_min,
                self.records.len(),
                rejected
            );
            if let Some((r, n)) = self.top_reason() {
                text.push_str(&format!(", most often for {} ({n})", r.as_str()));
                // Name the signal problem behind it, as the page and report do.
                if let Some(q) = quality_reasons(&self.records)
                    .into_iter()
                    .find(|q| q.reason == r)
                {
                    text.push_str(&format!(": {}", q.text));
                }
            }
            self.reason_text = Some(text);
        }
        self.prune_waves();
    }

    /// Final verdicts: every candidate beat outside the run is judged again against the consensus
    /// of the run the result comes from (live verdicts were against the consensus of the moment,
    /// which may have been set by beats that turned out to be the anomaly, e.g. a few beats
    /// without LV capture at the start). Artefact rejections are final and kept.
    fn rejudge(&mut self, run: &[Cand]) {
        if run.len() < CONSENSUS_MIN {
            return;
        }
        let cons = self.consensus_of(run);
        for seq in 0..self.records.len() {
            let Some(c) = self.cand_of[seq] else { continue };
            let rec = &self.records[seq];
            if rec.used || matches!(rec.reason, Some(r) if !is_consensus_reason(r)) {
                continue;
            }
            let corr = rec.correlation;
            let reason = self.classify(&c, corr, corr.is_some(), &cons);
            let rec = &mut self.records[seq];
            rec.reason = reason;
            rec.accepted = reason.is_none();
        }
    }

    fn top_reason(&self) -> Option<(RejectReason, usize)> {
        let counts = self.counts();
        counts
            .by_reason
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(r, n)| (*r, *n))
    }

    fn complete_with(&mut self, run: Vec<Cand>) {
        self.used = run.iter().map(|c| c.seq).collect();
        for &s in &self.used {
            self.records[s].used = true;
        }
        self.rejudge(&run);
        self.status = Status::Complete;
        self.cands.clear();
        self.best.clear();
    }

    /// Re-checks the run against its own consensus until every beat agrees; failing beats are
    /// rejected retroactively and the run is cut (rhythm reasons) or the beat dropped (artefact).
    fn validate_run(&mut self) {
        loop {
            if self.run.len() < CONSENSUS_MIN {
                return;
            }
            let cons = self.consensus_of(&self.run.clone());
            let mut failed = None;
            for (i, c) in self.run.iter().enumerate() {
                let wave = self.waves.get(&c.seq);
                let r_sample = self.records[c.seq].r_sample;
                let corr = wave.and_then(|w| self.correlation(w, r_sample, c.stim_rel, &cons));
                if let Some(reason) = self.classify(c, corr, wave.is_some(), &cons) {
                    failed = Some((i, reason, corr));
                    break;
                }
            }
            let Some((i, reason, corr)) = failed else {
                return;
            };
            let seq = self.run[i].seq;
            let rec = &mut self.records[seq];
            rec.accepted = false;
            rec.reason = Some(reason);
            if corr.is_some() {
                rec.correlation = corr;
            }
            if reason.breaks_run() || self.cfg.strict_consecutive {
                self.run.drain(..=i);
            } else {
                self.run.remove(i);
            }
        }
    }

    fn check(&self, input: &BeatInput, rec: &BeatRecord) -> Check {
        let beat = &input.beat;
        if let Some(prev) = self.last_r {
            if beat.r_sample <= prev {
                return Check::Reject(RejectReason::NotConsecutive);
            }
        }
        let expected = self.cfg.expected_class();
        if beat.class != expected {
            return Check::Reject(match beat.class {
                BeatClass::Ectopic => RejectReason::Ectopic,
                BeatClass::Unknown if rec.qrsd_ms.is_some() => RejectReason::Unclassified,
                BeatClass::Unknown => RejectReason::NoBoundaries,
                BeatClass::Noise => RejectReason::Noise,
                _ => RejectReason::WrongClass,
            });
        }
        let Some(qrsd) = rec.qrsd_ms else {
            return Check::Reject(RejectReason::NoBoundaries);
        };
        if expected == BeatClass::Paced && beat.pace_sample.is_none() {
            return Check::Reject(RejectReason::NoStimulus);
        }
        // Every lead flat, or channels flagged off without names (which ones is not known), or a
        // lead the measurement needs off.
        if beat.quality == Quality::LeadOff
            || (input.lead_off != 0 && input.lead_off_leads.is_empty())
            || rec.leads_excluded.iter().any(|l| self.cfg.needs_lead(l))
        {
            return Check::Reject(RejectReason::LeadOff);
        }
        // The pipeline's quality stage found no lead readable at this beat (it kept it as a beat
        // because it has the record's own QRS shape): its boundaries cannot be trusted.
        if !beat.quality.readable() {
            return Check::Reject(RejectReason::Noise);
        }
        if let Some(n) = input.noise_uv {
            if !n.is_finite() || n > self.cfg.max_noise_uv {
                return Check::Reject(RejectReason::Noise);
            }
        }
        if qrsd < self.cfg.min_qrsd_ms || qrsd > self.cfg.max_qrsd_ms {
            return Check::Reject(RejectReason::Implausible);
        }
        let rel = |s: Option<u64>| s.map(|s| s as f64 - beat.r_sample as f64);
        Check::Candidate(Cand {
            seq: rec.seq,
            qrsd,
            latency: if expected == BeatClass::Paced {
                rec.stim_to_onset_ms
            } else {
                None
            },
            onset_rel: rel(beat.global.onset_sample),
            offset_rel: rel(beat.global.offset_sample),
            stim_rel: rel(beat.pace_sample),
        })
    }

    fn consensus_of(&self, beats: &[Cand]) -> Consensus {
        let q: Vec<f64> = beats.iter().map(|c| c.qrsd).collect();
        let l: Vec<f64> = beats.iter().filter_map(|c| c.latency).collect();
        let leads = self.corr_leads();
        let template = waveform::template(
            beats.iter().filter_map(|c| {
                self.waves
                    .get(&c.seq)
                    .map(|w| (self.records[c.seq].r_sample, w))
            }),
            &leads,
        );
        let on: Vec<f64> = beats.iter().filter_map(|c| c.onset_rel).collect();
        let off: Vec<f64> = beats.iter().filter_map(|c| c.offset_rel).collect();
        let margin = self.fs_hz.unwrap_or(1000.0) * CORR_MARGIN_MS / 1000.0;
        let window = match (stats::median(&on), stats::median(&off)) {
            (Some(a), Some(b)) => Some(((a - margin).floor() as i64, (b + margin).ceil() as i64)),
            _ => None,
        };
        let st: Vec<f64> = beats.iter().filter_map(|c| c.stim_rel).collect();
        Consensus {
            qrsd: stats::median(&q).unwrap_or(f64::NAN),
            latency: stats::median(&l),
            stim_rel: stats::median(&st),
            template,
            window,
        }
    }

    fn corr_leads(&self) -> Vec<String> {
        self.cfg.report_leads.clone()
    }

    fn correlation(
        &self,
        w: &BeatWaveform,
        r_sample: u64,
        stim_rel: Option<f64>,
        cons: &Consensus,
    ) -> Option<f64> {
        let window = cons.window?;
        if cons.template.is_empty() {
            return None;
        }
        let ms = self.fs_hz.unwrap_or(1000.0) / 1000.0;
        let exclude: Vec<(i64, i64)> = [stim_rel, cons.stim_rel]
            .into_iter()
            .flatten()
            .map(|s| {
                (
                    (s - STIM_MASK_BEFORE_MS * ms).floor() as i64,
                    (s + STIM_MASK_AFTER_MS * ms).ceil() as i64,
                )
            })
            .collect();
        waveform::correlation(
            w,
            r_sample,
            &cons.template,
            &self.corr_leads(),
            window,
            &exclude,
        )
    }

    fn against_consensus(
        &self,
        c: &Cand,
        input: &BeatInput,
    ) -> (Option<RejectReason>, Option<f64>) {
        if self.cands.len() < CONSENSUS_MIN {
            return (None, None);
        }
        let window: Vec<Cand> = self.cands.iter().copied().collect();
        let cons = self.consensus_of(&window);
        let corr = input
            .waveform
            .as_ref()
            .and_then(|w| self.correlation(w, input.beat.r_sample, c.stim_rel, &cons));
        (
            self.classify(c, corr, input.waveform.is_some(), &cons),
            corr,
        )
    }

    /// The fusion / loss-of-capture / morphology / outlier rules (see the module docs).
    fn classify(
        &self,
        c: &Cand,
        corr: Option<f64>,
        has_wave: bool,
        cons: &Consensus,
    ) -> Option<RejectReason> {
        let cfg = &self.cfg;
        if !cons.qrsd.is_finite() {
            return None;
        }
        let d = c.qrsd - cons.qrsd;
        // Without a usable correlation the morphology cannot clear a suspicious width.
        let morph_diff = corr.map(|r| r < cfg.min_correlation);
        let morph_unknown_or_diff = morph_diff.unwrap_or(true) || !has_wave;
        if cfg.expected_class() == BeatClass::Paced {
            let lat_shift = match (c.latency, cons.latency) {
                (Some(a), Some(b)) => (a - b).abs() >= cfg.latency_shift_ms,
                _ => false,
            };
            if d <= -cfg.fusion_narrowing_ms && (lat_shift || morph_unknown_or_diff) {
                return Some(RejectReason::SuspectedFusion);
            }
            if d >= cfg.loc_widening_ms && morph_unknown_or_diff {
                return Some(RejectReason::SuspectedLossOfCapture);
            }
            if morph_diff == Some(true) {
                // A changed paced complex that is not markedly wider: intermediate between the
                // paced and the conducted complex, i.e. fusion.
                return Some(RejectReason::SuspectedFusion);
            }
            if let Some(r) = corr {
                if r < cfg.minor_fusion_correlation && d.abs() >= cfg.minor_fusion_ms {
                    return Some(RejectReason::SuspectedFusion);
                }
            }
        }
        if morph_diff == Some(true) {
            return Some(RejectReason::Morphology);
        }
        if d.abs() > cfg.outlier_ms {
            return Some(RejectReason::Outlier);
        }
        None
    }

    fn counts(&self) -> RejectedCounts {
        RejectedCounts::of(&self.records)
    }

    /// The result as it stands (status `collecting` while beats are still being gathered).
    pub fn result(&self) -> MeasurementResult {
        let counts = self.counts();
        let has = |r: RejectReason| counts.by_reason.contains_key(&r);
        let complete = self.status == Status::Complete;
        let used: Vec<&BeatRecord> = if complete {
            self.used.iter().map(|&s| &self.records[s]).collect()
        } else {
            Vec::new()
        };
        let global = Spread::of(&used.iter().filter_map(|r| r.qrsd_ms).collect::<Vec<_>>());
        let area = Spread::of(
            &used
                .iter()
                .filter_map(|r| r.qrs_area_uvs)
                .collect::<Vec<_>>(),
        );
        let ste = Spread::of(
            &used
                .iter()
                .filter_map(|r| r.stim_to_end_ms)
                .collect::<Vec<_>>(),
        );
        let sto = stats::median(
            &used
                .iter()
                .filter_map(|r| r.stim_to_onset_ms)
                .collect::<Vec<_>>(),
        );
        let mut leads = BTreeMap::new();
        for name in &self.cfg.report_leads {
            let v: Vec<f64> = used
                .iter()
                .filter_map(|r| lead_of(r, name).and_then(|l| l.qrsd_ms))
                .collect();
            let s = Spread::of(&v);
            let ste_lead = Spread::of(
                &used
                    .iter()
                    .filter_map(|r| lead_of(r, name).and_then(|l| l.stim_to_end_ms))
                    .collect::<Vec<_>>(),
            );
            leads.insert(
                name.clone(),
                LeadStats {
                    qrsd_ms: s.map(|s| s.median_ms),
                    iqr_ms: s.map(|s| s.iqr_ms),
                    sd_ms: s.map(|s| s.sd_ms),
                    n: v.len(),
                    stim_to_end_ms: ste_lead.map(|s| s.median_ms),
                    stim_to_end: ste_lead,
                },
            );
        }
        let run = match (used.first(), used.last()) {
            (Some(a), Some(b)) => Some(RunSpan {
                first_sample: a.onset_sample.unwrap_or(a.r_sample),
                last_sample: b.offset_sample.unwrap_or(b.r_sample),
            }),
            _ => None,
        };
        let beats_used = if complete { used.len() } else { self.run.len() };
        let lead_set: Vec<&BeatRecord> = if complete {
            used.clone()
        } else {
            self.run.iter().map(|c| &self.records[c.seq]).collect()
        };
        let (leads_excluded, global_leads, global_leads_text) = lead_set_of(&lead_set);
        let median = if complete { self.median_beat() } else { None };
        let capture = median
            .as_ref()
            .filter(|_| self.cfg.expected_class() == BeatClass::Paced)
            .and_then(crate::capture::classify);
        MeasurementResult {
            kind: self.cfg.kind,
            status: self.status,
            reason_code: self.end.filter(|_| self.status != Status::Collecting),
            reason: if complete {
                None
            } else {
                self.reason_text.clone()
            },
            expected_class: self.cfg.expected_class(),
            fs_hz: self.fs_hz,
            qrsd_ms: global.map(|s| s.median_ms),
            iqr_ms: global.map(|s| s.iqr_ms),
            sd_ms: global.map(|s| s.sd_ms),
            leads,
            stim_to_end_ms: ste.map(|s| s.median_ms),
            stim_to_end: ste,
            stim_to_onset_ms: sto,
            noise_uv: stats::median(&used.iter().filter_map(|r| r.noise_uv).collect::<Vec<_>>()),
            qrs_area_uvs: area.map(|s| s.median_ms),
            qrs_area_iqr_uvs: area.map(|s| s.iqr_ms),
            qrs_vector_max_uv: stats::median(
                &used
                    .iter()
                    .filter_map(|r| r.qrs_vector_max_uv)
                    .collect::<Vec<_>>(),
            ),
            qrs_axis_frontal_deg: stats::circular_mean_deg(
                &used
                    .iter()
                    .filter_map(|r| r.qrs_axis_frontal_deg)
                    .collect::<Vec<_>>(),
            ),
            delta_qrs_area_uvs: None,
            delta_qrs_area_pct: None,
            lv_capture: capture.as_ref().map(|c| c.0),
            lv_capture_criteria: capture.map(|c| c.1),
            vcg_loop: median.as_ref().and_then(crate::capture::median_vcg),
            beats_used,
            beats_required: self.cfg.beats_required,
            beats_min: self.cfg.beats_min,
            beats_seen: self.records.len(),
            beats_rejected: counts.clone(),
            flags: Flags {
                noise: has(RejectReason::Noise),
                lead_off: has(RejectReason::LeadOff),
                suspected_fusion: has(RejectReason::SuspectedFusion),
                suspected_loss_of_capture: has(RejectReason::SuspectedLossOfCapture),
                gap: !self.gaps.is_empty(),
                short_run: complete && used.len() < self.cfg.beats_required,
            },
            quality_reasons: quality_reasons(&self.records),
            leads_excluded,
            global_leads,
            global_leads_text,
            beats: self.records.clone(),
            median_beat: median,
            run,
            start_sample: self.start_sample,
            gaps: self.gaps.clone(),
            config: self.cfg.clone(),
        }
    }

    fn median_beat(&self) -> Option<MedianBeat> {
        let fs = self.fs_hz?;
        let used: Vec<(u64, &BeatWaveform, &BeatRecord)> = self
            .used
            .iter()
            .filter_map(|&s| {
                let r = &self.records[s];
                self.waves.get(&s).map(|w| (r.r_sample, w, r))
            })
            .collect();
        if used.is_empty() {
            return None;
        }
        // A lead off in any beat of the run is left out: its samples there are no ECG, and a median
        // over fewer beats than the other leads' would not be the same beat.
        let off_somewhere = |n: &str| {
            used.iter()
                .any(|(_, _, r)| r.leads_excluded.iter().any(|x| x.eq_ignore_ascii_case(n)))
        };
        let mut names: Vec<String> = Vec::new();
        for (_, w, _) in &used {
            for (n, _) in &w.leads {
                if !names.iter().any(|x| x.eq_ignore_ascii_case(n)) && !off_somewhere(n) {
                    names.push(n.clone());
                }
            }
        }
        let tpl = waveform::template(used.iter().map(|(r, w, _)| (*r, *w)), &names);
        let r_index = tpl.values().map(|a| a.r_index).min()?;
        let len = tpl.values().map(|a| a.uv.len() - a.r_index).min()? + r_index;
        let rel_med = |f: &dyn Fn(&BeatRecord) -> Option<u64>| {
            stats::median(
                &used
                    .iter()
                    .filter_map(|(r, _, rec)| f(rec).map(|s| s as f64 - *r as f64))
                    .collect::<Vec<_>>(),
            )
        };
        let mut leads = BTreeMap::new();
        for (name, a) in &tpl {
            let start = a.r_index - r_index;
            let uv = a.uv[start..start + len].to_vec();
            let on = rel_med(&|rec| lead_of(rec, name).and_then(|l| l.onset_sample));
            let off = rel_med(&|rec| lead_of(rec, name).and_then(|l| l.offset_sample));
            leads.insert(
                name.clone(),
                MedianLead {
                    uv,
                    onset_index: waveform::index_at(r_index, len, on),
                    offset_index: waveform::index_at(r_index, len, off),
                },
            );
        }
        Some(MedianBeat {
            fs_hz: fs,
            n_beats: used.len(),
            r_index,
            onset_index: waveform::index_at(r_index, len, rel_med(&|rec| rec.onset_sample)),
            offset_index: waveform::index_at(r_index, len, rel_med(&|rec| rec.offset_sample)),
            stim_index: waveform::index_at(r_index, len, rel_med(&|rec| rec.pace_sample)),
            leads,
        })
    }
}

fn is_consensus_reason(r: RejectReason) -> bool {
    matches!(
        r,
        RejectReason::SuspectedFusion
            | RejectReason::SuspectedLossOfCapture
            | RejectReason::Morphology
            | RejectReason::Outlier
    )
}

enum Check {
    Reject(RejectReason),
    Candidate(Cand),
}

fn class_word(c: BeatClass) -> &'static str {
    match c {
        BeatClass::Intrinsic => "intrinsic",
        BeatClass::Paced => "paced",
        BeatClass::Ectopic => "ectopic",
        BeatClass::Unknown => "unknown",
        BeatClass::Noise => "noise",
    }
}

fn lead_of<'a>(r: &'a BeatRecord, name: &str) -> Option<&'a LeadBeat> {
    r.leads
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, l)| l)
}

fn ms(a: u64, b: u64, fs: f64) -> Option<f64> {
    (b >= a).then(|| (b - a) as f64 * 1000.0 / fs)
}

fn record(seq: usize, input: &BeatInput, fs: f64) -> BeatRecord {
    let b = &input.beat;
    let leads_off = leads_off(input);
    let pace = b.pace_sample;
    let leads = b
        .leads
        .iter()
        .map(|l| {
            (
                l.name.clone(),
                LeadBeat {
                    onset_sample: l.bounds.onset_sample,
                    offset_sample: l.bounds.offset_sample,
                    qrsd_ms: l.bounds.duration_ms(fs),
                    stim_to_end_ms: match (pace, l.bounds.offset_sample) {
                        (Some(p), Some(o)) => ms(p, o, fs),
                        _ => None,
                    },
                },
            )
        })
        .collect();
    BeatRecord {
        seq,
        r_sample: b.r_sample,
        class: b.class,
        pace_sample: pace,
        onset_sample: b.global.onset_sample,
        offset_sample: b.global.offset_sample,
        qrsd_ms: b.global.duration_ms(fs),
        stim_to_onset_ms: match (pace, b.global.onset_sample) {
            (Some(p), Some(o)) => Some((o as f64 - p as f64) * 1000.0 / fs),
            _ => None,
        },
        stim_to_end_ms: match (pace, b.global.offset_sample) {
            (Some(p), Some(o)) => ms(p, o, fs),
            _ => None,
        },
        leads,
        noise_uv: input.noise_uv,
        lead_off: input.lead_off,
        correlation: None,
        qrs_area_uvs: b.vcg.qrs_area_uvs,
        qrs_vector_max_uv: b.vcg.qrs_vector_max_uv,
        qrs_axis_frontal_deg: b.vcg.qrs_axis_frontal_deg,
        accepted: false,
        reason: None,
        used: false,
        quality: b.quality,
        lead_quality: merged_lead_quality(input),
        cause: None,
        cause_leads: Vec::new(),
        global_leads: (!b.leads.is_empty()).then(|| {
            let on = |n: &String| !leads_off.iter().any(|x| x.eq_ignore_ascii_case(n));
            b.leads.iter().filter(|l| on(&l.name)).count()
        }),
        leads_excluded: leads_off,
    }
}

/// The leads off at a beat (see *Leads off* in the module docs), in the beat's lead order, then
/// any others named.
fn leads_off(input: &BeatInput) -> Vec<String> {
    let b = &input.beat;
    let same = |a: &str, z: &str| a.eq_ignore_ascii_case(z);
    let flagged = |n: &str| input.lead_off_leads.iter().any(|x| same(x, n));
    let flat = |n: &str| {
        input
            .lead_quality
            .iter()
            .any(|(x, q)| *q == Quality::LeadOff && same(x, n))
    };
    let off = |n: &str| b.is_excluded(n) || flagged(n) || flat(n);
    let limb = off("I") || off("II");
    let mut out: Vec<String> = Vec::new();
    let named = b
        .leads
        .iter()
        .map(|l| l.name.as_str())
        .filter(|n| off(n) || (limb && DERIVED_LIMB_LEADS.iter().any(|d| same(d, n))));
    let others = b
        .leads_excluded
        .iter()
        .chain(&input.lead_off_leads)
        .map(String::as_str)
        .chain(
            input
                .lead_quality
                .iter()
                .filter(|(_, q)| **q == Quality::LeadOff)
                .map(|(n, _)| n.as_str()),
        );
    for n in named.chain(others) {
        if !out.iter().any(|x| same(x, n)) {
            out.push(n.to_string());
        }
    }
    out
}

/// The cause a beat's leads off are put down to: the amplifier's lead-off signal when it flagged
/// any channel during the beat, else a flat trace.
fn off_cause(r: &BeatRecord) -> QualityCause {
    if r.lead_off != 0 {
        QualityCause::ElectrodeOff
    } else {
        QualityCause::Flat
    }
}

/// The leads left out of `beats`' global QRS (per lead: cause and beats), the fewest leads a
/// global QRS was taken over, and the sentence saying so.
fn lead_set_of(beats: &[&BeatRecord]) -> (Vec<ExcludedLead>, Option<usize>, Option<String>) {
    let mut out: Vec<ExcludedLead> = Vec::new();
    for r in beats {
        for n in &r.leads_excluded {
            let cause = off_cause(r);
            match out.iter_mut().find(|e| e.lead.eq_ignore_ascii_case(n)) {
                Some(e) => {
                    e.beats += 1;
                    // The amplifier's signal is the stronger witness.
                    e.cause = e.cause.min(cause);
                }
                None => out.push(ExcludedLead {
                    lead: n.clone(),
                    reason: RejectReason::LeadOff,
                    cause,
                    beats: 1,
                }),
            }
        }
    }
    let counts: Vec<usize> = beats.iter().filter_map(|r| r.global_leads).collect();
    let (fewest, most) = (counts.iter().min().copied(), counts.iter().max().copied());
    let text = (!out.is_empty()).then(|| lead_set_text(&out, beats.len(), fewest, most));
    (out, fewest, text)
}

/// "V3 electrode off: global QRS over 11 leads"; "V3 electrode off in 4 of 10 beats: global QRS
/// over 11 leads in those, 12 in the others".
fn lead_set_text(
    excluded: &[ExcludedLead],
    n_beats: usize,
    fewest: Option<usize>,
    most: Option<usize>,
) -> String {
    let word = |c: QualityCause| match c {
        QualityCause::ElectrodeOff => "electrode off",
        _ => "flat (no signal)",
    };
    let mut causes: Vec<QualityCause> = excluded.iter().map(|e| e.cause).collect();
    causes.sort_unstable();
    causes.dedup();
    let single_partial = excluded.len() == 1 && excluded[0].beats < n_beats;
    let what: Vec<String> = causes
        .iter()
        .map(|&c| {
            let names: Vec<String> = excluded
                .iter()
                .filter(|e| e.cause == c)
                .map(|e| {
                    if e.beats < n_beats && !single_partial {
                        format!("{} ({} of {n_beats} beats)", e.lead, e.beats)
                    } else {
                        e.lead.clone()
                    }
                })
                .collect();
            format!("{} {}", names.join(", "), word(c))
        })
        .collect();
    let what = what.join(", ");
    match (fewest, most) {
        (Some(f), Some(m)) if f == m => format!("{what}: global QRS over {f} leads"),
        (Some(f), Some(m)) if single_partial => format!(
            "{what} in {} of {n_beats} beats: global QRS over {f} leads in those, {m} in the others",
            excluded[0].beats
        ),
        (Some(f), Some(m)) => format!("{what}: global QRS over {f} to {m} leads"),
        _ => what,
    }
}

/// The input's non-clean leads, with the channels the amplifier flagged off as `lead_off`.
fn merged_lead_quality(input: &BeatInput) -> BTreeMap<String, Quality> {
    let mut out = input.lead_quality.clone();
    out.retain(|_, q| *q != Quality::Clean);
    for n in &input.lead_off_leads {
        out.insert(n.clone(), Quality::LeadOff);
    }
    out
}

/// The signal-quality rejections: those [`quality_cause`] explains.
fn is_quality_reason(r: RejectReason) -> bool {
    matches!(r, RejectReason::LeadOff | RejectReason::Noise)
}

/// What showed a beat rejected for `reason` unfit, and the leads concerned (`None` for the
/// rejections that are not about signal quality). Mirrors the order of the checks in
/// `Measurement::check`.
fn quality_cause(
    reason: RejectReason,
    input: &BeatInput,
    cfg: &MeasurementConfig,
) -> Option<(QualityCause, Vec<String>)> {
    let labelled = |f: &dyn Fn(Quality) -> bool| -> Vec<String> {
        input
            .lead_quality
            .iter()
            .filter(|(_, q)| f(**q))
            .map(|(n, _)| n.clone())
            .collect()
    };
    let unreadable = || labelled(&|q: Quality| !q.readable());
    let beat = &input.beat;
    // A needed lead the amplifier flagged off (a derived limb lead with its I or II): the
    // electrode, not a flat trace, is why.
    let flagged = |n: &str| {
        let named = |m: &str| {
            input
                .lead_off_leads
                .iter()
                .any(|x| x.eq_ignore_ascii_case(m))
        };
        named(n)
            || (DERIVED_LIMB_LEADS.iter().any(|d| d.eq_ignore_ascii_case(n))
                && (named("I") || named("II")))
    };
    let electrode = input.lead_off != 0
        && (input.lead_off_leads.is_empty()
            || beat.quality == Quality::LeadOff
            || leads_off(input)
                .iter()
                .any(|n| cfg.needs_lead(n) && flagged(n)));
    match reason {
        RejectReason::LeadOff if electrode => {
            let leads = if input.lead_off_leads.is_empty() {
                // Channel names unknown: the bits themselves.
                (0..16)
                    .filter(|i| input.lead_off & (1 << i) != 0)
                    .map(|i| format!("channel {}", i + 1))
                    .collect()
            } else {
                input.lead_off_leads.clone()
            };
            Some((QualityCause::ElectrodeOff, leads))
        }
        RejectReason::LeadOff => {
            let flat = labelled(&|q: Quality| q == Quality::LeadOff);
            // Left out by the pipeline without a label at this beat: name those leads.
            let leads = if flat.is_empty() {
                leads_off(input)
            } else {
                flat
            };
            Some((QualityCause::Flat, leads))
        }
        RejectReason::Noise if beat.class == BeatClass::Noise => {
            Some((QualityCause::NoiseBeat, unreadable()))
        }
        RejectReason::Noise if beat.quality == Quality::Saturated => {
            Some((QualityCause::Saturated, unreadable()))
        }
        RejectReason::Noise if !beat.quality.readable() => {
            Some((QualityCause::Unreadable, unreadable()))
        }
        RejectReason::Noise => Some((
            QualityCause::NoiseLevel,
            labelled(&|q: Quality| q != Quality::Clean),
        )),
        _ => None,
    }
}

/// Per signal-quality cause, the beats rejected for it and the leads concerned, most beats first.
fn quality_reasons(records: &[BeatRecord]) -> Vec<QualityReason> {
    let mut by: BTreeMap<(RejectReason, QualityCause), (usize, BTreeMap<String, usize>)> =
        BTreeMap::new();
    for r in records {
        let (Some(reason), Some(cause)) = (r.reason, r.cause) else {
            continue;
        };
        if !is_quality_reason(reason) {
            continue;
        }
        let e = by.entry((reason, cause)).or_default();
        e.0 += 1;
        for l in &r.cause_leads {
            *e.1.entry(l.clone()).or_insert(0) += 1;
        }
    }
    let mut out: Vec<QualityReason> = by
        .into_iter()
        .map(|((reason, cause), (beats, leads))| QualityReason {
            reason,
            cause,
            beats,
            text: quality_text(cause, beats, &leads),
            leads,
        })
        .collect();
    out.sort_by_key(|q| std::cmp::Reverse(q.beats));
    out
}

/// "V1 electrode off (amplifier lead-off signal): 12 beats not measured"; a lead concerned in
/// fewer of the beats than all carries its count.
fn quality_text(cause: QualityCause, beats: usize, leads: &BTreeMap<String, usize>) -> String {
    let names: Vec<String> = leads
        .iter()
        .map(|(n, k)| {
            if *k == beats {
                n.clone()
            } else {
                format!("{n} ({k})")
            }
        })
        .collect();
    let what = if names.is_empty() {
        cause.words().to_string()
    } else {
        format!("{} {}", names.join(", "), cause.words())
    };
    let plural = if beats == 1 { "beat" } else { "beats" };
    format!("{what}: {beats} {plural} not measured")
}
