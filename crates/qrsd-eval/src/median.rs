//! The representative (median) beat: what 12-lead interpretive programs measure global intervals on.
//!
//! The beats of a run are aligned on R and averaged sample by sample (median, so that one noisy or
//! ectopic beat cannot pull it); noise falls by about √N, so the slow foot of a QRS stands out of it
//! where it is lost in one beat. The median beat is delineated by the same delineator and models as a
//! single beat, and its boundaries, relative to R, are given to every beat of the run. Scoring these
//! beats per record (the median of their QRSd errors) gives the site-level error of a product that
//! reports the median beat's QRSd, to set beside the median of per-beat values.

use qrsd_condition::{LeadFilter, PaceBlanker};
use qrsd_delineate::{BeatHints, Delineation, Delineator};
use qrsd_pipeline::{Beat, BeatClass, Boundary, PipelineConfig, PipelineError};

/// The record's leads conditioned as the pipeline conditions them (stimulus blanking, then the lead
/// filter), indexed by input sample number: `out[l][s]` is the conditioned value of input sample `s`
/// (the filter's whole-sample delay removed, as the pipeline reports times; the last samples, as many
/// as that delay, have no conditioned value).
pub fn condition(
    leads_uv: &[&[f32]],
    cfg: &PipelineConfig,
) -> Result<Vec<Vec<f64>>, PipelineError> {
    let n_leads = leads_uv.len();
    let n = leads_uv.iter().map(|l| l.len()).min().unwrap_or(0);
    let mut blanker = PaceBlanker::new(cfg.pace, cfg.fs_hz, n_leads.max(1))?;
    let mut filters = (0..n_leads)
        .map(|_| LeadFilter::new(&cfg.filter, cfg.fs_hz))
        .collect::<Result<Vec<_>, _>>()?;
    let delay = filters
        .first()
        .map_or(0, |f| f.group_delay_samples().round().max(0.0) as usize);
    let mut filtered = vec![Vec::with_capacity(n + delay); n_leads];
    let mut frame = vec![0.0; n_leads];
    let mut out = vec![0.0; n_leads];
    let mut event = None;
    let mut push = |out: &[f64], filtered: &mut Vec<Vec<f64>>| {
        for ((f, x), y) in filters.iter_mut().zip(out).zip(filtered.iter_mut()) {
            y.push(f.process(*x));
        }
    };
    for i in 0..n {
        for (l, lead) in leads_uv.iter().enumerate() {
            let v = f64::from(lead[i]);
            // Non-finite samples hold the last valid value, as in the pipeline.
            if v.is_finite() {
                frame[l] = v;
            }
        }
        if blanker.process(&frame, false, &mut out, &mut event) {
            push(&out, &mut filtered);
        }
    }
    while blanker.drain(&mut out) {
        push(&out, &mut filtered);
    }
    for y in filtered.iter_mut() {
        y.drain(..delay.min(y.len()));
    }
    Ok(filtered)
}

/// Beats of the run that go into the median beat: those of the record's most common class
/// (intrinsic or paced), whose whole delineation window lies inside the record.
fn run_members(beats: &[Beat], pre: usize, post: usize, n: usize) -> (BeatClass, Vec<usize>) {
    let count = |c: BeatClass| beats.iter().filter(|b| b.class == c).count();
    let class = if count(BeatClass::Paced) > count(BeatClass::Intrinsic) {
        BeatClass::Paced
    } else {
        BeatClass::Intrinsic
    };
    let members = beats
        .iter()
        .enumerate()
        .filter(|(_, b)| {
            let r = b.r_sample as usize;
            b.class == class && r >= pre && r + post < n
        })
        .map(|(i, _)| i)
        .collect();
    (class, members)
}

