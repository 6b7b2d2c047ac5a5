//! Pointing at a scenario's text: the line and column of a field's value or of a string literal
//! in the source, so that an error names where the bad value stands. The search is textual (the
//! parsed file keeps no positions); when the text cannot be found the error has no position.
//! Deciding what is wrong is validation's job.

/// A scenario file that cannot be used: one line, with the file and position where known.
pub type ScenarioError = crate::input::InputError;

/// A scenario's source, to find positions in and to name in errors.
#[derive(Clone, Copy, Debug)]
pub(super) struct Locator<'a> {
    /// The file, as given.
    pub(super) file: &'a str,
    /// Its text.
    pub(super) source: &'a str,
}

impl<'a> Locator<'a> {
    /// A locator over `source`, named `file`.
    pub(super) fn new(file: &'a str, source: &'a str) -> Locator<'a> {
        Locator { file, source }
    }

    /// An error about this file, at `position` if known.
    pub(super) fn error(&self, position: Option<(usize, usize)>, message: String) -> ScenarioError {
        ScenarioError { file: self.file.to_string(), position, message }
    }

    /// Line and column (1-based) of byte offset `at`.
    fn position_of(&self, at: usize) -> (usize, usize) {
        let before = &self.source[..at];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    /// The `nth` (0-based) place where `field: value` is written, pointing at the value. Numbers
    /// match with or without `_` separators; an empty `value` matches any value.
    pub(super) fn find_field(
        &self,
        field: &str,
        value: &str,
        nth: usize,
    ) -> Option<(usize, usize)> {
        let bytes = self.source.as_bytes();
        let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let normal = |text: &str| text.replace('_', "");
        let mut found = 0;
        let mut from = 0;
        while let Some(offset) = self.source[from..].find(field) {
            let start = from + offset;
            from = start + field.len();
            if (start > 0 && is_ident(bytes[start - 1]))
                || bytes.get(from).is_some_and(|&b| is_ident(b))
            {
                continue;
            }
            let Some(after_colon) = self.source[from..].trim_start().strip_prefix(':') else {
                continue;
            };
            let value_text = after_colon.trim_start();
            let value_at = self.source.len() - value_text.len();
            let token_len = match value_text.strip_prefix('"') {
                Some(inner) => inner.find('"').map_or(value_text.len(), |end| end + 2),
                None => value_text
                    .find(|c: char| c.is_whitespace() || ",)]}".contains(c))
                    .unwrap_or(value_text.len()),
            };
            if value.is_empty() || normal(&value_text[..token_len]) == normal(value) {
                if found == nth {
                    return Some(self.position_of(value_at));
                }
                found += 1;
            }
        }
        None
    }

    /// The first place where `text` is written, as is.
    pub(super) fn find_text(&self, text: &str) -> Option<(usize, usize)> {
        self.source.find(text).map(|at| self.position_of(at))
    }

    /// The first place where the string literal `text` is written.
    pub(super) fn find_string(&self, text: &str) -> Option<(usize, usize)> {
        let quoted = format!("\"{text}\"");
        self.source.find(&quoted).map(|at| self.position_of(at))
    }

    /// An error pointing at the first `field: value` (any value if `value` is empty).
    pub(super) fn at_field(&self, field: &str, value: &str, message: String) -> ScenarioError {
        self.error(self.find_field(field, value, 0), message)
    }
}
