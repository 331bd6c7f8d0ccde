//! WFDB header (`.hea`) parsing, per the PhysioNet `header(5)` specification.

use std::path::Path;

use crate::io_util::read_limited;
use crate::limits::{MAX_HEADER_BYTES, MAX_SIGNALS};
use crate::FormatError;

/// Sampling frequency the spec assumes when the record line omits it.
pub const DEFAULT_FS_HZ: f64 = 250.0;
/// ADC gain (adu per physical unit) the spec assumes when the gain is missing or zero.
pub const DEFAULT_GAIN: f64 = 200.0;

/// A parsed single-segment WFDB header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Record name from the record line.
    pub record_name: String,
    /// Sampling frequency per signal, in frames per second (Hz).
    pub fs_hz: f64,
    /// Counter frequency (`fs/counter`), if given.
    pub counter_freq_hz: Option<f64>,
    /// Base counter value (`fs/counter(base)`), if given.
    pub base_counter: Option<f64>,
    /// Samples (frames) per signal; `None` when absent or 0 (read the data file to its end).
    pub num_samples: Option<u64>,
    /// Base time `hh:mm:ss[.sss]` as written, if given.
    pub base_time: Option<String>,
    /// Base date `dd/mm/yyyy` as written, if given.
    pub base_date: Option<String>,
    /// One entry per signal line, in order.
    pub signals: Vec<SignalSpec>,
    /// Comment lines without their leading `#`, in order.
    pub comments: Vec<String>,
}

/// One signal line of a WFDB header.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalSpec {
    /// Data file name, relative to the header's directory.
    pub file_name: String,
    /// Storage format code (16, 212, 80, ...).
    pub format: u16,
    /// Samples of this signal per frame (`xN` suffix; default 1).
    pub samples_per_frame: u32,
    /// Skew in frames (`:N` suffix; default 0).
    pub skew: u32,
    /// Bytes to skip at the start of the data file (`+N` suffix; default 0).
    pub byte_offset: u64,
    /// ADC units per physical unit; [`DEFAULT_GAIN`] when missing or zero.
    pub adc_gain: f64,
    /// ADC value of physical zero; defaults to `adc_zero`.
    pub baseline: i64,
    /// Physical units as written (default `mV`).
    pub units: String,
    /// ADC resolution in bits; `None` when missing or 0.
    pub adc_resolution: Option<u32>,
    /// ADC value at the centre of its range (default 0).
    pub adc_zero: i64,
    /// Value of the first sample (default `adc_zero`).
    pub initial_value: i64,
    /// 16-bit checksum of all samples, if given (not verified by the reader).
    pub checksum: Option<i64>,
    /// Block size in bytes (default 0).
    pub block_size: u64,
    /// Signal description, usually the lead name (may contain spaces).
    pub description: String,
}

/// Reads and parses a `.hea` file (at most [`MAX_HEADER_BYTES`]).
pub fn read_header(path: impl AsRef<Path>) -> Result<Header, FormatError> {
    let path = path.as_ref();
    let bytes = read_limited(path, MAX_HEADER_BYTES, "header file size")?;
    // Lossy: descriptions in old headers may be Latin-1; the numeric fields are ASCII anyway.
    Header::parse(&String::from_utf8_lossy(&bytes), path)
}

impl Header {
    /// Parses header text; `path` is used only in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Header, FormatError> {
        let syntax = |line: usize, message: String| FormatError::Syntax {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut comments = Vec::new();
        let mut content = Vec::new();
        for (idx, raw) in text.lines().enumerate() {
            let trimmed = raw.trim();
            if let Some(comment) = trimmed.strip_prefix('#') {
                comments.push(comment.trim_end().to_string());
            } else if !trimmed.is_empty() {
                content.push((idx + 1, trimmed));
            }
        }
        let mut lines = content.into_iter();
        let Some((record_line_no, record_line)) = lines.next() else {
            return Err(syntax(1, "header has no record line".into()));
        };
        let record =
            parse_record_line(record_line, path).map_err(|e| e.at(path, record_line_no))?;
        let mut signals = Vec::with_capacity(record.nsig);
        for (line_no, line) in lines.by_ref().take(record.nsig) {
            signals.push(parse_signal_line(line).map_err(|e| e.at(path, line_no))?);
        }
        if signals.len() < record.nsig {
            return Err(syntax(
                text.lines().count().max(1),
                format!(
                    "record line declares {} signals but the header has only {} signal lines",
                    record.nsig,
                    signals.len()
                ),
            ));
        }
        if let Some((line_no, _)) = lines.next() {
            return Err(syntax(
                line_no,
                format!(
                    "unexpected line after the {} declared signal lines",
                    record.nsig
                ),
            ));
        }
        Ok(Header {
            record_name: record.name,
            fs_hz: record.fs_hz,
            counter_freq_hz: record.counter_freq_hz,
            base_counter: record.base_counter,
            num_samples: record.num_samples,
            base_time: record.base_time,
            base_date: record.base_date,
            signals,
            comments,
        })
    }
}

