//! Renders a `cargo benchmarks matrix` run: docs/benchmarks.md (tables, ratios, targets) and
//! docs/benchmarks.svg (a hand-built SVG chart: no plotting dependency for two bar charts).

use std::fmt::Write as _;

use crate::instructions::InstructionRow;
use crate::results::{FASTMCP_VERSION, LEVELS, Measured, RMCP_OPENAPI_VERSION, RunInfo};

const OURS_HTTP: &str = "op-scim-mcp (HTTP)";
const OURS_STDIO: &str = "op-scim-mcp (stdio)";
const FASTMCP: &str = "FastMCP.from_openapi";
const RMCP: &str = "rmcp-openapi-server";
const LIMIT: &str = "direct HTTP GET (limit)";

const TARGET_ADDED_MS: f64 = 0.3;
const TARGET_FASTMCP_RATIO: f64 = 10.0;
const TARGET_IDLE_MIB: f64 = 15.0;
const TARGET_PEAK_MIB: f64 = 40.0;
const TARGET_STARTUP_MS: f64 = 50.0;
/// Issue 16: added median latency over the direct call, its p99, and throughput at 16 clients
/// as a share of the direct call's.
const TARGET_ADDED_16_MS: f64 = 0.10;
const TARGET_ADDED_P99_16_MS: f64 = 0.5;
const TARGET_DIRECT_SHARE_16: f64 = 0.40;
/// Issue 16: instructions per `tools/call` get and per `ping` (callgrind).
const TARGET_CALL_INSTRUCTIONS: f64 = 150_000.0;
const TARGET_PING_INSTRUCTIONS: f64 = 60_000.0;

fn find<'a>(results: &'a [Measured], name: &str) -> Option<&'a Measured> {
    results.iter().find(|m| m.name == name && m.available)
}

fn num(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "n/a".into(),
    }
}

fn thousands(value: f64) -> String {
    let rounded = value.round() as i64;
    let digits = rounded.abs().to_string();
    let mut out = String::new();
    for (index, ch) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if rounded < 0 { format!("-{out}") } else { out }
}

fn int(value: Option<f64>) -> String {
    value
        .filter(|v| v.is_finite())
        .map_or_else(|| "n/a".into(), thousands)
}

fn mib(kib: Option<u64>) -> Option<f64> {
    kib.map(|k| k as f64 / 1024.0)
}

fn ratio(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 && a.is_finite() => format!("{:.2}x", a / b),
        _ => "n/a".into(),
    }
}

fn added(m: &Measured) -> Option<f64> {
    Some(m.latency_median_ms? - m.direct_median_ms?)
}

fn added_p99(m: &Measured) -> Option<f64> {
    Some(m.latency_p99_ms? - m.direct_p99_ms?)
}

