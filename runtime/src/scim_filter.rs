//! SCIM filter expressions (RFC 7644 §3.4.2.2) built from typed tool arguments.
//!
//! The model never writes filter syntax: list tools expose typed query properties, and the server
//! compiles them into a conjunction of `attrPath op compValue` clauses here. Attribute paths come from
//! our own docs YAML and are validated again at build time; values come from the model and are always
//! rendered as JSON literals, so a value such as `a" or userName pr or "` is searched for literally and
//! can never add an operator, a clause or a grouping to the filter.

use std::fmt::{self, Write as _};

/// A SCIM attribute comparison operator (RFC 7644 §3.4.2.2, table 3).
///
/// `pr` is deliberately absent: it takes no value, and no typed query property needs it yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `co`: contains (strings only).
    Co,
    /// `sw`: starts with (strings only).
    Sw,
    /// `ew`: ends with (strings only).
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal to.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal to.
    Le,
}

impl CompareOp {
    /// The operator as written in a filter; lowercase, which every SCIM server accepts.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Whether the operator is one of the substring matches, which only make sense for strings.
    fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }

    /// Whether the operator is an ordering comparison, which RFC 7644 forbids for booleans.
    fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comparison value (`compValue` in RFC 7644). `null` is not offered: no typed property needs it.
#[derive(Clone, Debug, PartialEq)]
pub enum FilterValue {
    /// Rendered as a JSON string literal via [`quote_string`].
    String(String),
    /// Rendered as `true` / `false`.
    Bool(bool),
    /// Rendered as a decimal integer.
    Integer(i64),
}

impl FilterValue {
    /// A short name of the value's type, for error messages.
    fn kind(&self) -> &'static str {
        match self {
            FilterValue::String(_) => "string",
            FilterValue::Bool(_) => "boolean",
            FilterValue::Integer(_) => "integer",
        }
    }

    fn write_to(&self, out: &mut String) {
        match self {
            FilterValue::String(s) => write_quoted(out, s),
            FilterValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            FilterValue::Integer(i) => {
                // Writing to a String cannot fail.
                let _ = write!(out, "{i}");
            }
        }
    }
}

/// Why a clause could not be added. These indicate a bug in generated code or the docs YAML, not a
/// bad model argument, so they are meant for logs rather than for the model.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterBuildError {
    /// The attribute path does not match `[URN ":"] ATTRNAME *1("." ATTRNAME)`.
    #[error("invalid SCIM attribute path {path:?}: {reason}")]
    InvalidAttributePath {
        /// The rejected path.
        path: String,
        /// Which part of the grammar it violates.
        reason: &'static str,
    },
    /// The operator is not defined for this type of value (RFC 7644 §3.4.2.2: ordering on booleans
    /// is an `invalidFilter` error, and substring matches only apply to strings).
    #[error("SCIM operator `{op}` does not apply to {kind} values (attribute {path:?})")]
    UnsupportedComparison {
        /// The attribute path of the clause.
        path: String,
        /// The operator requested.
        op: CompareOp,
        /// The type of the value.
        kind: &'static str,
    },
}

/// Builds a conjunction (`a and b and c`) of attribute comparisons.
///
/// Each clause is rendered when pushed, so `build` is cheap and the builder never holds an
/// unvalidated clause.
#[derive(Clone, Debug, Default)]
pub struct FilterBuilder {
    clauses: Vec<String>,
}

impl FilterBuilder {
    /// An empty builder; `build` returns `None` until a clause is pushed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the clause `attr_path op value`.
    ///
    /// `attr_path` comes from our docs YAML and was validated at generation time, but it is checked
    /// again here because it is the one part of the filter written without quoting: a bad path must
    /// fail loudly rather than change the meaning of the filter.
    pub fn push(
        &mut self,
        attr_path: &str,
        op: CompareOp,
        value: FilterValue,
    ) -> Result<&mut Self, FilterBuildError> {
        validate_attr_path(attr_path)?;
        let applicable = match value {
            FilterValue::String(_) => true,
            FilterValue::Bool(_) => !op.is_ordering() && !op.is_substring(),
            FilterValue::Integer(_) => !op.is_substring(),
        };
        if !applicable {
            return Err(FilterBuildError::UnsupportedComparison {
                path: attr_path.to_owned(),
                op,
                kind: value.kind(),
            });
        }
        let mut clause = String::with_capacity(attr_path.len() + 16);
        clause.push_str(attr_path);
        clause.push(' ');
        clause.push_str(op.as_str());
        clause.push(' ');
        value.write_to(&mut clause);
        self.clauses.push(clause);
        Ok(self)
    }

    /// Whether no clause has been pushed.
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }

    /// The clauses joined with `" and "`, or `None` when there are none (then the caller sends no
    /// `filter` parameter at all; an empty filter is a SCIM error).
    pub fn build(&self) -> Option<String> {
        if self.clauses.is_empty() {
            None
        } else {
            Some(self.clauses.join(" and "))
        }
    }
}

