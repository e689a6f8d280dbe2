//! `cargo xtask bench-replicas`: load against two op-scim-mcp replicas sharing one PostgreSQL
//! registry and one cursor key, with one replica killed half-way (issue 8).
//!
//! Each client stands in for a load balancer's connection: it calls its replica until a call
//! fails, then fails over to the survivor. The figures are calls/s before and after the kill,
//! p50/p99, the calls lost to the kill, and each replica's memory idle and under load (the
//! figures that size the Kubernetes manifests).

use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::bench::{TOKEN, build_release, percentile, spawn};
use crate::bench_client::{HttpSession, http_client};
use crate::bench_matrix::rss_kib;

const CURSOR_KEY: &str = "bench-replicas-shared-cursor-key-0123456789";

struct Killed(Vec<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn run(root: &Path, clients: usize, seconds: u64) -> Result<()> {
    let binary = build_release(root)?;
    let postgres = testkit::TempPostgres::start();
    let database_url = postgres.create_database("bench_replicas");
    let (sim, bridge) = spawn(
        Command::new(&binary).args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--users",
            "10000",
            "--token",
            TOKEN,
        ]),
        "base URL",
    )?;
    let mut children = Killed(vec![sim]);
    let created = Command::new(&binary)
        .args([
            "admin-keys",
            "create",
            "--name",
            "bench",
            "--database-url",
            &database_url,
        ])
        .output()?;
    if !created.status.success() {
        bail!("admin-keys create: {}", String::from_utf8_lossy(&created.stderr));
    }
    let admin: Value = serde_json::from_slice(&created.stdout)?;
    let admin = admin["secret"].as_str().context("admin secret")?.to_owned();
    let mut bases = Vec::new();
    for _ in 0..2 {
        let (replica, url) = spawn(
            Command::new(&binary)
                .args(["--transport", "http", "--listen", "127.0.0.1:0"])
                .env("OP_SCIM_BRIDGE_URL", &bridge)
                .env("OP_SCIM_BEARER_TOKEN", TOKEN)
                .env("OP_SCIM_DATABASE_URL", &database_url)
                .env("OP_SCIM_CURSOR_KEY", CURSOR_KEY)
                .env("OP_SCIM_LOG", "warn"),
            "at http",
        )?;
        bases.push(url.trim_end_matches("/mcp").to_owned());
        children.0.push(replica);
    }
    let pids = [children.0[1].id(), children.0[2].id()];
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(load(
            &bridge,
            &bases,
            &admin,
            pids,
            clients,
            Duration::from_secs(seconds),
            &mut children,
        ));
    drop(children);
    drop(postgres);
    outcome
}

/// One client's record: when each successful call ended and how long it took, and failures.
#[derive(Default)]
struct Record {
    calls: Vec<(Duration, Duration)>,
    failed: u64,
    failed_over: bool,
}

