//! Beat class from rhythm and morphology: a premature beat is `ectopic` when it is wider than the usual
//! beat or shaped differently from it.
//!
//! Width alone missed ventricular ectopy where it matters most here: in a CRT candidate's LBBB
//! (QRS ~150 ms) a premature ventricular complex is often less than 25 % wider than the conducted beat,
//! yet its shape differs in every lead. The usual beat's shape is a running template of the
//! conditioned signal around R, sampled at fixed ms steps (the same at every rate); a beat is compared
//! with it by the correlation over all leads. Premature but alike (an atrial premature beat, sinus
//! arrhythmia, atrial fibrillation) stays `intrinsic`.
//!
//! Paced beats without a stimulus found (no pace flag, and the pulse smeared by a recorder's low-pass
//! at 250–360 Hz into a narrow peak of ~10–17 ms half-width, as tall as an R wave): one beat's spike
//! is not proof (1 % of the conducted beats of MIT-BIH have as narrow a peak), a rhythm of them is. A
//! beat is a *paced candidate* when its QRS starts with a narrow peak (half-width ≤ `SPIKE_MS` at half
//! its prominence, within −10…+30 ms of the onset) and is wide (≥ `PACED_MIN_QRSD_MS`). A run of
//! `PACED_CONFIRM` consecutive candidates of one shape makes that shape the record's paced morphology
//! (the fixed stimulus-to-QRS complex repeating); from then on a beat with a spike that matches it is
//! `paced`, while a beat with a spike of another shape (fusion of paced and conducted activation) is
//! not.

use crate::beat::BeatClass;

/// Template half-width around R, ms.
const HALF_MS: f64 = 80.0;
/// Template step, ms.
const STEP_MS: f64 = 4.0;
/// Points per lead: R − 80 ms to R + 80 ms in 4 ms steps.
const POINTS: usize = (2.0 * HALF_MS / STEP_MS) as usize + 1;
/// The comparison tries shifts of up to this many steps (±8 ms): R of one morphology moves a little
/// from beat to beat.
const MAX_SHIFT: usize = 2;
/// A beat unlike the usual one at `MAX_SHIFT` is compared again at shifts of up to this many steps
/// (the template's half-width, ±80 ms): R may have been found on another wave of the same complex,
/// anywhere in a wide QRS. On MIT-BIH (212, 118, 232: R and S of similar size) ±60 ms took 122
/// conducted beats out of `ectopic` for 5 V beats, ±40 ms 74; ±80 ms 11 more (232's premature
/// beats, R found ~60 ms late at the end of their QRS) for none, and ±100 ms no more.
const REALIGN_SHIFT: usize = (HALF_MS / STEP_MS) as usize;
/// Padding of the sampled beat each side, steps: room for the re-alignment.
const PAD: usize = REALIGN_SHIFT;
/// Amplitude ratio (either way) past which a premature beat not quite of the usual shape is not
/// conducted the usual way.
const RESIZED: f64 = 1.25;
/// "Not quite of the usual shape" for that size test: a correlation under this. A premature beat
/// correlating 0.9–0.93 with the usual beat is not of the usual shape when its size changed too
/// (MIT-BIH 223's bigeminal PVCs at 0.9–0.94 and two thirds of the size: 30 more V beats `ectopic`,
/// one more false). Chosen with `SMALL_FOR_VENTRICULAR`, `ABERRANT_LEAD_ALIKE` and `SWOLLEN` by
/// 5-fold cross-validation grouped by record from 0.9–0.97 (every fold: 0.93; docs/validation.md,
/// stage 6).
const RESIZED_ALIKE: f64 = 0.93;
/// RR under this share of the running mean RR is premature.
const PREMATURE: f64 = 0.8;
/// QRSd over this multiple of the running mean of usual beats is wide.
const WIDE: f64 = 1.25;
/// QRSd under this multiple of the running mean of usual beats is narrow: not a ventricular
/// extrasystole. On MIT-BIH 351 of the beats classed ectopic that are not V were that narrow, and 63 V.
const NARROW: f64 = 0.85;
/// RMS amplitude (R ± 80 ms, all leads) under this share of the usual beat's is too small for a
/// QRS shaped differently from the usual one. On MIT-BIH, of the detections classed ectopic, 128 false
/// detections, 15 conducted beats and 3 V beats were that small; the V beats' 5th percentile is 0.75.
const SMALL: f64 = 0.4;
/// RMS amplitude under this share of the usual beat's, shaped differently from it, is too small for
/// a ventricular beat (not for a QRS): a focus's dyssynchronous activation is not much smaller than
/// the conducted beat (MIT-BIH V beats classed ectopic: 1st percentile 0.6, 5th 0.71), while
/// aberrated supraventricular beats and false detections often are (MIT-BIH 201's and 210's
/// aberrated APCs at 0.45–0.55, 203's small beats in atrial fibrillation: 39 false ectopics out for
/// 16 V beats, 223's small PVCs). Chosen with `RESIZED_ALIKE` by 5-fold cross-validation grouped by
/// record from 0.4–0.6 (every fold: 0.55; docs/validation.md, stage 6).
const SMALL_FOR_VENTRICULAR: f64 = 0.55;
/// RMS amplitude over this multiple of the usual beat's, shaped differently from it, is not a QRS
/// either: an extrasystole's dyssynchronous activation makes it up to about twice the conducted
/// beat (MIT-BIH V beats: median 1.3, 99th percentile 2.6), electrode motion anything. On MIT-BIH 41
/// false detections and 22 conducted beats classed ectopic were larger, and 3 V beats (record 200).
const LARGE: f64 = 3.0;
/// A lead whose RMS (R ± 80 ms) grew past this multiple of its usual size carries artefact over the
/// beat when the other leads still show the usual beat (electrode motion in one lead; MIT-BIH 101,
/// 115, 200, 209: V1 at 7–60× its usual size over conducted beats and false detections, 21 of them
/// classed ectopic). A ventricular beat can grow a lead where the usual QRS is small as much (MIT-BIH
/// 221: 5–6×), but its other leads then are not of the usual shape. Chosen with `RESIZED_ALIKE` by
/// 5-fold cross-validation grouped by record from 3, 5, 8 and off (folds: 5 or 3; docs/validation.md,
/// stage 6).
const SWOLLEN: f64 = 5.0;
/// Correlation with the template under which a beat is shaped differently. On LUDB 1,711 of 1,753
/// judged beats lie ≥ 0.9 and the rest mostly in atrial fibrillation with aberrant conduction (0.6–0.9);
/// the ventricular extrasystoles of its records that list them lie at 0.14–0.52, and the simulator's
/// PVCs, seen through two leads, at 0.78 against its LBBB beats.
const DIFFERENT: f64 = 0.85;
/// Correlation under which a beat is ectopic even when on time (an interpolated or late-coupled PVC, a
/// PVC in atrial fibrillation, where nothing is on time).
const UNLIKE: f64 = 0.55;
/// Correlation at or above which a beat updates the template.
const ALIKE: f64 = 0.9;
/// In an unreadable stretch, a detection correlating this well with a known shape is a QRS: at 6 dB
/// of muscle and baseline noise (MIT-BIH noise stress) the QRS complexes keep ≥ 0.6 while the noise
/// peaks the detector took stay below it.
const NOISY_ALIKE: f64 = 0.6;
/// An alternate shape seen this often is one of the record's own (an alternate conduction or a
/// recurring extrasystole), not a one-off artefact.
const KNOWN_AFTER: u32 = 4;
/// Consecutive on-time beats shaped differently after which their shape becomes the usual one (the
/// rhythm changed, e.g. a bundle-branch block appeared or capture was lost).
const ADOPT_AFTER: u32 = 4;
/// Mean change between successive RRs of consecutive beats of the usual shape, over the mean RR,
/// above which the rhythm is irregular (atrial fibrillation; on MIT-BIH its records lie at about
/// 0.15–0.3, sinus rhythm with extrasystoles at 0.02–0.08). Chosen from 0.12 / 0.15 / 0.2 / 0.25 on
/// MIT-BIH (VEB PPV 95.3 / 95.3 / 95.0 / 94.4 %, Se 88.9 / 90.7 / 91.1 / 91.3 %).
const IRREGULAR: f64 = 0.2;
/// The stretch before the QRS onset where a conducted beat's P wave lies (PR interval 120–200 ms, the
/// PR segment's last 40 ms left out): from this before the onset …
const P_FROM_MS: f64 = 180.0;
/// … to this before it, ms. Anchored on the onset, not R: R moves within a QRS whose shape changed
/// (a bundle-branch block's late R'); R-anchored, 69 conducted beats of MIT-BIH 212's intermittent
/// RBBB came out ectopic.
const P_TO_MS: f64 = 40.0;
/// The P wave is searched up to this earlier or later, steps (±20 ms: the PR interval varies a
/// little, and pre-excitation shortens it; MIT-BIH 230's intermittent WPW: 14 conducted beats
/// classed ectopic unshifted, 6 shifted).
const P_SHIFT: usize = 5;
/// Points per lead of the P-wave stretch, `STEP_MS` apart, …
const P_POINTS: usize = ((P_FROM_MS - P_TO_MS) / STEP_MS) as usize + 1;
/// … and of a beat's sampled stretch, with room for the shifts.
const P_SPAN: usize = P_POINTS + 2 * P_SHIFT;
/// Onset assumed this before R when the beat was not delineated, ms.
const P_ONSET_BEFORE_R_MS: f64 = 40.0;
/// The record's P wave is reproducible when the usual beats' pre-QRS stretch correlates at least this
/// with its running template (a running mean that falls 5× slower than it rises: APBs and
/// ventricular beats of the usual shape must not hide a sinus P wave): sinus or atrial rhythm
/// conducted at a fixed PR. In atrial fibrillation or noise it is lower, and a missing P wave then
/// says nothing.
const P_VISIBLE: f64 = 0.6;
/// A beat lacks the usual P wave when its pre-QRS stretch correlates this much less with the template
/// than the usual beats do.
const P_ABSENT_DROP: f64 = 0.5;
/// A beat keeps the usual P wave when its pre-QRS stretch correlates with the template within this
/// of the usual beats' correlation.
const P_KEPT_DROP: f64 = 0.1;
/// A run of a new shape lacks the usual P wave when its P likeness, averaged over the run, is this
/// much below the usual beats' (an average scatters less than one beat's, so the bar is lower).
const RUN_P_DROP: f64 = 0.3;
/// In an irregular rhythm, a wide beat not very unlike the usual one (≥ `UNLIKE`) whose every lead
/// still correlates at least this with the usual beat is conducted aberrantly, not ectopic. In atrial
/// fibrillation a beat on a short cycle after a long one often meets a bundle branch still refractory
/// (Ashman): wide, but the activation still starts down the other bundle and keeps the usual shape
/// in every lead, while a ventricular focus changes at least one lead far. Chosen with
/// `RESIZED_ALIKE` by 5-fold cross-validation grouped by record from 0.6, 0.65, 0.7 and off (folds:
/// 0.65 or 0.6; docs/validation.md, stage 6).
const ABERRANT_LEAD_ALIKE: f64 = 0.65;
/// A pause (a sinus arrest, beats lost in noise or in a flutter episode) moves the running mean RR
/// as a beat this many mean RRs late at most, as one dropped beat does: a single pause of 6 s
/// (MIT-BIH 207's ventricular flutter) otherwise raised it by 60 %, every later beat came
/// "premature", and premature extrasystoles, which do not feed the mean, kept it there.
const PAUSE_CAP: f64 = 2.0;
/// Weight of a new beat in the running means and the template.
const ALPHA: f64 = 0.1;
/// Other conducted shapes kept beside the usual one (alternating or intermittent conduction: a
/// bundle-branch block that comes and goes with the rate, intermittent pre-excitation, 2:1 block with
/// alternating aberrancy). On MIT-BIH such records (111, 118, 212, 230, 231) gave 2,000 of the 2,650
/// conducted beats classed ectopic: the usual template held one shape and the other, on time, was
/// "unlike"; the run that would adopt it was broken by every beat of the first shape.
const ALT_SHAPES: usize = 3;
/// An alternate shape's beat is on time when its RR is at least this share of the running mean RR.
const ALT_ON_TIME: f64 = 0.92;
/// On-time beats of an alternate shape after which it is a usual shape too …
const ALT_USUAL_ON_TIME: u32 = 8;
/// … provided its premature beats are at most this share of its on-time ones (extrasystoles of one
/// focus are mostly premature).
const ALT_MAX_PREMATURE_SHARE: f64 = 0.5;
/// Widest residual stimulus spike, half-width at half prominence, ms. On MIT-BIH record 217 (360 Hz)
/// 95 % of the paced beats have a spike ≤ 16.8 ms; 99 % of the conducted beats of the other records
/// have no peak ≤ 14.5 ms at their QRS start.
const SPIKE_MS: f64 = 17.0;
/// Widest spike of a beat matching a confirmed paced morphology, ms: the morphology is the stronger
/// evidence there.
const SPIKE_PACED_MS: f64 = 20.0;
/// Smallest prominence of a spike, µV (a stimulus through a recorder's filter is still ≥ 1 mV).
const SPIKE_MIN_UV: f64 = 300.0;
/// Prominence of a peak is measured against the lowest point within this either side, ms.
const SPIKE_BASE_MS: f64 = 25.0;
/// A spike starts the QRS: its peak lies from this before the onset …
const SPIKE_BEFORE_ONSET_MS: f64 = 10.0;
/// … to this after it, ms.
const SPIKE_AFTER_ONSET_MS: f64 = 30.0;
/// A paced candidate's QRS is at least this wide (stimulus to end of a ventricular paced complex), ms.
/// On MIT-BIH, only record 217 has runs of beats with a spike that wide.
const PACED_MIN_QRSD_MS: f64 = 150.0;
/// Consecutive paced candidates of one shape that make it the paced morphology.
const PACED_CONFIRM: u32 = 8;
/// Correlation with the paced morphology at or above which a beat with a spike is paced (below:
/// fusion).
const PACED_ALIKE: f64 = 0.93;

