//! The Kubernetes manifests of `deploy/kubernetes/`, checked against the binary they deploy.
//!
//! A manifest that names a variable the binary does not read, a probe on a port nothing listens on,
//! or a grace period shorter than the server's own drain all pass `kubectl apply` and fail in
//! production. So these tests read every manifest, resolve the Deployment's environment the way the
//! kubelet would (ConfigMap values, the example Secret's placeholders), and ask the binary itself:
//! its `--help` for the variable names, `config check` for the whole configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde::Deserialize as _;
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_op-scim-mcp");

// ---------------------------------------------------------------------------------------------
// The Deployment's pod

#[test]
fn the_deployment_runs_at_least_two_replicas_and_never_drops_below_them_on_rollout() {
    let manifests = Manifests::load();
    let spec = &manifests.deployment()["spec"];
    let replicas = spec["replicas"].as_u64().expect("spec.replicas is a number");
    assert!(
        replicas >= 2,
        "replicas: {replicas}; one replica is one point of failure"
    );
    assert_eq!(spec["strategy"]["type"], "RollingUpdate");
    assert_eq!(
        spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0,
        "a rollout must start a new pod before stopping an old one"
    );
}

#[test]
fn liveness_and_readiness_probe_healthz_and_readyz_on_a_declared_container_port() {
    let manifests = Manifests::load();
    let container = manifests.container();
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}.httpGet.path");
        let port = resolve_port(container, &get["port"]);
        assert!(
            port.is_some(),
            "{probe} port {} is not a containerPort",
            get["port"]
        );
    }
}

#[test]
fn the_container_port_is_the_listen_port_and_the_service_target_port() {
    let manifests = Manifests::load();
    let container = manifests.container();
    let env = manifests.resolved_env();
    let listen: SocketAddr = env
        .get("OP_SCIM_LISTEN")
        .expect("the Deployment sets OP_SCIM_LISTEN")
        .parse()
        .expect("OP_SCIM_LISTEN is an address:port");
    let declared = container_ports(container);
    assert!(
        declared.iter().any(|(_, port)| *port == listen.port()),
        "no containerPort is the listen port {}: {declared:?}",
        listen.port()
    );
    let service = manifests.one("Service");
    let ports = service["spec"]["ports"].as_array().expect("Service spec.ports");
    assert!(!ports.is_empty(), "the Service has no ports");
    for port in ports {
        let target = resolve_port(container, &port["targetPort"]);
        assert_eq!(
            target,
            Some(listen.port()),
            "Service targetPort {} does not reach the listen port",
            port["targetPort"]
        );
    }
}

#[test]
fn the_service_and_the_disruption_budget_select_the_pods() {
    let manifests = Manifests::load();
    let deployment = manifests.deployment();
    let pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .expect("pod template labels");
    let selects_pods = |selector: &Value| {
        let selector = selector.as_object().expect("a selector map");
        !selector.is_empty()
            && selector
                .iter()
                .all(|(key, value)| pod_labels.get(key) == Some(value))
    };
    let pdb = manifests.one("PodDisruptionBudget");
    assert!(
        selects_pods(&pdb["spec"]["selector"]["matchLabels"]),
        "the PodDisruptionBudget selector {} does not match the pod labels {pod_labels:?}",
        pdb["spec"]["selector"]
    );
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert!(selects_pods(&manifests.one("Service")["spec"]["selector"]));
    assert!(selects_pods(&deployment["spec"]["selector"]["matchLabels"]));
}

#[test]
fn termination_grace_outlasts_the_prestop_pause_plus_the_shutdown_grace() {
    let manifests = Manifests::load();
    let env = manifests.resolved_env();
    let text = env
        .get("OP_SCIM_SHUTDOWN_GRACE")
        .expect("the Deployment sets OP_SCIM_SHUTDOWN_GRACE");
    let shutdown = humantime::parse_duration(text).expect("OP_SCIM_SHUTDOWN_GRACE is a duration");
    let pod = &manifests.deployment()["spec"]["template"]["spec"];
    let termination = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("terminationGracePeriodSeconds is set");
    let pause = pre_stop_pause(manifests.container());
    assert!(
        Duration::from_secs(termination) > shutdown + pause,
        "terminationGracePeriodSeconds {termination} must exceed the preStop pause {pause:?} plus \
         OP_SCIM_SHUTDOWN_GRACE {shutdown:?}, or SIGKILL cuts in-flight calls"
    );
}

