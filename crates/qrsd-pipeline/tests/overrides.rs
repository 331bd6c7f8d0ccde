//! `PipelineConfig::with_overrides`: the `section.key=value` settings of `qrsd eval --set` and the examples.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use qrsd_pipeline::{PipelineConfig, PipelineError};

#[test]
fn overrides_set_a_field_and_reject_what_does_not_apply() {
    let base = PipelineConfig::new(500.0, Vec::new());
    let c = base
        .with_overrides(&[
            "pace.weak_threshold_uv=0",
            "delineation.learned_global=false",
        ])
        .unwrap();
    assert_eq!(c.pace.weak_threshold_uv, 0.0);
    assert!(!c.delineation.learned_global);
    assert_eq!(c.detector, base.detector, "other settings untouched");
    for bad in [
        "pace.no_such_key=1",
        "pace.weak_threshold_uv",
        "pace.weak_threshold_uv=abc",
        "pace.weak_threshold_uv=\"text\"",
    ] {
        assert!(
            matches!(base.with_overrides(&[bad]), Err(PipelineError::Setting(_))),
            "{bad} accepted"
        );
    }
}