/// A line-level parse failure, located by the caller.
enum LineError {
    Syntax(String),
    Fatal(FormatError),
}

impl LineError {
    fn at(self, path: &Path, line: usize) -> FormatError {
        match self {
            LineError::Syntax(message) => FormatError::Syntax {
                path: path.to_path_buf(),
                line,
                message,
            },
            LineError::Fatal(e) => e,
        }
    }
}

impl From<String> for LineError {
    fn from(message: String) -> Self {
        LineError::Syntax(message)
    }
}

struct RecordLine {
    name: String,
    nsig: usize,
    fs_hz: f64,
    counter_freq_hz: Option<f64>,
    base_counter: Option<f64>,
    num_samples: Option<u64>,
    base_time: Option<String>,
    base_date: Option<String>,
}

fn parse_record_line(line: &str, path: &Path) -> Result<RecordLine, LineError> {
    let mut tokens = line.split_whitespace();
    let name = tokens.next().unwrap_or_default();
    if name.contains('/') {
        return Err(LineError::Fatal(FormatError::Unsupported {
            path: path.to_path_buf(),
            feature: format!("multi-segment WFDB record {name:?}"),
        }));
    }
    let nsig_text = tokens
        .next()
        .ok_or_else(|| "record line needs a record name and a number of signals".to_string())?;
    let nsig: u64 = parse_num(nsig_text, "number of signals")?;
    if nsig > MAX_SIGNALS as u64 {
        return Err(LineError::Fatal(FormatError::LimitExceeded {
            path: path.to_path_buf(),
            what: "number of signals",
            value: nsig,
            limit: MAX_SIGNALS as u64,
        }));
    }
    let (fs_hz, counter_freq_hz, base_counter) = match tokens.next() {
        Some(field) => parse_frequency_field(field)?,
        None => (DEFAULT_FS_HZ, None, None),
    };
    let num_samples = match tokens.next() {
        // The spec defines 0 as "unspecified", same as absent.
        Some(text) => Some(parse_num::<u64>(text, "number of samples")?).filter(|&n| n > 0),
        None => None,
    };
    Ok(RecordLine {
        name: name.to_string(),
        nsig: nsig as usize,
        fs_hz,
        counter_freq_hz,
        base_counter,
        num_samples,
        base_time: tokens.next().map(str::to_string),
        base_date: tokens.next().map(str::to_string),
    })
}

/// Parses `fs[/counter[(base)]]`.
fn parse_frequency_field(field: &str) -> Result<(f64, Option<f64>, Option<f64>), String> {
    let (fs_text, counter_text) = match field.split_once('/') {
        Some((fs, counter)) => (fs, Some(counter)),
        None => (field, None),
    };
    let fs = parse_positive(fs_text, "sampling frequency")?;
    let Some(counter_text) = counter_text else {
        return Ok((fs, None, None));
    };
    let (counter_text, base) = split_parenthesised(counter_text, "counter frequency")?;
    let counter = parse_positive(counter_text, "counter frequency")?;
    let base = base
        .map(|b| parse_finite(b, "base counter value"))
        .transpose()?;
    Ok((fs, Some(counter), base))
}

fn parse_signal_line(line: &str) -> Result<SignalSpec, LineError> {
    let (fields, description) = split_fields(line, 8);
    let mut fields = fields.into_iter();
    let file_name = fields.next().unwrap_or_default().to_string();
    let format_field = fields
        .next()
        .ok_or_else(|| format!("signal line for {file_name:?} has no format field"))?;
    let (format, samples_per_frame, skew, byte_offset) = parse_format_field(format_field)?;
    let gain = fields.next().map(parse_gain_field).transpose()?;
    let adc_resolution = fields
        .next()
        .map(|t| parse_num::<u32>(t, "ADC resolution"))
        .transpose()?
        .filter(|&r| r > 0);
    let adc_zero = fields
        .next()
        .map(|t| parse_num::<i64>(t, "ADC zero"))
        .transpose()?
        .unwrap_or(0);
    let initial_value = fields
        .next()
        .map(|t| parse_num::<i64>(t, "initial value"))
        .transpose()?
        .unwrap_or(adc_zero);
    let checksum = fields
        .next()
        .map(|t| parse_num::<i64>(t, "checksum"))
        .transpose()?;
    let block_size = fields
        .next()
        .map(|t| parse_num::<u64>(t, "block size"))
        .transpose()?
        .unwrap_or(0);
    let gain = gain.unwrap_or_default();
    Ok(SignalSpec {
        file_name,
        format,
        samples_per_frame,
        skew,
        byte_offset,
        adc_gain: gain.gain.filter(|&g| g != 0.0).unwrap_or(DEFAULT_GAIN),
        baseline: gain.baseline.unwrap_or(adc_zero),
        units: gain.units.unwrap_or_else(|| "mV".to_string()),
        adc_resolution,
        adc_zero,
        initial_value,
        checksum,
        block_size,
        description: description.to_string(),
    })
}

