//! `cargo benchmarks replicas`: load against two op-scim-mcp replicas sharing one PostgreSQL
//! registry and one cursor key, with one replica killed half-way (issue 8), side by side with a
//! baseline run in the same invocation: one replica on an SQLite registry under the same load.
//!
//! Each client stands in for a load balancer's connection: it calls its replica until a call
//! fails, then fails over to the survivor. The figures are calls/s before and after the kill,
//! p50/p99, the calls lost to the kill, and each replica's memory idle and under load (the
//! figures that size the Kubernetes manifests).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::client::{HttpSession, http_client};
use crate::harness::{TOKEN, build_release, first_user_ids, percentile, rss_kib, spawn, spawn_sim};

const CURSOR_KEY: &str = "bench-replicas-shared-cursor-key-0123456789";

/// Child processes, killed when dropped.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// How a replica finds its registry.
enum Registry<'a> {
    Sqlite(&'a Path),
    Postgres(&'a str),
}

impl Registry<'_> {
    fn args(&self) -> [&OsStr; 2] {
        match self {
            Self::Sqlite(path) => [OsStr::new("--state"), path.as_os_str()],
            Self::Postgres(url) => [OsStr::new("--database-url"), OsStr::new(url)],
        }
    }
}

pub fn run(root: &Path, clients: usize, seconds: u64) -> Result<()> {
    let binary = build_release(root)?;
    let postgres = testkit::TempPostgres::start();
    let database_url = postgres.create_database("bench_replicas");
    let scratch = xtask::target_dir(root).join("bench-replicas");
    std::fs::create_dir_all(&scratch)?;
    let sqlite = scratch.join(format!("baseline-{}.db", std::process::id()));
    let (sim, bridge) = spawn_sim(&binary)?;
    let mut children = Children(vec![sim]);
    let window = Duration::from_secs(seconds);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;

    // Baseline: one replica, SQLite registry, the same clients for half the time.
    let sqlite_registry = Registry::Sqlite(&sqlite);
    let admin = admin_key(&binary, &sqlite_registry)?;
    let (baseline, base) = start_replica(&binary, &bridge, &sqlite_registry)?;
    let baseline_pid = baseline.id();
    children.0.push(baseline);
    let baseline = runtime.block_on(async {
        let token = create_server(&base, &admin, "baseline").await?;
        drive(
            &bridge,
            &[format!("{base}/mcp/{token}")],
            [baseline_pid, baseline_pid],
            clients,
            window / 2,
            None,
        )
        .await
    })?;
    if let Some(mut child) = children.0.pop() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = std::fs::remove_file(&sqlite);

    // Two replicas on PostgreSQL, A stopped half-way: first killed, then (fresh replicas) sent
    // SIGTERM as a rolling update does.
    let postgres_registry = Registry::Postgres(&database_url);
    let admin = admin_key(&binary, &postgres_registry)?;
    let mut phases = Vec::new();
    for stop in [Stop::Kill, Stop::Term] {
        let mut bases = Vec::new();
        let mut pids = [0u32; 2];
        for pid in &mut pids {
            let (replica, base) = start_replica(&binary, &bridge, &postgres_registry)?;
            *pid = replica.id();
            children.0.push(replica);
            bases.push(base);
        }
        let victim = children.0.len() - 2;
        let phase = runtime.block_on(async {
            let name = match stop {
                Stop::Kill => "killed",
                Stop::Term => "terminated",
            };
            let token = create_server(&bases[0], &admin, name).await?;
            let urls: Vec<String> = bases.iter().map(|base| format!("{base}/mcp/{token}")).collect();
            let victim = Victim {
                child: &mut children.0[victim],
                stop,
                base: bases[0].clone(),
            };
            drive(&bridge, &urls, pids, clients, window, Some(victim)).await
        })?;
        for mut child in children.0.drain(victim..) {
            let _ = child.kill();
            let _ = child.wait();
        }
        phases.push(phase);
    }
    drop(children);
    drop(postgres);
    let (killed, terminated) = (&phases[0], &phases[1]);
    report(&baseline, killed, terminated, clients, window);
    if killed.after_kill == 0 || terminated.after_kill == 0 {
        bail!("the surviving replica served nothing after A stopped");
    }
    Ok(())
}

