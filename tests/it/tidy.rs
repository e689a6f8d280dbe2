//! What each crate may import, read from `cargo metadata` (as rust-analyzer's `tidy` test reads
//! its Cargo files): the layout written down in docs/architecture.md, checked on every run.
//!
//! - `runtime` is what every generated server shares: no database crate, however indirectly.
//! - `xtask` stays small, so `cargo xtask regen` compiles the generator and little else: no
//!   tokio.
//! - The binary (`generated-server`) reaches the simulator only through its `demo` feature.
//! - `oauth` and `registry` are extensions of the runtime's HTTP server: each imports the
//!   runtime, neither imports the other or the product, `oauth` no database crate, and the
//!   runtime imports neither.
//!
//! Each rule is a function from the metadata to the problems it finds, so the tests below can
//! show that a rule fails on a doctored copy of the metadata, not only that it passes today.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};

/// Crates that talk to a database: none of them may end up in `runtime`.
const DATABASE_CRATES: &[&str] = &[
    "rusqlite",
    "libsqlite3-sys",
    "postgres",
    "tokio-postgres",
    "postgres-protocol",
    "deadpool-postgres",
    "sqlx",
    "diesel",
    "mysql",
    "redis",
];

const SIMULATOR: &str = "bridge-sim";
const BINARY: &str = "generated-server";

