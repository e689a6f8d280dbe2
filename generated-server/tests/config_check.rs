//! `op-scim-mcp config check` run as a user would: flags, environment and a config file, their
//! precedence, every problem reported at once, and no secret in the output.

use std::path::PathBuf;
use std::process::Command;

mod support;

use support::{BINARY, op_scim_mcp, stdout};

const BRIDGE_TOKEN: &str = "bridge-token-that-must-not-show";
const CURSOR_KEY: &str = "cursor-key-that-must-not-show-0123456789";
const DB_PASSWORD: &str = "db-password-that-must-not-show";

fn replicated_env() -> Vec<(&'static str, String)> {
    vec![
        ("OP_SCIM_TRANSPORT", "http".into()),
        ("OP_SCIM_LISTEN", "0.0.0.0:8787".into()),
        ("OP_SCIM_BRIDGE_URL", "https://scim.example.com".into()),
        ("OP_SCIM_BEARER_TOKEN", BRIDGE_TOKEN.into()),
        ("OP_SCIM_CURSOR_KEY", CURSOR_KEY.into()),
        (
            "OP_SCIM_DATABASE_URL",
            format!("postgres://op:{DB_PASSWORD}@db.internal:5432/op_scim"),
        ),
        ("OP_SCIM_ALLOWED_HOSTS", "mcp.example.com".into()),
        ("OP_SCIM_PUBLIC_URL", "https://mcp.example.com".into()),
    ]
}

fn as_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(name, value)| (*name, value.as_str())).collect()
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("op-scim-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn a_replicated_configuration_is_valid_and_printed_without_secrets() {
    let env = replicated_env();
    let output = op_scim_mcp(&["config", "check"], &as_refs(&env));
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.starts_with("configuration: valid"), "{text}");
    assert!(text.contains("0.0.0.0:8787  (OP_SCIM_LISTEN)"), "{text}");
    assert!(
        text.contains("PostgreSQL postgres://op:***@db.internal:5432/op_scim"),
        "{text}"
    );
    assert!(text.contains("*** shared (from OP_SCIM_CURSOR_KEY)"), "{text}");
    assert!(text.contains("*** (from OP_SCIM_BEARER_TOKEN)"), "{text}");
    for secret in [BRIDGE_TOKEN, CURSOR_KEY, DB_PASSWORD] {
        assert!(!text.contains(secret), "secret shown: {text}");
    }
    // No sslmode: TLS only if offered, and the server unauthenticated; said plainly.
    assert!(text.contains("certificate NOT checked"), "{text}");
    assert!(text.contains("warning: the PostgreSQL connection is"), "{text}");
}

#[test]
fn a_verified_database_connection_is_shown_and_not_warned_about() {
    let mut env = replicated_env();
    for (name, value) in &mut env {
        if *name == "OP_SCIM_DATABASE_URL" {
            value.push_str("?sslmode=verify-full");
        }
    }
    let output = op_scim_mcp(&["config", "check"], &as_refs(&env));
    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("registry link   TLS, certificate and host name checked"),
        "{text}"
    );
    assert!(!text.contains("warning: the PostgreSQL connection"), "{text}");
}

#[test]
fn every_problem_is_reported_at_once_with_exit_code_2() {
    let output = op_scim_mcp(
        &[
            "--bridge-url",
            "not a url",
            "--state",
            "registry.db",
            "--database-url",
            "postgres://db/op",
            "config",
            "check",
        ],
        &[("OP_SCIM_CURSOR_KEY", "short")],
    );
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.starts_with("configuration: invalid"), "{text}");
    for expected in [
        "OP_SCIM_BEARER_TOKEN (or --bearer-token-file) is required",
        "OP_SCIM_CURSOR_KEY: the cursor secret is 5 bytes long",
        "--state (SQLite) and --database-url (PostgreSQL) exclude each other",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
}

#[test]
fn a_config_file_fills_in_and_environment_and_flags_win() {
    let path = temp_file(
        "serve.yaml",
        "transport: http\nlisten: 127.0.0.1:9100\ndemo: true\ntool-names: portable\nmethods: [read]\n",
    );
    let path_text = path.display().to_string();
    let output = op_scim_mcp(
        &[
            "--config",
            &path_text,
            "--listen",
            "127.0.0.1:9200",
            "config",
            "check",
        ],
        &[("OP_SCIM_TOOL_NAMES", "default")],
    );
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains(&format!("transport       http  ({path_text})")),
        "{text}"
    );
    assert!(text.contains("127.0.0.1:9200  (--listen)"), "{text}");
    assert!(
        text.contains("tool names      default  (OP_SCIM_TOOL_NAMES)"),
        "{text}"
    );
    assert!(
        text.contains("built-in simulated SCIM bridge and Events API"),
        "{text}"
    );
    assert!(
        text.contains("scope           methods read, tags any (11 of 21 tools)"),
        "{text}"
    );
}

#[test]
fn an_unknown_setting_in_the_config_file_is_named() {
    let path = temp_file("typo.yaml", "bridge_url: https://scim.example.com\n");
    let output = op_scim_mcp(
        &["config", "check"],
        &[("OP_SCIM_CONFIG", &path.display().to_string())],
    );
    let error = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{error}");
    assert!(error.contains("unknown setting `bridge_url`"), "{error}");
}

#[test]
fn the_probe_fails_on_a_closed_port() {
    let output = op_scim_mcp(
        &["probe", "--url", "http://127.0.0.1:9/healthz", "--timeout", "2s"],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("probe: "));
}

#[test]
fn the_probe_follows_the_listen_address_to_a_running_server() {
    // A free port, released for the server to take.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = Command::new(BINARY)
        .env_clear()
        .args([
            "--demo",
            "--demo-users",
            "5",
            "--transport",
            "http",
            "--listen",
            &listen,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("server starts");
    let all_interfaces = format!("0.0.0.0:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let healthy = loop {
        let output = op_scim_mcp(&["probe"], &[("OP_SCIM_LISTEN", &all_interfaces)]);
        if output.status.success() || std::time::Instant::now() > deadline {
            break output.status.success();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let _ = server.kill();
    let _ = server.wait();
    assert!(healthy, "probe never saw /healthz answer 200 on port {port}");
}
