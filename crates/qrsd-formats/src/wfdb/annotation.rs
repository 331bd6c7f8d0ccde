//! MIT-format WFDB annotation files (`.atr`, LUDB's `.ii`, ...).
//!
//! Each annotation is a little-endian 16-bit word: the top 6 bits are the code, the low 10 bits
//! the sample-time increment. Codes 59–63 are pseudo-annotations (SKIP, NUM, SUB, CHN, AUX) that
//! modify the preceding annotation or the running state; the word 0 ends the file.

use std::path::Path;

use crate::io_util::{io_err, read_limited};
use crate::limits::MAX_ANNOTATION_BYTES;
use crate::FormatError;

const SKIP: u16 = 59;
const NUM: u16 = 60;
const SUB: u16 = 61;
const CHN: u16 = 62;
const AUX: u16 = 63;
/// Largest code of a real annotation (ecgcodes.h ACMAX).
const ACMAX: u8 = 49;
const DATA_MASK: u16 = 0x03FF;

/// One annotation, with the fields of the WFDB `WFDB_Annotation` struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Sample index (frame number) the annotation refers to.
    pub sample: i64,
    /// Mnemonic, e.g. `"N"`, `"("`, `")"`, `"p"`, `"t"`, `"+"`; `"[42]"` for codes without one.
    pub symbol: String,
    /// Annotation subtype.
    pub subtype: i8,
    /// Signal number the annotation applies to.
    pub chan: u8,
    /// Annotator-defined number.
    pub num: i8,
    /// Auxiliary text (e.g. rhythm `"(AFIB"`), if present.
    pub aux: Option<String>,
}

/// Standard code ↔ mnemonic table from WFDB's ecgcodes.h.
const SYMBOLS: [(u8, &str); 40] = [
    (1, "N"),
    (2, "L"),
    (3, "R"),
    (4, "a"),
    (5, "V"),
    (6, "F"),
    (7, "J"),
    (8, "A"),
    (9, "S"),
    (10, "E"),
    (11, "j"),
    (12, "/"),
    (13, "Q"),
    (14, "~"),
    (16, "|"),
    (18, "s"),
    (19, "T"),
    (20, "*"),
    (21, "D"),
    (22, "\""),
    (23, "="),
    (24, "p"),
    (25, "B"),
    (26, "^"),
    (27, "t"),
    (28, "+"),
    (29, "u"),
    (30, "?"),
    (31, "!"),
    (32, "["),
    (33, "]"),
    (34, "e"),
    (35, "n"),
    (36, "@"),
    (37, "x"),
    (38, "f"),
    (39, "("),
    (40, ")"),
    (41, "r"),
    (0, " "),
];

/// Mnemonic for an annotation code; codes without one are written `"[code]"` as WFDB does.
pub fn code_to_symbol(code: u8) -> String {
    SYMBOLS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or_else(|| format!("[{code}]"), |(_, s)| (*s).to_string())
}

/// Annotation code for a mnemonic (or `"[code]"`), if it denotes a code 1..=49 that can be
/// written (code 0 would collide with the end-of-file word).
pub fn symbol_to_code(symbol: &str) -> Option<u8> {
    let code = match SYMBOLS.iter().find(|(_, s)| *s == symbol) {
        Some((c, _)) => *c,
        None => symbol
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .and_then(|n| n.parse().ok())?,
    };
    (1..=ACMAX).contains(&code).then_some(code)
}