/// Running context of the usual beat.
#[derive(Debug, Clone)]
pub(crate) struct Classifier {
    n_leads: usize,
    /// Template points per lead (lead-major), mean removed per lead; zeros until the first beat.
    template: Vec<f64>,
    has_template: bool,
    /// A beat has matched the template: until then it may be an extrasystole itself, and a beat shaped
    /// differently replaces it instead of being judged by it.
    confirmed: bool,
    /// The current beat's points, with `MAX_SHIFT` extra steps each side.
    beat: Vec<f64>,
    /// Consecutive on-time beats shaped differently from the template, all of one shape …
    unlike_run: u32,
    /// … this one (the run's first beat; same layout as `template`).
    run_template: Vec<f64>,
    rr_mean: f64,
    qrsd_mean: f64,
    last_r: Option<u64>,
    /// RR of the last pair of consecutive intrinsic beats, samples, and whether the last beat was one.
    last_nn_rr: Option<f64>,
    last_intrinsic: bool,
    /// The current beat correlates ≥ `ALIKE` with the usual beat.
    beat_alike: bool,
    /// Running mean of the change between successive intrinsic-to-intrinsic RRs over the mean RR:
    /// high in atrial fibrillation, where conducted beats come at random.
    irregularity: f64,
    /// Alternate conducted shapes (`ALT_SHAPES`, each like `template`) and their counts.
    alt: Vec<AltShape>,
    /// Paced morphology (same layout as `template`) learnt from unflagged paced candidates.
    paced_template: Vec<f64>,
    has_paced_template: bool,
    /// Consecutive paced candidates matching `paced_template`.
    paced_run: u32,
    /// The record is paced: `paced_template` is the paced complex.
    paced_confirmed: bool,
    /// Window index of the spike's foot of the last beat classed paced without a known stimulus.
    unflagged_stimulus: Option<usize>,
    /// The current beat's pre-QRS stretch (`P_SPAN` per lead, linear trend removed per lead) and
    /// whether the window reached it.
    pre: Vec<f64>,
    pre_ok: bool,
    /// Running template of the usual beats' pre-QRS stretch (their P wave; `P_POINTS` per lead, mean
    /// removed per lead), and whether it is set.
    p_template: Vec<f64>,
    has_p_template: bool,
    /// Running mean of the usual beats' correlation with `p_template`: how reproducible the P wave is.
    p_usual: f64,
    /// The current beat's pre-QRS correlation with `p_template`, and whether it lacks the usual P wave.
    beat_p: Option<f64>,
    beat_no_p: bool,
    /// Beats of the current run of a new shape that lacked the usual P wave.
    run_no_p: u32,
    /// Per lead: swollen past `SWOLLEN`× its usual size in the current beat.
    swollen: Vec<bool>,
    /// Sum and count of the P likenesses known in the current run of a new shape.
    run_p_sum: f64,
    run_p_n: u32,
}

/// A conducted shape other than the usual one, with how often it came on time and early.
#[derive(Debug, Clone)]
struct AltShape {
    template: Vec<f64>,
    on_time: u32,
    premature: u32,
    used: bool,
}

impl AltShape {
    fn usual(&self) -> bool {
        self.used
            && self.on_time >= ALT_USUAL_ON_TIME
            && f64::from(self.premature) <= ALT_MAX_PREMATURE_SHARE * f64::from(self.on_time)
    }
}

/// What the classifier reads of a beat besides its class inputs.
pub(crate) struct Shape<'a> {
    /// Conditioned samples per lead.
    pub window: &'a [Vec<f64>],
    /// Samples of `window` that hold the beat.
    pub len: usize,
    /// Index of R in `window`.
    pub r_index: usize,
    /// Index of the global QRS onset in `window`, when delineated.
    pub onset_index: Option<usize>,
    pub fs_hz: f64,
}

impl Classifier {
    pub(crate) fn new(n_leads: usize) -> Self {
        Self {
            n_leads,
            template: vec![0.0; n_leads * POINTS],
            has_template: false,
            confirmed: false,
            beat: vec![0.0; n_leads * (POINTS + 2 * PAD)],
            unlike_run: 0,
            run_template: vec![0.0; n_leads * POINTS],
            rr_mean: 0.0,
            qrsd_mean: 0.0,
            last_r: None,
            last_nn_rr: None,
            last_intrinsic: false,
            beat_alike: false,
            irregularity: 0.0,
            alt: (0..ALT_SHAPES)
                .map(|_| AltShape {
                    template: vec![0.0; n_leads * POINTS],
                    on_time: 0,
                    premature: 0,
                    used: false,
                })
                .collect(),
            paced_template: vec![0.0; n_leads * POINTS],
            has_paced_template: false,
            paced_run: 0,
            paced_confirmed: false,
            unflagged_stimulus: None,
            pre: vec![0.0; n_leads * P_SPAN],
            pre_ok: false,
            p_template: vec![0.0; n_leads * P_POINTS],
            has_p_template: false,
            p_usual: 0.0,
            beat_p: None,
            beat_no_p: false,
            run_no_p: 0,
            swollen: vec![false; n_leads],
            run_p_sum: 0.0,
            run_p_n: 0,
        }
    }

    /// For the beat just classed `paced` without a known stimulus: the window index of its spike's foot
    /// (the stimulus as the recording shows it); `None` for any other beat.
    pub(crate) fn unflagged_stimulus(&self) -> Option<usize> {
        self.unflagged_stimulus
    }

    /// Class of the beat with R at sample `r`, global QRS `qrsd_samples` long (`None`: not delineated),
    /// paced when a stimulus was found.
    pub(crate) fn classify(
        &mut self,
        r: u64,
        qrsd_samples: Option<u64>,
        paced: bool,
        shape: Shape<'_>,
    ) -> BeatClass {
        self.unflagged_stimulus = None;
        let Some(qrsd) = qrsd_samples.map(|q| q as f64) else {
            return BeatClass::Unknown;
        };
        let rr = self.last_r.map(|p| (r - p.min(r)) as f64);
        self.last_r = Some(r);
        if paced {
            return BeatClass::Paced;
        }
        let sampled = self.sample(&shape);
        let unflagged_paced = sampled && self.unflagged_paced(&shape, qrsd);
        let class = self.usual_class(rr, qrsd, sampled);
        self.follow_rhythm(rr, class);
        // A paced beat recognised from the recording still teaches the usual-beat context (rhythm,
        // width, shape), as it did before it was recognised: in a paced rhythm the paced complex is
        // the usual beat an extrasystole differs from.
        if unflagged_paced {
            BeatClass::Paced
        } else {
            class
        }
    }

