//! The one beat pipeline, used live and offline alike.
//!
//! ```text
//! raw frames (µV) ─▶ pace detection + blanking ─▶ band filters ─▶ ring buffer ─▶ QRS detector
//!                                                                      │              │ R
//!                                                                      └──▶ delineator ◀┘ ─▶ Beat
//! ```
//! [`Pipeline::process_frame`] takes one frame at a time and never allocates (a [`Beat`] is built, with its
//! per-lead list, only when a beat is complete). Everything is a function of the sample sequence alone, so
//! any chunking of the same samples yields identical beats. Reported sample numbers count from the first
//! frame pushed, at the input rate; the stated delays of the blanker and filters are compensated.
//! [`analyze`] runs a whole [`qrsd_formats::Recording`] through the same code.
#![deny(missing_docs)]

mod beat;
mod classify;
pub mod vcg;

pub use beat::{Beat, BeatClass, Boundary, LeadBoundary};
pub use qrsd_condition::{Quality, QualityConfig};

/// One delivered beat's per-lead boundaries before the learned correction, with their features
/// (`delineation.trace`; for training the correction and for analysis).
#[derive(Debug, Clone, PartialEq)]
pub struct BeatTrace {
    /// R of the delivered beat, samples.
    pub r_sample: u64,
    /// Per lead, in input order (empty when no lead was delineated).
    pub leads: Vec<LeadTrace>,
}

/// One lead of a [`BeatTrace`].
#[derive(Debug, Clone, PartialEq)]
pub struct LeadTrace {
    /// The rules' boundaries, samples.
    pub rules: Boundary,
    /// Features of the onset and the offset ([`qrsd_delineate::learned::boundary_features`]).
    pub features: [[f64; N_FEATURES]; 2],
}
use classify::{Classifier, Shape};
use qrsd_condition::{
    pace::PaceEvent, ConditionError, FilterConfig, LeadFilter, PaceBlanker, PaceConfig,
    QualityMeter,
};
use qrsd_delineate::{BeatHints, Delineation, DelineationConfig, Delineator, N_FEATURES};
use qrsd_detect::{DetectError, Detection, DetectorConfig, QrsDetector};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Everything the pipeline needs to know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineConfig {
    /// Sampling rate, Hz.
    pub fs_hz: f64,
    /// Lead names in frame order (upper-case, e.g. `II`, `V1`, `MLII`).
    pub lead_names: Vec<String>,
    /// Band filters (stages may be off).
    pub filter: FilterConfig,
    /// Pacing-stimulus detection and blanking.
    pub pace: PaceConfig,
    /// The source has a hardware pace flag channel (the amplifier's or the simulator's; a file
    /// replayed without one has none), set by whoever knows the source (the server from
    /// `StreamInfo::has_hw_pace`). With it the flag alone says whether a beat is paced: a flag that
    /// stays clear means no stimulus, so spikes the software detector finds are blanked as artefacts
    /// but neither make a beat paced nor move its onset (muscle noise in one lead makes such spikes).
    /// Without it (default) the software detector is the only source and is trusted as before.
    #[serde(default)]
    pub pace_flag_channel: bool,
    /// A software stimulus candidate standing out only in leads the quality stage labels noisy or
    /// worse (and in at most half of the leads) is their noise: neither a stimulus nor blanked
    /// ([`qrsd_condition::PaceBlanker::set_noisy_leads`]). Always so with `pace_flag_channel`; without
    /// one only with this set, because it changes what the pipeline delivers on the synthetic
    /// training set of the learned boundary models (they must be retrained and LUDB re-validated
    /// before it can be the default). Off by default.
    #[serde(default)]
    pub ignore_noisy_lead_spikes: bool,
    /// Signal-quality labels per lead and stretch ([`qrsd_condition::quality`]).
    #[serde(default)]
    pub quality: QualityConfig,
    /// QRS detector.
    pub detector: DetectorConfig,
    /// Delineator.
    pub delineation: DelineationConfig,
    /// Deliver a beat as soon as a window ending `delineation.early_post_ms` after R decides it (the
    /// delineator says so: [`qrsd_delineate::Delineation::needs_len`]), else after the full `post_ms`.
    /// The beats are identical either way; only when they come out differs.
    #[serde(default = "early_emit_default")]
    pub early_emit: bool,
    /// Learned models of the delineator (`None`: the shipped ones, [`qrsd_delineate::Models::embedded`]);
    /// set by evaluation to score a cross-validation fold's models. Not a setting.
    #[serde(skip)]
    pub models: Option<std::sync::Arc<qrsd_delineate::Models>>,
}

fn early_emit_default() -> bool {
    true
}