/// Reads an MIT-format annotation file (at most [`MAX_ANNOTATION_BYTES`]).
///
/// The file must end with the end-of-file word; a file cut anywhere else is
/// [`FormatError::UnexpectedEof`].
pub fn read_annotations(path: impl AsRef<Path>) -> Result<Vec<Annotation>, FormatError> {
    let path = path.as_ref();
    let bytes = read_limited(path, MAX_ANNOTATION_BYTES, "annotation file size")?;
    parse_annotations(&bytes, path)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FormatError> {
        let slice = self
            .pos
            .checked_add(n)
            .and_then(|end| self.bytes.get(self.pos..end))
            .ok_or_else(|| FormatError::UnexpectedEof {
                path: self.path.to_path_buf(),
                offset: self.pos as u64,
                what,
            })?;
        self.pos += n;
        Ok(slice)
    }

    fn word(&mut self, what: &'static str) -> Result<u16, FormatError> {
        let start = self.pos;
        match *self.take(2, what)? {
            [lo, hi] => Ok(u16::from_le_bytes([lo, hi])),
            _ => Err(FormatError::UnexpectedEof {
                path: self.path.to_path_buf(),
                offset: start as u64,
                what,
            }),
        }
    }
}

fn parse_annotations(bytes: &[u8], path: &Path) -> Result<Vec<Annotation>, FormatError> {
    let mut cur = Cursor {
        bytes,
        pos: 0,
        path,
    };
    let mut out: Vec<Annotation> = Vec::new();
    let mut time: i64 = 0;
    // CHN and NUM persist to later annotations; SUB and AUX apply to one annotation only.
    let (mut chan, mut num) = (0u8, 0i8);
    loop {
        let word = cur.word("annotation (missing end-of-file marker?)")?;
        let (code, data) = (word >> 10, word & DATA_MASK);
        match code {
            0 if data == 0 => break,
            SKIP => {
                // PDP-11 long: high 16-bit word first, each word little-endian.
                let hi = cur.word("SKIP interval")?;
                let lo = cur.word("SKIP interval")?;
                time += i64::from(((u32::from(hi) << 16) | u32::from(lo)) as i32);
            }
            NUM => {
                num = data as u8 as i8;
                if let Some(last) = out.last_mut() {
                    last.num = num;
                }
            }
            SUB => {
                if let Some(last) = out.last_mut() {
                    last.subtype = data as u8 as i8;
                }
            }
            CHN => {
                chan = data as u8;
                if let Some(last) = out.last_mut() {
                    last.chan = chan;
                }
            }
            AUX => {
                let len = usize::from(data);
                let text = cur.take(len, "AUX string")?;
                if len % 2 == 1 {
                    cur.take(1, "AUX padding byte")?;
                }
                let text = String::from_utf8_lossy(text)
                    .trim_end_matches('\0')
                    .to_string();
                if let Some(last) = out.last_mut() {
                    last.aux = Some(text);
                }
            }
            _ => {
                time += i64::from(data);
                out.push(Annotation {
                    sample: time,
                    symbol: code_to_symbol(code as u8),
                    subtype: 0,
                    chan,
                    num,
                    aux: None,
                });
            }
        }
    }
    Ok(out)
}

/// Writes annotations in MIT format (in the given order; WFDB expects ascending samples).
///
/// Fails on an unknown symbol, an aux string over 255 bytes, or a sample step that does not fit
/// in 32 bits.
pub fn write_annotations(
    path: impl AsRef<Path>,
    annotations: &[Annotation],
) -> Result<(), FormatError> {
    let path = path.as_ref();
    let bytes = encode_annotations(annotations, path)?;
    std::fs::write(path, bytes).map_err(io_err(path))
}