    /// Follows the irregularity of the conducted rhythm from consecutive intrinsic beats.
    fn follow_rhythm(&mut self, rr: Option<f64>, class: BeatClass) {
        // Only beats of the usual shape: a false detection or a missed extrasystole classed
        // intrinsic would make a regular rhythm look irregular.
        let intrinsic = class == BeatClass::Intrinsic && self.beat_alike;
        match rr {
            Some(rr) if intrinsic && self.last_intrinsic && self.rr_mean > 0.0 => {
                if let Some(prev) = self.last_nn_rr {
                    let change = ((rr - prev) / self.rr_mean).abs().min(1.0);
                    self.irregularity += ALPHA * (change - self.irregularity);
                }
                self.last_nn_rr = Some(rr);
            }
            _ => {}
        }
        self.last_intrinsic = intrinsic;
    }

    /// The running mean RR follows a beat's RR, a pause counting as at most `PAUSE_CAP` mean RRs.
    fn follow_rr(&mut self, rr: f64) {
        let rr = if self.rr_mean > 0.0 {
            rr.min(PAUSE_CAP * self.rr_mean)
        } else {
            rr
        };
        self.rr_mean = ema(self.rr_mean, rr);
    }

    /// A detection the pipeline classed without the classifier (`noise` where no lead is readable):
    /// the run of consecutive usual beats the rhythm's irregularity is read from is broken.
    pub(crate) fn skipped(&mut self) {
        self.last_intrinsic = false;
    }

    /// Whether a detection in an unreadable stretch, sampled around `shape`'s R, is one of the
    /// record's own shapes: it correlates ≥ `NOISY_ALIKE` with the confirmed usual beat or a shape
    /// seen `KNOWN_AFTER` times (an alternate conduction or a recurring extrasystole), re-aligned
    /// within a QRS's span (noise moves the largest deflection the R is placed on). Learns nothing.
    pub(crate) fn matches_known(&mut self, shape: &Shape<'_>) -> bool {
        self.sample(shape) && self.known_shape()
    }

    fn known_shape(&self) -> bool {
        self.confirmed
            && (self.likeness_within(&self.template, REALIGN_SHIFT).0 >= NOISY_ALIKE
                || self.alt.iter().any(|a| {
                    a.used
                        && a.on_time + a.premature >= KNOWN_AFTER
                        && self.likeness_within(&a.template, REALIGN_SHIFT).0 >= NOISY_ALIKE
                }))
    }

    /// The class from the usual beat's context (rhythm, width, shape), and that context updated.
    fn usual_class(&mut self, rr: Option<f64>, qrsd: f64, sampled: bool) -> BeatClass {
        let (likeness, shift) = if sampled && self.has_template {
            let (mut c, mut shift) = self.likeness(&self.template);
            // R is the largest deflection: in a biphasic QRS it may fall on either wave, and the
            // same complex, centred on the other one, reads "very unlike" at ±8 ms. Re-aligned
            // within a QRS's span it is the usual beat again.
            if c < DIFFERENT {
                let (wide_c, wide_shift) = self.likeness_within(&self.template, REALIGN_SHIFT);
                if wide_c >= ALIKE {
                    (c, shift) = (wide_c, wide_shift);
                }
            }
            (Some(c), shift)
        } else {
            (None, PAD)
        };
        self.beat_alike = likeness.is_some_and(|c| c >= ALIKE);
        self.beat_p = if sampled { self.p_likeness() } else { None };
        let no_p = self.lacks_p();
        self.beat_no_p = no_p;
        // In atrial fibrillation conducted beats come at random: an early one is no sign of a
        // focus, so beats are judged as on time (ectopic only when very unlike, or wide).
        let premature = self.irregularity < IRREGULAR
            && matches!(rr, Some(rr) if self.rr_mean > 0.0 && rr < PREMATURE * self.rr_mean);
        let wide = self.qrsd_mean > 0.0 && qrsd > WIDE * self.qrsd_mean;
        let judged = likeness.filter(|_| self.confirmed);
        // Atrial fibrillation's aberrant conduction (Ashman): wide, but every lead keeps the usual
        // shape. Not in a regular rhythm: there premature beats that close to the usual shape are
        // mostly fascicular or septal extrasystoles (MIT-BIH 213, 223).
        let aberrant = wide
            && self.irregularity >= IRREGULAR
            && judged.is_some_and(|c| c >= UNLIKE)
            && self.lead_min_likeness(&self.template, shift) >= ABERRANT_LEAD_ALIKE;
        let different = judged.is_some_and(|c| c < DIFFERENT);
        // Electrode motion in one lead over a conducted beat (or over nothing): judged on the other
        // leads, which show the usual beat or nothing. Before the alternate shapes, which must not
        // learn the artefact.
        if different {
            if let Some((rest_c, rest_amp)) = self.likeness_without_swollen() {
                if rest_c >= ALIKE {
                    if let Some(rr) = rr {
                        self.follow_rr(rr);
                    }
                    return BeatClass::Intrinsic;
                }
                if rest_amp < SMALL {
                    return BeatClass::Noise;
                }
            }
        }
        // An alternate conduction comes on time and no wider; a late-coupled extrasystole still comes
        // a little early.
        let early = matches!(rr, Some(rr) if rr < ALT_ON_TIME * self.rr_mean);
        // A conducted shape follows the atria's P wave; a beat without it is no evidence for one, on
        // time or not (MIT-BIH 223: a ventricular tachycardia of two alternating shapes near the sinus
        // rate made one of them an alternate "conducted" shape).
        if different && self.alternate_shape(premature || wide || early || no_p) {
            // An established alternate conduction: as usual as the usual shape.
            if let Some(rr) = rr {
                self.follow_rr(rr);
            }
            return BeatClass::Intrinsic;
        }
        // A ventricular extrasystole activates the ventricles from one end: it is not narrower than the
        // conducted beat, nor much smaller, nor of its shape (a premature beat "wider" but of the
        // usual shape is the delineation's scatter or aberrancy, not a focus).
        let not_ventricular = (self.qrsd_mean > 0.0 && qrsd < NARROW * self.qrsd_mean)
            || (different && self.amplitude_ratio(shift) < SMALL_FOR_VENTRICULAR);
        let alike = likeness.is_some_and(|c| c >= ALIKE);
        // Far smaller than the usual beat and shaped unlike it: a P or T wave or an artefact that
        // reached the detector, not a QRS (extrasystoles are at least as large as the usual beat);
        // far larger and unlike it: electrode motion.
        if different && !(SMALL..=LARGE).contains(&self.amplitude_ratio(shift)) {
            return BeatClass::Noise;
        }
        // A supraventricular beat takes the usual conduction path: its QRS keeps the usual size
        // within breathing's sway. A premature beat not quite of the usual shape (< `RESIZED_ALIKE`)
        // whose size changed by a quarter came another way (MIT-BIH 223's bigeminal PVCs correlate
        // 0.85–0.94 with its conducted beats at two thirds of their size).
        let resized = judged.is_some_and(|c| c < RESIZED_ALIKE) && {
            let a = self.amplitude_ratio(shift);
            !(1.0 / RESIZED..=RESIZED).contains(&a)
        };
        if premature && (wide || different || resized) {
            // An extrasystole breaks a run of on-time beats of a new shape.
            self.unlike_run = 0;
            // Very unlike the usual beat (< `UNLIKE`) yet narrower or much smaller than it: not the
            // usual conduction, nor a focus's spread by its size. Unclassifiable (AAMI's Q), not
            // conducted: on MIT-BIH such beats were 47 V, 30 N or S and 10 false detections, all
            // classed intrinsic, and false detections in muscle noise on LUDB are such too.
            if not_ventricular && judged.is_some_and(|c| c < UNLIKE) {
                return BeatClass::Unknown;
            }
            // Alike but resized is not the usual beat (above).
            if not_ventricular || (alike && !resized) {
                return BeatClass::Intrinsic;
            }
            return BeatClass::Ectopic;
        }
        if let Some(rr) = rr {
            self.follow_rr(rr);
        }
        self.usual_shape_class(
            likeness,
            shift,
            qrsd,
            wide && !aberrant,
            not_ventricular,
            sampled,
        )
    }

    /// The class of a beat that is not a premature extrasystole, from its likeness to the usual shape;
    /// `wide`: wider than the usual beat, and not by aberrant conduction; `not_ventricular`: narrower
    /// or much smaller than it.
    fn usual_shape_class(
        &mut self,
        likeness: Option<f64>,
        shift: usize,
        qrsd: f64,
        wide: bool,
        not_ventricular: bool,
        sampled: bool,
    ) -> BeatClass {
        if !sampled {
            self.qrsd_mean = ema(self.qrsd_mean, qrsd);
            return BeatClass::Intrinsic;
        }
        match likeness {
            Some(c) if c >= DIFFERENT => {
                self.confirmed = true;
                self.unlike_run = 0;
                if c >= ALIKE {
                    self.blend_current(shift);
                    self.learn_p();
                }
                self.qrsd_mean = ema(self.qrsd_mean, qrsd);
            }
            Some(c) if self.confirmed => {
                // On time but shaped differently: one such beat is not the new usual beat, a run is
                // (the conduction changed, or pacing began unseen).
                let same = self.unlike_run > 0 && self.likeness(&self.run_template).0 >= DIFFERENT;
                if same {
                    self.unlike_run += 1;
                } else {
                    adopt(&mut self.run_template, &self.beat, PAD);
                    self.unlike_run = 1;
                    self.run_no_p = 0;
                    self.run_p_sum = 0.0;
                    self.run_p_n = 0;
                }
                self.run_no_p += u32::from(self.beat_no_p);
                if let Some(p) = self.beat_p {
                    self.run_p_sum += p;
                    self.run_p_n += 1;
                }
                // A run mostly without the usual P wave is not a change of conduction but a
                // ventricular (or junctional) rhythm at about the sinus rate: it stays ectopic
                // however long (MIT-BIH 223's ventricular tachycardia, 124's idioventricular runs).
                // So is a run whose P wave comes only now and then: the atria dissociated from a
                // ventricular escape rhythm (207), their P waves landing before some QRSs by chance.
                // Not a run narrower or much smaller than the usual beat: that is no ventricular
                // rhythm (the return to a junctional rhythm after one, 124).
                let run_p = self.run_p_sum / f64::from(self.run_p_n.max(1));
                let dissociated = !not_ventricular
                    && self.irregularity < IRREGULAR
                    && self.p_usual >= P_VISIBLE
                    && self.run_p_n > 0
                    && run_p < self.p_usual - RUN_P_DROP;
                let ventricular_run = 2 * self.run_no_p > self.unlike_run || dissociated;
                // On time, no wider, after the usual P wave at the usual PR: conducted, though shaped
                // otherwise (a lead's electrode moved, conduction changing; MIT-BIH 230, 111).
                let conducted = self.keeps_p() && !wide;
                if self.unlike_run >= ADOPT_AFTER && !ventricular_run {
                    self.adopt_current(PAD);
                    self.qrsd_mean = qrsd;
                    self.unlike_run = 0;
                } else if (c < UNLIKE || wide || ventricular_run) && !not_ventricular && !conducted
                {
                    return BeatClass::Ectopic;
                }
            }
            _ => {
                // No template yet, or one no beat has matched: this beat's shape is the candidate.
                self.adopt_current(shift);
                self.qrsd_mean = qrsd;
            }
        }
        BeatClass::Intrinsic
    }