/// Quotes `s` as a SCIM / JSON string literal (RFC 7644 `compValue` uses JSON strings, RFC 8259 §7).
///
/// `"` and `\` are escaped, as are all C0 control characters and DEL (the short forms `\b \f \n \r
/// \t` where JSON has them, `\u00XX` otherwise). DEL is not required by JSON but is escaped so the
/// literal is printable in logs. Other Unicode passes through as UTF-8, which is valid JSON. The
/// only unescaped `"` in the output are the opening and closing quotes, so the literal cannot end
/// early.
pub fn quote_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_quoted(&mut out, s);
    out
}

fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < '\u{20}' || c == '\u{7F}' => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Checks `path` against RFC 7644's `attrPath = [URI ":"] ATTRNAME *1subAttr`.
///
/// The URI part is limited to a `urn:` prefix made of letters, digits and `-._:`, which covers every
/// SCIM schema URN (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`) and excludes every
/// character that means something in filter syntax.
fn validate_attr_path(path: &str) -> Result<(), FilterBuildError> {
    let invalid = |reason| {
        Err(FilterBuildError::InvalidAttributePath {
            path: path.to_owned(),
            reason,
        })
    };
    if path.is_empty() {
        return invalid("the path is empty");
    }
    let attr = match path.rfind(':') {
        None => path,
        Some(colon) => {
            let (urn, rest) = (&path[..colon], &path[colon + 1..]);
            let has_urn_prefix = urn.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
            if !has_urn_prefix || urn.len() <= 4 {
                return invalid("a schema prefix must be a URN (`urn:...:`)");
            }
            let urn_ok = urn
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'));
            if !urn_ok || urn.contains("::") {
                return invalid("the URN prefix contains characters outside [A-Za-z0-9-._:]");
            }
            rest
        }
    };
    let mut count = 0;
    for name in attr.split('.') {
        count += 1;
        if count > 2 {
            return invalid("at most one sub-attribute (`name.sub`) is allowed");
        }
        if !is_attr_name(name) {
            return invalid("an attribute name must be ALPHA *(ALPHA / DIGIT / \"-\" / \"_\")");
        }
    }
    Ok(())
}

