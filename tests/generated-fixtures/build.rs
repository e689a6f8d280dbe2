//! Runs the generator on inputs the product does not ship and writes its output into
//! `OUT_DIR`, where `src/lib.rs` includes it: the generated code of each is compiled, not only
//! parsed.
//!
//! Why at build time instead of checked in like `generated-server/src/generated*`: one input is
//! 1Password's own Events API description, read from beside the workspace
//! (`../shared/vendor-specs/`), and its prose (descriptions become doc comments and schema text
//! in the generated code) must not be checked into the project in any form. `OUT_DIR` lies under
//! the target directory, so nothing is written to the source tree and `cargo xtask regen
//! --check` is not affected.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The sibling modules an integration's generated code consists of (the generator's `mod.rs`
/// declares them; `src/lib.rs` declares the same list around the included files).
const MODULES: &[&str] = &["handlers", "inputs", "prompts", "registry", "schemas", "types"];

/// The generator's module index, which `src/lib.rs` replaces with its own declarations.
const INDEX: &str = "mod.rs";

/// One generator run: the spec and docs YAML, relative to the workspace root, and the module
/// under `OUT_DIR` (and in `src/lib.rs`) that the output becomes.
struct Input {
    module: &'static str,
    spec: &'static str,
    docs: &'static str,
}

const INPUTS: &[Input] = &[
    Input {
        module: "vendor_events",
        spec: "../shared/vendor-specs/1password-events-api-1.2.0.yaml",
        docs: "tests/it/fixtures/1password-events-vendor.docs.yaml",
    },
    Input {
        module: "todo",
        spec: "tests/it/fixtures/todo.openapi.yaml",
        docs: "tests/it/fixtures/todo.docs.yaml",
    },
];

/// Returning the error (rather than panicking) makes the failure a message naming the file and
/// the problems, not a backtrace; its `Debug` is its `Display` because that is what Rust prints
/// for an error returned from `main`.
fn main() -> Result<(), BuildError> {
    let manifest_dir = env_path("CARGO_MANIFEST_DIR")?;
    let out_dir = env_path("OUT_DIR")?;
    let root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .ok_or(BuildError::Env("CARGO_MANIFEST_DIR"))?;
    // Declared before anything can fail, so a failed run is retried once an input is fixed.
    for input in INPUTS {
        println!("cargo:rerun-if-changed={}", root.join(input.spec).display());
        println!("cargo:rerun-if-changed={}", root.join(input.docs).display());
    }
    for input in INPUTS {
        generate(root, &out_dir, input)?;
    }
    Ok(())
}

/// Generates one input into `OUT_DIR/<module>/`: `<name>.rs` for each module, and
/// `<name>.md` holding that file's module docs (see [`split_module_docs`]).
fn generate(root: &Path, out_dir: &Path, input: &Input) -> Result<(), BuildError> {
    let spec_text = read(&root.join(input.spec))?;
    let docs_text = read(&root.join(input.docs))?;
    let sources = codegen::Sources {
        spec_path: input.spec,
        spec_text: &spec_text,
        docs_path: input.docs,
        docs_text: &docs_text,
    };
    // Warnings (undescribed properties, deprecated operations) are legal and not repeated on
    // every build; `tests/it/codegen_fixtures.rs` prints them for the vendor spec.
    let generated = codegen::generate(&sources).map_err(|diagnostics| BuildError::Generate {
        spec: root.join(input.spec),
        docs: root.join(input.docs),
        diagnostics,
    })?;
    let found: BTreeSet<&str> = generated.files.keys().map(String::as_str).collect();
    let expected: BTreeSet<String> = MODULES
        .iter()
        .map(|module| format!("{module}.rs"))
        .chain([INDEX.to_owned()])
        .collect();
    if found != expected.iter().map(String::as_str).collect() {
        return Err(BuildError::Modules {
            spec: root.join(input.spec),
            expected: expected.into_iter().collect(),
            found: found.into_iter().map(str::to_owned).collect(),
        });
    }
    let dir = out_dir.join(input.module);
    fs::create_dir_all(&dir).map_err(|source| BuildError::Write {
        path: dir.clone(),
        source,
    })?;
    for (name, text) in generated.files.iter().filter(|(name, _)| *name != INDEX) {
        let file = split_module_docs(text).map_err(|line| BuildError::InnerAttribute {
            module: input.module,
            file: name.clone(),
            line,
        })?;
        let path = dir.join(name);
        write_if_changed(&path, &file.body)?;
        write_if_changed(&path.with_extension("md"), &file.docs)?;
    }
    Ok(())
}

