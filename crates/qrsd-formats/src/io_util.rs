//! Small I/O helpers that attach the file path to errors and enforce size limits.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::FormatError;

/// Wraps an I/O error with the path it concerns.
pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> FormatError + '_ {
    move |source| FormatError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads a whole file, refusing (before allocating) files larger than `max_bytes`.
pub(crate) fn read_limited(
    path: &Path,
    max_bytes: u64,
    what: &'static str,
) -> Result<Vec<u8>, FormatError> {
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    let too_big = |value| FormatError::LimitExceeded {
        path: path.to_path_buf(),
        what,
        value,
        limit: max_bytes,
    };
    if len > max_bytes {
        return Err(too_big(len));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // `take` guards against a file that grows while we read it.
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Every sample of a chunked reader (`read(max, out)` → samples per lead delivered, 0 at the end),
/// gathered per lead: the whole-record reads are built on the streaming readers this way.
pub(crate) fn read_all(
    n_leads: usize,
    mut read: impl FnMut(usize, &mut [Vec<f32>]) -> Result<usize, crate::FormatError>,
) -> Result<Vec<Vec<f32>>, crate::FormatError> {
    let mut leads: Vec<Vec<f32>> = vec![Vec::new(); n_leads];
    let mut chunk: Vec<Vec<f32>> = vec![Vec::new(); n_leads];
    while read(1 << 16, &mut chunk)? > 0 {
        for (l, c) in leads.iter_mut().zip(&chunk) {
            l.extend_from_slice(c);
        }
    }
    Ok(leads)
}
