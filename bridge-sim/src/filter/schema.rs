//! The attributes the simulated bridge knows, used to reject filters and PATCH paths that name
//! unknown attributes (RFC 7644: unrecognised attribute -> 400 `invalidFilter` / `invalidPath`).
//!
//! This is the schema the bridge *returns* (facts §2.2/§2.3), which is wider than the one it
//! *advertises* at `/Schemas` (facts §2.1 omits `displayName` and `active` although every user
//! carries them). Filtering on what a client can see must work, so we follow the returned shape.

use super::{AttrPath, CompValue, CompareOp, Filter, FilterError};

/// The type of an attribute, as far as filtering and patching care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKind {
    String,
    Boolean,
    DateTime,
    Reference,
    Complex,
}

/// One attribute definition.
#[derive(Debug)]
pub struct AttrDef {
    pub name: &'static str,
    pub kind: AttrKind,
    pub multi: bool,
    /// Clients may not change it (`id`, `meta`, a user's `groups`).
    pub read_only: bool,
    pub subs: &'static [AttrDef],
}

/// The attributes of one resource type, with its core schema URN.
#[derive(Debug)]
pub struct Schema {
    pub urn: &'static str,
    pub attrs: &'static [AttrDef],
}

const fn attr(name: &'static str, kind: AttrKind) -> AttrDef {
    AttrDef {
        name,
        kind,
        multi: false,
        read_only: false,
        subs: &[],
    }
}

const fn read_only(mut def: AttrDef) -> AttrDef {
    def.read_only = true;
    def
}

const fn complex(name: &'static str, multi: bool, subs: &'static [AttrDef]) -> AttrDef {
    AttrDef {
        name,
        kind: AttrKind::Complex,
        multi,
        read_only: false,
        subs,
    }
}

const META: AttrDef = read_only(complex(
    "meta",
    false,
    &[
        attr("resourceType", AttrKind::String),
        attr("created", AttrKind::DateTime),
        attr("lastModified", AttrKind::DateTime),
        attr("location", AttrKind::Reference),
    ],
));

const MEMBER_SUBS: &[AttrDef] = &[
    attr("value", AttrKind::String),
    attr("display", AttrKind::String),
    attr("$ref", AttrKind::Reference),
    attr("type", AttrKind::String),
];

impl Schema {
    /// Users as the bridge returns them (facts §2.2).
    pub const USER: Schema = Schema {
        urn: "urn:ietf:params:scim:schemas:core:2.0:User",
        attrs: &[
            read_only(attr("id", AttrKind::String)),
            attr("externalId", AttrKind::String),
            attr("userName", AttrKind::String),
            complex(
                "name",
                false,
                &[
                    attr("givenName", AttrKind::String),
                    attr("familyName", AttrKind::String),
                    attr("formatted", AttrKind::String),
                ],
            ),
            attr("displayName", AttrKind::String),
            attr("active", AttrKind::Boolean),
            complex(
                "emails",
                true,
                &[
                    attr("value", AttrKind::String),
                    attr("primary", AttrKind::Boolean),
                    attr("type", AttrKind::String),
                    attr("display", AttrKind::String),
                ],
            ),
            attr("preferredLanguage", AttrKind::String),
            read_only(complex("groups", true, MEMBER_SUBS)),
            META,
        ],
    };

    /// Groups as the bridge returns them (facts §2.3), plus `members`.
    pub const GROUP: Schema = Schema {
        urn: "urn:ietf:params:scim:schemas:core:2.0:Group",
        attrs: &[
            read_only(attr("id", AttrKind::String)),
            attr("externalId", AttrKind::String),
            attr("displayName", AttrKind::String),
            complex("members", true, MEMBER_SUBS),
            META,
        ],
    };

    /// Looks up a top-level attribute by name, ignoring case.
    pub fn attr(&self, name: &str) -> Option<&'static AttrDef> {
        find(self.attrs, name)
    }

    /// Resolves a path to its attribute and optional sub-attribute definitions.
    pub fn resolve(
        &self,
        path: &AttrPath,
    ) -> Result<(&'static AttrDef, Option<&'static AttrDef>), FilterError> {
        if let Some(urn) = &path.urn
            && !urn.eq_ignore_ascii_case(self.urn)
        {
            return Err(FilterError::UnknownAttribute(path.to_string()));
        }
        resolve_in(self.attrs, path)
    }

    /// Checks that every attribute the filter names exists and that operators fit their types.
    pub fn validate(&self, filter: &Filter) -> Result<(), FilterError> {
        validate_in(self, self.attrs, filter, false)
    }
}

impl AttrDef {
    /// Looks up a sub-attribute by name, ignoring case.
    pub fn sub(&self, name: &str) -> Option<&'static AttrDef> {
        find(self.subs, name)
    }
}

fn find(attrs: &'static [AttrDef], name: &str) -> Option<&'static AttrDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

fn resolve_in(
    attrs: &'static [AttrDef],
    path: &AttrPath,
) -> Result<(&'static AttrDef, Option<&'static AttrDef>), FilterError> {
    let unknown = || FilterError::UnknownAttribute(path.to_string());
    let def = find(attrs, &path.name).ok_or_else(unknown)?;
    let sub = match &path.sub {
        Some(sub) => Some(def.sub(sub).ok_or_else(unknown)?),
        None => None,
    };
    Ok((def, sub))
}

fn validate_in(
    schema: &Schema,
    attrs: &'static [AttrDef],
    filter: &Filter,
    inner: bool,
) -> Result<(), FilterError> {
    let resolve = |path: &AttrPath| {
        if inner {
            if path.urn.is_some() {
                return Err(FilterError::UnknownAttribute(path.to_string()));
            }
            resolve_in(attrs, path)
        } else {
            schema.resolve(path)
        }
    };
    match filter {
        Filter::And(l, r) | Filter::Or(l, r) => {
            validate_in(schema, attrs, l, inner)?;
            validate_in(schema, attrs, r, inner)
        }
        Filter::Not(f) => validate_in(schema, attrs, f, inner),
        Filter::Present(path) => resolve(path).map(|_| ()),
        Filter::ValuePath { path, filter } => {
            let (def, _) = resolve(path)?;
            if def.kind != AttrKind::Complex {
                return Err(FilterError::BadPath(path.to_string()));
            }
            validate_in(schema, def.subs, filter, true)
        }
        Filter::Compare { path, op, value } => {
            let (def, sub) = resolve(path)?;
            let target = match sub {
                Some(sub) => sub,
                // `emails co "x"` compares `emails.value`; `name eq "x"` has no such default.
                None if def.kind == AttrKind::Complex => def
                    .sub("value")
                    .ok_or_else(|| FilterError::BadPath(path.to_string()))?,
                None => def,
            };
            check_operand(path, *op, value, target.kind)
        }
    }
}

fn check_operand(
    path: &AttrPath,
    op: CompareOp,
    value: &CompValue,
    kind: AttrKind,
) -> Result<(), FilterError> {
    let bad = || FilterError::BadOperand {
        op: op.keyword(),
        attr: path.to_string(),
    };
    let ordering = matches!(op, CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le);
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    // RFC 7644: gt/ge/lt/le on booleans is an invalidFilter; substrings need string operands.
    if (ordering || substring) && kind == AttrKind::Boolean {
        return Err(bad());
    }
    if ordering && matches!(value, CompValue::Bool(_) | CompValue::Null) {
        return Err(bad());
    }
    if substring && !matches!(value, CompValue::String(_)) {
        return Err(bad());
    }
    Ok(())
}
