//! Beat class from rhythm and morphology: a premature beat is `ectopic` when it is wider than the usual
//! beat or shaped differently from it.
//!
//! Width alone missed ventricular ectopy where it matters most here: in a CRT candidate's LBBB
//! (QRS ~150 ms) a premature ventricular complex is often less than 25 % wider than the conducted beat,
//! yet its shape differs in every lead. The usual beat's shape is a running template of the
//! conditioned signal around R, sampled at fixed ms steps (the same at every rate); a beat is compared
//! with it by the correlation over all leads. Premature but alike (an atrial premature beat, sinus
//! arrhythmia, atrial fibrillation) stays `intrinsic`.

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
/// RR under this share of the running mean RR is premature.
const PREMATURE: f64 = 0.8;
/// QRSd over this multiple of the running mean of usual beats is wide.
const WIDE: f64 = 1.25;
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
/// Consecutive on-time beats shaped differently after which their shape becomes the usual one (the
/// rhythm changed, e.g. a bundle-branch block appeared or capture was lost).
const ADOPT_AFTER: u32 = 4;
/// Weight of a new beat in the running means and the template.
const ALPHA: f64 = 0.1;

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
    /// Consecutive on-time beats shaped differently from the template.
    unlike_run: u32,
    rr_mean: f64,
    qrsd_mean: f64,
    last_r: Option<u64>,
}

/// What the classifier reads of a beat besides its class inputs.
pub(crate) struct Shape<'a> {
    /// Conditioned samples per lead.
    pub window: &'a [Vec<f64>],
    /// Samples of `window` that hold the beat.
    pub len: usize,
    /// Index of R in `window`.
    pub r_index: usize,
    pub fs_hz: f64,
}

