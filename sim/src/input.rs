//! The error of any input file — a scenario, a network snapshot, a payment list, a sweep: one
//! line naming the file and, where known, the line and column. The binary prints it and exits 2.
//! Also what every reader of a text file shares: a UTF-8 byte-order mark at the start is skipped,
//! and bytes that are not UTF-8 are an error at the line and column of the first bad byte.
//! Columns count characters, as editors do, not bytes.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// An input file that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// The file, as given.
    pub file: String,
    /// 1-based line and column of the offending text, when it can be found.
    pub position: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (file, message) = (one_line(&self.file), one_line(&self.message));
        match self.position {
            Some((line, col)) => write!(f, "{file}:{line}:{col}: {message}"),
            None => write!(f, "{file}: {message}"),
        }
    }
}

/// `text` on one line, as it is safe to print: each control character (a newline, a carriage
/// return, a tab, an escape sequence), line or paragraph separator and bidirectional embedding,
/// override or isolate written as a `\u{..}` escape; other characters (emoji and their joiners
/// included) stay as they are. File names and values quoted from a file reach messages this way,
/// so an error is always one line that shows what it says; `boltsim import` writes a snapshot's
/// strings into RON comments this way, so none ends its comment or disguises the next line.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let hides = matches!(c, '\u{2028}'..='\u{2029}' | '\u{202a}'..='\u{202e}')
            || matches!(c, '\u{2066}'..='\u{2069}');
        if c.is_control() || hides {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

impl std::error::Error for InputError {}

/// The UTF-8 byte-order mark that some Windows editors write at the start of a file.
pub const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// The most text an input file (a scenario, a payment list, a sweep, a snapshot after
/// inflating) may hold: 256 MiB. A file past it is refused with one line naming the file and the
/// limit, after reading at most one byte more. The largest files boltsim reads are snapshots: the
/// 2026 mainnet snapshot is 42 MiB of text (see [`crate::import::MAX_SNAPSHOT_BYTES`]); a payment
/// list of this size holds about six million payments.
pub const MAX_TEXT_BYTES: usize = 256 << 20;

/// The file at `path` as [`text`], of at most [`MAX_TEXT_BYTES`]: an error that it cannot be read
/// names the file.
pub fn read_file(path: &Path) -> Result<String, InputError> {
    read_text(path, MAX_TEXT_BYTES, false)
}

/// A file's text, inflated if gzip-packed and `inflate`: at most `limit` bytes of it (the file,
/// or its inflated stream, is read only up to one byte past the limit, so a gzip bomb costs about
/// `limit` of memory), UTF-8, without a byte-order mark. Only a regular file is read: a FIFO or a
/// device (`/dev/stdin`, `/dev/zero`) named as an input is refused rather than waited on.
pub fn read_text(path: &Path, limit: usize, inflate: bool) -> Result<String, InputError> {
    let file = path.display().to_string();
    let fail = |message: String| InputError { file: file.clone(), position: None, message };
    let opened = open_regular(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let mut reader = std::io::BufReader::new(opened);
    let packed = inflate
        && std::io::BufRead::fill_buf(&mut reader)
            .map_err(|e| fail(format!("cannot read: {e}")))?
            .starts_with(&[0x1f, 0x8b]);
    let mut source: Box<dyn Read> =
        if packed { Box::new(flate2::read::GzDecoder::new(reader)) } else { Box::new(reader) };
    let mut bytes = Vec::new();
    source.by_ref().take(limit as u64 + 1).read_to_end(&mut bytes).map_err(|e| {
        fail(if packed {
            format!("not a valid gzip file: {e}")
        } else {
            format!("cannot read: {e}")
        })
    })?;
    if bytes.len() > limit {
        let verb = if packed { "inflates to" } else { "holds" };
        return Err(fail(format!(
            "{verb} more than {limit} bytes ({}), the limit of an input file's text",
            mib(limit)
        )));
    }
    text(&file, bytes)
}

/// Opens `path` for reading if it is a regular file; a directory, a FIFO or a device is an error
/// (`a directory`, `not a regular file`), found before opening, since opening a FIFO waits for a
/// writer.
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let kind = std::fs::metadata(path)?.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() { "a directory" } else { "not a regular file" };
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, what));
    }
    std::fs::File::open(path)
}

/// `bytes` in MiB or GiB, for messages.
pub fn mib(bytes: usize) -> String {
    match bytes >> 20 {
        mib if mib >= 1024 && mib % 1024 == 0 => format!("{} GiB", mib / 1024),
        mib => format!("{mib} MiB"),
    }
}

/// `bytes` of the file `file` as text, without a leading byte-order mark. Bytes that are not
/// UTF-8 are an error at the line and column of the first one.
pub fn text(file: &str, mut bytes: Vec<u8>) -> Result<String, InputError> {
    if bytes.starts_with(BYTE_ORDER_MARK) {
        bytes.drain(..BYTE_ORDER_MARK.len());
    }
    utf8(file, bytes)
}

/// `bytes` of the file `file` as text, as they are; bytes that are not UTF-8 are an error at the
/// line and column of the first one.
pub fn utf8(file: &str, bytes: Vec<u8>) -> Result<String, InputError> {
    String::from_utf8(bytes).map_err(|e| {
        let (bytes, at) = (e.as_bytes(), e.utf8_error().valid_up_to());
        InputError {
            file: file.to_string(),
            position: Some(line_column(bytes, at)),
            message: format!(
                "not UTF-8: byte 0x{:02x} is not part of a valid character",
                bytes[at]
            ),
        }
    })
}

/// A serde_json error in `json` as a position (column in characters, as everywhere) and a
/// message that starts with `what` (without serde_json's own "at line L column C").
pub fn json_error(
    json: &[u8],
    e: &serde_json::Error,
    what: &str,
) -> (Option<(usize, usize)>, String) {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = format!("{what}: {}", text.strip_suffix(&suffix).unwrap_or(&text));
    if e.line() == 0 {
        return (None, message);
    }
    // serde_json counts columns in bytes; find the byte, then count characters.
    let line_start = if e.line() == 1 {
        Some(0)
    } else {
        json.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(e.line() - 2).map(|(i, _)| i + 1)
    };
    let position = line_start.map(|start| line_column(json, start + e.column().saturating_sub(1)));
    (position, message)
}

/// The 1-based line and column (in characters) of the byte at `offset` of `bytes`, which are
/// UTF-8 up to `offset`.
pub fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line = 1 + before[..line_start].iter().filter(|&&b| b == b'\n').count();
    // A character is counted at its first byte: every byte but UTF-8 continuation bytes.
    let column = 1 + before[line_start..].iter().filter(|&&b| b & 0xc0 != 0x80).count();
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters() {
        let bytes = "ab\nçé x".as_bytes();
        assert_eq!(line_column(bytes, 0), (1, 1));
        assert_eq!(line_column(bytes, 3), (2, 1));
        assert_eq!(line_column(bytes, bytes.len() - 1), (2, 4), "ç and é are one column each");
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_at_its_line_and_column() {
        let err = text("f.ron", b"(\n  name: \"caf\xe9\",\n)".to_vec()).unwrap_err();
        assert_eq!(err.position, Some((2, 13)), "{err}");
        assert_eq!(
            err.to_string(),
            "f.ron:2:13: not UTF-8: byte 0xe9 is not part of a valid character"
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert_eq!(text("f", b"\xEF\xBB\xBF(x)".to_vec()).unwrap(), "(x)");
        let err = text("f", b"\xEF\xBB\xBFab\xff".to_vec()).unwrap_err();
        assert_eq!(err.position, Some((1, 3)), "the mark is not a column");
    }
}
