//! Procedure-level logic: candidate LV sites, site decisions and the recommendation.
//!
//! # Which measurement counts for a site
//! The **latest complete** measurement of the site (by `measurement_id`, which the store hands out
//! in increasing order): a re-measurement replaces the earlier value, and an incomplete or failed
//! re-measurement does not erase an earlier complete one. A site that was accepted is ranked like
//! any other; a site whose latest decision is a rejection is excluded.
//!
//! # Close-call warning
//! The best two sites are a close call when their difference in global paced QRSd is smaller than
//! the measurement uncertainty `u = max(IQR_best, IQR_runner_up, min_uncertainty_ms)`: the larger
//! beat-to-beat spread of the two runs, but never less than 5 ms, the delineation accuracy target
//! of PRODUCT.md (below that a difference is within what the delineator itself can get wrong).
//!
//! # Lead sets
//! A measurement whose beats were measured with a lead off (`MeasurementResult::leads_excluded`)
//! took its global QRS over fewer leads, which can only make it a little narrower. The
//! recommendation does not correct for it, but warns when the best two sites, or the best site
//! and the baseline its ΔQRS is taken against, were measured over different leads.

use crate::config::MeasurementKind;
use crate::measurement::{Flags, MeasurementResult, Status};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            /// Stable text form, as in JSON and the store.
            pub fn as_str(self) -> &'static str { match self { $($name::$v => $s),+ } }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s { $($s => Ok($name::$v),)+ _ => Err(UnknownValue { kind: stringify!($name), value: s.to_string() }) }
            }
        }
    };
}

/// A text that names no known value of an enumeration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind}: {value:?}")]
pub struct UnknownValue {
    /// The enumeration.
    pub kind: &'static str,
    /// The text given.
    pub value: String,
}

text_enum!(
    /// Coronary sinus branch of the LV lead.
    Vein {
        /// Anterior (interventricular) vein.
        Anterior = "anterior",
        /// Anterolateral branch.
        Anterolateral = "anterolateral",
        /// Lateral (marginal) branch.
        Lateral = "lateral",
        /// Posterolateral branch.
        Posterolateral = "posterolateral",
        /// Posterior branch.
        Posterior = "posterior",
        /// Middle cardiac vein.
        MiddleCardiac = "middle_cardiac",
    }
);

text_enum!(
    /// Position along the vein.
    Segment {
        /// Basal.
        Basal = "basal",
        /// Mid.
        Mid = "mid",
        /// Apical.
        Apical = "apical",
    }
);

text_enum!(
    /// Why a site was given up.
    RejectionReason {
        /// Phrenic nerve / diaphragmatic stimulation.
        PhrenicStimulation = "phrenic_stimulation",
        /// Capture threshold too high.
        HighThreshold = "high_threshold",
        /// Lead position unstable (dislodgement risk).
        Unstable = "unstable",
        /// Another reason (see the note).
        Other = "other",
    }
);

/// A candidate LV site as entered by the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteSpec {
    /// Vein.
    pub vein: Vein,
    /// Segment.
    pub segment: Segment,
    /// Short label (e.g. "PL mid"); defaults to "<vein> <segment>" when empty.
    #[serde(default)]
    pub label: String,
    /// Free-text note.
    #[serde(default)]
    pub note: Option<String>,
    /// LV electrode or pacing vector (e.g. "D1-M2").
    #[serde(default)]
    pub electrode: Option<String>,
}

impl SiteSpec {
    /// The label, or "<vein> <segment>" when none was given.
    pub fn display_label(&self) -> String {
        if self.label.trim().is_empty() {
            format!("{} {}", self.vein, self.segment)
        } else {
            self.label.trim().to_string()
        }
    }
}

/// A decision about a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum SiteDecision {
    /// Kept as a usable site.
    Accept {
        /// Optional note.
        #[serde(default)]
        note: Option<String>,
    },
    /// Given up.
    Reject {
        /// Why.
        reason: RejectionReason,
        /// Optional note (required in spirit for `other`).
        #[serde(default)]
        note: Option<String>,
    },
}

/// The values of one measurement that ranking needs (the store keeps them as columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasurementSummary {
    /// Measurement id.
    pub measurement_id: i64,
    /// Baseline or site.
    pub kind: MeasurementKind,
    /// Status.
    pub status: Status,
    /// Global median QRSd.
    pub qrsd_ms: Option<f64>,
    /// Global IQR.
    pub iqr_ms: Option<f64>,
    /// Global SD.
    pub sd_ms: Option<f64>,
    /// Median stimulus-to-end.
    pub stim_to_end_ms: Option<f64>,
    /// Beats used.
    pub beats_used: usize,
    /// Quality flags.
    #[serde(default)]
    pub flags: Flags,
    /// Median QRS area, µV·s.
    #[serde(default)]
    pub qrs_area_uvs: Option<f64>,
    /// LV capture by ECG criteria (site measurements).
    #[serde(default)]
    pub lv_capture: Option<crate::capture::LvCaptureClass>,
    /// Leads left out of the global QRS of some of its beats (electrode off or flat; in lead order).
    #[serde(default)]
    pub leads_excluded: Vec<String>,
}

