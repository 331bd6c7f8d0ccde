//! EDF+ time-stamped annotation lists (TALs): `+onset[\x15duration]\x14text\x14...\x14\x00`.

/// One parsed TAL: onset and duration in seconds, non-empty texts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tal {
    pub onset_s: f64,
    pub duration_s: Option<f64>,
    pub texts: Vec<String>,
}

const DURATION_MARK: u8 = 0x15;
const TEXT_MARK: u8 = 0x14;

/// Parses the TALs in one data record's annotation-signal bytes. Zero bytes between or after TALs
/// are padding.
pub(crate) fn parse_tals(bytes: &[u8]) -> Result<Vec<Tal>, String> {
    let mut tals = Vec::new();
    let mut rest = bytes;
    loop {
        let start = rest.iter().position(|&b| b != 0).unwrap_or(rest.len());
        rest = &rest[start..];
        if rest.is_empty() {
            return Ok(tals);
        }
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or("TAL is not terminated by a 0 byte before the end of the data record")?;
        let (tal, tail) = rest.split_at(end);
        tals.push(parse_tal(tal)?);
        rest = tail;
    }
}

fn parse_tal(tal: &[u8]) -> Result<Tal, String> {
    let mut parts = tal.split(|&b| b == TEXT_MARK);
    let timing = parts.next().unwrap_or_default();
    let texts: Vec<String> = parts
        .filter(|t| !t.is_empty())
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .collect();
    if !tal.contains(&TEXT_MARK) {
        return Err(format!(
            "TAL {:?} has no 0x14 after its onset",
            String::from_utf8_lossy(tal)
        ));
    }
    let mut timing = timing.split(|&b| b == DURATION_MARK);
    let onset_text = String::from_utf8_lossy(timing.next().unwrap_or_default()).into_owned();
    if !onset_text.starts_with(['+', '-']) {
        return Err(format!(
            "TAL onset {onset_text:?} does not start with + or -"
        ));
    }
    let onset_s = parse_seconds(&onset_text, "onset")?;
    let duration_s = timing
        .next()
        .map(|d| parse_seconds(&String::from_utf8_lossy(d), "duration"))
        .transpose()?;
    if duration_s.is_some_and(|d| d < 0.0) || timing.next().is_some() {
        return Err(format!(
            "malformed TAL duration in {:?}",
            String::from_utf8_lossy(tal)
        ));
    }
    Ok(Tal {
        onset_s,
        duration_s,
        texts,
    })
}

fn parse_seconds(text: &str, what: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("TAL {what} {text:?} is not a number of seconds"))
}

/// Encodes one TAL. Callers must have rejected texts containing 0x00, 0x14 or 0x15.
pub(crate) fn encode_tal(onset_s: f64, duration_s: Option<f64>, texts: &[&str], out: &mut Vec<u8>) {
    // `{:+}` on f64 never uses exponent notation and round-trips exactly.
    out.extend_from_slice(format!("{onset_s:+}").as_bytes());
    if let Some(d) = duration_s {
        out.push(DURATION_MARK);
        out.extend_from_slice(format!("{d}").as_bytes());
    }
    out.push(TEXT_MARK);
    for text in texts {
        out.extend_from_slice(text.as_bytes());
        out.push(TEXT_MARK);
    }
    out.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spec_example() {
        let bytes =
            b"+0\x14\x14\0+180\x14Lights off\x14Close door\x14\0+1800.2\x1525.5\x14Apnea\x14\0\0\0";
        let tals = parse_tals(bytes).unwrap();
        assert_eq!(tals.len(), 3);
        assert_eq!(tals[0].onset_s, 0.0);
        assert!(tals[0].texts.is_empty());
        assert_eq!(tals[1].texts, vec!["Lights off", "Close door"]);
        assert_eq!(tals[2].onset_s, 1800.2);
        assert_eq!(tals[2].duration_s, Some(25.5));
    }

    #[test]
    fn encode_round_trip() {
        let mut bytes = Vec::new();
        encode_tal(-0.5, Some(0.04), &["QRS"], &mut bytes);
        encode_tal(12.0, None, &[""], &mut bytes);
        assert!(
            bytes.ends_with(b"+12\x14\x14\0"),
            "time-keeping TAL per spec"
        );
        let tals = parse_tals(&bytes).unwrap();
        assert_eq!(tals[0].onset_s, -0.5);
        assert_eq!(tals[0].duration_s, Some(0.04));
        assert_eq!(tals[0].texts, vec!["QRS"]);
        assert_eq!(tals[1].onset_s, 12.0);
    }

    #[test]
    fn malformed() {
        assert!(parse_tals(b"+0\x14abc").is_err());
        assert!(parse_tals(b"0\x14\x14\0").is_err());
        assert!(parse_tals(b"+x\x14\x14\0").is_err());
        assert!(parse_tals(b"+1\0").is_err());
        assert!(parse_tals(b"+1\x15-2\x14\0").is_err());
        assert!(parse_tals(b"+inf\x14\0").is_err());
    }
}