#[test]
fn the_pod_runs_as_a_non_root_user_on_a_read_only_root_without_capabilities() {
    let manifests = Manifests::load();
    let pod = &manifests.deployment()["spec"]["template"]["spec"]["securityContext"];
    let container = &manifests.container()["securityContext"];
    // Either level may carry these; the container's wins in Kubernetes.
    let either = |key: &str| {
        if container[key].is_null() {
            pod[key].clone()
        } else {
            container[key].clone()
        }
    };
    assert_eq!(either("runAsNonRoot"), true);
    assert_eq!(either("seccompProfile")["type"], "RuntimeDefault");
    assert_eq!(container["readOnlyRootFilesystem"], true);
    assert_eq!(container["allowPrivilegeEscalation"], false);
    let dropped = container["capabilities"]["drop"]
        .as_array()
        .expect("capabilities.drop");
    assert!(dropped.contains(&Value::from("ALL")), "drop: {dropped:?}");
    assert!(
        container["capabilities"]["add"].is_null(),
        "no capability is added back"
    );
    // The user the manifest names is the image's own, so file ownership (/data) agrees.
    let user = either("runAsUser").as_u64().expect("runAsUser is set");
    assert_ne!(user, 0);
    let dockerfile = std::fs::read_to_string(workspace_root().join("Dockerfile")).expect("Dockerfile");
    let image_user = dockerfile
        .lines()
        .find_map(|line| line.trim().strip_prefix("USER "))
        .expect("the Dockerfile sets USER");
    assert_eq!(image_user.split(':').next(), Some(user.to_string().as_str()));
}

#[test]
fn resources_request_no_more_than_their_limits() {
    let manifests = Manifests::load();
    let resources = &manifests.container()["resources"];
    for (name, parse) in [("cpu", parse_cpu as fn(&str) -> f64), ("memory", parse_memory)] {
        let quantity = |kind: &str| {
            let value = &resources[kind][name];
            let text = value
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| value.to_string());
            assert!(!value.is_null(), "resources.{kind}.{name} is not set");
            parse(&text)
        };
        let (request, limit) = (quantity("requests"), quantity("limits"));
        assert!(
            request > 0.0 && request <= limit,
            "{name}: request {request} > limit {limit}"
        );
    }
}

#[test]
fn the_image_reference_names_no_registry_host() {
    let manifests = Manifests::load();
    let image = manifests.container()["image"].as_str().expect("container image");
    assert!(!names_a_registry_host(image), "{image}");
}

// ---------------------------------------------------------------------------------------------
// The environment, against the ConfigMap, the Secret and the binary

#[test]
fn every_variable_the_deployment_sets_is_one_the_binary_reads() {
    let manifests = Manifests::load();
    let help = run(Command::new(BINARY).arg("--help").env_clear());
    assert!(help.status.success(), "--help failed: {}", text(&help.stderr));
    let help = text(&help.stdout);
    let unknown: Vec<String> = manifests
        .resolved_env()
        .into_keys()
        .filter(|name| !mentions_variable(&help, name))
        .collect();
    assert!(
        unknown.is_empty(),
        "variables the Deployment sets that `op-scim-mcp --help` does not list: {unknown:?}"
    );
}

