//! OAuth scopes mapped onto tools: each scope name a token may carry stands for a [`Scope`]
//! (methods and tags, the model the registry uses), and may imply narrower scope names.
//!
//! A scope is written on one line, `NAME [methods=LIST] [tags=LIST] [implies=LIST]`, as in
//! `scim:write methods=create,update tags=directory implies=scim:read`. The hierarchy is
//! explicit rather than guessed from names, and honoured everywhere: a token granted a broad
//! scope may use what the narrower ones allow, and a refusal names only the narrowest scopes
//! that would admit the call.

use std::collections::BTreeSet;

use runtime::scope::{Grant, Scope, ScopeError};
use runtime::{Catalog, ToolSpec, Vocabulary};

/// Every scope name a server knows, with what each allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeMap {
    /// In the order configured: the order of `scopes_supported` and of every list of names.
    named: Vec<NamedScope>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct NamedScope {
    name: String,
    scope: Scope,
    /// Indexes into `named` of every scope this one implies, directly or not, itself excluded.
    implies: BTreeSet<usize>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScopeMapError {
    #[error("no scopes: give at least one, e.g. `scim:read methods=read`")]
    Empty,
    #[error("`{0}` is not a scope name (printable ASCII, no spaces, quotes or backslashes)")]
    BadName(String),
    #[error("scope `{0}` is defined twice")]
    Duplicate(String),
    #[error(
        "scope `{0}`: offline_access is a refresh-token request for the authorization server, not a scope of this resource"
    )]
    OfflineAccess(String),
    #[error("scope `{name}`: `{item}` is not one of methods=, tags=, implies=")]
    UnknownItem { name: String, item: String },
    #[error("scope `{name}`: {key}= is given twice")]
    Repeated { name: String, key: &'static str },
    #[error("scope `{name}` names neither methods= nor tags=; say which tools it allows")]
    NoFilter { name: String },
    #[error("scope `{name}`: {source}")]
    Filter { name: String, source: ScopeError },
    #[error("scope `{name}` allows no tool")]
    NoTool { name: String },
    #[error("scope `{name}` implies `{implied}`, which is not defined")]
    UnknownImplied { name: String, implied: String },
    #[error("scope `{0}` implies itself (through implies=)")]
    Cycle(String),
}

impl ScopeMap {
    /// Parses one line per scope (see the module's documentation); every method and tag must
    /// be one `catalogs` has, and every scope must allow at least one of their tools.
    pub fn parse(lines: &[impl AsRef<str>], catalogs: &[Catalog]) -> Result<Self, ScopeMapError> {
        let vocabulary = Vocabulary::of(catalogs);
        let mut parsed = Vec::new();
        for line in lines {
            parsed.push(parse_line(line.as_ref(), &vocabulary)?);
        }
        if parsed.is_empty() {
            return Err(ScopeMapError::Empty);
        }
        let mut names = BTreeSet::new();
        for line in &parsed {
            if !names.insert(line.name.as_str()) {
                return Err(ScopeMapError::Duplicate(line.name.clone()));
            }
            if !Catalog::all_tools(catalogs).any(|tool| line.scope.allows(&tool.spec)) {
                return Err(ScopeMapError::NoTool {
                    name: line.name.clone(),
                });
            }
        }
        let index_of = |name: &str| parsed.iter().position(|line| line.name == name);
        let mut direct = Vec::new();
        for line in &parsed {
            let mut implied = BTreeSet::new();
            for name in &line.implies {
                let index = index_of(name).ok_or_else(|| ScopeMapError::UnknownImplied {
                    name: line.name.clone(),
                    implied: name.clone(),
                })?;
                implied.insert(index);
            }
            direct.push(implied);
        }
        let mut named = Vec::new();
        for (index, line) in parsed.into_iter().enumerate() {
            let implies = closure(index, &direct);
            if implies.contains(&index) {
                return Err(ScopeMapError::Cycle(line.name));
            }
            named.push(NamedScope {
                name: line.name,
                scope: line.scope,
                implies,
            });
        }
        Ok(Self { named })
    }

    /// The scopes that admit at least one of the `served` tools, each with the scopes it
    /// implies among those: what a server whose integrations are not all configured advertises
    /// and grants. `None` when no scope admits a served tool.
    pub fn serving(&self, served: &[&ToolSpec]) -> Option<Self> {
        let admits_served = |index: usize| {
            std::iter::once(index)
                .chain(self.named[index].implies.iter().copied())
                .any(|scope| served.iter().any(|spec| self.named[scope].scope.allows(spec)))
        };
        let kept: Vec<usize> = (0..self.named.len())
            .filter(|index| admits_served(*index))
            .collect();
        if kept.is_empty() {
            return None;
        }
        let new_index = |old: &usize| kept.iter().position(|kept| kept == old);
        let named = kept
            .iter()
            .map(|index| {
                let named = &self.named[*index];
                NamedScope {
                    name: named.name.clone(),
                    scope: named.scope.clone(),
                    implies: named.implies.iter().filter_map(new_index).collect(),
                }
            })
            .collect();
        Some(Self { named })
    }