impl PipelineConfig {
    /// This config with `section.key=value` settings applied (value in JSON, e.g.
    /// `pace.weak_threshold_uv=0`) through its serde form: experiments (`qrsd eval --set`, examples).
    pub fn with_overrides<S: AsRef<str>>(&self, overrides: &[S]) -> Result<Self, PipelineError> {
        let bad = |o: &str, why: &str| PipelineError::Setting(format!("{o}: {why}"));
        let mut v = serde_json::to_value(self).map_err(|e| bad("config", &e.to_string()))?;
        for o in overrides {
            let o = o.as_ref();
            let (path, value) = o
                .split_once('=')
                .ok_or_else(|| bad(o, "expected KEY=VALUE"))?;
            let value: serde_json::Value =
                serde_json::from_str(value).map_err(|e| bad(o, &format!("bad value ({e})")))?;
            let mut slot = &mut v;
            for part in path.split('.') {
                slot = slot
                    .get_mut(part)
                    .ok_or_else(|| bad(o, &format!("no setting {path}")))?;
            }
            *slot = value;
        }
        serde_json::from_value(v).map_err(|e| bad("config", &e.to_string()))
    }
    /// Defaults for a given rate and lead set.
    pub fn new(fs_hz: f64, lead_names: Vec<String>) -> Self {
        Self {
            fs_hz,
            lead_names,
            filter: FilterConfig::default(),
            pace: PaceConfig::default(),
            pace_flag_channel: false,
            ignore_noisy_lead_spikes: false,
            quality: QualityConfig::default(),
            detector: DetectorConfig::default(),
            delineation: DelineationConfig::default(),
            early_emit: true,
            models: None,
        }
    }
}