#[test]
fn secret_key_refs_name_the_example_secret_and_its_keys() {
    let manifests = Manifests::load();
    let secret = manifests.one("Secret");
    let name = &secret["metadata"]["name"];
    let keys = secret_values(secret);
    let mut problems = Vec::new();
    // Variable name -> Secret key.
    let mut used = BTreeMap::new();
    for entry in manifests.env_entries() {
        let reference = &entry["valueFrom"]["secretKeyRef"];
        if reference.is_null() {
            continue;
        }
        if &reference["name"] != name {
            problems.push(format!(
                "{}: Secret {} is not {name}",
                entry["name"], reference["name"]
            ));
        }
        match reference["key"].as_str() {
            Some(key) if keys.contains_key(key) => {
                used.insert(
                    entry["name"].as_str().unwrap_or_default().to_owned(),
                    key.to_owned(),
                );
            }
            _ => problems.push(format!(
                "{}: no key {} in the Secret",
                entry["name"], reference["key"]
            )),
        }
    }
    for source in manifests.env_from("secretRef") {
        if &source["name"] != name {
            problems.push(format!("envFrom: Secret {} is not {name}", source["name"]));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    // The three secrets of the deployment come from the Secret, never from a literal value or
    // the ConfigMap (which anyone with read access to the namespace's config can see).
    let variables: BTreeSet<&str> = used.keys().map(String::as_str).collect();
    assert_eq!(
        variables,
        BTreeSet::from([
            "OP_SCIM_BEARER_TOKEN",
            "OP_SCIM_CURSOR_KEY",
            "OP_SCIM_DATABASE_URL"
        ])
    );
    let read: BTreeSet<&String> = used.values().collect();
    assert_eq!(
        read,
        keys.keys().collect(),
        "every key of the example Secret is read by the Deployment"
    );
}

#[test]
fn config_map_refs_name_the_config_map_and_its_keys() {
    let manifests = Manifests::load();
    let config_map = manifests.one("ConfigMap");
    let name = &config_map["metadata"]["name"];
    let data = config_map["data"].as_object().expect("ConfigMap data");
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    for entry in manifests.env_entries() {
        let reference = &entry["valueFrom"]["configMapKeyRef"];
        if reference.is_null() {
            continue;
        }
        if &reference["name"] != name {
            problems.push(format!(
                "{}: ConfigMap {} is not {name}",
                entry["name"], reference["name"]
            ));
        }
        match reference["key"].as_str() {
            Some(key) if data.contains_key(key) => {
                used.insert(key.to_owned());
            }
            _ => problems.push(format!(
                "{}: no key {} in the ConfigMap",
                entry["name"], reference["key"]
            )),
        }
    }
    for source in manifests.env_from("configMapRef") {
        if &source["name"] != name {
            problems.push(format!("envFrom: ConfigMap {} is not {name}", source["name"]));
        }
        used.extend(data.keys().cloned());
    }
    // A key nothing reads is a setting an operator edits in vain.
    for key in data.keys().filter(|key| !used.contains(*key)) {
        problems.push(format!("ConfigMap key {key} is not used by the Deployment"));
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn config_check_accepts_the_deployment_environment_and_masks_its_secrets() {
    let manifests = Manifests::load();
    let env = manifests.resolved_env();
    let output = run(Command::new(BINARY)
        .args(["config", "check"])
        .env_clear()
        .envs(&env));
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(
        output.status.code(),
        Some(0),
        "`op-scim-mcp config check` rejected the Deployment's environment:\n{stdout}\n{stderr}"
    );
    let listen = &env["OP_SCIM_LISTEN"];
    assert!(
        stdout.contains(listen.as_str()) || stderr.contains(listen.as_str()),
        "config check does not show the listen address {listen}:\n{stdout}\n{stderr}"
    );
    for (key, secret) in secret_values(manifests.one("Secret")) {
        for shown in secret_fragments(&secret) {
            assert!(
                !stdout.contains(&shown) && !stderr.contains(&shown),
                "config check printed (part of) the secret `{key}`:\n{stdout}\n{stderr}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The kustomization

#[test]
fn the_kustomization_applies_every_manifest_but_the_example_secret() {
    let dir = manifests_dir();
    let kustomization = yaml_documents(&dir.join("kustomization.yaml"));
    let listed: BTreeSet<String> = kustomization[0]["resources"]
        .as_array()
        .expect("kustomization resources")
        .iter()
        .map(|resource| resource.as_str().expect("a file name").to_owned())
        .collect();
    let expected: BTreeSet<String> = yaml_files(&dir)
        .into_iter()
        .filter_map(|path| path.file_name().map(|name| name.to_string_lossy().into_owned()))
        .filter(|name| name != "kustomization.yaml" && name != "secret.example.yaml")
        .collect();
    // The example Secret holds placeholders: applying it would run the pods with a published
    // cursor key and a bridge token that cannot work.
    assert_eq!(listed, expected);
}

// ---------------------------------------------------------------------------------------------
// Reading the manifests

/// Every document of every `*.yaml` file in `deploy/kubernetes/` (the kustomization aside).
struct Manifests {
    documents: Vec<Value>,
}

impl Manifests {
    fn load() -> Self {
        let documents = yaml_files(&manifests_dir())
            .iter()
            .flat_map(|path| yaml_documents(path))
            .filter(|document| document["kind"] != "Kustomization")
            .collect();
        Manifests { documents }
    }

    /// The one object of `kind`; two would make "the" Service ambiguous.
    fn one(&self, kind: &str) -> &Value {
        let found: Vec<&Value> = self.documents.iter().filter(|doc| doc["kind"] == kind).collect();
        assert_eq!(found.len(), 1, "expected exactly one {kind}");
        found[0]
    }

    fn deployment(&self) -> &Value {
        self.one("Deployment")
    }

    fn container(&self) -> &Value {
        let containers = self.deployment()["spec"]["template"]["spec"]["containers"]
            .as_array()
            .expect("containers");
        assert_eq!(containers.len(), 1, "one container per pod");
        &containers[0]
    }

    fn env_entries(&self) -> Vec<&Value> {
        self.container()["env"]
            .as_array()
            .map(|entries| entries.iter().collect())
            .unwrap_or_default()
    }

    /// The `envFrom` sources of one kind (`configMapRef`, `secretRef`).
    fn env_from(&self, kind: &str) -> Vec<&Value> {
        self.container()["envFrom"]
            .as_array()
            .map(|sources| {
                sources
                    .iter()
                    .map(|source| &source[kind])
                    .filter(|s| !s.is_null())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The container's environment as the kubelet would set it, with the example Secret's values.
    fn resolved_env(&self) -> BTreeMap<String, String> {
        let config_map = self.one("ConfigMap")["data"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let config_map: BTreeMap<String, String> = config_map
            .into_iter()
            .map(|(key, value)| {
                (
                    key,
                    value.as_str().expect("ConfigMap values are strings").to_owned(),
                )
            })
            .collect();
        let secret = secret_values(self.one("Secret"));
        let mut env = BTreeMap::new();
        // Whole-object sources first: explicit `env` entries override them, as in Kubernetes.
        if !self.env_from("configMapRef").is_empty() {
            env.extend(config_map.clone());
        }
        if !self.env_from("secretRef").is_empty() {
            env.extend(secret.clone());
        }
        for entry in self.env_entries() {
            let name = entry["name"].as_str().expect("env name").to_owned();
            let from = &entry["valueFrom"];
            let value = if let Some(value) = entry["value"].as_str() {
                value.to_owned()
            } else if let Some(key) = from["configMapKeyRef"]["key"].as_str() {
                config_map
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| panic!("{name}: no ConfigMap key {key}"))
            } else if let Some(key) = from["secretKeyRef"]["key"].as_str() {
                secret
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| panic!("{name}: no Secret key {key}"))
            } else {
                panic!("{name}: neither a value nor a ConfigMap/Secret reference: {entry}");
            };
            env.insert(name, value);
        }
        env
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn manifests_dir() -> PathBuf {
    workspace_root().join("deploy/kubernetes")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("deploy/kubernetes exists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml" || ext == "yml"))
        .collect();
    files.sort();
    files
}

/// The non-empty documents of a multi-document YAML file.
fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("a readable manifest");
    yaml_serde::Deserializer::from_str(&text)
        .map(|document| {
            Value::deserialize(document).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        })
        .filter(|document| !document.is_null())
        .collect()
}

/// The example Secret's values; it must use `stringData` so they are readable placeholders.
fn secret_values(secret: &Value) -> BTreeMap<String, String> {
    assert!(
        secret["data"].is_null(),
        "the example Secret uses stringData, not base64 data"
    );
    secret["stringData"]
        .as_object()
        .expect("Secret stringData")
        .iter()
        .map(|(key, value)| (key.clone(), value.as_str().expect("string values").to_owned()))
        .collect()
}

/// What of a secret must never be printed: the whole value and, for a URL with credentials,
/// its password (a masked URL may keep the user and host).
fn secret_fragments(secret: &str) -> Vec<String> {
    let mut fragments = vec![secret.to_owned()];
    if let Some((_, rest)) = secret.split_once("://")
        && let Some((userinfo, _)) = rest.split_once('@')
        && let Some((_, password)) = userinfo.split_once(':')
    {
        fragments.push(password.to_owned());
    }
    fragments
}

/// `(name, number)` of each declared container port.
fn container_ports(container: &Value) -> Vec<(String, u16)> {
    container["ports"]
        .as_array()
        .expect("containerPorts")
        .iter()
        .map(|port| {
            let number = port["containerPort"].as_u64().expect("containerPort number");
            let name = port["name"].as_str().unwrap_or_default().to_owned();
            (name, u16::try_from(number).expect("a port number"))
        })
        .collect()
}

/// The container port a probe or Service port refers to, by name or by number.
fn resolve_port(container: &Value, port: &Value) -> Option<u16> {
    container_ports(container).into_iter().find_map(|(name, number)| {
        let matches = match port {
            Value::String(wanted) => *wanted == name,
            Value::Number(wanted) => wanted.as_u64() == Some(u64::from(number)),
            _ => false,
        };
        matches.then_some(number)
    })
}

/// How long the preStop hook delays SIGTERM: `exec: sleep N` or the native `sleep` action.
fn pre_stop_pause(container: &Value) -> Duration {
    let pre_stop = &container["lifecycle"]["preStop"];
    if let Some(seconds) = pre_stop["sleep"]["seconds"].as_u64() {
        return Duration::from_secs(seconds);
    }
    match pre_stop["exec"]["command"].as_array().map(Vec::as_slice) {
        Some([sleep, seconds]) if sleep == "sleep" => Duration::from_secs(
            seconds
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("sleep seconds"),
        ),
        Some(other) => panic!("a preStop command whose duration is unknown: {other:?}"),
        None => Duration::ZERO,
    }
}

/// Whether `help` names `variable` as a whole word: OP_SCIM_BEARER_TOKEN must not pass because
/// OP_SCIM_BEARER_TOKEN_FILE is listed.
fn mentions_variable(help: &str, variable: &str) -> bool {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    help.match_indices(variable).any(|(at, _)| {
        let before = help[..at].chars().next_back();
        let after = help[at + variable.len()..].chars().next();
        !before.is_some_and(is_name_char) && !after.is_some_and(is_name_char)
    })
}

/// Whether an image reference starts with a registry host (`host.tld/...`, `host:port/...`,
/// `localhost/...`) rather than resolving against the runtime's configured registry.
fn names_a_registry_host(image: &str) -> bool {
    image
        .split_once('/')
        .is_some_and(|(first, _)| first.contains('.') || first.contains(':') || first == "localhost")
}

/// Kubernetes CPU quantities in cores: `250m`, `1`, `1.5`.
fn parse_cpu(text: &str) -> f64 {
    match text.strip_suffix('m') {
        Some(millis) => millis.parse::<f64>().expect("millicores") / 1000.0,
        None => text.parse().expect("cores"),
    }
}

/// Kubernetes memory quantities in bytes: binary (`Ki`, `Mi`, `Gi`) and decimal (`k`, `M`, `G`).
fn parse_memory(text: &str) -> f64 {
    let units = [
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
    ];
    let decimal = [("k", 1e3), ("M", 1e6), ("G", 1e9)];
    for (suffix, factor) in units.into_iter().chain(decimal) {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<f64>().expect("a memory quantity") * factor;
        }
    }
    text.parse().expect("bytes")
}

fn run(command: &mut Command) -> Output {
    command.output().expect("the op-scim-mcp binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_helpers_tell_names_ports_and_quantities_apart() {
    assert!(mentions_variable("[env: OP_SCIM_LISTEN=]", "OP_SCIM_LISTEN"));
    assert!(!mentions_variable(
        "[env: OP_SCIM_BEARER_TOKEN_FILE=]",
        "OP_SCIM_BEARER_TOKEN"
    ));
    assert!(!mentions_variable("[env: XOP_SCIM_LISTEN]", "OP_SCIM_LISTEN"));
    assert!(names_a_registry_host("registry.example.com/op-scim-mcp:1"));
    assert!(names_a_registry_host("localhost:5000/op-scim-mcp"));
    assert!(!names_a_registry_host("op-scim-mcp:0.1.0"));
    assert!(!names_a_registry_host("library/debian:bookworm-slim"));
    assert_eq!(parse_cpu("250m"), 0.25);
    assert_eq!(parse_memory("32Mi"), 32.0 * 1024.0 * 1024.0);
    assert_eq!(
        secret_fragments("postgres://u:pw@host/db"),
        ["postgres://u:pw@host/db", "pw"]
    );
}
