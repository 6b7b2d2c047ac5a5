//! The error of any input file — a scenario, a network snapshot, a payment list, a sweep: one
//! line naming the file and, where known, the line and column. The binary prints it and exits 2.
//! Also what every reader of a text file shares: a UTF-8 byte-order mark at the start is skipped,
//! and bytes that are not UTF-8 are an error at the line and column of the first bad byte.
//! Columns count characters, as editors do, not bytes.

use std::fmt;

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
        match self.position {
            Some((line, col)) => write!(f, "{}:{}:{}: {}", self.file, line, col, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for InputError {}

/// The UTF-8 byte-order mark that some Windows editors write at the start of a file.
pub const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// `bytes` of the file `file` as text, without a leading byte-order mark. Bytes that are not
/// UTF-8 are an error at the line and column of the first one.
pub fn text(file: &str, mut bytes: Vec<u8>) -> Result<String, InputError> {
    if bytes.starts_with(BYTE_ORDER_MARK) {
        bytes.drain(..BYTE_ORDER_MARK.len());
    }
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