/// How replica A is stopped half-way.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// SIGKILL: a crash; calls in flight on A are lost.
    Kill,
    /// SIGTERM with a 5 s grace: a rolling update; A drains while the balancer moves away.
    Term,
}

/// The replica stopped half-way, and where its readiness is polled.
struct Victim<'a> {
    child: &'a mut Child,
    stop: Stop,
    base: String,
}

fn admin_key(binary: &PathBuf, registry: &Registry<'_>) -> Result<String> {
    let created = Command::new(binary)
        .args(["admin-keys", "create", "--name", "bench"])
        .args(registry.args())
        .output()?;
    if !created.status.success() {
        bail!("admin-keys create: {}", String::from_utf8_lossy(&created.stderr));
    }
    let admin: Value = serde_json::from_slice(&created.stdout)?;
    Ok(admin["secret"].as_str().context("admin secret")?.to_owned())
}

fn start_replica(binary: &PathBuf, bridge: &str, registry: &Registry<'_>) -> Result<(Child, String)> {
    let (child, url) = spawn(
        Command::new(binary)
            .args(["--transport", "http", "--listen", "127.0.0.1:0"])
            .args(registry.args())
            .env("OP_SCIM_BRIDGE_URL", bridge)
            .env("OP_SCIM_BEARER_TOKEN", TOKEN)
            .env("OP_SCIM_CURSOR_KEY", CURSOR_KEY)
            .env("OP_SCIM_SHUTDOWN_GRACE", "5s")
            .env("OP_SCIM_LOG", "warn"),
        "at http",
    )?;
    Ok((child, url.trim_end_matches("/mcp").to_owned()))
}

async fn create_server(base: &str, admin: &str, name: &str) -> Result<String> {
    let created: Value = http_client()?
        .post(format!("{base}/admin/servers"))
        .bearer_auth(admin)
        .json(&json!({ "name": name, "config": { "methods": ["read"] } }))
        .send()
        .await?
        .json()
        .await?;
    Ok(created["url"]
        .as_str()
        .and_then(|url| url.rsplit('/').next())
        .context("server URL")?
        .to_owned())
}

/// What one load phase measured.
struct Phase {
    latencies: Vec<Duration>,
    elapsed: Duration,
    kill_at: Duration,
    before_kill: usize,
    after_kill: usize,
    failed: u64,
    failed_over: usize,
    idle_kib: [u64; 2],
    loaded_kib: [u64; 2],
    survivor_peak_kib: u64,
    /// From the signal to A's exit.
    stopped_after: Option<Duration>,
}

/// One client's record: when each successful call ended and how long it took, and failures.
#[derive(Default)]
struct Record {
    calls: Vec<(Duration, Duration)>,
    failed: u64,
    failed_over: bool,
}