/// One metric of the ratio table: how to read it from a contender.
type Metric = (&'static str, fn(&Measured) -> Option<f64>, usize);

fn metrics() -> Vec<Metric> {
    vec![
        ("get latency, median ms", |m| m.latency_median_ms, 3),
        ("get latency, p99 ms", |m| m.latency_p99_ms, 3),
        (
            "calls/s, 1 client",
            |m| m.throughput.first().copied().flatten(),
            0,
        ),
        (
            "calls/s, 16 clients",
            |m| m.throughput.get(1).copied().flatten(),
            0,
        ),
        (
            "calls/s, 64 clients",
            |m| m.throughput.get(2).copied().flatten(),
            0,
        ),
        ("idle RSS MiB", |m| mib(m.idle_rss_kib), 1),
        ("peak RSS MiB, 64 clients", |m| mib(m.peak_rss_kib), 1),
        ("start to first tools/list ms", Measured::startup_median_ms, 1),
        ("tools/list bytes", |m| m.tools_list_bytes.map(|b| b as f64), 0),
        (
            "name+description+inputSchema bytes",
            |m| m.definitions_bytes.map(|b| b as f64),
            0,
        ),
        ("10,000-user traversal ms", traversal_complete_ms, 0),
    ]
}

/// Traversal time only where the whole directory was paged.
fn traversal_complete_ms(m: &Measured) -> Option<f64> {
    (m.traversal_users? >= 10_000).then_some(m.traversal_ms?)
}

/// (markdown document, SVG chart, the summary printed to the terminal)
pub fn render(
    results: &[Measured],
    instructions: &[InstructionRow],
    info: &RunInfo,
) -> (String, String, String) {
    let mut doc = String::new();
    let _ = writeln!(doc, "# Benchmarks\n");
    let _ = writeln!(
        doc,
        "op-scim-mcp against the servers a user would pick instead, and against the direct HTTP call \
         (the physical limit), on one spec (`specs/1password-scim.openapi.yaml`) and one simulated \
         bridge with 10,000 users, measured side by side in one run of `cargo benchmarks matrix` \
         (issue 6). This file and `benchmarks.svg` are written by that command; re-run it rather \
         than editing them.\n"
    );
    let _ = writeln!(
        doc,
        "Run: {} (wall time {:.0} s).\n",
        info.started, info.wall_seconds
    );
    let _ = writeln!(doc, "![throughput and latency](benchmarks.svg)\n");

    let mut body = String::new();
    targets(&mut body, results);
    targets_16(&mut body, results, instructions);
    ratios(&mut body, results);
    tables(&mut body, results);
    let _ = writeln!(body, "## Instructions per call (callgrind)\n");
    let _ = writeln!(
        body,
        "Counted by `valgrind --tool=callgrind` on the serving process, which repeats exactly where \
         timings on this shared machine do not: (count of 600 sequential calls - count of 100) / 500, \
         so start-up and shutdown cancel out. One client, one keep-alive connection (HTTP) or one \
         pipe (stdio). The limit is the simulated bridge's own `GET /Users/{{id}}`, measured the \
         same way. `cargo benchmarks instructions` prints this table alone.\n"
    );
    body.push_str(&instructions_table(instructions));
    let _ = writeln!(body);
    notes(&mut body, results, info);
    doc.push_str(&body);
    setup(&mut doc, results, info);
    (doc, svg(results), body)
}

fn targets(out: &mut String, results: &[Measured]) {
    let http = find(results, OURS_HTTP);
    let stdio = find(results, OURS_STDIO);
    let fastmcp = find(results, FASTMCP);
    let _ = writeln!(out, "## Against the targets of issue 6\n");
    let mut table = TargetTable::start(out);
    let mut row = |target: &str, measured: String, ratio: Option<f64>, met: Option<bool>| {
        table.row(target, &measured, ratio, met);
    };
    for (label, m) in [("HTTP", http), ("stdio", stdio)] {
        let value = m.and_then(added);
        row(
            &format!("added latency over direct, median <= {TARGET_ADDED_MS} ms ({label})"),
            format!("{} ms (p99 {} ms)", num(value, 3), num(m.and_then(added_p99), 3)),
            value.map(|v| v / TARGET_ADDED_MS),
            value.map(|v| v <= TARGET_ADDED_MS),
        );
    }
    let tp16 = |m: Option<&Measured>| m.and_then(|m| m.throughput.get(1).copied().flatten());
    for (label, m) in [("HTTP", http), ("stdio", stdio)] {
        let factor = match (tp16(m), tp16(fastmcp)) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        row(
            &format!("throughput at 16 clients >= {TARGET_FASTMCP_RATIO}x FastMCP ({label})"),
            format!(
                "{} vs {} calls/s = {}x",
                int(tp16(m)),
                int(tp16(fastmcp)),
                num(factor, 1)
            ),
            factor.map(|f| f / TARGET_FASTMCP_RATIO),
            factor.map(|f| f >= TARGET_FASTMCP_RATIO),
        );
    }
    for (label, m) in [("HTTP", http), ("stdio", stdio)] {
        let idle = m.and_then(|m| mib(m.idle_rss_kib));
        row(
            &format!("idle RSS <= {TARGET_IDLE_MIB} MiB ({label})"),
            format!("{} MiB", num(idle, 1)),
            idle.map(|v| v / TARGET_IDLE_MIB),
            idle.map(|v| v <= TARGET_IDLE_MIB),
        );
        let peak = m.and_then(|m| mib(m.peak_rss_kib));
        row(
            &format!("peak RSS under 64 clients <= {TARGET_PEAK_MIB} MiB ({label})"),
            format!("{} MiB", num(peak, 1)),
            peak.map(|v| v / TARGET_PEAK_MIB),
            peak.map(|v| v <= TARGET_PEAK_MIB),
        );
        let startup = m.and_then(Measured::startup_median_ms);
        row(
            &format!("first tools/list <= {TARGET_STARTUP_MS} ms after start ({label}, median of 5)"),
            format!("{} ms", num(startup, 1)),
            startup.map(|v| v / TARGET_STARTUP_MS),
            startup.map(|v| v <= TARGET_STARTUP_MS),
        );
    }
    let peers: Vec<&Measured> = [FASTMCP, RMCP]
        .iter()
        .filter_map(|name| find(results, name))
        .collect();
    let smallest = peers
        .iter()
        .filter_map(|m| Some((m.definitions_bytes?, m.name.as_str())))
        .min();
    let ours_bytes = http.and_then(|m| m.definitions_bytes);
    let ratio = match (ours_bytes, smallest) {
        (Some(a), Some((b, _))) if b > 0 => Some(a as f64 / b as f64),
        _ => None,
    };
    let complete =
        http.is_some_and(|m| m.params_without_description == Some(0) && m.params_without_type == Some(0));
    row(
        "tool definitions (name+description+inputSchema) no larger than the smallest peer's, every parameter described and typed",
        format!(
            "{} B ({} tools) vs {} ({}); parameters without description/type: {}/{} of {}",
            int(ours_bytes.map(|b| b as f64)),
            http.and_then(|m| m.tools).map_or("n/a".into(), |t| t.to_string()),
            smallest.map_or("n/a".into(), |(b, _)| format!("{} B", thousands(b as f64))),
            smallest.map_or("no peer measured", |(_, name)| name),
            http.and_then(|m| m.params_without_description)
                .map_or("n/a".into(), |v| v.to_string()),
            http.and_then(|m| m.params_without_type)
                .map_or("n/a".into(), |v| v.to_string()),
            http.and_then(|m| m.params_total)
                .map_or("n/a".into(), |v| v.to_string()),
        ),
        ratio,
        ratio.map(|r| r <= 1.0 && complete),
    );
    // The same, against the smallest peer whose tools keep as many parameters as any peer's.
    let most = peers.iter().filter_map(|m| m.params_total).max();
    let complete_peer = peers
        .iter()
        .filter(|m| m.params_total.is_some() && m.params_total == most)
        .filter_map(|m| Some((m.definitions_bytes?, m.name.as_str())))
        .min();
    if complete_peer.is_some() && complete_peer != smallest {
        let ratio = match (ours_bytes, complete_peer) {
            (Some(a), Some((b, _))) if b > 0 => Some(a as f64 / b as f64),
            _ => None,
        };
        row(
            "the same, against the smallest peer that keeps every parameter",
            format!(
                "{} B vs {} ({})",
                int(ours_bytes.map(|b| b as f64)),
                complete_peer.map_or("n/a".into(), |(b, _)| format!("{} B", thousands(b as f64))),
                complete_peer.map_or("-", |(_, name)| name),
            ),
            ratio,
            ratio.map(|r| r <= 1.0 && complete),
        );
    }
    let _ = writeln!(out);
}

/// A table of targets: each row what was measured, its ratio to the target, and whether it
/// was met.
struct TargetTable<'a> {
    out: &'a mut String,
}