/// `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA`.
fn is_attr_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn build_one(path: &str, op: CompareOp, value: FilterValue) -> String {
        let mut b = FilterBuilder::new();
        b.push(path, op, value).unwrap();
        b.build().unwrap()
    }

    #[test]
    fn quote_string_escapes_quote_and_backslash() {
        assert_eq!(quote_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn quote_string_uses_short_forms_for_common_controls() {
        assert_eq!(quote_string("\u{8}\u{c}\n\r\t"), r#""\b\f\n\r\t""#);
    }

    #[test]
    fn quote_string_uses_unicode_escapes_for_other_controls_and_del() {
        assert_eq!(
            quote_string("\u{0}\u{1}\u{1f}\u{7f}"),
            r#""\u0000\u0001\u001f\u007f""#
        );
    }

    #[test]
    fn quote_string_passes_non_ascii_through() {
        assert_eq!(quote_string("Zoë 🦀 \u{2028}"), "\"Zoë 🦀 \u{2028}\"");
    }

    #[test]
    fn quote_string_of_empty_is_empty_literal() {
        assert_eq!(quote_string(""), r#""""#);
    }

    #[test]
    fn injection_attempt_is_searched_literally() {
        let filter = build_one(
            "userName",
            CompareOp::Eq,
            FilterValue::String(r#"a" or userName pr or ""#.into()),
        );
        assert_eq!(filter, r#"userName eq "a\" or userName pr or \"""#);
        assert_eq!(count_top_level(&filter), (0, 1, 0));
    }

    #[test]
    fn clauses_are_joined_with_and() {
        let mut b = FilterBuilder::new();
        assert!(b.is_empty());
        assert_eq!(b.build(), None);
        b.push("userName", CompareOp::Sw, FilterValue::String("j".into()))
            .unwrap()
            .push("active", CompareOp::Eq, FilterValue::Bool(true))
            .unwrap()
            .push("meta.version", CompareOp::Ge, FilterValue::Integer(-3))
            .unwrap();
        assert!(!b.is_empty());
        assert_eq!(
            b.build().unwrap(),
            r#"userName sw "j" and active eq true and meta.version ge -3"#
        );
    }

    #[test]
    fn urn_qualified_paths_are_accepted() {
        let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber";
        let filter = build_one(path, CompareOp::Eq, FilterValue::String("7".into()));
        assert_eq!(filter, format!("{path} eq \"7\""));
        let sub = "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName";
        assert!(
            FilterBuilder::new()
                .push(sub, CompareOp::Eq, FilterValue::Bool(false))
                .is_ok()
        );
    }

    #[test]
    fn invalid_paths_are_rejected() {
        for path in [
            "",
            "userName or x",
            "a b",
            r#"emails[value eq "x"]"#,
            "1abc",
            "name.givenName.x",
            "name.",
            ".name",
            "x:userName",
            "urn:userName:",
            "urn::x",
            "user\"Name",
            "userName\n",
            "(userName)",
            "naïve",
        ] {
            let err = FilterBuilder::new()
                .push(path, CompareOp::Eq, FilterValue::Bool(true))
                .map(|_| ())
                .unwrap_err();
            assert!(
                matches!(err, FilterBuildError::InvalidAttributePath { .. }),
                "{path:?} gave {err:?}"
            );
        }
    }

    #[test]
    fn booleans_reject_ordering_and_substring_operators() {
        for op in [CompareOp::Gt, CompareOp::Le, CompareOp::Co] {
            let err = FilterBuilder::new()
                .push("active", op, FilterValue::Bool(true))
                .map(|_| ())
                .unwrap_err();
            assert!(matches!(err, FilterBuildError::UnsupportedComparison { .. }));
        }
        assert!(
            FilterBuilder::new()
                .push("active", CompareOp::Ne, FilterValue::Bool(true))
                .is_ok()
        );
    }

    #[test]
    fn integers_reject_substring_operators() {
        let err = FilterBuilder::new()
            .push("x", CompareOp::Sw, FilterValue::Integer(1))
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"SCIM operator `sw` does not apply to integer values (attribute "x")"#
        );
    }

    #[test]
    fn operators_render_lowercase() {
        let all = [
            (CompareOp::Eq, "eq"),
            (CompareOp::Ne, "ne"),
            (CompareOp::Co, "co"),
            (CompareOp::Sw, "sw"),
            (CompareOp::Ew, "ew"),
            (CompareOp::Gt, "gt"),
            (CompareOp::Ge, "ge"),
            (CompareOp::Lt, "lt"),
            (CompareOp::Le, "le"),
        ];
        for (op, s) in all {
            assert_eq!(op.as_str(), s);
            assert_eq!(op.to_string(), s);
        }
    }

    /// Counts, outside string literals, the `and` keywords, the string literals, and any other
    /// filter-syntax keyword or grouping character (`or`, `not`, `pr`, parentheses, brackets).
    fn count_top_level(filter: &str) -> (usize, usize, usize) {
        let (mut ands, mut literals, mut other) = (0, 0, 0);
        let mut chars = filter.chars().peekable();
        let mut word = String::new();
        let flush = |word: &mut String, ands: &mut usize, other: &mut usize| {
            match word.to_ascii_lowercase().as_str() {
                "and" => *ands += 1,
                "or" | "not" | "pr" => *other += 1,
                _ => {}
            }
            word.clear();
        };
        while let Some(c) = chars.next() {
            match c {
                '"' => {
                    flush(&mut word, &mut ands, &mut other);
                    literals += 1;
                    let mut closed = false;
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => {
                                chars.next();
                            }
                            '"' => {
                                closed = true;
                                break;
                            }
                            _ => {}
                        }
                    }
                    assert!(closed, "unterminated literal in {filter:?}");
                }
                '(' | ')' | '[' | ']' => {
                    flush(&mut word, &mut ands, &mut other);
                    other += 1;
                }
                c if c.is_whitespace() => flush(&mut word, &mut ands, &mut other),
                c => word.push(c),
            }
        }
        flush(&mut word, &mut ands, &mut other);
        (ands, literals, other)
    }

    proptest! {
        #[test]
        fn quoted_strings_parse_back_as_json(s in any::<String>()) {
            let quoted = quote_string(&s);
            prop_assert_eq!(serde_json::from_str::<String>(&quoted).unwrap(), s);
        }

        #[test]
        fn values_never_inject_filter_syntax(
            values in proptest::collection::vec(
                prop_oneof![
                    any::<String>(),
                    "[ \"\\\\a-z()\\[\\]]{0,24}",
                    Just(r#"a" or userName pr or ""#.to_owned()),
                    Just(r#"\" and x eq "#.to_owned()),
                ],
                1..6,
            )
        ) {
            let mut b = FilterBuilder::new();
            for v in &values {
                b.push("userName", CompareOp::Co, FilterValue::String(v.clone())).unwrap();
            }
            let filter = b.build().unwrap();
            prop_assert_eq!(count_top_level(&filter), (values.len() - 1, values.len(), 0));
        }

        #[test]
        fn paths_with_filter_syntax_are_rejected(
            prefix in "[a-zA-Z]{1,8}",
            bad in "[ \"()\\[\\]\t\n,;=<>!@#]",
            suffix in "[a-zA-Z ]{0,8}",
        ) {
            let path = format!("{prefix}{bad}{suffix}");
            let rejected = FilterBuilder::new()
                .push(&path, CompareOp::Eq, FilterValue::Bool(true))
                .is_err();
            prop_assert!(rejected);
        }
    }
}