/// Clients spread over `urls` for `window`; `victim` (serving `urls[0]`) is killed half-way.
async fn drive(
    bridge: &str,
    urls: &[String],
    pids: [u32; 2],
    clients: usize,
    window: Duration,
    victim: Option<Victim<'_>>,
) -> Result<Phase> {
    let ids: Arc<Vec<String>> = Arc::new(first_user_ids(bridge, 100).await?);
    let rss = |pid: u32| rss_kib(pid).unwrap_or((0, 0));
    let idle_kib = [rss(pids[0]).0, rss(pids[1]).0];
    let killed = Arc::new(AtomicBool::new(false));
    // The load balancer's readiness view of A: polled like a Kubernetes readiness probe.
    let a_out = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + window;
    if let Some(victim) = &victim {
        tokio::spawn(poll_readiness(victim.base.clone(), a_out.clone(), deadline));
    }
    let mut tasks = Vec::with_capacity(clients);
    for index in 0..clients {
        let (ids, urls, killed, a_out) = (ids.clone(), urls.to_vec(), killed.clone(), a_out.clone());
        tasks.push(tokio::spawn(async move {
            let mut record = Record::default();
            let mut target = index % urls.len();
            let mut session = HttpSession::connect(&urls[target]).await.ok();
            let mut call = index;
            while tokio::time::Instant::now() < deadline {
                // The balancer stops routing to A once its readiness probe fails.
                if target == 0 && urls.len() > 1 && a_out.load(Ordering::SeqCst) {
                    target = 1;
                    record.failed_over = true;
                    session = HttpSession::connect(&urls[target]).await.ok();
                }
                let id = &ids[call % ids.len().max(1)];
                call += 1;
                let began = Instant::now();
                let arguments =
                    json!({ "name": "get_single_1_password_user_by_id", "arguments": { "id": id } });
                let answer = match &session {
                    Some(session) => tokio::time::timeout(
                        Duration::from_secs(10),
                        session.request("tools/call", arguments),
                    )
                    .await
                    .ok()
                    .and_then(Result::ok),
                    None => None,
                };
                match answer {
                    Some(answer) if answer["result"]["isError"] == false => {
                        record.calls.push((started.elapsed(), began.elapsed()));
                    }
                    _ => {
                        record.failed += 1;
                        // The load balancer's part: stop sending to the dead replica.
                        if target == 0 && urls.len() > 1 && killed.load(Ordering::SeqCst) {
                            target = 1;
                            record.failed_over = true;
                        }
                        session = HttpSession::connect(&urls[target]).await.ok();
                    }
                }
            }
            record
        }));
    }
    let kill_at = if victim.is_some() { window / 2 } else { window };
    let mut loaded_kib = [0, 0];
    let mut stopped_after = None;
    if let Some(victim) = victim {
        tokio::time::sleep(kill_at).await;
        loaded_kib = [rss(pids[0]).1, rss(pids[1]).1];
        let stopping = Instant::now();
        match victim.stop {
            Stop::Kill => victim.child.kill()?,
            Stop::Term => {
                let pid = victim.child.id().to_string();
                Command::new("kill").args(["-TERM", &pid]).status()?;
            }
        }
        killed.store(true, Ordering::SeqCst);
        // How long A takes to exit: at once when killed; after its drain when terminated.
        let give_up = stopping + Duration::from_secs(10);
        while victim.child.try_wait()?.is_none() && Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stopped_after = Some(stopping.elapsed());
    }
    let mut records = Vec::with_capacity(clients);
    for task in tasks {
        records.push(task.await?);
    }
    if loaded_kib == [0, 0] {
        loaded_kib = [rss(pids[0]).1, rss(pids[1]).1];
    }
    let latencies: Vec<Duration> = records
        .iter()
        .flat_map(|r| r.calls.iter().map(|(_, took)| *took))
        .collect();
    let before_kill = records
        .iter()
        .flat_map(|r| &r.calls)
        .filter(|(at, _)| *at < kill_at)
        .count();
    Ok(Phase {
        after_kill: latencies.len() - before_kill,
        latencies,
        elapsed: started.elapsed(),
        kill_at,
        before_kill,
        failed: records.iter().map(|r| r.failed).sum(),
        failed_over: records.iter().filter(|r| r.failed_over).count(),
        idle_kib,
        loaded_kib,
        survivor_peak_kib: rss(pids[1]).1,
        stopped_after,
    })
}

