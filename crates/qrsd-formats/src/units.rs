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

#[cfg(test)]
mod tests {
    use super::voltage_scale_to_uv;

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
