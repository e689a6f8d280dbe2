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
    // The `priority` enum of the create body becomes a typed argument, not a string.
    assert!(
        inputs.contains("pub enum CreateAAcmeTodoBodyPriorityArgs"),
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
        "1_password_events_introspect",
    ] {
        assert!(registry.contains(&format!("name: \"{name}\"")), "{name} missing");
    }
    for text in generated.files.values() {
        syn::parse_file(text).expect("generated code parses");
    }
}

fn clinic(docs: &str) -> Result<codegen::Generated, Vec<codegen::Diagnostic>> {
    codegen::generate(&codegen::Sources {
        spec_path: "clinic.openapi.yaml",
        spec_text: include_str!("fixtures/clinic.openapi.yaml"),
        docs_path: "clinic.docs.yaml",
        docs_text: docs,
    })
}

fn published_input(files: &std::collections::BTreeMap<String, String>, constant: &str) -> serde_json::Value {
    let schemas = &files["schemas.rs"];
    let start = schemas
        .find(&format!("pub const {constant}: &str = r#\""))
        .unwrap_or_else(|| panic!("{constant} missing"));
    let text = &schemas[start..];
    let open = text.find("r#\"").expect("literal") + 3;
    let close = text.find("\"#;").expect("end of literal");
    serde_json::from_str(&text[open..close]).expect("published schema is JSON")
}

#[test]
fn the_constructs_vendors_publish_are_read_not_refused() {
    let generated = match clinic(include_str!("fixtures/clinic.docs.yaml")) {
        Ok(generated) => generated,
        Err(diagnostics) => panic!("did not generate:\n{}", codegen::render(&diagnostics)),
    };
    let files = &generated.files;
    for text in files.values() {
        syn::parse_file(text).expect("generated code parses");
    }
    // Named by METHOD /path and by an id with spaces; the rest left out (only_documented).
    let registry = &files["registry.rs"];
    for name in [
        "list_all_clinic_animals",
        "get_single_clinic_animal_by_id",
        "create_a_clinic_animal",
    ] {
        assert!(registry.contains(&format!("name: \"{name}\"")), "{name}");
    }
    assert!(!registry.contains("visits") && !registry.contains("delete_a_clinic"));
    // A list that answers an array is published wrapped.
    assert!(files["handlers.rs"].contains("cx.call_list::<types::Animal>(request)"));
    let create = published_input(files, "CREATE_A_CLINIC_ANIMAL_INPUT");
    let properties = &create["properties"];
    // allOf merged, through a chain of request body $refs; the read-only id left out.
    assert_eq!(properties["name"]["description"], "What the animal answers to.");
    assert!(properties.get("id").is_none(), "{create}");
    assert_eq!(create["required"], serde_json::json!(["species"]));
    // The docs YAML describes what the spec did not.
    assert_eq!(
        properties["species"]["description"],
        "The animal's species, e.g. cat."
    );
    assert_eq!(properties["weight_kg"]["maximum"], 2000.0);
    assert_eq!(
        properties["tag"]["type"],
        serde_json::json!(["string", "integer"])
    );
    assert_eq!(properties["notes"]["additionalProperties"]["type"], "string");
    assert_eq!(properties["admitted_at"]["format"], "date-time");
    assert!(!create.to_string().contains("allOf") && !create.to_string().contains("oneOf"));
    let list = published_input(files, "LIST_ALL_CLINIC_ANIMALS_INPUT");
    assert_eq!(
        list["properties"]["species"]["description"],
        "Only animals of this species."
    );
    // Nothing left undescribed, so nothing to warn about but the published map's values.
    assert!(
        generated
            .warnings
            .iter()
            .all(|warning| !warning.message.contains("species")),
        "{:?}",
        generated.warnings
    );
}

#[test]
fn what_the_docs_yaml_gets_wrong_against_such_a_spec_is_named() {
    let docs = include_str!("fixtures/clinic.docs.yaml")
        .replace("operation: GET /animals", "operation: GET /pets")
        .replace("  NewAnimal.species: The animal's species, e.g. cat.\n", "");
    let diagnostics = match clinic(&docs) {
        Ok(_) => panic!("generated with an unknown operation"),
        Err(diagnostics) => codegen::render(&diagnostics),
    };
    assert!(
        diagnostics.contains("operation `GET /pets` is not in the spec"),
        "{diagnostics}"
    );
    // Undocumented operations are fine with only_documented; a missing description is a
    // warning, not an error (so it is not among the errors here).
    assert!(
        !diagnostics.contains("listVisits") && !diagnostics.contains("species"),
        "{diagnostics}"
    );
    let without_switch = include_str!("fixtures/clinic.docs.yaml").replace("  only_documented: true\n", "");
    let diagnostics = match clinic(&without_switch) {
        Ok(_) => panic!("generated with undocumented operations"),
        Err(diagnostics) => codegen::render(&diagnostics),
    };
    assert!(
        diagnostics.contains("`listVisits` is neither documented nor excluded"),
        "{diagnostics}"
    );
    assert!(
        diagnostics.contains("`DELETE /animals/{animalId}`") || diagnostics.contains("`dischargeAnimal`"),
        "{diagnostics}"
    );
}

