//! The spec/docs loader: arbitrary docs YAML against the real OpenAPI spec. Loading reports
//! diagnostics, never panics; what loads must also generate code that parses.
#![no_main]

use libfuzzer_sys::fuzz_target;

const SPEC: &str = include_str!("../../specs/1password-scim.openapi.yaml");

fuzz_target!(|data: &[u8]| {
    let Ok(docs) = std::str::from_utf8(data) else {
        return;
    };
    let sources = codegen::Sources {
        spec_path: "specs/1password-scim.openapi.yaml",
        spec_text: SPEC,
        docs_path: "fuzz.docs.yaml",
        docs_text: docs,
    };
    match codegen::load(&sources) {
        Ok(_) => {
            // Loaded docs must make code that parses (emit reports a codegen bug otherwise).
            if let Err(diagnostics) = codegen::generate(&sources) {
                panic!("docs loaded but did not generate: {diagnostics:?}");
            }
        }
        Err(diagnostics) => assert!(!diagnostics.is_empty(), "refused without a diagnostic"),
    }
});
