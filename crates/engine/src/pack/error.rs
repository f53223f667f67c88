//! Rule pack errors: each names the file and line, and all of them are reported together.

use std::fmt;

/// What is wrong at one place of a rule pack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackErrorKind {
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Io(String),
    /// A path in the manifest leaves the pack directory.
    #[error("path {0:?} must be relative and stay inside the pack directory")]
    PathOutsidePack(String),
    /// TOML syntax or schema error.
    #[error("{0}")]
    Toml(String),
    /// A line that does not follow the file's format.
    #[error("{0}")]
    Syntax(String),
    /// A name (list, category, rule, pattern id) with characters outside `a-z 0-9 _ -`.
    #[error("invalid name {0:?} (use a-z, 0-9, `_` and `-`, at most 64 characters)")]
    BadName(String),
    /// The same name or entry twice.
    #[error("duplicate {0}")]
    Duplicate(String),
    /// A weight outside 1..=9.
    #[error("invalid weight {0:?} (an integer from 1 to 9)")]
    BadWeight(String),
    /// A number list line that is no number or prefix.
    #[error("invalid number: {0}")]
    BadNumber(String),
    /// A lure-domain line that is no domain name.
    #[error("invalid domain {0:?}")]
    BadDomain(String),
    /// A regular expression that does not compile.
    #[error("invalid regex: {0}")]
    BadRegex(String),
    /// A phrase or look-alike the text matcher refuses.
    #[error("refused by the text matcher: {0}")]
    Text(String),
    /// A reference to a category that is not declared in `pack.toml`.
    #[error("unknown category {0:?} (declare it in pack.toml)")]
    UnknownCategory(String),
    /// A reference to a number list that is not declared in `pack.toml`.
    #[error("unknown list {0:?} (declare it in pack.toml)")]
    UnknownList(String),
    /// The behaviour thresholds could not be read.
    #[error("behaviour settings: {0}")]
    Behaviour(String),
    /// A compiled structure could not be built (lists, matcher).
    #[error("cannot compile: {0}")]
    Compile(String),
}

/// One problem of a rule pack, with its place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {kind}", place(file, *line))]
pub struct PackError {
    /// File relative to the pack directory.
    pub file: String,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: usize,
    /// What is wrong.
    pub kind: PackErrorKind,
}

fn place(file: &str, line: usize) -> String {
    if line == 0 {
        file.to_owned()
    } else {
        format!("{file}:{line}")
    }
}

/// Every problem found in a rule pack (never empty when returned as an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackErrors(pub Vec<PackError>);

impl PackErrors {
    /// The problems, in file order.
    pub fn errors(&self) -> &[PackError] {
        &self.0
    }
}

impl fmt::Display for PackErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} problem(s) in the rule pack:", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PackErrors {}
