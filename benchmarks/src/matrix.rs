//! `cargo benchmarks matrix`: op-scim-mcp (HTTP and stdio) side by side with FastMCP.from_openapi,
//! rmcp-openapi-server and the direct HTTP call, on one spec and one simulated bridge, in one run.
//!
//! Every contender is driven by the one client in [`crate::client`]. Every loop is bounded
//! in count and in time, all traffic stays on loopback, and every process started here is killed
//! (by its own handle) when the run ends, on success or error.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::client::{HttpSession, McpClient, StdioConn, http_client, payload, truncate};
use crate::harness::{TOKEN, first_user_id, free_port, percentile, reset_peak, rss_kib, spawn};
use crate::report;
use crate::results::{FASTMCP_VERSION, LEVELS, Measured, RMCP_OPENAPI_VERSION, RunInfo};
use crate::setup::{capture, machine_info, prepare_fastmcp, prepare_rmcp, rel, revision};

/// Cold starts per contender for the start-up figure (the last one is kept for the other tests).
const STARTS: usize = 5;
const START_DEADLINE: Duration = Duration::from_secs(60);
const TRAVERSAL_DEADLINE: Duration = Duration::from_secs(120);
const PAGE_SIZE: usize = 100;

#[derive(Clone, Debug)]
pub struct Options {
    pub users: usize,
    /// Length of each throughput window.
    pub duration: Duration,
    /// Sequential calls for the latency figure (after a tenth as many warm-up calls).
    pub latency_iterations: usize,
    /// Upper bound on the latency phase of one contender.
    pub latency_deadline: Duration,
    /// Write docs/benchmarks.md and docs/benchmarks.svg (else only print).
    pub write_docs: bool,
    /// Install missing peers (else a missing peer is recorded as not installed).
    pub install: bool,
}