    /// Every scope name, for `scopes_supported`.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.named.iter().map(|named| named.name.as_str())
    }

    /// The narrowest scopes, those that imply no other: what a client should ask for first,
    /// named in the challenge of a request that sent no token.
    pub fn narrowest(&self) -> Vec<&str> {
        self.named
            .iter()
            .filter(|named| named.implies.is_empty())
            .map(|named| named.name.as_str())
            .collect()
    }

    /// What a token granted `granted` (its `scope` claim, split) may use: each scope name this
    /// map knows, with every scope it implies. Names it does not know grant nothing.
    pub fn grant<'a>(&self, granted: impl IntoIterator<Item = &'a str>) -> Grant {
        let mut indexes = BTreeSet::new();
        for name in granted {
            if let Some(index) = self.named.iter().position(|named| named.name == name) {
                indexes.insert(index);
                indexes.extend(self.named[index].implies.iter().copied());
            }
        }
        Grant::any_of(
            indexes
                .into_iter()
                .map(|index| self.named[index].scope.clone())
                .collect(),
        )
    }

    /// The scopes that would admit a call of `spec`, narrowest only: a scope is left out when
    /// one it implies admits the call too. Empty when no scope admits it.
    pub fn needed_for(&self, spec: &ToolSpec) -> Vec<&str> {
        let admits = |index: usize| {
            let named = &self.named[index];
            named.scope.allows(spec)
                || named
                    .implies
                    .iter()
                    .any(|implied| self.named[*implied].scope.allows(spec))
        };
        let admitting: Vec<usize> = (0..self.named.len()).filter(|index| admits(*index)).collect();
        admitting
            .iter()
            .filter(|index| {
                !self.named[**index]
                    .implies
                    .iter()
                    .any(|implied| admitting.contains(implied))
            })
            .map(|index| self.named[*index].name.as_str())
            .collect()
    }
}

/// One line, before the names it implies are resolved.
struct Line {
    name: String,
    scope: Scope,
    implies: Vec<String>,
}

fn parse_line(line: &str, vocabulary: &Vocabulary) -> Result<Line, ScopeMapError> {
    let mut words = line.split_whitespace();
    let name = words.next().ok_or(ScopeMapError::Empty)?.to_owned();
    if !is_scope_token(&name) {
        return Err(ScopeMapError::BadName(name));
    }
    if name == "offline_access" {
        return Err(ScopeMapError::OfflineAccess(name));
    }
    let (mut methods, mut tags, mut implies) = (None, None, None);
    for word in words {
        let (key, value) = word.split_once('=').unwrap_or((word, ""));
        let (slot, key): (&mut Option<Vec<String>>, &'static str) = match key {
            "methods" => (&mut methods, "methods"),
            "tags" => (&mut tags, "tags"),
            "implies" => (&mut implies, "implies"),
            _ => {
                return Err(ScopeMapError::UnknownItem {
                    name,
                    item: word.to_owned(),
                });
            }
        };
        if slot.replace(vec![value.to_owned()]).is_some() {
            return Err(ScopeMapError::Repeated { name, key });
        }
    }
    if methods.is_none() && tags.is_none() {
        return Err(ScopeMapError::NoFilter { name });
    }
    let scope = Scope::parse(methods.as_deref(), tags.as_deref(), vocabulary).map_err(|source| {
        ScopeMapError::Filter {
            name: name.clone(),
            source,
        }
    })?;
    let implies = implies
        .unwrap_or_default()
        .iter()
        .flat_map(|value| value.split(','))
        .filter(|implied| !implied.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(Line { name, scope, implies })
}

/// RFC 6749 §3.3 `scope-token`: %x21 / %x23-5B / %x5D-7E.
fn is_scope_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte == 0x21 || (0x23..=0x5B).contains(&byte) || (0x5D..=0x7E).contains(&byte))
}

/// Every index reachable from `start` through `direct`, `start` only if a cycle leads back.
fn closure(start: usize, direct: &[BTreeSet<usize>]) -> BTreeSet<usize> {
    let mut reached = BTreeSet::new();
    let mut pending: Vec<usize> = direct[start].iter().copied().collect();
    while let Some(index) = pending.pop() {
        if reached.insert(index) {
            pending.extend(direct[index].iter().copied());
        }
    }
    reached
}