async fn load(
    bridge: &str,
    bases: &[String],
    admin: &str,
    pids: [u32; 2],
    clients: usize,
    window: Duration,
    children: &mut Killed,
) -> Result<()> {
    let http = http_client()?;
    let created: Value = http
        .post(format!("{}/admin/servers", bases[0]))
        .bearer_auth(admin)
        .json(&json!({ "name": "bench", "config": { "methods": ["read"] } }))
        .send()
        .await?
        .json()
        .await?;
    let token = created["url"]
        .as_str()
        .and_then(|url| url.rsplit('/').next())
        .context("server URL")?
        .to_owned();
    let urls: Vec<String> = bases.iter().map(|base| format!("{base}/mcp/{token}")).collect();
    let page: Value = http
        .get(format!("{bridge}/Users?count=100"))
        .bearer_auth(TOKEN)
        .send()
        .await?
        .json()
        .await?;
    let ids: Arc<Vec<String>> = Arc::new(
        page["Resources"]
            .as_array()
            .context("users")?
            .iter()
            .filter_map(|user| user["id"].as_str().map(str::to_owned))
            .collect(),
    );
    let idle: Vec<u64> = pids
        .iter()
        .map(|pid| rss_kib(*pid).map_or(0, |(rss, _)| rss))
        .collect();
    let a_killed = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + window;
    let mut tasks = Vec::with_capacity(clients);
    for index in 0..clients {
        let (ids, urls, killed) = (ids.clone(), urls.clone(), a_killed.clone());
        tasks.push(tokio::spawn(async move {
            let mut record = Record::default();
            let mut target = index % 2;
            let mut session = HttpSession::connect(&urls[target]).await.ok();
            let mut call = index;
            while tokio::time::Instant::now() < deadline {
                let id = &ids[call % ids.len().max(1)];
                call += 1;
                let began = Instant::now();
                let arguments =
                    json!({ "name": "get_single_1_password_user_by_id", "arguments": { "id": id } });
                let outcome = match &session {
                    Some(session) => tokio::time::timeout(
                        Duration::from_secs(10),
                        session.request("tools/call", arguments),
                    )
                    .await
                    .ok()
                    .and_then(Result::ok),
                    None => None,
                };
                match outcome {
                    Some(answer) if answer["result"]["isError"] == false => {
                        record.calls.push((started.elapsed(), began.elapsed()));
                    }
                    _ => {
                        record.failed += 1;
                        // The load balancer's part: stop sending to the dead replica.
                        if target == 0 && killed.load(Ordering::SeqCst) {
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
    let kill_at = window / 2;
    tokio::time::sleep(kill_at).await;
    let loaded: Vec<u64> = pids
        .iter()
        .map(|pid| rss_kib(*pid).map_or(0, |(_, peak)| peak))
        .collect();
    let victim = &mut children.0[1];
    victim.kill()?;
    a_killed.store(true, Ordering::SeqCst);
    let _ = victim.wait();
    let mut records = Vec::with_capacity(clients);
    for task in tasks {
        records.push(task.await?);
    }
    let survivor_peak = rss_kib(pids[1]).map_or(0, |(_, peak)| peak);
    let elapsed = started.elapsed();
    let all: Vec<Duration> = records
        .iter()
        .flat_map(|r| r.calls.iter().map(|(_, took)| *took))
        .collect();
    let before = records
        .iter()
        .flat_map(|r| &r.calls)
        .filter(|(at, _)| *at < kill_at)
        .count();
    let after = all.len() - before;
    let failed: u64 = records.iter().map(|r| r.failed).sum();
    let failed_over = records.iter().filter(|r| r.failed_over).count();
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "\n2 replicas on one PostgreSQL registry, {clients} MCP clients over HTTP, {:.0} s, replica A killed (SIGKILL) at {:.0} s; \
         tools/call get_single_1_password_user_by_id, 10,000-user simulator\n",
        window.as_secs_f64(),
        kill_at.as_secs_f64()
    );
    println!("| figure | value |\n|---|---|");
    println!(
        "| calls | {} ({:.0} calls/s overall) |",
        all.len(),
        all.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "| calls/s before the kill (A+B) / after (B alone) | {:.0} / {:.0} |",
        before as f64 / kill_at.as_secs_f64(),
        after as f64 / (elapsed - kill_at).as_secs_f64()
    );
    println!(
        "| latency p50 / p99 ms | {:.3} / {:.3} |",
        percentile(&all, 0.5).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3
    );
    println!("| failed calls (all at the kill, before fail-over) | {failed} |");
    println!(
        "| clients that failed over to B | {failed_over} of {} on A |",
        clients.div_ceil(2)
    );
    println!(
        "| RSS idle A / B MiB | {:.1} / {:.1} |",
        mib(idle[0]),
        mib(idle[1])
    );
    println!(
        "| RSS peak under load A / B (B after taking all load) MiB | {:.1} / {:.1} ({:.1}) |",
        mib(loaded[0]),
        mib(loaded[1]),
        mib(survivor_peak)
    );
    if after == 0 {
        bail!("the surviving replica served nothing after the kill");
    }
    Ok(())
}
