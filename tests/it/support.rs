//! What the test modules share: the simulated bridge, a server over it, a captured writer.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bridge_sim::{RunningSim, SimConfig};
use generated_server::{CATALOG, INTEGRATION_LABEL};
use runtime::audit::AuditLog;
use runtime::cursor::{CursorCodec, CursorKey};
use runtime::upstream::{Secret, Upstream, UpstreamConfig};
use runtime::{McpServer, Metrics, Scope, ServerSettings, Shared, ToolNaming};

/// What a scope may name: the method names and tags of every integration's tools.
pub fn vocabulary() -> runtime::Vocabulary {
    runtime::Vocabulary::of(generated_server::CATALOGS)
}

/// A scope as `--methods`/`--tags` would give it.
pub fn scope(methods: &[&str], tags: &[&str]) -> Scope {
    let strings = |values: &[&str]| -> Option<Vec<String>> {
        (!values.is_empty()).then(|| values.iter().map(|value| (*value).to_owned()).collect())
    };
    Scope::parse(
        strings(methods).as_deref(),
        strings(tags).as_deref(),
        &vocabulary(),
    )
    .expect("a valid scope")
}

/// A JSON-RPC request (id 1) of `method` with `params`.
pub fn rpc(method: &str, params: serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params })
}

/// `body` POSTed to the MCP endpoint `url` as a 2025-11-25 client, with `bearer` if given.
pub async fn mcp(url: &str, bearer: Option<&str>, body: &serde_json::Value) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(body);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    request.send().await.expect("post")
}

/// The simulated bridge on an ephemeral loopback port.
pub async fn simulator(config: SimConfig) -> RunningSim {
    bridge_sim::spawn(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("simulator starts")
}

/// An in-process op-scim-mcp over `base_url`, built step by step.
pub struct TestServer {
    upstream: UpstreamConfig,
    naming: ToolNaming,
    scope: Scope,
    audit: Option<Arc<AuditLog>>,
    metrics: Option<Arc<Metrics>>,
}

impl TestServer {
    pub fn new(base_url: &str, token: &str) -> Self {
        Self {
            upstream: UpstreamConfig::new(base_url, Secret::new(token)),
            naming: ToolNaming::Default,
            scope: Scope::default(),
            audit: None,
            metrics: None,
        }
    }

    /// Pointed at a closed port: any upstream request fails as unreachable.
    pub fn offline() -> Self {
        Self::new("http://127.0.0.1:9", "t")
    }

    pub fn naming(mut self, naming: ToolNaming) -> Self {
        self.naming = naming;
        self
    }

    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    pub fn audit(mut self, audit: Arc<AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Counts into `metrics` (where an extension registered its own series) instead of a
    /// fresh instance.
    pub fn metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub fn tune(mut self, tune: impl FnOnce(&mut UpstreamConfig)) -> Self {
        tune(&mut self.upstream);
        self
    }

    pub fn build(self) -> McpServer {
        let upstream = Upstream::new(self.upstream).expect("upstream");
        let mut shared = Shared::new(upstream, CursorCodec::new(CursorKey::random()), INTEGRATION_LABEL)
            .with_upstream_name(generated_server::generated::registry::UPSTREAM_NAME);
        if let Some(audit) = self.audit {
            shared = shared.with_audit(audit);
        }
        if let Some(metrics) = self.metrics {
            shared = shared.with_metrics(metrics);
        }
        let settings = ServerSettings {
            naming: self.naming,
            scope: self.scope,
            server_name: "test".into(),
            server_version: "0".into(),
        };
        McpServer::new(Arc::new(shared), CATALOG, settings).expect("server")
    }
}

/// A writer whose bytes a test can read back (logs, the audit log).
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        self.0
            .lock()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Drives a future (a registry call) to completion on one runtime shared by the tests that use
/// it. Those tests stay synchronous, so they can use the blocking PostgreSQL client and threads
/// freely; the runtime's workers keep the pooled connections' tasks running between calls.
pub trait Wait: std::future::Future + Sized {
    fn wait(self) -> Self::Output {
        static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
        RUNTIME
            .get_or_init(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("the tests' runtime starts")
            })
            .block_on(self)
    }
}

impl<F: std::future::Future> Wait for F {}

/// Cuts off every connection to the database at `url` whose application name is
/// `application_name`, as a network failure or a database restart would; how many there were.
pub fn terminate_connections(url: &str, application_name: &str) -> usize {
    let mut admin = ::postgres::Client::connect(url, ::postgres::NoTls).expect("connect");
    admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = $1 AND datname = current_database()",
            &[&application_name],
        )
        .expect("terminate the connections")
        .len()
}
