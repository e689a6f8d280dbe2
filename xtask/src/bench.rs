//! `cargo xtask bench-latency`: the added latency of one `get` through op-scim-mcp over HTTP,
//! against a direct GET to the same simulated bridge, measured side by side in one run.
//!
//! Requests alternate between the two paths so both see the same machine state; the figures
//! are wall-clock latencies of sequential requests on loopback, after a warm-up.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

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

pub fn run(root: &Path, iterations: usize) -> Result<()> {
    let running = Running::start(root)?;
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(measure(&running.bridge, &running.mcp, iterations));
    drop(running);
    let (direct, through) = outcome?;
    let report = |name: &str, samples: &[Duration]| {
        println!(
            "| {name} | {:.3} | {:.3} |",
            percentile(samples, 0.50).as_secs_f64() * 1e3,
            percentile(samples, 0.99).as_secs_f64() * 1e3
        );
    };
    println!("\n{iterations} sequential calls each, interleaved, 10,000-user simulated bridge on loopback\n");
    println!("| path | median ms | p99 ms |\n|---|---|---|");
    report("direct GET /Users/{id} (the limit)", &direct);
    report(
        "op-scim-mcp tools/call get_single_1_password_user_by_id",
        &through,
    );
    let added_median = percentile(&through, 0.5).as_secs_f64() - percentile(&direct, 0.5).as_secs_f64();
    let added_p99 = percentile(&through, 0.99).as_secs_f64() - percentile(&direct, 0.99).as_secs_f64();
    println!(
        "\nadded latency: median {:.3} ms, p99 {:.3} ms; ratio ours/limit at the median {:.2}x",
        added_median * 1e3,
        added_p99 * 1e3,
        percentile(&through, 0.5).as_secs_f64() / percentile(&direct, 0.5).as_secs_f64()
    );
    Ok(())
}

/// Builds op-scim-mcp exactly as CI does; the path of the release binary.
pub(crate) fn build_release(root: &Path) -> Result<std::path::PathBuf> {
    let status = Command::new(env!("CARGO"))
        .args(crate::ci::RELEASE_BUILD)
        .current_dir(root)
        .status()?;
    if !status.success() {
        bail!("building op-scim-mcp failed");
    }
    Ok(crate::target_dir(root).join("release/op-scim-mcp"))
}

/// The simulated bridge with 10,000 users, from the release binary: the child and its base URL.
pub(crate) fn spawn_sim(binary: &Path) -> Result<(Child, String)> {
    spawn(
        Command::new(binary).args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--users",
            "10000",
            "--token",
            TOKEN,
        ]),
        "base URL",
    )
}

/// The ids of the simulated bridge's first `count` users, which the benchmarks fetch one by one.
pub(crate) async fn first_user_ids(bridge: &str, count: usize) -> Result<Vec<String>> {
    let page: Value = crate::bench_client::http_client()?
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

async fn measure(bridge: &str, mcp: &str, iterations: usize) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let id = first_user_id(bridge).await?;
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}});
    mcp_post(&client, mcp, &init).await?;
    let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_single_1_password_user_by_id","arguments":{"id": id}}});
    let direct_url = format!("{bridge}/Users/{id}");
    let (mut direct, mut through) = (Vec::with_capacity(iterations), Vec::with_capacity(iterations));
    for round in 0..(iterations + iterations / 10) {
        let started = Instant::now();
        let response = client.get(&direct_url).bearer_auth(TOKEN).send().await?;
        let _ = response.bytes().await?;
        let direct_time = started.elapsed();
        let started = Instant::now();
        let answer = mcp_post(&client, mcp, &call).await?;
        let through_time = started.elapsed();
        if answer["result"]["isError"] != false {
            bail!("the tool call failed: {answer}");
        }
        if round >= iterations / 10 {
            direct.push(direct_time);
            through.push(through_time);
        }
    }
    Ok((direct, through))
}

async fn mcp_post(client: &reqwest::Client, url: &str, body: &Value) -> Result<Value> {
    let response = client
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(body)
        .send()
        .await?;
    Ok(response.json().await?)
}

pub(crate) fn percentile(samples: &[Duration], quantile: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let index = ((sorted.len() as f64 - 1.0) * quantile).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}
