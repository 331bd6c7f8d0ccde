#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The LV-capture classifier (Ammann criteria on the median paced beat) against the simulator's
//! truth: BiV pacing with LV capture (R in V1, QS in I) and RV-only pacing (`Rhythm::Rv`: QS in
//! V1, R in I), through the real pipeline and measurement, over several simulated patients (each
//! seed rotates the heart) with moderate noise. Also the QRS area of both against the baseline's.

use qrsd_measure::{
    BeatInput, BeatWaveform, LvCaptureClass, Measurement, MeasurementConfig, MeasurementResult,
    Status,
};
use qrsd_pipeline::{Pipeline, PipelineConfig};
use qrsd_synth::{
    generate, BeatClass as TrueClass, NoiseConfig, Rhythm, SynthConfig, SynthRecording,
};

/// The leads the service keeps in beat snippets (I for the criteria, I, II, V1–V6 for the loop).
const LEADS: [&str; 8] = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"];

/// R − 400 ms … R + 400 ms, less the median of the first 100 ms, as the live service cuts it.
fn snippet(rec: &SynthRecording, r: u64) -> Option<BeatWaveform> {
    let half = (0.4 * rec.fs_hz).round() as u64;
    let first = r.checked_sub(half)?;
    let last = r + half;
    if last as usize >= rec.len_samples() {
        return None;
    }
    let nb = (0.1 * rec.fs_hz) as usize;
    Some(BeatWaveform {
        first_sample: first,
        leads: LEADS
            .iter()
            .map(|n| {
                let v: Vec<f32> = rec.lead(n).unwrap()[first as usize..=last as usize]
                    .iter()
                    .map(|x| *x as f32)
                    .collect();
                let mut b: Vec<f32> = v[..nb].to_vec();
                b.sort_by(f32::total_cmp);
                let base = b[b.len() / 2];
                (n.to_string(), v.iter().map(|x| x - base).collect())
            })
            .collect(),
    })
}

fn measure(rec: &SynthRecording, cfg: MeasurementConfig) -> MeasurementResult {
    let beats = Pipeline::new(PipelineConfig::new(rec.fs_hz, rec.lead_names()))
        .unwrap()
        .run_to_end(&rec.leads_f32(), Some(rec.pace_flags.as_slice()));
    let mut m = Measurement::new(cfg, 0).unwrap();
    for b in beats {
        let mut input = BeatInput::new(b.clone(), rec.fs_hz);
        input.waveform = snippet(rec, b.r_sample);
        m.push(input);
        if m.status() != Status::Collecting {
            break;
        }
    }
    m.stop();
    m.result()
}

fn recording(rhythm: Rhythm, qrsd_ms: f64, seed: u64) -> SynthRecording {
    generate(
        &SynthConfig {
            rhythm,
            qrsd_ms,
            seed,
            noise: NoiseConfig::moderate(),
            ..SynthConfig::default()
        },
        20.0,
    )
    .unwrap()
}

#[test]
fn lv_capture_follows_the_simulated_capture() {
    let mut lines = Vec::new();
    let mut areas = Vec::new();
    for seed in 0..6 {
        let base = measure(
            &recording(Rhythm::Intrinsic, 160.0, seed),
            MeasurementConfig::baseline(),
        );
        assert_eq!(base.status, Status::Complete, "seed {seed}");
        assert_eq!(
            base.lv_capture, None,
            "a baseline has no LV-capture verdict"
        );
        let base_area = base.qrs_area_uvs.unwrap();
        for (rhythm, qrsd, truth, want) in [
            (Rhythm::Biv, 130.0, TrueClass::Paced, LvCaptureClass::Likely),
            (
                Rhythm::Rv,
                160.0,
                TrueClass::LossOfCapture,
                LvCaptureClass::Unlikely,
            ),
        ] {
            let rec = recording(rhythm, qrsd, seed);
            assert!(rec.truth.iter().skip(1).all(|t| t.class == truth));
            let r = measure(&rec, MeasurementConfig::site());
            assert_eq!(
                r.status,
                Status::Complete,
                "{rhythm:?} seed {seed}: {:?} {:?}",
                r.reason,
                r.beats
                    .iter()
                    .map(|b| (
                        b.class,
                        b.qrsd_ms.map(|q| q.round()),
                        b.correlation.map(|c| (c * 1000.0).round()),
                        b.reason
                    ))
                    .collect::<Vec<_>>()
            );
            let c = r.lv_capture_criteria.as_ref().unwrap();
            lines.push(format!(
                "seed {seed} {rhythm:?}: {:?} (R/S V1 {:?}, I {:?}, q in I {}, axis {:.0}°), QRS area {:.1} µV·s vs baseline {base_area:.1}",
                r.lv_capture.unwrap(),
                c.rs_ratio_v1.map(|x| (x * 100.0).round() / 100.0),
                c.rs_ratio_i.map(|x| (x * 100.0).round() / 100.0),
                c.q_in_i,
                c.qrs_axis_frontal_deg.unwrap_or(f64::NAN),
                r.qrs_area_uvs.unwrap()
            ));
            assert_eq!(r.lv_capture, Some(want), "{}", lines.last().unwrap());
            assert_eq!(c.warning.is_some(), want == LvCaptureClass::Unlikely);
            assert!(r.vcg_loop.as_ref().is_some_and(|l| l.x_uv.len() > 10));
            areas.push(r.qrs_area_uvs.unwrap());
        }
        // Resynchronisation shrinks the QRS area most; RV-only pacing less (simulated patients).
        let (biv, rv) = (areas[areas.len() - 2], areas[areas.len() - 1]);
        assert!(
            biv < rv && rv < base_area,
            "BiV {biv}, RV {rv}, baseline {base_area}"
        );
    }
    eprintln!("{}", lines.join("\n"));
}