impl<'a> TargetTable<'a> {
    fn start(out: &'a mut String) -> Self {
        let _ = writeln!(
            out,
            "| target | measured | ratio to target | met |\n|---|---|---|---|"
        );
        Self { out }
    }

    fn row(&mut self, target: &str, measured: &str, ratio: Option<f64>, met: Option<bool>) {
        let met = match met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "not measured",
        };
        let _ = writeln!(
            self.out,
            "| {target} | {measured} | {} | {met} |",
            num(ratio, 2).replace("n/a", "-")
        );
    }
}

/// The targets of issue 16: close to the direct call.
fn targets_16(out: &mut String, results: &[Measured], instructions: &[InstructionRow]) {
    let limit = find(results, LIMIT);
    let _ = writeln!(out, "## Against the targets of issue 16\n");
    let mut table = TargetTable::start(out);
    let mut row = |target: String, measured: String, ratio: Option<f64>, met: Option<bool>| {
        table.row(&target, &measured, ratio, met);
    };
    for (label, name) in [("HTTP", OURS_HTTP), ("stdio", OURS_STDIO)] {
        let m = find(results, name);
        let median = m.and_then(added);
        let p99 = m.and_then(added_p99);
        row(
            format!(
                "added latency over direct, median <= {TARGET_ADDED_16_MS} ms, p99 <= {TARGET_ADDED_P99_16_MS} ms ({label})"
            ),
            format!("{} ms, p99 {} ms", num(median, 3), num(p99, 3)),
            median.map(|v| v / TARGET_ADDED_16_MS),
            median
                .zip(p99)
                .map(|(v, p)| v <= TARGET_ADDED_16_MS && p <= TARGET_ADDED_P99_16_MS),
        );
        let at =
            |m: Option<&Measured>, level: usize| m.and_then(|m| m.throughput.get(level).copied().flatten());
        let share = match (at(m, 1), at(limit, 1)) {
            (Some(ours), Some(direct)) if direct > 0.0 => Some(ours / direct),
            _ => None,
        };
        row(
            format!(
                "calls/s at 16 clients >= {TARGET_DIRECT_SHARE_16}x the direct call's, and no lower at 64 ({label})"
            ),
            format!(
                "{} of {} calls/s = {}x; {} at 64",
                int(at(m, 1)),
                int(at(limit, 1)),
                num(share, 2),
                int(at(m, 2))
            ),
            share.map(|v| v / TARGET_DIRECT_SHARE_16),
            share
                .zip(at(m, 1))
                .zip(at(m, 2))
                .map(|((share, at16), at64)| share >= TARGET_DIRECT_SHARE_16 && at64 >= at16),
        );
    }
    for row_measured in instructions
        .iter()
        .filter(|r| r.process.starts_with("op-scim-mcp"))
    {
        let target = if row_measured.workload == "ping" {
            TARGET_PING_INSTRUCTIONS
        } else {
            TARGET_CALL_INSTRUCTIONS
        };
        row(
            format!(
                "instructions per {} <= {}k {}",
                row_measured.workload,
                target / 1000.0,
                row_measured.process.trim_start_matches("op-scim-mcp ")
            ),
            row_measured
                .per_call
                .map_or_else(|| "n/a".to_owned(), |v| format!("{:.1}k", v / 1000.0)),
            row_measured.per_call.map(|v| v / target),
            row_measured.per_call.map(|v| v <= target),
        );
    }
    let _ = writeln!(out);
}