    /// For a beat shaped differently from the usual one: whether it matches an established alternate
    /// conducted shape. Counts it into the alternate shape it matches (on time or premature), or makes
    /// it a new alternate shape in place of the least established one.
    fn alternate_shape(&mut self, premature: bool) -> bool {
        let mut best: Option<(usize, f64, usize)> = None;
        for (k, a) in self.alt.iter().enumerate() {
            if !a.used {
                continue;
            }
            let (c, shift) = self.likeness(&a.template);
            if best.is_none_or(|b| c > b.1) {
                best = Some((k, c, shift));
            }
        }
        match best {
            Some((k, c, shift)) if c >= DIFFERENT => {
                let a = &mut self.alt[k];
                let usual = a.usual();
                if premature {
                    a.premature += 1;
                } else {
                    a.on_time += 1;
                }
                // Counts halve now and then: what matters is the recent rhythm.
                if a.on_time + a.premature > 64 {
                    a.on_time /= 2;
                    a.premature /= 2;
                }
                if c >= ALIKE {
                    blend(&mut a.template, &self.beat, shift);
                }
                usual
            }
            _ => {
                let k = (0..self.alt.len())
                    .min_by_key(|&k| {
                        let a = &self.alt[k];
                        (a.used, a.on_time + a.premature)
                    })
                    .unwrap_or(0);
                let a = &mut self.alt[k];
                adopt(&mut a.template, &self.beat, PAD);
                a.used = true;
                a.on_time = u32::from(!premature);
                a.premature = u32::from(premature);
                false
            }
        }
    }

    /// Whether `s`'s window reaches far enough either side of its R for the beat to be sampled.
    pub(crate) fn reaches(s: &Shape<'_>) -> bool {
        let reach = (HALF_MS / STEP_MS + MAX_SHIFT as f64) * STEP_MS * s.fs_hz / 1000.0;
        let r = s.r_index as f64;
        r >= reach && r + reach + 1.0 < s.len as f64
    }

    /// Samples the beat at fixed ms steps around R (linear interpolation), mean removed per lead, into
    /// `self.beat`. False when the window does not reach far enough.
    fn sample(&mut self, s: &Shape<'_>) -> bool {
        if !Self::reaches(s) || s.window.len() != self.n_leads {
            return false;
        }
        let step = STEP_MS * s.fs_hz / 1000.0;
        let r = s.r_index as f64;
        let n = POINTS + 2 * PAD;
        let first = r - (HALF_MS / STEP_MS + PAD as f64) * step;
        // The padding beyond the window holds its edge samples (only the wide re-alignment reads it).
        let last = (s.len - 1) as f64 - 1e-9;
        let core = PAD - MAX_SHIFT..PAD + MAX_SHIFT + POINTS;
        for (lead, out) in s.window.iter().zip(self.beat.chunks_exact_mut(n)) {
            for (j, o) in out.iter_mut().enumerate() {
                let t = (first + j as f64 * step).clamp(0.0, last);
                let i = t as usize;
                let f = t - i as f64;
                *o = lead[i] + f * (lead[i + 1] - lead[i]);
            }
            // Mean over the span the usual comparison reads (R ± 88 ms).
            let mean = out[core.clone()].iter().sum::<f64>() / core.len() as f64;
            out.iter_mut().for_each(|o| *o -= mean);
        }
        self.sample_pre(s, step);
        true
    }

    /// Samples the pre-QRS stretch (QRS onset − `P_FROM_MS` to − `P_TO_MS`, `P_SHIFT` steps more each
    /// side) into `self.pre`, linear trend removed per lead (baseline and the previous T wave's tail
    /// are not the P wave).
    fn sample_pre(&mut self, s: &Shape<'_>, step: f64) {
        let onset = s.onset_index.map_or(
            s.r_index as f64 - P_ONSET_BEFORE_R_MS / STEP_MS * step,
            |i| i as f64,
        );
        let core_first = onset - P_FROM_MS / STEP_MS * step;
        // The unshifted stretch must lie in the window; shifts beyond it hold its first sample.
        self.pre_ok = core_first >= 0.0;
        if !self.pre_ok {
            return;
        }
        let first = core_first - P_SHIFT as f64 * step;
        let n = P_SPAN as f64;
        let t_mean = (n - 1.0) / 2.0;
        let t_var: f64 = (0..P_SPAN).map(|j| (j as f64 - t_mean).powi(2)).sum();
        for (lead, out) in s.window.iter().zip(self.pre.chunks_exact_mut(P_SPAN)) {
            for (j, o) in out.iter_mut().enumerate() {
                let t = (first + j as f64 * step).max(0.0);
                let i = t as usize;
                let f = t - i as f64;
                *o = lead[i] + f * (lead[i + 1] - lead[i]);
            }
            let mean = out.iter().sum::<f64>() / n;
            let slope = out
                .iter()
                .enumerate()
                .map(|(j, v)| (j as f64 - t_mean) * (v - mean))
                .sum::<f64>()
                / t_var;
            for (j, o) in out.iter_mut().enumerate() {
                *o -= mean + slope * (j as f64 - t_mean);
            }
        }
    }

    /// Correlation over all leads of the beat's pre-QRS stretch with the usual beats' P-wave template,
    /// best over shifts of up to `P_SHIFT` steps (`None`: not known).
    fn p_likeness(&self) -> Option<f64> {
        if !self.pre_ok || !self.has_p_template {
            return None;
        }
        let mut best = f64::NEG_INFINITY;
        for d in 0..=2 * P_SHIFT {
            let (mut xy, mut xx, mut yy) = (0.0, 0.0, 0.0);
            for (t, b) in self
                .p_template
                .chunks_exact(P_POINTS)
                .zip(self.pre.chunks_exact(P_SPAN))
            {
                let b = &b[d..d + P_POINTS];
                let m = b.iter().sum::<f64>() / P_POINTS as f64;
                for (x, y) in t.iter().zip(b) {
                    xy += x * (y - m);
                    xx += x * x;
                    yy += (y - m) * (y - m);
                }
            }
            if xx > 0.0 && yy > 0.0 {
                best = best.max(xy / (xx * yy).sqrt());
            }
        }
        Some(best.max(0.0))
    }

    /// The beat lacks the P wave that the record's usual beats reproducibly have. Only in a regular
    /// rhythm: in atrial fibrillation there is no P wave to lack.
    fn lacks_p(&self) -> bool {
        self.irregularity < IRREGULAR
            && self.p_usual >= P_VISIBLE
            && self
                .beat_p
                .is_some_and(|p| p < self.p_usual - P_ABSENT_DROP)
    }

    /// The beat follows the usual P wave about as closely as the usual beats do (regular rhythm, P
    /// wave reproducible): the atria's impulse was conducted.
    fn keeps_p(&self) -> bool {
        self.irregularity < IRREGULAR
            && self.p_usual >= P_VISIBLE
            && self.beat_p.is_some_and(|p| p >= self.p_usual - P_KEPT_DROP)
    }

    /// A usual beat on time teaches the P-wave template and how reproducible the P wave is.
    fn learn_p(&mut self) {
        if !self.pre_ok {
            return;
        }
        if let (true, Some(p)) = (self.has_p_template, self.beat_p) {
            // Falls 5× slower than it rises: an APB or a ventricular beat of the usual shape now and
            // then does not hide a sinus P wave.
            let w = if p < self.p_usual { ALPHA / 5.0 } else { ALPHA };
            self.p_usual += w * (p - self.p_usual);
        }
        let first = !self.has_p_template;
        for (t, b) in self
            .p_template
            .chunks_exact_mut(P_POINTS)
            .zip(self.pre.chunks_exact(P_SPAN))
        {
            let b = &b[P_SHIFT..P_SHIFT + P_POINTS];
            let m = b.iter().sum::<f64>() / P_POINTS as f64;
            for (t, v) in t.iter_mut().zip(b) {
                *t = if first {
                    v - m
                } else {
                    *t + ALPHA * (v - m - *t)
                };
            }
        }
        self.has_p_template = true;
    }

    /// Whether the sampled beat (`self.beat`) is paced though no stimulus was found: it starts with a
    /// spike and matches the record's paced morphology (module docs). Learns that morphology.
    fn unflagged_paced(&mut self, shape: &Shape<'_>, qrsd_samples: f64) -> bool {
        self.unflagged_stimulus = None;
        let Some((spike_ms, foot)) = narrowest_spike_ms(shape) else {
            if !self.paced_confirmed {
                self.paced_run = 0;
            }
            return false;
        };
        let limit = if self.paced_confirmed {
            SPIKE_PACED_MS
        } else {
            SPIKE_MS
        };
        if spike_ms > limit {
            if !self.paced_confirmed {
                self.paced_run = 0;
            }
            return false;
        }
        let alike = if self.has_paced_template {
            let (c, shift) = self.likeness(&self.paced_template);
            (c >= PACED_ALIKE).then_some(shift)
        } else {
            None
        };
        if self.paced_confirmed {
            if let Some(shift) = alike {
                blend(&mut self.paced_template, &self.beat, shift);
                self.unflagged_stimulus = Some(foot);
                return true;
            }
            return false;
        }
        if qrsd_samples * 1000.0 / shape.fs_hz < PACED_MIN_QRSD_MS {
            self.paced_run = 0;
            return false;
        }
        match alike {
            Some(shift) => {
                blend(&mut self.paced_template, &self.beat, shift);
                self.paced_run += 1;
            }
            None => {
                adopt(&mut self.paced_template, &self.beat, PAD);
                self.has_paced_template = true;
                self.paced_run = 1;
            }
        }
        if self.paced_run >= PACED_CONFIRM {
            self.paced_confirmed = true;
        }
        // The candidates of the run that confirms the morphology are already classed; from the next
        // beat on they are paced.
        false
    }

