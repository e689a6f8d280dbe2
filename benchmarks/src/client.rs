//! The one MCP client every contender of `cargo benchmarks matrix` is driven by: JSON-RPC over
//! Streamable HTTP (reqwest; JSON or SSE answers, with or without a session id) and over stdio
//! (newline-delimited JSON on a child's stdin/stdout), plus the direct GET that is the limit.
//!
//! Every request carries a timeout, so no loop that uses it can hang.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, ChildStdout};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// How long one request may take before it counts as failed.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
const PROTOCOL: &str = "2025-11-25";

/// A fresh HTTP client holding at most one connection (one client = one connection).
pub fn http_client() -> Result<reqwest::Client> {
    Ok(http_client_builder().build()?)
}

/// [`http_client`]'s settings, for a client that adds some (default headers, say).
pub fn http_client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1)
        .timeout(CALL_TIMEOUT)
        .no_proxy()
}

fn initialize_params() -> Value {
    json!({
        "protocolVersion": PROTOCOL,
        "capabilities": {},
        "clientInfo": {"name": "op-scim-mcp-benchmarks", "version": "1"}
    })
}

/// One MCP connection, over HTTP or stdio.
#[derive(Clone)]
pub enum McpClient {
    Http(Arc<HttpSession>),
    Stdio(Arc<StdioConn>),
}

impl McpClient {
    /// Sends a request and returns the whole JSON-RPC answer (`result` or `error`).
    pub async fn request(&self, method: &str, params: Value) -> Result<Value> {
        match self {
            Self::Http(session) => session.request(method, params).await,
            Self::Stdio(conn) => conn.request(method, params).await,
        }
    }

    /// `tools/call`, failing on a JSON-RPC error or a result with `isError: true`.
    pub async fn call_tool(&self, name: &str, arguments: &Value) -> Result<Value> {
        let answer = self
            .request("tools/call", json!({"name": name, "arguments": arguments}))
            .await?;
        let result = answer
            .get("result")
            .with_context(|| format!("tools/call {name}: {answer}"))?;
        if result.get("isError") == Some(&Value::Bool(true)) {
            let text = serde_json::to_string(result).unwrap_or_default();
            bail!("tools/call {name} answered isError: {}", truncate(&text, 400));
        }
        Ok(result.clone())
    }
}

pub fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}

/// A Streamable HTTP session: `initialize` once, then requests with the session id (if any).
pub struct HttpSession {
    client: reqwest::Client,
    url: String,
    session_id: Option<String>,
    protocol: String,
    next_id: AtomicU64,
}

impl HttpSession {
    /// Opens a connection, initializes and sends `notifications/initialized`.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(http_client()?, url).await
    }

    /// [`HttpSession::connect`] over an existing client (its connection pool is shared).
    pub async fn connect_with(client: reqwest::Client, url: &str) -> Result<Self> {
        let mut session = Self {
            client,
            url: url.to_owned(),
            session_id: None,
            protocol: PROTOCOL.to_owned(),
            next_id: AtomicU64::new(1),
        };
        let (answer, session_id) = session.post(0, "initialize", initialize_params()).await?;
        let result = answer
            .get("result")
            .with_context(|| format!("initialize: {answer}"))?;
        if let Some(version) = result.get("protocolVersion").and_then(Value::as_str) {
            session.protocol = version.to_owned();
        }
        session.session_id = session_id;
        let notification = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let response = session.builder().json(&notification).send().await?;
        let _ = response.bytes().await?;
        Ok(session)
    }

    fn builder(&self) -> reqwest::RequestBuilder {
        let mut builder = self
            .client
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", &self.protocol);
        if let Some(id) = &self.session_id {
            builder = builder.header("mcp-session-id", id);
        }
        builder
    }

    pub async fn request(&self, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        Ok(self.post(id, method, params).await?.0)
    }

    async fn post(&self, id: u64, method: &str, params: Value) -> Result<(Value, Option<String>)> {
        let body = request_message(id, method, params);
        let mut response = self.builder().json(&body).send().await?;
        let session_id = response
            .headers()
            .get("mcp-session-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let status = response.status();
        let is_sse = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/event-stream"));
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            bail!("{method}: HTTP {status}: {}", truncate(&text, 300));
        }
        if !is_sse {
            let bytes = response.bytes().await?;
            return Ok((serde_json::from_slice(&bytes)?, session_id));
        }
        // Server-sent events: read until the event that answers this id, then drop the stream.
        let mut buffer: Vec<u8> = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            buffer.extend_from_slice(&chunk);
            while let Some(end) = find_event_end(&buffer) {
                let event: Vec<u8> = buffer.drain(..end).collect();
                if let Some(message) = sse_data(&event)
                    && message.get("id").and_then(Value::as_u64) == Some(id)
                {
                    return Ok((message, session_id));
                }
            }
        }
        if let Some(message) = sse_data(&buffer)
            && message.get("id").and_then(Value::as_u64) == Some(id)
        {
            return Ok((message, session_id));
        }
        bail!("{method}: the event stream ended without an answer")
    }
}

