//! What every benchmark shares: the release binary built as CI builds it, the simulated bridge
//! and the server started from it, and the figures taken from their samples and processes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

pub(crate) const TOKEN: &str = "bench-bridge-token-0123456789";

/// The release binary serving MCP over HTTP against a 10,000-user simulated bridge; both
/// processes are killed when this is dropped.
pub(crate) struct Running {
    sim: Child,
    pub(crate) bridge: String,
    server: Child,
    pub(crate) mcp: String,
}

impl Running {
    /// Builds op-scim-mcp (release) and starts the simulator and the server.
    pub(crate) fn start(root: &Path) -> Result<Self> {
        let binary = build_release(root)?;
        let (mut sim, bridge) = spawn_sim(&binary)?;
        let server = spawn(
            Command::new(&binary)
                .args(["--transport", "http", "--listen", "127.0.0.1:0"])
                .env("OP_SCIM_BRIDGE_URL", &bridge)
                .env("OP_SCIM_BEARER_TOKEN", TOKEN)
                .env("OP_SCIM_LOG", "warn"),
            "at http",
        );
        match server {
            Ok((server, mcp)) => Ok(Self {
                sim,
                bridge,
                server,
                mcp,
            }),
            Err(error) => {
                let _ = sim.kill();
                let _ = sim.wait();
                Err(error)
            }
        }
    }

    pub(crate) fn server_pid(&self) -> u32 {
        self.server.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for child in [&mut self.server, &mut self.sim] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Builds op-scim-mcp exactly as CI does; the path of the release binary.
pub(crate) fn build_release(root: &Path) -> Result<std::path::PathBuf> {
    let status = Command::new(env!("CARGO"))
        .args(xtask::ci::RELEASE_BUILD)
        .current_dir(root)
        .status()?;
    if !status.success() {
        bail!("building op-scim-mcp failed");
    }
    Ok(xtask::target_dir(root).join("release/op-scim-mcp"))
}

/// The simulated bridge with 10,000 users, from the release binary: the child and its base URL.
pub(crate) fn spawn_sim(binary: &Path) -> Result<(Child, String)> {
    spawn(Command::new(binary).args(SIM_ARGS), SIM_READY)
}

/// The arguments of the simulated bridge every benchmark reads, and the line it prints when
/// it listens.
pub(crate) const SIM_ARGS: [&str; 7] = [
    "sim",
    "--listen",
    "127.0.0.1:0",
    "--users",
    "10000",
    "--token",
    TOKEN,
];
pub(crate) const SIM_READY: &str = "base URL";

/// The ids of the simulated bridge's first `count` users, which the benchmarks fetch one by one.
pub(crate) async fn first_user_ids(bridge: &str, count: usize) -> Result<Vec<String>> {
    let page: Value = crate::client::http_client()?
        .get(format!("{bridge}/Users?count={count}"))
        .bearer_auth(TOKEN)
        .send()
        .await?
        .json()
        .await?;
    Ok(page["Resources"]
        .as_array()
        .context("users")?
        .iter()
        .filter_map(|user| user["id"].as_str().map(str::to_owned))
        .collect())
}

/// The id of the simulated bridge's first user.
pub(crate) async fn first_user_id(bridge: &str) -> Result<String> {
    first_user_ids(bridge, 1)
        .await?
        .into_iter()
        .next()
        .context("a user id")
}

pub(crate) fn spawn(command: &mut Command, marker: &str) -> Result<(Child, String)> {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("spawning")?;
    let stderr = child.stderr.take().context("stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        let line = line?;
        if line.contains(marker)
            && let Some(url) = line.split_whitespace().find(|word| word.starts_with("http://"))
        {
            let url = url.to_owned();
            // Keep draining stderr so the child never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return Ok((child, url));
        }
    }
    bail!("the process exited before printing `{marker}`")
}

pub(crate) fn percentile(samples: &[Duration], quantile: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let index = ((sorted.len() as f64 - 1.0) * quantile).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

/// VmRSS and VmHWM of a process, in KiB.
pub(crate) fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

pub(crate) fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Resets VmHWM to the current RSS (Linux `clear_refs` value 5); false where not permitted.
pub(crate) fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}