/// Parses `format[xspf][:skew][+offset]`.
fn parse_format_field(field: &str) -> Result<(u16, u32, u32, u64), String> {
    let bad = || format!("malformed format field {field:?} (expected format[xN][:skew][+offset])");
    let (format_text, mut rest) = split_leading_digits(field);
    let format = format_text.parse::<u16>().map_err(|_| bad())?;
    // Takes `<marker><digits>` off the front of `rest`, if present.
    fn suffix<'a>(marker: char, rest: &mut &'a str) -> Result<Option<&'a str>, ()> {
        let Some(after) = rest.strip_prefix(marker) else {
            return Ok(None);
        };
        let (digits, tail) = split_leading_digits(after);
        if digits.is_empty() {
            return Err(());
        }
        *rest = tail;
        Ok(Some(digits))
    }
    let spf = suffix('x', &mut rest).map_err(|()| bad())?;
    let skew = suffix(':', &mut rest).map_err(|()| bad())?;
    let offset = suffix('+', &mut rest).map_err(|()| bad())?;
    if !rest.is_empty() {
        return Err(bad());
    }
    let samples_per_frame = match spf {
        Some(t) => parse_num::<u32>(t, "samples per frame")?,
        None => 1,
    };
    if samples_per_frame == 0 {
        return Err(format!("samples per frame must be at least 1 in {field:?}"));
    }
    let skew = skew
        .map(|t| parse_num::<u32>(t, "skew"))
        .transpose()?
        .unwrap_or(0);
    let byte_offset = offset
        .map(|t| parse_num::<u64>(t, "byte offset"))
        .transpose()?
        .unwrap_or(0);
    Ok((format, samples_per_frame, skew, byte_offset))
}

#[derive(Default)]
struct GainField {
    gain: Option<f64>,
    baseline: Option<i64>,
    units: Option<String>,
}

/// Parses `gain[(baseline)][/units]`.
fn parse_gain_field(field: &str) -> Result<GainField, String> {
    let (gain_part, units) = match field.split_once('/') {
        Some((g, u)) if !u.is_empty() => (g, Some(u.to_string())),
        Some(_) => return Err(format!("empty units in gain field {field:?}")),
        None => (field, None),
    };
    let (gain_text, baseline_text) = split_parenthesised(gain_part, "gain")?;
    let gain = parse_finite(gain_text, "ADC gain")?;
    let baseline = baseline_text
        .map(|b| parse_num::<i64>(b, "baseline"))
        .transpose()?;
    Ok(GainField {
        gain: Some(gain),
        baseline,
        units,
    })
}

/// Splits `value(inner)` into `value` and `Some(inner)`; plain `value` gives `None`.
fn split_parenthesised<'a>(
    text: &'a str,
    what: &str,
) -> Result<(&'a str, Option<&'a str>), String> {
    match text.split_once('(') {
        None => Ok((text, None)),
        Some((value, rest)) => match rest.strip_suffix(')') {
            Some(inner) => Ok((value, Some(inner))),
            None => Err(format!("unbalanced parenthesis in {what} field {text:?}")),
        },
    }
}

fn split_leading_digits(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(end)
}

/// Splits off up to `n` whitespace-separated fields; the remainder (trimmed) is returned whole
/// because the description may contain spaces.
fn split_fields(line: &str, n: usize) -> (Vec<&str>, &str) {
    let mut fields = Vec::with_capacity(n);
    let mut rest = line.trim_start();
    while fields.len() < n && !rest.is_empty() {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (field, tail) = rest.split_at(end);
        fields.push(field);
        rest = tail.trim_start();
    }
    (fields, rest.trim_end())
}

fn parse_num<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{what} {text:?} is not a valid number"))
}

fn parse_finite(text: &str, what: &str) -> Result<f64, String> {
    let value: f64 = parse_num(text, what)?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(format!("{what} {text:?} is not finite"))
    }
}