/// A child process killed and reaped when dropped.
struct Proc {
    child: Child,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a contender is started: a command for a given port (HTTP) or for stdio.
struct Contender {
    measured: Measured,
    http: bool,
    command: Box<dyn Fn(u16) -> Command>,
    get_tool: &'static str,
    list_tool: &'static str,
    log: PathBuf,
}

pub fn run(root: &Path, options: &Options) -> Result<()> {
    let started_at = Instant::now();
    let target = xtask::target_dir(root);
    let work = target.join("bench-tmp");
    fs::create_dir_all(&work)?;
    let load_before = fs::read_to_string("/proc/loadavg").unwrap_or_default();

    eprintln!("bench: building op-scim-mcp (release)");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--locked", "--bin", "op-scim-mcp"])
        .current_dir(root)
        .status()?;
    if !status.success() {
        bail!("building op-scim-mcp failed");
    }
    let ours = target.join("release/op-scim-mcp");
    let ours_version = capture(Command::new(&ours).arg("--version")).unwrap_or_default();
    let spec = root.join(xtask::SPEC_PATH);
    let spec_json = work.join("spec.json");
    let spec_value: Value = yaml_serde::from_str(&fs::read_to_string(&spec)?)
        .with_context(|| format!("reading {}", spec.display()))?;
    fs::write(&spec_json, serde_json::to_vec(&spec_value)?)?;

    let fastmcp = prepare_fastmcp(root, &target, options.install);
    let rmcp = prepare_rmcp(&target, options.install);

    eprintln!(
        "bench: starting the simulated bridge with {} users",
        options.users
    );
    let (sim_child, bridge) = spawn(
        Command::new(&ours).args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--users",
            &options.users.to_string(),
            "--token",
            TOKEN,
        ]),
        "base URL",
    )?;
    let sim = Proc { child: sim_child };

    let mut contenders: Vec<Contender> = Vec::new();
    let ours_name = ours_version.trim().replace("op-scim-mcp ", "");
    {
        let (binary, bridge) = (ours.clone(), bridge.clone());
        let mut measured = Measured::new(
            "op-scim-mcp (HTTP)",
            &ours_name,
            "Streamable HTTP, stateless JSON",
        );
        measured.command = format!(
            "OP_SCIM_BRIDGE_URL=$BRIDGE OP_SCIM_BEARER_TOKEN=$TOKEN {} --transport http --listen 127.0.0.1:$PORT",
            rel(root, &ours)
        );
        contenders.push(Contender {
            measured,
            http: true,
            command: Box::new(move |port| {
                let mut command = Command::new(&binary);
                command
                    .args(["--transport", "http", "--listen", &format!("127.0.0.1:{port}")])
                    .env("OP_SCIM_BRIDGE_URL", &bridge)
                    .env("OP_SCIM_BEARER_TOKEN", TOKEN)
                    .env("OP_SCIM_LOG", "warn");
                command
            }),
            get_tool: "get_single_1_password_user_by_id",
            list_tool: "list_all_1_password_users",
            log: work.join("ours-http.log"),
        });
    }
    {
        let (binary, bridge) = (ours.clone(), bridge.clone());
        let mut measured = Measured::new("op-scim-mcp (stdio)", &ours_name, "stdio (JSON lines)");
        measured.command = format!(
            "OP_SCIM_BRIDGE_URL=$BRIDGE OP_SCIM_BEARER_TOKEN=$TOKEN {}",
            rel(root, &ours)
        );
        contenders.push(Contender {
            measured,
            http: false,
            command: Box::new(move |_| {
                let mut command = Command::new(&binary);
                command
                    .env("OP_SCIM_BRIDGE_URL", &bridge)
                    .env("OP_SCIM_BEARER_TOKEN", TOKEN)
                    .env("OP_SCIM_LOG", "warn");
                command
            }),
            get_tool: "get_single_1_password_user_by_id",
            list_tool: "list_all_1_password_users",
            log: work.join("ours-stdio.log"),
        });
    }
    let mut unavailable: Vec<Measured> = Vec::new();
    let fastmcp_transport = "Streamable HTTP, FastMCP defaults (stateful, SSE answers)";
    match fastmcp {
        Ok(python) => {
            let (script, spec, bridge) = (
                root.join("benchmarks/fastmcp_server.py"),
                spec.clone(),
                bridge.clone(),
            );
            let mut measured = Measured::new("FastMCP.from_openapi", FASTMCP_VERSION, fastmcp_transport);
            measured.command = format!(
                "OP_SCIM_BEARER_TOKEN=$TOKEN {} benchmarks/fastmcp_server.py {} $BRIDGE $PORT",
                rel(root, &python),
                xtask::SPEC_PATH
            );
            contenders.push(Contender {
                measured,
                http: true,
                command: Box::new(move |port| {
                    let mut command = Command::new(&python);
                    command
                        .arg(&script)
                        .arg(&spec)
                        .arg(&bridge)
                        .arg(port.to_string())
                        .env("OP_SCIM_BEARER_TOKEN", TOKEN);
                    command
                }),
                get_tool: "getUser",
                list_tool: "listUsers",
                log: work.join("fastmcp.log"),
            });
        }
        Err(error) => {
            let mut measured = Measured::new("FastMCP.from_openapi", FASTMCP_VERSION, fastmcp_transport);
            measured.notes.push(format!("not installed: {error:#}"));
            unavailable.push(measured);
        }
    }
    let rmcp_transport = "Streamable HTTP, stateless (its default)";
    match rmcp {
        Ok(binary) => {
            let (spec_json, bridge) = (spec_json.clone(), bridge.clone());
            let mut measured = Measured::new("rmcp-openapi-server", RMCP_OPENAPI_VERSION, rmcp_transport);
            measured.command = format!(
                "RMCP_OPENAPI_LOG=warn {} target/bench-tmp/spec.json --base-url $BRIDGE --bind-address 127.0.0.1 --port $PORT \
                 --header 'Authorization: Bearer $TOKEN'",
                rel(root, &binary)
            );
            contenders.push(Contender {
                measured,
                http: true,
                command: Box::new(move |port| {
                    let mut command = Command::new(&binary);
                    command
                        .arg(&spec_json)
                        .args(["--base-url", &bridge, "--bind-address", "127.0.0.1"])
                        .args(["--port", &port.to_string()])
                        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
                        .env("RMCP_OPENAPI_LOG", "warn");
                    command
                }),
                get_tool: "getUser",
                list_tool: "listUsers",
                log: work.join("rmcp-openapi-server.log"),
            });
        }
        Err(error) => {
            let mut measured = Measured::new("rmcp-openapi-server", RMCP_OPENAPI_VERSION, rmcp_transport);
            measured.notes.push(format!("not installed: {error:#}"));
            unavailable.push(measured);
        }
    }

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let outcome = runtime.block_on(async {
        let direct = direct_limit(&bridge, options).await?;
        let mut results = vec![direct];
        for contender in contenders {
            let name = contender.measured.name.clone();
            eprintln!("bench: {name}");
            let mut fallback = contender.measured.clone();
            match measure(contender, &bridge, options).await {
                Ok(measured) => results.push(measured),
                Err(error) => {
                    eprintln!("bench: {name} failed: {error:#}");
                    fallback.notes.push(format!("could not be run: {error:#}"));
                    results.push(fallback);
                }
            }
        }
        results.extend(unavailable);
        // Last, on a machine no longer loaded by the throughput phases (counts do not depend on
        // it, but the run is quicker).
        let instructions = crate::instructions::measure(&ours, &work).await;
        Ok::<_, anyhow::Error>((results, instructions))
    });
    drop(runtime);
    drop(sim);
    let (results, instructions) = outcome?;

    let info = RunInfo {
        machine: machine_info(),
        commands: vec![
            ("op-scim-mcp".into(), ours_version.trim().to_owned()),
            ("workspace revision".into(), revision(root)),
            (
                "rustc".into(),
                capture(Command::new("rustc").arg("--version")).unwrap_or_default(),
            ),
            (
                "python (FastMCP venv)".into(),
                capture(Command::new(target.join("bench-venv/bin/python")).arg("--version"))
                    .unwrap_or_else(|_| "not available".into()),
            ),
        ],
        started: capture(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])).unwrap_or_default(),
        wall_seconds: started_at.elapsed().as_secs_f64(),
        load_before: load_before.trim().to_owned(),
        load_after: fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
            .to_owned(),
        options: format!(
            "--users {} --duration-secs {} --latency-iterations {}",
            options.users,
            options.duration.as_secs(),
            options.latency_iterations
        ),
    };
    let (markdown, svg, summary) = report::render(&results, &instructions, &info);
    println!("{summary}");
    if options.write_docs {
        let docs = root.join("docs");
        fs::create_dir_all(&docs)?;
        fs::write(docs.join("benchmarks.md"), markdown)?;
        fs::write(docs.join("benchmarks.svg"), svg)?;
        eprintln!("bench: wrote docs/benchmarks.md and docs/benchmarks.svg");
    }
    Ok(())
}