fn encode_annotations(annotations: &[Annotation], path: &Path) -> Result<Vec<u8>, FormatError> {
    let invalid = |i: usize, message: String| FormatError::Invalid {
        path: path.to_path_buf(),
        message: format!("annotation {i}: {message}"),
    };
    let mut out = Vec::with_capacity(annotations.len() * 2 + 2);
    let put = |out: &mut Vec<u8>, code: u16, data: u16| {
        out.extend_from_slice(&((code << 10) | (data & DATA_MASK)).to_le_bytes());
    };
    let (mut time, mut chan, mut num) = (0i64, 0u8, 0i8);
    for (i, ann) in annotations.iter().enumerate() {
        let code = symbol_to_code(&ann.symbol)
            .ok_or_else(|| invalid(i, format!("unknown symbol {:?}", ann.symbol)))?;
        let delta = ann.sample - time;
        let data = match u16::try_from(delta) {
            Ok(d) if d <= DATA_MASK => d,
            _ => {
                let skip = i32::try_from(delta)
                    .map_err(|_| invalid(i, format!("sample step {delta} exceeds 32 bits")))?
                    as u32;
                put(&mut out, SKIP, 0);
                out.extend_from_slice(&((skip >> 16) as u16).to_le_bytes());
                out.extend_from_slice(&(skip as u16).to_le_bytes());
                0
            }
        };
        put(&mut out, u16::from(code), data);
        time = ann.sample;
        if ann.subtype != 0 {
            put(&mut out, SUB, u16::from(ann.subtype as u8));
        }
        if ann.chan != chan {
            chan = ann.chan;
            put(&mut out, CHN, u16::from(chan));
        }
        if ann.num != num {
            num = ann.num;
            put(&mut out, NUM, u16::from(num as u8));
        }
        if let Some(aux) = &ann.aux {
            let len = u8::try_from(aux.len()).map_err(|_| {
                invalid(i, format!("aux string of {} bytes exceeds 255", aux.len()))
            })?;
            put(&mut out, AUX, u16::from(len));
            out.extend_from_slice(aux.as_bytes());
            if len % 2 == 1 {
                out.push(0);
            }
        }
    }
    put(&mut out, 0, 0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(sample: i64, symbol: &str) -> Annotation {
        Annotation {
            sample,
            symbol: symbol.into(),
            subtype: 0,
            chan: 0,
            num: 0,
            aux: None,
        }
    }

    #[test]
    fn symbol_table_round_trips() {
        for (code, sym) in SYMBOLS.iter().filter(|(c, _)| *c != 0) {
            assert_eq!(code_to_symbol(*code), *sym);
            assert_eq!(symbol_to_code(sym), Some(*code));
        }
        assert_eq!(code_to_symbol(42), "[42]");
        assert_eq!(symbol_to_code("[42]"), Some(42));
        assert_eq!(symbol_to_code("[0]"), None);
        assert_eq!(symbol_to_code("[50]"), None);
        assert_eq!(symbol_to_code("zz"), None);
    }

    #[test]
    fn pseudo_codes_decode() {
        let p = Path::new("x.atr");
        let mut anns = vec![ann(5, "N"), ann(2000, "V"), ann(2000, "+"), ann(2001, "(")];
        anns[1].subtype = -3;
        anns[1].chan = 2;
        anns[2].chan = 2;
        anns[2].num = 7;
        anns[2].aux = Some("(AFIB".into());
        anns[3].chan = 2;
        anns[3].num = 7;
        anns[3].aux = Some("ab".into());
        let bytes = encode_annotations(&anns, p).unwrap();
        assert_eq!(parse_annotations(&bytes, p).unwrap(), anns);
    }

    #[test]
    fn negative_step_uses_skip() {
        let p = Path::new("x.atr");
        let anns = vec![ann(100, "N"), ann(40, "N"), ann(5_000_000, "N")];
        let bytes = encode_annotations(&anns, p).unwrap();
        assert_eq!(parse_annotations(&bytes, p).unwrap(), anns);
    }

    #[test]
    fn writer_rejects_bad_input() {
        let p = Path::new("x.atr");
        assert!(encode_annotations(&[ann(1, "??")], p).is_err());
        assert!(encode_annotations(&[ann(1 << 40, "N")], p).is_err());
        let mut long = ann(1, "N");
        long.aux = Some("a".repeat(256));
        assert!(encode_annotations(&[long], p).is_err());
    }

    #[test]
    fn truncations_are_errors() {
        let p = Path::new("x.atr");
        let mut with_aux = ann(3, "N");
        with_aux.aux = Some("abc".into());
        let bytes = encode_annotations(&[ann(2000, "N"), with_aux], p).unwrap();
        for cut in 0..bytes.len() {
            assert!(
                matches!(
                    parse_annotations(&bytes[..cut], p),
                    Err(FormatError::UnexpectedEof { .. })
                ),
                "cut at {cut}"
            );
        }
    }
}