/// The beats of `beats` with the boundaries of their run's median beat (see the module text); beats
/// outside the run keep their own. `conditioned` is [`condition`]'s output for the same record.
pub fn with_median_beat(
    beats: &[Beat],
    conditioned: &[Vec<f64>],
    cfg: &PipelineConfig,
) -> Vec<Beat> {
    let mut out = beats.to_vec();
    let n_leads = conditioned.len();
    let n = conditioned.iter().map(Vec::len).min().unwrap_or(0);
    let mut delineator = match &cfg.models {
        Some(m) => Delineator::with_models(cfg.delineation, cfg.fs_hz, n_leads, m.clone()),
        None => Delineator::new(cfg.delineation, cfg.fs_hz, n_leads),
    };
    let (pre, post) = (delineator.pre_samples(), delineator.post_samples());
    let (class, members) = run_members(beats, pre, post, n);
    if members.len() < 2 {
        return out;
    }
    let len = pre + post + 1;
    let mut window = vec![vec![0.0; len]; n_leads];
    let mut col = Vec::with_capacity(members.len());
    for (l, w) in window.iter_mut().enumerate() {
        for (k, v) in w.iter_mut().enumerate() {
            col.clear();
            col.extend(
                members
                    .iter()
                    .map(|&i| conditioned[l][beats[i].r_sample as usize - pre + k]),
            );
            *v = crate::site::median(&mut col);
        }
    }
    let mut hints = BeatHints::default();
    if class == BeatClass::Paced {
        let mut rel: Vec<f64> = members
            .iter()
            .filter_map(|&i| {
                let b = &beats[i];
                b.pace_sample.map(|p| p as f64 - b.r_sample as f64)
            })
            .collect();
        if !rel.is_empty() {
            let s = pre as f64 + crate::site::median(&mut rel).round();
            let width = ((cfg.pace.max_width_ms + cfg.pace.blank_ms) * cfg.fs_hz / 1000.0).ceil();
            if s >= 0.0 && s < len as f64 {
                let s = s as usize;
                hints.stimulus = Some((s, (s + width as usize).min(len - 1)));
            }
        }
    }
    let views: Vec<&[f64]> = window.iter().map(Vec::as_slice).collect();
    let mut d = Delineation::default();
    delineator.delineate_with(&views, pre, hints, &mut d);
    let at = |r: u64, i: Option<usize>| i.and_then(|i| (r + i as u64).checked_sub(pre as u64));
    for &i in &members {
        let b = &mut out[i];
        let r = b.r_sample;
        b.global = Boundary {
            onset_sample: at(r, d.global.onset),
            offset_sample: at(r, d.global.offset),
        };
        for (lb, bounds) in b.leads.iter_mut().zip(&d.leads) {
            lb.bounds = Boundary {
                onset_sample: at(r, bounds.onset),
                offset_sample: at(r, bounds.offset),
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use qrsd_pipeline::Pipeline;
    use qrsd_synth::{generate, NoiseConfig, Rhythm, SynthConfig};

    #[test]
    fn the_median_beat_of_a_simulated_run_reads_its_true_qrsd() {
        for rhythm in [Rhythm::Intrinsic, Rhythm::Biv] {
            let cfg = SynthConfig {
                fs_hz: 500.0,
                rhythm,
                qrsd_ms: 140.0,
                intrinsic_qrsd_ms: 150.0,
                noise: NoiseConfig::moderate(),
                seed: 21,
                ..SynthConfig::default()
            };
            let rec = generate(&cfg, 20.0).unwrap();
            let pcfg = PipelineConfig::new(rec.fs_hz, rec.lead_names());
            let leads = rec.leads_f32();
            let beats = Pipeline::new(pcfg.clone())
                .unwrap()
                .run_to_end(&leads, Some(rec.pace_flags.as_slice()));
            let views: Vec<&[f32]> = leads.iter().map(Vec::as_slice).collect();
            let conditioned = condition(&views, &pcfg).unwrap();
            // The last few samples (the filter's delay) have no conditioned value yet.
            let n = leads[0].len();
            assert!((n - 5..=n).contains(&conditioned[0].len()));
            let out = with_median_beat(&beats, &conditioned, &pcfg);
            assert_eq!(out.len(), beats.len());
            // Every beat of the run carries the median beat's QRSd, shifted to its own R.
            let q: Vec<f64> = out
                .iter()
                .filter_map(|b| b.global.duration_ms(rec.fs_hz))
                .collect();
            assert!(q.len() >= beats.len() - 2, "{} of {}", q.len(), beats.len());
            let mut distinct = q.clone();
            distinct.dedup();
            assert!(distinct.len() <= 3, "{distinct:?}");
            let mut truth: Vec<f64> = rec.truth.iter().map(|t| t.qrsd_ms).collect();
            let t = crate::site::median(&mut truth);
            let mut q = q;
            let m = crate::site::median(&mut q);
            assert!(
                (m - t).abs() <= 6.0,
                "{rhythm:?}: median beat {m} ms, truth {t} ms"
            );
        }
    }
}