    /// Largest correlation over all leads between `template` and the beat shifted by up to
    /// `MAX_SHIFT` steps, and the offset of the best-aligned span in `self.beat` (`MAX_SHIFT`: none).
    fn likeness(&self, template: &[f64]) -> (f64, usize) {
        self.likeness_within(template, MAX_SHIFT)
    }

    fn likeness_within(&self, template: &[f64], max_shift: usize) -> (f64, usize) {
        let n = POINTS + 2 * PAD;
        let tt: f64 = template.iter().map(|v| v * v).sum();
        let mut best = (f64::NEG_INFINITY, PAD);
        for shift in PAD - max_shift..=PAD + max_shift {
            let (mut xy, mut xx) = (0.0, 0.0);
            for (t, b) in template.chunks_exact(POINTS).zip(self.beat.chunks_exact(n)) {
                let b = &b[shift..shift + POINTS];
                // Means over the shifted span are ~0 already (removed over the wider span); the
                // difference is negligible against the thresholds.
                for (x, y) in t.iter().zip(b) {
                    xy += x * y;
                    xx += y * y;
                }
            }
            let c = if tt > 0.0 && xx > 0.0 {
                xy / (tt * xx).sqrt()
            } else {
                0.0
            };
            if c > best.0 {
                best = (c, shift);
            }
        }
        best
    }

