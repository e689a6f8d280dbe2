//! `cargo benchmarks latency`: the added latency of one `get` through op-scim-mcp over HTTP,
//! against a direct GET to the same simulated bridge, measured side by side in one run.
//!
//! Requests alternate between the two paths so both see the same machine state; the figures
//! are wall-clock latencies of sequential requests on loopback, after a warm-up.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::{Value, json};

use crate::harness::{Running, TOKEN, first_user_id, percentile};

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
