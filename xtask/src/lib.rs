//! `cargo xtask regen [--check]`: the thin delivery around the pure `codegen` library.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

pub mod ci;

pub const SPEC_PATH: &str = "specs/1password-scim.openapi.yaml";
pub const DOCS_PATH: &str = "specs/1password-scim.docs.yaml";
pub const GENERATED_DIR: &str = "generated-server/src/generated";

/// The Events API integration, generated beside the SCIM one.
pub const EVENTS_SPEC_PATH: &str = "specs/1password-events.openapi.yaml";
pub const EVENTS_DOCS_PATH: &str = "specs/1password-events.docs.yaml";
pub const EVENTS_GENERATED_DIR: &str = "generated-server/src/generated_events";

/// Every integration the product is generated from: spec, docs YAML, generated module.
pub const INTEGRATIONS: &[(&str, &str, &str)] = &[
    (SPEC_PATH, DOCS_PATH, GENERATED_DIR),
    (EVENTS_SPEC_PATH, EVENTS_DOCS_PATH, EVENTS_GENERATED_DIR),
];

/// The product's own file: workflows over the tools of every integration.
pub const PRODUCT_PATH: &str = "specs/op-scim-mcp.product.yaml";
pub const PRODUCT_GENERATED_DIR: &str = "generated-server/src/generated_product";

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set, else `<root>/target`.
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Write,
    Check,
}

/// What a run found or did, file by file.
#[derive(Debug, Default)]
pub struct Report {
    pub written: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: Vec<String>,
    /// `--check` only: a readable diff of every stale file.
    pub stale_diff: String,
    /// What the generator found legal but worth a look (undescribed properties, deprecated
    /// operations), one line each.
    pub warnings: Vec<String>,
}

impl Report {
    pub fn is_stale(&self) -> bool {
        !self.stale_diff.is_empty()
    }
}

/// Generates the server's code of every integration from the specs and docs under `root`.
pub fn regen(root: &Path, mode: Mode) -> Result<Report> {
    let mut report = Report::default();
    for (spec, docs, out) in INTEGRATIONS {
        let one = generate(
            &root.join(spec),
            spec,
            &root.join(docs),
            docs,
            &root.join(out),
            mode,
        )?;
        report.written.extend(one.written);
        report.removed.extend(one.removed);
        report.unchanged.extend(one.unchanged);
        report.stale_diff.push_str(&one.stale_diff);
        report.warnings.extend(one.warnings);
    }
    let product = product(root, mode)?;
    report.written.extend(product.written);
    report.removed.extend(product.removed);
    report.unchanged.extend(product.unchanged);
    report.stale_diff.push_str(&product.stale_diff);
    report.warnings.extend(product.warnings);
    Ok(report)
}

/// Generates the product module from [`PRODUCT_PATH`], checked against every integration.
fn product(root: &Path, mode: Mode) -> Result<Report> {
    let texts = INTEGRATIONS
        .iter()
        .map(|(spec, docs, _)| Ok((read(&root.join(spec))?, read(&root.join(docs))?)))
        .collect::<Result<Vec<_>>>()?;
    let integrations: Vec<codegen::Sources<'_>> = INTEGRATIONS
        .iter()
        .zip(&texts)
        .map(|((spec, docs, _), (spec_text, docs_text))| codegen::Sources {
            spec_path: spec,
            spec_text,
            docs_path: docs,
            docs_text,
        })
        .collect();
    let product_text = read(&root.join(PRODUCT_PATH))?;
    let sources = codegen::ProductSources {
        path: PRODUCT_PATH,
        text: &product_text,
    };
    let generated = match codegen::generate_product(&sources, &integrations) {
        Ok(generated) => generated,
        Err(diagnostics) => bail!(
            "{} problem(s) in {PRODUCT_PATH}:\n{}",
            diagnostics.len(),
            codegen::render(&diagnostics)
        ),
    };
    let mut report = sync(
        &root.join(PRODUCT_GENERATED_DIR),
        PRODUCT_GENERATED_DIR,
        &generated.files,
        mode,
    )?;
    report.warnings = generated.warnings.iter().map(ToString::to_string).collect();
    Ok(report)
}

/// Generates code for any spec and docs YAML into `out` (`cargo xtask generate`): the same
/// generator and the same freshness check as `regen`. `spec_shown` and `docs_shown` are the
/// paths the generated headers name.
pub fn generate(
    spec: &Path,
    spec_shown: &str,
    docs: &Path,
    docs_shown: &str,
    out: &Path,
    mode: Mode,
) -> Result<Report> {
    let spec_text = read(spec)?;
    let docs_text = read(docs)?;
    let sources = codegen::Sources {
        spec_path: spec_shown,
        spec_text: &spec_text,
        docs_path: docs_shown,
        docs_text: &docs_text,
    };
    let generated = match codegen::generate(&sources) {
        Ok(generated) => generated,
        Err(diagnostics) => bail!(
            "{} problem(s) in the spec or docs:\n{}",
            diagnostics.len(),
            codegen::render(&diagnostics)
        ),
    };
    let shown = out
        .strip_prefix(workspace_root())
        .unwrap_or(out)
        .display()
        .to_string();
    let mut report = sync(out, &shown, &generated.files, mode)?;
    report.warnings = generated.warnings.iter().map(ToString::to_string).collect();
    Ok(report)
}

/// Writes `files` into `dir` (shown as `shown` in diffs), only those that changed, removing
/// generated files no longer produced; in check mode, changes nothing and reports a diff.
fn sync(dir: &Path, shown: &str, files: &BTreeMap<String, String>, mode: Mode) -> Result<Report> {
    let mut report = Report::default();
    let existing = existing_files(dir)?;
    for (name, contents) in files {
        let path = dir.join(name);
        let current = existing.get(name);
        if current.map(String::as_str) == Some(contents.as_str()) {
            report.unchanged.push(name.clone());
            continue;
        }
        match mode {
            Mode::Write => {
                fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
                report.written.push(name.clone());
            }
            Mode::Check => {
                let old = current.map(String::as_str).unwrap_or_default();
                report
                    .stale_diff
                    .push_str(&diff(&format!("{shown}/{name}"), old, contents));
            }
        }
    }
    for name in existing.keys().filter(|name| !files.contains_key(*name)) {
        match mode {
            Mode::Write => {
                let path = dir.join(name);
                fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
                report.removed.push(name.clone());
            }
            Mode::Check => report.stale_diff.push_str(&format!(
                "--- {shown}/{name}\n+++ /dev/null\n(orphan: no longer generated)\n"
            )),
        }
    }
    Ok(report)
}

fn existing_files(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut found = BTreeMap::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(found);
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".rs") && entry.file_type()?.is_file() {
            found.insert(name, read(&entry.path())?);
        }
    }
    Ok(found)
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn diff(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(name, &format!("{name} (regenerated)"))
        .to_string()
}
