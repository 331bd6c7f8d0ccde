//! CSV recordings: a header row `time,<lead>,<lead>...` and one row per sample.
//!
//! The first column is the time: `time`, `t` or `time_s` in seconds, `time_ms` in milliseconds,
//! or `sample` (an index, which needs the rate from a `# fs=500` comment line or
//! [`read_with_fs`]). Lead columns are in µV unless the name carries a unit: `II_mV`, `II (mV)`,
//! `II [mV]` (uV/µV/mV/V). The separator is `,`, `;` (where `,` may then be the decimal mark) or
//! tab, chosen from the header row. Blank lines and `#` comment lines are skipped; an empty or
//! `NaN` cell is an invalid (NaN) sample. The sampling rate comes from the median time step and
//! every step must be within 1% of it.

use std::path::Path;

use crate::io_util::read_limited;
use crate::limits::{MAX_CSV_BYTES, MAX_SIGNALS, MAX_TOTAL_SAMPLES};
use crate::units::voltage_scale_to_uv;
use crate::{FormatError, Lead, Recording};

/// Largest allowed deviation of one time step from the median step, as a fraction.
const MAX_STEP_DEVIATION: f64 = 0.01;

/// Reads a CSV recording.
pub fn read(path: impl AsRef<Path>) -> Result<Recording, FormatError> {
    read_impl(path.as_ref(), None)
}

/// Reads a CSV recording whose rate is known: needed for a `sample` index column without an
/// `# fs=` comment. With a time column, the rate the times imply must agree within 1%.
pub fn read_with_fs(path: impl AsRef<Path>, fs_hz: f64) -> Result<Recording, FormatError> {
    let path = path.as_ref();
    if !(fs_hz.is_finite() && fs_hz > 0.0) {
        return Err(FormatError::Invalid {
            path: path.to_path_buf(),
            message: format!("sampling rate {fs_hz} Hz must be positive"),
        });
    }
    read_impl(path, Some(fs_hz))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TimeColumn {
    Seconds,
    Milliseconds,
    SampleIndex,
}

impl TimeColumn {
    fn from_header(name: &str) -> Option<TimeColumn> {
        match name.to_ascii_lowercase().as_str() {
            "time" | "t" | "time_s" => Some(TimeColumn::Seconds),
            "time_ms" => Some(TimeColumn::Milliseconds),
            "sample" => Some(TimeColumn::SampleIndex),
            _ => None,
        }
    }
}

struct Parser<'a> {
    path: &'a Path,
    separator: char,
}

impl Parser<'_> {
    fn syntax(&self, line: usize, message: String) -> FormatError {
        FormatError::Syntax {
            path: self.path.to_path_buf(),
            line,
            message,
        }
    }

    fn cells<'l>(&self, line: &'l str) -> Vec<&'l str> {
        line.split(self.separator)
            .map(|c| c.trim().trim_matches('"').trim())
            .collect()
    }

    fn number(&self, cell: &str, line: usize, column: &str) -> Result<f64, FormatError> {
        let normalised;
        let text = if self.separator == ';' && cell.contains(',') {
            normalised = cell.replace(',', ".");
            normalised.as_str()
        } else {
            cell
        };
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(v) if v.is_nan() => Ok(f64::NAN),
            _ => Err(self.syntax(line, format!("column {column:?}: {cell:?} is not a number"))),
        }
    }
}