    /// Lowest correlation, lead by lead, between `template` and the beat's span starting `shift` steps
    /// into `self.beat` (0 for a flat lead: it shows nothing alike).
    fn lead_min_likeness(&self, template: &[f64], shift: usize) -> f64 {
        let n = POINTS + 2 * PAD;
        template
            .chunks_exact(POINTS)
            .zip(self.beat.chunks_exact(n))
            .map(|(t, b)| {
                let b = &b[shift..shift + POINTS];
                let (mut xy, mut xx, mut yy) = (0.0, 0.0, 0.0);
                for (x, y) in t.iter().zip(b) {
                    xy += x * y;
                    xx += x * x;
                    yy += y * y;
                }
                if xx > 0.0 && yy > 0.0 {
                    xy / (xx * yy).sqrt()
                } else {
                    0.0
                }
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// With some but not all leads swollen past `SWOLLEN`× their usual size: the correlation with the
    /// template over the other leads (best of ±`MAX_SHIFT`) and their RMS over the template's there.
    fn likeness_without_swollen(&mut self) -> Option<(f64, f64)> {
        let n = POINTS + 2 * PAD;
        let energy = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>();
        for ((sw, t), b) in self
            .swollen
            .iter_mut()
            .zip(self.template.chunks_exact(POINTS))
            .zip(self.beat.chunks_exact(n))
        {
            let bb = energy(&b[PAD..PAD + POINTS]);
            *sw = bb > SWOLLEN * SWOLLEN * energy(t);
        }
        let swollen = self.swollen.iter().filter(|&&s| s).count();
        if swollen == 0 || swollen == self.n_leads {
            return None;
        }
        let mut best = (f64::NEG_INFINITY, 0.0);
        for shift in PAD - MAX_SHIFT..=PAD + MAX_SHIFT {
            let (mut xy, mut xx, mut tt) = (0.0, 0.0, 0.0);
            for ((&sw, t), b) in self
                .swollen
                .iter()
                .zip(self.template.chunks_exact(POINTS))
                .zip(self.beat.chunks_exact(n))
            {
                if sw {
                    continue;
                }
                for (x, y) in t.iter().zip(&b[shift..shift + POINTS]) {
                    xy += x * y;
                    xx += y * y;
                    tt += x * x;
                }
            }
            let c = if tt > 0.0 && xx > 0.0 {
                xy / (tt * xx).sqrt()
            } else {
                0.0
            };
            if c > best.0 {
                best = (c, if tt > 0.0 { (xx / tt).sqrt() } else { 1.0 });
            }
        }
        Some(best)
    }

    /// RMS of the beat's span starting `shift` steps into `self.beat` over the template's RMS.
    fn amplitude_ratio(&self, shift: usize) -> f64 {
        let n = POINTS + 2 * PAD;
        let tt: f64 = self.template.iter().map(|v| v * v).sum();
        let xx: f64 = self
            .beat
            .chunks_exact(n)
            .flat_map(|b| &b[shift..shift + POINTS])
            .map(|v| v * v)
            .sum();
        if tt > 0.0 {
            (xx / tt).sqrt()
        } else {
            1.0
        }
    }

    /// The template becomes the beat's span starting `shift` steps into `self.beat`.
    fn adopt_current(&mut self, shift: usize) {
        adopt(&mut self.template, &self.beat, shift);
        self.has_template = true;
    }

    /// The template moves a step `ALPHA` towards the beat's span starting `shift` steps in.
    fn blend_current(&mut self, shift: usize) {
        blend(&mut self.template, &self.beat, shift);
    }
}

/// `template` becomes the span of `beat` (with `MAX_SHIFT` extra steps each side) starting `shift` in.
fn adopt(template: &mut [f64], beat: &[f64], shift: usize) {
    let n = POINTS + 2 * PAD;
    for (t, b) in template.chunks_exact_mut(POINTS).zip(beat.chunks_exact(n)) {
        t.copy_from_slice(&b[shift..shift + POINTS]);
    }
}

/// `template` moves a step `ALPHA` towards the span of `beat` starting `shift` steps in.
fn blend(template: &mut [f64], beat: &[f64], shift: usize) {
    let n = POINTS + 2 * PAD;
    for (t, b) in template.chunks_exact_mut(POINTS).zip(beat.chunks_exact(n)) {
        for (t, v) in t.iter_mut().zip(&b[shift..shift + POINTS]) {
            *t += ALPHA * (v - *t);
        }
    }
}

/// Half-width (at half its prominence, ms) and foot (window index) of the narrowest peak of either polarity and at least
/// `SPIKE_MIN_UV` prominence, over all leads, peaking from `SPIKE_BEFORE_ONSET_MS` before to
/// `SPIKE_AFTER_ONSET_MS` after the QRS onset; `None` without onset or peak. Prominence as in
/// `scipy.signal.peak_prominences` with a window of ±`SPIKE_BASE_MS`; the width is interpolated.
fn narrowest_spike_ms(s: &Shape<'_>) -> Option<(f64, usize)> {
    let onset = s.onset_index?;
    let ms = |v: f64| (v * s.fs_hz / 1000.0).round() as usize;
    let base = ms(SPIKE_BASE_MS).max(2);
    let first = onset.saturating_sub(ms(SPIKE_BEFORE_ONSET_MS)).max(1);
    let last = (onset + ms(SPIKE_AFTER_ONSET_MS)).min(s.len.saturating_sub(2));
    let mut best: Option<(f64, usize)> = None;
    for lead in s.window {
        let x = &lead[..s.len];
        for i in first..=last {
            for sign in [1.0, -1.0] {
                let v = |k: usize| sign * x[k];
                if !(v(i) > v(i - 1) && v(i) >= v(i + 1)) {
                    continue;
                }
                let lo = i.saturating_sub(base);
                let hi = (i + base).min(s.len - 1);
                // Bases: the lowest point on each side before the signal rises above the peak.
                let side_min = |range: &mut dyn Iterator<Item = usize>| {
                    let mut m = v(i);
                    for k in range {
                        if v(k) > v(i) {
                            break;
                        }
                        m = m.min(v(k));
                    }
                    m
                };
                let left = side_min(&mut (lo..i).rev());
                let right = side_min(&mut (i + 1..=hi));
                let prominence = v(i) - left.max(right);
                if prominence < SPIKE_MIN_UV {
                    continue;
                }
                let half = v(i) - prominence / 2.0;
                // Crossings of the half height either side, linearly interpolated.
                let mut l = i;
                while l > lo && v(l - 1) > half {
                    l -= 1;
                }
                let lx = if l > lo {
                    l as f64 - (v(l) - half) / (v(l) - v(l - 1))
                } else {
                    l as f64
                };
                let mut r = i;
                while r < hi && v(r + 1) > half {
                    r += 1;
                }
                let rx = if r < hi {
                    r as f64 + (v(r) - half) / (v(r) - v(r + 1))
                } else {
                    r as f64
                };
                let width_ms = (rx - lx) * 1000.0 / s.fs_hz;
                // The pulse's start: the rise to half height took about as long as from the foot.
                let foot = (2.0 * lx - i as f64).max(0.0) as usize;
                if best.is_none_or(|b| width_ms < b.0) {
                    best = Some((width_ms, foot));
                }
            }
        }
    }
    best
}

fn ema(mean: f64, v: f64) -> f64 {
    if mean == 0.0 {
        v
    } else {
        mean + ALPHA * (v - mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FS: f64 = 500.0;
    /// Window of 600 ms with R at 300 ms.
    const LEN: usize = 300;
    const R: usize = 150;

    /// Two leads: a narrow upright complex (usual) or a wide biphasic one (extrasystole), in µV.
    fn window(extrasystole: bool) -> Vec<Vec<f64>> {
        let g = |i: usize, c: f64, w_ms: f64, a: f64| {
            let t = (i as f64 - c) * 1000.0 / FS;
            a * (-0.5 * (t / w_ms).powi(2)).exp()
        };
        (0..2)
            .map(|lead| {
                (0..LEN)
                    .map(|i| {
                        let c = R as f64;
                        if extrasystole {
                            let s = if lead == 0 { 1.0 } else { -1.0 };
                            s * (g(i, c - 10.0, 14.0, 900.0) - g(i, c + 15.0, 16.0, 1100.0))
                        } else {
                            g(i, c, 10.0, 1000.0 + 200.0 * lead as f64)
                        }
                    })
                    .collect()
            })
            .collect()
    }

    fn run(c: &mut Classifier, r: u64, qrsd: u64, extrasystole: bool) -> BeatClass {
        run_scaled(c, r, qrsd, extrasystole, 1.0)
    }

    /// `beats` usual beats (`window(false)`, `qrsd_samples` wide) every 400 samples from the first,
    /// each classed intrinsic; R of the last.
    fn learn_usual(c: &mut Classifier, qrsd_samples: u64, beats: usize) -> u64 {
        let mut r = 0;
        for _ in 0..beats {
            r += 400;
            assert_eq!(run(c, r, qrsd_samples, false), BeatClass::Intrinsic);
        }
        r
    }

    #[test]
    fn a_premature_beat_of_another_shape_is_ectopic_even_when_not_wider() {
        let mut c = Classifier::new(2);
        let r = learn_usual(&mut c, 45, 6);
        // 60 % of the RR, same width: ectopic by shape alone.
        assert_eq!(run(&mut c, r + 240, 47, true), BeatClass::Ectopic);
        assert_eq!(run(&mut c, r + 800, 45, false), BeatClass::Intrinsic);
        // Premature with the usual shape (an atrial premature beat): intrinsic.
        assert_eq!(run(&mut c, r + 1040, 45, false), BeatClass::Intrinsic);
    }

    /// `window(extrasystole)` scaled by `gain`.
    fn run_scaled(
        c: &mut Classifier,
        r: u64,
        qrsd: u64,
        extrasystole: bool,
        gain: f64,
    ) -> BeatClass {
        let w: Vec<Vec<f64>> = window(extrasystole)
            .into_iter()
            .map(|l| l.into_iter().map(|v| v * gain).collect())
            .collect();
        c.classify(
            r,
            Some(qrsd),
            false,
            Shape {
                window: &w,
                len: LEN,
                r_index: R,
                onset_index: None,
                fs_hz: FS,
            },
        )
    }

    #[test]
    fn premature_beats_narrower_or_of_the_usual_shape_are_not_ventricular() {
        let mut c = Classifier::new(2);
        let mut r = learn_usual(&mut c, 60, 6);
        // Premature, shaped somewhat differently (~0.7 with the usual beat), but narrower than it (a
        // conducted beat against a bundle-branch-block template): not ectopic.
        r += 240;
        assert_eq!(
            run_with_onset(&mut c, r, 45, &reshaped(1.0, 1.0), R - 10),
            BeatClass::Intrinsic
        );
        r += 560;
        assert_eq!(run(&mut c, r, 60, false), BeatClass::Intrinsic);
        // Shaped very unlike it (~0) and narrower: neither conducted the usual way nor ventricular.
        r += 240;
        assert_eq!(run(&mut c, r, 45, true), BeatClass::Unknown);
        r += 560;
        assert_eq!(run(&mut c, r, 60, false), BeatClass::Intrinsic);
        // Premature and measured wider, but of the usual shape: not ectopic.
        r += 240;
        assert_eq!(run(&mut c, r, 90, false), BeatClass::Intrinsic);
        r += 560;
        assert_eq!(run(&mut c, r, 60, false), BeatClass::Intrinsic);
        // The same shape at the usual width is.
        r += 240;
        assert_eq!(run(&mut c, r, 62, true), BeatClass::Ectopic);
    }

    /// The usual window with a second, later wave of `k` times its size added (a complex not quite of
    /// the usual shape, correlating ~0.87 with it at k = 0.55), scaled by `gain`.
    fn reshaped(k: f64, gain: f64) -> Vec<Vec<f64>> {
        let g = |i: usize, c: f64, w_ms: f64, a: f64| {
            let t = (i as f64 - c) * 1000.0 / FS;
            a * (-0.5 * (t / w_ms).powi(2)).exp()
        };
        (0..2)
            .map(|lead| {
                let a = 1000.0 + 200.0 * lead as f64;
                (0..LEN)
                    .map(|i| gain * (g(i, R as f64, 10.0, a) + k * g(i, R as f64 + 20.0, 8.0, a)))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_premature_beat_nearly_of_the_usual_shape_but_resized_is_ectopic() {
        let mut c = Classifier::new(2);
        let usual = window(false);
        let mut r = learn(&mut c, &usual, &[400], 6);
        // Premature, correlating 0.85–0.9 with the usual beat: at the usual size it is conducted …
        r += 240;
        let same_size = reshaped(0.55, 1.0);
        assert_eq!(
            run_with_onset(&mut c, r, 45, &same_size, R - 10),
            BeatClass::Intrinsic
        );
        r += 560;
        assert_eq!(
            run_with_onset(&mut c, r, 45, &usual, R - 10),
            BeatClass::Intrinsic
        );
        // … at two thirds of it, it came another way.
        r += 240;
        let smaller = reshaped(0.55, 0.65);
        assert_eq!(
            run_with_onset(&mut c, r, 45, &smaller, R - 10),
            BeatClass::Ectopic
        );
    }

    #[test]
    fn the_usual_beat_centred_on_another_wave_is_still_the_usual_beat() {
        let mut c = Classifier::new(2);
        let usual = window(false);
        let mut r = learn(&mut c, &usual, &[400], 6);
        // The same complex with R taken 40 ms off (the other wave of a biphasic QRS), premature.
        let off: Vec<Vec<f64>> = usual
            .iter()
            .map(|l| (0..LEN).map(|i| l[(i + 20).min(LEN - 1)]).collect())
            .collect();
        r += 240;
        assert_eq!(
            run_with_onset(&mut c, r, 45, &off, R - 10),
            BeatClass::Intrinsic
        );
        // A premature extrasystole is not re-aligned into the usual beat.
        r += 560;
        assert_eq!(
            run_with_onset(&mut c, r, 45, &usual, R - 10),
            BeatClass::Intrinsic
        );
        r += 240;
        assert_eq!(
            run_with_onset(&mut c, r, 47, &window(true), R - 10),
            BeatClass::Ectopic
        );
    }

    #[test]
    fn in_an_irregular_rhythm_an_early_beat_of_a_somewhat_other_shape_is_not_ectopic() {
        // Correlating ~0.7 with the usual beat: unlike enough to be an extrasystole when premature in
        // a regular rhythm, not in atrial fibrillation (aberrant conduction of an early beat).
        let other = reshaped(1.0, 1.0);
        let usual = window(false);
        for (rrs, expected) in [
            (&[400u64][..], BeatClass::Ectopic),
            (&[400, 560, 300, 480, 620, 360][..], BeatClass::Intrinsic),
        ] {
            let mut c = Classifier::new(2);
            let mut r = 0;
            for k in 0..30 {
                r += rrs[k % rrs.len()];
                assert_eq!(
                    run_with_onset(&mut c, r, 45, &usual, R - 10),
                    BeatClass::Intrinsic
                );
            }
            r += 250;
            assert_eq!(
                run_with_onset(&mut c, r, 45, &other, R - 10),
                expected,
                "{rrs:?}"
            );
        }
    }

    /// Uniform noise in ±`a_uv`, the same every run (a linear congruential generator).
    fn noise(a_uv: f64, seed: u64) -> Vec<Vec<f64>> {
        let mut x = seed;
        (0..2)
            .map(|_| {
                (0..LEN)
                    .map(|_| {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        a_uv * ((x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn in_unreadable_signal_only_the_records_own_shapes_are_beats() {
        let mut c = Classifier::new(2);
        let mut r = learn_usual(&mut c, 45, 6);
        // An extrasystole recurring four times: one of the record's shapes, though never usual.
        for _ in 0..4 {
            r += 240;
            assert_eq!(run(&mut c, r, 47, true), BeatClass::Ectopic);
            r += 560;
            run(&mut c, r, 45, false);
        }
        let at = |w: &[Vec<f64>], r_index: usize| -> bool {
            let mut c = c.clone();
            c.matches_known(&Shape {
                window: w,
                len: LEN,
                r_index,
                onset_index: None,
                fs_hz: FS,
            })
        };
        let plus = |a: Vec<Vec<f64>>, b: Vec<Vec<f64>>| -> Vec<Vec<f64>> {
            a.iter()
                .zip(&b)
                .map(|(x, y)| x.iter().zip(y).map(|(u, v)| u + v).collect())
                .collect()
        };
        // The usual beat in noise of about its own RMS over the window (likeness ~0.75) …
        let noisy = plus(window(false), noise(500.0, 7));
        assert!(at(&noisy, R));
        // … with its R put 40 ms off by a noise peak …
        assert!(at(&noisy, R + 20));
        // … and the recurring extrasystole are QRS complexes; the noise alone is none.
        assert!(at(&plus(window(true), noise(500.0, 9)), R));
        for seed in 1..20 {
            assert!(!at(&noise(500.0, seed), R), "seed {seed}");
        }
    }

    #[test]
    fn a_small_detection_unlike_the_usual_beat_is_noise() {
        let mut c = Classifier::new(2);
        let r = learn_usual(&mut c, 45, 6);
        // A fifth of the usual amplitude and another shape (a P or T wave, an artefact): noise.
        assert_eq!(run_scaled(&mut c, r + 240, 45, true, 0.2), BeatClass::Noise);
        // At the usual amplitude it is an extrasystole; small but of the usual shape, a beat.
        assert_eq!(
            run_scaled(&mut c, r + 800, 45, true, 1.0),
            BeatClass::Ectopic
        );
        assert_eq!(
            run_scaled(&mut c, r + 1200, 45, false, 0.2),
            BeatClass::Intrinsic
        );
        // Four times the usual size and another shape: electrode motion, not an extrasystole.
        assert_eq!(
            run_scaled(&mut c, r + 1440, 45, true, 4.0),
            BeatClass::Noise
        );
    }

    #[test]
    fn a_ventricular_run_broken_by_extrasystoles_does_not_become_the_usual_beat() {
        let mut c = Classifier::new(2);
        let mut r = learn_usual(&mut c, 60, 6);
        // Wide beats of another shape, every other one premature (a salvo of ventricular beats at
        // irregular coupling): the on-time ones never form a run, so all stay ectopic.
        for _ in 0..6 {
            r += 280;
            assert_eq!(run(&mut c, r, 80, true), BeatClass::Ectopic);
            r += 400;
            assert_eq!(run(&mut c, r, 80, true), BeatClass::Ectopic);
        }
    }

    #[test]
    fn an_extrasystole_first_does_not_become_the_usual_beat() {
        let mut c = Classifier::new(2);
        assert_eq!(run(&mut c, 400, 60, true), BeatClass::Intrinsic);
        let mut r = 400;
        for _ in 0..5 {
            r += 400;
            assert_eq!(run(&mut c, r, 45, false), BeatClass::Intrinsic);
        }
        assert_eq!(run(&mut c, r + 240, 60, true), BeatClass::Ectopic);
    }

    #[test]
    fn a_run_of_a_new_shape_on_time_becomes_the_usual_beat() {
        let mut c = Classifier::new(2);
        let mut r = learn_usual(&mut c, 45, 5);
        // The conduction changes for good: the first beats of the new shape are ectopic (very unlike,
        // not yet a run), from the run's end on it is the usual beat.
        let classes: Vec<BeatClass> = (0..8)
            .map(|_| {
                r += 400;
                run(&mut c, r, 45, true)
            })
            .collect();
        assert_eq!(classes[..3], [BeatClass::Ectopic; 3]);
        assert!(
            classes[3..].iter().all(|k| *k == BeatClass::Intrinsic),
            "{classes:?}"
        );
        // And the old shape, premature, is now the odd one.
        assert_eq!(run(&mut c, r + 240, 45, false), BeatClass::Ectopic);
    }

    #[test]
    fn paced_and_undelineated_beats_keep_their_class() {
        let mut c = Classifier::new(2);
        let w = window(false);
        let shape = || Shape {
            window: &w,
            len: LEN,
            r_index: R,
            onset_index: None,
            fs_hz: FS,
        };
        assert_eq!(c.classify(400, None, false, shape()), BeatClass::Unknown);
        assert_eq!(c.classify(800, Some(60), true, shape()), BeatClass::Paced);
        // A window too short to sample is judged on rhythm and width alone.
        let short = Shape {
            window: &w,
            len: LEN,
            r_index: 10,
            onset_index: None,
            fs_hz: FS,
        };
        assert_eq!(
            c.classify(1200, Some(45), false, short),
            BeatClass::Intrinsic
        );
    }

    /// Two leads of a paced beat as a recorder at 250–360 Hz leaves it: a narrow residual spike
    /// (σ 2 ms) 80 ms before R, then a wide negative complex; or a fusion beat: the same spike, then a
    /// narrower upright complex.
    fn paced_window(fusion: bool) -> Vec<Vec<f64>> {
        let g = |i: usize, c: f64, w_ms: f64, a: f64| {
            let t = (i as f64 - c) * 1000.0 / FS;
            a * (-0.5 * (t / w_ms).powi(2)).exp()
        };
        (0..2)
            .map(|lead| {
                let s = if lead == 0 { 1.0 } else { -0.6 };
                (0..LEN)
                    .map(|i| {
                        let spike = g(i, R as f64 - 40.0, 2.0, 1500.0);
                        let complex = if fusion {
                            g(i, R as f64, 14.0, 1200.0)
                        } else {
                            -g(i, R as f64, 30.0, 1500.0)
                        };
                        s * (spike + complex)
                    })
                    .collect()
            })
            .collect()
    }

    /// Classify window `w` with the QRS onset 86 ms before R (the paced windows' spike foot).
    fn run_shape(c: &mut Classifier, r: u64, qrsd: u64, w: &[Vec<f64>]) -> BeatClass {
        run_with_onset(c, r, qrsd, w, R - 43)
    }

    fn run_with_onset(
        c: &mut Classifier,
        r: u64,
        qrsd: u64,
        w: &[Vec<f64>],
        onset: usize,
    ) -> BeatClass {
        c.classify(
            r,
            Some(qrsd),
            false,
            Shape {
                window: w,
                len: LEN,
                r_index: R,
                onset_index: Some(onset),
                fs_hz: FS,
            },
        )
    }

    #[test]
    fn a_run_of_spiked_wide_beats_of_one_shape_is_paced_and_fusion_is_not() {
        let mut c = Classifier::new(2);
        let (paced, fusion) = (paced_window(false), paced_window(true));
        let mut r = 0;
        // 180 ms wide. The run that confirms the paced morphology is not yet classed paced.
        for _ in 0..PACED_CONFIRM {
            r += 400;
            assert_ne!(run_shape(&mut c, r, 90, &paced), BeatClass::Paced);
            assert_eq!(c.unflagged_stimulus(), None);
        }
        r += 400;
        assert_eq!(run_shape(&mut c, r, 90, &paced), BeatClass::Paced);
        // The stimulus is the spike's foot: a few ms before its peak (R − 80 ms = index 110).
        let foot = c.unflagged_stimulus().unwrap();
        assert!((104..=110).contains(&foot), "{foot}");
        r += 400;
        assert_ne!(run_shape(&mut c, r, 60, &fusion), BeatClass::Paced);
        assert_eq!(c.unflagged_stimulus(), None);
        r += 400;
        assert_eq!(run_shape(&mut c, r, 90, &paced), BeatClass::Paced);
    }

    #[test]
    fn narrow_r_waves_are_never_paced_even_when_wide() {
        let mut c = Classifier::new(2);
        // The conducted beat's R (σ 10 ms, 20 ms after the onset) is too broad for a spike, however
        // long the QRS measures.
        let w = window(false);
        let mut r = 0;
        for _ in 0..3 * PACED_CONFIRM {
            r += 400;
            assert_eq!(
                run_with_onset(&mut c, r, 90, &w, R - 10),
                BeatClass::Intrinsic
            );
        }
    }

    #[test]
    fn spiked_beats_that_are_narrow_do_not_confirm_a_paced_morphology() {
        let mut c = Classifier::new(2);
        let paced = paced_window(false);
        let mut r = 0;
        // 120 ms: narrower than a ventricular paced complex.
        for _ in 0..3 * PACED_CONFIRM {
            r += 400;
            assert_ne!(run_shape(&mut c, r, 60, &paced), BeatClass::Paced);
        }
    }

    #[test]
    fn an_alternating_conduction_on_time_becomes_usual_and_extrasystoles_stay_ectopic() {
        let mut c = Classifier::new(2);
        // Both conducted: each follows the sinus P wave.
        let (usual, other) = (with_p(&window(false)), with_p(&window(true)));
        let mut r = learn(&mut c, &usual, &[400], 5);
        // The second shape alternates with the first, on time and no wider (e.g. intermittent
        // aberrancy): its first beats are very unlike the usual one and ectopic, but once it has come
        // on time `ALT_USUAL_ON_TIME` times it is a usual shape too.
        let mut classes = Vec::new();
        for _ in 0..2 * ALT_USUAL_ON_TIME + 4 {
            r += 400;
            classes.push(run_with_onset(&mut c, r, 45, &other, R - 10));
            r += 400;
            assert_eq!(
                run_with_onset(&mut c, r, 45, &usual, R - 10),
                BeatClass::Intrinsic
            );
        }
        assert_eq!(classes[0], BeatClass::Ectopic);
        let settled = &classes[ALT_USUAL_ON_TIME as usize + 1..];
        assert!(
            settled.iter().all(|k| *k == BeatClass::Intrinsic),
            "{classes:?}"
        );
    }

    #[test]
    fn a_premature_shape_never_becomes_usual() {
        let mut c = Classifier::new(2);
        let (usual, other) = (window(false), window(true));
        let mut r = learn(&mut c, &usual, &[400], 5);
        // Bigeminy: every other beat an extrasystole at 60 % of the RR.
        for _ in 0..3 * ALT_USUAL_ON_TIME {
            r += 240;
            assert_eq!(
                run_with_onset(&mut c, r, 47, &other, R - 10),
                BeatClass::Ectopic
            );
            r += 560;
            assert_eq!(
                run_with_onset(&mut c, r, 45, &usual, R - 10),
                BeatClass::Intrinsic
            );
        }
    }

    /// `w` with a P wave (150 µV, σ 20 ms) 120 ms before the QRS onset at `R − 10` in every lead: a
    /// beat conducted from the atria.
    fn with_p(w: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let p_index = (R - 10) as f64 - 0.120 * FS;
        w.iter()
            .map(|l| {
                l.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let t = (i as f64 - p_index) * 1000.0 / FS;
                        v + 150.0 * (-0.5 * (t / 20.0).powi(2)).exp()
                    })
                    .collect()
            })
            .collect()
    }

    /// Classes of `n` on-time beats of the extrasystole's shape after 30 usual beats with a P wave,
    /// with or without a P wave of their own.
    fn run_of_new_shape(n: usize, p_wave: bool) -> Vec<BeatClass> {
        let mut c = Classifier::new(2);
        let usual = with_p(&window(false));
        let other = if p_wave {
            with_p(&window(true))
        } else {
            window(true)
        };
        let mut r = learn(&mut c, &usual, &[400], 30);
        (0..n)
            .map(|_| {
                r += 400;
                run_with_onset(&mut c, r, 45, &other, R - 10)
            })
            .collect()
    }

    #[test]
    fn a_run_of_a_new_shape_without_the_p_wave_stays_ectopic() {
        // With the P wave: the conduction changed; no wider than the usual beat, each is conducted
        // from the first, and the run becomes the usual beat.
        let conducted = run_of_new_shape(12, true);
        assert!(
            conducted.iter().all(|k| *k == BeatClass::Intrinsic),
            "{conducted:?}"
        );
        // Without it: a ventricular rhythm at the sinus rate, every beat ectopic.
        let ventricular = run_of_new_shape(12, false);
        assert!(
            ventricular.iter().all(|k| *k == BeatClass::Ectopic),
            "{ventricular:?}"
        );
    }

    #[test]
    fn a_wide_run_with_the_p_wave_only_now_and_then_stays_ectopic() {
        // A ventricular escape rhythm with the atria dissociated (MIT-BIH 207): sinus P waves
        // march through and land before every other QRS. Half the run lacks the P wave, so no
        // majority does; the run's mean P likeness still falls far below the usual beats'.
        let mut c = Classifier::new(2);
        let usual = with_p(&window(false));
        let (with, without) = (with_p(&window(true)), window(true));
        let mut r = learn(&mut c, &usual, &[400], 30);
        let classes: Vec<_> = (0..12)
            .map(|k| {
                r += 400;
                let w = if k % 2 == 0 { &with } else { &without };
                run_with_onset(&mut c, r, 70, w, R - 10)
            })
            .collect();
        assert!(
            classes.iter().all(|k| *k == BeatClass::Ectopic),
            "{classes:?}"
        );
    }

    #[test]
    fn an_alternating_shape_without_the_p_wave_never_becomes_usual() {
        let mut c = Classifier::new(2);
        let (usual, other) = (with_p(&window(false)), window(true));
        let mut r = learn(&mut c, &usual, &[400], 30);
        // On time and no wider, alternating with the conducted beat, but never after a P wave
        // (ventricular bigeminy or a bidirectional rhythm at the sinus rate): it stays ectopic.
        for _ in 0..3 * ALT_USUAL_ON_TIME {
            r += 400;
            assert_eq!(
                run_with_onset(&mut c, r, 45, &other, R - 10),
                BeatClass::Ectopic
            );
            r += 400;
            assert_eq!(
                run_with_onset(&mut c, r, 45, &usual, R - 10),
                BeatClass::Intrinsic
            );
        }
    }

    #[test]
    fn the_p_wave_is_found_at_a_somewhat_other_pr_interval() {
        // The P wave 16 ms later (a shorter PR, as in pre-excitation): still the usual P wave.
        let mut c = Classifier::new(2);
        let usual = with_p(&window(false));
        let mut r = learn(&mut c, &usual, &[400], 30);
        let shifted: Vec<Vec<f64>> = usual
            .iter()
            .map(|l| (0..LEN).map(|i| l[i.saturating_sub(8)]).collect())
            .collect();
        r += 400;
        run_with_onset(&mut c, r, 45, &shifted, R - 10);
        assert!(c.beat_p.is_some_and(|p| p > 0.95), "{:?}", c.beat_p);
        assert!(!c.lacks_p());
        // A beat without it lacks it.
        r += 400;
        run_with_onset(&mut c, r, 45, &window(false), R - 10);
        assert!(c.lacks_p(), "{:?} {}", c.beat_p, c.p_usual);
    }

    /// Two leads from functions of the time from R, ms (µV).
    fn leads(l0: impl Fn(f64) -> f64, l1: impl Fn(f64) -> f64) -> Vec<Vec<f64>> {
        let t = |i: usize| (i as f64 - R as f64) * 1000.0 / FS;
        vec![
            (0..LEN).map(|i| l0(t(i))).collect(),
            (0..LEN).map(|i| l1(t(i))).collect(),
        ]
    }

    fn gauss(t: f64, centre: f64, w_ms: f64, a: f64) -> f64 {
        a * (-0.5 * ((t - centre) / w_ms).powi(2)).exp()
    }

    /// Usual beats at `rrs` (cycled) until the context is learnt; returns the last R.
    fn learn(c: &mut Classifier, usual: &[Vec<f64>], rrs: &[u64], beats: usize) -> u64 {
        let mut r = 0;
        for k in 0..beats {
            r += rrs[k % rrs.len()];
            assert_eq!(
                run_with_onset(c, r, 45, usual, R - 10),
                BeatClass::Intrinsic
            );
        }
        r
    }

    #[test]
    fn the_usual_beat_with_r_found_at_its_other_end_is_still_the_usual_beat() {
        let mut c = Classifier::new(2);
        let usual = window(false);
        let mut r = learn(&mut c, &usual, &[400], 6);
        // The same complex with R taken 72 ms late (near the end of a wide QRS, MIT-BIH 232's
        // premature beats), premature: re-aligned within the template's half-width it is the usual
        // beat (beyond ±60 ms it read "ectopic").
        let late: Vec<Vec<f64>> = usual
            .iter()
            .map(|l| (0..LEN).map(|i| l[i.saturating_sub(36)]).collect())
            .collect();
        r += 240;
        assert_eq!(
            run_with_onset(&mut c, r, 45, &late, R - 46),
            BeatClass::Intrinsic
        );
    }

    fn shape_of(w: &[Vec<f64>]) -> Shape<'_> {
        Shape {
            window: w,
            len: LEN,
            r_index: R,
            onset_index: Some(R - 10),
            fs_hz: FS,
        }
    }

    #[test]
    fn in_atrial_fibrillation_a_wide_beat_keeping_the_usual_shape_in_every_lead_is_aberrant() {
        let usual = window(false);
        // Wide (70 ms against 45) and ~0.75 alike in each lead: the usual activation with a late
        // wave added (a bundle branch still refractory).
        let aberrant = reshaped(0.8, 1.0);
        // About as alike over both leads, but one lead of the usual shape and one of another: the
        // activation changed direction (a ventricular focus).
        let focal = leads(
            |t| gauss(t, 0.0, 10.0, 1000.0),
            |t| gauss(t, -12.0, 8.0, 700.0) - gauss(t, 12.0, 8.0, 700.0),
        );
        let irregular = [400u64, 560, 300, 480, 620, 360];
        for (rrs, w, expected) in [
            (&irregular[..], &aberrant, BeatClass::Intrinsic),
            (&irregular[..], &focal, BeatClass::Ectopic),
            // In a regular rhythm a wide beat of another shape on time stays ectopic.
            (&[400u64][..], &aberrant, BeatClass::Ectopic),
        ] {
            let mut c = Classifier::new(2);
            let r = learn(&mut c, &usual, rrs, 30) + 400;
            let class = c.classify(r, Some(70), false, shape_of(w));
            let (all, shift) = c.likeness(&c.template);
            let lead_min = c.lead_min_likeness(&c.template, shift);
            assert!((0.55..0.85).contains(&all), "{all}");
            assert_eq!(class, expected, "{rrs:?}: {all:.2}, lead min {lead_min:.2}");
        }
    }

    #[test]
    fn a_lead_swollen_by_artefact_over_the_usual_beat_does_not_make_it_ectopic() {
        // The usual beat is large in lead 0 and small in lead 1 (a lead across its axis).
        let usual = leads(
            |t| gauss(t, 0.0, 10.0, 1000.0),
            |t| gauss(t, 0.0, 12.0, 150.0),
        );
        // Electrode motion in lead 1, ~8× its usual size.
        let motion = |t: f64| gauss(t, -30.0, 25.0, 1200.0) - gauss(t, 30.0, 20.0, 900.0);
        let over_beat = leads(|t| gauss(t, 0.0, 10.0, 1000.0), motion);
        let over_nothing = leads(|_| 0.0, motion);
        // A ventricular beat growing lead 1 as much: lead 0 is not the usual beat either.
        let focal = leads(
            |t| gauss(t, -15.0, 12.0, 800.0) - gauss(t, 15.0, 12.0, 700.0),
            motion,
        );
        for (w, expected) in [
            (&over_beat, BeatClass::Intrinsic),
            (&over_nothing, BeatClass::Noise),
            (&focal, BeatClass::Ectopic),
        ] {
            let mut c = Classifier::new(2);
            let r = learn(&mut c, &usual, &[400], 6) + 240;
            assert_eq!(c.classify(r, Some(45), false, shape_of(w)), expected);
        }
    }

    #[test]
    fn a_premature_beat_almost_of_the_usual_shape_but_resized_is_ectopic() {
        let usual = window(false);
        // Correlating 0.9–0.93 with the usual beat.
        let almost = reshaped(0.45, 1.0);
        let mut c = Classifier::new(2);
        learn(&mut c, &usual, &[400], 6);
        c.sample(&shape_of(&almost));
        let alike = c.likeness(&c.template).0;
        assert!((ALIKE..RESIZED_ALIKE).contains(&alike), "{alike}");
        for (gain, expected) in [(1.0, BeatClass::Intrinsic), (0.65, BeatClass::Ectopic)] {
            let mut c = Classifier::new(2);
            let r = learn(&mut c, &usual, &[400], 6) + 240;
            let w = reshaped(0.45, gain);
            assert_eq!(
                run_with_onset(&mut c, r, 45, &w, R - 10),
                expected,
                "{gain}"
            );
        }
    }

    #[test]
    fn bigeminy_of_small_beats_almost_of_the_usual_shape_stays_ectopic() {
        // Sinus rhythm with bigeminal extrasystoles almost of the usual shape at two thirds of its
        // size (MIT-BIH 223): ectopic, so they do not count as usual beats for the rhythm's
        // irregularity (classed intrinsic, they made the rhythm look irregular and were no longer
        // premature), however long the bigeminy lasts.
        let usual = window(false);
        let small = reshaped(0.45, 0.65);
        let mut c = Classifier::new(2);
        let mut r = learn(&mut c, &usual, &[400], 6);
        for k in 0..40 {
            r += 240;
            assert_eq!(
                run_with_onset(&mut c, r, 45, &small, R - 10),
                BeatClass::Ectopic,
                "cycle {k}"
            );
            r += 560;
            assert_eq!(
                run_with_onset(&mut c, r, 45, &usual, R - 10),
                BeatClass::Intrinsic
            );
        }
    }

    #[test]
    fn a_beat_of_another_shape_far_smaller_than_the_usual_one_is_not_ventricular() {
        let usual = window(false);
        // The extrasystole's RMS over the usual beat's, at gain 1.
        let mut c = Classifier::new(2);
        learn(&mut c, &usual, &[400], 6);
        c.sample(&shape_of(&window(true)));
        let size = c.amplitude_ratio(c.likeness(&c.template).1);
        for (ratio, expected) in [
            // A ventricular extrasystole: about the usual size or larger.
            (1.0, BeatClass::Ectopic),
            // Half the usual size: not a focus's spread; shaped very unlike the usual beat, not its
            // conduction either.
            (0.48, BeatClass::Unknown),
            // A fifth: not a QRS at all.
            (0.2, BeatClass::Noise),
        ] {
            let mut c = Classifier::new(2);
            let r = learn(&mut c, &usual, &[400], 6) + 240;
            let class = run_scaled(&mut c, r, 47, true, ratio / size);
            assert_eq!(class, expected, "{ratio}");
        }
    }

    #[test]
    fn a_beat_is_sampled_only_when_the_window_reaches_88_ms_either_side_of_r() {
        let w = window(false);
        // 88 ms = 44 samples at 500 Hz (the template's 80 ms and the ±8 ms shift).
        let at = |r_index: usize, len: usize| {
            Classifier::reaches(&Shape {
                window: &w,
                len,
                r_index,
                onset_index: None,
                fs_hz: FS,
            })
        };
        assert!(at(R, LEN));
        assert!(at(44, LEN) && !at(43, LEN));
        // After R one sample more: the interpolation reads the next one.
        assert!(at(R, R + 46) && !at(R, R + 45));
        // An unsampled beat is not judged: intrinsic, whatever its shape.
        let mut c = Classifier::new(2);
        let r = learn_usual(&mut c, 45, 6) + 240;
        let odd = window(true);
        let class = c.classify(
            r,
            Some(45),
            false,
            Shape {
                window: &odd,
                len: R + 44,
                r_index: R,
                onset_index: None,
                fs_hz: FS,
            },
        );
        assert_eq!(class, BeatClass::Intrinsic);
    }

    #[test]
    fn a_long_pause_does_not_make_the_next_beats_premature() {
        let usual = window(false);
        // Correlating ~0.7 with the usual beat, at its width: ectopic only when premature.
        let other = reshaped(1.0, 1.0);
        let mut c = Classifier::new(2);
        let mut r = learn(&mut c, &usual, &[400], 10);
        // A 3 s pause (beats lost in noise, a sinus arrest) …
        r += 3000;
        assert_eq!(
            run_with_onset(&mut c, r, 45, &usual, R - 10),
            BeatClass::Intrinsic
        );
        // … counts as one dropped beat at most: the next beat at the usual RR is on time.
        r += 400;
        assert_eq!(
            run_with_onset(&mut c, r, 45, &other, R - 10),
            BeatClass::Intrinsic
        );
    }
}
