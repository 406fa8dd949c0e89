//! Errors in the policy file, each located by file, line, column and key, so that a user can jump
//! straight to the offending setting.

use std::fmt;
use std::ops::Range;

/// One problem in the policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The file name the caller gave, as it should appear in messages.
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// Dotted path of the setting, like `rotation.max_period_days` or `exemptions[1].expires`
    /// (array indexes count from 0). Empty only for a syntax error outside any table or key.
    pub key: String,
    pub message: String,
}

/// The longest key path and message a policy error shows, in characters.
const MAX_SHOWN_KEY: usize = 120;
const MAX_SHOWN_MESSAGE: usize = 400;

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: ",
            crate::text::for_terminal(&self.file),
            self.line,
            self.column
        )?;
        if !self.key.is_empty() {
            // A key path a hostile file made deep is not echoed whole.
            write!(f, "{}: ", crate::text::shortened(&self.key, MAX_SHOWN_KEY))?;
        }
        f.write_str(&crate::text::shortened(&self.message, MAX_SHOWN_MESSAGE))
    }
}

impl std::error::Error for PolicyError {}

/// Every problem found in the policy file, in file order. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

/// Collects errors while the policy is read, so that one run reports every problem.
pub(super) struct Errors<'s> {
    source: &'s str,
    file: &'s str,
    found: Vec<PolicyError>,
}

impl<'s> Errors<'s> {
    pub(super) fn new(source: &'s str, file: &'s str) -> Self {
        Errors {
            source,
            file,
            found: Vec::new(),
        }
    }

    pub(super) fn source(&self) -> &'s str {
        self.source
    }

    pub(super) fn push(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        let (line, column) = line_column(self.source, span.start);
        self.found.push(PolicyError {
            file: self.file.to_owned(),
            line,
            column,
            key: key.to_owned(),
            message: message.into(),
        });
    }

    pub(super) fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// The errors in file order. Tables are visited key by key in sorted order, not file order,
    /// hence the sort; it is stable, so errors at the same place keep the order they were found in.
    pub(super) fn into_errors(mut self) -> PolicyErrors {
        self.found.sort_by_key(|e| (e.line, e.column));
        PolicyErrors(self.found)
    }
}

/// The 1-based line and character column of a byte offset. Offsets past the end (an error at end
/// of file) are clamped; an offset inside a character counts as that character.
pub(super) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let source = "a = 1\nbé = 2\n";
        assert_eq!(line_column(source, 0), (1, 1));
        assert_eq!(line_column(source, 4), (1, 5));
        assert_eq!(line_column(source, 6), (2, 1));
        // `=` after the two-byte `é` is the fourth character of line 2.
        assert_eq!(line_column(source, 10), (2, 4));
        assert_eq!(line_column(source, 1000), (3, 1));
    }

    #[test]
    fn display_names_file_line_column_and_key() {
        let error = PolicyError {
            file: "xray-cmk.toml".into(),
            line: 2,
            column: 19,
            key: "rotation.max_period_days".into(),
            message: "bad".into(),
        };
        assert_eq!(
            error.to_string(),
            "xray-cmk.toml:2:19: rotation.max_period_days: bad"
        );
        let keyless = PolicyError {
            key: String::new(),
            ..error.clone()
        };
        assert_eq!(keyless.to_string(), "xray-cmk.toml:2:19: bad");
        assert_eq!(
            PolicyErrors(vec![error.clone(), keyless]).to_string(),
            "xray-cmk.toml:2:19: rotation.max_period_days: bad\nxray-cmk.toml:2:19: bad"
        );
    }
}
