//! `cargo benchmarks load`: a bounded load test (issue 5). 64 MCP clients over HTTP call
//! `get_single_1_password_user_by_id` against the simulated bridge for a fixed time; the run
//! reports calls/s, p50/p99, failed calls and RSS over time, then checks the server still answers.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::json;

use crate::client::HttpSession;
use crate::harness::{Running, first_user_ids, percentile, rss_kib};

pub fn run(root: &Path, clients: usize, seconds: u64) -> Result<()> {
    let running = Running::start(root)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(load(
            &running.bridge,
            &running.mcp,
            running.server_pid(),
            clients,
            Duration::from_secs(seconds),
        ))
}

async fn load(bridge: &str, mcp: &str, pid: u32, clients: usize, window: Duration) -> Result<()> {
    let ids: Arc<Vec<String>> = Arc::new(first_user_ids(bridge, 100).await?);
    let mut sessions = Vec::with_capacity(clients);
    for _ in 0..clients {
        sessions.push(HttpSession::connect(mcp).await?);
    }
    let idle_kib = rss_kib(pid).map_or(0, |(rss, _)| rss);
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + window;
    let mut tasks = Vec::with_capacity(clients);
    for (index, session) in sessions.into_iter().enumerate() {
        let ids = Arc::clone(&ids);
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut failed) = (Vec::new(), 0u64);
            let mut call = index;
            while tokio::time::Instant::now() < deadline {
                let id = &ids[call % ids.len().max(1)];
                call += clients;
                let began = Instant::now();
                let arguments =
                    json!({ "name": "get_single_1_password_user_by_id", "arguments": { "id": id } });
                let outcome =
                    tokio::time::timeout(Duration::from_secs(10), session.request("tools/call", arguments))
                        .await;
                match outcome {
                    Ok(Ok(answer)) if answer["result"]["isError"] == false => latencies.push(began.elapsed()),
                    _ => failed += 1,
                }
            }
            (latencies, failed)
        }));
    }
    // RSS once a second while the load runs.
    let mut samples = Vec::new();
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some((rss, _)) = rss_kib(pid) {
            samples.push((started.elapsed().as_secs(), rss));
        }
    }
    let (mut latencies, mut failed) = (Vec::new(), 0u64);
    for task in tasks {
        let (mine, lost) = task.await?;
        latencies.extend(mine);
        failed += lost;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let peak_kib = rss_kib(pid).map_or(0, |(_, peak)| peak);
    let after = HttpSession::connect(mcp)
        .await?
        .request("tools/list", json!({}))
        .await?;
    let still_answers = after["result"]["tools"]
        .as_array()
        .is_some_and(|tools| !tools.is_empty());
    let mib = |kib: u64| kib as f64 / 1024.0;
    let early = samples
        .iter()
        .find(|(second, _)| *second >= 10)
        .or(samples.first())
        .map_or(0, |(_, rss)| *rss);
    let last = samples.last().map_or(0, |(_, rss)| *rss);
    println!(
        "\n{clients} MCP clients over HTTP, {:.0} s, tools/call get_single_1_password_user_by_id, 10,000-user simulator\n",
        window.as_secs_f64()
    );
    println!("| figure | value |\n|---|---|");
    println!(
        "| calls | {} ({:.0} calls/s) |",
        latencies.len(),
        latencies.len() as f64 / elapsed
    );
    println!("| failed calls | {failed} |");
    println!(
        "| latency p50 / p99 ms | {:.3} / {:.3} |",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "| RSS idle / at 10 s / at the end / peak MiB | {:.1} / {:.1} / {:.1} / {:.1} |",
        mib(idle_kib),
        mib(early),
        mib(last),
        mib(peak_kib)
    );
    println!("| answers tools/list afterwards | {still_answers} |");
    let samples_text: Vec<String> = samples
        .iter()
        .map(|(second, rss)| format!("{second}s:{:.1}", mib(*rss)))
        .collect();
    println!("\nRSS MiB per second: {}", samples_text.join(" "));
    if failed > 0 || !still_answers {
        bail!("the load test saw {failed} failed calls (still answering: {still_answers})");
    }
    Ok(())
}