/// One unit of work against a contender or against the bridge itself.
#[derive(Clone)]
enum Worker {
    Direct {
        client: reqwest::Client,
        url: String,
    },
    Mcp {
        client: McpClient,
        tool: String,
        arguments: Value,
    },
}

impl Worker {
    async fn once(&self) -> Result<()> {
        match self {
            Self::Direct { client, url } => {
                let response = client.get(url).bearer_auth(TOKEN).send().await?;
                let status = response.status();
                let _ = response.bytes().await?;
                if !status.is_success() {
                    bail!("direct GET answered {status}");
                }
                Ok(())
            }
            Self::Mcp {
                client,
                tool,
                arguments,
            } => client.call_tool(tool, arguments).await.map(drop),
        }
    }
}

/// The physical limit: the same GET and the same pages straight to the bridge.
async fn direct_limit(bridge: &str, options: &Options) -> Result<Measured> {
    eprintln!("bench: direct HTTP (the limit)");
    let mut measured = Measured::new("direct HTTP GET (limit)", "-", "HTTP/1.1 to the simulator");
    measured.available = true;
    measured.command =
        "GET $BRIDGE/Users/{id} with the bearer token, reqwest, one connection per client".into();
    let id = first_user_id(bridge).await?;
    measured.workload = "GET /Users/{id}".into();
    let url = format!("{bridge}/Users/{id}");
    let worker = Worker::Direct {
        client: http_client()?,
        url: url.clone(),
    };
    let samples = sequential(&worker, None, options).await?;
    measured.latency_samples = samples.0.len();
    measured.latency_median_ms = Some(ms(percentile(&samples.0, 0.5)));
    measured.latency_p99_ms = Some(ms(percentile(&samples.0, 0.99)));
    for (slot, clients) in LEVELS.iter().enumerate() {
        let mut workers = Vec::with_capacity(*clients);
        for _ in 0..*clients {
            workers.push(Worker::Direct {
                client: http_client()?,
                url: url.clone(),
            });
        }
        let (rate, errors) = throughput(workers, options.duration).await;
        measured.throughput[slot] = Some(rate);
        measured.throughput_errors[slot] = errors;
    }
    // Traversal: startIndex/count pages, as a SCIM client would.
    let client = http_client()?;
    let started = Instant::now();
    let (mut users, mut pages, mut start) = (0usize, 0usize, 1usize);
    while pages < max_pages(options) && started.elapsed() < TRAVERSAL_DEADLINE {
        let page: Value = client
            .get(format!("{bridge}/Users?startIndex={start}&count={PAGE_SIZE}"))
            .bearer_auth(TOKEN)
            .send()
            .await?
            .json()
            .await?;
        pages += 1;
        let got = page["Resources"].as_array().map_or(0, Vec::len);
        users += got;
        start += got;
        let total = page["totalResults"].as_u64().unwrap_or(0) as usize;
        if got == 0 || users >= total {
            break;
        }
    }
    measured.traversal_ms = Some(started.elapsed().as_secs_f64() * 1e3);
    measured.traversal_users = Some(users);
    measured.traversal_pages = Some(pages);
    measured.traversal_note = "startIndex/count".into();
    Ok(measured)
}