impl Classifier {
    pub(crate) fn new(n_leads: usize) -> Self {
        Self {
            n_leads,
            template: vec![0.0; n_leads * POINTS],
            has_template: false,
            confirmed: false,
            beat: vec![0.0; n_leads * (POINTS + 2 * MAX_SHIFT)],
            unlike_run: 0,
            rr_mean: 0.0,
            qrsd_mean: 0.0,
            last_r: None,
        }
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
        let Some(qrsd) = qrsd_samples.map(|q| q as f64) else {
            return BeatClass::Unknown;
        };
        let rr = self.last_r.map(|p| (r - p.min(r)) as f64);
        self.last_r = Some(r);
        if paced {
            return BeatClass::Paced;
        }
        let sampled = self.sample(&shape);
        let (likeness, shift) = if sampled && self.has_template {
            let (c, shift) = self.likeness();
            (Some(c), shift)
        } else {
            (None, MAX_SHIFT)
        };
        let premature =
            matches!(rr, Some(rr) if self.rr_mean > 0.0 && rr < PREMATURE * self.rr_mean);
        let wide = self.qrsd_mean > 0.0 && qrsd > WIDE * self.qrsd_mean;
        let judged = likeness.filter(|_| self.confirmed);
        let different = judged.is_some_and(|c| c < DIFFERENT);
        if premature && (wide || different) {
            return BeatClass::Ectopic;
        }
        if let Some(rr) = rr {
            self.rr_mean = ema(self.rr_mean, rr);
        }
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
                }
                self.qrsd_mean = ema(self.qrsd_mean, qrsd);
            }
            Some(c) if self.confirmed => {
                // On time but shaped differently: one such beat is not the new usual beat, a run is
                // (the conduction changed, or pacing began unseen).
                self.unlike_run += 1;
                if self.unlike_run >= ADOPT_AFTER {
                    self.adopt_current(MAX_SHIFT);
                    self.qrsd_mean = qrsd;
                    self.unlike_run = 0;
                } else if c < UNLIKE || wide {
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

    /// Samples the beat at fixed ms steps around R (linear interpolation), mean removed per lead, into
    /// `self.beat`. False when the window does not reach far enough.
    fn sample(&mut self, s: &Shape<'_>) -> bool {
        let step = STEP_MS * s.fs_hz / 1000.0;
        let reach = (HALF_MS / STEP_MS + MAX_SHIFT as f64) * step;
        let r = s.r_index as f64;
        if r < reach || r + reach + 1.0 >= s.len as f64 || s.window.len() != self.n_leads {
            return false;
        }
        let n = POINTS + 2 * MAX_SHIFT;
        let first = r - reach;
        for (lead, out) in s.window.iter().zip(self.beat.chunks_exact_mut(n)) {
            let mut sum = 0.0;
            for (j, o) in out.iter_mut().enumerate() {
                let t = first + j as f64 * step;
                let i = t as usize;
                let f = t - i as f64;
                *o = lead[i] + f * (lead[i + 1] - lead[i]);
                sum += *o;
            }
            let mean = sum / n as f64;
            out.iter_mut().for_each(|o| *o -= mean);
        }
        true
    }

    /// Largest correlation over all leads between the template and the beat shifted by up to
    /// `MAX_SHIFT` steps, and the offset of the best-aligned span in `self.beat` (`MAX_SHIFT`: none).
    fn likeness(&self) -> (f64, usize) {
        let n = POINTS + 2 * MAX_SHIFT;
        let tt: f64 = self.template.iter().map(|v| v * v).sum();
        let mut best = (f64::NEG_INFINITY, MAX_SHIFT);
        for shift in 0..=2 * MAX_SHIFT {
            let (mut xy, mut xx) = (0.0, 0.0);
            for (t, b) in self
                .template
                .chunks_exact(POINTS)
                .zip(self.beat.chunks_exact(n))
            {
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

    /// The template becomes the beat's span starting `shift` steps into `self.beat`.
    fn adopt_current(&mut self, shift: usize) {
        let n = POINTS + 2 * MAX_SHIFT;
        for (t, b) in self
            .template
            .chunks_exact_mut(POINTS)
            .zip(self.beat.chunks_exact(n))
        {
            t.copy_from_slice(&b[shift..shift + POINTS]);
        }
        self.has_template = true;
    }

    /// The template moves a step `ALPHA` towards the beat's span starting `shift` steps in.
    fn blend_current(&mut self, shift: usize) {
        let n = POINTS + 2 * MAX_SHIFT;
        for (t, b) in self
            .template
            .chunks_exact_mut(POINTS)
            .zip(self.beat.chunks_exact(n))
        {
            for (t, v) in t.iter_mut().zip(&b[shift..shift + POINTS]) {
                *t += ALPHA * (v - *t);
            }
        }
    }
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
        let w = window(extrasystole);
        c.classify(
            r,
            Some(qrsd),
            false,
            Shape {
                window: &w,
                len: LEN,
                r_index: R,
                fs_hz: FS,
            },
        )
    }

    #[test]
    fn a_premature_beat_of_another_shape_is_ectopic_even_when_not_wider() {
        let mut c = Classifier::new(2);
        let mut r = 0;
        for _ in 0..6 {
            r += 400;
            assert_eq!(run(&mut c, r, 45, false), BeatClass::Intrinsic);
        }
        // 60 % of the RR, same width: ectopic by shape alone.
        assert_eq!(run(&mut c, r + 240, 47, true), BeatClass::Ectopic);
        assert_eq!(run(&mut c, r + 800, 45, false), BeatClass::Intrinsic);
        // Premature with the usual shape (an atrial premature beat): intrinsic.
        assert_eq!(run(&mut c, r + 1040, 45, false), BeatClass::Intrinsic);
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
        let mut r = 0;
        for _ in 0..5 {
            r += 400;
            run(&mut c, r, 45, false);
        }
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
            fs_hz: FS,
        };
        assert_eq!(c.classify(400, None, false, shape()), BeatClass::Unknown);
        assert_eq!(c.classify(800, Some(60), true, shape()), BeatClass::Paced);
        // A window too short to sample is judged on rhythm and width alone.
        let short = Shape {
            window: &w,
            len: LEN,
            r_index: 10,
            fs_hz: FS,
        };
        assert_eq!(
            c.classify(1200, Some(45), false, short),
            BeatClass::Intrinsic
        );
    }
}
