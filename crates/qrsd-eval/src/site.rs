//! Site-level accuracy: what the product reports for a pacing site is the median of a run of beats'
//! QRSd, so the error that matters is per record — the median of its beats' QRSd errors — and it must
//! not depend on the width of the QRS. Records are binned by their mean reference QRSd (the CRT
//! thresholds at 130 and 150 ms), beats by their own reference QRSd: an average over all records is
//! dominated by the many narrow ones and hides a bias on the few wide ones, who are the patients.

use crate::{Stats, Tally};

/// Reference-QRSd bins, ms: `[lo, hi)`.
pub const WIDTH_BINS_MS: [(f64, f64); 4] = [
    (0.0, 110.0),
    (110.0, 130.0),
    (130.0, 150.0),
    (150.0, f64::INFINITY),
];

/// Labels of [`WIDTH_BINS_MS`].
pub const WIDTH_BIN_LABELS: [&str; 4] = ["<110", "110-130", "130-150", ">=150"];

/// Leads (and GLOBAL) scored at site level.
pub const SITE_LEADS: [&str; 4] = ["GLOBAL", "II", "V1", "V6"];

/// Site-level targets: |mean| and SD of the per-record median QRSd error over all records, and the
/// largest |mean| allowed in any width bin, ms.
pub const SITE_MEAN_MS: f64 = 3.0;
/// See [`SITE_MEAN_MS`].
pub const SITE_SD_MS: f64 = 7.0;
/// See [`SITE_MEAN_MS`].
pub const BIN_MEAN_MS: f64 = 5.0;

/// One record's site-level QRSd error for one lead.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordQrsd {
    /// Record name.
    pub record: String,
    /// Median of the record's per-beat QRSd errors (detected − reference), ms.
    pub median_error_ms: f64,
    /// Mean reference QRSd of the record's beats, ms.
    pub mean_ref_ms: f64,
    /// Mean measured QRSd of the same beats, ms.
    pub mean_measured_ms: f64,
    /// Beats with a value.
    pub beats: usize,
}

/// Site-level figures of one lead.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SiteLevel {
    /// Over all records: statistics of the per-record median errors.
    pub all: Stats,
    /// The same per width bin ([`WIDTH_BINS_MS`], by the record's mean reference QRSd).
    pub bins: [Stats; 4],
    /// Per beat, by the beat's own reference QRSd.
    pub beat_bins: [Stats; 4],
    /// Per record again, binned by the record's mean *measured* QRSd: whether a reading of qrsd in a
    /// band means the same to the cardiologists (calibration). Any estimator calibrated this way
    /// shows a slope against the reference's bins of −(its per-record error variance) / (the
    /// reference widths' variance), so the two views agree only when the per-record error is small.
    pub measured_bins: [Stats; 4],
}

/// Median of `v` (sorted in place; NaN-free input, not empty).
pub(crate) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn bin_of(w: f64) -> usize {
    WIDTH_BINS_MS
        .iter()
        .position(|(lo, hi)| (*lo..*hi).contains(&w))
        .unwrap_or(0)
}

/// Per record, the median QRSd error of `lead` (`GLOBAL`, `II`, ...) and its mean reference QRSd.
pub fn record_medians(per_record: &[(String, Tally)], lead: &str) -> Vec<RecordQrsd> {
    let key = format!("{lead}.qrsd");
    per_record
        .iter()
        .filter_map(|(name, t)| {
            let e = t.errors.get(&key).filter(|e| !e.is_empty())?;
            let w = t.ref_qrsd_ms.get(lead)?;
            let mean_ref_ms = w.iter().sum::<f64>() / w.len().max(1) as f64;
            let mean_measured_ms = mean_ref_ms + e.iter().sum::<f64>() / e.len() as f64;
            let mut e = e.clone();
            Some(RecordQrsd {
                record: name.clone(),
                median_error_ms: median(&mut e),
                mean_ref_ms,
                mean_measured_ms,
                beats: e.len(),
            })
        })
        .collect()
}

/// Site-level figures of `lead` over the records.
pub fn site_level(per_record: &[(String, Tally)], lead: &str) -> SiteLevel {
    let recs = record_medians(per_record, lead);
    let all: Vec<f64> = recs.iter().map(|r| r.median_error_ms).collect();
    let mut bins: [Vec<f64>; 4] = Default::default();
    let mut measured_bins: [Vec<f64>; 4] = Default::default();
    for r in &recs {
        bins[bin_of(r.mean_ref_ms)].push(r.median_error_ms);
        measured_bins[bin_of(r.mean_measured_ms)].push(r.median_error_ms);
    }
    let mut beat_bins: [Vec<f64>; 4] = Default::default();
    let key = format!("{lead}.qrsd");
    for (_, t) in per_record {
        if let (Some(e), Some(w)) = (t.errors.get(&key), t.ref_qrsd_ms.get(lead)) {
            for (e, w) in e.iter().zip(w) {
                beat_bins[bin_of(*w)].push(*e);
            }
        }
    }
    SiteLevel {
        all: Stats::of(&all),
        bins: bins.map(|v| Stats::of(&v)),
        beat_bins: beat_bins.map(|v| Stats::of(&v)),
        measured_bins: measured_bins.map(|v| Stats::of(&v)),
    }
}

