//! A failure with a short kind, for counting errors by kind.

use std::fmt;

#[derive(Debug)]
pub struct Failure {
    /// Short snake_case label, the key in the `errors` object.
    pub kind: String,
    pub detail: String,
}

impl Failure {
    pub fn new(kind: impl Into<String>, detail: impl fmt::Display) -> Self {
        Failure {
            kind: kind.into(),
            detail: detail.to_string(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

impl std::error::Error for Failure {}
