//! Configuration: the library's [`SimConfig`] and the command line's [`SimArgs`].

use std::net::SocketAddr;
use std::str::FromStr;

/// Everything the simulator needs to start.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Seeded users; the first is always `jane.doe@example.com`.
    pub users: usize,
    pub groups: usize,
    pub seed: u64,
    /// The bearer token clients must present.
    pub token: String,
    /// Upper bound for `count` on list requests (and the default page size).
    pub max_page_size: usize,
    pub faults: Faults,
    /// The Events API served beside the bridge.
    pub events: crate::events::EventsConfig,
    /// The filter operators the bridge accepts; `None`: all of RFC 7644. A stricter bridge
    /// (facts §3: the real one may accept `eq` only) answers others with 400 `invalidFilter`.
    pub filter_operators: Option<Vec<crate::filter::CompareOp>>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            users: 250,
            groups: 12,
            seed: 7,
            token: "sim-token".to_owned(),
            max_page_size: 100,
            faults: Faults::default(),
            events: crate::events::EventsConfig::default(),
            filter_operators: None,
        }
    }
}

/// Injected misbehaviour, all off by default. None of it is the real bridge's (facts §5 found
/// no documented rate limit); it exists so clients can be tested against a hostile upstream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Faults {
    pub rate_limit: Option<RateLimitFault>,
    /// Added before every answer except `/ping`.
    pub latency_ms: u64,
    /// Share (0.0..=1.0) of requests answered 500 or 503 (half each), drawn from a generator
    /// seeded with the directory seed, so a run is reproducible for a given request order.
    pub error_rate: f64,
}

/// A fixed-window rate limit: `requests` per `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitFault {
    pub requests: u32,
    pub window_secs: u64,
    pub family: HeaderFamily,
}

/// How the rate limit is announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum HeaderFamily {
    /// `RateLimit: "default";r=R;t=S` and `RateLimit-Policy: "default";q=N;w=W`
    /// (draft-ietf-httpapi-ratelimit-headers, current structured-field form).
    #[default]
    Ietf,
    /// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (delta seconds).
    IetfLegacy,
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (epoch seconds).
    #[value(name = "x-ratelimit")]
    XRateLimit,
    /// `Retry-After: <seconds>` on 429 only.
    RetryAfterSeconds,
    /// `Retry-After: <HTTP-date>` on 429 only.
    RetryAfterDate,
}

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid --rate-limit `{0}`: expected N/W with N requests per W seconds, both > 0")]
    RateLimit(String),
    #[error("unknown rate-limit header family `{0}`")]
    HeaderFamily(String),
    #[error("--error-rate must be between 0.0 and 1.0, got {0}")]
    ErrorRate(f64),
    #[error("--max-page-size must be at least 1")]
    MaxPageSize,
    #[error("--events-features: `{0}` is not one of auditevents, itemusages, signinattempts")]
    EventsFeature(String),
    #[error("--filter-operators: `{0}` is not one of eq, ne, co, sw, ew, gt, ge, lt, le")]
    FilterOperator(String),
}

impl FromStr for HeaderFamily {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        <HeaderFamily as clap::ValueEnum>::from_str(s, true)
            .map_err(|_| ConfigError::HeaderFamily(s.to_owned()))
    }
}

impl RateLimitFault {
    /// Parses `N/W`, e.g. `100/60`.
    pub fn parse(spec: &str, family: HeaderFamily) -> Result<Self, ConfigError> {
        let bad = || ConfigError::RateLimit(spec.to_owned());
        let (n, w) = spec.split_once('/').ok_or_else(bad)?;
        let requests: u32 = n.trim().parse().map_err(|_| bad())?;
        let window_secs: u64 = w.trim().parse().map_err(|_| bad())?;
        if requests == 0 || window_secs == 0 {
            return Err(bad());
        }
        Ok(RateLimitFault {
            requests,
            window_secs,
            family,
        })
    }
}

