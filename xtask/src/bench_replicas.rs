//! `cargo xtask bench-replicas`: load against two op-scim-mcp replicas sharing one PostgreSQL
//! registry and one cursor key, with one replica killed half-way (issue 8), side by side with a
//! baseline run in the same invocation: one replica on an SQLite registry under the same load.
//!
//! Each client stands in for a load balancer's connection: it calls its replica until a call
//! fails, then fails over to the survivor. The figures are calls/s before and after the kill,
//! p50/p99, the calls lost to the kill, and each replica's memory idle and under load (the
//! figures that size the Kubernetes manifests).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::bench::{TOKEN, build_release, first_user_ids, percentile, spawn, spawn_sim};
use crate::bench_client::{HttpSession, http_client};
use crate::bench_matrix::rss_kib;

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
    fn args(&self) -> [&str; 2] {
        match self {
            Self::Sqlite(path) => ["--state", path.to_str().unwrap_or_default()],
            Self::Postgres(url) => ["--database-url", url],
        }
    }
}

pub fn run(root: &Path, clients: usize, seconds: u64) -> Result<()> {
    let binary = build_release(root)?;
    let postgres = testkit::TempPostgres::start();
    let database_url = postgres.create_database("bench_replicas");
    let scratch = crate::target_dir(root).join("bench-replicas");
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
        let token = create_server(&base, &admin).await?;
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

    // Two replicas on PostgreSQL; A is killed half-way.
    let postgres_registry = Registry::Postgres(&database_url);
    let admin = admin_key(&binary, &postgres_registry)?;
    let mut bases = Vec::new();
    let mut pids = [0u32; 2];
    for pid in &mut pids {
        let (replica, base) = start_replica(&binary, &bridge, &postgres_registry)?;
        *pid = replica.id();
        children.0.push(replica);
        bases.push(base);
    }
    let victim = children.0.len() - 2;
    let replicated = runtime.block_on(async {
        let token = create_server(&bases[0], &admin).await?;
        let urls: Vec<String> = bases.iter().map(|base| format!("{base}/mcp/{token}")).collect();
        drive(
            &bridge,
            &urls,
            pids,
            clients,
            window,
            Some(&mut children.0[victim]),
        )
        .await
    })?;
    drop(children);
    drop(postgres);
    report(&baseline, &replicated, clients, window);
    if replicated.after_kill == 0 {
        bail!("the surviving replica served nothing after the kill");
    }
    Ok(())
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
            .env("OP_SCIM_LOG", "warn"),
        "at http",
    )?;
    Ok((child, url.trim_end_matches("/mcp").to_owned()))
}

async fn create_server(base: &str, admin: &str) -> Result<String> {
    let created: Value = http_client()?
        .post(format!("{base}/admin/servers"))
        .bearer_auth(admin)
        .json(&json!({ "name": "bench", "config": { "methods": ["read"] } }))
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
    victim: Option<&mut Child>,
) -> Result<Phase> {
    let ids: Arc<Vec<String>> = Arc::new(first_user_ids(bridge).await?);
    let rss = |pid: u32| rss_kib(pid).unwrap_or((0, 0));
    let idle_kib = [rss(pids[0]).0, rss(pids[1]).0];
    let killed = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + window;
    let mut tasks = Vec::with_capacity(clients);
    for index in 0..clients {
        let (ids, urls, killed) = (ids.clone(), urls.to_vec(), killed.clone());
        tasks.push(tokio::spawn(async move {
            let mut record = Record::default();
            let mut target = index % urls.len();
            let mut session = HttpSession::connect(&urls[target]).await.ok();
            let mut call = index;
            while tokio::time::Instant::now() < deadline {
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
    if let Some(victim) = victim {
        tokio::time::sleep(kill_at).await;
        loaded_kib = [rss(pids[0]).1, rss(pids[1]).1];
        victim.kill()?;
        killed.store(true, Ordering::SeqCst);
        let _ = victim.wait();
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
    })
}

fn report(baseline: &Phase, replicated: &Phase, clients: usize, window: Duration) {
    let per_second = |calls: usize, over: Duration| calls as f64 / over.as_secs_f64().max(1e-9);
    let ms = |phase: &Phase, quantile: f64| percentile(&phase.latencies, quantile).as_secs_f64() * 1e3;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let baseline_rate = per_second(baseline.latencies.len(), baseline.elapsed);
    let before = per_second(replicated.before_kill, replicated.kill_at);
    let after = per_second(
        replicated.after_kill,
        replicated.elapsed.saturating_sub(replicated.kill_at),
    );
    println!(
        "\n{clients} MCP clients over HTTP, tools/call get_single_1_password_user_by_id, 10,000-user simulator, \
         one 2-core machine for everything. Baseline: 1 replica on SQLite for {:.0} s. Replicated: 2 replicas \
         on one PostgreSQL for {:.0} s, replica A killed (SIGKILL) at {:.0} s; its clients fail over to B.\n",
        (window / 2).as_secs_f64(),
        window.as_secs_f64(),
        replicated.kill_at.as_secs_f64()
    );
    println!("| figure | baseline: 1 replica, SQLite | 2 replicas, PostgreSQL | ratio |\n|---|---|---|---|");
    println!(
        "| calls/s | {baseline_rate:.0} | {before:.0} before the kill, {after:.0} after (B alone) | {:.2}x / {:.2}x |",
        before / baseline_rate.max(1e-9),
        after / baseline_rate.max(1e-9)
    );
    println!(
        "| latency p50 / p99 ms | {:.3} / {:.3} | {:.3} / {:.3} | {:.2}x / {:.2}x |",
        ms(baseline, 0.5),
        ms(baseline, 0.99),
        ms(replicated, 0.5),
        ms(replicated, 0.99),
        ms(replicated, 0.5) / ms(baseline, 0.5).max(1e-9),
        ms(replicated, 0.99) / ms(baseline, 0.99).max(1e-9)
    );
    println!(
        "| failed calls | {} | {} (in flight on A at the kill; {} of {} clients failed over) | |",
        baseline.failed,
        replicated.failed,
        replicated.failed_over,
        clients.div_ceil(2)
    );
    println!(
        "| RSS idle MiB | {:.1} | A {:.1}, B {:.1} | |",
        mib(baseline.idle_kib[0]),
        mib(replicated.idle_kib[0]),
        mib(replicated.idle_kib[1])
    );
    println!(
        "| RSS peak under load MiB | {:.1} | A {:.1}, B {:.1} (B {:.1} after taking all the load) | |",
        mib(baseline.loaded_kib[0]),
        mib(replicated.loaded_kib[0]),
        mib(replicated.loaded_kib[1]),
        mib(replicated.survivor_peak_kib)
    );
}