fn parse_positive(text: &str, what: &str) -> Result<f64, String> {
    let value = parse_finite(text, what)?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(format!("{what} {text:?} must be positive"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Header, FormatError> {
        Header::parse(text, Path::new("t.hea"))
    }

    #[test]
    fn record_line_with_counter_and_defaults() {
        let h = parse("rec 1 250/360(12) 1000 10:00:00 01/02/2003\nrec.dat 212\n").unwrap();
        assert_eq!(h.fs_hz, 250.0);
        assert_eq!(h.counter_freq_hz, Some(360.0));
        assert_eq!(h.base_counter, Some(12.0));
        assert_eq!(h.num_samples, Some(1000));
        assert_eq!(h.base_time.as_deref(), Some("10:00:00"));
        assert_eq!(h.base_date.as_deref(), Some("01/02/2003"));
        let s = &h.signals[0];
        assert_eq!((s.format, s.adc_gain, s.baseline), (212, DEFAULT_GAIN, 0));
        assert_eq!(s.units, "mV");
        assert_eq!(s.description, "");
    }

    #[test]
    fn default_fs_and_zero_nsamp() {
        let h = parse("rec 0\n").unwrap();
        assert_eq!(h.fs_hz, DEFAULT_FS_HZ);
        assert_eq!(h.num_samples, None);
        assert_eq!(parse("rec 0 360 0").unwrap().num_samples, None);
    }

    #[test]
    fn full_signal_line() {
        let h = parse("r 1 500 10\nr.dat 16x2:3+512 1716(6)/uV 12 4 -120 -32198 0 lead II ok\n")
            .unwrap();
        let s = &h.signals[0];
        assert_eq!(
            (s.format, s.samples_per_frame, s.skew, s.byte_offset),
            (16, 2, 3, 512)
        );
        assert_eq!(
            (s.adc_gain, s.baseline, s.units.as_str()),
            (1716.0, 6, "uV")
        );
        assert_eq!(s.adc_resolution, Some(12));
        assert_eq!((s.adc_zero, s.initial_value), (4, -120));
        assert_eq!((s.checksum, s.block_size), (Some(-32198), 0));
        assert_eq!(s.description, "lead II ok");
    }

    #[test]
    fn baseline_defaults_to_adc_zero_and_zero_gain_to_200() {
        let h = parse("r 1\nr.dat 16 0/mV 12 7\n").unwrap();
        assert_eq!(h.signals[0].adc_gain, DEFAULT_GAIN);
        assert_eq!(h.signals[0].baseline, 7);
        assert_eq!(h.signals[0].initial_value, 7);
    }

    #[test]
    fn comments_are_kept() {
        let h = parse("# first\nr 1\n#<age>: 51\nr.dat 16\n  # last  \n").unwrap();
        assert_eq!(h.comments, vec![" first", "<age>: 51", " last"]);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse(""),
            Err(FormatError::Syntax { line: 1, .. })
        ));
        assert!(matches!(parse("r"), Err(FormatError::Syntax { .. })));
        assert!(matches!(
            parse("r/2 2 360"),
            Err(FormatError::Unsupported { .. })
        ));
        assert!(matches!(
            parse("r 5000"),
            Err(FormatError::LimitExceeded { value: 5000, .. })
        ));
        assert!(matches!(
            parse("r 99999999999999999999999"),
            Err(FormatError::Syntax { .. })
        ));
        assert!(matches!(
            parse("r 2\nr.dat 16\n"),
            Err(FormatError::Syntax { .. })
        ));
        assert!(matches!(
            parse("r 1\nr.dat 16\nr.dat 16\n"),
            Err(FormatError::Syntax { line: 3, .. })
        ));
        assert!(matches!(
            parse("r 1\nr.dat 16 abc/mV\n"),
            Err(FormatError::Syntax { line: 2, .. })
        ));
        assert!(matches!(
            parse("r 1\nr.dat 16 1e999\n"),
            Err(FormatError::Syntax { .. })
        ));
        assert!(matches!(
            parse("r 1\nr.dat 16 200(3/mV\n"),
            Err(FormatError::Syntax { .. })
        ));
        assert!(matches!(
            parse("r 1\nr.dat 16q\n"),
            Err(FormatError::Syntax { .. })
        ));
        assert!(matches!(
            parse("r 1\nr.dat 16x0\n"),
            Err(FormatError::Syntax { .. })
        ));
        assert!(matches!(
            parse("r 1\nr.dat\n"),
            Err(FormatError::Syntax { .. })
        ));
        assert!(matches!(parse("r 1 -5\n"), Err(FormatError::Syntax { .. })));
        assert!(matches!(
            parse("r 1 nan\n"),
            Err(FormatError::Syntax { .. })
        ));
    }
}