impl MeasurementSummary {
    /// The summary of a result stored under `measurement_id`.
    pub fn of(measurement_id: i64, r: &MeasurementResult) -> Self {
        MeasurementSummary {
            measurement_id,
            kind: r.kind,
            status: r.status,
            qrsd_ms: r.qrsd_ms,
            iqr_ms: r.iqr_ms,
            sd_ms: r.sd_ms,
            stim_to_end_ms: r.stim_to_end_ms,
            beats_used: r.beats_used,
            flags: r.flags,
            qrs_area_uvs: r.qrs_area_uvs,
            lv_capture: r.lv_capture,
            leads_excluded: r.leads_excluded.iter().map(|e| e.lead.clone()).collect(),
        }
    }

    fn usable(&self) -> Option<f64> {
        (self.status == Status::Complete)
            .then_some(self.qrsd_ms)
            .flatten()
            .filter(|q| q.is_finite())
    }
}

/// One site as handed to [`recommend`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteCandidate {
    /// Site id.
    pub site_id: i64,
    /// Label shown to the operator.
    pub label: String,
    /// Latest decision, if any.
    pub decision: Option<SiteDecision>,
    /// Its measurements, any order.
    pub measurements: Vec<MeasurementSummary>,
}

/// A ranked site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedSite {
    /// Site id.
    pub site_id: i64,
    /// Label.
    pub label: String,
    /// The measurement used (latest complete).
    pub measurement_id: i64,
    /// Global median paced QRSd.
    pub qrsd_ms: f64,
    /// Its IQR.
    pub iqr_ms: Option<f64>,
    /// Its SD.
    pub sd_ms: Option<f64>,
    /// Median stimulus-to-end.
    pub stim_to_end_ms: Option<f64>,
    /// Site − baseline QRSd (negative = shorter than baseline).
    pub delta_qrs_ms: Option<f64>,
    /// `delta_qrs_ms` as % of baseline.
    pub delta_qrs_pct: Option<f64>,
    /// Median QRS area, µV·s.
    #[serde(default)]
    pub qrs_area_uvs: Option<f64>,
    /// Site − baseline QRS area, µV·s (negative = a reduction).
    #[serde(default)]
    pub delta_qrs_area_uvs: Option<f64>,
    /// `delta_qrs_area_uvs` as % of the baseline's.
    #[serde(default)]
    pub delta_qrs_area_pct: Option<f64>,
    /// LV capture by ECG criteria.
    #[serde(default)]
    pub lv_capture: Option<crate::capture::LvCaptureClass>,
    /// Quality flags of the measurement used.
    pub flags: Flags,
    /// Leads left out of the global QRS of some of the measurement's beats (electrode off).
    #[serde(default)]
    pub leads_excluded: Vec<String>,
}

/// A site left out of the ranking, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExcludedSite {
    /// Site id.
    pub site_id: i64,
    /// Label.
    pub label: String,
    /// Why (e.g. "rejected: phrenic_stimulation", "no complete measurement").
    pub why: String,
}

/// The recommendation (`GET /api/v1/procedures/{id}/recommendation`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Recommended site (shortest global paced QRSd among non-rejected sites).
    pub site_id: Option<i64>,
    /// Its ranking entry.
    pub best: Option<RankedSite>,
    /// The next best.
    pub runner_up: Option<RankedSite>,
    /// Every ranked site, shortest first.
    pub ranking: Vec<RankedSite>,
    /// Sites left out.
    pub excluded: Vec<ExcludedSite>,
    /// Baseline median QRSd (latest complete baseline).
    pub baseline_qrsd_ms: Option<f64>,
    /// Baseline measurement id.
    pub baseline_measurement_id: Option<i64>,
    /// Baseline median QRS area, µV·s.
    #[serde(default)]
    pub baseline_qrs_area_uvs: Option<f64>,
    /// The rule the ranking used.
    #[serde(default)]
    pub rule: RankBy,
    /// Runner-up − best (ms).
    pub difference_ms: Option<f64>,
    /// The uncertainty the difference was compared with (ms).
    pub uncertainty_ms: Option<f64>,
    /// The best two differ by less than the uncertainty.
    pub close_call: bool,
    /// Plain-language warnings (close call, no baseline, quality flags on the best site).
    pub warnings: Vec<String>,
    /// One plain sentence for the operator.
    pub summary: String,
}