#[test]
fn runtime_depends_on_no_database_crate() {
    let problems = runtime_database_problems(metadata());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn xtask_does_not_depend_on_tokio() {
    let problems = xtask_tokio_problems(metadata());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_binary_reaches_the_simulator_only_through_its_demo_feature() {
    let problems = simulator_problems(metadata());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_extensions_stand_apart_from_each_other_and_from_the_product() {
    let problems = extension_problems(metadata());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn an_extension_reaching_another_or_the_product_is_found() {
    let mut doctored = metadata().clone();
    add_normal_dep(&mut doctored, "oauth", "registry");
    add_normal_dep(&mut doctored, "runtime", "oauth");
    let problems = extension_problems(&doctored);
    assert!(
        problems.iter().any(|problem| problem == "oauth reaches registry"),
        "{problems:#?}"
    );
    assert!(
        problems.iter().any(|problem| problem == "oauth reaches rusqlite"),
        "through the registry: {problems:#?}"
    );
    assert!(
        problems.iter().any(|problem| problem == "runtime reaches oauth"),
        "{problems:#?}"
    );
}

#[test]
fn a_database_crate_under_runtime_is_found_however_deep() {
    let mut doctored = metadata().clone();
    // One level down: runtime -> tokio-util -> rusqlite.
    add_normal_dep(&mut doctored, "tokio-util", "rusqlite");
    let problems = runtime_database_problems(&doctored);
    // rusqlite itself, and the bundled SQLite under it.
    assert!(
        problems.iter().any(|problem| problem.ends_with(" rusqlite")),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|problem| problem.ends_with(" libsqlite3-sys")),
        "{problems:#?}"
    );
}

#[test]
fn tokio_under_xtask_is_found() {
    let mut doctored = metadata().clone();
    add_normal_dep(&mut doctored, "xtask", "tokio");
    let problems = xtask_tokio_problems(&doctored);
    assert_eq!(problems.len(), 1, "{problems:#?}");
}

#[test]
fn the_simulator_as_a_plain_or_indirect_dependency_of_the_binary_is_found() {
    let mut plain = metadata().clone();
    for dependency in package_mut(&mut plain, BINARY)["dependencies"]
        .as_array_mut()
        .expect("dependencies")
    {
        if dependency["name"] == SIMULATOR && dependency["kind"].is_null() {
            dependency["optional"] = json!(false);
        }
    }
    let problems = simulator_problems(&plain);
    assert!(
        problems.iter().any(|problem| problem.contains("optional")),
        "{problems:#?}"
    );

    let mut indirect = metadata().clone();
    add_normal_dep(&mut indirect, "runtime", SIMULATOR);
    let problems = simulator_problems(&indirect);
    assert!(
        problems.iter().any(|problem| problem.contains("through runtime")),
        "{problems:#?}"
    );

    let mut other_feature = metadata().clone();
    package_mut(&mut other_feature, BINARY)["features"]["extra"] = json!(["dep:bridge-sim"]);
    let problems = simulator_problems(&other_feature);
    assert!(
        problems.iter().any(|problem| problem.contains("`extra`")),
        "{problems:#?}"
    );
}

/// Problems: each database crate `runtime` reaches through normal dependencies.
fn runtime_database_problems(metadata: &Value) -> Vec<String> {
    let graph = Graph::of(metadata);
    graph
        .reachable("runtime")
        .into_iter()
        .filter(|name| DATABASE_CRATES.contains(&name.as_str()))
        .map(|name| format!("runtime depends on the database crate {name}"))
        .collect()
}

/// Problems: an extension reaching the other, the product or (for `oauth`) a database, or the
/// runtime reaching an extension.
fn extension_problems(metadata: &Value) -> Vec<String> {
    let graph = Graph::of(metadata);
    let forbidden: [(&str, Vec<&str>); 3] = [
        (
            "oauth",
            [&["registry", BINARY, SIMULATOR][..], DATABASE_CRATES].concat(),
        ),
        ("registry", vec!["oauth", BINARY, SIMULATOR]),
        ("runtime", vec!["oauth", "registry"]),
    ];
    let mut problems = Vec::new();
    for (from, banned) in forbidden {
        let reached = graph.reachable(from);
        for name in banned {
            if reached.contains(name) {
                problems.push(format!("{from} reaches {name}"));
            }
        }
    }
    problems
}

/// Problems: tokio among xtask's normal dependencies, direct or not.
fn xtask_tokio_problems(metadata: &Value) -> Vec<String> {
    let graph = Graph::of(metadata);
    if graph.reachable("xtask").contains("tokio") {
        vec!["xtask depends on tokio: `cargo xtask regen` would compile an async runtime".to_owned()]
    } else {
        Vec::new()
    }
}

/// Problems: any way the binary reaches the simulator other than the optional dependency that
/// only its `demo` feature turns on.
fn simulator_problems(metadata: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let binary = package(metadata, BINARY);
    let direct: Vec<&Value> = binary["dependencies"]
        .as_array()
        .map(|dependencies| {
            dependencies
                .iter()
                .filter(|dependency| dependency["name"] == SIMULATOR && dependency["kind"].is_null())
                .collect()
        })
        .unwrap_or_default();
    if direct
        .iter()
        .any(|dependency| dependency["optional"] != json!(true))
    {
        problems.push(format!(
            "{BINARY} depends on {SIMULATOR} without making it optional"
        ));
    }
    let enables = |values: &Value| {
        values.as_array().is_some_and(|values| {
            values
                .iter()
                .any(|value| value.as_str().is_some_and(|value| value.contains(SIMULATOR)))
        })
    };
    if let Some(features) = binary["features"].as_object() {
        if !direct.is_empty() && !features.get("demo").is_some_and(enables) {
            problems.push(format!("{BINARY}'s `demo` feature does not turn on {SIMULATOR}"));
        }
        for (feature, values) in features {
            if feature != "demo" && enables(values) {
                problems.push(format!(
                    "{BINARY}'s feature `{feature}` turns on {SIMULATOR}; only `demo` may"
                ));
            }
        }
    }
    let graph = Graph::of(metadata);
    for dependency in graph.normal_deps(BINARY) {
        if dependency != SIMULATOR && graph.reachable(&dependency).contains(SIMULATOR) {
            problems.push(format!("{BINARY} reaches {SIMULATOR} through {dependency}"));
        }
    }
    problems
}

/// The normal-dependency graph of the resolve, by package name.
struct Graph {
    edges: HashMap<String, Vec<String>>,
}

impl Graph {
    fn of(metadata: &Value) -> Self {
        let names: HashMap<&str, &str> = metadata["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|package| Some((package["id"].as_str()?, package["name"].as_str()?)))
            .collect();
        let mut edges = HashMap::new();
        for node in metadata["resolve"]["nodes"].as_array().into_iter().flatten() {
            let Some(name) = node["id"].as_str().and_then(|id| names.get(id)) else {
                continue;
            };
            let normal = node["deps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .is_some_and(|kinds| kinds.iter().any(|kind| kind["kind"].is_null()))
                })
                .filter_map(|dep| dep["pkg"].as_str().and_then(|id| names.get(id)))
                .map(|name| (*name).to_owned())
                .collect();
            edges.insert((*name).to_owned(), normal);
        }
        Self { edges }
    }

    fn normal_deps(&self, name: &str) -> Vec<String> {
        self.edges.get(name).cloned().unwrap_or_default()
    }

    /// Every package `name` reaches through normal dependencies, itself excluded.
    fn reachable(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = self.normal_deps(name);
        while let Some(next) = stack.pop() {
            if seen.insert(next.clone()) {
                stack.extend(self.normal_deps(&next));
            }
        }
        seen
    }
}

/// The workspace's metadata for this machine's platform, read once.
fn metadata() -> &'static Value {
    static METADATA: OnceLock<Value> = OnceLock::new();
    METADATA.get_or_init(|| {
        let output = Command::new(env!("CARGO"))
            .args([
                "metadata",
                "--format-version",
                "1",
                "--locked",
                "--filter-platform",
            ])
            .arg(host_triple())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo metadata runs");
        assert!(
            output.status.success(),
            "cargo metadata: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
    })
}

/// The host's target triple, so metadata needs no other platform's packages.
fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let output = Command::new(rustc).arg("-vV").output().expect("rustc -vV runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned()
}

fn package<'a>(metadata: &'a Value, name: &str) -> &'a Value {
    metadata["packages"]
        .as_array()
        .and_then(|packages| packages.iter().find(|package| package["name"] == name))
        .unwrap_or_else(|| panic!("no package {name} in the metadata"))
}

fn package_mut<'a>(metadata: &'a mut Value, name: &str) -> &'a mut Value {
    metadata["packages"]
        .as_array_mut()
        .and_then(|packages| packages.iter_mut().find(|package| package["name"] == name))
        .unwrap_or_else(|| panic!("no package {name} in the metadata"))
}

/// Doctors the resolve: `from` gains a normal dependency on `to` (both present already).
fn add_normal_dep(metadata: &mut Value, from: &str, to: &str) {
    let id_of = |metadata: &Value, name: &str| {
        package(metadata, name)["id"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{name} has an id"))
    };
    let (from_id, to_id) = (id_of(metadata, from), id_of(metadata, to));
    let node = metadata["resolve"]["nodes"]
        .as_array_mut()
        .and_then(|nodes| nodes.iter_mut().find(|node| node["id"] == from_id.as_str()))
        .unwrap_or_else(|| panic!("{from} is in the resolve"));
    node["deps"]
        .as_array_mut()
        .expect("deps")
        .push(json!({ "name": to, "pkg": to_id, "dep_kinds": [{ "kind": null, "target": null }] }));
}
