//! The container image's `Dockerfile` builds what CI tests, and serves where it says it does.
//!
//! Docker cannot run here, so the file is read as text: these checks catch the drift a reviewer
//! misses (a build flag added to CI only, a port changed in one of three places).

use xtask::ci::RELEASE_BUILD;
use xtask::workspace_root;

#[test]
fn the_image_builds_with_exactly_the_command_ci_builds_with() {
    let dockerfile = Dockerfile::load();
    let builds: Vec<&str> = dockerfile
        .arguments("RUN")
        .into_iter()
        .filter(|command| command.contains("cargo"))
        .collect();
    assert_eq!(builds, [format!("cargo {}", RELEASE_BUILD.join(" "))]);
}

#[test]
fn the_build_toolchain_is_at_least_the_workspace_rust_version() {
    let dockerfile = Dockerfile::load();
    let rust = dockerfile
        .images()
        .into_iter()
        .find_map(|image| image.strip_prefix("rust:"))
        .expect("a build stage FROM rust:<version>-bookworm");
    let pinned = version(rust.split('-').next().unwrap_or_default());
    assert_eq!(pinned.len(), 3, "pin a full toolchain version, not {rust}");
    let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).expect("Cargo.toml");
    let msrv = manifest
        .lines()
        .find_map(|line| line.strip_prefix("rust-version = "))
        .map(|value| version(value.trim_matches('"')))
        .expect("the workspace rust-version");
    assert!(
        pinned >= msrv,
        "rust {pinned:?} is older than rust-version {msrv:?}"
    );
    // The runtime stage must have the glibc the binary was linked against.
    assert!(rust.ends_with("-bookworm"), "{rust}");
    assert!(dockerfile.images().contains(&"debian:bookworm-slim"));
}

#[test]
fn image_references_name_no_registry_host() {
    for image in Dockerfile::load().images() {
        let host = image.split_once('/').map(|(first, _)| first);
        assert!(
            !host.is_some_and(|first| first.contains('.') || first.contains(':') || first == "localhost"),
            "{image} names a registry host; leave the choice to the builder's configuration"
        );
    }
}

#[test]
fn the_image_serves_http_on_the_exposed_port_and_probes_health_there() {
    let dockerfile = Dockerfile::load();
    let env = dockerfile.env();
    assert_eq!(env.get("OP_SCIM_TRANSPORT").map(String::as_str), Some("http"));
    let listen = env.get("OP_SCIM_LISTEN").expect("ENV OP_SCIM_LISTEN");
    let (host, port) = listen.rsplit_once(':').expect("OP_SCIM_LISTEN is host:port");
    assert_eq!(host, "0.0.0.0", "a container must listen on all interfaces");
    assert_eq!(dockerfile.arguments("EXPOSE"), [port]);
    let health = dockerfile.arguments("HEALTHCHECK");
    assert_eq!(health.len(), 1);
    // Without --url, `probe` follows OP_SCIM_LISTEN (generated-server/tests/config_check.rs
    // proves it against a running server), so the check stays right if the port is overridden.
    assert!(
        health[0].ends_with(r#"CMD ["op-scim-mcp", "probe"]"#),
        "HEALTHCHECK must run `op-scim-mcp probe` without a fixed URL: {}",
        health[0]
    );
    assert_eq!(dockerfile.arguments("ENTRYPOINT"), [r#"["op-scim-mcp"]"#]);
}

#[test]
fn the_image_runs_as_a_numeric_non_root_user() {
    let dockerfile = Dockerfile::load();
    let user = dockerfile.arguments("USER");
    assert_eq!(user.len(), 1);
    // Numeric, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
    let ids: Vec<u32> = user[0]
        .split(':')
        .map(|id| id.parse().expect("a numeric user and group"))
        .collect();
    assert!(ids.iter().all(|id| *id != 0), "{user:?}");
}

/// The instructions of a Dockerfile, continuation lines joined and comments dropped.
struct Dockerfile {
    instructions: Vec<(String, String)>,
}

impl Dockerfile {
    fn load() -> Self {
        Self::parse(&std::fs::read_to_string(workspace_root().join("Dockerfile")).expect("Dockerfile"))
    }

    fn parse(text: &str) -> Self {
        let mut instructions = Vec::new();
        let mut current = String::new();
        for line in text.lines().map(str::trim) {
            if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
                continue;
            }
            match line.strip_suffix('\\') {
                Some(part) => {
                    current.push_str(part.trim());
                    current.push(' ');
                }
                None => {
                    current.push_str(line);
                    let (keyword, arguments) = current.split_once(' ').unwrap_or((&current, ""));
                    instructions.push((keyword.to_ascii_uppercase(), squeeze(arguments)));
                    current.clear();
                }
            }
        }
        Dockerfile { instructions }
    }

    /// The arguments of every `keyword` instruction, whitespace squeezed.
    fn arguments(&self, keyword: &str) -> Vec<&str> {
        self.instructions
            .iter()
            .filter(|(found, _)| found == keyword)
            .map(|(_, arguments)| arguments.as_str())
            .collect()
    }

    /// The image of every `FROM`, without its `AS name`.
    fn images(&self) -> Vec<&str> {
        self.arguments("FROM")
            .into_iter()
            .filter_map(|arguments| arguments.split_whitespace().next())
            .collect()
    }

    /// Every `ENV name=value` pair.
    fn env(&self) -> std::collections::BTreeMap<String, String> {
        self.arguments("ENV")
            .into_iter()
            .flat_map(str::split_whitespace)
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }
}

fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn version(text: &str) -> Vec<u32> {
    text.split('.')
        .map(|part| part.parse().expect("a version number"))
        .collect()
}

#[test]
fn the_parser_joins_continuations_and_skips_comments() {
    let parsed = Dockerfile::parse("FROM a AS b\n# RUN no\nRUN x \\\n    && y\nENV A=1 \\\n    B=2\n");
    assert_eq!(parsed.images(), ["a"]);
    assert_eq!(parsed.arguments("RUN"), ["x && y"]);
    assert_eq!(parsed.env().len(), 2);
}
