//! Properties of the conditioning stages for arbitrary input: stability (bounded output for bounded
//! input, never NaN) and chunking invariance (the same samples in any chunking give the same output).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use proptest::prelude::*;
use qrsd_condition::{FilterConfig, LeadFilter, PaceBlanker, PaceConfig};

/// Conditioning of one lead: blanker then filters, fed in chunks of the given sizes (cycled).
fn condition(x: &[f64], flags: &[bool], fs: f64, chunks: &[usize]) -> Vec<f64> {
    let mut bl = PaceBlanker::new(PaceConfig::default(), fs, 1).unwrap();
    let mut f = LeadFilter::new(&FilterConfig::default(), fs).unwrap();
    let mut out = Vec::with_capacity(x.len());
    let (mut i, mut c) = (0, 0);
    let (mut y, mut ev) = ([0.0], None);
    while i < x.len() {
        let n = chunks[c % chunks.len()].max(1).min(x.len() - i);
        for k in i..i + n {
            if bl.process(&[x[k]], flags[k], &mut y, &mut ev) {
                out.push(f.process(y[0]));
            }
        }
        i += n;
        c += 1;
    }
    out
}

fn rate() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(250.0),
        Just(360.0),
        Just(500.0),
        Just(1000.0),
        Just(2000.0)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Bounded in, bounded out: the cascade (0.5 Hz high-pass, notch, low-pass) never amplifies a bounded
    /// input by more than a small factor, whatever the signal (steps, spikes, noise, full-scale square
    /// waves), and never produces a non-finite value.
    #[test]
    fn filters_are_bounded_for_bounded_input(
        fs in rate(),
        amp in 1.0f64..1.0e6,
        x in prop::collection::vec(-1.0f64..1.0, 16..3000),
        hold in 1usize..50,
    ) {
        let mut f = LeadFilter::new(&FilterConfig::default(), fs).unwrap();
        // Sample-and-hold the random values to get steps and low-frequency content too.
        let mut peak = 0.0f64;
        for k in 0..x.len() * 2 {
            let v = amp * x[(k / hold) % x.len()];
            let y = f.process(v);
            prop_assert!(y.is_finite());
            peak = peak.max(y.abs());
        }
        prop_assert!(peak <= 4.0 * amp, "peak {peak} for input amplitude {amp}");
    }

    /// The zero-phase (offline) version is bounded too.
    #[test]
    fn filtfilt_is_bounded(
        fs in rate(),
        x in prop::collection::vec(-1000.0f64..1000.0, 16..2000),
    ) {
        let y = qrsd_condition::filter::filtfilt(&FilterConfig::default(), fs, &x).unwrap();
        prop_assert_eq!(y.len(), x.len());
        prop_assert!(y.iter().all(|v| v.is_finite() && v.abs() <= 16.0 * 1000.0));
    }

    /// Blanking + filtering give bit-identical output for any chunking of the same samples, with
    /// arbitrary stimuli (hardware flags) and spikes in the signal.
    #[test]
    fn conditioning_is_chunking_invariant(
        fs in rate(),
        x in prop::collection::vec(-5000.0f64..5000.0, 50..2000),
        flag_every in 20usize..400,
        chunks in prop::collection::vec(1usize..300, 1..6),
    ) {
        let flags: Vec<bool> = (0..x.len()).map(|k| k % flag_every == 3).collect();
        let whole = condition(&x, &flags, fs, &[usize::MAX]);
        let chunked = condition(&x, &flags, fs, &chunks);
        prop_assert_eq!(whole, chunked);
    }
}
