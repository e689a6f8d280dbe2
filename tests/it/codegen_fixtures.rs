//! Codegen on inputs we did not tailor it to: an unrelated API, and a hostile spec.

fn generate(spec: &str, docs: &str) -> std::collections::BTreeMap<String, String> {
    let sources = codegen::Sources {
        spec_path: "fixture.yaml",
        spec_text: spec,
        docs_path: "fixture.docs.yaml",
        docs_text: docs,
    };
    match codegen::generate(&sources) {
        Ok(generated) => generated.files,
        Err(diagnostics) => panic!("fixture did not generate:\n{}", codegen::render(&diagnostics)),
    }
}

#[test]
fn an_unrelated_api_generates_with_its_own_names() {
    let files = generate(
        include_str!("fixtures/todo.openapi.yaml"),
        include_str!("fixtures/todo.docs.yaml"),
    );
    let registry = &files["registry.rs"];
    for name in [
        "list_all_acme_todos",
        "get_single_acme_todo_by_id",
        "create_a_acme_todo",
    ] {
        assert!(registry.contains(&format!("name: \"{name}\"")), "{name} missing");
    }
    assert!(!registry.contains("1Password") && !registry.contains("delete_a_acme_todo"));
    let inputs = &files["inputs.rs"];
    assert!(
        inputs.contains("pub enum CreatePriorityArgs") || inputs.contains("enum"),
        "enum argument type"
    );
    for text in files.values() {
        syn::parse_file(text).expect("generated code parses");
    }
}

const HOSTILE: &str = "Evil \"quote\" {brace} */ /* \"# ## r#\"raw\"# \\ back\nline two } fn injected() {}";

fn hostile_spec() -> String {
    let escaped = serde_json::to_string(HOSTILE).expect("json string");
    include_str!("fixtures/todo.openapi.yaml")
        .replace("description: A thing to do.", &format!("description: {escaped}"))
        .replace("enum: [low, high]", &format!("enum: [low, {escaped}]"))
        .replace(
            "title: { type: string, description: What to do. }",
            &format!("title: {{ type: string, description: {escaped} }}"),
        )
}

fn hostile_docs() -> String {
    let escaped = serde_json::to_string(HOSTILE).expect("json string");
    include_str!("fixtures/todo.docs.yaml")
        .replace("description: Add a todo.", &format!("description: {escaped}"))
}

/// Spec text reaches generated code only as literals: the hostile text survives verbatim as
/// string or doc literals, and no item appears that the fixture did not ask for.
#[test]
fn hostile_spec_text_cannot_inject_code() {
    let files = generate(&hostile_spec(), &hostile_docs());
    let mut literal_hits = 0;
    let mut functions = Vec::new();
    for (name, text) in &files {
        let file = syn::parse_file(text).unwrap_or_else(|error| panic!("{name} does not parse: {error}"));
        for item in &file.items {
            if let syn::Item::Fn(function) = item {
                functions.push(function.sig.ident.to_string());
            }
        }
        literal_hits += count_literals(text, HOSTILE);
    }
    assert!(!functions.iter().any(|f| f == "injected"), "{functions:?}");
    assert!(
        literal_hits >= 2,
        "the hostile text should survive as literals ({literal_hits})"
    );
}

/// Counts string literals anywhere in the file, attributes included, whose value holds
/// `needle` whole.
fn count_literals(text: &str, needle: &str) -> usize {
    fn walk(tokens: proc_macro2::TokenStream, needle: &str) -> usize {
        tokens
            .into_iter()
            .map(|token| match token {
                proc_macro2::TokenTree::Group(group) => walk(group.stream(), needle),
                proc_macro2::TokenTree::Literal(literal) => {
                    let parsed = syn::parse_str::<syn::LitStr>(&literal.to_string());
                    usize::from(parsed.is_ok_and(|lit| lit.value().contains(needle)))
                }
                _ => 0,
            })
            .sum()
    }
    text.parse::<proc_macro2::TokenStream>()
        .map_or(0, |tokens| walk(tokens, needle))
}

/// 1Password's own Events API description, as published, read from beside the project.
fn events_vendor_spec() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/vendor-specs/1password-events-api-1.2.0.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn the_vendors_events_spec_generates_without_edits() {
    let spec = events_vendor_spec();
    let sources = codegen::Sources {
        spec_path: "1password-events-api-1.2.0.yaml",
        spec_text: &spec,
        docs_path: "1password-events-vendor.docs.yaml",
        docs_text: include_str!("fixtures/1password-events-vendor.docs.yaml"),
    };
    let generated = match codegen::generate(&sources) {
        Ok(generated) => generated,
        Err(diagnostics) => panic!(
            "the vendor spec did not generate:\n{}",
            codegen::render(&diagnostics)
        ),
    };
    for warning in &generated.warnings {
        eprintln!("warning: {warning}");
    }
    let registry = &generated.files["registry.rs"];
    for name in [
        "list_all_1_password_sign_in_attempts",
        "list_all_1_password_item_usages",
        "list_all_1_password_audit_events",
        "1_password_auth_introspect",
    ] {
        assert!(registry.contains(&format!("name: \"{name}\"")), "{name} missing");
    }
    for text in generated.files.values() {
        syn::parse_file(text).expect("generated code parses");
    }
}