/// The end (exclusive, separator included) of the first complete SSE event in `buffer`.
fn find_event_end(buffer: &[u8]) -> Option<usize> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|at| at + 2);
    let crlf = buffer.windows(4).position(|w| w == b"\r\n\r\n").map(|at| at + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The JSON carried by an SSE event's `data:` lines, if any.
fn sse_data(event: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(event).ok()?;
    let data: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|rest| rest.strip_prefix(' ').unwrap_or(rest))
        .collect();
    if data.is_empty() {
        return None;
    }
    serde_json::from_str(&data.join("\n")).ok()
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// JSON-RPC lines over a child's stdin/stdout, with any number of requests in flight.
/// A writer thread and a reader thread do the blocking pipe I/O.
pub struct StdioConn {
    writer: Mutex<mpsc::Sender<Vec<u8>>>,
    pending: Pending,
    next_id: AtomicU64,
}

impl StdioConn {
    /// Wires up the pipes without sending anything (see [`StdioConn::initialize`]).
    pub fn new(stdin: ChildStdin, stdout: ChildStdout) -> Arc<Self> {
        let (sender, receiver) = mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            let mut stdin = stdin;
            for line in receiver {
                if stdin.write_all(&line).and_then(|()| stdin.flush()).is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let reader_pending = Arc::clone(&pending);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Ok(message) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                let Some(id) = message.get("id").and_then(Value::as_u64) else {
                    continue;
                };
                let waiter = reader_pending.lock().ok().and_then(|mut map| map.remove(&id));
                if let Some(waiter) = waiter {
                    let _ = waiter.send(message);
                }
            }
            // The child closed its stdout: fail everything still waiting.
            if let Ok(mut map) = reader_pending.lock() {
                map.clear();
            }
        });
        Arc::new(Self {
            writer: Mutex::new(sender),
            pending,
            next_id: AtomicU64::new(1),
        })
    }

    /// `initialize` then `notifications/initialized`.
    pub async fn initialize(&self) -> Result<()> {
        let answer = self.request("initialize", initialize_params()).await?;
        answer
            .get("result")
            .with_context(|| format!("initialize: {answer}"))?;
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    }

    fn send(&self, message: &Value) -> Result<()> {
        let mut line = serde_json::to_vec(message)?;
        line.push(b'\n');
        let writer = self
            .writer
            .lock()
            .map_err(|_| anyhow::anyhow!("stdio writer poisoned"))?;
        writer.send(line).context("the stdio writer stopped")
    }

    pub async fn request(&self, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        self.pending
            .lock()
            .map_err(|_| anyhow::anyhow!("stdio pending map poisoned"))?
            .insert(id, sender);
        self.send(&request_message(id, method, params))?;
        match tokio::time::timeout(CALL_TIMEOUT, receiver).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => bail!("{method}: the server closed stdout"),
            Err(_) => {
                if let Ok(mut map) = self.pending.lock() {
                    map.remove(&id);
                }
                bail!("{method}: no answer within {CALL_TIMEOUT:?}")
            }
        }
    }
}

/// The tool result's JSON payload: `structuredContent`, else the first text block parsed.
pub fn payload(result: &Value) -> Option<Value> {
    if let Some(structured) = result.get("structuredContent")
        && !structured.is_null()
    {
        return Some(structured.clone());
    }
    let text = result
        .get("content")?
        .as_array()?
        .iter()
        .find_map(|block| block.get("text"))?;
    serde_json::from_str(text.as_str()?).ok()
}

/// A JSON-RPC request as the official SDKs write one: a request without parameters (`ping`,
/// given `Value::Null`) has no `params` member at all, rather than `"params": null`.
fn request_message(id: u64, method: &str, params: Value) -> Value {
    let mut message = json!({"jsonrpc": "2.0", "id": id, "method": method});
    if !params.is_null() {
        message["params"] = params;
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sse_events() {
        let stream = b"event: message\r\ndata: {\"id\":3,\"result\":{}}\r\n\r\nrest";
        let end = find_event_end(stream).unwrap();
        assert_eq!(sse_data(&stream[..end]).unwrap()["id"], 3);
        assert!(find_event_end(b"data: {}\n").is_none());
    }

    #[test]
    fn payload_prefers_structured_content() {
        let result = json!({"content": [{"type": "text", "text": "{\"a\":1}"}]});
        assert_eq!(payload(&result).unwrap()["a"], 1);
        let result = json!({"content": [], "structuredContent": {"b": 2}});
        assert_eq!(payload(&result).unwrap()["b"], 2);
    }
}
