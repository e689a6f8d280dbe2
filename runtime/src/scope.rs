//! Which tools a server exposes: method filters AND tag filters.
//!
//! A scope a person asks for ([`Scope::parse`]) may name only what the catalog has: a method
//! kind, a method name or a tag that exists. A name nothing answers to today would be a trap:
//! a later spec adding a method of that name would silently widen every scope that named it.
//! An empty list is refused too, never read as "no restriction". A scope read back from the
//! registry ([`Scope::from_stored`]) is taken as written, since it was checked when it was made.

use std::collections::BTreeSet;
use std::fmt;

use crate::spec::{MethodKind, ToolSpec};
use crate::tool::Catalog;

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

/// The method names and tags of a catalog: what a scope may name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vocabulary {
    methods: BTreeSet<&'static str>,
    tags: BTreeSet<&'static str>,
}

impl Vocabulary {
    /// Method names and tags given directly.
    pub fn from_names(
        methods: impl IntoIterator<Item = &'static str>,
        tags: impl IntoIterator<Item = &'static str>,
    ) -> Self {
        Self {
            methods: methods.into_iter().collect(),
            tags: tags.into_iter().collect(),
        }
    }

    /// What the tools of `catalogs` name: every integration a process knows, configured or
    /// not, so a scope stored once means the same on every replica.
    pub fn of(catalogs: &[Catalog]) -> Self {
        Self {
            methods: Catalog::all_tools(catalogs)
                .map(|tool| tool.spec.method)
                .collect(),
            tags: Catalog::all_tools(catalogs)
                .flat_map(|tool| tool.spec.tags.iter().copied())
                .collect(),
        }
    }