fn read_impl(path: &Path, fs_override: Option<f64>) -> Result<Recording, FormatError> {
    let bytes = read_limited(path, MAX_CSV_BYTES, "CSV file size")?;
    let text = String::from_utf8(bytes).map_err(|e| FormatError::Invalid {
        path: path.to_path_buf(),
        message: format!("not UTF-8 text: {e}"),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut fs_comment = None;
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| {
            let l = l.trim();
            if let Some(comment) = l.strip_prefix('#') {
                fs_comment = fs_comment.or_else(|| parse_fs_comment(comment));
                return false;
            }
            !l.is_empty()
        });
    let (header_line, header) = lines.next().ok_or_else(|| FormatError::Invalid {
        path: path.to_path_buf(),
        message: "CSV file has no header row".into(),
    })?;
    let separator = [';', '\t']
        .into_iter()
        .find(|&s| header.contains(s))
        .unwrap_or(',');
    let parser = Parser { path, separator };
    let (time_kind, columns) = parse_header(&parser, header, header_line)?;
    let mut times = Vec::new();
    let mut values: Vec<Vec<f32>> = vec![Vec::new(); columns.len()];
    let mut line_numbers = Vec::new();
    for (line_no, line) in lines.by_ref() {
        let mut cells = parser.cells(line);
        // Tolerate a trailing separator.
        if cells.len() == columns.len() + 2 && cells.last() == Some(&"") {
            cells.pop();
        }
        if cells.len() != columns.len() + 1 {
            return Err(parser.syntax(
                line_no,
                format!(
                    "expected {} cells, found {}",
                    columns.len() + 1,
                    cells.len()
                ),
            ));
        }
        if (times.len() as u64 + 1) * columns.len() as u64 > MAX_TOTAL_SAMPLES {
            return Err(FormatError::LimitExceeded {
                path: path.to_path_buf(),
                what: "total number of samples",
                value: (times.len() as u64 + 1) * columns.len() as u64,
                limit: MAX_TOTAL_SAMPLES,
            });
        }
        let time = parser.number(cells[0], line_no, "time")?;
        if time.is_nan() {
            return Err(parser.syntax(line_no, "time cell is empty or NaN".into()));
        }
        times.push(time);
        line_numbers.push(line_no);
        for ((cell, column), out) in cells[1..].iter().zip(&columns).zip(&mut values) {
            let v = if cell.is_empty() {
                f64::NAN
            } else {
                parser.number(cell, line_no, &column.name)?
            };
            out.push((v * column.scale_uv) as f32);
        }
    }
    let fs_hz = sampling_rate(
        &parser,
        time_kind,
        &times,
        &line_numbers,
        fs_override,
        fs_comment,
    )?;
    Ok(Recording {
        fs_hz,
        leads: columns
            .into_iter()
            .zip(values)
            .map(|(c, samples_uv)| Lead {
                name: c.name,
                samples_uv,
            })
            .collect(),
    })
}

/// Parses `fs=500`, `fs: 500`, `fs_hz = 500` in a comment.
fn parse_fs_comment(comment: &str) -> Option<f64> {
    let (key, value) = comment.split_once(['=', ':'])?;
    let key = key.trim().to_ascii_lowercase();
    if key != "fs" && key != "fs_hz" {
        return None;
    }
    let value = value
        .trim()
        .trim_end_matches("Hz")
        .trim()
        .parse::<f64>()
        .ok()?;
    (value.is_finite() && value > 0.0).then_some(value)
}

struct Column {
    name: String,
    scale_uv: f64,
}

fn parse_header(
    parser: &Parser,
    header: &str,
    line: usize,
) -> Result<(TimeColumn, Vec<Column>), FormatError> {
    let cells = parser.cells(header);
    let time_kind = TimeColumn::from_header(cells[0]).ok_or_else(|| {
        parser.syntax(
            line,
            format!(
                "first column {:?} must be time, t, time_s, time_ms or sample",
                cells[0]
            ),
        )
    })?;
    if cells.len() < 2 {
        return Err(parser.syntax(line, "header has no lead columns".into()));
    }
    if cells.len() - 1 > MAX_SIGNALS {
        return Err(FormatError::LimitExceeded {
            path: parser.path.to_path_buf(),
            what: "number of columns",
            value: (cells.len() - 1) as u64,
            limit: MAX_SIGNALS as u64,
        });
    }
    let columns = cells[1..]
        .iter()
        .map(|cell| {
            parse_lead_column(cell).ok_or_else(|| {
                parser.syntax(
                    line,
                    format!("lead column {cell:?} has no name or an unknown unit"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    Ok((time_kind, columns))
}

/// Splits `II`, `II_mV`, `II (mV)`, `II [uV]` into an upper-case name and a µV scale.
fn parse_lead_column(cell: &str) -> Option<Column> {
    let bracketed = [('(', ')'), ('[', ']')]
        .into_iter()
        .find_map(|(open, close)| {
            let inner = cell.strip_suffix(close)?;
            let (name, unit) = inner.rsplit_once(open)?;
            Some((name.trim(), voltage_scale_to_uv(unit)?))
        });
    let suffixed = || {
        let (name, unit) = cell.rsplit_once('_')?;
        Some((name, voltage_scale_to_uv(unit)?))
    };
    let (name, scale_uv) = match bracketed.or_else(suffixed) {
        Some(found) => found,
        // A bracketed suffix that is not a voltage unit (e.g. "(mmHg)") is not a lead.
        None if cell.ends_with([')', ']']) => return None,
        None => (cell, 1.0),
    };
    let name = name.trim();
    (!name.is_empty()).then(|| Column {
        name: name.to_uppercase(),
        scale_uv,
    })
}

fn sampling_rate(
    parser: &Parser,
    kind: TimeColumn,
    times: &[f64],
    line_numbers: &[usize],
    fs_override: Option<f64>,
    fs_comment: Option<f64>,
) -> Result<f64, FormatError> {
    if times.len() < 2 {
        return Err(FormatError::Invalid {
            path: parser.path.to_path_buf(),
            message: format!(
                "need at least 2 data rows to find the sampling rate, found {}",
                times.len()
            ),
        });
    }
    let steps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let mut sorted = steps.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    if median <= 0.0 {
        return Err(parser.syntax(
            line_numbers[1],
            format!("time does not increase (median step {median})"),
        ));
    }
    if let Some(i) = steps
        .iter()
        .position(|s| (s - median).abs() > MAX_STEP_DEVIATION * median)
    {
        return Err(parser.syntax(
            line_numbers[i + 1],
            format!(
                "non-uniform time step {} (median {median}); resample or fix the time column",
                steps[i]
            ),
        ));
    }
    if kind == TimeColumn::SampleIndex && (median - 1.0).abs() > MAX_STEP_DEVIATION {
        return Err(parser.syntax(
            line_numbers[1],
            format!("sample index must step by 1, not {median}"),
        ));
    }
    let implied = match kind {
        TimeColumn::Seconds => Some(1.0 / median),
        TimeColumn::Milliseconds => Some(1000.0 / median),
        TimeColumn::SampleIndex => None,
    }
    .map(snap_to_integer);
    let declared = fs_override.or(fs_comment);
    match (implied, declared) {
        (Some(implied), Some(declared))
            if (implied - declared).abs() > MAX_STEP_DEVIATION * declared =>
        {
            Err(FormatError::Invalid {
                path: parser.path.to_path_buf(),
                message: format!("time column implies {implied} Hz but {declared} Hz was given"),
            })
        }
        (_, Some(declared)) => Ok(declared),
        (Some(implied), None) => Ok(implied),
        (None, None) => Err(FormatError::Invalid {
            path: parser.path.to_path_buf(),
            message: "a 'sample' index column needs the rate: add a '# fs=500' comment line \
                      or use csv::read_with_fs"
                .into(),
        }),
    }
}

/// Removes the float noise of `1/0.002` etc. so a 500 Hz file reads as exactly 500 Hz.
fn snap_to_integer(fs: f64) -> f64 {
    let rounded = fs.round();
    if (fs - rounded).abs() <= 1e-6 * fs {
        rounded
    } else {
        fs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_columns() {
        let c = parse_lead_column("II_mV").unwrap();
        assert_eq!((c.name.as_str(), c.scale_uv), ("II", 1000.0));
        let c = parse_lead_column("aVR (mV)").unwrap();
        assert_eq!((c.name.as_str(), c.scale_uv), ("AVR", 1000.0));
        let c = parse_lead_column("V1 [uV]").unwrap();
        assert_eq!((c.name.as_str(), c.scale_uv), ("V1", 1.0));
        let c = parse_lead_column("lead_x").unwrap();
        assert_eq!((c.name.as_str(), c.scale_uv), ("LEAD_X", 1.0));
        assert!(parse_lead_column("II (mmHg)").is_none());
        assert!(parse_lead_column("").is_none());
        assert!(parse_lead_column("_mV").is_none());
    }

    #[test]
    fn fs_comments() {
        assert_eq!(parse_fs_comment(" fs=500"), Some(500.0));
        assert_eq!(parse_fs_comment("fs_hz: 360 Hz"), Some(360.0));
        assert_eq!(parse_fs_comment("note: hi"), None);
        assert_eq!(parse_fs_comment("fs=-1"), None);
    }
}