/// The site-level targets missed (empty when all are met): per lead, the per-record median error's
/// |mean| ≤ [`SITE_MEAN_MS`] and SD ≤ [`SITE_SD_MS`], and |mean| ≤ [`BIN_MEAN_MS`] in every width bin
/// that holds records.
pub fn site_target_failures(per_record: &[(String, Tally)]) -> Vec<String> {
    let mut fails = Vec::new();
    for lead in SITE_LEADS {
        let s = site_level(per_record, lead);
        if s.all.mean.abs() > SITE_MEAN_MS || s.all.sd > SITE_SD_MS {
            fails.push(format!(
                "{lead} site QRSd {:+.1}±{:.1} ms",
                s.all.mean, s.all.sd
            ));
        }
        for (b, st) in s.bins.iter().enumerate() {
            if st.n > 0 && st.mean.abs() > BIN_MEAN_MS {
                fails.push(format!(
                    "{lead} QRSd {} ms records {:+.1} ms",
                    WIDTH_BIN_LABELS[b], st.mean
                ));
            }
        }
    }
    fails
}

/// The site-level table as text: per lead, the per-record median QRSd error over all records
/// (mean ± SD (records)) and its mean per width bin, then the per-beat error per width bin.
pub fn format_site_table(title: &str, per_record: &[(String, Tally)]) -> String {
    let mut s = format!(
        "{title}: per-record median QRSd error (ms), records binned by mean reference QRSd\n"
    );
    s += &format!("{:<8} {:>20}", "lead", "all records");
    for l in WIDTH_BIN_LABELS {
        s += &format!(" {:>14}", l);
    }
    s += "\n";
    let cell = |st: &Stats| {
        if st.n == 0 {
            "-".to_string()
        } else {
            format!("{:+.1} ({})", st.mean, st.n)
        }
    };
    let mut beats = String::new();
    let mut measured = String::new();
    for lead in SITE_LEADS {
        let sl = site_level(per_record, lead);
        s += &format!(
            "{:<8} {:>20}",
            lead,
            format!("{:+.1} ± {:.1} ({})", sl.all.mean, sl.all.sd, sl.all.n)
        );
        beats += &format!("{:<8} {:>20}", lead, "");
        measured += &format!("{:<8} {:>20}", lead, "");
        for b in 0..4 {
            s += &format!(" {:>14}", cell(&sl.bins[b]));
            beats += &format!(" {:>14}", cell(&sl.beat_bins[b]));
            measured += &format!(" {:>14}", cell(&sl.measured_bins[b]));
        }
        s += "\n";
        beats += "\n";
        measured += "\n";
    }
    s += "per beat, binned by the beat's reference QRSd: mean error (beats)\n";
    s += &beats;
    s += "per record, binned by the record's measured QRSd (calibration): mean error (records)\n";
    s + &measured
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(errors: &[f64], widths: &[f64]) -> Tally {
        let mut t = Tally::default();
        t.errors.insert("GLOBAL.qrsd".into(), errors.to_vec());
        t.ref_qrsd_ms.insert("GLOBAL".into(), widths.to_vec());
        t
    }

    #[test]
    fn records_are_scored_by_their_median_and_binned_by_their_mean_width() {
        let per_record = vec![
            // Median +2 (one outlier beat does not move it), mean width 100.
            (
                "a".to_string(),
                tally(&[2.0, 2.0, 40.0], &[98.0, 100.0, 102.0]),
            ),
            // Median −10, mean width 160.
            (
                "b".to_string(),
                tally(&[-10.0, -12.0, -8.0], &[160.0, 160.0, 160.0]),
            ),
        ];
        let m = record_medians(&per_record, "GLOBAL");
        assert_eq!(m[0].median_error_ms, 2.0);
        assert_eq!(m[1].median_error_ms, -10.0);
        let s = site_level(&per_record, "GLOBAL");
        assert_eq!(s.all.n, 2);
        assert!((s.all.mean + 4.0).abs() < 1e-9 && (s.all.sd - 6.0).abs() < 1e-9);
        assert_eq!((s.bins[0].n, s.bins[3].n), (1, 1));
        assert_eq!(s.bins[3].mean, -10.0);
        // Measured widths: record a reads ~114 ms (mean error +14.7), b 150 ms.
        assert_eq!((s.measured_bins[1].n, s.measured_bins[3].n), (1, 1));
        // The ≥ 150 ms bin misses its target, and so does the site mean (−4 beyond ±3); the
        // < 110 ms bin (+2) does not.
        let f = site_target_failures(&per_record);
        assert!(f.iter().any(|m| m.contains(">=150")), "{f:?}");
        assert!(f.iter().any(|m| m.starts_with("GLOBAL site")), "{f:?}");
        assert!(!f.iter().any(|m| m.contains("<110")), "{f:?}");
        assert!(format_site_table("t", &per_record).contains("-10.0 (1)"));
    }
}