/// What the sites are ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// Shortest global median paced QRSd (the default).
    #[default]
    ShortestQrsd,
    /// Smallest median QRS area, i.e. the largest reduction against the baseline; sites without
    /// a QRS area follow, by QRSd.
    SmallestQrsArea,
}

impl RankBy {
    /// Plain words for the report.
    pub fn describe(self) -> &'static str {
        match self {
            RankBy::ShortestQrsd => "shortest paced QRS duration",
            RankBy::SmallestQrsArea => "smallest QRS area (largest reduction against baseline)",
        }
    }
}

/// Tunables of [`recommend_with`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RecommendConfig {
    /// Floor of the close-call uncertainty (default 5 ms, the delineation accuracy target).
    pub min_uncertainty_ms: f64,
    /// The ranking rule.
    #[serde(default)]
    pub rank_by: RankBy,
}

impl Default for RecommendConfig {
    fn default() -> Self {
        RecommendConfig {
            min_uncertainty_ms: 5.0,
            rank_by: RankBy::ShortestQrsd,
        }
    }
}

fn latest_complete(ms: &[MeasurementSummary]) -> Option<&MeasurementSummary> {
    ms.iter()
        .filter(|m| m.usable().is_some())
        .max_by_key(|m| m.measurement_id)
}

/// [`recommend_with`] with default settings.
pub fn recommend(baselines: &[MeasurementSummary], sites: &[SiteCandidate]) -> Recommendation {
    recommend_with(baselines, sites, &RecommendConfig::default())
}

