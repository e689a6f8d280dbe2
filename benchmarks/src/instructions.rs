//! Instructions per call, counted by callgrind on the serving process.
//!
//! Wall-clock figures on a shared 2-core machine move with whatever else runs; an instruction
//! count does not: the same binary and inputs give the same count. Each figure is the count of
//! a run of [`LONG`] sequential calls minus that of a run of [`SHORT`], divided by the
//! difference, so start-up, the handshake and shutdown cancel out and what is left is the cost
//! of one more call. The direct call is measured the same way on the simulated bridge itself:
//! its own `GET /Users/{id}` is the floor a proxy of it cannot go below.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::client::{HttpSession, McpClient, StdioConn, http_client};
use crate::harness::{SIM_ARGS, SIM_READY, TOKEN, first_user_id, spawn, spawn_sim};
use crate::issuer::BenchIssuer;

/// Calls in the short and the long run.
const SHORT: u64 = 100;
const LONG: u64 = 600;

const GET_TOOL: &str = "get_single_1_password_user_by_id";

/// One measured figure.
#[derive(Clone, Debug)]
pub struct InstructionRow {
    /// What ran under callgrind and how it was reached.
    pub process: String,
    pub workload: String,
    /// Instructions of one more call; `None` when it could not be measured (see `note`).
    pub per_call: Option<f64>,
    pub note: String,
}

/// Every figure: the simulated bridge's own GET, then op-scim-mcp's `tools/call` get and `ping`
/// over stdio and over HTTP. `binary` is the release op-scim-mcp (which also serves the
/// simulator). Without valgrind, one row says so.
pub async fn measure(binary: &Path, work: &Path) -> Vec<InstructionRow> {
    if Command::new("valgrind").arg("--version").output().is_err() {
        return vec![InstructionRow {
            process: "all".into(),
            workload: "-".into(),
            per_call: None,
            note: "valgrind is not installed (Debian: apt-get install valgrind)".into(),
        }];
    }
    let mut rows = Vec::new();
    let bridge = match spawn_sim(binary) {
        Ok(bridge) => Proc(bridge.0, bridge.1),
        Err(error) => {
            rows.push(failed("op-scim-mcp sim", "start", &error));
            return rows;
        }
    };
    let user = match first_user_id(&bridge.1).await {
        Ok(user) => user,
        Err(error) => {
            rows.push(failed("op-scim-mcp sim", "first user", &error));
            return rows;
        }
    };
    let issuer = match BenchIssuer::start().await {
        Ok(issuer) => issuer,
        Err(error) => {
            rows.push(failed("authorization server", "start", &error));
            return rows;
        }
    };
    let get = json!({"name": GET_TOOL, "arguments": {"id": user}});
    // The direct GET, then a tool call and a ping over each of op-scim-mcp's transports, and
    // over HTTP with an OAuth access token checked on every request.
    let mut cases = vec![(Transport::Direct, "GET /Users/{id}", None)];
    for transport in [Transport::Stdio, Transport::Http, Transport::HttpOAuth] {
        cases.push((
            transport,
            "tools/call get_single_1_password_user_by_id",
            Some(("tools/call", &get)),
        ));
        cases.push((transport, "ping", Some(("ping", &Value::Null))));
    }
    for (transport, workload, request) in cases {
        let process = transport.process();
        eprintln!("bench: callgrind, {process}, {workload}");
        let target = Target {
            binary,
            bridge: &bridge.1,
            user: &user,
            issuer: &issuer,
            work,
            transport,
            request,
        };
        let row = match per_call(&target).await {
            Ok(per_call) => InstructionRow {
                process: process.into(),
                workload: workload.into(),
                per_call: Some(per_call),
                note: String::new(),
            },
            Err(error) => failed(process, workload, &error),
        };
        rows.push(row);
    }
    rows
}

/// `cargo benchmarks instructions`: builds the release binary as CI does and prints the table.
pub fn run(root: &Path) -> Result<()> {
    let binary = crate::harness::build_release(root)?;
    let work = xtask::target_dir(root).join("bench-tmp");
    std::fs::create_dir_all(&work)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let rows = runtime.block_on(measure(&binary, &work));
    println!("{}", crate::report::instructions_table(&rows));
    if rows.iter().any(|row| row.per_call.is_none()) {
        bail!("some figures could not be measured (see the notes)");
    }
    Ok(())
}

fn failed(process: &str, workload: &str, error: &anyhow::Error) -> InstructionRow {
    InstructionRow {
        process: process.into(),
        workload: workload.into(),
        per_call: None,
        note: format!("could not be measured: {error:#}"),
    }
}

#[derive(Clone, Copy)]
enum Transport {
    /// The simulator itself under callgrind, read with plain GETs.
    Direct,
    Stdio,
    Http,
    /// HTTP, every request carrying an RS256 access token the server checks.
    HttpOAuth,
}

impl Transport {
    /// The process that runs under callgrind, as the report names it.
    fn process(self) -> &'static str {
        match self {
            Self::Direct => "simulated bridge (the limit)",
            Self::Stdio => "op-scim-mcp (stdio)",
            Self::Http => "op-scim-mcp (HTTP)",
            Self::HttpOAuth => "op-scim-mcp (HTTP, OAuth token)",
        }
    }
}

struct Target<'a> {
    binary: &'a Path,
    /// The simulator the MCP server forwards to (not under callgrind).
    bridge: &'a str,
    user: &'a str,
    /// Whose tokens the OAuth case presents.
    issuer: &'a BenchIssuer,
    work: &'a Path,
    transport: Transport,
    /// The JSON-RPC method and params of each MCP call.
    request: Option<(&'a str, &'a Value)>,
}