fn max_pages(options: &Options) -> usize {
    options.users / PAGE_SIZE + 10
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Sequential calls: `worker` alone, or interleaved with `direct` (then both are returned).
async fn sequential(
    worker: &Worker,
    direct: Option<&Worker>,
    options: &Options,
) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let warmup = (options.latency_iterations / 10).max(1);
    let started = Instant::now();
    let (mut mine, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..(options.latency_iterations + warmup) {
        if started.elapsed() > options.latency_deadline {
            break;
        }
        let direct_time = match direct {
            Some(direct) => {
                let at = Instant::now();
                direct.once().await?;
                Some(at.elapsed())
            }
            None => None,
        };
        let at = Instant::now();
        worker.once().await?;
        let time = at.elapsed();
        if round >= warmup {
            mine.push(time);
            if let Some(direct_time) = direct_time {
                theirs.push(direct_time);
            }
        }
    }
    if mine.is_empty() {
        bail!("no latency sample within {:?}", options.latency_deadline);
    }
    Ok((mine, theirs))
}

/// Calls/s of `workers` looping concurrently for `duration`; failed calls are counted apart.
async fn throughput(workers: Vec<Worker>, duration: Duration) -> (f64, u64) {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = tokio::time::Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(workers.len());
    for worker in workers {
        let (done, failed) = (Arc::clone(&done), Arc::clone(&failed));
        tasks.push(tokio::spawn(async move {
            // Bounded by time: no call may run past the window plus a grace period.
            while tokio::time::Instant::now() < deadline {
                match tokio::time::timeout_at(deadline + Duration::from_secs(5), worker.once()).await {
                    Ok(Ok(())) if tokio::time::Instant::now() <= deadline => {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => break,
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let rate = done.load(Ordering::Relaxed) as f64 / duration.as_secs_f64();
    (rate, failed.load(Ordering::Relaxed))
}

struct Started {
    proc: Proc,
    client: McpClient,
    elapsed: Duration,
    tools: Value,
    url: Option<String>,
}

/// Starts a contender and waits for its first answered `tools/list`.
async fn start(contender: &Contender) -> Result<Started> {
    let log = fs::File::create(&contender.log)?;
    let port = if contender.http { free_port()? } else { 0 };
    let mut command = (contender.command)(port);
    command.stderr(log.try_clone()?);
    if contender.http {
        command.stdin(Stdio::null()).stdout(log);
        let url = format!("http://127.0.0.1:{port}/mcp");
        let client = http_client()?;
        let started = Instant::now();
        let mut proc = Proc {
            child: command.spawn().context("spawning")?,
        };
        loop {
            if started.elapsed() > START_DEADLINE {
                bail!("no tools/list answer within {START_DEADLINE:?}");
            }
            if proc.exited() {
                bail!("exited at start: {}", log_tail(&contender.log));
            }
            if let Ok(session) = HttpSession::connect_with(client.clone(), &url).await
                && let Ok(tools) = session.request("tools/list", json!({})).await
                && tools.get("result").is_some()
            {
                let elapsed = started.elapsed();
                let client = McpClient::Http(Arc::new(session));
                return Ok(Started {
                    proc,
                    client,
                    elapsed,
                    tools,
                    url: Some(url),
                });
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    command.stdin(Stdio::piped()).stdout(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().context("spawning")?;
    let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
    let proc = Proc { child };
    let conn = StdioConn::new(stdin.context("stdin")?, stdout.context("stdout")?);
    let first = async {
        conn.initialize().await?;
        conn.request("tools/list", json!({})).await
    };
    let tools = tokio::time::timeout(START_DEADLINE, first)
        .await
        .context("no tools/list answer in time")?
        .with_context(|| log_tail(&contender.log))?;
    let elapsed = started.elapsed();
    Ok(Started {
        proc,
        client: McpClient::Stdio(conn),
        elapsed,
        tools,
        url: None,
    })
}

fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

/// Sizes of the tools/list answer and of what an agent reads of it.
fn sizes(measured: &mut Measured, answer: &Value) -> Result<Vec<Value>> {
    measured.tools_list_bytes = Some(serde_json::to_string(answer)?.len());
    let tools = answer["result"]["tools"]
        .as_array()
        .context("tools/list without tools")?
        .clone();
    let definitions: Vec<Value> = tools
        .iter()
        .map(|tool| {
            json!({
                "name": tool.get("name"),
                "description": tool.get("description"),
                "inputSchema": tool.get("inputSchema"),
            })
        })
        .collect();
    measured.definitions_bytes = Some(serde_json::to_string(&definitions)?.len());
    measured.tools = Some(tools.len());
    let (mut total, mut no_description, mut no_type) = (0, 0, 0);
    for tool in &tools {
        if let Some(properties) = tool["inputSchema"]["properties"].as_object() {
            for schema in properties.values() {
                total += 1;
                if schema
                    .get("description")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    no_description += 1;
                }
                let typed = ["type", "anyOf", "oneOf", "enum", "const"]
                    .iter()
                    .any(|key| schema.get(*key).is_some());
                if !typed {
                    no_type += 1;
                }
            }
        }
    }
    measured.params_total = Some(total);
    measured.params_without_description = Some(no_description);
    measured.params_without_type = Some(no_type);
    Ok(tools)
}

fn input_properties<'a>(tools: &'a [Value], name: &str) -> Option<&'a serde_json::Map<String, Value>> {
    tools
        .iter()
        .find(|tool| tool["name"] == name)?
        .get("inputSchema")?
        .get("properties")?
        .as_object()
}

/// All the figures of one MCP contender.
async fn measure(contender: Contender, bridge: &str, options: &Options) -> Result<Measured> {
    let mut measured = contender.measured.clone();
    measured.available = true;
    // (4) start-up: STARTS cold starts, the last process is kept.
    let mut kept: Option<Started> = None;
    for _ in 0..STARTS {
        drop(kept.take());
        let started = start(&contender).await?;
        measured.startup_ms.push(ms(started.elapsed));
        kept = Some(started);
    }
    let Started {
        proc,
        client,
        tools: tools_answer,
        url,
        ..
    } = kept.context("no start")?;
    let pid = proc.pid();
    // (5) sizes.
    let tools = sizes(&mut measured, &tools_answer)?;
    // (3) idle RSS after a quiet second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    measured.idle_rss_kib = rss_kib(pid).map(|(rss, _)| rss);

    let id = first_user_id(bridge).await?;
    let direct_get = Worker::Direct {
        client: http_client()?,
        url: format!("{bridge}/Users/{id}"),
    };
    let mut worker = Worker::Mcp {
        client: client.clone(),
        tool: contender.get_tool.to_owned(),
        arguments: json!({"id": id}),
    };
    let mut direct = direct_get;
    measured.workload = format!("tools/call {} {{id}}", contender.get_tool);
    if let Err(error) = check_get(&worker, &id).await {
        // The get tool cannot fetch a user; fall back to the argument-free discovery call so
        // the transport and proxy cost is still measured, and say so.
        measured.notes.push(format!(
            "`{}` cannot fetch a user here ({}); latency and throughput use `getServiceProviderConfig` \
             against a direct GET /ServiceProviderConfig instead",
            contender.get_tool,
            truncate(&format!("{error:#}"), 300)
        ));
        worker = Worker::Mcp {
            client: client.clone(),
            tool: "getServiceProviderConfig".into(),
            arguments: json!({}),
        };
        worker
            .once()
            .await
            .context("the fallback getServiceProviderConfig call")?;
        direct = Worker::Direct {
            client: http_client()?,
            url: format!("{bridge}/ServiceProviderConfig"),
        };
        measured.workload = "tools/call getServiceProviderConfig (fallback)".into();
    }
    // (1) latency, interleaved with the direct call.
    let (mine, theirs) = sequential(&worker, Some(&direct), options).await?;
    measured.latency_samples = mine.len();
    measured.latency_median_ms = Some(ms(percentile(&mine, 0.5)));
    measured.latency_p99_ms = Some(ms(percentile(&mine, 0.99)));
    measured.direct_median_ms = Some(ms(percentile(&theirs, 0.5)));
    measured.direct_p99_ms = Some(ms(percentile(&theirs, 0.99)));

    // (2) throughput; (3) peak RSS under the 64-client load.
    for (slot, clients) in LEVELS.iter().enumerate() {
        let mut workers = Vec::with_capacity(*clients);
        for _ in 0..*clients {
            let client = match &client {
                McpClient::Http(_) => {
                    let url = url.as_deref().context("no url")?;
                    McpClient::Http(Arc::new(HttpSession::connect(url).await?))
                }
                McpClient::Stdio(conn) => McpClient::Stdio(Arc::clone(conn)),
            };
            let Worker::Mcp { tool, arguments, .. } = &worker else {
                bail!("not an MCP worker")
            };
            workers.push(Worker::Mcp {
                client,
                tool: tool.clone(),
                arguments: arguments.clone(),
            });
        }
        let last = slot + 1 == LEVELS.len();
        let reset = last && reset_peak(pid);
        let (rate, errors) = throughput(workers, options.duration).await;
        measured.throughput[slot] = Some(rate);
        measured.throughput_errors[slot] = errors;
        if last {
            measured.peak_rss_kib = rss_kib(pid).map(|(_, hwm)| hwm);
            if !reset {
                measured
                    .notes
                    .push("VmHWM could not be reset: the peak includes start-up".into());
            }
        }
    }
    // (6) traversal.
    traverse(&mut measured, &client, contender.list_tool, &tools).await;
    let unresolved = fs::read_to_string(&contender.log)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("reference not resolved"))
        .count();
    if unresolved > 0 {
        measured.notes.push(format!(
            "at start-up its log warned {unresolved} times that a parameter `$ref` was not \
             resolved (the spec's `UserId`, `GroupId`, `Filter`, `StartIndex` and `Count` are \
             shared `#/components/parameters`); those tools lose the arguments"
        ));
    }
    drop(proc);
    Ok(measured)
}

async fn check_get(worker: &Worker, id: &str) -> Result<()> {
    let Worker::Mcp {
        client,
        tool,
        arguments,
    } = worker
    else {
        return Ok(());
    };
    let result = client.call_tool(tool, arguments).await?;
    let text = serde_json::to_string(&result)?;
    if !text.contains(id) {
        bail!("the answer does not hold the user: {}", truncate(&text, 200));
    }
    Ok(())
}

/// Pages through the whole directory with whatever paging the list tool offers.
async fn traverse(measured: &mut Measured, client: &McpClient, list_tool: &str, tools: &[Value]) {
    let Some(properties) = input_properties(tools, list_tool) else {
        measured.traversal_note = format!("no `{list_tool}` tool");
        return;
    };
    let cursor = properties.contains_key("next_cursor");
    let offset = properties.contains_key("startIndex") && properties.contains_key("count");
    let started = Instant::now();
    let (mut users, mut pages, mut start) = (0usize, 0usize, 1usize);
    let mut next: Option<String> = None;
    let max = 1000;
    loop {
        if pages >= max || started.elapsed() > TRAVERSAL_DEADLINE {
            measured.traversal_note = format!("stopped at the bound after {pages} pages");
            break;
        }
        let arguments = if cursor {
            match &next {
                Some(cursor) => json!({"limit": PAGE_SIZE, "next_cursor": cursor}),
                None => json!({"limit": PAGE_SIZE}),
            }
        } else if offset {
            json!({"startIndex": start, "count": PAGE_SIZE})
        } else {
            json!({})
        };
        let result = match client.call_tool(list_tool, &arguments).await {
            Ok(result) => result,
            Err(error) => {
                measured.traversal_note = format!(
                    "failed on page {}: {}",
                    pages + 1,
                    truncate(&format!("{error:#}"), 200)
                );
                return;
            }
        };
        pages += 1;
        let body = payload(&result).unwrap_or(Value::Null);
        let body = if body.get("body").is_some() {
            body["body"].clone()
        } else {
            body
        };
        let items = ["result", "Resources"]
            .iter()
            .find_map(|key| body.get(*key).and_then(Value::as_array).map(Vec::len))
            .unwrap_or(0);
        users += items;
        if cursor {
            measured.traversal_note = "`next_cursor`, limit 100".into();
            match body.get("next_cursor").and_then(Value::as_str) {
                Some(token) => next = Some(token.to_owned()),
                None => break,
            }
        } else if offset {
            measured.traversal_note = "startIndex/count, 100 a page".into();
            start += items;
            let total = body.get("totalResults").and_then(Value::as_u64).unwrap_or(0) as usize;
            if items == 0 || users >= total {
                break;
            }
        } else {
            let names: Vec<&str> = properties.keys().map(String::as_str).collect();
            measured.traversal_note = format!(
                "cannot page: `{list_tool}` takes no paging arguments (its inputSchema has [{}]); one call \
                 returns the bridge's first page only",
                names.join(", ")
            );
            break;
        }
    }
    measured.traversal_ms = Some(started.elapsed().as_secs_f64() * 1e3);
    measured.traversal_users = Some(users);
    measured.traversal_pages = Some(pages);
}