/// Command-line options of the standalone simulator.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Number of seeded users.
    #[arg(long, default_value_t = 250)]
    pub users: usize,
    /// Number of seeded groups.
    #[arg(long, default_value_t = 12)]
    pub groups: usize,
    /// Seed of the generated directory and of injected faults.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Bearer token; a random one is generated (and printed) when absent.
    #[arg(long, env = "BRIDGE_SIM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Largest page a list request returns.
    #[arg(long, default_value_t = 100)]
    pub max_page_size: usize,
    /// Rate limit as N/W: N requests per W seconds.
    #[arg(long, value_name = "N/W")]
    pub rate_limit: Option<String>,
    /// Header family announcing the rate limit.
    #[arg(long, value_enum, default_value_t = HeaderFamily::Ietf)]
    pub rate_limit_headers: HeaderFamily,
    /// Latency added to every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of requests answered 500/503, 0.0..=1.0.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// The Events API's bearer token; a random one is generated (and printed) when absent.
    #[arg(long, env = "BRIDGE_SIM_EVENTS_TOKEN", hide_env_values = true)]
    pub events_token: Option<String>,
    /// What the Events token may read: auditevents, itemusages, signinattempts.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "auditevents,itemusages,signinattempts"
    )]
    pub events_features: Vec<String>,
    /// Events: every Nth request with a cursor answers an empty page with has_more: true.
    #[arg(long)]
    pub events_empty_every: Option<u32>,
    /// Events: the Nth request answers 429 once.
    #[arg(long)]
    pub events_rate_limited_at: Option<u32>,
    /// Accept only these filter operators (e.g. `eq`), as a stricter bridge might; others get
    /// 400 invalidFilter. Default: all of RFC 7644.
    #[arg(long, value_delimiter = ',')]
    pub filter_operators: Option<Vec<String>>,
}

impl SimArgs {
    /// Validates the options and produces a config plus the listen address.
    pub fn into_config(self) -> Result<(SimConfig, SocketAddr), ConfigError> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(ConfigError::ErrorRate(self.error_rate));
        }
        if self.max_page_size == 0 {
            return Err(ConfigError::MaxPageSize);
        }
        let rate_limit = self
            .rate_limit
            .as_deref()
            .map(|spec| RateLimitFault::parse(spec, self.rate_limit_headers))
            .transpose()?;
        let token = match self.token {
            Some(t) if !t.is_empty() => t,
            _ => random_token(),
        };
        for feature in &self.events_features {
            if !crate::events::ALL_FEATURES.contains(&feature.as_str()) {
                return Err(ConfigError::EventsFeature(feature.clone()));
            }
        }
        let filter_operators = self
            .filter_operators
            .map(|names| {
                names
                    .iter()
                    .map(|name| {
                        crate::filter::CompareOp::ALL
                            .into_iter()
                            .find(|op| op.as_str() == name.trim())
                            .ok_or_else(|| ConfigError::FilterOperator(name.clone()))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let events_token = match self.events_token {
            Some(t) if !t.is_empty() => t,
            _ => random_token(),
        };
        let config = SimConfig {
            users: self.users,
            groups: self.groups,
            seed: self.seed,
            token,
            max_page_size: self.max_page_size,
            faults: Faults {
                rate_limit,
                latency_ms: self.latency_ms,
                error_rate: self.error_rate,
            },
            events: crate::events::EventsConfig {
                tokens: vec![crate::events::EventsToken {
                    token: events_token,
                    features: self.events_features,
                }],
                empty_every: self.events_empty_every.filter(|every| *every > 0),
                rate_limited_at: self.events_rate_limited_at,
                ..crate::events::EventsConfig::default()
            },
            filter_operators,
        };
        Ok((config, self.listen))
    }
}

/// 32 random bytes from the OS-seeded thread RNG, hex-encoded.
pub fn random_token() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    #[test]
    fn parses_a_full_command_line() {
        let cli = Cli::try_parse_from([
            "x",
            "--users",
            "10",
            "--token",
            "t",
            "--rate-limit",
            "5/2",
            "--rate-limit-headers",
            "x-ratelimit",
            "--error-rate",
            "0.5",
        ]);
        let (config, addr) = cli
            .map_err(|e| e.to_string())
            .and_then(|c| c.sim.into_config().map_err(|e| e.to_string()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(addr.port(), 9000);
        assert_eq!(config.users, 10);
        assert_eq!(config.token, "t");
        assert_eq!(
            config.faults.rate_limit,
            Some(RateLimitFault {
                requests: 5,
                window_secs: 2,
                family: HeaderFamily::XRateLimit
            })
        );
    }

    #[test]
    fn rejects_bad_values() {
        assert!(RateLimitFault::parse("5", HeaderFamily::Ietf).is_err());
        assert!(RateLimitFault::parse("0/5", HeaderFamily::Ietf).is_err());
        assert_eq!(
            "retry-after-date".parse::<HeaderFamily>(),
            Ok(HeaderFamily::RetryAfterDate)
        );
        assert!("nope".parse::<HeaderFamily>().is_err());
    }
}