/// The instruction counts as a table, with each figure's ratio to the direct call's.
pub fn instructions_table(rows: &[InstructionRow]) -> String {
    let limit = rows
        .iter()
        .find(|row| !row.process.starts_with("op-scim-mcp"))
        .and_then(|row| row.per_call);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| process | workload | instructions per call | ratio to the limit | note |\n|---|---|---|---|---|"
    );
    for row in rows {
        let ratio = match (row.per_call, limit) {
            (Some(value), Some(limit)) if limit > 0.0 => Some(value / limit),
            _ => None,
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            row.process,
            row.workload,
            row.per_call
                .map_or_else(|| "n/a".to_owned(), |v| format!("{:.1}k", v / 1000.0)),
            ratio.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.2}x")),
            row.note
        );
    }
    out
}

fn ratios(out: &mut String, results: &[Measured]) {
    let http = find(results, OURS_HTTP);
    let stdio = find(results, OURS_STDIO);
    let fastmcp = find(results, FASTMCP);
    let rmcp = find(results, RMCP);
    let limit = find(results, LIMIT);
    let _ = writeln!(out, "## Ratios (ours / peer, ours / limit)\n");
    let _ = writeln!(
        out,
        "Ratios divide op-scim-mcp's figure by the other's. Below 1 is better for times, memory and \
         bytes; above 1 is better for calls/s. \"n/a\" where a figure could not be measured (see the \
         notes).\n"
    );
    let _ = writeln!(
        out,
        "| metric | op-scim-mcp HTTP | op-scim-mcp stdio | FastMCP | rmcp-openapi-server | limit | \
         HTTP / FastMCP | HTTP / rmcp | HTTP / limit | stdio / FastMCP | stdio / limit |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    for (label, get, decimals) in metrics() {
        let value = |m: Option<&Measured>| m.and_then(get);
        let show = |m: Option<&Measured>| {
            if decimals == 0 {
                int(value(m))
            } else {
                num(value(m), decimals)
            }
        };
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            show(http),
            show(stdio),
            show(fastmcp),
            show(rmcp),
            show(limit),
            ratio(value(http), value(fastmcp)),
            ratio(value(http), value(rmcp)),
            ratio(value(http), value(limit)),
            ratio(value(stdio), value(fastmcp)),
            ratio(value(stdio), value(limit)),
        );
    }
    let _ = writeln!(out);
}