/// Marks A out of rotation once its `/readyz` stops answering 200, polling every 250 ms.
async fn poll_readiness(base: String, out: Arc<AtomicBool>, until: tokio::time::Instant) {
    let Ok(client) = http_client() else { return };
    while tokio::time::Instant::now() < until {
        let ready = client
            .get(format!("{base}/readyz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|response| response.status() == 200);
        if !ready {
            out.store(true, Ordering::SeqCst);
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn report(baseline: &Phase, killed: &Phase, terminated: &Phase, clients: usize, window: Duration) {
    let per_second = |calls: usize, over: Duration| calls as f64 / over.as_secs_f64().max(1e-9);
    let ms = |phase: &Phase, quantile: f64| percentile(&phase.latencies, quantile).as_secs_f64() * 1e3;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let baseline_rate = per_second(baseline.latencies.len(), baseline.elapsed);
    let rates = |phase: &Phase| {
        let before = per_second(phase.before_kill, phase.kill_at);
        let after = per_second(phase.after_kill, phase.elapsed.saturating_sub(phase.kill_at));
        format!(
            "{before:.0} before, {after:.0} after ({:.2}x / {:.2}x)",
            before / baseline_rate.max(1e-9),
            after / baseline_rate.max(1e-9)
        )
    };
    let latency = |phase: &Phase| {
        format!(
            "{:.3} / {:.3} ({:.2}x / {:.2}x)",
            ms(phase, 0.5),
            ms(phase, 0.99),
            ms(phase, 0.5) / ms(baseline, 0.5).max(1e-9),
            ms(phase, 0.99) / ms(baseline, 0.99).max(1e-9)
        )
    };
    let failed = |phase: &Phase| {
        format!(
            "{} ({} of {} clients of A moved to B)",
            phase.failed,
            phase.failed_over,
            clients.div_ceil(2)
        )
    };
    let memory = |phase: &Phase| {
        format!(
            "idle A {:.1}, B {:.1}; peak A {:.1}, B {:.1}; B {:.1} alone",
            mib(phase.idle_kib[0]),
            mib(phase.idle_kib[1]),
            mib(phase.loaded_kib[0]),
            mib(phase.loaded_kib[1]),
            mib(phase.survivor_peak_kib)
        )
    };
    let stopped = |phase: &Phase| {
        phase.stopped_after.map_or_else(
            || "-".to_owned(),
            |took| format!("{:.0} ms", took.as_secs_f64() * 1e3),
        )
    };
    println!(
        "\n{clients} MCP clients over HTTP, tools/call get_single_1_password_user_by_id, 10,000-user simulator, \
         one 2-core machine for everything. Baseline: 1 replica on SQLite for {:.0} s. Then twice 2 replicas on \
         one PostgreSQL for {:.0} s each, replica A stopped at {:.0} s: killed (SIGKILL, a crash), then sent \
         SIGTERM (a rolling update; --shutdown-grace 5s). A load balancer polls A's /readyz every 250 ms and moves \
         A's clients to B when it fails or when a call fails.\n",
        (window / 2).as_secs_f64(),
        window.as_secs_f64(),
        killed.kill_at.as_secs_f64()
    );
    println!("| figure | baseline: 1 replica, SQLite | 2 replicas, A killed | 2 replicas, A terminated |");
    println!("|---|---|---|---|");
    println!(
        "| calls/s (before / after A stops; ratio to baseline) | {baseline_rate:.0} | {} | {} |",
        rates(killed),
        rates(terminated)
    );
    println!(
        "| latency p50 / p99 ms (ratio) | {:.3} / {:.3} | {} | {} |",
        ms(baseline, 0.5),
        ms(baseline, 0.99),
        latency(killed),
        latency(terminated)
    );
    println!(
        "| failed calls | {} | {} | {} |",
        baseline.failed,
        failed(killed),
        failed(terminated)
    );
    println!(
        "| A exited after the signal | - | {} | {} |",
        stopped(killed),
        stopped(terminated)
    );
    println!(
        "| RSS MiB | idle {:.1}; peak {:.1} | {} | {} |",
        mib(baseline.idle_kib[0]),
        mib(baseline.loaded_kib[0]),
        memory(killed),
        memory(terminated)
    );
}
