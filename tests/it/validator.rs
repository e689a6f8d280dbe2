//! The loader reports every problem of a broken docs file at once, each with its location.

fn load(spec: &str, docs: &str) -> Vec<codegen::Diagnostic> {
    let sources = codegen::Sources {
        spec_path: "spec.yaml",
        spec_text: spec,
        docs_path: "docs.yaml",
        docs_text: docs,
    };
    match codegen::load(&sources) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics,
    }
}

const SPEC: &str = include_str!("fixtures/todo.openapi.yaml");

#[test]
fn a_broken_docs_file_gets_every_error_with_its_location() {
    let docs = r#"
integration:
  label: Acme
resources:
  todos:
    singular: todo
    tags: [Work Items]
    methods:
      list:
        operation: listTodos
        kind: write
        description: ""
        pagination: { style: scim, items: items, total: total }
        query:
          done:
            attribute: "done or true"
            operator: eq
            type: boolean
            description: Only finished todos.
      get:
        operation: readTodo
        kind: read
        description: Read one todo.
      create:
        operation: createTodo
        kind: write
        name: "this_name_is_far_too_long_for_any_client_because_it_goes_on_and_on_and_on"
        description: Add a todo.
      clone:
        operation: createTodo
        kind: write
        name: list_all_acme_todos
        description: Copy a todo.
"#;
    let found = load(SPEC, docs);
    let rendered = codegen::render(&found);
    let expect = [
        (
            "docs.yaml: resources.todos",
            "tag `Work Items` must be snake_case",
        ),
        ("docs.yaml: resources.todos.methods.list", "must have kind read"),
        ("docs.yaml: resources.todos.methods.list", "description is empty"),
        (
            "docs.yaml: resources.todos.methods.list.query.done",
            "is not a SCIM attribute path",
        ),
        (
            "docs.yaml: resources.todos.methods.get",
            "operation `readTodo` is not in the spec",
        ),
        (
            "docs.yaml: resources.todos.methods.create",
            "must match ^[A-Za-z0-9_.-]{1,64}$",
        ),
        (
            "docs.yaml: resources.todos.methods.clone",
            "kind must be read or custom",
        ),
        (
            "docs.yaml: resources.todos.methods.clone",
            "tool name `list_all_acme_todos` is also used by",
        ),
        (
            "openapi: paths./todos/{todoId}.delete",
            "`deleteTodo` is neither documented nor excluded",
        ),
        (
            "openapi: paths./todos/{todoId}.get",
            "`getTodo` is neither documented nor excluded",
        ),
    ];
    for (location, message) in expect {
        assert!(
            found
                .iter()
                .any(|d| d.location == location && d.message.contains(message)),
            "missing `{location}: {message}` in:\n{rendered}"
        );
    }
}

#[test]
fn unknown_refs_and_unsupported_constructs_are_reported() {
    let spec = SPEC
        .replace(
            "items: { $ref: \"#/components/schemas/Todo\" }",
            "items: { $ref: \"#/components/schemas/Missing\" }",
        )
        .replace(
            "title: { type: string, minLength: 1, maxLength: 200, description: What to do. }",
            "title: { oneOf: [{ type: object, properties: { text: { type: string } } }, { type: integer }], description: What to do. }",
        );
    let found = load(&spec, include_str!("fixtures/todo.docs.yaml"));
    let rendered = codegen::render(&found);
    assert!(
        rendered.contains("unknown $ref `#/components/schemas/Missing`"),
        "{rendered}"
    );
    assert!(
        rendered.contains("oneOf/anyOf of objects is not supported in tool arguments"),
        "{rendered}"
    );
}

#[test]
fn a_typo_in_a_docs_key_is_an_error_not_ignored() {
    let docs =
        include_str!("fixtures/todo.docs.yaml").replace("singular: todo", "singular: todo\n    tagz: [x]");
    let found = load(SPEC, &docs);
    assert!(
        found
            .iter()
            .any(|d| d.message.contains("unknown field `tagz`") && d.location.starts_with("docs.yaml:")),
        "{found:?}"
    );
}

#[test]
fn the_shipped_spec_and_docs_load_cleanly() {
    let root = xtask::workspace_root();
    let spec = std::fs::read_to_string(root.join(xtask::SPEC_PATH)).expect("spec");
    let docs = std::fs::read_to_string(root.join(xtask::DOCS_PATH)).expect("docs");
    assert_eq!(load(&spec, &docs), Vec::new());
}
