//! The error of any input file — a scenario, a network snapshot, a payment list, a sweep: one
//! line naming the file and, where known, the line and column. The binary prints it and exits 2.

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
