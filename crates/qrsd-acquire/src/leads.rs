//! Lead derivation for 8-channel amplifiers.

/// The 12 standard leads, in [`derive_12`]'s output order (qrsd-synth's `LEAD_NAMES_12`).
pub const LEAD_NAMES_12: [&str; 12] = [
    "I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6",
];

/// From one acquired frame `[I, II, V1..V6]` (µV) to the 12 standard leads `[I, II, III, aVR, aVL, aVF,
/// V1..V6]` (Einthoven/Goldberger: III = II − I, aVR = −(I + II)/2, aVL = I − II/2, aVF = II − I/2).
/// A NaN in I or II makes the derived limb leads NaN. Frames shorter than 8 are padded with NaN.
pub fn derive_12(frame8: &[f32]) -> [f32; 12] {
    let g = |i: usize| frame8.get(i).copied().unwrap_or(f32::NAN);
    let (i, ii) = (g(0), g(1));
    [
        i,
        ii,
        ii - i,
        -(i + ii) / 2.0,
        i - ii / 2.0,
        ii - i / 2.0,
        g(2),
        g(3),
        g(4),
        g(5),
        g(6),
        g(7),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_synth_derivation() {
        let f = [100.0f32, 300.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let d = derive_12(&f);
        let want = qrsd_synth::derive_limb_leads(100.0, 300.0);
        for k in 0..4 {
            assert!((f64::from(d[2 + k]) - want[k]).abs() < 1e-3);
        }
        assert_eq!(&d[6..], &f[2..]);
        assert_eq!(LEAD_NAMES_12, qrsd_synth::LEAD_NAMES_12);
    }
}
