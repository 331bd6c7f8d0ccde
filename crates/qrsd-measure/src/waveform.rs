//! Beat waveform snippets, the running median template, morphology correlation and the median beat.

use crate::stats;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Raw (conditioned) samples around one beat, for the median beat and the morphology check.
///
/// Every lead's samples start at `first_sample` (a session sample number at the source rate) and
/// should span R − 400 ms … R + 400 ms; shorter snippets are used as far as they reach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeatWaveform {
    /// Sample number of the first sample of every lead's slice.
    pub first_sample: u64,
    /// Lead name → samples in µV (at least II, V1, V6 when acquired).
    pub leads: Vec<(String, Vec<f32>)>,
}

impl BeatWaveform {
    /// Samples of lead `name` (case-insensitive).
    pub fn lead(&self, name: &str) -> Option<&[f32]> {
        self.leads
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// One lead of a template or median beat, in R-relative coordinates.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Aligned {
    /// Index of the R sample in `uv`.
    pub r_index: usize,
    /// Samples.
    pub uv: Vec<f32>,
}

/// Per-sample median of several snippets of one lead, aligned on R.
/// `snippets` holds (r_index, samples). Returns `None` when nothing overlaps.
pub(crate) fn median_aligned(snippets: &[(usize, &[f32])]) -> Option<Aligned> {
    if snippets.is_empty() {
        return None;
    }
    let before = snippets.iter().map(|(r, _)| *r).min()?;
    let after = snippets
        .iter()
        .map(|(r, s)| s.len().saturating_sub(*r))
        .min()?;
    if after == 0 {
        return None;
    }
    let mut uv = Vec::with_capacity(before + after);
    let mut col = Vec::with_capacity(snippets.len());
    for k in 0..before + after {
        col.clear();
        for (r, s) in snippets {
            col.push(f64::from(s[r - before + k]));
        }
        uv.push(stats::median(&col).unwrap_or(0.0) as f32);
    }
    Some(Aligned {
        r_index: before,
        uv,
    })
}

/// Pearson correlation between a beat and a template over the R-relative window
/// `[from, to]` (samples, may be negative), per lead mean-removed and concatenated over `leads`.
/// R-relative sample ranges in `exclude` (pacing stimuli and their recharge) are left out: a
/// stimulus is tens of mV and would otherwise dominate the correlation.
pub(crate) fn correlation(
    beat: &BeatWaveform,
    r_sample: u64,
    template: &BTreeMap<String, Aligned>,
    leads: &[String],
    (from, to): (i64, i64),
    exclude: &[(i64, i64)],
) -> Option<f64> {
    let mut a = Vec::new();
    let mut b = Vec::new();
    for name in leads {
        let (Some(t), Some(s)) = (template.get(name), beat.lead(name)) else {
            continue;
        };
        let r_b = r_sample.checked_sub(beat.first_sample)? as i64;
        let r_t = t.r_index as i64;
        let mut xa = Vec::new();
        let mut xb = Vec::new();
        for k in from..=to {
            if exclude.iter().any(|&(a, b)| (a..=b).contains(&k)) {
                continue;
            }
            let (ib, it) = (r_b + k, r_t + k);
            if ib < 0 || it < 0 || ib as usize >= s.len() || it as usize >= t.uv.len() {
                continue;
            }
            let (va, vb) = (f64::from(s[ib as usize]), f64::from(t.uv[it as usize]));
            if !(va.is_finite() && vb.is_finite()) {
                continue; // missing samples (a gap) are left out, never interpolated
            }
            xa.push(va);
            xb.push(vb);
        }
        if xa.len() < 3 {
            continue;
        }
        let ma = xa.iter().sum::<f64>() / xa.len() as f64;
        let mb = xb.iter().sum::<f64>() / xb.len() as f64;
        a.extend(xa.iter().map(|v| v - ma));
        b.extend(xb.iter().map(|v| v - mb));
    }
    stats::pearson(&a, &b).filter(|r| r.is_finite())
}

/// Builds a per-lead template from several beats (R-aligned per-sample median).
pub(crate) fn template<'a>(
    beats: impl Iterator<Item = (u64, &'a BeatWaveform)> + Clone,
    leads: &[String],
) -> BTreeMap<String, Aligned> {
    let mut out = BTreeMap::new();
    for name in leads {
        let snippets: Vec<(usize, &[f32])> = beats
            .clone()
            .filter_map(|(r, w)| {
                let s = w.lead(name)?;
                let ri = usize::try_from(r.checked_sub(w.first_sample)?).ok()?;
                (ri < s.len()).then_some((ri, s))
            })
            .collect();
        if let Some(a) = median_aligned(&snippets) {
            out.insert(name.clone(), a);
        }
    }
    out
}

/// The median beat of a completed run, for the report's picture.
///
/// Indices are positions in the `uv` arrays (all leads share one time axis: index `r_index` is
/// the R sample; sample spacing `1000 / fs_hz` ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MedianBeat {
    /// Sampling rate of the arrays.
    pub fs_hz: f64,
    /// Beats that went into the median.
    pub n_beats: usize,
    /// Index of R.
    pub r_index: usize,
    /// Index of the median global QRS onset.
    pub onset_index: Option<usize>,
    /// Index of the median global QRS offset.
    pub offset_index: Option<usize>,
    /// Index of the median first pacing stimulus (paced runs).
    pub stim_index: Option<usize>,
    /// Per lead: samples and that lead's median onset/offset.
    pub leads: BTreeMap<String, MedianLead>,
}

/// One lead of the median beat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MedianLead {
    /// µV samples on the shared time axis.
    pub uv: Vec<f32>,
    /// Index of this lead's median QRS onset.
    pub onset_index: Option<usize>,
    /// Index of this lead's median QRS offset.
    pub offset_index: Option<usize>,
}

/// Index in an R-aligned array for a median R-relative offset (samples).
pub(crate) fn index_at(r_index: usize, len: usize, rel: Option<f64>) -> Option<usize> {
    let i = r_index as f64 + rel?.round();
    (i >= 0.0 && (i as usize) < len).then_some(i as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_aligned_uses_common_span() {
        let a = [0.0f32, 1.0, 5.0, 1.0, 0.0];
        let b = [1.0f32, 3.0, 1.0];
        let m = median_aligned(&[(2, &a[..]), (1, &b[..])]).unwrap();
        assert_eq!(m.r_index, 1);
        assert_eq!(m.uv, vec![1.0, 4.0, 1.0]);
    }
}
