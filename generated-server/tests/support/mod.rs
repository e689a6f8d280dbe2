//! What the binary's test files share: running the binary with a clean environment, reading
//! what it printed, an HTTP client.
// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::process::{Command, Output};
use std::time::Duration;

pub const BINARY: &str = env!("CARGO_BIN_EXE_op-scim-mcp");

/// The binary with a clean environment: only what the test sets reaches it.
pub fn op_scim_mcp(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BINARY)
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("op-scim-mcp runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Everything the binary printed, stdout then stderr.
pub fn text(output: &Output) -> String {
    format!("{}{}", stdout(output), String::from_utf8_lossy(&output.stderr))
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}
