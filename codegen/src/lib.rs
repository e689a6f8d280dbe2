//! Spec + docs YAML -> typed MCP tool code.
//!
//! A pure library: text in, text out, no file I/O (delivery is `xtask`'s job). The pipeline is
//! parse -> [`resolve`] into the intermediate [`model`] (validating everything at once) ->
//! emit tokens with `quote!` -> format with `prettyplease`.
//!
//! ```text
//! openapi.yaml ─┐
//!               ├─ resolve ─> model::Api ─> emit ─> { "registry.rs": "...", ... }
//! docs.yaml ────┘
//! ```

mod body;
pub mod diagnostics;
pub mod docs;
mod emit;
mod errors;
pub mod model;
pub mod naming;
mod operations;
mod output;
mod prompts;
mod published;
mod query;
mod refs;
mod resolve;
mod schema;
mod targets;

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

pub use diagnostics::{Diagnostic, render};
pub use emit::Provenance;
pub use resolve::{LIMIT_DEFAULT, LIMIT_MAX, LIMIT_MIN};

/// The inputs of one generation run.
#[derive(Clone, Copy, Debug)]
pub struct Sources<'a> {
    /// Path of the spec as shown in generated headers and messages.
    pub spec_path: &'a str,
    pub spec_text: &'a str,
    pub docs_path: &'a str,
    pub docs_text: &'a str,
}

/// A model the inputs resolved into, and what is worth a reviewer's look in them.
#[derive(Debug)]
pub struct Loaded {
    pub api: model::Api,
    /// Legal but worth knowing: undescribed properties, deprecated operations.
    pub warnings: Vec<Diagnostic>,
}

/// Generated files (name relative to the generated module -> contents), with the warnings.
#[derive(Debug)]
pub struct Generated {
    pub files: BTreeMap<String, String>,
    pub warnings: Vec<Diagnostic>,
}

/// Parses and validates the inputs into the model, reporting every problem at once.
pub fn load(sources: &Sources<'_>) -> Result<Loaded, Vec<Diagnostic>> {
    let mut diags = diagnostics::Diagnostics::default();
    let spec = parse_spec(sources.spec_text, &mut diags);
    let docs = parse_docs(sources.docs_text, &mut diags);
    let (Some(spec), Some(docs)) = (spec, docs) else {
        return Err(diags.into_sorted());
    };
    match resolve::resolve(&spec, &docs, &mut diags) {
        Some(api) if diags.is_empty() => Ok(Loaded {
            api,
            warnings: diags.take_warnings(),
        }),
        _ => Err(diags.into_sorted()),
    }
}

/// Generates the server's tool code.
pub fn generate(sources: &Sources<'_>) -> Result<Generated, Vec<Diagnostic>> {
    let Loaded { api, warnings } = load(sources)?;
    let provenance = Provenance {
        spec_path: sources.spec_path.to_owned(),
        spec_sha256: sha256_hex(sources.spec_text),
        docs_path: sources.docs_path.to_owned(),
        docs_sha256: sha256_hex(sources.docs_text),
    };
    let files = emit::emit(&api, &provenance).map_err(|message| {
        vec![Diagnostic {
            location: "codegen".to_owned(),
            message: format!("generated code did not parse (a codegen bug): {message}"),
        }]
    })?;
    Ok(Generated { files, warnings })
}

/// The product's own file (`specs/op-scim-mcp.product.yaml`), shown by `path` in headers.
#[derive(Clone, Copy, Debug)]
pub struct ProductSources<'a> {
    pub path: &'a str,
    pub text: &'a str,
}

/// Generates the product module: prompts whose `{{tool:resource.method}}` may name a tool of
/// any of `integrations`. Every problem is reported at once, an integration's own problems
/// under its docs path.
pub fn generate_product(
    product: &ProductSources<'_>,
    integrations: &[Sources<'_>],
) -> Result<Generated, Vec<Diagnostic>> {
    let mut diags = diagnostics::Diagnostics::default();
    let mut tools = Vec::new();
    let mut failed = Vec::new();
    for sources in integrations {
        match load(sources) {
            Ok(loaded) => tools.extend(loaded.api.tools),
            Err(found) => failed.extend(found.into_iter().map(|diagnostic| Diagnostic {
                location: format!("{}: {}", sources.docs_path, diagnostic.location),
                message: diagnostic.message,
            })),
        }
    }
    if !failed.is_empty() {
        return Err(failed);
    }
    let file: docs::ProductFile = match yaml_serde::from_str(product.text) {
        Ok(file) => file,
        Err(error) => {
            let location = match error.location() {
                Some(at) => format!("product.yaml:{}:{}", at.line(), at.column()),
                None => "product.yaml".to_owned(),
            };
            return Err(vec![Diagnostic {
                location,
                message: error.to_string(),
            }]);
        }
    };
    let prompts = prompts::resolve_prompts(&file.prompts, "product.yaml", &tools, &mut diags);
    if !diags.is_empty() {
        return Err(diags.into_sorted());
    }
    let against: Vec<String> = integrations
        .iter()
        .map(|sources| format!("{} (sha256 {})", sources.docs_path, sha256_hex(sources.docs_text)))
        .collect();
    let header = format!(
        "{} (sha256 {}), checked against the tools of {}",
        product.path,
        sha256_hex(product.text),
        against.join(" and ")
    );
    let files = emit::emit_product(&prompts, &header).map_err(|message| {
        vec![Diagnostic {
            location: "codegen".to_owned(),
            message: format!("generated code did not parse (a codegen bug): {message}"),
        }]
    })?;
    Ok(Generated {
        files,
        warnings: diags.take_warnings(),
    })
}

pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn parse_spec(text: &str, diags: &mut diagnostics::Diagnostics) -> Option<openapiv3::OpenAPI> {
    let value: serde_json::Value = match yaml_serde::from_str(text) {
        Ok(value) => value,
        Err(error) => {
            diags.push("openapi", format!("not valid YAML: {error}"));
            return None;
        }
    };
    let version = value.get("openapi").and_then(|v| v.as_str()).unwrap_or_default();
    if !version.starts_with("3.0.") {
        diags.push(
            "openapi",
            format!("only OpenAPI 3.0.x is supported (found `{version}`)"),
        );
        return None;
    }
    match serde_json::from_value::<openapiv3::OpenAPI>(value) {
        Ok(spec) => Some(spec),
        Err(error) => {
            diags.push("openapi", format!("not a valid OpenAPI 3.0 document: {error}"));
            None
        }
    }
}

fn parse_docs(text: &str, diags: &mut diagnostics::Diagnostics) -> Option<docs::DocsFile> {
    match yaml_serde::from_str(text) {
        Ok(docs) => Some(docs),
        Err(error) => {
            let location = match error.location() {
                Some(at) => format!("docs.yaml:{}:{}", at.line(), at.column()),
                None => "docs.yaml".to_owned(),
            };
            diags.push(location, error.to_string());
            None
        }
    }
}
