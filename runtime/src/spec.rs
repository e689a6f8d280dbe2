//! What the generator says about each tool, prompt and reference resource: plain static data,
//! published as is and filtered by scopes, with no behaviour of its own.

/// The method kinds scopes filter on: `read` = list/get, `write` = create/update/delete,
/// `custom` = everything defined on top of an operation (suspend, add members, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MethodKind {
    Read,
    Write,
    Custom,
}

impl MethodKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Custom => "custom",
        }
    }
}

/// MCP tool annotations; `None` leaves a hint to the client's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Annotations {
    pub read_only: bool,
    pub destructive: Option<bool>,
    pub idempotent: Option<bool>,
    pub open_world: bool,
}

/// Everything published about a tool, generated from the spec and the docs YAML.
#[derive(Debug)]
pub struct ToolSpec {
    /// The name in the default naming (`1_password_users_suspend`).
    pub name: &'static str,
    /// The name in portable naming (`one_password_users_suspend`).
    pub portable_name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub resource: &'static str,
    /// The resource's singular noun, for messages (`user`).
    pub singular: &'static str,
    pub method: &'static str,
    pub kind: MethodKind,
    pub tags: &'static [&'static str],
    pub annotations: Annotations,
    /// Fully inlined JSON Schema, object root.
    pub input_schema: &'static str,
    pub output_schema: &'static str,
    /// The arguments naming what a call acts on (ids, a userName), written to the audit log.
    pub audit_targets: &'static [&'static str],
}

/// Which of a tool's two names clients see.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ToolNaming {
    /// The product's names, e.g. `1_password_users_suspend`.
    #[default]
    Default,
    /// `^[a-z][a-z0-9_]{0,63}$` for clients that reject a leading digit (Gemini and others).
    Portable,
}

impl ToolNaming {
    pub fn name_of(self, spec: &ToolSpec) -> &'static str {
        match self {
            Self::Default => spec.name,
            Self::Portable => spec.portable_name,
        }
    }
}

/// A workflow prompt, generated from the docs YAML.
#[derive(Debug)]
pub struct PromptSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub arguments: &'static [PromptArgumentSpec],
    pub segments: &'static [PromptSegment],
}

#[derive(Debug)]
pub struct PromptArgumentSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
    /// Only `true` or `false` are accepted.
    pub boolean: bool,
}

/// A piece of a prompt's text.
#[derive(Debug)]
pub enum PromptSegment {
    Text(&'static str),
    Argument(&'static str),
    /// A tool by resource and method; the running server's published name is put in.
    Tool {
        resource: &'static str,
        method: &'static str,
    },
}

/// A reference resource whose content is a GET to the upstream.
#[derive(Debug)]
pub struct ReferenceSpec {
    pub uri: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub path: &'static [&'static str],
    /// The tool that reads the same operation: the resource is offered only where that tool is
    /// in scope, so a resource never shows what the scope's tools could not.
    pub tool: ToolRef,
}

/// A tool by resource and method, whatever name it is published under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ToolRef {
    pub resource: &'static str,
    pub method: &'static str,
}

impl ToolRef {
    pub fn is(&self, spec: &ToolSpec) -> bool {
        spec.resource == self.resource && spec.method == self.method
    }
}