/// Ranks the non-rejected sites by the global median QRSd of their latest complete measurement
/// (ties: smaller IQR, then lower site id) against the latest complete baseline of `baselines`.
pub fn recommend_with(
    baselines: &[MeasurementSummary],
    sites: &[SiteCandidate],
    cfg: &RecommendConfig,
) -> Recommendation {
    let baseline = latest_complete(baselines);
    let base_q = baseline.and_then(|b| b.usable());
    let base_area = baseline
        .and_then(|b| b.qrs_area_uvs)
        .filter(|a| a.is_finite() && *a > 0.0);
    let mut ranking = Vec::new();
    let mut excluded = Vec::new();
    for s in sites {
        if let Some(SiteDecision::Reject { reason, .. }) = &s.decision {
            excluded.push(ExcludedSite {
                site_id: s.site_id,
                label: s.label.clone(),
                why: format!("rejected: {reason}"),
            });
            continue;
        }
        let Some(m) = latest_complete(&s.measurements) else {
            excluded.push(ExcludedSite {
                site_id: s.site_id,
                label: s.label.clone(),
                why: "no complete measurement".into(),
            });
            continue;
        };
        let q = m.usable().unwrap_or(f64::NAN);
        let delta = base_q.map(|b| q - b);
        let (d_area, d_area_pct) = area_delta(m.qrs_area_uvs, base_area);
        ranking.push(RankedSite {
            site_id: s.site_id,
            label: s.label.clone(),
            measurement_id: m.measurement_id,
            qrsd_ms: q,
            iqr_ms: m.iqr_ms,
            sd_ms: m.sd_ms,
            stim_to_end_ms: m.stim_to_end_ms,
            delta_qrs_ms: delta,
            delta_qrs_pct: match (delta, base_q) {
                (Some(d), Some(b)) if b > 0.0 => Some(100.0 * d / b),
                _ => None,
            },
            qrs_area_uvs: m.qrs_area_uvs,
            delta_qrs_area_uvs: d_area,
            delta_qrs_area_pct: d_area_pct,
            lv_capture: m.lv_capture,
            flags: m.flags,
            leads_excluded: m.leads_excluded.clone(),
        });
    }
    let by_area = |a: &RankedSite, b: &RankedSite| match cfg.rank_by {
        RankBy::ShortestQrsd => std::cmp::Ordering::Equal,
        RankBy::SmallestQrsArea => {
            let key = |r: &RankedSite| r.qrs_area_uvs.filter(|v| v.is_finite());
            match (key(a), key(b)) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
        }
    };
    ranking.sort_by(|a, b| {
        by_area(a, b)
            .then(a.qrsd_ms.total_cmp(&b.qrsd_ms))
            .then(
                a.iqr_ms
                    .unwrap_or(f64::INFINITY)
                    .total_cmp(&b.iqr_ms.unwrap_or(f64::INFINITY)),
            )
            .then(a.site_id.cmp(&b.site_id))
    });
    let best = ranking.first().cloned();
    let runner_up = ranking.get(1).cloned();
    let mut warnings = Vec::new();
    let (mut difference_ms, mut uncertainty_ms, mut close_call) = (None, None, false);
    if let (Some(b), Some(r)) = (&best, &runner_up) {
        let diff = r.qrsd_ms - b.qrsd_ms;
        let u = b
            .iqr_ms
            .unwrap_or(0.0)
            .max(r.iqr_ms.unwrap_or(0.0))
            .max(cfg.min_uncertainty_ms);
        difference_ms = Some(diff);
        uncertainty_ms = Some(u);
        if diff < u {
            close_call = true;
            warnings.push(format!(
                "{} ({:.0} ms) and {} ({:.0} ms) differ by {:.0} ms, less than the measurement \
                 uncertainty of {:.0} ms: the two sites cannot be told apart by QRS duration alone",
                b.label, b.qrsd_ms, r.label, r.qrsd_ms, diff, u
            ));
        }
    }
    if best.is_some() && base_q.is_none() {
        warnings.push("no complete baseline measurement: ΔQRS cannot be given".into());
    }
    // Leaving a lead out can only narrow the global QRS a little: say so where it is compared.
    if let (Some(b), Some(r)) = (&best, &runner_up) {
        if !same_leads(&b.leads_excluded, &r.leads_excluded) {
            warnings.push(format!(
                "{} ({}) and {} ({}) were measured over different leads: part of their difference \
                 in QRS duration may come from that",
                b.label,
                lead_set_words(&b.leads_excluded),
                r.label,
                lead_set_words(&r.leads_excluded)
            ));
        }
    }
    if let (Some(b), Some(base)) = (&best, baseline.filter(|_| base_q.is_some())) {
        if !same_leads(&b.leads_excluded, &base.leads_excluded) {
            warnings.push(format!(
                "ΔQRS of {} compares a QRS {} with a baseline {}",
                b.label,
                lead_set_words(&b.leads_excluded),
                lead_set_words(&base.leads_excluded)
            ));
        }
    }
    if let Some(b) = &best {
        let f = b.flags;
        let mut q = Vec::new();
        if f.suspected_fusion {
            q.push("suspected fusion");
        }
        if f.suspected_loss_of_capture {
            q.push("suspected loss of LV capture");
        }
        if f.noise {
            q.push("noise");
        }
        if f.lead_off {
            q.push("lead-off");
        }
        if f.short_run {
            q.push("fewer beats than requested");
        }
        if !q.is_empty() {
            warnings.push(format!(
                "the measurement of {} had beats rejected for: {}",
                b.label,
                q.join(", ")
            ));
        }
    }
    for r in &ranking {
        if r.lv_capture == Some(crate::capture::LvCaptureClass::Unlikely) {
            warnings.push(format!(
                "{} looks like RV-only pacing (LV capture unlikely by the Ammann ECG criteria): \
                 its QRS duration may not be that of biventricular pacing",
                r.label
            ));
        }
    }
    let summary = match &best {
        None if sites.is_empty() => "no site has been added yet".to_string(),
        None => "no non-rejected site has a complete measurement yet".to_string(),
        Some(b) => {
            let mut s = format!("recommended: {} at {:.0} ms", b.label, b.qrsd_ms);
            if let Some(a) = b.qrs_area_uvs {
                s.push_str(&format!(", QRS area {a:.0} µV·s"));
            }
            if let (Some(d), Some(p), Some(bq)) = (b.delta_qrs_ms, b.delta_qrs_pct, base_q) {
                s.push_str(&format!(
                    " ({:+.0} ms, {:+.0}% against baseline {:.0} ms)",
                    d, p, bq
                ));
            }
            if let Some(r) = &runner_up {
                s.push_str(&format!("; next best {} at {:.0} ms", r.label, r.qrsd_ms));
            }
            s
        }
    };
    Recommendation {
        site_id: best.as_ref().map(|b| b.site_id),
        best,
        runner_up,
        ranking,
        excluded,
        baseline_qrsd_ms: base_q,
        baseline_measurement_id: baseline.map(|b| b.measurement_id),
        baseline_qrs_area_uvs: base_area,
        rule: cfg.rank_by,
        difference_ms,
        uncertainty_ms,
        close_call,
        warnings,
        summary,
    }
}

/// Whether two measurements left out the same leads.
fn same_leads(a: &[String], b: &[String]) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|x| b.iter().any(|y| y.eq_ignore_ascii_case(x)))
}

/// "over all leads" / "without V3" / "without V3, V4".
fn lead_set_words(excluded: &[String]) -> String {
    if excluded.is_empty() {
        "over all leads".to_string()
    } else {
        format!("without {}", excluded.join(", "))
    }
}

/// Site − baseline QRS area (µV·s) and that as % of the baseline.
pub fn area_delta(site_uvs: Option<f64>, baseline_uvs: Option<f64>) -> (Option<f64>, Option<f64>) {
    match (site_uvs, baseline_uvs) {
        (Some(s), Some(b)) if s.is_finite() && b.is_finite() && b > 0.0 => {
            (Some(s - b), Some(100.0 * (s - b) / b))
        }
        _ => (None, None),
    }
}