#[test]
fn a_ref_cycle_is_reported_not_looped_on() {
    let spec = include_str!("fixtures/clinic.openapi.yaml").replace(
        "    AdmissionForm:\n      content:",
        "    AdmissionForm:\n      $ref: \"#/components/requestBodies/Admission\"\n    Unused:\n      content:",
    );
    let result = codegen::generate(&codegen::Sources {
        spec_path: "clinic.openapi.yaml",
        spec_text: &spec,
        docs_path: "clinic.docs.yaml",
        docs_text: include_str!("fixtures/clinic.docs.yaml"),
    });
    let diagnostics = match result {
        Ok(_) => panic!("a cycle generated"),
        Err(diagnostics) => codegen::render(&diagnostics),
    };
    assert!(diagnostics.contains("$ref cycle"), "{diagnostics}");
}

#[test]
fn the_specs_servers_and_error_messages_are_read() {
    let loaded = codegen::load(&codegen::Sources {
        spec_path: "clinic.openapi.yaml",
        spec_text: include_str!("fixtures/clinic.openapi.yaml"),
        docs_path: "clinic.docs.yaml",
        docs_text: include_str!("fixtures/clinic.docs.yaml"),
    })
    .expect("loads");
    let urls: Vec<&str> = loaded
        .api
        .servers
        .iter()
        .map(|server| server.url.as_str())
        .collect();
    assert_eq!(
        urls,
        [
            "https://clinic.example.com/v1",
            "https://eu.clinic.example.com/v1"
        ]
    );
    assert_eq!(loaded.api.error_message_paths, [["problem", "message"]]);
    let events = codegen::load(&codegen::Sources {
        spec_path: "1password-events-api-1.2.0.yaml",
        spec_text: &events_vendor_spec(),
        docs_path: "1password-events-vendor.docs.yaml",
        docs_text: include_str!("fixtures/1password-events-vendor.docs.yaml"),
    })
    .expect("loads");
    assert_eq!(events.api.error_message_paths, [["Error", "Message"]]);
    assert_eq!(events.api.servers.len(), 4);
}

/// The tools generated from the vendor's file and from ours take the same arguments: our spec
/// adds what later API versions have (v2 events, MSP fields), never a different way to ask.
#[test]
fn the_vendors_file_and_ours_publish_the_same_arguments() {
    let vendor = codegen::generate(&codegen::Sources {
        spec_path: "1password-events-api-1.2.0.yaml",
        spec_text: &events_vendor_spec(),
        docs_path: "1password-events-vendor.docs.yaml",
        docs_text: include_str!("fixtures/1password-events-vendor.docs.yaml"),
    })
    .map_err(|diagnostics| codegen::render(&diagnostics))
    .expect("the vendor's file generates");
    let root = xtask::workspace_root();
    let read = |path: &str| std::fs::read_to_string(root.join(path)).expect(path);
    let ours = codegen::generate(&codegen::Sources {
        spec_path: "specs/1password-events.openapi.yaml",
        spec_text: &read("specs/1password-events.openapi.yaml"),
        docs_path: "specs/1password-events.docs.yaml",
        docs_text: &read("specs/1password-events.docs.yaml"),
    })
    .map_err(|diagnostics| codegen::render(&diagnostics))
    .expect("our Events spec generates");
    assert!(ours.warnings.is_empty(), "{:?}", ours.warnings);
    for constant in [
        "LIST_ALL_1_PASSWORD_SIGN_IN_ATTEMPTS_INPUT",
        "LIST_ALL_1_PASSWORD_ITEM_USAGES_INPUT",
        "ONE_PASSWORD_EVENTS_INTROSPECT_INPUT",
    ] {
        let (vendor, ours) = (
            published_input(&vendor.files, constant),
            published_input(&ours.files, constant),
        );
        let names = |schema: &serde_json::Value| -> Vec<String> {
            schema["properties"]
                .as_object()
                .map(|map| map.keys().cloned().collect())
                .unwrap_or_default()
        };
        assert_eq!(names(&vendor), names(&ours), "{constant}");
        for (name, property) in vendor["properties"].as_object().into_iter().flatten() {
            assert_eq!(
                property["type"], ours["properties"][name]["type"],
                "{constant}.{name}"
            );
            assert_eq!(
                property["format"], ours["properties"][name]["format"],
                "{constant}.{name}"
            );
        }
    }
    // Audit events: ours may also filter by email (v2 events name the actor and the object).
    let vendor_audit = published_input(&vendor.files, "LIST_ALL_1_PASSWORD_AUDIT_EVENTS_INPUT");
    let ours_audit = published_input(&ours.files, "LIST_ALL_1_PASSWORD_AUDIT_EVENTS_INPUT");
    for name in vendor_audit["properties"].as_object().expect("properties").keys() {
        assert!(ours_audit["properties"].get(name).is_some(), "ours lacks {name}");
    }
    assert!(ours_audit["properties"].get("user_email").is_some());
}