fn tables(out: &mut String, results: &[Measured]) {
    let shown: Vec<&Measured> = results.iter().filter(|m| m.available).collect();
    let _ = writeln!(out, "## 1. Latency of one `get` call\n");
    let _ = writeln!(
        out,
        "Sequential calls after a tenth as many warm-up calls; each call through a contender is \
         interleaved with a direct GET of the same resource, and \"added\" is the difference of \
         the two medians (p99s) taken in that same phase.\n"
    );
    let _ = writeln!(
        out,
        "| contender | workload | samples | median ms | p99 ms | direct median ms | direct p99 ms | added median ms | added p99 ms |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for m in &shown {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            m.name,
            m.workload,
            m.latency_samples,
            num(m.latency_median_ms, 3),
            num(m.latency_p99_ms, 3),
            num(m.direct_median_ms, 3),
            num(m.direct_p99_ms, 3),
            num(added(m), 3),
            num(added_p99(m), 3),
        );
    }
    let _ = writeln!(out, "\n## 2. Throughput (calls/s)\n");
    let _ = writeln!(
        out,
        "N clients each loop the same call for a fixed window; over HTTP every client has its own \
         connection and MCP session (initialized before the window); over stdio the N clients are \
         N requests in flight on the one pipe. Failed calls are not counted as calls.\n"
    );
    let _ = writeln!(
        out,
        "| contender | 1 client | 16 clients | 64 clients | failed calls (1/16/64) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for m in &shown {
        let cells: Vec<String> = (0..LEVELS.len())
            .map(|slot| int(m.throughput.get(slot).copied().flatten()))
            .collect();
        let errors: Vec<String> = m.throughput_errors.iter().map(u64::to_string).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            m.name,
            cells.join(" | "),
            errors.join("/")
        );
    }
    let _ = writeln!(out, "\n## 3. Memory (RSS of the server process)\n");
    let _ = writeln!(
        out,
        "Idle: VmRSS one second after the first answered tools/list. Peak: VmHWM, reset just before \
         the 64-client window (`/proc/PID/clear_refs`), read after it.\n"
    );
    let _ = writeln!(
        out,
        "| contender | idle RSS MiB | peak RSS under 64 clients MiB |\n|---|---|---|"
    );
    for m in shown.iter().filter(|m| m.name != LIMIT) {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            m.name,
            num(mib(m.idle_rss_kib), 1),
            num(mib(m.peak_rss_kib), 1)
        );
    }
    let _ = writeln!(out, "\n## 4. Process start to first answered `tools/list`\n");
    let _ = writeln!(
        out,
        "Five cold starts each (warm page cache), timed from spawn to the tools/list answer \
         (initialize included; HTTP servers are polled every 2 ms until they accept).\n"
    );
    let _ = writeln!(
        out,
        "| contender | median ms | min ms | max ms |\n|---|---|---|---|"
    );
    for m in shown.iter().filter(|m| !m.startup_ms.is_empty()) {
        let min = m.startup_ms.iter().copied().fold(f64::INFINITY, f64::min);
        let max = m.startup_ms.iter().copied().fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            m.name,
            num(m.startup_median_ms(), 1),
            num(Some(min), 1),
            num(Some(max), 1)
        );
    }
    let _ = writeln!(out, "\n## 5. What the model reads: tool definitions\n");
    let _ = writeln!(
        out,
        "`tools/list bytes`: the whole JSON-RPC answer re-serialized as compact JSON. \
         `definitions`: the compact JSON array of `{{name, description, inputSchema}}` of every \
         tool, what an agent must read. Parameters: top-level inputSchema properties, and how many \
         lack a description or a type.\n"
    );
    let _ = writeln!(
        out,
        "| contender | tools | tools/list bytes | definitions bytes | definitions bytes per tool | parameters | without description | without type |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for m in shown.iter().filter(|m| m.tools.is_some()) {
        let per_tool = match (m.definitions_bytes, m.tools) {
            (Some(b), Some(t)) if t > 0 => Some(b as f64 / t as f64),
            _ => None,
        };
        let show = |v: Option<usize>| v.map_or("n/a".into(), |v| thousands(v as f64));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            m.name,
            show(m.tools),
            show(m.tools_list_bytes),
            show(m.definitions_bytes),
            int(per_tool),
            show(m.params_total),
            show(m.params_without_description),
            show(m.params_without_type),
        );
    }
    let _ = writeln!(
        out,
        "\n## 6. Full-directory traversal (10,000 users, 100 a page)\n"
    );
    let _ = writeln!(
        out,
        "| contender | wall ms | pages | users seen | how |\n|---|---|---|---|---|"
    );
    for m in &shown {
        let show = |v: Option<usize>| v.map_or("n/a".into(), |v| thousands(v as f64));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            m.name,
            int(m.traversal_ms),
            show(m.traversal_pages),
            show(m.traversal_users),
            if m.traversal_note.is_empty() {
                "-"
            } else {
                &m.traversal_note
            },
        );
    }
    let _ = writeln!(out);
}