/// Set-up errors.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// A conditioning stage could not be built.
    #[error("conditioning: {0}")]
    Condition(#[from] ConditionError),
    /// The detector could not be built.
    #[error("detector: {0}")]
    Detect(#[from] DetectError),
    /// Lead list empty or too long.
    #[error("need 1 to 64 leads, got {0}")]
    Leads(usize),
    /// A `section.key=value` setting that does not apply ([`PipelineConfig::with_overrides`]).
    #[error("setting {0}")]
    Setting(String),
}

/// Longest interval between a stimulus and the QRS onset it caused (LV latency in scarred tissue up to
/// 80 ms, plus onset uncertainty), ms.
const PACE_BEFORE_ONSET_MS: f64 = 100.0;
/// A stimulus marked slightly after the onset still belongs to the beat (blanking, V-V offsets), ms.
const PACE_AFTER_ONSET_MS: f64 = 20.0;
/// No new QRS starts this soon after the previous QRS offset unless it is the stronger complex, ms.
const ST_GUARD_MS: f64 = 100.0;
/// A stimulus this close before the detected R (or after it) cannot precede its QRS onset, ms.
const PACE_MIN_BEFORE_R_MS: f64 = 20.0;
/// A weak stimulus candidate is the beat's stimulus when it starts within this far before (the
/// differentiator registers a step up to 4 ms early) …
const WEAK_BEFORE_ONSET_MS: f64 = 6.0;
/// … or this far after the QRS onset delineated without it.
const WEAK_AFTER_ONSET_MS: f64 = 6.0;
/// A beat's quality is that of the last block finished this long after its R, ms (before the early
/// delivery at 150 ms).
const BEAT_QUALITY_AFTER_R_MS: f64 = 100.0;
/// A spike found by its shape in the recording (no stimulus detected) was smeared by the recorder's
/// low-pass: its tail outlasts a stimulus's blanked artefact by this much, ms.
const UNFLAGGED_TAIL_MS: f64 = 6.0;
/// Pending detections and remembered stimuli are bounded (a hostile signal cannot grow memory).
const MAX_PENDING: usize = 64;
/// A lead flagged off up to this long before a beat's window is still left out of the beat, ms: when
/// its electrode comes back on, the signal jumps from the held value and the band filters turn that
/// step into slopes for a while (the notch rings for ~150 ms).
pub const OFF_SETTLE_MS: f64 = 200.0;

/// The lowest `n` bits set (all 64 for `n` ≥ 64).
fn low_bits(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// The streaming pipeline.
#[derive(Debug)]
pub struct Pipeline {
    cfg: PipelineConfig,
    n_leads: usize,
    blanker: PaceBlanker,
    filters: Vec<LeadFilter>,
    quality: QualityMeter,
    /// Whole-sample filter delay subtracted from reported times.
    filter_delay: u64,
    detector: QrsDetector,
    delineator: Delineator,
    /// Lead-major rings of filtered samples, indexed by (raw) sample number.
    ring: Vec<f64>,
    ring_len: usize,
    /// Next filtered sample number to be written.
    n_filtered: u64,
    n_in: u64,
    last_valid: Vec<f64>,
    invalid_samples: u64,
    frame: Vec<f64>,
    blanked: Vec<f64>,
    filtered: Vec<f64>,
    pending: VecDeque<Detection>,
    dropped_detections: u64,
    detections: Vec<Detection>,
    paces: VecDeque<PaceEvent>,
    /// Weak stimulus candidates (input sample numbers): a beat's stimulus only where its QRS onset was
    /// delineated on one.
    weak_paces: VecDeque<u64>,
    window: Vec<Vec<f64>>,
    delineation: Delineation,
    /// With `delineation.trace`: per delivered beat, each lead's boundaries before the learned
    /// correction and their features ([`Pipeline::take_traces`]).
    traces: Vec<BeatTrace>,
    classifier: Classifier,
    last_beat_r: Option<u64>,
    /// Global offset and detection strength of the last beat emitted.
    last_beat_end: Option<(u64, f64)>,
    /// R of the pending detection whose early delineation did not decide it (tried once).
    early_tried: Option<u64>,
    /// Samples after R of the early delineation window, when early delivery is on.
    early_post: Option<u64>,
    /// Positions of I, II, V1..V6 among the leads, when all are present (the VCG needs them).
    kors: Option<[usize; 8]>,
    /// Leads the source flags off now ([`Pipeline::set_leads_off`]), bit per lead.
    leads_off: u64,
    /// Per lead: the input sample from which it has been flagged off (`u64::MAX`: on).
    off_since: Vec<u64>,
    /// Per lead: the last input sample of its latest finished off stretch (`None`: never off).
    off_last: Vec<Option<u64>>,
    /// Leads left out of the beat being delineated (bit per lead; see [`Pipeline::excluded_at`]).
    excluded: u64,
}

impl Pipeline {
    /// Build the pipeline.
    pub fn new(cfg: PipelineConfig) -> Result<Self, PipelineError> {
        let n = cfg.lead_names.len();
        if n == 0 || n > 64 {
            return Err(PipelineError::Leads(n));
        }
        let fs = cfg.fs_hz;
        let mut blanker = PaceBlanker::new(cfg.pace, fs, n)?;
        blanker.set_flag_channel(cfg.pace_flag_channel);
        let filters = (0..n)
            .map(|_| LeadFilter::new(&cfg.filter, fs))
            .collect::<Result<Vec<_>, _>>()?;
        let filter_delay = filters[0].group_delay_samples().round().max(0.0) as u64;
        let quality = QualityMeter::new(cfg.quality, fs, n)?;
        let detector = QrsDetector::new(cfg.detector, fs, n)?;
        let delineator = match &cfg.models {
            Some(m) => Delineator::with_models(cfg.delineation, fs, n, m.clone()),
            None => Delineator::new(cfg.delineation, fs, n),
        };
        let learn = (cfg.detector.learning_ms * fs / 1000.0).ceil() as usize;
        // The ring must still hold a beat's whole window when the detector reports it, including beats
        // held back during the learning period.
        let ring_len = learn
            + delineator.pre_samples()
            + delineator.post_samples()
            + detector.max_decision_delay_samples() as usize
            + 16;
        let win = delineator.pre_samples() + delineator.post_samples() + 1;
        let early_post = {
            let ms = cfg.delineation.early_post_ms;
            let e = (ms * fs / 1000.0).round() as u64;
            (cfg.early_emit && ms > 0.0 && e < delineator.post_samples() as u64).then_some(e)
        };
        Ok(Self {
            n_leads: n,
            blanker,
            filters,
            quality,
            filter_delay,
            detector,
            delineator,
            ring: vec![0.0; ring_len * n],
            ring_len,
            n_filtered: 0,
            n_in: 0,
            last_valid: vec![0.0; n],
            invalid_samples: 0,
            frame: vec![0.0; n],
            blanked: vec![0.0; n],
            filtered: vec![0.0; n],
            pending: VecDeque::with_capacity(MAX_PENDING),
            dropped_detections: 0,
            detections: Vec::with_capacity(MAX_PENDING),
            paces: VecDeque::with_capacity(MAX_PENDING),
            weak_paces: VecDeque::with_capacity(MAX_PENDING),
            window: vec![vec![0.0; win]; n],
            delineation: Delineation::default(),
            traces: Vec::new(),
            classifier: Classifier::new(n),
            last_beat_r: None,
            last_beat_end: None,
            early_tried: None,
            early_post,
            kors: vcg::kors_indices(&cfg.lead_names),
            leads_off: 0,
            off_since: vec![u64::MAX; n],
            off_last: vec![None; n],
            excluded: 0,
            cfg,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &PipelineConfig {
        &self.cfg
    }

    /// Delay of the conditioned signal behind the input, in samples (blanker look-ahead + filter delay).
    pub fn conditioning_delay_samples(&self) -> u64 {
        self.blanker.delay_samples() as u64 + self.filter_delay
    }

    /// Frames pushed so far.
    pub fn samples_in(&self) -> u64 {
        self.n_in
    }

    /// Non-finite input samples replaced by the lead's last valid value so far.
    pub fn invalid_samples(&self) -> u64 {
        self.invalid_samples
    }

    /// The leads the source flags off (bit `l` = lead `l`, e.g. the amplifier's lead-off signal mapped
    /// to the pipeline's leads, derived leads included), from the next frame pushed on until changed.
    /// A beat whose window (R − `pre_ms` − [`OFF_SETTLE_MS`] to the end of the window it is
    /// delineated on: R + `early_post_ms` when delivered early, else R + `post_ms`) touches a lead's
    /// off stretch is delineated without that lead ([`Beat::leads_excluded`]). Cheap when unchanged:
    /// call it with every frame.
    pub fn set_leads_off(&mut self, mask: u64) {
        let changed = (mask ^ self.leads_off) & low_bits(self.n_leads);
        if changed == 0 {
            return;
        }
        for l in (0..self.n_leads).filter(|&l| changed & (1u64 << l) != 0) {
            if mask & (1u64 << l) != 0 {
                self.off_since[l] = self.n_in;
            } else {
                // Off for no frame at all (set and cleared between two frames): nothing to remember.
                if self.off_since[l] < self.n_in {
                    self.off_last[l] = Some(self.n_in - 1);
                }
                self.off_since[l] = u64::MAX;
            }
        }
        self.leads_off = mask & low_bits(self.n_leads);
    }

    /// The leads to leave out of a beat whose window is ring indices `start..=end` and whose detector R
    /// is `r` (ring index): flagged off by the source within the window or shortly before it (a lead
    /// coming back on jumps from its held value, and the filters carry that step on), or labelled
    /// `lead_off` (flat for 2 s: an amplifier without a lead-off signal, a replayed recording) in the
    /// quality block the beat reads.
    fn excluded_at(&self, r: u64, start: u64, end: u64) -> u64 {
        let settle = (OFF_SETTLE_MS * self.cfg.fs_hz / 1000.0).ceil() as u64;
        // Ring indices are input samples delayed by the filters.
        let lo = start.saturating_sub(self.filter_delay + settle);
        let hi = end.saturating_sub(self.filter_delay);
        let block = self.beat_block(r);
        let mut mask = 0u64;
        for l in 0..self.n_leads.min(64) {
            let flagged =
                self.off_since[l] <= hi || self.off_last[l].is_some_and(|last| last >= lo);
            let flat = block.and_then(|b| self.quality.label(l, b)) == Some(Quality::LeadOff);
            if flagged || flat {
                mask |= 1u64 << l;
            }
        }
        mask
    }

    /// Push one frame (`frame_uv[l]` = lead `l` in µV; NaN = invalid sample) and the amplifier's pace flag.
    /// Completed beats are appended to `out`.
    pub fn process_frame(&mut self, frame_uv: &[f32], hw_pace: bool, out: &mut Vec<Beat>) {
        for (l, v) in frame_uv.iter().take(self.n_leads).enumerate() {
            let v = f64::from(*v);
            if v.is_finite() {
                self.last_valid[l] = v;
            } else {
                self.invalid_samples += 1;
            }
            self.frame[l] = self.last_valid[l];
        }
        self.n_in += 1;
        let mut event = None;
        let ready = self
            .blanker
            .process(&self.frame, hw_pace, &mut self.blanked, &mut event);
        // With a flag channel the flag decides: a software detection is only an artefact.
        let event = event.filter(|e| e.hardware || !self.cfg.pace_flag_channel);
        if let Some(e) = event {
            if e.weak {
                if self.weak_paces.len() == MAX_PENDING {
                    self.weak_paces.pop_front();
                }
                self.weak_paces.push_back(e.sample);
            } else {
                if self.paces.len() == MAX_PENDING {
                    self.paces.pop_front();
                }
                self.paces.push_back(e);
            }
        }
        if ready {
            self.after_blanker(out);
        }
    }

    /// Filter, store, detect and deliver the frame the blanker just output (`self.blanked`).
    fn after_blanker(&mut self, out: &mut Vec<Beat>) {
        for ((f, x), y) in self
            .filters
            .iter_mut()
            .zip(&self.blanked)
            .zip(self.filtered.iter_mut())
        {
            *y = f.process(*x);
        }
        let blocks = self.quality.blocks_done();
        self.quality
            .process_marked(&self.blanked, &self.filtered, self.blanker.output_blanked());
        if self.quality.blocks_done() > blocks {
            // Noise in any lead lifts the summed slope's noise peaks: the detector raises its
            // threshold then; search-back stays on while a lead is clean.
            let labels = || (0..self.n_leads).filter_map(|l| self.quality.label(l, blocks));
            let some = labels().any(|q| q != Quality::Clean);
            let every = labels().all(|q| q != Quality::Clean);
            self.detector.set_noisy(some, every);
            // A spike only in noisy leads is their noise, not a stimulus (many leads show one).
            let noisy = (0..self.n_leads)
                .filter(|&l| {
                    self.quality
                        .label(l, blocks)
                        .is_some_and(|q| q != Quality::Clean)
                })
                .fold(0u64, |m, l| m | 1u64.checked_shl(l as u32).unwrap_or(0));
            if self.cfg.pace_flag_channel || self.cfg.ignore_noisy_lead_spikes {
                self.blanker.set_noisy_leads(noisy);
            }
        }
        let slot = (self.n_filtered as usize % self.ring_len) * self.n_leads;
        self.ring[slot..slot + self.n_leads].copy_from_slice(&self.filtered);
        self.n_filtered += 1;
        self.detections.clear();
        self.detector.process(&self.filtered, &mut self.detections);
        self.queue_detections();
        let post = self.delineator.post_samples() as u64;
        let early = self.early_post;
        while let Some(d) = self.pending.front().copied() {
            if d.r_sample + post >= self.n_filtered {
                let ready = early.is_some_and(|e| d.r_sample + e < self.n_filtered);
                if ready && self.early_tried != Some(d.r_sample) {
                    if self.emit(d, early, out) {
                        self.pending.pop_front();
                        continue;
                    }
                    self.early_tried = Some(d.r_sample);
                }
                break;
            }
            self.pending.pop_front();
            self.emit(d, None, out);
        }
    }

    /// Push a block of planar lead data (`leads_uv[l][i]`), e.g. a whole recording or a chunk of one.
    pub fn process_planar(
        &mut self,
        leads_uv: &[&[f32]],
        pace_flags: Option<&[bool]>,
        out: &mut Vec<Beat>,
    ) {
        let n = leads_uv.iter().map(|l| l.len()).min().unwrap_or(0);
        let mut frame = vec![0.0f32; self.n_leads];
        for i in 0..n {
            for (l, lead) in leads_uv.iter().enumerate().take(self.n_leads) {
                frame[l] = lead[i];
            }
            let flag = pace_flags.and_then(|f| f.get(i)).copied().unwrap_or(false);
            self.process_frame(&frame, flag, out);
        }
    }

    /// The latest signal-quality label of each lead (`out[l]` for lead `l`; clean until the first
    /// block of [`QualityConfig::block_ms`] is done).
    pub fn lead_quality(&self, out: &mut [Quality]) {
        self.quality.current(out);
    }

    /// The quality of the stretch a beat with R at ring index `r` sits in: the best lead's label of
    /// the last block finished 100 ms after R (so the same whether the beat is delivered early or
    /// not), or the latest block before that one is done (end of input).
    fn beat_quality(&self, r: u64) -> Quality {
        let Some(block) = self.beat_block(r) else {
            return Quality::Clean;
        };
        (0..self.n_leads)
            .filter_map(|l| self.quality.label(l, block))
            .min()
            .unwrap_or(Quality::Clean)
    }

    /// Leads (bit `l` = lead `l`) labelled worse than noisy in the quality block a beat with R at
    /// ring index `r` reads.
    fn unreadable_at(&self, r: u64) -> u64 {
        let Some(block) = self.beat_block(r) else {
            return 0;
        };
        (0..self.n_leads.min(64))
            .filter(|&l| self.quality.label(l, block).is_some_and(|q| !q.readable()))
            .fold(0, |m, l| m | (1u64 << l))
    }

    /// The quality block a beat with R at ring index `r` reads (`None` before the first block).
    fn beat_block(&self, r: u64) -> Option<u64> {
        let done = self.quality.blocks_done();
        if done == 0 {
            return None;
        }
        let reach = (BEAT_QUALITY_AFTER_R_MS * self.cfg.fs_hz / 1000.0).round() as u64;
        Some(
            ((r + reach) / self.quality.block_len() as u64)
                .saturating_sub(1)
                .min(done - 1),
        )
    }

    /// Each lead's label at a delivered beat (`r_sample` as in its [`Beat`]; `out[l]` for lead `l`):
    /// the block its [`Beat::quality`] was taken from, so a page or a measurement can name the
    /// leads that made it. Clean where the block is no longer remembered (beats are delivered well
    /// within that).
    pub fn lead_quality_at(&self, r_sample: u64, out: &mut [Quality]) {
        // Beats are in input samples, the quality blocks in filtered (ring) samples.
        let block = self.beat_block(r_sample + self.filter_delay);
        for (l, q) in out.iter_mut().enumerate().take(self.n_leads) {
            *q = block
                .and_then(|b| self.quality.label(l, b))
                .unwrap_or(Quality::Clean);
        }
    }

    /// The traces of the beats delivered since the last call (empty unless `delineation.trace`).
    pub fn take_traces(&mut self) -> Vec<BeatTrace> {
        std::mem::take(&mut self.traces)
    }

    /// A whole recording in one go: [`Pipeline::process_planar`] and [`Pipeline::finish`].
    pub fn run_to_end<L: AsRef<[f32]>>(
        &mut self,
        leads_uv: &[L],
        pace_flags: Option<&[bool]>,
    ) -> Vec<Beat> {
        let views: Vec<&[f32]> = leads_uv.iter().map(AsRef::as_ref).collect();
        let mut beats = Vec::new();
        self.process_planar(&views, pace_flags, &mut beats);
        self.finish(&mut beats);
        beats
    }

    /// End of input: decide and delineate the beats still pending, with whatever window is left.
    pub fn finish(&mut self, out: &mut Vec<Beat>) {
        // The frames the blanker's look-ahead still holds are part of the recording.
        while self.blanker.drain(&mut self.blanked) {
            self.after_blanker(out);
        }
        self.detections.clear();
        self.detector.finish(&mut self.detections);
        self.queue_detections();
        while let Some(d) = self.pending.pop_front() {
            self.emit(d, None, out);
        }
    }

    fn queue_detections(&mut self) {
        for d in self.detections.drain(..) {
            if self.pending.len() == MAX_PENDING {
                self.dropped_detections += 1;
                continue;
            }
            self.pending.push_back(d);
        }
    }

    /// Delineate detection `d` on the window ending `post` (default: `post_ms`) after R and deliver the
    /// beat. With an early `post`, nothing happens (false) unless the delineator says that window
    /// decided the beat, i.e. the full window would give the same result.
    fn emit(&mut self, d: Detection, early: Option<u64>, out: &mut Vec<Beat>) -> bool {
        let pre = self.delineator.pre_samples() as u64;
        let post = early.unwrap_or(self.delineator.post_samples() as u64);
        let oldest = self.n_filtered.saturating_sub(self.ring_len as u64);
        let start = d.r_sample.saturating_sub(pre).max(oldest);
        let end = (d.r_sample + post).min(self.n_filtered.saturating_sub(1));
        if end <= start || d.r_sample < start {
            return early.is_none();
        }
        let len = (end - start + 1) as usize;
        // Frame by frame from the ring, wrapping by hand (a division per sample and lead cost more
        // than the copy).
        let nl = self.n_leads;
        let mut s = start as usize % self.ring_len;
        for k in 0..len {
            for (w, v) in self.window.iter_mut().zip(&self.ring[s * nl..(s + 1) * nl]) {
                w[k] = *v;
            }
            s += 1;
            if s == self.ring_len {
                s = 0;
            }
        }
        let views: Vec<&[f64]> = self.window.iter().map(|w| &w[..len]).collect();
        self.excluded = self.excluded_at(d.r_sample, start, end);
        let hints = BeatHints {
            excluded: self.excluded,
            r_excluded: self.unreadable_at(d.r_sample),
            ..self.stimulus_artefacts(d.r_sample, start, len)
        };
        self.delineator.delineate_with(
            &views,
            (d.r_sample - start) as usize,
            hints,
            &mut self.delineation,
        );
        // No stimulus known, but the QRS onset lies on a weak candidate (a stimulus under the
        // detector's threshold, e.g. smeared by a recorder's low-pass): it is the stimulus, and the
        // onset is searched after it.
        let mut weak_stimulus = None;
        // Only where the best lead is clean: muscle noise makes spikes of that size too.
        if hints.stimulus.is_none()
            && hints.later_stimulus.is_none()
            && self.beat_quality(d.r_sample) == Quality::Clean
        {
            if let Some(on) = self.delineation.global.onset {
                let on = start + on as u64;
                let ms = |v: f64| (v * self.cfg.fs_hz / 1000.0).round() as u64;
                let (lo, hi) = (
                    on.saturating_sub(ms(WEAK_BEFORE_ONSET_MS)),
                    on + ms(WEAK_AFTER_ONSET_MS),
                );
                weak_stimulus = self.weak_paces.iter().copied().find(|s| {
                    (lo..=hi).contains(&(s + self.filter_delay)) && s + self.filter_delay >= start
                });
            }
            if let Some(s) = weak_stimulus {
                let w = self.artefact_window(s + self.filter_delay, start, len);
                self.delineate_after(w, (d.r_sample - start) as usize, len);
            }
        }
        if early.is_some() && self.delineation.needs_len > len {
            return false;
        }
        let filter_delay = self.filter_delay;
        let to_sample = move |i: usize| (start + i as u64).saturating_sub(filter_delay);
        let dl = &self.delineation;
        let r_sample = to_sample(dl.r_index);
        // Two detections that delineate to the same QRS (e.g. a notched wide complex) are one beat.
        if let Some(prev) = self.last_beat_r {
            if r_sample <= prev + (self.cfg.fs_hz * self.cfg.detector.refractory_ms / 1000.0) as u64
            {
                return true;
            }
        }
        let (global, leads) = reported(dl, &self.cfg.lead_names, to_sample);
        // A weaker complex starting within the ST segment of the previous beat is its T wave (a large
        // T after a small paced QRS can pass the detector's slope test): ventricles just activated
        // cannot start a new QRS before they repolarise.
        if let (Some((prev_off, prev_strength)), Some(on)) =
            (self.last_beat_end, global.onset_sample)
        {
            let guard = (self.cfg.fs_hz * ST_GUARD_MS / 1000.0) as u64;
            if on < prev_off + guard && d.strength < prev_strength {
                return true;
            }
        }
        // A search-back candidate (a second look at half the threshold where the rhythm expected a
        // beat) that delineates to no QRS is none: a P wave in a sinus pause or an AV block (MIT-BIH
        // 232: 103 such detections on the scored stretches, none of them a labelled beat).
        if d.searchback && (global.onset_sample.is_none() || global.offset_sample.is_none()) {
            return true;
        }
        self.last_beat_r = Some(r_sample);
        if let Some(off) = global.offset_sample {
            self.last_beat_end = Some((off, d.strength));
        }
        if self.cfg.delineation.trace {
            self.traces.push(BeatTrace {
                r_sample,
                leads: dl
                    .trace
                    .iter()
                    .map(|t| LeadTrace {
                        rules: Boundary {
                            onset_sample: t.rules.onset.map(to_sample),
                            offset_sample: t.rules.offset.map(to_sample),
                        },
                        features: t.features,
                    })
                    .collect(),
            });
        }
        let pace_sample = self
            .stimulus_for(global.onset_sample.unwrap_or(r_sample))
            .or(weak_stimulus);
        let qrsd = global
            .onset_sample
            .zip(global.offset_sample)
            .map(|(on, off)| off.saturating_sub(on));
        let shape = Shape {
            window: &self.window,
            len,
            r_index: dl.r_index,
            onset_index: dl.global.onset,
            fs_hz: self.cfg.fs_hz,
        };
        // R placed so late in an early-delivered window (noise, a T wave) that the shape cannot be
        // sampled around it: judge the shape around the detector's peak, not leave it unjudged
        // (an unjudged beat is classed intrinsic: on LUDB with 12 dB of muscle noise, 16 false
        // detections so).
        let shape = if Classifier::reaches(&shape) {
            shape
        } else {
            Shape {
                r_index: (d.r_sample - start) as usize,
                ..shape
            }
        };
        // Where no lead is readable, or a lead is noisy and the detection delineates to no QRS, what
        // the detector found is only a beat when it has one of the record's own QRS shapes, around the delineated R or, where noise stretched the delineated
        // QRS and took its R along, around the detector's peak.
        let quality = self.beat_quality(start + dl.r_index as u64);
        let known = |c: &mut Classifier| {
            c.matches_known(&shape)
                || c.matches_known(&Shape {
                    r_index: (d.r_sample - start) as usize,
                    ..shape
                })
        };
        let undelineated = qrsd.is_none() && quality != Quality::Clean;
        let class = if (!quality.readable() || undelineated) && !known(&mut self.classifier) {
            self.classifier.skipped();
            BeatClass::Noise
        } else {
            self.classifier
                .classify(r_sample, qrsd, pace_sample.is_some(), shape)
        };
        if let (Some(q), true) = (qrsd, class != BeatClass::Noise) {
            let ms = q as f64 * 1000.0 / self.cfg.fs_hz;
            self.detector
                .set_last_beat_wide(ms >= qrsd_detect::WIDE_QRS_MS);
        }
        // Paced by its recorded spike and morphology (no stimulus known): the spike's foot is the
        // stimulus, so that stimulus-to-QRS-end can be measured.
        let unflagged = self.classifier.unflagged_stimulus();
        // With a flag channel the flag decides: a beat recognised as paced from its shape alone (a
        // spike at a repeating wide QRS: muscle noise in one lead makes such spikes) is not paced.
        // The class the usual-beat context gave it is not known here; a repeating morphology is
        // the usual beat, so it is intrinsic.
        let (class, unflagged) = match unflagged {
            Some(_) if self.cfg.pace_flag_channel && class == BeatClass::Paced => {
                (BeatClass::Intrinsic, None)
            }
            u => (class, u),
        };
        let pace_sample = pace_sample.or_else(|| unflagged.map(to_sample));
        // Paced by its recorded spike: the QRS onset is searched after the spike, as after a known
        // stimulus (the smeared spike and its tail otherwise start the QRS: stimulus-to-QRS-end taken
        // for the QRSd, 25–30 ms long on a 2-lead recording at 500 Hz).
        let (global, leads) = match unflagged.filter(|_| class == BeatClass::Paced) {
            Some(i) if i < len => {
                let w = self.artefact_window(start + i as u64, start, len);
                let tail = (UNFLAGGED_TAIL_MS * self.cfg.fs_hz / 1000.0).round() as usize;
                let w = (w.0, (w.1 + tail).min(len - 1));
                self.delineate_after(w, (d.r_sample - start) as usize, len);
                let dl = &self.delineation;
                match (dl.global.onset, dl.global.offset) {
                    (Some(_), Some(_)) => reported(dl, &self.cfg.lead_names, to_sample),
                    _ => (global, leads),
                }
            }
            _ => (global, leads),
        };
        let dl = &self.delineation;
        // Once per beat, over the QRS only: the conditioned samples are still in the window. The
        // Kors matrix needs all eight of its leads: none without one of them.
        let kors = self.kors.filter(|k| {
            k.iter()
                .all(|&l| l >= 64 || self.excluded & (1u64 << l) == 0)
        });
        let vcg = match (kors, dl.global.onset, dl.global.offset) {
            (Some(k), Some(on), Some(off)) if off < len => {
                let w = &self.window;
                let hp_k = vcg::highpass_k(self.cfg.fs_hz, self.cfg.filter.highpass_hz);
                vcg::qrs_vcg(self.cfg.fs_hz, hp_k, on, off, |i| k.map(|l| w[l][i]))
            }
            _ => vcg::QrsVcg::default(),
        };
        let leads_excluded = self
            .cfg
            .lead_names
            .iter()
            .enumerate()
            .filter(|(l, _)| *l < 64 && self.excluded & (1u64 << l) != 0)
            .map(|(_, n)| n.clone())
            .collect();
        out.push(Beat {
            r_sample,
            class,
            quality,
            pace_sample,
            global,
            leads,
            leads_excluded,
            vcg,
        });
        true
    }

    /// Delineate the beat in the first `len` samples of the window again, its onset searched after the
    /// stimulus artefact `artefact` (window indices).
    fn delineate_after(&mut self, artefact: (usize, usize), r_index: usize, len: usize) {
        let views: Vec<&[f64]> = self.window.iter().map(|w| &w[..len]).collect();
        self.delineator.delineate_with(
            &views,
            r_index,
            BeatHints {
                stimulus: Some(artefact),
                later_stimulus: None,
                excluded: self.excluded,
                r_excluded: 0,
            },
            &mut self.delineation,
        );
    }

    /// Window indices (first, last) of the stimulus artefacts (pulse + blanked tail) of the first
    /// and (if any) the last stimulus that precede the detection at ring index `r` by at least
    /// `PACE_MIN_BEFORE_R_MS` and at most `PACE_BEFORE_ONSET_MS + 60 ms`. The paced QRS onset is searched
    /// after the first; a later one (BiV with a V-V offset) may fall inside the QRS.
    fn stimulus_artefacts(&self, r: u64, start: u64, len: usize) -> BeatHints {
        let ms = |v: f64| (v * self.cfg.fs_hz / 1000.0).round() as u64;
        let lo = r.saturating_sub(ms(PACE_BEFORE_ONSET_MS + 60.0));
        let hi = r.saturating_sub(ms(PACE_MIN_BEFORE_R_MS));
        let window = |s: u64| self.artefact_window(s, start, len);
        let mut in_range = self
            .paces
            .iter()
            .map(|p| p.sample + self.filter_delay)
            .filter(|s| (lo..=hi).contains(s) && *s >= start);
        let first = in_range.next();
        let last = in_range.next_back();
        BeatHints {
            stimulus: first.map(window),
            later_stimulus: last.map(window),
            excluded: 0,
            r_excluded: 0,
        }
    }

    /// Window indices (first, last) of the artefact (pulse + blanked tail) of a stimulus at ring index
    /// `s` (≥ `start`), in a window of `len` samples from `start`.
    fn artefact_window(&self, s: u64, start: u64, len: usize) -> (usize, usize) {
        let width = (self.cfg.pace.max_width_ms * self.cfg.fs_hz / 1000.0).ceil() as u64;
        let blank = (self.cfg.pace.blank_ms * self.cfg.fs_hz / 1000.0).ceil() as u64;
        (
            (s - start) as usize,
            ((s + width + blank - start) as usize).min(len - 1),
        )
    }

    /// The first stimulus belonging to a QRS that starts at `onset`.
    fn stimulus_for(&self, onset: u64) -> Option<u64> {
        let ms = |v: f64| (v * self.cfg.fs_hz / 1000.0).round() as u64;
        let (lo, hi) = (
            onset.saturating_sub(ms(PACE_BEFORE_ONSET_MS)),
            onset + ms(PACE_AFTER_ONSET_MS),
        );
        self.paces
            .iter()
            .map(|p| p.sample)
            .find(|s| (lo..=hi).contains(s))
    }
}

/// A delineation's global and per-lead boundaries as reported (window indices to sample numbers).
fn reported(
    dl: &Delineation,
    names: &[String],
    to_sample: impl Fn(usize) -> u64 + Copy,
) -> (Boundary, Vec<LeadBoundary>) {
    let global = Boundary {
        onset_sample: dl.global.onset.map(to_sample),
        offset_sample: dl.global.offset.map(to_sample),
    };
    let leads = names
        .iter()
        .zip(&dl.leads)
        .map(|(name, b)| LeadBoundary {
            name: name.clone(),
            bounds: Boundary {
                onset_sample: b.onset.map(to_sample),
                offset_sample: b.offset.map(to_sample),
            },
        })
        .collect();
    (global, leads)
}

/// Offline analysis of a whole recording through the live pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Sampling rate of the record, Hz.
    pub sampling_rate_hz: f64,
    /// Samples per lead analysed.
    pub n_samples: u64,
    /// Beats in time order.
    pub beats: Vec<Beat>,
}

/// Run `rec` through a pipeline built from `cfg` (its `fs_hz` and `lead_names` are taken from `rec`).
pub fn analyze(
    rec: &qrsd_formats::Recording,
    mut cfg: PipelineConfig,
) -> Result<Analysis, PipelineError> {
    cfg.fs_hz = rec.fs_hz;
    cfg.lead_names = rec.leads.iter().map(|l| l.name.clone()).collect();
    let leads: Vec<&[f32]> = rec.leads.iter().map(|l| l.samples_uv.as_slice()).collect();
    let beats = Pipeline::new(cfg)?.run_to_end(&leads, None);
    Ok(Analysis {
        sampling_rate_hz: rec.fs_hz,
        n_samples: rec.len_samples() as u64,
        beats,
    })
}

/// Why [`analyze_reader`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// The pipeline could not be built.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// Reading the recording failed part-way (the beats found so far are lost with it: a recording
    /// that cannot be read to its end is not analysed).
    #[error(transparent)]
    Read(#[from] qrsd_formats::FormatError),
}

/// Samples per lead fed to the pipeline at a time by [`analyze_reader`].
const ANALYZE_CHUNK: usize = 1 << 14;

/// [`analyze`] reading the recording a chunk at a time: memory stays bounded by the chunk and the
/// beats, whatever the length of a WFDB record. The same beats as [`analyze`] (the pipeline does not
/// depend on chunking).
pub fn analyze_reader(
    reader: &mut qrsd_formats::RecordReader,
    mut cfg: PipelineConfig,
) -> Result<Analysis, AnalyzeError> {
    cfg.fs_hz = reader.fs_hz();
    cfg.lead_names = reader.lead_names().to_vec();
    let mut pipeline = Pipeline::new(cfg)?;
    let mut chunk: Vec<Vec<f32>> =
        vec![Vec::with_capacity(ANALYZE_CHUNK); reader.lead_names().len()];
    let mut beats = Vec::new();
    let mut n_samples = 0u64;
    loop {
        let n = reader.read(ANALYZE_CHUNK, &mut chunk)?;
        if n == 0 {
            break;
        }
        n_samples += n as u64;
        let views: Vec<&[f32]> = chunk.iter().map(Vec::as_slice).collect();
        pipeline.process_planar(&views, None, &mut beats);
    }
    pipeline.finish(&mut beats);
    Ok(Analysis {
        sampling_rate_hz: reader.fs_hz(),
        n_samples,
        beats,
    })
}
