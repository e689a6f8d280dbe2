//! What the comparison measured: the figures of each contender and of the run, which
//! [`crate::matrix`] fills in and [`crate::report`] renders.

pub const FASTMCP_VERSION: &str = "4.2.3";
pub const RMCP_OPENAPI_VERSION: &str = "0.32.1";
/// Concurrency levels of the throughput test.
pub const LEVELS: [usize; 3] = [1, 16, 64];

/// What one contender measured; `None` where a figure could not be taken (see `notes`).
#[derive(Clone, Debug, Default)]
pub struct Measured {
    pub name: String,
    pub version: String,
    pub transport: String,
    pub command: String,
    /// The workload of the latency and throughput figures.
    pub workload: String,
    pub available: bool,
    pub notes: Vec<String>,
    pub latency_median_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    /// The direct call measured interleaved with this contender's calls.
    pub direct_median_ms: Option<f64>,
    pub direct_p99_ms: Option<f64>,
    pub latency_samples: usize,
    /// calls/s at each of [`LEVELS`], with the failed calls counted separately.
    pub throughput: Vec<Option<f64>>,
    pub throughput_errors: Vec<u64>,
    pub idle_rss_kib: Option<u64>,
    pub peak_rss_kib: Option<u64>,
    pub startup_ms: Vec<f64>,
    pub tools: Option<usize>,
    pub tools_list_bytes: Option<usize>,
    pub definitions_bytes: Option<usize>,
    /// Top-level parameters lacking a description / a type, over all tools.
    pub params_total: Option<usize>,
    pub params_without_description: Option<usize>,
    pub params_without_type: Option<usize>,
    pub traversal_ms: Option<f64>,
    pub traversal_users: Option<usize>,
    pub traversal_pages: Option<usize>,
    pub traversal_note: String,
}

impl Measured {
    pub(crate) fn new(name: &str, version: &str, transport: &str) -> Self {
        Self {
            name: name.to_owned(),
            version: version.to_owned(),
            transport: transport.to_owned(),
            throughput: vec![None; LEVELS.len()],
            throughput_errors: vec![0; LEVELS.len()],
            ..Self::default()
        }
    }

    pub fn startup_median_ms(&self) -> Option<f64> {
        if self.startup_ms.is_empty() {
            return None;
        }
        let mut sorted = self.startup_ms.clone();
        sorted.sort_by(f64::total_cmp);
        sorted.get(sorted.len() / 2).copied()
    }
}

/// Everything the report needs besides the per-contender figures.
#[derive(Clone, Debug, Default)]
pub struct RunInfo {
    pub machine: Vec<(String, String)>,
    pub commands: Vec<(String, String)>,
    pub started: String,
    pub wall_seconds: f64,
    pub load_before: String,
    pub load_after: String,
    pub options: String,
}
