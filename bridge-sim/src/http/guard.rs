//! Middleware: bearer-token check, fault injection and the `Date` header.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq as _;

use super::AppState;
use crate::clock::now_secs;
use crate::config::{HeaderFamily, RateLimitFault, SimConfig};
use crate::error::ScimError;
use crate::seed::SplitMix64;

/// Mutable state of the fault injectors.
#[derive(Debug)]
pub struct FaultState {
    limiter: Option<(RateLimitFault, Mutex<Window>)>,
    dice: Mutex<SplitMix64>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    used: u32,
}

/// The outcome of one rate-limit check.
#[derive(Debug, Clone, Copy)]
struct Verdict {
    allowed: bool,
    remaining: u32,
    reset_secs: u64,
}

impl FaultState {
    pub fn new(config: &SimConfig) -> Self {
        FaultState {
            limiter: config.faults.rate_limit.map(|f| {
                let window = Window {
                    started: Instant::now(),
                    used: 0,
                };
                (f, Mutex::new(window))
            }),
            // A different stream than the directory's, so faults don't shift generated ids.
            dice: Mutex::new(SplitMix64::new(config.seed ^ 0x5EED_FA17_0000_0001)),
        }
    }

    fn check_rate(&self) -> Option<(RateLimitFault, Verdict)> {
        let (fault, window) = self.limiter.as_ref()?;
        let mut w = window.lock().unwrap_or_else(PoisonError::into_inner);
        let length = Duration::from_secs(fault.window_secs);
        if w.started.elapsed() >= length {
            w.started = Instant::now();
            w.used = 0;
        }
        let left = length.saturating_sub(w.started.elapsed());
        // Round up: "retry in 0 seconds" would invite a retry storm.
        let reset_secs = (left.as_millis().div_ceil(1000) as u64).max(1);
        let allowed = w.used < fault.requests;
        if allowed {
            w.used += 1;
        }
        Some((
            *fault,
            Verdict {
                allowed,
                remaining: fault.requests - w.used,
                reset_secs,
            },
        ))
    }

    fn roll(&self) -> f64 {
        self.dice.lock().unwrap_or_else(PoisonError::into_inner).unit()
    }
}

/// 401 with a SCIM error unless `Authorization: Bearer <token>` matches, compared in constant
/// time so the timing of a refusal tells nothing about how much of the token was right.
pub async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
        });
    match presented {
        Some(token) if bool::from(token.as_bytes().ct_eq(state.config.token.as_bytes())) => {
            next.run(req).await
        }
        _ => ScimError::unauthorized().into_response(),
    }
}

/// Latency, then the rate limit, then random server errors; `/ping` is exempt so liveness probes
/// keep working while a test hammers the API.
pub async fn inject_faults(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.uri().path() == "/ping" {
        return next.run(req).await;
    }
    let faults = &state.config.faults;
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    let rate = state.faults.check_rate();
    if let Some((fault, verdict)) = rate
        && !verdict.allowed
    {
        let error = ScimError::new(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            "rate limit exceeded (simulated)",
        );
        let mut response = error.into_response();
        rate_headers(response.headers_mut(), &fault, &verdict, true);
        return response;
    }
    if faults.error_rate > 0.0 && state.faults.roll() < faults.error_rate {
        let unavailable = state.faults.roll() < 0.5;
        let status = if unavailable {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        let mut response = ScimError::new(status, None, "injected server error (simulated)").into_response();
        if unavailable {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        return response;
    }
    let mut response = next.run(req).await;
    if let Some((fault, verdict)) = rate {
        rate_headers(response.headers_mut(), &fault, &verdict, false);
    }
    response
}

fn rate_headers(headers: &mut HeaderMap, fault: &RateLimitFault, v: &Verdict, limited: bool) {
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    match fault.family {
        HeaderFamily::Ietf => {
            set(
                "ratelimit",
                format!("\"default\";r={};t={}", v.remaining, v.reset_secs),
            );
            set(
                "ratelimit-policy",
                format!("\"default\";q={};w={}", fault.requests, fault.window_secs),
            );
        }
        HeaderFamily::IetfLegacy => {
            set("ratelimit-limit", fault.requests.to_string());
            set("ratelimit-remaining", v.remaining.to_string());
            set("ratelimit-reset", v.reset_secs.to_string());
        }
        HeaderFamily::XRateLimit => {
            set("x-ratelimit-limit", fault.requests.to_string());
            set("x-ratelimit-remaining", v.remaining.to_string());
            set("x-ratelimit-reset", (now_secs() + v.reset_secs).to_string());
        }
        HeaderFamily::RetryAfterSeconds if limited => {
            set("retry-after", v.reset_secs.to_string());
        }
        HeaderFamily::RetryAfterDate if limited => {
            let at = SystemTime::now() + Duration::from_secs(v.reset_secs);
            set("retry-after", httpdate::fmt_http_date(at));
        }
        HeaderFamily::RetryAfterSeconds | HeaderFamily::RetryAfterDate => {}
    }
}

/// Every answer carries `Date` (hyper adds one on real sockets; in-process routers do not).
pub async fn date_header(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    if !response.headers().contains_key(header::DATE)
        && let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::now()))
    {
        response.headers_mut().insert(header::DATE, value);
    }
    response
}