    /// `read, write, custom, <method names>`, for messages.
    pub fn method_choices(&self) -> String {
        let kinds = [MethodKind::Read, MethodKind::Write, MethodKind::Custom].map(MethodKind::as_str);
        kinds
            .into_iter()
            .chain(self.methods.iter().copied().filter(|name| !kinds.contains(name)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The tags, for messages.
    pub fn tag_choices(&self) -> String {
        self.tags.iter().copied().collect::<Vec<_>>().join(", ")
    }
}

/// The two lists of a scope, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    Methods,
    Tags,
}

impl fmt::Display for Axis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Methods => "methods",
            Self::Tags => "tags",
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScopeError {
    #[error("the {axis} list is empty: name at least one of {choices}")]
    Empty { axis: Axis, choices: String },
    #[error("`{value}` is not one of the {axis}: use {choices}")]
    Unknown {
        axis: Axis,
        value: String,
        choices: String,
    },
}

impl Scope {
    /// Every tool: what a local server serves when no filter is given.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Parses comma-separated `--methods` and `--tags` values against what the catalog has.
    ///
    /// `None` leaves an axis unrestricted; a list that holds nothing (`""`, `","`) is an error,
    /// as is any value the catalog does not know. Repeated values count once.
    pub fn parse(
        methods: Option<&[String]>,
        tags: Option<&[String]>,
        vocabulary: &Vocabulary,
    ) -> Result<Self, ScopeError> {
        let methods = match methods {
            None => Vec::new(),
            Some(values) => items(values, Axis::Methods, || vocabulary.method_choices())?
                .into_iter()
                .map(|value| match kind_of(&value) {
                    Some(kind) => Ok(MethodFilter::Kind(kind)),
                    None if vocabulary.methods.contains(value.as_str()) => Ok(MethodFilter::Name(value)),
                    None => Err(ScopeError::Unknown {
                        axis: Axis::Methods,
                        value,
                        choices: vocabulary.method_choices(),
                    }),
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let tags = match tags {
            None => Vec::new(),
            Some(values) => items(values, Axis::Tags, || vocabulary.tag_choices())?
                .into_iter()
                .map(|value| {
                    if vocabulary.tags.contains(value.as_str()) {
                        Ok(value)
                    } else {
                        Err(ScopeError::Unknown {
                            axis: Axis::Tags,
                            value,
                            choices: vocabulary.tag_choices(),
                        })
                    }
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok(Self { methods, tags })
    }

    /// A scope as the registry stored it: empty lists are unrestricted (entries made before
    /// empty lists were refused), and a name this catalog does not know matches nothing.
    pub fn from_stored(methods: &[String], tags: &[String]) -> Self {
        Self {
            methods: methods
                .iter()
                .map(|value| match kind_of(value) {
                    Some(kind) => MethodFilter::Kind(kind),
                    None => MethodFilter::Name(value.clone()),
                })
                .collect(),
            tags: tags.to_vec(),
        }
    }

    /// The method filters as they are written and stored (`read`, `suspend`).
    pub fn method_names(&self) -> Vec<String> {
        self.methods
            .iter()
            .map(|filter| match filter {
                MethodFilter::Kind(kind) => kind.as_str().to_owned(),
                MethodFilter::Name(name) => name.clone(),
            })
            .collect()
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

    /// Whether nothing is filtered: every tool, delete included.
    pub fn is_everything(&self) -> bool {
        self.methods.is_empty() && self.tags.is_empty()
    }
}

/// What a caller may use: every tool any one of its scopes allows.
///
/// A registry entry holds one scope; an OAuth access token holds several (one per scope name it
/// was granted, each mapped onto methods and tags), and a tool one of them allows is allowed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    scopes: Vec<Scope>,
}

impl Grant {
    /// Exactly what `scope` allows.
    pub fn of(scope: Scope) -> Self {
        Self { scopes: vec![scope] }
    }

    /// What any of `scopes` allows; nothing at all when there is none.
    pub fn any_of(scopes: Vec<Scope>) -> Self {
        Self { scopes }
    }

    pub fn allows(&self, spec: &ToolSpec) -> bool {
        self.scopes.iter().any(|scope| scope.allows(spec))
    }

    /// Whether no tool at all is allowed (no scope was granted).
    pub fn is_nothing(&self) -> bool {
        self.scopes.is_empty()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |items: &[String]| {
            if items.is_empty() {
                "any".to_owned()
            } else {
                items.join(",")
            }
        };
        write!(
            f,
            "methods {}, tags {}",
            show(&self.method_names()),
            show(&self.tags)
        )
    }
}

fn kind_of(value: &str) -> Option<MethodKind> {
    match value {
        "read" => Some(MethodKind::Read),
        "write" => Some(MethodKind::Write),
        "custom" => Some(MethodKind::Custom),
        _ => None,
    }
}

/// The comma-separated items of `values`, trimmed, each once, in order; an error when none.
fn items(values: &[String], axis: Axis, choices: impl Fn() -> String) -> Result<Vec<String>, ScopeError> {
    let mut seen = Vec::new();
    for item in values.iter().flat_map(|value| value.split(',')).map(str::trim) {
        if !item.is_empty() && !seen.iter().any(|known| known == item) {
            seen.push(item.to_owned());
        }
    }
    if seen.is_empty() {
        return Err(ScopeError::Empty {
            axis,
            choices: choices(),
        });
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Annotations;

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
            audit_targets: &[],
        }
    }

    fn vocabulary() -> Vocabulary {
        Vocabulary {
            methods: ["list", "suspend", "reactivate"].into(),
            tags: ["directory", "admin"].into(),
        }
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| (*value).to_owned()).collect()
    }

    fn parse(methods: Option<&[&str]>, tags: Option<&[&str]>) -> Result<Scope, ScopeError> {
        let methods = methods.map(strings);
        let tags = tags.map(strings);
        Scope::parse(methods.as_deref(), tags.as_deref(), &vocabulary())
    }

    #[test]
    fn methods_and_tags_combine_with_and() {
        let scope = parse(Some(&["read,suspend"]), Some(&["directory"])).expect("valid");
        assert!(scope.allows(&spec("list", MethodKind::Read, &["directory"])));
        assert!(scope.allows(&spec("suspend", MethodKind::Custom, &["directory"])));
        assert!(!scope.allows(&spec("reactivate", MethodKind::Custom, &["directory"])));
        assert!(!scope.allows(&spec("list", MethodKind::Read, &["admin"])));
    }

    #[test]
    fn no_list_is_no_restriction_but_an_empty_list_is_an_error() {
        assert!(parse(None, None).expect("valid").is_everything());
        for empty in [&[""][..], &[","], &[" , "], &[]] {
            let error = parse(Some(empty), None).expect_err("empty methods");
            assert!(
                matches!(
                    error,
                    ScopeError::Empty {
                        axis: Axis::Methods,
                        ..
                    }
                ),
                "{error}"
            );
            assert!(error.to_string().contains("read, write, custom, list"), "{error}");
            let error = parse(None, Some(empty)).expect_err("empty tags");
            assert!(error.to_string().contains("admin, directory"), "{error}");
        }
    }

    #[test]
    fn unknown_names_are_refused_with_the_valid_ones() {
        let error = parse(Some(&["read,reed"]), None).expect_err("typo");
        assert_eq!(
            error.to_string(),
            "`reed` is not one of the methods: use read, write, custom, list, reactivate, suspend"
        );
        let error = parse(None, Some(&["directory", "nope"])).expect_err("unknown tag");
        assert_eq!(
            error.to_string(),
            "`nope` is not one of the tags: use admin, directory"
        );
    }

    #[test]
    fn repeats_count_once_and_stored_names_are_taken_as_written() {
        let scope = parse(Some(&["read", "read,suspend"]), None).expect("valid");
        assert_eq!(scope.method_names(), ["read", "suspend"]);
        let stored = Scope::from_stored(&strings(&["gone"]), &[]);
        assert!(!stored.allows(&spec("list", MethodKind::Read, &["directory"])));
        assert!(Scope::from_stored(&[], &[]).is_everything());
    }
}