fn setup(out: &mut String, results: &[Measured], info: &RunInfo) {
    let _ = writeln!(out, "## Setup\n");
    let _ = writeln!(out, "| machine | |\n|---|---|");
    for (key, value) in &info.machine {
        let _ = writeln!(out, "| {key} | {value} |");
    }
    for (key, value) in &info.commands {
        let _ = writeln!(out, "| {key} | {value} |");
    }
    let _ = writeln!(
        out,
        "| load average (1/5/15 min, running/total, last pid) | before: {}; after: {} |\n",
        info.load_before, info.load_after
    );
    let _ = writeln!(
        out,
        "| contender | version | transport | command |\n|---|---|---|---|"
    );
    for m in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | `{}` |",
            m.name,
            m.version,
            m.transport,
            m.command.replace('|', "\\|")
        );
    }
    let _ = writeln!(
        out,
        "\nThe harness: `cargo benchmarks matrix` ({}). It builds op-scim-mcp (release), installs the \
         pinned peers once (`pip install fastmcp=={}` into `target/bench-venv`; `cargo install \
         --locked --root target/bench-tools rmcp-openapi-server@{}`), writes the spec as JSON for \
         rmcp-openapi-server (it reads JSON only) into `target/bench-tmp/spec.json`, starts \
         `op-scim-mcp sim --users 10000` on 127.0.0.1, and drives every contender with the one \
         reqwest-based JSON-RPC client in `benchmarks/src/client.rs`. The FastMCP launcher is \
         `benchmarks/fastmcp_server.py` (the bearer token goes to the bridge through the httpx \
         client's default headers). `cargo benchmarks latency` is the quick two-way latency check \
         of op-scim-mcp over HTTP alone.\n",
        info.options, FASTMCP_VERSION, RMCP_OPENAPI_VERSION,
    );
}

