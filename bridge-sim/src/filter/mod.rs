//! SCIM filter expressions (RFC 7644 §3.4.2.2): syntax tree, parser, evaluator and schema check.
//!
//! Parsing is purely syntactic ([`parse`]); whether the attributes exist is a separate question
//! answered by [`Schema::validate`], because the same filter text is legal for users and groups
//! but names different attributes. Evaluation ([`Filter::matches`]) works on plain
//! `serde_json::Value` resources so that other crates can use it as an oracle in tests.
//!
//! The crate ships its own parser instead of `scim-filter`, `scim_proto` or `scim_v2`: the first
//! compares strings case-sensitively and drags in nom 7 + chrono + thiserror 1, the second has no
//! evaluator and needs Rust 1.93 plus utoipa/time/url, and the third is parser-only (generated
//! lalrpop tables). About 800 hand-written lines (parser, evaluator, schema check) are smaller
//! than any of them and let us pin down the bridge-specific choices (caseExact `id`,
//! `emails co "x"`).

mod eval;
mod parse;
mod schema;

use std::fmt;

pub use parse::{PatchPath, parse_patch_path};
pub use schema::{AttrDef, AttrKind, Schema};

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attrPath op value`.
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    /// `attrPath pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// `attrPath[valFilter]`: some element of a (multi-valued) complex attribute satisfies the
    /// inner filter, whose paths are relative to the element.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
    /// `not (filter)`.
    Not(Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

impl Filter {
    /// Every comparison operator the filter uses (`pr` counts as none).
    pub fn operators(&self) -> Vec<CompareOp> {
        match self {
            Self::Compare { op, .. } => vec![*op],
            Self::Present(_) => Vec::new(),
            Self::ValuePath { filter, .. } | Self::Not(filter) => filter.operators(),
            Self::And(left, right) | Self::Or(left, right) => {
                let mut found = left.operators();
                found.extend(right.operators());
                found
            }
        }
    }
}

impl CompareOp {
    pub const ALL: [Self; 9] = [
        Self::Eq,
        Self::Ne,
        Self::Co,
        Self::Sw,
        Self::Ew,
        Self::Gt,
        Self::Ge,
        Self::Lt,
        Self::Le,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }
}

/// `[URN ":"] name ["." subName]`. Names keep the client's spelling; comparisons ignore case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

/// The nine comparison operators of RFC 7644 Table 3 (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A JSON literal on the right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
}

/// Why a filter (or PATCH path) was rejected. Every variant maps to SCIM `invalidFilter`
/// (or `invalidPath` for PATCH paths).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("unexpected end of filter, expected {expected}")]
    UnexpectedEnd { expected: &'static str },
    #[error("unexpected `{found}` at offset {offset}, expected {expected}")]
    Unexpected {
        found: String,
        offset: usize,
        expected: &'static str,
    },
    #[error("invalid string literal at offset {offset}")]
    BadString { offset: usize },
    #[error("invalid attribute path `{0}`")]
    BadPath(String),
    #[error("unknown attribute `{0}`")]
    UnknownAttribute(String),
    #[error("operator `{op}` cannot be applied to `{attr}`")]
    BadOperand { op: &'static str, attr: String },
}

/// Parses filter text such as `userName eq "jane@example.com" and not (active eq false)`.
pub fn parse(input: &str) -> Result<Filter, FilterError> {
    parse::parse_filter(input)
}

impl Filter {
    /// Whether `resource` satisfies the filter. Attribute names match case-insensitively; strings
    /// compare case-insensitively except identifiers (`id`, `$ref`, `members.value`,
    /// `groups.value`); a multi-valued attribute matches when any value does; a complex
    /// attribute without a sub-attribute compares its `value`; `ne` is "no value equals".
    pub fn matches(&self, resource: &serde_json::Value) -> bool {
        eval::matches(self, resource)
    }
}

impl CompareOp {
    /// The lower-case keyword, as written in filters.
    pub fn keyword(self) -> &'static str {
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

    fn from_keyword(word: &str) -> Option<Self> {
        let op = match word.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        };
        Some(op)
    }
}

impl AttrPath {
    /// A path without URN or sub-attribute.
    pub fn simple(name: impl Into<String>) -> Self {
        AttrPath {
            urn: None,
            name: name.into(),
            sub: None,
        }
    }
}

/// Renders canonical filter text that [`parse`] reads back into an equal tree; nested logical
/// expressions are always parenthesised so precedence never depends on the reader.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {} {value}", op.keyword()),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::And(l, r) => {
                write_operand(f, l)?;
                f.write_str(" and ")?;
                write_operand(f, r)
            }
            Filter::Or(l, r) => {
                write_operand(f, l)?;
                f.write_str(" or ")?;
                write_operand(f, r)
            }
        }
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, operand: &Filter) -> fmt::Result {
    match operand {
        Filter::And(..) | Filter::Or(..) => write!(f, "({operand})"),
        _ => write!(f, "{operand}"),
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            // serde_json produces exactly the JSON string grammar the filter ABNF borrows.
            CompValue::String(s) => f.write_str(&serde_json::Value::from(s.as_str()).to_string()),
        }
    }
}

#[cfg(test)]
mod tests;