/// `(count(LONG) - count(SHORT)) / (LONG - SHORT)`.
async fn per_call(target: &Target<'_>) -> Result<f64> {
    let short = instructions(target, SHORT).await?;
    let long = instructions(target, LONG).await?;
    if long <= short {
        bail!("{LONG} calls counted {long} instructions, no more than {SHORT} calls ({short})");
    }
    Ok((long - short) as f64 / (LONG - SHORT) as f64)
}

/// Total instructions of one process that served `calls` calls and then exited.
async fn instructions(target: &Target<'_>, calls: u64) -> Result<u64> {
    let out = target.work.join(format!("callgrind-{}.out", std::process::id()));
    let mut command = Command::new("valgrind");
    command
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(target.binary);
    match target.transport {
        Transport::Direct => {
            command.args(SIM_ARGS);
            let (child, base) = spawn(&mut command, SIM_READY)?;
            let process = Proc(child, base);
            let client = http_client()?;
            let url = format!("{}/Users/{}", process.1, target.user);
            for _ in 0..calls {
                let response = client.get(&url).bearer_auth(TOKEN).send().await?;
                if !response.status().is_success() {
                    bail!("GET {url}: {}", response.status());
                }
                response.bytes().await?;
            }
            process.terminate().await?;
        }
        Transport::Http | Transport::HttpOAuth => {
            let oauth = matches!(target.transport, Transport::HttpOAuth);
            command
                .args([
                    "--audit-log",
                    "/dev/null",
                    "--transport",
                    "http",
                    "--listen",
                    "127.0.0.1:0",
                ])
                .envs(server_env(target.bridge));
            if oauth {
                command.args(target.issuer.serve_args());
            }
            let (child, base) = spawn(&mut command, "at http")?;
            let process = Proc(child, base);
            let mut client = crate::client::http_client_builder();
            if oauth {
                // Served once the issuer's keys are loaded.
                until_ready(&process.1).await?;
                let token = target.issuer.token("scim:read")?;
                let mut headers = reqwest::header::HeaderMap::new();
                headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse()?);
                client = client.default_headers(headers);
            }
            let session = HttpSession::connect_with(client.build()?, &process.1).await?;
            call_repeatedly(&McpClient::Http(Arc::new(session)), target.request, calls).await?;
            process.terminate().await?;
        }
        Transport::Stdio => {
            let mut child = command
                .args(["--audit-log", "/dev/null"])
                .envs(server_env(target.bridge))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .context("spawning valgrind")?;
            let conn = StdioConn::new(
                child.stdin.take().context("stdin")?,
                child.stdout.take().context("stdout")?,
            );
            conn.initialize().await?;
            call_repeatedly(&McpClient::Stdio(conn), target.request, calls).await?;
            // The last handle on stdin closes with the client: the server ends at end of input.
            let status = tokio::task::spawn_blocking(move || child.wait()).await??;
            if !status.success() {
                bail!("the stdio server exited with {status}");
            }
        }
    }
    // The counts file is read off the async workers.
    let text = tokio::task::spawn_blocking(move || {
        let text = std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()));
        let _ = std::fs::remove_file(&out);
        text
    })
    .await??;
    total(&text).context("no totals line in the callgrind output")
}

/// Waits until `/readyz` of the server at `mcp_url` answers 200 (under callgrind, start-up is
/// slow).
async fn until_ready(mcp_url: &str) -> Result<()> {
    let ready = format!("{}/readyz", mcp_url.trim_end_matches("/mcp"));
    for _ in 0..300 {
        if reqwest::get(&ready)
            .await
            .is_ok_and(|response| response.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    bail!("{ready} never answered 200")
}

fn server_env(bridge: &str) -> [(&'static str, String); 3] {
    [
        ("OP_SCIM_BRIDGE_URL", bridge.to_owned()),
        ("OP_SCIM_BEARER_TOKEN", TOKEN.to_owned()),
        ("OP_SCIM_LOG", "error".to_owned()),
    ]
}

async fn call_repeatedly(client: &McpClient, request: Option<(&str, &Value)>, calls: u64) -> Result<()> {
    let (method, params) = request.context("an MCP request")?;
    for _ in 0..calls {
        let answer = client.request(method, params.clone()).await?;
        let failed =
            answer.get("error").is_some() || answer.pointer("/result/isError") == Some(&Value::Bool(true));
        if failed {
            bail!("{method} failed: {answer}");
        }
    }
    Ok(())
}

/// The `totals:` (or `summary:`) line of a callgrind output file.
fn total(text: &str) -> Option<u64> {
    text.lines()
        .filter_map(|line| {
            line.strip_prefix("totals:")
                .or_else(|| line.strip_prefix("summary:"))
        })
        .find_map(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// A child under callgrind and its URL; killed if still running when dropped.
struct Proc(Child, String);

impl Proc {
    /// SIGTERM, then wait (off the async workers): callgrind writes its counts when the
    /// process exits.
    async fn terminate(mut self) -> Result<()> {
        tokio::task::spawn_blocking(move || -> Result<()> {
            let pid = self.0.id().to_string();
            Command::new("kill").args(["-TERM", &pid]).status()?;
            self.0.wait()?;
            Ok(())
        })
        .await?
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::total;

    #[test]
    fn reads_the_totals_line() {
        let text = "events: Ir\nsummary: 1234\n";
        assert_eq!(total(text), Some(1234));
        assert_eq!(total("events: Ir\ntotals: 99 1\n"), Some(99));
        assert_eq!(total("events: Ir\n"), None);
    }
}