fn notes(out: &mut String, results: &[Measured], info: &RunInfo) {
    let _ = writeln!(out, "## Notes, and what could not be measured\n");
    for m in results {
        for note in &m.notes {
            let _ = writeln!(out, "- {}: {}", m.name, note.replace('\n', " "));
        }
        if !m.available && m.notes.is_empty() {
            let _ = writeln!(out, "- {}: not run", m.name);
        }
    }
    let _ = writeln!(
        out,
        "- Noise: the machine has {} cores, shared with other engineers' builds during the run (see \
         the load averages above), and the client, the contender and the simulated bridge all run \
         on those same cores. Absolute figures move by tens of percent from run to run; the ratios \
         measured side by side in one run are the figures to read. Throughput at 16 and 64 clients \
         is bounded by the two cores, not by the servers' design.",
        info.machine
            .iter()
            .find(|(key, _)| key == "cores available")
            .map_or("?", |(_, value)| value.as_str())
    );
    let peers = [FASTMCP, RMCP];
    let peer_results = results
        .iter()
        .filter(|m| m.available && peers.contains(&m.name.as_str()));
    let most = peer_results
        .clone()
        .filter_map(|m| m.params_total)
        .max()
        .unwrap_or(0);
    for m in peer_results.filter(|m| m.params_total.is_some_and(|p| p < most)) {
        let _ = writeln!(
            out,
            "- {}: its tools carry {} top-level parameters against {most} for the other peer on \
             the same operations, so its definitions are smaller partly because arguments are missing \
             (see the paging and get notes).",
            m.name,
            m.params_total.unwrap_or(0),
        );
    }
    let _ = writeln!(
        out,
        "- op-scim-mcp publishes 17 tools for the spec's 15 operations (the two PATCH operations \
         become four task tools: suspend/reactivate, add/remove members), so its definitions are \
         compared in total and per tool."
    );
    let _ = writeln!(out);
}

const COLORS: [(&str, &str); 5] = [
    (OURS_HTTP, "#1f6feb"),
    (OURS_STDIO, "#54aeff"),
    (FASTMCP, "#d4a72c"),
    (RMCP, "#cf222e"),
    (LIMIT, "#6e7781"),
];

fn color(name: &str) -> &'static str {
    COLORS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("#999999", |(_, c)| c)
}

