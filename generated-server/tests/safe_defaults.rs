//! The binary as a careless or hostile user meets it: a server reachable from other machines
//! without authentication, options in the wrong place, registry files and the audit log, and
//! the errors that must say what to do. Every test runs the real binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use testkit::Served;

mod support;

use support::{BINARY, client, op_scim_mcp, text};

/// A fresh directory of its own under the system's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("op-scim-safe-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

async fn call(base: &str, id: u64, name: &str, arguments: Value) -> Value {
    client()
        .post(format!("{base}/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": { "name": name, "arguments": arguments } }))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json")
}

#[test]
fn an_http_server_reachable_from_other_machines_without_authentication_refuses_to_start() {
    for args in [
        &["--demo", "--transport", "http", "--listen", "0.0.0.0:0"][..],
        &[
            "--demo",
            "--transport",
            "http",
            "--listen",
            "0.0.0.0:0",
            "config",
            "check",
        ],
        &[
            "config",
            "check",
            "--demo",
            "--transport",
            "http",
            "--listen",
            "0.0.0.0:0",
        ],
    ] {
        let output = op_scim_mcp(args, &[]);
        let said = text(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {said}");
        for fix in [
            "--state",
            "--database-url",
            "--listen 127.0.0.1:",
            "--allow-unauthenticated",
        ] {
            assert!(said.contains(fix), "{args:?} does not name {fix}: {said}");
        }
    }
    // Loopback stays as easy as before.
    let output = op_scim_mcp(
        &[
            "--demo",
            "--transport",
            "http",
            "--listen",
            "127.0.0.1:0",
            "config",
            "check",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("callers         this machine only"),
        "{}",
        text(&output)
    );
}

#[tokio::test]
async fn the_explicit_opt_out_serves_with_a_loud_warning_everywhere() {
    let output = op_scim_mcp(
        &[
            "--demo",
            "--transport",
            "http",
            "--listen",
            "0.0.0.0:0",
            "--allow-unauthenticated",
            "config",
            "check",
        ],
        &[],
    );
    let said = text(&output);
    assert!(output.status.success(), "{said}");
    assert!(said.contains("ANYONE who can reach the address"), "{said}");
    assert!(
        said.contains(
            "warning: --allow-unauthenticated: anyone who can reach 0.0.0.0:0 may call 21 of 21 tools"
        ),
        "{said}"
    );

    let mut command = Command::new(BINARY);
    command.env_clear().args([
        "--demo",
        "--demo-users",
        "5",
        "--transport",
        "http",
        "--listen",
        "0.0.0.0:0",
        "--allow-unauthenticated",
        "--methods",
        "read",
    ]);
    let served = Served::start(command);
    // The announced address is 0.0.0.0:port; reach it over loopback.
    let base = served.base.replace("0.0.0.0", "127.0.0.1");
    let ready: Value = client()
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    let warnings = ready["warnings"].to_string();
    assert!(
        warnings.contains("unauthenticated") && warnings.contains("11 tools"),
        "{ready}"
    );
}

#[test]
fn scope_options_mean_the_same_before_or_after_tools_and_are_never_ignored() {
    let count = |args: &[&str]| -> usize {
        let output = op_scim_mcp(args, &[]);
        assert!(output.status.success(), "{args:?}: {}", text(&output));
        let listed: Value = serde_json::from_slice(&output.stdout).expect("json");
        listed["tools"].as_array().map_or(0, Vec::len)
    };
    let before = count(&["--methods", "read", "--tags", "directory", "tools"]);
    let after = count(&["tools", "--methods", "read", "--tags", "directory"]);
    assert_eq!((before, after), (4, 4));
    // Without a scope, every tool of both integrations.
    assert_eq!(count(&["tools"]), 21);
    // config check counts what tools lists.
    let output = op_scim_mcp(
        &[
            "--methods",
            "read",
            "--tags",
            "directory",
            "--demo",
            "config",
            "check",
        ],
        &[],
    );
    assert!(text(&output).contains("(4 of 21 tools)"), "{}", text(&output));
    let output = op_scim_mcp(&["--demo", "config", "check"], &[]);
    assert!(
        text(&output).contains("(21 of 21 tools: every tool, delete included)"),
        "{}",
        text(&output)
    );

    for (args, env, expected) in [
        (
            &["--demo", "tools"][..],
            &[][..],
            "--demo does not apply to `tools`",
        ),
        (
            &["--methods", "read", "tools", "--tags", "admin"],
            &[],
            "write them on one side",
        ),
        (
            &["tools", "--methods", "reed"],
            &[],
            "`reed` is not one of the methods: use read, write, custom",
        ),
        (&["tools", "--methods", ""], &[], "the methods list is empty"),
        (&["tools", "--methods", ","], &[], "the methods list is empty"),
        (
            &["tools"],
            &[("OP_SCIM_METHODS", "")],
            "the methods list is empty",
        ),
        (
            &["tools", "--tags", "directory,nope"],
            &[],
            "`nope` is not one of the tags: use admin, directory",
        ),
        (
            &["--methods", "read", "sim"],
            &[],
            "--methods does not apply to `sim`",
        ),
    ] {
        let output = op_scim_mcp(args, env);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
        assert!(text(&output).contains(expected), "{args:?}: {}", text(&output));
    }
}

#[test]
fn the_demo_prints_a_client_configuration_with_its_own_scope() {
    let output = op_scim_mcp(
        &[
            "--demo",
            "--demo-users",
            "3",
            "--methods",
            "read",
            "--tags",
            "directory",
            "--tool-names",
            "portable",
        ],
        &[],
    );
    let said = text(&output);
    let start = said.find('{').expect("a JSON configuration");
    let end = said.rfind('}').expect("its end");
    let printed: Value = serde_json::from_str(&said[start..=end]).expect("JSON");
    assert_eq!(
        printed["mcpServers"]["op-scim"]["args"],
        json!([
            "--demo",
            "--methods",
            "read",
            "--tags",
            "directory",
            "--tool-names",
            "portable"
        ]),
        "{said}"
    );
}

#[test]
fn registry_commands_name_their_registry_and_keep_it_private() {
    let dir = temp_dir("registry");
    let state = dir.join("registry.db");
    let audit = dir.join("audit.jsonl");
    let (state_text, audit_text) = (state.display().to_string(), audit.display().to_string());
    let env = [("USER", "alice")];

    let output = op_scim_mcp(&["servers", "list"], &env);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("--state FILE") && text(&output).contains("--database-url"),
        "{}",
        text(&output)
    );
    let output = op_scim_mcp(&["servers", "list", "--state", &state_text], &env);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a missing file is no empty registry"
    );
    assert!(!state.exists(), "listing created the file");

    let output = op_scim_mcp(
        &[
            "servers",
            "create",
            "--name",
            "Reader",
            "--state",
            &state_text,
            "--audit-log",
            &audit_text,
        ],
        &env,
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("creating the registry"),
        "{}",
        text(&output)
    );
    let created: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(
        created["config"]["methods"],
        json!(["read"]),
        "read-only by default"
    );
    assert!(
        created["url"].is_null(),
        "no public URL was given, so no URL is made up: {created}"
    );
    assert!(
        created["path"]
            .as_str()
            .is_some_and(|path| path.starts_with("/mcp/"))
    );
    assert!(text(&output).contains("--public-url"), "{}", text(&output));
    assert_eq!(mode(&state), 0o600);
    assert_eq!(mode(&audit), 0o600);

    let output = op_scim_mcp(
        &[
            "--public-url",
            "https://mcp.example.com",
            "--state",
            &state_text,
            "servers",
            "create",
            "--name",
            "Writer",
            "--methods",
            "read,write",
        ],
        &env,
    );
    assert!(output.status.success(), "{}", text(&output));
    let writer: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert!(
        writer["url"]
            .as_str()
            .is_some_and(|url| url.starts_with("https://mcp.example.com/mcp/")),
        "{writer}"
    );

    let output = op_scim_mcp(
        &[
            "servers",
            "revoke",
            "Reader",
            "--state",
            &state_text,
            "--audit-log",
            &audit_text,
        ],
        &env,
    );
    assert!(output.status.success(), "{}", text(&output));
    let lines: Vec<Value> = std::fs::read_to_string(&audit)
        .expect("audit log")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let events: Vec<(&str, &str)> = lines
        .iter()
        .map(|line| {
            (
                line["event"].as_str().unwrap_or(""),
                line["actor"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        events,
        [("server.create", "cli:alice"), ("server.revoke", "cli:alice")]
    );

    for (args, expected) in [
        (
            &["servers", "create", "--name", "x", "--methods", "read,nope"][..],
            "--methods: `nope` is not one of the methods",
        ),
        (
            &[
                "servers",
                "create",
                "--name",
                "x",
                "--expires-at",
                "2099-12-31T23:59:59",
            ],
            "with an offset",
        ),
        (&["servers", "create", "--name", "a\u{202e}b"], "U+202E"),
    ] {
        let mut args = args.to_vec();
        args.extend(["--state", &state_text]);
        let output = op_scim_mcp(&args, &env);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(text(&output).contains(expected), "{args:?}: {}", text(&output));
    }

    // An existing file others may read is named, by config check and by the commands.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&audit, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let output = op_scim_mcp(&["--demo", "--audit-log", &audit_text, "config", "check"], &env);
    assert!(
        text(&output).contains("readable by others than its owner (mode 644)"),
        "{}",
        text(&output)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_check_reports_every_problem_and_warning_at_once() {
    let output = op_scim_mcp(
        &[
            "config",
            "check",
            "--transport",
            "carrier-pigeon",
            "--listen",
            "nowhere",
            "--shutdown-grace",
            "soon",
            "--state",
            "/no/such/dir/registry.db",
            "--methods",
            "reed",
            "--bridge-url",
            "http://scim:hunter2@scim.example.com",
        ],
        &[("OP_SCIM_BEARER_TOKEN", "t")],
    );
    let said = text(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    for expected in [
        "--transport `carrier-pigeon` is not one of stdio, http",
        "--listen `nowhere` is not an address",
        "--shutdown-grace `soon` is not a duration",
        "the directory /no/such/dir does not exist",
        "`reed` is not one of the methods",
        "warning: --bridge-url http://scim:***@scim.example.com is plain http",
        "warning: --bridge-url on the command line carries a password",
    ] {
        assert!(said.contains(expected), "missing `{expected}` in:\n{said}");
    }
    assert!(!said.contains("hunter2"), "{said}");

    let output = op_scim_mcp(
        &[
            "config",
            "check",
            "--bridge-url",
            "https://scim:hunter2@scim.example.com",
        ],
        &[("OP_SCIM_BEARER_TOKEN", "t")],
    );
    let said = text(&output);
    assert!(
        said.contains("bridge          https://scim:***@scim.example.com"),
        "{said}"
    );
    assert!(!said.contains("hunter2"), "{said}");
}

#[test]
fn the_probe_names_bad_input() {
    let output = op_scim_mcp(&["probe", "--url", "notaurl"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("--url `notaurl` is not a URL"),
        "{}",
        text(&output)
    );
    let output = op_scim_mcp(&["probe"], &[("OP_SCIM_LISTEN", "nowhere")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("OP_SCIM_LISTEN"), "{}", text(&output));
    let output = op_scim_mcp(
        &["probe", "--url", "http://127.0.0.1:9/healthz", "--timeout", "2s"],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).contains("cannot connect"), "{}", text(&output));
}

#[test]
fn a_live_check_calls_the_bridge_with_the_token() {
    let mut sim = Command::new(BINARY);
    sim.env_clear().args([
        "sim",
        "--listen",
        "127.0.0.1:0",
        "--users",
        "3",
        "--token",
        "right-token",
    ]);
    let sim = Served::start_when(sim, "bridge-sim: base URL");
    let bridge = sim.base.clone();
    let output = op_scim_mcp(
        &["config", "check", "--live", "--bridge-url", &bridge],
        &[("OP_SCIM_BEARER_TOKEN", "right-token")],
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("live check: SCIM bridge: ok"),
        "{}",
        text(&output)
    );
    let output = op_scim_mcp(
        &["config", "check", "--live", "--bridge-url", &bridge],
        &[("OP_SCIM_BEARER_TOKEN", "wrong-token")],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("bearer token was refused (HTTP 401)"),
        "{}",
        text(&output)
    );
    let output = op_scim_mcp(
        &["config", "check", "--live", "--bridge-url", "http://127.0.0.1:9"],
        &[("OP_SCIM_BEARER_TOKEN", "t")],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("connection refused"), "{}", text(&output));
}

#[tokio::test]
async fn the_audit_log_reopens_on_sighup_and_one_line_is_logged_per_call() {
    let dir = temp_dir("hangup");
    let audit = dir.join("audit.jsonl");
    let mut command = Command::new(BINARY);
    command.env_clear().args([
        "--demo",
        "--demo-users",
        "5",
        "--transport",
        "http",
        "--listen",
        "127.0.0.1:0",
        "--audit-log",
        &audit.display().to_string(),
    ]);
    let mut served = Served::start(command);
    let listed = call(
        &served.base,
        1,
        "list_all_1_password_users",
        json!({ "limit": 2 }),
    )
    .await;
    let ids: Vec<String> = listed["result"]["structuredContent"]["result"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|user| user["id"].as_str().map(str::to_owned))
        .collect();
    let suspended = call(
        &served.base,
        2,
        "1_password_users_suspend",
        json!({ "id": ids[0] }),
    )
    .await;
    assert_eq!(suspended["result"]["isError"], false, "{suspended}");
    let rotated = dir.join("audit.jsonl.1");
    std::fs::rename(&audit, &rotated).expect("rotate");
    // bash's own `kill`, so the test needs no procps.
    let hangup = Command::new("bash")
        .args(["-c", &format!("kill -HUP {}", served.id())])
        .status()
        .expect("bash runs");
    assert!(hangup.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(served.is_running(), "SIGHUP ended the process:\n{}", served.log());
    let suspended = call(
        &served.base,
        3,
        "1_password_users_suspend",
        json!({ "id": ids[1] }),
    )
    .await;
    assert_eq!(suspended["result"]["isError"], false, "{suspended}");
    let old = std::fs::read_to_string(&rotated).expect("rotated log");
    let new = std::fs::read_to_string(&audit).expect("reopened log");
    assert_eq!(old.lines().count(), 2, "{old}");
    assert_eq!(new.lines().count(), 2, "{new}");
    assert!(old.contains(&ids[0]) && new.contains(&ids[1]));
    assert_eq!(mode(&audit), 0o600);

    // Three calls, three log lines: no rmcp session noise at the default level. The last line
    // may still be on its way through the pipe.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while served.log().matches("tool call").count() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = served.log();
    let after_start: Vec<&str> = log
        .lines()
        .skip_while(|line| !line.starts_with(testkit::LISTENING))
        .skip(2)
        .filter(|line| !line.contains("SIGHUP"))
        .collect();
    assert_eq!(after_start.len(), 3, "{log}");
    assert!(after_start.iter().all(|line| line.contains("tool call")), "{log}");
    served.kill();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn held_open_connections_do_not_starve_a_server_out_of_file_descriptors() {
    // 256 open files for the server, 300 connections that never send a byte.
    let mut command = Command::new("bash");
    command.env_clear().env("PATH", "/usr/bin:/bin").args([
        "-c",
        &format!(
            "ulimit -n 256 && exec {BINARY} --demo --demo-users 5 --transport http --listen 127.0.0.1:0"
        ),
    ]);
    let served = Served::start(command);
    let address = served.base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..300 {
        match tokio::net::TcpStream::connect(&address).await {
            Ok(stream) => held.push(stream),
            Err(error) => panic!("connect: {error}"),
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for attempt in 0..3 {
        let health = client()
            .get(format!("{}/healthz", served.base))
            .timeout(Duration::from_secs(3))
            .send()
            .await;
        match health {
            Ok(response) => {
                assert_eq!(response.status(), 200);
                break;
            }
            Err(error) if attempt == 2 => panic!("/healthz did not answer: {error}\n{}", served.log()),
            Err(_) => {}
        }
    }
    let listed = call(
        &served.base,
        1,
        "list_all_1_password_users",
        json!({ "limit": 1 }),
    )
    .await;
    assert_eq!(listed["result"]["isError"], false, "{listed}");
    assert!(
        served.log().contains("out of file descriptors"),
        "the pressure was not logged:\n{}",
        served.log()
    );
    drop(held);
}