/// A generated file split for `include!`.
struct ModuleFile {
    /// The module docs, without their `//!` markers.
    docs: String,
    /// Everything else, byte for byte: the `// @generated` header and the items.
    body: String,
}

/// `include!` takes items only, so an inner attribute or inner doc comment (`//!`) at the top
/// of an included file is an error. The generator starts every file with its `// @generated`
/// line and the module docs as `//!` lines (how prettyplease prints the file's `#![doc]`); this
/// moves those docs out, to become the doc of the module that includes the file, rather than
/// changing the generator's output for the checked-in server. Any other inner attribute is
/// reported (as its line), since dropping it silently could change what compiles.
fn split_module_docs(text: &str) -> Result<ModuleFile, String> {
    let mut docs = String::new();
    let mut body = String::new();
    let mut rest = text;
    while let Some(line) = rest.split_inclusive('\n').next() {
        let trimmed = line.trim_start();
        if let Some(doc) = trimmed.strip_prefix("//!") {
            docs.push_str(doc.strip_prefix(' ').unwrap_or(doc));
        } else if trimmed.starts_with("//") || trimmed.trim().is_empty() {
            body.push_str(line);
        } else {
            break;
        }
        rest = &rest[line.len()..];
    }
    let first = rest.trim_start();
    if first.starts_with("#![") || first.starts_with("/*!") {
        return Err(first.lines().next().unwrap_or_default().to_owned());
    }
    body.push_str(rest);
    Ok(ModuleFile { docs, body })
}

fn env_path(name: &'static str) -> Result<PathBuf, BuildError> {
    std::env::var_os(name)
        .map(PathBuf::from)
        .ok_or(BuildError::Env(name))
}

fn read(path: &Path) -> Result<String, BuildError> {
    fs::read_to_string(path).map_err(|source| BuildError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Leaves an unchanged file alone, so its timestamp does not make Cargo recompile the crate.
fn write_if_changed(path: &Path, contents: &str) -> Result<(), BuildError> {
    if fs::read_to_string(path).is_ok_and(|current| current == contents) {
        return Ok(());
    }
    fs::write(path, contents).map_err(|source| BuildError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Why the build script stopped.
enum BuildError {
    /// Cargo did not set a variable every build script gets.
    Env(&'static str),
    Read {
        path: PathBuf,
        source: io::Error,
    },
    /// The generator refused the inputs; every problem it found, with its location.
    Generate {
        spec: PathBuf,
        docs: PathBuf,
        diagnostics: Vec<codegen::Diagnostic>,
    },
    /// The generator emitted other modules than `src/lib.rs` declares.
    Modules {
        spec: PathBuf,
        expected: Vec<String>,
        found: Vec<String>,
    },
    /// A generated file starts with an inner attribute `include!` would reject.
    InnerAttribute {
        module: &'static str,
        file: String,
        line: String,
    },
    Write {
        path: PathBuf,
        source: io::Error,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(name) => write!(f, "cargo did not set {name} for the build script"),
            Self::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Self::Generate {
                spec,
                docs,
                diagnostics,
            } => write!(
                f,
                "{} problem(s) generating code from {} and {}:\n{}",
                diagnostics.len(),
                spec.display(),
                docs.display(),
                codegen::render(diagnostics)
            ),
            Self::Modules {
                spec,
                expected,
                found,
            } => write!(
                f,
                "the generator's files for {} are {} but build.rs and src/lib.rs expect {}; \
                 update MODULES in both",
                spec.display(),
                found.join(", "),
                expected.join(", ")
            ),
            Self::InnerAttribute { module, file, line } => write!(
                f,
                "{module}/{file} starts with an inner attribute `include!` rejects: {line}"
            ),
            Self::Write { path, source } => write!(f, "cannot write {}: {source}", path.display()),
        }
    }
}

impl fmt::Debug for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