/// Log-scale axis bounds (powers of ten) around the values.
fn decades(values: &[f64]) -> (f64, f64) {
    let positive: Vec<f64> = values
        .iter()
        .copied()
        .filter(|v| *v > 0.0 && v.is_finite())
        .collect();
    let lo = positive.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = positive.iter().copied().fold(0.0, f64::max);
    if positive.is_empty() {
        return (0.0, 1.0);
    }
    (
        lo.log10().floor(),
        hi.log10().ceil().max(lo.log10().floor() + 1.0),
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Two log-scale bar charts: throughput at 1/16/64 clients, and median get latency.
pub fn svg(results: &[Measured]) -> String {
    let shown: Vec<&Measured> = COLORS
        .iter()
        .filter_map(|(name, _)| find(results, name))
        .collect();
    let (width, height) = (980.0_f64, 420.0_f64);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    // Panel geometry.
    let (top, bottom) = (50.0, height - 90.0);
    let panels = [(70.0, 560.0), (650.0, 950.0)];

    // Panel 1: throughput.
    let values: Vec<f64> = shown
        .iter()
        .flat_map(|m| m.throughput.iter().flatten().copied())
        .collect();
    let (lo, hi) = decades(&values);
    let (x0, x1) = panels[0];
    axis(
        &mut s,
        x0,
        x1,
        top,
        bottom,
        lo,
        hi,
        "calls/s (log scale), higher is better",
    );
    let group = (x1 - x0) / LEVELS.len() as f64;
    let bar = (group * 0.8) / shown.len().max(1) as f64;
    for (slot, clients) in LEVELS.iter().enumerate() {
        let gx = x0 + group * slot as f64 + group * 0.1;
        for (index, m) in shown.iter().enumerate() {
            if let Some(Some(v)) = m.throughput.get(slot) {
                bar_rect(
                    &mut s,
                    gx + bar * index as f64,
                    bar * 0.9,
                    *v,
                    lo,
                    hi,
                    top,
                    bottom,
                    color(&m.name),
                );
            }
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{clients} client{}</text>"#,
            gx + group * 0.4,
            bottom + 18.0,
            if *clients == 1 { "" } else { "s" }
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="28" text-anchor="middle" font-size="15" font-weight="bold">Throughput of one get call</text>"#,
        (x0 + x1) / 2.0
    );

    // Panel 2: median latency.
    let values: Vec<f64> = shown.iter().filter_map(|m| m.latency_median_ms).collect();
    let (lo, hi) = decades(&values);
    let (x0, x1) = panels[1];
    axis(
        &mut s,
        x0,
        x1,
        top,
        bottom,
        lo,
        hi,
        "ms (log scale), lower is better",
    );
    let bar = (x1 - x0) / shown.len().max(1) as f64;
    for (index, m) in shown.iter().enumerate() {
        if let Some(v) = m.latency_median_ms {
            let x = x0 + bar * index as f64 + bar * 0.15;
            bar_rect(&mut s, x, bar * 0.7, v, lo, hi, top, bottom, color(&m.name));
            let mark = if m.workload.contains("fallback") { "*" } else { "" };
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11">{v:.2}{mark}</text>"#,
                x + bar * 0.35,
                bottom + 16.0
            );
        }
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="28" text-anchor="middle" font-size="15" font-weight="bold">Median latency of one get call</text>"#,
        (x0 + x1) / 2.0
    );

    if let Some(m) = shown.iter().find(|m| m.workload.contains("fallback")) {
        let _ = writeln!(
            s,
            r##"<text x="{x0}" y="{:.1}" font-size="10" fill="#555">* {}: getServiceProviderConfig (its getUser has no id argument)</text>"##,
            bottom + 32.0,
            escape(&m.name)
        );
    }
    // Legend.
    let mut lx = 70.0;
    for m in &shown {
        let _ = writeln!(
            s,
            r#"<rect x="{lx:.1}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            height - 40.0,
            color(&m.name),
            lx + 16.0,
            height - 30.0,
            escape(&m.name)
        );
        lx += 18.0 + 7.0 * m.name.len() as f64 + 24.0;
    }
    let _ = writeln!(s, "</svg>");
    s
}

#[allow(clippy::too_many_arguments)]
fn axis(s: &mut String, x0: f64, x1: f64, top: f64, bottom: f64, lo: f64, hi: f64, label: &str) {
    let _ = writeln!(
        s,
        r##"<line x1="{x0}" y1="{bottom}" x2="{x1}" y2="{bottom}" stroke="#333"/><line x1="{x0}" y1="{top}" x2="{x0}" y2="{bottom}" stroke="#333"/>"##
    );
    let mut decade = lo;
    while decade <= hi + 1e-9 {
        let y = bottom - (decade - lo) / (hi - lo) * (bottom - top);
        let value = 10f64.powf(decade);
        let text = if value >= 1.0 {
            thousands(value)
        } else {
            format!("{value}")
        };
        let _ = writeln!(
            s,
            r##"<line x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11">{text}</text>"##,
            x0 - 4.0,
            y + 4.0
        );
        decade += 1.0;
    }
    let _ = writeln!(
        s,
        r##"<text x="{x0}" y="{:.1}" font-size="11" fill="#555">{}</text>"##,
        top - 8.0,
        escape(label)
    );
}

#[allow(clippy::too_many_arguments)]
fn bar_rect(s: &mut String, x: f64, w: f64, v: f64, lo: f64, hi: f64, top: f64, bottom: f64, fill: &str) {
    if v <= 0.0 {
        return;
    }
    let y = bottom - ((v.log10() - lo) / (hi - lo)).clamp(0.0, 1.0) * (bottom - top);
    let _ = writeln!(
        s,
        r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{:.1}" fill="{fill}"><title>{v:.1}</title></rect>"#,
        bottom - y
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_thousands() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(ratio(Some(1.0), Some(4.0)), "0.25x");
        assert_eq!(ratio(Some(1.0), None), "n/a");
    }

    #[test]
    fn renders_an_svg_with_missing_figures() {
        let mut m = Measured {
            name: OURS_HTTP.into(),
            available: true,
            ..Measured::default()
        };
        m.throughput = vec![Some(100.0), None, Some(5000.0)];
        m.latency_median_ms = Some(0.4);
        let svg = svg(&[m]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }
}
