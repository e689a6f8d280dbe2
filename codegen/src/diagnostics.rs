//! Problems found in a spec or docs file, each with the place it was found.
//!
//! The loader never stops at the first problem: it records every one in a [`Diagnostics`] store
//! and reports them together, so one edit-run cycle fixes them all (dropshot's `ErrorStore`).

use std::fmt;

/// One problem, with where it is (`docs.yaml: resources.users.methods.list` or
/// `openapi: paths./Users.get`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    pub location: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Collects diagnostics while the loader walks the inputs.
#[derive(Debug, Default)]
pub struct Diagnostics {
    found: Vec<Diagnostic>,
    /// Legal but worth knowing: generation goes on.
    warnings: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.found.push(Diagnostic {
            location: location.into(),
            message: message.into(),
        });
    }

    /// Something generation can go on from, but a reviewer should see (a property without a
    /// description the docs YAML did not supply, a deprecated operation).
    pub fn warn(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Diagnostic {
            location: location.into(),
            message: message.into(),
        });
    }

    /// The warnings, sorted and deduplicated.
    pub fn take_warnings(&mut self) -> Vec<Diagnostic> {
        let mut warnings = std::mem::take(&mut self.warnings);
        warnings.sort();
        warnings.dedup();
        warnings
    }

    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// Sorted and deduplicated, so reports are stable across runs.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.found.sort();
        self.found.dedup();
        self.found
    }
}

/// Renders a list of diagnostics one per line, for terminals and test assertions.
pub fn render(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        out.push_str(&diagnostic.to_string());
        out.push('\n');
    }
    out
}
