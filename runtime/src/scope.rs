//! Which tools a server exposes: method filters AND tag filters.

use std::fmt;

use crate::tool::{MethodKind, ToolSpec};

/// One entry of `--methods`: a kind (`read`, `write`, `custom`) or an exact method name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MethodFilter {
    Kind(MethodKind),
    Name(String),
}

/// Empty lists mean "no restriction" on that axis; the two axes combine with AND.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub methods: Vec<MethodFilter>,
    pub tags: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScopeError {
    #[error("`{0}` is not a method filter: use read, write, custom or a method name like list or suspend")]
    BadMethod(String),
    #[error("`{0}` is not a tag: tags are snake_case words like directory or admin")]
    BadTag(String),
}

impl Scope {
    /// Parses comma-separated `--methods` and `--tags` values.
    pub fn parse(methods: &[String], tags: &[String]) -> Result<Self, ScopeError> {
        let methods = methods
            .iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(|value| match value {
                "read" => Ok(MethodFilter::Kind(MethodKind::Read)),
                "write" => Ok(MethodFilter::Kind(MethodKind::Write)),
                "custom" => Ok(MethodFilter::Kind(MethodKind::Custom)),
                name if is_word(name) => Ok(MethodFilter::Name(name.to_owned())),
                other => Err(ScopeError::BadMethod(other.to_owned())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tags = tags
            .iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(|tag| {
                if is_word(tag) {
                    Ok(tag.to_owned())
                } else {
                    Err(ScopeError::BadTag(tag.to_owned()))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { methods, tags })
    }

    pub fn allows(&self, spec: &ToolSpec) -> bool {
        let method_ok = self.methods.is_empty()
            || self.methods.iter().any(|filter| match filter {
                MethodFilter::Kind(kind) => *kind == spec.kind,
                MethodFilter::Name(name) => name == spec.method,
            });
        let tag_ok = self.tags.is_empty() || spec.tags.iter().any(|tag| self.tags.iter().any(|t| t == tag));
        method_ok && tag_ok
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let methods: Vec<String> = self
            .methods
            .iter()
            .map(|filter| match filter {
                MethodFilter::Kind(kind) => kind.as_str().to_owned(),
                MethodFilter::Name(name) => name.clone(),
            })
            .collect();
        let show = |items: &[String]| {
            if items.is_empty() {
                "any".to_owned()
            } else {
                items.join(",")
            }
        };
        write!(f, "methods {}, tags {}", show(&methods), show(&self.tags))
    }
}

fn is_word(value: &str) -> bool {
    value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tool::Annotations;

    fn spec(method: &'static str, kind: MethodKind, tags: &'static [&'static str]) -> ToolSpec {
        ToolSpec {
            name: "t",
            portable_name: "t",
            title: "t",
            description: "t",
            resource: "users",
            singular: "user",
            method,
            kind,
            tags,
            annotations: Annotations {
                read_only: true,
                destructive: None,
                idempotent: None,
                open_world: true,
            },
            input_schema: "{}",
            output_schema: "{}",
        }
    }

    #[test]
    fn methods_and_tags_combine_with_and() {
        let scope = Scope::parse(&["read,suspend".into()], &["directory".into()]).unwrap();
        assert!(scope.allows(&spec("list", MethodKind::Read, &["directory"])));
        assert!(scope.allows(&spec("suspend", MethodKind::Custom, &["directory"])));
        assert!(!scope.allows(&spec("reactivate", MethodKind::Custom, &["directory"])));
        assert!(!scope.allows(&spec("list", MethodKind::Read, &["admin"])));
    }

    #[test]
    fn bad_filters_are_named() {
        assert_eq!(
            Scope::parse(&["read,Write!".into()], &[]),
            Err(ScopeError::BadMethod("Write!".into()))
        );
        assert_eq!(
            Scope::parse(&[], &["a b".into()]),
            Err(ScopeError::BadTag("a b".into()))
        );
    }
}
