//! Physical units shared by the readers.

/// Multiplier taking a value in `units` to µV, or `None` if `units` is not a voltage.
/// Case-insensitive because files write `mv`, `uV`, `UV` interchangeably (nobody records MV).
pub(crate) fn voltage_scale_to_uv(units: &str) -> Option<f64> {
    match units.trim().to_lowercase().as_str() {
        "nv" => Some(1e-3),
        "uv" | "µv" | "μv" => Some(1.0),
        "mv" => Some(1e3),
        "v" => Some(1e6),
        _ => None,
    }
}

/// A voltage signal that is not an ECG lead by its label: EEG, EOG or EMG in a polysomnography or
/// multi-parameter record (`EEG Fpz-Cz`, `EOG(L)`, `EMG submental`). The readers leave these out when
/// the file has other voltage signals, so that they do not join the ECG leads.
pub(crate) fn is_other_biopotential(label: &str) -> bool {
    let l = label.trim().to_ascii_uppercase();
    ["EEG", "EOG", "EMG"].iter().any(|p| l.starts_with(p))
}

/// Indices of `voltage` (signal index, label) to keep as leads: all, or those that are not EEG/EOG/EMG
/// when any such remain.
pub(crate) fn ecg_candidates<'a>(
    voltage: impl Iterator<Item = (usize, &'a str)> + Clone,
) -> Vec<usize> {
    let ecg: Vec<usize> = voltage
        .clone()
        .filter(|(_, label)| !is_other_biopotential(label))
        .map(|(i, _)| i)
        .collect();
    if ecg.is_empty() {
        voltage.map(|(i, _)| i).collect()
    } else {
        ecg
    }
}

#[cfg(test)]
mod tests {
    use super::{ecg_candidates, is_other_biopotential, voltage_scale_to_uv};

    #[test]
    fn other_biopotentials_by_label() {
        for l in ["EEG Fpz-Cz", "eog(L)", " EMG submental", "EEG"] {
            assert!(is_other_biopotential(l), "{l}");
        }
        for l in ["ECG", "II", "MLII", "V1", "ECG EMG-filtered"] {
            assert!(!is_other_biopotential(l), "{l}");
        }
        let sigs = [(0, "EEG C3"), (1, "ECG"), (2, "EOG")];
        assert_eq!(ecg_candidates(sigs.iter().copied()), [1]);
        let only_eeg = [(0, "EEG C3"), (3, "EEG C4")];
        assert_eq!(ecg_candidates(only_eeg.iter().copied()), [0, 3]);
    }

    #[test]
    fn voltage_units() {
        assert_eq!(voltage_scale_to_uv("mV"), Some(1000.0));
        assert_eq!(voltage_scale_to_uv("uV"), Some(1.0));
        assert_eq!(voltage_scale_to_uv("µV"), Some(1.0));
        assert_eq!(voltage_scale_to_uv("μV"), Some(1.0));
        assert_eq!(voltage_scale_to_uv(" V "), Some(1e6));
        assert_eq!(voltage_scale_to_uv("mmHg"), None);
        assert_eq!(voltage_scale_to_uv(""), None);
    }
}
